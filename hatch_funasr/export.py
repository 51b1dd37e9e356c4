"""Derived ONNX files: quantization with onnxruntime (export from PyTorch is not built yet).

Quantization follows FunASR's own export settings: dynamic, MatMul only, per-channel,
QUInt8, with the ``output``/``bias_encoder``/``bias_decoder`` nodes left in float.
Derived files are written into a per-build scratch directory, never into the cache.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hatch_funasr.bundle import FileRecord, StagedModel
from hatch_funasr.cache import hash_file
from hatch_funasr.config import ModelConfig
from hatch_funasr.errors import ExportError
from hatch_funasr.families import FAMILIES, Selection, quant_name

__all__ = ["derive", "unavailable"]

Report = Callable[[str], None]
_EXCLUDED_NODES = ("output", "bias_encoder", "bias_decoder")


def unavailable(model: ModelConfig, selection: Selection) -> list[str]:
    """Why the derived files ``selection`` asks for cannot be made here (empty if they can)."""
    problems = []
    if selection.export:
        problems.append(
            f"the source has no {', '.join(selection.export)}: exporting PyTorch checkpoints to ONNX is not "
            "available in this version of hatch-funasr; use a ready ONNX repository (see `hatch-funasr models`) "
            'or format = "pytorch"'
        )
    if selection.quantize and not all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")):
        problems.append(
            f"quantize = true needs onnx and onnxruntime to make {', '.join(map(quant_name, selection.quantize))}: "
            "pip install 'hatch-funasr[quantize]' (or add it to build-system.requires)"
        )
    return problems


def _nodes_to_exclude(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if any(key in n.name for key in _EXCLUDED_NODES)]


def quantize_file(src: Path, dst: Path) -> None:
    """FunASR's quantization of one ONNX file."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        model_input=str(src),
        model_output=str(dst),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=False,
        weight_type=QuantType.QUInt8,
        nodes_to_exclude=_nodes_to_exclude(src),
        use_external_data_format=src.stat().st_size > 2**31 - 2**24,
    )


def derive(staged: StagedModel, selection: Selection, source: object, *, work: Path, report: Report) -> StagedModel:
    """Quantize the fp32 ONNX files ``selection.quantize`` names; add them to the model."""
    model = staged.config
    family = FAMILIES[model.family]
    files = dict(staged.files)
    scratch = work / model.name
    tools = dict(staged.tools)
    import onnxruntime

    for onnx_file in selection.quantize:
        record = files.get(onnx_file)
        fp32 = record or source.materialize([onnx_file], report)[onnx_file]  # type: ignore[attr-defined]
        out = scratch / quant_name(onnx_file)
        out.parent.mkdir(parents=True, exist_ok=True)
        report(f"model {model.name}: quantizing {onnx_file} -> {out.name}")
        try:
            quantize_file(fp32.source, out)
            onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ExportError(f"model {model.name}: quantizing {onnx_file} failed: {type(e).__name__}: {e}") from e
        digest = hash_file(out)
        files[quant_name(onnx_file)] = FileRecord(out, digest.size, digest.sha256)
        if not (model.keep_fp32 or onnx_file in family.fp32_always):
            files.pop(onnx_file, None)
    tools["onnxruntime"] = onnxruntime.__version__
    derived = tuple(sorted(set(staged.derived) | {quant_name(f) for f in selection.quantize}))
    return replace(staged, files=files, tools=tools, derived=derived)
