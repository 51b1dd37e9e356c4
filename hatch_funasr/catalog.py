"""The catalog: aliases for the models FunASR deployments use and FunASR's own short names.

Each entry gives the family, the ModelScope id, the Hugging Face id where one exists, and
the ready ONNX repository where one exists (so ``format = "onnx"`` needs no torch).

Where FunASR's short names and the deployment docs disagree we follow the deployment docs and
say so in ``note``: FunASR's ModelScope map sends ``paraformer-zh`` to the SeACo-Paraformer
(hotword) model, while the offline server's ``paraformer-zh`` is the vad-punc Paraformer-large
with timestamps whose ready ONNX is the C++ offline server's default ``--model-dir``.
hatch-funasr resolves ``paraformer-zh`` to that model on both hubs; ``seaco-paraformer`` is
FunASR's one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from hatch_funasr.families import FAMILIES, GGUF_VAD, GGUF_VAD_REPO
from hatch_funasr.hubs import HUBS, repo_key
from hatch_funasr.model import ExtraFiles

__all__ = ["CATALOG", "CatalogEntry", "by_repo", "completions", "entries", "gguf_vad", "lookup", "suggest"]


@dataclass(frozen=True)
class CatalogEntry:
    """One named model: its family and, per hub (``ms``, ``hf``), its repository and ready
    ONNX repository."""

    alias: str
    family: str
    #: hub name -> repository id.
    repos: Mapping[str, str]
    #: hub name -> the ready ONNX repository (FunASR's official export), where one exists.
    onnx: Mapping[str, str] = field(default_factory=dict)
    #: FunASR short names (``name_maps_from_hub``) that resolve to this entry.
    funasr_names: tuple[str, ...] = ()
    note: str = ""
    #: hub name -> the ready GGUF repository of FunASR's llama.cpp runtime (``FunAudioLLM/*-GGUF``).
    gguf: Mapping[str, str] = field(default_factory=dict)
    #: The format the alias means when the declaration names none (the ``-gguf`` aliases).
    format: str | None = None

    def repo(self, hub: str, fmt: str) -> str | None:
        """The repository to fetch for ``hub`` and ``fmt``: the ready ONNX or GGUF one when there
        is one, else the PyTorch one (exported or converted at build time)."""
        ready = self.onnx if fmt == "onnx" else self.gguf if fmt == "gguf" else {}
        return ready.get(hub) or self.repos.get(hub)

    def all_repos(self) -> Iterator[str]:
        yield from self.repos.values()
        yield from self.onnx.values()
        yield from self.gguf.values()

    def is_onnx_repo(self, repo: str) -> bool:
        """Whether ``repo`` is this entry's ready ONNX repository on some hub, its id compared as
        the hubs compare ids (:func:`~hatch_funasr.hubs.repo_key`: case, renamed owners)."""
        return any(repo_key(repo) == repo_key(r) for r in self.onnx.values())

    def default_format(self, repo: str | None) -> str | None:
        """The format a declaration naming this entry (or its repository ``repo``) means by
        default: ``gguf`` for the ``-gguf`` aliases and the GGUF repositories, else None."""
        if self.format is not None:
            return self.format
        return "gguf" if repo is not None and repo.lower() in (r.lower() for r in self.gguf.values()) else None


def _E(
    alias: str,
    family: str,
    ms: str,
    *,
    hf: str | None = None,
    onnx_ms: str | None = None,
    onnx_hf: str | None = None,
    funasr_names: tuple[str, ...] = (),
    note: str = "",
    gguf_hf: str | None = None,
    fmt: str | None = None,
) -> CatalogEntry:
    repos = {"ms": ms} | ({"hf": hf} if hf else {})
    onnx = ({"ms": onnx_ms} if onnx_ms else {}) | ({"hf": onnx_hf} if onnx_hf else {})
    gguf = {"hf": gguf_hf} if gguf_hf else {}
    return CatalogEntry(alias, family, repos, onnx, funasr_names, note, gguf, fmt)


#: FunASR's llama.cpp runtime's ready GGUF repositories (Hugging Face only; runtime/llama.cpp/
#: download-funasr-model.sh and README.md), by the alias of the model each is converted from
#: (convert-funasr-to-gguf.py:20-33: FunAudioLLM/SenseVoiceSmall, funasr/paraformer-zh,
#: funasr/fsmn-vad, FunAudioLLM/Fun-ASR-Nano-2512).
_GGUF = {
    "sensevoice-small": "FunAudioLLM/SenseVoiceSmall-GGUF",
    "paraformer-zh": "FunAudioLLM/Paraformer-GGUF",
    "fsmn-vad": GGUF_VAD_REPO,
    "fun-asr-nano": "FunAudioLLM/Fun-ASR-Nano-GGUF",
}


_ENTRIES: tuple[CatalogEntry, ...] = (
    # --- ASR, offline -------------------------------------------------------------------
    _E(
        "paraformer-zh",
        "paraformer",
        "iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
        hf="funasr/paraformer-zh",
        onnx_ms="iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-onnx",
        note="vad-punc, timestamps (the offline server's model); FunASR's ModelScope map calls seaco-paraformer this",
        gguf_hf=_GGUF["paraformer-zh"],
    ),
    _E(
        "paraformer",
        "paraformer",
        "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
        funasr_names=("paraformer",),
    ),
    _E(
        "paraformer-zh-spk",
        "paraformer",
        "iic/speech_paraformer-large-vad-punc-spk_asr_nat-zh-cn",
        note="speaker-attributed; no ready ONNX, ONNX by export",
    ),
    _E(
        "paraformer-en",
        "paraformer",
        "iic/speech_paraformer-large-vad-punc_asr_nat-en-16k-common-vocab10020",
        hf="funasr/paraformer-en",
        onnx_ms="iic/speech_paraformer-large_asr_nat-en-16k-common-vocab10020-onnx",
        funasr_names=("paraformer-en", "paraformer-en-spk"),
        note="PyTorch: FunASR's map (vad-punc); ONNX: the English model FunASR's C++ server documents "
        "(no vad-punc -onnx repository is published)",
    ),
    _E(
        "seaco-paraformer",
        "paraformer-contextual",
        "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
        note="hotwords; FunASR's ModelScope 'paraformer-zh'; ONNX by export",
    ),
    _E(
        "paraformer-zh-contextual",
        "paraformer-contextual",
        "iic/speech_paraformer-large-contextual_asr_nat-zh-cn-16k-common-vocab8404",
        onnx_ms="iic/speech_paraformer-large-contextual_asr_nat-zh-cn-16k-common-vocab8404-onnx",
        note="NN hotwords; the hotword ONNX the C++ runtime loads",
    ),
    _E(
        "paraformer-zh-8k",
        "paraformer",
        "iic/speech_paraformer_asr_nat-zh-cn-8k-common-vocab8358-tensorflow1",
        onnx_ms="iic/speech_paraformer_asr_nat-zh-cn-8k-common-vocab8358-tensorflow1-onnx",
        note="8 kHz",
    ),
    _E(
        "sensevoice-small",
        "sensevoice",
        "iic/SenseVoiceSmall",
        hf="FunAudioLLM/SenseVoiceSmall",
        onnx_ms="iic/SenseVoiceSmall-onnx",
        note="ASR+LID+SER+AED; installed path keeps 'SenseVoiceSmall'",
        gguf_hf=_GGUF["sensevoice-small"],
    ),
    _E(
        "fun-asr-nano",
        "fun-asr-nano",
        "FunAudioLLM/Fun-ASR-Nano-2512",
        hf="FunAudioLLM/Fun-ASR-Nano-2512",
        note="LLM-based, 31 languages; PyTorch only",
        gguf_hf=_GGUF["fun-asr-nano"],
    ),
    _E(
        "whisper-large-v3",
        "whisper",
        "iic/Whisper-large-v3",
        funasr_names=("Whisper-large-v3",),
        note="PyTorch only",
    ),
    _E(
        "whisper-large-v3-turbo",
        "whisper",
        "iic/Whisper-large-v3-turbo",
        funasr_names=("Whisper-large-v3-turbo",),
        note="PyTorch only",
    ),
    _E(
        "whisper-large-v2",
        "whisper",
        "iic/speech_whisper-large_asr_multilingual",
        funasr_names=("Whisper-large-v2",),
        note="PyTorch only",
    ),
    _E("qwen-audio", "qwen-audio", "Qwen/Qwen-Audio", funasr_names=("Qwen-Audio",), note="PyTorch only"),
    # --- ASR, streaming -----------------------------------------------------------------
    _E(
        "paraformer-zh-streaming",
        "paraformer-streaming",
        "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
        hf="funasr/paraformer-zh-streaming",
        onnx_ms="iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online-onnx",
        funasr_names=("paraformer-zh-streaming",),
    ),
    _E(
        "paraformer-zh-streaming-small",
        "paraformer-streaming",
        "iic/speech_paraformer_asr_nat-zh-cn-16k-common-vocab8404-online",
        note="ONNX by export",
    ),
    # --- VAD ----------------------------------------------------------------------------
    _E(
        "fsmn-vad",
        "fsmn-vad",
        "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
        hf="funasr/fsmn-vad",
        onnx_ms="iic/speech_fsmn_vad_zh-cn-16k-common-onnx",
        funasr_names=("fsmn-vad",),
        gguf_hf=_GGUF["fsmn-vad"],
    ),
    _E(
        "fsmn-vad-8k",
        "fsmn-vad",
        "iic/speech_fsmn_vad_zh-cn-8k-common",
        onnx_ms="iic/speech_fsmn_vad_zh-cn-8k-common-onnx",
        note="8 kHz",
    ),
    # --- punctuation --------------------------------------------------------------------
    _E(
        "ct-punc",
        "ct-punc",
        "iic/punc_ct-transformer_cn-en-common-vocab471067-large",
        hf="funasr/ct-punc",
        onnx_ms="iic/punc_ct-transformer_cn-en-common-vocab471067-large-onnx",
        funasr_names=("ct-punc",),
    ),
    _E(
        "ct-punc-c",
        "ct-punc",
        "iic/punc_ct-transformer_zh-cn-common-vocab272727-pytorch",
        hf="iic/punc_ct-transformer_zh-cn-common-vocab272727-pytorch",
        onnx_ms="iic/punc_ct-transformer_zh-cn-common-vocab272727-onnx",
        funasr_names=("ct-punc-c",),
    ),
    _E(
        "ct-punc-realtime",
        "ct-punc-realtime",
        "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727",
        onnx_ms="iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727-onnx",
    ),
    # --- speaker, alignment, LM, ITN, emotion, KWS ---------------------------------------
    _E(
        "cam++",
        "campplus",
        "iic/speech_campplus_sv_zh-cn_16k-common",
        hf="funasr/campplus",
        funasr_names=("cam++",),
        note="speaker embedding (192-d); PyTorch only, no official ONNX",
    ),
    _E(
        "fa-zh",
        "timestamp",
        "iic/speech_timestamp_prediction-v1-16k-offline",
        hf="funasr/fa-zh",
        funasr_names=("fa-zh",),
        note="character timestamps; PyTorch only",
    ),
    _E("ngram-lm-zh", "ngram-lm", "iic/speech_ngram_lm_zh-cn-ai-wesp-fst", note="C++ runtime --lm-dir"),
    _E(
        "ngram-lm-zh-8k",
        "ngram-lm",
        "iic/speech_ngram_lm_zh-cn-ai-wesp-fst-token8358",
        note="C++ runtime --lm-dir, 8 kHz vocabulary",
    ),
    _E("fst-itn-zh", "fst-itn", "thuduj12/fst_itn_zh", note="C++ runtime --itn-dir"),
    _E(
        "emotion2vec-plus-large",
        "emotion2vec",
        "iic/emotion2vec_plus_large",
        hf="emotion2vec/emotion2vec_plus_large",
        funasr_names=("emotion2vec_plus_large",),
    ),
    _E(
        "emotion2vec-plus-base",
        "emotion2vec",
        "iic/emotion2vec_plus_base",
        hf="emotion2vec/emotion2vec_plus_base",
        funasr_names=("emotion2vec_plus_base",),
    ),
    _E(
        "emotion2vec-plus-seed",
        "emotion2vec",
        "iic/emotion2vec_plus_seed",
        hf="emotion2vec/emotion2vec_plus_seed",
        funasr_names=("emotion2vec_plus_seed",),
    ),
    _E(
        "kws-xiaoyun-online",
        "kws",
        "iic/speech_sanm_kws_phone-xiaoyun-commands-online",
        note="SANM keyword spotting on phone units, wake word '小云小云' + commands, streaming (often called FSMN-KWS; "
        "the repository is the SANM model)",
    ),
    _E(
        "kws-xiaoyun-offline",
        "kws",
        "iic/speech_sanm_kws_phone-xiaoyun-commands-offline",
        note="SANM keyword spotting on phone units, wake word '小云小云' + commands, whole utterances",
    ),
)

_ENTRIES += tuple(
    replace(
        e,
        alias=f"{e.alias}-gguf",
        repos=dict(e.gguf),  # the GGUF repository only (the plain alias with format = "gguf" may convert)
        onnx={},
        funasr_names=(),
        format="gguf",
        note=f"{e.gguf['hf']} (FunASR's llama.cpp runtime), variant by `gguf = ...`",
    )
    for e in _ENTRIES
    if e.gguf
)

CATALOG: dict[str, CatalogEntry] = {}
for _entry in _ENTRIES:
    assert _entry.family in FAMILIES, _entry
    assert set(_entry.repos) | set(_entry.onnx) <= set(HUBS), _entry
    for _name in (_entry.alias, *_entry.funasr_names):
        CATALOG.setdefault(_name.lower(), _entry)


#: Repositories that lack a file a runtime reads, and where FunASR's own tools take it from:
#: funasr_onnx's SenseVoiceSmall opens chn_jpn_yue_eng_ko_spectok.bpe.model
#: (sensevoice_bin.py:82), which the official ONNX repository does not ship
#: (../shared/hub-listings.md); it is the PyTorch repository's.
_COMPLETIONS: dict[str, tuple[ExtraFiles, ...]] = {
    "iic/SenseVoiceSmall-onnx": (
        ExtraFiles("iic/SenseVoiceSmall", "ms", None, ("chn_jpn_yue_eng_ko_spectok.bpe.model",)),
    ),
}


def gguf_vad() -> tuple[ExtraFiles, ...]:
    """``gguf-vad = true``: the FSMN-VAD GGUF the ASR programs take with ``--vad``, from its
    official repository (``download-funasr-model.sh`` adds it to every ASR download)."""
    return (ExtraFiles(GGUF_VAD_REPO, "hf", None, (GGUF_VAD,)),)


def completions(repo: str | None) -> tuple[ExtraFiles, ...]:
    """The files a catalog repository needs from another one (``extra-files`` by default)."""
    wanted = repo_key(repo or "")
    return next((extra for r, extra in _COMPLETIONS.items() if repo_key(r) == wanted), ())


def lookup(name: str) -> CatalogEntry | None:
    """The entry for an alias or FunASR short name (case-insensitive), else None."""
    return CATALOG.get(name.lower())


def by_repo(repo_id: str) -> CatalogEntry | None:
    """The entry whose ModelScope, Hugging Face or ONNX repository is ``repo_id``.

    A renamed owner matches under both names (ModelScope's ``damo/`` is ``iic/``).
    """
    wanted = repo_key(repo_id)
    return next((e for e in _ENTRIES if any(repo_key(r) == wanted for r in e.all_repos())), None)


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice a mistyped ``value`` most likely meant, for "did you mean", or None: the one
    equal to it but for case and spaces, else the one it is a ``-``-separated word of
    (``"vad"`` -> ``fsmn-vad``; the closest spelt of several), else the closest spelt."""
    if not isinstance(value, str) or not value.strip():
        return None
    options = list(choices)
    wanted = value.strip().lower()
    same = [c for c in options if c.lower() == wanted]
    if same:
        return same[0]
    words = [c for c in options if wanted in re.split(r"[-_/]", c.lower())]
    if words:
        return difflib.get_close_matches(wanted, words, n=1, cutoff=0)[0]
    matches = difflib.get_close_matches(wanted, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggest(name: str) -> str | None:
    """The closest alias to a misspelt one, for "did you mean"."""
    return closest(name, [e.alias for e in _ENTRIES])


def entries() -> Iterator[CatalogEntry]:
    """Every catalog entry, in table order (aliases only, not FunASR's extra names)."""
    return iter(_ENTRIES)
