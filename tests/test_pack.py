"""Packing model files into a hatchling wheel: stored vs deflated, RECORD, failure leaves nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from support.projects import assert_record_matches

from hatch_funasr import pack, progress, scratch
from hatch_funasr.digest import CHUNK
from hatch_funasr.errors import IntegrityError
from hatch_funasr.pack import PARTIAL_PREFIX, PackEntry, add_models, compress_type_for, read_record, write_record


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


def _local_extra(wheel: Path, info: zipfile.ZipInfo) -> bytes:
    """The extra field of an entry's local header (where a forced zip64 record would be)."""
    with wheel.open("rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        f.seek(name_length, 1)
        return f.read(extra_length)


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
        ("tokens.json", 1 << 20, False),
        ("tokens.json", (1 << 20) + 1, True),
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


def test_every_entry_is_fixed_and_recorded_and_rewritten_entries_see_the_model_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass over a wheel with a manifest to complete: entry order, times, modes, compression,
    RECORD as CSV (a comma in a name), the rewrite hook, and the packing report of a large file."""
    monkeypatch.setattr(pack, "_PROGRESS", 3 << 20)  # "large" from 3 MiB, so the test stays small
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    manifest = b'{"models": {}}'
    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr(zipfile.ZipInfo("pkg/funasr_manifest.json", (2020, 2, 2, 0, 0, 0)), manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("pkg-1.dist-info/METADATA", b"Metadata-Version: 2.1\n")
        zf.writestr("pkg-1.dist-info/RECORD", "pkg/__init__.py,sha256=x,0\npkg/funasr_manifest.json,sha256=y,14\n")
    big = bytes(range(256)) * (3 << 12)  # exactly 3 MiB
    entries = [_entry(tmp_path, "model.onnx", big), _entry(tmp_path, "a,b.txt", b"x" * 10, sha=None)]
    seen: dict[str, str] = {}

    during: list[str] = []

    def complete(data: bytes, hashes: Mapping[str, str]) -> bytes:
        during.extend(sorted(p.name for p in tmp_path.iterdir() if "whl" in p.name))
        seen.update(hashes)
        return data + json.dumps(dict(sorted(hashes.items()))).encode()

    messages: list[str] = []
    add_models(
        wheel,
        entries,
        source_date_epoch=1767225600,
        report=messages.append,
        progress="log",
        rewrite={"pkg/funasr_manifest.json": complete},
    )
    assert seen == {e.arcname: hashlib.sha256(e.source.read_bytes()).hexdigest() for e in entries}
    # while packing, nothing installable: hatchling's wheel and the new one under hidden names the
    # next build in this directory sweeps (owned by this process), never *.whl
    owned = f"{PARTIAL_PREFIX}{wheel.name}-{scratch.owned_name('', '')}"
    assert during == sorted([owned + "new", owned + "partial"])
    with zipfile.ZipFile(wheel) as zf:
        assert zf.namelist() == [
            "pkg/__init__.py",
            "pkg/models/m/a,b.txt",
            "pkg/models/m/model.onnx",
            "pkg/funasr_manifest.json",
            "pkg-1.dist-info/METADATA",
            "pkg-1.dist-info/RECORD",
        ]
        written = zf.read("pkg/funasr_manifest.json")
        assert written == manifest + json.dumps(dict(sorted(seen.items()))).encode()
        assert zf.getinfo("pkg/funasr_manifest.json").date_time == (2020, 2, 2, 0, 0, 0)
        for name in ("pkg/models/m/a,b.txt", "pkg/models/m/model.onnx", "pkg-1.dist-info/RECORD"):
            info = zf.getinfo(name)
            assert info.date_time == (2026, 1, 1, 0, 0, 0), name
            assert info.external_attr == 0o100644 << 16, name
            assert _local_extra(wheel, info) == b"", name  # no zip64 extra field below 2 GiB
        assert zf.getinfo("pkg-1.dist-info/RECORD").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("pkg/models/m/model.onnx").compress_type == zipfile.ZIP_STORED
        assert zf.read("pkg/models/m/model.onnx") == big
        rows = read_record(zf.read("pkg-1.dist-info/RECORD"))
        assert zf.read("pkg-1.dist-info/RECORD").count(b'"pkg/models/m/a,b.txt"') == 1
    assert rows == [
        ["pkg/__init__.py", "sha256=x", "0"],
        ["pkg/models/m/a,b.txt", _row("pkg/models/m/a,b.txt", b"x" * 10).rsplit(",", 2)[1], "10"],
        ["pkg/models/m/model.onnx", _row("m", big).rsplit(",", 2)[1], str(len(big))],
        ["pkg/funasr_manifest.json", _row("m", written).rsplit(",", 2)[1], str(len(written))],
        ["pkg-1.dist-info/RECORD", "", ""],
    ]
    assert messages[0] == "hatch-funasr: packing pkg/models/m/model.onnx (3 MiB, stored)"
    assert re.fullmatch(r"hatch-funasr: packing model\.onnx: 3\.0/3\.0 MiB \(100%\).*", messages[-1]), messages
    assert len(messages) == 4  # the announcement and a line per MiB (a tenth and more each)
    assert sorted(p.name for p in tmp_path.iterdir() if "whl" in p.name) == [wheel.name]  # no partial left


def test_a_file_just_under_the_progress_size_packs_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files up to one read (digest.CHUNK) take the small-file path; the progress size is a
    boundary beyond it."""
    limit = CHUNK + 1000
    monkeypatch.setattr(pack, "_PROGRESS", limit)
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    messages: list[str] = []
    add_models(
        wheel,
        [_entry(tmp_path, "model.onnx", b"\x08" * (limit - 1))],
        source_date_epoch=315532800,
        report=messages.append,
    )
    assert messages == []
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    add_models(
        wheel, [_entry(tmp_path, "model.onnx", b"\x08" * limit)], source_date_epoch=315532800, report=messages.append
    )
    assert messages[0] == "hatch-funasr: packing pkg/models/m/model.onnx (1 MiB, stored)"


def test_a_source_longer_or_shorter_than_listed_leaves_no_wheel(tmp_path: Path) -> None:
    for data, listed in ((b"12345", 4), (b"123", 4)):
        wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
        src = tmp_path / "model.onnx"
        src.write_bytes(data)
        entry = PackEntry("pkg/models/m/model.onnx", src, listed, None)
        with pytest.raises(IntegrityError) as info:
            add_models(wheel, [entry], source_date_epoch=315532800)
        sha = hashlib.sha256(data).hexdigest()
        assert str(info.value) == (
            f"pkg/models/m/model.onnx: {src} changed after it was verified (size {len(data)}, sha256 {sha}; "
            f"expected size {listed}, sha256 None); nothing was packed"
        )
        assert [p.name for p in tmp_path.iterdir() if "whl" in p.name] == []


def test_record_is_csv_with_newline_ends() -> None:
    rows = [["a,b", "sha256=x", "1"], ["c", "", ""]]
    assert write_record(rows) == b'"a,b",sha256=x,1\nc,,\n'
    assert read_record(write_record(rows)) == rows


def test_a_wheel_that_is_not_a_zip_fails_as_itself_and_is_removed(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(zipfile.BadZipFile):
        add_models(wheel, [], source_date_epoch=315532800)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("mode", "lines"), [("off", 1), ("log", 4)])
def test_the_progress_mode_given_is_the_one_packing_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, lines: int
) -> None:
    """HATCH_FUNASR_PROGRESS reaches the packing meter: off leaves only the announcement."""
    monkeypatch.setattr(pack, "_PROGRESS", 3 << 20)
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    messages: list[str] = []
    big = bytes(range(256)) * (3 << 12)
    add_models(
        wheel, [_entry(tmp_path, "model.onnx", big)], source_date_epoch=315532800, report=messages.append, progress=mode
    )
    assert messages[0] == "hatch-funasr: packing pkg/models/m/model.onnx (3 MiB, stored)"
    assert len(messages) == lines, messages


def test_an_empty_file_and_non_ascii_names_pack_with_their_record_rows(tmp_path: Path) -> None:
    """Real repositories ship empty files (``__init__.py``-like markers) and non-ASCII names
    (``词表.txt``): each packs with its RECORD row, and a non-ASCII name carries the zip's
    UTF-8 flag (bit 11), so unzip and pip read the name as UTF-8, not as code page 437."""
    wheel = _wheel(tmp_path / "pkg-1-py3-none-any.whl")
    entries = [
        _entry(tmp_path, "empty.txt", b""),
        _entry(tmp_path, "词表.txt", "你\n".encode()),
        _entry(tmp_path, "sub/café.model", b"x" * 10),
    ]
    add_models(wheel, entries, source_date_epoch=1767225600)
    with zipfile.ZipFile(wheel) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert infos["pkg/models/m/empty.txt"].file_size == 0 and zf.read("pkg/models/m/empty.txt") == b""
        assert infos["pkg/models/m/词表.txt"].flag_bits & 0x800
        assert infos["pkg/models/m/sub/café.model"].flag_bits & 0x800
        record = zf.read("pkg-1.dist-info/RECORD").decode("utf-8")
        assert _row("pkg/models/m/empty.txt", b"") in record
        assert _row("pkg/models/m/词表.txt", "你\n".encode()) in record
        assert_record_matches(zf)


def test_appended_entries_see_every_hash_written_before_them_and_are_fixed_and_recorded(tmp_path: Path) -> None:
    """``append`` (the model directories' signatures): it gets the sha256 of hatchling's package
    files, the models and the rewritten manifest (never of the .dist-info written after), and its
    entries follow them with the build's time, mode, compression rule and RECORD rows."""
    manifest = b'{"models": {}}'
    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", b"# pkg\n")
        zf.writestr("pkg/funasr_manifest.json", manifest)
        zf.writestr("pkg-1.dist-info/METADATA", b"Metadata-Version: 2.1\n")
        zf.writestr("pkg-1.dist-info/RECORD", "pkg/__init__.py,sha256=x,6\npkg/funasr_manifest.json,sha256=y,14\n")
    model = _entry(tmp_path, "model.onnx", b"\x08" * 5000)
    seen: list[dict[str, str]] = []
    signature = b"s" * 100
    listing = b'{"files": {}}' + b" " * 5000  # over the size below which files are stored

    def sign(written: Mapping[str, str]) -> Mapping[str, bytes]:
        seen.append(dict(written))
        return {"pkg/models/m/model.sig": signature, "pkg/models/m/funasr_bundle_files.json": listing}

    add_models(
        wheel,
        [model],
        source_date_epoch=1767225600,
        rewrite={"pkg/funasr_manifest.json": lambda data, _hashes: data + b"\n"},
        append=sign,
    )
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in
           [("pkg/__init__.py", b"# pkg\n"), ("pkg/models/m/model.onnx", b"\x08" * 5000),
            ("pkg/funasr_manifest.json", manifest + b"\n")]}  # fmt: skip
    assert seen == [sha]
    with zipfile.ZipFile(wheel) as zf:
        assert zf.namelist() == [
            "pkg/__init__.py",
            "pkg/models/m/model.onnx",
            "pkg/funasr_manifest.json",
            "pkg/models/m/funasr_bundle_files.json",
            "pkg/models/m/model.sig",
            "pkg-1.dist-info/METADATA",
            "pkg-1.dist-info/RECORD",
        ]
        for name, data in (("pkg/models/m/model.sig", signature), ("pkg/models/m/funasr_bundle_files.json", listing)):
            info = zf.getinfo(name)
            assert zf.read(name) == data
            assert info.date_time == (2026, 1, 1, 0, 0, 0), name
            assert info.external_attr == 0o100644 << 16, name
            assert info.compress_type == compress_type_for(name, len(data)), name
        assert zf.getinfo("pkg/models/m/model.sig").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("pkg/models/m/funasr_bundle_files.json").compress_type == zipfile.ZIP_DEFLATED
        rows = read_record(zf.read("pkg-1.dist-info/RECORD"))
    assert rows[-3:] == [
        _row("pkg/models/m/funasr_bundle_files.json", listing).rsplit(",", 2),
        _row("pkg/models/m/model.sig", signature).rsplit(",", 2),
        ["pkg-1.dist-info/RECORD", "", ""],
    ]
