"""Runtime of a FunASR model bundle built by hatch-funasr (standard library only).

This file is copied verbatim into every bundle package as ``_funasr_runtime.py``.  It finds
the installed model directories, reads the manifest written at build time and re-hashes
the installed files against it.  It must run on Python 3.8+ with no third-party package.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

__all__ = [
    "PIPELINE_ROLES",
    "PROGRAMS",
    "SERVER_ASR",
    "AutoModelError",
    "ManifestError",
    "ServerError",
    "SignatureError",
    "VerificationError",
    "automodel",
    "automodel_args",
    "automodel_kwargs",
    "check_installed",
    "exec_server",
    "funasr_server_for",
    "funasr_server_plan",
    "gguf_plan_for",
    "gguf_programs",
    "main",
    "manifest",
    "names",
    "path",
    "plan_for",
    "printable",
    "server_args",
    "server_plan",
    "signed",
    "verify",
    "verify_signatures",
]

_HERE = Path(__file__).resolve().parent
_MANIFEST = "funasr_manifest.json"
#: Written only into editable installs: model name -> absolute directory outside site-packages.
_LOCATIONS = "_funasr_locations.json"
_CHUNK = 1 << 20
#: A manifest larger than this is not one (it lists a few hundred files at most).
MAX_MANIFEST = 16 << 20


class VerificationError(ValueError):
    """An installed model file is missing or differs from the manifest."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("installed model files do not match the manifest:\n" + "\n".join(self.problems))


class ManifestError(VerificationError):
    """The installed manifest (or editable-locations file) is not one hatch-funasr wrote: one line."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])
        self.args = (f"{problem}; reinstall the bundle from its wheel",)

    def __str__(self) -> str:
        return str(self.args[0])


_cache: Dict[str, Any] = {}
#: Characters that move a terminal's cursor or change what it draws (C0, DEL, C1 controls,
#: and the bidirectional overrides that reorder a line).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, lines: bool = False) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``, ``\\n``): text read
    from outside (a hub, a wheel, an installed manifest) printed this way cannot draw on a
    terminal or add lines.  ``lines``: a message of several lines, its line breaks kept."""
    if lines:
        return "\n".join(printable(line) for line in str(text).split("\n"))
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], str(text))


def _relative(name: object, what: str) -> str:
    """``name`` if it is a relative path inside its directory (installed files are not trusted)."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if (
        not isinstance(name, str)
        or name.startswith(("/", "-"))
        or "\\" in name
        or ":" in name
        or _UNPRINTABLE.search(name)
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ManifestError(f"the manifest names {what} {name!r}, which is not a path inside the bundle")
    return name


def _expect(value: object, kinds: Tuple[type, ...], what: str) -> Any:
    """``value`` if it is one of ``kinds`` (JSON's: dict, list, str, int, None)."""
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        spelled: Dict[type, str] = {dict: "a table", list: "a list", str: "text", int: "a whole number"}
        names = " or ".join(spelled.get(k, "null") for k in kinds)
        raise ManifestError(f"the manifest's {what} is {printable(repr(value))[:80]}, not {names}")
    return value


_SHA256 = re.compile("^[0-9a-f]{64}$")
_TEXT_FIELDS = ("alias", "repo", "hub", "path", "revision", "commit", "family", "format", "license", "runtime")


def _check_model(name: str, model: object) -> None:
    """One model entry, as :mod:`hatch_funasr.package` writes it (keys it lacks are allowed; a
    model without ``files`` lists none, and is given an empty table)."""
    _relative(name, "a model")
    entry = _expect(model, (dict,), f"model {name}")
    _relative(entry.get("dir"), f"for model {name} the directory")
    for rel, listed in _expect(entry.setdefault("files", {}), (dict,), f"files of model {name}").items():
        _relative(rel, f"for model {name} the file")
        info = _expect(listed, (dict,), f"entry of {name}/{rel}")
        size = _expect(info.get("size"), (int,), f"size of {name}/{rel}")
        sha256 = _expect(info.get("sha256"), (str,), f"sha256 of {name}/{rel}")
        if size < 0 or not _SHA256.match(sha256):
            raise ManifestError(f"the manifest's entry of {name}/{rel} is not a size and a sha256")
    for key in _TEXT_FIELDS:
        _expect(entry.get(key), (str, type(None)), f"{key} of model {name}")
    flag = _expect(entry.get("server_flag"), (str, type(None)), f"server_flag of model {name}")
    if flag is not None and flag not in _ROLE_NAMES:
        raise ManifestError(f"the manifest's server_flag of model {name} is {printable(repr(flag))}, not a role flag")
    for key, rel in _expect(entry.get("config_paths", {}), (dict,), f"config_paths of model {name}").items():
        _relative(rel, f"for model {name} the config path {printable(key)}")
    for kind in ("derived", "advice", "extra"):
        _expect(entry.get(kind, []), (list,), f"{kind} of model {name}")
    for kind in ("quant_drift", "export_drift", "tools"):
        _expect(entry.get(kind) or {}, (dict,), f"{kind} of model {name}")


def validated(loaded: object) -> Dict[str, Any]:
    """A manifest read back from an installed bundle or a wheel, checked whole before any use
    (neither is trusted): :class:`ManifestError` in one line for anything hatch-funasr would
    not have written.  A manifest without ``models`` is an empty bundle (given an empty table)."""
    top = _expect(loaded, (dict,), "top level")
    bundle = _expect(top.get("bundle", {}), (dict,), "bundle")
    for key in ("name", "version", "package"):
        _expect(bundle.get(key, ""), (str,), f"bundle {key}")
    for name, model in _expect(top.setdefault("models", {}), (dict,), "models").items():
        _check_model(name, model)
    return top  # type: ignore[no-any-return]


def manifest() -> Dict[str, Any]:
    """The bundle manifest: bundle name and version, and per model its provenance and files."""
    if "manifest" not in _cache:
        file = _HERE / _MANIFEST
        try:
            with open(file, "rb") as f:
                data = f.read(MAX_MANIFEST + 1)
        except OSError as e:
            raise ManifestError(f"{file}: cannot be read ({e.strerror or e})") from None
        if len(data) > MAX_MANIFEST:
            raise ManifestError(f"{file} is over {MAX_MANIFEST} bytes: not a manifest")
        try:
            loaded = json.loads(data)  # bytes: UTF-8 (or the UTF-16/32 JSON allows)
        except ValueError as e:  # not UTF-8, not JSON
            raise ManifestError(f"{file} is not JSON ({printable(e)})") from None
        _check_format(loaded)
        _cache["manifest"] = validated(loaded)
    return _cache["manifest"]  # type: ignore[no-any-return]


#: How the manifest's sha256 values were computed; a manifest written before the key existed is sha256.
_HASH_ALGORITHM = "sha256"


def _check_format(loaded: object) -> None:
    """A manifest whose digests this runtime cannot recompute is refused, never compared."""
    algorithm = loaded.get("hash_algorithm", _HASH_ALGORITHM) if isinstance(loaded, dict) else _HASH_ALGORITHM
    if algorithm != _HASH_ALGORITHM:
        raise ManifestError(
            f"{_HERE / _MANIFEST}: hash_algorithm {algorithm!r} is not one this runtime checks ({_HASH_ALGORITHM})"
        )


def _models() -> Dict[str, Any]:
    return manifest()["models"]  # type: ignore[no-any-return]  # validated: always a table


def check_installed() -> None:
    """Every model file the manifest lists is present (a stat each): called when the bundle is
    imported, so a wheel that lost its models (an interrupted build) is refused at once.  A
    manifest that is not one is said where it is used (one line), not here as a traceback."""
    try:
        _models()
    except VerificationError:
        return
    missing = [
        f"{name}: {path(name) / rel}"
        for name in names()
        for rel in _models()[name]["files"]
        if not (path(name) / rel).is_file()
    ]
    if missing:
        shown = "\n".join(missing[:10]) + (f"\n... and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ImportError(
            f"{__package__}: {len(missing)} model file(s) of this bundle are not installed (a wheel from an "
            f"interrupted build?); reinstall it from a complete wheel:\n{shown}"
        )


def names() -> List[str]:
    """The names of the models in this bundle, sorted."""
    return sorted(_models())


def _locations() -> Dict[str, str]:
    """An editable install's model directories (absolute paths), checked like the manifest."""
    if "locations" not in _cache:
        loc = _HERE / _LOCATIONS
        try:
            found = json.loads(loc.read_bytes()) if loc.is_file() else {}
        except (OSError, ValueError) as e:
            raise ManifestError(f"{loc} is not JSON ({printable(e)})") from None
        for name, where in _expect(found, (dict,), "editable locations").items():
            if not isinstance(where, str) or not Path(where).is_absolute() or _UNPRINTABLE.search(where):
                raise ManifestError(
                    f"{loc} gives model {printable(name)} {printable(repr(where))}, not an absolute path"
                )
        _cache["locations"] = found
    return _cache["locations"]  # type: ignore[no-any-return]


def path(name: str) -> Path:
    """The directory of model ``name``: pass it to funasr_onnx, AutoModel or run_server.sh."""
    models = _models()
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
        listed = _models()[name]["files"]
        if root.is_dir():
            present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
            unexpected = sorted(present - set(listed) - set(_SIGNED_BY_BUILD))
            problems += [f"{name}: {root / rel}: not in the manifest (planted?)" for rel in unexpected]
        for rel, info in sorted(listed.items()):
            file = root / rel
            if not file.is_file():
                problems.append(f"{name}: {file}: missing")
            elif file.stat().st_size != info["size"]:
                problems.append(f"{name}: {file}: size {file.stat().st_size}, expected {info['size']}")
            else:
                actual = _sha256(file)
                if actual != info["sha256"]:
                    problems.append(f"{name}: {file}: sha256 {actual}, expected {info['sha256']}")
    if problems:
        raise VerificationError(problems)


# ---- Signatures (OpenSSF Model Signing), checked with model-signing when it is installed -------

#: Written into each model directory by a build with a signing key; not in the manifest (they cover it).
_SIGNATURE = "model.sig"
_BUNDLE_FILES = "funasr_bundle_files.json"
_SIGNED_BY_BUILD = (_SIGNATURE, _BUNDLE_FILES)


class SignatureError(VerificationError):
    """A model directory's signature is missing, does not verify, or cannot be checked here."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        ValueError.__init__(self, "model signatures do not verify (nothing is vouched for):\n" + "\n".join(problems))


def signed() -> List[str]:
    """The models whose directory carries a signature (checked or not)."""
    return [n for n in names() if (path(n) / _SIGNATURE).is_file()]


def verify_signatures(
    public_key: Optional[str] = None,
    certificate_chain: Sequence[str] = (),
    model_names: Optional[Sequence[str]] = None,
) -> int:
    """Check every (or the named) model directory's signature with ``model-signing``, against
    ``public_key`` or a ``certificate_chain`` (PEM files), offline, then the bundle files the
    signature vouches for (manifest, SBOM, runtime).  Returns the number of directories checked;
    :class:`SignatureError` on any failure, including model-signing not being installed."""
    if (public_key is None) == (not certificate_chain):
        raise SignatureError(["give a public key or a certificate chain (one of them) to check signatures against"])
    try:
        model_signing: Any = importlib.import_module("model_signing")  # optional: not the standard library
    except ImportError:
        raise SignatureError(
            [
                "checking signatures needs the model-signing package, which is not installed here: "
                "pip install model-signing (no signature was checked)"
            ]
        ) from None
    problems: List[str] = []
    wanted = list(model_names or names())
    for name in wanted:
        root = path(name)
        signature = root / _SIGNATURE
        if not signature.is_file():
            problems.append(f"{name}: {signature}: missing; this model directory is not signed")
            continue
        config = model_signing.verifying.Config()
        if public_key is not None:
            config.use_elliptic_key_verifier(public_key=public_key)
        else:
            config.use_certificate_verifier(certificate_chain=list(certificate_chain))
        config.set_hashing_config(model_signing.hashing.Config().set_ignored_paths(paths=[_SIGNATURE]))
        try:
            config.verify(root, signature)
        except Exception as e:  # whatever model-signing raises, the directory is not vouched for
            problems.append(f"{name}: {root}: {' '.join(str(e).split()) or type(e).__name__}")
            continue
        problems += _check_bundle_files(name, root)
    if problems:
        raise SignatureError(problems)
    return len(wanted)


def _check_bundle_files(name: str, root: Path) -> List[str]:
    """The bundle's files outside the model directories, against the sha256 the (verified)
    signature vouches for through ``funasr_bundle_files.json``."""
    try:
        listing = json.loads((root / _BUNDLE_FILES).read_bytes())
        files = dict(listing["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return [f"{name}: {root / _BUNDLE_FILES}: not the signed list of the bundle's files ({e})"]
    bundle = {k: manifest()["bundle"].get(k) for k in ("name", "version", "package")}
    if listing.get("hash_algorithm") != _HASH_ALGORITHM or listing.get("bundle") != bundle:
        return [f"{name}: {root / _BUNDLE_FILES} was signed for another bundle or format: {listing.get('bundle')}"]
    site = _HERE.parent  # wheel paths are relative to the installation's root
    problems = []
    for arcname, sha256 in sorted(files.items()):
        file = site / _relative(arcname, "a signed file")
        actual = _sha256(file) if file.is_file() else None
        if actual != sha256:
            problems.append(
                f"{name}: {file}: " + (f"sha256 {actual}, signed {sha256}" if actual else "signed, and missing")
            )
    return problems


def automodel_kwargs(name: str) -> Dict[str, Any]:
    """Keyword arguments for ``funasr.AutoModel(model=str(path(name)), **automodel_kwargs(name))``.

    FunASR hands some config.yaml values on as paths relative to the working directory
    (Fun-ASR-Nano's ``llm_conf.init_param_path: Qwen3-0.6B``); a directory name that is not
    found there is taken for a hub repository and downloaded.  These overrides point each
    such key at the installed directory instead.
    """
    root = path(name)
    kwargs: Dict[str, Any] = {}
    for dotted, relative in sorted(_models()[name].get("config_paths", {}).items()):
        *sections, key = dotted.split(".")
        table = kwargs
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = str(root / relative)
    return kwargs


# ---- FunASR's Python runtime: AutoModel and funasr-server, from the installed directories ------
#
# Read from FunASR (1.4.16; ``A`` = funasr/auto/auto_model.py, ``D`` =
# funasr/download/download_model_from_hub.py, ``S`` = funasr/bin/_server_app.py):
# - AutoModel checks PyPI for a newer funasr at every construction unless ``disable_update=True``
#   (A: ``check_for_update``, funasr/utils/version_checker.py): always passed here.
# - A ``model`` (or ``vad_model``, ``punc_model``, ``spk_model``) value that is not an existing
#   path is taken for a hub id and downloaded (D: ``download_from_ms``); an existing directory is
#   read through its configuration.json ``file_path_metas`` (D), so only installed directories
#   are passed, each role's keyword arguments under ``vad_kwargs``, ``punc_kwargs``, ``spk_kwargs``.
# - funasr-server (funasr/bin/server.py) loads ``--model-path`` alone as the model named
#   ``custom`` (S: ``_load_fallback``, no VAD or punctuation for it) and ``--spk-model`` (default
#   ``cam++``, a hub id) at the first ``spk=true`` request; ``""`` turns the speaker model off (S:
#   ``_load_spk_model``).  A request that does not name ``model=custom`` loads the default model
#   (``fun-asr-nano``) from the hub: the server cannot be told otherwise.


_NO_REALTIME_SERVER = (
    "cannot be started from a bundle: its ASR is Fun-ASR-Nano through vLLM (funasr/bin/realtime_ws.py, "
    "AutoModelVLLM), and it loads its VAD as the hub id fsmn-vad with no flag for a directory"
)


class AutoModelError(ValueError):
    """A model of this bundle cannot be loaded the way it was asked for."""


#: AutoModel's keywords for the models it runs around the ASR model, and the families they take.
PIPELINE_ROLES = {"vad_model": ("fsmn-vad",), "punc_model": ("ct-punc", "ct-punc-realtime"), "spk_model": ("campplus",)}
#: Families funasr-server can run as its ``--model-path`` model (non-LLM ASR through AutoModel).
SERVER_ASR = ("paraformer", "paraformer-contextual", "sensevoice", "whisper", "fun-asr-nano")


def _pytorch_model(models: Dict[str, Dict[str, Any]], name: str, why: str) -> Dict[str, Any]:
    entry = models.get(name)
    if entry is None:
        raise AutoModelError(f"{why}: no model named {name!r} in this bundle; it has: {', '.join(sorted(models))}")
    if entry.get("format") != "pytorch":
        raise AutoModelError(
            f"{why}: model {name} is in {entry.get('format')} format; AutoModel loads PyTorch models "
            '(declare it with format = "pytorch"; ONNX models run in funasr_onnx or FunASR\'s C++ runtime)'
        )
    return entry


def _pytorch_of(models: Dict[str, Dict[str, Any]], families: Sequence[str]) -> List[str]:
    """The PyTorch models of ``families`` among ``models``, by name."""
    return [n for n in sorted(models) if models[n].get("family") in families and models[n].get("format") == "pytorch"]


def automodel_args(name: str, *, pipeline: bool = False, **kwargs: Any) -> Dict[str, Any]:
    """The keyword arguments of ``funasr.AutoModel`` that load model ``name`` from its installed
    directory with no network: ``model`` is the directory, ``disable_update`` is True, and each
    of ``vad_model``, ``punc_model``, ``spk_model`` given as the name of a model of this bundle
    becomes its directory (``pipeline=True`` fills the ones not given from the bundle's models
    of those families).  Other ``kwargs`` are passed on as they are.  A role that is neither a
    model of this bundle nor an existing directory is refused: AutoModel would download it."""
    models = _models()
    _pytorch_model(models, name, "AutoModel")
    args: Dict[str, Any] = {"model": str(path(name)), **automodel_kwargs(name)}
    for role, families in PIPELINE_ROLES.items():
        value = kwargs.pop(role, None)
        if value is None and pipeline:
            value = next(iter(_pytorch_of(models, families)), None)
        if value is None:
            continue
        if value in models:
            _pytorch_model(models, value, role)
            args[role] = str(path(value))
            extra = automodel_kwargs(value)
            if extra:
                args[role.replace("_model", "_kwargs")] = {**extra, **kwargs.pop(role.replace("_model", "_kwargs"), {})}
        elif isinstance(value, (str, os.PathLike)) and Path(value).is_dir():
            args[role] = str(value)
        else:
            raise AutoModelError(
                f"{role}={value!r} is neither a model of this bundle ({', '.join(names())}) nor a directory; "
                "AutoModel would download it from a hub"
            )
    args.update(kwargs)
    args["disable_update"] = True
    return args


def automodel(name: str, *, pipeline: bool = False, **kwargs: Any) -> Any:
    """``funasr.AutoModel(**automodel_args(name, pipeline=pipeline, **kwargs))``: model ``name``
    (and, for a pipeline, the bundle's VAD, punctuation and speaker models) from the installed
    directories, with no network.  funasr is imported here, not before."""
    args = automodel_args(name, pipeline=pipeline, **kwargs)
    from funasr import AutoModel  # the runtime stays stdlib-only until a model is loaded

    return AutoModel(**args)


def funasr_server_plan(user_args: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """The arguments of ``funasr-server`` (funasr/bin/server.py) for this bundle: ``--model-path``
    the installed ASR model (a bundle model's name given there is replaced by its directory),
    ``--spk-model`` the installed CAM++ or ``""`` (off), then ``user_args``; and notes."""
    return funasr_server_for(_models(), lambda name: str(path(name)), user_args)


def funasr_server_for(
    models: Dict[str, Dict[str, Any]], where: Any, user_args: Sequence[str] = ()
) -> Tuple[List[str], List[str]]:
    """:func:`funasr_server_plan` for ``models`` (manifest entries: ``family``, ``format``) found
    at ``where(name)``; ``hatch-funasr check`` uses it on a declaration."""
    given = _flags_given(user_args)
    args: List[str] = []
    notes: List[str] = []
    user = list(user_args)

    def located(name: str) -> str:
        _pytorch_model(models, name, "funasr-server --model-path")
        return str(where(name))

    for i, arg in enumerate(user):
        flag, eq, value = arg.partition("=")
        if flag == "--model-path" and eq and value in models:
            user[i] = f"--model-path={located(value)}"
        elif arg == "--model-path" and i + 1 < len(user) and user[i + 1] in models:
            user[i + 1] = located(user[i + 1])
    if "--model-path" not in given:
        asr = _pytorch_of(models, SERVER_ASR)
        if len(asr) != 1:
            found = ", ".join(asr) or "none"
            raise ServerError(
                "cannot start funasr-server with this bundle: it runs one PyTorch ASR model "
                f"({', '.join(SERVER_ASR)}) and the bundle has {found}; give --model-path NAME"
            )
        args += ["--model-path", str(where(asr[0]))]
    if "--spk-model" not in given:
        spk = _pytorch_of(models, ("campplus",))
        args += ["--spk-model", str(where(spk[0])) if spk else ""]
        if not spk:
            notes.append("--spk-model '': the bundle has no speaker model, so spk=true requests get no speaker labels")
    notes.append("requests must send model=custom (the bundle's model); any other model is fetched from a hub")
    return args + user, notes


def _exec_funasr_server(binary: str, user_args: Sequence[str]) -> None:
    args, notes = funasr_server_plan(user_args)
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    if os.sep in binary:  # a funasr-server console script named by path
        if not Path(binary).is_file():
            raise ServerError(f"{binary}: no such program (give its path, or just funasr-server)")
        os.execv(binary, [binary, *args])
    import importlib.util

    if importlib.util.find_spec("funasr") is None:
        raise ServerError(f"funasr-server: funasr is not installed in {sys.executable} (pip install funasr)")
    os.execv(sys.executable, [sys.executable, "-m", "funasr.bin.server", *args])


# ---- FunASR's C++ programs: which flag takes which model, and how each role is turned off ------
#
# Read from FunASR's source (3c58cb5; ``W`` = runtime/websocket/bin/funasr-wss-server.cpp,
# ``W2`` = funasr-wss-server-2pass.cpp, ``B`` = runtime/onnxruntime/bin, ``S`` =
# runtime/onnxruntime/src) and checked against the built binaries:
# - funasr-wss-server fetches every role whose flag is absent *or* a hub id: ITN and LM have hub
#   ids as defaults and are fetched even when not given (W:322, W:364); "" turns off VAD, PUNC,
#   ITN and LM (W:205-238, W:322, W:364, W:407-440); --model-dir cannot be turned off ("" loads
#   /config.yaml and exits: S/util.cpp:76-91, S/paraformer.cpp:170-178).
# - funasr-wss-server-2pass has hub ids as defaults for every role (W2:45-134); it needs the
#   offline and the online model (S/tpass-stream.cpp:52-78) and a VAD (without one the first
#   stream exits the server: S/tpass-online-stream.cpp:6-11); "" turns off PUNC, ITN, LM.
# - For a local directory both servers run ``python -m funasr.download.runtime_sdk_download_tool``
#   (W:210-213, W:283-286, W:327-332, W:369-374, W:412-415); with the directory's files present it
#   neither downloads nor writes (funasr/download/runtime_sdk_download_tool.py:25-55), so the
#   quantization flags passed here always match the files the bundle ships.
# - The servers treat only "false" as fp32 in their checks, the library only "true" as quantized
#   (W:226, S/offline-stream.cpp:13,75,113): exactly "true" or "false" is passed.
# - run_server.sh / run_server_2pass.sh accept only the role flags (runtime/tools/utils/
#   parse_options.sh:59-66): no --quantize, and run_server.sh no --online-model-dir.
REQUIRED = None  # a role that cannot be turned off


class ServerError(ValueError):
    """The bundle and the program do not fit together (a role it cannot take or cannot miss)."""


_WSS_ROLES = {"--model-dir": REQUIRED, "--vad-dir": "", "--punc-dir": "", "--lm-dir": "", "--itn-dir": ""}
_TPASS_ROLES = {
    "--model-dir": REQUIRED,
    "--online-model-dir": REQUIRED,
    "--vad-dir": REQUIRED,
    "--punc-dir": "",
    "--lm-dir": "",
    "--itn-dir": "",
}
_QUANT = {"--model-dir": "--quantize", "--online-model-dir": "--quantize", "--vad-dir": "--vad-quant"}
_QUANT["--punc-dir"] = "--punc-quant"

#: program -> (roles: flag -> value that turns the role off or REQUIRED, quantization flags,
#: the punctuation family it loads, flag renames for single-model tools, run with bash)
PROGRAMS: Dict[str, Dict[str, Any]] = {
    "funasr-wss-server": {"roles": _WSS_ROLES, "quant": _QUANT, "punc": "ct-punc"},
    "funasr-wss-server-2pass": {"roles": _TPASS_ROLES, "quant": _QUANT, "punc": "ct-punc-realtime"},
    "funasr-onnx-offline": {"roles": _WSS_ROLES, "quant": _QUANT, "punc": "ct-punc"},
    "funasr-onnx-2pass": {"roles": _TPASS_ROLES, "quant": _QUANT, "punc": "ct-punc-realtime"},
    "funasr-onnx-offline-vad": {
        "roles": {"--vad-dir": REQUIRED},
        "rename": {"--vad-dir": "--model-dir"},
        "quant": {"--vad-dir": "--quantize"},
    },
    "funasr-onnx-offline-punc": {
        "roles": {"--punc-dir": REQUIRED},
        "rename": {"--punc-dir": "--model-dir"},
        "quant": {"--punc-dir": "--quantize"},
        "punc": "ct-punc",
    },
    "run_server.sh": {"roles": _WSS_ROLES, "quant": {}, "punc": "ct-punc", "script": True},
    "run_server_2pass.sh": {"roles": _TPASS_ROLES, "quant": {}, "punc": "ct-punc-realtime", "script": True},
}
_ROLE_NAMES = {
    "--model-dir": "an offline ASR model",
    "--online-model-dir": "a streaming ASR model",
    "--vad-dir": "a VAD model",
    "--punc-dir": "a punctuation model",
    "--lm-dir": "an n-gram LM",
    "--itn-dir": "an ITN model",
}
_WHY_REQUIRED = {
    "--model-dir": '"" makes it load /config.yaml and exit (util.cpp:76-91, paraformer.cpp:170-178)',
    "--online-model-dir": "the 2-pass programs exit without it (tpass-stream.cpp:75-78, paraformer.cpp:194-202)",
    "--vad-dir": "the 2-pass programs exit at the first stream without it (tpass-online-stream.cpp:6-11)",
}


def _program(binary: str) -> Tuple[str, Dict[str, Any]]:
    kind = Path(binary).name
    if kind == "funasr-realtime-server":
        raise ServerError(f"{binary}: {_NO_REALTIME_SERVER}")
    if kind not in PROGRAMS:
        known = ", ".join(sorted([*PROGRAMS, *_GGUF_PROGRAMS, "funasr-server"]))
        raise ServerError(f"{binary}: not a FunASR program this bundle knows how to start (known: {known})")
    return kind, PROGRAMS[kind]


def _flags_given(user_args: Sequence[str]) -> Set[str]:
    """The flags among ``user_args`` (``--flag value``, ``--flag=value``, ``-m value``)."""
    return {a.partition("=")[0] for a in user_args if a.startswith("-")}


def server_plan(binary: str, user_args: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """The arguments for ``binary`` (a FunASR C++ program or run_server*.sh): each role the
    bundle has, the value that turns off each role it lacks, quantization flags matching the
    files shipped, then ``user_args`` (a flag given there replaces the bundle's).  Also notes
    on what was turned off.  :class:`ServerError` when the bundle and program do not fit."""
    if Path(binary).name == "funasr-server":
        return funasr_server_plan(user_args)
    return plan_for(binary, _models(), lambda name: str(path(name)), user_args)


def plan_for(
    binary: str, models: Dict[str, Dict[str, Any]], where: Any, user_args: Sequence[str] = ()
) -> Tuple[List[str], List[str]]:
    """:func:`server_plan` for ``models`` (manifest entries: ``server_flag``, ``family``,
    ``runtime``) found at ``where(name)``; the build uses it to check a declaration."""
    if Path(binary).name in _GGUF_PROGRAMS:
        return gguf_plan_for(binary, models, where, user_args)
    kind, spec = _program(binary)
    by_flag: Dict[str, str] = {}
    for name in sorted(models):
        flag = models[name].get("server_flag")
        if flag:
            if flag in by_flag:
                raise ServerError(f"models {by_flag[flag]} and {name} both take {flag}; {kind} takes one")
            by_flag[flag] = name
    roles = spec["roles"]
    single = "rename" in spec
    problems = []
    for flag, name in by_flag.items():
        family = models[name]["family"]
        if flag not in roles and not single:
            problems.append(f"model {name} ({family}) needs {flag}, which {kind} does not take")
        elif flag == "--punc-dir" and flag in roles and spec.get("punc") not in (None, family):
            problems.append(f"model {name} is {family}; {kind} loads punctuation as {spec['punc']}")
    given = _flags_given(user_args)
    args: List[str] = []
    quant: Dict[str, str] = {}
    notes: List[str] = []
    for flag, off in roles.items():
        target = spec.get("rename", {}).get(flag, flag)
        owner = by_flag.get(flag)
        if owner is not None:
            value = "false" if models[owner].get("runtime") == "fp32" else "true"
            switch = spec["quant"].get(flag)
            if switch is None and value == "false":
                problems.append(f"model {owner} ships fp32 only, and {kind} takes no quantization flag")
            elif switch is not None and quant.setdefault(switch, value) != value:
                problems.append(f"{switch} is one switch for several models of {kind}, and they differ here")
            if target not in given:
                args += [target, where(owner)]
        elif off is REQUIRED:
            why = "it is the one model it runs" if single else _WHY_REQUIRED[flag]
            problems.append(f"{kind} needs {_ROLE_NAMES[flag]} ({flag}): {why}; the bundle has none")
        elif target not in given:
            args += [target, off]
            role = _ROLE_NAMES[flag].split(" ", 1)[1]  # without its article: "a VAD model" -> "VAD model"
            notes.append(f"{target} {off!r}: the bundle has no {role}, so {kind} runs without one")
    for switch, value in quant.items():
        if switch not in given:
            args += [switch, value]
    if problems:
        raise ServerError(f"cannot start {kind} with this bundle:\n" + "\n".join(f"  - {p}" for p in problems))
    return args + list(user_args), notes


# ---- FunASR's llama.cpp programs (runtime/llama.cpp, FunASR 3c58cb5) -------------------------
#
# One-shot programs, one per model; each opens only the GGUF files named on its command line
# (vocabularies and CMVN are inside them) and the audio, and reaches no network (CMakeLists.txt:34
# LLAMA_CURL OFF).  The ASR programs take the FSMN-VAD GGUF with --vad, optional
# (funasr-common/funasr_vad.h); without it they transcribe the whole file at once.
#   llama-funasr-vad        -m fsmn-vad.gguf -a AUDIO                     funasr-vad/funasr-vad.cpp
#   llama-funasr-sensevoice -m sensevoice.gguf -a AUDIO [--vad VAD]       sensevoice/.../funasr-sensevoice.cpp
#   llama-funasr-paraformer -m paraformer.gguf -a AUDIO [--vad VAD]       paraformer/.../funasr-paraformer.cpp
#   llama-funasr-cli        --enc encoder.gguf -m qwen3.gguf -a AUDIO [--vad VAD]   fun-asr-nano/funasr-cli
#   llama-funasr-encoder    -m encoder.gguf -f fbank.bin                  fun-asr-nano/funasr-encoder
#   llama-funasr-embd       -m qwen3.gguf -e embeds.bin                   fun-asr-nano/funasr-embd
#: program -> (the family it runs, flag -> role of the model's GGUF file, the flag taking the VAD or None)
_GGUF_PROGRAMS: Dict[str, Tuple[str, Dict[str, str], Optional[str]]] = {
    "llama-funasr-vad": ("fsmn-vad", {"-m": "model"}, None),
    "llama-funasr-sensevoice": ("sensevoice", {"-m": "model"}, "--vad"),
    "llama-funasr-paraformer": ("paraformer", {"-m": "model"}, "--vad"),
    "llama-funasr-cli": ("fun-asr-nano", {"--enc": "encoder", "-m": "llm"}, "--vad"),
    "llama-funasr-encoder": ("fun-asr-nano", {"-m": "encoder"}, None),
    "llama-funasr-embd": ("fun-asr-nano", {"-m": "llm"}, None),
}


def gguf_programs(family: str, roles: Dict[str, str]) -> List[str]:
    """The llama.cpp programs a GGUF model of ``family`` with files of ``roles`` runs in."""
    return [
        program
        for program, (runs, flags, _vad) in sorted(_GGUF_PROGRAMS.items())
        if runs == family and all(role in roles for role in flags.values())
    ]


def _gguf_file(models: Dict[str, Dict[str, Any]], name: str, role: str, where: Any) -> str:
    """The installed path of model ``name``'s GGUF file of ``role`` (the manifest is not trusted:
    the file must be one the manifest lists for the model)."""
    entry = models[name]
    file = (entry.get("gguf") or {}).get(role)
    if not isinstance(file, str) or file not in entry.get("files", {}):
        raise ServerError(f"model {name}: the manifest names no {role} GGUF among the model's files ({file!r})")
    return str(Path(where(name)) / _relative(file, f"for model {name} the GGUF"))


def gguf_plan_for(
    binary: str, models: Dict[str, Dict[str, Any]], where: Any, user_args: Sequence[str] = ()
) -> Tuple[List[str], List[str]]:
    """:func:`plan_for` for FunASR's llama.cpp programs: the GGUF files of the one model of the
    family the program runs, the FSMN-VAD GGUF for ``--vad`` (the model's own, else the bundle's
    FSMN-VAD GGUF model), then ``user_args`` (a flag given there replaces the bundle's)."""
    kind = Path(binary).name
    family, flags, vad_flag = _GGUF_PROGRAMS[kind]
    gguf = {n: m for n, m in sorted(models.items()) if m.get("format") == "gguf"}
    owners = [n for n, m in gguf.items() if m.get("family") == family]
    if len(owners) != 1:
        why = (
            f"it runs a {family} GGUF model; the bundle has none"
            if not owners
            else f"models {', '.join(owners)} are all {family} GGUF models and {kind} runs one: "
            "give its files yourself (python -m <bundle> path NAME)"
        )
        raise ServerError(f"cannot start {kind} with this bundle:\n  - {why}")
    owner = owners[0]
    given = _flags_given(user_args)
    args: List[str] = []
    notes: List[str] = []
    for flag, role in flags.items():
        if flag not in given:
            args += [flag, _gguf_file(gguf, owner, role, where)]
    if vad_flag is not None and vad_flag not in given:
        vads = [n for n, m in gguf.items() if m.get("family") == "fsmn-vad"]
        if "vad" in (gguf[owner].get("gguf") or {}):
            args += [vad_flag, _gguf_file(gguf, owner, "vad", where)]
        elif len(vads) == 1:
            args += [vad_flag, _gguf_file(gguf, vads[0], "model", where)]
        else:
            notes.append(
                f"{vad_flag}: the bundle has no FSMN-VAD GGUF, so {kind} transcribes each file whole"
                if not vads
                else f"{vad_flag}: the bundle has several FSMN-VAD GGUF models ({', '.join(vads)}); give one"
            )
    return args + list(user_args), notes


def server_args(binary: str = "run_server.sh") -> List[str]:
    """The arguments :func:`exec_server` would pass to ``binary`` (for display)."""
    return server_plan(binary)[0]


def exec_server(binary: str, user_args: Sequence[str] = ()) -> None:
    """Replace this process with ``binary`` and the bundle's arguments (no shell)."""
    if Path(binary).name == "funasr-server":
        return _exec_funasr_server(binary, user_args)
    args, notes = server_plan(binary, user_args)
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    found = shutil.which(binary) if os.sep not in binary else binary
    if found is None or not Path(found).is_file():
        raise ServerError(f"{binary}: no such program (give its path, or put its directory on PATH)")
    # ONNX Runtime (1.32) sends OneDS telemetry, resolving mobile.events.data.microsoft.com, unless
    # told not to (observed under strace); a deployment that must reach no host turns it off.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if PROGRAMS.get(Path(binary).name, {}).get("script"):
        bash = shutil.which("bash") or "/bin/bash"
        os.execv(bash, [bash, found, *args])  # the scripts have no #! line
    os.execv(found, [found, *args])


def _signature_options(parser: argparse.ArgumentParser) -> None:
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--public-key", metavar="PEM", help="also check each model directory's signature against this key"
    )
    trust.add_argument(
        "--certificate-chain",
        metavar="PEM",
        action="append",
        default=[],
        help="also check signatures made with a certificate, against this chain (repeatable)",
    )


def _verify_signatures_command(args: argparse.Namespace) -> None:
    """``verify --public-key/--certificate-chain``: the signatures too; without them, say plainly
    that signatures were not checked (never an "ok" for a signature)."""
    if args.public_key or args.certificate_chain:
        count = verify_signatures(args.public_key, args.certificate_chain, args.names or None)
        trust = (
            f"public key {args.public_key}"
            if args.public_key
            else "certificate chain " + ", ".join(args.certificate_chain)
        )
        print(f"ok: the signatures of {count} model directories verify with the {trust} (model-signing)")
    elif signed():
        print("note: model directories are signed; signatures NOT checked (pass --public-key or --certificate-chain)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m <bundle> path NAME | names | json | verify [NAME…] | server-args [BINARY] |
    exec-server BINARY [ARGS…]``."""
    prog = __package__ or "bundle"
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("names", help="list the model names")
    p_path = sub.add_parser("path", help="print a model's directory")
    p_path.add_argument("name")
    sub.add_parser("json", help="print the manifest")
    p_verify = sub.add_parser("verify", help="re-hash installed files against the manifest")
    p_verify.add_argument("names", nargs="*")
    _signature_options(p_verify)
    p_server = sub.add_parser("server-args", help="print a FunASR program's arguments, shell-quoted (for eval)")
    p_server.add_argument("binary", nargs="?", default="run_server.sh", help="default: run_server.sh")
    p_exec = sub.add_parser("exec-server", help="start a FunASR program with the bundle's directories")
    p_exec.add_argument("binary", help="funasr-wss-server, funasr-wss-server-2pass, run_server.sh, funasr-server, …")
    p_exec.add_argument("args", nargs=argparse.REMAINDER, help="more arguments; a flag given here wins")
    args = parser.parse_args(argv)
    try:
        if args.command == "names":
            print("\n".join(printable(n) for n in names()))
        elif args.command == "path":
            print(printable(path(args.name)))
        elif args.command == "json":
            print(json.dumps(manifest(), indent=2, sort_keys=True))
        elif args.command == "verify":
            verify(args.names or None)
            count = sum(len(_models()[n]["files"]) for n in (args.names or names()))
            print(f"ok: {count} files match the manifest")
            _verify_signatures_command(args)
        elif args.command == "server-args":
            plan, notes = server_plan(args.binary)
            for note in notes:
                print(f"# {note}", file=sys.stderr)
            print(shlex.join(plan))
        else:
            exec_server(args.binary, args.args)
    except (KeyError, VerificationError, ServerError, AutoModelError) as e:
        print(printable(f"error: {e.args[0] if isinstance(e, KeyError) else e}", lines=True), file=sys.stderr)
        return 1
    return 0
