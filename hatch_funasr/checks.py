"""What ``hatch-funasr check`` looks at beyond the declaration: whether a build would run the
hook at all, whether the bundle's import name is taken, and which size limits of the places
a wheel travels through (an index, a release page, a USB disk, Windows) it would meet.

Each check returns ``(notes, problems)``: notes are printed, problems make ``check`` fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import packages_distributions
from typing import Any

from packaging.utils import canonicalize_name

from hatch_funasr.config import HOOK_PATHS, find_hook_table
from hatch_funasr.model import BundleConfig
from hatch_funasr.pipeline import Plan

__all__ = ["build_system", "package_clash", "size_limits"]

Findings = tuple[list[str], list[str]]

#: PyPI's default per-file upload limit (a project may ask for more).
PYPI_FILE = 100 * 2**20
#: GitHub's limit for one release asset.
RELEASE_ASSET = 2 * 2**30
#: The largest file FAT32 holds (USB disks are often formatted so).
FAT32_FILE = 2**32 - 1
#: Windows' MAX_PATH (260) less a typical per-user site-packages prefix,
#: ``C:\Users\<name>\AppData\Local\Programs\Python\Python311\Lib\site-packages\`` (~80).
WINDOWS_RELATIVE_PATH = 260 - 80
_MiB = 2**20


def build_system(pyproject: Mapping[str, Any]) -> Findings:
    """The hook table is there (else hatchling builds no models: with no package directory it
    stops with "Unable to determine which files to ship"); the backend is hatchling and
    ``build-system.requires`` names hatch-funasr (else an isolated build has no hook)."""
    problems: list[str] = []
    if find_hook_table(pyproject) is None:
        problems.append(
            f"the build hook is not enabled: add [{HOOK_PATHS[0]}] to pyproject.toml; without it hatchling "
            "packs no models (and, with no package directory, stops with its unrelated "
            '"Unable to determine which files to ship inside the wheel")'
        )
    system = pyproject.get("build-system")
    system = system if isinstance(system, Mapping) else {}
    backend = system.get("build-backend")
    if backend != "hatchling.build":
        problems.append(f'build-system.build-backend is {backend!r}; the hook runs under "hatchling.build"')
    requires = system.get("requires")
    names = [re.split(r"[\s\[<>=!~;@(]", str(r).strip(), maxsplit=1)[0] for r in requires or []]
    if "hatch-funasr" not in {canonicalize_name(n) for n in names}:
        problems.append(
            'build-system.requires does not name "hatch-funasr": isolated builds (hatch build, python -m build, '
            "pip wheel, uv build) would not have the hook; see docs/getting-started.md, Isolated builds"
        )
    return [], problems


def package_clash(config: BundleConfig) -> Findings:
    """The bundle's import name belongs to another distribution installed here: installing the
    bundle beside it would overwrite (or be shadowed by) that distribution's files."""
    owners = sorted(
        d
        for d in packages_distributions().get(config.package, [])
        if canonicalize_name(d) != canonicalize_name(config.project_name)
    )
    if not owners:
        return [], []
    return [], [
        f"package {config.package!r} is already the import name of {', '.join(owners)} in this environment; "
        "the bundle would overwrite it on install: set [tool.funasr].package to another name"
    ]


def size_limits(config: BundleConfig, plans: list[Plan]) -> Findings:
    """Sizes the wheel will have where the listings are known (lock, cache, local directories),
    against ``max-file-size`` (a problem) and the limits of where wheels travel (notes)."""
    notes: list[str] = []
    problems: list[str] = []
    known = [(p, name, size) for p in plans for name, size in p.shipped]
    sized = [(p, name, size) for p, name, size in known if size is not None]
    partial = len(sized) < len(known) or any(not p.shipped for p in plans)
    total = sum(size for _, _, size in sized)
    if not sized:
        return ["sizes: unknown until `hatch-funasr lock` (or a build) lists the hub repositories"], []
    largest = max(sized, key=lambda item: item[2])
    at_least = "at least " if partial else ""
    notes.append(
        f"sizes: {at_least}{total / _MiB:.1f} MiB of model files; largest {largest[0].name}/{largest[1]} "
        f"({largest[2] / _MiB:.1f} MiB)"
        + ("; files made by the build (export, quantization) not counted" if partial else "")
    )
    limit = config.max_file_size
    if limit is not None:
        problems += [
            f"model {p.name}: {name} is {size / _MiB:.1f} MiB, over max-file-size ({limit / _MiB:.1f} MiB)"
            for p, name, size in sized
            if size > limit
        ]
    elif largest[2] > PYPI_FILE:
        notes.append(
            f"PyPI refuses files over {PYPI_FILE // _MiB} MiB (unless the project's limit was raised): publish "
            "to a private index (pypiserver, devpi) or carry the wheel (find-links); max-file-size makes the "
            "build check it"
        )
    if total > RELEASE_ASSET:
        notes.append(f"over {RELEASE_ASSET // 2**30} GiB: too large for one GitHub release asset")
    if total > FAT32_FILE:
        notes.append("over 4 GiB: a FAT32 USB disk cannot hold the wheel (use exFAT or ext4)")
    long_paths = [f"{p.target}/{name}" for p, name, _ in known if len(f"{p.target}/{name}") > WINDOWS_RELATIVE_PATH]
    if long_paths:
        longest = max(long_paths, key=len)
        notes.append(
            f"{len(long_paths)} installed path(s) longer than {WINDOWS_RELATIVE_PATH} characters (e.g. {longest}, "
            f"{len(longest)}): on Windows without long paths enabled, site-packages takes the rest of MAX_PATH (260)"
        )
    return notes, problems
