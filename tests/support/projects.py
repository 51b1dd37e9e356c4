"""Fixture projects and the ways tests build them: in process, with the CLI, with real frontends.

Shared by the test modules (none imports another test module).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config, parse
from hatch_funasr.context import BuildContext
from hatch_funasr.lock import Lock, read_lock
from hatch_funasr.model import BundleConfig, StagedModel
from hatch_funasr.pipeline import prepare_bundle
from hatch_funasr.settings import Report, silent
from support.runtimes import stop_process
from support.speech import Utterance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: The real FSMN-VAD, published on the loopback hub under ModelScope's and a Hugging Face name.
VAD_ONNX_REPO = "iic/speech_fsmn_vad_zh-cn-16k-common-onnx"
VAD_HF_REPO = "acme/fsmn-vad-onnx"
#: A dead endpoint: anything that tries the network there fails at once.
DEAD = "http://127.0.0.1:9"
#: What a build ships of the catalog's FSMN-VAD: the official repository is quantized only.
RUNTIME = ("am.mvn", "config.yaml", "model_quant.onnx")
#: The model file of that repository (the large one, for faults and tampering).
MODEL = "model_quant.onnx"

#: As a deployer runs an installed bundle: quantized or not, as the manifest says it serves.
RUN_VAD = """
import json, sys
import acme_vad_models as bundle
from funasr_onnx import Fsmn_vad
quantized = bundle.manifest()["models"][sys.argv[1]]["runtime"] == "quantized"
model = Fsmn_vad(bundle.path(sys.argv[1]), quantize=quantized)
print(json.dumps(model(sys.argv[2])))
"""


def config_of(root: Path, models: dict[str, Any], name: str = "acme-asr-models", **tool: Any) -> BundleConfig:
    """A parsed declaration of ``models`` (as ``[tool.funasr.models]``), rooted at ``root``."""
    pyproject = {"project": {"name": name, "version": "1.2.3"}, "tool": {"funasr": {**tool, "models": models}}}
    return parse(pyproject, root, {})


def stage(
    config: BundleConfig,
    tmp: Path,
    *,
    cache: Cache | None = None,
    offline: bool | None = None,
    lock: Lock | None = None,
    report: Report = silent,
) -> tuple[Path, list[StagedModel]]:
    """Run the pipeline in process, staging the package under ``tmp/wheel``."""
    ctx = BuildContext.create(tmp / "work", cache=cache, offline=offline, lock=lock, report=report)
    pkg, staged, _manifest = prepare_bundle(config, ctx, tmp / "wheel")
    return pkg, staged


def stage_project(project: Path, tmp: Path, **kwargs: Any) -> Path:
    """Stage a project the way the hook does (its pyproject and funasr.lock); the package dir."""
    root = project.resolve()
    pkg, _ = stage(load_config(root), tmp, lock=read_lock(root), **kwargs)
    return pkg


def make_project(tmp_path: Path, models: str | None = None, name: str = "project") -> Path:
    """A copy of ``tests/fixtures/vad-bundle``, its ``[tool.funasr.models]`` replaced by ``models``."""
    dest = tmp_path / name
    shutil.copytree(FIXTURES / "vad-bundle", dest)
    if models is not None:
        text = (dest / "pyproject.toml").read_text()
        (dest / "pyproject.toml").write_text(text.split("[tool.funasr.models]")[0] + "[tool.funasr.models]\n" + models)
    return dest


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; a failure is an AssertionError with its output."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m hatch_funasr ARGS`` in ``project`` (not checked)."""
    return subprocess.run(
        [sys.executable, "-m", "hatch_funasr", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def lock_project(project: Path) -> None:
    result = cli(project, "lock")
    assert result.returncode == 0, result.stderr


def wheel_build(project: Path, **env: str) -> Path:
    """``python -m build --wheel --no-isolation`` (the hook as hatchling runs it); the wheel."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return next((project / "dist").glob("*.whl"))


def only_wheel(dist: Path) -> Path:
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def offline_env() -> dict[str, str]:
    """The environment of a deployment host: no hub reachable."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "MODELSCOPE_ENDPOINT": DEAD, "HF_ENDPOINT": DEAD}


def install_and_run_vad(wheel: Path, python: Path, utterance: Utterance, name: str = "vad") -> list[list[int]]:
    """``pip install --no-index`` the wheel into ``python``'s venv, run funasr_onnx's Fsmn_vad on
    model ``name`` of package acme_vad_models, verify; the speech segments found."""
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index", str(wheel)],
        cwd=wheel.parent,
    )
    out = run([str(python), "-c", RUN_VAD, name, str(utterance.wav)], cwd=wheel.parent, env=offline_env())
    segments: list[list[int]] = json.loads(out.stdout.strip().splitlines()[-1])[0]
    assert segments, "the VAD found no speech"
    run([str(python), "-m", "acme_vad_models", "verify"], cwd=wheel.parent)
    return segments


def assert_brackets_speech(segments: list[list[int]], utt: Utterance) -> None:
    """One segment covers the utterance; the silence around it is not speech."""
    start, end = segments[0][0], segments[-1][1]
    assert start <= utt.speech_start_ms + 100, (segments, utt)
    assert end >= utt.speech_end_ms - 100, (segments, utt)
    assert start >= utt.speech_start_ms - 800, (segments, utt)
    assert end <= utt.speech_end_ms + 1000, (segments, utt)


def assert_record_matches(zf: zipfile.ZipFile) -> None:
    """Every file is in RECORD (read as CSV) with its real sha256 and size, and nothing else is."""
    record_name = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    rows = {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(zf.read(record_name).decode())) if row}
    assert set(rows) == set(zf.namelist())
    for name, (digest, size) in rows.items():
        if name == record_name:
            continue
        data = zf.read(name)
        expected = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, size) == (expected, str(len(data))), name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def package_index(packages: Path, log: Path) -> Iterator[str]:
    """A real package index (pypiserver on loopback, no fallback to PyPI) serving the wheels in
    ``packages``, every request it answers logged to ``log``; yields its ``/simple/`` URL."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-p",
            str(port),
            "-i",
            "127.0.0.1",
            "--disable-fallback",
            "--log-file",
            str(log),
            "-v",
            str(packages),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"pypiserver did not start on {url} (exit {server.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(server)
