"""Hostile inputs: listings with escaping names, leaked tokens, ONNX files that lie, names that
are not text, hubs that stall, caches with symlinks, installed manifests that lie."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import helper
from support import hubserver, realvad
from support.genmodels import external_tensor
from support.hubserver import LoopbackHub
from support.projects import VAD_HF_REPO, cli, config_of, make_project, stage

from hatch_funasr import hubs, onnxscan
from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.errors import FetchError, IntegrityError
from hatch_funasr.model import HubRef
from hatch_funasr.onnxscan import OnnxFormatError, external_data
from hatch_funasr.settings import Settings

HOSTILE = [
    "../escaped.txt",
    "/etc/escaped",
    "C:\\escaped",
    "\\\\host\\share\\escaped",
    "escaped\ud800.txt",  # a lone surrogate: legal JSON, not text
    "CONIN$",
    "con .txt",
]


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


_ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@pytest.mark.parametrize(
    ("name", "env", "why"),
    [
        ("escaped\ud800.txt", {}, r"'escaped\\ud800\.txt': not text"),
        ("\u4e2d\u6587.txt", _ASCII_LOCALE, r"'\\u4e2d\\u6587\.txt': .*file-system encoding \(ascii\) cannot hold"),
    ],
    ids=["surrogate", "ascii-locale"],
)
def test_lock_refuses_a_listed_name_that_is_not_text_here_in_one_line(
    name: str,
    env: dict[str, str],
    why: str,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``hatch-funasr lock`` (and, under an ASCII locale, a name this system cannot create): one
    line before any download, not an encoding traceback or a download retried as failed."""
    original = hubserver.ModelScopeRoutes.file_entries

    def file_entries(self: Any, repo_id: str, commit: Any, root: str, *, recursive: bool) -> Any:
        entries = original(self, repo_id, commit, root, recursive=recursive)
        return [*entries, {"Path": name, "Name": name, "Type": "blob", "Size": 3, "Sha256": "0" * 64}]

    monkeypatch.setattr(hubserver.ModelScopeRoutes, "file_entries", file_entries)
    project = make_project(tmp_path, 'vad = { model = "fsmn-vad", revision = "v2.0.4" }\n')
    hub.clear_log()
    result = cli(project, "lock", **env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model vad: ModelScope repository "), result.stderr
    assert re.search(why, lines[0]), lines[0]
    assert hub.transfers == []
    assert not (project / "funasr.lock").exists()


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


# --- ONNX files that lie ----------------------------------------------------------------------
def test_external_data_in_a_function_attribute_default_is_found(tmp_path: Path) -> None:
    """FunctionProto.attribute_proto (field 11): defaults for a local function's attributes."""
    model = helper.make_model(helper.make_graph([], "g", [], []))
    function = helper.make_function("local", "f", [], ["c"], [], [helper.make_opsetid("", 14)])
    default = function.attribute_proto.add()
    default.name, default.type = "value", onnx.AttributeProto.TENSOR
    default.t.CopyFrom(external_tensor("c", "default.bin"))
    model.functions.append(function)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    assert external_data(path) == ["default.bin"]


def test_a_4_gib_zero_filled_model_is_refused_at_once(tmp_path: Path) -> None:
    big = tmp_path / "model.onnx"
    with big.open("wb") as f:
        f.truncate(4 << 30)  # sparse: no disk used
    with pytest.raises(OnnxFormatError, match=r"4294967296 bytes, over the 2 GiB a protobuf message can hold"):
        external_data(big)
    small = tmp_path / "zeros.onnx"  # under the limit, zeros are tag 0: no field has number 0
    small.write_bytes(bytes(1 << 20))
    with pytest.raises(OnnxFormatError, match=r"invalid field number 0 at byte 0"):
        external_data(small)


def test_a_model_of_countless_tiny_fields_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07" * 2000)  # ModelProto.ir_version = 7, again and again: legal, endless
    assert external_data(path) == []
    monkeypatch.setattr(onnxscan, "MAX_FIELDS", 1000)
    with pytest.raises(OnnxFormatError, match=r"more than 1000 fields outside tensor data"):
        external_data(path)


@pytest.mark.parametrize("location", ["sub/../w.bin", "./w.bin"])
def test_an_external_data_location_with_dot_parts_is_refused_not_renamed(location: str, tmp_path: Path) -> None:
    """onnxruntime opens ``sub/../w.bin`` through ``sub``: packed as ``w.bin`` it would not load."""
    model_dir = tmp_path / "models" / "vad"
    realvad.write_model(model_dir, ("config.yaml", "am.mvn", "model.onnx"))
    (model_dir / "sub").mkdir()
    (model_dir / "w.bin").write_bytes(bytes(4))
    model = onnx.load(str(model_dir / "model.onnx"))
    model.graph.initializer.append(external_tensor("extra", location))
    (model_dir / "model.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(
        IntegrityError,
        match=rf"model vad: model\.onnx refers to external data '{re.escape(location)}' \(has a '\.{{1,2}}'",
    ):
        stage(_config(tmp_path, {"path": "models/vad"}), tmp_path / "s", cache=Cache(tmp_path / "c"))


# --- names that are not text, or one name on another system ------------------------------------
def _local_vad(tmp_path: Path, *extra: bytes) -> Path:
    model_dir = tmp_path / "models" / "vad"
    realvad.write_model(model_dir, ("config.yaml", "am.mvn", "model.onnx"))
    for name in extra:
        (model_dir / os.fsdecode(name)).write_bytes(b"x")
    return model_dir


def test_a_local_file_name_that_is_not_utf8_is_refused_naming_model_and_file(tmp_path: Path) -> None:
    _local_vad(tmp_path, b"notes-\xff.txt")
    with pytest.raises(
        IntegrityError,
        match=r"model vad: the local directory .* lists unsafe file names \('notes-\\udcff\.txt': not text",
    ):
        stage(_config(tmp_path, {"path": "models/vad"}), tmp_path / "s", cache=Cache(tmp_path / "c"))


def _check(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "check", "--project", str(project)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        errors="replace",
    )


@pytest.mark.parametrize(
    ("files", "env", "why"),
    [
        ([b"notes-\xff.txt"], {}, r"'notes-\\udcff\.txt': not text"),
        (
            ["caf\u00e9.txt".encode(), "cafe\u0301.txt".encode()],
            {},
            r"'cafe\\u0301\.txt' and 'caf\\xe9\.txt', one file on Windows and macOS",
        ),
        ([b"Sub"], {}, r"'Sub' and 'sub', one file on Windows and macOS"),
        (
            ["\u00e9.txt".encode()],
            {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
            r"file-system encoding \(ascii\) cannot hold",
        ),
    ],
    ids=["not-utf8", "nfc-nfd", "file-vs-dir", "ascii-locale"],
)
def test_check_reports_names_that_are_not_text_or_collide_in_one_line(
    files: list[bytes], env: dict[str, str], why: str, tmp_path: Path
) -> None:
    project = make_project(tmp_path, 'vad = { path = "models/vad", family = "fsmn-vad" }\n')
    model_dir = _local_vad(project, *files)
    if b"Sub" in files:
        (model_dir / "sub").mkdir()
        (model_dir / "sub" / "x.txt").write_bytes(b"x")
    result = _check(project, **env)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model vad: "), result.stderr
    assert re.search(why, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("names", "why"),
    [
        (["escaped\ud800.txt"], r"'escaped\\ud800\.txt': not text"),
        (["../x"], r"'\.\./x': "),
        (["sub/NUL  .json"], r"'sub/NUL  \.json': .*Windows"),
        (["caf\u00e9.txt", "cafe\u0301.txt"], r"'cafe\\u0301\.txt' and 'caf\\xe9\.txt', one file on Windows and macOS"),
    ],
    ids=["surrogate", "dotdot", "windows-device", "nfc-nfd"],
)
def test_check_refuses_names_in_a_cached_listing_in_one_line(names: list[str], why: str, tmp_path: Path) -> None:
    """``check`` reads a hub model's listing from the cache (no lock): the reader builds use."""
    project = make_project(tmp_path, 'vad = { model = "fsmn-vad", revision = "v2.0.4" }\n')
    (model,) = load_config(project).models
    assert isinstance(model.origin, HubRef)
    cache = Cache(tmp_path / "cache")
    commit = "1" * 40
    listed = ["config.yaml", "am.mvn", "model.onnx", *names]
    files = {n: {"size": 1, "sha256": hashlib.sha256(n.encode("utf-8", "surrogatepass")).hexdigest()} for n in listed}
    cache.write_snapshot("ms", model.origin.repo, commit, {"files": files})
    cache.write_ref("ms", model.origin.repo, "v2.0.4", commit)
    result = _check(project, HATCH_FUNASR_CACHE=str(cache.root))
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    snapshot = cache.snapshot_path("ms", model.origin.repo, commit)
    assert len(lines) == 1 and lines[0].startswith(f"error: model vad: the cached listing {snapshot} "), result.stderr
    assert re.search(why, lines[0]), lines[0]


# --- installed manifests that lie -------------------------------------------------------------
_GOOD_FILE = {"size": 1, "sha256": "0" * 64}
HOSTILE_MANIFESTS: dict[str, object] = {
    "not-json": b"{not json",
    "not-utf8": b'{"models": "\xff\xfe"}',
    "a-list": [],
    "models-a-list": {"models": []},
    "model-a-list": {"models": {"vad": []}},
    "files-a-list": {"models": {"vad": {"dir": "models/vad", "files": ["a"]}}},
    "file-an-int": {"models": {"vad": {"dir": "models/vad", "files": {"a": 3}}}},
    "size-text": {"models": {"vad": {"dir": "models/vad", "files": {"a": {"size": "1", "sha256": "0" * 64}}}}},
    "dir-an-int": {"models": {"vad": {"dir": 3, "files": {}}}},
    "dir-absolute": {"models": {"vad": {"dir": "/etc", "files": {}}}},
    "dir-dotdot": {"models": {"vad": {"dir": "../../..", "files": {}}}},
    "dir-flag-like": {"models": {"vad": {"dir": "--help", "files": {"a": _GOOD_FILE}}}},
    "name-flag-like": {"models": {"--model-dir=/etc": {"dir": "models/x", "files": {}}}},
    "server-flag-not-one": {"models": {"vad": {"dir": "models/vad", "files": {}, "server_flag": "--model-dir=/x"}}},
    "name-escapes": {"models": {"\x1b[2J\x1b[32mALL FILES VERIFIED OK": {"dir": "models/x", "files": {}}}},
    "config-path-absolute": {"models": {"vad": {"dir": "models/vad", "files": {}, "config_paths": {"a.b": "/etc"}}}},
    "family-an-int": {"models": {"vad": {"dir": "models/vad", "files": {}, "family": 3}}},
    "bundle-a-list": {"bundle": [], "models": {}},
}
_SUBCOMMANDS = (["names"], ["path", "vad"], ["json"], ["verify"], ["server-args"], ["exec-server", "funasr-wss-server"])


def _installed_bundle(site: Path, manifest: object) -> None:
    from hatch_funasr import package

    pkg = site / "acme_models"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        package._INIT.format(project="acme", version="1", package="acme_models", names="vad")
    )
    (pkg / "__main__.py").write_text(package._MAIN)
    runtime = Path(package.__file__).with_name("_bundle_runtime.py")
    (pkg / package.RUNTIME_NAME).write_bytes(runtime.read_bytes())
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (pkg / package.MANIFEST_NAME).write_bytes(data)


@pytest.mark.parametrize("manifest", HOSTILE_MANIFESTS.values(), ids=HOSTILE_MANIFESTS.keys())
def test_a_hostile_installed_manifest_is_one_line_in_every_subcommand_and_inspect(
    manifest: object, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _installed_bundle(site, manifest)
    env = {**os.environ, "PYTHONPATH": str(site)}
    imported = subprocess.run([sys.executable, "-c", "import acme_models"], env=env, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr  # said where it is used, not at import
    for command in _SUBCOMMANDS:
        result = subprocess.run(
            [sys.executable, "-m", "acme_models", *command], env=env, capture_output=True, text=True, cwd=tmp_path
        )
        lines = result.stderr.splitlines()
        assert result.returncode == 1 and len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("error: ") and "\x1b" not in result.stdout + result.stderr, (command, lines)
        assert "reinstall the bundle from its wheel" in lines[0], (command, lines)
    wheel = tmp_path / "acme_models-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(site / "acme_models" / "funasr_manifest.json", "acme_models/funasr_manifest.json")
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)], capture_output=True, text=True
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"error: {wheel}: "), result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def test_escape_sequences_in_a_wheels_manifest_are_shown_escaped_by_inspect(tmp_path: Path) -> None:
    """Text fields a manifest may hold (version, origin, family, licence, notes) come from the
    wheel: ``inspect`` shows them, never draws them."""
    drawn = "\x1b[2J\x1b[32mALL FILES VERIFIED OK\x1b[0m"
    model = {"dir": "models/vad", "family": "fsmn-vad" + drawn, "format": "onnx", "files": {}}
    model |= {"hub": "ms", "repo": "iic/x" + drawn, "commit": drawn, "license": drawn, "advice": [drawn]}
    manifest = {
        "bundle": {"name": "acme", "version": "1" + drawn, "package": "acme_models"},
        "generator": {"hatch-funasr": drawn},
        "models": {"vad": model},
    }
    wheel = tmp_path / "acme_models-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("acme_models/funasr_manifest.json", json.dumps(manifest))
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)], capture_output=True, text=True
    )
    assert "\x1b" not in result.stdout + result.stderr
    assert result.stdout.count("\\x1b[32mALL FILES VERIFIED OK") == 7, result.stdout


# --- tokens only to the hub endpoint's origin ----------------------------------------------------
@pytest.mark.parametrize("elsewhere", ["another-port", "another-host"])
def test_the_modelscope_token_cookie_does_not_follow_a_redirect_off_the_endpoint(
    elsewhere: str, hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", CANARY_MS)
    with LoopbackHub(hubserver.RepoStore(tmp_path / "other")) as other:
        other.storage = hub.storage  # the other server serves the same redirected objects
        port = other.url.rsplit(":", 1)[1]
        netloc = f"127.0.0.1:{port}" if elsewhere == "another-port" else f"localhost:{hub.url.rsplit(':', 1)[1]}"
        monkeypatch.setattr(hub.storage, "netloc", netloc)
        monkeypatch.setattr(hub.storage, "cookies", [])
        model = {"model": "fsmn-vad", "revision": "v2.0.4"}
        stage(_config(tmp_path, model), tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=False)
        other.storage = hubserver.Storage()
    assert any("_storage" in t for _, t in (other.requests if elsewhere == "another-port" else hub.requests))
    assert not [c for c in hub.storage.cookies if CANARY_MS in c]


# --- symbolic links planted in the cache -----------------------------------------------------------
@pytest.mark.parametrize(
    "planted", ["snapshots", "refs/ms", "blobs/sha256", "stamps", "locks", "tmp", "snapshots/ms/iic"]
)
def test_a_symlink_planted_in_the_cache_is_an_error_never_followed(
    planted: str, hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    outside = tmp_path / "outside"
    outside.mkdir()
    link = cache.root / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(
        IntegrityError, match=rf"the cache .* holds a symbolic link, {re.escape(str(link))}; .*remove it"
    ):
        stage(
            _config(tmp_path, {"model": "fsmn-vad", "revision": "v2.0.4"}), tmp_path / "s", cache=cache, offline=False
        )
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("planted", ["editable", "editable/KEY"])
def test_a_symlink_planted_in_the_caches_editable_directory_is_an_error_never_followed(
    planted: str, tmp_path: Path, hub_env: dict[str, str]
) -> None:
    """An editable build keeps its model directories in the cache (``editable/<key>``, emptied
    first): through a planted link it would empty and write a directory elsewhere."""
    project = make_project(tmp_path)
    key = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:16]
    outside = tmp_path / "outside"
    (outside / key).mkdir(parents=True)
    (outside / key / "keep.txt").write_text("mine")
    (outside / "KEY").mkdir()
    link = Path(hub_env["HATCH_FUNASR_CACHE"]) / planted.replace("KEY", key)
    link.parent.mkdir(parents=True)
    link.symlink_to(outside if planted == "editable" else outside / "KEY", target_is_directory=True)
    build = "import sys, hatchling.build as b; sys.stdout.write(b.build_editable(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path / "dist")], cwd=project, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"holds a symbolic link, {link}; the cache makes none and follows none" in result.stderr, result.stderr
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == sorted(
        ["KEY", key, f"{key}/keep.txt"]
    )


def test_a_derived_record_that_is_a_symlink_is_an_error_never_read(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    made = tmp_path / "made.bin"
    made.write_bytes(b"derived")
    key = Cache.derived_key(test="symlinked record")
    cache.store_derived(key, {"made.bin": made})
    index = cache.root / "derived" / key / "index.json"
    elsewhere = tmp_path / "elsewhere.json"
    index.replace(elsewhere)
    index.symlink_to(elsewhere)
    with pytest.raises(IntegrityError, match=rf"holds a symbolic link, {re.escape(str(index))}"):
        cache.load_derived(key)


# --- hubs that stall -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hub_name", "prefix"), [("ms", "/api/v1/models"), ("hf", f"/{VAD_HF_REPO}/resolve/")], ids=["ms", "hf"]
)
def test_retry_after_is_capped_and_said(
    hub_name: str,
    prefix: str,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """503 with ``Retry-After: 3600``, twice: the clients would wait an hour each time."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # the waits asked for, not waited
    monkeypatch.setitem(hub.throttle, prefix, 2)
    model: dict[str, object] = (
        {"model": "fsmn-vad", "revision": "v2.0.4"}
        if hub_name == "ms"
        else {"model": VAD_HF_REPO, "hub": "hf", "revision": "v2.0.4"}
    )
    stage(_config(tmp_path, model), tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=False)
    assert hub.throttle[prefix] == 0
    assert waits and max(waits) <= 61, waits  # huggingface_hub adds a second to what it is told
    assert "the hub asked to wait 3600 s before retrying; waiting 60 s at most" in caplog.text


@pytest.mark.parametrize(
    ("hub_name", "status"), [("ms", 429), ("hf", 429), ("hf", 503)], ids=["ms-429", "hf-429", "hf-503"]
)
def test_retry_after_is_capped_and_said_when_listing_an_organisations_models(
    hub_name: str,
    status: int,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``models --remote``: ModelScope's OpenAPI client sleeps a 429's ``Retry-After`` itself
    (parsed by its own ``raise_for_status``, not urllib3); on a 503 it backs off by itself."""
    prefix = {"ms": "/openapi/v1/models", "hf": "/api/models"}[hub_name]
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # the waits asked for, not waited
    monkeypatch.setattr(hub, "throttle_status", status)
    monkeypatch.setitem(hub.throttle, prefix, 2)
    hub.store.publish("throttled-org/one", {"README.md": b"# one\n"})
    found = hubs.search(hub_name, ["throttled-org"], None, limit=10, settings=Settings.from_env())
    assert [m.repo for _, m in found] == ["throttled-org/one"]
    assert hub.throttle[prefix] == 0
    assert waits and max(waits) <= 61, waits  # huggingface_hub adds a second to what it is told
    assert "the hub asked to wait 3600 s before retrying; waiting 60 s at most" in caplog.text


def test_a_trickling_body_is_cut_by_the_minimum_rate(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One byte every 50 ms (about 20 bytes/s): cut after each window, with the reason."""
    monkeypatch.setattr(hubs, "MIN_RATE_WINDOW", 0.5)
    monkeypatch.setenv("HATCH_FUNASR_DOWNLOAD_ATTEMPTS", "1")
    monkeypatch.setitem(hub.faults, "model_quant.onnx", hubserver.Fault("trickle"))
    model = {"model": VAD_HF_REPO, "hub": "hf", "revision": "v2.0.4"}
    with pytest.raises(
        FetchError, match=r"model_quant\.onnx: \d+ bytes in \d+ s, under the minimum of 1024 bytes/s; cut off"
    ):
        stage(_config(tmp_path, model), tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=False)
    monkeypatch.setitem(hub.faults, "model_quant.onnx", hubserver.Fault("trickle", times=1))
    stage(_config(tmp_path, model), tmp_path / "stage2", cache=Cache(tmp_path / "cache"), offline=False)
    assert hub.faults["model_quant.onnx"].served == 1  # cut, then resumed at full speed


def test_an_altered_cached_file_is_fetched_again_online_without_a_lock(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    config = _config(tmp_path, {"model": "fsmn-vad", "revision": "v2.0.4"})
    stage(config, tmp_path / "stage", cache=cache, offline=False)
    blob = next(p for p in (cache.root / "blobs").rglob("*") if p.is_file() and p.stat().st_size > 4096)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))  # same size, other bytes
    hub.clear_log()
    stage(config, tmp_path / "stage2", cache=cache, offline=False)
    assert len(hub.transfers) == 1
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


# --- escape sequences from outside never reach the terminal ---------------------------------------
def test_escape_sequences_in_a_hub_error_are_shown_escaped(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = "\x1b[2J\x1b[32mALL FILES VERIFIED OK\x1b[0m"
    monkeypatch.setattr(
        hubserver.HuggingFaceRoutes,
        "_info",
        lambda self, request, repo_id, revision: hubserver.json_response(500, {"error": drawn}),
    )
    model = {"model": VAD_HF_REPO, "hub": "hf", "revision": "v2.0.4"}
    with pytest.raises(FetchError) as info:
        stage(_config(tmp_path, model), tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=False)
    assert "\x1b" not in str(info.value)
    assert "\\x1b[32mALL FILES VERIFIED OK" in str(info.value)
