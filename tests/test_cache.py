"""The cache as untrusted storage: derived files are used only under a record this machine signed."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support import realvad
from support.projects import config_of, stage

from hatch_funasr import cache as cache_module
from hatch_funasr.cache import Cache
from hatch_funasr.digest import FileDigest, hash_stream
from hatch_funasr.errors import FetchError, IntegrityError


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
    with file.open("rb") as src:  # as a client hashes a download: git's blob id too (HF's non-LFS files)
        return file, hash_stream(src, len(data), git=True)


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


# --- listings, refs, blobs, locks and scratch space: the layout other builds rely on -------------
def test_listings_and_refs_are_kept_by_hub_owner_name_and_commit(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    commit = "c" * 40
    listing = {"files": {"b": {"size": 1}, "a": {"size": 2}}, "license": "MIT"}
    cache.write_snapshot("hf", "acme/a+b c", commit, listing)
    file = cache.root / "snapshots" / "hf" / "acme" / "a%2bb%20c" / f"{commit}.json"
    assert file.read_text() == json.dumps(listing, sort_keys=True, separators=(",", ":"))
    assert cache.read_snapshot("hf", "acme/a+b c", commit) == listing
    assert cache.read_snapshot("ms", "acme/a+b c", commit) is None
    cache.write_ref("hf", "acme/a+b c", "v1.0/x", commit)
    assert (cache.root / "refs" / "hf" / "acme" / "a%2bb%20c" / "v1.0%2fx").read_text() == commit
    assert cache.read_ref("hf", "acme/a+b c", "v1.0/x") == commit
    assert cache.read_ref("hf", "acme/a+b c", "v2") is None
    (cache.root / "refs" / "hf" / "acme" / "a%2bb%20c" / "empty").write_text("  \n")
    assert cache.read_ref("hf", "acme/a+b c", "empty") is None
    file.write_text("{not json")
    assert cache.read_snapshot("hf", "acme/a+b c", commit) is None
    assert sorted(p.name for p in file.parent.iterdir()) == [f"{commit}.json"]  # no temporary file left


def test_a_blob_altered_after_it_was_verified_is_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    data = b"weights" * 100
    file, digest = _downloaded(tmp_path, data)
    cache.adopt(file, digest, expect_sha256=digest.sha256, expect_git_sha1=None, expect_size=len(data), what="x")
    blob = cache.blob_path(digest.sha256)
    assert blob == cache.root / "blobs" / "sha256" / digest.sha256[:2] / digest.sha256
    assert cache.has_blob(digest.sha256, len(data)) and not cache.has_blob(digest.sha256, len(data) + 1)
    assert cache.verify_blob(digest.sha256, len(data), "model m: f") == blob
    blob.chmod(0o644)
    blob.write_bytes(b"Weights" * 100)  # same size, other bytes
    altered = hashlib.sha256(b"Weights" * 100).hexdigest()
    with pytest.raises(IntegrityError) as info:
        cache.verify_blob(digest.sha256, len(data), "model m: f")
    assert str(info.value) == (
        f"model m: f: cached copy {blob} was altered after it was verified (sha256 {altered}, expected "
        f"{digest.sha256}); it was removed, fetch again"
    )
    assert not blob.exists()
    with pytest.raises(FetchError, match=rf"^model m: f: not in the cache \({re.escape(str(blob))}\)$"):
        cache.verify_blob(digest.sha256, len(data), "model m: f")


def test_a_blob_whose_stamp_is_gone_is_hashed_again_and_stamped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    data = b"tokens"
    file, digest = _downloaded(tmp_path, data)
    cache.adopt(file, digest, expect_sha256=None, expect_git_sha1=None, expect_size=None, what="x")
    stamp = cache.root / "stamps" / digest.sha256[:2] / digest.sha256
    recorded = stamp.read_text()
    st = cache.blob_path(digest.sha256).stat()
    assert recorded == f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"
    stamp.unlink()
    assert cache.verify_blob(digest.sha256, len(data), "x") == cache.blob_path(digest.sha256)
    assert stamp.read_text() == recorded


def test_a_held_lock_is_waited_for_then_named_with_its_holder(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", lock_timeout=0.2, key_file=tmp_path / "key")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with cache.lock("ms:acme/x@c"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(30)
        lock_file = cache.root / "locks" / (hashlib.sha256(b"ms:acme/x@c").hexdigest()[:32] + ".lock")
        with pytest.raises(FetchError) as info, cache.lock("ms:acme/x@c"):
            pass
        assert str(info.value) == (
            f"timed out after 0.2s waiting for the cache lock {lock_file} (pid {os.getpid()} on {platform.node()}: "
            "ms:acme/x@c); another build is working on the same model. Wait for it, or stop it; "
            "HATCH_FUNASR_LOCK_TIMEOUT sets the wait"
        )
        with cache.lock("ms:acme/y@c", timeout=0.2):  # another key is another lock
            pass
    finally:
        release.set()
        thread.join()
    with cache.lock("ms:acme/x@c", timeout=0):  # released: taken at once
        pass


def test_a_lock_wait_says_who_holds_it_as_it_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "LOCK_REPORT_EVERY", 0.05)
    cache = Cache(tmp_path / "cache", lock_timeout=0.5, key_file=tmp_path / "key")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with cache.lock("ms:acme/x@c"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    said: list[str] = []
    try:
        assert held.wait(30)
        with pytest.raises(FetchError, match=r"timed out after 0\.5s"), cache.lock("ms:acme/x@c", report=said.append):
            pass
    finally:
        release.set()
        thread.join()
    lock_file = cache.root / "locks" / (hashlib.sha256(b"ms:acme/x@c").hexdigest()[:32] + ".lock")
    holder_text = f"pid {os.getpid()} on {platform.node()}: ms:acme/x@c"
    assert len(said) >= 2, said
    assert all(s.startswith(f"waiting for the cache lock {lock_file}, held by {holder_text} (") for s in said)
    assert said[-1].endswith(" of at most 0.5 s)")


def test_scratch_space_is_owned_and_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    with cache.tempdir("download-") as tmp:
        assert tmp.parent == cache.root / "tmp" and tmp.is_dir()
        assert tmp.name.startswith("download-") and f"-{os.getpid()}-" in tmp.name
        (tmp / "partial").write_bytes(b"x")
    assert not tmp.exists()
    with pytest.raises(RuntimeError), cache.tempdir("derived-") as tmp:
        raise RuntimeError
    assert not tmp.exists()


def test_a_derived_entry_stored_twice_is_kept_once_and_verified(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize", input="a" * 64)
    assert (
        key == Cache.derived_key(input="a" * 64, kind="quantize") != Cache.derived_key(kind="quantize", input="b" * 64)
    )
    first = cache.store_derived(key, {"model_quant.onnx": produced}, {"drift": 0.5})
    second = cache.store_derived(key, {"model_quant.onnx": produced}, {"drift": 0.5})  # another build, same result
    assert first.files == second.files and second.meta == {"drift": 0.5}
    (entry,) = (cache.root / "derived").iterdir()
    assert entry.name == key and sorted(p.name for p in entry.iterdir()) == ["index.json", "model_quant.onnx"]
    loaded = cache.load_derived(key, strict=True)
    assert loaded is not None and loaded.meta == {"drift": 0.5}
    record = loaded.files["model_quant.onnx"]
    assert (record.source, record.size, record.sha256) == (
        entry / "model_quant.onnx",
        9,
        hashlib.sha256(b"quantized").hexdigest(),
    )
    assert cache.load_derived("0" * 64) is None and cache.load_derived("0" * 64, strict=True) is None  # nothing there
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600 and len((tmp_path / "key").read_text()) == 64


@pytest.mark.parametrize("strict", [False, True], ids=["online", "offline"])
def test_a_signed_entry_moved_to_another_key_is_not_trusted(tmp_path: Path, strict: bool) -> None:
    """The record binds the key it was stored under: a genuine signed entry (of another input,
    or another tool version) copied under the key of this input is a substitution, refused."""
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized from another model")
    theirs = Cache.derived_key(kind="quantize", input="a" * 64)
    ours = Cache.derived_key(kind="quantize", input="b" * 64)
    cache.store_derived(theirs, {"model_quant.onnx": produced}, {"drift": 0.5})
    shutil.copytree(cache.root / "derived" / theirs, cache.root / "derived" / ours)
    if strict:
        with pytest.raises(IntegrityError, match=r"carry no record this machine signed"):
            cache.load_derived(ours, strict=True)
    else:
        assert cache.load_derived(ours) is None
        assert not (cache.root / "derived" / ours).exists()  # removed, not left to be tried again
    loaded = cache.load_derived(theirs, strict=True)  # the genuine entry under its own key still holds
    assert loaded is not None and loaded.meta == {"drift": 0.5}


def test_another_build_on_this_machine_trusts_the_entries_and_a_new_key_is_made_where_asked(tmp_path: Path) -> None:
    key_file = tmp_path / "nested" / "dir" / "key"
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize", input=Path("/a/b"))  # paths are parts too
    assert key != Cache.derived_key(kind="quantize", input=Path("/a/c"))
    Cache(tmp_path / "cache", key_file=key_file).store_derived(key, {"model_quant.onnx": produced}, {"drift": 1.0})
    assert key_file.is_file() and len(bytes.fromhex(key_file.read_text())) == 32
    later = Cache(tmp_path / "cache", key_file=key_file)  # another process: the key is read from the file
    loaded = later.load_derived(key, strict=True)
    assert loaded is not None and loaded.meta == {"drift": 1.0}


def test_a_key_that_cannot_be_written_means_nothing_is_trusted_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "a-file" / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize")
    cache.store_derived(key, {"model_quant.onnx": produced})
    assert cache.load_derived(key) is None


def test_a_derived_entry_not_signed_with_this_key_is_not_trusted(tmp_path: Path) -> None:
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize")
    Cache(tmp_path / "cache", key_file=tmp_path / "other-key").store_derived(key, {"model_quant.onnx": produced})
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    with pytest.raises(IntegrityError) as info:
        cache.load_derived(key, strict=True)
    assert str(info.value) == (
        f"the cached derived files {cache.root / 'derived' / key} carry no record this machine signed (made "
        "elsewhere, or altered); an offline build cannot make them again: build once online, or delete that directory"
    )
    assert cache.load_derived(key) is None  # unsigned: removed, not used
    assert not (cache.root / "derived" / key).exists()


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (lambda k: k.write_text("not a key"), "not a key hatch-funasr wrote (64 hex digits)"),
        (lambda k: k.write_text("ab" * 16), "not a key hatch-funasr wrote (64 hex digits)"),
        (lambda k: k.write_text("z" * 64), "not a key hatch-funasr wrote (64 hex digits)"),
        (lambda k: k.write_bytes(b"\xff" * 64), "not a key hatch-funasr wrote (64 hex digits)"),
        (lambda k: k.mkdir(), "not a regular file"),
        (
            lambda k: (k.write_text("ab" * 32), k.chmod(0o666)),
            "writable by other users (mode 666): anyone could sign records",
        ),
        (
            lambda k: (k.write_text("ab" * 32), k.chmod(0o620)),
            "writable by other users (mode 620): anyone could sign records",
        ),
    ],
    ids=["garbage", "short", "not-hex", "not-text", "directory", "world-writable", "group-writable"],
)
def test_a_key_file_this_machine_cannot_trust_is_a_clear_error(
    setup: Callable[[Path], object], problem: str, tmp_path: Path
) -> None:
    setup(tmp_path / "key")
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    with pytest.raises(IntegrityError) as info:
        cache.store_derived(Cache.derived_key(kind="quantize"), {"model_quant.onnx": produced})
    assert str(info.value) == (
        f"the key file {tmp_path / 'key'}, which signs the records of derived files in the cache, is {problem}; "
        "delete it (a new one is made) or point HATCH_FUNASR_KEY_FILE at another file, not in the cache"
    )


def test_a_key_file_inside_the_cache_is_refused(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "cache" / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    with pytest.raises(IntegrityError, match=r"is inside the cache \(whoever can plant cache files could sign"):
        cache.store_derived(Cache.derived_key(kind="quantize"), {"model_quant.onnx": produced})
    assert not (tmp_path / "cache" / "key").exists()


def test_a_derived_entry_made_by_another_build_that_does_not_load_leaves_ours_in_use(tmp_path: Path) -> None:
    """The rename into place fails (another build's entry is there) and that entry is not
    usable: the files just made are used where they are, with what was measured."""
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    (tmp_path / "out" / "sub" / "deep").mkdir(parents=True)
    produced = {
        "model_quant.onnx": tmp_path / "out" / "model_quant.onnx",
        "sub/deep/w.data": tmp_path / "out" / "sub" / "deep" / "w.data",
    }
    produced["model_quant.onnx"].write_bytes(b"quantized")
    produced["sub/deep/w.data"].write_bytes(b"weights!")
    key = Cache.derived_key(kind="quantize")
    theirs = cache.root / "derived" / key
    (theirs / "half-written").mkdir(parents=True)
    entry = cache.store_derived(key, produced, {"drift": 0.25})
    assert entry.meta == {"drift": 0.25}
    assert {n: (r.source, r.size, r.sha256) for n, r in entry.files.items()} == {
        n: (p, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for n, p in produced.items()
    }
    assert not any((cache.root / "tmp").iterdir())
    fresh = Cache(tmp_path / "cache2", key_file=tmp_path / "key").store_derived(key, produced)  # nested names kept
    stored = fresh.files["model_quant.onnx"].source.parent
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == [
        "index.json",
        "model_quant.onnx",
        "sub/deep/w.data",
    ]
    assert fresh.meta == {}


@pytest.mark.parametrize(
    "index",
    [
        "[]",
        '{"record": "x", "mac": "0"}',
        '{"record": {"files": {}}, "mac": 3}',
        '{"record": {"files": {}}, "mac": "' + "0" * 64 + '"}',
    ],
)
def test_an_index_that_is_not_a_signed_record_is_dropped(index: str, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    base = cache.root / "derived" / ("a" * 64)
    base.mkdir(parents=True)
    (base / "index.json").write_text(index)
    assert cache.load_derived("a" * 64) is None and not base.exists()
    base.mkdir(parents=True)
    (base / "index.json").write_text(index)
    with pytest.raises(IntegrityError, match=r"carry no record this machine signed"):
        cache.load_derived("a" * 64, strict=True)


def _signed_entry(cache: Cache, key: str, record: object) -> Path:
    base = cache.root / "derived" / key
    base.mkdir(parents=True)
    (base / "index.json").write_text(json.dumps({"record": record, "mac": cache._sign(key, record)}))  # type: ignore[arg-type]
    return base


def test_a_signed_record_naming_a_file_outside_its_entry_or_not_a_file_entry_is_dropped(tmp_path: Path) -> None:
    """Defence in depth: even a record this machine signed names only files inside its entry."""
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    key = "b" * 64
    for files in ({"../outside.bin": {"size": 1, "sha256": "0" * 64, "stamp": ""}}, {"inside.bin": "not a table"}):
        base = _signed_entry(cache, key, {"files": files, "meta": {}})
        (base.parent / "outside.bin").write_bytes(b"x")
        (base / "inside.bin").write_bytes(b"x")
        assert cache.load_derived(key) is None and not base.exists(), files


def test_without_a_key_a_record_with_a_mac_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")  # no key can be made below a file
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "a-file" / "key")
    base = cache.root / "derived" / ("c" * 64)
    base.mkdir(parents=True)
    (base / "index.json").write_text(json.dumps({"record": {"files": {}, "meta": {}}, "mac": "0" * 64}))
    assert cache.load_derived("c" * 64) is None


def test_a_failed_write_leaves_nothing_and_an_unwritable_stamp_is_no_error(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    target = cache.root / "refs" / "x"
    with pytest.raises(TypeError):
        cache._write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert list(target.parent.iterdir()) == []
    (cache.root / "stamps").write_text("a file where the stamps directory goes")
    data = b"tokens"
    file, digest = _downloaded(tmp_path, data)
    cache.adopt(file, digest, expect_sha256=None, expect_git_sha1=None, expect_size=None, what="x")
    assert cache.blob_path(digest.sha256).read_bytes() == data  # adopted; the stamp just is not kept


def test_adopt_names_every_difference_against_the_hub_listing_by_default(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    file, digest = _downloaded(tmp_path, b"12345")
    with pytest.raises(IntegrityError) as info:
        cache.adopt(file, digest, expect_sha256="0" * 64, expect_git_sha1=None, expect_size=4, what="m: f")
    assert str(info.value) == (
        f"m: f: downloaded content does not match the hub listing: size 5, expected 4; sha256 {digest.sha256}, "
        f"expected {'0' * 64}"
    )
    file, digest = _downloaded(tmp_path, b"12345")
    file.write_bytes(b"123456")  # changed after it was hashed
    with pytest.raises(IntegrityError, match=r"downloaded content does not match the hub listing: size 6, expected 5$"):
        cache.adopt(file, digest, expect_sha256=None, expect_git_sha1=None, expect_size=None, what="m: f")


def test_a_cache_from_settings_and_given_values_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hatch_funasr.settings import Settings

    settings = Settings.from_env(
        {
            "HATCH_FUNASR_CACHE": str(tmp_path / "c1"),
            "HATCH_FUNASR_LOCK_TIMEOUT": "7",
            "HATCH_FUNASR_KEY_FILE": str(tmp_path / "k1"),
        }
    )
    cache = Cache.from_settings(settings)
    assert (cache.root, cache.lock_timeout, cache.key_file) == ((tmp_path / "c1").resolve(), 7.0, tmp_path / "k1")
    monkeypatch.setenv("HATCH_FUNASR_LOCK_TIMEOUT", "not a number")  # a Cache never reads the environment
    given = Cache(tmp_path / "c2", lock_timeout=0.5, key_file=tmp_path / "k2")
    assert (given.root, given.lock_timeout, given.key_file) == ((tmp_path / "c2").resolve(), 0.5, tmp_path / "k2")
    partly = Cache(tmp_path / "c3", lock_timeout=0.25)
    assert (partly.lock_timeout, partly.key_file) == (0.25, (tmp_path / "c3.key").resolve())
    assert Cache(tmp_path / "c4").lock_timeout == 600.0


def test_a_derived_entry_whose_files_are_untouched_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signed record keeps each file's status: loading an untouched entry hashes nothing
    (a quantized model of hundreds of MiB is not read per build); a file whose status changed
    is hashed again, and kept when its bytes are still the recorded ones."""
    from hatch_funasr import cache as cache_module

    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize", input="c" * 64)
    entry = cache.store_derived(key, {"model_quant.onnx": produced})
    hashed: list[Path] = []
    real = cache_module.hash_file

    def counted(path: Path) -> FileDigest:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(cache_module, "hash_file", counted)
    assert cache.load_derived(key) is not None and cache.load_derived(key, strict=True) is not None
    assert hashed == []
    stored = entry.files["model_quant.onnx"].source
    stored.chmod(stored.stat().st_mode)  # same bytes, new change time
    assert cache.load_derived(key) is not None
    assert hashed == [stored]


def test_cache_writes_stay_in_the_cache_whatever_tmpdir_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listings, refs and stamps are written beside their final name and renamed in: a TMPDIR
    on another file system (or one that does not exist) changes nothing."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmpdir"))
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    commit = "d" * 40
    cache.write_snapshot("ms", "acme/vad", commit, {"files": {}})
    cache.write_ref("ms", "acme/vad", "master", commit)
    assert cache.read_snapshot("ms", "acme/vad", commit) == {"files": {}}
    assert cache.read_ref("ms", "acme/vad", "master") == commit
    assert not (tmp_path / "no-such-tmpdir").exists()
    leftovers = [p for p in (cache.root).rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_an_editable_installs_directory_is_under_the_cache_and_no_link(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    where = cache.editable_dir("acme-0123")
    assert where == tmp_path / "cache" / "editable" / "acme-0123"
    (tmp_path / "cache" / "editable").mkdir(parents=True)
    (tmp_path / "cache" / "editable" / "planted").symlink_to(tmp_path)
    with pytest.raises(IntegrityError, match="planted"):
        cache.editable_dir("planted")


def test_a_key_file_a_person_wrote_in_upper_case_or_made_executable_is_used(tmp_path: Path) -> None:
    """What is refused is what another user could have written: a key of 64 hex digits in any
    case, with an executable bit (``chmod 700``), signs records like the one made here."""
    key_file = tmp_path / "key"
    key_file.write_text("AB" * 32 + "\n", "ascii")
    key_file.chmod(0o701)
    cache = Cache(tmp_path / "cache", key_file=key_file)
    produced = tmp_path / "model_quant.onnx"
    produced.write_bytes(b"quantized")
    key = Cache.derived_key(kind="quantize")
    cache.store_derived(key, {"model_quant.onnx": produced})
    assert cache._mac_key() == bytes.fromhex("ab" * 32)
    assert cache.load_derived(key) is not None


def test_a_fresh_key_is_64_hex_digits_readable_by_its_owner_only(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "cfg" / "key")
    assert cache._mac_key() is not None
    text = (tmp_path / "cfg" / "key").read_text("ascii")
    assert re.fullmatch(r"[0-9a-f]{64}", text) and (tmp_path / "cfg" / "key").stat().st_mode & 0o777 == 0o600


def test_a_lock_holder_is_shown_as_written_escaped_and_bounded(tmp_path: Path) -> None:
    owner = tmp_path / "owner"
    assert Cache._holder(owner) == "unknown holder"
    owner.write_bytes(b"  host \xff pid 7\x1b[2J " + b"x" * 300 + b"\n")
    shown = Cache._holder(owner)
    # the first 200 characters as written (a byte that is not UTF-8 replaced), escapes made visible
    raw = "host \ufffd pid 7\x1b[2J "
    assert shown == "host \ufffd pid 7\\x1b[2J " + "x" * (200 - len(raw))


def test_a_derived_records_signature_is_over_one_fixed_spelling(tmp_path: Path) -> None:
    """The HMAC covers the entry's key and record as compact JSON with sorted keys: the same record
    written in any order signs the same, and records an earlier build signed keep verifying."""
    import hmac

    key_file = tmp_path / "key"
    key_file.write_text("0f" * 32, "ascii")
    key_file.chmod(0o600)
    cache = Cache(tmp_path / "cache", key_file=key_file)
    record = {"files": {"b": 2, "a": 1}, "meta": {"drift": 0.5}}
    payload = b'{"key":"k1","record":{"files":{"a":1,"b":2},"meta":{"drift":0.5}}}'
    assert cache._sign("k1", record) == hmac.new(bytes.fromhex("0f" * 32), payload, hashlib.sha256).hexdigest()
    assert cache._sign("k1", dict(reversed(list(record.items())))) == cache._sign("k1", record)
    assert cache._sign("k2", record) != cache._sign("k1", record)


# --- what a planted or damaged cache file does: a miss or one clear error, never a traceback ---------
def test_planted_stamps_refs_and_listings_that_are_not_text_are_misses(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    data = b"weights"
    file, digest = _downloaded(tmp_path, data)
    cache.adopt(file, digest, expect_sha256=digest.sha256, expect_git_sha1=None, expect_size=None, what="m")
    stamp = cache._stamp_path(digest.sha256)
    stamp.write_bytes(b"\xff\xfe not a stamp")  # re-hashed (still intact), stamped again
    assert cache.verify_blob(digest.sha256, len(data), "m") == cache.blob_path(digest.sha256)
    assert stamp.read_bytes() == cache._stamp_of(cache.blob_path(digest.sha256)).encode()
    commit = "e" * 40
    cache.write_ref("ms", "acme/vad", "master", commit)
    assert cache.read_ref("ms", "acme/vad", "master") == commit
    cache._repo_file("refs", "ms", "acme/vad", "master").write_bytes(b"\xff" * 40)
    assert cache.read_ref("ms", "acme/vad", "master") is None
    cache.write_snapshot("ms", "acme/vad", commit, {"files": {}})
    cache.snapshot_path("ms", "acme/vad", commit).write_text('[{"files": {}}]')
    assert cache.read_snapshot("ms", "acme/vad", commit) == [
        {"files": {}}
    ]  # any JSON: sources.cached_listing judges it
    cache.snapshot_path("ms", "acme/vad", commit).write_bytes(b'{"files": "\xff"}')
    assert cache.read_snapshot("ms", "acme/vad", commit) is None


def test_a_symbolic_link_inside_the_cache_is_named_with_what_to_do(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    (cache.root / "blobs").mkdir(parents=True)
    (cache.root / "blobs" / "sha256").symlink_to(tmp_path)
    with pytest.raises(IntegrityError) as info:
        cache.blob_path("ab" * 32)
    assert str(info.value) == (
        f"the cache {cache.root} holds a symbolic link, {cache.root / 'blobs' / 'sha256'}; the cache makes none and "
        "follows none: remove it (or the whole cache)"
    )


def test_a_digest_that_is_not_a_sha256_is_not_made_a_blob_name(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    file, digest = _downloaded(tmp_path, b"x")
    bogus = FileDigest(size=digest.size, sha256="../../escape", git_sha1=digest.git_sha1)
    with pytest.raises(IntegrityError) as info:
        cache.adopt(file, bogus, expect_sha256=None, expect_git_sha1=None, expect_size=None, what="model m: r/x")
    assert str(info.value) == "model m: r/x: '../../escape' is not a sha256 (64 lowercase hex digits)"
    assert not (cache.root / "blobs").exists()


def test_a_signed_record_that_is_not_a_table_or_names_a_missing_file_is_dropped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    base = _signed_entry(cache, "d" * 64, ["files"])  # a MAC over a list: still not a record
    assert cache.load_derived("d" * 64) is None and not base.exists()
    base = _signed_entry(cache, "d" * 64, {"files": {"gone.onnx": {"size": 1, "sha256": "0" * 64, "stamp": ""}}})
    assert cache.load_derived("d" * 64) is None and not base.exists()


def test_an_entry_that_cannot_be_removed_is_still_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only cache (a USB disk mounted read-only): an untrusted entry is not used, and
    not being able to remove it is no error."""
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    unsigned = cache.root / "derived" / ("e" * 64)
    unsigned.mkdir(parents=True)
    (unsigned / "index.json").write_text('{"record": {"files": {}}, "mac": "0"}')
    missing = _signed_entry(cache, "f" * 64, {"files": {"gone.onnx": {"size": 1, "sha256": "0" * 64, "stamp": ""}}})

    def refuse(*_: object, **__: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.setattr(os, "rmdir", refuse)
    assert cache.load_derived("e" * 64) is None and cache.load_derived("f" * 64) is None
    assert (unsigned / "index.json").exists() and (missing / "index.json").exists()
