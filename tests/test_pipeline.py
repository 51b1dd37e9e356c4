"""The pipeline on local sources: the staged package, its manifest and stdlib-only runtime module, the plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import realvad
from support.fake_export import fake_export_python
from support.genmodels import write_family
from support.hubserver import LoopbackHub
from support.projects import config_of, stage

from hatch_funasr.cache import Cache
from hatch_funasr.context import BuildContext
from hatch_funasr.errors import ExportError, FetchError, IntegrityError, SelectionError
from hatch_funasr.pipeline import choose, plan
from hatch_funasr.sources import open_source


def _run(staging: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from acme_asr_models._funasr_runtime import main; raise SystemExit(main(sys.argv[1:]))",
            str(staging),
            *args,
        ],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def local_project(tmp_path: Path) -> Path:
    realvad.write_model(tmp_path / "models" / "vad")
    lm = tmp_path / "models" / "lm"
    lm.mkdir()
    for name in ("TLG.fst", "config.yaml", "lexicon.txt"):
        (lm / name).write_text(f"{name}\n")
    return tmp_path


def test_stage_runtime_and_manifest(local_project: Path, tmp_path: Path) -> None:
    config = config_of(
        local_project, {"vad": {"path": "models/vad"}, "lm": {"path": "models/lm", "family": "ngram-lm"}}
    )
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    assert sorted(p.name for p in (pkg / "models" / "vad").iterdir()) == ["am.mvn", "config.yaml", "model.onnx"]
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())
    assert manifest["bundle"] == {
        "name": "acme-asr-models",
        "version": "1.2.3",
        "package": "acme_asr_models",
        # the VAD is ONNX (funasr_onnx); the n-gram LM is the same in every format: no Python runtime
        "extras": {"onnx": ["funasr-onnx>=0.4.3", "onnxruntime>=1.7.0", "numpy<=1.26.4"]},
    }
    vad = manifest["models"]["vad"]
    assert (vad["family"], vad["format"], vad["path"], vad["server_flag"]) == (
        "fsmn-vad",
        "onnx",
        "models/vad",
        "--vad-dir",
    )
    assert str(local_project) not in (pkg / "funasr_manifest.json").read_text(), "no absolute paths in the manifest"

    wheel_root = pkg.parent
    assert _run(wheel_root, "names").stdout.split() == ["lm", "vad"]
    assert _run(wheel_root, "path", "vad").stdout.strip() == str(pkg / "models" / "vad")
    no_asr = _run(wheel_root, "server-args")  # run_server.sh needs an ASR model this bundle lacks
    assert no_asr.returncode == 1 and "funasr-wss-server" not in no_asr.stdout
    assert "run_server.sh needs an offline ASR model (--model-dir)" in no_asr.stderr
    vad_tool = _run(wheel_root, "server-args", "funasr-onnx-offline-vad").stdout.split()
    assert vad_tool == ["--model-dir", str(pkg / "models" / "vad"), "--quantize", "false"]  # fp32 ships
    assert "ok: 6 files match the manifest" in _run(wheel_root, "verify").stdout
    missing = _run(wheel_root, "path", "asr")
    assert missing.returncode == 1 and "no model named 'asr'" in missing.stderr

    # An installed file altered after the build: verify names it and exits non-zero.
    target = pkg / "models" / "vad" / "am.mvn"
    target.unlink()  # staged files are hard links into the source; replace, don't write through
    target.write_bytes(b"tampered")
    bad = _run(wheel_root, "verify", "vad")
    assert bad.returncode == 1
    assert f"vad: {target}: size 8, expected 8040" in bad.stderr


def test_missing_runtime_file_is_named(local_project: Path, tmp_path: Path) -> None:
    (local_project / "models" / "vad" / "am.mvn").unlink()
    config = config_of(local_project, {"vad": {"path": "models/vad"}})
    with pytest.raises(SelectionError) as info:
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    assert (
        f"model vad (fsmn-vad, onnx): cannot build its runtime directory:\n  - path:{local_project / 'models' / 'vad'} has no am.mvn"
        in str(info.value)
    )


def test_symlink_out_of_local_source_refused(local_project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not pack")
    vad = local_project / "models" / "vad"
    (vad / "am.mvn").unlink()
    (vad / "am.mvn").symlink_to(secret)
    config = config_of(local_project, {"vad": {"path": "models/vad"}})
    with pytest.raises(IntegrityError, match=r"is a symbolic link to .*secret\.txt, outside the model directory"):
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)


def test_quantize_local_onnx_with_funasr_settings(local_project: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime.quantization", reason="quantize extra not installed")
    config = config_of(local_project, {"vad": {"path": "models/vad", "quantize": True}})
    said: list[str] = []
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True, report=said.append)
    files = sorted(p.name for p in (pkg / "models" / "vad").iterdir())
    assert files == ["am.mvn", "config.yaml", "model.onnx", "model_quant.onnx"]
    quant = (pkg / "models" / "vad" / "model_quant.onnx").stat().st_size
    assert quant < (pkg / "models" / "vad" / "model.onnx").stat().st_size / 2
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]
    assert manifest["quantized"] is True and manifest["derived"] == ["model_quant.onnx"]
    drift = manifest["quant_drift"]["model_quant.onnx"]
    assert isinstance(drift, float) and 0 < drift < 10
    assert "onnxruntime" in manifest["tools"]
    # The build says what was compared and the limit it is held to.
    assert (
        "model vad: model_quant.onnx vs model.onnx (fp32) on a fixed input: max abs output difference "
        f"{drift:.6g} (no limit set; max-quant-drift sets one)"
    ) in said
    limited = config_of(local_project, {"vad": {"path": "models/vad", "quantize": True, "max-quant-drift": 10}})
    said.clear()
    stage(limited, tmp_path / "limited", cache=Cache(tmp_path / "cache"), offline=True, report=said.append)
    assert (
        "model vad: model_quant.onnx vs model.onnx (fp32) on a fixed input: max abs output difference "
        f"{drift:.6g} (within max-quant-drift = 10)"
    ) in said


def test_check_plan_needs_no_network(tmp_path: Path) -> None:
    config = config_of(tmp_path, {"vad": "fsmn-vad", "asr": {"model": "seaco-paraformer", "quantize": True}})
    steps = {p.name: p.steps for p in plan(config)}
    assert steps["vad"][0] == "fetch iic/speech_fsmn_vad_zh-cn-16k-common-onnx at the default branch from ms"
    assert any(s.startswith("if the source has no ONNX, export model.onnx, model_eb.onnx") for s in steps["asr"])
    # the -onnx repository is quantized only: the selection over what it publishes says so
    assert (
        "pack config.yaml, am.mvn, model_quant.onnx (as a complete source publishes them; the listing decides)"
        in (steps["vad"])
    )
    assert any("expect the quantized runtime" in s for s in steps["vad"])


def test_check_knows_the_catalogs_onnx_repository_under_its_other_spellings(tmp_path: Path) -> None:
    """FunASR's ONNX repository named by its old ``damo/`` owner or in another case is the one the
    catalog names (as ``models --remote`` and the catalog lookup compare ids): nothing to export,
    planned over its quantized-only layout."""
    for repo in ("damo/speech_fsmn_vad_zh-cn-16k-common-onnx", "IIC/speech_fsmn_vad_zh-cn-16k-common-onnx"):
        config = config_of(tmp_path, {"vad": {"model": repo, "quantize": True}})
        (vad,) = plan(config)
        assert vad.exports is False, (repo, vad.steps)
        assert any("model_quant.onnx (as a complete source publishes them" in s for s in vad.steps), vad.steps


def test_check_runs_the_selection_on_a_local_directory(tmp_path: Path) -> None:
    """A local model: the plan is the selection on its real listing; a missing file fails `check`."""
    vad = tmp_path / "models" / "vad"
    realvad.write_model(vad, ("model.onnx", "config.yaml", "am.mvn"))
    quantized = tmp_path / "models" / "vad-q"
    quantized.mkdir()
    (quantized / "model_quant.onnx").write_bytes((vad / "model.onnx").read_bytes())
    (quantized / "config.yaml").write_bytes((vad / "config.yaml").read_bytes())
    config = config_of(tmp_path, {"vad": {"path": "models/vad"}, "q": {"path": "models/vad-q", "family": "fsmn-vad"}})
    plans = {p.name: p for p in plan(config)}
    assert "ship config.yaml, am.mvn, model.onnx" in plans["vad"].steps and not plans["vad"].problems
    assert any(s.startswith("runtime: fp32 only") for s in plans["vad"].steps)
    assert plans["q"].problems == (f"path:{quantized} has no am.mvn",)
    assert any(s.startswith("runtime: quantized only") for s in plans["q"].steps)
    assert any("quantized only" in s and "quantize=True" in s for s in plans["q"].steps)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "acme-asr-models"\nversion = "1"\n[tool.hatch.build.targets.wheel.hooks.funasr]\n'
        '[tool.funasr.models]\nvad = { path = "models/vad" }\nq = { path = "models/vad-q", family = "fsmn-vad" }\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "check", "--project", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout
    assert f"error: the build would fail:\n  model q: path:{quantized} has no am.mvn" in result.stderr


def test_plan_of_torchscript_and_generic_exports_and_a_source_without_checkpoint(tmp_path: Path) -> None:
    vad = realvad.write_model(tmp_path / "models" / "vad", ("model.pt", "config.yaml", "am.mvn", "configuration.json"))
    spk = tmp_path / "models" / "spk"
    spk.mkdir()
    (spk / "config.yaml").write_text("model: CAMPPlus\n")
    generic = {"export": "generic", "export-inputs": {"x": {"shape": ["B", "T", 80]}}, "max-export-drift": 0.01}
    config = config_of(
        tmp_path,
        {"vad": {"path": "models/vad", "format": "torchscript"}, "spk": {"path": "models/spk", **generic}},
    )
    plans = {p.name: p for p in plan(config)}
    assert (
        'export model.torchscript with FunASR\'s export(type="torchscript"); check against the PyTorch model on a '
        "fixed input (max abs drift recorded)" in plans["vad"].steps
    )
    assert "ship config.yaml, am.mvn, model.torchscript" in plans["vad"].steps and plans["vad"].runtime is None
    assert (
        "export model.onnx with torch.onnx.export of AutoModel(...).model on x[B, T, 80] (experimental); check "
        "against the PyTorch model on a fixed input (max abs drift recorded, at most 0.01)" in plans["spk"].steps
    )
    assert vad.is_dir()
    with pytest.raises(SelectionError) as info:  # nothing to export from: said before anything is exported
        stage(
            config_of(tmp_path, {"spk": {"path": "models/spk", **generic}}),
            tmp_path / "s",
            cache=Cache(tmp_path / "cache"),
            offline=True,
        )
    assert (
        "the source has no model.onnx and no model.pt, or a configuration.json naming the checkpoint, to export "
        "them from" in str(info.value)
    )


def test_max_file_size_fails_before_any_work(local_project: Path, tmp_path: Path) -> None:
    config = config_of(local_project, {"vad": {"path": "models/vad"}}, **{"max-file-size": "1 MiB"})
    assert config.max_file_size == 2**20
    with pytest.raises(SelectionError) as info:
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    assert str(info.value).startswith("model vad: model.onnx (1.7 MiB) exceed max-file-size (1.0 MiB")
    assert not (tmp_path / "stage" / "wheel").exists()


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("paraformer-contextual", ["model_eb.onnx", "model_eb_quant.onnx", "model_quant.onnx"]),
        ("paraformer-streaming", ["decoder_quant.onnx", "model_quant.onnx"]),
    ],
)
def test_quantize_every_onnx_file_of_the_family(family: str, expected: list[str], tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from support.genmodels import write_family

    write_family(family, tmp_path / "models" / "m", weight_mb=1)
    config = config_of(tmp_path, {"m": {"path": "models/m", "family": family, "quantize": True, "keep-fp32": False}})
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    onnx_files = sorted(p.name for p in (pkg / "models" / "m").iterdir() if p.suffix == ".onnx")
    assert onnx_files == expected  # fp32 model_eb.onnx stays: the C++ runtime's hotwords need it
    for name in onnx_files:
        ort.InferenceSession(str(pkg / "models" / "m" / name), providers=["CPUExecutionProvider"])
    quant = pkg / "models" / "m" / "model_quant.onnx"
    assert quant.stat().st_size < (tmp_path / "models" / "m" / "model.onnx").stat().st_size / 2


def test_quant_drift_threshold_fails_the_build(local_project: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime.quantization", reason="quantize extra not installed")
    config = config_of(local_project, {"vad": {"path": "models/vad", "quantize": True, "max-quant-drift": 0.000001}})
    with pytest.raises(
        ExportError,
        match=r"model vad: model_quant.onnx drifts [0-9.e-]+ from model.onnx on a fixed "
        r"input, over max-quant-drift = 1e-06",
    ):
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "cache"), offline=True)
    assert not (tmp_path / "stage" / "wheel").exists()


def test_tokens_json_is_written_from_tokens_txt_and_recorded(tmp_path: Path) -> None:
    """Neither runtime reads tokens.txt (funasr_onnx paraformer_bin.py:83-85, C++ paraformer.cpp:50-51):
    a source with only tokens.txt gets a derived tokens.json, and tokens.txt does not ship."""
    src = tmp_path / "models" / "asr"
    write_family("paraformer", src)
    tokens = json.loads((src / "tokens.json").read_text())
    (src / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    (src / "tokens.json").unlink()
    pkg, _ = stage(
        config_of(tmp_path, {"asr": {"path": "models/asr"}}), tmp_path / "stage", cache=Cache(tmp_path / "c")
    )
    installed = pkg / "models" / "asr"
    assert json.loads((installed / "tokens.json").read_text(encoding="utf-8")) == tokens
    assert not (installed / "tokens.txt").exists()
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["asr"]
    assert "tokens.json" in manifest["derived"] and "tokens.txt" not in manifest["files"]


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_tokens_json_keeps_a_last_token_without_a_newline_and_any_line_ending(tmp_path: Path, ending: str) -> None:
    """tokens.txt as editors and hubs leave it: CRLF line endings, no newline after the last
    token; tokens.json has every token at its line's id."""
    src = tmp_path / "models" / "asr"
    write_family("paraformer", src)
    tokens = json.loads((src / "tokens.json").read_text())
    (src / "tokens.txt").write_bytes(ending.join(tokens).encode("utf-8"))
    (src / "tokens.json").unlink()
    pkg, _ = stage(
        config_of(tmp_path, {"asr": {"path": "models/asr"}}), tmp_path / "stage", cache=Cache(tmp_path / "c")
    )
    assert json.loads((pkg / "models" / "asr" / "tokens.json").read_text(encoding="utf-8")) == tokens


def test_a_tokens_txt_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "models" / "asr"
    write_family("paraformer", src)
    (src / "tokens.txt").write_bytes("<blank>\n你\n".encode("gbk"))
    (src / "tokens.json").unlink()
    with pytest.raises(SelectionError, match=r"^model asr: tokens.txt from .* is not UTF-8 text \(byte 8\)"):
        stage(config_of(tmp_path, {"asr": {"path": "models/asr"}}), tmp_path / "stage", cache=Cache(tmp_path / "c"))


NANO_CONFIG = """\
model: FunASRNano
llm: Qwen3-0.6b
llm_conf:
  hub: hf
  init_param_path: Qwen3-0.6B
tokenizer_conf:
  init_param_path: ${llm_conf.init_param_path}
"""


def test_fun_asr_nano_packs_its_llm_directory_and_the_runtime_gives_absolute_paths(tmp_path: Path) -> None:
    """FunASR hands llm_conf.init_param_path to transformers as it is, relative to the working
    directory (else it is taken for a Hugging Face repo id): the bundle ships the directory and
    ``automodel_kwargs`` points the key at the installed copy."""
    src = tmp_path / "models" / "nano"
    (src / "Qwen3-0.6B").mkdir(parents=True)
    (src / "config.yaml").write_text(NANO_CONFIG)
    (src / "model.pt").write_bytes(b"PK stand-in")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        (src / "Qwen3-0.6B" / name).write_text(name)
    (src / "example").mkdir()
    (src / "example" / "zh.mp3").write_bytes(b"ID3")
    config = config_of(tmp_path, {"asr": {"path": "models/nano", "family": "fun-asr-nano"}})
    pkg, _ = stage(config, tmp_path / "stage", cache=Cache(tmp_path / "c"))
    installed = pkg / "models" / "asr"
    assert {p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()} == {
        "config.yaml",
        "model.pt",
        "Qwen3-0.6B/model.safetensors",
        "Qwen3-0.6B/tokenizer.json",
        "Qwen3-0.6B/config.json",
    }
    result = _run(pkg.parent, "json")
    assert json.loads(result.stdout)["models"]["asr"]["config_paths"] == {"llm_conf.init_param_path": "Qwen3-0.6B"}
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import acme_asr_models as m; "
        "print(json.dumps(m.automodel_kwargs('asr')))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code, str(pkg.parent)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == {"llm_conf": {"init_param_path": str(installed / "Qwen3-0.6B")}}


def test_a_pytorch_model_that_loads_another_from_a_hub_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "models" / "nano"
    src.mkdir(parents=True)
    (src / "config.yaml").write_text(NANO_CONFIG)  # llm_conf.hub = hf and no Qwen3-0.6B/ beside it
    (src / "model.pt").write_bytes(b"PK stand-in")
    config = config_of(tmp_path, {"asr": {"path": "models/nano", "family": "fun-asr-nano"}})
    with pytest.raises(SelectionError) as info:
        stage(config, tmp_path / "stage", cache=Cache(tmp_path / "c"))
    assert "config.yaml: llm_conf.hub = hf loads llm_conf.init_param_path = 'Qwen3-0.6B' from a hub" in str(info.value)
    assert "an installed bundle never reaches for a hub" in str(info.value)


@pytest.mark.parametrize(
    ("keep_fp32", "ships"), [(None, ["model.onnx", "model_quant.onnx"]), (False, ["model_quant.onnx"])]
)
def test_keep_fp32_false_drops_the_exported_fp32_file_after_quantizing_it(
    keep_fp32: bool | None, ships: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PyTorch source is exported (by a stand-in export child: support/fake_export.py), then
    quantized; with keep-fp32 = false the exported model.onnx is only the input of that."""
    pytest.importorskip("onnxruntime.quantization", reason="quantize extra not installed")
    realvad.write_model(tmp_path / "models" / "vad", ("model.pt", "config.yaml", "am.mvn", "configuration.json"))
    ready = realvad.write_model(tmp_path / "ready", ("model.onnx",))
    monkeypatch.setenv("HATCH_FUNASR_EXPORT_PYTHON", str(fake_export_python(tmp_path, ready)))
    declared: dict[str, object] = {"path": "models/vad", "quantize": True}
    if keep_fp32 is not None:
        declared["keep-fp32"] = keep_fp32
    pkg, (staged,) = stage(config_of(tmp_path, {"vad": declared}), tmp_path / "stage", cache=Cache(tmp_path / "cache"))
    assert staged.selection is not None and staged.selection.export == ("model.onnx",)
    assert sorted(p.name for p in (pkg / "models" / "vad").iterdir()) == ["am.mvn", "config.yaml", *ships]
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]
    assert sorted(manifest["files"]) == ["am.mvn", "config.yaml", *ships]
    assert manifest["derived"] == ships
    assert manifest["runtime"] == ("quantized" if keep_fp32 is False else "both")


def test_offline_without_the_configs_names_exactly_what_the_build_fetches(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, with the listing cached but not config.yaml, the cache's gaps are named by the
    same selection the build makes: ``include`` adds notes.txt, ``exclude`` drops the optional
    jieba.hmm, ``keep-fp32 = false`` still fetches model.onnx to quantize it."""
    files = {
        "model.onnx": b"onnx",
        "config.yaml": b"model: CTTransformer\n",
        "tokens.json": b"[]",
        "jieba.c.dict": b"d",
        "jieba_usr_dict": b"u",
        "jieba.hmm": b"h",
        "notes.txt": b"n",
    }
    hub.store.publish("acme/ct-punc-mine", files)
    declaration = {
        "model": "acme/ct-punc-mine",
        "hub": "ms",
        "include": ["notes.txt"],
        "exclude": ["jieba.hmm"],
        "quantize": True,
        "keep-fp32": False,
    }
    config = config_of(tmp_path, {"punc": declaration})
    model = config.models[0]
    cache = Cache(Path(hub_env["HATCH_FUNASR_CACHE"]))
    open_source(model, BuildContext.create(tmp_path / "list", cache=cache, offline=False))  # the listing only
    build = choose(model, {p: len(b) for p, b in files.items()}, lambda name: files[name].decode())
    assert "notes.txt" in build.files and "jieba.hmm" not in build.files and "model.onnx" in build.files

    monkeypatch.setenv("HATCH_FUNASR_TRUST_CACHE", "1")
    with pytest.raises(FetchError) as info:
        stage(config, tmp_path / "s", cache=cache, offline=True)
    line = next(x for x in str(info.value).splitlines() if x.startswith("  - model punc: "))
    assert sorted(line.rsplit("): ", 1)[1].split(", ")) == sorted(build.files)


def test_check_without_a_listing_names_what_no_listing_can_mend(tmp_path: Path) -> None:
    """The selection over what a complete source publishes refuses what the build would refuse
    whatever the listing: a runtime file excluded, fp32 insisted on from FunASR's quantized-only
    ONNX repository (the catalog knows it is one)."""
    config = config_of(
        tmp_path,
        {
            "ctx": {"model": "seaco-paraformer", "exclude": ["seg_dict"]},
            "vad": {"model": "fsmn-vad", "keep-fp32": True},
            "ok": {"model": "fsmn-vad", "quantize": True, "keep-fp32": False},
        },
    )
    plans = {p.name: p for p in plan(config)}
    assert all(p.listing is None for p in plans.values())
    assert plans["ctx"].problems == ("seg_dict is read by the paraformer-contextual runtime and cannot be excluded",)
    assert plans["vad"].problems == (
        "keep-fp32 = true, but ms:iic/speech_fsmn_vad_zh-cn-16k-common-onnx@default branch ships model_quant.onnx "
        "without model.onnx (FunASR's -onnx repositories are quantized only); drop keep-fp32, or declare the PyTorch "
        "repository with export = true",
    )
    assert plans["ok"].problems == ()
