"""Distribution across the air gap: a bundle wheel served by a real package index
(pypiserver on loopback) installs with plain ``pip install --index-url``, and the
``pip download`` -> carry -> ``pip install --no-index --find-links`` route works too.
Both end with the real FSMN-VAD running from the installed package."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hubserver import LoopbackHub
from support.projects import RUN_VAD, assert_brackets_speech, make_project, package_index, run
from support.speech import Utterance
from tools.bundles import build_env

pytestmark = pytest.mark.e2e
PACKAGE = "acme-vad-models"


@pytest.fixture(scope="module")
def bundle_wheel(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture bundle built once against the loopback hub."""
    work = tmp_path_factory.mktemp("dist-build")
    proj = make_project(work)
    env = build_env(hub, work / "cache")
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], cwd=proj, env=env)
    return next((proj / "dist").glob("*.whl"))


@pytest.fixture(scope="module")
def index(bundle_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """pypiserver serving a directory with the bundle wheel; yields its /simple/ URL and its log."""
    packages = tmp_path_factory.mktemp("index")
    shutil.copy(bundle_wheel, packages)
    log = packages.parent / "pypiserver.log"
    with package_index(packages, log) as url:
        yield url, log


def pip(python: Path | None, *args: str, cwd: Path) -> None:
    target = ["--python", str(python)] if python is not None else []
    run([sys.executable, "-m", "pip", *target, *args, "--quiet", "--disable-pip-version-check"], cwd=cwd)


def run_installed_vad(python: Path, utterance: Utterance, cwd: Path) -> None:
    """Offline (dead hub endpoints): run the VAD from the installed package, then verify it."""
    offline = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELSCOPE_ENDPOINT": "http://127.0.0.1:9"}
    out = run([str(python), "-c", RUN_VAD, "vad", str(utterance.wav)], cwd=cwd, env=offline)
    segments = json.loads(out.stdout.strip().splitlines()[-1])[0]
    assert_brackets_speech(segments, utterance)
    assert "ok" in run([str(python), "-m", "acme_vad_models", "verify"], cwd=cwd).stdout


def test_install_from_a_private_index(
    index: tuple[str, Path], fresh_venv: Path, utterance: Utterance, tmp_path: Path
) -> None:
    url, log = index
    pip(fresh_venv, "install", "--index-url", url, PACKAGE, cwd=tmp_path)
    served = log.read_text()
    assert "GET /packages/acme_vad_models-2026.11.0-py3-none-any.whl" in served, served  # from the index
    run_installed_vad(fresh_venv, utterance, tmp_path)


def test_download_carry_and_install_with_find_links(
    index: tuple[str, Path], bundle_wheel: Path, fresh_venv: Path, utterance: Utterance, tmp_path: Path
) -> None:
    url, _ = index
    carry = tmp_path / "usb-stick"
    pip(None, "download", "--no-deps", "--index-url", url, "--dest", str(carry), PACKAGE, cwd=tmp_path)
    downloaded = list(carry.iterdir())
    assert [p.name for p in downloaded] == [bundle_wheel.name]
    assert downloaded[0].read_bytes() == bundle_wheel.read_bytes()
    # The far side: no index at all.
    pip(fresh_venv, "install", "--no-index", "--find-links", str(carry), PACKAGE, cwd=tmp_path)
    run_installed_vad(fresh_venv, utterance, tmp_path)
