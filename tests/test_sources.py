"""Fetching through the official clients against the loopback hub: cache, offline, errors, CLI."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from support import hubrepos
from support.hubserver import LoopbackHub
from support.projects import (
    DEAD,
    RUNTIME,
    VAD_HF_REPO,
    VAD_ONNX_REPO,
    config_of,
    lock_project,
    make_project,
    stage,
    stage_project,
    wheel_build,
)

from hatch_funasr import progress, sources
from hatch_funasr.cache import Cache
from hatch_funasr.context import BuildContext
from hatch_funasr.digest import FileDigest, hash_stream
from hatch_funasr.errors import FetchError, IntegrityError, SelectionError, StorageError
from hatch_funasr.lock import LockedFile, LockedModel, LockedRepo, read_lock
from hatch_funasr.model import ExtraFiles, HubRef, LocalDir, RemoteFile, RepoListing
from hatch_funasr.sources import HubSource, LocalSource, listing_json, open_source


def _config(root: Path, models: dict[str, object]):  # type: ignore[no-untyped-def]
    return config_of(root, models, name="acme-vad")


@pytest.mark.parametrize(
    ("declaration", "hub_name", "repo"),
    [
        ({"model": "fsmn-vad", "revision": "v2.0.4"}, "ms", VAD_ONNX_REPO),
        ({"model": VAD_HF_REPO, "hub": "hf", "revision": "v2.0.4"}, "hf", VAD_HF_REPO),
    ],
)
def test_fetch_only_runtime_files_then_offline_rebuild(
    declaration: dict[str, object],
    hub_name: str,
    repo: str,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    vad_repo: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path, {"vad": declaration})
    cache = Cache(Path(hub_env["HATCH_FUNASR_CACHE"]))
    hub.clear_log()
    pkg, staged = stage(config, tmp_path / "s1", cache=cache, offline=False)
    assert sorted(hub.transfers) == sorted(RUNTIME)  # only what the runtime reads
    assert {p.name: p.read_bytes() for p in (pkg / "models" / "vad").iterdir()} == {k: vad_repo[k] for k in RUNTIME}
    assert staged[0].commit and len(staged[0].commit) == 40
    assert json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]["hub"] == hub_name

    # Offline, with both endpoints dead: the cache alone builds the same package (taken on
    # trust, knowingly: without funasr.lock an offline build refuses to).
    monkeypatch.setenv("HF_ENDPOINT", DEAD)
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", DEAD)
    with pytest.raises(FetchError, match=r"needs funasr\.lock: the cache is not a root of trust"):
        stage(config, tmp_path / "refused", cache=cache, offline=True)
    monkeypatch.setenv("HATCH_FUNASR_TRUST_CACHE", "1")
    hub.clear_log()
    pkg2, staged2 = stage(config, tmp_path / "s2", cache=cache, offline=True)
    assert hub.requests == []
    assert staged2[0].commit == staged[0].commit
    assert (pkg2 / "funasr_manifest.json").read_bytes() == (pkg / "funasr_manifest.json").read_bytes()


def test_offline_with_empty_cache_names_each_model_and_revision(
    tmp_path: Path, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_TRUST_CACHE", "1")
    config = _config(
        tmp_path,
        {"vad": {"model": "fsmn-vad", "revision": "v2.0.4"}, "vad2": {"model": VAD_HF_REPO, "hub": "hf"}},
    )
    with pytest.raises(FetchError) as info:
        stage(config, tmp_path / "s", cache=Cache(tmp_path / "empty"), offline=True)
    assert str(info.value) == (
        "offline build (HATCH_FUNASR_OFFLINE=1) but the cache lacks:\n"
        f"  - model vad: ms:{VAD_ONNX_REPO} revision v2.0.4 is not in the cache\n"
        f"  - model vad2: hf:{VAD_HF_REPO} revision default is not in the cache\n"
        "run `hatch-funasr fetch` on a connected machine with the same HATCH_FUNASR_CACHE, then carry the cache over"
    )


@pytest.mark.parametrize("hub_name", ["ms", "hf"])
def test_unknown_revision_and_repo_are_clear(tmp_path: Path, hub_env: dict[str, str], hub_name: str) -> None:
    repo = VAD_ONNX_REPO if hub_name == "ms" else VAD_HF_REPO
    config = _config(tmp_path, {"vad": {"model": repo, "hub": hub_name, "revision": "v9.9.9"}})
    with pytest.raises(FetchError, match=rf"model vad: .*{repo}.*v9\.9\.9"):
        stage(config, tmp_path / "s", cache=Cache(tmp_path / "c"), offline=False)
    config = _config(tmp_path, {"vad": {"model": "nobody/fsmn-vad-missing", "hub": hub_name}})
    with pytest.raises(FetchError, match=r"model vad: cannot list .* repository nobody/fsmn-vad-missing"):
        stage(config, tmp_path / "s", cache=Cache(tmp_path / "c"), offline=False)


def _cli(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_funasr", *args], cwd=project, capture_output=True, text=True, env=env
    )


def test_cli_models_check_fetch_then_offline_build(tmp_path: Path, hub_env: dict[str, str]) -> None:
    import os

    models = _cli(tmp_path, "models", "--json")
    aliases = {e["alias"]: e for e in json.loads(models.stdout)}
    for alias in (
        "paraformer-zh",
        "paraformer-zh-spk",
        "paraformer-en",
        "seaco-paraformer",
        "paraformer-zh-streaming",
        "paraformer-zh-streaming-small",
        "paraformer-zh-8k",
        "sensevoice-small",
        "fun-asr-nano",
        "whisper-large-v3",
        "whisper-large-v3-turbo",
        "fsmn-vad",
        "fsmn-vad-8k",
        "ct-punc",
        "ct-punc-realtime",
        "cam++",
        "fa-zh",
        "ngram-lm-zh",
        "ngram-lm-zh-8k",
        "fst-itn-zh",
        "emotion2vec-plus-large",
        "emotion2vec-plus-base",
        "emotion2vec-plus-seed",
        "kws-xiaoyun-online",
        "kws-xiaoyun-offline",
    ):
        assert alias in aliases, alias
    assert aliases["sensevoice-small"]["ready ONNX (ModelScope)"] == "iic/SenseVoiceSmall-onnx"

    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatch-funasr"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "acme-vad"\nversion = "1"\n[tool.hatch.build.targets.wheel.hooks.funasr]\n'
        '[tool.funasr.models]\nvad = { model = "fsmn-vad", revision = "v2.0.4" }\n'
    )
    dead = {**os.environ, "HF_ENDPOINT": DEAD, "MODELSCOPE_ENDPOINT": DEAD}
    check = _cli(project, "check", env=dead)
    assert check.returncode == 0, check.stderr
    assert f"fetch {VAD_ONNX_REPO} at v2.0.4 from ms" in check.stdout
    assert _cli(project, "lock").returncode == 0  # the air-gap recipe: lock, fetch, carry both
    fetched = _cli(project, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert "vad: " + VAD_ONNX_REPO in fetched.stdout and "3 files" in fetched.stdout
    offline = _cli(project, "fetch", env={**dead, "HATCH_FUNASR_OFFLINE": "1"})
    assert offline.returncode == 0, offline.stderr
    (project / "funasr.lock").unlink()
    unlocked = _cli(project, "fetch", env={**dead, "HATCH_FUNASR_OFFLINE": "1"})
    assert unlocked.returncode == 1 and "an offline build of hub models (vad) needs funasr.lock" in unlocked.stderr

    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n[tool.funasr.models]\nvad = "fsmn-vda"\n'
    )
    bad = _cli(project, "check")
    assert bad.returncode == 1
    assert 'tool.funasr.models.vad.model: unknown model alias "fsmn-vda" (did you mean "fsmn-vad"?)' in bad.stderr


def test_failed_build_leaves_no_wheel(tmp_path: Path, hub_env: dict[str, str]) -> None:
    import os

    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "acme-vad"\nversion = "1"\n[tool.hatch.build.targets.wheel.hooks.funasr]\n'
        '[tool.funasr.models]\nvad = { model = "fsmn-vad", revision = "v9.9.9" }\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert result.returncode != 0
    assert "has no revision v9.9.9" in result.stdout + result.stderr
    assert not list(project.rglob("*.whl")), "no wheel anywhere in the project (dist/ or elsewhere)"


# --- a model directory composed from two repositories (extra-files) -----------------------------
SV_ONNX, SV_PT, BPE = "iic/SenseVoiceSmall-onnx", "iic/SenseVoiceSmall", "chn_jpn_yue_eng_ko_spectok.bpe.model"


@pytest.fixture
def sensevoice(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, bytes]]]:
    """The official SenseVoiceSmall ONNX repository (no bpe model) and the PyTorch one, real-shaped."""
    work = tmp_path_factory.mktemp("sv")
    return {repo: hubrepos.publish(hub.store, repo, work) for repo in (SV_ONNX, SV_PT)}


def test_the_sensevoice_alias_composes_the_bpe_model_from_the_pytorch_repository(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], sensevoice: dict[str, dict[str, dict[str, bytes]]]
) -> None:
    project = make_project(tmp_path, 'asr = { model = "sensevoice-small", revision = "v2.0.5", quantize = true }\n')
    lock_project(project)
    lock = read_lock(project)
    assert lock is not None
    (extra,) = lock.models["asr"].extra
    bpe = sensevoice[SV_PT]["master"][BPE]
    assert (extra.hub, extra.repo, extra.revision) == ("ms", SV_PT, None) and len(extra.commit) == 40
    assert [(f.path, f.size, f.sha256) for f in extra.files] == [(BPE, len(bpe), hashlib.sha256(bpe).hexdigest())]
    assert BPE not in {f.path for f in lock.models["asr"].files}
    assert f'[[models.asr.extra]]\nhub = "ms"\nrepo = "{SV_PT}"' in (project / "funasr.lock").read_text()

    wheel = wheel_build(project)
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("acme_vad_models/funasr_manifest.json"))["models"]["asr"]
        assert zf.read(f"acme_vad_models/models/asr-SenseVoiceSmall/{BPE}") == bpe
        (bom,) = (json.loads(zf.read(n)) for n in zf.namelist() if "/sboms/" in n)
    # the SBOM names where the extra file came from by the commit it was fetched at
    (component,) = bom["components"]
    origins = {
        f["name"].rsplit("/", 1)[1]: p["value"]
        for f in component["components"]
        for p in f["properties"]
        if p["name"] == "funasr:from"
    }
    assert origins == {BPE: f"ms:{SV_PT}@{extra.commit}"}
    assert manifest["extra"] == [{"hub": "ms", "repo": SV_PT, "revision": None, "commit": extra.commit, "files": [BPE]}]
    assert manifest["files"][BPE]["sha256"] == hashlib.sha256(bpe).hexdigest()
    assert manifest["runtime"] == "quantized"


def test_an_altered_extra_file_is_caught_against_the_lock(
    tmp_path: Path,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    sensevoice: dict[str, dict[str, dict[str, bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = make_project(tmp_path, 'asr = { model = "sensevoice-small", revision = "v2.0.5", quantize = true }\n')
    lock_project(project)
    monkeypatch.setenv("HATCH_FUNASR_CACHE", str(tmp_path / "cold-cache"))
    hub.tamper.add(BPE)
    try:
        with pytest.raises(IntegrityError, match=rf"model asr: .*{BPE}"):
            stage_project(project, tmp_path / "b")
    finally:
        hub.tamper.discard(BPE)


def test_extra_files_naming_a_file_the_repository_lacks(
    tmp_path: Path, hub_env: dict[str, str], sensevoice: dict[str, dict[str, dict[str, bytes]]]
) -> None:
    models = (
        f'asr = {{ model = "{SV_ONNX}", revision = "v2.0.5", quantize = true, '
        f'extra-files = {{ model = "{SV_PT}", files = ["{BPE}", "nope.bin"] }} }}\n'
    )
    project = make_project(tmp_path, models)
    with pytest.raises(SelectionError) as info:
        stage_project(project, tmp_path / "b")
    assert str(info.value).startswith(f"model asr: extra-files from ms:{SV_PT}@default branch (commit ")
    assert str(info.value).endswith("the repository has no nope.bin")


def test_without_extra_files_sensevoice_onnx_names_the_missing_bpe_model(
    tmp_path: Path, hub_env: dict[str, str], sensevoice: dict[str, dict[str, dict[str, bytes]]]
) -> None:
    project = make_project(tmp_path, f'asr = {{ model = "{SV_ONNX}", revision = "v2.0.5", extra-files = [] }}\n')
    with pytest.raises(SelectionError, match=rf"ms:{SV_ONNX}@v2.0.5 has no {BPE}"):
        stage_project(project, tmp_path / "b")


def test_offline_without_a_lock_refuses_an_edited_cached_listing(
    tmp_path: Path, hub_env: dict[str, str], vad_repo: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache travels: an attacker edits a cached listing to name their own (cached) file.
    Offline and unlocked the build refuses to start; with the lock, the edit is caught."""
    project = make_project(tmp_path)
    lock_project(project)
    stage_project(project, tmp_path / "warm")
    cache = Path(hub_env["HATCH_FUNASR_CACHE"])
    evil = b"\x08\x07 not the model"
    evil_sha = hashlib.sha256(evil).hexdigest()
    blob = cache / "blobs" / "sha256" / evil_sha[:2] / evil_sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(evil)
    for snapshot in (cache / "snapshots").rglob("*.json"):
        data = json.loads(snapshot.read_text())
        if "model_quant.onnx" in data["files"]:
            data["files"]["model_quant.onnx"] = {"size": len(evil), "sha256": evil_sha, "git_sha1": None}
            snapshot.write_text(json.dumps(data))
    monkeypatch.setenv("HATCH_FUNASR_OFFLINE", "1")
    unlocked = tmp_path / "unlocked"
    shutil.copytree(project, unlocked)
    (unlocked / "funasr.lock").unlink()
    with pytest.raises(FetchError, match=r"needs funasr\.lock"):
        stage_project(unlocked, tmp_path / "s1", offline=True)
    pkg = stage_project(project, tmp_path / "s2", offline=True)  # locked: the lock decides, not the listing
    assert (pkg / "models" / "vad" / "model_quant.onnx").read_bytes() == vad_repo["model_quant.onnx"]


# --- HubSource with a stand-in client: retries, what enters the cache, what is refused ------------
class FakeClient:
    """A HubClient whose downloads go as scripted: per file, a list of outcomes ("ok", "short",
    "drop", "disk", "wrong", "refuse"), one per attempt; every fetch is recorded."""

    def __init__(self, files: dict[str, bytes], script: dict[str, list[str]] | None = None) -> None:
        self.files, self.script, self.fetched = files, script or {}, []  # type: ignore[var-annotated]

    def fetch(self, repo: str, commit: str, remote: RemoteFile, dest: Path, progress: object = None) -> FileDigest:
        self.fetched.append(remote.path)
        outcome = (self.script.get(remote.path) or ["ok"]).pop(0) if self.script.get(remote.path) else "ok"
        data = self.files[remote.path]
        target = dest / remote.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if outcome == "disk":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        if outcome == "drop":
            raise ConnectionResetError("connection reset by peer")
        if outcome == "refuse":
            raise IntegrityError(f"{remote.path}: the hub sent more than it lists")
        if outcome == "short":  # as the clients report a body that ended early
            target.write_bytes(data[: len(data) // 2])
            raise ConnectionError(f"{remote.path}: {len(data) // 2} of {len(data)} bytes")
        body = data
        if outcome == "wrong":
            body = bytes([data[0] ^ 1]) + data[1:]
        target.write_bytes(body)
        if callable(progress):
            progress(len(body))
        with target.open("rb") as src:  # git's blob id only for files listed without sha256, as hubs.py
            return hash_stream(src, len(body), git=remote.sha256 is None)


def _listed(files: dict[str, bytes], *, sha: bool = True) -> dict[str, RemoteFile]:
    return {
        p: RemoteFile(p, len(d), hashlib.sha256(d).hexdigest() if sha else None, None if sha else _git(d))
        for p, d in files.items()
    }


def _git(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


FILES = {"config.yaml": b"model: FsmnVADStreaming\n", "am.mvn": b"<Nnet>\n" * 30, "model_quant.onnx": b"\x08" * 3000}
COMMIT = "c" * 40


def _source(tmp_path: Path, client: FakeClient, **kwargs: object) -> HubSource:
    model = config_of(tmp_path, {"vad": {"model": "acme/vad", "hub": "hf", "family": "fsmn-vad"}}).models[0]
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    return HubSource(model, model.origin, COMMIT, _listed(FILES), cache, client, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(sources.time, "sleep", slept.append)
    return slept


def test_a_dropped_or_short_transfer_is_retried_and_only_whole_files_are_kept(
    tmp_path: Path, no_backoff: list[float]
) -> None:
    client = FakeClient(FILES, {"model_quant.onnx": ["drop", "short", "ok"], "am.mvn": ["short", "ok"]})
    source = _source(tmp_path, client, attempts=3)
    messages: list[str] = []
    records = source.materialize(list(FILES), messages.append)
    assert {p: r.source.read_bytes() for p, r in records.items()} == FILES
    assert {p: r.sha256 for p, r in records.items()} == {p: hashlib.sha256(d).hexdigest() for p, d in FILES.items()}
    assert client.fetched == [*FILES, "am.mvn", "model_quant.onnx", "model_quant.onnx"]
    assert no_backoff == [1.0, 2.0]  # before the 2nd and the 3rd attempt
    assert messages[0] == "model vad: downloading 3 file(s), 0.0 MiB from Hugging Face acme/vad@cccccccccccc"
    assert messages[1:] == [
        "model vad: retrying am.mvn, model_quant.onnx (2/3) after: ConnectionError: am.mvn: 105 of 210 bytes; "
        "ConnectionResetError: connection reset by peer",
        "model vad: retrying model_quant.onnx (3/3) after: ConnectionError: model_quant.onnx: 1500 of 3000 bytes",
    ]
    assert source.missing(list(FILES)) == []
    snapshot = source.cache.read_snapshot("hf", "acme/vad", COMMIT)
    assert snapshot == listing_json(source.listing)  # the listing, with what was learnt, is kept
    assert not any((source.cache.root / "tmp").iterdir())
    client.fetched.clear()
    assert source.materialize(["am.mvn"], messages.append)["am.mvn"].source.read_bytes() == FILES["am.mvn"]
    assert client.fetched == []  # in the cache: not fetched again


def test_a_persistent_failure_names_the_files_the_attempts_and_the_last_error(
    tmp_path: Path, no_backoff: list[float]
) -> None:
    client = FakeClient(FILES, {"model_quant.onnx": ["drop", "drop"]})
    source = _source(tmp_path, client, attempts=2)
    with pytest.raises(FetchError) as info:
        source.materialize(list(FILES), lambda _m: None)
    assert str(info.value) == (
        "model vad: model_quant.onnx from Hugging Face acme/vad@cccccccccccc not downloaded after 2 attempt(s); "
        "last failure: ConnectionResetError: connection reset by peer. Nothing of it was kept; the next build "
        "starts it afresh"
    )
    assert no_backoff == [1.0]
    assert source.cache.read_snapshot("hf", "acme/vad", COMMIT) is None  # no listing without its files
    assert not source.cache.has_blob(hashlib.sha256(FILES["model_quant.onnx"]).hexdigest(), 3000)
    assert source.cache.has_blob(hashlib.sha256(FILES["am.mvn"]).hexdigest(), len(FILES["am.mvn"]))


def test_wrong_bytes_and_a_full_disk_are_not_retried(tmp_path: Path, no_backoff: list[float]) -> None:
    wrong = FakeClient(FILES, {"am.mvn": ["wrong"]})
    with pytest.raises(IntegrityError) as info:
        _source(tmp_path / "a", wrong).materialize(list(FILES), lambda _m: None)
    assert str(info.value).startswith(
        "model vad: acme/vad/am.mvn: downloaded content does not match the hub listing: sha256 "
    )
    refused = FakeClient(FILES, {"am.mvn": ["refuse"]})
    with pytest.raises(IntegrityError) as info:
        _source(tmp_path / "b", refused).materialize(list(FILES), lambda _m: None)
    assert str(info.value) == "model vad: am.mvn: the hub sent more than it lists"
    disk = FakeClient(FILES, {"model_quant.onnx": ["disk"]})
    source = _source(tmp_path / "c", disk)
    with pytest.raises(StorageError) as err:
        source.materialize(list(FILES), lambda _m: None)
    assert str(err.value).startswith(
        f"model vad: cannot download Hugging Face acme/vad@cccccccccccc into the cache {source.cache.root}: "
        "No space left on device ("
    )
    assert str(err.value).endswith("); free space or point HATCH_FUNASR_CACHE at a writable disk")
    assert no_backoff == [] and wrong.fetched.count("am.mvn") == refused.fetched.count("am.mvn") == 1


def test_offline_a_file_not_in_the_cache_is_named_with_the_way_to_get_it(tmp_path: Path) -> None:
    source = _source(tmp_path, FakeClient(FILES), offline=True)
    with pytest.raises(FetchError) as info:
        source.materialize(["am.mvn", "config.yaml"], lambda _m: None)
    assert str(info.value) == (
        f"model vad: 2 file(s) of acme/vad@{COMMIT} are not in the cache (am.mvn, config.yaml); run "
        "`hatch-funasr fetch` for model vad (hf:acme/vad revision default) on a connected machine with the "
        "same HATCH_FUNASR_CACHE, or unset HATCH_FUNASR_OFFLINE"
    )


def test_a_locked_source_re_verifies_cached_bytes_and_fetches_an_altered_copy_again(tmp_path: Path) -> None:
    client = FakeClient(FILES)
    source = _source(tmp_path, client, locked=True)
    source.materialize(["am.mvn"], lambda _m: None)
    assert source.cache.read_snapshot("hf", "acme/vad", COMMIT) is None  # a locked build writes no listing
    blob = source.cache.blob_path(hashlib.sha256(FILES["am.mvn"]).hexdigest())
    blob.chmod(0o644)
    blob.write_bytes(b"<nnet>\n" * 30)
    client.fetched.clear()
    assert source.missing(["am.mvn", "config.yaml"]) == ["am.mvn", "config.yaml"]  # altered: removed
    assert source.materialize(["am.mvn"], lambda _m: None)["am.mvn"].source.read_bytes() == FILES["am.mvn"]
    assert client.fetched == ["am.mvn"]
    blob.chmod(0o644)
    blob.write_bytes(b"<nnet>\n" * 30)
    offline = _source(tmp_path, client, locked=True, offline=True)
    with pytest.raises(IntegrityError, match=r"cached copy .* was altered after it was verified"):
        offline.materialize(["am.mvn"], lambda _m: None)


def test_a_git_hashed_file_is_checked_by_its_git_id_and_learns_its_sha256(tmp_path: Path) -> None:
    model = config_of(tmp_path, {"vad": {"model": "acme/vad", "hub": "hf", "family": "fsmn-vad"}}).models[0]
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    source = HubSource(model, model.origin, COMMIT, _listed(FILES, sha=False), cache, FakeClient(FILES))  # type: ignore[arg-type]
    assert source.missing(["am.mvn"]) == ["am.mvn"]  # no sha256: nothing in the cache can be it
    assert source.read_text("config.yaml") == FILES["config.yaml"].decode()
    assert source.read_text("nope.txt") is None
    assert source.listing["config.yaml"].sha256 == hashlib.sha256(FILES["config.yaml"]).hexdigest()
    assert source.missing(["config.yaml"]) == []


# --- listings checked before anything is fetched; local directories; composed sources ------------
def _vad_model(tmp_path: Path):  # type: ignore[no-untyped-def]
    return config_of(tmp_path, {"vad": {"model": "acme/vad", "hub": "hf", "family": "fsmn-vad"}}).models[0]


def test_a_listing_with_unsafe_names_or_bad_values_is_refused_whole(tmp_path: Path) -> None:
    model = _vad_model(tmp_path)
    names = ["../a", "/b", "c/../../d", "e\\f", "g:h", "i/./j"]
    with pytest.raises(IntegrityError) as info:
        sources.check_listing(model, {n: RemoteFile(n, 1) for n in [*names, "ok.txt"]}, "the hub's listing")
    shown = str(info.value).split("lists unsafe file names (")[1].split("); refusing it")[0]
    assert str(info.value).startswith("model vad: the hub's listing lists unsafe file names (")
    assert str(info.value).endswith("); refusing it, nothing was downloaded")
    assert shown.count(", '") == 4  # the first five, sorted, separated by ", "
    with pytest.raises(IntegrityError) as info:
        sources.check_listing(model, {"a": RemoteFile("a", 1, "X" * 64)}, "L")
    assert str(info.value) == "model vad: L lists a malformed hash for 'a'; refusing it, nothing was downloaded"
    with pytest.raises(IntegrityError) as info:
        sources.check_listing(model, {"a": RemoteFile("a", 1, None, "g" * 40)}, "L")
    assert str(info.value) == "model vad: L lists a malformed hash for 'a'; refusing it, nothing was downloaded"
    with pytest.raises(IntegrityError) as info:
        sources.check_listing(model, {"a": RemoteFile("a", -1)}, "L")
    assert str(info.value).startswith("model vad: L: size of 'a': -1 is not a file size")
    with pytest.raises(IntegrityError) as info:
        sources.check_listing(model, {"A.txt": RemoteFile("A.txt", 1), "a.txt": RemoteFile("a.txt", 1)}, "L")
    assert str(info.value) == (
        "model vad: L lists 'A.txt' and 'a.txt', one file on Windows and macOS (they differ only in case or "
        "Unicode form); refusing it"
    )


def test_a_link_to_a_sibling_directory_sharing_the_name_prefix_is_outside(tmp_path: Path) -> None:
    """``models/vad-private`` is not inside ``models/vad`` though its path starts with it: a
    link there is refused like any link out of the model directory."""
    root = tmp_path / "models" / "vad"
    root.mkdir(parents=True)
    (root / "config.yaml").write_text("model: FsmnVADStreaming\n")
    private = tmp_path / "models" / "vad-private"
    private.mkdir()
    (private / "secret.key").write_text("not a model file")
    (root / "am.mvn").symlink_to(private / "secret.key")
    model = config_of(tmp_path, {"vad": {"path": "models/vad"}}).models[0]
    with pytest.raises(IntegrityError, match=r"is a symbolic link to .*vad-private/secret\.key, outside the model"):
        LocalSource.open(model, model.origin)


def test_a_local_directory_lists_its_files_and_refuses_what_is_not_a_model_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "models" / "vad"
    (root / "sub").mkdir(parents=True)
    (root / "config.yaml").write_text("model: FsmnVADStreaming\n")
    (root / "sub" / "a.bin").write_bytes(b"12345")
    (root / "link.yaml").symlink_to(root / "config.yaml")
    (root / "linked-dir").symlink_to(root / "sub", target_is_directory=True)
    model = config_of(tmp_path, {"vad": {"path": "models/vad"}}).models[0]
    source = LocalSource.open(model, model.origin)
    assert {p: (f.path, f.size) for p, f in source.listing.items()} == {
        "config.yaml": ("config.yaml", 24),
        "link.yaml": ("link.yaml", 24),
        "sub/a.bin": ("sub/a.bin", 5),
    }  # a linked directory is not walked into
    assert source.read_text("config.yaml") == "model: FsmnVADStreaming\n" and source.read_text("nope") is None
    assert source.missing(["anything"]) == []
    records = source.materialize(["sub/a.bin"], lambda _m: None)
    assert (records["sub/a.bin"].source, records["sub/a.bin"].size, records["sub/a.bin"].sha256) == (
        root / "sub/a.bin",
        5,
        None,
    )
    monkeypatch.setattr(sources, "_MAX_LOCAL_FILES", 3)
    LocalSource.open(model, model.origin)  # three files: as many as allowed
    (root / "sub" / "b.bin").write_bytes(b"")
    with pytest.raises(SelectionError) as info:
        LocalSource.open(model, model.origin)
    assert str(info.value) == f"model vad: {root} holds more than 3 files; is it the model's own directory?"
    (root / "sub" / "b.bin").unlink()
    (root / "dangling").symlink_to(root / "gone")
    with pytest.raises(
        FetchError, match=rf"^model vad: {re.escape(str(root / 'dangling'))} is a broken or looping link"
    ):
        LocalSource.open(model, model.origin)
    (root / "dangling").unlink()
    monkeypatch.setattr(sources, "_MAX_LOCAL_FILES", 10_000)
    (root / "CONFIG.yaml").write_text("x")
    with pytest.raises(
        IntegrityError, match=rf"model vad: the local directory {re.escape(str(root))} lists 'CONFIG\.yaml' and"
    ):
        LocalSource.open(model, model.origin)


@pytest.fixture
def composed_repos(hub: LoopbackHub) -> dict[str, bytes]:
    """acme/primary (ms) and acme/bpe-source (hf): the bpe model at tag v1 differs from master."""
    store = hub.store
    store.publish("acme/primary", {"config.yaml": b"model: SenseVoiceSmall\n", "am.mvn": b"mvn"})
    old, new = b"bpe at v1", b"bpe at master"
    store.publish("acme/bpe-source", {"bpe.model": old, "config.yaml": b"x"}, tags=["v1"])
    store.publish("acme/bpe-source", {"bpe.model": new, "config.yaml": b"x"})
    return {"v1": old, "master": new}


def test_a_composed_source_takes_each_file_from_its_repository_at_its_revision(
    tmp_path: Path, hub_env: dict[str, str], composed_repos: dict[str, bytes]
) -> None:
    declared = {
        "model": "acme/primary",
        "family": "fsmn-vad",
        "extra-files": {
            "model": "acme/bpe-source",
            "hub": "hf",
            "revision": "v1",
            "files": ["bpe.model", "config.yaml"],
        },
    }
    model = config_of(tmp_path, {"m": declared}).models[0]
    ctx = BuildContext.create(tmp_path / "work")
    source = open_source(model, ctx)
    assert isinstance(source, sources.ComposedSource)
    assert source.read_text("config.yaml") == "model: SenseVoiceSmall\n"  # the model's own copy wins
    assert source.read_text("bpe.model") == "bpe at v1" and source.read_text("nope") is None
    assert source.listing["bpe.model"].sha256 == hashlib.sha256(composed_repos["v1"]).hexdigest()
    ((extra, commit, files),) = source.provenance()
    assert (extra.repo, extra.hub, extra.revision, files) == ("acme/bpe-source", "hf", "v1", ("bpe.model",))
    assert commit == ctx.cache.read_ref("hf", "acme/bpe-source", "v1")
    assert source.missing(["bpe.model", "am.mvn", "config.yaml"]) == ["am.mvn"]
    assert source.commit == ctx.cache.read_ref("ms", "acme/primary", "@default") and source.model is model


def test_the_download_report_and_progress_lines(
    tmp_path: Path, no_backoff: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    big = {"model_quant.onnx": b"\x08" * (3 << 20), "config.yaml": b"a: 1\n"}
    model = _vad_model(tmp_path)
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    source = HubSource(model, model.origin, COMMIT, _listed(big), cache, FakeClient(big), progress="log")  # type: ignore[arg-type]
    messages: list[str] = []
    records = source.materialize(list(big), messages.append)
    assert {p: r.size for p, r in records.items()} == {p: len(d) for p, d in big.items()}
    assert messages[0] == f"model vad: downloading 2 file(s), 3.0 MiB from Hugging Face acme/vad@{COMMIT[:12]}"
    assert re.fullmatch(r"model vad: downloading: 3\.0/3\.0 MiB \(100%\).*", messages[-1]), messages


def test_retries_back_off_up_to_eight_seconds_and_name_every_file_left(tmp_path: Path, no_backoff: list[float]) -> None:
    client = FakeClient(FILES, {"am.mvn": ["drop"] * 6, "model_quant.onnx": ["drop"] * 6})
    client.fetch = _dropping_with_a_full_stop(client.fetch)  # type: ignore[method-assign]
    with pytest.raises(FetchError) as info:
        _source(tmp_path, client, attempts=6).materialize(list(FILES), lambda _m: None)
    assert no_backoff == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert str(info.value) == (
        f"model vad: am.mvn, model_quant.onnx from Hugging Face acme/vad@{COMMIT[:12]} not downloaded after 6 "
        "attempt(s); last failure: ConnectionResetError: reset.; ConnectionResetError: reset. Nothing of it was "
        "kept; the next build starts it afresh"
    )


def _dropping_with_a_full_stop(fetch):  # type: ignore[no-untyped-def]
    def wrapped(repo, commit, remote, dest, progress=None):  # type: ignore[no-untyped-def]
        try:
            return fetch(repo, commit, remote, dest, progress)
        except ConnectionResetError:
            raise ConnectionResetError("reset.") from None

    return wrapped


def test_bytes_that_are_not_utf8_read_as_text_with_replacements(tmp_path: Path) -> None:
    files = {"config.yaml": b"model: \xff\xfeParaformer\n"}
    hub = _source(tmp_path, FakeClient(files))
    hub.listing = _listed(files)
    assert hub.read_text("config.yaml") == "model: \ufffd\ufffdParaformer\n"
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "config.yaml").write_bytes(files["config.yaml"])
    local_model = config_of(tmp_path, {"m": {"path": "local", "family": "fsmn-vad"}}).models[0]
    local = LocalSource.open(local_model, local_model.origin)
    assert local.read_text("config.yaml") == "model: \ufffd\ufffdParaformer\n"


def test_a_locked_source_takes_its_settings_and_licence_and_extras_match_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_DOWNLOAD_ATTEMPTS", "4")
    monkeypatch.setenv("HATCH_FUNASR_PROGRESS", "off")
    declared = {
        "model": "acme/primary",
        "family": "fsmn-vad",
        "extra-files": {"model": "acme/extra", "files": ["bpe.model"]},
    }
    model = config_of(tmp_path, {"m": declared}).models[0]
    ctx = BuildContext.create(tmp_path / "work")
    extra = LockedRepo("ms", "acme/extra", None, "e" * 40, (LockedFile("bpe.model", 3, "b" * 64),), license="MIT")
    entry = LockedModel(
        "ms", "acme/primary", None, COMMIT, (LockedFile("am.mvn", 3, "a" * 64),), "Apache-2.0", name="m", extra=(extra,)
    )
    source = sources.open_locked(model, model.origin, entry, ctx)
    assert isinstance(source, sources.ComposedSource)
    primary, (_, second) = source.primary, source.extras[0]
    assert isinstance(primary, HubSource)
    assert (primary.locked, primary.attempts, primary.progress, primary.license) == (True, 4, "off", "Apache-2.0")
    assert (second.locked, second.attempts, second.progress, second.license, second.commit) == (
        True,
        4,
        "off",
        "MIT",
        "e" * 40,
    )
    with pytest.raises(ValueError):  # a lock entry with other extras than the declaration (mismatches() says which)
        sources.open_locked(model, model.origin, replace(entry, extra=()), ctx)


def test_extra_files_the_repository_lacks_are_all_named(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    model = config_of(tmp_path, {"m": {"path": "m", "family": "fsmn-vad"}}).models[0]
    primary = LocalSource(model, tmp_path / "m", {})
    extra = ExtraFiles("acme/extra", "ms", None, ("a.bin", "b.bin", "c.bin"))
    holder = HubSource(
        model,
        extra.ref,
        "e" * 40,
        {"b.bin": RemoteFile("b.bin", 1)},
        Cache(tmp_path / "c", key_file=tmp_path / "k"),
        FakeClient({}),
    )  # type: ignore[arg-type]
    with pytest.raises(SelectionError) as info:
        sources.compose(primary, [(extra, holder)])
    assert str(info.value).endswith("the repository has no a.bin, c.bin")


def test_an_extra_file_differing_from_a_model_file_only_in_case_is_refused(tmp_path: Path) -> None:
    """``AM.MVN`` from another repository beside the model's own ``am.mvn``: one file on macOS/Windows."""
    (tmp_path / "m").mkdir()
    model = config_of(tmp_path, {"m": {"path": "m", "family": "fsmn-vad"}}).models[0]
    primary = LocalSource(model, tmp_path / "m", {"am.mvn": RemoteFile("am.mvn", 1)})
    extra = ExtraFiles("acme/extra", "ms", None, ("AM.MVN",))
    holder = HubSource(
        model,
        extra.ref,
        "e" * 40,
        {"AM.MVN": RemoteFile("AM.MVN", 1)},
        Cache(tmp_path / "c", key_file=tmp_path / "k"),
        FakeClient({}),
    )  # type: ignore[arg-type]
    with pytest.raises(
        IntegrityError, match=r"^model m: its own files and extra-files hold 'AM\.MVN' and 'am\.mvn', one file"
    ):
        sources.compose(primary, [(extra, holder)])


def test_a_hub_listing_with_an_unsafe_name_names_the_repository_and_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Hostile:
        def list(self, repo: str, revision: str | None) -> RepoListing:
            return RepoListing(COMMIT, {"../evil.py": RemoteFile("../evil.py", 1)})

    monkeypatch.setitem(sources.HUBS, "hf", replace(sources.HUBS["hf"], adapter=lambda _url, _branch: Hostile()))
    model = _vad_model(tmp_path)
    with pytest.raises(IntegrityError) as info:
        open_source(model, BuildContext.create(tmp_path / "work"))
    assert str(info.value).startswith(
        f"model vad: Hugging Face repository acme/vad@{COMMIT} lists unsafe file names ('../evil.py': "
    )


def test_downloads_with_progress_off_report_no_progress_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HATCH_FUNASR_PROGRESS=off reaches the download meter: the announcement only."""
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    big = {"model_quant.onnx": b"\x08" * (3 << 20)}
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    source = HubSource(
        _vad_model(tmp_path), HubRef("hf", "acme/vad"), COMMIT, _listed(big), cache, FakeClient(big), progress="off"
    )  # type: ignore[arg-type]
    messages: list[str] = []
    source.materialize(list(big), messages.append)
    assert messages == [f"model vad: downloading 1 file(s), 3.0 MiB from Hugging Face acme/vad@{COMMIT[:12]}"]


def test_a_local_source_reads_only_the_files_it_listed(tmp_path: Path) -> None:
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "config.yaml").write_text("model: FsmnVADStreaming\n")
    (tmp_path / "m" / "sub" / "x.yaml").write_text("a: 1\n")
    model = config_of(tmp_path, {"m": {"path": "m", "family": "fsmn-vad"}}).models[0]
    assert isinstance(model.origin, LocalDir)
    source = LocalSource.open(model, model.origin)
    assert sorted(source.listing) == ["config.yaml", "sub/x.yaml"]  # a directory is walked, not listed
    assert source.read_text("config.yaml") == "model: FsmnVADStreaming\n"
    unlisted = LocalSource(model, tmp_path / "m", {})
    assert unlisted.read_text("config.yaml") is None  # on disk, but not in its listing
