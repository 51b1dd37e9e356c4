"""The hubs: one registry entry each, and thin adapters over their official clients.

A hub is an entry of :data:`HUBS` (its short name, label, endpoint and token variables,
default branch, model pages, package-URL type, the organisations that publish FunASR models
there and the owners it renamed) plus an adapter class with three calls: list a revision,
download named files, list the models an organisation publishes.  Adding a hub is one entry
and one adapter; nothing else names hubs.

``huggingface_hub`` and ``modelscope_hub`` are imported only when a hub is used.  The
endpoint comes from the build's settings (so a mirror set per build is honoured) and is passed
to the clients explicitly.  Tokens are left to the clients, which read ``HF_TOKEN`` /
``MODELSCOPE_API_TOKEN`` themselves; they never pass through this module.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlencode, urlsplit

from hatch_funasr.digest import CHUNK, FileDigest, StreamHasher, hash_file
from hatch_funasr.errors import FetchError, FunasrBuildError, IntegrityError, redact
from hatch_funasr.model import RemoteFile, RemoteModel, RepoListing
from hatch_funasr.names import REPO_ID, is_commit, shown
from hatch_funasr.settings import EnvVars, Settings

__all__ = [
    "HUBS",
    "LIST_DEADLINE",
    "MAX_LIST_BODY",
    "MAX_LIST_PAGES",
    "HubClient",
    "HubSpec",
    "Progress",
    "hub_label",
    "repo_key",
    "search",
    "token_vars",
]

#: Told the byte count of each piece of a download as it arrives (negative: given back when a
#: transfer starts over).  Called from download threads.
Progress = Callable[[int], None]


def _ignore(_count: int) -> None:
    """A :data:`Progress` that keeps no count."""


class HubClient(Protocol):
    def list(self, repo: str, revision: str | None) -> RepoListing:
        """A revision's commit and every file of it (validated by the caller before use)."""

    def fetch(self, repo: str, commit: str, remote: RemoteFile, dest: Path, progress: Progress = _ignore) -> FileDigest:
        """Download ``remote`` to ``dest/remote.path``, stopping at its listed size; the digest
        of what arrived (hashed while streaming, or verified by the client against
        ``remote.sha256``).  :class:`IntegrityError` for bytes that are not the listed ones.
        ``progress`` is called with the size of each piece as it arrives."""

    def search(self, owner: str, task: str | None, limit: int) -> Sequence[RemoteModel]:
        """The models ``owner`` publishes (with ``task``, in the hub's own task names), at most ``limit``."""


@dataclass(frozen=True)
class HubSpec:
    """One hub: how the declaration names it, how messages name it, where it lives."""

    name: str
    label: str
    endpoint_var: str
    #: None: the client's own default (and its own legacy variables).
    default_endpoint: str | None
    #: The branch a declaration without a revision resolves (what the hub's clients default to).
    default_branch: str
    #: Makes the client: ``adapter(endpoint, default_branch)``.
    adapter: Callable[[str | None, str], HubClient]
    #: The organisations that publish FunASR's models here (the seed's section 3), listed by
    #: ``hatch-funasr models --remote`` unless ``--org`` names others.
    organisations: tuple[str, ...] = ()
    #: Where the client goes when the endpoint variable is unset (for messages).
    client_default: str = ""
    #: A repository's public page (``{repo}``): the SBOM names it, never a mirror's URL.
    page: str = ""
    #: The package-URL type of the hub's models (``pkg:<type>/<repo>@<commit>``), where one is defined.
    purl_type: str | None = None
    #: The variables the client reads its credentials from: never read by hatch-funasr, and
    #: removed from the export child's environment.
    token_vars: tuple[str, ...] = ()
    #: Owners the hub renamed (old -> new): both spellings name one repository.
    legacy_owners: Mapping[str, str] = field(default_factory=dict)
    #: The client's own switches that keep it off the network, for the export child.
    offline_env: Mapping[str, str] = field(default_factory=dict)

    def client(self, settings: Settings) -> HubClient:
        """An adapter talking to this hub's endpoint (its variable's mirror when set)."""
        _redact_client_logs()
        return self.adapter(settings.endpoint(self.endpoint_var, self.default_endpoint), self.default_branch)

    def where(self, settings: Settings) -> str:
        """The endpoint in use, and how to change it: for messages."""
        url = settings.endpoint(self.endpoint_var, self.default_endpoint)
        return f"{url} ({self.endpoint_var})" if url else f"{self.client_default} ({self.endpoint_var} unset)"


#: How often a dropped Hugging Face body is resumed (the client's own http_get resumes 5 times).
_RESUMES = 6
#: A body arriving slower than this many bytes a second over :data:`MIN_RATE_WINDOW` seconds is
#: cut off and resumed (``modelscope_hub`` does the same with the same figures; a body that
#: stops altogether hits the client's read timeout).
MIN_RATE = 1024
MIN_RATE_WINDOW = 60.0


class _RateFloor:
    """Counts a body's bytes; :class:`ConnectionError` when a window brought too few."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.start = time.monotonic()
        self.count = 0

    def add(self, count: int) -> None:
        self.count += count
        elapsed = time.monotonic() - self.start
        if elapsed >= MIN_RATE_WINDOW:
            if self.count < MIN_RATE * elapsed:
                raise ConnectionError(
                    f"{self.path}: {self.count} bytes in {elapsed:.0f} s, under the minimum of {MIN_RATE} bytes/s; "
                    "cut off"
                )
            self.start, self.count = time.monotonic(), 0


def _take(
    chunk: bytes,
    hasher: StreamHasher,
    feed: Callable[[bytes], None],
    out: BinaryIO,
    remote: RemoteFile,
    *,
    repo: str,
    progress: Progress,
) -> None:
    """Hash (``feed``, beside) and write one chunk of ``remote``'s body; refuse a body longer
    than the listing."""
    if hasher.seen + len(chunk) > remote.size:
        raise IntegrityError(
            f"{repo}/{remote.path}: the hub sent more than the {remote.size} bytes it lists; stopped there"
        )
    feed(chunk)
    out.write(chunk)
    progress(len(chunk))


_previous_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every log record made in this process has URL credentials (a mirror's
    ``https://user:secret@host``) redacted: the clients log request URLs in their retry warnings,
    through loggers and handlers we do not own."""
    record = _previous_factory(*args, **kwargs)
    message = record.getMessage()
    if "@" in message and "://" in message:
        record.msg, record.args = redact(message), None
    return record


def _redact_client_logs() -> None:
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


#: The longest wait a hub's ``Retry-After`` gets (its clients retry up to five times: a hub
#: asking for an hour each time would hold a build for five).
RETRY_AFTER_MAX = 60
_log = logging.getLogger("hatch_funasr")


def _capped(seconds: float | None) -> float | None:
    """A ``Retry-After`` delay, at most :data:`RETRY_AFTER_MAX` seconds, and said when cut."""
    if seconds is not None and seconds > RETRY_AFTER_MAX:
        _log.warning("the hub asked to wait %.0f s before retrying; waiting %d s at most", seconds, RETRY_AFTER_MAX)
        return RETRY_AFTER_MAX
    return seconds


def _cap_retry_after(owner: Any, name: str) -> None:
    """Wrap the function ``owner.name`` that parses ``Retry-After`` for a client (urllib3's
    ``Retry.parse_retry_after``, which ``modelscope_hub``'s sessions use; ``huggingface_hub``'s
    ``_parse_retry_after``) so that what it returns is :func:`_capped` (once per process)."""
    original = getattr(owner, name)
    if getattr(original, "_capped", False):
        return

    def parse(*args: Any) -> Any:
        return _capped(original(*args))

    parse._capped = True  # type: ignore[attr-defined]  # a mark: wrapped once
    setattr(owner, name, parse)


def _cap_retry_after_attribute(cls: type) -> None:
    """Make ``cls.retry_after`` a property that stores what it is given :func:`_capped`
    (``modelscope_hub``'s errors carry the ``Retry-After`` its OpenAPI and download retries
    sleep, parsed by ``errors.raise_for_status`` with ``int()``, not by urllib3), once per process."""
    if isinstance(cls.__dict__.get("retry_after"), property):
        return

    def get(self: Any) -> Any:
        return self.__dict__.get("_capped_retry_after")

    def put(self: Any, value: Any) -> None:
        self.__dict__["_capped_retry_after"] = _capped(value) if isinstance(value, int | float) else value

    setattr(cls, "retry_after", property(get, put))  # noqa: B010  # a descriptor on the client's class


def _no_phone_home() -> None:
    """huggingface_hub (2.x) fetches an "agent harnesses" registry from its import-time endpoint
    on first use, whatever ``endpoint=`` says; a build tool must talk to the mirror only.
    Its ``Retry-After`` waits are capped here too (every call into the client passes here); the
    telemetry switch itself is set once per build by :meth:`Settings.quiet_hub_clients`."""
    from huggingface_hub.utils import _http

    _cap_retry_after(_http, "_parse_retry_after")


class HuggingFaceClient:
    """``huggingface_hub``: model_info(files_metadata=True)'s request, then each named file streamed."""

    def __init__(self, url: str | None, default_branch: str) -> None:
        self.endpoint = (url or "https://huggingface.co").rstrip("/")  # every URL is built on it
        self.default_branch = default_branch  # what the hub resolves a request without a revision to

    def list(self, repo: str, revision: str | None) -> RepoListing:
        _no_phone_home()
        from urllib.parse import quote

        from huggingface_hub.hf_api import ModelInfo
        from huggingface_hub.utils import (  # type: ignore[attr-defined]  # public, not in its __all__
            build_hf_headers,
            get_session,
            hf_raise_for_status,
        )

        # HfApi.model_info(files_metadata=True)'s request (hf_api.py), its body read bounded here.
        url = f"{self.endpoint}/api/models/{repo}"
        if revision is not None:
            url += f"/revision/{quote(revision, safe='')}"
        with get_session().stream("GET", url, headers=build_hf_headers(), params={"blobs": True}) as response:
            hf_raise_for_status(response)
            data = _json_body(response.iter_bytes(), f"Hugging Face's listing of {repo}")
        if not isinstance(data, dict):
            raise FetchError(f"Hugging Face's listing of {repo} is not a repository description")
        info = ModelInfo(**data)  # type: ignore[no-untyped-call]  # the client's own parser
        files: dict[str, RemoteFile] = {}
        for s in info.siblings or []:
            # files_metadata=True: every sibling has its size; LFS files their sha256 (lfs.sha256)
            sha256 = s.lfs.sha256 if s.lfs is not None else None
            files[s.rfilename] = RemoteFile(s.rfilename, int(s.size or 0), sha256, None if sha256 else s.blob_id)
        if not info.sha:
            raise FetchError(f"Hugging Face did not report the commit of {repo}@{revision}")
        return RepoListing(info.sha, files, _hf_license(info))

    def search(self, owner: str, task: str | None, limit: int) -> Sequence[RemoteModel]:
        """``GET /api/models?author=&pipeline_tag=&limit=``, as ``HfApi.list_models`` sends it, with
        the client's headers (token) and HTTP session; the pages behind ``Link: rel="next"``
        followed here, not by the client, so that they are bounded (:class:`_Pages`) and the
        token goes to the endpoint's origin only."""
        _no_phone_home()
        from huggingface_hub.utils import (  # type: ignore[attr-defined]  # public, not in its __all__
            build_hf_headers,
            hf_raise_for_status,
            http_stream_backoff,
        )

        params = {"author": owner, "limit": str(limit)} | ({"pipeline_tag": task} if task else {})
        url: str | None = f"{self.endpoint}/api/models?{urlencode(params)}"
        pages = _Pages("Hugging Face", self.endpoint)
        found: list[RemoteModel] = []
        while url is not None and len(found) < limit:
            pages.follow(url)
            with http_stream_backoff("GET", url, headers=build_hf_headers(), max_retries=2) as response:
                hf_raise_for_status(response)
                items = _json_body(response.iter_bytes(CHUNK), "Hugging Face's model listing")
                url = response.links.get("next", {}).get("url")
            if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
                raise FetchError("Hugging Face's model listing is not a list of models")
            found += [
                RemoteModel(
                    m.get("id"),  # checked by search() before use
                    (m["pipeline_tag"],) if m.get("pipeline_tag") else (),
                    m.get("downloads"),
                    _date(m.get("lastModified") or m.get("createdAt")),
                )
                for m in items
            ]
        return found[:limit]

    def fetch(self, repo: str, commit: str, remote: RemoteFile, dest: Path, progress: Progress = _ignore) -> FileDigest:
        """The client's own URL, headers (token) and HTTP session; the body streamed here, so
        it is hashed as it arrives (huggingface_hub checks only sizes, after writing) and cut
        off at the listed size.  A dropped body resumes with a Range request."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import (  # type: ignore[attr-defined]  # public, not in its __all__
            build_hf_headers,
            hf_raise_for_status,
            http_stream_backoff,
        )

        url = hf_hub_url(repo, remote.path, revision=commit, endpoint=self.endpoint)
        target = dest / remote.path
        target.parent.mkdir(parents=True, exist_ok=True)
        # git's blob id only for a file listed by it (not in LFS): its sha256 is then learnt here.
        git = remote.sha256 is None
        hasher = StreamHasher(remote.size, git=git)
        failure: Exception | None = None
        with target.open("wb") as out:
            for _ in range(_RESUMES):
                headers = build_hf_headers()
                if hasher.seen:
                    headers["Range"] = f"bytes={hasher.seen}-"
                try:
                    with http_stream_backoff("GET", url, headers=headers) as response:
                        hf_raise_for_status(response)
                        if hasher.seen and response.status_code == 200:  # Range ignored: start over
                            out.seek(0)
                            out.truncate()
                            progress(-hasher.seen)
                            hasher = StreamHasher(remote.size, git=git)
                        floor = _RateFloor(remote.path)
                        with hasher.beside() as feed:
                            for chunk in response.iter_bytes():  # as it arrives: a trickle is seen
                                floor.add(len(chunk))
                                _take(chunk, hasher, feed, out, remote, repo=repo, progress=progress)
                except IntegrityError:
                    raise
                except Exception as e:  # a dropped or cut connection: resume where it stopped
                    failure = e
                if hasher.seen == remote.size:
                    return hasher.digest()
        why = f"{type(failure).__name__}: {failure}" if failure else "the body ended early"
        raise ConnectionError(f"{remote.path}: {hasher.seen} of {remote.size} bytes after {_RESUMES} tries ({why})")


def _no_cookies_across_origins() -> None:
    """``modelscope_hub`` sends its token as a cookie (``m_session_id``, on each download request
    and in its sessions' jars).  ``requests`` drops ``Authorization`` when a redirect leaves the
    host or port (``Session.should_strip_auth``) but keeps the request's cookies, and its jar
    matches cookies by host alone: a 302 to another port or host would carry the token there.
    Here ``Session.rebuild_auth``, which ``requests`` calls on every redirect after setting the
    cookies, drops the ``Cookie`` header by the same rule (once per process)."""
    import requests

    original = requests.Session.rebuild_auth
    if getattr(original, "_strips_cookies", False):
        return

    def rebuild_auth(self: requests.Session, prepared: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url or "", prepared.url or ""):
            prepared.headers.pop("Cookie", None)
        original(self, prepared, response)

    rebuild_auth._strips_cookies = True  # type: ignore[attr-defined]  # a mark: patched once
    requests.Session.rebuild_auth = rebuild_auth  # type: ignore[method-assign,assignment]  # see the docstring


class ModelScopeClient:
    """``modelscope_hub``: list_repo_files (with sha256) then download_repo of named files."""

    def __init__(self, url: str | None, default_branch: str) -> None:
        self.endpoint = url
        self.default_branch = default_branch

    def _api(self, listing: str | None = None) -> Any:
        """A client; with ``listing`` (what its answers are, for messages) one that reads every
        answer at most :data:`MAX_LIST_BODY` bytes, for listings only (never a file download)."""
        from modelscope_hub import HubApi
        from modelscope_hub.errors import APIError
        from urllib3.util.retry import Retry

        _no_cookies_across_origins()
        _cap_retry_after(Retry, "parse_retry_after")
        _cap_retry_after_attribute(APIError)
        api = HubApi(endpoint=self.endpoint) if self.endpoint else HubApi()
        if listing is not None:
            _bound_answers(api, listing)
        return api

    def list(self, repo: str, revision: str | None) -> RepoListing:
        api = self._api(f"ModelScope's listing of {repo}")
        wanted = revision or self.default_branch
        if is_commit(wanted):
            commit = wanted
        else:
            refs = {r.get("Revision"): r.get("CommitId") for r in api.list_repo_revisions(repo, "model")}
            if wanted not in refs:
                known = ", ".join(sorted(str(r) for r in refs if r)) or "none"
                raise FetchError(f"ModelScope repository {repo} has no revision {wanted} (it has: {known})")
            commit = str(refs[wanted] or "")
        raw = api.legacy.list_repo_files(repo_id=repo, repo_type="model", revision=commit or wanted, recursive=True)
        blobs = [e for e in raw if (e.get("Type") or "blob") == "blob"]
        if not commit:
            # No CommitId in the revision listing: the newest per-file "Revision" is the commit
            # that last changed this revision's files, which pins the same content.
            newest = max(blobs, key=lambda e: (e.get("CommittedDate") or 0, e.get("Revision") or ""), default=None)
            commit = str((newest or {}).get("Revision") or "")
            if not is_commit(commit):
                raise FetchError(f"ModelScope did not report a commit for {repo}@{wanted}")
        files = {
            e["Path"]: RemoteFile(e["Path"], int(e.get("Size") or 0), e.get("Sha256") or None, None) for e in blobs
        }
        return RepoListing(commit, files, self._license(api, repo))

    @staticmethod
    def _license(api: Any, repo: str) -> str | None:
        """The licence on the repository's page (``HubApi.get_repo``: ``GET /openapi/v1/models/{owner}/
        {name}``, its ``license``); None when the hub does not say or cannot be asked: a licence
        is provenance for the SBOM, not a reason to fail a build."""
        try:
            value = api.get_repo(repo, "model").license
        except Exception:  # any failure of this optional request
            return None
        return value if isinstance(value, str) and value else None

    def search(self, owner: str, task: str | None, limit: int) -> Sequence[RemoteModel]:
        """``HubApi.list_repos("model", owner=, task=)``: ``GET /openapi/v1/models`` with
        ``owner``, ``filter.task``, ``page_number``, ``page_size`` (at most 50), page after page."""
        api = self._api("ModelScope's model listing")
        found: list[RemoteModel] = []
        page = 1
        limit = min(limit, _MS_DEPTH)
        size = min(_MS_PAGE, limit)  # one size for every page: the server pages by page_number * page_size
        pages = _Pages("ModelScope")
        while len(found) < limit:
            pages.step()
            result = api.list_repos("model", owner=owner, task=task, page_number=page, page_size=size)
            found += [
                RemoteModel(r.repo_id, tuple(r.tasks or ()), r.downloads, _date(r.last_modified or r.created_at))
                for r in result.items
                if r.repo_id
            ]
            if not result.items or not result.has_next:
                break
            page += 1
        return found[:limit]

    def fetch(self, repo: str, commit: str, remote: RemoteFile, dest: Path, progress: Progress = _ignore) -> FileDigest:
        """The client's single-file download, given the sha256 and size we expect (the lock's
        or the validated listing's): it hashes while streaming, stops past the size, and
        refuses other bytes; so the file is not read again here.  Progress comes from the
        client's own per-file callback class (``ProgressCallback``), in place of its tqdm bar."""
        from modelscope_hub import ProgressCallback
        from modelscope_hub.errors import FileIntegrityError, FileSizeMismatchError

        class Counted(ProgressCallback):
            def update(self, size: int) -> None:
                progress(size)

        try:
            # HubApi.download_file minus the tqdm bar: its downloader takes the callback classes.
            path = self._api().downloader.download_file(
                repo_id=repo,
                repo_type="model",
                file_path=remote.path,
                revision=commit,
                local_dir=dest,
                expected_sha256=remote.sha256,
                file_size=remote.size,
                progress_callbacks=[Counted],
            )
        except FileSizeMismatchError:
            raise  # a short or long body: worth another try
        except FileIntegrityError as e:
            # The client retried already; wrong bytes again are not a transient failure.
            raise IntegrityError(
                f"{remote.path} from ModelScope {repo}@{commit[:12]}: downloaded content does not match "
                f"sha256 {remote.sha256} ({e})"
            ) from e
        if remote.sha256 is None:  # nothing to verify against: hash it here
            return hash_file(Path(path))
        return FileDigest(Path(path).stat().st_size, remote.sha256, None)


#: ``models --remote``: pages of one organisation's listing followed at most (Hugging Face
#: gives up to 1000 models a page, ModelScope 50), each page's (and each Hugging Face
#: repository listing's) body read at most, after decompression, and the time one
#: organisation's listing may take in all.
MAX_LIST_PAGES = 100
MAX_LIST_BODY = 16 << 20
LIST_DEADLINE = 300.0


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (the default port made explicit)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: matches no endpoint
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


class _Pages:
    """The pages of one remote listing: each page once, at most :data:`MAX_LIST_PAGES`, within
    :data:`LIST_DEADLINE`, and only at the endpoint's own origin (the client sends the token
    with every request: a page elsewhere would receive it)."""

    def __init__(self, label: str, endpoint: str | None = None) -> None:
        self.label, self.endpoint = label, endpoint  # None: pages asked by number, no link followed
        self.seen: set[str] = set()
        self.count = 0
        self.deadline = time.monotonic() + LIST_DEADLINE

    def step(self) -> None:
        self.count += 1
        if self.count > MAX_LIST_PAGES:
            raise FetchError(
                f"{self.label}'s model listing goes on past {MAX_LIST_PAGES} pages; stopped there "
                "(--limit, --task or --org narrows it)"
            )
        if time.monotonic() > self.deadline:
            raise FetchError(f"{self.label}'s model listing took over {LIST_DEADLINE:.0f} s; stopped there")

    def follow(self, url: str) -> None:
        if self.endpoint is None or _origin(url) != _origin(self.endpoint):
            raise FetchError(
                f"{self.label} links its model listing's next page to {shown(redact(url))}, not its endpoint "
                f"{self.endpoint}; not followed (requests carry the token)"
            )
        if url in self.seen:
            raise FetchError(
                f"{self.label} links its model listing back to a page it gave already ({shown(redact(url))}); "
                "stopped there"
            )
        self.seen.add(url)
        self.step()


def _too_long(what: str) -> FetchError:
    return FetchError(f"{what} is over {MAX_LIST_BODY >> 20} MiB; not read further")


def _json_body(chunks: Iterable[bytes], what: str) -> Any:
    """A JSON body read at most :data:`MAX_LIST_BODY` bytes (as decompressed: a small body on
    the wire can inflate to any size)."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_LIST_BODY:
            raise _too_long(what)
    try:
        return json.loads(body)
    except ValueError as e:
        raise FetchError(f"{what} is not JSON ({e})") from None


class _BoundedBody:
    """A response's body (urllib3's ``HTTPResponse``, which ``requests`` reads through
    ``stream``, ``read`` or ``read1``, decompressed) that ends in :class:`FetchError` past
    :data:`MAX_LIST_BODY` bytes; everything else is the body's own."""

    def __init__(self, raw: Any, what: str) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_seen", 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)

    def _counted(self, data: bytes) -> bytes:
        seen = self._seen + len(data)
        object.__setattr__(self, "_seen", seen)
        if seen > MAX_LIST_BODY:
            self._raw.close()
            raise _too_long(self._what)
        return data

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        if amt is None:  # all of it: still a piece at a time, so the count stops it in time
            return b"".join(iter(lambda: self.read(CHUNK, *args, **kwargs), b""))
        return self._counted(self._raw.read(amt, *args, **kwargs))

    def read1(self, *args: Any, **kwargs: Any) -> bytes:
        return self._counted(self._raw.read1(*args, **kwargs))

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        for data in self._raw.stream(*args, **kwargs):
            yield self._counted(data)


def _bound_answers(api: Any, what: str) -> None:
    """Every answer to ``api`` (a ``modelscope_hub.HubApi``: its legacy and OpenAPI clients'
    ``requests`` sessions, which read JSON bodies whole) read at most :data:`MAX_LIST_BODY`
    bytes after decompression: a response hook, which ``requests`` runs before it reads a body."""
    import requests

    def bound(response: requests.Response, *_args: Any, **_kwargs: Any) -> requests.Response:
        response.raw = _BoundedBody(response.raw, what)
        return response

    sessions = [s for c in (api.legacy, api.openapi) for s in vars(c).values() if isinstance(s, requests.Session)]
    if not sessions:
        raise FetchError("modelscope_hub's clients have no requests sessions to bound; this version is not supported")
    for session in sessions:
        session.hooks["response"].append(bound)


def _hf_license(info: Any) -> str | None:
    """The licence a Hugging Face model card declares (``cardData.license``, which
    ``huggingface_hub`` parses into ``ModelInfo.card_data``), else its ``license:`` tag."""
    card = getattr(info, "card_data", None)
    value = getattr(card, "license", None) if card is not None else None
    if isinstance(value, str) and value:
        return value
    tags = [
        t.split(":", 1)[1] for t in getattr(info, "tags", None) or [] if isinstance(t, str) and t.startswith("license:")
    ]
    return tags[0] if tags else None


#: ModelScope's OpenAPI list pages: 50 models each (``modelscope_hub``'s compat ``list_models``
#: caps its pages there, ``_OPENAPI_MAX_PAGE_SIZE``), at most 3000 deep (``_openapi.list_models``
#: refuses ``page_number * page_size > 3000``).
_MS_PAGE = 50
_MS_DEPTH = 3000


def _date(value: object) -> str | None:
    """The ISO date (``YYYY-MM-DD``) of a client's datetime or ISO string, for display: both
    begin with it when written out."""
    return str(value)[:10] if value else None


HUBS: dict[str, HubSpec] = {
    "ms": HubSpec(
        "ms",
        "ModelScope",
        EnvVars.MODELSCOPE_ENDPOINT,
        None,
        "master",
        ModelScopeClient,
        organisations=("iic", "damo", "FunAudioLLM"),
        client_default="https://www.modelscope.cn",
        page="https://www.modelscope.cn/models/{repo}",
        token_vars=("MODELSCOPE_API_TOKEN", "MODELSCOPE_TOKEN"),
        # ModelScope moved the damo/ models to iic/; the old ids still resolve there.
        legacy_owners={"damo": "iic"},
    ),
    "hf": HubSpec(
        "hf",
        "Hugging Face",
        EnvVars.HF_ENDPOINT,
        "https://huggingface.co",
        "main",
        HuggingFaceClient,
        organisations=("FunASR", "FunAudioLLM"),
        client_default="https://huggingface.co",
        page="https://huggingface.co/{repo}",
        purl_type="huggingface",
        token_vars=("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
        offline_env={EnvVars.HF_HUB_OFFLINE: "1", EnvVars.HF_HUB_DISABLE_TELEMETRY: "1"},
    ),
}


def repo_key(repo: str) -> str:
    """A repository id as the hubs compare them: case-insensitively, a renamed owner as the one
    it became (ModelScope's ``damo/`` is ``iic/``)."""
    owner, _, name = repo.lower().partition("/")
    for spec in HUBS.values():
        owner = {k.lower(): v.lower() for k, v in spec.legacy_owners.items()}.get(owner, owner)
    return f"{owner}/{name}"


def token_vars() -> tuple[str, ...]:
    """Every hub client's credential variables."""
    return tuple(v for spec in HUBS.values() for v in spec.token_vars)


#: A task label as the hubs spell them ("auto-speech-recognition", "voice-activity-detection").
_TASK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _checked(spec: HubSpec, model: RemoteModel, settings: Settings) -> RemoteModel:
    """A listed repository as it may be printed: its id ``owner/name`` (else the listing is
    refused: the id becomes a pasteable declaration), its tasks and date plain text (others
    dropped), its download count a number."""
    if not isinstance(model.repo, str) or not REPO_ID.fullmatch(model.repo):
        raise FetchError(
            f"{spec.label} at {spec.where(settings)} lists a repository id that is not owner/name: "
            f"{shown(model.repo)}; "
            "refusing its listing"
        )
    downloads = model.downloads
    return RemoteModel(
        model.repo,
        tuple(t for t in model.tasks if isinstance(t, str) and _TASK.fullmatch(t)),
        downloads if isinstance(downloads, int) and not isinstance(downloads, bool) else None,
        model.modified if isinstance(model.modified, str) and _ISO_DATE.fullmatch(model.modified) else None,
    )


def hub_label(name: str) -> str:
    """``"ms"`` -> ``"ModelScope"``."""
    return HUBS[name].label


def search(
    hub: str, owners: Sequence[str], task: str | None, *, limit: int, settings: Settings
) -> list[tuple[str, RemoteModel]]:
    """What each of ``owners`` publishes on ``hub`` (the hub's default organisations when none
    are named), as ``(owner, model)``; a :class:`FetchError` naming the hub, the endpoint and
    its variable when offline or when the hub cannot be reached."""
    spec = HUBS[hub]
    if settings.offline:
        raise FetchError(
            f"listing {spec.label}'s models needs the network, and {EnvVars.OFFLINE}=1 says not to use it; "
            f"unset it (the endpoint would be {spec.where(settings)})"
        )
    client = spec.client(settings)
    found: list[tuple[str, RemoteModel]] = []
    for owner in owners or spec.organisations:
        try:
            found += [(owner, _checked(spec, m, settings)) for m in client.search(owner, task, limit)]
        except FunasrBuildError:
            raise
        except Exception as e:
            raise FetchError(  # the client's message may hold the endpoint's credentials: redacted, not chained
                redact(
                    f"cannot list the models of {owner} on {spec.label} at {spec.where(settings)}: "
                    f"{type(e).__name__}: {e}; "
                    f"check the network, or set {spec.endpoint_var} to a reachable mirror"
                )
            ) from None
    return found
