"""Hostile inputs: listings with escaping names, leaked tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support import hubserver
from support.hubserver import LoopbackHub
from support.projects import VAD_HF_REPO, config_of, make_project, stage

from hatch_funasr.cache import Cache
from hatch_funasr.errors import IntegrityError

HOSTILE = ["../escaped.txt", "/etc/escaped", "C:\\escaped", "\\\\host\\share\\escaped"]


def _config(root: Path, model: dict[str, object]):  # type: ignore[no-untyped-def]
    return config_of(root, {"vad": model}, name="acme")


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("hub_name", ["hf", "ms"])
def test_hostile_listing_refused_before_any_download(
    name: str, hub_name: str, hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hub_name == "hf":
        original = hubserver.HuggingFaceRoutes.info_payload

        def info_payload(repo_id: str, commit: Any, *, blobs: bool) -> Any:
            payload = original(repo_id, commit, blobs=blobs)
            payload["siblings"].append({"rfilename": name, "size": 3, "blobId": "0" * 40})
            return payload

        monkeypatch.setattr(hubserver.HuggingFaceRoutes, "info_payload", staticmethod(info_payload))
        model: dict[str, object] = {"model": VAD_HF_REPO, "hub": "hf", "revision": "v2.0.4"}
    else:
        original_entries = hubserver.ModelScopeRoutes.file_entries

        def file_entries(self: Any, repo_id: str, commit: Any, root: str, *, recursive: bool) -> Any:
            entries = original_entries(self, repo_id, commit, root, recursive=recursive)
            return [*entries, {"Path": name, "Name": name, "Type": "blob", "Size": 3, "Sha256": "0" * 64}]

        monkeypatch.setattr(hubserver.ModelScopeRoutes, "file_entries", file_entries)
        model = {"model": "fsmn-vad", "revision": "v2.0.4"}
    cache = Cache(tmp_path / "cache")
    hub.clear_log()
    with pytest.raises(
        IntegrityError, match=r"model vad: .* lists unsafe file names .*refusing it, nothing was downloaded"
    ):
        stage(_config(tmp_path, model), tmp_path / "stage", cache=cache, offline=False)
    assert hub.transfers == []
    assert not (cache.root / "blobs").exists()
    assert not list(tmp_path.parent.rglob("escaped*"))


CANARY_HF = "hf_CANARYtoken0123456789abcdef"
CANARY_MS = "ms-CANARY-0123456789-abcdef"


def test_tokens_never_reach_wheel_manifest_lock_or_output(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path, f'vad = "fsmn-vad"\nvad2 = {{ model = "{VAD_HF_REPO}", hub = "hf" }}\n')
    env = {**os.environ, "HF_TOKEN": CANARY_HF, "MODELSCOPE_API_TOKEN": CANARY_MS}
    outputs = []
    for cmd in (["-m", "hatch_funasr", "lock"], ["-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."]):
        result = subprocess.run([sys.executable, *cmd], cwd=project, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    lock_text = (project / "funasr.lock").read_text()
    # A failing build's traceback too.
    bad = project / "pyproject.toml"
    bad.write_text(bad.read_text().replace('vad = "fsmn-vad"', 'vad = { model = "fsmn-vad", revision = "v9" }'))
    (project / "funasr.lock").unlink()
    failed = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist2", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert failed.returncode != 0
    outputs.append(failed.stdout + failed.stderr)
    wheel = next((project / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        contents = b"".join(zf.read(n) for n in zf.namelist())
    texts = [*outputs, lock_text]
    for canary in (CANARY_HF, CANARY_MS):
        assert canary.encode() not in contents
        assert all(canary not in t for t in texts)
    cache_bytes = b"".join(
        p.read_bytes()
        for p in Path(hub_env["HATCH_FUNASR_CACHE"]).rglob("*")
        if p.is_file() and p.stat().st_size < 2**20
    )
    assert CANARY_HF.encode() not in cache_bytes and CANARY_MS.encode() not in cache_bytes
