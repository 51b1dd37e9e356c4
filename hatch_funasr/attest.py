"""What the far side of an air gap checks a bundle wheel against, kept outside the wheel.

A check that reads the manifest inside the wheel it checks proves nothing against whoever can
replace the wheel.  So the build can write, beside the wheel (``HATCH_FUNASR_ATTEST=1``):

- ``<name>-<version>.requirements.txt``: the wheel pinned by its sha256, for
  ``pip install --no-index --require-hashes -r …`` (pip's hash-checking mode refuses any other
  file under the same name);
- ``<name>-<version>.intoto.jsonl``: build provenance, an in-toto Statement v1 with a SLSA
  provenance v1 predicate in a DSSE envelope (signed with the signing key when one is
  configured): the wheel's sha256 as subject, every source file of every model as a resolved
  dependency (hub, repository, commit, path, sha256), and each file the build made (exported,
  quantized, converted) with its inputs' digests, the tools' versions, the options and the
  drift measured.

Both are off by default: ``twine upload dist/*`` refuses files that are not distributions.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from hatch_funasr.digest import hash_file
from hatch_funasr.errors import IntegrityError
from hatch_funasr.hubs import HUBS
from hatch_funasr.lock import Lock, LockedRepo
from hatch_funasr.manifest import Manifest
from hatch_funasr.model import BundleConfig, LocalDir
from hatch_funasr.sbom import made_by

__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "REQUIREMENTS_NAME",
    "STATEMENT_TYPE",
    "check_provenance",
    "envelope",
    "name_version",
    "pae",
    "provenance",
    "provenance_name",
    "requirement",
    "wheel_metadata",
    "write_beside",
    "write_wheelhouse_index",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: Identifies how to read ``externalParameters`` (documented in docs/guides/verifying.md).
BUILD_TYPE = "https://pypi.org/project/hatch-funasr/#build-type/bundle-wheel/v1"
#: The builder: hatch-funasr run by the Hatchling build backend, on the machine that built.
BUILDER_ID = "https://pypi.org/project/hatch-funasr/"


def _stem(name: str, version: str) -> str:
    """``acme_asr_models-2026.11.0``: the distribution name as a wheel file name spells it."""
    return f"{canonicalize_name(name).replace('-', '_')}-{version}"


def provenance_name(name: str, version: str) -> str:
    return f"{_stem(name, version)}.intoto.jsonl"


def requirement(name: str, version: str, sha256s: Sequence[str]) -> str:
    """One pinned line of a requirements file in pip's hash-checking form."""
    hashes = " ".join(f"--hash=sha256:{h}" for h in sha256s)
    return f"{canonicalize_name(name)}=={version} {hashes}"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature is over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


Origin = tuple[str, str, str]  # hub, repository, commit


def _files(locked: LockedRepo | None, shipped: Mapping[str, Any], names: Sequence[str]) -> list[tuple[str, str, int]]:
    """(path, sha256, size) of what the build read from one repository: the locked files, else
    (no lock: the build listed the hub, or a local directory) the files as shipped."""
    if locked is not None:
        return [(f.path, f.sha256, f.size) for f in locked.files]
    return [(rel, shipped[rel]["sha256"], shipped[rel]["size"]) for rel in sorted(names)]


def _dependency(model: str, origin: Origin | None, local: str | None, file: tuple[str, str, int]) -> dict[str, Any]:
    path, sha, size = file
    if origin is not None:
        hub, repo, commit = origin
        page = HUBS[hub].page.format(repo=repo)
        named = {"uri": f"{page}?commit={commit}&path={path}", "name": f"{hub}:{repo}@{commit}/{path}"}
        where: dict[str, Any] = {"hub": hub, "repository": repo, "commit": commit}
    else:
        named = {"name": f"path:{local}/{path}"}
        where = {"directory": local}
    return {**named, "digest": {"sha256": sha}, "annotations": {"model": model, **where, "path": path, "size": size}}


def _parameters(config: BundleConfig, manifest: Mapping[str, Any]) -> dict[str, Any]:
    models = {}
    for m in config.models:
        models[m.name] = {
            # a local directory as the manifest names it (relative to the project, no host path)
            "source": f"path:{manifest['models'][m.name]['path']}"
            if isinstance(m.origin, LocalDir)
            else m.source_label,
            "family": m.family,
            "format": m.format,
            "export": m.export,
            "opset_version": m.opset_version,
            "quantize": m.quantize,
            "keep_fp32": m.keep_fp32,
            "max_quant_drift": m.max_quant_drift,
            "max_export_drift": m.max_export_drift,
            "include": list(m.include),
            "exclude": list(m.exclude),
            "extra_files": [
                f"{e.hub}:{e.repo}@{e.revision or 'default branch'}: {', '.join(e.files)}" for e in m.extra
            ],
        }
    return {
        "bundle": {"name": config.project_name, "version": config.version, "package": config.package},
        "models": models,
    }


def provenance(
    config: BundleConfig,
    final: Manifest,
    lock: Lock | None,
    wheel_name: str,
    wheel_sha256: str,
    *,
    epoch: int,
    offline: bool,
) -> dict[str, Any]:
    """The in-toto Statement (SLSA provenance v1) of one bundle wheel, from its final manifest."""
    manifest = final.document
    package = manifest["bundle"]["package"]
    generator = str(manifest["generator"]["hatch-funasr"])
    dependencies: list[dict[str, Any]] = []
    byproducts: list[dict[str, Any]] = []
    for name, m in sorted(manifest["models"].items()):
        entry = lock.models.get(name) if lock else None
        from_extra = {rel for e in m.get("extra", []) for rel in e["files"]}
        upstream = [r for r in m["files"] if r not in m.get("derived", []) and r not in from_extra]
        sources = _files(entry, m["files"], upstream)
        origin = (m["hub"], m["repo"], m["commit"]) if m.get("repo") else None
        dependencies += [_dependency(name, origin, m.get("path"), f) for f in sources]
        for e in m.get("extra", []):
            locked = next((x for x in entry.extra if (x.hub, x.repo) == (e["hub"], e["repo"])), None) if entry else None
            extra = (e["hub"], e["repo"], e["commit"])
            dependencies += [_dependency(name, extra, None, f) for f in _files(locked, m["files"], e["files"])]
        inputs = [{"name": path, "digest": {"sha256": sha}} for path, sha, _size in sources]
        for rel in m.get("derived", []):
            f = m["files"][rel]
            options: dict[str, Any] = {}
            if rel in m.get("quant_drift", {}):
                options = {"quantization": "dynamic", "op_types": ["MatMul"], "weight_type": "QUInt8"}
                drift = m["quant_drift"][rel]
            elif rel in m.get("export_drift", {}):
                options = {"opset_version": _opset(config, name)}
                drift = m["export_drift"][rel]
            else:
                drift = None
            byproducts.append(
                {
                    "name": f"{package}/{m['dir']}/{rel}",
                    "digest": {"sha256": f["sha256"]},
                    "annotations": {
                        "model": name,
                        "made_by": made_by(rel, final.models[name], generator),
                        "inputs": inputs,
                        "tools": dict(sorted(m.get("tools", {}).items())),
                        "options": options,
                        "max_abs_drift": drift,
                    },
                }
            )
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": wheel_name, "digest": {"sha256": wheel_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": _parameters(config, manifest),
                "internalParameters": {"SOURCE_DATE_EPOCH": epoch, "offline": offline, "locked": lock is not None},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": {
                        "hatch-funasr": generator,
                        "hatchling": _installed("hatchling"),
                        "python": ".".join(map(str, sys.version_info[:3])),
                    },
                },
                "metadata": {"invocationId": f"{wheel_name}#{wheel_sha256}"},
                "byproducts": byproducts,
            },
        },
    }


def _opset(config: BundleConfig, name: str) -> int:
    return next(m.opset_version for m in config.models if m.name == name)


def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def envelope(statement: Mapping[str, Any], key: Path | None) -> dict[str, Any]:
    """The statement in a DSSE envelope, signed with ``key`` (a PEM EC private key) when given."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    signatures = []
    if key is not None:
        from cryptography.hazmat.primitives import serialization  # the sign extra
        from cryptography.hazmat.primitives.asymmetric import ec

        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise IntegrityError(f"{key}: not an elliptic-curve private key; provenance is signed with ECDSA")
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signature = private.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(_curve_hash(private.curve)))
        signatures.append(
            {"keyid": hashlib.sha256(public).hexdigest(), "sig": base64.b64encode(signature).decode("ascii")}
        )
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": signatures,
    }


def _curve_hash(curve: Any) -> Any:
    """The hash paired with each NIST curve (as ECDSA in Sigstore and model-signing pair them)."""
    from cryptography.hazmat.primitives import hashes

    return {"secp256r1": hashes.SHA256(), "secp384r1": hashes.SHA384(), "secp521r1": hashes.SHA512()}.get(
        curve.name, hashes.SHA256()
    )


def write_beside(
    wheel: Path,
    config: BundleConfig,
    manifest: Manifest,
    lock: Lock | None,
    *,
    key: Path | None,
    epoch: int,
    offline: bool,
) -> list[Path]:
    """Write the requirements file and the provenance beside ``wheel``; the paths written."""
    sha = hash_file(wheel).sha256
    stem = _stem(config.project_name, config.version)
    requirements = wheel.with_name(f"{stem}.requirements.txt")
    line = requirement(config.project_name, config.version, [sha])
    _write(requirements, f"# {wheel.name}: pip install --no-index --require-hashes -r {requirements.name}\n{line}\n")
    statement = provenance(config, manifest, lock, wheel.name, sha, epoch=epoch, offline=offline)
    attestation = wheel.with_name(provenance_name(config.project_name, config.version))
    _write(attestation, json.dumps(envelope(statement, key), sort_keys=True, separators=(",", ":")) + "\n")
    return [requirements, attestation]


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


# ---- wheelhouse: bundle and runtime wheels, each pinned by its sha256 -------------------------

REQUIREMENTS_NAME = "requirements.txt"
_METADATA_MAX = 16 << 20


def wheel_metadata(wheel: Path) -> bytes:
    """A wheel's ``.dist-info/METADATA`` (bounded: a wheel is not trusted)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(names) != 1:
                found = f"one .dist-info/METADATA expected, {len(names)} found"
                raise IntegrityError(f"{wheel.name}: not a wheel ({found})")
            with zf.open(names[0]) as member:
                data = member.read(_METADATA_MAX + 1)
    except zipfile.BadZipFile as e:
        raise IntegrityError(f"{wheel.name}: not a wheel ({e})") from e
    if len(data) > _METADATA_MAX:
        raise IntegrityError(f"{wheel.name}: {names[0]} is over {_METADATA_MAX} bytes")
    return data


def name_version(metadata_bytes: bytes, wheel: Path) -> tuple[str, str, list[str]]:
    """Name, version and extras (``Provides-Extra``) a wheel's METADATA declares."""
    message = email.parser.BytesHeaderParser().parsebytes(metadata_bytes)
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise IntegrityError(f"{wheel.name}: its METADATA names no Name or Version")
    return str(name), str(version), [str(e) for e in message.get_all("Provides-Extra") or []]


def write_wheelhouse_index(house: Path) -> Path:
    """Beside each wheel of ``house`` its PEP 658 ``<wheel>.metadata``, and ``requirements.txt``
    pinning every wheel by sha256 (wheels of one version for several platforms: one line, each
    hash), for ``pip install --no-index --require-hashes --find-links . -r requirements.txt``."""
    pinned: dict[tuple[str, str], list[str]] = {}
    wheels = sorted(house.glob("*.whl"))
    if not wheels:
        raise IntegrityError(f"{house}: no wheel to pin")
    for wheel in wheels:
        data = wheel_metadata(wheel)
        name, version, _extras = name_version(data, wheel)
        _write_bytes(wheel.with_name(f"{wheel.name}.metadata"), data)
        pinned.setdefault((canonicalize_name(name), version), []).append(hash_file(wheel).sha256)
    lines = [
        "# Every wheel of this directory, pinned by sha256 (written by hatch-funasr wheelhouse).",
        f"# pip install --no-index --require-hashes --find-links . -r {REQUIREMENTS_NAME}",
        *(requirement(name, version, sorted(hashes)) for (name, version), hashes in sorted(pinned.items())),
    ]
    path = house / REQUIREMENTS_NAME
    _write(path, "\n".join(lines) + "\n")
    return path


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# ---- the far side's provenance check ----------------------------------------------------------


def check_provenance(attestation: Path, wheel: Path, public_key: Path | None) -> dict[str, Any]:
    """The statement of ``attestation`` when it is signed by ``public_key`` (DSSE, ECDSA) and its
    subject is ``wheel`` (by sha256); :class:`IntegrityError` naming what does not hold.
    Without ``public_key`` the signature is not checked (the caller says so)."""
    try:
        envelope = json.loads(attestation.read_bytes())
        payload = base64.b64decode(envelope["payload"], validate=True)
        statement: dict[str, Any] = json.loads(payload)
        subjects = {s["name"]: s["digest"].get("sha256") for s in statement["subject"]}
        kind = (envelope["payloadType"], statement["_type"], statement["predicateType"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise IntegrityError(f"{attestation}: not an in-toto attestation hatch-funasr wrote ({e})") from e
    if kind != (PAYLOAD_TYPE, STATEMENT_TYPE, PREDICATE_TYPE):
        raise IntegrityError(f"{attestation}: not SLSA provenance v1 in an in-toto statement: {kind}")
    if public_key is not None:
        _check_signature(attestation, envelope, payload, public_key)
    sha = hash_file(wheel).sha256
    if subjects.get(wheel.name) != sha:
        raise IntegrityError(
            f"{attestation}: its subject is {subjects}, not {wheel.name} with sha256 {sha}: another wheel, or altered"
        )
    return statement


def _check_signature(attestation: Path, envelope: Mapping[str, Any], payload: bytes, public_key: Path) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_public_key(public_key.read_bytes())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise IntegrityError(f"{public_key}: not an elliptic-curve public key")
    for signature in envelope.get("signatures") or []:
        try:
            key.verify(base64.b64decode(signature["sig"]), pae(PAYLOAD_TYPE, payload), ec.ECDSA(_curve_hash(key.curve)))
        except (InvalidSignature, ValueError, KeyError, TypeError):
            continue
        return
    raise IntegrityError(f"{attestation}: no signature by {public_key.name} (unsigned, another key, or altered)")
