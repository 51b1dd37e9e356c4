"""The README's first command, `nox -s demo` (tests/tools/demo.py), end to end: a broken demo fails here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import prereqs, realvad
from tools import demo

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_with_an_empty_home(tmp_path: Path) -> None:
    """As a new user runs it: an empty home directory (the kept test data and venvs stay where
    they are, so the run costs seconds), its summary says what was built, installed and run."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "HATCH_FUNASR_TEST_DATA": str(realvad.data_dir())}
    for key in ("HATCH_FUNASR_CACHE", "HF_HOME", "MODELSCOPE_CACHE", "XDG_CACHE_HOME"):
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "tools" / "demo.py")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^built: +acme_vad_models-2026\.11\.0-py3-none-any\.whl \(0\.\d MiB\)", out, re.M), out
    assert "acme_vad_models verify: ok: 3 files match the manifest" in out, out
    assert "funasr_onnx 0.4.3 Fsmn_vad(path('vad'), quantize=True)" in out, out
    found = re.search(r"speech at (\d+)-(\d+) ms of \d+ ms; found \[\[(\d+), (\d+)\]", out)
    assert found is not None, out
    start, end, first, last = map(int, found.groups())
    assert first <= start + 100 and last >= end - 100, out
    assert re.search(
        r"^C\+\+: +funasr-onnx-offline-vad --model-dir \S+/acme_vad_models/models/vad --quantize true$", out, re.M
    )
    assert out.rstrip().endswith("DEMO OK"), out
    assert len(out.splitlines()) <= 12, out  # a few lines a person reads


def test_a_failing_step_shows_its_output_and_keeps_the_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The build of a project with a mistake fails: the demo prints the command, the build's own
    error line, and where its work directory was kept."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tests" / "fixtures" / "vad-bundle", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('revision = "v2.0.4" }', 'revision = "v2.0.4", family = "vad" }')
    )
    assert demo.main(project) == 1
    err = capsys.readouterr().err
    assert re.search(r"DEMO FAILED: \S+ -m build --wheel --no-isolation --outdir dist \. exited 1; its output", err), (
        err
    )
    assert re.search(
        r'tool\.funasr\.models\.vad\.family: expected "paraformer-contextual", .*, got "vad" \(did you mean "fsmn-vad"\?\)',
        err,
    ), err
    assert err.split("the reason it gave:\n")[1].startswith(
        "    hatch-funasr: cannot build the wheel of acme-vad-models: invalid FunASR model declaration"
    ), err
    kept = re.search(r"^work directory kept: (\S+)$", err, re.M)
    assert kept is not None, err
    assert (Path(kept[1]) / "project" / "pyproject.toml").is_file()
    shutil.rmtree(kept[1])


def test_missing_prerequisites_are_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "sox").write_text("#!/bin/sh\n")
    (tmp_path / "sox").chmod(0o755)
    assert prereqs.missing(str(tmp_path)) == ["espeak-ng", "strace"]
    assert prereqs.message(["espeak-ng", "strace"], "the demo") == (
        "the demo needs espeak-ng, sox, strace; not found on PATH: espeak-ng, strace "
        "(Debian/Ubuntu: sudo apt-get install espeak-ng strace)"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "tools" / "demo.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "DEMO NOT RUN: the demo needs espeak-ng, sox, strace; not found on PATH: espeak-ng, strace "
        "(Debian/Ubuntu: sudo apt-get install espeak-ng strace)\n"
    )
    assert result.stdout == ""


def test_the_suite_names_missing_prerequisites_before_any_test(tmp_path: Path) -> None:
    """conftest checks the programs first: one line saying what to install, no test run."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_names.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "ERROR: the test suite needs espeak-ng, sox, strace; not found on PATH: espeak-ng, sox, strace "
        "(Debian/Ubuntu: sudo apt-get install espeak-ng sox strace)"
    )
    assert "passed" not in result.stdout
