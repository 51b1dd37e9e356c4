"""Registers hatch-funasr with hatchling (entry point group ``hatch``, name ``funasr``)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from hatch_funasr.plugin import FunasrBuildHook


@hookimpl
def hatch_register_build_hook() -> type[FunasrBuildHook]:
    return FunasrBuildHook
