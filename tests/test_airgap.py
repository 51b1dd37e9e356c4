"""docs/guides/air-gap.md walked as it is written: its command blocks run as they stand, the
connected side against the loopback hub, the server side in a fresh venv that sees only the
carried directory (no index, no pip configuration, dead hub endpoints), ending with
funasr_onnx finding the speech of an espeak-ng utterance.  The runtime's wheels come from
the index (pip's cache after a first run)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.projects import assert_brackets_speech, make_project, offline_env
from support.speech import Utterance

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guides" / "air-gap.md"


def block(name: str) -> str:
    """The ```bash block that follows ``<!-- recipe: NAME`` in the guide."""
    after = GUIDE.read_text().split(f"<!-- recipe: {name}", 1)[1]
    found = re.search(r"```bash\n(.*?)```", after, re.S)
    assert found is not None, f"no bash block after the {name} recipe marker"
    return found[1]


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{script}\nfailed:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_air_gap_guide_as_written(
    hub_env: dict[str, str], wheelhouse: Path, utterance: Utterance, tmp_path: Path
) -> None:
    tools = str(Path(sys.executable).parent)  # hatch-funasr, uv and a python3 with pip, as the guide assumes
    project = make_project(tmp_path / "connected", name="acme-vad-models")
    connected = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "PIP_FIND_LINKS": " ".join(filter(None, [str(wheelhouse), os.environ.get("PIP_FIND_LINKS")])),
        "UV_FIND_LINKS": str(wheelhouse),
    }
    bash(block("air-gap connected"), project, connected)
    assert (project / "funasr.lock").is_file()
    carried = sorted(p.name for p in (project / "carry").iterdir())
    assert all(name.endswith(".whl") for name in carried), carried  # wheels only: nothing to build there
    names = {re.sub(r"-.*", "", name).lower() for name in carried}
    assert {"acme_vad_models", "funasr_onnx", "onnxruntime", "numpy", "jieba"} <= names, carried
    assert next(n for n in carried if n.startswith("numpy-")).startswith("numpy-1.")  # numpy<=1.26.4

    server = tmp_path / "server"
    shutil.copytree(project / "carry", server / "carry")
    shutil.copyfile(utterance.wav, server / "speech.wav")
    far = {k: v for k, v in offline_env().items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    far |= {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "PIP_CONFIG_FILE": os.devnull}
    out = bash(block("air-gap server"), server, far).stdout.splitlines()
    assert "ok: 3 files match the manifest" in out, out
    segments = ast.literal_eval(out[-1])[0]
    assert_brackets_speech(segments, utterance)
