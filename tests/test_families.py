"""Selecting each family's runtime files from a source listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.genmodels import RUNTIME_FILES, Read, required_files

from hatch_funasr.families import (
    FAMILIES,
    config_references,
    config_values,
    detect_family,
    is_bookkeeping,
    published,
    pytorch_files,
    quant_name,
    select_files,
    tokens_json,
)

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


def test_missing_file_named_and_tokens_json_written_from_tokens_txt() -> None:
    sel = select_files(FAMILIES["paraformer"], "onnx", {"model.onnx": 1, "config.yaml": 1, "tokens.txt": 1})
    assert sel.missing == ("am.mvn",)
    assert "tokens.txt" in sel.files and "tokens.txt" not in sel.ship and "tokens.json" in sel.ship
    assert sel.converted == {"tokens.json": "tokens.txt"}
    sel = select_files(FAMILIES["paraformer-streaming"], "onnx", {"model.onnx": 1, "config.yaml": 1, "am.mvn": 1})
    assert sel.missing == ("tokens.json (or tokens.txt to write it from)", "decoder.onnx")


def test_tokens_json_from_tokens_txt_keeps_order() -> None:
    assert json.loads(tokens_json("<blank>\n<s>\n</s>\n你\nhello\n")) == ["<blank>", "<s>", "</s>", "你", "hello"]


# tokens.txt as FunASR's own tokenizer reads it (funasr/tokenizer/abs_tokenizer.py:50-53 and
# token_id_converter.py:28-31: each line of the file in text mode, right-stripped): a token's id
# is its line number, so tokens.json must hold every line, in order, whatever ends the lines.
@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("<blank>\n<s>\n</s>", ["<blank>", "<s>", "</s>"], id="no-trailing-newline"),
        pytest.param("<blank>\r\n<s>\r\n</s>\r\n", ["<blank>", "<s>", "</s>"], id="crlf"),
        pytest.param("<blank>\r\n<s>\r\n</s>", ["<blank>", "<s>", "</s>"], id="crlf-no-trailing-newline"),
        pytest.param("<blank>\r<s>\r</s>", ["<blank>", "<s>", "</s>"], id="old-mac-cr"),
        pytest.param("a\n\nb\n", ["a", "", "b"], id="a-blank-line-keeps-the-ids-after-it"),
        pytest.param("a\n \nb", ["a", "", "b"], id="a-whitespace-line-is-an-empty-token"),
        pytest.param("a  \n b\n", ["a", " b"], id="right-stripped-only"),
        pytest.param("a\u2028b\x85c\n", ["a\u2028b\x85c"], id="unicode-line-separators-do-not-split"),
        pytest.param("", [], id="empty-file"),
        pytest.param("\ufeff<blank>\n", ["\ufeff<blank>"], id="bom-kept-as-funasr-keeps-it"),
    ],
)
def test_tokens_json_holds_every_line_funasr_reads_from_tokens_txt(text: str, tokens: list[str]) -> None:
    assert json.loads(tokens_json(text)) == tokens


# --- the official -onnx repositories ship the quantized files only (hub-listings.md) ---------
OFFICIAL = {
    "paraformer": {
        "model_quant.onnx": 238_000_000,
        "tokens.json": 93676,
        "am.mvn": 11203,
        "config.yaml": 1,
        "configuration.json": 1,
    },
    "paraformer-streaming": {
        "model_quant.onnx": 166_350_528,
        "decoder_quant.onnx": 71_867_274,
        "tokens.json": 93676,
        "am.mvn": 11203,
        "config.yaml": 1,
        "configuration.json": 1,
    },
    "fsmn-vad": {"model_quant.onnx": 506744, "am.mvn": 8040, "config.yaml": 1, "configuration.json": 1},
    "ct-punc-realtime": {
        "model_quant.onnx": 281_877_652,
        "tokens.json": 4_207_480,
        "config.yaml": 1,
        "configuration.json": 1,
    },
    "sensevoice": {
        "model_quant.onnx": 241_216_270,
        "tokens.json": 352064,
        "am.mvn": 11203,
        "config.yaml": 1855,
        "configuration.json": 56,
    },
}


@pytest.mark.parametrize("family", sorted(OFFICIAL))
def test_quantized_only_source_is_complete_with_quantize(family: str) -> None:
    listing = dict(OFFICIAL[family])
    if family == "sensevoice":
        listing["chn_jpn_yue_eng_ko_spectok.bpe.model"] = 377341  # composed from iic/SenseVoiceSmall
    sel = select_files(FAMILIES[family], "onnx", listing, quantize=True)
    assert not sel.missing and not sel.notes and not sel.quantize and not sel.advice
    quant = {q for q in listing if q.endswith("_quant.onnx")}
    assert quant <= set(sel.ship) and not {f for f in sel.ship if f.endswith(".onnx")} - quant
    assert sel.quantized_runtime is True


@pytest.mark.parametrize("family", sorted(OFFICIAL))
def test_quantized_only_source_without_quantize_serves_the_quantized_runtime_and_says_so(family: str) -> None:
    listing = {**OFFICIAL[family], "chn_jpn_yue_eng_ko_spectok.bpe.model": 1}
    sel = select_files(FAMILIES[family], "onnx", listing, source="ms:iic/x-onnx@v2.0.5")
    assert not sel.missing and not sel.notes
    assert sel.quantized_runtime is True
    assert sel.advice and "quantized only" in sel.advice[0] and "quantize=True" in sel.advice[0]
    assert "ms:iic/x-onnx@v2.0.5" in sel.advice[0]


def test_quantized_only_source_with_keep_fp32_true_fails_naming_the_file() -> None:
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", OFFICIAL["fsmn-vad"], quantize=True, keep_fp32=True, source="S")
    assert sel.notes == (
        "keep-fp32 = true, but S ships model_quant.onnx without model.onnx (FunASR's -onnx repositories are "
        "quantized only); drop keep-fp32, or declare the PyTorch repository with export = true",
    )


def test_contextual_official_repo_gets_model_eb_quant_derived_and_keeps_fp32_embedder() -> None:
    listing = {
        "model_quant.onnx": 871_251_660,
        "model_eb.onnx": 25_618_359,
        "seg_dict": 8_287_834,
        "tokens.json": 93676,
        "config.yaml": 2532,
        "am.mvn": 11203,
        "configuration.json": 1,
    }
    for quantize in (True, False):
        sel = select_files(FAMILIES["paraformer-contextual"], "onnx", listing, quantize=quantize)
        assert not sel.missing and not sel.notes, sel
        assert sel.quantize == ("model_eb.onnx",)
        assert {"model_quant.onnx", "model_eb.onnx", "model_eb_quant.onnx", "seg_dict"} <= set(sel.ship)
        assert "model.onnx" not in sel.ship
        assert sel.quantized_runtime is True
        assert bool(sel.advice) is (not quantize)


def test_fp32_and_quant_both_ship_by_default_where_the_source_has_both() -> None:
    listing = {"model.onnx": 1, "model_quant.onnx": 1, "config.yaml": 1, "am.mvn": 1}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", listing, quantize=True)
    assert {"model.onnx", "model_quant.onnx"} <= set(sel.ship) and sel.quantized_runtime is None


@pytest.mark.parametrize("switch", ["true", "True", "yes"])
def test_seg_jieba_requires_the_jieba_files_and_exclude_cannot_drop_them(switch: str) -> None:
    listing = {"model_quant.onnx": 1, "config.yaml": 1, "tokens.json": 1, "jieba.c.dict": 1, "jieba_usr_dict": 1}
    config = f"model: CTTransformer\nmodel_conf:\n  ignore_id: 0\nseg_jieba: {switch}\n"
    sel = select_files(FAMILIES["ct-punc"], "onnx", listing, quantize=True, config_yaml=config)
    assert sel.missing == ("jieba.hmm",)
    listing["jieba.hmm"] = 1
    sel = select_files(FAMILIES["ct-punc"], "onnx", listing, quantize=True, config_yaml=config, exclude=["jieba*"])
    assert not sel.missing
    assert {n for n in sel.notes if "jieba" in n} == {
        f"{f} is read by the ct-punc runtime and cannot be excluded"
        for f in ("jieba.c.dict", "jieba_usr_dict", "jieba.hmm")
    }
    no_jieba = select_files(
        FAMILIES["ct-punc"],
        "onnx",
        {"model.onnx": 1, "config.yaml": 1, "tokens.json": 1},
        config_yaml="seg_jieba: false\n",
    )
    assert not no_jieba.missing


def test_pytorch_repo_plans_export_in_auto_mode_and_refuses_when_off() -> None:
    available = {"model.pt": 1, "config.yaml": 1, "am.mvn": 1, "configuration.json": 1}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available)
    assert sel.export == ("model.onnx",) and sel.ship == ("config.yaml", "am.mvn", "model.onnx")
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, quantize=True, keep_fp32=False)
    assert sel.export == sel.quantize == ("model.onnx",) and sel.ship == ("config.yaml", "am.mvn", "model_quant.onnx")
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, export=False)
    assert sel.missing == ("model.onnx",) and not sel.export


@pytest.mark.parametrize(
    ("upstream", "export"),
    [
        pytest.param({"model_quant.onnx": 1}, "auto", id="auto-export-beside-an-upstream-quant"),
        pytest.param({"model.onnx": 1, "model_quant.onnx": 1}, True, id="export-true-over-both-upstream-forms"),
    ],
)
def test_an_exported_model_is_quantized_afresh_never_paired_with_the_upstream_quant(
    upstream: dict[str, int], export: bool | str
) -> None:
    """The upstream ``model_quant.onnx`` was quantized from another fp32 file than the one
    exported here: shipping it beside the fresh export pairs files that do not belong together."""
    available = {"model.pt": 1, "config.yaml": 1, "am.mvn": 1, "configuration.json": 1, **upstream}
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, quantize=True, export=export)
    assert sel.export == sel.quantize == ("model.onnx",)
    assert "model_quant.onnx" not in sel.files and "model.onnx" not in sel.files  # neither is fetched
    assert sel.ship == ("config.yaml", "am.mvn", "model.onnx", "model_quant.onnx")  # both made here
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, quantize=True, keep_fp32=False, export=export)
    assert sel.quantize == ("model.onnx",) and "model_quant.onnx" not in sel.files
    sel = select_files(FAMILIES["fsmn-vad"], "onnx", available, export=export)
    assert sel.ship == ("config.yaml", "am.mvn", "model.onnx") and sel.runtime == "fp32"


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
    available = {
        "model.onnx": 1,
        "config.yaml": 1,
        "tokens.json": 1,
        "jieba_usr_dict": 1,
        "extra/hotwords.txt": 1,
        "extra/hotwords.md": 1,  # matched by no pattern: stays behind
    }
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
        # left by file managers in a directory a user copied or unzipped
        ("Qwen3-0.6B/.DS_Store", True),
        ("__MACOSX/model.onnx", True),
        ("Qwen3-0.6B/Thumbs.db", True),
        ("sub/desktop.ini", True),
        ("__pycache__/x.pyc", True),
        ("thumbs.db.onnx", False),
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
        ("local/wake-word", "model: SanmKWSStreaming\nmodel_conf:\n", "kws"),
        ("local/wake-word", "model: SanmKWS\n", "kws"),
    ],
)
def test_detect_family(repo: str, config_yaml: str | None, family: str) -> None:
    found = detect_family(repo, config_yaml)
    assert found is not None and found.name == family


# --- PyTorch format: what funasr.AutoModel reads (download_model_from_hub.py) -----------------
def _metas(**metas: object) -> str:
    return json.dumps({"framework": "pytorch", "task": "x", "file_path_metas": metas})


def test_campplus_ships_exactly_its_file_path_metas_targets() -> None:
    listing = {
        "campplus_cn_common.bin": 28_036_335,
        "configuration.json": 1,
        "config.yaml": 1,
        "README.md": 1,
        "examples/speaker1_a_cn_16k.wav": 1,
    }
    configuration = _metas(init_param="campplus_cn_common.bin", config="config.yaml")
    sel = select_files(FAMILIES["campplus"], "pytorch", listing, configuration_json=configuration)
    assert set(sel.ship) == {"configuration.json", "campplus_cn_common.bin", "config.yaml"}
    assert not sel.missing and not sel.notes
    # v1.0.0: a configuration.json that is not FunASR's (no file_path_metas, no config.yaml)
    old = {"campplus_cn_common.bin": 1, "configuration.json": 1}
    sel = select_files(FAMILIES["campplus"], "pytorch", old, configuration_json='{"framework": "pytorch"}')
    assert sel.notes and "configuration.json has no file_path_metas" in sel.notes[0]


def test_whisper_checkpoint_is_not_model_pt() -> None:
    listing = {"large-v3.pt": 3_087_371_615, "configuration.json": 1, "config.yaml": 1, "example/en.mp3": 1}
    configuration = _metas(init_param="large-v3.pt", config="config.yaml")
    sel = select_files(FAMILIES["whisper"], "pytorch", listing, configuration_json=configuration)
    assert set(sel.ship) == {"configuration.json", "large-v3.pt", "config.yaml"} and not sel.missing


def test_emotion2vec_tokens_txt_and_a_missing_target_named() -> None:
    listing = {"model.pt": 1_945_790_254, "config.yaml": 5552, "configuration.json": 343, "tokens.txt": 119}
    configuration = _metas(init_param="model.pt", config="config.yaml", tokenizer_conf={"token_list": "tokens.txt"})
    sel = select_files(FAMILIES["emotion2vec"], "pytorch", listing, configuration_json=configuration)
    assert set(sel.ship) == set(listing) and not sel.missing
    del listing["tokens.txt"]
    sel = select_files(FAMILIES["emotion2vec"], "pytorch", listing, configuration_json=configuration)
    assert sel.missing == ("tokens.txt",)


def test_kws_ships_funasrs_five_files_as_configuration_json_maps_them() -> None:
    """FunASR's own example for the xiaoyun KWS model (sanm_kws_streaming/infer_from_local.sh)
    loads five files; configuration.json maps each, and exactly those ship."""
    five = {
        "inference_sanm_6e_320_256_fdim40_t2602_online.yaml": 1,
        "tokens_2602.txt": 1,
        "lexicon.txt": 1,
        "finetune_sanm_6e_320_256_fdim40_t2602_online_xiaoyun_commands.pt": 1,
        "am.mvn.dim40_l3r3": 1,
    }
    listing = {**five, "configuration.json": 1, "README.md": 1}
    configuration = _metas(
        init_param="finetune_sanm_6e_320_256_fdim40_t2602_online_xiaoyun_commands.pt",
        config="inference_sanm_6e_320_256_fdim40_t2602_online.yaml",
        frontend_conf={"cmvn_file": "am.mvn.dim40_l3r3"},
        tokenizer_conf={"token_list": "tokens_2602.txt", "seg_dict": "lexicon.txt"},
    )
    sel = select_files(FAMILIES["kws"], "pytorch", listing, configuration_json=configuration)
    assert set(sel.ship) == {*five, "configuration.json"} and not sel.missing and not sel.notes
    del listing["lexicon.txt"]  # the seg_dict: without it FunASR's KWS decoder cannot map the keywords
    sel = select_files(FAMILIES["kws"], "pytorch", listing, configuration_json=configuration)
    assert sel.missing == ("lexicon.txt",)


NANO_CONFIG = """\
model: FunASRNano
model_conf:
  lsm_weight: 0.1
audio_encoder: SenseVoiceEncoderSmall
audio_encoder_conf:
  output_size: 512
  freeze: false
llm: Qwen3-0.6b
llm_conf:
  hub: hf
  freeze: true
  llm_dtype: bfloat16
  init_param_path: Qwen3-0.6B
tokenizer: HuggingfaceTokenizer
tokenizer_conf:
  init_param_path: ${llm_conf.init_param_path}
frontend_conf:
  fs: 16000
"""
NANO = {
    "model.pt": 1,
    "config.yaml": 1,
    "README.md": 1,
    "example/zh.mp3": 1,
    "Qwen3-0.6B/model.safetensors": 1,
    "Qwen3-0.6B/tokenizer.json": 1,
    "Qwen3-0.6B/config.json": 1,
    "Qwen3-0.6B/generation_config.json": 1,
}


def test_fun_asr_nano_without_configuration_json_packs_its_nested_llm_directory() -> None:
    sel = select_files(FAMILIES["fun-asr-nano"], "pytorch", NANO, config_yaml=NANO_CONFIG)
    assert set(sel.ship) == set(NANO) - {"README.md", "example/zh.mp3"}
    assert not sel.missing and not sel.notes
    assert sel.config_paths == {"llm_conf.init_param_path": "Qwen3-0.6B"}


def test_a_config_that_loads_a_model_from_a_hub_is_refused() -> None:
    config = NANO_CONFIG.replace("audio_encoder: SenseVoiceEncoderSmall", "audio_encoder: iic/SenseVoiceSmall").replace(
        "audio_encoder_conf:\n", "audio_encoder_conf:\n  hub: ms\n"
    )
    sel = select_files(FAMILIES["fun-asr-nano"], "pytorch", NANO, config_yaml=config)
    assert len(sel.notes) == 1
    assert (
        "config.yaml: audio_encoder_conf.hub = ms loads audio_encoder = 'iic/SenseVoiceSmall' from a hub"
        in sel.notes[0]
    )
    assert "never reaches for a hub" in sel.notes[0]
    without_llm = {k: v for k, v in NANO.items() if not k.startswith("Qwen3")}
    sel = select_files(FAMILIES["fun-asr-nano"], "pytorch", without_llm, config_yaml=NANO_CONFIG)
    assert any("llm_conf.hub = hf loads llm_conf.init_param_path = 'Qwen3-0.6B'" in n for n in sel.notes)


def test_pytorch_without_configuration_json_is_what_automodel_reads() -> None:
    listing = {"model.pt": 1, "config.yaml": 1, "tokens.json": 1, "am.mvn": 1, "seg_dict": 1, "extra.bin": 1}
    sel = select_files(FAMILIES["paraformer"], "pytorch", listing, config_yaml="model: Paraformer\n")
    assert set(sel.ship) == {"model.pt", "config.yaml", "tokens.json", "am.mvn", "seg_dict"}
    sel = select_files(FAMILIES["paraformer"], "pytorch", {"config.yaml": 1}, config_yaml="model: Paraformer\n")
    assert sel.missing == ("model.pt",)


# --- TorchScript (FunASR's export(type="torchscript")) and generic exports ----------------------
PYTORCH_VAD = {"model.pt": 1_721_366, "config.yaml": 1215, "configuration.json": 365, "am.mvn": 8040, **HUB_EXTRAS}


def test_torchscript_is_exported_from_the_checkpoint_with_the_family_side_files() -> None:
    sel = select_files(FAMILIES["fsmn-vad"], "torchscript", PYTORCH_VAD)
    assert sel.export == ("model.torchscript",)
    assert sel.ship == ("config.yaml", "am.mvn", "model.torchscript")
    assert not sel.quantize and not sel.missing and sel.runtime is None
    assert sel.advice == (
        "no FunASR runtime loads a TorchScript fsmn-vad model: load model.torchscript with torch.jit.load and "
        "feed it what FunASR's export traced (export_meta.py export_input_names)",
    )
    sel = select_files(
        FAMILIES["paraformer-contextual"],
        "torchscript",
        {"model.pt": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1, "seg_dict": 1},
    )
    assert sel.export == ("model.torchscript", "model_eb.torchscript")  # the names the C++ GPU runtime opens
    assert "offline-stream.cpp:61-72" in sel.advice[0]


def test_torchscript_shipped_by_the_source_or_missing() -> None:
    shipped = {"model.torchscript": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    sel = select_files(FAMILIES["paraformer"], "torchscript", shipped)
    assert sel.ship == ("config.yaml", "am.mvn", "tokens.json", "model.torchscript") and not sel.export
    sel = select_files(FAMILIES["paraformer"], "torchscript", {**PYTORCH_VAD, "tokens.json": 1}, export=False)
    assert sel.missing == ("model.torchscript",) and not sel.export


def test_generic_export_ships_model_file_and_frontend_config_only() -> None:
    cam = {"campplus_cn_common.bin": 28_036_335, "config.yaml": 1, "configuration.json": 1, "README.md": 1}
    sel = select_files(FAMILIES["campplus"], "onnx", cam, export="generic")
    assert (sel.export, sel.ship, sel.missing) == (("model.onnx",), ("config.yaml", "model.onnx"), ())
    assert 'export = "generic", experimental' in sel.advice[0]
    sel = select_files(FAMILIES["campplus"], "onnx", cam, export="generic", quantize=True, keep_fp32=False)
    assert sel.quantize == ("model.onnx",) and sel.ship == ("config.yaml", "model_quant.onnx")
    sel = select_files(FAMILIES["campplus"], "torchscript", cam, export="generic")
    assert sel.ship == ("config.yaml", "model.torchscript")


# --- judged by FunASR's source (support/genmodels.py RUNTIME_FILES), not by select_files itself ---
#: ``Read.when`` values that are modes, not config.yaml switches.
_MODES = ("always", "fp32", "quant", "if present")


def _reads(family: str) -> list[Read]:
    return [r for reads in RUNTIME_FILES[family].values() for r in reads]


def _switched_on(family: str) -> tuple[list[str], str | None]:
    """The config.yaml conditions of ``family``'s reads, and a config.yaml that turns them all on."""
    conditions = sorted({r.when for r in _reads(family) if r.when not in _MODES})
    return conditions, "".join(f"{c}\n" for c in conditions) or None


@pytest.mark.parametrize("quantize", [False, True], ids=["fp32", "quantize"])
@pytest.mark.parametrize("family", sorted(RUNTIME_FILES))
def test_a_source_with_every_file_funasr_opens_ships_them_all(family: str, quantize: bool) -> None:
    """A source holding every file either runtime opens: the directory has each file
    funasr_onnx and the C++ runtime open in this mode (config switches on)."""
    conditions, config = _switched_on(family)
    listing = {r.file: 1 for r in _reads(family)} | HUB_EXTRAS
    sel = select_files(FAMILIES[family], "onnx", listing, quantize=quantize, config_yaml=config)
    assert not sel.missing and not sel.notes, sel
    for runtime in RUNTIME_FILES[family]:
        needed = required_files(family, runtime, quantize=quantize, conditions=conditions)
        assert needed <= set(sel.ship), (runtime, sorted(needed - set(sel.ship)))


@pytest.mark.parametrize("family", sorted(RUNTIME_FILES))
def test_a_source_without_a_file_funasr_opens_is_incomplete(family: str) -> None:
    """Take away any file a runtime opens unconditionally (or under a switch that is on), in
    both its fp32 and quantized forms for ONNX: the selection names it missing, so the build
    fails before it ships a directory a runtime cannot load."""
    _, config = _switched_on(family)
    full = {r.file: 1 for r in _reads(family)}
    opened = sorted({r.file.replace("_quant.onnx", ".onnx") for r in _reads(family) if r.when != "if present"})
    assert opened, family
    for name in opened:
        listing = {f: size for f, size in full.items() if f not in (name, quant_name(name))}
        sel = select_files(FAMILIES[family], "onnx", listing, quantize=True, config_yaml=config)
        assert any(m == name or m.startswith(f"{name} (") for m in sel.missing), (name, sel.missing)
    fp32_only = [r.file for r in _reads(family) if r.file in FAMILIES[family].fp32_always]
    for name in fp32_only:  # the C++ runtime opens model_eb.onnx in fp32 even with --quantize true
        listing = {f: size for f, size in full.items() if f != name}
        sel = select_files(FAMILIES[family], "onnx", listing, quantize=True, config_yaml=config)
        assert name in sel.missing, (name, sel.missing)


@pytest.mark.parametrize("family", sorted(RUNTIME_FILES))
def test_a_family_requires_only_files_funasr_opens(family: str) -> None:
    """Nothing is required that no runtime opens (a bogus requirement fails real repositories)."""
    fam = FAMILIES[family]
    opened = {r.file for r in _reads(family)}
    switched = {f for files in fam.when_config.values() for f in files}
    assert set(fam.required) | set(fam.onnx) | switched <= opened, sorted(
        (set(fam.required) | set(fam.onnx) | switched) - opened
    )


# --- the helpers selection rests on, one behaviour each ------------------------------------------
def test_tokens_json_is_utf8_json_as_funasr_writes_it() -> None:
    assert tokens_json("你\n<unk>\n") == '["你", "<unk>"]'.encode()


@pytest.mark.parametrize("path", ["x/Examples/model.onnx", "a/b/FIG/config.yaml", "images/sub/model.onnx"])
def test_bookkeeping_directories_anywhere_above_a_file_in_any_case(path: str) -> None:
    assert is_bookkeeping(path)


CONFIG_YAML = """\
# note: a comment that holds a colon
model: "Paraformer"   # trailing comment
url: http://host/a#b
two: a # b # c
frontend_conf:
  fs: 16000
  cmvn_file: 'am.mvn' # a path
  nested:
    deep: "x:y"
  Xkey: z
- listed: no
token_list:
  - a
  - b
"quoted key": 1
after: kept
seg_jieba: On
"""


def test_config_values_reads_block_yaml_by_dotted_key() -> None:
    assert config_values(CONFIG_YAML) == {
        "model": "Paraformer",
        "url": "http://host/a#b",
        "two": "a",
        "frontend_conf.fs": "16000",
        "frontend_conf.cmvn_file": "am.mvn",
        "frontend_conf.nested.deep": "x:y",
        "frontend_conf.Xkey": "z",
        "quoted key": "1",
        "after": "kept",
        "seg_jieba": "On",
    }


@pytest.mark.parametrize("switch", ["On", "1", "yes", "TRUE"])
def test_a_config_switch_is_on_as_yaml_reads_it(switch: str) -> None:
    listing = {"model.onnx": 1, "config.yaml": 1, "tokens.json": 1}
    sel = select_files(FAMILIES["ct-punc"], "onnx", listing, config_yaml=f"seg_jieba: {switch}\n")
    assert sel.missing == ("jieba.c.dict", "jieba_usr_dict", "jieba.hmm")
    off = select_files(FAMILIES["ct-punc"], "onnx", listing, config_yaml="seg_jieba: off\n")
    assert not off.missing


# A reference names a file, or a directory and what lies under it: never every path that starts
# with the same letters (``model`` is not ``model.onnx.data``, ``Qwen3`` is not ``Qwen3-0.6B``).
NEIGHBOURS = {
    "model.onnx": 1,
    "model.onnx.data": 1,
    "model_eb.onnx": 1,
    "model/weights.bin": 1,
    "modelx/other.bin": 1,
    "Qwen3/model.safetensors": 1,
    "Qwen3-0.6B/model.safetensors": 1,
    "Qwen3.md": 1,
    "bpe.model": 1,
    "bpe.model.bak": 1,
}


@pytest.mark.parametrize(
    ("value", "files"),
    [
        ("model", ["model/weights.bin"]),
        ("./model/", ["model/weights.bin"]),
        ("model.onnx", ["model.onnx"]),
        ("Qwen3", ["Qwen3/model.safetensors"]),
        ("bpe.model", ["bpe.model"]),
        ("mod", []),
    ],
)
def test_a_config_yaml_reference_is_the_file_or_its_subtree_not_a_prefix(value: str, files: list[str]) -> None:
    found, paths, _ = config_references(f"encoder_conf:\n  init_param_path: {value}\n", NEIGHBOURS)
    assert found == files
    assert paths == ({"encoder_conf.init_param_path": value} if files else {})


def test_a_file_path_metas_reference_is_the_file_or_its_subtree_not_a_prefix() -> None:
    configuration = json.dumps({"file_path_metas": {"init_param": "model.pt", "config": "config.yaml", "llm": "Qwen3"}})
    available = {"model.pt": 1, "config.yaml": 1, "configuration.json": 1, **NEIGHBOURS}
    found, missing, problems = pytorch_files(configuration, available)
    assert sorted(found) == ["Qwen3/model.safetensors", "config.yaml", "configuration.json", "model.pt"]
    assert missing == [] and problems == []
    # a name that is only the start of other names is missing, not everything it prefixes
    found, missing, _ = pytorch_files(json.dumps({"file_path_metas": {"init_param": "model.p"}}), available)
    assert (found, missing) == (["configuration.json"], ["model.p"])


def test_config_paths_name_files_and_directories_inside_the_source_only() -> None:
    usable = {"Qwen/model.safetensors": 1, "Qwen/tokenizer.json": 1, "Qwen/README.md": 1, "bpe.model": 1, "abs": 1}
    config = (
        "llm_conf:\n  init_param_path: ./Qwen/\ntokenizer_conf:\n  bpemodel: bpe.model\n"
        "frontend_conf:\n  cmvn_file: /abs\n  other: ../../abs\n  here: .\n"
    )
    files, paths, hub_loads = config_references(config, usable)
    assert files == ["Qwen/model.safetensors", "Qwen/tokenizer.json", "bpe.model"]
    assert paths == {"llm_conf.init_param_path": "./Qwen/", "tokenizer_conf.bpemodel": "bpe.model"}
    assert hub_loads == []


def test_a_section_loading_from_a_hub_is_named_with_what_it_loads() -> None:
    config = "encoder: iic/x\nencoder_conf:\n  hub: MS\nhub: hf\nllm_conf:\n  hub: hf\n  init_param_path: Qwen\nother:\n  hub: local\n"
    _, _, hub_loads = config_references(config, {"Qwen/a.bin": 1})
    assert hub_loads == [
        "encoder_conf.hub = MS loads encoder = 'iic/x' from a hub when the model is built",
        "hub = hf loads  = None from a hub when the model is built",
    ]
    nested = "model_conf:\n  encoder_conf:\n    hub: ms\n    init_param_path: enc\n"
    assert config_references(nested, {}) == (
        [],
        {},
        [
            "model_conf.encoder_conf.hub = ms loads model_conf.encoder_conf.init_param_path = 'enc' from a hub when the model is built"
        ],
    )
    assert config_references("model_conf:\n  encoder_conf:\n    hub: ms\n", {})[2] == [
        "model_conf.encoder_conf.hub = ms loads model_conf.encoder = None from a hub when the model is built"
    ]
    _, _, missing_llm = config_references(config, {})
    assert (
        missing_llm[-1]
        == "llm_conf.hub = hf loads llm_conf.init_param_path = 'Qwen' from a hub when the model is built"
    )


def test_pytorch_files_without_configuration_json_take_the_known_optional_files() -> None:
    listing = {n: 1 for n in ("config.yaml", "model.pt", "tokens.txt", "bpe.model", "jieba_usr_dict", "other.bin")}
    found, missing, problems = pytorch_files(None, listing)
    assert (found, missing, problems) == (
        ["config.yaml", "model.pt", "tokens.txt", "bpe.model", "jieba_usr_dict"],
        [],
        [],
    )


@pytest.mark.parametrize("configuration", ['{"framework": "pytorch"}', "not json", '{"file_path_metas": {}}', "[]"])
def test_a_configuration_json_without_file_path_metas_is_a_problem(configuration: str) -> None:
    found, missing, problems = pytorch_files(configuration, {"configuration.json": 1, "model.pt": 1})
    assert found == ["configuration.json"] and missing == []
    assert problems == [
        "configuration.json has no file_path_metas, so funasr.AutoModel cannot load the directory "
        "(download_model_from_hub.py reads only file_path_metas when configuration.json exists); "
        "choose a revision that ships FunASR's configuration"
    ]


def test_file_path_metas_lists_and_a_yml_config_that_loads_from_a_hub() -> None:
    configuration = json.dumps(
        {"file_path_metas": {"init_param": "model.pt", "config": "conf.yml", "extra": ["a.bin", ["b.bin"]], "n": 3}}
    )
    listing = {"configuration.json": 1, "model.pt": 1, "conf.yml": 1, "a.bin": 1, "b.bin": 1}
    found, missing, problems = pytorch_files(configuration, listing, "encoder: iic/x\nencoder_conf:\n  hub: ms\n")
    assert sorted(found) == sorted(listing) and missing == []
    assert problems == [
        "conf.yml: encoder_conf.hub = ms loads encoder = 'iic/x' from a hub when the model is built; an installed "
        "bundle never reaches for a hub: declare the source with that model inside it, or a revision that points "
        "at a directory of its own"
    ]
    # file_path_metas that is a list: both the problem and what it names are reported
    as_list = '{"file_path_metas": ["conf.yml"]}'
    found, _, problems = pytorch_files(as_list, listing, "encoder_conf:\n  hub: ms\n")
    assert found == ["configuration.json", "conf.yml"] and len(problems) == 2
    assert problems[0].startswith("configuration.json has no file_path_metas") and problems[1].startswith("conf.yml: ")
    # no config among the files AutoModel reads: nothing to read a hub switch from
    no_config = '{"file_path_metas": {"init_param": "model.pt"}}'
    assert pytorch_files(no_config, listing, "encoder_conf:\n  hub: ms\n") == (
        ["configuration.json", "model.pt"],
        [],
        [],
    )


@pytest.mark.parametrize(
    ("family", "fmt", "kwargs", "expected"),
    [
        ("paraformer", "pytorch", {}, ("config.yaml", "model.pt", "tokens.json", "am.mvn")),
        ("ngram-lm", "pytorch", {}, ("TLG.fst", "config.yaml", "lexicon.txt")),
        ("fsmn-vad", "onnx", {}, ("config.yaml", "am.mvn", "model.onnx")),
        ("fsmn-vad", "onnx", {"quantize": True}, ("config.yaml", "am.mvn", "model.onnx", "model_quant.onnx")),
        ("fsmn-vad", "onnx", {"quantize": True, "keep_fp32": False}, ("config.yaml", "am.mvn", "model_quant.onnx")),
        # FunASR's -onnx repository (the catalog says so): quantized only, whatever was declared
        ("fsmn-vad", "onnx", {"quantized_only": True}, ("config.yaml", "am.mvn", "model_quant.onnx")),
        (
            "paraformer-contextual",
            "onnx",
            {"quantized_only": True},
            (
                "config.yaml",
                "am.mvn",
                "tokens.json",
                "seg_dict",
                "model_quant.onnx",
                "model_eb.onnx",
                "model_eb_quant.onnx",
            ),
        ),
        ("fsmn-vad", "torchscript", {}, ("config.yaml", "am.mvn", "model.torchscript")),
        ("fsmn-vad", "torchscript", {"quantize": True}, ("config.yaml", "am.mvn", "model.torchscript")),
        ("fsmn-vad", "torchscript", {"export": True}, ("config.yaml", "am.mvn", "model.torchscript")),
        ("campplus", "onnx", {"export": "generic"}, ("config.yaml", "am.mvn", "model.onnx")),
        ("campplus", "torchscript", {"export": "generic"}, ("config.yaml", "am.mvn", "model.torchscript")),
        ("sensevoice", "gguf", {}, ("sensevoice-small-q8.gguf",)),
        ("fsmn-vad", "gguf", {"gguf_vad": True}, ("fsmn-vad.gguf",)),
        ("fsmn-vad", "gguf", {"export": True}, ("fsmn-vad.gguf",)),  # converted from model.pt
        (
            "fsmn-vad",
            "onnx",
            {"export": True, "quantize": True},
            ("config.yaml", "am.mvn", "model.onnx", "model_quant.onnx"),
        ),
        (
            "fun-asr-nano",
            "gguf",
            {"gguf": "q4", "gguf_vad": True},
            ("funasr-encoder-f16.gguf", "qwen3-0.6b-q4km.gguf", "fsmn-vad.gguf"),
        ),
    ],
)
def test_without_a_listing_the_selection_runs_on_what_a_complete_source_publishes(
    family: str, fmt: str, kwargs: dict[str, object], expected: tuple[str, ...]
) -> None:
    """``check`` before anything is fetched: the one selection rule over a complete source's
    listing, so nothing can name a file the build would not ship."""
    fam = FAMILIES[family]
    shape = {k: v for k, v in kwargs.items() if k in ("export", "gguf", "quantized_only")}
    listing = published(fam, fmt, **shape)  # type: ignore[arg-type]
    options = {k: v for k, v in kwargs.items() if k != "quantized_only"}
    selection = select_files(fam, fmt, listing, **options)  # type: ignore[arg-type]
    assert selection.ship == expected
    assert not selection.missing and not selection.notes and not selection.export_problems
    # what is made here is made from what such a source has: an export from its checkpoint
    assert bool(selection.export) == (shape.get("export") in (True, "generic")), selection.export


def test_a_missing_onnx_file_does_not_stop_the_others_and_the_directory_serves_nothing_yet() -> None:
    listing = {"decoder_quant.onnx": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    sel = select_files(FAMILIES["paraformer-streaming"], "onnx", listing)
    assert sel.missing == ("model.onnx",) and "decoder_quant.onnx" in sel.ship
    assert sel.quantized_runtime is None


def test_the_quantized_only_advice_names_every_file_and_the_source() -> None:
    listing = {"model_quant.onnx": 1, "decoder_quant.onnx": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    sel = select_files(FAMILIES["paraformer-streaming"], "onnx", listing)
    assert sel.advice == (
        "the source ships model_quant.onnx, decoder_quant.onnx without the fp32 file (quantized only): the directory "
        "serves the quantized runtime: funasr_onnx with quantize=True, the C++ runtime with --quantize true (its default)",
    )


def test_generic_exports_take_only_generic_side_files_and_say_so() -> None:
    listing = {"model.pt": 1, "config.yaml": 1, "configuration.json": 1, "jieba_usr_dict": 1}
    sel = select_files(FAMILIES["ct-punc"], "onnx", listing, export="generic", config_yaml="seg_jieba: true\n")
    assert not sel.missing and sel.ship == ("config.yaml", "model.onnx")  # no tokens.json or jieba files asked
    assert sel.advice == (
        'model.onnx is traced from the PyTorch module with the declared export-inputs (export = "generic", '
        "experimental): no FunASR runtime loads it; feed it those inputs",
    )
    plain = select_files(
        FAMILIES["ct-punc"],
        "onnx",
        {"model.onnx": 1, "config.yaml": 1, "tokens.json": 1, "jieba_usr_dict": 1, "am.mvn": 1},
    )
    assert plain.ship == ("config.yaml", "tokens.json", "model.onnx", "jieba_usr_dict")  # its own optional files


def test_torchscript_advice_names_each_file_and_a_shipped_one_needs_none() -> None:
    listing = {"model.pt": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1, "seg_dict": 1}
    sel = select_files(FAMILIES["paraformer-contextual"], "torchscript", listing)
    assert sel.advice[0].startswith("model.torchscript, model_eb.torchscript: loaded by the C++ runtime's GPU build")
    shipped = select_files(
        FAMILIES["paraformer"], "torchscript", {"model.torchscript": 1, "config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    )
    assert shipped.advice == () and shipped.quantized_runtime is None
    pytorch = select_files(FAMILIES["paraformer"], "pytorch", {"model.pt": 1, "config.yaml": 1})
    assert pytorch.quantized_runtime is None


def test_config_values_strip_quotes_only() -> None:
    text = '"quoted section":\n  a: XvalueX\nXsec:\n  b: 1\n'
    assert config_values(text) == {"quoted section.a": "XvalueX", "Xsec.b": "1"}


def test_gguf_variants_are_the_file_names_the_official_repositories_publish() -> None:
    """FunAudioLLM's SenseVoiceSmall-GGUF and Paraformer-GGUF: ``<stem>-q8.gguf``, ``<stem>-f16.gguf``
    and ``<stem>.gguf`` for f32 (the names FunASR's download script fetches); q8 by default."""
    for family, stem in (("sensevoice", "sensevoice-small"), ("paraformer", "paraformer")):
        spec = FAMILIES[family].gguf
        assert spec is not None and spec.default == "q8"
        assert spec.variants == {
            "q8": {"model": f"{stem}-q8.gguf"},
            "f16": {"model": f"{stem}-f16.gguf"},
            "f32": {"model": f"{stem}.gguf"},
        }
    assert "model.pt" not in published(FAMILIES["sensevoice"], "gguf")  # no converter for SenseVoice here


@pytest.mark.parametrize(
    ("family", "fmt", "kwargs", "listing"),
    [
        ("fsmn-vad", "onnx", {}, ["config.yaml", "am.mvn", "model.onnx"]),
        ("paraformer", "onnx", {"quantized_only": True}, ["config.yaml", "am.mvn", "tokens.json", "model_quant.onnx"]),
        ("paraformer", "onnx", {"export": True}, ["config.yaml", "am.mvn", "tokens.json", "model.pt"]),
        ("ct-punc", "onnx", {"export": "generic"}, ["config.yaml", "tokens.json", "model.pt", "am.mvn"]),
        ("paraformer", "pytorch", {}, ["config.yaml", "am.mvn", "tokens.json", "model.pt"]),
        ("fsmn-vad", "torchscript", {}, ["config.yaml", "am.mvn", "model.torchscript"]),
        ("fsmn-vad", "gguf", {}, ["config.yaml", "am.mvn", "fsmn-vad.gguf", "model.pt"]),
        ("sensevoice", "gguf", {"gguf": "f16"},
         ["config.yaml", "am.mvn", "tokens.json", "chn_jpn_yue_eng_ko_spectok.bpe.model", "sensevoice-small-f16.gguf",
          "fsmn-vad.gguf"]),
    ],
)  # fmt: skip
def test_what_a_complete_source_publishes_is_listed_with_unknown_sizes(
    family: str, fmt: str, kwargs: dict[str, object], listing: list[str]
) -> None:
    """The listing ``check`` plans over before anything was fetched: names in the repository's
    layout, every size 0 (unknown); a GGUF source has ``model.pt`` only where the family converts one."""
    assert published(FAMILIES[family], fmt, **kwargs) == dict.fromkeys(listing, 0)  # type: ignore[arg-type]


_METAS = json.dumps(
    {
        "file_path_metas": {
            "init_param": "model.pt",
            "config": "config.yaml",
            "tokenizer_conf": {"token_list": "tokens.json"},
            "frontend_conf": {"cmvn_file": "am.mvn"},
        }
    }
)
_CONFIG = "frontend_conf:\n  cmvn_file: extra.mvn\n"
_SOURCE = {"model.pt": 10, "config.yaml": 1, "tokens.json": 1, "am.mvn": 1, "configuration.json": 1,
           "seg_dict": 1, "extra.mvn": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("family", "fmt", "made"), [("paraformer", "onnx", "model.onnx"), ("fsmn-vad", "gguf", "fsmn-vad.gguf")]
)
def test_an_export_or_conversion_reads_what_automodel_loads_from_the_source(family: str, fmt: str, made: str) -> None:
    """The export (ONNX) and the conversion (GGUF) load the checkpoint as AutoModel does: with
    configuration.json, exactly what its file_path_metas names (seg_dict is not), plus what the
    config references (extra.mvn); without a checkpoint, the source is named in the problem."""
    sel = select_files(FAMILIES[family], fmt, _SOURCE, configuration_json=_METAS, config_yaml=_CONFIG, source="S")
    assert (sel.export, sel.export_problems) == ((made,), ())
    assert sel.export_inputs == ("configuration.json", "am.mvn", "tokens.json", "config.yaml", "model.pt", "extra.mvn")
    assert made in sel.ship
    bare = {"config.yaml": 1, "am.mvn": 1, "tokens.json": 1}
    sel = select_files(FAMILIES[family], fmt, bare, export=True, source="the hub repository acme/p")
    if fmt == "onnx":
        assert sel.export_problems == ("the hub repository acme/p has no model.pt",)
        assert sel.export_inputs == ("config.yaml", "tokens.json", "am.mvn")
    else:  # a conversion is planned only from a checkpoint: without one the GGUF is missing
        assert (sel.export, sel.missing) == ((), ("fsmn-vad.gguf, or model.pt to convert to it",))


def test_a_pytorch_directory_names_its_problems_and_the_config_paths_it_rewrites() -> None:
    no_metas = select_files(FAMILIES["paraformer"], "pytorch", {**_SOURCE}, configuration_json="{}")
    assert no_metas.notes == (
        "configuration.json has no file_path_metas, so funasr.AutoModel cannot load the directory "
        "(download_model_from_hub.py reads only file_path_metas when configuration.json exists); "
        "choose a revision that ships FunASR's configuration",
    )
    assert no_metas.missing == ()


def test_switches_and_hub_keys_are_read_from_dotted_keys_and_comments_are_dropped() -> None:
    values = config_values("a:\n  b: 1 # one # two\n  c: 'x'\nflag: on\n")
    assert values == {"a.b": "1", "a.c": "x", "flag": "on"}


def test_a_models_text_files_are_read_whatever_bytes_they_hold(tmp_path: Path) -> None:
    from hatch_funasr.families import model_text

    (tmp_path / "config.yaml").write_bytes("encoder: SANMEncoder\nname: \xe4\xb8\xad\xff\n".encode("latin-1"))
    assert model_text(tmp_path / "config.yaml") == "encoder: SANMEncoder\nname: 中\ufffd\n"  # one byte replaced
    (tmp_path / "real.yaml").write_bytes("name: 中文\n".encode())
    assert model_text(tmp_path / "real.yaml") == "name: 中文\n"
    assert model_text(tmp_path) is None and model_text(tmp_path / "absent.yaml") is None


def test_gguf_for_a_family_without_a_program_and_a_missing_vad_gguf_are_named() -> None:
    assert select_files(FAMILIES["ct-punc"], "gguf", {"model.pt": 1}).missing == (
        "a GGUF of a ct-punc model (FunASR's llama.cpp runtime has no program for it)",
    )
    asr = {"paraformer-q8.gguf": 1}
    assert select_files(FAMILIES["paraformer"], "gguf", asr, gguf_vad=True).missing == ("fsmn-vad.gguf",)
    with_vad = select_files(FAMILIES["paraformer"], "gguf", {**asr, "fsmn-vad.gguf": 1}, gguf_vad=True)
    assert (with_vad.ship, with_vad.missing) == (("paraformer-q8.gguf", "fsmn-vad.gguf"), ())


def test_a_pytorch_source_publishes_no_generic_side_files_a_family_does_not_read() -> None:
    assert "am.mvn" not in published(FAMILIES["ct-punc"], "pytorch")  # punctuation has no CMVN
    assert "am.mvn" in published(FAMILIES["ct-punc"], "onnx", export="generic")
