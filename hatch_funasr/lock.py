"""``funasr.lock``: every hub model pinned to a commit, with each packed file's size and sha256.

The lock sits beside ``pyproject.toml`` and is written only by ``hatch-funasr lock`` (or a
build with ``HATCH_FUNASR_LOCK=update``).  A build with a lock fetches exactly the locked
commits, needs no hub listing at all, and verifies every byte against the lock.  Each
entry also records the declaration it was made from, so a changed declaration is caught.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hatch_funasr.digest import HASH_ALGORITHM
from hatch_funasr.errors import ConfigError, IntegrityError
from hatch_funasr.hubs import HUBS
from hatch_funasr.model import BundleConfig, HubRef, ModelConfig
from hatch_funasr.names import (
    REPO_ID,
    case_collisions,
    check_commit,
    check_relpath,
    check_sha256,
    check_size,
    is_license,
)
from hatch_funasr.settings import tomllib

__all__ = [
    "LOCK_NAME",
    "Declaration",
    "Lock",
    "LockedFile",
    "LockedModel",
    "LockedRepo",
    "declaration_of",
    "mismatches",
    "read_lock",
    "write_lock",
]

LOCK_NAME = "funasr.lock"
LOCK_VERSION = 1

#: What decides a model's commits and file set (:func:`declaration_of`): a table of strings,
#: booleans, arrays of strings, and ``extra`` (an array of tables); no value is ever None.
Declaration = Mapping[str, object]


@dataclass(frozen=True)
class LockedFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class LockedRepo:
    """One hub repository pinned to a commit, with the files taken from it."""

    hub: str
    repo: str
    revision: str | None
    commit: str
    files: tuple[LockedFile, ...]
    #: The licence the hub reported when the lock was made (for the manifest and SBOM).
    license: str | None = None


@dataclass(frozen=True)
class LockedModel(LockedRepo):
    name: str = ""
    #: The declaration this entry was resolved from (see :func:`declaration_of`).
    declaration: Declaration = field(default_factory=dict)
    #: Repositories that complete the model directory (``extra-files``).
    extra: tuple[LockedRepo, ...] = ()


@dataclass(frozen=True)
class Lock:
    models: Mapping[str, LockedModel]


def declaration_of(model: ModelConfig, ref: HubRef) -> dict[str, object]:
    """What decides a hub model's commits and file set (``ref`` is its origin), as the lock
    stores it (a TOML table: unset values are left out)."""
    table: dict[str, object] = {
        "hub": ref.hub,
        "repo": ref.repo,
        "revision": ref.revision,
        "family": model.family,
        "format": model.format,
        "export": model.export,
        "quantize": model.quantize,
        "keep-fp32": model.keep_fp32,
        "include": list(model.include),
        "exclude": list(model.exclude),
        "gguf": model.gguf,
    }
    if model.extra:
        table["extra"] = [_extra_table(e.hub, e.repo, e.revision, list(e.files)) for e in model.extra]
    return {k: v for k, v in sorted(table.items()) if v is not None}


def _extra_table(hub: object, repo: object, revision: object, files: object) -> dict[str, object]:
    table = {"hub": hub, "repo": repo, "revision": revision, "files": files}
    return {k: v for k, v in table.items() if v is not None}


def _q(text: str) -> str:
    """A TOML basic string (json escaping is a valid subset for these values)."""
    return json.dumps(text, ensure_ascii=False)


def _toml_value(value: object) -> str:
    """A declaration's value as TOML: a string, a boolean, an array, an inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, Mapping), value
    return _inline_table(value)


def _inline_table(table: Mapping[str, object]) -> str:
    return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in sorted(table.items())) + " }"


def _render_repo(r: LockedRepo) -> list[str]:
    lines = [f"hub = {_q(r.hub)}", f"repo = {_q(r.repo)}"]
    if r.revision is not None:
        lines.append(f"revision = {_q(r.revision)}")
    lines.append(f"commit = {_q(r.commit)}")
    if r.license is not None:
        lines.append(f"license = {_q(r.license)}")
    return lines


def _render_files(files: tuple[LockedFile, ...]) -> list[str]:
    rows = [
        f"  {{ path = {_q(f.path)}, size = {f.size}, sha256 = {_q(f.sha256)} }},"
        for f in sorted(files, key=lambda f: f.path)
    ]
    return ["files = [", *rows, "]"]


def render(lock: Lock) -> str:
    lines = [
        "# funasr.lock: written by `hatch-funasr lock`; commit it. Do not edit by hand.",
        f"version = {LOCK_VERSION}",
        f"hash-algorithm = {_q(HASH_ALGORITHM)}",
    ]
    for name in sorted(lock.models):
        m = lock.models[name]
        lines += [
            "",
            f"[models.{name}]",
            *_render_repo(m),
            f"declaration = {_inline_table(m.declaration)}",
            *_render_files(m.files),
        ]
        for e in m.extra:
            lines += ["", f"[[models.{name}.extra]]", *_render_repo(e), *_render_files(e.files)]
    return "\n".join(lines) + "\n"


def _text(entry: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    value = entry.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise IntegrityError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _locked_repo(m: object, where: str) -> LockedRepo:
    """One pinned repository's table, every value checked before it becomes a path, key or size."""
    if not isinstance(m, dict):
        raise IntegrityError(f"{where}: expected a table, got {type(m).__name__}")
    hub = _text(m, "hub", where)
    if hub not in HUBS:
        raise IntegrityError(f"{where}.hub: expected one of {', '.join(HUBS)}, got {hub!r}")
    repo = str(_text(m, "repo", where))
    if not REPO_ID.fullmatch(repo):
        raise IntegrityError(f"{where}.repo: {repo!r} is not a hub repository id owner/name")
    files = m.get("files")
    if not isinstance(files, list):
        raise IntegrityError(f"{where}.files: expected an array of tables, got {type(files).__name__}")
    locked = []
    for i, f in enumerate(files):
        at = f"{where}.files[{i}]"
        if not isinstance(f, dict):
            raise IntegrityError(f"{at}: expected a table, got {type(f).__name__}")
        path = check_relpath(f.get("path"), f"{at}.path")
        locked.append(LockedFile(path, check_size(f.get("size"), f"{at}.size"), check_sha256(f.get("sha256"), at)))
    clash = case_collisions(f.path for f in locked)
    if clash:
        raise IntegrityError(f"{where}.files: {clash[0][0]!r} and {clash[0][1]!r} are one file on Windows and macOS")
    license = _text(m, "license", where, optional=True)
    if license is not None and not is_license(license):
        raise IntegrityError(f"{where}.license: {license!r} is not a licence name or SPDX expression")
    return LockedRepo(
        license=license,
        hub=str(hub),
        repo=repo,
        revision=_text(m, "revision", where, optional=True),
        commit=check_commit(m.get("commit"), f"{where}.commit (a movable tag or branch cannot be locked)"),
        files=tuple(locked),
    )


def _locked_model(name: object, m: object) -> LockedModel:
    where = f"models.{name}"
    check_relpath(name, where)
    repo = _locked_repo(m, where)
    assert isinstance(m, dict)
    extra = m.get("extra", [])
    if not isinstance(extra, list):
        raise IntegrityError(f"{where}.extra: expected an array of tables, got {type(extra).__name__}")
    return LockedModel(
        **vars(repo),
        name=str(name),
        declaration=_declaration(m.get("declaration"), f"{where}.declaration"),
        extra=tuple(_locked_repo(e, f"{where}.extra[{i}]") for i, e in enumerate(extra)),
    )


_DECLARATION_TEXT = ("hub", "repo", "revision", "family", "format", "gguf")
_DECLARATION_LISTS = ("include", "exclude")


def _declaration(value: object, where: str) -> dict[str, object]:
    """An entry's declaration: a table, or the JSON string a lock written by hatch-funasr 0.x holds
    (read into the same table).  Anything else is refused naming ``where``."""
    written = value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("extra"), list):
            value["extra"] = [_extra_table(*e) if isinstance(e, list) and len(e) == 4 else e for e in value["extra"]]
    if not isinstance(value, dict) or not value:
        raise IntegrityError(
            f"{where}: expected the table `hatch-funasr lock` writes, got {written!r:.80}; it is not edited by hand"
        )
    table = {k: v for k, v in value.items() if v is not None}
    for key, item in table.items():
        ok = {
            **dict.fromkeys(_DECLARATION_TEXT, isinstance(item, str)),
            **dict.fromkeys(_DECLARATION_LISTS, _strings(item)),
            "export": item in ("auto", "generic") or isinstance(item, bool),
            "quantize": isinstance(item, bool),
            "keep-fp32": isinstance(item, bool),
            "extra": isinstance(item, list) and all(_extra_ok(e) for e in item),
        }.get(key)  # a key the lock never writes: not ok
        if not ok:
            raise IntegrityError(f"{where}.{key}: {item!r:.80} is not a value `hatch-funasr lock` writes there")
    return dict(sorted(table.items()))


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _extra_ok(value: object) -> bool:
    if not isinstance(value, dict) or not set(value) <= {"hub", "repo", "revision", "files"}:
        return False
    texts = all(isinstance(value.get(k), str) for k in ("hub", "repo"))
    return texts and isinstance(value.get("revision", ""), str) and _strings(value.get("files"))


def read_lock(root: Path) -> Lock | None:
    """The project's lock, every value validated; None when there is no lock file."""
    path = root / LOCK_NAME
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_bytes().decode())
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}, expected {LOCK_VERSION}")
        if data.get("hash-algorithm", HASH_ALGORITHM) != HASH_ALGORITHM:
            why = f"hash-algorithm {data['hash-algorithm']!r} is not one this hatch-funasr reads ({HASH_ALGORITHM})"
            raise ValueError(f"{why}; upgrade hatch-funasr")
        models = data.get("models", {})
        if not isinstance(models, dict):
            raise IntegrityError(f"models: expected a table of models, got {type(models).__name__}")
        return Lock({str(name): _locked_model(name, m) for name, m in models.items()})
    except (OSError, UnicodeDecodeError, ValueError, IntegrityError) as e:
        raise ConfigError(
            [f"{LOCK_NAME}: {e}; fix it, or delete it and run `hatch-funasr lock`"], source=LOCK_NAME
        ) from e


def write_lock(root: Path, lock: Lock) -> bool:
    """Write the lock if its content changed; True when the file was (re)written."""
    path = root / LOCK_NAME
    data = render(lock).encode()  # UTF-8, whatever the locale: TOML is
    if path.is_file() and path.read_bytes() == data:
        return False
    tmp = path.with_name(f".{LOCK_NAME}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def mismatches(config: BundleConfig, lock: Lock) -> list[str]:
    """How the declaration and the lock disagree, one line per model."""
    problems = []
    for model in config.models:
        if not isinstance(model.origin, HubRef):
            continue
        entry = lock.models.get(model.name)
        if entry is None:
            problems.append(f"model {model.name} is declared but not in {LOCK_NAME}")
            continue
        was, now = entry.declaration, declaration_of(model, model.origin)
        changed = [f"{k} {was.get(k)!r} -> {now.get(k)!r}" for k in sorted({*was, *now}) if was.get(k) != now.get(k)]
        if changed:
            problems.append(f"model {model.name} changed since it was locked: {', '.join(changed)}")
    declared = {m.name for m in config.models if isinstance(m.origin, HubRef)}
    problems += [f"model {n} is in {LOCK_NAME} but no longer declared" for n in sorted(set(lock.models) - declared)]
    return problems
