"""Run FunASR's own ONNX export in a child process: ``python -m hatch_funasr._export_child DIR OPSET``.

The parent passes a staging copy of the PyTorch model directory (never the cache) and an
environment with no hub tokens and no reachable hub.  Two safety/compatibility patches:
``torch.load`` always runs with ``weights_only=True`` (a checkpoint that would run code is
refused), and ``torch.onnx.export`` uses the legacy exporter (``dynamo=False``), which is what
FunASR's export works with on torch >= 2.9.  Prints one JSON line: the tool versions
(``--versions`` prints only that, for the cache key of an export).
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any


def main(model_dir: str, opset: int) -> int:
    import torch

    original_load = torch.load
    original_export = torch.onnx.export

    @functools.wraps(original_load)
    def safe_load(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return original_load(*args, **kwargs)

    @functools.wraps(original_export)
    def legacy_export(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("dynamo", False)
        return original_export(*args, **kwargs)

    torch.load = safe_load
    torch.onnx.export = legacy_export

    from funasr import AutoModel

    model = AutoModel(model=model_dir, disable_update=True, device="cpu")
    model.export(type="onnx", quantize=False, opset_version=opset)
    return versions()


def versions() -> int:
    """``--versions``: what the cache key of an export depends on."""
    import funasr
    import torch

    found = {"torch": torch.__version__, "funasr": getattr(funasr, "__version__", "unknown")}
    try:
        import onnx

        found["onnx"] = onnx.__version__
    except ImportError:
        pass
    print("HATCH_FUNASR_EXPORT " + json.dumps(found, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--versions"]:
        raise SystemExit(versions())
    raise SystemExit(main(sys.argv[1], int(sys.argv[2])))
