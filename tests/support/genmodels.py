"""Small generated model directories, one per family, with each runtime's real ONNX names.

For families with no small real model: every ONNX file has the input and output names,
dtypes and ranks that FunASR's export gives and funasr_onnx / the C++ runtime feed and read,
and at least one MatMul over a float weight (so quantization has work to do); side files
are small but well-formed.  Deterministic: the same call writes the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

F, I32, I64 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64
FEAT = 560  # 80 mel bins x LFR 7
VOCAB = 16

# name -> (inputs, outputs); each value (name, dtype, shape)
Spec = tuple[list[tuple[str, int, list[object]]], list[tuple[str, int, list[object]]]]
ONNX_SPECS: dict[str, dict[str, Spec]] = {
    "paraformer": {
        "model.onnx": (
            [("speech", F, ["B", "T", FEAT]), ("speech_lengths", I32, ["B"])],
            [("logits", F, ["B", "T", VOCAB]), ("token_num", I32, ["B"])],
        ),
    },
    "paraformer-contextual": {
        "model.onnx": (
            [("speech", F, ["B", "T", FEAT]), ("speech_lengths", I32, ["B"]), ("bias_embed", F, ["B", "N", VOCAB])],
            [("logits", F, ["B", "T", VOCAB]), ("token_num", I32, ["B"])],
        ),
        "model_eb.onnx": ([("hotword", I32, ["N", "L"])], [("hw_embed", F, ["N", "L", VOCAB])]),
    },
    "paraformer-streaming": {
        "model.onnx": (
            [("speech", F, ["B", "T", FEAT]), ("speech_lengths", I32, ["B"])],
            [("enc", F, ["B", "T", VOCAB]), ("enc_len", I32, ["B"]), ("alphas", F, ["B", "T", VOCAB])],
        ),
        "decoder.onnx": (
            [
                ("enc", F, ["B", "T", VOCAB]),
                ("enc_len", I32, ["B"]),
                ("acoustic_embeds", F, ["B", "U", VOCAB]),
                ("acoustic_embeds_len", I32, ["B"]),
                ("in_cache_0", F, ["B", VOCAB, "C"]),
            ],
            [("logits", F, ["B", "U", VOCAB]), ("sample_ids", I32, ["B"]), ("out_cache_0", F, ["B", VOCAB, "C"])],
        ),
    },
    "fsmn-vad": {
        "model.onnx": (
            [("speech", F, ["B", "T", 400])] + [(f"in_cache{i}", F, ["B", 128, 19, 1]) for i in range(4)],
            [("logits", F, ["B", "T", 248])] + [(f"out_cache{i}", F, ["B", 128, 19, 1]) for i in range(4)],
        ),
    },
    "ct-punc": {
        "model.onnx": (
            [("inputs", I32, ["B", "L"]), ("text_lengths", I32, ["B"])],
            [("logits", F, ["B", "L", 6])],
        ),
    },
    "ct-punc-realtime": {
        "model.onnx": (
            [
                ("inputs", I32, ["B", "L"]),
                ("text_lengths", I32, ["B"]),
                ("vad_masks", F, ["B", 1, "L", "L"]),
                ("sub_masks", F, ["B", 1, "L", "L"]),
            ],
            [("logits", F, ["B", "L", 6])],
        ),
    },
    "sensevoice": {
        "model.onnx": (
            [
                ("speech", F, ["B", "T", FEAT]),
                ("speech_lengths", I32, ["B"]),
                ("language", I32, ["B"]),
                ("textnorm", I32, ["B"]),
            ],
            [("ctc_logits", F, ["B", "T", VOCAB]), ("encoder_out_lens", I32, ["B"])],
        ),
    },
}

CONFIG = {
    "paraformer": "model: BiCifParaformer\nfrontend: WavFrontend\nfrontend_conf:\n  fs: 16000\n  n_mels: 80\n  lfr_m: 7\n  lfr_n: 6\n",
    "paraformer-contextual": "model: ContextualParaformer\nfrontend: WavFrontend\nfrontend_conf:\n  fs: 16000\n",
    "paraformer-streaming": "model: ParaformerStreaming\nfrontend: WavFrontendOnline\nfrontend_conf:\n  fs: 16000\n",
    "fsmn-vad": "model: FsmnVADStreaming\nfrontend: WavFrontendOnline\nfrontend_conf:\n  fs: 16000\n",
    "ct-punc": "model: CTTransformer\npunc_list: [<unk>, _, ',', 。, ？, 、]\n",
    "ct-punc-realtime": "model: CTTransformerStreaming\npunc_list: [<unk>, _, ',', 。, ？, 、]\n",
    "sensevoice": "model: SenseVoiceSmall\nfrontend: WavFrontend\nfrontend_conf:\n  fs: 16000\n",
    "ngram-lm": "lm_type: ngram\n",
}
SIDE = {
    "paraformer": ["config.yaml", "am.mvn", "tokens.json"],
    "paraformer-contextual": ["config.yaml", "am.mvn", "tokens.json", "seg_dict"],
    "paraformer-streaming": ["config.yaml", "am.mvn", "tokens.json"],
    "fsmn-vad": ["config.yaml", "am.mvn"],
    "ct-punc": ["config.yaml", "tokens.json"],
    "ct-punc-realtime": ["config.yaml", "tokens.json"],
    "sensevoice": ["config.yaml", "am.mvn", "tokens.json", "chn_jpn_yue_eng_ko_spectok.bpe.model"],
    "ngram-lm": ["TLG.fst", "config.yaml", "lexicon.txt"],
    "fst-itn": ["zh_itn_tagger.fst", "zh_itn_verbalizer.fst"],
}
FAMILIES = tuple(SIDE)
#: Families with no ONNX path: stand-ins exist only in PyTorch format.
PYTORCH_SIDE = {
    "campplus": ["config.yaml"],
    "emotion2vec": ["config.yaml", "tokens.txt"],
    "kws": ["config.yaml", "tokens.txt"],
}


def _first_float(inputs: Sequence[tuple[str, int, list[object]]]) -> tuple[str, int] | None:
    for name, dtype, shape in inputs:
        if dtype == F and len(shape) == 3 and isinstance(shape[2], int):
            return name, shape[2]
    return None


def _graph(family: str, file: str, spec: Spec, rng: np.random.Generator, weight_mb: float) -> onnx.ModelProto:
    inputs, outputs = spec
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    source = _first_float(inputs)
    if source is None:  # integer ids: embed them first (punctuation, hotwords)
        ids = inputs[0][0]
        table = rng.standard_normal((64, 32)).astype(np.float32)
        inits.append(helper.make_tensor("embedding", F, table.shape, table.tobytes(), raw=True))
        nodes.append(helper.make_node("Gather", ["embedding", ids], ["embedded"], name="embed"))
        source = ("embedded", 32)
    src_name, width = source
    for name, dtype, shape in outputs:
        if name.startswith("out_cache"):
            nodes.append(helper.make_node("Identity", [name.replace("out_", "in_")], [name], name=f"{name}_id"))
        elif dtype == F:
            cols = int(shape[-1]) if isinstance(shape[-1], int) else VOCAB
            rows = width
            extra = int(weight_mb * 2**20 / 4 / cols) if weight_mb and name == outputs[0][0] else 0
            weight = rng.standard_normal((rows, cols)).astype(np.float32)
            inits.append(helper.make_tensor(f"{name}_weight", F, weight.shape, weight.tobytes(), raw=True))
            if extra:
                pad = rng.standard_normal((extra, cols)).astype(np.float32)
                inits.append(helper.make_tensor(f"{name}_padding", F, pad.shape, pad.tobytes(), raw=True))
            nodes.append(helper.make_node("MatMul", [src_name, f"{name}_weight"], [name], name=f"{name}_matmul"))
        else:
            lengths = next((n for n, d, s in inputs if d == I32 and len(s) == 1), None)
            if lengths is None:
                nodes.append(helper.make_node("Shape", [src_name], [f"{name}_shape"], name=f"{name}_shape"))
                nodes.append(helper.make_node("Cast", [f"{name}_shape"], [name], to=I32, name=f"{name}_cast"))
            else:
                nodes.append(helper.make_node("Identity", [lengths], [name], name=f"{name}_id"))
    graph = helper.make_graph(
        nodes,
        f"{family}-{file}",
        [helper.make_tensor_value_info(n, d, s) for n, d, s in inputs],
        [helper.make_tensor_value_info(n, d, s) for n, d, s in outputs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="hatch-funasr-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _side_file(family: str, name: str) -> bytes:
    if name == "config.yaml":
        return CONFIG.get(family, "model: unknown\n").encode()
    if name == "am.mvn":
        return (
            b"<Nnet>\n<Splice> 560 560\n[ 0 ]\n<AddShift> 560 560\n<LearnRateCoef> 0 [ " + b"0 " * 560 + b"]\n</Nnet>\n"
        )
    if name == "tokens.json":
        return json.dumps(
            ["<blank>", "<s>", "</s>", *[chr(0x4E00 + i) for i in range(VOCAB - 4)], "<unk>"], ensure_ascii=False
        ).encode()
    return f"{family} {name}\n".encode()


def write_family(
    family: str, dest: Path, *, quant: bool = False, pytorch: bool = False, extras: bool = False, weight_mb: float = 0
) -> list[str]:
    """Write a complete model directory for ``family``; return the relative names written."""
    rng = np.random.default_rng(sum(map(ord, family)))
    dest.mkdir(parents=True, exist_ok=True)
    pytorch = pytorch or family in PYTORCH_SIDE
    files: dict[str, bytes] = {name: _side_file(family, name) for name in {**SIDE, **PYTORCH_SIDE}[family]}
    if pytorch:
        files["model.pt"] = b"PK\x03\x04 stand-in for a torch checkpoint (never unpickled in tests)\n"
        metas = {"init_param": "model.pt", "config": "config.yaml"}
        tokens = next((t for t in ("tokens.json", "tokens.txt") if t in files), None)
        if tokens:
            metas["tokenizer_conf"] = {"token_list": tokens}  # type: ignore[assignment]
        if "am.mvn" in files:
            metas["frontend_conf"] = {"cmvn_file": "am.mvn"}  # type: ignore[assignment]
        files["configuration.json"] = json.dumps(
            {"framework": "pytorch", "model": {"type": "funasr"}, "file_path_metas": metas}, indent=2
        ).encode()
    else:
        for name, spec in ONNX_SPECS.get(family, {}).items():
            files[name] = _graph(family, name, spec, rng, weight_mb).SerializeToString()
            if quant:
                files[name.replace(".onnx", "_quant.onnx")] = _graph(family, name, spec, rng, 0).SerializeToString()
    if extras:
        files.setdefault("configuration.json", b'{"framework": "onnx"}\n')
        files.update(
            {
                "README.md": b"# model\n",
                ".gitattributes": b"*.onnx filter=lfs\n",
                "fig/struct.png": b"\x89PNG\r\n",
                "example/asr_example.wav": b"RIFF\x00\x00\x00\x00WAVE",
            }
        )
    for name, data in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return sorted(files)
