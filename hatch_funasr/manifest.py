"""The bundle manifest (``<package>/funasr_manifest.json``) as one typed value, and its one reader.

The build makes the document (:func:`hatch_funasr.package.build_manifest`) and turns it into a
:class:`Manifest` here; packing completes it (:meth:`Manifest.completed`) and the SBOM is made
from it, with no JSON parsed back on the way.  ``hatch-funasr inspect`` reads a wheel's manifest
through :func:`read_manifest`: a wheel is not trusted, so every value that becomes a path, a size
or a hash is checked (:mod:`hatch_funasr.names`), and anything else is one
:class:`~hatch_funasr.errors.IntegrityError` naming the file and the field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hatch_funasr.errors import IntegrityError
from hatch_funasr.names import check_relpath, check_sha256, check_size

__all__ = ["Manifest", "ManifestExtra", "ManifestFile", "ManifestModel", "manifest_bytes", "read_manifest"]

#: What to do about a manifest that is not one.
_NOT_OURS = "; it is not a manifest hatch-funasr wrote: rebuild the wheel"


@dataclass(frozen=True)
class ManifestFile:
    size: int
    #: None only while a local file waits to be hashed by the packer.
    sha256: str | None


@dataclass(frozen=True)
class ManifestExtra:
    """A repository that completed the model directory (``extra-files``)."""

    hub: str
    repo: str
    commit: str | None
    files: tuple[str, ...]


@dataclass(frozen=True)
class ManifestModel:
    """One model of the bundle: its provenance, directory, files and what the build did."""

    dir: str
    family: str
    format: str
    files: Mapping[str, ManifestFile]
    hub: str | None = None
    repo: str | None = None
    path: str | None = None
    revision: str | None = None
    commit: str | None = None
    license: str | None = None
    runtime: str | None = None
    derived: tuple[str, ...] = ()
    quant_drift: Mapping[str, float | None] = field(default_factory=dict)
    export_drift: Mapping[str, float] = field(default_factory=dict)
    tools: Mapping[str, str] = field(default_factory=dict)
    advice: tuple[str, ...] = ()
    extra: tuple[ManifestExtra, ...] = ()

    @property
    def origin(self) -> str:
        """``ms:iic/x@<commit>`` or ``path:models/x``."""
        return f"{self.hub}:{self.repo}@{self.commit}" if self.repo else f"path:{self.path}"


@dataclass(frozen=True)
class Manifest:
    """A validated manifest, with the document it was read from (written back as it is)."""

    document: Mapping[str, Any]
    name: str
    version: str
    package: str
    generator: str
    models: Mapping[str, ManifestModel]

    @property
    def complete(self) -> bool:
        """Every file's sha256 is known."""
        return all(f.sha256 is not None for m in self.models.values() for f in m.files.values())

    def arcnames(self) -> dict[str, tuple[str, str, ManifestFile]]:
        """Every model file's path in the wheel -> (model, its path in the model directory, its entry)."""
        return {
            f"{self.package}/{m.dir}/{rel}": (name, rel, f)
            for name, m in sorted(self.models.items())
            for rel, f in sorted(m.files.items())
        }

    def completed(self, hashes: Mapping[str, str]) -> Manifest:
        """This manifest with the sha256 of files hashed while packing filled in (``hashes``:
        wheel path -> sha256, from :func:`hatch_funasr.pack.add_models`)."""
        document = copy.deepcopy(dict(self.document))
        for arcname, (name, rel, f) in self.arcnames().items():
            if f.sha256 is None:
                if arcname not in hashes:
                    raise ValueError(f"model {name}: {rel} was not packed, so its sha256 is unknown")
                document["models"][name]["files"][rel]["sha256"] = hashes[arcname]
        return read_manifest(document, "the completed manifest")

    def to_bytes(self) -> bytes:
        return manifest_bytes(self.document)


def manifest_bytes(document: Mapping[str, Any]) -> bytes:
    """The manifest as stored: sorted keys, compact (json's C encoder: a bundle of thousands of
    files costs no pure-Python encoding; ``python -m <package> json`` prints it indented)."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def _bad(where: str, what: str, value: object) -> IntegrityError:
    shown = type(value).__name__ if isinstance(value, (dict, list)) else repr(value)[:80]
    return IntegrityError(f"{where}: {what}, got {shown}{_NOT_OURS}")


def _table(value: object, where: str, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, f"{field}: expected a JSON object", value)
    return value


def _text(table: Mapping[str, Any], key: str, where: str, field: str, *, optional: bool = False) -> str | None:
    value = table.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _bad(where, f"{field}.{key}: expected a non-empty string", value)
    return value


def _strings(value: object, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(where, f"{field}: expected a list of strings", value)
    return tuple(value)


def _numbers(value: object, where: str, field: str) -> dict[str, Any]:
    table = _table(value or {}, where, field)
    for key, number in table.items():
        if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
            raise _bad(where, f"{field}.{key}: expected a number", number)
    return dict(table)


def _model(name: str, raw: object, where: str) -> ManifestModel:
    at = f"models.{name}"
    check_relpath(name, f"{where}: {at}")
    m = _table(raw, where, at)
    files: dict[str, ManifestFile] = {}
    for rel, f in _table(m.get("files"), where, f"{at}.files").items():
        field = f"{at}.files.{rel}"
        entry = _table(f, where, field)
        check_relpath(rel, f"{where}: {field}")
        sha = entry.get("sha256")
        files[rel] = ManifestFile(
            check_size(entry.get("size"), f"{where}: {field}.size"),
            None if sha is None else check_sha256(sha, f"{where}: {field}"),
        )
    extras = []
    for i, e in enumerate(m.get("extra") or []):
        table = _table(e, where, f"{at}.extra[{i}]")
        extras.append(
            ManifestExtra(
                str(_text(table, "hub", where, f"{at}.extra[{i}]")),
                str(_text(table, "repo", where, f"{at}.extra[{i}]")),
                _text(table, "commit", where, f"{at}.extra[{i}]", optional=True),
                _strings(table.get("files"), where, f"{at}.extra[{i}].files"),
            )
        )
    directory = str(_text(m, "dir", where, at))
    check_relpath(directory, f"{where}: {at}.dir")
    tools = _table(m.get("tools") or {}, where, f"{at}.tools")
    if not all(isinstance(v, str) for v in tools.values()):
        raise _bad(where, f"{at}.tools: expected versions as strings", tools)
    return ManifestModel(
        dir=directory,
        family=str(_text(m, "family", where, at)),
        format=str(_text(m, "format", where, at)),
        files=files,
        **{k: _text(m, k, where, at, optional=True) for k in ("hub", "repo", "path", "revision", "commit", "license")},
        runtime=_text(m, "runtime", where, at, optional=True),
        derived=_strings(m.get("derived"), where, f"{at}.derived"),
        quant_drift=_numbers(m.get("quant_drift"), where, f"{at}.quant_drift"),
        export_drift=_numbers(m.get("export_drift"), where, f"{at}.export_drift"),
        tools=dict(tools),
        advice=_strings(m.get("advice"), where, f"{at}.advice"),
        extra=tuple(extras),
    )


def read_manifest(data: bytes | Mapping[str, Any], where: str) -> Manifest:
    """The one reader of manifests: a document (or its bytes) validated whole; ``where`` names
    it in the error (the wheel and the member)."""
    if isinstance(data, bytes):
        try:
            data = json.loads(data.decode("utf-8"))
        except ValueError as e:
            raise IntegrityError(f"{where}: not JSON ({e}){_NOT_OURS}") from None
    document = _table(data, where, "the manifest")
    bundle = _table(document.get("bundle"), where, "bundle")
    generator = _table(document.get("generator") or {}, where, "generator")
    models = _table(document.get("models"), where, "models")
    package = str(_text(bundle, "package", where, "bundle"))
    check_relpath(package, f"{where}: bundle.package")
    return Manifest(
        document=document,
        name=str(_text(bundle, "name", where, "bundle")),
        version=str(_text(bundle, "version", where, "bundle")),
        package=package,
        generator=str(_text(generator, "hatch-funasr", where, "generator", optional=True) or "unknown"),
        models={str(name): _model(str(name), m, where) for name, m in models.items()},
    )
