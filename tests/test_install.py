"""Installing the `hatch-funasr` command before it is on an index: the recipe of
docs/guides/install.md, run as it is written (a fresh home, uv's tool install from a
wheelhouse), and every bundle README giving the same recipe."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tools.bundles import bundle_dirs

from hatch_funasr import __version__

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guides" / "install.md"


def recipe(text: str, name: str) -> list[str]:
    """The lines of the ```bash block that follows ``<!-- recipe: NAME``."""
    after = text.split(f"<!-- recipe: {name}", 1)[1]
    block = re.search(r"```bash\n(.*?)```", after, re.S)
    assert block is not None, f"no bash block after the {name} recipe marker"
    return block[1].splitlines()


@pytest.mark.e2e
def test_the_install_recipe_gives_a_working_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "UV_", "PIP_FIND", "VIRTUAL_ENV"))}
    env |= {
        "HOME": str(home),
        # the machine's download caches, so the run costs no downloads a first run made already
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        # uv and a python3 with pip (this test's venv) first; the tool's bin directory is not on PATH yet
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    lines = recipe(GUIDE.read_text(), "install")
    script = "set -euo pipefail\n" + "\n".join(lines).replace(
        "hatch-funasr --version", "~/.local/bin/hatch-funasr --version"
    )
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"hatch-funasr {__version__}"
    wheels = [p.name for p in (home / "wheelhouse").iterdir()]
    assert wheels == [f"hatch_funasr-{__version__}-py3-none-any.whl"]
    command = home / ".local" / "bin" / "hatch-funasr"
    tool_python = command.resolve().read_text().splitlines()[0] if command.resolve().suffix != ".exe" else ""
    assert str(home / ".local" / "share" / "uv" / "tools" / "hatch-funasr") in tool_python  # its own environment
    check = subprocess.run(
        [str(command), "check", "--project", str(ROOT / "tests" / "fixtures" / "vad-bundle")],
        env={**env, "HATCH_FUNASR_OFFLINE": "1", "HATCH_FUNASR_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.rstrip().endswith("ok: the declaration is valid (no network was used)")

    # With no index: the wheelhouse completed on the connected side, the tool installed from it
    # alone on another machine (a new home, an empty uv cache, uv offline).
    download, install = recipe(GUIDE.read_text(), "install-offline")
    subprocess.run(["bash", "-c", download], cwd=ROOT, env=env, check=True, capture_output=True)
    other = tmp_path / "other-home"
    shutil.copytree(home / "wheelhouse", other / "wheelhouse")
    far = {**env, "HOME": str(other), "UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "PIP_NO_INDEX": "1"}
    result = subprocess.run(
        ["bash", "-c", f"{install} && ~/.local/bin/hatch-funasr --version"], env=far, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"hatch-funasr {__version__}\n"


@pytest.mark.parametrize("project", bundle_dirs(), ids=lambda p: p.name)
def test_bundle_readmes_give_the_install_recipe(project: Path) -> None:
    """Each bundle README installs the command as the guide does (not `pip install hatch-funasr`,
    which fails while hatch-funasr is on no index), before the lines that use it."""
    text = (project / "README.md").read_text()
    lines = [line for line in recipe(GUIDE.read_text(), "install") if line != "hatch-funasr --version"]
    block = text.split("## Build (connected machine), install (air-gapped server)", 1)[1].split("```bash\n", 1)[1]
    block = block.split("```", 1)[0].splitlines()
    starts = [next((i for i, b in enumerate(block) if b.split("  #")[0].rstrip() == line), -1) for line in lines]
    assert -1 not in starts and starts == sorted(starts), (project.name, lines, block)
    assert starts[-1] < next(i for i, b in enumerate(block) if b.startswith("hatch-funasr lock"))
    assert "pip install hatch-funasr" not in text
    assert "docs/guides/install.md" in text
