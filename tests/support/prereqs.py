"""The programs the demo and the test suite run, checked before anything else starts.

espeak-ng speaks the test utterance and sox trims and pads it (support/speech.py); strace
watches the bundle runtime and the C++ servers for network calls (tests/test_bundle_runtime.py,
tests/test_untrusted_inputs.py).  On Debian and Ubuntu the packages have the programs' names.
"""

from __future__ import annotations

import shutil

__all__ = ["PROGRAMS", "message", "missing"]

#: program -> what needs it
PROGRAMS = {
    "espeak-ng": "speaks the test utterance",
    "sox": "trims and pads it",
    "strace": "proves the installed bundle opens no network connection",
}


def missing(path: str | None = None) -> list[str]:
    """The programs of :data:`PROGRAMS` not found on ``path`` (default ``$PATH``), in order."""
    return [program for program in PROGRAMS if shutil.which(program, path=path) is None]


def message(absent: list[str], who: str) -> str:
    """One line naming what to install, e.g. for ``who`` = "the test suite"."""
    return (
        f"{who} needs {', '.join(PROGRAMS)}; not found on PATH: {', '.join(absent)} "
        f"(Debian/Ubuntu: sudo apt-get install {' '.join(absent)})"
    )
