"""One-pass hashing: hashing beside a write gives the same digests as inline, a
failure in the hashing thread reaches the caller (and nothing hangs), and git's blob id is
computed only where a listing needs it."""

from __future__ import annotations

import hashlib
import os

import pytest

from hatch_funasr.digest import IN_FLIGHT, StreamHasher


def test_hashing_beside_equals_inline() -> None:
    chunks = [os.urandom(n) for n in (1, 4096, 1 << 20, 12345, 0, 3 << 20)] * 3
    data = b"".join(chunks)
    beside = StreamHasher(len(data))
    with beside.beside() as feed:
        for chunk in chunks:
            feed(chunk)
        assert beside.seen == len(data)  # counted at once, hashed in the thread
    assert beside.digest().sha256 == hashlib.sha256(data).hexdigest()
    assert beside.digest().size == len(data)


def test_git_blob_id_only_when_asked() -> None:
    data = b"hello\n"
    plain = StreamHasher(len(data))
    plain.update(data)
    assert plain.digest().git_sha1 is None
    git = StreamHasher(len(data), git=True)
    git.update(data)
    assert git.digest().git_sha1 == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of it


def test_a_failure_in_the_hashing_thread_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = StreamHasher(10)

    def broken(_chunk: bytes) -> None:
        raise MemoryError("hashing failed")

    monkeypatch.setattr(hasher, "_hash", broken)
    with pytest.raises(MemoryError, match="hashing failed"), hasher.beside() as feed:
        for _ in range(IN_FLIGHT * 4):  # more than the queue holds: the thread keeps draining
            feed(b"x" * 10)
