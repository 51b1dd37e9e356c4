"""Isolated builds: a project whose ``build-system.requires`` names only
``hatch-funasr`` and asks for ``quantize = true`` builds with each frontend users run --
``hatch build``, ``python -m build``, ``pip wheel``, ``uv build`` -- from a wheelhouse and
no index at all. Nothing but the wheelhouse is reachable, so onnx and onnxruntime reach the
build environment only because the hook's ``dependencies()`` asked for them.

The wheel is installed in a fresh venv with funasr_onnx and the quantized model it gained
in the build runs on real speech.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from support import realvad
from support.hubserver import LoopbackHub
from support.projects import (
    assert_brackets_speech,
    install_and_run_vad,
    offline_env,
    only_wheel,
    package_index,
    run,
)
from support.speech import Utterance

from hatch_funasr import pipeline
from hatch_funasr.config import parse
from hatch_funasr.pipeline import build_requirements, plan
from hatch_funasr.plugin import FunasrBuildHook
from hatch_funasr.settings import Settings

PYPROJECT = """\
[build-system]
requires = ["hatch-funasr"]
build-backend = "hatchling.build"

[project]
name = "acme-vad-models"
version = "2026.11.0"
requires-python = ">=3.8"

[tool.hatch.build.targets.wheel.hooks.funasr]

[tool.funasr.models]
vad = { path = "models/vad", quantize = true }
"""

RUN_QUANTIZED = """
import json, sys
import acme_vad_models as bundle
from funasr_onnx import Fsmn_vad
print(json.dumps(Fsmn_vad(bundle.path("vad"), quantize=True)(sys.argv[1])))
"""


@pytest.fixture(scope="session")
def offline_wheelhouse(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hatch-funasr's wheel with every wheel it and its ``quantize`` extra need (downloaded once
    from the configured index): what a builder carries to a machine whose only index is a directory."""
    out = tmp_path_factory.mktemp("offline-wheelhouse")
    ours = next(wheelhouse.glob("hatch_funasr-*.whl"))
    shutil.copy(ours, out)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "--dest",
            str(out),
            f"{ours}[quantize]",
        ],
        check=True,
    )
    assert any(p.name.startswith("onnxruntime-") for p in out.iterdir())
    return out


def _frontend(name: str, wheelhouse: Path, tmp: Path) -> tuple[list[str], dict[str, str], Path]:
    """The command line of one frontend building the project's wheel isolated, with ``wheelhouse``
    as the only package source; its environment; the directory the wheel lands in."""
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "UV_FIND_LINKS": str(wheelhouse),
        "UV_NO_INDEX": "1",
    }
    env.pop("PIP_INDEX_URL", None)
    env.pop("PIP_EXTRA_INDEX_URL", None)
    bindir = Path(sys.executable).parent
    dist = tmp / "dist"
    if name == "hatch":
        env |= {"HATCH_DATA_DIR": str(tmp / "hatch-data"), "HATCH_CACHE_DIR": str(tmp / "hatch-cache")}
        return [str(bindir / "hatch"), "build", "-t", "wheel", str(dist)], env, dist
    if name == "build":
        return [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), "."], env, dist
    if name == "pip-direct-reference":
        name = "pip"
    if name == "pip":
        return [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), "."], env, dist
    assert name == "uv"
    uv = [str(bindir / "uv"), "build", "--wheel", "--no-index", "--find-links", str(wheelhouse)]
    return [*uv, "--out-dir", str(dist), "."], {**env, "UV_CACHE_DIR": str(tmp / "uv-cache")}, dist


@pytest.mark.e2e
@pytest.mark.parametrize("frontend", ["hatch", "build", "pip", "uv", "pip-direct-reference"])
def test_isolated_build_with_only_hatch_funasr_required(
    frontend: str,
    offline_wheelhouse: Path,
    tmp_path: Path,
    hub_env: dict[str, str],
    fresh_venv: Path,
    utterance: Utterance,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    pyproject, wheels = PYPROJECT, offline_wheelhouse
    if frontend == "pip-direct-reference":  # requires names the wheel's file URL; find-links lack it
        wheels = tmp_path / "dependencies-only"
        wheels.mkdir()
        for whl in offline_wheelhouse.iterdir():
            if not whl.name.startswith("hatch_funasr-"):
                os.link(whl, wheels / whl.name)
        ours = next(offline_wheelhouse.glob("hatch_funasr-*.whl"))
        pyproject = pyproject.replace('"hatch-funasr"', f'"hatch-funasr @ {ours.as_uri()}"')
    (project / "pyproject.toml").write_text(pyproject)
    realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn", "configuration.json"))
    cmd, env, dist = _frontend(frontend, wheels, tmp_path)
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    wheel = only_wheel(dist)
    assert wheel.name == "acme_vad_models-2026.11.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("acme_vad_models/funasr_manifest.json"))
        assert "Tag: py3-none-any" in zf.read("acme_vad_models-2026.11.0.dist-info/WHEEL").decode()
    files = manifest["models"]["vad"]["files"]
    assert {"model_quant.onnx", "model.onnx"} <= set(files), files
    assert_brackets_speech(install_and_run_vad(wheel, fresh_venv, utterance), utterance)
    out = run([str(fresh_venv), "-c", RUN_QUANTIZED, str(utterance.wav)], cwd=tmp_path, env=offline_env())
    assert_brackets_speech(json.loads(out.stdout.strip().splitlines()[-1])[0], utterance)


def _requested(log: Path) -> set[str]:
    """The projects a frontend asked the index for (pypiserver's log of ``/simple/<name>/``)."""
    return {canonicalize_name(m) for m in re.findall(r"/simple/([^/\s]+)/", log.read_text())}


@pytest.mark.e2e
def test_an_isolated_build_asks_the_index_only_for_what_the_repository_needs(
    offline_wheelhouse: Path, tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    """``python -m build --wheel`` (isolation on) against a real package index that holds
    hatch-funasr, its dependencies and its quantize extra, no torch or FunASR: a hub repository
    that ships model.onnx under a name with no ``-onnx`` builds, and the frontend never asks for
    torch or FunASR; a repository with only the PyTorch checkpoint makes it ask for the export
    stack, and the build ends on the installer's one line naming what the index lacks."""
    onnx = realvad.model_files()
    hub.store.publish("acme/vad-exported", {k: onnx[k] for k in ("model.onnx", "config.yaml", "am.mvn")})
    checkpoint = {"model.pt": b"\x80\x02 not a real checkpoint", "config.yaml": onnx["config.yaml"], "am.mvn": b"m"}
    hub.store.publish("acme/vad-checkpoint", checkpoint)
    served = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in offline_wheelhouse.glob("*.whl")}
    assert "torch" not in served and "funasr" not in served

    def build(repo: str) -> tuple[subprocess.CompletedProcess[str], set[str], Path]:
        project = tmp_path / repo.split("/")[1]
        project.mkdir()
        declaration = f'vad = {{ model = "{repo}", hub = "hf", family = "fsmn-vad" }}\n'
        (project / "pyproject.toml").write_text(
            PYPROJECT.replace('vad = { path = "models/vad", quantize = true }\n', declaration)
        )
        log = tmp_path / f"{project.name}-index.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
        with package_index(offline_wheelhouse, log) as url:
            # that index and nothing else: no pip configuration file adds another
            env |= {"PIP_INDEX_URL": url, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(project / "dist"), "."]
            result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
        return result, _requested(log), project / "dist"

    result, requested, dist = build("acme/vad-exported")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hatch-funasr" in requested and requested <= served, requested - served
    assert not {"torch", "funasr", "onnx", "onnxruntime"} & requested, requested
    # the backend's own requirements install nothing: build prints no second install step
    said = result.stdout + result.stderr
    assert said.count("Installing packages in isolated environment") == 1, said
    with zipfile.ZipFile(only_wheel(dist)) as zf:
        files = json.loads(zf.read("acme_vad_models/funasr_manifest.json"))["models"]["vad"]["files"]
    assert "model.onnx" in files, files

    result, requested, _ = build("acme/vad-checkpoint")
    said = result.stdout + result.stderr
    assert result.returncode != 0, said
    asked = said.split("Installing packages in isolated environment")[-1]
    assert re.search(r"^\s*- funasr>=", asked, re.M) and re.search(r"^\s*- torch$", asked, re.M), said
    # the export stack this index lacks (FunASR, torch, gguf): the installer asks for them in an
    # order of its own and stops at the first it cannot find, which it names
    lacking = {canonicalize_name(Requirement(r).name) for r in pipeline._extra("export")} - served
    assert {"funasr", "torch"} <= lacking and requested & lacking, (requested, said)
    found = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", said)
    assert found and canonicalize_name(found[1]) in lacking & requested, said


def _requirements(tmp_path: Path, models: str, **env: str) -> list[str]:
    """What the hook's ``dependencies()`` asks the frontend for, for a declaration."""
    (tmp_path / "pyproject.toml").write_text(
        PYPROJECT.replace('vad = { path = "models/vad", quantize = true }\n', models)
    )
    realvad.write_model(tmp_path / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    from hatchling.metadata.core import ProjectMetadata
    from hatchling.plugin.manager import PluginManager

    metadata = ProjectMetadata(str(tmp_path), PluginManager())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        hook = FunasrBuildHook(str(tmp_path), {}, None, metadata, str(tmp_path / "dist"), "wheel")
        return hook.dependencies()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements}


def test_dependencies_follow_the_declaration(tmp_path: Path, hub_env: dict[str, str]) -> None:
    # A local fp32 model as it is: nothing to install.
    assert _requirements(tmp_path, 'vad = { path = "models/vad" }\n') == []
    # quantize = true: onnx and onnxruntime, as the [quantize] extra pins them.
    quantized = _requirements(tmp_path, 'vad = { path = "models/vad", quantize = true }\n')
    assert _names(quantized) == {"onnx", "onnxruntime"}, quantized
    # A PyTorch checkpoint to export: the export stack, unless another Python does the export.
    exported = 'vad = { model = "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch", export = true }\n'
    stack = _requirements(tmp_path, exported)
    assert {"funasr", "torch", "onnx", "onnxruntime"} <= _names(stack), stack
    elsewhere = _requirements(tmp_path, exported, HATCH_FUNASR_EXPORT_PYTHON="/opt/export/bin/python")
    assert "torch" not in _names(elsewhere) and "funasr" not in _names(elsewhere), elsewhere
    # GGUF: a ready FunAudioLLM repository needs nothing; a checkpoint converted here, FunASR's
    # converter's stack (torch, funasr for the check, gguf).
    assert _requirements(tmp_path, 'vad = "fsmn-vad-gguf"\n') == []
    # (offline: its listing unknown, the conversion is planned from the declaration)
    gguf = 'vad = { model = "fsmn-vad", format = "gguf", hub = "ms" }\n'
    converted = _requirements(tmp_path, gguf, HATCH_FUNASR_OFFLINE="1")
    assert {"funasr", "torch", "gguf"} <= _names(converted), converted


def test_dependencies_ask_the_hub_whether_a_repository_ships_onnx(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    """No name guessing: a repository that ships model.onnx under any name asks for nothing heavy
    (one listing request, kept in the cache for the build); one with only the PyTorch checkpoint
    still asks for the export stack; offline with nothing known, the export stack is asked for."""
    onnx = realvad.model_files()
    hub.store.publish("acme/vad-exported", onnx, revision="main")
    checkpoint = {
        "model.pt": b"\x80\x02 not a real checkpoint",
        "config.yaml": onnx["config.yaml"],
        "am.mvn": onnx["am.mvn"],
    }
    hub.store.publish("acme/vad-checkpoint", checkpoint, revision="main")
    hub.clear_log()
    ready = _requirements(tmp_path, 'vad = { model = "acme/vad-exported", hub = "hf", family = "fsmn-vad" }\n')
    assert ready == [], ready
    listings = [path for method, path in hub.requests if "/api/models/" in path]
    assert len(listings) == 1, hub.requests
    assert list(Path(hub_env["HATCH_FUNASR_CACHE"]).glob("snapshots/hf/acme/vad-exported/*.json"))
    hub.clear_log()
    assert _requirements(tmp_path, 'vad = { model = "acme/vad-exported", hub = "hf", family = "fsmn-vad" }\n') == []
    assert hub.requests == []  # known from the cache now
    pytorch = 'vad = { model = "acme/vad-checkpoint", hub = "hf", family = "fsmn-vad" }\n'
    assert {"funasr", "torch"} <= _names(_requirements(tmp_path, pytorch))
    unknown = 'vad = { model = "acme/vad-elsewhere", hub = "hf", family = "fsmn-vad" }\n'
    assert {"funasr", "torch"} <= _names(_requirements(tmp_path, unknown, HATCH_FUNASR_OFFLINE="1"))


def test_requirements_come_from_our_own_extras(tmp_path: Path) -> None:
    """build_requirements reads the extras from hatch-funasr's metadata, not from a second list."""
    from importlib.metadata import requires

    declared = [r for r in requires("hatch-funasr") or [] if 'extra == "quantize"' in r]
    (tmp_path / "m").mkdir()
    models = {"vad": {"path": "m", "family": "fsmn-vad", "quantize": True}}
    config = parse({"project": {"name": "x", "version": "1"}, "tool": {"funasr": {"models": models}}}, tmp_path, {})
    wanted = build_requirements(config, plan(config), Settings.from_env())
    assert [w.replace(" ", "") for w in wanted] == [d.split(";")[0].replace(" ", "") for d in declared]
