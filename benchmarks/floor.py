"""The honest floor for packing a model directory into a wheel: one pass over every byte.

    python benchmarks/floor.py MODEL_DIR OUT.zip

Writes a zip of every file under MODEL_DIR (stored, as the weights are stored in a wheel),
reading each byte once and hashing it with hashlib's sha256 while writing it (what a RECORD
needs), then a RECORD-like listing.  No start-up beyond the interpreter, no second read,
no second thread: any packer that reads, hashes and writes must do at least this much work
on one core.  (``zip -0`` plus ``sha256sum`` reads everything twice, and coreutils' sha256
has no SHA-NI on this machine: it is not a floor.)
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

CHUNK = 1 << 20


def main(source: Path, out: Path) -> int:
    rows = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            name = path.relative_to(source).as_posix()
            size = path.stat().st_size
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.file_size = size
            sha = hashlib.sha256()
            with path.open("rb") as src, zf.open(info, "w", force_zip64=size >= 2**31) as dst:
                while chunk := src.read(CHUNK):
                    sha.update(chunk)
                    dst.write(chunk)
            digest = base64.urlsafe_b64encode(sha.digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{size}")
        zf.writestr("RECORD", "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
