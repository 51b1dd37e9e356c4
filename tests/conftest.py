"""Shared fixtures: the loopback hub, the real FSMN-VAD, speech, wheels of hatch-funasr, venvs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import hubrepos, prereqs, projects, realvad, speech, venvs
from support.hubserver import LoopbackHub, RepoStore
from support.projects import VAD_HF_REPO, VAD_ONNX_REPO

from hatch_funasr import pipeline, plugin
from hatch_funasr.context import BuildContext
from hatch_funasr.model import BundleConfig

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """The programs the suite runs are there, before any test starts (one line saying what to install)."""
    absent = prereqs.missing()
    if absent:
        raise pytest.UsageError(prereqs.message(absent, "the test suite"))


BOOKKEEPING = {"README.md": b"# FSMN-VAD\n", ".gitattributes": b"*.onnx filter=lfs\n", "fig/struct.png": b"\x89PNG"}


@pytest.fixture(scope="session", autouse=True)
def _session_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This test session's own key for signed derived-file records, hatch-funasr cache and hub
    client homes: never the user's, so a machine that ran the tests before (a warm
    ~/.cache/hatch-funasr with cached exports and quantizations) runs them as a fresh one does.
    Tests that need a cache of their own still set one (``hub_env``)."""
    root = tmp_path_factory.mktemp("session-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HATCH_FUNASR_KEY_FILE", str(root / "cache.key"))
        mp.setenv("HATCH_FUNASR_CACHE", str(root / "hatch-funasr-cache"))
        mp.setenv("HF_HOME", str(root / "hf-home"))
        mp.setenv("MODELSCOPE_CACHE", str(root / "ms-home"))
        yield


@pytest.fixture(autouse=True)
def _check_agrees_with_every_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bundle a test stages in process (through the pipeline, the hook, or the test helpers)
    is planned again afterwards as `hatch-funasr check` plans it, from what the build left (the
    lock, the cache, the local directories), and the two must agree: the same files shipped, the
    same exports and quantizations, the same runtime mode.  So `check` is tested against the build
    on every declaration of the test suite."""
    real = pipeline.prepare_bundle

    def checked(config: BundleConfig, ctx: BuildContext, staging: Path, **kwargs: Any) -> Any:
        result = real(config, ctx, staging, **kwargs)
        plans = {p.name: p for p in pipeline.plan(config, lock=ctx.lock, cache=ctx.cache)}
        for staged in result[1]:
            plan, selection = plans[staged.config.name], staged.selection
            assert selection is not None and plan.listing is not None, plan
            check = ([f for f, _ in plan.shipped], plan.exports, plan.quantizes, plan.runtime, plan.problems)
            build = (list(selection.ship), bool(selection.export), bool(selection.quantize), selection.runtime, ())
            assert check == build, f"model {plan.name}: check plans {check}, the build did {build}"
        return result

    for module in (pipeline, plugin, projects):
        monkeypatch.setattr(module, "prepare_bundle", checked)


@pytest.fixture(scope="session")
def vad_files() -> dict[str, bytes]:
    return realvad.model_files()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHub]:
    """A loopback server speaking both hub protocols.  The catalog's FSMN-VAD repository is
    published as the real one is (the real model, quantized only, tags v2.0.4 and v2.0.6:
    support/hubrepos.py); ``acme/fsmn-vad-onnx`` on Hugging Face is a user's copy of v2.0.4."""
    store = RepoStore(tmp_path_factory.mktemp("hub"))
    revisions = hubrepos.publish(store, VAD_ONNX_REPO, tmp_path_factory.mktemp("standins"))
    store.publish(VAD_HF_REPO, revisions["v2.0.4"] | BOOKKEEPING, revision="main", tags=["v2.0.4"])
    # Licences as each hub spells them: ModelScope a display name (modelscope_hub's api.py maps
    # "Apache License 2.0" and the like to SPDX ids when it creates repositories), Hugging Face
    # the card's lowercase id.
    store.describe(VAD_ONNX_REPO, license="Apache License 2.0")
    store.describe(VAD_HF_REPO, license="apache-2.0")
    with LoopbackHub(store) as server:
        yield server


@pytest.fixture(scope="session")
def vad_repo(hub: LoopbackHub) -> dict[str, bytes]:
    """What the catalog's FSMN-VAD repository (and its Hugging Face copy) holds at v2.0.4."""
    return hubrepos.PUBLISHED[VAD_ONNX_REPO]["v2.0.4"]


@pytest.fixture(autouse=True)
def _hub_had_no_internal_error(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test whose loopback hub failed internally fails too (a 500 the client retried, say)."""
    hub = request.getfixturevalue("hub") if "hub" in request.fixturenames else None
    if hub is not None:
        hub.take_errors()
    yield
    if hub is not None:
        errors = hub.take_errors()
        assert not errors, "the loopback hub failed internally:\n" + "\n".join(errors)


@pytest.fixture
def hub_env(hub: LoopbackHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing both clients at the loopback hub and the plugin at a fresh cache."""
    env = {
        "HF_ENDPOINT": hub.url,
        "MODELSCOPE_ENDPOINT": hub.url,
        "HATCH_FUNASR_CACHE": str(tmp_path / "cache"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "MODELSCOPE_CACHE": str(tmp_path / "ms-home"),
        "SOURCE_DATE_EPOCH": "1767225600",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HATCH_FUNASR_OFFLINE", raising=False)
    return env


@pytest.fixture(scope="session")
def utterance(tmp_path_factory: pytest.TempPathFactory) -> speech.Utterance:
    return speech.make_utterance(tmp_path_factory.mktemp("speech") / "utterance.wav")


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a wheel of this checkout of hatch-funasr, for isolated builds' find-links."""
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def funasr_onnx_site() -> Path:
    """site-packages of the kept venv with funasr_onnx (support/venvs.py: keyed by its recipe, checked before use)."""
    return venvs.purelib(venvs.ensure(venvs.FUNASR_ONNX))


@pytest.fixture
def fresh_venv(tmp_path: Path, funasr_onnx_site: Path) -> Path:
    """A new venv that sees funasr_onnx (through a .pth) and nothing of the build environment."""
    return venvs.deploy_venv(tmp_path / "deploy-venv", funasr_onnx_site)


@pytest.fixture(scope="session")
def export_python() -> Path:
    """A Python with torch (CPU) and funasr for export: HATCH_FUNASR_EXPORT_PYTHON (checked, never
    rebuilt: it is the caller's), or the kept venv of support/venvs.py."""
    configured = os.environ.get("HATCH_FUNASR_EXPORT_PYTHON")
    if configured:
        problem = venvs.check(Path(configured), venvs.EXPORT)
        if problem is not None:
            pytest.fail(f"HATCH_FUNASR_EXPORT_PYTHON cannot export: {problem}")
        return Path(configured)
    return venvs.ensure(venvs.EXPORT)
