"""The hubs: one registry entry each, and thin adapters over their official clients.

A hub is an entry of :data:`HUBS` (its short name, label, endpoint variable, default
branch, the organisations that publish FunASR models there) plus an adapter class with three
calls: list a revision, download named files, list the models an organisation publishes.
Adding a hub is one entry and one adapter; nothing else names hubs.

``huggingface_hub`` and ``modelscope_hub`` are imported only when a hub is used.  The
endpoint is read when the hub is used (so a mirror set per build is honoured) and passed
to the clients explicitly.  Tokens are left to the clients, which read ``HF_TOKEN`` /
``MODELSCOPE_API_TOKEN`` themselves; they never pass through this module.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hatch_funasr.errors import FetchError, FunasrBuildError, IntegrityError
from hatch_funasr.model import RemoteFile, RemoteModel, RepoListing
from hatch_funasr.names import is_commit
from hatch_funasr.settings import EnvVars, endpoint

__all__ = ["HUBS", "HubClient", "HubSpec", "hub_label", "search"]


class HubClient(Protocol):
    def list(self, repo: str, revision: str | None) -> RepoListing: ...

    def download(self, repo: str, commit: str, paths: Sequence[str], dest: Path) -> None: ...

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
    default_branch: str
    adapter: Callable[[str | None], HubClient]
    #: The organisations that publish FunASR's models here (the seed's section 3), listed by
    #: ``hatch-funasr models --remote`` unless ``--org`` names others.
    organisations: tuple[str, ...] = ()
    #: Where the client goes when the endpoint variable is unset (for messages).
    client_default: str = ""

    def client(self) -> HubClient:
        """An adapter talking to this hub's endpoint (its variable's mirror when set)."""
        return self.adapter(endpoint(self.endpoint_var, self.default_endpoint))

    def where(self) -> str:
        """The endpoint in use, and how to change it: for messages."""
        url = endpoint(self.endpoint_var, self.default_endpoint)
        return f"{url} ({self.endpoint_var})" if url else f"{self.client_default} ({self.endpoint_var} unset)"


def _quiet_progress() -> bool:
    """Hub progress bars only on a terminal."""
    try:
        return not os.isatty(2)
    except OSError:
        return True


def _no_phone_home() -> None:
    """huggingface_hub (2.x) fetches an "agent harnesses" registry from its import-time endpoint
    on first use, whatever ``endpoint=`` says; a build tool must talk to the mirror only."""
    os.environ.setdefault(EnvVars.HF_HUB_DISABLE_TELEMETRY, "1")


class HuggingFaceClient:
    """``huggingface_hub``: model_info(files_metadata=True) then snapshot_download of named files."""

    def __init__(self, url: str | None) -> None:
        self.endpoint = url or "https://huggingface.co"

    def list(self, repo: str, revision: str | None) -> RepoListing:
        _no_phone_home()
        from huggingface_hub import HfApi

        info = HfApi(endpoint=self.endpoint).model_info(repo, revision=revision, files_metadata=True)
        files: dict[str, RemoteFile] = {}
        for s in info.siblings or []:
            lfs = getattr(s, "lfs", None)
            sha256 = lfs.sha256 if lfs is not None else None
            size = s.size if s.size is not None else (lfs.size if lfs is not None else 0)
            files[s.rfilename] = RemoteFile(s.rfilename, int(size), sha256, None if sha256 else s.blob_id)
        if not info.sha:
            raise FetchError(f"Hugging Face did not report the commit of {repo}@{revision}")
        return RepoListing(info.sha, files)

    def search(self, owner: str, task: str | None, limit: int) -> Sequence[RemoteModel]:
        """``HfApi.list_models(author=, pipeline_tag=, limit=)``: ``GET /api/models``, pages followed
        through ``Link: rel="next"`` by the client."""
        _no_phone_home()
        from huggingface_hub import HfApi

        found = HfApi(endpoint=self.endpoint).list_models(author=owner, pipeline_tag=task, limit=limit)
        return [
            RemoteModel(
                m.id,
                (m.pipeline_tag,) if m.pipeline_tag else (),
                m.downloads,
                _date(m.last_modified or m.created_at),
            )
            for m in found
        ]

    def download(self, repo: str, commit: str, paths: Sequence[str], dest: Path) -> None:
        _no_phone_home()
        from huggingface_hub import snapshot_download

        if _quiet_progress():
            os.environ.setdefault(EnvVars.HF_HUB_DISABLE_PROGRESS_BARS, "1")
        snapshot_download(
            repo,
            revision=commit,
            allow_patterns=[glob.escape(p) for p in paths],
            local_dir=dest,
            endpoint=self.endpoint,
            max_workers=4,
        )


class ModelScopeClient:
    """``modelscope_hub``: list_repo_files (with sha256) then download_repo of named files."""

    def __init__(self, url: str | None) -> None:
        self.endpoint = url

    def _api(self) -> Any:
        from modelscope_hub import HubApi

        return HubApi(endpoint=self.endpoint) if self.endpoint else HubApi()

    def list(self, repo: str, revision: str | None) -> RepoListing:
        api = self._api()
        wanted = revision or "master"
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
        return RepoListing(commit, files)

    def search(self, owner: str, task: str | None, limit: int) -> Sequence[RemoteModel]:
        """``HubApi.list_repos("model", owner=, task=)``: ``GET /openapi/v1/models`` with
        ``owner``, ``filter.task``, ``page_number``, ``page_size`` (at most 50), page after page."""
        api = self._api()
        found: list[RemoteModel] = []
        page = 1
        limit = min(limit, _MS_DEPTH)
        size = min(_MS_PAGE, limit)  # one size for every page: the server pages by page_number * page_size
        while len(found) < limit:
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

    def download(self, repo: str, commit: str, paths: Sequence[str], dest: Path) -> None:
        from modelscope_hub.errors import FileIntegrityError, FileSizeMismatchError

        try:
            self._api().download_repo(
                repo,
                "model",
                revision=commit,
                local_dir=dest,
                allow_patterns=[glob.escape(p) for p in paths],
                max_workers=4,
            )
        except Exception as e:
            # The client checks sha256 itself and retries; wrong bytes after that are not a
            # transient failure worth another round, unlike a dropped or short transfer.
            failed = getattr(e, "failed_files", None) or {}
            altered = sorted(
                str(path)
                for path, error in failed.items()
                if isinstance(error, FileIntegrityError) and not isinstance(error, FileSizeMismatchError)
            )
            if altered:
                raise IntegrityError(
                    f"{', '.join(altered)} from ModelScope {repo}@{commit[:12]}: downloaded content does not match "
                    f"the sha256 the hub lists ({failed[altered[0]]})"
                ) from e
            raise


#: ModelScope's OpenAPI list pages: 50 models each (``modelscope_hub``'s compat ``list_models``
#: caps its pages there, ``_OPENAPI_MAX_PAGE_SIZE``), at most 3000 deep (``_openapi.list_models``
#: refuses ``page_number * page_size > 3000``).
_MS_PAGE = 50
_MS_DEPTH = 3000


def _date(value: object) -> str | None:
    """An ISO date from a client's datetime (or string), for display."""
    iso = getattr(value, "isoformat", None)
    text = iso() if callable(iso) else value
    return str(text)[:10] if text else None


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
    ),
}


def hub_label(name: str) -> str:
    """``"ms"`` -> ``"ModelScope"``."""
    return HUBS[name].label


def search(
    hub: str, owners: Sequence[str], task: str | None, *, limit: int, offline: bool
) -> list[tuple[str, RemoteModel]]:
    """What each of ``owners`` publishes on ``hub`` (the hub's default organisations when none
    are named), as ``(owner, model)``; a :class:`FetchError` naming the hub, the endpoint and
    its variable when offline or when the hub cannot be reached."""
    spec = HUBS[hub]
    if offline:
        raise FetchError(
            f"listing {spec.label}'s models needs the network, and {EnvVars.OFFLINE}=1 says not to use it; "
            f"unset it (the endpoint would be {spec.where()})"
        )
    client = spec.client()
    found: list[tuple[str, RemoteModel]] = []
    for owner in owners or spec.organisations:
        try:
            found += [(owner, m) for m in client.search(owner, task, limit)]
        except FunasrBuildError:
            raise
        except Exception as e:
            raise FetchError(
                f"cannot list the models of {owner} on {spec.label} at {spec.where()}: {type(e).__name__}: {e}; "
                f"check the network, or set {spec.endpoint_var} to a reachable mirror"
            ) from e
    return found
