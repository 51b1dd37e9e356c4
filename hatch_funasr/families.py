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
from pathlib import Path

__all__ = [
    "FAMILIES",
    "FORMATS",
    "GENERIC_FILES",
    "GENERIC_SIDE",
    "GGUF_VAD",
    "GGUF_VAD_REPO",
    "Family",
    "GgufSpec",
    "Selection",
    "detect_family",
    "exported_files",
    "get_family",
    "is_bookkeeping",
    "keeps_fp32",
    "model_text",
    "published",
    "pytorch_files",
    "quant_name",
    "select_files",
    "tokens_json",
]

FORMATS = ("onnx", "pytorch", "torchscript", "gguf")
#: The file an export of each format writes where the family has no file names of its own
#: (``export = "generic"``), and the side files such an export ships where the source has them.
GENERIC_FILES = {"onnx": "model.onnx", "torchscript": "model.torchscript"}
GENERIC_SIDE = ("config.yaml", "am.mvn")

#: Files a runtime reads that may be written from another file of the source: both
#: runtimes read only ``tokens.json`` (funasr_onnx ``paraformer_bin.py``/``punc_bin.py``,
#: C++ ``vocab.cpp``); older repositories ship ``tokens.txt`` (one token per line).
DERIVABLE = {"tokens.json": "tokens.txt"}
#: config.yaml switches that make a runtime read more files: C++ ``tokenizer.cpp:33-57``
#: opens the three jieba files when ``seg_jieba: true`` (keys in ``com-define.h:136-138``).
_JIEBA = ("jieba.c.dict", "jieba_usr_dict", "jieba.hmm")


#: The FSMN-VAD GGUF every ASR program of FunASR's llama.cpp runtime takes with ``--vad``
#: (``FunAudioLLM/fsmn-vad-GGUF``; ``download-funasr-model.sh`` adds it to every ASR download).
GGUF_VAD = "fsmn-vad.gguf"
GGUF_VAD_REPO = "FunAudioLLM/fsmn-vad-GGUF"


@dataclass(frozen=True)
class GgufSpec:
    """A family's files for FunASR's llama.cpp runtime (``runtime/llama.cpp``, FunASR 3c58cb5).

    Variants and file names are those of the official ``FunAudioLLM/*-GGUF`` repositories as
    ``download-funasr-model.sh`` names them; each file has a role (``model``; Fun-ASR-Nano's
    ``encoder`` and ``llm``), which the bundle runtime turns into the program's flag."""

    #: variant -> role -> file name.
    variants: Mapping[str, Mapping[str, str]]
    #: The variant the download script takes when given none.
    default: str
    #: Other names the download script accepts for a variant (``q8`` for ``q8_0``).
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: The GGUF writer (hatch_funasr._export_child) that turns a PyTorch checkpoint into this GGUF
    #: at build time when the source has ``model.pt`` and not the variant's file; None: none here.
    converter: str | None = None
    #: True for the ASR programs, which take the FSMN-VAD GGUF with ``--vad``.
    takes_vad: bool = False

    def variant(self, name: str) -> str | None:
        """The canonical name of variant ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        wanted = self.aliases.get(wanted, wanted)
        return wanted if wanted in self.variants else None

    def names(self) -> tuple[str, ...]:
        return (*self.variants, *self.aliases)


#: SenseVoiceSmall-GGUF / Paraformer-GGUF variants by file stem: ``<stem>-q8.gguf``,
#: ``<stem>-f16.gguf``, ``<stem>.gguf`` (f32).  Data, built once at import.
_SV_PF_VARIANTS = {
    stem: {"q8": {"model": f"{stem}-q8.gguf"}, "f16": {"model": f"{stem}-f16.gguf"}, "f32": {"model": f"{stem}.gguf"}}
    for stem in ("paraformer", "sensevoice-small")
}


_NANO_ENCODER = "funasr-encoder-f16.gguf"


@dataclass(frozen=True)
class Family:
    """What a model family needs on disk, per format."""

    name: str
    onnx: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    #: config.yaml keys that, when true, make the runtime read these files too.
    when_config: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The ``run_server.sh`` flag that takes this model's directory, if any.
    server_flag: str | None = None
    #: Why ``format = "onnx"`` is impossible, for families with no ONNX path.
    no_onnx_reason: str | None = None
    #: ONNX files that must ship non-quantized even with ``keep-fp32 = false``.
    fp32_always: tuple[str, ...] = ()
    #: A name the installed directory must contain (the C++ runtime detects SenseVoice by it).
    dir_marker: str | None = None
    #: The TorchScript files FunASR's ``export(type="torchscript")`` writes for the family
    #: (``export_utils._torchscripts``: the ONNX names with ``onnx`` -> ``torchscript``).
    torchscript: tuple[str, ...] = ()
    #: Who loads those files (said in the plan and the manifest's advice); None: no FunASR runtime.
    torchscript_reader: str | None = None
    #: Why ``format = "torchscript"`` is impossible (FunASR's export has no TorchScript path).
    no_torchscript_reason: str | None = None
    #: ``model:`` values in config.yaml that identify the family.
    config_models: tuple[str, ...] = ()
    #: Regular expressions on a repository id that identify the family (checked in table order).
    repo_patterns: tuple[str, ...] = field(default=(), repr=False)
    #: The GGUF files of FunASR's llama.cpp runtime (``format = "gguf"``); None: it has no program.
    gguf: GgufSpec | None = None

    @property
    def has_onnx(self) -> bool:
        return self.no_onnx_reason is None and bool(self.onnx)

    @property
    def has_torchscript(self) -> bool:
        return self.no_torchscript_reason is None and bool(self.torchscript)

    @property
    def plain(self) -> bool:
        """True for families whose files are the same in every format (LM, ITN)."""
        return self.no_onnx_reason is None and not self.onnx

    @property
    def default_format(self) -> str:
        return "pytorch" if self.no_onnx_reason else "onnx"


_PARAFORMER_SIDE = ("config.yaml", "am.mvn", "tokens.json")
#: The C++ runtime loads TorchScript only when built with GPU support and started with
#: ``--gpu`` (``offline-stream.cpp:40-47``, ``:78-79``; ``com-define.h:62``).
_CPP_GPU = "the C++ runtime's GPU build (funasr-wss-server --gpu: ParaformerTorch, model.torchscript)"

_TABLE = (
    Family(
        "paraformer-contextual",
        onnx=("model.onnx", "model_eb.onnx"),
        required=(*_PARAFORMER_SIDE, "seg_dict"),
        server_flag="--model-dir",
        fp32_always=("model_eb.onnx",),
        torchscript=("model.torchscript", "model_eb.torchscript"),
        torchscript_reader=_CPP_GPU + " with model_eb.torchscript for hotwords (offline-stream.cpp:61-72)",
        config_models=("ContextualParaformer", "SeacoParaformer"),
        repo_patterns=(r"seaco", r"contextual"),
    ),
    Family(
        "paraformer-streaming",
        onnx=("model.onnx", "decoder.onnx"),
        required=_PARAFORMER_SIDE,
        server_flag="--online-model-dir",
        torchscript=("model.torchscript", "decoder.torchscript"),
        config_models=("ParaformerStreaming",),
        repo_patterns=(r"paraformer.*online", r"paraformer.*streaming"),
    ),
    Family(
        "paraformer",
        onnx=("model.onnx",),
        required=_PARAFORMER_SIDE,
        optional=("seg_dict",),
        server_flag="--model-dir",
        torchscript=("model.torchscript",),
        torchscript_reader=_CPP_GPU + "; funasr_torch.Paraformer (runtime/python/libtorch paraformer_bin.py:49)",
        config_models=("Paraformer", "BiCifParaformer", "ParaformerBert"),
        repo_patterns=(r"paraformer",),
        gguf=GgufSpec(_SV_PF_VARIANTS["paraformer"], "q8", takes_vad=True),
    ),
    Family(
        "fsmn-vad",
        onnx=("model.onnx",),
        required=("config.yaml", "am.mvn"),
        server_flag="--vad-dir",
        torchscript=("model.torchscript",),
        config_models=("FsmnVADStreaming", "FsmnVAD"),
        repo_patterns=(r"fsmn[-_]vad",),
        # One file, all F32 (FunAudioLLM/fsmn-vad-GGUF); written at build time from model.pt.
        gguf=GgufSpec({"f32": {"model": GGUF_VAD}}, "f32", converter="fsmn-vad"),
    ),
    Family(
        "ct-punc-realtime",
        onnx=("model.onnx",),
        required=("config.yaml", "tokens.json"),
        optional=_JIEBA,
        when_config={"seg_jieba": _JIEBA},
        server_flag="--punc-dir",
        torchscript=("model.torchscript",),
        config_models=("CTTransformerStreaming",),
        repo_patterns=(r"punc.*realtime", r"ct-punc-realtime"),
    ),
    Family(
        "ct-punc",
        onnx=("model.onnx",),
        required=("config.yaml", "tokens.json"),
        optional=_JIEBA,
        when_config={"seg_jieba": _JIEBA},
        server_flag="--punc-dir",
        torchscript=("model.torchscript",),
        config_models=("CTTransformer",),
        repo_patterns=(r"punc_ct", r"ct-punc"),
    ),
    Family(
        "sensevoice",
        onnx=("model.onnx",),
        required=("config.yaml", "am.mvn", "tokens.json", "chn_jpn_yue_eng_ko_spectok.bpe.model"),
        server_flag="--model-dir",
        dir_marker="SenseVoiceSmall",
        torchscript=("model.torchscript",),
        torchscript_reader="funasr_torch.SenseVoiceSmall (runtime/python/libtorch sensevoice_bin.py:55)",
        config_models=("SenseVoiceSmall",),
        repo_patterns=(r"sensevoice",),
        gguf=GgufSpec(_SV_PF_VARIANTS["sensevoice-small"], "q8", takes_vad=True),
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
            "FunASR has no export() for CAM++ and publishes no official ONNX of it; "
            "a third-party ONNX (lovemefan/campplus) exists but is unverified; "
            'use format = "pytorch"'
        ),
        no_torchscript_reason=(
            "FunASR has no export() for CAM++ (funasr/models/campplus has no export_meta.py), so its "
            'TorchScript export does not exist either; use format = "pytorch"'
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
        no_torchscript_reason=(
            "FunASR's export of emotion2vec rebuilds the model for ONNX only (emotion2vec/export_meta.py has no "
            'TorchScript switch) and no FunASR runtime loads it; use format = "pytorch"'
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
        no_torchscript_reason='FunASR has no export() for Whisper (no export_meta.py); use format = "pytorch"',
        config_models=("WhisperWarp",),
        repo_patterns=(r"whisper",),
    ),
    Family(
        "fun-asr-nano",
        onnx=(),
        required=(),
        no_onnx_reason='Fun-ASR-Nano is an LLM-based model with no ONNX export in FunASR; use format = "pytorch"',
        no_torchscript_reason=(
            "Fun-ASR-Nano is an LLM-based model with no export() in FunASR, TorchScript included; "
            'use format = "pytorch"'
        ),
        config_models=("FunASRNano",),
        repo_patterns=(r"fun-asr-nano",),
        # The SAN-M encoder + adaptor GGUF (f16 in every variant) and a Qwen3-0.6B GGUF.
        gguf=GgufSpec(
            {q: {"encoder": _NANO_ENCODER, "llm": f"qwen3-0.6b-{q}.gguf"} for q in ("q8_0", "q4km", "q5km")},
            "q8_0",
            aliases={"q8": "q8_0", "q4": "q4km", "q5": "q5km"},
            takes_vad=True,
        ),
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
        no_torchscript_reason=(
            "FunASR has no export() for the timestamp-prediction model (fa-zh) and no runtime loads a TorchScript "
            'of it; use format = "pytorch"'
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
        no_torchscript_reason=(
            "no runtime in FunASR loads a keyword-spotting TorchScript either, so an exported one could not "
            'be checked against its consumer; use format = "pytorch"'
        ),
        config_models=("SanmKWS", "SanmKWSStreaming"),
        repo_patterns=(r"kws",),
    ),
    Family(
        "qwen-audio",
        onnx=(),
        required=(),
        no_onnx_reason=('Qwen-Audio is a multimodal LLM that FunASR cannot export; use format = "pytorch"'),
        no_torchscript_reason=(
            'Qwen-Audio is a multimodal LLM that FunASR cannot export, to TorchScript neither; use format = "pytorch"'
        ),
        repo_patterns=(r"qwen-audio",),
    ),
)

FAMILIES: Mapping[str, Family] = {f.name: f for f in _TABLE}

# Files in hub repositories that are bookkeeping, documentation or examples: never packed.
_BOOKKEEPING_SUFFIXES = (".mdl", ".msc", ".mv", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp")
_AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".pcm", ".ogg", ".m4a")
_BOOKKEEPING_DIRS = frozenset(
    {"example", "examples", "fig", "figs", "figures", "image", "images", "img", "__macosx", "__pycache__"}
)
#: What file managers leave in a directory a user copied: Windows' thumbnail cache and folder settings.
_BOOKKEEPING_FILES = frozenset({"thumbs.db", "desktop.ini"})


def get_family(name: str) -> Family:
    return FAMILIES[name]


def is_bookkeeping(path: str) -> bool:
    """Hub bookkeeping, READMEs, images, example audio and what file managers leave behind
    (``.DS_Store``, ``__MACOSX/``, ``Thumbs.db``, ``desktop.ini``): never part of a model directory."""
    parts = path.split("/")
    base = parts[-1].lower()
    if any(p.startswith(".") for p in parts) or base.startswith("readme") or base in _BOOKKEEPING_FILES:
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

    #: Upstream files to fetch: the ones that ship, and inputs of what is derived.
    files: tuple[str, ...]
    #: Files the runtime reads that the source does not have and that cannot be derived.
    missing: tuple[str, ...]
    #: ONNX files to produce by exporting the PyTorch checkpoint.
    export: tuple[str, ...] = ()
    #: What the export reads: the PyTorch directory as ``funasr.AutoModel`` loads it (:func:`pytorch_files`).
    export_inputs: tuple[str, ...] = ()
    #: Why that directory cannot be loaded (files it lacks, a configuration without file_path_metas).
    export_problems: tuple[str, ...] = ()
    #: fp32 ONNX files to quantize into their ``_quant`` names.
    quantize: tuple[str, ...] = ()
    #: Why the declaration cannot be honoured with this source (errors, not advice).
    notes: tuple[str, ...] = ()
    #: Every file of the finished model directory, upstream and derived (ONNX external data,
    #: found by scanning the ONNX files that ship, comes on top).
    ship: tuple[str, ...] = ()
    #: Derived files written from another upstream file: ``{"tokens.json": "tokens.txt"}``.
    converted: Mapping[str, str] = field(default_factory=dict)
    #: What a user of the directory must know (a quantized-only source, …): said, not fatal.
    advice: tuple[str, ...] = ()
    #: Which runtime mode the directory serves: True quantized only, False fp32 only,
    #: None both (or no ONNX at all).
    quantized_runtime: bool | None = None
    #: config.yaml keys whose values are paths inside the model directory that FunASR hands
    #: on unchanged (relative to the working directory at run time): dotted key -> path.
    config_paths: Mapping[str, str] = field(default_factory=dict)
    #: ``format = "gguf"``: each GGUF file's role (``model``, ``encoder``, ``llm``, ``vad``) -> file.
    gguf: Mapping[str, str] = field(default_factory=dict)

    @property
    def runtime(self) -> str | None:
        """The runtime mode the directory serves: "quantized", "fp32" or "both"; None without ONNX."""
        if not any(f.endswith(".onnx") for f in self.ship):
            return None
        return {True: "quantized", False: "fp32", None: "both"}[self.quantized_runtime]


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(posixpath.basename(path), p) for p in patterns)


def model_text(file: Path) -> str | None:
    """A model's small text file (config.yaml, configuration.json) as read to inspect it: UTF-8,
    bytes that do not decode replaced (it is looked at, never trusted); None if it is no file."""
    return file.read_bytes().decode(errors="replace") if file.is_file() else None


def tokens_json(tokens_txt: str) -> bytes:
    """``tokens.json`` (a JSON array, what both runtimes read) from ``tokens.txt`` (one token
    per line, the older form): the list FunASR's tokenizer reads from tokens.txt
    (funasr/tokenizer/abs_tokenizer.py:50-53: each line of the file in text mode,
    right-stripped), so every token keeps its id -- blank lines count, a last line without a
    newline is a token, and ``\n``, ``\r\n`` and ``\r`` all end a line."""
    lines = tokens_txt.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # the text after the last line ending is no line
    return json.dumps([line.rstrip() for line in lines], ensure_ascii=False).encode()


def config_values(config_yaml: str) -> dict[str, str]:
    """The scalar values of a FunASR config.yaml by dotted key (``llm_conf.init_param_path``),
    read from its block-style layout without a YAML library (the build needs none): enough to
    find switches (``seg_jieba``) and paths, not a general YAML reader."""
    values: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for raw in config_yaml.splitlines():
        line = raw.partition(" #")[0].rstrip()
        body = line.lstrip(" ")
        if not body or body.startswith(("#", "-")) or ":" not in body:
            continue
        indent = len(line) - len(body)
        key, _, value = body.partition(":")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([k for _, k in stack] + [key.strip().strip("'\"")])
        value = value.strip()
        if value:
            values[dotted] = value.strip("'\"")
        else:
            stack.append((indent, key.strip().strip("'\"")))
    return values


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("true", "yes", "on", "1")  # None (not set): "none", not true


#: Values of a ``hub`` key in a FunASR config section that make it load from a hub.
_HUB_VALUES = frozenset({"ms", "hf", "modelscope", "huggingface"})


def _local_reference(value: str, usable: Mapping[str, int]) -> list[str]:
    """The files a config value names inside the source: itself, or everything under it.
    ``usable`` holds normalised relative paths only (sources.check_listing), so an absolute
    value, ``.`` or one that leaves the source (``../x``) names nothing."""
    name = posixpath.normpath(value)
    if name in usable:
        return [name]
    return sorted(p for p in usable if p.startswith(name + "/") and not is_bookkeeping(p))


def config_references(
    config_yaml: str | None, usable: Mapping[str, int]
) -> tuple[list[str], dict[str, str], list[str]]:
    """What a PyTorch model's config.yaml points at: files and directories of the source to
    pack with it, the dotted keys FunASR hands on as relative paths (they resolve against the
    working directory at run time, so the bundle's runtime gives absolute ones), and sections
    that load a model from a hub at run time (refused: an installed bundle never does)."""
    if config_yaml is None:
        return [], {}, []
    values = config_values(config_yaml)
    files: list[str] = []
    paths: dict[str, str] = {}
    hub_loads: list[str] = []
    for key, value in values.items():
        found = _local_reference(value, usable)
        if found:
            files += found
            paths[key] = value
    for key, value in values.items():
        if key.rpartition(".")[2] != "hub" or value.lower() not in _HUB_VALUES:
            continue
        section = key.rpartition(".")[0]
        # what the section loads: its init_param_path, or the top-level key it configures
        # (``audio_encoder`` for ``audio_encoder_conf``)
        target_key = (
            f"{section}.init_param_path" if f"{section}.init_param_path" in values else section.removesuffix("_conf")
        )
        target = values.get(target_key)
        if target is None or not _local_reference(target, usable):
            hub_loads.append(f"{key} = {value} loads {target_key} = {target!r} from a hub when the model is built")
    return files, paths, hub_loads


def pytorch_files(
    configuration_json: str | None, available: Mapping[str, int], config_yaml: str | None = None
) -> tuple[list[str], list[str], list[str]]:
    """What ``funasr.AutoModel(model=dir)`` reads, as FunASR's ``download_model_from_hub.py``
    resolves a local directory: with ``configuration.json``, it and exactly what its
    ``file_path_metas`` names (a directory there means everything under it; the config need
    not be config.yaml); without it, ``config.yaml`` and ``model.pt`` plus whichever of the
    tokens, ``seg_dict``, ``bpe.model``, ``am.mvn`` and ``jieba_usr_dict`` exist.  Returns
    (found, missing, problems)."""
    usable = {p: s for p, s in available.items() if not is_bookkeeping(p)}
    problems: list[str] = []
    if configuration_json is not None:
        names = ["configuration.json"]
        try:
            metas = json.loads(configuration_json).get("file_path_metas")
        except (ValueError, AttributeError):
            metas = None
        if not isinstance(metas, dict) or not metas:
            problems.append(
                "configuration.json has no file_path_metas, so funasr.AutoModel cannot load the directory "
                "(download_model_from_hub.py reads only file_path_metas when configuration.json exists); "
                "choose a revision that ships FunASR's configuration"
            )
        stack: list[object] = [metas or {}]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and item:
                names.append(posixpath.normpath(item))
        optional: list[str] = []
    else:
        names = ["config.yaml", "model.pt"]
        optional = ["tokens.txt", "tokens.json", "seg_dict", "bpe.model", "am.mvn", "jieba_usr_dict"]
    found: list[str] = []
    missing: list[str] = []
    for name in dict.fromkeys(names):
        under = _local_reference(name, usable)
        if under:
            found.extend(under)
        else:
            missing.append(name)
    found += [o for o in optional if o in usable]
    config_name = next((f for f in found if f.endswith((".yaml", ".yml"))), None)
    if config_yaml is not None and config_name is not None:
        extra, _paths, hub_loads = config_references(config_yaml, usable)
        found += extra
        problems += [
            f"{config_name}: {h}; an installed bundle never reaches for a hub: declare the source with that model "
            "inside it, or a revision that points at a directory of its own"
            for h in hub_loads
        ]
    return list(dict.fromkeys(found)), missing, problems


def _export_reads(
    configuration_json: str | None, usable: Mapping[str, int], config_yaml: str | None, source: str
) -> tuple[list[str], list[str]]:
    """What an export (or conversion) reads, the PyTorch directory as AutoModel loads it, and why it cannot."""
    found, absent, problems = pytorch_files(configuration_json, usable, config_yaml)
    return found, ([f"{source} has no {', '.join(absent)}"] if absent else []) + problems


def keeps_fp32(family: Family, onnx_file: str, *, quantize: bool, keep_fp32: bool | None) -> bool:
    """Whether the fp32 ``onnx_file`` ships (not only as the input of its quantization)."""
    return not quantize or keep_fp32 is not False or onnx_file in family.fp32_always


def exported_files(family: Family, fmt: str, export: str | bool) -> tuple[str, ...]:
    """The model files of ``family`` in ``fmt`` that an export writes (and the runtimes open):
    the family's ONNX or TorchScript names, or ``model.<ext>`` for ``export = "generic"``."""
    if export == "generic":
        return (GENERIC_FILES[fmt],)
    return family.torchscript if fmt == "torchscript" else family.onnx


def select_files(
    family: Family,
    fmt: str,
    available: Mapping[str, int],
    *,
    quantize: bool = False,
    keep_fp32: bool | None = None,
    export: str | bool = "auto",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    configuration_json: str | None = None,
    config_yaml: str | None = None,
    source: str = "the source",
    gguf: str | None = None,
    gguf_vad: bool = False,
) -> Selection:
    """Choose, from a source's ``available`` files (path -> size), what the runtimes read.

    ONNX: a file's fp32 and ``_quant`` forms are taken from the source where it has them.
    A source that ships ``X_quant.onnx`` but not ``X.onnx`` (FunASR's official ``-onnx``
    repositories) is complete for the quantized runtime; the directory then serves that
    runtime only, and every ONNX file of the family needs its ``_quant`` form (quantized
    here when only fp32 exists, e.g. the contextual ``model_eb.onnx``).  ONNX missing from
    a PyTorch source is planned as an export unless ``export`` is false.  TorchScript
    (``fmt = "torchscript"``) is the same with the family's ``.torchscript`` files and no
    quantized forms.  ``export = "generic"`` always exports ``model.onnx`` /
    ``model.torchscript`` and ships the source's ``config.yaml`` and ``am.mvn`` beside it.
    ``tokens.json`` is written from ``tokens.txt`` when only that exists.  ``exclude`` may
    not remove a file a runtime reads.  ``keep_fp32``: None ships fp32 where the source has
    it; True insists.  GGUF (``fmt = "gguf"``): the files of variant ``gguf`` (default the
    family's), converted from ``model.pt`` where the family has a converter and the source lacks
    them; ``gguf_vad`` adds the FSMN-VAD GGUF the ASR programs take with ``--vad``.
    """
    usable = {p: s for p, s in available.items() if not is_bookkeeping(p)}
    extras: list[str] = []
    to_export: list[str] = []
    to_quantize: list[str] = []
    inputs: list[str] = []  # fetched only to derive from
    derived: list[str] = []  # produced here, and shipped
    notes: list[str] = []
    advice: list[str] = []
    converted: dict[str, str] = {}
    config_paths: dict[str, str] = {}
    quantized_runtime: bool | None = None
    export_inputs: list[str] = []
    export_problems: list[str] = []
    roles: dict[str, str] = {}
    if fmt == "gguf":
        needed, missing = [], []  # type: list[str], list[str]
        roles = _select_gguf(family, usable, gguf, vad=gguf_vad, export=export, out=(needed, missing, to_export))
        derived = list(to_export)  # converted here, and shipped
        if to_export:
            export_inputs, export_problems = _export_reads(configuration_json, usable, config_yaml, source)
    elif fmt == "pytorch" and not family.plain:
        needed, missing, notes = pytorch_files(configuration_json, usable, config_yaml)
        if config_yaml is not None:
            config_paths = config_references(config_yaml, usable)[1]
    else:
        generic = export == "generic"
        needed, missing, converted = ([], [], {}) if generic else _required(family, usable, config_yaml)
        inputs += converted.values()
        derived += converted
        optional = GENERIC_SIDE if generic else family.optional
        extras.extend(o for o in optional if o in usable and o not in needed)
        model_files = exported_files(family, fmt, export)
        have_all = all(f in usable for f in model_files)
        if model_files and (export is True or generic or (not have_all and export == "auto" and "model.pt" in usable)):
            to_export = list(model_files)
            export_inputs, export_problems = _export_reads(configuration_json, usable, config_yaml, source)
        if generic:
            advice.append(
                f"{model_files[0]} is traced from the PyTorch module with the declared export-inputs "
                '(export = "generic", experimental): no FunASR runtime loads it; feed it those inputs'
            )
        if fmt == "torchscript" and not family.plain:
            for name in model_files:
                if to_export:
                    derived.append(name)
                elif name in usable:
                    needed.append(name)
                else:
                    missing.append(name)
            if to_export and not generic:
                advice.append(_torchscript_advice(family, model_files))
        else:
            quantized_runtime = _select_onnx(
                family,
                model_files,
                usable,
                to_export=bool(to_export),
                quantize=quantize,
                keep_fp32=keep_fp32,
                source=source,
                out=_OnnxChoice(needed, missing, derived, inputs, to_quantize, notes, advice),
            )
    extras.extend(p for p in sorted(usable) if include and _matches(p, include))
    notes += [
        f"{f} is read by the {family.name} runtime and cannot be excluded" for f in needed if _matches(f, exclude)
    ]
    shipped = tuple(dict.fromkeys(needed + [f for f in extras if not _matches(f, exclude)]))
    return Selection(
        files=tuple(dict.fromkeys(shipped + tuple(inputs))),
        missing=tuple(missing),
        export=tuple(to_export),
        export_inputs=tuple(export_inputs),
        export_problems=tuple(export_problems),
        quantize=tuple(to_quantize),
        notes=tuple(notes),
        ship=tuple(dict.fromkeys(shipped + tuple(derived))),
        converted=converted,
        advice=tuple(advice),
        quantized_runtime=quantized_runtime,
        config_paths=config_paths,
        gguf=roles,
    )


def _required(
    family: Family, usable: Mapping[str, int], config_yaml: str | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """The files ``family``'s runtime requires (those its config.yaml switches on included):
    found in ``usable``, missing, and written here from another (name -> the file it is written from)."""
    switches = config_values(config_yaml) if config_yaml is not None else {}
    required = list(family.required)
    for key, files in family.when_config.items():
        if _truthy(switches.get(key)):
            required += files
    needed: list[str] = []
    missing: list[str] = []
    converted: dict[str, str] = {}
    for name in dict.fromkeys(required):
        if name in usable:
            needed.append(name)
        elif DERIVABLE.get(name) in usable:
            converted[name] = DERIVABLE[name]
        else:
            missing.append(f"{name} (or {DERIVABLE[name]} to write it from)" if name in DERIVABLE else name)
    return needed, missing, converted


def _torchscript_advice(family: Family, model_files: Sequence[str]) -> str:
    """What loads an exported TorchScript model of ``family``, or how to load it by hand."""
    if family.torchscript_reader:
        return f"{', '.join(model_files)}: loaded by {family.torchscript_reader}"
    return (
        f"no FunASR runtime loads a TorchScript {family.name} model: load {model_files[0]} with "
        "torch.jit.load and feed it what FunASR's export traced (export_meta.py export_input_names)"
    )


def _select_gguf(
    family: Family,
    usable: Mapping[str, int],
    variant: str | None,
    *,
    vad: bool,
    export: str | bool,
    out: tuple[list[str], list[str], list[str]],
) -> dict[str, str]:
    """The GGUF files of a selection: the variant's from the source, or converted from its
    ``model.pt`` (``export`` true, or ``auto`` with the files absent); returns role -> file."""
    needed, missing, to_export = out
    spec = family.gguf
    if spec is None:  # config refuses this; a direct caller gets the reason
        missing.append(f"a GGUF of a {family.name} model (FunASR's llama.cpp runtime has no program for it)")
        return {}
    roles = dict(spec.variants[spec.variant(variant or spec.default) or spec.default])
    convert = spec.converter is not None and "model.pt" in usable and export is not False
    for name in roles.values():
        if export is not True and name in usable:
            needed.append(name)
        elif convert:
            to_export.append(name)
        elif spec.converter:
            missing.append(f"{name}, or model.pt to convert to it")
        elif "model.pt" in usable:
            why = f"a {family.name} checkpoint is not converted to GGUF here: declare its -GGUF repository"
            missing.append(f"{name} ({why})")
        else:
            missing.append(name)
    if vad:
        roles["vad"] = GGUF_VAD
        (needed if GGUF_VAD in usable else missing).append(GGUF_VAD)
    return roles


@dataclass(frozen=True)
class _OnnxChoice:
    """The lists :func:`_select_onnx` appends to (those of :func:`select_files`)."""

    needed: list[str]
    missing: list[str]
    derived: list[str]
    inputs: list[str]
    to_quantize: list[str]
    notes: list[str]
    advice: list[str]


def _select_onnx(
    family: Family,
    onnx_files: tuple[str, ...],
    usable: Mapping[str, int],
    *,
    to_export: bool,
    quantize: bool,
    keep_fp32: bool | None,
    source: str,
    out: _OnnxChoice,
) -> bool | None:
    """The ONNX files of a selection, fp32 and ``_quant``; returns the runtime mode served
    (True quantized only, False fp32 only, None both or no ONNX)."""
    # A source with X_quant.onnx but no X.onnx serves the quantized runtime only.
    quant_only = [
        f
        for f in onnx_files
        if not to_export and f not in usable and quant_name(f) in usable and f not in family.fp32_always
    ]
    need_quant = quantize or bool(quant_only)
    for onnx_file in onnx_files:
        quant = quant_name(onnx_file)
        has_fp32 = to_export or onnx_file in usable
        has_quant = not to_export and quant in usable
        if not has_fp32 and (onnx_file in family.fp32_always or not has_quant):
            out.missing.append(onnx_file)
            continue
        if keep_fp32 is True and not has_fp32:
            out.notes.append(
                f"keep-fp32 = true, but {source} ships {quant} without {onnx_file} (FunASR's -onnx repositories "
                "are quantized only); drop keep-fp32, or declare the PyTorch repository with export = true"
            )
        ship_fp32 = has_fp32 and keeps_fp32(family, onnx_file, quantize=need_quant, keep_fp32=keep_fp32)
        if ship_fp32:
            (out.derived if to_export else out.needed).append(onnx_file)
        if not need_quant:
            continue
        if has_quant:
            out.needed.append(quant)
            continue
        out.to_quantize.append(onnx_file)
        out.derived.append(quant)
        if not to_export and not ship_fp32:
            out.inputs.append(onnx_file)
    if quant_only and not quantize:
        out.advice.append(
            f"{source} ships {', '.join(map(quant_name, quant_only))} without the fp32 file (quantized only): "
            "the directory serves the quantized runtime: funasr_onnx with quantize=True, the C++ runtime "
            "with --quantize true (its default)"
        )
    if not onnx_files or any(f.endswith(".onnx") for f in out.missing):
        return None
    fp32_ships = all(f in out.needed or f in out.derived for f in onnx_files)
    return None if fp32_ships and need_quant else need_quant


def published(
    family: Family, fmt: str, *, export: str | bool = "auto", gguf: str | None = None, quantized_only: bool = False
) -> dict[str, int]:
    """The listing (path -> size, sizes unknown: 0) a complete source of ``family`` in ``fmt``
    publishes, laid out as FunASR's repositories are: what :func:`select_files` plans over where
    the real listing is unknown (``check`` before anything was fetched), so a plan without a
    listing follows the one selection rule.  The family's files, and: GGUF, the variant's files,
    ``model.pt`` where the family converts one, and the FSMN-VAD GGUF; a PyTorch source
    (``format = "pytorch"``, or an export declared: ``export = true`` or ``"generic"``),
    ``config.yaml`` and ``model.pt`` (with the side files a generic export ships); else the
    ONNX or TorchScript model files, in fp32, or with ``quantized_only`` (FunASR's ``-onnx``
    repositories, known from the catalog) their ``_quant`` forms beside the fp32-always ones."""
    names: list[str] = list(family.required)
    if fmt == "gguf" and family.gguf is not None:
        spec = family.gguf
        names += spec.variants[spec.variant(gguf or spec.default) or spec.default].values()
        names += ["model.pt"] if spec.converter else []
        names.append(GGUF_VAD)
    elif fmt == "pytorch" or export is True or export == "generic":
        names += ["config.yaml", "model.pt", *(GENERIC_SIDE if export == "generic" else ())]
    else:
        model_files = exported_files(family, fmt, export)
        if quantized_only and fmt == "onnx":
            model_files = tuple(f if f in family.fp32_always else quant_name(f) for f in model_files)
        names += model_files
    return dict.fromkeys(names, 0)
