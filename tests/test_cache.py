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
from hatch_funasr.digest import FileDigest, hash_file
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


# --- adopting a download: only the bytes the listing or lock promised enter the blob store -------
def _downloaded(tmp_path: Path, data: bytes) -> tuple[Path, FileDigest]:
    file = tmp_path / "tmp" / "download"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)
    return file, hash_file(file)


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@pytest.mark.parametrize(
    ("expect", "problem"),
    [
        pytest.param({"expect_sha256": "0" * 64}, "sha256 {sha256}, expected " + "0" * 64, id="sha256"),
        # Hugging Face lists no sha256 for files outside LFS: their git blob id is what is checked
        pytest.param({"expect_git_sha1": "f" * 40}, "git blob id {git}, expected " + "f" * 40, id="git-blob-id"),
        pytest.param({"expect_size": 3}, "size 9, expected 3", id="size"),
    ],
)
def test_a_download_that_is_not_what_was_listed_is_deleted_not_adopted(
    expect: dict[str, object], problem: str, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    data = b"a: 1\nb: 2"
    file, digest = _downloaded(tmp_path, data)
    kwargs = {"expect_sha256": None, "expect_git_sha1": None, "expect_size": None, **expect}
    with pytest.raises(IntegrityError) as info:
        cache.adopt(file, digest, what="model m: r/config.yaml", against="the hub listing", **kwargs)  # type: ignore[arg-type]
    shown = problem.format(sha256=digest.sha256, git=digest.git_sha1)
    assert str(info.value) == f"model m: r/config.yaml: downloaded content does not match the hub listing: {shown}"
    assert not file.exists() and not cache.has_blob(digest.sha256, len(data))


def test_a_download_that_is_what_was_listed_becomes_a_read_only_blob(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    data = b"a: 1\nb: 2"
    for expect in (
        {"expect_sha256": hashlib.sha256(data).hexdigest(), "expect_git_sha1": "f" * 40},  # sha256 decides
        {"expect_sha256": None, "expect_git_sha1": _git_sha1(data)},
    ):
        file, digest = _downloaded(tmp_path, data)
        adopted = cache.adopt(file, digest, expect_size=len(data), what="x", **expect)  # type: ignore[arg-type]
        assert adopted == digest and not file.exists()
        blob = cache.blob_path(digest.sha256)
        assert blob.read_bytes() == data and blob.stat().st_mode & 0o777 == 0o444
        assert cache.verify_blob(digest.sha256, len(data), "x") == blob
