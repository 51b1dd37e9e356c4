"""Scratch space owned by one process: named after its host and pid, removed by the next build
when that process is gone (a killed build leaves nothing a later one trusts, and no litter)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["make_dir", "owned_name", "sweep"]

#: This host's name as used in scratch names (no dashes: they separate fields).
_HOST = "".join(c for c in platform.node() if c.isalnum()) or "host"
#: ``<anything>-<host>-<pid>-<suffix>``: the owner of a scratch entry.
_OWNER = re.compile(r"-([A-Za-z0-9]+)-(\d+)-[^-]*$")


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owned_name(prefix: str, suffix: str) -> str:
    """``{prefix}{host}-{pid}-{suffix}``: a name :func:`sweep` can attribute to this process."""
    return f"{prefix}{_HOST}-{os.getpid()}-{suffix}"


def sweep(base: Path, prefix: str) -> None:
    """Remove entries of ``base`` named with ``prefix`` whose owner on this host no longer runs."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _OWNER.search(entry.name)
        if not entry.name.startswith(prefix) or match is None or match.group(1) != _HOST:
            continue
        if not _running(int(match.group(2))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def make_dir(base: Path, prefix: str) -> Path:
    """A new scratch directory in ``base`` owned by this process (stale ones swept first)."""
    base.mkdir(parents=True, exist_ok=True)
    sweep(base, prefix)
    return Path(tempfile.mkdtemp(prefix=owned_name(prefix, ""), dir=base))
