"""Pack model files into the wheel hatchling wrote: stored (not deflated), hashed in one pass.

Hatchling's wheel writer deflates every file at level 6; on float weights that saves ~7%
and costs more than ten times the time of a plain copy.  So hatchling packs only the small
files of the bundle package (runtime module, manifest), and :func:`add_models` then
rebuilds the wheel once: hatchling's entries are copied, each model file is streamed in
(stored when large, deflated when small text) while its sha256 is computed for RECORD and
compared with the manifest, and RECORD is written last.  Memory stays flat (fixed-size
chunks), zip64 records are written for members near 2 GiB and larger (zipfile decides from
the size given up front), and entry order, times and permissions are fixed, so the
wheel stays reproducible.  On any failure the wheel is deleted: no half-written wheel stays.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import posixpath
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hatch_funasr import scratch
from hatch_funasr.digest import CHUNK, StreamHasher, record_hash
from hatch_funasr.errors import IntegrityError
from hatch_funasr.progress import Meter
from hatch_funasr.settings import Report

__all__ = ["PARTIAL_PREFIX", "PackEntry", "add_models", "compress_type_for", "read_record", "write_record"]

#: Hidden names of wheels being packed (never ``*.whl``): ``.funasr-partial-<wheel>-<host>-<pid>-…``.
PARTIAL_PREFIX = ".funasr-partial-"

#: Files the runtimes read as binary weights or graphs: never worth deflating.
_BINARY = (".onnx", ".pt", ".pth", ".bin", ".fst", ".model", ".safetensors", ".ckpt", ".npy", ".data")
_SMALL = 1 << 20
_TINY = 4 << 10
_PROGRESS = 64 << 20
#: Files from this size are hashed in a second thread beside the write.
_TWO_CORES = 8 << 20


@dataclass(frozen=True)
class PackEntry:
    """One model file: its path in the wheel, where its bytes are, what they must hash to
    (None: not known yet, a local file; it is hashed here, in the same pass)."""

    arcname: str
    source: Path
    size: int
    sha256: str | None


def compress_type_for(arcname: str, size: int) -> int:
    """Stored for weights, anything over 1 MiB and anything under 4 KiB (a compressor's set-up
    costs more than the few hundred bytes it would save); deflated for text between (yaml,
    json, mvn, tokens)."""
    if size > _SMALL or size < _TINY or posixpath.basename(arcname).lower().endswith(_BINARY):
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def read_record(data: bytes) -> list[list[str]]:
    """A wheel's RECORD as rows (path, hash, size), parsed as CSV: a comma in a name is quoted."""
    return [row for row in csv.reader(io.StringIO(data.decode())) if row]


def write_record(rows: Sequence[Sequence[str]]) -> bytes:
    """RECORD bytes for ``rows``, written as CSV with ``\n`` line ends (as pip and installer read it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _copy_in(
    dst: zipfile.ZipFile, entry: PackEntry, date_time: tuple[int, ...], report: Report, progress: str | None
) -> str:
    info = zipfile.ZipInfo(entry.arcname, date_time)  # type: ignore[arg-type]
    info.external_attr = (0o100644 & 0xFFFF) << 16
    info.compress_type = compress_type_for(entry.arcname, entry.size)
    info.file_size = entry.size
    if entry.size <= CHUNK:  # small files (most of a model directory): one read, checked before written
        with entry.source.open("rb") as src:
            data = src.read(entry.size + 1)  # one more byte: a file that grew is caught
        sha256 = hashlib.sha256(data).hexdigest()
        _check_unchanged(entry, len(data), sha256)
        dst.writestr(info, data)
        return sha256
    hasher = StreamHasher(entry.size)
    meter = None
    if entry.size >= _PROGRESS:
        report(f"hatch-funasr: packing {entry.arcname} ({entry.size / 2**20:.0f} MiB, stored)")
        meter = Meter(f"hatch-funasr: packing {posixpath.basename(entry.arcname)}", entry.size, report, mode=progress)
    try:
        # Large files: sha256 in a second thread beside crc32 and the write (two cores).
        hashing = hasher.beside() if entry.size >= _TWO_CORES else contextlib.nullcontext(hasher.update)
        with (
            entry.source.open("rb") as src,
            dst.open(info, "w") as out,  # zip64 from info.file_size, as zipfile decides
            hashing as feed,
        ):
            while chunk := src.read(CHUNK):
                feed(chunk)
                out.write(chunk)
                if meter is not None:
                    meter.advance(len(chunk))
    finally:
        if meter is not None:
            meter.close()
    digest = hasher.digest()
    _check_unchanged(entry, digest.size, digest.sha256)
    return digest.sha256


def _check_unchanged(entry: PackEntry, size: int, sha256: str) -> None:
    if size != entry.size or entry.sha256 not in (None, sha256):
        raise IntegrityError(
            f"{entry.arcname}: {entry.source} changed after it was verified (size {size}, sha256 "
            f"{sha256}; expected size {entry.size}, sha256 {entry.sha256}); nothing was packed"
        )


def add_models(
    wheel: Path,
    entries: Sequence[PackEntry],
    *,
    source_date_epoch: int,
    report: Report = lambda _m: None,
    progress: str | None = None,
    rewrite: Mapping[str, Callable[[bytes, Mapping[str, str]], bytes]] | None = None,
    append: Callable[[Mapping[str, str]], Mapping[str, bytes]] | None = None,
) -> None:
    """Rebuild ``wheel`` with ``entries`` added before its ``.dist-info`` and RECORD rewritten.

    ``rewrite`` maps paths of hatchling's entries to functions that get the entry's bytes
    and the sha256 of every model file (by wheel path) and return its final bytes: such
    entries are written after the models (the manifest, completed with hashes of files that
    were read for the first time here).  ``append`` gets the sha256 of every entry written
    before it (hatchling's files of the package, the models, the rewritten entries) and returns
    entries to write after them (the model directories' signatures, which cover all of these).
    """
    rewrite = dict(rewrite or {})
    # First of all, hatchling's wheel (without the models) stops being installable: it is moved
    # to a hidden name owned by this process.  A build killed from here on leaves no *.whl,
    # only scratch files the next build in this directory removes.
    partial = wheel.with_name(scratch.owned_name(f"{PARTIAL_PREFIX}{wheel.name}-", "partial"))
    tmp = wheel.with_name(scratch.owned_name(f"{PARTIAL_PREFIX}{wheel.name}-", "new"))
    date_time = time.gmtime(source_date_epoch)[:6]
    try:  # the move inside: a signal just after it must not leave the partial wheel behind
        wheel.replace(partial)
        with zipfile.ZipFile(partial) as src, zipfile.ZipFile(tmp, "w") as dst:  # zip64 where needed (the default)
            infos = src.infolist()
            record_name = next(i.filename for i in infos if i.filename.endswith(".dist-info/RECORD"))
            skip = {record_name, *rewrite}
            rows = [r for r in read_record(src.read(record_name)) if r[0] not in skip]
            pending = sorted(entries, key=lambda e: e.arcname)
            hashes: dict[str, str] = {}
            #: Every entry written so far (wheel path -> sha256), for ``append``.
            written: dict[str, str] = {}

            def write(info: zipfile.ZipInfo, data: bytes) -> None:
                dst.writestr(info, data)
                written[info.filename] = hashlib.sha256(data).hexdigest()
                rows.append([info.filename, record_hash(written[info.filename]), str(len(data))])

            def models_then_rewritten() -> None:
                for e in pending:
                    hashes[e.arcname] = written[e.arcname] = _copy_in(dst, e, date_time, report, progress)
                    rows.append([e.arcname, record_hash(hashes[e.arcname]), str(e.size)])
                for info in infos:
                    if info.filename in rewrite:
                        write(info, rewrite[info.filename](src.read(info.filename), hashes))
                for arcname, data in sorted((append(written) if append else {}).items()):
                    added = zipfile.ZipInfo(arcname, date_time)
                    added.external_attr = (0o100644 & 0xFFFF) << 16
                    added.compress_type = compress_type_for(arcname, len(data))
                    write(added, data)

            placed = False  # RECORD is in .dist-info: placed before the first .dist-info entry
            for info in infos:
                if not placed and ".dist-info/" in info.filename:
                    models_then_rewritten()
                    placed = True
                if info.filename not in skip:
                    data = src.read(info.filename)
                    dst.writestr(info, data)
                    if not placed:
                        written[info.filename] = hashlib.sha256(data).hexdigest()
            rows.append([record_name, "", ""])
            record = zipfile.ZipInfo(record_name, date_time)
            record.external_attr = (0o100644 & 0xFFFF) << 16
            dst.writestr(record, write_record(rows), compress_type=zipfile.ZIP_DEFLATED)
        tmp.replace(wheel)
    except BaseException:
        tmp.unlink(missing_ok=True)
        wheel.unlink(missing_ok=True)
        raise
    finally:
        partial.unlink(missing_ok=True)
