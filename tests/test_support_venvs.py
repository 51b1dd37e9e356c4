"""The kept test venvs (support/venvs.py): named by how they are built, checked before reuse,
rebuilt when broken, so a warm machine runs what a fresh one would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import venvs


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HATCH_FUNASR_TEST_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(venvs, "_ready", {})
    return tmp_path / "data"


def test_a_kept_venv_is_reused_while_it_works_and_rebuilt_when_it_does_not(data: Path) -> None:
    spec = venvs.VenvSpec("probe", steps=(), check="import json")
    python = venvs.ensure(spec)
    base = spec.directory()
    assert base.parent == data / "venvs" and base.name == f"probe-{spec.key()}"
    assert json.loads((base / "hatch-funasr-venv.json").read_text()) == spec.recipe()
    (base / "sentinel").write_text("the same venv")
    venvs._ready.clear()  # a later test run
    assert venvs.ensure(spec) == python and (base / "sentinel").exists()  # reused
    python.unlink()  # broken: its check no longer runs
    venvs._ready.clear()
    assert venvs.ensure(spec) == python and python.is_file()
    assert not (base / "sentinel").exists()  # rebuilt from nothing


def test_a_half_built_venv_or_another_recipe_is_not_reused(data: Path) -> None:
    spec = venvs.VenvSpec("probe", steps=(), check="import json")
    venvs.ensure(spec)
    record = spec.directory() / "hatch-funasr-venv.json"
    record.unlink()  # as a build killed before its end leaves it
    (spec.directory() / "sentinel").write_text("x")
    venvs._ready.clear()
    venvs.ensure(spec)
    assert record.is_file() and not (spec.directory() / "sentinel").exists()
    other = venvs.VenvSpec(
        "probe", steps=(("--no-index", "--find-links", str(data), "--no-deps", "nothing-here"),), check="import json"
    )
    assert other.key() != spec.key() and other.directory() != spec.directory()
    with pytest.raises(Exception, match=r"returned non-zero exit status"):
        venvs.ensure(other)  # an install step that fails is an error, not a venv taken as built
    assert not (other.directory() / "hatch-funasr-venv.json").exists()


def test_a_venv_whose_check_fails_after_building_is_an_error(data: Path) -> None:
    spec = venvs.VenvSpec("probe", steps=(), check="import module_that_is_not_installed")
    with pytest.raises(RuntimeError, match=r"(?s)the probe venv was built but does not work: .*ModuleNotFoundError"):
        venvs.ensure(spec)
    assert (
        venvs.check(spec.directory() / "nowhere" / "python", spec)
        == f"{spec.directory() / 'nowhere' / 'python'} does not exist"
    )
