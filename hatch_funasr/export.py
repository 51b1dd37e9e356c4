"""Export of PyTorch checkpoints to ONNX, TorchScript or GGUF in a child process, checked against PyTorch.

Export runs FunASR's ``AutoModel(...).export(type="onnx" | "torchscript")`` in a child process
(:mod:`hatch_funasr._export_child`) on a staging copy of the model directory, with no hub
tokens in its environment and ``torch.load(weights_only=True)``.  ``export = "generic"`` (for
models FunASR has no ``export()`` for, e.g. CAM++) traces ``AutoModel(...).model`` with the
declared ``export-inputs`` instead; ``format = "gguf"`` writes the checkpoint in the layout
FunASR's llama.cpp program for the family loads.  Either way the child
runs the PyTorch model and the exported file (for GGUF: its tensors put back into the module)
on one fixed input and reports the max abs difference of their outputs: it is recorded per file
(``export_drift``) and gates the build with ``max-export-drift``.

The Python the child runs with is ``HATCH_FUNASR_EXPORT_PYTHON`` if set (a venv with torch,
kept out of build isolation), else the build's own (install ``hatch-funasr[export]``).
Results are written into the build's scratch space and kept in the cache under a hash of the
inputs, the declaration of the export and the tool versions, with the measured drift.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from hatch_funasr import __version__
from hatch_funasr.cache import DerivedEntry
from hatch_funasr.context import BuildContext
from hatch_funasr.digest import hash_file
from hatch_funasr.errors import ExportError
from hatch_funasr.families import FAMILIES, Selection
from hatch_funasr.hubs import HUBS, token_vars
from hatch_funasr.model import ModelConfig, Source, StagedModel
from hatch_funasr.quantize import drift_line, load_check
from hatch_funasr.settings import EnvVars, Settings

__all__ = ["export_environment", "export_model", "unavailable"]

_NOWHERE = "http://127.0.0.1:9"
#: The child process; its bytes (the GGUF writers) also key the cache of GGUF conversions.
_CHILD = Path(__file__).with_name("_export_child.py")
#: Part of the cache key of an export: change it when the child's check changes.
_CHECK = "export-drift/v1: FunASR export_dummy_inputs() at seed 0; generic axes 2/100 traced, 3/67 checked"
_GGUF_CHECK = "gguf-drift/v1: the GGUF's tensors back in FunASR's module, x ~ 3*N(0,1) [1,200,D] at seed 0, its CMVN"


def unavailable(model: ModelConfig, selection: Selection, available: Mapping[str, int]) -> list[str]:
    """Why the exports ``selection`` asks for cannot be made from the source (empty if they can):
    FunASR's export needs ``model.pt``; the generic one also takes the checkpoint a
    ``configuration.json`` names (CAM++'s ``campplus_cn_common.bin``)."""
    generic = model.export == "generic"
    if not selection.export or "model.pt" in available or (generic and "configuration.json" in available):
        return [f"cannot export: {why}" for why in selection.export_problems]
    what = "model.pt, or a configuration.json naming the checkpoint," if generic else "model.pt"
    return [f"the source has no {', '.join(selection.export)} and no {what} to export them from"]


def export_environment(settings: Settings) -> dict[str, str]:
    """The child's environment: ours without any hub's credentials, and no hub reachable."""
    put = {"PYTHONNOUSERSITE": "1"}
    for spec in HUBS.values():
        put |= {spec.endpoint_var: _NOWHERE, **spec.offline_env}
    return settings.child_environment(drop=token_vars(), put=put)


def _reported(stdout: str, tag: str) -> dict[str, object]:
    line = next((ln for ln in stdout.splitlines() if ln.startswith(tag + " ")), "")
    found = json.loads(line.split(" ", 1)[1]) if line else {}
    return found if isinstance(found, dict) else {}


def _run_child(model: ModelConfig, settings: Settings, args: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    """Run the export child; return the tool versions it reports and the drift it measured."""
    # -I: isolated, so the child's directory (ours) is not put on its sys.path, where our
    # module names would shadow top-level modules of torch's and FunASR's dependencies.
    result = subprocess.run(
        [settings.export_python, "-I", str(_CHILD), *args],
        env=export_environment(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        hint = ""
        if "No module named" in tail:
            hint = f"; install the export extra: pip install 'hatch-funasr[export]' (or set {EnvVars.EXPORT_PYTHON})"
        what = {"gguf": "GGUF conversion", "generic": 'generic export (export = "generic")'}.get(
            _method(model), "FunASR export"
        )
        raise ExportError(f"model {model.name}: {what} failed{hint}:\n{tail}")
    versions = {str(k): str(v) for k, v in _reported(result.stdout, "HATCH_FUNASR_EXPORT").items()}
    drift = {str(k): v for k, v in _reported(result.stdout, "HATCH_FUNASR_CHECK").items() if isinstance(v, float)}
    return versions, drift


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _method(model: ModelConfig) -> str:
    return "gguf" if model.format == "gguf" else "generic" if model.export == "generic" else "funasr"


def _job(model: ModelConfig, selection: Selection, src: Path) -> dict[str, object]:
    spec = FAMILIES[model.family].gguf
    converter = spec.converter if model.format == "gguf" and spec is not None else None
    return {
        "dir": str(src),
        "format": model.format,
        "opset": model.opset_version,
        "method": _method(model),
        **({"converter": converter} if converter else {}),
        "files": list(selection.export),
        "inputs": [s.as_json() for s in model.export_inputs],
        "outputs": [s.as_json() for s in model.export_outputs],
    }


def _gate(model: ModelConfig, drift: Mapping[str, float], ctx: BuildContext) -> None:
    """Say each exported file's drift from PyTorch; fail past ``max-export-drift``."""
    for name, measured in sorted(drift.items()):
        limit = model.max_export_drift
        ctx.report(drift_line(model.name, name, "the PyTorch model", measured, key="max-export-drift", limit=limit))
        if limit is not None and not measured <= limit:
            raise ExportError(
                f"model {model.name}: {name} drifts {measured:.6g} from the PyTorch model on a fixed input, over "
                f"max-export-drift = {limit}; the export does not compute what the checkpoint does"
                + (" (check export-inputs, and whether the module can be traced)" if model.export == "generic" else "")
            )


def export_model(staged: StagedModel, selection: Selection, source: Source, ctx: BuildContext) -> StagedModel:
    """Export ``selection.export`` from the PyTorch checkpoint; check it; add the results."""
    model = staged.config
    records = source.materialize(selection.export_inputs, ctx.report)
    tools, _ = _run_child(model, ctx.settings, ["--versions"])
    job_spec = _job(model, selection, Path())
    converter = job_spec.get("converter")
    if converter is not None:  # the writer's code, not only its name, keys the cache; said in the manifest
        job_spec["writer"] = hash_file(_CHILD).sha256
        tools = {**tools, "gguf-writer": f"hatch-funasr {__version__} ({converter} layout)"}
    key = ctx.cache.derived_key(
        kind="export",
        inputs=sorted((rel, r.digest()) for rel, r in records.items()),
        outputs=selection.export,
        job={k: v for k, v in job_spec.items() if k != "dir"},
        check=_GGUF_CHECK if model.format == "gguf" else _CHECK,
        tools=tools,
    )
    how = {"gguf": "GGUF conversion", "generic": "generic export"}.get(_method(model), "export")
    entry = ctx.cache.load_derived(key, strict=ctx.offline)
    drift = _cached_drift(entry, selection)
    if entry is not None and drift is not None:
        ctx.report(f"model {model.name}: reusing the cached {how} of {', '.join(selection.export)}")
    else:
        src = ctx.work / model.name / "export"
        shutil.rmtree(src, ignore_errors=True)
        for rel, record in records.items():  # a copy: FunASR writes next to the checkpoint
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(record.source, src / rel)
        opset = f", opset {model.opset_version}" if model.format == "onnx" else ""
        method = {
            "generic": "torch (experimental, export-inputs)",
            "gguf": f"the {converter} layout of FunASR's llama.cpp runtime",
        }.get(_method(model), "FunASR")
        ctx.report(f"model {model.name}: exporting {', '.join(selection.export)} with {method}{opset}")
        job = src.parent / "export-job.json"
        job.write_text(json.dumps(_job(model, selection, src)), "utf-8")
        _, drift = _run_child(model, ctx.settings, [str(job)])
        for name in selection.export:
            if not (src / name).is_file():
                raise ExportError(f"model {model.name}: the {how} did not produce {name}")
            if name not in drift:
                raise ExportError(f"model {model.name}: the {how} wrote {name} but did not check it against PyTorch")
            if name.endswith(".onnx"):
                load_check(model, src / name)
            if name.endswith(".gguf") and not _is_gguf(src / name):
                raise ExportError(f"model {model.name}: the {how} wrote {name}, which is not a GGUF file")
        entry = ctx.cache.store_derived(
            key, {name: src / name for name in selection.export}, {"tools": tools, "export_drift": drift}
        )
    _gate(model, drift, ctx)
    produced = {name: entry.files[name] for name in selection.export}
    return replace(
        staged,
        files={**staged.files, **produced},
        tools={**staged.tools, **tools},
        derived=tuple(sorted({*staged.derived, *produced})),
        export_drift={**staged.export_drift, **{n: drift[n] for n in selection.export}},
    )


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"GGUF"  # the magic of every GGUF file (llama.cpp ggml/src/gguf.cpp)


def _cached_drift(entry: DerivedEntry | None, selection: Selection) -> dict[str, float] | None:
    """The drift recorded (and signed) with a cached export; None when the entry lacks it: export again."""
    data = entry.meta.get("export_drift") if entry is not None else None
    if not isinstance(data, dict) or not all(_number(data.get(n)) for n in selection.export):
        return None
    return {n: float(data[n]) for n in selection.export}
