"""The cache as untrusted storage: derived files are used only under a record this machine signed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from support import realvad
from support.projects import config_of, stage

from hatch_funasr.cache import Cache
from hatch_funasr.errors import IntegrityError


def _quantized(tmp_path: Path, cache: Cache, name: str, offline: bool = False) -> tuple[bytes, list[str]]:
    messages: list[str] = []
    config = config_of(tmp_path, {"vad": {"path": "models/vad", "quantize": True}})
    pkg, _ = stage(config, tmp_path / name, cache=cache, offline=offline, report=messages.append)
    return (pkg / "models" / "vad" / "model_quant.onnx").read_bytes(), messages


@pytest.fixture
def built(tmp_path: Path) -> tuple[Cache, Path, bytes]:
    realvad.write_model(tmp_path / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    good, messages = _quantized(tmp_path, cache, "first")
    assert any("quantizing model.onnx" in m for m in messages)
    (entry,) = (cache.root / "derived").iterdir()
    return cache, entry, good


def test_a_cache_hit_is_signed_and_reused(built: tuple[Cache, Path, bytes], tmp_path: Path) -> None:
    cache, entry, good = built
    again, messages = _quantized(tmp_path, cache, "second")
    assert again == good and any("reusing the cached model_quant.onnx" in m for m in messages)
    index = json.loads((entry / "index.json").read_text())
    assert len(index["mac"]) == 64 and isinstance(index["record"]["meta"]["drift"], float)


def test_an_altered_entry_with_its_recorded_hash_updated_is_not_packed(
    built: tuple[Cache, Path, bytes], tmp_path: Path
) -> None:
    """The attacker rewrites the file and the hash in the record: the signature no longer holds."""
    cache, entry, good = built
    evil = b"\x08\x07" + good[2:]
    target = entry / "model_quant.onnx"
    target.chmod(0o644)
    target.write_bytes(evil)
    index = json.loads((entry / "index.json").read_text())
    index["record"]["files"]["model_quant.onnx"]["sha256"] = hashlib.sha256(evil).hexdigest()
    index["record"]["files"]["../../__init__.py"] = {"size": 1, "sha256": "0" * 64, "stamp": ""}
    (entry / "index.json").write_text(json.dumps(index))
    with pytest.raises(IntegrityError, match=r"carry no record this machine signed"):
        _quantized(tmp_path, cache, "offline", offline=True)  # offline: refused, not remade
    packed, messages = _quantized(tmp_path, cache, "online")  # online: made again
    assert packed == good and any("quantizing model.onnx" in m for m in messages)
    installed = tmp_path / "online" / "wheel" / "acme_asr_models" / "models" / "vad"
    assert sorted(p.name for p in installed.iterdir()) == ["am.mvn", "config.yaml", "model.onnx", "model_quant.onnx"]


def test_an_entry_from_another_machine_is_not_trusted(built: tuple[Cache, Path, bytes], tmp_path: Path) -> None:
    cache, _entry, good = built
    carried = tmp_path / "usb-cache"
    shutil.copytree(cache.root, carried)
    elsewhere = Cache(carried, key_file=tmp_path / "other-key")
    packed, messages = _quantized(tmp_path, elsewhere, "elsewhere")
    assert packed == good and any("quantizing model.onnx" in m for m in messages)


def test_a_file_changed_behind_an_intact_record_is_caught(built: tuple[Cache, Path, bytes], tmp_path: Path) -> None:
    cache, entry, good = built
    target = entry / "model_quant.onnx"
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))  # the file status changes: it is hashed again, and differs
    packed, messages = _quantized(tmp_path, cache, "again")
    assert packed == good and any("quantizing model.onnx" in m for m in messages)
