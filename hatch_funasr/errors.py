"""The exceptions hatch-funasr raises: one base class, a few narrow kinds.

Every message names what a user can act on: the TOML path, the model, the file.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CatalogError",
    "ConfigError",
    "ExportError",
    "FetchError",
    "FunasrBuildError",
    "IntegrityError",
    "SelectionError",
]


class FunasrBuildError(Exception):
    """Base class of every error hatch-funasr raises on purpose."""


class ConfigError(FunasrBuildError):
    """The declaration in pyproject.toml is invalid; carries every problem found at once."""

    def __init__(self, problems: Iterable[str], *, source: str = "pyproject.toml") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"invalid FunASR model declaration in {source} ({len(self.problems)} {noun}):\n{lines}")


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
