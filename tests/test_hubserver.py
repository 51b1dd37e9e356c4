"""The real hub clients against the loopback hub, with every non-loopback connection blocked."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modelscope_hub.config
import pytest
import requests
from huggingface_hub import HfApi, RepoFile, hf_hub_download, snapshot_download
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import _detect_agent
from modelscope.hub.snapshot_download import snapshot_download as ms_shim_snapshot_download
from modelscope_hub import HubApi, NotExistError
from modelscope_hub.compat import snapshot_download as ms_compat_snapshot_download
from support.hubserver import LFS_THRESHOLD, LoopbackHub, RepoStore, StoreError

REPO = "iic/loopback-asr"
TAG = "v1.0.0"
PATTERNS = ["*.onnx", "sub/*"]
WANTED = {"model.onnx", "sub/tokens.json"}
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
SERVER_SCRIPT = Path(__file__).parent / "support" / "hubserver.py"


def _blob(seed: str, size: int) -> bytes:
    """Deterministic pseudo-random bytes."""
    out, block = bytearray(), seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


V1 = {
    "model.onnx": _blob("v1", 4096),
    "config.yaml": b"frontend: wav_frontend\n",
    "sub/tokens.json": b'["<blank>", "a", "b"]\n',
    "README.md": b"# loopback\n",
}
V2 = {**V1, "model.onnx": _blob("v2", 5000), "config.yaml": b"frontend: wav_frontend_v2\n"}


@dataclass(frozen=True)
class Published:
    """The test repo: ``c1`` (tagged ``TAG``) then ``c2`` on master."""

    store: RepoStore
    c1: str
    c2: str


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse DNS look-ups and connections to anything but loopback; fail on any attempt."""
    blocked: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if isinstance(address, tuple) and host not in LOOPBACK_HOSTS:
            blocked.append(f"connect {address!r}")
            raise OSError(f"blocked non-loopback connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK_HOSTS:
            blocked.append(f"resolve {name!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"blocked look-up of {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield blocked
    assert blocked == [], f"a client tried to leave 127.0.0.1: {blocked}"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neutralise real endpoints, tokens, proxies and caches from the environment."""
    for name in ("HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELSCOPE_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # huggingface_hub reads its environment at import time, so pin the module constants.
    # A stray HF_ENDPOINT would live in ENDPOINT: make it unreachable so only endpoint= can work.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    # Without this, the first request's User-Agent fetches {ENDPOINT}/api/agent-harnesses (ignores endpoint=).
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "ENDPOINT", "https://hf.invalid")
    monkeypatch.setattr(
        hf_constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        "https://hf.invalid/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-default-cache"))
    # modelscope_hub reads its environment when the process-wide HubConfig is first built: reset it.
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "https://ms.invalid")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-default-cache"))
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "ms-home"))
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "")
    monkeypatch.setattr(modelscope_hub.config, "_default_config", None)


@pytest.fixture
def repo(tmp_path: Path) -> Published:
    """Two commits on master; the first is tagged."""
    store = RepoStore(tmp_path / "store")
    c1 = store.publish(REPO, V1, tags=[TAG])
    c2 = store.publish(REPO, V2)
    return Published(store, c1, c2)


@pytest.fixture
def hub(repo: Published) -> Iterator[LoopbackHub]:
    """A running hub serving ``repo``; fails the test on any server-side error."""
    with LoopbackHub(repo.store) as server:
        yield server
    assert server.errors == []


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (following symlinks), minus client metadata folders."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith(".cache/")
    }


def _raw(
    hub: LoopbackHub, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client, path sent exactly as given."""
    conn = http.client.HTTPConnection(hub.url.removeprefix("http://"), timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# (a) huggingface_hub snapshot_download
# ---------------------------------------------------------------------------
def test_hf_snapshot_download_by_tag(hub: LoopbackHub, repo: Published, tmp_path: Path) -> None:
    cache = tmp_path / "hf-cache"
    path = Path(
        snapshot_download(REPO, revision=TAG, allow_patterns=PATTERNS, cache_dir=cache, endpoint=hub.url, token=False)
    )

    assert path == cache / "models--iic--loopback-asr" / "snapshots" / repo.c1
    assert _tree(path) == {name: V1[name] for name in WANTED}
    assert (cache / "models--iic--loopback-asr" / "refs" / TAG).read_text() == repo.c1
    onnx = path / "model.onnx"
    assert onnx.is_symlink() and onnx.resolve().name == hashlib.sha256(V1["model.onnx"]).hexdigest()
    # The LFS file's HEAD answers 302 with its metadata; the client then GETs the storage URL
    # (another host name) directly, as it does from the real Hub's CDN.
    storage = {(m, t) for m, t in hub.requests if t.startswith("/_storage/")}
    assert {t.rsplit("/", 1)[1] for _, t in storage} == {"model.onnx"} and {m for m, _ in storage} == {"GET"}
    assert set(hub.requests) - storage == {
        ("GET", f"/api/models/{REPO}/revision/{TAG}"),
        ("GET", f"/api/models/{REPO}/tree/{repo.c1}?recursive=true&expand=false"),
        ("HEAD", f"/{REPO}/resolve/{repo.c1}/model.onnx"),
        ("HEAD", f"/{REPO}/resolve/{repo.c1}/sub/tokens.json"),
        ("GET", f"/{REPO}/resolve/{repo.c1}/sub/tokens.json"),
    }
    assert hub.storage.authorized == []


def test_hf_snapshot_download_by_commit_skips_revision_lookup(
    hub: LoopbackHub, repo: Published, tmp_path: Path
) -> None:
    path = Path(
        snapshot_download(
            REPO,
            revision=repo.c2,
            allow_patterns=["*.yaml"],
            cache_dir=tmp_path / "c",
            endpoint=hub.url,
            token=False,
        )
    )

    assert _tree(path) == {"config.yaml": V2["config.yaml"]}
    assert not any("/revision/" in target for _, target in hub.requests)


def test_hf_snapshot_download_to_local_dir(hub: LoopbackHub, repo: Published, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "hf-cache"
    path = snapshot_download(
        REPO,
        revision=TAG,
        allow_patterns=PATTERNS,
        local_dir=out,
        cache_dir=cache,
        endpoint=hub.url,
        token=False,
    )

    assert Path(path) == out.resolve()
    assert _tree(out) == {name: V1[name] for name in WANTED}
    assert not (out / "model.onnx").is_symlink()
    assert (out / ".cache" / "huggingface").is_dir()
    # Quirk: the ref is still recorded in the *cache* dir, even with local_dir.
    assert (cache / "models--iic--loopback-asr" / "refs" / TAG).read_text() == repo.c1


def test_hf_agent_registry_fetch_goes_to_import_time_endpoint(
    hub: LoopbackHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry_file = tmp_path / "hf-home" / ".agent_harnesses.json"
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", False)
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)  # what HF_ENDPOINT at import time would give
    monkeypatch.setattr(hf_constants, "AGENT_HARNESSES_PATH", str(registry_file))
    monkeypatch.setattr(_detect_agent, "_registry", None)
    HfApi(endpoint=hub.url, token=False).model_info(REPO)

    assert hub.requests[0] == ("GET", "/api/agent-harnesses")
    assert registry_file.is_file()  # written under HF_HOME, cached for 24 h


# ---------------------------------------------------------------------------
# (b) modelscope_hub / modelscope snapshot downloads
# ---------------------------------------------------------------------------
def test_modelscope_hub_download_repo_by_tag(hub: LoopbackHub, repo: Published, tmp_path: Path) -> None:
    cache = tmp_path / "ms-cache"
    path = HubApi(endpoint=hub.url).download_repo(REPO, "model", revision=TAG, cache_dir=cache, allow_patterns=PATTERNS)

    assert path == cache / "models" / "iic--loopback-asr" / "snapshots" / TAG
    assert _tree(path) == {name: V1[name] for name in WANTED}
    expected = {
        ("GET", f"/api/v1/models/{REPO}/repo/files?Revision={TAG}&Recursive=True"),
        ("GET", f"/api/v1/models/{REPO}/repo?Revision={TAG}&FilePath=model.onnx"),
        ("GET", f"/api/v1/models/{REPO}/repo?Revision={TAG}&FilePath=sub%2Ftokens.json"),
    }
    region_probe = ("GET", "/api/v1/repos/internalAccelerationInfo")
    storage = {(m, t) for m, t in hub.requests if t.startswith("/_storage/")}
    assert {t.rsplit("/", 1)[1] for _, t in storage} == {"model.onnx"}  # the LFS file, redirected
    assert expected <= set(hub.requests) - storage <= expected | {region_probe}
    # Quirk: the SDK writes a session id under MODELSCOPE_HOME (default ~/.modelscope), outside the cache.
    assert (Path(os.environ["MODELSCOPE_HOME"]) / "credentials" / "session").is_file()


def test_modelscope_literal_directory_pattern_lists_only_that_root(
    hub: LoopbackHub, repo: Published, tmp_path: Path
) -> None:
    path = HubApi(endpoint=hub.url).download_repo(
        REPO, "model", revision="master", cache_dir=tmp_path / "c", allow_patterns=["sub/*"]
    )

    assert _tree(path) == {"sub/tokens.json": V2["sub/tokens.json"]}
    assert (
        "GET",
        f"/api/v1/models/{REPO}/repo/files?Revision=master&Recursive=True&Root=sub",
    ) in hub.requests


def test_modelscope_compat_snapshot_download_uses_env_endpoint(
    hub: LoopbackHub, repo: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub.url)
    monkeypatch.setattr(modelscope_hub.config, "_default_config", None)  # env is read when this is rebuilt
    path = Path(
        ms_compat_snapshot_download(REPO, revision=TAG, cache_dir=str(tmp_path / "ms"), allow_file_pattern=PATTERNS)
    )

    assert _tree(path) == {name: V1[name] for name in WANTED}


def test_modelscope_legacy_shim_snapshot_download_to_local_dir(
    hub: LoopbackHub, repo: Published, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = ms_shim_snapshot_download(REPO, revision=TAG, local_dir=str(out), allow_patterns=PATTERNS, endpoint=hub.url)

    assert Path(path) == out
    assert _tree(out) == {name: V1[name] for name in WANTED}
    # Quirk: download locks go to the cache root (MODELSCOPE_CACHE), not to local_dir.
    assert (Path(os.environ["MODELSCOPE_CACHE"]) / ".lock").is_dir()


# ---------------------------------------------------------------------------
# (c) Hugging Face metadata and listings
# ---------------------------------------------------------------------------
def test_hf_model_info_with_files_metadata(hub: LoopbackHub, repo: Published) -> None:
    info = HfApi(endpoint=hub.url, token=False).model_info(REPO, revision=TAG, files_metadata=True)

    assert info.sha == repo.c1
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == set(V1)
    for name, content in V1.items():
        assert siblings[name].size == len(content)
        lfs = siblings[name].lfs
        if len(content) > LFS_THRESHOLD or name.endswith(".onnx"):
            assert lfs is not None and lfs.sha256 == hashlib.sha256(content).hexdigest() and lfs.size == len(content)
        else:
            assert lfs is None
            assert siblings[name].blob_id == hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


def test_hf_list_repo_tree_and_refs(hub: LoopbackHub, repo: Published) -> None:
    api = HfApi(endpoint=hub.url, token=False)
    entries = list(api.list_repo_tree(REPO, recursive=True, revision="master"))

    files = {e.path: e for e in entries if isinstance(e, RepoFile)}
    assert {e.path for e in entries} - set(files) == {"sub"}
    assert {p: f.size for p, f in files.items()} == {p: len(c) for p, c in V2.items()}
    onnx_lfs = files["model.onnx"].lfs
    assert onnx_lfs is not None and onnx_lfs.sha256 == hashlib.sha256(V2["model.onnx"]).hexdigest()
    refs = api.list_repo_refs(REPO)
    assert [(b.name, b.target_commit) for b in refs.branches] == [("master", repo.c2)]
    assert [(t.name, t.target_commit) for t in refs.tags] == [(TAG, repo.c1)]


# ---------------------------------------------------------------------------
# (d) ModelScope listings
# ---------------------------------------------------------------------------
def test_modelscope_file_listing_and_revisions(hub: LoopbackHub, repo: Published) -> None:
    api = HubApi(endpoint=hub.url)
    listed = {f.path: f for f in api.list_repo_files(REPO, "model", revision=TAG) if f.type == "blob"}

    assert {p: (f.size, f.sha256) for p, f in listed.items()} == {
        p: (len(c), hashlib.sha256(c).hexdigest()) for p, c in V1.items()
    }
    revisions = api.list_repo_revisions(REPO, "model")
    assert {r["Revision"] for r in revisions} == {"master", TAG}
    assert not any("CommitId" in r for r in revisions), "the real API gives no commit for a revision"
    # Raw legacy entries: per-file "Revision" is the last commit that changed the file.
    raw = {e["Path"]: e for e in api.legacy.list_repo_files(REPO, "model", revision="master")}
    assert raw["model.onnx"]["Revision"] == repo.c2 and raw["model.onnx"]["IsLFS"] is True
    assert raw["sub/tokens.json"]["Revision"] == repo.c1
    assert raw["sub"]["Type"] == "tree"


# ---------------------------------------------------------------------------
# (e) Errors
# ---------------------------------------------------------------------------
def _listing_store(tmp_path: Path) -> RepoStore:
    """130 repos of FunAudioLLM (two kinds of task) and one of acme, listed by both hubs."""
    store = RepoStore(tmp_path / "listing")
    for i in range(130):
        repo = f"FunAudioLLM/model-{i:03d}"
        store.publish(repo, {"README.md": f"# {i}\n".encode()})
        kind = (
            ("auto-speech-recognition", "automatic-speech-recognition")
            if i % 2
            else ("punctuation", "token-classification")
        )
        store.describe(repo, tasks=(kind[0],), pipeline_tag=kind[1], downloads=i)
    store.publish("acme/other", {"README.md": b"# other\n"})
    return store


def test_hf_list_models_by_author_and_tag_follows_pages(tmp_path: Path) -> None:
    with LoopbackHub(_listing_store(tmp_path)) as hub:
        api = HfApi(endpoint=hub.url)
        models = list(api.list_models(author="funaudiollm"))  # organisation names: any case
        assert len(models) == 130 and models[0].id == "FunAudioLLM/model-000"
        assert models[7].downloads == 7 and models[7].pipeline_tag == "automatic-speech-recognition"
        assert models[0].created_at is not None and models[0].siblings is None
        pages = [t for _, t in hub.requests if t.startswith("/api/models")]
        assert len(pages) == 2 and "cursor=100" in pages[1]  # Link: rel="next", followed by the client
        asr = list(api.list_models(author="FunAudioLLM", pipeline_tag="automatic-speech-recognition", limit=10))
        assert [m.id for m in asr][:2] == ["FunAudioLLM/model-001", "FunAudioLLM/model-003"] and len(asr) == 10
        assert [m.id for m in api.list_models(author="acme")] == ["acme/other"]
        assert hub.errors == []


def test_modelscope_list_repos_by_owner_and_task_pages(tmp_path: Path) -> None:
    with LoopbackHub(_listing_store(tmp_path)) as hub:
        api = HubApi(endpoint=hub.url)
        page = api.list_repos("model", owner="FunAudioLLM", page_number=3, page_size=50)
        assert (page.total_count, page.page_number, page.page_size, len(page.items)) == (130, 3, 50, 30)
        assert not page.has_next and page.items[0].repo_id == "FunAudioLLM/model-100"
        assert page.items[1].tasks == ["auto-speech-recognition"] and page.items[1].downloads == 101
        asr = api.list_repos("model", owner="FunAudioLLM", task="auto-speech-recognition", page_size=50)
        assert asr.total_count == 65 and asr.has_next
        assert any("filter.task=auto-speech-recognition" in t for _, t in hub.requests)
        assert api.list_repos("model", owner="FunAudioLLM", task="nothing-like-it").total_count == 0
        assert hub.errors == []


@pytest.mark.parametrize(
    ("repo_id", "revision", "error"),
    [("iic/missing", "master", RepositoryNotFoundError), (REPO, "v9.9.9", RevisionNotFoundError)],
)
def test_hf_errors(hub: LoopbackHub, tmp_path: Path, repo_id: str, revision: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        snapshot_download(repo_id, revision=revision, cache_dir=tmp_path / "c", endpoint=hub.url, token=False)
    with pytest.raises(error):
        HfApi(endpoint=hub.url, token=False).model_info(repo_id, revision=revision)


def test_hf_missing_file(hub: LoopbackHub, tmp_path: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(REPO, "nope.bin", revision=TAG, cache_dir=tmp_path / "c", endpoint=hub.url, token=False)


@pytest.mark.parametrize(("repo_id", "revision"), [("iic/missing", "master"), (REPO, "v9.9.9")])
def test_modelscope_errors(hub: LoopbackHub, tmp_path: Path, repo_id: str, revision: str) -> None:
    api = HubApi(endpoint=hub.url)
    with pytest.raises(NotExistError):
        api.download_repo(repo_id, "model", revision=revision, cache_dir=tmp_path / "c")
    with pytest.raises(NotExistError):
        api.list_repo_files(repo_id, "model", revision=revision)
    # The compat layer (and modelscope.hub) re-raise not-found as requests' HTTPError.
    with pytest.raises(requests.HTTPError):
        ms_compat_snapshot_download(repo_id, revision=revision, cache_dir=str(tmp_path / "c"), endpoint=hub.url)


def test_modelscope_missing_file(hub: LoopbackHub, tmp_path: Path) -> None:
    with pytest.raises(NotExistError):
        HubApi(endpoint=hub.url).download_file(REPO, "model", "nope.bin", revision=TAG, cache_dir=tmp_path / "c")


# ---------------------------------------------------------------------------
# Server behaviour
# ---------------------------------------------------------------------------
def test_ranges_and_head(hub: LoopbackHub, repo: Published) -> None:
    onnx = V2["model.onnx"]
    status, headers, body = _raw(hub, "HEAD", f"/{REPO}/resolve/master/model.onnx")
    assert status == 302 and body == b"" and headers["location"].startswith("http://localhost:")
    assert headers["x-repo-commit"] == repo.c2 and headers["x-linked-size"] == str(len(onnx))
    assert "x-xet-hash" not in headers and "link" not in headers
    storage = "/" + headers["location"].split("/", 3)[3]

    status, headers, body = _raw(hub, "GET", storage, {"Range": "bytes=10-19"})
    assert (status, body, headers["content-range"]) == (206, onnx[10:20], f"bytes 10-19/{len(onnx)}")
    target = f"/api/v1/models/{REPO}/repo?Revision=master&FilePath=model.onnx"
    assert _raw(hub, "HEAD", target)[0] == 404  # ModelScope's file endpoint refuses HEAD
    status, headers, _ = _raw(hub, "GET", target)
    assert status == 302
    storage = "/" + headers["location"].split("/", 3)[3]
    assert _raw(hub, "GET", storage, {"Range": "bytes=-5"})[2] == onnx[-5:]
    assert _raw(hub, "GET", storage, {"Range": "bytes=4990-"})[2] == onnx[4990:]
    status, headers, _ = _raw(hub, "GET", storage, {"Range": f"bytes={len(onnx)}-"})
    assert (status, headers["content-range"]) == (416, f"bytes */{len(onnx)}")
    assert _raw(hub, "GET", "/_storage/not-a-token/model.onnx")[0] == 403
    small = _raw(hub, "GET", f"/{REPO}/resolve/master/config.yaml")
    assert small[0] == 200 and small[2] == V2["config.yaml"]  # small files are served in place


@pytest.mark.parametrize(
    "target",
    [
        f"/{REPO}/resolve/master/../config.yaml",
        f"/{REPO}/resolve/master/sub/%2E%2E/config.yaml",
        f"/{REPO}/resolve/master/sub%2F..%2Fconfig.yaml",
        f"/api/models/{REPO}/tree/master/..",
        f"/api/v1/models/{REPO}/repo?Revision=master&FilePath=sub%2F..%2Fconfig.yaml",
        f"/api/v1/models/{REPO}/repo?Revision=master&FilePath=..%2F..%2Frefs.json",
        f"/api/v1/models/{REPO}/repo/files?Revision=master&Root=..",
        "/iic/../iic/loopback-asr/resolve/master/config.yaml",
        "/api/v1/models/iic/..%2Fiic/repo?Revision=master&FilePath=config.yaml",
    ],
)
def test_dot_dot_paths_are_rejected(hub: LoopbackHub, target: str) -> None:
    status, _, body = _raw(hub, "GET", target)
    assert status == 404 and V2["config.yaml"] not in body


def test_unknown_routes_are_404(hub: LoopbackHub) -> None:
    for target in (
        "/",
        "/favicon.ico",
        "/api/datasets/iic/loopback-asr",
        "/api/v1/repos/internalAccelerationInfo",
        "/openapi/v1/models/iic/missing",
        f"/api/models/{REPO}/nope",
    ):
        assert _raw(hub, "GET", target)[0] == 404, target


def test_cli_serves_until_sigterm(repo: Published) -> None:
    with subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--root", str(repo.store.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        conn.request("GET", f"/api/models/{REPO}/revision/{TAG}")
        response = conn.getresponse()
        assert response.status == 200 and repo.c1 in response.read().decode()
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


# ---------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------
def test_store_commits_are_deterministic_and_resolvable(repo: Published, tmp_path: Path) -> None:
    other = RepoStore(tmp_path / "other")
    assert other.publish(REPO, V1, revision="release") == repo.c1
    assert other.publish("iic/elsewhere", V1) != repo.c1
    store = repo.store
    assert store.resolve(REPO, TAG) == repo.c1
    assert store.resolve(REPO, "master") == store.resolve(REPO, "main") == repo.c2
    assert store.resolve(REPO, repo.c1) == repo.c1
    assert store.resolve(REPO, "f" * 40) is None
    assert store.resolve(REPO, "nope") is None and store.resolve("iic/missing", "master") is None
    assert {p: f.read_bytes() for p, f in store.files(REPO, repo.c1).items()} == V1
    assert (store.root / "iic" / "loopback-asr" / "commits" / repo.c2 / "sub" / "tokens.json").is_file()


def test_store_accepts_paths_on_disk(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(_blob("disk", 3000))
    store = RepoStore(tmp_path / "store")
    sha = store.publish("iic/disk", {"weights.bin": source})
    assert store.files("iic/disk", sha)["weights.bin"].read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("repo_id", "files", "kwargs"),
    [
        ("api/x", {"a": b""}, {}),
        ("openapi/x", {"a": b""}, {}),
        ("../x", {"a": b""}, {}),
        ("noslash", {"a": b""}, {}),
        ("iic/x", {"a/../b": b""}, {}),
        ("iic/x", {"/abs": b""}, {}),
        ("iic/x", {"a//b": b""}, {}),
        ("iic/x", {"a": b""}, {"tags": ["a" * 40]}),
        ("iic/x", {"a": b""}, {"revision": "../master"}),
    ],
)
def test_store_rejects_unsafe_input(
    tmp_path: Path, repo_id: str, files: dict[str, bytes], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(StoreError):
        RepoStore(tmp_path / "store").publish(repo_id, files, **kwargs)
