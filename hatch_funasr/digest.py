"""Hashing in one pass: what a file's bytes hash to, computed while they are read anyway."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["CHUNK", "HASH_ALGORITHM", "FileDigest", "StreamHasher", "hash_file", "hash_stream", "record_hash"]

#: Read size for every streamed copy and hash: large enough for disk speed, flat memory.
CHUNK = 1 << 20
#: The algorithm of every digest hatch-funasr records (lock, manifest, cache): written beside
#: them, so that a later change of algorithm is a new format, never a silent mismatch.
HASH_ALGORITHM = "sha256"
#: Chunks that may wait for a hashing thread (:meth:`StreamHasher.beside`).
IN_FLIGHT = 8


@dataclass(frozen=True)
class FileDigest:
    """What one pass over a file's bytes tells: its size, sha256 and git blob id (None where the
    bytes were checked by someone else, e.g. a hub client that verified the sha256 we gave it)."""

    size: int
    sha256: str
    git_sha1: str | None


class StreamHasher:
    """sha256 (and, with ``git``, git's blob sha1) of a ``size``-byte blob, fed chunk by chunk as
    it streams.  Only the hashes asked for are computed: git's blob id is needed only to check
    a small file a hub lists by it (its sha256 then addresses the cache)."""

    def __init__(self, size: int, *, git: bool = False) -> None:
        self.seen = 0
        self._sha256 = hashlib.sha256()
        self._git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False) if git else None

    def update(self, chunk: bytes) -> None:
        self._hash(chunk)
        self.seen += len(chunk)

    def _hash(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        if self._git is not None:
            self._git.update(chunk)

    @contextlib.contextmanager
    def beside(self) -> Iterator[Callable[[bytes], None]]:
        """A ``feed(chunk)`` that counts the chunk at once and hashes it in a second thread:
        hashlib releases the GIL on large buffers, so on two cores hashing costs no time beside
        the write the caller does next.  At most :data:`IN_FLIGHT` chunks wait (flat memory);
        on leaving, every fed chunk has been hashed."""
        chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=IN_FLIGHT)
        failure: list[BaseException] = []

        def hash_chunks() -> None:
            while (chunk := chunks.get()) is not None:
                if not failure:
                    try:
                        self._hash(chunk)
                    except BaseException as e:  # kept for the caller; the queue is still drained
                        failure.append(e)

        def feed(chunk: bytes) -> None:
            chunks.put(chunk)
            self.seen += len(chunk)

        worker = threading.Thread(target=hash_chunks, name="hatch-funasr-hash", daemon=True)
        worker.start()
        try:
            yield feed
        finally:
            chunks.put(None)
            worker.join()
        if failure:
            raise failure[0]

    def digest(self) -> FileDigest:
        git = self._git.hexdigest() if self._git is not None else None
        return FileDigest(self.seen, self._sha256.hexdigest(), git)


def hash_stream(src: IO[bytes], size: int, dst: IO[bytes] | None = None, *, git: bool = False) -> FileDigest:
    """Hash ``src`` (sha256; with ``git``, git's blob sha1 of a ``size``-byte blob) in one
    pass, copying to ``dst`` if given."""
    hasher = StreamHasher(size, git=git)
    for chunk in iter(lambda: src.read(CHUNK), b""):
        hasher.update(chunk)
        if dst is not None:
            dst.write(chunk)
    return hasher.digest()


def hash_file(path: Path) -> FileDigest:
    """sha256 and size of a file, in one pass."""
    with path.open("rb") as f:
        return hash_stream(f, path.stat().st_size)


def record_hash(sha256_hex: str) -> str:
    """A sha256 as a wheel's RECORD writes it: ``sha256=`` + urlsafe base64, no padding."""
    return "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
