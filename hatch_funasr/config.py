"""The declaration: ``[tool.funasr]`` and the hook table, parsed into frozen dataclasses.

Every problem is collected with its TOML path and raised once as a :class:`ConfigError`.
Nothing here touches the network; local ``path`` sources are only checked to exist.

The keys are one table of :class:`Field` per TOML table: the parser's unknown-key checks, the
JSON Schema validate-pyproject gets (:func:`tool_schema`) and docs/reference/configuration.md's key tables
(:mod:`hatch_funasr._docgen`) come from it.
"""

from __future__ import annotations

import copy
import keyword
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from hatch_funasr import catalog
from hatch_funasr.errors import ConfigError
from hatch_funasr.families import FAMILIES, FORMATS, Family, detect_family, model_text
from hatch_funasr.hubs import HUBS
from hatch_funasr.model import BundleConfig, Export, ExtraFiles, HubRef, LocalDir, ModelConfig, Origin, TensorSpec
from hatch_funasr.names import REPO_ID, pattern_problem, relpath_problem
from hatch_funasr.settings import tomllib

__all__ = ["HOOK_PATHS", "find_hook_table", "json_schema", "load_config", "parse", "tool_schema"]

#: The ``$id`` of :func:`json_schema` (validate-pyproject needs one; nothing fetches it).
SCHEMA_ID = "urn:hatch-funasr:tool.funasr"
#: Keys hatchling itself reads from every build-hook table.
HATCHLING_RESERVED = frozenset(
    {"enable-by-default", "dependencies", "require-runtime-dependencies", "require-runtime-features"}
)
#: Where the hook table may sit in pyproject.toml, in the order hatchling looks.
HOOK_PATHS = ("tool.hatch.build.targets.wheel.hooks.funasr", "tool.hatch.build.hooks.funasr")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,127}$")
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Units spelt out in either case (not re.IGNORECASE): the schema's pattern is this one.
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KkMmGgTt][Ii]?[Bb]|[Bb])?\s*$")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})
#: Names of a generic export's inputs and outputs, and of their dynamic axes.
_TENSOR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_AXIS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
#: dtypes an ``export-inputs`` entry may have (torch's names); integer ones need a ``value``.
INPUT_DTYPES = ("float32", "float64", "int64", "int32")
DEFAULT_HUB = "ms"
#: ``export``'s values besides true and false; the first is the default.
EXPORT_MODES = ("auto", "generic")
#: The model keys a local ``path`` takes none of.
HUB_ONLY = ("hub", "revision", "extra-files")
#: The ONNX opsets export may ask for, and the default.
OPSETS = range(9, 24)
DEFAULT_OPSET = 14

# --- The keys of the declaration -----------------------------------------------------------
# One table of fields per TOML table, innermost first: the parser's unknown-key checks take their
# names from these, json_schema() is made of them, the configuration reference's tables are made of them.


@dataclass(frozen=True)
class Field:
    """One key of the declaration: its TOML name, the JSON Schema of its value, what it means."""

    key: str
    #: JSON Schema (draft-07) of the value: enumerations from the registries, patterns the
    #: parser's own regular expressions, sub-tables made by :func:`_table` from their fields.
    schema: Mapping[str, Any]
    #: One line of Markdown: the schema's description and the configuration reference's table cell.
    description: str
    required: bool = False


def _table(fields: tuple[Field, ...], **rules: Any) -> dict[str, Any]:
    """The JSON Schema of a TOML table of ``fields`` and nothing else; ``rules`` between its keys."""
    required = [f.key for f in fields if f.required]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.key: {**f.schema, "description": f.description} for f in fields},
        **({"required": required} if required else {}),
        **rules,
    }


def _keys(fields: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.key for f in fields)


def _hubs() -> str:
    return " or ".join(f"`{h}`" for h in HUBS)


_NON_BLANK: dict[str, Any] = {"type": "string", "pattern": r"\S"}
#: A catalog alias (looked up case-insensitively: no enum) or a hub repo id.
_MODEL_ID: dict[str, Any] = {
    **_NON_BLANK,
    "anyOf": [{"pattern": "^[^/]*$"}, {"pattern": REPO_ID.pattern}],
    "examples": [e.alias for e in catalog.entries()],
}
_REVISION_SCHEMA: dict[str, Any] = {"type": "string", "pattern": _REVISION.pattern, "not": {"pattern": r"\.\."}}
_DRIFT: dict[str, Any] = {"type": "number", "minimum": 0}
_PATTERNS: dict[str, Any] = {
    "oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string", "minLength": 1}}]
}
#: The presence of a key that needs ``export = "generic"``.
_GENERIC_ONLY: dict[str, Any] = {"required": ["export"], "properties": {"export": {"const": "generic"}}}

#: One tensor of ``export-inputs``; of ``export-outputs``, ``shape`` only.
INPUT_FIELDS = (
    Field(
        "shape",
        {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": _AXIS_NAME.pattern}]},
        },
        'sizes (positive integers) and dynamic axis names (strings such as `"B"` or `"T"`)',
        required=True,
    ),
    Field("dtype", {"enum": list(INPUT_DTYPES), "default": INPUT_DTYPES[0]}, "torch's name of the dtype"),
    Field(
        "value",
        {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": _AXIS_NAME.pattern}]},
        "integer inputs only, and needed there: an integer to fill them with, or a dynamic axis's name",
    ),
)
OUTPUT_FIELDS = INPUT_FIELDS[:1]
#: One table of ``extra-files``.
EXTRA_FIELDS = (
    Field("model", _MODEL_ID, "the hub repository (`owner/name`, or a catalog alias) the files come from", True),
    Field("hub", {"enum": list(HUBS)}, f"{_hubs()}; default the model's hub"),
    Field("revision", _REVISION_SCHEMA, "tag, branch or commit, locked like the model's"),
    Field(
        "files",
        {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "file names inside that repository",
        required=True,
    ),
)


def _tensors(fields: tuple[Field, ...], **rules: Any) -> dict[str, Any]:
    """``export-inputs`` / ``export-outputs``: tensor name -> a table of ``fields``."""
    return {
        "type": "object",
        "minProperties": 1,
        "patternProperties": {_TENSOR_NAME.pattern: _table(fields, **rules)},
        "additionalProperties": False,
    }


_INTEGER_INPUT = {
    "required": ["dtype"],
    "properties": {"dtype": {"enum": [d for d in INPUT_DTYPES if d.startswith("int")]}},
}

#: A model's table in ``[tool.funasr.models]``.
MODEL_FIELDS = (
    Field("model", _MODEL_ID, "catalog alias (`hatch-funasr models`) or hub repo id `owner/name`"),
    Field("path", _NON_BLANK, "local directory instead of a hub (exclusive with `model`); relative to the project"),
    Field("hub", {"enum": list(HUBS)}, f"{_hubs()}; default from `[tool.funasr].hub`, else `{DEFAULT_HUB}`"),
    Field("revision", _REVISION_SCHEMA, "tag, branch or commit; the resolved commit is recorded in the manifest"),
    Field(
        "format",
        {"enum": list(FORMATS)},
        "`onnx` (default where the family has an ONNX runtime), `pytorch`, `torchscript` (FunASR's "
        '`export(type="torchscript")`, for the families it exports), or `gguf` (FunASR\'s llama.cpp runtime: '
        "fsmn-vad, sensevoice, paraformer, fun-asr-nano; default for the `-gguf` aliases)",
    ),
    Field(
        "gguf",
        {"enum": sorted({v for f in FAMILIES.values() if f.gguf for v in f.gguf.names()})},
        '`format = "gguf"` only: the variant of FunASR\'s GGUF repository, as its download script names them: '
        "`q8` (default), `f16` or `f32` for SenseVoice and Paraformer; `q8_0` (default, also `q8`), `q4km` "
        "or `q5km` for Fun-ASR-Nano; FSMN-VAD has one, `f32`",
    ),
    Field(
        "gguf-vad",
        {"type": "boolean", "default": False},
        '`format = "gguf"` ASR models only: add `fsmn-vad.gguf` from `FunAudioLLM/fsmn-vad-GGUF` (locked like '
        "the rest) to the directory, for the programs' `--vad`",
    ),
    Field(
        "export",
        {"anyOf": [{"type": "boolean"}, {"enum": list(EXPORT_MODES)}], "default": EXPORT_MODES[0]},
        "`auto` (default: export only when the source has no ONNX / TorchScript), `true`, `false`, or "
        '`"generic"` (experimental: `torch.onnx.export` of the PyTorch module, for models FunASR has no '
        "`export()` for)",
    ),
    Field(
        "quantize",
        {"type": "boolean", "default": False},
        "ship `*_quant.onnx` for every ONNX file of the family (upstream ones if the repo has them, else made "
        "with onnxruntime)",
    ),
    Field(
        "keep-fp32",
        {"type": "boolean"},
        "unset (default): ship the fp32 ONNX where the source has it; `true`: insist (an error for FunASR's "
        "quantized-only `-onnx` repositories); `false`: quantized only",
    ),
    Field(
        "opset-version",
        {"type": "integer", "minimum": OPSETS[0], "maximum": OPSETS[-1], "default": DEFAULT_OPSET},
        f"ONNX opset for export, {OPSETS[0]} to {OPSETS[-1]} (default {DEFAULT_OPSET})",
    ),
    Field(
        "max-quant-drift",
        _DRIFT,
        "fail the build when a quantized file's outputs differ from fp32 by more than this (max abs, fixed input)",
    ),
    Field(
        "max-export-drift",
        _DRIFT,
        "fail the build when an exported file's outputs differ from the PyTorch model's by more than this "
        "(max abs, fixed input)",
    ),
    Field(
        "export-inputs",
        # integer inputs need a value; float ones take none
        _tensors(
            INPUT_FIELDS,
            **{"if": _INTEGER_INPUT, "then": {"required": ["value"]}, "else": {"properties": {"value": False}}},
        ),
        '`export = "generic"` only, and required there: the module\'s inputs in order, '
        '`{ NAME = { shape = [...], dtype = "float32", value = ... } }`; a string in `shape` is a dynamic axis '
        '(`["B", "T", 80]`); `dtype` '
        + ", ".join(f"`{d}`" + (" (default)" if d == INPUT_DTYPES[0] else "") for d in INPUT_DTYPES)
        + '; integer inputs need `value` (an integer, or a dynamic axis\'s name: `"T"` for a lengths input)',
    ),
    Field(
        "export-outputs",
        _tensors(OUTPUT_FIELDS),
        '`export = "generic"` only, optional: the outputs\' names and axes, `{ embedding = { shape = ["B", 192] } }`',
    ),
    Field("include", _PATTERNS, "glob patterns (a string or an array) added to the family's file set"),
    Field("exclude", _PATTERNS, "glob patterns (a string or an array) removed from the family's file set"),
    Field("family", {"enum": list(FAMILIES)}, "override the detected family"),
    Field(
        "extra-files",
        {"if": {"type": "array"}, "then": {"items": _table(EXTRA_FIELDS)}, "else": _table(EXTRA_FIELDS)},
        '`{ model = "owner/name", revision = "…", files = [...] }` (or an array of them): files of another hub '
        "repository that complete the directory, locked and hashed like the rest; `[]` turns off the catalog's "
        "default (SenseVoice's bpe model)",
    ),
)
#: Between a model's keys: "model" or "path", not both; a local path takes no hub keys; the
#: generic export's keys need it, and it needs its inputs.
_MODEL_RULES: dict[str, Any] = {
    "anyOf": [{"required": ["model"]}, {"required": ["path"]}],
    "dependencies": {
        "model": {"properties": {"path": False}},
        "path": {"properties": dict.fromkeys(HUB_ONLY, False)},
        "export-inputs": _GENERIC_ONLY,
        "export-outputs": _GENERIC_ONLY,
        "gguf": {"not": {"required": ["format"], "properties": {"format": {"not": {"const": "gguf"}}}}},
        "gguf-vad": {"not": {"required": ["format"], "properties": {"format": {"not": {"const": "gguf"}}}}},
    },
    "if": _GENERIC_ONLY,
    "then": {"required": ["export-inputs"]},
}
#: The hook table, and ``[tool.funasr]`` less ``models``.
GLOBAL_FIELDS = (
    Field(
        "hub",
        {"enum": list(HUBS), "default": DEFAULT_HUB},
        f"the hub of every model that names none: {_hubs()} (default `{DEFAULT_HUB}`)",
    ),
    Field(
        "package",
        {"type": "string", "pattern": _PACKAGE.pattern},
        "the bundle's import name (default the normalized project name); not a keyword, a standard-library "
        "module or `hatch_funasr`",
    ),
    Field(
        "max-file-size",
        {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": _SIZE.pattern}]},
        'fail before any download when a model file is larger: bytes (`104857600`) or a size (`"100 MiB"`, '
        '`"1.5GB"`), e.g. your index\'s per-file limit',
    ),
)
#: ``[tool.funasr]``.
TOOL_FIELDS = (
    *GLOBAL_FIELDS,
    Field(
        "models",
        {
            "type": "object",
            "minProperties": 1,
            # a bad name is an additional property, so validate-pyproject names it; if/then/else, not
            # oneOf, so it names the key that is wrong inside a model's table too
            "patternProperties": {
                _SAFE_NAME.pattern: {
                    "if": {"type": "string"},
                    "then": _MODEL_ID,
                    "else": _table(MODEL_FIELDS, **_MODEL_RULES),
                }
            },
            "additionalProperties": False,
        },
        "the models, by name (1-64 letters, digits, `-` and `_`): a catalog alias or repo id, or a table "
        "with `model` or `path` and the model keys",
        required=True,
    ),
)
MODEL_KEYS = _keys(MODEL_FIELDS)
EXTRA_KEYS = _keys(EXTRA_FIELDS)
GLOBAL_KEYS = _keys(GLOBAL_FIELDS)


def find_hook_table(pyproject: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The hook table (``[tool.hatch.build.targets.wheel.hooks.funasr]`` or
    ``[tool.hatch.build.hooks.funasr]``) and its TOML path, or None when neither is there."""
    for path in HOOK_PATHS:
        table: Any = pyproject
        for key in path.split("."):
            table = table.get(key) if isinstance(table, Mapping) else None
        if isinstance(table, Mapping):
            return path, dict(table)
    return None


class _Collector:
    """Accumulates problems; each is ``<toml path>: <what is wrong>``."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def unknown_keys(self, path: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                close = catalog.closest(key, allowed)
                hint = f' (did you mean "{close}"?)' if close else f" (expected one of: {', '.join(allowed)})"
                self.add(f"{path}.{key}", f"unknown key{hint}")


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _get_str(c: _Collector, table: Mapping[str, Any], key: str, path: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        c.add(f"{path}.{key}", f"expected a non-empty string, got {_describe(value)}")
        return None
    return value.strip()


def _get_bool(c: _Collector, table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        c.add(f"{path}.{key}", f"expected true or false, got {_describe(value)}")
        return default
    return value


def _get_choice(
    c: _Collector, table: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...], *, suggest: bool = True
) -> str | None:
    """``table[key]`` when it is one of ``choices``; else a problem, with a did-you-mean when ``suggest``
    (not for dtypes: float16 is not a misspelt float64)."""
    value = table.get(key)
    if value is None:
        return None
    if value not in choices:
        quoted = [f'"{x}"' for x in choices]
        options = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
        hint = _did_you_mean(value, choices) if suggest else ""
        c.add(f"{path}.{key}", f"expected {options}, got {_describe(value)}{hint}")
        return None
    return str(value)


def _did_you_mean(value: object, choices: tuple[str, ...]) -> str:
    close = catalog.closest(value, choices)
    return f' (did you mean "{close}"?)' if close else ""


def _get_patterns(c: _Collector, table: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        c.add(f"{path}.{key}", f"expected an array of glob patterns, got {_describe(value)}")
        return ()
    bad = {v: problem for v in value if (problem := pattern_problem(v)) is not None}
    for v, problem in bad.items():
        c.add(f"{path}.{key}", f'pattern "{v}" must be a relative path inside the model directory ({problem})')
    return tuple(v for v in value if v not in bad)


def _get_export(c: _Collector, table: Mapping[str, Any], path: str) -> Export:
    value = table.get("export", EXPORT_MODES[0])
    if value in EXPORT_MODES or isinstance(value, bool):
        return value  # type: ignore[no-any-return]  # narrowed by the test above
    c.add(f"{path}.export", f'expected "auto", true, false or "generic", got {_describe(value)}')
    return "auto"


def _get_drift(c: _Collector, table: Mapping[str, Any], key: str, path: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    # nan would pass every comparison with a measured drift, so it is no limit at all; inf neither
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        c.add(f"{path}.{key}", f"expected a non-negative number, got {_describe(value)}")
        return None
    return float(value)


def _get_tensors(c: _Collector, table: Mapping[str, Any], key: str, path: str) -> tuple[TensorSpec, ...]:
    """``export-inputs`` / ``export-outputs``: ``{ NAME = { shape = [...], dtype = "...", value = ... } }``
    in the order the module takes (or returns) them; outputs have only ``shape``."""
    value = table.get(key)
    if value is None:
        return ()
    where = f"{path}.{key}"
    inputs = key == "export-inputs"
    example = '{ x = { shape = ["B", "T", 80], dtype = "float32" } }' if inputs else '{ y = { shape = ["B", 192] } }'
    if not isinstance(value, dict) or not value:
        c.add(where, f"expected a table of tensors such as {example}, got {_describe(value)}")
        return ()
    specs = []
    for name, spec in value.items():
        at = f"{where}.{name}" if _TENSOR_NAME.fullmatch(name) else f'{where}."{name}"'
        if not _TENSOR_NAME.fullmatch(name):
            c.add(at, "tensor names must be a letter or _ then letters, digits, _ . : or -")
            continue
        if not isinstance(spec, dict):
            c.add(at, f"expected a table such as {example.split(' = ', 1)[1][:-2]}, got {_describe(spec)}")
            continue
        c.unknown_keys(at, spec, _keys(INPUT_FIELDS if inputs else OUTPUT_FIELDS))
        shape = spec.get("shape")
        if (
            not isinstance(shape, list)
            or not shape
            or not all(
                (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                or (isinstance(d, str) and _AXIS_NAME.fullmatch(d))
                for d in shape
            )
        ):
            c.add(
                f"{at}.shape",
                "expected an array of sizes (positive integers) and dynamic axis names (strings such as "
                f'"B" or "T"), got {_describe(shape)}',
            )
            continue
        dtype = _get_choice(c, spec, "dtype", at, INPUT_DTYPES, suggest=False) if inputs else None
        fill = spec.get("value")
        if inputs and (dtype or "float32").startswith("int"):
            if fill is None or isinstance(fill, bool) or not isinstance(fill, (int, str)):
                c.add(
                    f"{at}.value",
                    f"integer inputs need a value to fill them with: an integer, or the name of a dynamic axis "
                    f'(e.g. "T" for a lengths input), got {_describe(fill)}',
                )
                continue
        elif fill is not None and inputs:
            c.add(f"{at}.value", "only integer inputs take a value (float inputs are seeded random normal)")
            continue
        specs.append(TensorSpec(name, tuple(shape), (dtype or "float32") if inputs else None, fill))
    if inputs:
        axes = {d for s in specs for d in s.shape if isinstance(d, str)}
        for s in specs:
            if isinstance(s.value, str) and s.value not in axes:
                c.add(
                    f"{where}.{s.name}.value",
                    f'"{s.value}" names no dynamic axis of the inputs ({", ".join(sorted(axes)) or "none"})',
                )
    return tuple(specs)


def _get_opset(c: _Collector, table: Mapping[str, Any], path: str) -> int:
    value = table.get("opset-version", DEFAULT_OPSET)
    if isinstance(value, bool) or not isinstance(value, int) or value not in OPSETS:
        c.add(f"{path}.opset-version", f"expected an integer from {OPSETS[0]} to {OPSETS[-1]}, got {_describe(value)}")
        return DEFAULT_OPSET
    return value


def parse_size(value: object) -> int | None:
    """``104857600``, ``"100 MiB"`` or ``"1.5GB"`` -> bytes; None when unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            number = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
            return int(number) if number > 0 else None
    return None


def _get_extra(c: _Collector, raw: Mapping[str, Any], path: str, hub: str) -> tuple[ExtraFiles, ...] | None:
    """``extra-files``: a table (or array of tables) naming files of other hub repositories
    that complete this model's directory; None when not declared (the catalog's default)."""
    if "extra-files" not in raw:
        return None
    value = raw["extra-files"]
    tables = [value] if isinstance(value, dict) else value
    where = f"{path}.extra-files"
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        c.add(where, f"expected a table {{ model, revision, files }} or an array of them, got {_describe(value)}")
        return None
    out = []
    for i, table in enumerate(tables):
        at = where if isinstance(value, dict) else f"{where}[{i}]"
        c.unknown_keys(at, table, EXTRA_KEYS)
        repo = _get_str(c, table, "model", at)
        extra_hub = _get_choice(c, table, "hub", at, tuple(HUBS)) or hub
        revision = _get_str(c, table, "revision", at)
        files = table.get("files")
        if repo is None:
            c.add(at, 'missing "model": the hub repository (owner/name) the files come from')
        elif not REPO_ID.fullmatch(repo):
            entry = catalog.lookup(repo)
            if entry is None or entry.repo(extra_hub, "pytorch") is None:
                c.add(f"{at}.model", f'"{repo}" is not a hub repo id "owner/name" or a catalog alias')
                repo = None
            else:
                repo = entry.repo(extra_hub, "pytorch")
        if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision):
            c.add(f"{at}.revision", f'"{revision}" is not a valid tag, branch or commit')
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            c.add(f"{at}.files", f"expected a non-empty array of file names, got {_describe(files)}")
            continue
        bad = {f: problem for f in files if (problem := relpath_problem(f)) is not None}
        for f, problem in bad.items():
            c.add(f"{at}.files", f'"{f}" is not a file name inside the repository ({problem})')
        if repo is not None and not bad:
            out.append(ExtraFiles(repo, extra_hub, revision, tuple(dict.fromkeys(files))))
    return tuple(out)


def _parse_model(
    c: _Collector, name: str, raw: object, path: str, *, default_hub: str, root: Path
) -> ModelConfig | None:
    model_path = path if isinstance(raw, str) else f"{path}.model"
    if isinstance(raw, str):
        raw = {"model": raw}
    if not isinstance(raw, dict):
        c.add(
            path, f'expected a model alias or repo id string, or a table with "model" or "path", got {_describe(raw)}'
        )
        return None
    before = len(c.problems)
    c.unknown_keys(path, raw, MODEL_KEYS)
    model = _get_str(c, raw, "model", path)
    local = _get_str(c, raw, "path", path)
    hub = _get_choice(c, raw, "hub", path, tuple(HUBS))
    revision = _get_str(c, raw, "revision", path)
    fmt = _get_choice(c, raw, "format", path, FORMATS)
    _get_str(c, raw, "gguf", path)
    gguf_vad = _get_bool(c, raw, "gguf-vad", path, False)
    family_name = _get_choice(c, raw, "family", path, tuple(FAMILIES))
    export = _get_export(c, raw, path)
    quantize = _get_bool(c, raw, "quantize", path, False)
    keep_fp32 = _get_bool(c, raw, "keep-fp32", path, False) if "keep-fp32" in raw else None
    opset = _get_opset(c, raw, path)
    max_drift = _get_drift(c, raw, "max-quant-drift", path)
    max_export_drift = _get_drift(c, raw, "max-export-drift", path)
    export_inputs = _get_tensors(c, raw, "export-inputs", path)
    export_outputs = _get_tensors(c, raw, "export-outputs", path)
    include = _get_patterns(c, raw, "include", path)
    exclude = _get_patterns(c, raw, "exclude", path)

    if model and local:
        c.add(path, 'set either "model" (a hub model) or "path" (a local directory), not both')
    elif not model and not local and "model" not in raw and "path" not in raw:
        c.add(path, 'missing "model" (catalog alias or hub repo id) or "path" (local directory)')
    if revision is not None and (not _REVISION.fullmatch(revision) or ".." in revision):
        c.add(f"{path}.revision", f'"{revision}" is not a valid tag, branch or commit')
    if local is not None:
        for key in HUB_ONLY:
            if key in raw:
                c.add(f"{path}.{key}", 'only applies to hub models, not to a local "path"')

    family = FAMILIES.get(family_name) if family_name else None
    entry, repo, family, source_dir = _resolve_origin(
        c, name, path, model_path=model_path, model=model, local=local, family=family, root=root
    )
    if family is None and (model or source_dir is not None) and len(c.problems) == before:
        c.add(
            f"{path}.family",
            f"cannot tell the model family of {model or local}; set family = one of: " + ", ".join(FAMILIES),
        )
    variant = None
    if family is not None:
        named_gguf = "gguf" if model and model.lower().endswith("-gguf") else None  # FunASR's naming
        fmt = fmt or (entry.default_format(repo) if entry else named_gguf)
        fmt = fmt or ("onnx" if export == "generic" else family.default_format)
        variant = _check_format(c, path, family, fmt, raw, export=export, quantize=quantize, keep_fp32=keep_fp32)
    if quantize is False and keep_fp32 is False and fmt not in ("torchscript", "gguf"):
        c.add(f"{path}.keep-fp32", "false needs quantize = true, or nothing would ship")

    if hub is None and fmt == "gguf" and entry is not None and entry.gguf and default_hub not in entry.gguf:
        hub = next(iter(entry.gguf))  # FunASR publishes its GGUF repositories on Hugging Face only
    hub = hub or default_hub
    extra = _get_extra(c, raw, path, hub)
    if len(c.problems) != before or family is None or fmt is None:
        return None
    if entry is not None and repo is None:
        repo = entry.repo(hub, fmt)
        if repo is None:
            has = " or ".join(f'"{h}"' for h in entry.repos)
            c.add(f"{path}.hub", f'"{entry.alias}" has no {HUBS[hub].label} repository; use hub = {has}')
            return None
    origin: Origin
    if source_dir is not None:
        origin = LocalDir(source_dir)
    elif repo is not None:
        origin = HubRef(hub, repo, revision)
    else:  # neither: said above
        return None
    return ModelConfig(
        name=name,
        origin=origin,
        family=family.name,
        format=fmt,
        export=export,
        quantize=quantize,
        keep_fp32=keep_fp32,
        opset_version=opset,
        max_quant_drift=max_drift,
        max_export_drift=max_export_drift,
        export_inputs=export_inputs,
        export_outputs=export_outputs,
        include=include,
        exclude=exclude,
        alias=entry.alias if entry else None,
        extra=(extra if extra is not None else catalog.completions(repo)) + (catalog.gguf_vad() if gguf_vad else ()),
        gguf=variant,
        gguf_vad=gguf_vad,
    )


def _resolve_origin(
    c: _Collector,
    name: str,
    path: str,
    *,
    model_path: str,
    model: str | None,
    local: str | None,
    family: Family | None,
    root: Path,
) -> tuple[catalog.CatalogEntry | None, str | None, Family | None, Path | None]:
    """Where a model comes from: its catalog entry and repository id (``model``), or its local
    directory (``path``); and its family, from the entry, the name or the directory's config.yaml
    where ``family`` is not declared."""
    entry = None
    repo: str | None = None
    source_dir: Path | None = None
    if model:
        entry = catalog.lookup(model)
        if entry is None and _project_dir(root, model):
            c.add(
                model_path,
                f'"{model}" is a directory of this project, not a hub repository; did you mean path = "{model}"? '
                f'({name} = {{ path = "{model}" }})',
            )
        elif entry is None and "/" not in model:
            close = catalog.suggest(model)
            hint = f' (did you mean "{close}"?)' if close else " (see `hatch-funasr models`)"
            c.add(f"{path}.model", f'unknown model alias "{model}"{hint}; or give a hub repo id "owner/name"')
        elif entry is None and not REPO_ID.fullmatch(model):
            c.add(f"{path}.model", f'"{model}" is not a valid hub repo id "owner/name"')
        elif entry is None:
            entry = catalog.by_repo(model)
            repo = model
        family = family or (FAMILIES[entry.family] if entry else detect_family(model))
    elif local:
        source_dir = (root / local).resolve()
        if not source_dir.is_dir():
            c.add(f"{path}.path", f'"{local}" is not a directory (relative paths start at {root})')
        elif source_dir == Path(source_dir.anchor) or root == source_dir or root.is_relative_to(source_dir):
            why = "which holds the project itself; name the model's own directory"
            c.add(f"{path}.path", f'"{local}" is {source_dir}, {why}')
        elif family is None:
            family = detect_family(source_dir.name, model_text(source_dir / "config.yaml"))
    return entry, repo, family, source_dir


def _check_format(
    c: _Collector,
    path: str,
    family: Family,
    fmt: str,
    raw: Mapping[str, Any],
    *,
    export: Export,
    quantize: bool,
    keep_fp32: bool | None,
) -> str | None:
    """The format's rules for ``family``: export, GGUF variant, ONNX/TorchScript availability,
    quantize and keep-fp32; returns the GGUF variant's canonical name (None for other formats)."""
    generic = export == "generic"
    _check_export(c, path, family, fmt, raw)
    variant = _check_gguf(c, path, family, fmt, raw)
    if fmt == "onnx" and family.no_onnx_reason and not generic:
        c.add(
            f"{path}.format",
            f'"onnx" is not available for {family.name} models: {family.no_onnx_reason}; or, experimental, '
            'export = "generic" with export-inputs (torch.onnx.export of the PyTorch module, checked against it)',
        )
    if fmt == "torchscript" and family.no_torchscript_reason and not generic:
        c.add(
            f"{path}.format",
            f'"torchscript" is not available for {family.name} models: {family.no_torchscript_reason}',
        )
    if quantize and (fmt != "onnx" or family.plain or not (family.has_onnx or generic)):
        c.add(f"{path}.quantize", f"only applies to ONNX models; {family.name} in {fmt} format has none")
    if keep_fp32 is not None and fmt in ("torchscript", "gguf"):
        c.add(f"{path}.keep-fp32", "only applies to ONNX models (FunASR quantizes ONNX only)")
    return variant


def _check_gguf(c: _Collector, path: str, family: Family, fmt: str, raw: Mapping[str, Any]) -> str | None:
    """``format = "gguf"``: the family must have a program in FunASR's llama.cpp runtime, the
    variant must be one its repository publishes; returns the variant's canonical name."""
    spec = family.gguf
    if fmt != "gguf":
        for key in ("gguf", "gguf-vad"):
            if key in raw:
                c.add(f"{path}.{key}", 'only applies to format = "gguf"')
        return None
    if spec is None:
        runnable = ", ".join(f.name for f in FAMILIES.values() if f.gguf)
        c.add(
            f"{path}.format",
            f'"gguf" is not available for {family.name} models: FunASR\'s llama.cpp runtime has programs for '
            f"{runnable} only",
        )
        return None
    if raw.get("export") == "generic":
        c.add(f"{path}.export", '"generic" exports to format = "onnx" or "torchscript", not "gguf"')
    if raw.get("gguf-vad") is True and not spec.takes_vad:
        c.add(f"{path}.gguf-vad", f"only applies to ASR models; {family.name} is the VAD itself")
    variant = raw.get("gguf")
    if not isinstance(variant, str):
        return spec.default  # absent (a wrong type is reported by _get_str)
    found = spec.variant(variant)
    if found is None:
        names = ", ".join(f'"{v}"' for v in spec.names())
        c.add(f"{path}.gguf", f'"{variant}" is not a GGUF variant of {family.name} models: one of {names}')
    return found


def _project_dir(root: Path, name: str) -> bool:
    """``name`` is a directory inside the project (a local model written where a hub one goes)."""
    try:
        found = (root / name).resolve()
    except (OSError, ValueError):
        return False
    return found != root and found.is_relative_to(root) and found.is_dir()


def _check_export(c: _Collector, path: str, family: Family, fmt: str, raw: Mapping[str, Any]) -> None:
    """``export = "generic"`` and its inputs: only for models FunASR has no export() for, only
    to ONNX or TorchScript, never without the inputs to trace with."""
    generic = raw.get("export") == "generic"
    if not generic:
        for key in ("export-inputs", "export-outputs"):
            if key in raw:
                c.add(f"{path}.{key}", 'only applies to export = "generic"')
        return
    if fmt == "gguf":  # said by _check_gguf
        return
    if fmt == "pytorch" or family.plain:
        what = (
            "a PyTorch directory"
            if fmt == "pytorch"
            else f"{family.name} models, whose files are the same in every format"
        )
        c.add(f"{path}.export", f'"generic" exports to format = "onnx" or "torchscript"; nothing to export for {what}')
        return
    official = family.has_onnx if fmt == "onnx" else family.has_torchscript
    if official:
        c.add(
            f"{path}.export",
            f'"generic" is for models FunASR has no export() for; FunASR exports {family.name} to {fmt} itself: '
            'use export = "auto" or true',
        )
    if "export-inputs" not in raw:
        c.add(
            f"{path}.export-inputs",
            'required with export = "generic": the inputs of the module\'s forward, in order, e.g. '
            'export-inputs = { x = { shape = ["B", "T", 80], dtype = "float32" } } (strings are dynamic axes)',
        )


#: Import names a FunASR deployment has installed beside a bundle (the runtimes and what they
#: import): a bundle package of one of these names would overwrite it on install.
_DEPLOYMENT_MODULES = frozenset(
    (
        "hatch_funasr",
        "funasr",
        "funasr_onnx",
        "funasr_torch",
        "modelscope",
        "modelscope_hub",
        "huggingface_hub",
        "torch",
        "torchaudio",
        "onnx",
        "onnxruntime",
        "numpy",
        "kaldi_native_fbank",
        "jieba",
        "sentencepiece",
        "librosa",
        "soundfile",
        "yaml",
    )
)


def _package_problem(value: object) -> str | None:
    """Why ``value`` cannot be the bundle's import name, or None."""
    if not isinstance(value, str) or not _PACKAGE.fullmatch(value):
        return "letters, digits and _, not starting with a digit"
    if keyword.iskeyword(value):
        return "a Python keyword"
    if value in sys.stdlib_module_names or value in _DEPLOYMENT_MODULES:
        return "the name of a module it would shadow"
    return None


def _normalize_package(project_name: str) -> str:
    """The import name of a project: its PEP 503 name with ``_`` for ``-``."""
    return canonicalize_name(project_name).replace("-", "_")


def load_config(root: Path) -> BundleConfig:
    """Read and parse ``root/pyproject.toml`` (the CLI; the hook gets the table from hatchling)."""
    with (root / "pyproject.toml").open("rb") as f:
        pyproject = tomllib.load(f)
    found = find_hook_table(pyproject)
    return parse(pyproject, root.resolve(), found[1] if found else None, found[0] if found else HOOK_PATHS[0])


def parse(
    pyproject: Mapping[str, Any],
    root: Path,
    hook_config: Mapping[str, Any] | None = None,
    hook_path: str = HOOK_PATHS[0],
) -> BundleConfig:
    """Validate the whole declaration; raise one :class:`ConfigError` listing every problem."""
    c = _Collector()
    project = pyproject.get("project", {})
    project_name = str(project.get("name", "")) or root.name
    version = str(project.get("version", "0"))
    tool = pyproject.get("tool", {}).get("funasr", {})
    if not isinstance(tool, dict):
        raise ConfigError([f"tool.funasr: expected a table, got {_describe(tool)}"])

    globals_: dict[str, tuple[object, str]] = {}
    c.unknown_keys("tool.funasr", tool, _keys(TOOL_FIELDS))
    for key in GLOBAL_KEYS:
        if key in tool:
            globals_[key] = (tool[key], f"tool.funasr.{key}")
    hook = {k: v for k, v in (hook_config or {}).items() if k not in HATCHLING_RESERVED}
    c.unknown_keys(hook_path, hook, GLOBAL_KEYS)
    for key in GLOBAL_KEYS:
        if key in hook:
            if key in globals_ and globals_[key][0] != hook[key]:
                c.add(f"{hook_path}.{key}", f"conflicts with {globals_[key][1]}; set it in one place")
            globals_[key] = (hook[key], f"{hook_path}.{key}")

    hub = DEFAULT_HUB
    if "hub" in globals_:
        value, where = globals_["hub"]
        if value in HUBS:
            hub = str(value)
        else:
            options = " or ".join(f'"{h}"' for h in HUBS)
            c.add(where, f"expected {options}, got {_describe(value)}{_did_you_mean(value, tuple(HUBS))}")
    package = _normalize_package(project_name)
    if "package" not in globals_ and _package_problem(package) is not None:
        c.add(
            "project.name",
            f'"{project_name}" gives the package name "{package}" ({_package_problem(package)}); '
            'set tool.funasr.package = "..." to another import name',
        )
    if "package" in globals_:
        value, where = globals_["package"]
        problem = _package_problem(value)
        if problem is None:
            package = str(value)
        else:
            c.add(where, f"expected a Python package name, got {_describe(value)} ({problem})")
    max_size = None
    if "max-file-size" in globals_:
        value, where = globals_["max-file-size"]
        max_size = parse_size(value)
        if max_size is None:
            c.add(where, f'expected a size such as 104857600 or "100 MiB", got {_describe(value)}')

    raw_models = tool.get("models")
    models: list[ModelConfig] = []
    if raw_models is None:
        c.add("tool.funasr.models", 'missing: declare at least one model, e.g. vad = "fsmn-vad"')
    elif raw_models is not None and not isinstance(raw_models, dict):
        c.add("tool.funasr.models", f"expected a table of models, got {_describe(raw_models)}")
    elif raw_models is not None and not raw_models:
        c.add("tool.funasr.models", 'is empty: declare at least one model, e.g. vad = "fsmn-vad"')
    elif raw_models:
        seen: dict[str, str] = {}
        for name, raw in raw_models.items():
            path = f"tool.funasr.models.{name}" if _SAFE_NAME.fullmatch(name) else f'tool.funasr.models."{name}"'
            if not _SAFE_NAME.fullmatch(name):
                why = "model names must be 1-64 ASCII letters, digits, '-' or '_', starting with a letter or digit"
                c.add(path, why)
                continue
            if relpath_problem(name) is not None:
                c.add(path, f"{name!r} is a device name on Windows, where the bundle may be installed; rename it")
                continue
            folded = name.lower().replace("-", "_")
            if folded in seen:
                c.add(path, f'installs to the same directory as "{seen[folded]}" (names differ only in case or -/_)')
                continue
            seen[folded] = name
            parsed = _parse_model(c, name, raw, path, default_hub=hub, root=root)
            if parsed is not None:
                models.append(parsed)
        directories: dict[str, str] = {}
        for m in models:
            other = directories.setdefault(m.dir_name.casefold(), m.name)
            if other != m.name:
                c.add(
                    f"tool.funasr.models.{m.name}",
                    f'installs to models/{m.dir_name}, the directory of model "{other}"; rename one of them',
                )
    if c.problems:
        raise ConfigError(c.problems)
    return BundleConfig(project_name, version, package, hub, tuple(models), max_size, root)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of ``[tool.funasr]``, made from the field tables, for
    validate-pyproject and editors. The parser stays the judge: the schema has the keys, types,
    enumerations and patterns, and the simple rules between keys, not what needs the catalog,
    the families or the disk. Self-contained (no ``$ref``), so it can be embedded as it is."""
    return copy.deepcopy(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": SCHEMA_ID,
            "title": "tool.funasr",
            "description": "FunASR models that hatch-funasr packs into the wheel, and their defaults "
            "(the hook table takes the defaults too)",
            **_table(TOOL_FIELDS),
        }
    )


def tool_schema(tool: str = "funasr") -> dict[str, Any]:
    """``[tool.$tool]``: the FunASR models hatch-funasr packs into a wheel (hatch-funasr's schema)."""
    del tool  # validate-pyproject passes the entry point's name, "funasr"
    return json_schema()
