"""Runtime of a FunASR model bundle built by hatch-funasr (standard library only).

This file is copied verbatim into every bundle package as ``_funasr_runtime.py``.  It finds
the installed model directories, reads the manifest written at build time and re-hashes
the installed files against it.  It must run on Python 3.8+ with no third-party package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["VerificationError", "automodel_kwargs", "main", "manifest", "names", "path", "server_args", "verify"]

_HERE = Path(__file__).resolve().parent
_MANIFEST = "funasr_manifest.json"
#: Written only into editable installs: model name -> absolute directory outside site-packages.
_LOCATIONS = "_funasr_locations.json"
_CHUNK = 1 << 20


class VerificationError(ValueError):
    """An installed model file is missing or differs from the manifest."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("installed model files do not match the manifest:\n" + "\n".join(self.problems))


_cache: Dict[str, Any] = {}


def manifest() -> Dict[str, Any]:
    """The bundle manifest: bundle name and version, and per model its provenance and files."""
    if "manifest" not in _cache:
        with open(_HERE / _MANIFEST, encoding="utf-8") as f:
            _cache["manifest"] = json.load(f)
    return _cache["manifest"]  # type: ignore[no-any-return]


def names() -> List[str]:
    """The names of the models in this bundle, sorted."""
    return sorted(manifest()["models"])


def _locations() -> Dict[str, str]:
    if "locations" not in _cache:
        loc = _HERE / _LOCATIONS
        _cache["locations"] = json.loads(loc.read_text("utf-8")) if loc.is_file() else {}
    return _cache["locations"]  # type: ignore[no-any-return]


def path(name: str) -> Path:
    """The directory of model ``name``: pass it to funasr_onnx, AutoModel or run_server.sh."""
    models = manifest()["models"]
    if name not in models:
        raise KeyError(f"no model named {name!r} in this bundle; it has: {', '.join(names())}")
    located = _locations().get(name)
    return Path(located) if located else _HERE / models[name]["dir"]


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(model_names: Optional[Sequence[str]] = None) -> None:
    """Re-hash the installed files of every (or the named) model; raise on any difference."""
    problems: List[str] = []
    for name in model_names or names():
        root = path(name)
        for rel, info in sorted(manifest()["models"][name]["files"].items()):
            file = root / rel
            if not file.is_file():
                problems.append(f"{name}: {file}: missing")
            elif file.stat().st_size != info["size"]:
                problems.append(f"{name}: {file}: size {file.stat().st_size}, expected {info['size']}")
            elif _sha256(file) != info["sha256"]:
                problems.append(f"{name}: {file}: sha256 {_sha256(file)}, expected {info['sha256']}")
    if problems:
        raise VerificationError(problems)


def automodel_kwargs(name: str) -> Dict[str, Any]:
    """Keyword arguments for ``funasr.AutoModel(model=str(path(name)), **automodel_kwargs(name))``.

    FunASR hands some config.yaml values on as paths relative to the working directory
    (Fun-ASR-Nano's ``llm_conf.init_param_path: Qwen3-0.6B``); a directory name that is not
    found there is taken for a hub repository and downloaded.  These overrides point each
    such key at the installed directory instead.
    """
    root = path(name)
    kwargs: Dict[str, Any] = {}
    for dotted, relative in sorted(manifest()["models"][name].get("config_paths", {}).items()):
        *sections, key = dotted.split(".")
        table = kwargs
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = str(root / relative)
    return kwargs


def server_args(wss: bool = False) -> List[str]:
    """Arguments for FunASR's ``run_server.sh``: ``--model-dir … --vad-dir …``.

    With ``wss`` also the ``funasr-wss-server`` switches that choose quantized models
    (``--quantize``, ``--vad-quant``, ``--punc-quant``), which run_server.sh does not accept.
    """
    quant_flag = {"--model-dir": "--quantize", "--vad-dir": "--vad-quant", "--punc-dir": "--punc-quant"}
    args: List[str] = []
    quant: List[str] = []
    seen = set()
    for name in names():
        info = manifest()["models"][name]
        flag = info.get("server_flag")
        if not flag or flag in seen:
            continue
        seen.add(flag)
        args += [flag, str(path(name))]
        if flag in quant_flag:
            quant += [quant_flag[flag], "false" if info.get("runtime") == "fp32" else "true"]
    return args + quant if wss else args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m <bundle> path NAME | names | json | verify [NAME…] | server-args [--wss]``."""
    prog = __package__ or "bundle"
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("names", help="list the model names")
    p_path = sub.add_parser("path", help="print a model's directory")
    p_path.add_argument("name")
    sub.add_parser("json", help="print the manifest")
    p_verify = sub.add_parser("verify", help="re-hash installed files against the manifest")
    p_verify.add_argument("names", nargs="*")
    p_server = sub.add_parser("server-args", help="print run_server.sh arguments")
    p_server.add_argument("--wss", action="store_true", help="add funasr-wss-server's quantization switches")
    args = parser.parse_args(argv)
    try:
        if args.command == "names":
            print("\n".join(names()))
        elif args.command == "path":
            print(path(args.name))
        elif args.command == "json":
            print(json.dumps(manifest(), indent=2, sort_keys=True))
        elif args.command == "verify":
            verify(args.names or None)
            count = sum(len(manifest()["models"][n]["files"]) for n in (args.names or names()))
            print(f"ok: {count} files match the manifest")
        else:
            print(" ".join(shlex.quote(a) for a in server_args(args.wss)))
    except (KeyError, VerificationError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 1
    return 0
