"""Hashing in one pass: what a file's bytes hash to, computed while they are read anyway."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["CHUNK", "FileDigest", "StreamHasher", "hash_file", "hash_stream", "record_hash"]

#: Read size for every streamed copy and hash: large enough for disk speed, flat memory.
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """What one pass over a file's bytes tells: its size, sha256 and git blob id (None where the
    bytes were checked by someone else, e.g. a hub client that verified the sha256 we gave it)."""

    size: int
    sha256: str
    git_sha1: str | None


class StreamHasher:
    """sha256 and git's blob sha1 of a ``size``-byte blob, fed chunk by chunk as it streams."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seen = 0
        self._sha256 = hashlib.sha256()
        self._git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._git.update(chunk)
        self.seen += len(chunk)

    def digest(self) -> FileDigest:
        return FileDigest(self.seen, self._sha256.hexdigest(), self._git.hexdigest())


def hash_stream(src: IO[bytes], size: int, dst: IO[bytes] | None = None) -> FileDigest:
    """Hash ``src`` (sha256, and git's blob sha1 of a ``size``-byte blob) in one pass,
    copying to ``dst`` if given."""
    hasher = StreamHasher(size)
    for chunk in iter(lambda: src.read(CHUNK), b""):
        hasher.update(chunk)
        if dst is not None:
            dst.write(chunk)
    return hasher.digest()


def hash_file(path: Path) -> FileDigest:
    with path.open("rb") as f:
        return hash_stream(f, path.stat().st_size)


def record_hash(sha256_hex: str) -> str:
    """A sha256 as a wheel's RECORD writes it: ``sha256=`` + urlsafe base64, no padding."""
    return "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
