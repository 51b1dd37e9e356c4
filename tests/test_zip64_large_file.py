"""A 4.5 GiB model file packs (zip64, stored, one pass) and installs with pip."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SIZE = 4 * 2**30 + 2**29  # 4.5 GiB


def _write_big(path: Path, size: int) -> None:
    """A file of ``size`` bytes of non-repeating data, written in 64 MiB chunks."""
    block = bytes(range(256)) * (2**18)  # 64 MiB
    with path.open("wb") as f:
        written = 0
        counter = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            f.write(counter.to_bytes(8, "little") + chunk[8:])
            written += len(chunk)
            counter += 1


def test_four_and_a_half_gib_file_packs_and_installs(tmp_path: Path, fresh_venv: Path) -> None:
    project = tmp_path / "big"
    lm = project / "models" / "lm"
    lm.mkdir(parents=True)
    (lm / "config.yaml").write_text("lm_type: ngram\n")
    (lm / "lexicon.txt").write_text("你 n i3\n")
    _write_big(lm / "TLG.fst", SIZE)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "acme-big-lm"\nversion = "1"\n[tool.hatch.build.targets.wheel.hooks.funasr]\n'
        '[tool.funasr.models]\nlm = { path = "models/lm", family = "ngram-lm" }\n'
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        check=True,
        capture_output=True,
    )
    wheel = next((project / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("acme_big_lm/models/lm/TLG.fst")
        assert info.file_size == SIZE and info.compress_type == zipfile.ZIP_STORED
    assert wheel.stat().st_size > SIZE
    (lm / "TLG.fst").unlink()  # keep the disk use down: the wheel is the source from here
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh_venv), "install", "-q", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    wheel.unlink()
    out = subprocess.run([str(fresh_venv), "-m", "acme_big_lm", "verify"], check=True, capture_output=True, text=True)
    assert "ok: 3 files match the manifest" in out.stdout
