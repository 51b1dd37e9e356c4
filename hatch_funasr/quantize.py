"""Quantization of ONNX files with onnxruntime, FunASR's settings, and its drift from fp32.

FunASR's own export quantizes dynamically, MatMul only, per-channel, QUInt8, with the
``output``/``bias_encoder``/``bias_decoder`` nodes left in float.  Every produced file is
loaded in onnxruntime before it is packed, and fp32 and int8 run on one fixed input: the
max abs difference of their outputs is recorded (``quant_drift``) and may gate the build
(``max-quant-drift``).  Results are kept in the cache under a hash of the input and the
onnxruntime version.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from hatch_funasr.context import BuildContext
from hatch_funasr.errors import ExportError
from hatch_funasr.families import Selection, quant_name
from hatch_funasr.model import FileRecord, ModelConfig, StagedModel
from hatch_funasr.onnxscan import external_data, weight_files

__all__ = ["drift_line", "load_check", "quant_drift", "quantize_file", "quantize_model", "unavailable"]

_EXCLUDED_NODES = ("output", "bias_encoder", "bias_decoder")
#: Part of the cache key of a quantized file: change it when the settings below change.
_SETTINGS = "MatMul/per-channel/QUInt8/excl:output,bias_encoder,bias_decoder/v1"


def unavailable(selection: Selection) -> list[str]:
    """Why the quantized files ``selection`` asks for cannot be made here (empty if they can)."""
    if selection.quantize and not all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")):
        return [
            f"quantize = true needs onnx and onnxruntime to make {', '.join(map(quant_name, selection.quantize))}: "
            "pip install 'hatch-funasr[quantize]' into this build environment (isolated builds get them "
            "from the hook's dependencies)"
        ]
    return []


def _nodes_to_exclude(model_path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if any(key in n.name for key in _EXCLUDED_NODES)]


def _static_only_hint(record: logging.LogRecord) -> bool:
    """onnxruntime logs "Please consider to run pre-processing before quantization" on the root
    logger for every model it quantizes; the pre-processing (shape inference, graph
    optimization) is advice for static quantization and changes nothing FunASR's dynamic
    MatMul quantization does.  Every other record passes."""
    return not str(record.msg).startswith("Please consider to run pre-processing before quantization")


def quantize_file(src: Path, dst: Path, *, external: bool | None = None) -> None:
    """FunASR's quantization of one ONNX file; ``external``: write the weights beside ``dst``
    as external data (default: when the input is near protobuf's 2 GB limit)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_static_only_hint)
    try:
        quantize_dynamic(
            model_input=str(src),
            model_output=str(dst),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QUInt8,
            nodes_to_exclude=_nodes_to_exclude(src),
            use_external_data_format=src.stat().st_size > 2**31 - 2**24 if external is None else external,
        )
    finally:
        root.removeFilter(_static_only_hint)


def load_check(model: ModelConfig, file: Path) -> None:
    """A produced ONNX file loads in onnxruntime, or the build stops naming it."""
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ExportError(f"model {model.name}: {file.name} does not load in onnxruntime: {e}") from e


def _fixed_feed(session: Any) -> dict[str, Any]:
    """A deterministic input: batch 1, 50 steps, seeded normal floats, integer inputs of 1."""
    import numpy as np

    rng = np.random.default_rng(0)
    feed = {}
    for i, arg in enumerate(session.get_inputs()):
        shape = [d if isinstance(d, int) else (1 if n == 0 else 50) for n, d in enumerate(arg.shape)]
        if "int" in arg.type:
            dtype = np.int64 if "int64" in arg.type else np.int32
            feed[arg.name] = np.full(shape, 50 if len(shape) == 1 and i > 0 else 1, dtype=dtype)
        else:
            feed[arg.name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def quant_drift(fp32: Path, quant: Path) -> float | None:
    """Max abs difference between the float outputs of ``fp32`` and ``quant`` on a fixed input
    (None when the model cannot run on a generic input, e.g. it needs real features)."""
    import numpy as np
    import onnxruntime

    try:
        a = onnxruntime.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        b = onnxruntime.InferenceSession(str(quant), providers=["CPUExecutionProvider"])
        feed = _fixed_feed(a)
        diffs = [
            float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))))
            for x, y in zip(a.run(None, feed), b.run(None, feed), strict=True)
            if np.issubdtype(x.dtype, np.floating) and x.size
        ]
    except Exception:
        return None
    return max(diffs) if diffs else None


def drift_line(model: str, name: str, against: str, measured: float | None, *, key: str, limit: float | None) -> str:
    """What a drift measurement compared, its value and the limit it is held to, in one line:
    ``model vad: model_quant.onnx vs model.onnx (fp32) on a fixed input: max abs output
    difference 0.285 (no limit set; max-quant-drift sets one)``."""
    shown = "not measurable" if measured is None else f"{measured:.6g}"
    if limit is None:
        verdict = f"no limit set; {key} sets one"
    else:
        within = measured is not None and measured <= limit
        verdict = f"{'within' if within else 'over'} {key} = {limit:g}"
    return f"model {model}: {name} vs {against} on a fixed input: max abs output difference {shown} ({verdict})"


def _beside(directory: Path, onnx_file: str, record: FileRecord, weights: Mapping[str, FileRecord]) -> Path:
    """Lay an ONNX file and its external data out under their real names (blobs are named by
    hash); return the ONNX file's path there.  Copies: onnx refuses hard-linked external data."""
    shutil.rmtree(directory, ignore_errors=True)
    for name, r in {onnx_file: record, **weights}.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r.source, target)
    return directory / onnx_file


def _onnxruntime_version() -> str:
    """The installed onnxruntime's version, without importing it (a cache hit needs no onnxruntime)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnxruntime")
    except PackageNotFoundError:
        return "none"


def quantize_model(staged: StagedModel, selection: Selection, ctx: BuildContext) -> StagedModel:
    """Quantize every file in ``selection.quantize`` (already among the model's files).  A cached
    result signed by this machine costs no more than packing it: no onnxruntime, the drift
    from its record."""
    model = staged.config
    files = dict(staged.files)
    weights = dict(staged.weights)
    drift = dict(staged.drift)
    derived = set(staged.derived)
    runtime_version = _onnxruntime_version()
    scratch = ctx.work / model.name / "quant"
    for onnx_file in selection.quantize:
        fp32 = files[onnx_file] = files[onnx_file].hashed()
        inputs = {n: files[n] for n in weights.get(onnx_file, ())}
        key = ctx.cache.derived_key(
            kind="quantize",
            input=fp32.sha256,
            external=sorted((n, r.digest()) for n, r in inputs.items()),
            onnxruntime=runtime_version,
            settings=_SETTINGS,
        )
        name = quant_name(onnx_file)
        entry = ctx.cache.load_derived(key, strict=ctx.offline)
        if entry is not None:
            ctx.report(f"model {model.name}: reusing the cached {name}")
            measured = entry.meta.get("drift")
        else:
            ctx.report(f"model {model.name}: quantizing {onnx_file} -> {name}")
            scratch.mkdir(parents=True, exist_ok=True)
            src = _beside(scratch / f"in-{onnx_file}", onnx_file, fp32, inputs) if inputs else fp32.source
            out = scratch / name
            try:
                quantize_file(src, out, external=True if inputs else None)
            except Exception as e:
                raise ExportError(f"model {model.name}: quantizing {onnx_file} failed: {type(e).__name__}: {e}") from e
            load_check(model, out)
            measured = quant_drift(src, out)
            produced = {out.name: out} | {n: out.parent / n for n in external_data(out)}
            entry = ctx.cache.store_derived(key, produced, {"drift": measured})
        outputs = entry.files
        weights[name] = tuple(
            weight_files(name, outputs[name].source, outputs, what=f"model {model.name}", source="the quantizer")
        )
        value = drift[name] = measured if isinstance(measured, float) else None
        shown = "not measurable" if value is None else f"{value:.6g}"
        limit = model.max_quant_drift
        ctx.report(drift_line(model.name, name, f"{onnx_file} (fp32)", value, key="max-quant-drift", limit=limit))
        if limit is not None and (value is None or value > limit):
            raise ExportError(
                f"model {model.name}: {name} drifts {shown} from {onnx_file} on a fixed input, over "
                f"max-quant-drift = {limit}; raise the limit or ship fp32 only (quantize = false)"
            )
        files.update(outputs)
        derived.update(outputs)
    return replace(
        staged,
        files=files,
        weights=weights,
        drift=drift,
        derived=tuple(sorted(derived)),
        tools={**staged.tools, "onnxruntime": runtime_version},
    )
