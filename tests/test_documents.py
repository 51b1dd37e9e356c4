"""Documents read back from outside the project (a cached listing, funasr.lock, a wheel's manifest)
each have one reader: a malformed one ends a command in one line naming the file, the field and
what to do, never a traceback."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from support.projects import VAD_ONNX_REPO, cli, make_project

from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.errors import IntegrityError
from hatch_funasr.pipeline import build_requirements_for
from hatch_funasr.settings import Settings

COMMIT = "c" * 40


def _one_error_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    assert getattr(result, "returncode", None) == 1, result
    assert "Traceback" not in stderr, stderr
    (line,) = stderr.strip().splitlines()
    return str(line)


def test_a_cached_listing_whose_files_are_not_tables_is_one_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)  # vad = fsmn-vad at v2.0.4, no lock
    cache = Cache(tmp_path / "cache", lock_timeout=1, key_file=tmp_path / "key")
    cache.write_ref("ms", VAD_ONNX_REPO, "v2.0.4", COMMIT)
    cache.write_snapshot("ms", VAD_ONNX_REPO, COMMIT, {"files": {"model_quant.onnx": "not a table"}})
    snapshot = cache.snapshot_path("ms", VAD_ONNX_REPO, COMMIT)
    expected = (
        f"the cached listing {snapshot}: files.'model_quant.onnx': expected a table, got str; delete that file "
        "(the next online build or `hatch-funasr fetch` lists the hub again)"
    )
    line = _one_error_line(cli(project, "check", HATCH_FUNASR_CACHE=str(cache.root)))
    assert line == f"error: {expected}"
    # The hook's dependencies() reads the same listing through the same reader.
    settings = Settings.from_env({"HATCH_FUNASR_CACHE": str(cache.root), "HATCH_FUNASR_OFFLINE": "1"})
    with pytest.raises(IntegrityError) as info:
        build_requirements_for(load_config(project), project, settings)
    assert str(info.value) == expected


_STALE = "; delete that file (the next online build or `hatch-funasr fetch` lists the hub again)"


@pytest.mark.parametrize(
    ("snapshot", "problem"),
    [
        ([{"files": {}}], "expected a table, got list"),
        ({"files": ["model.onnx"]}, "files: expected a table of files, got list"),
        ({"license": "MIT"}, "files: expected a table of files, got NoneType"),
        ({"files": {"am.mvn": 3}}, "files.'am.mvn': expected a table, got int"),
        ({"files": {"am.mvn": {"size": 1, "sha256": 7}}}, "files.'am.mvn': a hash that is not a string"),
        ({"files": {"am.mvn": {"size": 1, "git_sha1": ["a"]}}}, "files.'am.mvn': a hash that is not a string"),
    ],
    ids=["a-list", "files-a-list", "no-files", "entry-not-a-table", "sha256-not-text", "git-sha1-not-text"],
)
def test_every_malformed_cached_listing_is_one_error_naming_the_field(
    snapshot: object, problem: str, tmp_path: Path
) -> None:
    from hatch_funasr.model import HubRef
    from hatch_funasr.sources import cached_listing

    model = load_config(make_project(tmp_path)).model("vad")
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    file = cache.snapshot_path("ms", VAD_ONNX_REPO, COMMIT)
    file.parent.mkdir(parents=True)
    file.write_text(json.dumps(snapshot))
    with pytest.raises(IntegrityError) as info:
        cached_listing(model, HubRef("ms", VAD_ONNX_REPO, COMMIT), cache)
    assert str(info.value) == f"the cached listing {file}: {problem}{_STALE}"


def test_a_cached_listings_licence_is_kept_only_if_it_reads_as_one(tmp_path: Path) -> None:
    from hatch_funasr.model import HubRef
    from hatch_funasr.sources import cached_listing

    model = load_config(make_project(tmp_path)).model("vad")
    cache = Cache(tmp_path / "cache", key_file=tmp_path / "key")
    ref = HubRef("ms", VAD_ONNX_REPO, COMMIT)
    cache.write_snapshot("ms", VAD_ONNX_REPO, COMMIT, {"files": {}, "license": "Apache-2.0"})
    listing = cached_listing(model, ref, cache)
    assert listing is not None and (listing.commit, listing.files, listing.license) == (COMMIT, {}, "Apache-2.0")
    cache.write_snapshot("ms", VAD_ONNX_REPO, COMMIT, {"files": {}, "license": "\x1b[2J MIT"})
    listing = cached_listing(model, ref, cache)
    assert listing is not None and listing.license is None


def test_a_hand_edited_lock_declaration_is_one_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "funasr.lock").write_text(
        f"""version = 1

[models.vad]
hub = "ms"
repo = "{VAD_ONNX_REPO}"
revision = "v2.0.4"
commit = "{COMMIT}"
declaration = "{{quantize: true}}"
files = []
"""
    )
    result = cli(project, "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # funasr.lock is a declaration: its problems are listed under one heading, one line each.
    assert result.stderr.splitlines() == [
        "error: invalid FunASR model declaration in funasr.lock (1 problem):",
        "  - funasr.lock: models.vad.declaration: expected the table `hatch-funasr lock` writes, got "
        "'{quantize: true}'; it is not edited by hand; fix it, or delete it and run `hatch-funasr lock`",
    ]


def _wheel(tmp_path: Path, manifest: object) -> Path:
    wheel = tmp_path / "acme_vad_models-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("acme_vad_models/funasr_manifest.json", json.dumps(manifest))
    return wheel


def test_a_wheel_manifest_that_is_not_one_is_one_error(tmp_path: Path) -> None:
    """`inspect` reads a wheel's manifest with the bundle runtime's own validator: never a traceback."""
    listed = _wheel(tmp_path, [])
    line = _one_error_line(cli(tmp_path, "inspect", str(listed)))
    assert line == f"error: {listed}: acme_vad_models/funasr_manifest.json: the manifest's top level is [], not a table"
    no_bundle = cli(tmp_path, "inspect", str(_wheel(tmp_path, {"models": {}})))
    assert no_bundle.returncode == 1 and "Traceback" not in no_bundle.stderr, no_bundle.stderr
    outside = {
        "bundle": {"name": "acme", "version": "1", "package": "acme_vad_models"},
        "models": {"vad": {"dir": "models/vad", "family": "fsmn-vad", "format": "onnx", "files": {"../x": {}}}},
    }
    line = _one_error_line(cli(tmp_path, "inspect", str(_wheel(tmp_path, outside))))
    assert "'../x', which is not a path inside the bundle" in line
