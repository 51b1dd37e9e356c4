"""Export of the real FSMN-VAD model.pt with FunASR (child process, legacy exporter) to ONNX and
TorchScript, and quantization, checked by running funasr_onnx on the results against the shipped
ONNX and torch on the installed TorchScript; every export's drift from PyTorch recorded; the
generic export of a CAM++ (FunASR's own class, random weights) checked and gated."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from support import campplus, realvad
from support.projects import config_of, make_project, offline_env, run, stage, wheel_build
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
    first: list[str] = []
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True, report=first.append)
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
    # the export child ran the PyTorch model and model.onnx on one fixed input: float32 noise, no more
    drift = manifest["export_drift"]["model.onnx"]
    assert set(manifest["export_drift"]) == {"model.onnx"} and 0 < drift < 1e-4, drift
    said = (
        f"model vad: model.onnx vs the PyTorch model on a fixed input: max abs output difference {drift:.6g} "
        "(no limit set; max-export-drift sets one)"
    )
    assert said in first and said in messages  # measured once, kept with the cached export
    # keep-fp32 = false: the exported model.onnx was only the input of model_quant.onnx
    declared = {"path": "models/vad", "quantize": True, "keep-fp32": False}
    quant_only, _ = stage(
        _config(tmp_path, declared), tmp_path / "quant-only", cache=Cache(tmp_path / "cache"), offline=True
    )
    assert sorted(p.name for p in (quant_only / "models" / "vad").iterdir()) == [
        "am.mvn",
        "config.yaml",
        "model_quant.onnx",
    ]

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


RUN_TORCHSCRIPT = """
import json, sys, torch, yaml
import acme_vad_models as bundle
directory = bundle.path("vad")
module = torch.jit.load(str(directory / "model.torchscript"), map_location="cpu")
conf = yaml.safe_load((directory / "config.yaml").read_text())["encoder_conf"]
cache = [torch.zeros(1, conf["proj_dim"], conf["lorder"] + conf["rorder"] - 1, 1) for _ in range(4)]
scores, caches = module(torch.randn(1, 73, conf["input_dim"]), *cache)
print(json.dumps({"scores": list(scores.shape), "caches": [list(c.shape) for c in caches]}))
"""


def test_torchscript_export_of_real_vad_loads_from_the_installed_wheel(
    tmp_path: Path, export_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FunASR's export(type="torchscript") of the real FSMN-VAD model.pt: built into a wheel, installed
    with pip --no-index, and loaded from there with torch.jit.load (the export venv's torch)."""
    monkeypatch.setenv("HATCH_FUNASR_CACHE", str(tmp_path / "cache"))
    proj = make_project(tmp_path, 'vad = { path = "models/vad", format = "torchscript" }\n')
    realvad.write_model(proj / "models" / "vad", PYTORCH_FILES)
    wheel = wheel_build(proj, HATCH_FUNASR_EXPORT_PYTHON=str(export_python))
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("acme_vad_models/models/"))
        manifest = json.loads(zf.read("acme_vad_models/funasr_manifest.json"))["models"]["vad"]
    assert names == [f"acme_vad_models/models/vad/{f}" for f in ("am.mvn", "config.yaml", "model.torchscript")]
    assert (manifest["format"], manifest["derived"], manifest["runtime"]) == (
        "torchscript",
        ["model.torchscript"],
        None,
    )
    assert manifest["export_drift"] == {"model.torchscript": 0.0}  # the traced module computes what PyTorch does
    assert manifest["server_flag"] is None, "the C++ servers' VAD loads ONNX only"
    assert "no FunASR runtime loads a TorchScript fsmn-vad model" in manifest["advice"][0]
    shown = run([sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)], cwd=tmp_path).stdout
    assert "  model.torchscript: max abs drift from the PyTorch model on a fixed input: 0\n" in shown

    target = tmp_path / "torch-venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    export_site = run(
        [str(export_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path
    ).stdout.strip()
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
    Path(purelib.stdout.strip(), "export_venv.pth").write_text(export_site + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", str(wheel)], cwd=tmp_path)
    out = run([str(python), "-c", RUN_TORCHSCRIPT], cwd=tmp_path, env=offline_env())
    shapes = json.loads(out.stdout.strip().splitlines()[-1])
    assert shapes["scores"][:2] == [1, 73] and len(shapes["caches"]) == 4
    run([str(python), "-m", "acme_vad_models", "verify"], cwd=tmp_path)


@pytest.fixture(scope="module")
def campplus_model(tmp_path_factory: pytest.TempPathFactory, export_python: Path) -> Path:
    """The stand-in CAM++ repository's files, made once (torch and funasr of the export venv)."""
    return campplus.write_model(tmp_path_factory.mktemp("campplus"), export_python)


CAMPPLUS_INPUTS = {"features": {"shape": ["B", "T", 80], "dtype": "float32"}}
RUN_ONNX = """
import json, sys, numpy, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
out = session.run(None, {"features": numpy.random.default_rng(0).standard_normal((4, 250, 80)).astype("float32")})
print(json.dumps({"inputs": [i.name for i in session.get_inputs()], "outputs": [o.name for o in session.get_outputs()],
                  "shape": list(out[0].shape)}))
"""


def test_generic_export_of_campplus_records_drift_and_the_gate_fails_the_build(
    tmp_path: Path, export_python: Path, campplus_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's method 3 for CAM++ (no export() in FunASR): torch.onnx.export of AutoModel(...).model
    with named dynamic axes, opset 14, checked against the PyTorch module in the child."""
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(export_python))
    shutil.copytree(campplus_model, tmp_path / "models" / "spk")
    declared = {
        "path": "models/spk",
        "export": "generic",
        "export-inputs": CAMPPLUS_INPUTS,
        "export-outputs": {"embedding": {"shape": ["B", 192]}},
    }
    messages: list[str] = []
    pkg, _ = stage(
        config_of(tmp_path, {"spk": declared}, name="acme"),
        tmp_path / "stage",
        cache=Cache(tmp_path / "cache"),
        offline=True,
        report=messages.append,
    )
    model_dir = pkg / "models" / "spk"
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "config.yaml",
        "model.onnx",
    ]  # no .bin, no configuration.json
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["spk"]
    assert (manifest["family"], manifest["format"], manifest["derived"]) == ("campplus", "onnx", ["model.onnx"])
    drift = manifest["export_drift"]["model.onnx"]
    assert 0 < drift < 1e-4, drift  # PyTorch vs onnxruntime on B=3, T=67 (traced at B=2, T=100)
    assert "model spk: exporting model.onnx with torch (experimental, export-inputs), opset 14" in messages
    assert 'export = "generic", experimental' in manifest["advice"][0]
    out = run([str(export_python), "-c", RUN_ONNX, str(model_dir / "model.onnx")], cwd=tmp_path)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "inputs": ["features"],
        "outputs": ["embedding"],
        "shape": [4, 192],  # dynamic batch and frames, as declared
    }

    gated = {**declared, "max-export-drift": drift / 2}
    with pytest.raises(ExportError) as info:
        stage(
            config_of(tmp_path, {"spk": gated}, name="acme"),
            tmp_path / "gated",
            cache=Cache(tmp_path / "cache"),
            offline=True,
        )
    assert str(info.value) == (
        f"model spk: model.onnx drifts {drift:.6g} from the PyTorch model on a fixed input, over max-export-drift = "
        f"{drift / 2}; the export does not compute what the checkpoint does (check export-inputs, and whether the "
        "module can be traced)"
    )
    assert not (tmp_path / "gated" / "wheel").exists()


def test_generic_export_with_inputs_the_module_does_not_take_fails_naming_the_model(
    tmp_path: Path, export_python: Path, campplus_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(export_python))
    shutil.copytree(campplus_model, tmp_path / "models" / "spk")
    wrong = {"x": {"shape": ["B", "T", 40]}}  # CAM++ takes 80-dimensional fbank features
    declared = {"path": "models/spk", "format": "torchscript", "export": "generic", "export-inputs": wrong}
    with pytest.raises(ExportError) as info:
        stage(
            config_of(tmp_path, {"spk": declared}, name="acme"),
            tmp_path / "s",
            cache=Cache(tmp_path / "c"),
            offline=True,
        )
    assert str(info.value).startswith('model spk: generic export (export = "generic") failed:\n')
