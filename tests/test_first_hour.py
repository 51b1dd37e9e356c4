"""Mistakes of a new user's first hour, each caught before anything slow with one clear message:
offline settings honoured by `lock` and `fetch` (the loopback hub's request log shows that
nothing was sent), and a failing build said through hatchling's display, not only in the
frontend's traceback; a project's own extra not overwritten by the bundle's runtime extras.
(Declaration mistakes: test_config; `check`'s program list: test_cli_check;
the prerequisites and the demo: test_demo.)"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from support.hubserver import LoopbackHub
from support.projects import VAD_ONNX_REPO, cli, make_project

LOCK_OFFLINE = (
    "error: offline (HATCH_FUNASR_OFFLINE=1): no hub was contacted, and locking "
    f"vad (ms:{VAD_ONNX_REPO}@v2.0.4) needs one (a revision resolved to its commit, each file hashed); "
    "run `hatch-funasr lock` on a connected machine, without HATCH_FUNASR_OFFLINE\n"
)
FETCH_OFFLINE = "offline (HATCH_FUNASR_OFFLINE=1): no hub is contacted; checking that the cache holds every file\n"


def test_lock_and_fetch_honour_offline_and_say_so(hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path) -> None:
    project = make_project(tmp_path)
    before = len(hub.requests)
    locked = cli(project, "lock", HATCH_FUNASR_OFFLINE="1")
    assert (locked.returncode, locked.stderr) == (1, LOCK_OFFLINE)
    assert not (project / "funasr.lock").exists()
    fetched = cli(project, "fetch", HATCH_FUNASR_OFFLINE="1")
    assert fetched.returncode == 1
    assert fetched.stderr.startswith(FETCH_OFFLINE + "error: an offline build of hub models (vad) needs funasr.lock")
    assert hub.requests[before:] == []  # nothing sent
    # Online, lock fills the cache; offline, fetch then finds every file there, again sending nothing.
    assert cli(project, "lock").returncode == 0
    before = len(hub.requests)
    fetched = cli(project, "fetch", HATCH_FUNASR_OFFLINE="1")
    assert (fetched.returncode, fetched.stderr) == (0, FETCH_OFFLINE), fetched.stderr
    assert fetched.stdout.startswith(f"vad: {VAD_ONNX_REPO}@"), fetched.stdout
    assert " 3 files, 0.5 MiB cached\n" in fetched.stdout
    # A lock whose entries all stand needs no hub: offline it is kept as it is.
    locked = cli(project, "lock", HATCH_FUNASR_OFFLINE="1")
    assert (locked.returncode, locked.stdout) == (0, f"{project.resolve() / 'funasr.lock'}: unchanged (1 model(s))\n")
    # An empty cache offline: fetch names what is missing, still without a request.
    empty = cli(project, "fetch", HATCH_FUNASR_OFFLINE="1", HATCH_FUNASR_CACHE=str(tmp_path / "empty"))
    assert empty.returncode == 1
    assert empty.stderr.startswith(FETCH_OFFLINE + "error: offline build (HATCH_FUNASR_OFFLINE=1) but the cache lacks:")
    assert hub.requests[before:] == []


def test_a_failing_build_says_so_in_one_hatch_funasr_line(tmp_path: Path) -> None:
    """The line comes from hatchling's display (before the traceback the frontend prints)."""
    project = make_project(tmp_path, 'vad = { model = "fsmn-vad", revision = "v2.0.4", hub = "modelscope" }\n')
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    said = (
        "hatch-funasr: cannot build the wheel of acme-vad-models: invalid FunASR model declaration in "
        "pyproject.toml (1 problem):\n"
        '  - tool.funasr.models.vad.hub: expected "ms" or "hf", got "modelscope"\n'
    )
    assert said in output, output
    assert output.index(said) < output.index("Traceback"), output


def test_a_project_s_own_extra_of_the_same_name_is_kept(hub_env: dict[str, str], tmp_path: Path) -> None:
    """The bundle's runtime extras never overwrite what the project declares itself; the build says so."""
    project = make_project(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        "[tool.hatch.build", '[project.optional-dependencies]\nonnx = ["funasr-onnx==0.4.3"]\n\n[tool.hatch.build', 1
    )
    pyproject.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "hatch-funasr: project.optional-dependencies.onnx is the project's own; the bundle's runtime extra "
        "would be: funasr-onnx>=0.4.3, onnxruntime>=1.7.0, numpy<=1.26.4"
    ) in result.stdout + result.stderr
    with zipfile.ZipFile(next((project / "dist").glob("*.whl"))) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert [line for line in metadata.splitlines() if line.startswith(("Provides-Extra", "Requires-Dist"))] == [
        "Provides-Extra: onnx",
        "Requires-Dist: funasr-onnx==0.4.3; extra == 'onnx'",
    ]
