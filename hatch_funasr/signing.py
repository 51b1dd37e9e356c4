"""Signatures over the bundle's model directories (OpenSSF Model Signing), made with ``model-signing``.

With a signing key configured (``HATCH_FUNASR_SIGNING_KEY``, optionally a certificate and its
chain), every model directory of the wheel gets ``model.sig``: the OMS format, a Sigstore bundle
holding a DSSE envelope whose in-toto statement lists each file of the directory with its
sha256, as ``model_signing sign key|certificate`` writes it.  The directory also gets
``funasr_bundle_files.json``, signed with it: the sha256 of every other file of the bundle (the
manifest, the runtime module, the SBOM), so the signature covers what describes the model
too.  Anyone can check a directory with the reference CLI; ``python -m <bundle> verify
--public-key`` checks every directory and the files it vouches for.

Signing hashes each file once more (``model-signing`` reads the directory it signs); the
digests it signed are then compared with the ones packing computed, so a file that changed
between the two reads fails the build instead of shipping a signature over other bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hatch_funasr.digest import HASH_ALGORITHM
from hatch_funasr.errors import ConfigError, IntegrityError
from hatch_funasr.package import link_or_copy
from hatch_funasr.settings import EnvVars, Settings

__all__ = ["BUNDLE_FILES_NAME", "SIGNATURE_NAME", "Signed", "sign_directories", "signer_config"]

#: The OMS signature of a model directory, under the name the reference CLI writes by default.
SIGNATURE_NAME = "model.sig"
#: Signed with the directory: the sha256 of the bundle's other files (by path in the wheel).
BUNDLE_FILES_NAME = "funasr_bundle_files.json"
BUNDLE_FILES_VERSION = 1
_INSTALL_HINT = "install the signing extra: pip install 'hatch-funasr[sign]'"

#: One model directory to sign: its path in the wheel (``pkg/models/dir``) -> file (relative) -> where its bytes are.
Signed = Mapping[str, Mapping[str, Path]]


def signer_config(settings: Settings) -> Any:
    """``model_signing.signing.Config`` for the configured key (and certificate), hashing as the
    reference CLI does with the signature file left out; None when no key is configured."""
    if settings.signing_key is None:
        return None
    try:
        import model_signing  # optional: only a build that signs needs it
    except ImportError:
        raise ConfigError(
            [f"{EnvVars.SIGNING_KEY} is set, and signing needs model-signing; {_INSTALL_HINT}"],
            source="the environment",
        ) from None
    config = model_signing.signing.Config()  # type: ignore[no-untyped-call]  # unannotated upstream
    try:
        if settings.signing_certificate is not None:
            config.use_certificate_signer(
                private_key=settings.signing_key,
                signing_certificate=settings.signing_certificate,
                certificate_chain=list(settings.signing_chain),
            )
        else:
            config.use_elliptic_key_signer(private_key=settings.signing_key)
    except (ValueError, TypeError, OSError) as e:  # not a PEM key, an unsupported curve, a bad certificate
        what = f"{EnvVars.SIGNING_KEY} ({settings.signing_key})"
        if settings.signing_certificate is not None:
            what += f" with {EnvVars.SIGNING_CERTIFICATE} ({settings.signing_certificate})"
        raise ConfigError([f"{what}: cannot sign with it: {e}"], source="the environment") from e
    hashing = model_signing.hashing.Config().set_ignored_paths(paths=[SIGNATURE_NAME])  # type: ignore[no-untyped-call]  # unannotated upstream
    return config.set_hashing_config(hashing)


def bundle_files(bundle: Mapping[str, Any], model: str, others: Mapping[str, str]) -> bytes:
    """The signed list of the bundle's files outside the model directories (wheel path -> sha256)."""
    document = {
        "version": BUNDLE_FILES_VERSION,
        "hash_algorithm": HASH_ALGORITHM,
        "bundle": {k: bundle[k] for k in ("name", "version", "package")},
        "model": model,
        "files": dict(sorted(others.items())),
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _signed_digests(signature: Path) -> dict[str, str]:
    """What a signature we just wrote vouches for (file -> sha256), read from its DSSE payload."""
    bundle = json.loads(signature.read_bytes())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return {r["name"]: r["digest"] for r in statement["predicate"]["resources"] if r["algorithm"] == "sha256"}


def _sign_one(
    config: Any, prefix: str, root: Path, files: Mapping[str, Path], *, written: Mapping[str, str], listing: bytes
) -> dict[str, bytes]:
    """One directory laid out under ``root`` as installed, signed, and its signature checked
    against what was packed."""
    for rel, source in sorted(files.items()):
        link_or_copy(source, root / rel)
    (root / BUNDLE_FILES_NAME).write_bytes(listing)
    try:
        config.sign(root, root / SIGNATURE_NAME)
    except (ValueError, TypeError, OSError) as e:
        raise IntegrityError(f"{prefix}: model-signing could not sign the directory: {e}") from e
    expected = {rel: written[f"{prefix}/{rel}"] for rel in files}
    expected[BUNDLE_FILES_NAME] = hashlib.sha256(listing).hexdigest()
    signed = _signed_digests(root / SIGNATURE_NAME)
    if signed != expected:
        changed = sorted(k for k in {*signed, *expected} if signed.get(k) != expected.get(k))
        raise IntegrityError(
            f"{prefix}: {', '.join(changed[:5])} changed between packing and signing; nothing was signed"
        )
    return {
        f"{prefix}/{BUNDLE_FILES_NAME}": listing,
        f"{prefix}/{SIGNATURE_NAME}": (root / SIGNATURE_NAME).read_bytes(),
    }


def sign_directories(
    config: Any,
    directories: Signed,
    written: Mapping[str, str],
    bundle: Mapping[str, Any],
    work: Path,
) -> dict[str, bytes]:
    """``model.sig`` and ``funasr_bundle_files.json`` for each model directory (wheel path ->
    bytes).  ``written``: the sha256 of every entry already in the wheel (model files, manifest,
    SBOM, runtime module), each checked against what was signed."""
    out: dict[str, bytes] = {}
    model_dirs = tuple(directories)
    others = {a: h for a, h in written.items() if not any(a.startswith(f"{d}/") for d in model_dirs)}
    for prefix, files in sorted(directories.items()):
        clash = sorted({SIGNATURE_NAME, BUNDLE_FILES_NAME} & set(files))
        if clash:
            raise IntegrityError(f"{prefix}: the model ships a file named {clash[0]}, the name its signature takes")
        root = work / prefix
        try:
            out.update(
                _sign_one(
                    config,
                    prefix,
                    root,
                    files,
                    written=written,
                    listing=bundle_files(bundle, prefix.rsplit("/", 1)[-1], others),
                )
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)  # links to the cache's blobs: never left behind
    return out
