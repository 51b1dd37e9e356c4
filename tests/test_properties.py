"""Property tests (Hypothesis) of the rules with a clear invariant: names, tokens.json,
config references, the lock reader and the signed derived-cache record.

Each test states its invariant in its docstring; docs/development/test-strategy.md lists them.
Examples are few and there is no deadline, so the module runs in seconds in the default suite.
"""

from __future__ import annotations

import json
import math
import posixpath
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hatch_funasr.cache import Cache
from hatch_funasr.errors import ConfigError, IntegrityError
from hatch_funasr.families import config_references, is_bookkeeping, tokens_json
from hatch_funasr.lock import Lock, read_lock
from hatch_funasr.manifest import read_manifest
from hatch_funasr.names import case_collisions, check_relpath, relpath_problem

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Tests that touch the file system get fewer examples.
FS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Every code point, lone surrogates often (a JSON listing can carry them).
ANY_CHAR = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]))
#: Characters of a component a file system takes: no separator, control, Windows-reserved, surrogate.
NAME_CHAR = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters='/<>:"|?*\\')


def _component(text: str) -> bool:
    return text not in ("", ".", "..") and not text.endswith((".", " ")) and relpath_problem(text) is None


# --- names ---------------------------------------------------------------------------------------
@FAST
@given(st.text(ANY_CHAR, max_size=300))
def test_any_string_gets_an_answer_and_a_safe_name_comes_back_unchanged(name: str) -> None:
    """relpath_problem answers every string (never raises); a name it accepts is returned by
    check_relpath unchanged, and one it refuses is an IntegrityError naming the reason."""
    problem = relpath_problem(name)
    if problem is None:
        assert check_relpath(name, "listing") == name
    else:
        try:
            check_relpath(name, "listing")
        except IntegrityError as e:
            assert problem in str(e) and str(e).startswith("listing: unsafe file name")
        else:
            raise AssertionError(f"{name!r} refused ({problem}) but check_relpath took it")


@FAST
@given(st.text(ANY_CHAR, max_size=600))
def test_a_safe_name_is_relative_normalised_and_each_component_fits_255_utf8_bytes(name: str) -> None:
    """Whatever relpath_problem accepts is a relative path that normpath leaves alone, with no
    empty, ``.`` or ``..`` component, and each component at most 255 bytes in UTF-8 (what
    file systems count), not 255 characters."""
    assume(relpath_problem(name) is None)
    assert not name.startswith("/") and posixpath.normpath(name) == name
    for part in name.split("/"):
        assert part not in ("", ".", "..")
        assert len(part.encode("utf-8")) <= 255


@FAST
@given(NAME_CHAR, st.integers(min_value=1, max_value=300))
def test_a_component_is_refused_exactly_when_its_utf8_bytes_exceed_255(char: str, count: int) -> None:
    """``char * count`` (plus a safe last character) passes the length rule exactly when its
    UTF-8 encoding is at most 255 bytes, for one-, two-, three- and four-byte characters."""
    name = char * count + "x"
    assume(relpath_problem(char + "x") is None)  # the character itself is allowed
    fits = len(name.encode("utf-8")) <= 255
    problem = relpath_problem(name)
    if fits:
        assert problem is None or "bytes" not in problem
    else:
        assert problem is not None and "longer than 255 bytes" in problem


def _fold(name: str) -> str:
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


@FAST
@given(st.lists(st.text(NAME_CHAR, min_size=1, max_size=8), max_size=12))
def test_collisions_are_exactly_the_names_one_folded_name_apart(names: list[str]) -> None:
    """case_collisions pairs two names iff they fold (case and Unicode normalisation) to one
    name; every name of a folded group after its first appears once; order does not matter."""
    names = list(dict.fromkeys(names))
    pairs = case_collisions(names)
    assert all(_fold(a) == _fold(b) and a != b for a, b in pairs)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(_fold(n), []).append(n)
    assert sorted(b for _, b in pairs) == sorted(n for g in groups.values() for n in sorted(g)[1:])
    assert sorted(case_collisions(reversed(names))) == sorted(pairs)


@FAST
@given(st.text(NAME_CHAR, min_size=1, max_size=12))
def test_a_name_and_its_other_case_or_normal_form_collide(name: str) -> None:
    """A name and its upper-case, lower-case, NFC and NFD forms are one file somewhere."""
    for other in (name.upper(), name.lower(), unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)):
        if other != name and _fold(other) == _fold(name):
            assert case_collisions([name, other]) == [tuple(sorted((name, other)))]


# --- tokens.json -----------------------------------------------------------------------------------
def funasr_reads(text: str, tmp: Path) -> list[str]:
    """FunASR's own reading of tokens.txt (funasr/tokenizer/abs_tokenizer.py:50-53), on the file."""
    path = tmp / "tokens.txt"
    path.write_bytes(text.encode("utf-8"))
    tokens = []
    with path.open("r", encoding="utf-8") as f:
        for line in f:
            tokens.append(line.rstrip())
    return tokens


#: Text with the characters that matter here often: line breaks of every kind, spaces, tabs.
TOKENS_TEXT = st.lists(
    st.one_of(st.sampled_from(["\n", "\r", "\r\n", " ", "\t", "\x0b", "\x85", "\u2028", "a", "你"]), NAME_CHAR),
    max_size=40,
).map("".join)


@FS
@given(TOKENS_TEXT)
def test_tokens_json_is_what_funasr_reads_from_tokens_txt(text: str) -> None:
    """For any tokens.txt, tokens.json holds the list FunASR's tokenizer reads from it: the
    same tokens at the same ids (line breaks of every kind, blank lines, no final newline)."""
    with tempfile.TemporaryDirectory() as tmp:
        assert json.loads(tokens_json(text)) == funasr_reads(text, Path(tmp))


TOKEN = st.text(NAME_CHAR, max_size=6).map(str.rstrip)


@FAST
@given(st.lists(TOKEN, max_size=20), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_tokens_come_back_in_order_whatever_ends_the_lines(tokens: list[str], ending: str, final: bool) -> None:
    """Tokens written one per line with any one line ending, with or without a newline after
    the last, come back as the same list (a last empty token needs its newline to exist)."""
    assume(final or not tokens or tokens[-1] != "")
    text = ending.join(tokens) + (ending if final and tokens else "")
    assert json.loads(tokens_json(text)) == tokens


# --- config references -----------------------------------------------------------------------------
PART = st.text(st.sampled_from("ab._-"), min_size=1, max_size=4).filter(lambda p: p not in (".", ".."))
PATH = st.lists(PART, min_size=1, max_size=3).map("/".join)


@FAST
@given(st.sets(PATH, max_size=12), PATH, st.sampled_from(["", "./"]), st.sampled_from(["", "/"]))
def test_a_config_reference_names_the_file_or_its_subtree_exactly(
    paths: set[str], target: str, lead: str, trail: str
) -> None:
    """A config.yaml value names the file of that path, or else every (non-bookkeeping) file
    under the directory of that path, and never a file that only starts with the same letters."""
    usable = {p: 1 for p in paths}
    value = lead + target + trail
    found, refs, _ = config_references(f"encoder_conf:\n  init_param_path: {value}\n", usable)
    name = posixpath.normpath(value)
    if name in usable:
        assert found == [name]
    else:
        assert found == sorted(p for p in usable if p.startswith(name + "/") and not is_bookkeeping(p))
    assert all(f == name or f.startswith(name + "/") for f in found)
    assert refs == ({"encoder_conf.init_param_path": value} if found else {})


# --- the lock reader -------------------------------------------------------------------------------
C1 = "0123456789abcdef0123456789abcdef01234567"
VALID: dict[str, Any] = {
    "version": 1,
    "models": {
        "vad": {
            "hub": "ms",
            "repo": "iic/vad",
            "revision": "v2.0.4",
            "commit": C1,
            "license": "Apache-2.0",
            "declaration": {"hub": "ms", "repo": "iic/speech_fsmn_vad_zh-cn-16k-common-onnx", "format": "onnx"},
            "files": [{"path": "am.mvn", "size": 3, "sha256": "a" * 64}],
            "extra": [
                {
                    "hub": "hf",
                    "repo": "acme/x",
                    "commit": C1,
                    "files": [{"path": "b.model", "size": 1, "sha256": "b" * 64}],
                }
            ],
        }
    },
}


def toml(value: Any) -> str:
    """A value as TOML (inline tables and arrays); JSON's string escapes are TOML's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {toml(v)}" for k, v in value.items()) + "}"


def document(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml(v)}" for k, v in data.items()) + "\n"


TOML_SCALAR = st.one_of(
    st.none(),  # None stands for "the key removed"
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(ANY_CHAR, max_size=20),
    st.sampled_from(["ms", "hf", "../x", "AM.MVN", "a" * 64, C1, "main", "", "iic/vad"]),
)
TOML_VALUE = st.recursive(
    TOML_SCALAR.filter(lambda v: v is not None),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def _slots(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document (a key of a table, an index of an array)."""
    out = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _slots(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _slots(v, (*at, i))
    return out


def _altered(valid: dict[str, Any], data: st.DataObject) -> Any:
    """A copy of ``valid`` with one to three places given any value, or dropped (None)."""
    doc = json.loads(json.dumps(valid))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        slots = _slots(doc)
        if not slots:
            break
        where = data.draw(st.sampled_from(slots))
        value = data.draw(st.one_of(TOML_SCALAR, TOML_VALUE))
        parent = doc
        for step in where[:-1]:
            parent = parent[step]
        if value is None:
            parent.pop(where[-1]) if isinstance(parent, dict) else parent.__setitem__(where[-1], {})
        else:
            parent[where[-1]] = value
    return doc


@FS
@given(st.data())
def test_any_lock_document_reads_as_a_lock_or_one_config_error(data: st.DataObject) -> None:
    """Whatever a funasr.lock holds -- any value at any place of a valid lock, a key dropped,
    or bytes that are not TOML -- read_lock returns a Lock whose names, sizes and digests are
    valid, or raises one ConfigError naming funasr.lock: never another exception."""
    doc = _altered(VALID, data)
    # JSON's escapes keep a lone surrogate as text (tomllib refuses it); a byte that is not
    # UTF-8, or a broken table header, makes the whole file unreadable
    raw = document(doc).encode("utf-8") + data.draw(st.sampled_from([b"", b"\xff", b"[x"]))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "funasr.lock").write_bytes(raw)
        try:
            lock = read_lock(Path(tmp))
        except ConfigError as e:
            (problem,) = e.problems
            assert problem.startswith("funasr.lock: ")
            return
    assert isinstance(lock, Lock)
    for model in lock.models.values():
        for repo in (model, *model.extra):
            assert all(relpath_problem(f.path) is None and f.size >= 0 and len(f.sha256) == 64 for f in repo.files)


def test_the_valid_lock_the_property_starts_from_reads() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "funasr.lock").write_text(document(VALID), "utf-8")
        lock = read_lock(Path(tmp))
    assert lock is not None and [f.path for f in lock.models["vad"].files] == ["am.mvn"]


# --- the signed derived-cache record ---------------------------------------------------------------
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5,
)


@FS
@given(
    st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    st.dictionaries(st.text(max_size=5), JSON, min_size=1, max_size=3),
    st.binary(max_size=64),
)
def test_the_derived_record_binds_its_key_its_record_and_this_machine(
    parts: dict[str, Any], other: dict[str, Any], meta: dict[str, Any], content: bytes
) -> None:
    """A signed entry loads under the key it was stored under, with its meta as stored; the same
    entry under any other key, with any recorded value changed, or checked with another
    machine's key, is not trusted (and is removed)."""
    key, elsewhere = Cache.derived_key(**parts, kind="a"), Cache.derived_key(**other, kind="b")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = Cache(root / "cache", key_file=root / "key")
        (root / "out.onnx").write_bytes(content)
        cache.store_derived(key, {"out.onnx": root / "out.onnx"}, meta)
        entry = cache.root / "derived" / key
        loaded = cache.load_derived(key)
        assert loaded is not None and loaded.meta == meta

        shutil.copytree(entry, cache.root / "derived" / elsewhere)  # moved to another key
        assert cache.load_derived(elsewhere) is None

        other_machine = Cache(root / "cache", key_file=root / "other-key")
        assert other_machine.load_derived(key) is None  # and removed: this machine rebuilds it

        cache.store_derived(key, {"out.onnx": root / "out.onnx"}, meta)
        index = json.loads((entry / "index.json").read_text())
        first = next(iter(index["record"]["meta"]))
        index["record"]["meta"][first] = ["changed", index["record"]["meta"][first]]
        (entry / "index.json").write_text(json.dumps(index))
        assert cache.load_derived(key) is None


# --- the manifest reader ---------------------------------------------------------------------------
MANIFEST: dict[str, Any] = {
    "manifest_version": 1,
    "hash_algorithm": "sha256",
    "bundle": {"name": "acme-vad", "version": "1.0", "package": "acme_vad"},
    "generator": {"hatch-funasr": "1.0"},
    "models": {
        "vad": {
            "dir": "models/vad",
            "family": "fsmn-vad",
            "format": "onnx",
            "hub": "ms",
            "repo": "iic/vad",
            "revision": "v2.0.4",
            "commit": C1,
            "files": {"am.mvn": {"size": 3, "sha256": "a" * 64}, "model_quant.onnx": {"size": 5, "sha256": "b" * 64}},
            "derived": [],
            "extra": [{"hub": "hf", "repo": "acme/x", "commit": C1, "files": ["am.mvn"]}],
        }
    },
}


def test_the_valid_manifest_the_property_starts_from_reads() -> None:
    manifest = read_manifest(json.dumps(MANIFEST).encode(), "acme.whl: funasr_manifest.json")
    assert sorted(manifest.models["vad"].files) == ["am.mvn", "model_quant.onnx"] and manifest.complete


@FS
@given(st.data())
def test_any_manifest_document_reads_as_a_manifest_or_one_integrity_error(data: st.DataObject) -> None:
    """Whatever a wheel's manifest holds -- any value at any place of a valid one, a key dropped,
    bytes that are not JSON -- read_manifest returns a Manifest whose directories and file names
    are safe relative paths and whose sizes and digests are valid, or raises one IntegrityError
    naming the member: never another exception (a wheel is not trusted)."""
    doc = _altered(MANIFEST, data)
    raw = json.dumps(doc).encode("utf-8") + data.draw(st.sampled_from([b"", b"\xff", b"]"]))
    try:
        manifest = read_manifest(raw, "acme.whl: funasr_manifest.json")
    except IntegrityError as e:
        assert str(e).startswith("acme.whl: funasr_manifest.json") and "\n" not in str(e), str(e)
        return
    for model in manifest.models.values():
        assert relpath_problem(model.dir) is None
        for rel, f in model.files.items():
            assert relpath_problem(rel) is None and f.size >= 0
            assert f.sha256 is None or (len(f.sha256) == 64 and all(c in "0123456789abcdef" for c in f.sha256))
