"""The ready bundles (issue 6, SPEC section 9): each checks offline, builds through the loopback
hub with stand-in models of its families, installs, verifies, and its README tells the truth."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.bundles import BUNDLES, ROOT, build_bundle, build_env, bundle_dirs, publish_models
from support.hubserver import LoopbackHub

from hatch_funasr.families import FAMILIES
from hatch_funasr.config import load_config

pytestmark = pytest.mark.e2e
DEAD = "http://127.0.0.1:9"
SERVER_FLAGS = {
    "offline-server-zh": ["--model-dir", "--vad-dir", "--punc-dir", "--lm-dir", "--itn-dir"],
    "streaming-zh": ["--online-model-dir", "--vad-dir", "--punc-dir"],
    "sensevoice-small": ["--model-dir", "--vad-dir"],
    "paraformer-en": ["--model-dir", "--vad-dir", "--punc-dir"],
    "hotword-zh": ["--model-dir", "--vad-dir", "--punc-dir"],
    "speaker-campplus": [],
    "emotion2vec": [],
    "kws-xiaoyun": [],
}


def test_the_bundle_set_is_the_seeds() -> None:
    assert [p.name for p in bundle_dirs()] == sorted(SERVER_FLAGS)


@pytest.mark.parametrize("project", bundle_dirs(), ids=lambda p: p.name)
def test_bundle_checks_offline(project: Path, tmp_path: Path) -> None:
    """`hatch-funasr check` with no network at all: dead endpoints, empty cache, offline mode."""
    env = {
        **os.environ,
        "HATCH_FUNASR_OFFLINE": "1",
        "HATCH_FUNASR_CACHE": str(tmp_path / "cache"),
        "HF_ENDPOINT": DEAD,
        "MODELSCOPE_ENDPOINT": DEAD,
    }
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "check"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: the declaration is valid (no network was used)" in result.stdout
    assert "run `hatch-funasr lock` once on a connected machine" in result.stdout
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def built(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every bundle's wheel, built with `python -m build` against the loopback hub."""
    work = tmp_path_factory.mktemp("bundles")
    env = build_env(hub, work / "cache")
    wheels = {}
    for project in bundle_dirs():
        publish_models(hub.store, project, work)
        wheels[project.name] = build_bundle(project, work / "dist", env)
    return wheels


def test_every_bundle_builds_installs_and_verifies(built: dict[str, Path], fresh_venv: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh_venv), "install", "--quiet", "--no-index", "--no-deps"]
        + [str(w) for w in built.values()],
        check=True,
    )
    for project in bundle_dirs():
        config = load_config(project)
        pkg = config.package

        def run(*args: str) -> str:
            result = subprocess.run([str(fresh_venv), "-m", pkg, *args], capture_output=True, text=True)  # noqa: B023
            assert result.returncode == 0, (project.name, args, result.stderr)  # noqa: B023
            return result.stdout

        assert "ok" in run("verify")
        assert run("names").split() == sorted(m.name for m in config.models)
        flags = [a for a in run("server-args").split() if a.startswith("--")]
        assert sorted(flags) == sorted(SERVER_FLAGS[project.name]), project.name
        for model in config.models:
            directory = Path(run("path", model.name).strip())
            files = {p.name for p in directory.iterdir()}
            family = FAMILIES[model.family]
            if family.dir_marker:
                assert family.dir_marker in directory.name
            if model.format == "onnx" and family.onnx:  # quantize = true, keep-fp32 = false
                for onnx_file in family.onnx:
                    quant = onnx_file.replace(".onnx", "_quant.onnx")
                    fp32_kept = onnx_file in family.fp32_always
                    assert (onnx_file in files) == fp32_kept, (project.name, model.name, files)
                    assert quant in files or fp32_kept, (project.name, model.name, files)
            if model.format == "pytorch":
                assert {"configuration.json", "config.yaml", "model.pt"} <= files


def test_bundle_wheels_hold_only_runtime_files(built: dict[str, Path]) -> None:
    for name, wheel in built.items():
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        assert not [n for n in names if n.endswith((".md", ".png", ".wav", ".gitattributes"))], (name, names)


# --- the READMEs tell the truth ---------------------------------------------------------------
@pytest.mark.parametrize("project", bundle_dirs(), ids=lambda p: p.name)
def test_bundle_readme_matches_its_declaration(project: Path) -> None:
    text = (project / "README.md").read_text()
    config = load_config(project)
    assert f"import {config.package} as m" in text or f"python -m {config.package}" in text
    assert f"cd bundles/{project.name}" in text and "hatch-funasr lock" in text
    for model in config.models:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{model.name}` |")), None)
        assert row is not None, f"{project.name}: no table row for {model.name}"
        assert f"`{model.repo}`" in row
        assert (model.revision or "default branch") in row


def test_main_readme_which_bundle_table_lists_every_bundle() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Which bundle do I want?")[1].split("\n\n")[1]
    listed = re.findall(r"\[`bundles/([\w-]+)`\]", table)
    assert sorted(listed) == [p.name for p in bundle_dirs()]
    assert all((BUNDLES / name / "pyproject.toml").is_file() for name in listed)
