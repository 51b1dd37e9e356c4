"""Fetching through the official clients against the loopback hub: cache, offline, errors, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.hubserver import LoopbackHub
from support.projects import DEAD, VAD_HF_REPO, VAD_ONNX_REPO, config_of, stage

from hatch_funasr.cache import Cache
from hatch_funasr.errors import FetchError


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
    vad_files: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path, {"vad": declaration})
    cache = Cache(Path(hub_env["HATCH_FUNASR_CACHE"]))
    hub.clear_log()
    pkg, staged = stage(config, tmp_path / "s1", cache=cache, offline=False)
    downloads = [p for m, p in hub.requests if m == "GET" and ("/resolve/" in p or "FilePath=" in p)]
    assert sorted(p.rsplit("/", 1)[-1].rsplit("=", 1)[-1] for p in downloads) == ["am.mvn", "config.yaml", "model.onnx"]
    assert {p.name: p.read_bytes() for p in (pkg / "models" / "vad").iterdir()} == {
        k: vad_files[k] for k in ("am.mvn", "config.yaml", "model.onnx")
    }
    assert staged[0].commit and len(staged[0].commit) == 40
    assert json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]["hub"] == hub_name

    # Offline, with both endpoints dead: the cache alone builds the same package.
    monkeypatch.setenv("HF_ENDPOINT", DEAD)
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", DEAD)
    hub.clear_log()
    pkg2, staged2 = stage(config, tmp_path / "s2", cache=cache, offline=True)
    assert hub.requests == []
    assert staged2[0].commit == staged[0].commit
    assert (pkg2 / "funasr_manifest.json").read_bytes() == (pkg / "funasr_manifest.json").read_bytes()


def test_offline_with_empty_cache_names_each_model_and_revision(tmp_path: Path, hub_env: dict[str, str]) -> None:
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
        '[project]\nname = "acme-vad"\nversion = "1"\n[tool.funasr.models]\nvad = { model = "fsmn-vad", revision = "v2.0.4" }\n'
    )
    dead = {**os.environ, "HF_ENDPOINT": DEAD, "MODELSCOPE_ENDPOINT": DEAD}
    check = _cli(project, "check", env=dead)
    assert check.returncode == 0, check.stderr
    assert f"fetch {VAD_ONNX_REPO} at v2.0.4 from ms" in check.stdout
    fetched = _cli(project, "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert "vad: " + VAD_ONNX_REPO in fetched.stdout and "3 files" in fetched.stdout
    offline = _cli(project, "fetch", env={**dead, "HATCH_FUNASR_OFFLINE": "1"})
    assert offline.returncode == 0, offline.stderr

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
    assert not list((project / "dist").glob("*.whl")) if (project / "dist").exists() else True
