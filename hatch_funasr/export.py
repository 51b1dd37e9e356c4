"""Export of PyTorch checkpoints to ONNX with FunASR's own export, in a child process.

Export runs FunASR's ``AutoModel(...).export(type="onnx")`` in a child process
(:mod:`hatch_funasr._export_child`) on a staging copy of the model directory, with no hub
tokens in its environment and ``torch.load(weights_only=True)``.  The Python it runs with is
``HATCH_FUNASR_EXPORT_PYTHON`` if set (a venv with torch, kept out of build isolation), else
the build's own (install ``hatch-funasr[export]``).  Results are written into the build's
scratch space and kept in the cache under a hash of the inputs and tool versions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from hatch_funasr.context import BuildContext
from hatch_funasr.errors import ExportError
from hatch_funasr.families import Selection, pytorch_files
from hatch_funasr.model import ModelConfig, Source, StagedModel
from hatch_funasr.quantize import load_check
from hatch_funasr.settings import TOKEN_VARS, EnvVars

__all__ = ["export_onnx", "unavailable"]

_NOWHERE = "http://127.0.0.1:9"


def unavailable(selection: Selection, available: Mapping[str, int]) -> list[str]:
    """Why the exports ``selection`` asks for cannot be made from the source (empty if they can)."""
    if selection.export and "model.pt" not in available:
        return [f"the source has no {', '.join(selection.export)} and no model.pt to export them from"]
    return []


def _export_env() -> dict[str, str]:
    """The child's environment: ours without hub credentials, and no hub reachable."""
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
    env.update(
        {
            EnvVars.HF_HUB_OFFLINE: "1",
            EnvVars.HF_ENDPOINT: _NOWHERE,
            EnvVars.MODELSCOPE_ENDPOINT: _NOWHERE,
            "MODELSCOPE_API_TOKEN": "",
            EnvVars.HF_HUB_DISABLE_TELEMETRY: "1",
            "PYTHONNOUSERSITE": "1",
        }
    )
    return env


def _run_child(model: ModelConfig, python: str, args: list[str]) -> dict[str, str]:
    """Run the export child; return the tool versions it reports."""
    child = Path(__file__).with_name("_export_child.py")
    # -I: isolated, so the child's directory (ours) is not put on its sys.path, where our
    # module names would shadow top-level modules of torch's and FunASR's dependencies.
    result = subprocess.run(
        [python, "-I", str(child), *args], env=_export_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        hint = ""
        if "No module named" in tail:
            hint = f"; install the export extra: pip install 'hatch-funasr[export]' (or set {EnvVars.EXPORT_PYTHON})"
        raise ExportError(f"model {model.name}: FunASR export failed{hint}:\n{tail}")
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("HATCH_FUNASR_EXPORT ")), "")
    versions: dict[str, str] = json.loads(line.split(" ", 1)[1]) if line else {}
    return versions


def export_onnx(staged: StagedModel, selection: Selection, source: Source, ctx: BuildContext) -> StagedModel:
    """Export ``selection.export`` from the PyTorch checkpoint with FunASR; add the results."""
    model = staged.config
    sizes = {p: f.size for p, f in source.listing.items()}
    configuration, config_yaml = source.read_text("configuration.json"), source.read_text("config.yaml")
    names, missing, problems = pytorch_files(configuration, sizes, config_yaml)
    if missing or problems:
        why = [f"{model.source_label} has no {', '.join(missing)}"] if missing else []
        raise ExportError(f"model {model.name}: cannot export: {'; '.join(why + problems)}")
    records = source.materialize(names, ctx.report)
    python = ctx.settings.export_python
    tools = _run_child(model, python, ["--versions"])
    key = ctx.cache.derived_key(
        kind="export",
        inputs=sorted((rel, r.digest()) for rel, r in records.items()),
        outputs=selection.export,
        opset=model.opset_version,
        tools=tools,
    )
    entry = ctx.cache.load_derived(key, strict=ctx.offline)
    if entry is not None:
        ctx.report(f"model {model.name}: reusing the cached export of {', '.join(selection.export)}")
    else:
        src = ctx.work / model.name / "export"
        shutil.rmtree(src, ignore_errors=True)
        for rel, record in records.items():  # a copy: FunASR writes next to the checkpoint
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(record.source, src / rel)
        ctx.report(
            f"model {model.name}: exporting {', '.join(selection.export)} with FunASR (opset {model.opset_version})"
        )
        _run_child(model, python, [str(src), str(model.opset_version)])
        for name in selection.export:
            if not (src / name).is_file():
                raise ExportError(f"model {model.name}: FunASR export did not produce {name}")
            load_check(model, src / name)
        entry = ctx.cache.store_derived(key, {name: src / name for name in selection.export}, {"tools": tools})
    return replace(
        staged,
        files={**staged.files, **entry.files},
        tools={**staged.tools, **tools},
        derived=tuple(sorted({*staged.derived, *entry.files})),
    )
