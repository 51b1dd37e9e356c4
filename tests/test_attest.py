"""Trust across the air gap: what the far side checks a bundle against, kept outside the wheel.

The order a deployer runs the checks: pip's hash-checking mode with the requirements file
written beside the wheel (or by ``hatch-funasr wheelhouse``), then the OpenSSF Model Signing
signatures of the installed model directories (the reference ``model_signing`` CLI and
``python -m <bundle> verify --public-key``, both with no network), then the provenance.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from support import realvad
from support.pki import site_pki
from support.projects import cli, make_project, run

from hatch_funasr import attest, signing
from hatch_funasr.errors import ConfigError, IntegrityError
from hatch_funasr.lock import read_lock
from hatch_funasr.settings import EnvVars, Settings

WHEEL = "acme_vad_models-2026.11.0-py3-none-any.whl"
REQUIREMENTS = "acme_vad_models-2026.11.0.requirements.txt"
PROVENANCE = "acme_vad_models-2026.11.0.intoto.jsonl"
#: No network at all on the far side: a fresh network namespace has no interface but loopback, down.
OFFLINE = ["unshare", "-rn"]


def _key(path: Path) -> tuple[Path, Path]:
    """A P-256 key pair (``path``.key, ``path``.pub), made by the commands docs/guides/verifying.md shows."""
    private, public = path.with_suffix(".key"), path.with_suffix(".pub")
    subprocess.run(
        f"openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out {private.name}",
        shell=True,  # the guide's pipeline as a user types it; fixed text, names made here
        cwd=path.parent,
        check=True,
    )
    subprocess.run(
        ["openssl", "ec", "-in", private.name, "-pubout", "-out", public.name],
        cwd=path.parent,
        check=True,
        capture_output=True,
    )
    return private, public


def _vad_project(tmp_path: Path, name: str = "project", *, am_mvn: bytes | None = None) -> Path:
    project = make_project(tmp_path, 'vad = { path = "models/vad" }\n', name=name)
    model = realvad.write_model(project / "models" / "vad", ("model.onnx", "config.yaml", "am.mvn"))
    if am_mvn is not None:
        (model / "am.mvn").write_bytes(am_mvn)
    return project


def _build(project: Path, **env: str) -> Path:
    """``python -m build --wheel`` with the environment given (signing, attestation); dist/."""
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HATCH_FUNASR_SIGNING")}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
        env={**clean, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "dist"


def _pip_install(links: Path, requirements: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """The far side's install: no index, hash-checking mode, into ``site``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
            "--require-hashes",
            "--find-links",
            str(links),
            "-r",
            str(requirements),
            "--target",
            str(site),
        ],
        capture_output=True,
        text=True,
    )


def _bundle(site: Path, *args: str, python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m acme_vad_models ARGS`` from ``site``, with no network."""
    return subprocess.run(
        [*OFFLINE, *(python or [sys.executable]), "-m", "acme_vad_models", *args],
        cwd=site,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(site)},
    )


def _reference(site: Path, model: str, *trust: str) -> subprocess.CompletedProcess[str]:
    """The reference CLI: ``model_signing verify key|certificate`` on one installed model directory."""
    directory = site / "acme_vad_models" / "models" / model
    return subprocess.run(
        [
            *OFFLINE,
            sys.executable,
            "-m",
            "model_signing",
            "verify",
            *trust[:1],
            str(directory),
            "--signature",
            str(directory / "model.sig"),
            *trust[1:],
        ],
        capture_output=True,
        text=True,
    )


# --- 1. hashes outside the wheel ---------------------------------------------------------------
def test_a_swapped_wheel_whose_manifest_matches_is_refused_by_the_requirements_file(tmp_path: Path) -> None:
    """The attack a manifest inside the wheel cannot see: the wheel replaced by one built from
    altered files (its manifest, SBOM and RECORD all agree with them).  pip's hash-checking
    mode with the file written beside the honest wheel refuses it; the honest one installs."""
    dist = _build(_vad_project(tmp_path), **{EnvVars.ATTEST: "1"})
    assert sorted(p.name for p in dist.iterdir()) == sorted([WHEEL, REQUIREMENTS, PROVENANCE])
    sha = hashlib.sha256((dist / WHEEL).read_bytes()).hexdigest()
    lines = (dist / REQUIREMENTS).read_text().splitlines()
    assert lines[-1] == f"acme-vad-models==2026.11.0 --hash=sha256:{sha}"
    evil_dist = _build(_vad_project(tmp_path, "evil", am_mvn=b"<Nnet>\n</Nnet>\n"))
    # The altered wheel passes every check that reads the wheel's own manifest.
    evil_site = tmp_path / "evil-site"
    run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", str(evil_dist / WHEEL), "-t", str(evil_site)],
        tmp_path,
    )
    assert "ok: 3 files match the manifest" in _bundle(evil_site, "verify").stdout
    swapped = tmp_path / "usb"
    swapped.mkdir()
    shutil.copy(evil_dist / WHEEL, swapped / WHEEL)
    shutil.copy(dist / REQUIREMENTS, swapped / REQUIREMENTS)
    refused = _pip_install(swapped, swapped / REQUIREMENTS, tmp_path / "site-refused")
    assert refused.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in refused.stderr
    assert f"Expected sha256 {sha}" in refused.stderr
    assert not (tmp_path / "site-refused" / "acme_vad_models").exists()
    honest = _pip_install(dist, dist / REQUIREMENTS, tmp_path / "site")
    assert honest.returncode == 0, honest.stderr
    assert "ok: 3 files match the manifest" in _bundle(tmp_path / "site", "verify").stdout


def _plain_wheel(where: Path, name: str, version: str) -> Path:
    """A small pure-Python wheel (a runtime dependency stand-in), built by hatchling."""
    project = where / f"{name}-{version}"
    package = name.replace("-", "_")
    (project / package).mkdir(parents=True)
    (project / package / "__init__.py").write_text(f'VERSION = "{version}"\n')
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(where), "."], project)
    return next(where.glob(f"{package}-{version}-*.whl"))


def test_wheelhouse_pins_bundle_and_runtime_wheels_and_writes_their_metadata(tmp_path: Path) -> None:
    dist = _build(_vad_project(tmp_path))
    links = tmp_path / "links"
    links.mkdir()
    dep = _plain_wheel(links, "acme-runtime-dep", "1.2.0")
    _plain_wheel(links, "acme-runtime-dep", "1.3.0")  # not asked for: stays out
    (tmp_path / "runtime.txt").write_text("acme-runtime-dep==1.2.0\n")
    house = tmp_path / "house"
    result = cli(
        tmp_path,
        "wheelhouse",
        str(dist / WHEEL),
        "-o",
        str(house),
        "-r",
        str(tmp_path / "runtime.txt"),
        "--no-index",
        "--find-links",
        str(links),
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in house.iterdir()) == sorted(
        [WHEEL, f"{WHEEL}.metadata", dep.name, f"{dep.name}.metadata", "requirements.txt"]
    )
    pins = [line for line in (house / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in house.glob("*.whl")}
    assert pins == [
        f"acme-runtime-dep==1.2.0 --hash=sha256:{digest[dep.name]}",
        f"acme-vad-models==2026.11.0 --hash=sha256:{digest[WHEEL]}",
    ]
    for wheel in house.glob("*.whl"):  # PEP 658: the METADATA file itself, beside the wheel
        with zipfile.ZipFile(wheel) as zf:
            metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            assert (house / f"{wheel.name}.metadata").read_bytes() == zf.read(metadata)
    installed = _pip_install(house, house / "requirements.txt", tmp_path / "site")
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "site" / "acme_runtime_dep" / "__init__.py").read_text() == 'VERSION = "1.2.0"\n'
    # A runtime wheel swapped on the way is refused too.
    shutil.copy(next(links.glob("acme_runtime_dep-1.3.0-*.whl")), house / dep.name)
    refused = _pip_install(house, house / "requirements.txt", tmp_path / "site2")
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr


def test_wheelhouse_names_a_runtime_extra_the_bundle_lacks(tmp_path: Path) -> None:
    dist = _build(_vad_project(tmp_path))
    result = cli(tmp_path, "wheelhouse", str(dist / WHEEL), "-o", str(tmp_path / "house"), "--runtime", "torch")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {WHEEL}: acme-vad-models has no extra 'torch' (its extras: onnx); gather with -r instead"
    )
    assert not (tmp_path / "house").exists()


# --- 2. signed model directories ---------------------------------------------------------------
@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A bundle built with a signing key (and one with a certificate), and the keys."""
    where = tmp_path_factory.mktemp("signed")
    key, pub = _key(where / "site")
    _other, other_pub = _key(where / "other")
    dist = _build(_vad_project(where), **{EnvVars.SIGNING_KEY: str(key), EnvVars.ATTEST: "1"})
    root, leaf, leaf_key = site_pki(where / "pki", "acme")
    wrong_root, _leaf, _key2 = site_pki(where / "pki", "mallory")
    cert_dist = _build(
        _vad_project(where, "cert-project"),
        **{
            EnvVars.SIGNING_KEY: str(leaf_key),
            EnvVars.SIGNING_CERTIFICATE: str(leaf),
            EnvVars.SIGNING_CHAIN: str(root),
        },
    )
    return {
        "dist": dist,
        "pub": pub,
        "other_pub": other_pub,
        "cert_dist": cert_dist,
        "root": root,
        "wrong_root": wrong_root,
    }


def _installed(dist: Path, site: Path) -> Path:
    run([sys.executable, "-m", "pip", "install", "-q", "--no-index", str(dist / WHEEL), "-t", str(site)], site.parent)
    return site


def test_signatures_verify_with_the_reference_cli_and_the_bundle_offline(
    signed: dict[str, Path], tmp_path: Path
) -> None:
    site = _installed(signed["dist"], tmp_path / "site")
    model = site / "acme_vad_models" / "models" / "vad"
    assert sorted(p.name for p in model.iterdir()) == [
        "am.mvn",
        "config.yaml",
        "funasr_bundle_files.json",
        "model.onnx",
        "model.sig",
    ]
    reference = _reference(site, "vad", "key", "--public_key", str(signed["pub"]))
    assert reference.returncode == 0 and reference.stdout.strip() == "Verification succeeded", reference.stderr
    ours = _bundle(site, "verify", "--public-key", str(signed["pub"]))
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == [
        "ok: 3 files match the manifest",
        f"ok: the signatures of 1 model directories verify with the public key {signed['pub']} (model-signing)",
    ]
    # The signed listing vouches for the bundle's other files: manifest, runtime, SBOM.
    listed = json.loads((model / "funasr_bundle_files.json").read_text())["files"]
    assert {"acme_vad_models/funasr_manifest.json", "acme_vad_models/_funasr_runtime.py"} <= set(listed)
    assert "acme_vad_models-2026.11.0.dist-info/sboms/hatch-funasr.cdx.json" in listed
    api = subprocess.run(
        [
            *OFFLINE,
            sys.executable,
            "-c",
            f"import acme_vad_models as m; print(m.verify_signatures({str(signed['pub'])!r}))",
        ],
        cwd=site,
        capture_output=True,
        text=True,
    )
    assert (api.returncode, api.stdout) == (0, "1\n"), api.stderr
    # Without a key: the manifest check, and a plain word that signatures were not checked.
    plain = _bundle(site, "verify")
    assert plain.returncode == 0 and "signatures NOT checked" in plain.stdout and "signatures of" not in plain.stdout


def _tamper(site: Path, case: str) -> None:
    model = site / "acme_vad_models" / "models" / "vad"
    if case == "tampered":
        data = bytearray((model / "model.onnx").read_bytes())
        data[-1] ^= 1
        (model / "model.onnx").write_bytes(bytes(data))
    elif case == "planted":
        (model / "extra.onnx").write_bytes(b"\x08\x07")
    elif case == "removed":
        (model / "am.mvn").unlink()
    elif case == "manifest":  # the files still match it; only what it says of them changed
        manifest = site / "acme_vad_models" / "funasr_manifest.json"
        manifest.write_text(manifest.read_text().replace('"family":"fsmn-vad"', '"family":"ct-punc"'))


@pytest.mark.parametrize(
    ("case", "ours", "reference"),
    [
        ("tampered", "vad: ", "Hash mismatch for 'model.onnx'"),
        ("planted", "extra.onnx: not in the manifest (planted?)", "Extra files found in model 'vad': extra.onnx"),
        # the bundle refuses at import already (a wheel that lost files)
        ("removed", "1 model file(s) of this bundle are not installed", "Missing files in model 'vad': am.mvn"),
        ("manifest", "funasr_manifest.json: sha256 ", None),
        ("other-key", "vad: ", "Verification failed"),
    ],
)
def test_each_tampering_fails_our_verify_and_the_reference_cli(
    case: str, ours: str, reference: str | None, signed: dict[str, Path], tmp_path: Path
) -> None:
    site = _installed(signed["dist"], tmp_path / "site")
    _tamper(site, case)
    pub = signed["other_pub"] if case == "other-key" else signed["pub"]
    result = _bundle(site, "verify", "--public-key", str(pub))
    assert result.returncode == 1
    assert "ok: the signatures" not in result.stdout
    assert ours in result.stderr
    if case in ("manifest", "other-key"):  # the manifest still matches the files: the signature check says no
        assert "model signatures do not verify" in result.stderr
    if reference is not None:
        checked = _reference(site, "vad", "key", "--public_key", str(pub))
        assert checked.returncode == 1 and reference in checked.stderr, checked.stderr


def test_a_signature_is_never_reported_ok_without_model_signing(signed: dict[str, Path], tmp_path: Path) -> None:
    site = _installed(signed["dist"], tmp_path / "site")
    # -S: no site-packages, so only the standard library (as on a host with the bundle alone)
    result = _bundle(site, "verify", "--public-key", str(signed["pub"]), python=[sys.executable, "-S"])
    assert result.returncode == 1
    assert result.stdout == "ok: 3 files match the manifest\n"
    assert "checking signatures needs the model-signing package, which is not installed here" in result.stderr
    assert "(no signature was checked)" in result.stderr


def test_certificate_signatures_verify_against_the_site_root_only(signed: dict[str, Path], tmp_path: Path) -> None:
    site = _installed(signed["cert_dist"], tmp_path / "site")
    root, wrong = str(signed["root"]), str(signed["wrong_root"])
    assert _reference(site, "vad", "certificate", "--certificate_chain", root).returncode == 0
    ours = _bundle(site, "verify", "--certificate-chain", root)
    assert ours.returncode == 0 and f"verify with the certificate chain {root}" in ours.stdout, ours.stderr
    assert _reference(site, "vad", "certificate", "--certificate_chain", wrong).returncode == 1
    refused = _bundle(site, "verify", "--certificate-chain", wrong)
    assert refused.returncode == 1 and "model signatures do not verify" in refused.stderr


def test_signing_settings_come_from_the_environment_and_fail_plainly(tmp_path: Path) -> None:
    key, _pub = _key(tmp_path / "k")
    with pytest.raises(ConfigError, match=r"HATCH_FUNASR_SIGNING_KEY: '/nowhere/key.pem' is not a file"):
        Settings.from_env({EnvVars.SIGNING_KEY: "/nowhere/key.pem"})
    with pytest.raises(ConfigError, match=r"HATCH_FUNASR_SIGNING_CHAIN need HATCH_FUNASR_SIGNING_KEY"):
        Settings.from_env({EnvVars.SIGNING_CERTIFICATE: str(key)})
    with pytest.raises(ConfigError, match=r"HATCH_FUNASR_SIGNING_CHAIN needs HATCH_FUNASR_SIGNING_CERTIFICATE"):
        Settings.from_env({EnvVars.SIGNING_KEY: str(key), EnvVars.SIGNING_CHAIN: str(key)})
    with pytest.raises(ConfigError, match=r"HATCH_FUNASR_SIGNING_CERTIFICATE needs HATCH_FUNASR_SIGNING_CHAIN"):
        Settings.from_env({EnvVars.SIGNING_KEY: str(key), EnvVars.SIGNING_CERTIFICATE: str(key)})
    (tmp_path / "not-a-key.pem").write_text("hello\n")
    with pytest.raises(ConfigError, match=r"not-a-key.pem\): cannot sign with it"):
        signing.signer_config(Settings.from_env({EnvVars.SIGNING_KEY: str(tmp_path / "not-a-key.pem")}))
    assert signing.signer_config(Settings.from_env({})) is None


def test_a_key_without_model_signing_installed_stops_the_build_with_the_extra_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _pub = _key(tmp_path / "k")
    monkeypatch.setitem(sys.modules, "model_signing", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"install the signing extra: pip install 'hatch-funasr\[sign\]'"):
        signing.signer_config(Settings.from_env({EnvVars.SIGNING_KEY: str(key)}))


# --- 3. provenance -----------------------------------------------------------------------------
def _statement(envelope: dict[str, Any]) -> dict[str, Any]:
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def _validate(statement: dict[str, Any]) -> provenance_pb2.Provenance:
    """Against the published schemas: in-toto Statement v1 and SLSA provenance v1 (protobuf
    definitions of the in-toto-attestation package; unknown fields are errors)."""
    parsed = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    predicate = json_format.ParseDict(statement["predicate"], provenance_pb2.Provenance())
    for dependency in predicate.build_definition.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(dependency).validate()
    for byproduct in predicate.run_details.byproducts:
        ResourceDescriptor.copy_from_pb(byproduct).validate()
    return predicate


def test_provenance_names_every_locked_source_file_and_how_derived_files_were_made(
    tmp_path: Path, hub_env: dict[str, str]
) -> None:
    key, pub = _key(tmp_path / "site")
    project = make_project(
        tmp_path,
        'vad = { model = "fsmn-vad", revision = "v2.0.4" }\nvadq = { path = "models/vadq", family = "fsmn-vad", '
        "quantize = true }\n",
    )
    realvad.write_model(project / "models" / "vadq", ("model.onnx", "config.yaml", "am.mvn"))
    assert cli(project, "lock").returncode == 0
    dist = _build(project, **{EnvVars.SIGNING_KEY: str(key), EnvVars.ATTEST: "1", **hub_env})
    envelope = json.loads((dist / PROVENANCE).read_text())
    statement = _statement(envelope)
    predicate = _validate(statement)
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    wheel_sha = hashlib.sha256((dist / WHEEL).read_bytes()).hexdigest()
    assert statement["subject"] == [{"name": WHEEL, "digest": {"sha256": wheel_sha}}]
    # DSSE, signed with the build's key over the pre-authentication encoding
    public = serialization.load_pem_public_key(pub.read_bytes())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    (signature,) = envelope["signatures"]
    payload = base64.b64decode(envelope["payload"])
    public.verify(
        base64.b64decode(signature["sig"]), attest.pae(attest.PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256())
    )
    # every source file of the lock, with hub, repository, commit, path and sha256
    lock = read_lock(project)
    assert lock is not None
    locked = lock.models["vad"]
    deps = json_format.MessageToDict(predicate)["buildDefinition"]["resolvedDependencies"]
    from_hub = {(d["annotations"]["path"], d["digest"]["sha256"]) for d in deps if d["annotations"].get("hub")}
    assert from_hub == {(f.path, f.sha256) for f in locked.files}
    assert {d["annotations"]["commit"] for d in deps if d["annotations"].get("hub")} == {locked.commit}
    assert {d["annotations"]["repository"] for d in deps if d["annotations"].get("hub")} == {locked.repo}
    local = {d["annotations"]["path"] for d in deps if d["annotations"]["model"] == "vadq"}
    assert local == {"model.onnx", "config.yaml", "am.mvn"}
    # the file the build made: its inputs' digests, tools, options and drift
    (made,) = statement["predicate"]["runDetails"]["byproducts"]
    assert made["name"] == "acme_vad_models/models/vadq/model_quant.onnx"
    notes = made["annotations"]
    source_onnx = hashlib.sha256(realvad.model_files()["model.onnx"]).hexdigest()
    assert {"name": "model.onnx", "digest": {"sha256": source_onnx}} in notes["inputs"]
    assert "onnxruntime" in notes["tools"]
    assert notes["options"] == {"quantization": "dynamic", "op_types": ["MatMul"], "weight_type": "QUInt8"}
    assert isinstance(notes["max_abs_drift"], float)
    assert statement["predicate"]["runDetails"]["builder"]["id"] == attest.BUILDER_ID
    declared = statement["predicate"]["buildDefinition"]["externalParameters"]["models"]
    assert declared["vad"]["source"] == f"ms:{locked.repo}@v2.0.4"
    assert (declared["vadq"]["source"], declared["vadq"]["quantize"]) == ("path:models/vadq", True)
    # the SBOM inside the wheel names the provenance written beside it
    with zipfile.ZipFile(dist / WHEEL) as zf:
        raw = zf.read("acme_vad_models-2026.11.0.dist-info/sboms/hatch-funasr.cdx.json").decode("utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw) is None
    bom = json.loads(raw)
    assert bom["metadata"]["component"]["externalReferences"] == [
        {
            "type": "attestation",
            "url": PROVENANCE,
            "comment": "in-toto SLSA provenance v1 of this wheel, written beside it",
        }
    ]


def test_without_a_key_the_provenance_is_an_unsigned_envelope(tmp_path: Path) -> None:
    dist = _build(_vad_project(tmp_path), **{EnvVars.ATTEST: "1"})
    envelope = json.loads((dist / PROVENANCE).read_text())
    assert envelope["signatures"] == []
    _validate(_statement(envelope))
    _key_file, pub = _key(tmp_path / "site")
    unsigned = cli(
        tmp_path, "provenance", str(dist / PROVENANCE), "--wheel", str(dist / WHEEL), "--public-key", str(pub)
    )
    assert unsigned.returncode == 1
    assert unsigned.stderr.strip() == (
        f"error: {dist / PROVENANCE}: no signature by site.pub (unsigned, another key, or altered)"
    )
    looked = cli(tmp_path, "provenance", str(dist / PROVENANCE), "--wheel", str(dist / WHEEL))
    assert looked.returncode == 0 and "signature: NOT checked (pass --public-key)" in looked.stdout


def test_the_provenance_check_wants_the_sites_key_and_this_wheel(signed: dict[str, Path], tmp_path: Path) -> None:
    dist, pub = signed["dist"], str(signed["pub"])
    ok = cli(tmp_path, "provenance", str(dist / PROVENANCE), "--wheel", str(dist / WHEEL), "--public-key", pub)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[:2] == [
        f"{WHEEL}: the subject of {PROVENANCE} (sha256 matches)",
        f"signature: ok, by {pub}",
    ]
    assert "  source  " in ok.stdout and "path:models/vad/model.onnx" in ok.stdout
    other = str(signed["other_pub"])
    wrong_key = cli(tmp_path, "provenance", str(dist / PROVENANCE), "--wheel", str(dist / WHEEL), "--public-key", other)
    assert wrong_key.returncode == 1 and "no signature by other.pub" in wrong_key.stderr
    swapped = tmp_path / WHEEL
    swapped.write_bytes((dist / WHEEL).read_bytes() + b"\0")
    wrong_wheel = cli(tmp_path, "provenance", str(dist / PROVENANCE), "--wheel", str(swapped), "--public-key", pub)
    assert wrong_wheel.returncode == 1 and "another wheel, or altered" in wrong_wheel.stderr


def test_signing_refuses_a_file_changed_after_packing_and_a_name_the_signature_takes(tmp_path: Path) -> None:
    key, _pub = _key(tmp_path / "site")
    config = signing.signer_config(Settings.from_env({EnvVars.SIGNING_KEY: str(key)}))
    (tmp_path / "model.onnx").write_bytes(b"weights")
    packed = hashlib.sha256(b"other weights").hexdigest()  # what packing read, before the file changed
    bundle = {"name": "acme-vad-models", "version": "1", "package": "acme_vad_models"}
    directory = {"acme_vad_models/models/vad": {"model.onnx": tmp_path / "model.onnx"}}
    written = {"acme_vad_models/models/vad/model.onnx": packed}
    with pytest.raises(IntegrityError, match=r"^acme_vad_models/models/vad: model\.onnx changed between packing"):
        signing.sign_directories(config, directory, written, bundle, tmp_path / "work")
    clash = {"acme_vad_models/models/vad": {"model.sig": tmp_path / "model.onnx"}}
    with pytest.raises(IntegrityError, match=r"the model ships a file named model\.sig, the name its signature takes"):
        signing.sign_directories(config, clash, {}, bundle, tmp_path / "work")
    good = {"acme_vad_models/models/vad/model.onnx": hashlib.sha256(b"weights").hexdigest()}
    made = signing.sign_directories(config, directory, good, bundle, tmp_path / "work")
    assert sorted(made) == [
        "acme_vad_models/models/vad/funasr_bundle_files.json",
        "acme_vad_models/models/vad/model.sig",
    ]


# --- 4. format versions ------------------------------------------------------------------------
def test_the_manifest_names_its_hash_algorithm_and_an_unknown_one_is_refused(
    signed: dict[str, Path], tmp_path: Path
) -> None:
    site = _installed(signed["dist"], tmp_path / "site")
    manifest = site / "acme_vad_models" / "funasr_manifest.json"
    data = json.loads(manifest.read_text())
    assert (data["manifest_version"], data["hash_algorithm"]) == (1, "sha256")
    del data["hash_algorithm"]  # as written before the key existed: sha256
    manifest.write_text(json.dumps(data))
    assert _bundle(site, "verify").stdout.startswith("ok: 3 files match the manifest")
    manifest.write_text(json.dumps({**data, "hash_algorithm": "blake3"}))
    refused = _bundle(site, "verify")
    assert refused.returncode == 1
    assert f"{manifest}: hash_algorithm 'blake3' is not one this runtime checks (sha256)" in refused.stderr


def test_wheelhouse_gathers_a_runtime_extra_of_the_bundle(tmp_path: Path) -> None:
    """``--runtime EXTRA``: pip resolves the bundle's own extra from its metadata."""
    links = tmp_path / "links"
    links.mkdir()
    dep = _plain_wheel(links, "acme-runtime-dep", "1.2.0")
    project = _vad_project(tmp_path)
    text = (project / "pyproject.toml").read_text()
    extra = '[project.optional-dependencies]\nonnx = ["acme-runtime-dep==1.2.0"]\n\n[tool.hatch'
    (project / "pyproject.toml").write_text(text.replace("[tool.hatch", extra, 1))
    dist = _build(project)
    house = tmp_path / "house"
    args = ["wheelhouse", str(dist / WHEEL), "-o", str(house), "--runtime", "onnx", "--no-index"]
    result = cli(tmp_path, *args, "--find-links", str(links))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in house.glob("*.whl")) == sorted([WHEEL, dep.name])
    installed = _pip_install(house, house / "requirements.txt", tmp_path / "site")
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "site" / "acme_runtime_dep").is_dir() and (tmp_path / "site" / "acme_vad_models").is_dir()
