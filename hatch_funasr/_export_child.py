"""Export a PyTorch model in a child process and check the result against it: ``python -I
_export_child.py JOB.json`` (``--versions``: print the tool versions only).

The parent passes a job (a JSON file) naming a staging copy of the PyTorch model directory
(never the cache), the format (``onnx`` or ``torchscript``) and the method, and an environment
with no hub tokens and no reachable hub.  Two safety/compatibility patches: ``torch.load``
always runs with ``weights_only=True`` (a checkpoint that would run code is refused), and
``torch.onnx.export`` uses the legacy exporter (``dynamo=False``), which is what FunASR's export
works with on torch >= 2.9.

Methods:

* ``funasr``: FunASR's own ``AutoModel(model=DIR).export(type=FORMAT)``.  Each module FunASR
  exports is captured as it is written (``funasr.utils.export_utils._onnx`` /
  ``_torchscripts``), so the check runs the very module that was exported.
* ``generic``: for models FunASR has no ``export()`` for (CAM++):
  ``torch.onnx.export`` (named inputs, outputs and dynamic axes) or ``torch.jit.trace`` of
  ``AutoModel(model=DIR).model`` on inputs built from the declared ``export-inputs``.
* ``gguf``: the checkpoint written in the layout FunASR's llama.cpp program for the family loads
  (the job names the family's writer).  The check puts the GGUF's tensors back into the PyTorch
  module FunASR builds (the layout change undone, quantized tensors dequantized) and runs both
  on one fixed input, the GGUF's CMVN against FunASR's own reading of ``am.mvn``: what the
  runtime would compute from the file, against the checkpoint.

The check, for every file written: the PyTorch module and the exported file (onnxruntime,
or ``torch.jit.load``) run on one fixed input; the max abs difference of all their outputs is
reported.  FunASR's modules get their own ``export_dummy_inputs()`` drawn under seed 0 (the
export traced with unseeded ones); generic ones are traced with every dynamic axis at one size
and checked at another (first axis 2 then 3, other axes 100 then 67), so a shape the trace
froze shows up as a failure.  A check that cannot run fails the export.

Prints ``HATCH_FUNASR_EXPORT {versions}`` and ``HATCH_FUNASR_CHECK {file: drift}``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

#: Sizes of a generic export's dynamic axes: (trace, check), for a first axis and for others.
_FIRST_AXIS = (2, 3)
_OTHER_AXES = (100, 67)


class CheckError(Exception):
    """The exported file and the PyTorch module could not be compared, or disagree in shape."""


def _patch_torch() -> None:
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


def _flatten(value: Any) -> list[Any]:
    """Every tensor of a module's output, in order (tuples and lists of tuples and lists)."""
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _flatten(item)]
    return [value]


def _as_array(value: Any) -> Any:
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _max_abs_difference(name: str, expected: list[Any], got: list[Any]) -> float:
    import numpy as np

    if len(expected) != len(got):
        raise CheckError(f"{name}: the PyTorch module returns {len(expected)} outputs, the export {len(got)}")
    worst = 0.0
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        x, y = _as_array(a).astype(np.float64), _as_array(b).astype(np.float64)
        if x.shape != y.shape:
            raise CheckError(f"{name}: output {i} has shape {list(x.shape)} from PyTorch, {list(y.shape)} exported")
        both_nan = np.isnan(x) & np.isnan(y)
        diff = np.where(both_nan, 0.0, np.abs(x - y))
        if diff.size:
            worst = max(worst, float("inf") if np.isnan(diff).any() else float(diff.max()))
    return worst


def _run_exported(path: Path, fmt: str, inputs: tuple[Any, ...], names: list[str]) -> list[Any]:
    """The exported file's outputs on ``inputs``: onnxruntime (inputs by name; the exporter
    drops inputs the graph does not use) or ``torch.jit.load``."""
    if fmt == "torchscript":
        import torch

        with torch.no_grad():
            return _flatten(torch.jit.load(str(path), map_location="cpu")(*inputs))
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feed = {n: _as_array(t) for n, t in zip(names, inputs, strict=False) if n in wanted}
    missing = wanted - set(feed)
    if missing:
        raise CheckError(f"{path.name}: takes inputs {sorted(missing)} the module's inputs ({names}) do not name")
    return list(session.run(None, feed))


def _agreement(module: Any, path: Path, fmt: str, inputs: tuple[Any, ...], names: list[str]) -> float:
    import torch

    with torch.no_grad():
        expected = _flatten(module(*inputs))
    return _max_abs_difference(path.name, expected, _run_exported(path, fmt, inputs, names))


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir() if p.is_file()}


def _export_funasr(model_dir: Path, fmt: str, opset: int) -> dict[str, float]:
    """FunASR's export; each exported module checked against its file as soon as it is written."""
    import torch
    from funasr import AutoModel
    from funasr.utils import export_utils

    drift: dict[str, float] = {}

    def capture(original: Any) -> Any:
        @functools.wraps(original)
        def run(module: Any, *args: Any, **kwargs: Any) -> Any:
            before = _snapshot(model_dir)
            result = original(module, *args, **kwargs)
            written = sorted(n for n, stat in _snapshot(model_dir).items() if before.get(n) != stat)
            for name in written:
                path = model_dir / name
                if fmt == "torchscript" and not name.endswith(".torchscript"):
                    # _torchscripts names the file after a string export_name with no extension
                    # ("model", "model_eb": Paraformer's export_meta.py); FunASR's libtorch
                    # runtimes open model.torchscript (com-define.h TORCH_MODEL_NAME,
                    # funasr_torch paraformer_bin.py).
                    path = path.replace(model_dir / f"{name}.torchscript")
                torch.manual_seed(0)
                dummy = module.export_dummy_inputs()
                inputs = (dummy,) if isinstance(dummy, torch.Tensor) else tuple(dummy)
                drift[path.name] = _agreement(module, path, fmt, inputs, list(module.export_input_names()))
            return result

        return run

    export_utils._onnx = capture(export_utils._onnx)
    export_utils._torchscripts = capture(export_utils._torchscripts)
    model = AutoModel(model=str(model_dir), disable_update=True, device="cpu")
    model.export(type=fmt, quantize=False, opset_version=opset)
    return drift


def _inputs(specs: list[dict[str, Any]], which: int) -> tuple[Any, ...]:
    """Tensors for a generic export's declared inputs: ``which`` 0 for tracing, 1 for the check."""
    import torch

    sizes: dict[str, int] = {}
    for spec in specs:
        for axis, dim in enumerate(spec["shape"]):
            if isinstance(dim, str):
                sizes.setdefault(dim, (_FIRST_AXIS if axis == 0 else _OTHER_AXES)[which])
    torch.manual_seed(which)
    tensors = []
    for spec in specs:
        shape = [sizes[d] if isinstance(d, str) else d for d in spec["shape"]]
        dtype = getattr(torch, spec["dtype"] or "float32")
        if dtype.is_floating_point:
            tensors.append(torch.randn(shape, dtype=dtype))
        else:
            value = spec["value"]
            tensors.append(torch.full(shape, sizes[value] if isinstance(value, str) else value, dtype=dtype))
    return tuple(tensors)


def _axes(specs: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
    return {
        s["name"]: {i: d for i, d in enumerate(s["shape"]) if isinstance(d, str)}
        for s in specs
        if any(isinstance(d, str) for d in s["shape"])
    }


def _gguf_tensors(path: Path) -> dict[str, Any]:
    """Every tensor of a GGUF as float32 numpy arrays in PyTorch's (out, in) order."""
    import gguf
    import numpy as np

    tensors = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        tensors[t.name] = np.asarray(data, dtype=np.float32).reshape([int(n) for n in reversed(t.shape)])
    return tensors


def _check_vad_gguf(model_dir: Path, path: Path) -> float:
    """FSMN-VAD: the encoder with the GGUF's weights on ``(x + cmvn.shift) * cmvn.scale`` (what
    funasr_vad.h computes) against the checkpoint's encoder on FunASR's CMVN of ``x``."""
    import copy

    import torch
    from funasr import AutoModel
    from funasr.frontends.wav_frontend import load_cmvn

    module = AutoModel(model=str(model_dir), disable_update=True, device="cpu").model.eval()
    encoder = module.encoder
    tensors = _gguf_tensors(path)
    restored = {}
    for key, value in encoder.state_dict().items():
        name = f"encoder.{key}"
        if name not in tensors:
            raise CheckError(f"{path.name} has no {name}, a tensor of the checkpoint's encoder")
        array = tensors.pop(name)
        if key.endswith("conv_left.weight"):  # stored (L,C) from (C,1,L,1); undone
            array = array.T
        if array.size != value.numel():
            raise CheckError(f"{path.name}: {name} has {array.size} values, the checkpoint {value.numel()}")
        restored[key] = torch.from_numpy(array.copy()).reshape(value.shape)
    shift, scale = tensors.pop("cmvn.shift", None), tensors.pop("cmvn.scale", None)
    if shift is None or scale is None or tensors:
        raise CheckError(f"{path.name}: expected the encoder and cmvn.shift/scale, also has {sorted(tensors)}")
    converted = copy.deepcopy(encoder)
    converted.load_state_dict(restored)
    cmvn = load_cmvn(str(model_dir / "am.mvn"))
    width = encoder.state_dict()["in_linear1.linear.weight"].shape[1]
    torch.manual_seed(0)
    x = torch.randn(1, 200, width) * 3.0
    with torch.no_grad():
        expected = encoder((x + cmvn[0, :width]) * cmvn[1, :width], {})
        got = converted((x + torch.from_numpy(shift)) * torch.from_numpy(scale), {})
    return _max_abs_difference(path.name, [expected], [got])


#: The hyper-parameters llama-funasr-vad's loader reads (``funasr-common/funasr_vad.h:69-71``)
#: and the ones FunASR's published FSMN-VAD GGUF also carries, in that file's order; each
#: from the checkpoint's own tensor shapes or its ``config.yaml``, never assumed.
_VAD_KEYS = (
    "input_dim",
    "input_affine_dim",
    "linear_dim",
    "proj_dim",
    "fsmn_layers",
    "lorder",
    "output_affine_dim",
    "output_dim",
    "n_mels",
    "lfr_m",
    "lfr_n",
)


def _vad_hyper_parameters(encoder: dict[str, Any], frontend: dict[str, Any]) -> dict[str, int]:
    """The ``vad.*`` values of an FSMN-VAD encoder: sizes read off its weights (``(out, in)``
    linear weights, ``conv_left`` as ``(channels, 1, lorder, 1)``), frame stacking from the
    front end's configuration (``frontend_conf`` of FunASR's ``config.yaml``)."""
    layers = {int(k.split(".")[2]) for k in encoder if k.startswith("encoder.fsmn.")}
    if not layers or layers != set(range(len(layers))):
        raise CheckError(f"model.pt: the FSMN layers of the encoder are {sorted(layers)}, not 0..n-1")
    try:
        into, first = encoder["encoder.in_linear1.linear.weight"].shape
        linear = encoder["encoder.in_linear2.linear.weight"].shape[0]
        proj = encoder["encoder.fsmn.0.linear.linear.weight"].shape[0]
        lorder = encoder["encoder.fsmn.0.fsmn_block.conv_left.weight"].shape[2]
        out_affine = encoder["encoder.out_linear1.linear.weight"].shape[0]
        out = encoder["encoder.out_linear2.linear.weight"].shape[0]
        frames = {k: int(frontend[k]) for k in ("n_mels", "lfr_m", "lfr_n")}
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise CheckError(f"model.pt / config.yaml: not an FSMN-VAD encoder llama-funasr-vad can load ({e!r})") from e
    values = dict(
        input_dim=first,
        input_affine_dim=into,
        linear_dim=linear,
        proj_dim=proj,
        fsmn_layers=len(layers),
        lorder=lorder,
        output_affine_dim=out_affine,
        output_dim=out,
        **frames,
    )
    return {k: int(values[k]) for k in _VAD_KEYS}


def _write_vad_gguf(model_dir: Path, path: Path) -> None:
    """An FSMN-VAD checkpoint in the layout FunASR's ``llama-funasr-vad`` loads
    (``runtime/llama.cpp/funasr-common/funasr_vad.h:63-111``): architecture ``fsmn-vad``; the
    hyper-parameters as u32 ``vad.*`` keys; the CMVN of ``am.mvn`` as F32 ``cmvn.shift`` and
    ``cmvn.scale`` (read as raw floats, :86-87); every encoder weight as F32 under its PyTorch
    name (:77-81), each FSMN ``conv_left`` stored tap-major, ``(lorder, channels)``."""
    import gguf
    import numpy as np
    import torch
    import yaml
    from funasr.frontends.wav_frontend import load_cmvn

    state = torch.load(model_dir / "model.pt", map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    encoder = {
        k: v.detach().to(torch.float32).contiguous().numpy() for k, v in state.items() if k.startswith("encoder.")
    }
    config = yaml.safe_load((model_dir / "config.yaml").read_text("utf-8")) or {}
    keys = _vad_hyper_parameters(encoder, config.get("frontend_conf") or {})
    cmvn = load_cmvn(str(model_dir / "am.mvn")).numpy()
    width = keys["input_dim"]
    if cmvn.shape[1] != width:
        raise CheckError(f"am.mvn has {cmvn.shape[1]} values per row, the encoder takes {width}")
    writer = gguf.GGUFWriter(str(path), "fsmn-vad")
    for key, value in keys.items():
        writer.add_uint32(f"vad.{key}", value)
    writer.add_tensor("cmvn.shift", np.ascontiguousarray(cmvn[0], dtype=np.float32))
    writer.add_tensor("cmvn.scale", np.ascontiguousarray(cmvn[1], dtype=np.float32))
    for name, weights in encoder.items():
        tap_major = name.endswith("conv_left.weight")
        writer.add_tensor(name, np.ascontiguousarray(weights[:, 0, :, 0].T) if tap_major else weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


#: A family's GGUF writer (``GgufSpec.converter``) -> (the writer, the check of what it wrote).
_GGUF_WRITERS: dict[str, tuple[Any, Any]] = {"fsmn-vad": (_write_vad_gguf, _check_vad_gguf)}


def _export_gguf(model_dir: Path, job: dict[str, Any]) -> dict[str, float]:
    """Write the GGUF the family's llama.cpp program loads from the checkpoint, then check it."""
    write, check = _GGUF_WRITERS[job["converter"]]
    path = model_dir / job["files"][0]
    write(model_dir, path)
    return {path.name: check(model_dir, path)}


def _export_generic(model_dir: Path, fmt: str, opset: int, job: dict[str, Any]) -> dict[str, float]:
    """For models FunASR has no export() for: trace the PyTorch module FunASR builds, with the declared inputs."""
    import torch
    from funasr import AutoModel

    module = AutoModel(model=str(model_dir), disable_update=True, device="cpu").model.eval()
    inputs, outputs = job["inputs"], job["outputs"]
    names = [s["name"] for s in inputs]
    path = model_dir / job["files"][0]
    trace = _inputs(inputs, 0)
    with torch.no_grad():
        if fmt == "onnx":
            torch.onnx.export(
                module,
                trace,
                str(path),
                input_names=names,
                output_names=[s["name"] for s in outputs] or None,
                dynamic_axes=_axes(inputs + outputs),
                opset_version=opset,
                do_constant_folding=True,
            )
        else:
            torch.jit.trace(module, trace).save(str(path))
    return {path.name: _agreement(module, path, fmt, _inputs(inputs, 1), names)}


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text("utf-8"))
    model_dir, fmt, opset = Path(job["dir"]), job["format"], int(job["opset"])
    _patch_torch()
    try:
        if job["method"] == "generic":
            drift = _export_generic(model_dir, fmt, opset, job)
        elif job["method"] == "gguf":
            drift = _export_gguf(model_dir, job)
        else:
            drift = _export_funasr(model_dir, fmt, opset)
    except CheckError as e:
        print(f"the exported model and the PyTorch model could not be compared: {e}", file=sys.stderr)
        return 3
    print("HATCH_FUNASR_CHECK " + json.dumps(drift, sort_keys=True), flush=True)
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
    with contextlib.suppress(PackageNotFoundError):  # only GGUF conversion needs it
        found["gguf"] = version("gguf")
    print("HATCH_FUNASR_EXPORT " + json.dumps(found, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--versions"]:
        raise SystemExit(versions())
    raise SystemExit(main(sys.argv[1]))
