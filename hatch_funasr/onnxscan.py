"""Which external-data files an ONNX model refers to, read from its protobuf without loading it.

Models over 2 GB keep their weights outside the ``.onnx`` file (protobuf cannot hold more):
each such tensor's ``external_data`` names a file relative to the model's directory.  Those
files must travel with the model.  This reads only the message structure, seeking past
tensor bytes, so memory stays flat whatever the model's size, and it needs no ``onnx``.

Wire format: https://protobuf.dev/programming-guides/encoding/ ; field numbers from onnx.proto.
"""

from __future__ import annotations

import posixpath
from collections.abc import Container
from pathlib import Path
from typing import BinaryIO

from hatch_funasr.errors import IntegrityError, SelectionError
from hatch_funasr.names import relpath_problem

__all__ = ["OnnxFormatError", "external_data", "weight_files"]


class OnnxFormatError(ValueError):
    """The file is not a well-formed ONNX protobuf."""


# Sub-messages that can hold tensors, by message kind: field number -> kind of the field.
_GRAPH, _NODE, _ATTRIBUTE, _TENSOR, _SPARSE, _ENTRY = "graph", "node", "attribute", "tensor", "sparse", "entry"
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: _GRAPH},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TENSOR: {13: _ENTRY},
}


def _varint(f: BinaryIO) -> int | None:
    shift = result = 0
    while True:
        byte = f.read(1)
        if not byte:
            if shift:
                raise OnnxFormatError("truncated varint")
            return None
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise OnnxFormatError("varint too long")


def _walk(f: BinaryIO, kind: str, end: int, found: list[str]) -> None:
    """Visit the fields of one message that ends at offset ``end``."""
    entry: dict[int, bytes] = {}
    while f.tell() < end:
        tag = _varint(f)
        if tag is None:
            raise OnnxFormatError("truncated message")
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _varint(f)
        elif wire == 1:
            f.seek(8, 1)
        elif wire == 5:
            f.seek(4, 1)
        elif wire == 2:
            length = _varint(f)
            if length is None or f.tell() + length > end:
                raise OnnxFormatError("field runs past its message")
            child = _CHILDREN.get(kind, {}).get(field)
            if kind == _ENTRY and field in (1, 2):
                entry[field] = f.read(length)
            elif child is not None:
                _walk(f, child, f.tell() + length, found)
            else:
                f.seek(length, 1)
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
    if kind == _ENTRY and entry.get(1) == b"location" and 2 in entry:
        found.append(entry[2].decode("utf-8", errors="replace"))


def external_data(path: Path) -> list[str]:
    """The external-data locations ``path`` refers to (relative to its directory), sorted, unique."""
    found: list[str] = []
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        _walk(f, "model", size, found)
    return sorted(set(found))


def weight_files(onnx_file: str, path: Path, available: Container[str], *, what: str, source: str) -> list[str]:
    """The files (model-relative, like ``onnx_file``) whose bytes ``onnx_file`` at ``path`` keeps
    outside itself.  A reference that leaves the model directory, a file ``available`` lacks,
    or a malformed ONNX file is an error that starts with ``what`` (e.g. "model asr")."""
    try:
        locations = external_data(path)
    except OnnxFormatError as e:
        raise SelectionError(f"{what}: {onnx_file} is not a valid ONNX file: {e}") from e
    names = []
    for location in locations:
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(onnx_file), location))
        if relpath_problem(rel) is not None:
            raise IntegrityError(
                f"{what}: {onnx_file} refers to external data {location!r} outside the model directory; refusing it"
            )
        if rel not in available:
            raise SelectionError(f"{what}: {onnx_file} keeps weights in {rel}, which {source} does not have")
        names.append(rel)
    return names
