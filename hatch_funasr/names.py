"""The one validator for every name that becomes a path, a key or packed content.

Names come from places the trust model does not trust (SPEC section 5): hub listings,
cached listings and indexes, ``funasr.lock`` values, ONNX external-data references, wheel
manifests.  Each passes :func:`check_relpath` (or :func:`check_sha256` / :func:`check_size`)
before it is joined onto a directory, used as a cache key or written into a wheel.  The
rules hold on every platform a wheel may be installed on, so a name that is harmless on
Linux but not on Windows or macOS (``CON``, ``a.``, ``Am.mvn`` beside ``am.mvn``) is refused
too.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import TypeGuard

from hatch_funasr.errors import IntegrityError

__all__ = [
    "MAX_SIZE",
    "REPO_ID",
    "case_collisions",
    "check_commit",
    "check_relpath",
    "check_sha256",
    "check_size",
    "is_commit",
    "is_license",
    "is_sha256",
    "pattern_problem",
    "relpath_problem",
    "shown",
    "text_problem",
]

#: A hub repository id: ``owner/name``.
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.+-]{0,95}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: Device names Windows reserves in every directory, with any extension, and with spaces
#: before it (Windows drops them: ``con .txt`` is ``CON``).
_RESERVED = re.compile(r"^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³]) *(\..*)?$", re.IGNORECASE)
#: Characters Windows refuses in file names (``:`` also names an NTFS alternate data stream).
_FORBIDDEN = frozenset('<>:"|?*\\')
_FORBIDDEN_RE = re.compile(r'[<>:"|?*\\]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Lone UTF-16 surrogates: a JSON listing can carry them (``"\\ud800"``), no file system can.
_DRIVE = re.compile(r"[A-Za-z]:")
#: The largest file size any name here may claim: 1 TiB (no model file comes close).
MAX_SIZE = 1 << 40
_MAX_NAME = 255
_MAX_PATH = 1024


def relpath_problem(name: object) -> str | None:  # noqa: PLR0911  (one return per rule: the rules read as a list)
    """Why ``name`` is not a safe relative POSIX path inside a directory, or None if it is."""
    if not isinstance(name, str):
        return f"not a string ({type(name).__name__})"
    if not name:
        return "empty"
    text = text_problem(name)
    if text is not None:
        return text
    if len(name) > _MAX_PATH:
        return f"longer than {_MAX_PATH} characters"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    if _CONTROL.search(name):
        return "contains a control character"
    bad = sorted(set(_FORBIDDEN_RE.findall(name)))
    if bad:
        return f"contains {' '.join(repr(c) for c in bad)}"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return f"has a {part!r} component" if part else "has an empty component"
        if len(part.encode("utf-8")) > _MAX_NAME:
            return f"has a component longer than {_MAX_NAME} bytes"
        if part.endswith((".", " ")):
            return f"has a component ending in a dot or space ({part!r})"
        if _RESERVED.match(part):
            return f"uses a device name reserved on Windows ({part!r})"
    return None


_NOT_TEXT = "not text (a lone surrogate: not valid Unicode, so not UTF-8)"


def text_problem(name: str) -> str | None:
    """Why ``name`` is not text that can be a file name here, or None: a lone surrogate (legal in
    JSON, or what Python makes of a local name that is not UTF-8) cannot be written to a wheel
    or a terminal; a name the file-system encoding cannot hold (an ASCII locale) cannot be
    created in the cache or the staging directory, nor read back from a local directory."""
    encoding = sys.getfilesystemencoding()
    locale_hint = (
        f"a name the file-system encoding ({encoding}) cannot hold; use a UTF-8 locale (LC_ALL=C.UTF-8) "
        "or set PYTHONUTF8=1"
    )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        try:  # a local name Python could not decode: UTF-8 bytes in a locale that is not?
            os.fsencode(name).decode("utf-8")
        except UnicodeError:
            return _NOT_TEXT
        return locale_hint if encoding.lower() not in ("utf-8", "utf8") else _NOT_TEXT
    try:
        name.encode(encoding)
    except UnicodeEncodeError:
        return locale_hint
    return None


def shown(name: object) -> str:
    """``name`` quoted for a message, in ASCII (escapes for the rest): safe on any terminal,
    in any locale, and unable to draw on it."""
    return ascii(name)


def pattern_problem(pattern: str) -> str | None:
    """Why a glob pattern (``include``/``exclude``) could match outside the model directory,
    or None: the rules of :func:`relpath_problem` with the glob characters ``*?[]`` allowed."""
    return relpath_problem(re.sub(r"[*?\[\]]", "x", pattern))


def check_relpath(name: object, what: str) -> str:
    """``name`` if it is a safe relative path; else :class:`IntegrityError` ``"{what}: …"``."""
    problem = relpath_problem(name)
    if problem is not None:
        raise IntegrityError(f"{what}: unsafe file name {shown(name)} ({problem}); refusing it")
    assert isinstance(name, str)
    return name


def _fold(name: str) -> str:
    """One key for the names such a file system holds as one: Unicode's canonical caseless
    match, NFD(casefold(NFD(name))) (``AM.MVN`` is ``am.mvn``; NFC ``é`` is NFD ``é``)."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def case_collisions(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of paths that are one file or directory on a case-insensitive file system (Windows,
    macOS) or a normalization-insensitive one (macOS: ``é`` precomposed and ``e`` + accent are
    one name), including a file beside a directory (``Sub`` and ``sub/x``)."""
    seen: dict[str, str] = {}
    pairs = []
    for name in sorted(names):
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            folded = _fold(path)
            other = seen.setdefault(folded, path)
            if other != path:
                pairs.append((other, path))
                break
    return pairs


def is_sha256(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a sha256 in 64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def is_commit(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a full commit id (40 lowercase hex digits, both hubs' form)."""
    return isinstance(value, str) and _COMMIT.fullmatch(value) is not None


def check_sha256(value: object, what: str) -> str:
    """``value`` if it is a sha256 in 64 lowercase hex digits; else :class:`IntegrityError`."""
    if not is_sha256(value):
        raise IntegrityError(f"{what}: {value!r} is not a sha256 (64 lowercase hex digits)")
    return value


def check_commit(value: object, what: str) -> str:
    """``value`` if it is a full 40-hex commit id; else :class:`IntegrityError`."""
    if not is_commit(value):
        raise IntegrityError(f"{what}: {value!r} is not a full commit id (40 lowercase hex digits)")
    return value


#: A licence as a hub states it: an SPDX id or expression ("Apache-2.0", "apache-2.0"), or a
#: display name ("Apache License 2.0"); printable, one line, short.
_LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,+()/_:-]{0,127}$")


def is_license(value: object) -> TypeGuard[str]:
    """Whether ``value`` reads as a licence name or SPDX expression (what a hub reports is not
    trusted: anything else is not packed into a manifest or SBOM)."""
    return isinstance(value, str) and _LICENSE.fullmatch(value) is not None


def check_size(value: object, what: str) -> int:
    """``value`` if it is a whole number of bytes from 0 to :data:`MAX_SIZE`; else :class:`IntegrityError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise IntegrityError(f"{what}: {value!r} is not a file size (a whole number of bytes up to 1 TiB)")
    return value
