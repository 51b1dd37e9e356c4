"""Where a model's files come from: a local directory, or a hub revision through the cache.

Both implement :class:`hatch_funasr.model.Source`.  A source is opened with only a listing
(no file bytes).  The runtime files are chosen from that listing, and only those are then
materialized: a local file is used where it is; a hub file is taken from the blob store
when already there, otherwise downloaded (once, under a lock) and verified against the
hub's listing or the lock before it enters the store.  Every listed name has passed
:func:`hatch_funasr.names.check_relpath` before a source exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from hatch_funasr.cache import Cache
from hatch_funasr.context import BuildContext
from hatch_funasr.errors import (
    FetchError,
    FunasrBuildError,
    IntegrityError,
    SelectionError,
    redact,
    storage_cause,
    storage_error,
)
from hatch_funasr.families import model_text
from hatch_funasr.hubs import HUBS, HubClient
from hatch_funasr.lock import LOCK_NAME, LockedModel, LockedRepo
from hatch_funasr.model import ExtraFiles, FileRecord, HubRef, LocalDir, ModelConfig, RemoteFile, RepoListing, Source
from hatch_funasr.names import case_collisions, check_size, is_commit, is_license, is_sha256, relpath_problem, shown
from hatch_funasr.progress import Meter
from hatch_funasr.settings import EnvVars, Report

__all__ = ["ComposedSource", "HubSource", "LocalSource", "cached_listing", "open_locked", "open_source"]

#: More files than any model directory has: a ``path`` with more is not a model directory.
_MAX_LOCAL_FILES = 10_000
#: The ref name under which a model declared without a revision records its resolved commit.
_DEFAULT_REF = "@default"


def _offline_hint(model: ModelConfig, ref: HubRef) -> str:
    return (
        f"run `hatch-funasr fetch` for model {model.name} ({ref.hub}:{ref.repo} revision "
        f"{ref.revision or 'default'}) on a connected machine with the same {EnvVars.CACHE}, "
        f"or unset {EnvVars.OFFLINE}"
    )


def check_listing(model: ModelConfig, files: Mapping[str, RemoteFile], where: str) -> None:
    """Refuse a listing with any name that could land outside the model directory or that is
    not a portable file name (see :mod:`hatch_funasr.names`), and any size or hash that is
    not one (a listed sha256 becomes a path in the blob store).

    Hub clients join listed names onto their cache (ModelScope's client writes outside it
    for ``../`` names), so one hostile name condemns the whole listing, before any download.
    """
    names = list(files)
    bad = sorted((n, p) for n in names if (p := relpath_problem(n)) is not None)
    if bad:
        listed = ", ".join(f"{shown(n)}: {p}" for n, p in bad[:5])
        raise IntegrityError(
            f"model {model.name}: {where} lists unsafe file names ({listed}); refusing it, nothing was downloaded"
        )
    for f in files.values():
        check_size(f.size, f"model {model.name}: {where}: size of {shown(f.path)}")
        sha256_ok = f.sha256 is None or is_sha256(f.sha256)
        if not sha256_ok or (f.git_sha1 is not None and not is_commit(f.git_sha1)):
            raise IntegrityError(
                f"model {model.name}: {where} lists a malformed hash for {shown(f.path)}; refusing it, "
                "nothing was downloaded"
            )
    _refuse_collisions(model, names, f"{where} lists")


def _refuse_collisions(model: ModelConfig, names: Sequence[str], lists: str) -> None:
    """Two names that are one file or directory on Windows and macOS (case, Unicode form)."""
    clash = case_collisions(names)
    if clash:
        a, b = clash[0]
        raise IntegrityError(
            f"model {model.name}: {lists} {shown(a)} and {shown(b)}, one file on Windows and macOS "
            "(they differ only in case or Unicode form); refusing it"
        )


def _check_link(model: ModelConfig, root: Path, entry: Path) -> None:
    """A symbolic link in a local model directory may point only inside it, at something."""
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError) as e:  # a loop, or a link to nothing
        raise FetchError(f"model {model.name}: {entry} is a broken or looping link ({e})") from e
    if not target.is_relative_to(root):
        raise IntegrityError(
            f"model {model.name}: {entry} is a symbolic link to {target}, outside the model "
            f"directory {root}; refusing to pack it"
        )


@dataclass
class LocalSource:
    """A model directory on this machine (``path = "..."``): files are used where they are."""

    model: ModelConfig
    root: Path
    listing: dict[str, RemoteFile]
    commit: None = None
    license: None = None
    _records: dict[str, FileRecord] = field(default_factory=dict)

    @classmethod
    def open(cls, model: ModelConfig, origin: LocalDir) -> LocalSource:
        """Every regular file under the directory; links that leave it are refused."""
        root = origin.path
        files: dict[str, RemoteFile] = {}
        pending = [(root, "")]
        while pending:  # one scandir per directory, one stat per file (DirEntry caches the type)
            directory, prefix = pending.pop()
            with os.scandir(directory) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    rel = prefix + entry.name
                    if entry.is_symlink():
                        _check_link(model, root, Path(entry.path))
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((Path(entry.path), rel + "/"))
                    elif entry.is_file():
                        files[rel] = RemoteFile(rel, entry.stat().st_size)
                        if len(files) > _MAX_LOCAL_FILES:
                            raise SelectionError(
                                f"model {model.name}: {root} holds more than {_MAX_LOCAL_FILES} files; is it the "
                                "model's own directory?"
                            )
        check_listing(model, files, f"the local directory {root}")
        return cls(model, root, files)

    def read_text(self, path: str) -> str | None:
        return model_text(self.root / path) if path in self.listing else None

    def materialize(self, paths: Sequence[str], report: Report) -> dict[str, FileRecord]:
        return {p: self._record(p) for p in paths}

    def missing(self, paths: Sequence[str]) -> list[str]:
        return []

    def _record(self, path: str) -> FileRecord:
        if path not in self._records:
            # Hashed while packed (one read, which also checks the size listed here), or when
            # export needs it.
            self._records[path] = FileRecord(self.root / path, self.listing[path].size, None)
        return self._records[path]


@dataclass
class HubSource:
    """A hub repository at one commit, its bytes kept in the cache."""

    model: ModelConfig
    #: The repository: the model's own, or one of its extra repositories.
    ref: HubRef
    commit: str
    listing: dict[str, RemoteFile]
    cache: Cache
    client: HubClient
    offline: bool = False
    #: The listing comes from funasr.lock: cached bytes are re-verified before use.
    locked: bool = False
    attempts: int = 3
    #: ``HATCH_FUNASR_PROGRESS`` (None: live on a terminal, log lines elsewhere).
    progress: str | None = None
    #: The licence the hub reports (validated; None when it reports none or nothing usable).
    license: str | None = None

    @property
    def repo(self) -> str:
        return self.ref.repo

    def read_text(self, path: str) -> str | None:
        if path not in self.listing:
            return None
        record = self.materialize([path], lambda _m: None)[path]
        return model_text(record.source)

    def materialize(self, paths: Sequence[str], report: Report) -> dict[str, FileRecord]:
        """Local paths of verified copies of ``paths``, downloading what the cache lacks."""
        missing = self.missing(paths)
        if missing:
            if self.offline:
                raise FetchError(
                    f"model {self.model.name}: {len(missing)} file(s) of {self.repo}@{self.commit} are "
                    f"not in the cache ({', '.join(sorted(missing))}); {_offline_hint(self.model, self.ref)}"
                )
            with self.cache.lock(f"{self.ref.hub}:{self.repo}@{self.commit}", report=report):
                still = [p for p in missing if not self._cached(p)]
                if still:
                    self._download(still, report)
        return {p: self._blob_record(p) for p in paths}

    def missing(self, paths: Sequence[str]) -> list[str]:
        """Which of ``paths`` are not (or no longer, intact) in the cache."""
        return [p for p in paths if not self._cached(p)]

    def _cached(self, path: str) -> bool:
        remote = self.listing[path]
        if remote.sha256 is None or not self.cache.has_blob(remote.sha256, remote.size):
            return False
        try:  # a blob unchanged since it was verified is not read again (its stamp says so)
            self.cache.verify_blob(remote.sha256, remote.size, f"model {self.model.name}: {path}")
        except IntegrityError:
            if self.offline:
                raise
            return False  # the altered copy was removed: fetch it again
        return True

    def _blob_record(self, path: str) -> FileRecord:
        remote = self.listing[path]
        assert remote.sha256 is not None
        return FileRecord(self.cache.blob_path(remote.sha256), remote.size, remote.sha256)

    def _download(self, paths: Sequence[str], report: Report) -> None:
        """Download ``paths`` into the blob store, retrying what a dropped or short transfer lost.

        Each attempt downloads into a fresh scratch directory; a file enters the store only
        whole and verified.  Wrong bytes of the right size are not retried (a hub that serves
        other content than it lists will do it again); a full or read-only disk is not either.
        """
        total = sum(self.listing[p].size for p in paths)
        where = f"{HUBS[self.ref.hub].label} {self.repo}@{self.commit[:12]}"
        report(f"model {self.model.name}: downloading {len(paths)} file(s), {total / 2**20:.1f} MiB from {where}")
        pending, failure = list(paths), ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                report(
                    f"model {self.model.name}: retrying {', '.join(pending)} ({attempt}/{self.attempts}) "
                    f"after: {failure}"
                )
                time.sleep(min(2.0 ** (attempt - 2), 8.0))
            meter = Meter(
                f"model {self.model.name}: downloading",
                sum(self.listing[p].size for p in pending),
                report,
                mode=self.progress,
            )
            try:
                pending, failure = self._attempt(pending, where, meter)
            finally:
                meter.close()
            if not pending:
                break
        if pending:
            raise FetchError(
                f"model {self.model.name}: {', '.join(pending)} from {where} not downloaded after {self.attempts} "
                f"attempt(s); last failure: {failure.rstrip('. ')}. "
                "Nothing of it was kept; the next build starts it afresh"
            )
        if not self.locked:
            self.cache.write_snapshot(self.ref.hub, self.repo, self.commit, listing_json(self.listing, self.license))

    def _attempt(self, paths: Sequence[str], where: str, meter: Meter) -> tuple[list[str], str]:
        """One download of ``paths`` (up to four files at once); adopt each file that arrived
        whole; return what is still missing and why."""
        failures: dict[str, str] = {}
        with self.cache.tempdir("download-") as tmp, ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                p: pool.submit(self.client.fetch, self.repo, self.commit, self.listing[p], tmp, meter.advance)
                for p in paths
            }
            for path, future in futures.items():
                try:
                    digest = future.result()
                except FunasrBuildError as e:
                    raise type(e)(redact(f"model {self.model.name}: {e}")) from None
                except Exception as e:  # the clients raise many kinds; all mean the same to a user
                    disk = storage_cause(e)
                    if disk is not None:
                        raise storage_error(
                            disk,
                            f"model {self.model.name}: cannot download {where} into the cache {self.cache.root}",
                            f"free space or point {EnvVars.CACHE} at a writable disk",
                        ) from e
                    failures[path] = redact(f"{type(e).__name__}: {e}")
                    continue
                remote = self.listing[path]
                digest = self.cache.adopt(
                    tmp / path,
                    digest,
                    expect_sha256=remote.sha256,
                    expect_git_sha1=remote.git_sha1,
                    expect_size=remote.size,
                    what=f"model {self.model.name}: {self.repo}/{path}",
                    against=LOCK_NAME if self.locked else "the hub listing",
                )
                self.listing[path] = replace(remote, sha256=digest.sha256)
        missing = sorted(failures)
        return missing, "; ".join(failures[p] for p in missing)


@dataclass
class ComposedSource:
    """A model directory composed from its own source and files of other hub repositories
    (``extra-files``): each file is fetched from, verified against and credited to the
    repository it comes from.  Where the model's own source has a file too, its copy wins."""

    primary: LocalSource | HubSource
    extras: list[tuple[ExtraFiles, HubSource]]

    @property
    def model(self) -> ModelConfig:
        return self.primary.model

    @property
    def commit(self) -> str | None:
        return self.primary.commit

    @property
    def license(self) -> str | None:
        return self.primary.license

    @property
    def owners(self) -> dict[str, LocalSource | HubSource]:
        """Which source each file comes from."""
        owners: dict[str, LocalSource | HubSource] = {}
        for extra, source in self.extras:
            owners.update(dict.fromkeys(extra.files, source))
        owners.update(dict.fromkeys(self.primary.listing, self.primary))
        return owners

    @property
    def listing(self) -> dict[str, RemoteFile]:
        return {p: owner.listing[p] for p, owner in self.owners.items()}

    def read_text(self, path: str) -> str | None:
        owner = self.owners.get(path)
        return owner.read_text(path) if owner is not None else None

    def materialize(self, paths: Sequence[str], report: Report) -> dict[str, FileRecord]:
        owners, out = self.owners, {}
        for source in {id(o): o for o in (owners[p] for p in paths)}.values():
            out.update(source.materialize([p for p in paths if owners[p] is source], report))
        return {p: out[p] for p in paths}

    def missing(self, paths: Sequence[str]) -> list[str]:
        owners = self.owners
        return [p for p in paths if owners[p].missing([p])]

    def provenance(self) -> list[tuple[ExtraFiles, str, tuple[str, ...]]]:
        """Per extra repository: its declaration, resolved commit and the files taken from it."""
        owners = self.owners
        return [(e, s.commit, tuple(f for f in e.files if owners.get(f) is s)) for e, s in self.extras]


def compose(primary: LocalSource | HubSource, extras: list[tuple[ExtraFiles, HubSource]]) -> Source:
    """``primary`` alone, or composed with ``extras``; every declared extra file must exist."""
    if not extras:
        return primary
    for extra, source in extras:
        absent = [f for f in extra.files if f not in source.listing]
        if absent:
            raise SelectionError(
                f"model {primary.model.name}: extra-files from {extra.label} (commit {source.commit}): "
                f"the repository has no {', '.join(absent)}"
            )
    composed = ComposedSource(primary, extras)
    _refuse_collisions(primary.model, list(composed.owners), "its own files and extra-files hold")
    return composed


def listing_json(files: Mapping[str, RemoteFile], license: str | None = None) -> dict[str, object]:
    """A listing as the cache keeps it (``snapshots/…/<commit>.json``), with the repository's licence."""
    data: dict[str, object] = {
        "files": {p: {"size": f.size, "sha256": f.sha256, "git_sha1": f.git_sha1} for p, f in sorted(files.items())}
    }
    if license is not None:
        data["license"] = license
    return data


def valid_license(value: object) -> str | None:
    """A licence read from a hub or the cache, if it reads as one (else dropped: not trusted)."""
    return value if is_license(value) else None


#: What to do about a cached listing that is not one.
_STALE = "; delete that file (the next online build or `hatch-funasr fetch` lists the hub again)"


def _listing_from_json(data: object, where: str) -> tuple[dict[str, RemoteFile], str | None]:
    """The files and licence of a cached listing, read back from untrusted storage: every entry
    a table of a size and hashes (their values then checked by :func:`check_listing`)."""
    if not isinstance(data, dict):
        raise IntegrityError(f"{where}: expected a table, got {type(data).__name__}{_STALE}")
    files = data.get("files")
    if not isinstance(files, dict):
        raise IntegrityError(f"{where}: files: expected a table of files, got {type(files).__name__}{_STALE}")
    out = {}
    for path, entry in files.items():
        if not isinstance(entry, dict):
            raise IntegrityError(f"{where}: files.{path!r}: expected a table, got {type(entry).__name__}{_STALE}")
        hashes = [entry.get(k) for k in ("sha256", "git_sha1")]
        if not all(h is None or isinstance(h, str) for h in hashes):
            raise IntegrityError(f"{where}: files.{path!r}: a hash that is not a string{_STALE}")
        out[path] = RemoteFile(path, entry.get("size"), *hashes)  # type: ignore[arg-type]  # size: check_listing
    return out, valid_license(data.get("license"))


def cached_listing(model: ModelConfig, ref: HubRef, cache: Cache) -> RepoListing | None:
    """The listing of ``ref`` (``model``'s repository, or one of its extra repositories) an earlier
    build left in the cache (its revision's commit, every file, the licence), validated whole; None
    when the cache has none.  The one reader of cached listings: a malformed one is an
    :class:`IntegrityError` naming the file."""
    revision = ref.revision
    commit = revision if is_commit(revision) else cache.read_ref(ref.hub, ref.repo, revision or _DEFAULT_REF)
    if not is_commit(commit):
        return None
    snapshot = cache.read_snapshot(ref.hub, ref.repo, commit)
    if snapshot is None:
        return None
    where = f"the cached listing {cache.snapshot_path(ref.hub, ref.repo, commit)}"
    files, license = _listing_from_json(snapshot, where)
    try:
        check_listing(model, files, where)
    except IntegrityError as e:
        raise IntegrityError(f"{e}{_STALE}") from None
    return RepoListing(commit, files, license)


def _open_locked_repo(model: ModelConfig, ref: HubRef, entry: LockedRepo, ctx: BuildContext) -> HubSource:
    listing = {f.path: RemoteFile(f.path, f.size, f.sha256) for f in entry.files}
    return HubSource(
        model,
        ref,
        entry.commit,
        listing,
        ctx.cache,
        HUBS[ref.hub].client(ctx.settings),
        offline=ctx.offline,
        locked=True,
        attempts=ctx.settings.download_attempts,
        progress=ctx.settings.progress,
        license=entry.license,
    )


def open_locked(model: ModelConfig, ref: HubRef, entry: LockedModel, ctx: BuildContext) -> Source:
    """A hub model pinned by funasr.lock: its commits and files come from the lock, not the hub."""
    primary = _open_locked_repo(model, ref, entry, ctx)
    extras = [
        (e, _open_locked_repo(model, e.ref, pinned, ctx)) for e, pinned in zip(model.extra, entry.extra, strict=True)
    ]
    return compose(primary, extras)


def open_source(model: ModelConfig, ctx: BuildContext) -> Source:
    """List a model's sources: a local directory, or hub revisions (from the cache when offline)."""
    if isinstance(model.origin, LocalDir):
        return LocalSource.open(model, model.origin)
    extras = [(e, _open_hub(model, e.ref, ctx)) for e in model.extra]
    return compose(_open_hub(model, model.origin, ctx), extras)


def _open_hub(model: ModelConfig, ref: HubRef, ctx: BuildContext) -> HubSource:
    """List one hub revision (from the cache when offline)."""
    hub = HUBS[ref.hub]
    cache, revision = ctx.cache, ref.revision
    if ctx.offline:
        cached = cached_listing(model, ref, cache)
        if cached is None:
            raise FetchError(
                f"model {model.name}: {ref.hub}:{ref.repo} revision {ref.revision or 'default'} is not in the cache"
            )
        return HubSource(
            model,
            ref,
            cached.commit,
            dict(cached.files),
            cache,
            hub.client(ctx.settings),
            offline=True,
            license=cached.license,
        )
    client = hub.client(ctx.settings)
    try:
        listing: RepoListing = client.list(ref.repo, revision)
    except FunasrBuildError as e:
        raise type(e)(redact(f"model {model.name}: {e}")) from None
    except Exception as e:  # RepositoryNotFound, RevisionNotFound, connection errors, …
        raise FetchError(  # the client's message may hold the endpoint's credentials: redacted, not chained
            redact(
                f"model {model.name}: cannot list {hub.label} repository {ref.repo} at revision "
                f"{revision or 'default'}: {type(e).__name__}: {e}"
            )
        ) from None
    if not is_commit(listing.commit):
        raise IntegrityError(f"model {model.name}: {hub.label} gave {listing.commit!r} as the commit of {ref.repo}")
    check_listing(model, listing.files, f"{hub.label} repository {ref.repo}@{listing.commit}")
    files = dict(listing.files)
    try:  # keep sha256 learnt from earlier downloads of git-hashed files
        known = cached_listing(model, replace(ref, revision=listing.commit), cache)
    except IntegrityError:
        known = None  # untrusted and unusable: the hub's listing stands alone (and replaces it)
    for p, had in (known.files if known is not None else {}).items():
        if p in files and files[p].sha256 is None and had.sha256 and had.git_sha1 == files[p].git_sha1:
            files[p] = replace(files[p], sha256=had.sha256)
    license = valid_license(listing.license)
    if listing.license is not None and license is None:
        ignored = f"{listing.license!r:.80}"
        ctx.report(f"model {model.name}: ignoring the licence {hub.label} reports (not a licence name): {ignored}")
    cache.write_snapshot(ref.hub, ref.repo, listing.commit, listing_json(files, license))
    cache.write_ref(ref.hub, ref.repo, revision or _DEFAULT_REF, listing.commit)
    return HubSource(
        model,
        ref,
        listing.commit,
        files,
        cache,
        client,
        attempts=ctx.settings.download_attempts,
        progress=ctx.settings.progress,
        license=license,
    )
