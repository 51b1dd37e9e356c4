"""The bundle package: model directories, the manifest and the generated runtime module.

Everything is written into a staging directory laid out exactly as it will sit in the
wheel (``<package>/models/<dir>/…``), so the packer only has to copy it.  Nothing written
here contains an absolute path, a time or a host name: the same inputs stage the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib.resources import files as resource_files
from pathlib import Path
from typing import Any

from hatch_funasr import __version__
from hatch_funasr._bundle_runtime import gguf_programs
from hatch_funasr.digest import HASH_ALGORITHM
from hatch_funasr.families import FAMILIES
from hatch_funasr.manifest import Manifest, read_manifest
from hatch_funasr.model import BundleConfig, LocalDir, ModelConfig, StagedModel
from hatch_funasr.pack import PackEntry

__all__ = [
    "MANIFEST_NAME",
    "RUNTIME_EXTRAS",
    "RUNTIME_NAME",
    "build_manifest",
    "extras_lines",
    "link_or_copy",
    "pack_entries",
    "runtime_extras",
    "write_package",
]

MANIFEST_NAME = "funasr_manifest.json"
RUNTIME_NAME = "_funasr_runtime.py"
LOCATIONS_NAME = "_funasr_locations.json"
MANIFEST_VERSION = 1

#: The Python runtimes of a bundle's directories, declared as extras of the bundle wheel (a bundle
#: wheel has no dependencies of its own): ``pip install "acme-asr-models[onnx]"``.
RUNTIME_EXTRAS: dict[str, tuple[str, ...]] = {
    # funasr_onnx loads the ONNX directories.  onnxruntime and the numpy bound are funasr_onnx's own
    # requirements (FunASR runtime/python/onnxruntime/setup.py:30-39; funasr_onnx 0.4.3 declares the
    # same), named here because a deployment that loads the files with onnxruntime needs them too.
    "onnx": ("funasr-onnx>=0.4.3", "onnxruntime>=1.7.0", "numpy<=1.26.4"),
    # funasr.AutoModel loads the PyTorch directories.  FunASR's feature extraction takes
    # torchaudio's kaldi fbank when torchaudio is installed, else kaldi_native_fbank (funasr 1.4.16,
    # funasr/utils/fbank.py:26-38), and funasr does not require either.
    "torch": ("funasr>=1.4.16", "torch", "kaldi-native-fbank"),
}


def runtime_extras(models: Iterable[ModelConfig]) -> dict[str, tuple[str, ...]]:
    """The extras a bundle of ``models`` declares, by the formats it ships: ``onnx`` when a model
    is ONNX, ``torch`` when one is PyTorch.  TorchScript directories (FunASR's funasr_torch, not on
    PyPI) and the files that are the same in every format (n-gram LM, ITN: the C++ runtime's) add none."""
    formats = {m.format for m in models if not FAMILIES[m.family].plain}
    wanted = {"onnx": "onnx" in formats, "torch": "pytorch" in formats}
    return {extra: RUNTIME_EXTRAS[extra] for extra, needed in wanted.items() if needed}


def extras_lines(project: str, extras: object) -> list[str]:
    """``pip install "<project>[<extra>]"`` and what it brings, a line per extra (``extras`` as a
    manifest holds it: read back from a wheel, so anything that is not a table of lists is skipped)."""
    if not isinstance(extras, dict):
        return []
    return [
        f'pip install "{project}[{extra}]"  ({", ".join(map(str, reqs))})'
        for extra, reqs in sorted(extras.items())
        if isinstance(extra, str) and isinstance(reqs, list)
    ]


_INIT = '''"""FunASR model bundle {project} {version}, built by hatch-funasr.

    import {package}
    {package}.path("NAME")   # directory for funasr_onnx / AutoModel / run_server.sh
    {package}.automodel("NAME", pipeline=True)   # funasr.AutoModel from the installed directories, no network
    {package}.names()        # {names}
    {package}.verify()       # re-hash installed files against the manifest
    {package}.verify_signatures(public_key="site.pub")  # and the signatures (needs model-signing)
"""

from ._funasr_runtime import (
    AutoModelError,
    SignatureError,
    VerificationError,
    automodel,
    automodel_args,
    automodel_kwargs,
    check_installed,
    manifest,
    names,
    path,
    server_args,
    verify,
    verify_signatures,
)

check_installed()  # a wheel that lost its model files (an interrupted build) is refused at import

__all__ = [
    "AutoModelError",
    "SignatureError",
    "VerificationError",
    "automodel",
    "automodel_args",
    "automodel_kwargs",
    "manifest",
    "names",
    "path",
    "server_args",
    "verify",
    "verify_signatures",
]
__version__ = "{version}"
'''

_MAIN = """from ._funasr_runtime import main

raise SystemExit(main())
"""


def pack_entries(config: BundleConfig, models: list[StagedModel]) -> list[PackEntry]:
    """Every model file with its path in the wheel, for :func:`hatch_funasr.pack.add_models`."""
    return [
        PackEntry(f"{config.package}/models/{s.config.dir_name}/{rel}", r.source, r.size, r.sha256)
        for s in models
        for rel, r in sorted(s.files.items())
    ]


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def manifest_entry(staged: StagedModel, relative_root: Path) -> dict[str, Any]:
    m = staged.config
    selection = staged.selection
    if isinstance(m.origin, LocalDir):
        try:
            local = m.origin.path.relative_to(relative_root).as_posix()
        except ValueError:
            local = m.origin.path.name
        origin: dict[str, Any] = {"repo": None, "hub": None, "path": local, "revision": None}
    else:
        origin = {"repo": m.origin.repo, "hub": m.origin.hub, "path": None, "revision": m.origin.revision}
    return {
        "alias": m.alias,
        **origin,
        "commit": staged.commit,
        "family": m.family,
        "format": m.format,
        # As the hub reports it (lock, listing); None: not reported, or a local directory.
        "license": staged.license,
        "quantized": staged.quantized,
        # The C++ servers load ONNX directories (and LM/ITN ones, the same in every format).
        "server_flag": FAMILIES[m.family].server_flag if m.format == "onnx" or FAMILIES[m.family].plain else None,
        "dir": f"models/{m.dir_name}",
        "files": {p: {"size": r.size, "sha256": r.sha256} for p, r in sorted(staged.files.items())},
        "derived": sorted(staged.derived),
        "quant_drift": dict(sorted(staged.drift.items())),
        # Per exported file: max abs difference of its outputs from the PyTorch model's on a
        # fixed input, measured where it was exported.
        "export_drift": dict(sorted(staged.export_drift.items())),
        "tools": dict(sorted(staged.tools.items())),
        # Which runtime mode the directory serves: "quantized" (funasr_onnx quantize=True,
        # C++ --quantize true), "fp32", or "both"; None for families without ONNX.
        "runtime": selection.runtime if selection else None,
        "advice": list(selection.advice) if selection else [],
        # config.yaml keys FunASR hands on as paths relative to the working directory; the
        # runtime module turns them into absolute ones (automodel_kwargs).
        "config_paths": dict(sorted(selection.config_paths.items())) if selection else {},
        "extra": [
            {"hub": e.hub, "repo": e.repo, "revision": e.revision, "commit": commit, "files": list(files)}
            for e, commit, files in staged.extra
        ],
        # format = "gguf": the variant, each GGUF file's role (model; encoder, llm; vad) and the
        # llama.cpp programs that run the directory (exec-server fills their flags from these).
        **(
            {
                "gguf_variant": m.gguf,
                "gguf": dict(sorted(selection.gguf.items())),
                "gguf_programs": gguf_programs(m.family, dict(selection.gguf)),
            }
            if m.format == "gguf" and selection
            else {}
        ),
    }


def build_manifest(config: BundleConfig, models: list[StagedModel]) -> Manifest:
    """The bundle's manifest: its one producer."""
    document = {
        "manifest_version": MANIFEST_VERSION,
        "hash_algorithm": HASH_ALGORITHM,
        "bundle": {
            "name": config.project_name,
            "version": config.version,
            "package": config.package,
            # pip install "<name>[<extra>]" brings the Python runtime of the bundle's directories.
            "extras": {k: list(v) for k, v in runtime_extras(s.config for s in models).items()},
        },
        "generator": {"hatch-funasr": __version__},
        "models": {s.config.name: manifest_entry(s, config.root) for s in models},
    }
    return read_manifest(document, "the staged manifest")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def write_package(
    config: BundleConfig,
    models: list[StagedModel],
    staging: Path,
    *,
    generate_init: bool,
    locations: Mapping[str, Path] | None = None,
    link_models: bool = True,
) -> tuple[Path, Manifest]:
    """Stage ``<package>/`` under ``staging``: model dirs (hard links where possible),
    manifest, runtime module and, unless the project has its own, ``__init__``/``__main__``.

    With ``locations`` (editable installs) model files are not staged at all: the runtime
    reads each model from the given directory instead.  With ``link_models`` false they are
    left for :func:`hatch_funasr.pack.add_models` (see :func:`pack_entries`).  Returns the
    package directory and the manifest written there.
    """
    pkg = staging / config.package
    pkg.mkdir(parents=True, exist_ok=True)
    if locations is not None or link_models:  # no packing pass follows: hash local files now
        models = [replace(s, files={p: r.hashed() for p, r in s.files.items()}) for s in models]
    if locations is None and link_models:
        for staged in models:
            target = pkg / "models" / staged.config.dir_name
            for rel, record in sorted(staged.files.items()):
                link_or_copy(record.source, target / rel)
    elif locations is not None:
        payload = {name: str(path) for name, path in sorted(locations.items())}
        _write_text(pkg / LOCATIONS_NAME, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    manifest = build_manifest(config, models)
    (pkg / MANIFEST_NAME).write_bytes(manifest.to_bytes())
    runtime = resource_files("hatch_funasr").joinpath("_bundle_runtime.py").read_text("utf-8")
    _write_text(pkg / RUNTIME_NAME, runtime)
    if generate_init:
        names = ", ".join(sorted(s.config.name for s in models))
        _write_text(
            pkg / "__init__.py",
            _INIT.format(project=config.project_name, version=config.version, package=config.package, names=names),
        )
        _write_text(pkg / "__main__.py", _MAIN)
        _write_text(pkg / "py.typed", "")
    return pkg, manifest
