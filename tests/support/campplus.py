"""A stand-in CAM++ repository: FunASR's own ``CAMPPlus`` class with random weights, saved as
``iic/speech_campplus_sv_zh-cn_16k-common`` ships its model (v2.0.2, ``../shared/hub-listings.md``):

* ``campplus_cn_common.bin``: a plain ``state_dict`` (no ``model.pt``), what
  ``configuration.json``'s ``file_path_metas.init_param`` names;
* ``config.yaml``: FunASR's ``funasr/models/campplus/template.yaml`` (``model: CAMPPlus``, its
  ``model_conf``, the 16 kHz ``WavFrontend``);
* ``configuration.json``: ``framework`` pytorch, task ``speaker-verification``, ``file_path_metas``
  ``{init_param, config}``, as ``support.hubrepos`` publishes it.

The weights are made with the export venv's torch and funasr (the build environment has neither).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CHECKPOINT = "campplus_cn_common.bin"
CONFIG_YAML = """\
# funasr/models/campplus/template.yaml (FunASR), as the CAM++ repository's config.yaml
model: CAMPPlus
model_conf:
    feat_dim: 80
    embedding_size: 192
    growth_rate: 32
    bn_size: 4
    init_channels: 128
    config_str: 'batchnorm-relu'
    memory_efficient: True
    output_level: 'segment'

frontend: WavFrontend
frontend_conf:
    fs: 16000
"""
CONFIGURATION = {
    "framework": "pytorch",
    "task": "speaker-verification",
    "file_path_metas": {"init_param": CHECKPOINT, "config": "config.yaml"},
}
_MAKE_WEIGHTS = """
import sys, torch
from funasr.models.campplus.model import CAMPPlus
torch.manual_seed(int(sys.argv[2]))
model = CAMPPlus(feat_dim=80, embedding_size=192)  # FunASR initialises it (kaiming), then random BN statistics
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
        m.running_mean.normal_(0, 0.1)
        m.running_var.uniform_(0.5, 1.5)
torch.save(model.state_dict(), sys.argv[1])
"""


def write_model(dest: Path, export_python: Path, seed: int = 0) -> Path:
    """Write the stand-in repository's model files into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(export_python), "-c", _MAKE_WEIGHTS, str(dest / CHECKPOINT), str(seed)], check=True)
    (dest / "config.yaml").write_text(CONFIG_YAML)
    (dest / "configuration.json").write_text(json.dumps(CONFIGURATION, indent=4))
    return dest
