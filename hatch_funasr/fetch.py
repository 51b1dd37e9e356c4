"""Fetch a model's files: from a hub through the cache, or from a local directory.

A :class:`Source` is opened with only a listing (no file bytes).  The runtime files are
chosen from that listing, and only those are then materialized: taken from the blob
store when already there, otherwise downloaded (once, under a lock) and verified against
the hub's listing before they enter the store.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from hatch_funasr.bundle import FileRecord
from hatch_funasr.cache import Cache, env_number
from hatch_funasr.config import ModelConfig
from hatch_funasr.errors import FetchError, FunasrBuildError, IntegrityError, storage_cause, storage_error
from hatch_funasr.hubs import HUB_NAMES, Hub, RemoteFile, RepoListing, get_hub
from hatch_funasr.lock import LockedModel

__all__ = ["Source", "download_attempts", "is_offline", "open_locked", "open_source"]

Report = Callable[[str], None]
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: The ref name under which a model declared without a revision records its resolved commit.
_DEFAULT_REF = "@default"


def is_offline() -> bool:
    """``HATCH_FUNASR_OFFLINE=1``: build from the cache alone, never touch the network."""
    return os.environ.get("HATCH_FUNASR_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def download_attempts() -> int:
    """``HATCH_FUNASR_DOWNLOAD_ATTEMPTS`` (default 3): tries per file, on top of the client's own retries."""
    return int(env_number("HATCH_FUNASR_DOWNLOAD_ATTEMPTS", 3, minimum=1, kind=int))


def _offline_hint(model: ModelConfig) -> str:
    return (
        f"run `hatch-funasr fetch` for model {model.name} ({model.hub}:{model.repo} revision "
        f"{model.revision or 'default'}) on a connected machine with the same HATCH_FUNASR_CACHE, "
        "or unset HATCH_FUNASR_OFFLINE"
    )


@dataclass
class Source:
    """What a model's source offers, and how to get the bytes of chosen files."""

    model: ModelConfig
    commit: str | None
    listing: dict[str, RemoteFile]
    cache: Cache | None = None
    hub: Hub | None = None
    offline: bool = False
    root: Path | None = None
    #: The listing comes from funasr.lock: cached bytes are re-verified before use.
    locked: bool = False
    _local: dict[str, FileRecord] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {p: f.size for p, f in self.listing.items()}

    def read_text(self, path: str) -> str | None:
        if path not in self.listing:
            return None
        record = self.materialize([path], lambda _m: None)[path]
        return record.source.read_text("utf-8", errors="replace")

    def materialize(self, paths: Sequence[str], report: Report) -> dict[str, FileRecord]:
        """Local paths of verified copies of ``paths``, downloading what the cache lacks."""
        if self.root is not None:
            return {p: self._local_record(p) for p in paths}
        assert self.cache is not None and self.commit is not None and self.model.repo is not None
        missing = self.missing(paths)
        if missing:
            if self.offline:
                raise FetchError(
                    f"model {self.model.name}: {len(missing)} file(s) of {self.model.repo}@{self.commit} are "
                    f"not in the cache ({', '.join(sorted(missing))}); {_offline_hint(self.model)}"
                )
            with self.cache.lock(f"{self.model.hub}:{self.model.repo}@{self.commit}"):
                still = [p for p in missing if not self._cached(p)]
                if still:
                    self._download(still, report)
        return {p: self._blob_record(p) for p in paths}

    def missing(self, paths: Sequence[str]) -> list[str]:
        """Which of ``paths`` are not (or no longer, intact) in the cache."""
        if self.root is not None:
            return []
        return [p for p in paths if not self._cached(p)]

    # --- hub files ------------------------------------------------------------------------
    def _cached(self, path: str) -> bool:
        remote = self.listing[path]
        assert self.cache is not None
        if remote.sha256 is None or not self.cache.has_blob(remote.sha256, remote.size):
            return False
        if self.locked:
            try:
                self.cache.verify_blob(remote.sha256, remote.size, f"model {self.model.name}: {path}")
            except IntegrityError:
                if self.offline:
                    raise
                return False  # the altered copy was removed: fetch it again
        return True

    def _blob_record(self, path: str) -> FileRecord:
        remote = self.listing[path]
        assert self.cache is not None and remote.sha256 is not None
        return FileRecord(self.cache.blob_path(remote.sha256), remote.size, remote.sha256)

    def _download(self, paths: Sequence[str], report: Report) -> None:
        """Download ``paths`` into the blob store, retrying what a dropped or short transfer lost.

        Each attempt downloads into a fresh scratch directory; a file enters the store only
        whole and verified.  Wrong bytes of the right size are not retried (a hub that serves
        other content than it lists will do it again); a full or read-only disk is not either.
        """
        assert self.cache is not None and self.hub is not None and self.model.repo and self.commit
        total = sum(self.listing[p].size for p in paths)
        where = f"{HUB_NAMES[self.model.hub]} {self.model.repo}@{self.commit[:12]}"
        report(f"model {self.model.name}: downloading {len(paths)} file(s), {total / 2**20:.1f} MiB from {where}")
        attempts = download_attempts()
        pending, failure = list(paths), ""
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                report(
                    f"model {self.model.name}: retrying {', '.join(pending)} ({attempt}/{attempts}) after: {failure}"
                )
                time.sleep(min(2.0 ** (attempt - 2), 8.0))
            pending, failure = self._attempt(pending, where)
            if not pending:
                break
        if pending:
            raise FetchError(
                f"model {self.model.name}: {', '.join(pending)} from {where} not downloaded after {attempts} "
                f"attempt(s); last failure: {failure.rstrip('. ')}. "
                "Nothing of it was kept; the next build starts it afresh"
            )
        if not self.locked:
            self.cache.write_snapshot(self.model.hub, self.model.repo, self.commit, _listing_json(self.listing))

    def _attempt(self, paths: Sequence[str], where: str) -> tuple[list[str], str]:
        """One download of ``paths``; adopt what arrived whole; return what is still missing and why."""
        assert self.cache is not None and self.hub is not None and self.model.repo and self.commit
        failure = ""
        with self.cache.tempdir("download-") as tmp:
            try:
                self.hub.download(self.model.repo, self.commit, paths, tmp)
            except FunasrBuildError as e:
                raise type(e)(f"model {self.model.name}: {e}") from e
            except Exception as e:  # the clients raise many kinds; all mean the same to a user
                disk = storage_cause(e)
                if disk is not None:
                    raise storage_error(
                        disk,
                        f"model {self.model.name}: cannot download {where} into the cache {self.cache.root}",
                        "free space or point HATCH_FUNASR_CACHE at a writable disk",
                    ) from e
                failure = f"{type(e).__name__}: {e}"
            missing = []
            for path in paths:
                remote, file = self.listing[path], tmp / path
                if not file.is_file():
                    missing.append(path)
                    continue
                if file.stat().st_size != remote.size:  # a short body: worth another try
                    failure = f"{path}: got {file.stat().st_size} bytes, the listing says {remote.size}"
                    file.unlink()
                    missing.append(path)
                    continue
                digest = self.cache.adopt(
                    file,
                    expect_sha256=remote.sha256,
                    expect_git_sha1=remote.git_sha1,
                    expect_size=remote.size,
                    what=f"model {self.model.name}: {self.model.repo}/{path}",
                    against="funasr.lock" if self.locked else "the hub listing",
                )
                self.listing[path] = replace(remote, sha256=digest.sha256)
        return missing, failure or f"{where} did not deliver {', '.join(missing)}"

    # --- local files ------------------------------------------------------------------------
    def _local_record(self, path: str) -> FileRecord:
        if path not in self._local:
            assert self.root is not None
            file = self.root / path  # hashed while packed (one read), or when export needs it
            self._local[path] = FileRecord(file, file.stat().st_size, None)
        return self._local[path]


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_paths(model: ModelConfig, paths: Sequence[str], where: str) -> None:
    """Refuse a listing with any path that could land outside the model directory.

    Hub clients join listed names onto their cache (ModelScope's client writes outside it
    for ``../`` names), so one hostile name condemns the whole listing, before any download.
    """
    bad = [
        p
        for p in paths
        if not p
        or p.startswith(("/", "\\"))
        or "\\" in p
        or _DRIVE.match(p)
        or any(part in ("", ".", "..") for part in p.split("/"))
        or any(ord(c) < 32 for c in p)
    ]
    if bad:
        shown = ", ".join(repr(p) for p in sorted(bad)[:5])
        raise IntegrityError(
            f"model {model.name}: {where} lists unsafe file names ({shown}); refusing it, nothing was downloaded"
        )


def _listing_json(files: Mapping[str, RemoteFile]) -> dict[str, object]:
    return {
        "files": {p: {"size": f.size, "sha256": f.sha256, "git_sha1": f.git_sha1} for p, f in sorted(files.items())}
    }


def _listing_from_json(data: Mapping[str, object]) -> dict[str, RemoteFile]:
    files = data.get("files", {})
    assert isinstance(files, dict)
    return {p: RemoteFile(p, int(f["size"]), f.get("sha256"), f.get("git_sha1")) for p, f in files.items()}


def _walk_local(model: ModelConfig) -> dict[str, RemoteFile]:
    """Every regular file under a local source; links that leave the directory are refused."""
    assert model.path is not None
    root = model.path
    files: dict[str, RemoteFile] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            entry = here / name
            rel = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                target = entry.resolve()
                if not target.is_relative_to(root):
                    raise IntegrityError(
                        f"model {model.name}: {entry} is a symbolic link to {target}, outside the model "
                        f"directory {root}; refusing to pack it"
                    )
            if name in filenames and entry.is_file():
                files[rel] = RemoteFile(rel, entry.stat().st_size)
    return files


def open_locked(model: ModelConfig, entry: LockedModel, *, cache: Cache, offline: bool) -> Source:
    """A hub model pinned by funasr.lock: its commit and files come from the lock, not the hub."""
    listing = {f.path: RemoteFile(f.path, f.size, f.sha256) for f in entry.files}
    _check_paths(model, list(listing), "funasr.lock")
    return Source(model, entry.commit, listing, cache, get_hub(model.hub), offline=offline, locked=True)


def open_source(model: ModelConfig, *, cache: Cache, offline: bool) -> Source:
    """List a model's source: a local directory, or a hub revision (from the cache when offline)."""
    if model.path is not None:
        return Source(model, None, _walk_local(model), root=model.path)
    assert model.repo is not None
    hub = get_hub(model.hub)
    revision = model.revision
    if offline:
        commit = (
            revision
            if revision and _COMMIT.match(revision)
            else cache.read_ref(model.hub, model.repo, revision or _DEFAULT_REF)
        )
        snapshot = cache.read_snapshot(model.hub, model.repo, commit) if commit else None
        if snapshot is None:
            raise FetchError(
                f"model {model.name}: {model.hub}:{model.repo} revision {model.revision or 'default'} "
                "is not in the cache"
            )
        assert commit is not None
        cached_listing = _listing_from_json(snapshot)
        _check_paths(model, list(cached_listing), f"the cached listing of {model.repo}")
        return Source(model, commit, cached_listing, cache, hub, offline=True)
    try:
        listing: RepoListing = hub.list(model.repo, revision)
    except FunasrBuildError as e:
        raise type(e)(f"model {model.name}: {e}") from e
    except Exception as e:  # RepositoryNotFound, RevisionNotFound, connection errors, …
        raise FetchError(
            f"model {model.name}: cannot list {HUB_NAMES[model.hub]} repository {model.repo} at revision "
            f"{revision or 'default'}: {type(e).__name__}: {e}"
        ) from e
    _check_paths(model, list(listing.files), f"{HUB_NAMES[model.hub]} repository {model.repo}@{listing.commit}")
    cached = cache.read_snapshot(model.hub, model.repo, listing.commit)
    files = dict(listing.files)
    if cached is not None:  # keep sha256 learnt from earlier downloads of git-hashed files
        for p, known in _listing_from_json(cached).items():
            if p in files and files[p].sha256 is None and known.sha256 and known.git_sha1 == files[p].git_sha1:
                files[p] = replace(files[p], sha256=known.sha256)
    cache.write_snapshot(model.hub, model.repo, listing.commit, _listing_json(files))
    cache.write_ref(model.hub, model.repo, revision or _DEFAULT_REF, listing.commit)
    return Source(model, listing.commit, files, cache, hub)
