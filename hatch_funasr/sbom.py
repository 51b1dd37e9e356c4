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
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from hatch_funasr.hubs import HUBS

__all__ = ["MODEL_PAGES", "SBOM_NAME", "SPDX_IDS", "license_choice", "made_by", "pypi_name", "render"]

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
#: The model pages of each hub (the SBOM names the public page, never a mirror's URL).
MODEL_PAGES = {"ms": "https://www.modelscope.cn/models/{repo}", "hf": "https://huggingface.co/{repo}"}


def license_choice(value: str) -> dict[str, Any]:
    """A CycloneDX licence entry: ``{"license": {"id": …}}`` for a known SPDX id, else by name."""
    spdx = SPDX_IDS.get(value.strip().lower())
    return {"license": {"id": spdx} if spdx else {"name": value}}


def pypi_name(name: str) -> str:
    """A distribution name normalized (PEP 503), as purls and requirement lines spell it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _properties(pairs: list[tuple[str, object]]) -> list[dict[str, str]]:
    return [{"name": f"funasr:{k}", "value": str(v)} for k, v in pairs if v is not None and v != ""]


def made_by(rel: str, model: Mapping[str, Any], generator: str) -> str | None:
    """How the build made ``rel`` (None: it is an upstream file)."""
    if rel not in model.get("derived", []):
        return None
    tools = model.get("tools", {})

    def versions(*names: str) -> str:
        return ", ".join(f"{n} {tools[n]}" for n in names if n in tools) or "tool versions not recorded"

    if rel in model.get("quant_drift", {}):
        return f"quantized (dynamic, MatMul, QUInt8) with {versions('onnxruntime', 'onnx')}"
    if rel in model.get("export_drift", {}):
        return f"exported from the PyTorch checkpoint with {versions('funasr', 'torch', 'onnx')}"
    return f"written by hatch-funasr {generator} from an upstream file"


def _model(name: str, model: Mapping[str, Any], package: str, parent: str, generator: str) -> dict[str, Any]:
    ref = f"{parent}#model/{name}"
    hub, repo, commit = model.get("hub"), model.get("repo"), model.get("commit")
    origin = {rel: f"{e['hub']}:{e['repo']}@{e['commit']}" for e in model.get("extra", []) for rel in e["files"]}
    files = []
    for rel, f in sorted(model["files"].items()):
        arcname = f"{package}/{model['dir']}/{rel}"
        entry: dict[str, Any] = {"type": "file", "bom-ref": f"{parent}#file/{arcname}", "name": arcname}
        if f.get("sha256"):
            entry["hashes"] = [{"alg": "SHA-256", "content": f["sha256"]}]
        drift = model.get("quant_drift", {}).get(rel, model.get("export_drift", {}).get(rel))
        entry["properties"] = _properties(
            [
                ("size", f["size"]),
                ("made-by", made_by(rel, model, generator)),
                ("drift", drift),
                ("from", origin.get(rel)),
            ]
        )
        files.append(entry)
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": ref,
        "name": repo or model.get("path") or name,
        "version": commit or model.get("revision") or "local",
        "description": f"{model['family']} model ({model['format']}) shipped as {name} in {package}/{model['dir']}",
    }
    if model.get("license"):
        component["licenses"] = [license_choice(model["license"])]
    if hub == "hf" and repo and commit:
        component["purl"] = f"pkg:huggingface/{repo}@{commit}"
    if hub in MODEL_PAGES and repo:
        page = MODEL_PAGES[hub].format(repo=repo)
        component["externalReferences"] = [{"type": "distribution", "url": page, "comment": HUBS[hub].label}]
    component["properties"] = _properties(
        [
            ("name", name),
            ("hub", hub),
            ("repository", repo),
            ("revision", model.get("revision")),
            ("commit", commit),
            ("path", model.get("path")),
            ("family", model["family"]),
            ("format", model["format"]),
            ("runtime", model.get("runtime")),
        ]
    )
    component["components"] = files
    return component


def render(manifest: Mapping[str, Any], *, epoch: int, provenance: str | None = None) -> bytes:
    """The SBOM of the bundle ``manifest`` describes (complete: every file's sha256 filled in);
    ``provenance``: the name of the build provenance written beside the wheel, referenced."""
    bundle = manifest["bundle"]
    generator = str(manifest.get("generator", {}).get("hatch-funasr", "unknown"))
    purl = f"pkg:pypi/{pypi_name(bundle['name'])}@{bundle['version']}"
    models = [_model(name, m, bundle["package"], purl, generator) for name, m in sorted(manifest["models"].items())]
    tools = sorted({(k, v) for m in manifest["models"].values() for k, v in m.get("tools", {}).items()})
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"{purl}#{hashlib.sha256(canonical).hexdigest()}")
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
                "name": bundle["name"],
                "version": bundle["version"],
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
