"""Packing model files into a hatchling wheel: stored vs deflated, RECORD, failure leaves nothing."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest
from support.projects import assert_record_matches

from hatch_funasr.errors import IntegrityError
from hatch_funasr.pack import PackEntry, add_models, compress_type_for


def _row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _wheel(path: Path) -> Path:
    metadata = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg-1.dist-info/METADATA", metadata)
        rows = [_row("pkg/__init__.py", b""), _row("pkg-1.dist-info/METADATA", metadata), "pkg-1.dist-info/RECORD,,"]
        zf.writestr("pkg-1.dist-info/RECORD", "\n".join(rows) + "\n")
    return path


def _entry(tmp_path: Path, name: str, data: bytes, sha: str | None = None) -> PackEntry:
    src = tmp_path / name.replace("/", "_")
    src.write_bytes(data)
    return PackEntry(f"pkg/models/m/{name}", src, len(data), sha or hashlib.sha256(data).hexdigest())


def test_models_added_before_dist_info_with_record(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    entries = [_entry(tmp_path, "model.onnx", b"\x08" * 5000), _entry(tmp_path, "config.yaml", b"a: 1\n" * 1000)]
    add_models(wheel, entries, source_date_epoch=1767225600)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert names == [
            "pkg/__init__.py",
            "pkg/models/m/config.yaml",
            "pkg/models/m/model.onnx",
            "pkg-1.dist-info/METADATA",
            "pkg-1.dist-info/RECORD",
        ]
        assert zf.getinfo("pkg/models/m/model.onnx").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("pkg/models/m/config.yaml").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("pkg/models/m/model.onnx").date_time == (2026, 1, 1, 0, 0, 0)
        assert_record_matches(zf)


def test_source_changed_after_verification_leaves_no_wheel(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    entry = _entry(tmp_path, "model.onnx", b"tampered", sha="0" * 64)
    with pytest.raises(IntegrityError, match=r"pkg/models/m/model.onnx: .* changed after it was verified"):
        add_models(wheel, [entry], source_date_epoch=315532800)
    assert list(tmp_path.glob("*.whl*")) == []


@pytest.mark.parametrize(
    ("name", "size", "stored"),
    [
        ("model.onnx", 10, True),
        ("TLG.fst", 10, True),
        ("am.mvn", 8040, False),
        ("tokens.json", 5 << 20, True),
        ("config.yaml", 1215, True),  # under 4 KiB: a compressor's set-up costs more than it saves
        ("config.yaml", 4096, False),
    ],
)
def test_compression_rule(name: str, size: int, stored: bool) -> None:
    assert (compress_type_for(f"p/{name}", size) == zipfile.ZIP_STORED) is stored


@pytest.mark.parametrize("two_cores", [1, 1 << 30], ids=["hashed-beside", "hashed-inline"])
def test_each_copy_path_hashes_what_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_cores: int) -> None:
    """Large files are hashed in a second thread while written (pack._TWO_CORES), small ones
    inline: both give RECORD the sha256 of the bytes written, and both refuse other bytes."""
    from hatch_funasr import pack

    monkeypatch.setattr(pack, "_TWO_CORES", two_cores)
    data = os.urandom(5 * 2**20 + 123)
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    add_models(wheel, [_entry(tmp_path, "model.onnx", data)], source_date_epoch=1767225600)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("pkg/models/m/model.onnx") == data
        record = zf.read("pkg-1.dist-info/RECORD").decode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert f"pkg/models/m/model.onnx,sha256={digest},{len(data)}" in record
    (tmp_path / "again").mkdir()
    wheel = _wheel(tmp_path / "again" / "pkg-1-py3-none-any.whl")
    wrong = _entry(tmp_path, "model.onnx", data, sha="0" * 64)
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        add_models(wheel, [wrong], source_date_epoch=1767225600)
