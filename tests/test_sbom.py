"""SBOM and licences: every bundle wheel carries a CycloneDX 1.6 SBOM in
``.dist-info/sboms/`` (PEP 770) listing each model as a component -- hub, repository,
revision, commit, licence as the hub reports it, each file's sha256, derived files with the
tools that made them -- validated against the CycloneDX schema by cyclonedx-python-lib.
The manifest records each model's licence (from the listing, or from funasr.lock), and
``inspect`` shows it and checks the SBOM against the manifest."""

from __future__ import annotations

import base64
import json
import sys
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from support import realvad
from support.hubserver import LoopbackHub
from support.projects import (
    VAD_HF_REPO,
    VAD_ONNX_REPO,
    cli,
    lock_project,
    make_project,
    run,
    wheel_build,
)

from hatch_funasr.manifest import read_manifest
from hatch_funasr.pack import read_record
from hatch_funasr.sbom import SBOM_NAME, SPDX_IDS, license_choice, render

DIST_INFO = "acme_vad_models-2026.11.0.dist-info"
SBOM = f"{DIST_INFO}/sboms/{SBOM_NAME}"


def read_sbom(wheel: Path) -> tuple[dict[str, Any], bytes]:
    """The wheel's SBOM, after checking it against the CycloneDX 1.6 JSON schema (strict)."""
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(SBOM)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode("utf-8"))
    assert error is None, error
    return json.loads(data), data


def record_sha256(wheel: Path) -> dict[str, str]:
    """RECORD's sha256 of every entry, as hex."""
    with zipfile.ZipFile(wheel) as zf:
        rows = read_record(zf.read(f"{DIST_INFO}/RECORD"))
    out = {}
    for name, digest, _size in rows:
        if digest:
            raw = base64.urlsafe_b64decode(digest.split("=", 1)[1] + "==")
            out[name] = raw.hex()
    return out


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_locked_modelscope_build_carries_licence_and_sbom(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path)
    lock_project(project)
    assert 'license = "Apache License 2.0"' in (project / "funasr.lock").read_text()
    wheel = wheel_build(project)
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("acme_vad_models/funasr_manifest.json"))
        assert SBOM in zf.namelist()
    vad = manifest["models"]["vad"]
    assert vad["license"] == "Apache License 2.0"  # from the lock: a locked build lists nothing
    bom, _ = read_sbom(wheel)
    assert bom["metadata"]["component"]["purl"] == "pkg:pypi/acme-vad-models@2026.11.0"
    [model] = bom["components"]
    assert model["type"] == "machine-learning-model"
    assert (model["name"], model["version"]) == (VAD_ONNX_REPO, vad["commit"])
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert model["externalReferences"][0]["url"] == f"https://www.modelscope.cn/models/{VAD_ONNX_REPO}"
    props = properties(model)
    assert (props["funasr:hub"], props["funasr:revision"], props["funasr:commit"]) == ("ms", "v2.0.4", vad["commit"])
    assert props["funasr:runtime"] == "quantized"
    # Every model file, with the sha256 RECORD and the manifest have.
    recorded = record_sha256(wheel)
    listed = {f["name"]: f["hashes"][0]["content"] for f in model["components"]}
    assert listed == {f"acme_vad_models/models/vad/{rel}": f["sha256"] for rel, f in vad["files"].items()}
    assert all(recorded[name] == sha for name, sha in listed.items())
    inspected = cli(project, "inspect", str(wheel))
    assert inspected.returncode == 0, inspected.stderr
    assert "  licence: Apache License 2.0" in inspected.stdout
    assert f"SBOM: {SBOM} (CycloneDX 1.6, 1 model(s), 3 files)" in inspected.stdout


def test_hugging_face_licence_and_purl(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path, f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n')
    wheel = wheel_build(project)
    bom, _ = read_sbom(wheel)
    [model] = bom["components"]
    commit = properties(model)["funasr:commit"]
    assert model["purl"] == f"pkg:huggingface/{VAD_HF_REPO}@{commit}"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert model["externalReferences"][0]["url"] == f"https://huggingface.co/{VAD_HF_REPO}"


def test_derived_files_name_the_tools_that_made_them(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path, 'vad = { path = "models/vad", quantize = true }\n')
    realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    wheel = wheel_build(project, SOURCE_DATE_EPOCH="1767225600")
    bom, data = read_sbom(wheel)
    [model] = bom["components"]
    assert "licenses" not in model and "purl" not in model  # a local directory: no hub, no licence
    assert properties(model)["funasr:path"] == "models/vad"
    by_name = {f["name"].rsplit("/", 1)[1]: properties(f) for f in model["components"]}
    made = by_name["model_quant.onnx"]["funasr:made-by"]
    assert made.startswith("quantized (dynamic, MatMul, QUInt8) with onnxruntime "), made
    assert float(by_name["model_quant.onnx"]["funasr:drift"]) > 0
    assert "funasr:made-by" not in by_name["model.onnx"]
    # Local files are hashed while packing: the SBOM has their sha256 too.
    assert all(f.get("hashes") for f in model["components"])
    assert bom["metadata"]["timestamp"] == "2026-01-01T00:00:00Z"
    tools = {t["name"] for t in bom["metadata"]["tools"]["components"]}
    assert {"hatch-funasr", "onnxruntime"} <= tools
    # Reproducible: the same inputs and SOURCE_DATE_EPOCH give the same SBOM.
    again = wheel_build(project, SOURCE_DATE_EPOCH="1767225600")
    assert read_sbom(again)[1] == data


def test_editable_wheels_carry_the_sbom(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path)
    build = "import sys, hatchling.build as b; sys.stdout.write(b.build_editable(sys.argv[1]))"
    name = run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=project).stdout.strip()
    bom, _ = read_sbom(tmp_path / "dist" / name)
    assert [c["name"] for c in bom["components"]] == [VAD_ONNX_REPO]


def test_a_licence_that_is_not_one_is_not_packed(tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str]) -> None:
    repo = "acme/odd-licence-vad-onnx"
    hub.store.publish(repo, {n: realvad.model_files()[n] for n in ("model.onnx", "config.yaml", "am.mvn")})
    hub.store.describe(repo, license='Apache-2.0"\n<script>alert(1)</script>')
    project = make_project(tmp_path, f'vad = {{ model = "{repo}", family = "fsmn-vad" }}\n')
    result = cli(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "ignoring the licence ModelScope reports (not a licence name)" in result.stderr
    assert "license" not in (project / "funasr.lock").read_text()
    wheel = wheel_build(project)
    with zipfile.ZipFile(wheel) as zf:
        assert json.loads(zf.read("acme_vad_models/funasr_manifest.json"))["models"]["vad"]["license"] is None
    assert "licenses" not in read_sbom(wheel)[0]["components"][0]


def test_inspect_checks_the_sbom_against_the_manifest(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path)
    wheel = wheel_build(project)
    bom, _ = read_sbom(wheel)
    bom["components"][0]["components"][0]["hashes"][0]["content"] = "0" * 64
    altered = tmp_path / "altered" / wheel.name
    altered.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(altered, "w") as dst:
        for info in src.infolist():
            data = json.dumps(bom).encode() if info.filename == SBOM else src.read(info)
            dst.writestr(info, data)
    result = cli(project, "inspect", str(altered))
    assert result.returncode == 1
    name = bom["components"][0]["components"][0]["name"]
    assert f"{SBOM}: {name} has another sha256" in result.stderr


@pytest.mark.parametrize("spelled", sorted(SPDX_IDS))
def test_spdx_ids_we_emit_are_spdx_ids(spelled: str) -> None:
    schema = json.loads(files("cyclonedx.schema._res").joinpath("spdx.SNAPSHOT.schema.json").read_text("utf-8"))
    assert license_choice(spelled)["license"]["id"] in schema["enum"]


def test_unknown_licences_are_named() -> None:
    assert license_choice("FunASR Model Open Source License Agreement") == {
        "license": {"name": "FunASR Model Open Source License Agreement"}
    }


def test_an_extra_file_names_the_commit_it_came_from_not_the_movable_revision() -> None:
    """``revision = "master"`` moves; the SBOM's origin of a file taken from another
    repository is the commit the build fetched it at (what the lock pins)."""
    commit, extra_commit = "a" * 40, "b" * 40
    manifest = {
        "bundle": {"name": "acme-asr", "version": "1.0", "package": "acme_asr"},
        "generator": {"hatch-funasr": "1.0"},
        "models": {
            "asr": {
                "hub": "ms",
                "repo": "iic/SenseVoiceSmall-onnx",
                "revision": "v2.0.5",
                "commit": commit,
                "family": "sensevoice",
                "format": "onnx",
                "dir": "models/asr",
                "files": {
                    "model_quant.onnx": {"size": 1, "sha256": "1" * 64},
                    "bpe.model": {"size": 2, "sha256": "2" * 64},
                },
                "extra": [
                    {
                        "hub": "ms",
                        "repo": "iic/SenseVoiceSmall",
                        "revision": "master",
                        "commit": extra_commit,
                        "files": ["bpe.model"],
                    }
                ],
            }
        },
    }
    data = render(read_manifest(manifest, "the test's manifest"), epoch=315532800)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode("utf-8")) is None
    (model,) = json.loads(data)["components"]
    origins = {f["name"].rsplit("/", 1)[1]: properties(f).get("funasr:from") for f in model["components"]}
    assert origins == {"bpe.model": f"ms:iic/SenseVoiceSmall@{extra_commit}", "model_quant.onnx": None}
    assert properties(model)["funasr:commit"] == commit
