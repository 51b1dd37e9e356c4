"""Hashing in one pass: what a file's bytes hash to, computed while they are read anyway."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["CHUNK", "FileDigest", "hash_file", "hash_stream", "record_hash"]

#: Read size for every streamed copy and hash: large enough for disk speed, flat memory.
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """What one pass over a file's bytes tells: its size, sha256 and git blob id."""

    size: int
    sha256: str
    git_sha1: str


def hash_stream(src: IO[bytes], size: int, dst: IO[bytes] | None = None) -> FileDigest:
    """Hash ``src`` (sha256, and git's blob sha1 of a ``size``-byte blob) in one pass,
    copying to ``dst`` if given."""
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    seen = 0
    for chunk in iter(lambda: src.read(CHUNK), b""):
        sha256.update(chunk)
        git.update(chunk)
        seen += len(chunk)
        if dst is not None:
            dst.write(chunk)
    return FileDigest(seen, sha256.hexdigest(), git.hexdigest())


def hash_file(path: Path) -> FileDigest:
    with path.open("rb") as f:
        return hash_stream(f, path.stat().st_size)


def record_hash(sha256_hex: str) -> str:
    """A sha256 as a wheel's RECORD writes it: ``sha256=`` + urlsafe base64, no padding."""
    return "sha256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
