"""End to end: build a bundle with the frontends users run, install it offline, run the real VAD.

Each test copies a fixture project, builds it against the loopback hub, installs the wheel
with ``pip --no-index`` into a fresh venv that has funasr_onnx, and runs ``Fsmn_vad`` on an
espeak-ng utterance with silence around it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import realvad
from support.projects import (
    RUNTIME,
    VAD_HF_REPO,
    VAD_ONNX_REPO,
    assert_brackets_speech,
    assert_record_matches,
    install_and_run_vad,
    make_project,
    only_wheel,
    run,
)
from support.speech import Utterance

pytestmark = pytest.mark.e2e


def assert_wheel_contents(wheel: Path, files: dict[str, bytes], runtime: tuple[str, ...] = RUNTIME) -> None:
    """The wheel holds exactly ``runtime`` of ``files`` (and the package), weights stored."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        models = sorted(n for n in names if n.startswith("acme_vad_models/models/"))
        assert models == [f"acme_vad_models/models/vad/{f}" for f in sorted(runtime)]
        for f in runtime:
            assert zf.read(f"acme_vad_models/models/vad/{f}") == files[f]
        for f in ("__init__.py", "__main__.py", "_funasr_runtime.py", "funasr_manifest.json"):
            assert f"acme_vad_models/{f}" in names
        onnx_file = next(f for f in runtime if f.endswith(".onnx"))
        assert zf.getinfo(f"acme_vad_models/models/vad/{onnx_file}").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("acme_vad_models/models/vad/am.mvn").compress_type == zipfile.ZIP_DEFLATED  # 8 KB text
        assert zf.getinfo("acme_vad_models/models/vad/config.yaml").compress_type == zipfile.ZIP_STORED  # under 4 KiB
        assert_record_matches(zf)
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "[funasr_models]\nacme_vad_models = acme_vad_models" in zf.read(entry_points).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    # Its runtime as an extra, and nothing required by the bundle itself.
    requires = [line for line in metadata.splitlines() if line.startswith(("Requires-Dist:", "Provides-Extra:"))]
    assert requires == [
        "Provides-Extra: onnx",
        "Requires-Dist: funasr-onnx>=0.4.3; extra == 'onnx'",
        "Requires-Dist: onnxruntime>=1.7.0; extra == 'onnx'",
        "Requires-Dist: numpy<=1.26.4; extra == 'onnx'",
    ], metadata


def test_hatch_build_from_modelscope(
    tmp_path: Path,
    hub_env: dict[str, str],
    wheelhouse: Path,
    fresh_venv: Path,
    utterance: Utterance,
    vad_repo: dict[str, bytes],
) -> None:
    proj = make_project(tmp_path)
    hatch = shutil.which("hatch") or str(Path(sys.executable).with_name("hatch"))
    env = {
        **os.environ,
        "PIP_FIND_LINKS": str(wheelhouse),
        "UV_FIND_LINKS": str(wheelhouse),
        "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
        "HATCH_CACHE_DIR": str(tmp_path / "hatch-cache"),
    }
    run([hatch, "build", "-t", "wheel"], cwd=proj, env=env)
    wheel = only_wheel(proj / "dist")
    assert_wheel_contents(wheel, vad_repo)
    manifest = json.loads(zipfile.ZipFile(wheel).read("acme_vad_models/funasr_manifest.json"))
    vad = manifest["models"]["vad"]
    assert vad["runtime"] == "quantized" and "quantized only" in vad["advice"][0]
    assert (vad["repo"], vad["hub"], vad["revision"], vad["family"]) == (VAD_ONNX_REPO, "ms", "v2.0.4", "fsmn-vad")
    assert len(vad["commit"]) == 40
    assert_brackets_speech(install_and_run_vad(wheel, fresh_venv, utterance), utterance)


def test_python_m_build_isolated_sdist_then_wheel_from_hf(
    tmp_path: Path,
    hub_env: dict[str, str],
    wheelhouse: Path,
    fresh_venv: Path,
    utterance: Utterance,
    vad_repo: dict[str, bytes],
) -> None:
    proj = make_project(tmp_path, f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n')
    env = {**os.environ, "PIP_FIND_LINKS": str(wheelhouse)}
    run([sys.executable, "-m", "build", "--outdir", "dist", "."], cwd=proj, env=env)
    sdists = list((proj / "dist").glob("*.tar.gz"))
    assert len(sdists) == 1
    with __import__("tarfile").open(sdists[0]) as tf:
        members = tf.getnames()
    assert any(m.endswith("/pyproject.toml") for m in members)
    assert not any(m.endswith(".onnx") for m in members), "models must not travel in the sdist"
    wheel = only_wheel(proj / "dist")
    assert_wheel_contents(wheel, vad_repo)
    manifest = json.loads(zipfile.ZipFile(wheel).read("acme_vad_models/funasr_manifest.json"))
    assert (manifest["models"]["vad"]["hub"], manifest["models"]["vad"]["repo"]) == ("hf", VAD_HF_REPO)
    assert_brackets_speech(install_and_run_vad(wheel, fresh_venv, utterance), utterance)


def test_no_isolation_from_local_path(
    tmp_path: Path, hub_env: dict[str, str], fresh_venv: Path, utterance: Utterance, vad_files: dict[str, bytes]
) -> None:
    proj = make_project(tmp_path, 'vad = { path = "models/my-vad" }\n')
    realvad.write_model(proj / "models" / "my-vad", ("model.onnx", "config.yaml", "am.mvn", "configuration.json"))
    (proj / "models" / "my-vad" / "README.md").write_text("notes\n")
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], cwd=proj)
    wheel = only_wheel(proj / "dist")
    assert_wheel_contents(wheel, vad_files, ("am.mvn", "config.yaml", "model.onnx"))
    manifest = json.loads(zipfile.ZipFile(wheel).read("acme_vad_models/funasr_manifest.json"))
    assert manifest["models"]["vad"]["path"] == "models/my-vad"
    assert manifest["models"]["vad"]["runtime"] == "fp32"
    assert_brackets_speech(install_and_run_vad(wheel, fresh_venv, utterance), utterance)


def test_editable_install_copies_no_model_bytes(
    tmp_path: Path, hub_env: dict[str, str], fresh_venv: Path, utterance: Utterance
) -> None:
    proj = make_project(tmp_path)
    build = "import sys, hatchling.build as b; sys.stdout.write(b.build_editable(sys.argv[1]))"
    name = run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=proj).stdout.strip()
    wheel = tmp_path / "dist" / name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "acme_vad_models/_funasr_locations.json" in names
    assert not [n for n in names if "/models/" in n], "an editable wheel must not carry model files"
    assert wheel.stat().st_size < 20_000
    segments = install_and_run_vad(wheel, fresh_venv, utterance)
    assert_brackets_speech(segments, utterance)
    located = run([str(fresh_venv), "-m", "acme_vad_models", "path", "vad"], cwd=tmp_path).stdout.strip()
    assert located.startswith(hub_env["HATCH_FUNASR_CACHE"])


def test_inspect_verifies_the_wheel(tmp_path: Path, hub_env: dict[str, str]) -> None:
    proj = make_project(tmp_path)
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], cwd=proj)
    wheel = only_wheel(proj / "dist")
    good = run([sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)], cwd=proj)
    assert f"vad: ms:{VAD_ONNX_REPO}@" in good.stdout
    assert "verify: ok, every model file matches the manifest" in good.stdout
    assert good.stdout.splitlines()[1] == (
        '  runtime: pip install "acme-vad-models[onnx]"  (funasr-onnx>=0.4.3, onnxruntime>=1.7.0, numpy<=1.26.4)'
    )
    # Rewrite the wheel with one model byte changed: inspect must fail naming the file.
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("models/vad/am.mvn"):
                data = b"X" + data[1:]
            dst.writestr(info, data)
    result = subprocess.run([sys.executable, "-m", "hatch_funasr", "inspect", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "vad: acme_vad_models/models/vad/am.mvn: sha256 " in result.stderr
