"""The venvs tests run FunASR's own code in, kept between runs under ``$HATCH_FUNASR_TEST_DATA/venvs``.

A kept venv is named by a hash of how it is built (the pip install steps, in order, and this
Python's version and platform), and it is checked before every use: its imports must run.
One that fails the check, or was left half-built, is deleted and built again from nothing.
So a warm machine reuses a venv only where a fresh machine would build the same one, and a
broken venv never survives into the next run.

- :data:`FUNASR_ONNX`: ``funasr_onnx`` 0.4.3 and what its classes import (a deployment host).
- :data:`EXPORT`: torch (CPU) and FunASR, for export (``HATCH_FUNASR_EXPORT_PYTHON``), and gguf for
  FunASR's GGUF converters.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from support import realvad

__all__ = ["EXPORT", "FUNASR_ONNX", "VenvSpec", "check", "deploy_venv", "ensure", "purelib", "venv_python"]


@dataclass(frozen=True)
class VenvSpec:
    """How a kept venv is built and how it is checked."""

    name: str
    #: ``pip install`` arguments of each step, in order (torch first: its index decides the build).
    steps: tuple[tuple[str, ...], ...]
    #: Python code that must run in the venv before it is used (the imports the tests need).
    check: str

    def recipe(self) -> dict[str, object]:
        """Everything that decides what ends up installed: the key's input."""
        return {
            "name": self.name,
            "steps": [list(s) for s in self.steps],
            "python": sys.version,
            "implementation": sys.implementation.name,
            "platform": f"{sys.platform}-{platform.machine()}",
        }

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.recipe(), sort_keys=True).encode()).hexdigest()[:16]

    def directory(self) -> Path:
        return realvad.data_dir() / "venvs" / f"{self.name}-{self.key()}"


FUNASR_ONNX = VenvSpec(
    "funasr_onnx",
    steps=(("funasr_onnx==0.4.3",),),
    check=(
        "from funasr_onnx import (CT_Transformer, CT_Transformer_VadRealtime, ContextualParaformer, Fsmn_vad, "
        "Fsmn_vad_online, Paraformer, SenseVoiceSmall); import funasr_onnx.paraformer_online_bin, soundfile"
    ),
)
EXPORT = VenvSpec(
    "export",
    steps=(("torch==2.13.0",), ("funasr==1.4.16", "kaldi-native-fbank", "onnx", "onnxruntime", "gguf==0.19.0")),
    check="import torch, onnx, onnxruntime, kaldi_native_fbank, gguf; from funasr import AutoModel",
)


def venv_python(base: Path) -> Path:
    return base / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def purelib(python: Path) -> Path:
    """The site-packages directory of ``python``."""
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def deploy_venv(target: Path, runtime_site: Path, *, with_pip: bool = False) -> Path:
    """A new venv at ``target`` that sees ``runtime_site`` (a kept venv's site-packages, through a
    .pth) and nothing of the build environment: a deployment host with the runtime installed."""
    venv.EnvBuilder(with_pip=with_pip).create(target)
    python = venv_python(target)
    (purelib(python) / "funasr_onnx_runtime.pth").write_text(str(runtime_site) + "\n")
    return python


def check(python: Path, spec: VenvSpec) -> str | None:
    """Why ``python`` cannot serve ``spec`` (its check's error), or None when it can."""
    if not python.is_file():
        return f"{python} does not exist"
    result = subprocess.run([str(python), "-c", spec.check], capture_output=True, text=True)
    if result.returncode != 0:
        return f"{python} -c {spec.check!r} failed:\n{(result.stderr or result.stdout).strip()[-2000:]}"
    return None


def _complete(base: Path, spec: VenvSpec) -> bool:
    """Built to the end from this recipe (the record is written last) and still working."""
    try:
        recorded = json.loads((base / "hatch-funasr-venv.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == spec.recipe() and check(venv_python(base), spec) is None


#: Venvs checked (or built) by this process: checked once per test run, not once per use.
_ready: dict[VenvSpec, Path] = {}


def ensure(spec: VenvSpec) -> Path:
    """The Python of ``spec``'s venv: the kept one if it passes its check, else built anew."""
    if spec in _ready:
        return _ready[spec]
    base = spec.directory()
    base.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(base) + ".lock"):  # two test runs on one machine build it once
        if _complete(base, spec):
            _ready[spec] = venv_python(base)
            return _ready[spec]
        shutil.rmtree(base, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(base)
        python = venv_python(base)
        for step in spec.steps:
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *step], check=True)
        problem = check(python, spec)
        if problem is not None:
            raise RuntimeError(f"the {spec.name} venv was built but does not work: {problem}")
        (base / "hatch-funasr-venv.json").write_text(json.dumps(spec.recipe(), sort_keys=True), "utf-8")
    _ready[spec] = python
    return python
