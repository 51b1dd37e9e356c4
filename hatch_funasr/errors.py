"""The exceptions hatch-funasr raises: one base class, a few narrow kinds.

Every message names what a user can act on: the TOML path, the model, the file.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterable, Iterator

from hatch_funasr._bundle_runtime import printable

__all__ = [
    "CatalogError",
    "ConfigError",
    "ExportError",
    "FetchError",
    "FunasrBuildError",
    "IntegrityError",
    "SelectionError",
    "StorageError",
    "disk_errors",
    "redact",
    "storage_cause",
    "storage_error",
]


class FunasrBuildError(Exception):
    """Base class of every error hatch-funasr raises on purpose.  Its message often quotes what a
    hub, a cache or a wheel said: control characters in it are shown escaped, never sent to a
    terminal as they are (an escape sequence could draw a fake "ok")."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(printable(message, lines=True), *args)


class ConfigError(FunasrBuildError):
    """The declaration (pyproject.toml, funasr.lock, or a setting in the environment) is
    invalid; carries every problem found at once."""

    def __init__(self, problems: Iterable[str], *, source: str = "pyproject.toml") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        what = "hatch-funasr settings" if source == "the environment" else "FunASR model declaration"
        super().__init__(f"invalid {what} in {source} ({len(self.problems)} {noun}):\n{lines}")


class CatalogError(FunasrBuildError):
    """A model could not be resolved to a repository or family."""


class FetchError(FunasrBuildError):
    """A model could not be fetched from its hub, its local path or the cache."""


class IntegrityError(FunasrBuildError):
    """A file's content differs from what the listing, lock or manifest says it must be."""


class SelectionError(FunasrBuildError):
    """A model's source lacks a file its runtime reads, or cannot give the requested format."""


class ExportError(FunasrBuildError):
    """Exporting or quantizing a model to ONNX failed or is not possible."""


class StorageError(FunasrBuildError):
    """The disk refused a write: full, over quota, read-only or not permitted."""


#: errno values that mean "this location cannot take the write", not "try again".
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def storage_cause(exc: BaseException) -> OSError | None:
    """The disk error behind ``exc``, if there is one.

    Hub clients wrap them: in ``__cause__``/``__context__``, in an exception group, or (the
    ModelScope client) in a ``failed_files`` mapping of per-file exceptions.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE_ERRNOS:
            return current
        nested = [current.__cause__, current.__context__, *getattr(current, "exceptions", ())]
        failed = getattr(current, "failed_files", None)
        if isinstance(failed, dict):
            nested += failed.values()
        todo += [e for e in nested if isinstance(e, BaseException)]
    return None


def storage_error(cause: OSError, doing: str, hint: str) -> StorageError:
    """A message for a refused write: what was being done, where, why, and what to do."""
    where = f" ({cause.filename})" if cause.filename else ""
    return StorageError(f"{doing}: {cause.strerror or cause}{where}; {hint}")


@contextlib.contextmanager
def disk_errors(doing: str, hint: str) -> Iterator[None]:
    """Turn a refused write anywhere inside into a :class:`StorageError` naming path and remedy."""
    try:
        yield
    except FunasrBuildError:
        raise
    except OSError as e:
        cause = storage_cause(e)
        if cause is None:
            raise
        raise storage_error(cause, doing, hint) from e


_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with the credentials of any URL in it (``https://user:secret@mirror``) replaced
    by ``***``: endpoint variables may carry them, and messages and logs must not."""
    return _CREDENTIALS.sub(r"\1***@", text)
