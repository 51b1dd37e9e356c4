"""Model families and the exact files each FunASR runtime reads from a model directory.

Measured from ``funasr_onnx`` 0.4.3 and the C++ runtime (SPEC section 4).  This module is
a table plus the one function that selects a model's files from a source listing; it
knows nothing of hubs, caches or wheels.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "FAMILIES",
    "FORMATS",
    "Family",
    "Selection",
    "detect_family",
    "expected_files",
    "get_family",
    "is_bookkeeping",
    "keeps_fp32",
    "pytorch_files",
    "quant_name",
    "select_files",
]

FORMATS = ("onnx", "pytorch")

# A tuple inside ``required`` means "any one of these" (newer repos ship tokens.json,
# older ones tokens.txt).
Requirement = str | tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """What a model family needs on disk, per format."""

    name: str
    onnx: tuple[str, ...]
    required: tuple[Requirement, ...]
    optional: tuple[str, ...] = ()
    #: The ``run_server.sh`` flag that takes this model's directory, if any.
    server_flag: str | None = None
    #: Why ``format = "onnx"`` is impossible, for families with no ONNX path.
    no_onnx_reason: str | None = None
    #: ONNX files that must ship non-quantized even with ``keep-fp32 = false``.
    fp32_always: tuple[str, ...] = ()
    #: A name the installed directory must contain (the C++ runtime detects SenseVoice by it).
    dir_marker: str | None = None
    #: ``model:`` values in config.yaml that identify the family.
    config_models: tuple[str, ...] = ()
    #: Regular expressions on a repository id that identify the family (checked in table order).
    repo_patterns: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_onnx(self) -> bool:
        return self.no_onnx_reason is None and bool(self.onnx)

    @property
    def plain(self) -> bool:
        """True for families whose files are the same in every format (LM, ITN)."""
        return self.no_onnx_reason is None and not self.onnx

    @property
    def default_format(self) -> str:
        return "pytorch" if self.no_onnx_reason else "onnx"


_PARAFORMER_SIDE: tuple[Requirement, ...] = ("config.yaml", "am.mvn", ("tokens.json", "tokens.txt"))

_TABLE = (
    Family(
        "paraformer-contextual",
        onnx=("model.onnx", "model_eb.onnx"),
        required=(*_PARAFORMER_SIDE, "seg_dict"),
        server_flag="--model-dir",
        fp32_always=("model_eb.onnx",),
        config_models=("ContextualParaformer", "SeacoParaformer"),
        repo_patterns=(r"seaco", r"contextual"),
    ),
    Family(
        "paraformer-streaming",
        onnx=("model.onnx", "decoder.onnx"),
        required=_PARAFORMER_SIDE,
        server_flag="--online-model-dir",
        config_models=("ParaformerStreaming",),
        repo_patterns=(r"paraformer.*online", r"paraformer.*streaming"),
    ),
    Family(
        "paraformer",
        onnx=("model.onnx",),
        required=_PARAFORMER_SIDE,
        optional=("seg_dict",),
        server_flag="--model-dir",
        config_models=("Paraformer", "BiCifParaformer", "ParaformerBert"),
        repo_patterns=(r"paraformer",),
    ),
    Family(
        "fsmn-vad",
        onnx=("model.onnx",),
        required=("config.yaml", "am.mvn"),
        server_flag="--vad-dir",
        config_models=("FsmnVADStreaming", "FsmnVAD"),
        repo_patterns=(r"fsmn[-_]vad",),
    ),
    Family(
        "ct-punc-realtime",
        onnx=("model.onnx",),
        required=("config.yaml", ("tokens.json", "tokens.txt")),
        optional=("jieba_usr_dict", "jieba.c.dict", "jieba.hmm"),
        server_flag="--punc-dir",
        config_models=("CTTransformerStreaming",),
        repo_patterns=(r"punc.*realtime", r"ct-punc-realtime"),
    ),
    Family(
        "ct-punc",
        onnx=("model.onnx",),
        required=("config.yaml", ("tokens.json", "tokens.txt")),
        optional=("jieba_usr_dict", "jieba.c.dict", "jieba.hmm"),
        server_flag="--punc-dir",
        config_models=("CTTransformer",),
        repo_patterns=(r"punc_ct", r"ct-punc"),
    ),
    Family(
        "sensevoice",
        onnx=("model.onnx",),
        required=("config.yaml", "am.mvn", "tokens.json", "chn_jpn_yue_eng_ko_spectok.bpe.model"),
        server_flag="--model-dir",
        dir_marker="SenseVoiceSmall",
        config_models=("SenseVoiceSmall",),
        repo_patterns=(r"sensevoice",),
    ),
    Family(
        "ngram-lm",
        onnx=(),
        required=("TLG.fst", "config.yaml", "lexicon.txt"),
        server_flag="--lm-dir",
        repo_patterns=(r"ngram[-_]lm",),
    ),
    Family(
        "fst-itn",
        onnx=(),
        required=("zh_itn_tagger.fst", "zh_itn_verbalizer.fst"),
        server_flag="--itn-dir",
        repo_patterns=(r"fst[-_]itn", r"itn_zh"),
    ),
    Family(
        "campplus",
        onnx=(),
        required=(),
        no_onnx_reason=(
            "FunASR has no export() for CAM++ and publishes no official ONNX of it (the seed's "
            "section 4); a third-party ONNX (lovemefan/campplus) exists but is unverified; "
            'use format = "pytorch"'
        ),
        config_models=("CAMPPlus",),
        repo_patterns=(r"campplus", r"cam\+\+"),
    ),
    Family(
        "emotion2vec",
        onnx=(),
        required=(),
        no_onnx_reason=(
            "FunASR's ONNX export of emotion2vec is limited and manual, and neither funasr_onnx "
            'nor the C++ runtime runs it; use format = "pytorch"'
        ),
        config_models=("Emotion2vec",),
        repo_patterns=(r"emotion2vec",),
    ),
    Family(
        "whisper",
        onnx=(),
        required=(),
        no_onnx_reason=(
            "FunASR's Whisper export is only partial and neither funasr_onnx nor the C++ runtime "
            'runs Whisper; use format = "pytorch"'
        ),
        config_models=("WhisperWarp",),
        repo_patterns=(r"whisper",),
    ),
    Family(
        "fun-asr-nano",
        onnx=(),
        required=(),
        no_onnx_reason='Fun-ASR-Nano is an LLM-based model with no ONNX export in FunASR; use format = "pytorch"',
        config_models=("FunASRNano",),
        repo_patterns=(r"fun-asr-nano",),
    ),
    Family(
        "timestamp",
        onnx=(),
        required=(),
        no_onnx_reason=(
            "the timestamp-prediction model (fa-zh) has no ONNX runtime in funasr_onnx or the C++ "
            "runtime; for ONNX timestamps use the vad-punc Paraformer (paraformer-zh), or "
            'format = "pytorch"'
        ),
        config_models=("MonotonicAligner",),
        repo_patterns=(r"timestamp_prediction",),
    ),
    Family(
        "kws",
        onnx=(),
        required=(),
        no_onnx_reason=(
            "no runtime in funasr_onnx 0.4.3 or the C++ runtime reads a keyword-spotting ONNX, so an "
            'exported one could not be checked; use format = "pytorch"'
        ),
        repo_patterns=(r"kws",),
    ),
    Family(
        "qwen-audio",
        onnx=(),
        required=(),
        no_onnx_reason=(
            'Qwen-Audio is a multimodal LLM that FunASR cannot export (the seed\'s section 4); use format = "pytorch"'
        ),
        repo_patterns=(r"qwen-audio",),
    ),
)

FAMILIES: Mapping[str, Family] = {f.name: f for f in _TABLE}

# Files in hub repositories that are bookkeeping, documentation or examples: never packed.
_BOOKKEEPING_SUFFIXES = (".mdl", ".msc", ".mv", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp")
_AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".pcm", ".ogg", ".m4a")
_BOOKKEEPING_DIRS = frozenset({"example", "examples", "fig", "figs", "figures", "image", "images", "img"})


def get_family(name: str) -> Family:
    return FAMILIES[name]


def is_bookkeeping(path: str) -> bool:
    """Hub bookkeeping, READMEs, images and example audio: never part of a model directory."""
    parts = path.split("/")
    base = parts[-1].lower()
    if any(p.startswith(".") for p in parts) or base.startswith("readme"):
        return True
    if any(p.lower() in _BOOKKEEPING_DIRS for p in parts[:-1]):
        return True
    return base.endswith(_BOOKKEEPING_SUFFIXES + _AUDIO_SUFFIXES)


def detect_family(repo_or_path: str, config_yaml: str | None = None) -> Family | None:
    """Tell a model's family from config.yaml's ``model:`` line, else from its repository name."""
    if config_yaml is not None:
        match = re.search(r"^model:\s*['\"]?([A-Za-z0-9_]+)", config_yaml, re.MULTILINE)
        if match:
            for fam in _TABLE:
                if match.group(1) in fam.config_models:
                    return fam
    name = repo_or_path.lower()
    for fam in _TABLE:
        if any(re.search(p, name) for p in fam.repo_patterns):
            return fam
    return None


def quant_name(onnx_file: str) -> str:
    """``model.onnx`` -> ``model_quant.onnx``, as funasr_onnx and the C++ runtime name them."""
    stem, _ = posixpath.splitext(onnx_file)
    return f"{stem}_quant.onnx"


@dataclass(frozen=True)
class Selection:
    """The outcome of matching a family's needs against what a source has: which upstream
    files to fetch, what to derive from them, and exactly which files the model directory
    ends up with.  Every stage after selection follows it; none works the rules out again."""

    #: Upstream files to fetch: the ones that ship, and inputs of quantization.
    files: tuple[str, ...]
    #: Files the runtime reads that the source does not have (an error unless derivable).
    missing: tuple[str, ...]
    #: ONNX files to produce by exporting the PyTorch checkpoint.
    export: tuple[str, ...] = ()
    #: fp32 ONNX files to quantize into their ``_quant`` names.
    quantize: tuple[str, ...] = ()
    #: Files from ``include``/``exclude`` that conflicted with the runtime's needs.
    notes: tuple[str, ...] = ()
    #: Every file of the finished model directory, upstream and derived (ONNX external data,
    #: found by scanning the ONNX files that ship, comes on top).
    ship: tuple[str, ...] = ()


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(posixpath.basename(path), p) for p in patterns)


def _resolve_required(required: Sequence[Requirement], available: Mapping[str, int]) -> tuple[list[str], list[str]]:
    found: list[str] = []
    missing: list[str] = []
    for req in required:
        options = (req,) if isinstance(req, str) else req
        hit = next((o for o in options if o in available), None)
        if hit is None:
            missing.append(" or ".join(options))
        else:
            found.append(hit)
    return found, missing


def pytorch_files(configuration_json: str | None, available: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """What ``funasr.AutoModel(model=dir)`` reads: configuration.json, config.yaml, and what
    ``file_path_metas`` names (a directory there means everything under it)."""
    names: list[str] = ["configuration.json", "config.yaml"]
    metas: object = {}
    if configuration_json is not None:
        try:
            metas = json.loads(configuration_json).get("file_path_metas", {})
        except (ValueError, AttributeError):
            metas = {}
    stack: list[object] = [metas]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item:
            names.append(posixpath.normpath(item))
    if not isinstance(metas, dict) or not metas:
        names.append("model.pt")
    found: list[str] = []
    missing: list[str] = []
    for name in dict.fromkeys(names):
        if name in available:
            found.append(name)
            continue
        under = sorted(p for p in available if p.startswith(name.rstrip("/") + "/") and not is_bookkeeping(p))
        if under:
            found.extend(under)
        else:
            missing.append(name)
    return found, missing


def keeps_fp32(family: Family, onnx_file: str, *, quantize: bool, keep_fp32: bool) -> bool:
    """Whether the fp32 ``onnx_file`` ships (not only as the input of its quantization)."""
    return not quantize or keep_fp32 or onnx_file in family.fp32_always


def select_files(
    family: Family,
    fmt: str,
    available: Mapping[str, int],
    *,
    quantize: bool = False,
    keep_fp32: bool = True,
    export: str | bool = "auto",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    configuration_json: str | None = None,
) -> Selection:
    """Choose, from a source's ``available`` files (path -> size), what the runtime reads.

    Upstream ``*_quant.onnx`` files are used when present; otherwise quantization is
    planned.  ONNX missing from a PyTorch source is planned as an export unless
    ``export`` is false.  ``exclude`` may not remove a file the runtime needs.
    """
    usable = {p: s for p, s in available.items() if not is_bookkeeping(p)}
    extras: list[str] = []
    to_export: list[str] = []
    to_quantize: list[str] = []
    inputs: list[str] = []  # fetched only to be quantized
    derived: list[str] = []  # produced here, and shipped
    if fmt == "pytorch" and not family.plain:
        needed, missing = pytorch_files(configuration_json, usable)
    else:
        needed, missing = _resolve_required(family.required, usable)
        extras.extend(o for o in family.optional if o in usable)
        have_onnx = all(f in usable for f in family.onnx)
        if family.onnx and (export is True or (not have_onnx and export == "auto" and "model.pt" in usable)):
            to_export = list(family.onnx)
        for onnx_file in family.onnx:
            quant = quant_name(onnx_file)
            if not to_export and onnx_file not in usable:
                missing.append(onnx_file)
                continue
            keep = keeps_fp32(family, onnx_file, quantize=quantize, keep_fp32=keep_fp32)
            if to_export:
                derived += [onnx_file] if keep else []
            elif keep:
                needed.append(onnx_file)
            if not quantize:
                continue
            if not to_export and quant in usable:
                needed.append(quant)
                continue
            to_quantize.append(onnx_file)
            derived.append(quant)
            if not to_export and not keep:
                inputs.append(onnx_file)
    extras.extend(p for p in sorted(usable) if include and _matches(p, include))
    notes = [f"{f} is read by the {family.name} runtime and cannot be excluded" for f in needed if _matches(f, exclude)]
    shipped = tuple(dict.fromkeys(needed + [f for f in extras if not _matches(f, exclude)]))
    return Selection(
        files=tuple(dict.fromkeys(shipped + tuple(inputs))),
        missing=tuple(missing),
        export=tuple(to_export),
        quantize=tuple(to_quantize),
        notes=tuple(notes),
        ship=tuple(dict.fromkeys(shipped + tuple(derived))),
    )


def expected_files(family: Family, fmt: str, *, quantize: bool, keep_fp32: bool) -> tuple[str, ...]:
    """What a model directory of ``family`` holds, before any listing is known (``check``
    without network): the ONNX names this selection would ship, then the other files
    (``a|b``: either one)."""
    if fmt == "pytorch" and not family.plain:
        return ("configuration.json", "config.yaml", "what file_path_metas names")
    onnx: list[str] = []
    for onnx_file in family.onnx:
        if keeps_fp32(family, onnx_file, quantize=quantize, keep_fp32=keep_fp32):
            onnx.append(onnx_file)
        if quantize:
            onnx.append(quant_name(onnx_file))
    return (*onnx, *(r if isinstance(r, str) else "|".join(r) for r in family.required))
