"""Derived ONNX files: export of PyTorch checkpoints with FunASR, quantization with onnxruntime.

Export runs FunASR's own ``AutoModel(...).export(type="onnx")`` in a child process
(:mod:`hatch_funasr._export_child`) on a staging copy of the model directory, with no hub
tokens in its environment and ``torch.load(weights_only=True)``.  The Python it runs with is
``HATCH_FUNASR_EXPORT_PYTHON`` if set (a venv with torch, kept out of build isolation), else
the build's own (install ``hatch-funasr[export]``).

Quantization follows FunASR's own export settings: dynamic, MatMul only, per-channel,
QUInt8, with the ``output``/``bias_encoder``/``bias_decoder`` nodes left in float.
Every produced ONNX file is loaded in onnxruntime before it is packed.  Derived files are
written into a per-build scratch directory, never into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from hatch_funasr import __version__
from hatch_funasr.bundle import FileRecord, StagedModel
from hatch_funasr.cache import Cache, FileDigest
from hatch_funasr.config import ModelConfig
from hatch_funasr.errors import ExportError
from hatch_funasr.families import FAMILIES, Selection, pytorch_files, quant_name
from hatch_funasr.onnxscan import external_data, weight_files

__all__ = ["derive", "unavailable"]

Report = Callable[[str], None]
_EXCLUDED_NODES = ("output", "bias_encoder", "bias_decoder")
#: Part of the cache key of a quantized file: change it when the settings below change.
_SETTINGS = "MatMul/per-channel/QUInt8/excl:output,bias_encoder,bias_decoder/v1"


def unavailable(model: ModelConfig, selection: Selection, available: Mapping[str, int]) -> list[str]:
    """Why the derived files ``selection`` asks for cannot be made here (empty if they can)."""
    problems = []
    if selection.export and "model.pt" not in available:
        problems.append(f"the source has no {', '.join(selection.export)} and no model.pt to export them from")
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


def quantize_file(src: Path, dst: Path, *, external: bool | None = None) -> None:
    """FunASR's quantization of one ONNX file; ``external``: write the weights beside ``dst``
    as external data (default: when the input is near protobuf's 2 GB limit)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

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


#: Variables that must not reach the export child: hub credentials and endpoints.
_SCRUB = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODELSCOPE_API_TOKEN", "MODELSCOPE_TOKEN")
_NOWHERE = "http://127.0.0.1:9"


def _export_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    # Export reads a local directory; nothing may be fetched (and no token found) from a hub.
    env.update(
        HF_HUB_OFFLINE="1",
        HF_ENDPOINT=_NOWHERE,
        MODELSCOPE_ENDPOINT=_NOWHERE,
        MODELSCOPE_API_TOKEN="",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONNOUSERSITE="1",
    )
    return env


def _load_check(model: ModelConfig, file: Path) -> None:
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ExportError(f"model {model.name}: {file.name} does not load in onnxruntime: {e}") from e


def _key(**parts: object) -> str:
    payload = json.dumps({**parts, "hatch-funasr": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _records(found: Mapping[str, tuple[Path, FileDigest]]) -> dict[str, FileRecord]:
    """File records of derived files, from the digests the cache computed for them."""
    return {name: FileRecord(path, d.size, d.sha256) for name, (path, d) in found.items()}


def _run_child(model: ModelConfig, python: str, args: list[str]) -> str:
    child = Path(__file__).with_name("_export_child.py")
    result = subprocess.run([python, str(child), *args], env=_export_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        hint = ""
        if "No module named" in tail:
            hint = "; install the export extra: pip install 'hatch-funasr[export]' (or set HATCH_FUNASR_EXPORT_PYTHON)"
        raise ExportError(f"model {model.name}: FunASR export failed{hint}:\n{tail}")
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("HATCH_FUNASR_EXPORT ")), "")
    versions: dict[str, str] = json.loads(line.split(" ", 1)[1]) if line else {}
    return json.dumps(versions, sort_keys=True)


def export_onnx(
    staged: StagedModel, selection: Selection, source: Any, *, work: Path, cache: Cache, report: Report
) -> tuple[dict[str, FileRecord], dict[str, str]]:
    """Export ``selection.export`` from the PyTorch checkpoint with FunASR, in a child process.

    Results are kept in the cache under a hash of the inputs and tool versions, so a rebuild
    does not export again."""
    model = staged.config
    configuration = source.read_text("configuration.json")
    names, missing = pytorch_files(configuration, source.sizes)
    if missing:
        raise ExportError(f"model {model.name}: cannot export: {model.source_label} has no {', '.join(missing)}")
    records = source.materialize(names, report)
    src = work / model.name / "export"
    shutil.rmtree(src, ignore_errors=True)
    for rel, record in records.items():  # a copy: FunASR writes next to the checkpoint
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(record.source, src / rel)
    python = os.environ.get("HATCH_FUNASR_EXPORT_PYTHON") or sys.executable
    tools: dict[str, str] = json.loads(_run_child(model, python, ["--versions"]))
    key = _key(
        kind="export",
        inputs=sorted((rel, r.digest()) for rel, r in records.items()),
        outputs=selection.export,
        opset=model.opset_version,
        tools=tools,
    )
    cached = cache.load_derived(key)
    if cached is not None:
        report(f"model {model.name}: reusing the cached export of {', '.join(selection.export)}")
        return _records(cached), tools
    report(f"model {model.name}: exporting {', '.join(selection.export)} with FunASR (opset {model.opset_version})")
    _run_child(model, python, [str(src), str(model.opset_version)])
    for name in selection.export:
        if not (src / name).is_file():
            raise ExportError(f"model {model.name}: FunASR export did not produce {name}")
        _load_check(model, src / name)
    stored = cache.store_derived(key, {name: src / name for name in selection.export})
    return _records(stored), tools


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


def _external_records(
    model: ModelConfig,
    onnx_file: str,
    record: FileRecord,
    *,
    files: Mapping[str, FileRecord],
    source: Any,
    report: Report,
) -> dict[str, FileRecord]:
    """The external-data files an ONNX file keeps its weights in (models over 2 GB)."""
    names = weight_files(
        onnx_file, record.source, {*files, *source.listing}, what=f"model {model.name}", source=model.source_label
    )
    missing = [n for n in names if n not in files]
    found = dict(source.materialize(missing, report)) if missing else {}
    return {n: files.get(n) or found[n] for n in names}


def _beside(directory: Path, onnx_file: str, record: FileRecord, weights: Mapping[str, FileRecord]) -> Path:
    """Lay an ONNX file and its external data out under their real names (blobs are named by
    hash); return the ONNX file's path there.  Copies: onnx refuses hard-linked external data."""
    shutil.rmtree(directory, ignore_errors=True)
    for name, r in {onnx_file: record, **weights}.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r.source, target)
    return directory / onnx_file


def derive(
    staged: StagedModel, selection: Selection, source: Any, *, work: Path, cache: Cache, report: Report
) -> StagedModel:
    """Export and/or quantize what ``selection`` asks for; add the results to the model."""
    model = staged.config
    family = FAMILIES[model.family]
    files = dict(staged.files)
    tools = dict(staged.tools)
    derived: set[str] = set(staged.derived)
    drift: dict[str, float | None] = dict(staged.drift)
    fp32_weights: dict[str, tuple[str, ...]] = {}
    if selection.export:
        exported, export_tools = export_onnx(staged, selection, source, work=work, cache=cache, report=report)
        files.update(exported)
        tools.update(export_tools)
        derived.update(exported)
    if selection.quantize:
        import onnxruntime

        scratch = work / model.name / "quant"
        scratch.mkdir(parents=True, exist_ok=True)
        for onnx_file in selection.quantize:
            fp32 = (files.get(onnx_file) or source.materialize([onnx_file], report)[onnx_file]).hashed()
            if onnx_file in files:
                files[onnx_file] = fp32
            weights = _external_records(model, onnx_file, fp32, files=files, source=source, report=report)
            fp32_weights[onnx_file] = tuple(weights)
            key = _key(
                kind="quantize",
                input=fp32.sha256,
                external=sorted((n, r.digest()) for n, r in weights.items()),
                onnxruntime=onnxruntime.__version__,
                settings=_SETTINGS,
            )
            src = _beside(scratch / f"in-{onnx_file}", onnx_file, fp32, weights) if weights else fp32.source
            out = scratch / quant_name(onnx_file)
            cached = cache.load_derived(key)
            if cached is not None:
                outputs = cached
                report(f"model {model.name}: reusing the cached {out.name}")
            else:
                report(f"model {model.name}: quantizing {onnx_file} -> {out.name}")
                try:
                    quantize_file(src, out, external=True if weights else None)
                except Exception as e:
                    raise ExportError(
                        f"model {model.name}: quantizing {onnx_file} failed: {type(e).__name__}: {e}"
                    ) from e
                _load_check(model, out)
                produced = {out.name: out} | {loc: out.parent / loc for loc in external_data(out)}
                outputs = cache.store_derived(key, produced)
            out = outputs[out.name][0]
            drift[out.name] = quant_drift(src, out)
            measured = drift[out.name]
            shown = "not measurable" if measured is None else f"{measured:.6g}"
            report(f"model {model.name}: {out.name} max abs drift from fp32 on a fixed input: {shown}")
            limit = model.max_quant_drift
            if limit is not None and (measured is None or measured > limit):
                raise ExportError(
                    f"model {model.name}: {out.name} drifts {shown} from {onnx_file} on a fixed input, over "
                    f"max-quant-drift = {limit}; raise the limit or ship fp32 only (quantize = false)"
                )
            files.update(_records(outputs))
            derived.update(outputs)
        tools["onnxruntime"] = onnxruntime.__version__
    if model.quantize and not model.keep_fp32:
        for onnx_file in family.onnx:
            if onnx_file not in family.fp32_always:
                for name in (onnx_file, *fp32_weights.get(onnx_file, ())):
                    files.pop(name, None)
                    derived.discard(name)
    return replace(staged, files=files, tools=tools, derived=tuple(sorted(derived)), drift=drift)
