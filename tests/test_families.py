"""Selecting each family's runtime files from a source listing."""

from __future__ import annotations

import pytest

from hatch_funasr.families import FAMILIES, detect_family, is_bookkeeping, select_files

HUB_EXTRAS = {
    "configuration.json": 300,
    "README.md": 10,
    ".gitattributes": 5,
    ".mdl": 1,
    ".msc": 1,
    ".mv": 1,
    "fig/struct.png": 100,
    "example/asr_example.wav": 1000,
}


def test_fsmn_vad_onnx_repo_ships_exactly_runtime_files() -> None:
    available = {"model.onnx": 1, "model_quant.onnx": 1, "config.yaml": 1, "am.mvn": 1, **HUB_EXTRAS}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available)
    assert sel.files == ("config.yaml", "am.mvn", "model.onnx")
    assert not sel.missing and not sel.quantize and not sel.export


def test_quantized_from_upstream_and_keep_fp32_false() -> None:
    available = {"model.onnx": 1, "model_quant.onnx": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    sel = select_files(FAMILIES["paraformer"], "onnx", available, quantize=True, keep_fp32=False)
    assert sel.files == sel.ship == ("config.yaml", "am.mvn", "tokens.json", "model_quant.onnx")
    assert not sel.quantize


def test_contextual_keeps_fp32_embedding_model_for_cpp_hotwords() -> None:
    available = {"model.onnx": 1, "model_eb.onnx": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1, "seg_dict": 1}
    sel = select_files(FAMILIES["paraformer-contextual"], "onnx", available, quantize=True, keep_fp32=False)
    assert "model_eb.onnx" in sel.ship and "model.onnx" not in sel.ship
    assert "model.onnx" in sel.files  # fetched, as the input of its quantization
    assert sel.quantize == ("model.onnx", "model_eb.onnx")
    assert set(sel.ship) == {"config.yaml", "am.mvn", "tokens.json", "seg_dict", "model_eb.onnx"} | {
        "model_quant.onnx",
        "model_eb_quant.onnx",
    }


def test_missing_file_named_and_older_tokens_txt_accepted() -> None:
    sel = select_files(FAMILIES["paraformer"], "onnx", {"model.onnx": 1, "config.yaml": 1, "tokens.txt": 1})
    assert sel.missing == ("am.mvn",)
    assert "tokens.txt" in sel.files
    sel = select_files(FAMILIES["paraformer-streaming"], "onnx", {"model.onnx": 1, "config.yaml": 1, "am.mvn": 1})
    assert sel.missing == ("tokens.json or tokens.txt", "decoder.onnx")


def test_pytorch_repo_plans_export_in_auto_mode_and_refuses_when_off() -> None:
    available = {"model.pt": 1, "config.yaml": 1, "am.mvn": 1, "configuration.json": 1}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available)
    assert sel.export == ("model.onnx",) and sel.ship == ("config.yaml", "am.mvn", "model.onnx")
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, quantize=True, keep_fp32=False)
    assert sel.export == sel.quantize == ("model.onnx",) and sel.ship == ("config.yaml", "am.mvn", "model_quant.onnx")
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, export=False)
    assert sel.missing == ("model.onnx",) and not sel.export


def test_pytorch_format_follows_file_path_metas() -> None:
    configuration = (
        '{"framework": "pytorch", "file_path_metas": {"init_param": "model.pt", "config": "config.yaml",'
        ' "tokenizer_conf": {"token_list": "tokens.json", "seg_dict": "seg_dict"},'
        ' "frontend_conf": {"cmvn_file": "am.mvn"}, "llm": "Qwen3-0.6B"}}'
    )
    available = {
        "model.pt": 1,
        "config.yaml": 1,
        "configuration.json": 1,
        "tokens.json": 1,
        "seg_dict": 1,
        "am.mvn": 1,
        "Qwen3-0.6B/model.safetensors": 1,
        "Qwen3-0.6B/README.md": 1,
        "model.onnx": 1,
        **HUB_EXTRAS,
    }
    sel = select_files(FAMILIES["paraformer"], "pytorch", available, configuration_json=configuration)
    assert sorted(sel.files) == sorted(
        [
            "configuration.json",
            "config.yaml",
            "model.pt",
            "tokens.json",
            "seg_dict",
            "am.mvn",
            "Qwen3-0.6B/model.safetensors",
        ]
    )


def test_include_and_exclude() -> None:
    available = {"model.onnx": 1, "config.yaml": 1, "tokens.json": 1, "jieba_usr_dict": 1, "extra/hotwords.txt": 1}
    sel = select_files(FAMILIES["ct-punc"], "onnx", available, include=["extra/*.txt"], exclude=["jieba_usr_dict"])
    assert sel.files == ("config.yaml", "tokens.json", "model.onnx", "extra/hotwords.txt")
    sel = select_files(FAMILIES["ct-punc"], "onnx", available, exclude=["tokens.json"])
    assert sel.notes == ("tokens.json is read by the ct-punc runtime and cannot be excluded",)


def test_include_never_brings_bookkeeping() -> None:
    available = {"model.onnx": 1, "config.yaml": 1, "am.mvn": 1, **HUB_EXTRAS}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, include=["*"])
    assert sel.files == ("config.yaml", "am.mvn", "model.onnx", "configuration.json")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".mdl", True),
        ("x/.msc", True),
        ("README.md", True),
        ("fig/a.png", True),
        ("example/a.wav", True),
        ("model.onnx", False),
        ("am.mvn", False),
        ("tokens.json", False),
    ],
)
def test_bookkeeping(path: str, expected: bool) -> None:
    assert is_bookkeeping(path) is expected


@pytest.mark.parametrize(
    ("repo", "config_yaml", "family"),
    [
        ("iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch", None, "paraformer-contextual"),
        ("iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online-onnx", None, "paraformer-streaming"),
        ("damo/speech_fsmn_vad_zh-cn-16k-common-onnx", None, "fsmn-vad"),
        ("iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727-onnx", None, "ct-punc-realtime"),
        ("thuduj12/fst_itn_zh", None, "fst-itn"),
        ("local/whatever", "model: SenseVoiceSmall\nmodel_conf:\n", "sensevoice"),
        ("local/whatever", "model: FsmnVADStreaming\n", "fsmn-vad"),
    ],
)
def test_detect_family(repo: str, config_yaml: str | None, family: str) -> None:
    found = detect_family(repo, config_yaml)
    assert found is not None and found.name == family
