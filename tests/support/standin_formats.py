"""Binary formats of FunASR side files, written byte by byte (no OpenFst, no sentencepiece needed).

- OpenFst "vector" FSTs over the "standard" (tropical, float) arc, as ``fst::Fst<StdArc>::Read``
  (the LM's ``TLG.fst``, ``paraformer.cpp: InitLm``) and ``StdVectorFst::Read`` (ITN's
  ``zh_itn_tagger.fst`` / ``zh_itn_verbalizer.fst``, ``itn-processor.cpp: InitITN``) read them.
  Layout from FunASR's vendored OpenFst: ``FstHeader::Read`` (``src/lib/fst.cc``: magic, fst
  type, arc type, version, flags, properties, start, #states, #arcs) then, per state,
  ``VectorFstImpl::Read`` (``include/fst/vector-fst.h``: final weight, #arcs, then ilabel,
  olabel, weight, nextstate per arc).  Version 2, no symbol tables.
- A SentencePiece ``ModelProto`` (protobuf wire format; field numbers from sentencepiece's
  ``sentencepiece_model.proto``: pieces=1 {piece=1, score=2, type=3}, trainer_spec=2
  {model_type=3, vocab_size=4, unk_id=40, bos_id=41, eos_id=42, pad_id=43}, normalizer_spec=3
  {name=1, add_dummy_prefix=3, remove_extra_whitespaces=4, escape_whitespaces=5}).

Everything here is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from itertools import pairwise

# ---- OpenFst ---------------------------------------------------------------------------------

FST_MAGIC = 2125659606  # kFstMagicNumber, include/fst/fst.h
ZERO = math.inf  # TropicalWeight::Zero(): a non-final state
ONE = 0.0  # TropicalWeight::One()

# include/fst/properties.h
_EXPANDED, _MUTABLE = 0x1, 0x2
_ACCEPTOR, _NOT_ACCEPTOR = 0x10000, 0x20000
_EPSILONS, _NO_EPSILONS = 0x400000, 0x800000
_IEPSILONS, _NO_IEPSILONS = 0x1000000, 0x2000000
_OEPSILONS, _NO_OEPSILONS = 0x4000000, 0x8000000
_ILABEL_SORTED, _NOT_ILABEL_SORTED = 0x10000000, 0x20000000
_OLABEL_SORTED, _NOT_OLABEL_SORTED = 0x40000000, 0x80000000
_WEIGHTED, _UNWEIGHTED = 0x100000000, 0x200000000

#: (ilabel, olabel, weight, nextstate)
Arc = tuple[int, int, float, int]


def _string(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<i", len(data)) + data


def _properties(finals: Sequence[float], arcs: Sequence[Sequence[Arc]]) -> int:
    """The properties OpenFst would record for this machine, for the bits computed here; others unknown."""
    flat = [a for state in arcs for a in state]
    props = _EXPANDED | _MUTABLE  # VectorFstImpl::kStaticProperties
    props |= _ACCEPTOR if all(i == o for i, o, _, _ in flat) else _NOT_ACCEPTOR
    props |= _EPSILONS if any(i == 0 and o == 0 for i, o, _, _ in flat) else _NO_EPSILONS
    props |= _IEPSILONS if any(i == 0 for i, _, _, _ in flat) else _NO_IEPSILONS
    props |= _OEPSILONS if any(o == 0 for _, o, _, _ in flat) else _NO_OEPSILONS
    isorted = all(a[0] <= b[0] for s in arcs for a, b in pairwise(s))
    osorted = all(a[1] <= b[1] for s in arcs for a, b in pairwise(s))
    props |= _ILABEL_SORTED if isorted else _NOT_ILABEL_SORTED
    props |= _OLABEL_SORTED if osorted else _NOT_OLABEL_SORTED
    weighted = any(w != ONE for _, _, w, _ in flat) or any(f not in (ONE, ZERO) for f in finals)
    props |= _WEIGHTED if weighted else _UNWEIGHTED
    return props


def vector_fst(finals: Sequence[float], arcs: Sequence[Iterable[Arc]], *, start: int = 0) -> bytes:
    """An OpenFst binary ``vector`` FST (arc type ``standard``); state ``s`` has ``finals[s]`` and ``arcs[s]``."""
    states = [sorted(state) for state in arcs]  # ilabel-sorted, as fstarcsort leaves them
    if len(states) != len(finals):
        raise ValueError("one final weight per state")
    out = [
        struct.pack("<i", FST_MAGIC),
        _string("vector"),
        _string("standard"),
        struct.pack("<iiQqqq", 2, 0, _properties(finals, states), start, len(states), sum(map(len, states))),
    ]
    for final, state in zip(finals, states, strict=True):
        out.append(struct.pack("<fq", final, len(state)))
        out.extend(struct.pack("<iifi", i, o, w, n) for i, o, w, n in state)
    return b"".join(out)


def byte_labels(text: str) -> list[int]:
    """Labels of ``fst::StringCompiler<StdArc>(StringTokenType::BYTE)``: one per UTF-8 byte."""
    return list(text.encode())


# ---- SentencePiece -------------------------------------------------------------------------------

NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4  # ModelProto.SentencePiece.Type
BPE = 2  # TrainerSpec.ModelType


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | float | bytes | str) -> bytes:
    if isinstance(value, bool | int):
        return _varint(number << 3) + _varint(int(value))
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def sentencepiece_model(pieces: Sequence[tuple[str, float, int]], *, model_type: int = BPE) -> bytes:
    """A serialized SentencePiece ``ModelProto``: ``pieces`` are (piece, score, type) in id order.

    Id 0 must be the ``<unk>`` piece (type UNKNOWN), ids 1 and 2 ``<s>`` / ``</s>`` (CONTROL),
    which is what ``TrainerSpec``'s default unk/bos/eos ids (0, 1, 2) say.
    """
    body = b"".join(
        _field(1, _field(1, piece) + _field(2, float(score)) + _field(3, kind)) for piece, score, kind in pieces
    )
    trainer = b"".join(
        [
            _field(2, "chn_jpn_yue_eng_ko_spectok.bpe"),  # model_prefix
            _field(3, model_type),
            _field(4, len(pieces)),  # vocab_size
            _field(40, 0),  # unk_id
            _field(41, 1),  # bos_id
            _field(42, 2),  # eos_id
            _field(43, -1),  # pad_id
        ]
    )
    normalizer = _field(1, "identity") + _field(3, True) + _field(4, True) + _field(5, True)
    return body + _field(2, trainer) + _field(3, normalizer)
