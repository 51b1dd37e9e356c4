"""hatch-funasr: FunASR models declared in pyproject.toml, built into pinned, verified wheels."""

from __future__ import annotations

from hatch_funasr.errors import (
    CatalogError,
    ConfigError,
    ExportError,
    FetchError,
    FunasrBuildError,
    IntegrityError,
    SelectionError,
)

__version__ = "0.1.0"

__all__ = [
    "CatalogError",
    "ConfigError",
    "ExportError",
    "FetchError",
    "FunasrBuildError",
    "IntegrityError",
    "SelectionError",
    "__version__",
]
