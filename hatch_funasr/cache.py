"""The persistent, content-addressed cache shared by every build on this machine.

Layout under the cache root (``HATCH_FUNASR_CACHE``, else the user cache directory)::

    blobs/sha256/ab/abcdef…     verified file contents, read-only, named by their sha256
    stamps/ab/abcdef…           a blob's file status when it was last verified (skips re-hashing)
    snapshots/<hub>/<owner>/<name>/<commit>.json   a commit's file listing (path, size, hashes)
    refs/<hub>/<owner>/<name>/<revision>           the commit a revision last resolved to
    derived/<key>/              exported and quantized files, with a record signed by this machine's key
    editable/<key>/             an editable install's model directories (outside its wheel)
    tmp/                        downloads in progress (never trusted, removed on exit)
    locks/                      file locks: they avoid duplicate work, correctness never needs them

No path below the root is a symbolic link (each is checked before use): the cache makes none
and follows none.

A blob only ever appears by an atomic rename after its content was hashed and compared
with what the hub listed, so a killed build leaves nothing a later build would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import stat
import string
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from hatch_funasr import __version__, scratch
from hatch_funasr._bundle_runtime import printable
from hatch_funasr.digest import FileDigest, hash_file, hash_stream
from hatch_funasr.errors import FetchError, IntegrityError
from hatch_funasr.model import FileRecord
from hatch_funasr.names import check_sha256, relpath_problem
from hatch_funasr.settings import EnvVars, Report, Settings

__all__ = ["LOCK_REPORT_EVERY", "Cache", "DerivedEntry"]

#: While a build waits on another's cache lock, it says who holds it this often (seconds).
LOCK_REPORT_EVERY = 5.0

#: What a key file that is not 64 hex digits is called (it was not written by us).
_NOT_A_KEY = "not a key hatch-funasr wrote (64 hex digits)"


def _safe_component(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else f"%{ord(c):02x}" for c in text)


@dataclass(frozen=True)
class DerivedEntry:
    """Files made by export or quantization, kept in the cache, and what was recorded with them
    (drift, tool versions), so a hit needs neither the tools nor a second read."""

    files: dict[str, FileRecord]
    meta: dict[str, Any]


class Cache:
    """Blobs, listings and resolved revisions under one root directory."""

    def __init__(self, root: Path, *, lock_timeout: float = 600.0, key_file: Path | None = None) -> None:
        """A cache under ``root``; builds make it from their settings (:meth:`from_settings`).
        ``key_file`` (this machine's key for derived-file records) must be outside the cache:
        by default it is beside ``root`` (``<root>.key``)."""
        self.root = root.resolve()
        self.lock_timeout = lock_timeout
        self.key_file = key_file if key_file is not None else self.root.with_name(self.root.name + ".key")
        self._key: bytes | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache:
        return cls(settings.cache_root, lock_timeout=settings.lock_timeout, key_file=settings.key_file)

    def _inside(self, path: Path) -> Path:
        """``path`` (under the root) if none of its components below the root is a symbolic link:
        the cache makes none, and one planted there would send listings, refs, blobs, stamps or
        locks written through it elsewhere (or read from elsewhere).  The root itself may be one."""
        current = self.root
        for part in path.relative_to(self.root).parts:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except OSError:  # not there (yet): nothing below it is either
                break
            if stat.S_ISLNK(mode):
                raise IntegrityError(
                    f"the cache {self.root} holds a symbolic link, {current}; the cache makes none and follows "
                    "none: remove it (or the whole cache)"
                )
        return path

    # --- blobs -------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self._inside(self.root / "blobs" / "sha256" / sha256[:2] / sha256)

    def has_blob(self, sha256: str, size: int) -> bool:
        blob = self.blob_path(sha256)
        return blob.is_file() and blob.stat().st_size == size

    def adopt(
        self,
        file: Path,
        digest: FileDigest,
        *,
        expect_sha256: str | None,
        expect_git_sha1: str | None,
        expect_size: int | None,
        what: str,
        against: str = "the hub listing",
    ) -> FileDigest:
        """Move a downloaded ``file`` into the blob store if ``digest`` (computed while it
        streamed in, or vouched for by the client that checked our expected sha256) is what the
        listing or lock promised; the file is not read again.  On any difference it is deleted
        and IntegrityError names it."""
        problems = []
        actual = file.stat().st_size
        if actual != digest.size or (expect_size is not None and actual != expect_size):
            problems.append(f"size {actual}, expected {expect_size if expect_size is not None else digest.size}")
        if expect_sha256 is not None and digest.sha256 != expect_sha256:
            problems.append(f"sha256 {digest.sha256}, expected {expect_sha256}")
        elif expect_sha256 is None and expect_git_sha1 is not None and digest.git_sha1 != expect_git_sha1:
            problems.append(f"git blob id {digest.git_sha1}, expected {expect_git_sha1}")
        if problems:
            file.unlink()  # ours, in our scratch space, just measured
            raise IntegrityError(f"{what}: downloaded content does not match {against}: {'; '.join(problems)}")
        blob = self.blob_path(check_sha256(digest.sha256, what))
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
        if self._stamp_of(blob).encode() == self._read_stamp(sha256):
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
        return self._inside(self.root / "stamps" / sha256[:2] / sha256)

    def _read_stamp(self, sha256: str) -> bytes | None:
        """The stamp as stored (compared as bytes: a planted one is any bytes at all)."""
        try:
            return self._stamp_path(sha256).read_bytes()
        except OSError:
            return None

    def _write_stamp(self, sha256: str, blob: Path) -> None:
        stamp = self._stamp_path(sha256)
        with contextlib.suppress(OSError):  # a read-only cache just re-hashes next time
            self._write_atomic(stamp, self._stamp_of(blob).encode())

    # --- listings and refs --------------------------------------------------------------
    def _repo_file(self, kind: str, hub: str, repo: str, name: str) -> Path:
        owner, _, repo_name = repo.partition("/")
        base = self.root / kind / hub / _safe_component(owner) / _safe_component(repo_name)
        return self._inside(base / _safe_component(name))

    def snapshot_path(self, hub: str, repo: str, commit: str) -> Path:
        return self._repo_file("snapshots", hub, repo, f"{commit}.json")

    def read_snapshot(self, hub: str, repo: str, commit: str) -> object | None:
        """A cached listing as stored, any JSON value (untrusted: read it through
        ``sources.cached_listing``); None when there is none or it is not JSON."""
        try:
            data: object = json.loads(self.snapshot_path(hub, repo, commit).read_bytes())
        except (OSError, ValueError):
            return None
        return data

    def write_snapshot(self, hub: str, repo: str, commit: str, listing: dict[str, Any]) -> None:
        file = self.snapshot_path(hub, repo, commit)
        self._write_atomic(file, json.dumps(listing, sort_keys=True, separators=(",", ":")).encode())

    def read_ref(self, hub: str, repo: str, revision: str) -> str | None:
        file = self._repo_file("refs", hub, repo, revision)
        try:
            return file.read_bytes().decode().strip() or None
        except (OSError, ValueError):  # not there, or not text (a ref is a commit id: the caller checks it)
            return None

    def write_ref(self, hub: str, repo: str, revision: str, commit: str) -> None:
        self._write_atomic(self._repo_file("refs", hub, repo, revision), commit.encode())

    # --- derived files (export, quantization) ------------------------------------------------
    @staticmethod
    def derived_key(**parts: object) -> str:
        """The key of a derived result: a hash of its inputs, tool versions and our version."""
        payload = json.dumps({**parts, "hatch-funasr": __version__}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _mac_key(self) -> bytes | None:
        """This machine's key for derived-file records (created on first use, 0600, outside the
        cache); None when it can be neither read nor created (then nothing derived is trusted).
        A key file that is there but not one this machine can trust (not a regular file, not 64
        hex digits, writable by others, inside the cache) is an :class:`IntegrityError`."""
        if self._key is None:
            key_file = self.key_file
            if key_file.resolve().is_relative_to(self.root):
                self._key_problem("inside the cache (whoever can plant cache files could sign records)")
            with contextlib.suppress(OSError):  # FileExistsError: there is one already (ours, or garbage)
                key_file.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            try:
                mode = os.lstat(key_file).st_mode
            except OSError:
                return None
            if not stat.S_ISREG(mode):
                self._key_problem("not a regular file")
            if mode & 0o022:
                self._key_problem(f"writable by other users (mode {stat.S_IMODE(mode):o}): anyone could sign records")
            try:
                text = key_file.read_bytes().decode().strip()
            except OSError:
                return None
            except ValueError:  # not UTF-8
                self._key_problem(_NOT_A_KEY)
            if len(text) != 64 or any(c not in string.hexdigits for c in text):
                self._key_problem(_NOT_A_KEY)
            self._key = bytes.fromhex(text)
        return self._key

    def _key_problem(self, problem: str) -> NoReturn:
        raise IntegrityError(
            f"the key file {self.key_file}, which signs the records of derived files in the cache, is {problem}; "
            f"delete it (a new one is made) or point {EnvVars.KEY_FILE} at another file, not in the cache"
        )

    def _sign(self, key: str, record: dict[str, Any]) -> str | None:
        secret = self._mac_key()
        if secret is None:
            return None
        payload = json.dumps({"key": key, "record": record}, sort_keys=True, separators=(",", ":"))
        return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()

    def load_derived(self, key: str, *, strict: bool = False) -> DerivedEntry | None:
        """Files produced earlier for ``key`` (a hash of inputs and tool versions) and what was
        recorded with them, if their record is signed with this machine's key and every file
        is still what it recorded (unchanged file status, else re-hashed).  An entry that is
        not is removed and None returned; with ``strict`` (offline builds, which cannot make
        the files again) an entry whose record cannot be verified is an IntegrityError."""
        base = self._inside(self.root / "derived" / key)
        try:
            index: Any = json.loads(self._inside(base / "index.json").read_bytes())
        except (OSError, ValueError):
            return None
        record = index.get("record") if isinstance(index, dict) else None
        mac = index.get("mac") if isinstance(index, dict) else None
        expected = self._sign(key, record) if isinstance(record, dict) else None
        if expected is None or not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
            if strict:
                raise IntegrityError(
                    f"the cached derived files {base} carry no record this machine signed (made elsewhere, or "
                    "altered); an offline build cannot make them again: build once online, or delete that directory"
                )
            shutil.rmtree(base, ignore_errors=True)
            return None
        assert isinstance(record, dict)
        found = {}
        for name, entry in (record.get("files") or {}).items():
            ok = relpath_problem(name) is None and isinstance(entry, dict)
            path = self._inside(base / str(name)) if ok else base
            ok = ok and path.is_file()
            if ok and entry.get("stamp") != self._stamp_of(path):
                digest = hash_file(path)
                ok = (digest.sha256, digest.size) == (entry.get("sha256"), entry.get("size"))
            if not ok:
                shutil.rmtree(base, ignore_errors=True)
                return None
            found[str(name)] = FileRecord(path, int(entry["size"]), str(entry["sha256"]))
        return DerivedEntry(found, dict(record.get("meta") or {}))

    def store_derived(self, key: str, files: dict[str, Path], meta: dict[str, Any] | None = None) -> DerivedEntry:
        """Keep produced files under ``key``: copied (and hashed in the same pass) into scratch
        space, renamed in at once, then recorded (hashes, file status, ``meta``) and signed."""
        base = self._inside(self.root / "derived" / key)
        with self.tempdir("derived-") as tmp:
            digests = {}
            for name, src in files.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                with src.open("rb") as f, (tmp / name).open("wb") as out:
                    digests[name] = hash_stream(f, src.stat().st_size, out)
            base.parent.mkdir(exist_ok=True)  # the cache root exists: scratch space is in it
            try:
                tmp.rename(base)
            except OSError:  # another build stored the same result first: use (and verify) that
                theirs = self.load_derived(key)
                if theirs is not None:
                    return theirs
                records = {n: FileRecord(files[n], d.size, d.sha256) for n, d in digests.items()}
                return DerivedEntry(records, dict(meta or {}))
        record = {
            "files": {
                n: {"size": d.size, "sha256": d.sha256, "stamp": self._stamp_of(base / n)} for n, d in digests.items()
            },
            "meta": meta or {},
        }
        self._write_atomic(base / "index.json", json.dumps({"record": record, "mac": self._sign(key, record)}).encode())
        return DerivedEntry({n: FileRecord(base / n, d.size, d.sha256) for n, d in digests.items()}, dict(meta or {}))

    def editable_dir(self, key: str) -> Path:
        """Where an editable install (``key``: its project) keeps its model directories."""
        return self._inside(self.root / "editable" / key)

    # --- temp space and locks -----------------------------------------------------------
    @contextlib.contextmanager
    def tempdir(self, prefix: str) -> Iterator[Path]:
        """A scratch directory on the cache's file system (so adopting a file is a rename).

        Its name carries this host and process id, so scratch space left by a killed build
        is removed by the next build on the same host (nothing in it was ever trusted).
        """
        path = scratch.make_dir(self._inside(self.root / "tmp"), prefix)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float | None = None, report: Report | None = None) -> Iterator[None]:
        """Serialize work on ``key`` across processes, so concurrent builds download once.

        The lock is an OS lock (``flock``): a process that dies releases it, so a lock file
        left behind never blocks.  A live holder is waited for ``HATCH_FUNASR_LOCK_TIMEOUT``
        seconds (default 600), saying who holds it every :data:`LOCK_REPORT_EVERY` seconds
        (to ``report``), then the error names the lock file and its holder.
        """
        from filelock import FileLock, Timeout

        wait = self.lock_timeout if timeout is None else timeout
        lock_dir = self._inside(self.root / "locks")
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock_file = self._inside(lock_dir / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock"))
        owner = self._inside(lock_file.with_suffix(".owner"))
        lock = FileLock(lock_file)
        start = time.monotonic()
        while True:
            left = wait - (time.monotonic() - start)
            try:
                lock.acquire(timeout=max(0.0, min(LOCK_REPORT_EVERY, left)))
                break
            except Timeout as e:
                if left <= LOCK_REPORT_EVERY:
                    raise FetchError(
                        f"timed out after {wait:g}s waiting for the cache lock {lock_file} ({self._holder(owner)}); "
                        "another build is working on the same model. Wait for it, or stop it; "
                        f"{EnvVars.LOCK_TIMEOUT} sets the wait"
                    ) from e
                if report is not None:
                    waited = time.monotonic() - start
                    report(
                        f"waiting for the cache lock {lock_file}, held by {self._holder(owner)} "
                        f"({waited:.0f} s of at most {wait:g} s)"
                    )
        try:
            with contextlib.suppress(OSError):
                owner.write_text(f"pid {os.getpid()} on {platform.node()}: {key}\n", "utf-8")
            yield
        finally:
            lock.release()

    @staticmethod
    def _holder(owner: Path) -> str:
        """Who holds a lock, as its holder wrote it (shown, not trusted: escapes kept visible)."""
        try:
            return printable(owner.read_bytes().decode(errors="replace").strip()[:200])
        except OSError:
            return "unknown holder"

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
