"""The one validator for names that become paths, keys or sizes: a table of hostile values."""

from __future__ import annotations

import pytest

from hatch_funasr import names
from hatch_funasr.errors import IntegrityError
from hatch_funasr.names import (
    MAX_SIZE,
    case_collisions,
    check_commit,
    check_relpath,
    check_sha256,
    check_size,
    pattern_problem,
    relpath_problem,
)

SAFE = [
    "model.onnx",
    "am.mvn",
    "Qwen3-0.6B/model.safetensors",
    "example/asr_example.wav",
    "chn_jpn_yue_eng_ko_spectok.bpe.model",
    "model_quant.onnx.data",
    "中文/词典.txt",
    "a" * 255,
    "é" * 127,  # 254 bytes in UTF-8
    "模" * 85,  # 255 bytes
    "dir/" + "模" * 85,
]

HOSTILE = {
    "": "empty",
    "../x": "'..' component",
    "a/../../x": "'..' component",
    "./x": "'.' component",
    "a//b": "empty component",
    "a/": "empty component",
    "/etc/passwd": "absolute",
    "C:/x": "absolute",
    "c:x": "absolute",
    "C:\\x": "absolute",
    "\\\\host\\share\\x": "'\\\\'",
    "a\\..\\b": "'\\\\'",
    "x\x00.onnx": "control character",
    "x\n.onnx": "control character",
    "x\x7f": "control character",
    "ads:stream": "':'",
    "what?": "'?'",
    'quo"te': "'\"'",
    "pipe|x": "'|'",
    "star*": "'*'",
    "<lt": "'<'",
    "CON": "reserved",
    "con": "reserved",
    "aux.txt": "reserved",
    "dir/NUL.onnx": "reserved",
    "COM1": "reserved",
    "lpt9.json": "reserved",
    "CONIN$": "reserved",
    "conout$.log": "reserved",
    "con .txt": "reserved",
    "NUL  .json": "reserved",
    "COM1.tar.gz": "reserved",
    "x\ud800.onnx": "not text",
    "dir/\udcff.bin": "not text",
    "name.": "dot or space",
    "name ": "dot or space",
    "dir./x": "dot or space",
    "a" * 256: "longer than 255 bytes",
    # file systems count a name's bytes, not its characters: 128 and 86 characters, over 255 bytes
    "é" * 128: "longer than 255 bytes",
    "模" * 86: "longer than 255 bytes",
    "ok/" + "😀" * 64: "longer than 255 bytes",
    "a\ud800b": "lone surrogate",
    "\udfff.onnx": "lone surrogate",
    "/".join(["abc"] * 300): "longer than 1024",
}


@pytest.mark.parametrize("name", SAFE)
def test_safe_names_pass(name: str) -> None:
    assert relpath_problem(name) is None
    assert check_relpath(name, "listing") == name


@pytest.mark.parametrize(("name", "why"), HOSTILE.items(), ids=[repr(k)[:30] for k in HOSTILE])
def test_hostile_names_refused_with_the_reason(name: str, why: str) -> None:
    problem = relpath_problem(name)
    assert problem is not None and why in problem, problem
    with pytest.raises(IntegrityError, match=r"^model asr: listing: unsafe file name"):
        check_relpath(name, "model asr: listing")


@pytest.mark.parametrize("value", [None, 3, 1.5, b"model.onnx", ["model.onnx"]])
def test_non_strings_are_not_names(value: object) -> None:
    assert relpath_problem(value) is not None


def test_case_collisions() -> None:
    assert case_collisions(["am.mvn", "AM.MVN", "config.yaml", "x/A", "x/a", "y"]) == [
        ("AM.MVN", "am.mvn"),
        ("x/A", "x/a"),
    ]
    assert case_collisions(["a", "b"]) == []


def test_names_one_file_apart_only_by_unicode_normalization_collide() -> None:
    """macOS file systems take ``é`` precomposed (NFC, as most tools write) and decomposed
    (NFD, as macOS tools write) as one name; so does a case-insensitive ``É``."""
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    assert case_collisions([nfc, nfd]) == [(nfd, nfc)]
    assert case_collisions(["dir/\u00c9", "dir/e\u0301"]) == [("dir/e\u0301", "dir/\u00c9")]
    assert case_collisions(["\u00e9", "e"]) == []


@pytest.mark.parametrize("value", ["0" * 64, "ab" * 32])
def test_sha256_accepted(value: str) -> None:
    assert check_sha256(value, "x") == value


@pytest.mark.parametrize("value", ["0" * 63, "A" * 64, "../../" + "0" * 58, 7, None, "g" * 64, "0" * 64 + "\n"])
def test_sha256_refused(value: object) -> None:
    with pytest.raises(IntegrityError, match=r"^funasr\.lock models\.vad: .* is not a sha256"):
        check_sha256(value, "funasr.lock models.vad")


@pytest.mark.parametrize("value", [0, 1, MAX_SIZE])
def test_sizes_accepted(value: int) -> None:
    assert check_size(value, "x") == value


@pytest.mark.parametrize("value", [-1, MAX_SIZE + 1, 1.0, float("inf"), True, "12", None])
def test_sizes_refused(value: object) -> None:
    with pytest.raises(IntegrityError, match=r"is not a file size"):
        check_size(value, "x")


@pytest.mark.parametrize("value", ["v2.0.4", "master", "0" * 39, "0" * 41, "F" * 40, 1])
def test_movable_or_malformed_commits_refused(value: object) -> None:
    with pytest.raises(IntegrityError, match=r"is not a full commit id"):
        check_commit(value, "x")
    assert check_commit("0123456789abcdef0123456789abcdef01234567", "x")


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("*.onnx", True),
        ("extra/*.txt", True),
        ("model_[ab].onnx", True),
        ("?", True),
        ("../*", False),
        ("/abs/*", False),
        ("a\\*", False),
        ("x/../*", False),
    ],
)
def test_glob_patterns_stay_inside(pattern: str, ok: bool) -> None:
    assert (pattern_problem(pattern) is None) is ok


@pytest.mark.parametrize(
    "names",
    [
        ["caf\u00e9.txt", "cafe\u0301.txt"],  # NFC and NFD forms of one name
        ["Sub", "sub/x.onnx"],  # a file beside a directory differing in case
        ["am.mvn", "AM.MVN"],
        ["stra\u00dfe.txt", "STRASSE.txt"],  # case folding, not lowering
    ],
    ids=["nfc-nfd", "file-vs-dir", "case", "casefold"],
)
def test_names_one_on_macos_or_windows_collide(names: list[str]) -> None:
    assert len(case_collisions(names)) == 1
    assert case_collisions(["sub/a", "sub/b", "Subway"]) == []


def test_names_the_file_system_encoding_cannot_hold_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ASCII locale (``LC_ALL=C PYTHONUTF8=0``): a non-ASCII name cannot be created here."""
    monkeypatch.setattr(names.sys, "getfilesystemencoding", lambda: "ascii")
    problem = relpath_problem("\u4e2d\u6587.txt")
    assert problem is not None and "file-system encoding (ascii) cannot hold" in problem
    assert relpath_problem("model.onnx") is None
