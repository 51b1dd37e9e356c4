"""Models over 2 GB: ONNX files that keep their weights in external data files.

The mechanics do not depend on size, so the models here are small ones saved the way big
ones must be (weights in ``model.onnx.data``); the 2 GB threshold itself only decides that
quantization writes its output that way too.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto
from support.genmodels import write_family
from support.hubserver import LoopbackHub
from support.projects import make_project, stage_project, wheel_build

from hatch_funasr.errors import IntegrityError, SelectionError
from hatch_funasr.onnxscan import OnnxFormatError, external_data

REPO = "acme/paraformer-external-onnx"


def external_family(dest: Path, *, location: str = "model.onnx.data") -> dict[str, bytes]:
    """A paraformer stand-in whose model.onnx keeps every weight in ``location``."""
    write_family("paraformer", dest, weight_mb=4)
    model = onnx.load(str(dest / "model.onnx"))
    (dest / "model.onnx").unlink()
    onnx.save(model, str(dest / "model.onnx"), save_as_external_data=True, location=location, size_threshold=0)
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def _feed(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    shape = {"speech": (1, 20, 560), "speech_lengths": (1,)}
    return {
        i.name: (np.ones(shape[i.name], np.int32) if "int" in i.type else np.full(shape[i.name], 0.5, np.float32))
        for i in session.get_inputs()
    }


# --- the scanner ------------------------------------------------------------------------------
def test_scanner_finds_external_locations(tmp_path: Path) -> None:
    write_family("paraformer", tmp_path / "self")
    assert external_data(tmp_path / "self" / "model.onnx") == []
    external_family(tmp_path / "one")
    assert external_data(tmp_path / "one" / "model.onnx") == ["model.onnx.data"]
    write_family("paraformer", tmp_path / "many")
    model = onnx.load(str(tmp_path / "many" / "model.onnx"))
    onnx.save(
        model,
        str(tmp_path / "many" / "split.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=False,
        size_threshold=0,
    )
    names = {i.name for i in model.graph.initializer}
    assert set(external_data(tmp_path / "many" / "split.onnx")) == names
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((tmp_path / "one" / "model.onnx").read_bytes()[:-7])
    with pytest.raises(OnnxFormatError):
        external_data(truncated)


# --- through a build ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    files = external_family(tmp_path_factory.mktemp("external"))
    hub.store.publish(REPO, files, tags=["v1"])
    return files


@pytest.mark.parametrize("keep_fp32", [True, False])
def test_external_data_is_fetched_quantized_and_packed(
    keep_fp32: bool, published: dict[str, bytes], tmp_path: Path, hub_env: dict[str, str]
) -> None:
    declaration = f'asr = {{ model = "{REPO}", family = "paraformer", revision = "v1", quantize = true, '
    project = make_project(tmp_path, declaration + f"keep-fp32 = {str(keep_fp32).lower()} }}\n")
    wheel = wheel_build(project)
    target = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    model_dir = target / "acme_vad_models" / "models" / "asr"
    manifest = json.loads((target / "acme_vad_models" / "funasr_manifest.json").read_text())["models"]["asr"]
    quant = ort.InferenceSession(str(model_dir / "model_quant.onnx"), providers=["CPUExecutionProvider"])
    quant_weights = external_data(model_dir / "model_quant.onnx")
    assert quant_weights, "the quantized model keeps its weights outside too"
    expected = {"model_quant.onnx", *quant_weights, "am.mvn", "config.yaml", "tokens.json"}
    if keep_fp32:
        expected |= {"model.onnx", "model.onnx.data"}
        assert (model_dir / "model.onnx.data").read_bytes() == published["model.onnx.data"]
        fp32 = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        a, b = fp32.run(None, _feed(fp32))[0], quant.run(None, _feed(quant))[0]
        assert a.shape == b.shape and float(np.max(np.abs(a - b))) < 0.5 * float(np.max(np.abs(a)))
    assert {p.name for p in model_dir.iterdir()} == expected
    assert set(manifest["files"]) == expected
    assert manifest["quant_drift"]["model_quant.onnx"] is not None


def test_missing_external_data_names_model_and_file(
    hub: LoopbackHub, published: dict[str, bytes], tmp_path: Path, hub_env: dict[str, str]
) -> None:
    hub.store.publish("acme/paraformer-no-data", {k: v for k, v in published.items() if k != "model.onnx.data"})
    project = make_project(tmp_path, 'asr = { model = "acme/paraformer-no-data", family = "paraformer" }\n')
    with pytest.raises(
        SelectionError, match=r"model asr: model\.onnx keeps weights in model\.onnx\.data, which .* does not have"
    ):
        stage_project(project, tmp_path / "stage")


def test_external_data_outside_the_model_directory_is_refused(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path, 'asr = { path = "local/asr", family = "paraformer" }\n')
    model_dir = project / "local" / "asr"
    write_family("paraformer", model_dir)
    (project / "secret.bin").write_bytes(b"\0" * 4096)
    model = onnx.load(str(model_dir / "model.onnx"))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../secret.bin"
    (model_dir / "model.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(IntegrityError, match=r"model asr: model\.onnx refers to external data '\.\./\.\./secret\.bin'"):
        stage_project(project, tmp_path / "stage")
