"""`hatch-funasr check` tells the truth without network: a project that would build
no models (hook table missing, wrong backend, hatch-funasr not in build-system.requires), a
bundle import name another installed distribution owns, and the size limits of the places a
wheel travels through.  A local model missing a runtime file is in test_pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import realvad
from support.projects import config_of

from hatch_funasr import checks
from hatch_funasr._bundle_runtime import PROGRAMS
from hatch_funasr.errors import ConfigError
from hatch_funasr.pipeline import Plan

GOOD = """\
[build-system]
requires = ["hatch-funasr"]
build-backend = "hatchling.build"

[project]
name = "acme-vad-models"
version = "1"

[tool.hatch.build.targets.wheel.hooks.funasr]
{funasr}
[tool.funasr.models]
vad = {{ path = "models/vad" }}
"""


def check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HATCH_FUNASR_CACHE": str(project / "no-cache")}
    return subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "check", "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    realvad.write_model(tmp_path / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    (tmp_path / "pyproject.toml").write_text(GOOD.format(funasr=""))
    return tmp_path


def test_a_good_project_passes_with_its_sizes(project: Path) -> None:
    result = check(project)
    assert result.returncode == 0, result.stderr
    assert "sizes: 1.7 MiB of model files; largest vad/model.onnx (1.7 MiB)" in result.stdout
    assert "ok: the declaration is valid" in result.stdout


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("[tool.hatch.build.targets.wheel.hooks.funasr]\n", ""),
            "the build hook is not enabled: add [tool.hatch.build.targets.wheel.hooks.funasr] to pyproject.toml",
        ),
        (
            ('build-backend = "hatchling.build"', 'build-backend = "setuptools.build_meta"'),
            "build-system.build-backend is 'setuptools.build_meta'; the hook runs under \"hatchling.build\"",
        ),
        (
            ('requires = ["hatch-funasr"]', 'requires = ["hatchling"]'),
            'build-system.requires does not name "hatch-funasr": isolated builds',
        ),
    ],
)
def test_a_project_that_would_build_without_the_hook_fails(project: Path, edit: tuple[str, str], message: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(*edit))
    result = check(project)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr, result.stderr


def test_requirement_spellings_are_recognised() -> None:
    for spelled in ("hatch_funasr>=0.1", "Hatch.FunASR[quantize]", "hatch-funasr @ file:///w/h.whl"):
        pyproject = {
            "build-system": {"requires": [spelled], "build-backend": "hatchling.build"},
            "tool": {"hatch": {"build": {"hooks": {"funasr": {}}}}},
        }
        assert checks.build_system(pyproject) == ([], []), spelled


def test_an_import_name_owned_by_an_installed_distribution_fails(project: Path) -> None:
    """pytest is installed here; a bundle named so would overwrite it on install."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(GOOD.format(funasr='[tool.funasr]\npackage = "pytest"\n'))
    result = check(project)
    assert result.returncode == 1
    assert "package 'pytest' is already the import name of pytest in this environment" in result.stderr


@pytest.mark.parametrize("name", ["funasr_onnx", "onnxruntime", "torch", "json"])
def test_the_deployment_stacks_import_names_are_refused_by_the_declaration(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=f'tool.funasr.package: expected a Python package name, got "{name}"'):
        config_of(tmp_path, {"vad": "fsmn-vad"}, package=name)


def test_pypi_limit_and_max_file_size(project: Path) -> None:
    # A 150 MiB weights file (sparse: no bytes written) in the local model.
    with (project / "models" / "vad" / "model.onnx").open("r+b") as f:
        f.truncate(150 * 2**20)
    result = check(project)
    assert result.returncode == 0, result.stderr
    assert "PyPI refuses files over 100 MiB" in result.stdout
    pyproject = project / "pyproject.toml"
    pyproject.write_text(GOOD.format(funasr='[tool.funasr]\nmax-file-size = "100 MiB"\n'))
    result = check(project)
    assert result.returncode == 1
    assert "model vad: model.onnx is 150.0 MiB, over max-file-size (100.0 MiB)" in result.stderr


def _plan(name: str, target: str, shipped: tuple[tuple[str, int | None], ...]) -> Plan:
    return Plan(name, "src", "paraformer", "onnx", (), target, shipped=shipped)


def test_release_fat32_and_windows_path_limits(tmp_path: Path) -> None:
    config = config_of(tmp_path, {"asr": "paraformer-zh"})
    big = [_plan("asr", "acme/models/asr", (("model.onnx", 3 * 2**30), ("model_quant.onnx", 2 * 2**30)))]
    notes, problems = checks.size_limits(config, big)
    assert problems == []
    assert any("too large for one GitHub release asset" in n for n in notes), notes
    assert any("a FAT32 USB disk cannot hold the wheel" in n for n in notes), notes
    deep = "acme/models/" + "x" * 150
    long = [_plan("nano", deep, (("Qwen3-0.6B/tokenizer_config.json", 100), ("model.pt", None)))]
    notes, _ = checks.size_limits(config, long)
    assert any(n.startswith("1 installed path(s) longer than 180 characters") for n in notes), notes
    assert any("files made by the build (export, quantization) not counted" in n for n in notes), notes
    small = [_plan("vad", "acme/models/vad", (("model_quant.onnx", 2**20),))]
    notes, _ = checks.size_limits(config, small)
    assert notes == ["sizes: 1.0 MiB of model files; largest vad/model_quant.onnx (1.0 MiB)"]
    notes, _ = checks.size_limits(config, [_plan("vad", "acme/models/vad", ())])
    assert notes == ["sizes: unknown until `hatch-funasr lock` (or a build) lists the hub repositories"]


def test_check_lists_every_program_the_bundle_runtime_starts_and_its_extras(project: Path) -> None:
    """A VAD bundle: every FunASR C++ program the runtime knows is listed, the single-model tools
    too (funasr-onnx-offline-vad is the one that runs it), each "no" with why; and the extra
    that brings its Python runtime."""
    result = check(project)
    assert result.returncode == 0, result.stdout + result.stderr
    programs = result.stdout.split("FunASR's C++ programs (`python -m acme_vad_models exec-server PROGRAM`):\n")[1]
    lines = programs.split("\n\n")[0].splitlines()
    assert [line.split(":")[0].strip() for line in lines] == list(PROGRAMS)  # every one the runtime starts
    assert len(PROGRAMS) == 8
    assert "  funasr-onnx-offline-vad: yes" in lines
    assert (
        "  funasr-onnx-offline-punc: no; needs a punctuation model (--punc-dir): it is the one model it runs; "
        "the bundle has none"
    ) in lines
    assert (
        '  funasr-wss-server: no; needs an offline ASR model (--model-dir): "" makes it load /config.yaml and exit '
        "(util.cpp:76-91, paraformer.cpp:170-178); the bundle has none"
    ) in lines
    assert (
        "Python runtimes, extras of the wheel (on the server, or into the wheelhouse you carry):\n"
        '  pip install "acme-vad-models[onnx]"  (funasr-onnx>=0.4.3, onnxruntime>=1.7.0, numpy<=1.26.4)\n'
    ) in result.stdout
