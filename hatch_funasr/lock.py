"""``funasr.lock``: every hub model pinned to a commit, with each packed file's size and sha256.

The lock sits beside ``pyproject.toml`` and is written only by ``hatch-funasr lock`` (or a
build with ``HATCH_FUNASR_LOCK=update``).  A build with a lock fetches exactly the locked
commits, needs no hub listing at all, and verifies every byte against the lock.  Each
entry also records the declaration it was made from, so a changed declaration is caught.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hatch_funasr.config import BundleConfig, ModelConfig
from hatch_funasr.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["LOCK_NAME", "Lock", "LockedFile", "LockedModel", "declaration_of", "mismatches", "read_lock", "write_lock"]

LOCK_NAME = "funasr.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class LockedModel:
    name: str
    hub: str
    repo: str
    revision: str | None
    commit: str
    #: The declaration this entry was resolved from (see :func:`declaration_of`).
    declaration: str
    files: tuple[LockedFile, ...]


@dataclass(frozen=True)
class Lock:
    models: Mapping[str, LockedModel]


def declaration_of(model: ModelConfig) -> str:
    """What decides a model's commit and file set, as one stable string."""
    return json.dumps(
        {
            "hub": model.hub,
            "repo": model.repo,
            "revision": model.revision,
            "family": model.family,
            "format": model.format,
            "export": model.export,
            "quantize": model.quantize,
            "keep-fp32": model.keep_fp32,
            "include": list(model.include),
            "exclude": list(model.exclude),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _q(text: str) -> str:
    """A TOML basic string (json escaping is a valid subset for these values)."""
    return json.dumps(text, ensure_ascii=False)


def render(lock: Lock) -> str:
    lines = [
        "# funasr.lock: written by `hatch-funasr lock`; commit it. Do not edit by hand.",
        f"version = {LOCK_VERSION}",
    ]
    for name in sorted(lock.models):
        m = lock.models[name]
        lines += ["", f"[models.{name}]", f"hub = {_q(m.hub)}", f"repo = {_q(m.repo)}"]
        if m.revision is not None:
            lines.append(f"revision = {_q(m.revision)}")
        lines += [f"commit = {_q(m.commit)}", f"declaration = {_q(m.declaration)}", "files = ["]
        for f in sorted(m.files, key=lambda f: f.path):
            lines.append(f"  {{ path = {_q(f.path)}, size = {f.size}, sha256 = {_q(f.sha256)} }},")
        lines.append("]")
    return "\n".join(lines) + "\n"


def read_lock(root: Path) -> Lock | None:
    path = root / LOCK_NAME
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}, expected {LOCK_VERSION}")
        models = {
            name: LockedModel(
                name=name,
                hub=m["hub"],
                repo=m["repo"],
                revision=m.get("revision"),
                commit=m["commit"],
                declaration=m["declaration"],
                files=tuple(LockedFile(f["path"], int(f["size"]), f["sha256"]) for f in m["files"]),
            )
            for name, m in data.get("models", {}).items()
        }
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            [f"{LOCK_NAME}: cannot read it ({e}); delete it and run `hatch-funasr lock`"], source=LOCK_NAME
        ) from e
    return Lock(models)


def write_lock(root: Path, lock: Lock) -> bool:
    """Write the lock if its content changed; True when the file was (re)written."""
    path = root / LOCK_NAME
    text = render(lock)
    if path.is_file() and path.read_text("utf-8") == text:
        return False
    tmp = path.with_name(f".{LOCK_NAME}.tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)
    return True


def mismatches(config: BundleConfig, lock: Lock) -> list[str]:
    """How the declaration and the lock disagree, one line per model."""
    problems = []
    for model in config.models:
        if model.path is not None:
            continue
        entry = lock.models.get(model.name)
        if entry is None:
            problems.append(f"model {model.name} is declared but not in {LOCK_NAME}")
            continue
        was, now = json.loads(entry.declaration), json.loads(declaration_of(model))
        changed = [f"{k} {was.get(k)!r} -> {now.get(k)!r}" for k in sorted(now) if was.get(k) != now.get(k)]
        if changed:
            problems.append(f"model {model.name} changed since it was locked: {', '.join(changed)}")
    declared = {m.name for m in config.models if m.path is None}
    problems += [f"model {n} is in {LOCK_NAME} but no longer declared" for n in sorted(set(lock.models) - declared)]
    return problems
