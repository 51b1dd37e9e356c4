"""A stand-in for FunASR's export child (``hatch_funasr/_export_child.py``), for testing what the
pipeline does *around* an export (quantize, keep what ships, manifest) without torch.

:func:`fake_export_python` writes an executable that ``HATCH_FUNASR_EXPORT_PYTHON`` can name: it
speaks the child's protocol (``--versions``; a job file naming the files to write; the
``HATCH_FUNASR_EXPORT`` / ``HATCH_FUNASR_CHECK`` lines) and "exports" by copying the requested
files from a directory of ready ONNX files.  It proves nothing about export itself: the real
child is tested end to end in test_export.py.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

VERSIONS = {"torch": "0+fake", "funasr": "0+fake"}


def fake_export_python(tmp: Path, ready: Path) -> Path:
    """An executable taking the export child's arguments (``-I CHILD ARGS…``) that copies the
    files a job names from ``ready``."""
    script = tmp / "fake-export-python"
    script.write_text(
        "#!/bin/sh\n"
        "shift 2  # -I and the path of the real child\n"
        f'exec {shlex.quote(sys.executable)} {shlex.quote(__file__)} {shlex.quote(str(ready))} "$@"\n'
    )
    script.chmod(0o755)
    return script


def main(ready: str, arg: str) -> None:
    if arg == "--versions":
        print("HATCH_FUNASR_EXPORT " + json.dumps(VERSIONS), flush=True)
        return
    job = json.loads(Path(arg).read_text("utf-8"))
    for name in job["files"]:
        shutil.copyfile(Path(ready) / name, Path(job["dir"]) / name)
    print("HATCH_FUNASR_CHECK " + json.dumps({name: 0.0 for name in job["files"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
