"""The persistent, content-addressed cache shared by every build on this machine.

Layout under the cache root (``HATCH_FUNASR_CACHE``, else the user cache directory)::

    blobs/sha256/ab/abcdef…     verified file contents, read-only, named by their sha256
    stamps/ab/abcdef…           a blob's file status when it was last verified (skips re-hashing)
    snapshots/<hub>/<owner>/<name>/<commit>.json   a commit's file listing (path, size, hashes)
    refs/<hub>/<owner>/<name>/<revision>           the commit a revision last resolved to
    tmp/                        downloads in progress (never trusted, removed on exit)
    locks/                      file locks: they avoid duplicate work, correctness never needs them

A blob only ever appears by an atomic rename after its content was hashed and compared
with what the hub listed, so a killed build leaves nothing a later build would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hatch_funasr.errors import FetchError, IntegrityError

__all__ = ["Cache", "FileDigest", "default_cache_root", "env_number", "hash_file", "hash_stream", "lock_timeout"]

_CHUNK = 1 << 20
#: This host's name as used in scratch directory names (no dashes: they separate fields).
_HOST = "".join(c for c in platform.node() if c.isalnum()) or "host"


def env_number(name: str, default: float, *, minimum: float, kind: type[float] | type[int] = float) -> float:
    """A numeric setting from the environment (``default`` when unset), at least ``minimum``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(minimum, kind(raw))
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise FetchError(f"{name} must be {noun}, not {raw!r}") from None


def lock_timeout() -> float:
    """``HATCH_FUNASR_LOCK_TIMEOUT`` seconds (default 600)."""
    return env_number("HATCH_FUNASR_LOCK_TIMEOUT", 600.0, minimum=0.0)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def default_cache_root() -> Path:
    """``HATCH_FUNASR_CACHE``, else the platform's user cache directory."""
    env = os.environ.get("HATCH_FUNASR_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "hatch-funasr" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hatch-funasr"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hatch-funasr"


@dataclass(frozen=True)
class FileDigest:
    """What one pass over a file's bytes tells: its size, sha256 and git blob id."""

    size: int
    sha256: str
    git_sha1: str


def hash_stream(src: IO[bytes], size: int, dst: IO[bytes] | None = None) -> FileDigest:
    """Hash ``src`` (sha256 and git's blob sha1) in one pass, copying to ``dst`` if given."""
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    seen = 0
    for chunk in iter(lambda: src.read(_CHUNK), b""):
        sha256.update(chunk)
        git.update(chunk)
        seen += len(chunk)
        if dst is not None:
            dst.write(chunk)
    return FileDigest(seen, sha256.hexdigest(), git.hexdigest())


def hash_file(path: Path) -> FileDigest:
    with path.open("rb") as f:
        return hash_stream(f, path.stat().st_size)


def _safe_component(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else f"%{ord(c):02x}" for c in text)


class Cache:
    """Blobs, listings and resolved revisions under one root directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_cache_root()).resolve()

    # --- blobs -------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def has_blob(self, sha256: str, size: int) -> bool:
        blob = self.blob_path(sha256)
        return blob.is_file() and blob.stat().st_size == size

    def adopt(
        self,
        file: Path,
        *,
        expect_sha256: str | None,
        expect_git_sha1: str | None,
        expect_size: int | None,
        what: str,
        against: str = "the hub listing",
    ) -> FileDigest:
        """Hash a downloaded ``file`` and, if it is what the listing promised, move it into
        the blob store.  On any difference the file is deleted and IntegrityError names it."""
        digest = hash_file(file)
        problems = []
        if expect_size is not None and digest.size != expect_size:
            problems.append(f"size {digest.size}, expected {expect_size}")
        if expect_sha256 is not None and digest.sha256 != expect_sha256:
            problems.append(f"sha256 {digest.sha256}, expected {expect_sha256}")
        elif expect_sha256 is None and expect_git_sha1 is not None and digest.git_sha1 != expect_git_sha1:
            problems.append(f"git blob id {digest.git_sha1}, expected {expect_git_sha1}")
        if problems:
            file.unlink(missing_ok=True)
            raise IntegrityError(f"{what}: downloaded content does not match {against}: {'; '.join(problems)}")
        blob = self.blob_path(digest.sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        file.chmod(0o444)
        file.replace(blob)
        self._write_stamp(digest.sha256, blob)
        return digest

    def verify_blob(self, sha256: str, size: int, what: str) -> Path:
        """A cached blob that still holds what it held when it was verified.

        A blob whose file status (inode, size, change time) is the one recorded when it was
        verified is not read again: changing a file's bytes changes its ctime, which no
        user-level call can set back.  Otherwise it is re-hashed; one that changed since it was
        stored is removed.  (The packer re-hashes every file anyway, so this decides only
        whether an altered blob is caught early enough to be fetched again.)
        """
        blob = self.blob_path(sha256)
        if not blob.is_file():
            raise FetchError(f"{what}: not in the cache ({blob})")
        if self._stamp_of(blob) == self._read_stamp(sha256):
            return blob
        digest = hash_file(blob)
        if digest.sha256 != sha256 or digest.size != size:
            with contextlib.suppress(OSError):
                blob.unlink()
            raise IntegrityError(
                f"{what}: cached copy {blob} was altered after it was verified "
                f"(sha256 {digest.sha256}, expected {sha256}); it was removed, fetch again"
            )
        self._write_stamp(sha256, blob)
        return blob

    @staticmethod
    def _stamp_of(file: Path) -> str:
        st = file.stat()
        return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"

    def _stamp_path(self, sha256: str) -> Path:
        return self.root / "stamps" / sha256[:2] / sha256

    def _read_stamp(self, sha256: str) -> str | None:
        try:
            return self._stamp_path(sha256).read_text("ascii")
        except OSError:
            return None

    def _write_stamp(self, sha256: str, blob: Path) -> None:
        with contextlib.suppress(OSError):  # a read-only cache just re-hashes next time
            self._write_atomic(self._stamp_path(sha256), self._stamp_of(blob).encode("ascii"))

    # --- listings and refs --------------------------------------------------------------
    def _repo_dir(self, kind: str, hub: str, repo: str) -> Path:
        owner, _, name = repo.partition("/")
        return self.root / kind / hub / _safe_component(owner) / _safe_component(name)

    def read_snapshot(self, hub: str, repo: str, commit: str) -> dict[str, Any] | None:
        file = self._repo_dir("snapshots", hub, repo) / f"{_safe_component(commit)}.json"
        try:
            data: dict[str, Any] = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def write_snapshot(self, hub: str, repo: str, commit: str, listing: dict[str, Any]) -> None:
        file = self._repo_dir("snapshots", hub, repo) / f"{_safe_component(commit)}.json"
        self._write_atomic(file, json.dumps(listing, indent=1, sort_keys=True).encode())

    def read_ref(self, hub: str, repo: str, revision: str) -> str | None:
        file = self._repo_dir("refs", hub, repo) / _safe_component(revision)
        try:
            return file.read_text("ascii").strip() or None
        except OSError:
            return None

    def write_ref(self, hub: str, repo: str, revision: str, commit: str) -> None:
        self._write_atomic(self._repo_dir("refs", hub, repo) / _safe_component(revision), commit.encode())

    # --- derived files (export, quantization) ------------------------------------------------
    def load_derived(self, key: str) -> dict[str, tuple[Path, FileDigest]] | None:
        """Files produced earlier for ``key`` (a hash of inputs and tool versions), re-verified;
        each with the digest that verification computed."""
        base = self.root / "derived" / key
        try:
            index: dict[str, str] = json.loads((base / "index.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        found = {}
        for name, sha256 in index.items():
            path = base / name
            digest = hash_file(path) if path.is_file() else None
            if digest is None or digest.sha256 != sha256:
                shutil.rmtree(base, ignore_errors=True)
                return None
            found[name] = (path, digest)
        return found

    def store_derived(self, key: str, files: dict[str, Path]) -> dict[str, tuple[Path, FileDigest]]:
        """Keep produced files under ``key``: copied (and hashed in the same pass) into scratch
        space, then renamed in at once; each with its digest."""
        base = self.root / "derived" / key
        with self.tempdir("derived-") as tmp:
            digests = {}
            for name, src in files.items():
                with src.open("rb") as f, (tmp / name).open("wb") as out:
                    digests[name] = hash_stream(f, src.stat().st_size, out)
            index = {name: d.sha256 for name, d in digests.items()}
            (tmp / "index.json").write_text(json.dumps(index, sort_keys=True), "utf-8")
            base.parent.mkdir(parents=True, exist_ok=True)
            try:
                tmp.rename(base)
            except OSError:  # another build stored the same result first: use (and verify) that
                return self.load_derived(key) or {name: (src, digests[name]) for name, src in files.items()}
        return {name: (base / name, d) for name, d in digests.items()}

    # --- temp space and locks -----------------------------------------------------------
    @contextlib.contextmanager
    def tempdir(self, prefix: str) -> Iterator[Path]:
        """A scratch directory on the cache's file system (so adopting a file is a rename).

        Its name carries this host and process id, so scratch space left by a killed build
        is removed by the next build on the same host (nothing in it was ever trusted).
        """
        base = self.root / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        self._sweep_tmp(base)
        path = Path(tempfile.mkdtemp(prefix=f"{prefix}{_HOST}-{os.getpid()}-", dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def _sweep_tmp(base: Path) -> None:
        """Remove scratch directories of processes on this host that no longer run."""
        for entry in base.iterdir():
            parts = entry.name.split("-")
            if len(parts) < 4 or parts[-3] != _HOST or not parts[-2].isdigit():
                continue
            if not _running(int(parts[-2])):
                shutil.rmtree(entry, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float | None = None) -> Iterator[None]:
        """Serialize work on ``key`` across processes, so concurrent builds download once.

        The lock is an OS lock (``flock``): a process that dies releases it, so a lock file
        left behind never blocks.  A live holder is waited for ``HATCH_FUNASR_LOCK_TIMEOUT``
        seconds (default 600), then the error names the lock file and its holder.
        """
        from filelock import FileLock, Timeout

        wait = lock_timeout() if timeout is None else timeout
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock_file = lock_dir / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")
        owner = lock_file.with_suffix(".owner")
        try:
            with FileLock(lock_file, timeout=wait):
                with contextlib.suppress(OSError):
                    owner.write_text(f"pid {os.getpid()} on {platform.node()}: {key}\n", "utf-8")
                yield
        except Timeout as e:
            try:
                holder = owner.read_text("utf-8").strip()
            except OSError:
                holder = "unknown holder"
            raise FetchError(
                f"timed out after {wait:g}s waiting for the cache lock {lock_file} ({holder}); another build "
                "is working on the same model. Wait for it, or stop it; HATCH_FUNASR_LOCK_TIMEOUT sets the wait"
            ) from e

    def _write_atomic(self, file: Path, data: bytes) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=file.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            Path(tmp).replace(file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
