"""Export of the real FSMN-VAD model.pt with FunASR (child process, legacy exporter) and quantization,
checked by running funasr_onnx on the results against the shipped ONNX."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest
from support import realvad
from support.projects import config_of, stage
from support.speech import Utterance

from hatch_funasr.cache import Cache
from hatch_funasr.errors import ExportError

pytestmark = pytest.mark.e2e

PYTORCH_FILES = ("model.pt", "config.yaml", "am.mvn", "configuration.json")
RUN_VAD = """
import json, sys
from funasr_onnx import Fsmn_vad
print(json.dumps([Fsmn_vad(d, quantize=q == "1")(sys.argv[1]) for d, q in zip(sys.argv[2::2], sys.argv[3::2])]))
"""


def _config(root: Path, model: dict[str, object]):  # type: ignore[no-untyped-def]
    return config_of(root, {"vad": model}, name="acme")


def test_export_and_quantize_real_vad_finds_same_speech(
    tmp_path: Path, export_python: Path, fresh_venv: Path, utterance: Utterance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(export_python))
    monkeypatch.setenv("HF_TOKEN", "hf_CANARY_must_not_reach_export")
    realvad.write_model(tmp_path / "models" / "vad", PYTORCH_FILES)
    config = _config(tmp_path, {"path": "models/vad", "quantize": True})
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    messages: list[str] = []
    again, _ = stage(config, tmp_path / "again", cache=Cache(tmp_path / "cache"), offline=True, report=messages.append)
    assert "model vad: reusing the cached export of model.onnx" in messages
    assert "model vad: reusing the cached model_quant.onnx" in messages
    assert (again / "funasr_manifest.json").read_bytes() == (pkg / "funasr_manifest.json").read_bytes()
    exported = pkg / "models" / "vad"
    assert sorted(p.name for p in exported.iterdir()) == ["am.mvn", "config.yaml", "model.onnx", "model_quant.onnx"]
    assert (exported / "model_quant.onnx").stat().st_size < (exported / "model.onnx").stat().st_size / 2
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]
    assert manifest["derived"] == ["model.onnx", "model_quant.onnx"]
    assert manifest["tools"]["torch"].startswith("2.13.0") and manifest["tools"]["funasr"] == "1.4.16"

    shipped = realvad.write_model(tmp_path / "shipped", ("model.onnx", "config.yaml", "am.mvn"))
    out = subprocess.run(
        [str(fresh_venv), "-c", RUN_VAD, str(utterance.wav), str(shipped), "0", str(exported), "0", str(exported), "1"],
        check=True,
        capture_output=True,
        text=True,
    )
    reference, fp32, quant = (r[0] for r in json.loads(out.stdout.strip().splitlines()[-1]))
    assert fp32 == reference, (reference, fp32)
    assert len(quant) == len(reference)
    for (s1, e1), (s2, e2) in zip(quant, reference, strict=True):
        assert abs(s1 - s2) <= 100 and abs(e1 - e2) <= 100, (reference, quant)


def test_checkpoint_that_runs_code_is_refused(
    tmp_path: Path, export_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(export_python))
    marker = tmp_path / "code-ran"

    class RunsCode:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    model_dir = realvad.write_model(tmp_path / "models" / "vad", ("config.yaml", "am.mvn", "configuration.json"))
    (model_dir / "model.pt").write_bytes(pickle.dumps({"state": RunsCode()}))
    config = _config(tmp_path, {"path": "models/vad"})
    with pytest.raises(ExportError) as info:
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    assert "model vad: FunASR export failed" in str(info.value)
    assert "Weights only load failed" in str(info.value) or "weights_only" in str(info.value)
    assert not marker.exists(), "unpickling must never run the checkpoint's code"
    assert not (tmp_path / "stage" / "wheel").exists()


def test_missing_export_tools_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = tmp_path / "bare"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(bare)], check=True)
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(bare / "bin" / "python"))
    realvad.write_model(tmp_path / "models" / "vad", PYTORCH_FILES)
    with pytest.raises(ExportError, match=r"install the export extra: pip install 'hatch-funasr\[export\]'"):
        stage(_config(tmp_path, {"path": "models/vad"}), tmp_path / "s", cache=Cache(tmp_path / "c"), offline=True)


RUN_AUTOMODEL = """
import json, sys
from funasr import AutoModel
model = AutoModel(model=sys.argv[1], disable_update=True, device="cpu")
print("SEGMENTS " + json.dumps(model.generate(input=sys.argv[2])[0]["value"]))
"""


def test_pytorch_format_bundle_loads_with_automodel(tmp_path: Path, export_python: Path, utterance: Utterance) -> None:
    realvad.write_model(tmp_path / "models" / "vad", (*PYTORCH_FILES, "model.onnx"))
    config = _config(tmp_path, {"path": "models/vad", "format": "pytorch"})
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    model_dir = pkg / "models" / "vad"
    assert sorted(p.name for p in model_dir.iterdir()) == ["am.mvn", "config.yaml", "configuration.json", "model.pt"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELSCOPE_ENDPOINT": "http://127.0.0.1:9"}
    out = subprocess.run(
        [str(export_python), "-c", RUN_AUTOMODEL, str(model_dir), str(utterance.wav)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    segments = json.loads(next(ln for ln in out.stdout.splitlines() if ln.startswith("SEGMENTS "))[9:])
    assert segments and segments[0][0] <= utterance.speech_start_ms + 100
    assert segments[-1][1] >= utterance.speech_end_ms - 100


def test_quantized_shipped_onnx_finds_same_speech(tmp_path: Path, fresh_venv: Path, utterance: Utterance) -> None:
    shipped = realvad.write_model(tmp_path / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    pkg, _ = stage(
        _config(tmp_path, {"path": "models/vad", "quantize": True}),
        tmp_path / "stage",
        cache=Cache(tmp_path / "cache"),
        offline=True,
    )
    built = pkg / "models" / "vad"
    assert (built / "model_quant.onnx").stat().st_size < (built / "model.onnx").stat().st_size / 2
    out = subprocess.run(
        [str(fresh_venv), "-c", RUN_VAD, str(utterance.wav), str(shipped), "0", str(built), "1"],
        check=True,
        capture_output=True,
        text=True,
    )
    fp32, quant = (r[0] for r in json.loads(out.stdout.strip().splitlines()[-1]))
    assert len(quant) == len(fp32) >= 1
    for (s1, e1), (s2, e2) in zip(quant, fp32, strict=True):
        assert abs(s1 - s2) <= 100 and abs(e1 - e2) <= 100, (fp32, quant)
