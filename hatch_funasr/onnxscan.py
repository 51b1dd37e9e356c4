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


# Sub-messages that can hold tensors, by message kind: field number -> kind of the field
# (onnx.proto: ModelProto.graph 7, .training_info 20, .functions 25; TrainingInfoProto
# .initialization 1, .algorithm 2; FunctionProto.node 7, .attribute_proto 11 (attribute
# defaults, which may hold tensors too); GraphProto.node 1, .initializer 5,
# .sparse_initializer 15; NodeProto.attribute 5; AttributeProto.t 5, .g 6, .tensors 10,
# .graphs 11, .sparse_tensor 22, .sparse_tensors 23; SparseTensorProto.values 1, .indices 2;
# TensorProto.external_data 13).
_MODEL, _GRAPH, _NODE, _ATTRIBUTE = "model", "graph", "node", "attribute"
_TENSOR, _SPARSE, _ENTRY, _TRAINING, _FUNCTION = "tensor", "sparse", "entry", "training", "function"
_CHILDREN: dict[str, dict[int, str]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _FUNCTION: {7: _NODE, 11: _ATTRIBUTE},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TENSOR: {13: _ENTRY},
}
#: Deeper nesting than any real model has (graphs inside If/Loop attributes): refused, not recursed.
MAX_DEPTH = 64
#: The longest key or value of an external-data entry read into memory.
_MAX_ENTRY = 4096
#: Protobuf cannot parse a message this large (onnx and onnxruntime refuse it too): an
#: ``.onnx`` file over it is refused before a byte is read.
MAX_ONNX_BYTES = 2**31 - 1
#: Fields visited in the message tree before the scan gives up: a real model's graph has a few
#: per node (the real FSMN-VAD: about 1,000); a file of tiny junk fields would otherwise take hours.
MAX_FIELDS = 5_000_000


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


def _scan(f: BinaryIO, size: int) -> list[str]:
    """Every external-data location in the model, visiting the message tree iteratively (an
    explicit stack, at most :data:`MAX_DEPTH` deep) and seeking past everything else."""
    found: list[str] = []
    # (kind, end offset, the key/value fields of an external-data entry)
    stack: list[tuple[str, int, dict[int, bytes]]] = [(_MODEL, size, {})]
    fields = 0
    while stack:
        kind, end, entry = stack[-1]
        if f.tell() >= end:
            stack.pop()
            if kind == _ENTRY and entry.get(1) == b"location" and 2 in entry:
                found.append(entry[2].decode("utf-8", errors="replace"))
            continue
        tag = _varint(f)
        if tag is None:
            raise OnnxFormatError("truncated message")
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise OnnxFormatError(f"invalid field number 0 at byte {f.tell() - 1}")
        fields += 1
        if fields > MAX_FIELDS:
            raise OnnxFormatError(f"more than {MAX_FIELDS} fields outside tensor data")
        if wire == 0:
            _varint(f)
        elif wire in (1, 5):
            f.seek(8 if wire == 1 else 4, 1)
        elif wire == 2:
            length = _varint(f)
            if length is None or f.tell() + length > end:
                raise OnnxFormatError("field runs past its message")
            child = _CHILDREN.get(kind, {}).get(field)
            if kind == _ENTRY and field in (1, 2):
                if length > _MAX_ENTRY:
                    raise OnnxFormatError(f"external-data entry of {length} bytes")
                entry[field] = f.read(length)
            elif child is not None:
                if len(stack) >= MAX_DEPTH:
                    raise OnnxFormatError(f"messages nested deeper than {MAX_DEPTH} levels")
                stack.append((child, f.tell() + length, {}))
            else:
                f.seek(length, 1)
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        if f.tell() > end:
            raise OnnxFormatError("field runs past its message")
    return found


def external_data(path: Path) -> list[str]:
    """The external-data locations ``path`` refers to (relative to its directory), sorted, unique."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        if size > MAX_ONNX_BYTES:
            raise OnnxFormatError(f"{size} bytes, over the 2 GiB a protobuf message can hold")
        f.seek(0)
        return sorted(set(_scan(f, size)))


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
        # Taken as written: onnxruntime opens ``dir/sub/../w.bin`` through ``sub``, so a
        # location with ``.`` or ``..`` parts is refused, not normalised into another file.
        rel = posixpath.join(posixpath.dirname(onnx_file), location)
        problem = relpath_problem(location) or relpath_problem(rel)
        if problem is not None:
            raise IntegrityError(
                f"{what}: {onnx_file} refers to external data {location!r} ({problem}); only a plain path"
                " inside the model directory is accepted, refusing it"
            )
        if rel not in available:
            raise SelectionError(f"{what}: {onnx_file} keeps weights in {rel}, which {source} does not have")
        names.append(rel)
    return names
