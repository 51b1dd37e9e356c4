"""Loopback Hugging Face + ModelScope hub for tests (stdlib only).

One ``ThreadingHTTPServer`` on 127.0.0.1 speaks enough of both hubs' HTTP APIs
for the official clients (``huggingface_hub``, ``modelscope_hub`` and the
``modelscope.hub`` shim) to resolve revisions, list files and download them from
a directory-backed :class:`RepoStore`.

Routes (one port, no collisions):

* ``/api/v1/...``       ModelScope legacy API (HF never has a repo type ``v1``)
* ``/openapi/v1/...``   ModelScope OpenAPI (incl. ``/openapi/v1/models``, the model listing)
* ``/api/...``          Hugging Face API (incl. ``/api/models``, the model listing, and
  ``/api/agent-harnesses``, an empty registry)
* ``/{owner}/{name}/resolve/{revision}/{path}``  Hugging Face files

Owners ``api`` and ``openapi`` are reserved (``RepoStore.publish`` rejects
them), so a HF resolve URL can never be taken for an API route.

LFS rule: a file counts as LFS when it is larger than ``LFS_THRESHOLD`` (1 KiB)
or its suffix is in ``LFS_SUFFIXES`` (binary model formats). LFS files get
``lfs`` metadata (oid = sha256) in HF listings, ``X-Linked-Etag``/
``X-Linked-Size`` on HF resolve and ``IsLFS: true`` in ModelScope listings.
No Xet headers are ever sent, so ``huggingface_hub`` uses plain HTTP.

Fault-injection seams for later: :meth:`LoopbackHub.handle` (whole response),
:meth:`LoopbackHub.stream` (body bytes), :meth:`HuggingFaceRoutes.tree_entries`
and :meth:`ModelScopeRoutes.file_entries` (listings).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from types import FrameType, TracebackType
from typing import Any, BinaryIO, Final, Literal, cast
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

__all__ = [
    "LFS_SUFFIXES",
    "LFS_THRESHOLD",
    "Commit",
    "FileMeta",
    "HubRequest",
    "HubResponse",
    "HuggingFaceRoutes",
    "LoopbackHub",
    "ModelScopeRoutes",
    "RepoStore",
    "StoreError",
    "main",
]

CHUNK_SIZE: Final = 64 * 1024
LFS_THRESHOLD: Final = 1024
LFS_SUFFIXES: Final = frozenset(
    {
        ".onnx",
        ".pt",
        ".pth",
        ".bin",
        ".fst",
        ".model",
        ".safetensors",
        ".ckpt",
        ".npy",
        ".npz",
        ".pb",
        ".gguf",
    }
)
RESERVED_OWNERS: Final = frozenset({"api", "openapi"})
DEFAULT_BRANCH_ALIASES: Final = {"main": "master", "master": "main"}

_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_REF_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_COMMIT_RE: Final = re.compile(r"[0-9a-f]{40}")

JSON = dict[str, Any]


# ---------------------------------------------------------------------------
# Repository store
# ---------------------------------------------------------------------------
class StoreError(ValueError):
    """An invalid repo id, repo path or revision name."""


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """Split ``owner/name``; raise :class:`StoreError` when unsafe or malformed."""
    owner, sep, name = repo_id.partition("/")
    if not sep or not _NAME_RE.fullmatch(owner) or not _NAME_RE.fullmatch(name) or ".." in repo_id:
        raise StoreError(f"invalid repo id {repo_id!r}")
    return owner, name


def clean_repo_path(path: str) -> str | None:
    """Return ``path`` if it is a safe relative POSIX path inside a repo, else None."""
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return None
    if any(part in ("", ".", "..") for part in path.split("/")):
        return None
    return path


def git_blob_sha1(data: bytes) -> str:
    """Git object id of a blob with this content."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def hash_file(path: Path) -> tuple[int, str, str]:
    """Return (size, sha256, git blob sha1) of a file, reading it in chunks."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\x00" % size)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            sha256.update(chunk)
            sha1.update(chunk)
    return size, sha256.hexdigest(), sha1.hexdigest()


@dataclass(frozen=True)
class FileMeta:
    """Content metadata of one file in one commit."""

    path: str
    size: int
    sha256: str
    blob_sha1: str

    @property
    def is_lfs(self) -> bool:
        """The module's LFS rule: bigger than 1 KiB or a binary model suffix."""
        return self.size > LFS_THRESHOLD or PurePosixPath(self.path).suffix.lower() in LFS_SUFFIXES

    @property
    def lfs_pointer(self) -> bytes:
        """The git-lfs pointer file that git would store for this content."""
        text = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n"
        return text.encode()

    @property
    def git_oid(self) -> str:
        """Git blob id as HF reports it (the pointer's id for LFS files)."""
        return git_blob_sha1(self.lfs_pointer) if self.is_lfs else self.blob_sha1

    @property
    def etag(self) -> str:
        """HF file ETag: sha256 for LFS files, git blob id otherwise."""
        return self.sha256 if self.is_lfs else self.blob_sha1


@dataclass(frozen=True)
class Commit:
    """An immutable, content-addressed snapshot of a repo."""

    sha: str
    parent: str | None
    message: str
    timestamp: int
    files: Mapping[str, FileMeta]


def commit_sha(repo_id: str, metas: Iterable[FileMeta]) -> str:
    """Deterministic commit id: sha1 over repo id and sorted (path, sha256) pairs."""
    pairs = sorted([meta.path, meta.sha256] for meta in metas)
    return hashlib.sha1(json.dumps([repo_id, pairs], separators=(",", ":")).encode()).hexdigest()


def _write_json(path: Path, payload: object) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path, default: Any) -> Any:
    """Read JSON, or return ``default`` when the file does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


class RepoStore:
    """Directory-backed model repos.

    Layout: ``root/<owner>/<name>/commits/<sha>/<files...>``, ``refs.json``
    (``{ref: sha}``, branches and tags), ``tags.json`` (list of the refs that
    are tags) and ``manifests/<sha>.json`` (sizes, hashes, parent, date).
    Commits are content-addressed: republishing identical content reuses the
    commit. ``main`` and ``master`` stand in for each other when only one
    exists, so one repo serves both hubs' default branch.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.RLock()
        self._commits: dict[tuple[str, str], Commit] = {}

    def repo_dir(self, repo_id: str) -> Path:
        """Directory of a repo (raises StoreError for a malformed id)."""
        owner, name = split_repo_id(repo_id)
        return self.root / owner / name

    def exists(self, repo_id: str) -> bool:
        """Whether the repo has been published."""
        try:
            return (self.repo_dir(repo_id) / "commits").is_dir()
        except StoreError:
            return False

    def refs(self, repo_id: str) -> dict[str, str]:
        """All refs (branches and tags) of a repo."""
        refs: dict[str, str] = _read_json(self.repo_dir(repo_id) / "refs.json", {})
        return refs

    def tags(self, repo_id: str) -> frozenset[str]:
        """Names of the refs that are tags."""
        return frozenset(_read_json(self.repo_dir(repo_id) / "tags.json", []))

    def describe(
        self,
        repo_id: str,
        *,
        tasks: Sequence[str] = (),
        pipeline_tag: str | None = None,
        downloads: int = 0,
        listed_by: Sequence[str] = ("ms", "hf"),
        license: str | None = None,
    ) -> None:
        """What the hubs' model listings say about a published repo: its ModelScope ``tasks``,
        its Hugging Face ``pipeline_tag``, its download count, and which hubs list it (one
        store serves both protocols; a real repository lives on one hub); and its licence, as
        each hub's model page gives it (ModelScope's ``license``, Hugging Face's model card
        ``license`` metadata)."""
        card = {
            "tasks": list(tasks),
            "pipeline_tag": pipeline_tag,
            "downloads": downloads,
            "hubs": list(listed_by),
            "license": license,
        }
        _write_json(self.repo_dir(repo_id) / "card.json", card)

    def card(self, repo_id: str) -> JSON:
        """The listing metadata set by :meth:`describe` (empty values when never described)."""
        card: JSON = _read_json(self.repo_dir(repo_id) / "card.json", {})
        return {
            "tasks": card.get("tasks", []),
            "pipeline_tag": card.get("pipeline_tag"),
            "downloads": card.get("downloads", 0),
            "hubs": card.get("hubs", ["ms", "hf"]),
            "license": card.get("license"),
        }

    def repo_ids(self) -> list[str]:
        """Every published repo, sorted by id."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{owner.name}/{name.name}"
            for owner in self.root.iterdir()
            if owner.is_dir()
            for name in owner.iterdir()
            if (name / "commits").is_dir()
        )

    def created(self, repo_id: str) -> int:
        """The time of the repo's default branch commit (0 when it has none)."""
        sha = self.resolve(repo_id, "master")
        commit = self.commit(repo_id, sha) if sha is not None else None
        return commit.timestamp if commit is not None else 0

    def publish(
        self,
        repo_id: str,
        files: Mapping[str, bytes | Path],
        *,
        revision: str = "master",
        tags: Sequence[str] = (),
    ) -> str:
        """Write a commit with exactly ``files``, point branch and tags at it, return its sha."""
        owner, _ = split_repo_id(repo_id)
        if owner in RESERVED_OWNERS:
            raise StoreError(f"owner {owner!r} is reserved for API routes")
        for ref in (revision, *tags):
            self._check_ref(ref)
        with self._lock:
            repo_dir = self.repo_dir(repo_id)
            repo_dir.mkdir(parents=True, exist_ok=True)
            sha = self._write_commit(repo_id, repo_dir, files, parent=self.refs(repo_id).get(revision))
            self._point_refs(repo_dir, sha, revision, tags)
        return sha

    def resolve(self, repo_id: str, revision: str) -> str | None:
        """Commit sha for a branch, tag or full commit sha; None when unknown."""
        if not self.exists(repo_id):
            return None
        if _COMMIT_RE.fullmatch(revision):
            return revision if self.commit(repo_id, revision) is not None else None
        refs = self.refs(repo_id)
        if revision in refs:
            return refs[revision]
        alias = DEFAULT_BRANCH_ALIASES.get(revision)
        return refs.get(alias) if alias is not None else None

    def commit(self, repo_id: str, sha: str) -> Commit | None:
        """Load a commit's metadata (cached), or None if it does not exist."""
        if not _COMMIT_RE.fullmatch(sha) or not self.exists(repo_id):
            return None
        key = (repo_id, sha)
        with self._lock:
            if key not in self._commits:
                repo_dir = self.repo_dir(repo_id)
                if not (repo_dir / "commits" / sha).is_dir():
                    return None
                self._commits[key] = self._load_commit(repo_dir, sha)
            return self._commits[key]

    def files(self, repo_id: str, commit: str) -> dict[str, Path]:
        """Map of repo path to file on disk for a commit (empty if unknown)."""
        loaded = self.commit(repo_id, commit)
        if loaded is None:
            return {}
        base = self.repo_dir(repo_id) / "commits" / commit
        return {path: base / path for path in loaded.files}

    def file_path(self, repo_id: str, commit: str, path: str) -> Path:
        """On-disk location of one file of a commit."""
        return self.repo_dir(repo_id) / "commits" / commit / path

    def last_change(self, repo_id: str, commit: Commit, path: str) -> Commit:
        """Newest commit in ``commit``'s first-parent chain that changed ``path``."""
        current, seen = commit, {commit.sha}
        while current.parent is not None and current.parent not in seen:
            parent = self.commit(repo_id, current.parent)
            before = parent.files.get(path) if parent is not None else None
            if parent is None or before is None or before.sha256 != current.files[path].sha256:
                break
            current = parent
            seen.add(parent.sha)
        return current

    @staticmethod
    def _check_ref(ref: str) -> None:
        """Reject ref names that are unsafe or would shadow commit shas."""
        if not _REF_RE.fullmatch(ref) or ".." in ref or ref.endswith("/") or _COMMIT_RE.fullmatch(ref):
            raise StoreError(f"invalid revision name {ref!r}")

    def _write_commit(
        self, repo_id: str, repo_dir: Path, files: Mapping[str, bytes | Path], *, parent: str | None
    ) -> str:
        """Stage files in a temp dir, then move them to ``commits/<sha>``."""
        staging = repo_dir / f"tmp-{uuid.uuid4().hex}"
        try:
            metas = [self._stage_file(staging, path, source) for path, source in files.items()]
            sha = commit_sha(repo_id, metas)
            target = repo_dir / "commits" / sha
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                self._write_manifest(repo_dir, sha, metas, parent=parent if parent != sha else None)
                staging.mkdir(exist_ok=True)
                staging.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return sha

    @staticmethod
    def _stage_file(staging: Path, path: str, source: bytes | Path) -> FileMeta:
        """Copy one file into the staging dir and hash it."""
        clean = clean_repo_path(path)
        if clean is None:
            raise StoreError(f"invalid repo path {path!r}")
        dest = staging / clean
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            dest.write_bytes(source)
        else:
            shutil.copyfile(source, dest)
        size, sha256, blob_sha1 = hash_file(dest)
        return FileMeta(clean, size, sha256, blob_sha1)

    @staticmethod
    def _write_manifest(repo_dir: Path, sha: str, metas: Sequence[FileMeta], *, parent: str | None) -> None:
        """Persist sizes and hashes so serving never re-hashes content."""
        (repo_dir / "manifests").mkdir(exist_ok=True)
        # Commit times in whole seconds, as hubs report them; a child is always later than its
        # parent (clients order commits by date, e.g. ModelScope's per-file "Revision").
        before = _read_json(repo_dir / "manifests" / f"{parent}.json", {}).get("timestamp", 0) if parent else 0
        payload = {
            "parent": parent,
            "message": f"publish {len(metas)} file(s)",
            "timestamp": max(int(time.time()), before + 1),
            "files": {m.path: {"size": m.size, "sha256": m.sha256, "blob_sha1": m.blob_sha1} for m in metas},
        }
        _write_json(repo_dir / "manifests" / f"{sha}.json", payload)

    @staticmethod
    def _point_refs(repo_dir: Path, sha: str, revision: str, tags: Sequence[str]) -> None:
        """Move the branch and tags to ``sha``."""
        refs: dict[str, str] = _read_json(repo_dir / "refs.json", {})
        tag_names = set(_read_json(repo_dir / "tags.json", []))
        refs[revision] = sha
        tag_names.discard(revision)
        for tag in tags:
            refs[tag] = sha
            tag_names.add(tag)
        _write_json(repo_dir / "refs.json", refs)
        _write_json(repo_dir / "tags.json", sorted(tag_names))

    def _load_commit(self, repo_dir: Path, sha: str) -> Commit:
        """Read a manifest, or build one for a hand-made commit directory."""
        manifest_path = repo_dir / "manifests" / f"{sha}.json"
        manifest: JSON | None = _read_json(manifest_path, None)
        if manifest is None:
            metas = self._scan(repo_dir / "commits" / sha)
            self._write_manifest(repo_dir, sha, metas, parent=None)
            manifest = _read_json(manifest_path, None)
            assert manifest is not None
        files = {path: FileMeta(path, **info) for path, info in manifest["files"].items()}
        return Commit(sha, manifest["parent"], manifest["message"], manifest["timestamp"], files)

    @staticmethod
    def _scan(commit_dir: Path) -> list[FileMeta]:
        """Hash every regular file under a commit directory."""
        metas = []
        for path in sorted(p for p in commit_dir.rglob("*") if p.is_file()):
            size, sha256, blob_sha1 = hash_file(path)
            metas.append(FileMeta(path.relative_to(commit_dir).as_posix(), size, sha256, blob_sha1))
        return metas


# ---------------------------------------------------------------------------
# HTTP request / response model
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HubRequest:
    """One parsed HTTP request; ``target`` is the raw path with query."""

    method: str
    target: str
    headers: Mapping[str, str]

    @property
    def path(self) -> str:
        """Raw (still percent-encoded) path."""
        return urlsplit(self.target).path

    @property
    def segments(self) -> list[str]:
        """Path segments, split first, then percent-decoded."""
        return [unquote(part) for part in self.path.split("/")[1:]]

    @property
    def query(self) -> dict[str, list[str]]:
        """Decoded query parameters."""
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """Header value by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class FileBody:
    """A byte range of a file on disk to stream as the response body."""

    path: Path
    start: int
    length: int
    #: Bytes sent after the range (a fault: a body longer than the listing says).
    pad: int = 0


@dataclass
class HubResponse:
    """A response to write: status, headers and either bytes or a file range."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    file: FileBody | None = None

    @property
    def content_length(self) -> int:
        """Length of the body that will be sent for GET."""
        return self.file.length + self.file.pad if self.file is not None else len(self.body)


def json_response(status: int, payload: object, headers: Sequence[tuple[str, str]] = ()) -> HubResponse:
    """A JSON response."""
    body = json.dumps(payload).encode()
    return HubResponse(status, [("Content-Type", "application/json; charset=utf-8"), *headers], body)


class RangeNotSatisfiable(Exception):
    """The requested byte range starts beyond the end of the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Inclusive (first, last) for a single ``bytes=`` range; None means whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first_text, dash, last_text = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or "," in spec or not dash:
        return None
    try:
        if not first_text:
            suffix = int(last_text)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable
            return max(size - suffix, 0), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first >= size:
        raise RangeNotSatisfiable
    return (first, min(last, size - 1)) if last >= first else None


def file_response(path: Path, size: int, range_header: str | None, headers: Sequence[tuple[str, str]]) -> HubResponse:
    """200 with the whole file, 206 with one range, or 416."""
    base = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes"), *headers]
    try:
        span = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return HubResponse(416, [*base, ("Content-Range", f"bytes */{size}")])
    if span is None:
        return HubResponse(200, base, file=FileBody(path, 0, size))
    first, last = span
    return HubResponse(
        206,
        [*base, ("Content-Range", f"bytes {first}-{last}/{size}")],
        file=FileBody(path, first, last - first + 1),
    )


def _truthy(value: str | None) -> bool:
    """Query flag parsing (``true``, ``True``, ``1``)."""
    return (value or "").strip().lower() in ("1", "true", "yes")


def _iso(timestamp: int) -> str:
    """HF-style UTC timestamp."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _directories(paths: Iterable[str]) -> set[str]:
    """Every parent directory of the given repo paths."""
    dirs: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return dirs


def _under(path: str, prefix: str, recursive: bool) -> bool:
    """Whether ``path`` is inside ``prefix`` (directly unless recursive)."""
    base = f"{prefix}/" if prefix else ""
    return path.startswith(base) and (recursive or "/" not in path[len(base) :])


# ---------------------------------------------------------------------------
# Object storage (the CDN real hubs redirect large downloads to)
# ---------------------------------------------------------------------------
#: The host name redirects point at: another name for this server, so clients see a
#: cross-host redirect (and must not carry credentials across it), as with a real CDN.
STORAGE_HOST: Final = "localhost"


class Storage:
    """Serves redirected file bodies at ``http://localhost:PORT/_storage/<token>/<name>``.

    Real hubs answer downloads of large files with 302 to object storage (ModelScope:
    hub-listings.md; Hugging Face: its CDN); so does this one, for every LFS file.  Tokens
    are random per redirect, like presigned URLs.  ``authorized`` counts requests that
    arrived with an ``Authorization`` header, ``cookies`` the ``Cookie`` headers that arrived
    (a client must send neither across origins).  ``netloc`` (``host:port``) redirects
    elsewhere than ``localhost`` on the hub's port: another server sharing this storage.
    """

    def __init__(self) -> None:
        self.enabled = True
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[Path, FileMeta]] = {}
        self.authorized: list[str] = []
        self.cookies: list[str] = []
        self.netloc: str | None = None

    def url_for(self, request: HubRequest, disk: Path, meta: FileMeta) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._objects[token] = (disk, meta)
        port = (request.header("host") or "").rpartition(":")[2]
        name = PurePosixPath(meta.path).name
        return f"http://{self.netloc or f'{STORAGE_HOST}:{port}'}/_storage/{token}/{name}"

    def handle(self, request: HubRequest) -> HubResponse:
        segments = request.segments
        with self._lock:
            found = self._objects.get(segments[1]) if len(segments) == 3 else None
            if request.header("authorization"):
                self.authorized.append(request.target)
            if request.header("cookie"):
                self.cookies.append(request.header("cookie") or "")
        if found is None:
            return json_response(403, {"error": "AccessDenied: the signature does not match"})
        disk, meta = found
        return file_response(disk, meta.size, request.header("range"), [("ETag", f'"{meta.sha256}"')])


# ---------------------------------------------------------------------------
# Hugging Face protocol
# ---------------------------------------------------------------------------
def hf_error(code: str, message: str, headers: Sequence[tuple[str, str]] = ()) -> HubResponse:
    """404 the way the Hub sends it (``X-Error-Code`` drives the client's error class)."""
    error_headers = [("X-Error-Message", message), *headers]
    if code:
        error_headers.insert(0, ("X-Error-Code", code))
    return json_response(404, {"error": message}, error_headers)


class HuggingFaceRoutes:
    """Model info, tree listing, refs and ``resolve`` file downloads."""

    tree_page_size = 1000

    def __init__(self, store: RepoStore, storage: Storage | None = None) -> None:
        self.store = store
        self.storage = storage or Storage()

    def handle(self, request: HubRequest) -> HubResponse:
        """Dispatch one HF request."""
        segments = request.segments
        if segments[:1] == ["api"]:
            return self._api(request, segments[1:])
        if len(segments) >= 5 and segments[2] == "resolve":
            return self._resolve(request, f"{segments[0]}/{segments[1]}", segments[3], "/".join(segments[4:]))
        return hf_error("", "Not Found")

    def _api(self, request: HubRequest, segments: list[str]) -> HubResponse:
        """``/api/models``, ``/api/models/{owner}/{name}[/...]`` and ``/api/agent-harnesses``."""
        if segments == ["agent-harnesses"]:
            return json_response(200, {"standardEnvVars": [], "harnesses": {}})
        if segments == ["models"]:
            return self._list_models(request)
        repo_id = "/".join(segments[1:3])
        if len(segments) < 3 or segments[0] != "models" or not self.store.exists(repo_id):
            return hf_error("RepoNotFound", "Repository not found")
        return self._repo_api(request, repo_id, segments[3:])

    list_page_size = 100

    def _list_models(self, request: HubRequest) -> HubResponse:
        """``HfApi.list_models``: ``GET /api/models?author=&pipeline_tag=&search=&limit=`` (hf_api.py
        ``list_models``), a JSON array of models, further pages behind ``Link: <url>; rel="next"``
        (``utils/_pagination.py``, as for trees; ``cursor`` here).  Each item has the fields the
        Hub sends without ``expand`` and ``ModelInfo.__init__`` reads: ``_id``, ``id`` (required),
        ``likes``, ``trendingScore``, ``private``, ``downloads``, ``tags``, ``pipeline_tag``,
        ``library_name``, ``createdAt``.  ``author`` matches the owner case-insensitively (the
        Hub's organisation names are; an assumption, not seen in a listing)."""
        author = (request.param("author") or "").lower()
        tag = request.param("pipeline_tag")
        search = (request.param("search") or "").lower()
        models = []
        for repo_id in self.store.repo_ids():
            card = self.store.card(repo_id)
            if "hf" not in card["hubs"] or (author and repo_id.split("/")[0].lower() != author):
                continue
            if (tag and card["pipeline_tag"] != tag) or (search and search not in repo_id.lower()):
                continue
            models.append(
                {
                    "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                    "id": repo_id,
                    "likes": 0,
                    "trendingScore": 0,
                    "private": False,
                    "downloads": card["downloads"],
                    "tags": ["funasr", *([card["pipeline_tag"]] if card["pipeline_tag"] else [])],
                    "pipeline_tag": card["pipeline_tag"],
                    "library_name": "funasr",
                    "createdAt": _iso(self.store.created(repo_id)),
                }
            )
        limit = request.param("limit")
        size = min(self.list_page_size, int(limit)) if limit and limit.isdigit() else self.list_page_size
        raw_cursor = request.param("cursor") or "0"
        cursor = int(raw_cursor) if raw_cursor.isdigit() else 0
        headers = []
        if cursor + size < len(models):
            headers.append(("Link", f'<{self._next_url(request, cursor + size)}>; rel="next"'))
        return json_response(200, models[cursor : cursor + size], headers)

    def _repo_api(self, request: HubRequest, repo_id: str, rest: list[str]) -> HubResponse:
        """Routes below an existing repo."""
        match rest:
            case []:
                return self._info(request, repo_id, "main")
            case ["revision", revision]:
                return self._info(request, repo_id, revision)
            case ["tree", revision, *sub]:
                return self._tree(request, repo_id, revision, "/".join(sub))
            case ["refs"]:
                return self._refs(repo_id)
        return hf_error("", "Not Found")

    def _commit(self, repo_id: str, revision: str) -> Commit | HubResponse:
        """Resolve a revision or build the RevisionNotFound response."""
        sha = self.store.resolve(repo_id, revision)
        commit = self.store.commit(repo_id, sha) if sha is not None else None
        return commit if commit is not None else hf_error("RevisionNotFound", f"Invalid rev id: {revision}")

    def _info(self, request: HubRequest, repo_id: str, revision: str) -> HubResponse:
        """``model_info``/``repo_info``: sha and siblings (with sizes/LFS when ``blobs``)."""
        commit = self._commit(repo_id, revision)
        if isinstance(commit, HubResponse):
            return commit
        blobs = _truthy(request.param("blobs"))
        payload = self.info_payload(repo_id, commit, blobs=blobs)
        license = self.store.card(repo_id)["license"]
        if license:
            # A model card's YAML metadata reaches the API as ``cardData`` (huggingface_hub's
            # ModelInfo parses it into ``card_data``), and the hub adds a ``license:`` tag.
            payload["cardData"] = {"license": license}
            payload["tags"] = [*payload["tags"], f"license:{license}"]
        return json_response(200, payload)

    @staticmethod
    def info_payload(repo_id: str, commit: Commit, *, blobs: bool) -> JSON:
        """The ``/api/models/...`` JSON body."""
        siblings = [HuggingFaceRoutes._sibling(meta, blobs) for _, meta in sorted(commit.files.items())]
        return {
            "_id": commit.sha[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/", maxsplit=1)[0],
            "sha": commit.sha,
            "lastModified": _iso(commit.timestamp),
            "createdAt": _iso(commit.timestamp),
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "spaces": [],
            "usedStorage": sum(meta.size for meta in commit.files.values()),
        }

    @staticmethod
    def _sibling(meta: FileMeta, blobs: bool) -> JSON:
        """One ``siblings`` entry."""
        sibling: JSON = {"rfilename": meta.path}
        if blobs:
            sibling.update(size=meta.size, blobId=meta.git_oid)
            if meta.is_lfs:
                sibling["lfs"] = {
                    "size": meta.size,
                    "sha256": meta.sha256,
                    "pointerSize": len(meta.lfs_pointer),
                }
        return sibling

    def _tree(self, request: HubRequest, repo_id: str, revision: str, sub: str) -> HubResponse:
        """``list_repo_tree``: paginated with a ``cursor`` param and ``Link: rel="next"``."""
        commit = self._commit(repo_id, revision)
        if isinstance(commit, HubResponse):
            return commit
        prefix = clean_repo_path(sub) if sub else ""
        recursive, expand = _truthy(request.param("recursive")), _truthy(request.param("expand"))
        entries = (
            self.tree_entries(repo_id, commit, prefix, recursive=recursive, expand=expand)
            if prefix is not None
            else None
        )
        if entries is None:
            return hf_error("EntryNotFound", f"{sub} does not exist on {revision}", [("X-Repo-Commit", commit.sha)])
        raw_cursor = request.param("cursor") or "0"
        cursor = int(raw_cursor) if raw_cursor.isdigit() else 0
        page = entries[cursor : cursor + self.tree_page_size]
        headers = []
        if cursor + self.tree_page_size < len(entries):
            headers.append(("Link", f'<{self._next_url(request, cursor + self.tree_page_size)}>; rel="next"'))
        return json_response(200, page, headers)

    def tree_entries(
        self, repo_id: str, commit: Commit, prefix: str, *, recursive: bool, expand: bool
    ) -> list[JSON] | None:
        """Folder and file entries under ``prefix``; None if it is not a folder."""
        dirs = _directories(commit.files)
        if prefix and prefix not in dirs:
            return None
        folders = [
            {
                "type": "directory",
                "oid": hashlib.sha1(f"tree:{commit.sha}:{d}".encode()).hexdigest(),
                "size": 0,
                "path": d,
            }
            for d in sorted(dirs)
            if _under(d, prefix, recursive)
        ]
        files = [
            self._tree_file(repo_id, commit, meta, expand)
            for path, meta in sorted(commit.files.items())
            if _under(path, prefix, recursive)
        ]
        return folders + files

    def _tree_file(self, repo_id: str, commit: Commit, meta: FileMeta, expand: bool) -> JSON:
        """One file entry of a tree listing."""
        entry: JSON = {"type": "file", "oid": meta.git_oid, "size": meta.size, "path": meta.path}
        if meta.is_lfs:
            entry["lfs"] = {"oid": meta.sha256, "size": meta.size, "pointerSize": len(meta.lfs_pointer)}
        if expand:
            last = self.store.last_change(repo_id, commit, meta.path)
            entry["lastCommit"] = {"id": last.sha, "title": last.message, "date": _iso(last.timestamp)}
        return entry

    @staticmethod
    def _next_url(request: HubRequest, cursor: int) -> str:
        """Absolute URL of the next tree page."""
        params = {key: values[0] for key, values in request.query.items() if key != "cursor"}
        params["cursor"] = str(cursor)
        return f"http://{request.header('host') or '127.0.0.1'}{request.path}?{urlencode(params)}"

    def _refs(self, repo_id: str) -> HubResponse:
        """``list_repo_refs``."""
        refs, tags = self.store.refs(repo_id), self.store.tags(repo_id)

        def info(name: str, kind: str) -> JSON:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": refs[name]}

        return json_response(
            200,
            {
                "branches": [info(n, "heads") for n in sorted(refs) if n not in tags],
                "tags": [info(n, "tags") for n in sorted(refs) if n in tags],
                "converts": [],
                "pullRequests": [],
            },
        )

    def _resolve(self, request: HubRequest, repo_id: str, revision: str, path: str) -> HubResponse:
        """HEAD/GET ``/{repo}/resolve/{revision}/{path}``: 200/206 for small files; LFS files
        answer 302 to the storage host with the metadata headers (as the Hub redirects to its CDN)."""
        if not self.store.exists(repo_id):
            return hf_error("RepoNotFound", "Repository not found")
        commit = self._commit(repo_id, revision)
        if isinstance(commit, HubResponse):
            return commit
        clean = clean_repo_path(path)
        meta = commit.files.get(clean) if clean is not None else None
        if meta is None:
            return hf_error("EntryNotFound", "Entry not found", [("X-Repo-Commit", commit.sha)])
        disk = self.store.file_path(repo_id, commit.sha, meta.path)
        if meta.is_lfs and self.storage.enabled:
            location = self.storage.url_for(request, disk, meta)
            return HubResponse(302, [*self.file_headers(commit, meta), ("Location", location)])
        return file_response(disk, meta.size, request.header("range"), self.file_headers(commit, meta))

    @staticmethod
    def file_headers(commit: Commit, meta: FileMeta) -> list[tuple[str, str]]:
        """Metadata headers ``get_hf_file_metadata`` reads."""
        headers = [("X-Repo-Commit", commit.sha), ("ETag", f'"{meta.etag}"')]
        if meta.is_lfs:
            headers += [("X-Linked-Etag", f'"{meta.sha256}"'), ("X-Linked-Size", str(meta.size))]
        return headers


# ---------------------------------------------------------------------------
# ModelScope protocol
# ---------------------------------------------------------------------------
def ms_ok(data: object) -> HubResponse:
    """Legacy ``/api/v1`` success envelope."""
    payload = {
        "Code": 200,
        "Data": data,
        "Message": "success",
        "RequestId": uuid.uuid4().hex,
        "Success": True,
    }
    return json_response(200, payload)


def ms_error(message: str, status: int = 404) -> HubResponse:
    """Legacy error envelope; the HTTP status drives ``modelscope_hub``'s error class."""
    payload = {"Code": status, "Message": message, "RequestId": uuid.uuid4().hex, "Success": False}
    return json_response(status, payload)


class ModelScopeRoutes:
    """Legacy ``/api/v1/models/...`` (files, download, revisions, info) and OpenAPI model info."""

    committer: Final = {"Name": "loopback", "Email": "loopback@127.0.0.1"}

    def __init__(self, store: RepoStore, storage: Storage | None = None) -> None:
        self.store = store
        self.storage = storage or Storage()

    def handle(self, request: HubRequest) -> HubResponse:
        """Dispatch one ModelScope request (path starts with api/v1 or openapi/v1)."""
        segments = request.segments
        if segments[0] == "openapi":
            return self._openapi(request, segments[2:])
        return self._legacy(request, segments[2:])

    def _legacy(self, request: HubRequest, segments: list[str]) -> HubResponse:
        """``/api/v1/models/{owner}/{name}[/...]``."""
        if len(segments) < 3 or segments[0] != "models":
            return ms_error("not found")
        repo_id = f"{segments[1]}/{segments[2]}"
        if not self.store.exists(repo_id):
            return ms_error(f"model {repo_id} does not exist")
        return self._repo_api(request, repo_id, segments[3:])

    def _repo_api(self, request: HubRequest, repo_id: str, rest: list[str]) -> HubResponse:
        """Routes below an existing repo."""
        match rest:
            case []:
                return self._repo_info(repo_id)
            case ["revisions"]:
                return self._revisions(repo_id)
            case ["repo", "files"]:
                return self._files(request, repo_id)
            case ["repo"]:
                return self._download(request, repo_id)
        return ms_error("not found")

    def _commit(self, repo_id: str, revision: str) -> Commit | HubResponse:
        """Resolve a revision or build the 404 response."""
        sha = self.store.resolve(repo_id, revision)
        commit = self.store.commit(repo_id, sha) if sha is not None else None
        return commit if commit is not None else ms_error(f"revision {revision} of {repo_id} does not exist")

    def _repo_info(self, repo_id: str) -> HubResponse:
        """Legacy ``get_repo_info``."""
        owner, name = repo_id.split("/")
        return ms_ok(
            {
                "Id": int(hashlib.sha1(repo_id.encode()).hexdigest()[:6], 16),
                "Name": name,
                "Path": owner,
                "ChineseName": name,
                "Visibility": 5,
                "Description": "",
                "Downloads": 0,
                "Stars": 0,
            }
        )

    def _revisions(self, repo_id: str) -> HubResponse:
        """Branches and tags with ``Revision`` and ``CreatedAt``: no ``CommitId``, as the real
        API answers (hub-listings.md); a tag's commit can only be inferred from file listings."""
        refs, tags = self.store.refs(repo_id), self.store.tags(repo_id)

        def detail(name: str) -> JSON:
            commit = self.store.commit(repo_id, refs[name])
            created = commit.timestamp if commit is not None else 0
            return {"Revision": name, "CreatedAt": created, "Description": ""}

        def order(item: JSON) -> tuple[int, str]:
            return int(item["CreatedAt"]), str(item["Revision"])

        branches = sorted((detail(n) for n in refs if n not in tags), key=order)
        tag_details = sorted((detail(n) for n in refs if n in tags), key=order)
        return ms_ok({"RevisionMap": {"Branches": branches, "Tags": tag_details}})

    def _files(self, request: HubRequest, repo_id: str) -> HubResponse:
        """``repo/files?Revision=&Recursive=&Root=``."""
        revision = request.param("Revision") or "master"
        commit = self._commit(repo_id, revision)
        if isinstance(commit, HubResponse):
            return commit
        raw_root = (request.param("Root") or "").strip("/")
        root = clean_repo_path(raw_root) if raw_root else ""
        recursive = _truthy(request.param("Recursive"))
        entries = self.file_entries(repo_id, commit, root, recursive=recursive) if root is not None else None
        if entries is None:
            return ms_error(f"path {raw_root} does not exist in {repo_id}@{revision}")
        return ms_ok({"Files": entries, "IsVisual": False, "LatestCommitter": dict(self.committer)})

    def file_entries(self, repo_id: str, commit: Commit, root: str, *, recursive: bool) -> list[JSON] | None:
        """``tree`` and ``blob`` entries under ``root``; None if it is not a folder."""
        dirs = _directories(commit.files)
        if root and root not in dirs:
            return None
        entries = [self._entry(d, "tree", commit) for d in sorted(dirs) if _under(d, root, recursive)]
        for path, meta in sorted(commit.files.items()):
            if _under(path, root, recursive):
                entries.append(self._blob_entry(repo_id, commit, meta))
        return entries

    def _entry(self, path: str, kind: str, commit: Commit) -> JSON:
        """Fields shared by tree and blob entries."""
        return {
            "Name": path.rsplit("/", 1)[-1],
            "Path": path,
            "Type": kind,
            "Size": 0,
            "Sha256": "",
            "IsLFS": False,
            "Mode": "16384" if kind == "tree" else "33188",
            "Revision": commit.sha,
            "CommitMessage": commit.message,
            "CommittedDate": commit.timestamp,
            "CommitterName": self.committer["Name"],
            "InCheck": False,
        }

    def _blob_entry(self, repo_id: str, commit: Commit, meta: FileMeta) -> JSON:
        """A file entry; ``Revision`` is the last commit that changed the file, as on the real hub."""
        entry = self._entry(meta.path, "blob", self.store.last_change(repo_id, commit, meta.path))
        entry.update(Size=meta.size, Sha256=meta.sha256, IsLFS=meta.is_lfs)
        return entry

    def _download(self, request: HubRequest, repo_id: str) -> HubResponse:
        """``repo?Revision=&FilePath=``: 200 or 206, streamed; large (LFS) files 302 to object
        storage.  HEAD answers 404, as on the real hub (hub-listings.md)."""
        if request.method == "HEAD":
            return ms_error("HEAD is not supported on this endpoint")
        commit = self._commit(repo_id, request.param("Revision") or "master")
        if isinstance(commit, HubResponse):
            return commit
        clean = clean_repo_path(request.param("FilePath") or "")
        meta = commit.files.get(clean) if clean is not None else None
        if meta is None:
            return ms_error(f"file {request.param('FilePath')!r} does not exist")
        disk = self.store.file_path(repo_id, commit.sha, meta.path)
        if meta.is_lfs and self.storage.enabled:
            return HubResponse(302, [("Location", self.storage.url_for(request, disk, meta))])
        return file_response(disk, meta.size, request.header("range"), [])

    def _list_models(self, request: HubRequest) -> HubResponse:
        """``HubApi.list_repos("model", owner=, task=)``: ``GET /openapi/v1/models?owner=&search=
        &page_number=&page_size=&filter.task=`` (``_openapi.py`` ``list_models``; filters are sent as
        ``filter.<key>``, ``_flatten_filters``).  The envelope's ``data`` holds ``models``,
        ``total_count``, ``page_number``, ``page_size`` (what ``api.py`` ``_extract_paged`` reads, and
        ``PagedResult.has_next`` pages on); each model is the OpenAPI's snake_case object with ``id``
        ``"owner/name"`` (``_repo_info_from_payload`` splits it), ``tasks``, ``downloads``,
        ``created_at``/``last_modified``, as ``/openapi/v1/models/{owner}/{name}`` answers.
        ``page_number * page_size`` over 3000 is refused, as the client refuses it."""
        owner = request.param("owner")
        task = request.param("filter.task")
        search = (request.param("search") or "").lower()
        try:
            page = max(1, int(request.param("page_number") or "1"))
            size = max(1, int(request.param("page_size") or "10"))
        except ValueError:
            return json_response(400, {"success": False, "code": "InvalidParameter", "message": "bad page"})
        if page * size > 3000:
            return json_response(400, {"success": False, "code": "InvalidParameter", "message": "page too deep"})
        models = []
        for repo_id in self.store.repo_ids():
            card = self.store.card(repo_id)
            if "ms" not in card["hubs"] or (owner and repo_id.split("/")[0] != owner):
                continue
            if (task and task not in card["tasks"]) or (search and search not in repo_id.lower()):
                continue
            models.append(self.model_payload(repo_id))
        data = {
            "models": models[(page - 1) * size : page * size],
            "total_count": len(models),
            "page_number": page,
            "page_size": size,
        }
        return json_response(200, {"success": True, "data": data, "request_id": uuid.uuid4().hex})

    def model_payload(self, repo_id: str) -> JSON:
        """One model as the OpenAPI describes it (listing and ``/models/{owner}/{name}``)."""
        owner, name = repo_id.split("/")
        card = self.store.card(repo_id)
        created = datetime.fromtimestamp(self.store.created(repo_id), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": repo_id,
            "owner": owner,
            "name": name,
            "display_name": name,
            "private": False,
            "downloads": card["downloads"],
            "likes": 0,
            "tags": [],
            "tasks": card["tasks"],
            # ``HubApi.get_repo`` -> RepoInfo.license (modelscope_hub api.py maps "License"/"license").
            "license": card["license"],
            "created_at": created,
            "last_modified": created,
        }

    def _openapi(self, request: HubRequest, segments: list[str]) -> HubResponse:
        """``/openapi/v1/models`` (the listing) and ``/openapi/v1/models/{owner}/{name}``
        (``HubApi.get_repo``/``repo_exists``)."""
        if segments == ["models"]:
            return self._list_models(request)
        repo_id = "/".join(segments[1:3])
        if len(segments) != 3 or segments[0] != "models" or not self.store.exists(repo_id):
            payload = {
                "success": False,
                "code": "ResourceNotFound",
                "message": f"{repo_id} not found",
                "request_id": uuid.uuid4().hex,
            }
            return json_response(404, payload)
        return json_response(
            200, {"success": True, "data": self.model_payload(repo_id), "request_id": uuid.uuid4().hex}
        )


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------
def _has_dot_segment(request: HubRequest) -> bool:
    """Whether any decoded path segment (or part of one) is ``.`` or ``..``."""
    return any(part in (".", "..") for segment in request.segments for part in segment.split("/"))


@dataclass
class Fault:
    """A file body that goes wrong: ``truncate`` closes the connection after half the
    promised bytes; ``reset`` aborts it there (TCP RST); ``short`` sends half the file as
    if it were all of it (consistent Content-Length); ``long`` sends the file and then 64 MiB
    more (consistent Content-Length: a proxy serving another object); ``trickle`` sends one
    byte every ``TRICKLE_INTERVAL`` seconds until the client gives up (or ``TRICKLE_LIMIT`` bytes
    were sent: then the connection is reset).  Applies to ``times``
    responses."""

    kind: Literal["truncate", "reset", "short", "long", "trickle"]
    times: int = 1_000_000
    #: How many responses this fault spoiled so far.
    served: int = 0


#: A ``trickle`` fault's pace: one byte per this many seconds.
TRICKLE_INTERVAL = 0.05
#: A ``trickle`` fault resets the connection after this many bytes (20 s): a client that never
#: cuts a trickling body fails the other way, in bounded time.
TRICKLE_LIMIT = 400


class LoopbackHub:
    """Serves a :class:`RepoStore` over both hub protocols on 127.0.0.1."""

    def __init__(self, store: RepoStore, *, port: int = 0) -> None:
        self.store = store
        #: Where large downloads are redirected (``storage.enabled = False``: serve in place).
        self.storage = Storage()
        self.hf = HuggingFaceRoutes(store, self.storage)
        self.modelscope = ModelScopeRoutes(store, self.storage)
        self._port = port
        self._server: _HubServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []
        self._errors: list[str] = []
        self._transfers: list[str] = []
        #: Fault: file names whose served bytes have their first byte flipped (same size,
        #: listings unchanged) -- a mirror or proxy serving altered content.
        self.tamper: set[str] = set()
        #: Faults by file name: how the next ``Fault.times`` full-body responses go wrong.
        self.faults: dict[str, Fault] = {}
        #: File names whose range requests get the whole file with 200 (a proxy that drops Range).
        self.ignore_range: set[str] = set()
        #: Fault: path prefix -> how many of the next requests under it are answered
        #: :attr:`throttle_status` with ``Retry-After: 3600`` (a hub asking for an hour).
        self.throttle: dict[str, int] = {}
        #: ``503 Service Unavailable``, or ``429 Too Many Requests``.
        self.throttle_status = 503
        #: Seconds to sleep after each chunk of a file body (a slow link).
        self.chunk_delay = 0.0
        #: Bytes of ``long`` fault padding that reached a client (it should stop reading early).
        self.padded_sent = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only valid once started)."""
        if self._server is None:
            raise RuntimeError("hub is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Snapshot of the (method, path-with-query) request log."""
        with self._lock:
            return list(self._log)

    @property
    def transfers(self) -> list[str]:
        """Names of the files whose bytes were sent (a body, whole or a range), in order."""
        with self._lock:
            return list(self._transfers)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of server-side failures (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def take_errors(self) -> list[str]:
        """Server-side failures since the last call (and forget them)."""
        with self._lock:
            errors, self._errors = self._errors, []
        return errors

    def clear_log(self) -> None:
        """Forget logged requests and transfers."""
        with self._lock:
            self._log.clear()
            self._transfers.clear()

    def start(self) -> LoopbackHub:
        """Bind and serve in a daemon thread."""
        if self._server is None:
            self._server = _HubServer(("127.0.0.1", self._port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="loopback-hub",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> LoopbackHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def record(self, request: HubRequest) -> None:
        """Append a request to the log."""
        with self._lock:
            self._log.append((request.method, request.target))

    def record_error(self, text: str) -> None:
        """Remember a server-side failure."""
        with self._lock:
            self._errors.append(text)

    def handle(self, request: HubRequest) -> HubResponse:
        """Route a request to the ModelScope or Hugging Face protocol."""
        if _has_dot_segment(request):
            return json_response(404, {"error": "invalid path"})
        with self._lock:
            prefix = next((p for p, n in self.throttle.items() if n > 0 and request.path.startswith(p)), None)
            if prefix is not None:
                self.throttle[prefix] -= 1
        if prefix is not None:
            return json_response(self.throttle_status, {"error": "slow down"}, [("Retry-After", "3600")])
        if request.segments[:1] == ["_storage"]:
            response = self.storage.handle(request)
        elif request.segments[:2] in (["api", "v1"], ["openapi", "v1"]):
            response = self.modelscope.handle(request)
        else:
            response = self.hf.handle(request)
        body = response.file
        if body is not None and response.status == 206 and body.path.name in self.ignore_range:
            headers = [h for h in response.headers if h[0] != "Content-Range"]
            response = HubResponse(200, headers, file=FileBody(body.path, 0, body.path.stat().st_size))
            body = response.file
        if body is not None and request.method == "GET":
            fault = self.take_fault(body.path.name, "short", "long")
            if fault is not None and fault.kind == "short":
                response.file = FileBody(body.path, body.start, body.length // 2)
            elif fault is not None:
                response.file = FileBody(body.path, body.start, body.length, pad=64 << 20)
        return response

    def take_fault(self, name: str, *kinds: str) -> Fault | None:
        """The fault of one of ``kinds`` to apply to this response of file ``name``, counting it used."""
        with self._lock:
            fault = self.faults.get(name)
            if fault is None or fault.times <= 0 or fault.kind not in kinds:
                return None
            fault.times -= 1
            fault.served += 1
            return fault

    def stream(self, body: FileBody, out: BinaryIO) -> int:
        """Copy a file range to the socket in chunks; return bytes sent (short on a fault)."""
        with self._lock:
            self._transfers.append(body.path.name)
        fault = self.take_fault(body.path.name, "truncate", "reset", "trickle")
        stop_at = body.length if fault is None else body.length // 2
        sent = 0
        with body.path.open("rb") as fh:
            fh.seek(body.start)
            while fault is not None and fault.kind == "trickle" and sent < body.length:
                if sent == TRICKLE_LIMIT:
                    raise ConnectionResetError(f"fault: a trickle of {sent} bytes of {body.path.name}, given up")
                out.write(fh.read(1))
                out.flush()  # a client that gave up ends this with BrokenPipeError
                sent += 1
                time.sleep(TRICKLE_INTERVAL)
            while sent < stop_at:
                chunk = fh.read(min(CHUNK_SIZE, stop_at - sent))
                if not chunk:
                    break
                if sent == 0 and body.start == 0 and body.path.name in self.tamper:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                out.write(chunk)
                sent += len(chunk)
                if self.chunk_delay:
                    out.flush()
                    time.sleep(self.chunk_delay)
        if fault is not None and fault.kind == "reset":
            raise ConnectionResetError(f"fault: connection reset after {sent} bytes of {body.path.name}")
        padded = 0
        while padded < body.pad:
            chunk = bytes(min(CHUNK_SIZE, body.pad - padded))
            out.write(chunk)
            padded += len(chunk)
        with self._lock:
            self.padded_sent += padded
        return sent + padded


class _HubServer(ThreadingHTTPServer):
    """Threading server that knows its hub and never prints."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: LoopbackHub) -> None:
        self.hub = hub
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; record anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            self.hub.record_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    """Thin adapter from ``http.server`` to :meth:`LoopbackHub.handle`."""

    protocol_version = "HTTP/1.1"
    server_version = "LoopbackHub/1"
    timeout = 60

    @property
    def hub(self) -> LoopbackHub:
        return cast(_HubServer, self.server).hub

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        """Read, log, route and answer one request."""
        self._discard_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = HubRequest(self.command, self.path, headers)
        self.hub.record(request)
        try:
            response = self.hub.handle(request)
        except Exception:
            self.hub.record_error(traceback.format_exc())
            response = json_response(500, {"error": "internal error"})
        self._send(request, response)

    def _discard_body(self) -> None:
        """Consume a request body so keep-alive stays in sync."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, request: HubRequest, response: HubResponse) -> None:
        """Write status, headers and (unless HEAD) the body."""
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(response.content_length))
        self.end_headers()
        if request.method == "HEAD":
            return
        if response.file is None:
            self.wfile.write(response.body)
            return
        try:
            complete = self.hub.stream(response.file, cast(BinaryIO, self.wfile)) == response.content_length
        except ConnectionResetError:
            # Abort with RST: linger 0 makes close() drop the connection instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            complete = False
        if not complete:
            self.close_connection = True


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Serve ``--root`` until SIGTERM/SIGINT; print the URL as the first stdout line."""
    parser = argparse.ArgumentParser(description="Loopback Hugging Face + ModelScope hub")
    parser.add_argument("--root", type=Path, required=True, help="RepoStore directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument(
        "--rate-mbps", type=float, default=0.0, help="serve file bodies at about this many MB/s (0: as fast as it can)"
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with LoopbackHub(RepoStore(args.root), port=args.port) as hub:
        if args.rate_mbps > 0:
            hub.chunk_delay = CHUNK_SIZE / (args.rate_mbps * 1e6)
        print(hub.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
