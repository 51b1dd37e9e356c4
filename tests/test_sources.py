"""Fetching through the official clients against the loopback hub: cache, offline, errors, CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
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

from hatch_funasr.cache import Cache
from hatch_funasr.errors import FetchError, IntegrityError, SelectionError
from hatch_funasr.lock import read_lock


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
