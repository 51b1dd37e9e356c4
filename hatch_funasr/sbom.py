"""The bundle's SBOM: CycloneDX 1.6 JSON in ``.dist-info/sboms/`` (PEP 770), made from the manifest.

Every model is a ``machine-learning-model`` component: where it came from (hub, repository,
revision, commit, the model's page; or the local directory), its licence when the hub reports
one, and each of its files as a ``file`` component with its sha256 and size.  Files the build
made (quantized, exported, converted) say so, with the versions of the tools that made them,
and files taken from another repository (``extra-files``) name it.  The document is a
function of the manifest and ``SOURCE_DATE_EPOCH`` alone, so the wheel stays reproducible.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from packaging.utils import canonicalize_name

from hatch_funasr.hubs import HUBS
from hatch_funasr.manifest import Manifest, ManifestModel

__all__ = ["SBOM_NAME", "SPDX_IDS", "license_choice", "made_by", "render"]

SBOM_NAME = "hatch-funasr.cdx.json"
SPEC_VERSION = "1.6"

#: Licences as hubs spell them (Hugging Face's lowercase ids, ModelScope's display names) ->
#: SPDX ids.  Anything else is recorded by name: CycloneDX validates ``id`` against SPDX's list.
SPDX_IDS = {
    "apache-2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "mit": "MIT",
    "mit license": "MIT",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "cc0-1.0": "CC0-1.0",
    "cc-by-4.0": "CC-BY-4.0",
    "cc-by-sa-4.0": "CC-BY-SA-4.0",
    "cc-by-nc-4.0": "CC-BY-NC-4.0",
    "cc-by-nc-sa-4.0": "CC-BY-NC-SA-4.0",
    "cc-by-nc-nd-4.0": "CC-BY-NC-ND-4.0",
    "gpl-3.0-only": "GPL-3.0-only",
    "lgpl-3.0-only": "LGPL-3.0-only",
    "mpl-2.0": "MPL-2.0",
}


def license_choice(value: str) -> dict[str, Any]:
    """A CycloneDX licence entry: ``{"license": {"id": …}}`` for a known SPDX id, else by name."""
    spdx = SPDX_IDS.get(value.strip().lower())
    return {"license": {"id": spdx} if spdx else {"name": value}}


def _properties(pairs: list[tuple[str, object]]) -> list[dict[str, str]]:
    return [{"name": f"funasr:{k}", "value": str(v)} for k, v in pairs if v is not None and v != ""]


def made_by(rel: str, model: ManifestModel, generator: str) -> str | None:
    """How the build made ``rel`` (None: it is an upstream file)."""
    if rel not in model.derived:
        return None
    tools = model.tools

    def versions(*names: str) -> str:
        return ", ".join(f"{n} {tools[n]}" for n in names if n in tools) or "tool versions not recorded"

    if rel in model.quant_drift:
        return f"quantized (dynamic, MatMul, QUInt8) with {versions('onnxruntime', 'onnx')}"
    if rel in model.export_drift:
        return f"exported from the PyTorch checkpoint with {versions('funasr', 'torch', 'onnx')}"
    return f"written by hatch-funasr {generator} from an upstream file"


def _model(name: str, model: ManifestModel, package: str, parent: str, generator: str) -> dict[str, Any]:
    ref = f"{parent}#model/{name}"
    hub, repo, commit = model.hub, model.repo, model.commit
    origin = {rel: f"{e.hub}:{e.repo}@{e.commit}" for e in model.extra for rel in e.files}
    files = []
    for rel, f in sorted(model.files.items()):
        arcname = f"{package}/{model.dir}/{rel}"
        entry: dict[str, Any] = {"type": "file", "bom-ref": f"{parent}#file/{arcname}", "name": arcname}
        if f.sha256:
            entry["hashes"] = [{"alg": "SHA-256", "content": f.sha256}]
        drift = model.quant_drift.get(rel, model.export_drift.get(rel))
        entry["properties"] = _properties(
            [
                ("size", f.size),
                ("made-by", made_by(rel, model, generator)),
                ("drift", drift),
                ("from", origin.get(rel)),
            ]
        )
        files.append(entry)
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": ref,
        "name": repo or model.path or name,
        "version": commit or model.revision or "local",
        "description": f"{model.family} model ({model.format}) shipped as {name} in {package}/{model.dir}",
    }
    if model.license:
        component["licenses"] = [license_choice(model.license)]
    spec = HUBS.get(hub or "")
    if spec is not None and repo:
        if spec.purl_type and commit:
            component["purl"] = f"pkg:{spec.purl_type}/{repo}@{commit}"
        page = spec.page.format(repo=repo)
        component["externalReferences"] = [{"type": "distribution", "url": page, "comment": spec.label}]
    component["properties"] = _properties(
        [
            ("name", name),
            ("hub", hub),
            ("repository", repo),
            ("revision", model.revision),
            ("commit", commit),
            ("path", model.path),
            ("family", model.family),
            ("format", model.format),
            ("runtime", model.runtime),
        ]
    )
    component["components"] = files
    return component


def render(manifest: Manifest, *, epoch: int, provenance: str | None = None) -> bytes:
    """The SBOM of the bundle ``manifest`` describes (complete: every file's sha256 filled in);
    ``provenance``: the name of the build provenance written beside the wheel, referenced."""
    generator = manifest.generator
    purl = f"pkg:pypi/{canonicalize_name(manifest.name)}@{manifest.version}"
    models = [_model(name, m, manifest.package, purl, generator) for name, m in sorted(manifest.models.items())]
    tools = sorted({(k, v) for m in manifest.models.values() for k, v in m.tools.items()})
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"{purl}#{hashlib.sha256(manifest.to_bytes()).hexdigest()}")
    bom = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            "tools": {
                "components": [
                    {
                        "type": "application",
                        "name": "hatch-funasr",
                        "version": generator,
                        "purl": f"pkg:pypi/hatch-funasr@{generator}",
                    },
                    *({"type": "library", "name": k, "version": v} for k, v in tools),
                ]
            },
            "component": {
                "type": "library",
                "bom-ref": purl,
                "name": manifest.name,
                "version": manifest.version,
                "purl": purl,
                **(
                    {
                        "externalReferences": [
                            {
                                "type": "attestation",
                                "url": provenance,
                                "comment": "in-toto SLSA provenance v1 of this wheel, written beside it",
                            }
                        ]
                    }
                    if provenance
                    else {}
                ),
            },
        },
        "components": models,
        "dependencies": [{"ref": purl, "dependsOn": [m["bom-ref"] for m in models]}]
        + [{"ref": m["bom-ref"]} for m in models],
    }
    return (json.dumps(bom, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
