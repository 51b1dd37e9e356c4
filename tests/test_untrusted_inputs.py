"""Trust boundaries: nothing read back from a hub, the cache, a lock or an installed
bundle is trusted as a name, a path, a size or content.  One test per boundary
(the derived-cache row is in test_cache.py, the edited-cached-listing row in test_sources.py,
the directory-collision and name rows in test_config.py and test_names.py)."""

from __future__ import annotations

import json
import os
import signal
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
from support.hubserver import Fault, LoopbackHub
from support.projects import VAD_HF_REPO, cli, config_of, make_project, stage, stage_project, wheel_build

from hatch_funasr.cache import Cache
from hatch_funasr.errors import ConfigError, FetchError, IntegrityError, SelectionError
from hatch_funasr.onnxscan import MAX_DEPTH, OnnxFormatError, external_data
from hatch_funasr.settings import Settings

HF_VAD = f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n'


# --- hub listings ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"Sha256": "../../../../victim"}, "malformed hash"),
        ({"Sha256": "0" * 63}, "malformed hash"),
        ({"Size": -5}, "not a file size"),
        ({"Path": "AM.MVN", "Name": "AM.MVN"}, "one file on Windows and macOS"),
        ({"Path": "model.onnx.", "Name": "model.onnx."}, "ending in a dot or space"),
        ({"Path": "ads:stream", "Name": "ads:stream"}, "':'"),
    ],
    ids=["sha256-is-a-path", "short-sha256", "negative-size", "case-collision", "trailing-dot", "colon"],
)
def test_a_hostile_modelscope_listing_is_refused_before_any_download(
    entry: dict[str, Any],
    why: str,
    hub: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    original = hubserver.ModelScopeRoutes.file_entries

    def file_entries(self: Any, repo_id: str, commit: Any, root: str, *, recursive: bool) -> Any:
        entries = original(self, repo_id, commit, root, recursive=recursive)
        extra = {"Path": "am.mvn.bak", "Name": "am.mvn.bak", "Type": "blob", "Size": 3, "Sha256": "a" * 64}
        return [*entries, extra | entry]

    monkeypatch.setattr(hubserver.ModelScopeRoutes, "file_entries", file_entries)
    hub.clear_log()
    with pytest.raises(IntegrityError, match=why):
        stage(config_of(tmp_path, {"vad": {"model": "fsmn-vad", "revision": "v2.0.4"}}), tmp_path / "s")
    assert hub.transfers == [] and victim.read_text() == "keep me"


# --- downloads stop at the listed size ----------------------------------------------------------
def test_a_body_longer_than_listed_is_cut_off_not_written_in_full(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    hub.faults["model_quant.onnx"] = Fault("long")
    try:
        with pytest.raises(IntegrityError, match=r"sent more than the \d+ bytes it lists; stopped there"):
            stage_project(make_project(tmp_path, HF_VAD), tmp_path / "s")
    finally:
        hub.faults.clear()
    assert hub.padded_sent < 64 << 20, "the client read on past the listed size"
    cache = Path(hub_env["HATCH_FUNASR_CACHE"])
    assert not list((cache / "tmp").iterdir())


# --- interrupted builds ------------------------------------------------------------------------
def _big_project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, 'vad = { path = "models/vad" }\n')
    vad = realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    with (vad / "padding.bin").open("wb") as f:  # packed via include: a large file to be caught packing
        f.truncate(1 << 30)
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace('vad = { path = "models/vad" }', 'vad = { path = "models/vad", include = ["padding.bin"] }')
    )
    (project / "pyproject.toml").write_text(text)
    return project


def _build_and_signal(project: Path, tmp: Path, sig: int) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    build = subprocess.Popen(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((project / "dist").glob(".funasr-partial-*")):
        assert build.poll() is None, build.communicate()[0]
        assert time.monotonic() < deadline, "packing never started"
        time.sleep(0.01)
    # the backend is the build frontend's child: signal the whole session, as a terminal or CI does
    os.killpg(build.pid, sig)
    build.communicate(timeout=120)
    return build


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_while_packing_leaves_no_wheel_and_no_staging(sig: int, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = _big_project(tmp_path)
    build = _build_and_signal(project, tmp, sig)
    assert build.returncode != 0
    assert sorted(p.name for p in (project / "dist").iterdir()) == [], "nothing half-made stays"
    assert not list(tmp.glob("hatch-funasr-build-*")), "staging removed"


def test_sigkill_while_packing_leaves_nothing_installable_and_the_next_build_sweeps(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = _big_project(tmp_path)
    build = _build_and_signal(project, tmp, signal.SIGKILL)
    assert build.returncode == -signal.SIGKILL
    left = sorted(p.name for p in (project / "dist").iterdir())
    assert left and not [n for n in left if n.endswith(".whl")], left  # hidden scratch only
    assert list(tmp.glob("hatch-funasr-build-*"))
    (project / "models" / "vad" / "padding.bin").unlink()
    text = (project / "pyproject.toml").read_text().replace(', include = ["padding.bin"]', "")
    (project / "pyproject.toml").write_text(text)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        env={**os.environ, "TMPDIR": str(tmp)},
        check=True,
        capture_output=True,
    )
    assert [p.name for p in (project / "dist").iterdir()] == ["acme_vad_models-2026.11.0-py3-none-any.whl"]
    assert not list(tmp.glob("hatch-funasr-build-*")), "the dead build's staging was swept"


def test_a_failure_after_the_hook_started_leaves_no_staging(tmp_path: Path, hub_env: dict[str, str]) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = make_project(tmp_path)
    (project / "funasr.lock").mkdir()  # unreadable as a file
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        env={**os.environ, "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "funasr.lock" in result.stdout + result.stderr
    assert not list(tmp.glob("hatch-funasr-build-*"))
    assert not list(project.rglob("*.whl")), "no wheel anywhere in the project (dist/ or elsewhere)"


def test_a_wheel_without_its_models_refuses_to_import(tmp_path: Path) -> None:
    """What a SIGKILL between hatchling and the packer could leave: the bundle refuses at import."""
    project = make_project(tmp_path, 'vad = { path = "models/vad" }\n')
    realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    wheel = wheel_build(project)
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site, [n for n in zf.namelist() if "/models/" not in n])
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import acme_vad_models", str(site)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "ImportError: acme_vad_models: 3 model file(s) of this bundle are not installed" in result.stderr


# --- ONNX files ---------------------------------------------------------------------------------
def test_external_data_is_found_in_local_functions_and_training_info(tmp_path: Path) -> None:
    graph = helper.make_graph([], "g", [], [])
    model = helper.make_model(graph)
    constant = helper.make_node("Constant", [], ["c"], value=external_tensor("c", "function.bin"))
    model.functions.append(helper.make_function("local", "f", [], ["c"], [constant], [helper.make_opsetid("", 14)]))
    training = model.training_info.add()
    training.initialization.CopyFrom(helper.make_graph([], "init", [], [], [external_tensor("w", "training.bin")]))
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    assert external_data(path) == ["function.bin", "training.bin"]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def test_a_deeply_nested_model_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    """A few KB: graphs inside attributes inside nodes, thousands deep."""
    message = b""
    for _ in range(300):  # graph{ node{ attribute{ g: graph{ ... } } } }: 900 levels
        attribute = b"\x32" + _varint(len(message)) + message  # AttributeProto.g = 6
        node = b"\x2a" + _varint(len(attribute)) + attribute  # NodeProto.attribute = 5
        message = b"\x0a" + _varint(len(node)) + node  # GraphProto.node = 1
    data = b"\x3a" + _varint(len(message)) + message  # ModelProto.graph = 7
    assert len(data) < 3000
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    with pytest.raises(OnnxFormatError, match=f"nested deeper than {MAX_DEPTH} levels"):
        external_data(path)
    model_dir = tmp_path / "models" / "vad"
    realvad.write_model(model_dir, ("config.yaml", "am.mvn"))
    (model_dir / "model.onnx").write_bytes(data)
    with pytest.raises(SelectionError, match=r"model vad: model\.onnx is not a valid ONNX file: messages nested"):
        stage(config_of(tmp_path, {"vad": {"path": "models/vad"}}), tmp_path / "s", cache=Cache(tmp_path / "c"))
    assert onnx.__version__  # the scan itself needs no onnx


# --- installed bundles and wheels ------------------------------------------------------------------
def test_inspect_reads_a_bounded_manifest(tmp_path: Path) -> None:
    wheel = tmp_path / "bomb-1-py3-none-any.whl"
    with (
        zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("bomb/funasr_manifest.json", "w", force_zip64=True) as member,
    ):
        for _ in range(200):
            member.write(b" " * (1 << 20))  # 200 MiB of spaces: ~200 KB deflated
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)], capture_output=True, text=True
    )
    assert result.returncode == 1 and "is over 16777216 bytes: not a manifest" in result.stderr
    assert time.monotonic() - started < 30


def _unpacked_vad_bundle(tmp_path: Path) -> Path:
    """A bundle of the real VAD, built and unpacked as pip would lay it out (``site/acme_vad_models``)."""
    project = make_project(tmp_path, 'vad = { path = "models/vad" }\n')
    realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel_build(project)) as zf:
        zf.extractall(site)
    return site


def _verify(site: Path) -> subprocess.CompletedProcess[str]:
    """``python -m acme_vad_models verify`` run on ``site`` in an isolated interpreter."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from acme_vad_models._funasr_runtime import main; sys.exit(main(['verify']))"
    return subprocess.run([sys.executable, "-I", "-c", code, str(site)], capture_output=True, text=True)


def test_verify_reports_files_planted_in_an_installed_model_directory(tmp_path: Path) -> None:
    site = _unpacked_vad_bundle(tmp_path)
    (site / "acme_vad_models" / "models" / "vad" / "evil.py").write_text("print('hi')\n")
    result = _verify(site)
    assert result.returncode == 1 and "evil.py: not in the manifest (planted?)" in result.stderr


def test_a_manifest_naming_paths_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    site = _unpacked_vad_bundle(tmp_path)
    manifest_file = site / "acme_vad_models" / "funasr_manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["models"]["vad"]["files"]["../../../etc/passwd"] = {"size": 1, "sha256": "0" * 64}
    manifest_file.write_text(json.dumps(manifest))
    result = _verify(site)
    assert result.returncode == 1 and "'../../../etc/passwd', which is not a path inside the bundle" in result.stderr


# --- credentials in endpoints --------------------------------------------------------------------
def test_credentials_in_an_endpoint_url_never_reach_the_output(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    secret = "CANARYsecret0123"
    endpoint = hub.url.replace("http://", f"http://mirror-user:{secret}@")
    project = make_project(tmp_path, f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v9.9.9" }}\n')
    failing = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        env={**os.environ, "HF_ENDPOINT": endpoint, "MODELSCOPE_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
    )
    assert failing.returncode != 0 and "v9.9.9" in failing.stdout + failing.stderr
    assert secret not in failing.stdout + failing.stderr
    assert "mirror-user" not in failing.stdout + failing.stderr


# --- hostile lock values ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("size = ", "size = inf, x = "), "models.vad.files[0].size: inf is not a file size"),
        (('sha256 = "', 'sha256 = 7, x = "'), "models.vad.files[0]: 7 is not a sha256"),
        (('path = "', 'path = 3, x = "'), "models.vad.files[0].path: unsafe file name 3"),
        (('commit = "', 'commit = "v2.0.4", x = "'), "a movable tag or branch cannot be locked"),
        (("[models.vad]", "models = []\n[x.vad]"), "models: expected a table of models, got list"),
        (('hub = "ms"', 'hub = "github"'), "models.vad.hub: expected one of ms, hf, got 'github'"),
    ],
    ids=["size-inf", "sha256-int", "path-int", "commit-is-a-tag", "models-list", "unknown-hub"],
)
def test_hostile_lock_values_name_the_lock_the_model_and_the_key(
    edit: tuple[str, str], message: str, tmp_path: Path, hub_env: dict[str, str]
) -> None:
    project = make_project(tmp_path)
    assert cli(project, "lock").returncode == 0
    lock = project / "funasr.lock"
    text = lock.read_text().replace(edit[0], edit[1], 1)
    if edit[0] == 'commit = "':  # the tag replaces the whole value
        text = text.replace('commit = "v2.0.4", x = "', 'commit = "v2.0.4"\nx = "', 1)
    lock.write_text(text)
    with pytest.raises(ConfigError) as info:
        stage_project(project, tmp_path / "s")
    assert str(info.value).startswith("invalid FunASR model declaration in funasr.lock")
    assert message in str(info.value)


# --- local paths and settings --------------------------------------------------------------------
def test_a_symlink_loop_in_a_local_model_is_a_clear_error(tmp_path: Path) -> None:
    model = realvad.write_model(tmp_path / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    (model / "loop").symlink_to(model / "loop")
    with pytest.raises(FetchError, match=r"model vad: .*loop is a broken or looping link"):
        stage(config_of(tmp_path, {"vad": {"path": "models/vad"}}), tmp_path / "s", cache=Cache(tmp_path / "c"))


@pytest.mark.parametrize("path", ["/", "..", "."])
def test_a_local_path_that_holds_the_project_is_refused(path: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(ConfigError, match=r"tool\.funasr\.models\.vad\.path: .* holds the project itself"):
        config_of(project, {"vad": {"path": path, "family": "fsmn-vad"}})


def test_a_cache_variable_pointing_at_a_file_names_it(tmp_path: Path) -> None:
    file = tmp_path / "cache-file"
    file.write_text("")
    with pytest.raises(ConfigError, match=r"HATCH_FUNASR_CACHE: .*cache-file is not a directory"):
        Settings.from_env({"HATCH_FUNASR_CACHE": str(file)})
