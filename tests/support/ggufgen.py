"""Stand-in GGUFs for FunASR's llama.cpp runtime (``runtime/llama.cpp``, FunASR 3c58cb5): tiny,
random-weight files that its real loaders accept, written with the ``gguf`` package.

Each writer below holds exactly what its loader requires, with the loader's file and line beside
it (paths under ``runtime/llama.cpp/``; ``../shared/funasr-gguf/README.md`` "What each loader
requires" has the same facts).  Keys are u32 unless said: ``gguf_get_val_u32`` aborts on any
other type (llama.cpp ``ggml/src/gguf.cpp:194``).  Shapes are given as PyTorch's ``(out, in)``;
gguf stores ggml's ``ne`` reversed.  Dimensions are small where the loader reads them from the
file and real where the code fixes them (Paraformer's d_model 512, the 560-wide LFR input).

Deterministic: the same call writes the same bytes (the weights come from a seeded generator).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np

__all__ = ["WRITERS", "fsmn_vad", "nano_encoder", "paraformer", "qwen3", "sensevoice"]

#: Width of the features every SAN-M encoder takes: 80 mels x LFR 7 (funasr-sensevoice.cpp:199).
LFR_DIM = 560


class _Writer:
    """A GGUF under construction: seeded random weights, ones/zeros for norms."""

    def __init__(self, path: Path, arch: str, seed: int) -> None:
        self.w = gguf.GGUFWriter(str(path), arch)
        self.rng = np.random.default_rng(seed)

    def u32(self, **keys: int) -> None:
        for key, value in keys.items():
            self.w.add_uint32(key.replace("__", "."), value)

    def rand(self, name: str, *shape: int, scale: float = 0.1) -> None:
        self.w.add_tensor(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def const(self, name: str, n: int, value: float) -> None:
        self.w.add_tensor(name, np.full(n, value, np.float32))

    def linear(self, prefix: str, out: int, inp: int, *, bias: bool = True) -> None:
        self.rand(f"{prefix}.weight", out, inp)
        if bias:
            self.rand(f"{prefix}.bias", out)

    def norm(self, prefix: str, n: int) -> None:
        self.const(f"{prefix}.weight", n, 1.0)
        self.const(f"{prefix}.bias", n, 0.0)

    def sanm(self, prefix: str, inp: int, d: int, ffn: int, kernel: int) -> None:
        """One SAN-M encoder layer (funasr-sensevoice.cpp sanm_layer; the same in paraformer and cli)."""
        self.norm(prefix + "norm1", inp)
        self.linear(prefix + "self_attn.linear_q_k_v", 3 * d, inp)
        self.rand(prefix + "self_attn.fsmn_block.weight", kernel, d)  # (K, D): the exporter's (D,1,K) transposed
        self.linear(prefix + "self_attn.linear_out", d, d)
        self.norm(prefix + "norm2", d)
        self.linear(prefix + "feed_forward.w_1", ffn, d)
        self.linear(prefix + "feed_forward.w_2", d, ffn)

    def close(self) -> None:
        self.w.write_header_to_file()
        self.w.write_kv_data_to_file()
        self.w.write_tensors_to_file()
        self.w.close()


def fsmn_vad(path: Path, seed: int = 0) -> None:
    """FSMN-VAD (funasr-common/funasr_vad.h:63-111), what ``llama-funasr-vad`` and every ``--vad`` load.
    The real dimensions: the runtime's LFR front end gives 400 wide input (lfr_m 5 x 80 mels)."""
    w = _Writer(path, "fsmn-vad", seed)
    layers, lorder, proj, lin, aff = 2, 20, 128, 250, 140
    # :69-71 keys, absent -> defaults; written so the file says what it is
    w.u32(vad__input_dim=400, vad__proj_dim=proj, vad__fsmn_layers=layers, vad__lorder=lorder)
    w.u32(vad__output_dim=248, vad__lfr_m=5, vad__lfr_n=1)
    w.const("cmvn.shift", 400, 0.0)  # :77, :86-87 read as raw floats, input_dim of them
    w.const("cmvn.scale", 400, 0.1)
    w.linear("encoder.in_linear1.linear", aff, 400)  # :77-78
    w.linear("encoder.in_linear2.linear", lin, aff)
    for i in range(layers):  # :80-81
        p = f"encoder.fsmn.{i}."
        w.linear(p + "linear.linear", proj, lin, bias=False)
        w.rand(p + "fsmn_block.conv_left.weight", lorder, proj)  # (lorder, C): ne [C, lorder]
        w.linear(p + "affine.linear", lin, proj)
    w.linear("encoder.out_linear1.linear", aff, lin)  # :78-79
    w.linear("encoder.out_linear2.linear", 248, aff)
    w.close()


def sensevoice(path: Path, seed: int = 1) -> None:
    """SenseVoiceSmall (sensevoice/funasr-sensevoice/funasr-sensevoice.cpp:188-235)."""
    w = _Writer(path, "sensevoice-small", seed)
    d, ffn, kernel, blocks, tp = 64, 128, 11, 2, 1
    pieces = ["<blank>", "<s>", "</s>", "<|en|>", "<|NEUTRAL|>", "<|Speech|>", "<|woitn|>", "\u2581hello"]
    pieces += [chr(ord("a") + i) for i in range(6)] + ["<|withitn|>"] + [f"p{i}" for i in range(17)]
    w.u32(sv__output_size=d, sv__attention_heads=4, sv__num_blocks=blocks, sv__tp_blocks=tp)  # :190-193
    w.u32(sv__kernel_size=kernel, sv__vocab_size=len(pieces), sv__blank_id=0)
    w.w.add_array("sv.query_tokens", [0, 1, 2, 14])  # :194-195 INT32 rows of embed.weight
    w.w.add_array("sv.vocab", pieces)  # :196 string array
    w.rand("embed.weight", 16, LFR_DIM)  # :205 read as raw F32
    w.sanm("encoder.encoders0.0.", LFR_DIM, d, ffn, kernel)  # :214
    for i in range(blocks - 1):  # :215
        w.sanm(f"encoder.encoders.{i}.", d, d, ffn, kernel)
    w.norm("encoder.after_norm", d)  # :216
    for i in range(tp):  # :217
        w.sanm(f"encoder.tp_encoders.{i}.", d, d, ffn, kernel)
    w.norm("encoder.tp_norm", d)  # :218
    w.rand("ctc.ctc_lo.weight", len(pieces), d, scale=1.0)  # :219
    w.rand("ctc.ctc_lo.bias", len(pieces))
    w.close()


def paraformer(path: Path, seed: int = 2) -> None:
    """Paraformer (paraformer/funasr-paraformer/funasr-paraformer.cpp:141-204); d_model 512, 4 heads
    and kernel 11 are fixed in the code (cfg at :51)."""
    w = _Writer(path, "paraformer", seed)
    d, ffn, kernel = 512, 64, 11
    vocab = ["<blank>", "<s>", "</s>"] + [chr(0x4E00 + i) for i in range(13)]
    w.u32(pf__enc__num_blocks=1, pf__dec__num_blocks=1, pf__dec__att_layer_num=1, pf__dec__decoders3=1)  # :144
    w.u32(pf__vocab_size=len(vocab))
    w.w.add_float32("pf.predictor.tail_threshold", 0.45)  # :145 f32
    w.w.add_float32("pf.predictor.threshold", 1.0)
    w.w.add_array("pf.vocab", vocab)  # :146
    w.const("cmvn.shift", LFR_DIM, 0.0)  # :151, :160
    w.const("cmvn.scale", LFR_DIM, 0.1)
    w.rand("predictor.cif_conv1d.weight", d, d, 3, scale=0.01)  # :152-153
    w.const("predictor.cif_conv1d.bias", d, 0.0)
    w.rand("predictor.cif_output.weight", 1, d, scale=0.01)  # :154-155
    w.const("predictor.cif_output.bias", 1, 0.0)
    w.sanm("encoder.encoders0.0.", LFR_DIM, d, ffn, kernel)  # :165-167
    w.norm("encoder.after_norm", d)

    def dec_ffn(p: str) -> None:  # :82-110: w_2 has no bias
        w.linear(p + "w_1", ffn, d)
        w.norm(p + "norm", ffn)
        w.linear(p + "w_2", d, ffn, bias=False)

    p = "decoder.decoders.0."  # :194
    for n in ("norm1", "norm2", "norm3"):
        w.norm(p + n, d)
    dec_ffn(p + "feed_forward.")
    w.rand(p + "self_attn.fsmn_block.weight", kernel, d)
    w.linear(p + "src_attn.linear_q", d, d)
    w.linear(p + "src_attn.linear_k_v", 2 * d, d)
    w.linear(p + "src_attn.linear_out", d, d)
    w.norm("decoder.decoders3.0.norm1", d)  # :195
    dec_ffn("decoder.decoders3.0.feed_forward.")
    w.norm("decoder.after_norm", d)  # :196
    w.rand("decoder.output_layer.weight", len(vocab), d, scale=1.0)  # :197
    w.rand("decoder.output_layer.bias", len(vocab))
    w.close()


def nano_encoder(path: Path, seed: int = 3, llm_dim: int = 64) -> None:
    """Fun-ASR-Nano's encoder + adaptor (fun-asr-nano/funasr-cli/funasr-cli.cpp:84-93, 138-158;
    funasr-encoder/funasr-encoder.cpp:45-61)."""
    w = _Writer(path, "funasr-sensevoice-encoder", seed)
    d, ffn, kernel, blocks, tp, adp_ffn, adp_layers = 64, 128, 11, 2, 1, 128, 1
    w.u32(funasr__enc__input_size=LFR_DIM, funasr__enc__output_size=d, funasr__enc__attention_heads=4)  # cli.cpp:86-93
    w.u32(funasr__enc__linear_units=ffn, funasr__enc__num_blocks=blocks, funasr__enc__tp_blocks=tp)
    w.u32(funasr__enc__kernel_size=kernel, funasr__adp__llm_dim=llm_dim, funasr__adp__ffn_dim=adp_ffn)
    w.u32(funasr__adp__n_layer=adp_layers, funasr__adp__attention_heads=4)
    w.sanm("audio_encoder.encoders0.0.", LFR_DIM, d, ffn, kernel)  # :143
    for i in range(blocks - 1):  # :144
        w.sanm(f"audio_encoder.encoders.{i}.", d, d, ffn, kernel)
    w.norm("audio_encoder.after_norm", d)  # :145
    for i in range(tp):  # :146
        w.sanm(f"audio_encoder.tp_encoders.{i}.", d, d, ffn, kernel)
    w.norm("audio_encoder.tp_norm", d)  # :147
    w.linear("audio_adaptor.linear1", adp_ffn, d)  # :148
    w.linear("audio_adaptor.linear2", llm_dim, adp_ffn)  # :149
    for i in range(adp_layers):  # :150 adp_layer
        p = f"audio_adaptor.blocks.{i}."
        w.norm(p + "norm1", llm_dim)
        w.norm(p + "norm2", llm_dim)
        for n in ("linear_q", "linear_k", "linear_v", "linear_out"):
            w.linear(p + f"self_attn.{n}", llm_dim, llm_dim)
        w.linear(p + "feed_forward.w_1", adp_ffn, llm_dim)
        w.linear(p + "feed_forward.w_2", llm_dim, adp_ffn)
    w.close()


def _byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode alphabet: the 256 single-byte tokens a ``gpt2`` BPE vocabulary holds."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    extra = iter(range(256, 512))
    chars = {b: (b if b in printable else next(extra)) for b in range(256)}
    return [chr(chars[b]) for b in range(256)]


def qwen3(path: Path, seed: int = 4, embedding: int = 64) -> None:
    """A Qwen3 LLM as llama.cpp loads it (its commit FunASR pins, 803b7fc): keys
    src/llama-model.cpp:1089-1094, 1151-1160, src/models/qwen3.cpp:4; tensors qwen3.cpp:18-45; a
    gpt2 tokenizer with merges (src/llama-vocab.cpp:1987) and the chat tokens funasr-cli.cpp:214-218
    tokenizes its prompt with."""
    w = _Writer(path, "qwen3", seed)
    layers, heads, kv_heads, head_dim, ffn = 2, 4, 2, 16, 128
    tokens = [*_byte_tokens(), "\u0120t", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [gguf.TokenType.NORMAL] * (len(tokens) - 3) + [gguf.TokenType.CONTROL] * 3
    w.w.add_context_length(2048)
    w.w.add_embedding_length(embedding)
    w.w.add_block_count(layers)
    w.w.add_feed_forward_length(ffn)
    w.w.add_head_count(heads)
    w.w.add_head_count_kv(kv_heads)
    w.w.add_key_length(head_dim)
    w.w.add_value_length(head_dim)
    w.w.add_rope_freq_base(1e6)
    w.w.add_layer_norm_rms_eps(1e-6)
    w.w.add_tokenizer_model("gpt2")
    w.w.add_tokenizer_pre("qwen2")
    w.w.add_token_list(tokens)
    w.w.add_token_types(types)
    w.w.add_token_merges(["\u0120 t"])
    w.w.add_eos_token_id(len(tokens) - 1)
    w.w.add_bos_token_id(len(tokens) - 3)
    w.w.add_pad_token_id(len(tokens) - 3)
    w.w.add_add_bos_token(False)
    w.rand("token_embd.weight", len(tokens), embedding)
    w.const("output_norm.weight", embedding, 1.0)
    for i in range(layers):
        p = f"blk.{i}."
        w.const(p + "attn_norm.weight", embedding, 1.0)
        w.rand(p + "attn_q.weight", heads * head_dim, embedding)
        w.rand(p + "attn_k.weight", kv_heads * head_dim, embedding)
        w.rand(p + "attn_v.weight", kv_heads * head_dim, embedding)
        w.rand(p + "attn_output.weight", embedding, heads * head_dim)
        w.const(p + "attn_q_norm.weight", head_dim, 1.0)
        w.const(p + "attn_k_norm.weight", head_dim, 1.0)
        w.const(p + "ffn_norm.weight", embedding, 1.0)
        w.rand(p + "ffn_gate.weight", ffn, embedding)
        w.rand(p + "ffn_up.weight", ffn, embedding)
        w.rand(p + "ffn_down.weight", embedding, ffn)
    w.close()


#: What each role's file of a family is, as a stand-in: (family, role) -> writer(path, seed).
WRITERS: dict[tuple[str, str], Callable[[Path, int], None]] = {
    ("fsmn-vad", "model"): fsmn_vad,
    ("sensevoice", "model"): sensevoice,
    ("paraformer", "model"): paraformer,
    ("fun-asr-nano", "encoder"): nano_encoder,
    ("fun-asr-nano", "llm"): qwen3,
}
