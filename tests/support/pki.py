"""A site's own PKI for model signing with certificates: a root CA and a signing certificate it
issued, P-256 keys, written as PEM files (what a deployer's ``openssl`` would make)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, Any] | None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = (
        (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]), issuer[1]) if issuer else (name, key)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only"), False
    )
    usage["decipher_only"] = False
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def site_pki(where: Path, name: str) -> tuple[Path, Path, Path]:
    """A site's root CA and a signing certificate it issued: (root.pem, leaf.pem, leaf.key)."""
    where.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(f"{name} root", root_key, None)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(f"{name} model signing", leaf_key, (f"{name} root", root_key))
    paths = (where / f"{name}-root.pem", where / f"{name}-leaf.pem", where / f"{name}-leaf.key")
    paths[0].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths
