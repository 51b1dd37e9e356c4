"""Each model file is read once while a wheel is built (hash for RECORD, manifest and
lock check in the packing pass), for local models and for locked builds from a warm cache.

Bytes read are the kernel's count for this process (``rchar`` in ``/proc/self/io``) around
an in-process ``hatchling.build.build_wheel``: a count, not a time.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from support.genmodels import write_family
from support.hubserver import LoopbackHub
from support.projects import lock_project, make_project

WEIGHT_MB = 40


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def build_in_process(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    """``build_wheel`` as a frontend calls it, in this process; the wheel and the bytes read."""
    from hatchling.build import build_wheel

    monkeypatch.chdir(project)
    dist = project / "dist"
    dist.mkdir()
    before = bytes_read()
    name = build_wheel(str(dist))
    return dist / name, bytes_read() - before


def manifest_of(wheel: Path) -> dict[str, object]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/funasr_manifest.json"))
        return json.loads(zf.read(name))  # type: ignore[no-any-return]


def test_local_model_is_read_once(tmp_path: Path, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path, 'asr = { path = "local/asr", family = "paraformer" }\n')
    written = write_family("paraformer", project / "local" / "asr", weight_mb=WEIGHT_MB)
    model_bytes = sum((project / "local" / "asr" / n).stat().st_size for n in written)
    wheel, read = build_in_process(project, monkeypatch)
    assert model_bytes <= read < 1.5 * model_bytes, (read, model_bytes)
    # The manifest got the hashes computed in that one pass, and they are right.
    files = manifest_of(wheel)["models"]["asr"]["files"]  # type: ignore[index]
    for rel, meta in files.items():
        assert meta["sha256"] == hashlib.sha256((project / "local" / "asr" / rel).read_bytes()).hexdigest()


def test_locked_build_from_a_warm_cache_reads_each_file_once(
    hub: LoopbackHub, tmp_path: Path, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big"
    write_family("paraformer", source, weight_mb=WEIGHT_MB, extras=True)
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    hub.store.publish("acme/big-paraformer-onnx", files, tags=["v1"])
    project = make_project(
        tmp_path, 'asr = { model = "acme/big-paraformer-onnx", family = "paraformer", revision = "v1" }\n'
    )
    lock_project(project)  # downloads into the cache: the one read there is the download's own check
    hub.clear_log()
    wheel, read = build_in_process(project, monkeypatch)
    model_bytes = sum(len(files[n]) for n in ("model.onnx", "am.mvn", "config.yaml", "tokens.json"))
    assert model_bytes <= read < 1.5 * model_bytes, (read, model_bytes)
    assert hub.requests == [], "a warm locked build makes no request"
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("acme_vad_models/models/asr/model.onnx") == files["model.onnx"]


#: Builds a wheel in a fresh interpreter and prints the bytes it read and wrote meanwhile
#: (``rchar``/``wchar``: files and sockets alike) -- the loopback hub runs in the test process,
#: so its reads of the served files are not counted.
MEASURE = """
import hatchling.build as b
def io():
    fields = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
    return int(fields["rchar"]), int(fields["wchar"])
r0, w0 = io()
b.build_wheel("dist")
r1, w1 = io()
print("IO", r1 - r0, w1 - w0)
"""


@pytest.mark.parametrize("hub_name", ["ms", "hf"])
def test_cold_build_reads_each_downloaded_byte_once_more(
    hub_name: str, hub: LoopbackHub, tmp_path: Path, hub_env: dict[str, str]
) -> None:
    """A cold, unlocked build from either hub: the download's bytes arrive from the socket
    (``recv``, not counted in ``rchar``) and are hashed as they arrive, written once into the
    cache, then read once to be packed and written once into the wheel.  A re-read for
    hashing after the download would double the reads."""
    import subprocess
    import sys

    source = tmp_path / "big"
    write_family("paraformer", source, weight_mb=WEIGHT_MB)
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    repo = f"acme/cold-paraformer-{hub_name}-onnx"
    hub.store.publish(repo, files, tags=["v1"])
    project = make_project(
        tmp_path, f'asr = {{ model = "{repo}", hub = "{hub_name}", family = "paraformer", revision = "v1" }}\n'
    )
    result = subprocess.run([sys.executable, "-c", MEASURE], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "%|" not in result.stderr, "the hub clients' own tqdm bars are off: our progress reports per model"
    read, written = (int(x) for x in result.stdout.split("IO", 1)[1].split())
    model = len(files["model.onnx"])
    assert model <= read < 1.5 * model, (read / model, result.stderr[-2000:])
    assert 2 * model <= written < 2.4 * model, (written / model, result.stderr[-2000:])
