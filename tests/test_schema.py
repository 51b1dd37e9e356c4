"""``[tool.funasr]``'s JSON Schema: made from the config's field tables, registered with
validate-pyproject, in agreement with the parser.  The key tables of
docs/reference/configuration.md are generated from the same field tables (tests/test_docs.py)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from validate_pyproject import api, errors, plugins

from hatch_funasr import config
from hatch_funasr.config import json_schema, parse, tool_schema
from hatch_funasr.errors import ConfigError
from hatch_funasr.families import FAMILIES, FORMATS
from hatch_funasr.hubs import HUBS
from hatch_funasr.settings import tomllib

ROOT = Path(__file__).resolve().parents[1]

#: The documentation's declaration, every key of the model table used once, the generic export and
#: TorchScript of issue 14 included.
GOOD = """\
[build-system]
requires = ["hatch-funasr"]
build-backend = "hatchling.build"

[project]
name = "acme-asr-models"
version = "2026.11.0"

[tool.hatch.build.targets.wheel.hooks.funasr]

[tool.funasr]
hub = "ms"
package = "acme_models"
max-file-size = "100 MiB"

[tool.funasr.models]
vad  = "fsmn-vad"
asr  = { model = "paraformer-zh", revision = "v2.0.4", quantize = true, keep-fp32 = false, max-quant-drift = 0.05 }
punc = { model = "ct-punc", revision = "v2.0.4", include = ["jieba.*"], exclude = "example/*" }
sv   = { model = "sensevoice-small", hub = "ms", format = "onnx", extra-files = { model = "iic/SenseVoiceSmall", revision = "master", files = ["chn_jpn_yue_eng_ko_spectok.bpe.model"] } }
mine = { path = "models/finetuned-paraformer", family = "paraformer" }
vad-ts = { model = "fsmn-vad", format = "torchscript", export = true, max-export-drift = 1e-4 }

[tool.funasr.models.spk]
model = "cam++"
export = "generic"
opset-version = 17
max-export-drift = 1e-4
export-inputs = { features = { shape = ["B", "T", 80] }, lengths = { shape = ["B"], dtype = "int64", value = "T" } }
export-outputs = { embedding = { shape = ["B", 192] } }
"""


def _good() -> dict[str, Any]:
    return tomllib.loads(GOOD)


def _validator() -> api.Validator:
    """validate-pyproject with our schema only, whatever is installed: the function the entry
    point names, wrapped as validate-pyproject wraps it."""
    return api.Validator(plugins=[plugins.PluginWrapper("funasr", tool_schema)])


def _project(tmp_path: Path, text: str = GOOD) -> Path:
    (tmp_path / "models" / "finetuned-paraformer").mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(text, "utf-8")
    return tmp_path / "pyproject.toml"


def _validate_pyproject(path: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI, in a child with this tree's hatch_funasr first on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "validate_pyproject", str(path)], capture_output=True, text=True, env=env
    )


def test_entry_point_is_registered() -> None:
    (found,) = [e for e in entry_points(group="validate_pyproject.tool_schema") if e.name == "funasr"] or [None]
    assert found is not None, "no validate_pyproject.tool_schema entry point: reinstall (pip install -e .)"
    assert found.value == "hatch_funasr.config:tool_schema"
    schema = found.load()("funasr")
    assert schema["$id"] == config.SCHEMA_ID
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"  # the only version validate-pyproject takes


def test_cli_accepts_the_full_declaration_and_the_parser_agrees(tmp_path: Path) -> None:
    path = _project(tmp_path)
    result = _validate_pyproject(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid file" in result.stdout
    parsed = parse(_good(), tmp_path, {})
    assert [m.name for m in parsed.models] == ["vad", "asr", "punc", "sv", "mine", "vad-ts", "spk"]


def test_cli_rejects_an_unknown_key_naming_it(tmp_path: Path) -> None:
    path = _project(tmp_path, GOOD.replace("quantize = true", "quantise = true"))
    result = _validate_pyproject(path)
    assert result.returncode == 1
    assert "`tool.funasr.models.asr` must not contain {'quantise'} properties" in result.stdout + result.stderr


def _model(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(tool: dict[str, Any]) -> None:
        tool["models"][name].update(changes)

    return change


def _drop_extra_files(tool: dict[str, Any]) -> None:
    del tool["models"]["sv"]["extra-files"]["files"]


def _tool(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda tool: tool.update(changes)


def _models(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda tool: tool["models"].update(changes)


#: (change to GOOD's [tool.funasr], what validate-pyproject says): each names the key.
BAD = [
    pytest.param(
        _model("asr", quantise=True), "`tool.funasr.models.asr` must not contain {'quantise'}", id="unknown-key"
    ),
    pytest.param(_model("asr", quantize="yes"), "`tool.funasr.models.asr.quantize` must be boolean", id="wrong-type"),
    pytest.param(_tool(hub="modelscope"), "`tool.funasr.hub` must be one of ['ms', 'hf']", id="hub-enum"),
    pytest.param(_model("asr", hub="gh"), "`tool.funasr.models.asr.hub` must be one of ['ms', 'hf']", id="model-hub"),
    pytest.param(_models(**{"../x": "fsmn-vad"}), "`tool.funasr.models` must not contain {'../x'}", id="model-name"),
    pytest.param(_drop_extra_files, "`tool.funasr.models.sv.extra-files` must contain ['files']", id="extra-no-files"),
    pytest.param(
        _model("sv", **{"extra-files": [{"model": "iic/SenseVoiceSmall"}]}),
        "`tool.funasr.models.sv.extra-files[0]` must contain ['files']",
        id="extra-array-no-files",
    ),
    pytest.param(_model("asr", format="tflite"), "`tool.funasr.models.asr.format` must be one of", id="format-enum"),
    pytest.param(_model("mine", family="conformer"), "`tool.funasr.models.mine.family` must be one of", id="family"),
    pytest.param(
        _model("asr", **{"opset-version": True}),
        "`tool.funasr.models.asr.opset-version` must be integer",
        id="bool-as-int",
    ),
    pytest.param(
        _model("asr", **{"opset-version": 30}), "`tool.funasr.models.asr.opset-version` must be smaller", id="opset"
    ),
    pytest.param(_model("asr", revision="-main"), "`tool.funasr.models.asr.revision` must match", id="revision"),
    pytest.param(_model("asr", revision="v1..v2"), "`tool.funasr.models.asr.revision` must NOT match", id="dots"),
    pytest.param(_model("asr", export=1), "`tool.funasr.models.asr.export` cannot be validated", id="export-int"),
    pytest.param(_model("asr", path="m"), "`tool.funasr.models.asr.path` must not be there", id="model-and-path"),
    pytest.param(
        _model("mine", revision="v1"), "`tool.funasr.models.mine.revision` must not be there", id="path-revision"
    ),
    pytest.param(
        _model("vad-ts", export="generic"),
        "`tool.funasr.models.vad-ts` must contain ['export-inputs']",
        id="generic-no-inputs",
    ),
    pytest.param(
        _model("asr", **{"export-inputs": {"x": {"shape": ["B"]}}}),
        "`tool.funasr.models.asr` must contain ['export'] properties",
        id="inputs-without-generic",
    ),
    pytest.param(
        _model("spk", **{"export-outputs": {"y": {"shape": ["B"], "dtype": "float32"}}}),
        "`tool.funasr.models.spk.export-outputs.y` must not contain {'dtype'}",
        id="output-dtype",
    ),
    pytest.param(
        _model("spk", **{"export-inputs": {"lengths": {"shape": ["B"], "dtype": "int64"}}}),
        "`tool.funasr.models.spk.export-inputs.lengths` must contain ['value']",
        id="integer-input-no-value",
    ),
    pytest.param(
        _model("spk", **{"export-inputs": {"x": {"shape": ["B"], "value": 3}}}),
        "`tool.funasr.models.spk.export-inputs.x.value` must not be there",
        id="float-input-value",
    ),
    pytest.param(_models(x="acme/a/b"), "`tool.funasr.models.x` cannot be validated by any definition", id="repo-id"),
    pytest.param(_tool(**{"max-file-size": "100 MB!"}), "`tool.funasr.max-file-size` must be valid exactly", id="size"),
    pytest.param(_tool(package="acme-models"), "`tool.funasr.package` must match pattern", id="package"),
    pytest.param(lambda tool: tool.pop("models"), "`tool.funasr` must contain ['models']", id="no-models"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_schema_rejects_what_the_parser_rejects(
    change: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    pyproject = _good()
    change(pyproject["tool"]["funasr"])
    with pytest.raises(errors.ValidationError) as e:
        _validator()(copy.deepcopy(pyproject))
    assert message in e.value.message, e.value.message
    _project(tmp_path)
    with pytest.raises(ConfigError):
        parse(pyproject, tmp_path, {})


def test_schema_is_draft_07_and_a_second_implementation_agrees() -> None:
    schema = json_schema()
    jsonschema.Draft7Validator.check_schema(schema)  # the metaschema, patterns compiled as regexes
    tool = _good()["tool"]["funasr"]
    jsonschema.Draft7Validator(schema).validate(tool)
    tool["models"]["asr"]["quantise"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(tool)
    assert json_schema() == schema and json_schema() is not schema  # a fresh copy each call


def _model_table(schema: dict[str, Any]) -> dict[str, Any]:
    (entry,) = schema["properties"]["models"]["patternProperties"].values()
    return entry["else"]  # type: ignore[no-any-return]


def _listed_by_parser(pyproject: dict[str, Any], tmp_path: Path, hook: dict[str, Any]) -> list[list[str]]:
    """The keys the parser lists for an unknown key with no close match, per table."""
    with pytest.raises(ConfigError) as e:
        parse(pyproject, tmp_path, hook)
    return [
        match.group(1).split(", ")
        for problem in e.value.problems
        if (match := re.search(r"zzzzzz: unknown key \(expected one of: (.*)\)$", problem))
    ]


def test_the_parser_and_the_schema_take_the_same_keys(tmp_path: Path) -> None:
    """Every key the parser takes is in the schema and back, table by table: read from the
    parser's own "expected one of" list for a key it cannot place."""
    schema = json_schema()
    model = _model_table(schema)["properties"]
    (inputs,) = model["export-inputs"]["patternProperties"].values()
    (outputs,) = model["export-outputs"]["patternProperties"].values()
    extra = model["extra-files"]["else"]["properties"]
    assert model["extra-files"]["then"]["items"]["properties"] == extra

    z = {"zzzzzz": 1}
    pyproject = _good()
    tool = pyproject["tool"]["funasr"]
    tool.update(z)
    tool["models"]["asr"].update(z)
    tool["models"]["sv"]["extra-files"].update(z)
    tool["models"]["spk"]["export-inputs"]["features"].update(z)
    tool["models"]["spk"]["export-outputs"]["embedding"].update(z)
    _project(tmp_path)
    listed = _listed_by_parser(pyproject, tmp_path, hook=z)
    assert (
        listed
        == [
            list(schema["properties"]),  # [tool.funasr]
            list(schema["properties"])[:-1],  # the hook table: less "models"
            list(model),
            list(extra),
            list(inputs["properties"]),
            list(outputs["properties"]),
        ]
    )
    # issue 14's keys and values are there
    assert {"max-export-drift", "export-inputs", "export-outputs"} <= set(model)
    assert "generic" in model["export"]["anyOf"][1]["enum"]
    assert "torchscript" in model["format"]["enum"]


def test_enumerations_come_from_the_registries() -> None:
    schema = json_schema()
    model = _model_table(schema)["properties"]
    assert schema["properties"]["hub"]["enum"] == model["hub"]["enum"] == list(HUBS)
    assert model["format"]["enum"] == list(FORMATS)
    assert model["family"]["enum"] == list(FAMILIES)
    assert model["extra-files"]["else"]["properties"]["hub"]["enum"] == list(HUBS)
    (inputs,) = model["export-inputs"]["patternProperties"].values()
    assert inputs["properties"]["dtype"]["enum"] == list(config.INPUT_DTYPES)
    assert set(model["model"]["examples"]) >= {"fsmn-vad", "paraformer-zh", "cam++"}
