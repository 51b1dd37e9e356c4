"""The declaration: a table of bad declarations and the exact error each gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hatch_funasr.config import parse
from hatch_funasr.errors import ConfigError
from hatch_funasr.model import HubRef


def _pyproject(models: Any = None, **tool: Any) -> dict[str, Any]:
    table = dict(tool)
    if models is not None:
        table["models"] = models
    return {"project": {"name": "acme-asr-models", "version": "1.0"}, "tool": {"funasr": table}}


BAD = [
    pytest.param(
        _pyproject({"asr": {"model": "paraformer-zh", "quantize": "yes"}}),
        ['tool.funasr.models.asr.quantize: expected true or false, got "yes"'],
        id="bool-as-string",
    ),
    pytest.param(
        _pyproject({"asr": {"model": "paraformer-zn"}}),
        [
            'tool.funasr.models.asr.model: unknown model alias "paraformer-zn" (did you mean "paraformer-zh"?); '
            'or give a hub repo id "owner/name"'
        ],
        id="unknown-alias",
    ),
    pytest.param(
        _pyproject({"asr": {"model": "paraformer-zh", "revison": "v2.0.4"}}),
        ['tool.funasr.models.asr.revison: unknown key (did you mean "revision"?)'],
        id="unknown-key",
    ),
    pytest.param(
        _pyproject({"vad": "fsmn-vad"}, hubb="hf"),
        ['tool.funasr.hubb: unknown key (did you mean "hub"?)'],
        id="unknown-global-key",
    ),
    pytest.param(
        _pyproject({"../x": "fsmn-vad"}),
        [
            "tool.funasr.models.\"../x\": model names must be 1-64 ASCII letters, digits, '-' or '_', "
            "starting with a letter or digit"
        ],
        id="unsafe-name",
    ),
    pytest.param(  # a name becomes a directory and an import-safe key: letters outside ASCII are refused
        _pyproject({"语音": "fsmn-vad", "caf\u00e9": "fsmn-vad"}),
        [
            f"tool.funasr.models.\"{name}\": model names must be 1-64 ASCII letters, digits, '-' or '_', "
            "starting with a letter or digit"
            for name in ("语音", "caf\u00e9")
        ],
        id="non-ascii-names",
    ),
    pytest.param(
        _pyproject({"vad": "fsmn-vad", "VAD": "fsmn-vad-8k"}),
        ['tool.funasr.models.VAD: installs to the same directory as "vad" (names differ only in case or -/_)'],
        id="duplicate-target",
    ),
    pytest.param(
        _pyproject({"con": "fsmn-vad", "AUX": "fsmn-vad-8k"}),
        [
            "tool.funasr.models.con: 'con' is a device name on Windows, where the bundle may be installed; rename it",
            "tool.funasr.models.AUX: 'AUX' is a device name on Windows, where the bundle may be installed; rename it",
        ],
        id="windows-device-names",
    ),
    pytest.param(
        _pyproject({"asr": "sensevoice-small", "asr-SenseVoiceSmall": "fsmn-vad"}),
        [
            "tool.funasr.models.asr-SenseVoiceSmall: installs to models/asr-SenseVoiceSmall, the directory of "
            'model "asr"; rename one of them'
        ],
        id="directory-collision",
    ),
    pytest.param(
        _pyproject({"v": "fsmn-vad"}, package="json"),
        ['tool.funasr.package: expected a Python package name, got "json" (the name of a module it would shadow)'],
        id="package-shadows-stdlib",
    ),
    pytest.param(
        _pyproject({"v": "fsmn-vad"}, package="class"),
        ['tool.funasr.package: expected a Python package name, got "class" (a Python keyword)'],
        id="package-keyword",
    ),
    pytest.param(
        _pyproject({"v": "fsmn-vad"}, package="hatch_funasr"),
        [
            'tool.funasr.package: expected a Python package name, got "hatch_funasr" '
            "(the name of a module it would shadow)"
        ],
        id="package-shadows-us",
    ),
    *(
        pytest.param(
            _pyproject({"v": "fsmn-vad"}, package=value),
            [
                f"tool.funasr.package: expected a Python package name, got {shown} "
                "(letters, digits and _, not starting with a digit)"
            ],
            id=f"package-{case}",
        )
        for case, value, shown in [
            ("dash", "acme-models", '"acme-models"'),
            ("digit-first", "1models", '"1models"'),
            ("dotted", "acme.models", '"acme.models"'),
            ("empty", "", '""'),
            ("number", 3, "3"),
            ("array", ["acme"], "an array"),
        ]
    ),
    pytest.param(
        _pyproject({"v": "fsmn-vad"}, **{"max-file-size": "lots"}),
        ['tool.funasr.max-file-size: expected a size such as 104857600 or "100 MiB", got "lots"'],
        id="max-file-size-not-a-size",
    ),
    *(
        pytest.param(
            _pyproject({"v": {"model": "fsmn-vad", "quantize": True, "max-quant-drift": value}}),
            [f"tool.funasr.models.v.max-quant-drift: expected a non-negative number, got {shown}"],
            id=f"max-quant-drift-{case}",
        )
        for case, value, shown in [
            ("negative", -0.01, "-0.01"),
            ("string", "0.1", '"0.1"'),
            ("bool", True, "true"),
            ("nan", float("nan"), "nan"),
            ("inf", float("inf"), "inf"),
            ("table", {"max": 1}, "a table"),
        ]
    ),
    pytest.param(
        {"project": {"name": "json", "version": "1"}, "tool": {"funasr": {"models": {"v": "fsmn-vad"}}}},
        [
            'project.name: "json" gives the package name "json" (the name of a module it would shadow); '
            'set tool.funasr.package = "..." to another import name'
        ],
        id="project-name-shadows-stdlib",
    ),
    pytest.param(
        _pyproject({"asr": {"model": "sensevoice-small", "extra-files": {"model": "iic/SenseVoiceSmall"}}}),
        ["tool.funasr.models.asr.extra-files.files: expected a non-empty array of file names, got None"],
        id="extra-files-without-files",
    ),
    pytest.param(
        _pyproject({"asr": {"model": "sensevoice-small", "extra-files": [{"files": ["../x", "a"], "revison": "v1"}]}}),
        [
            'tool.funasr.models.asr.extra-files[0].revison: unknown key (did you mean "revision"?)',
            'tool.funasr.models.asr.extra-files[0]: missing "model": the hub repository (owner/name) the files come from',
            'tool.funasr.models.asr.extra-files[0].files: "../x" is not a file name inside the repository '
            "(has a '..' component)",
        ],
        id="extra-files-bad-table",
    ),
    pytest.param(
        _pyproject({"asr": {"model": "sensevoice-small", "extra-files": "iic/SenseVoiceSmall"}}),
        [
            "tool.funasr.models.asr.extra-files: expected a table {{ model, revision, files }} or an array of them, "
            'got "iic/SenseVoiceSmall"'
        ],
        id="extra-files-string",
    ),
    pytest.param(
        _pyproject({"asr": {"path": "m", "family": "sensevoice", "extra-files": []}}),
        ['tool.funasr.models.asr.extra-files: only applies to hub models, not to a local "path"'],
        id="extra-files-on-a-path",
    ),
    pytest.param(
        _pyproject({}),
        ['tool.funasr.models: is empty: declare at least one model, e.g. vad = "fsmn-vad"'],
        id="empty-table",
    ),
    pytest.param(
        {"project": {"name": "x", "version": "1"}},
        ['tool.funasr.models: missing: declare at least one model, e.g. vad = "fsmn-vad"'],
        id="no-table",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "path": "models/v"}}),
        ['tool.funasr.models.v: set either "model" (a hub model) or "path" (a local directory), not both'],
        id="model-and-path",
    ),
    pytest.param(
        _pyproject({"v": {"revision": "v1"}}),
        ['tool.funasr.models.v: missing "model" (catalog alias or hub repo id) or "path" (local directory)'],
        id="neither-model-nor-path",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "hub": "github"}}),
        ['tool.funasr.models.v.hub: expected "ms" or "hf", got "github"'],
        id="bad-hub",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "format": "tflite"}}),
        ['tool.funasr.models.v.format: expected "onnx", "pytorch", "torchscript" or "gguf", got "tflite"'],
        id="bad-format",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "export": "yes"}}),
        ['tool.funasr.models.v.export: expected "auto", true, false or "generic", got "yes"'],
        id="bad-export",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "opset-version": 99}}),
        ["tool.funasr.models.v.opset-version: expected an integer from 9 to 23, got 99"],
        id="bad-opset",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "revision": "../../etc"}}),
        ['tool.funasr.models.v.revision: "../../etc" is not a valid tag, branch or commit'],
        id="bad-revision",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "include": ["../secret"]}}),
        [
            'tool.funasr.models.v.include: pattern "../secret" must be a relative path inside the model directory '
            "(has a '..' component)"
        ],
        id="include-escapes",
    ),
    pytest.param(
        _pyproject({"v": {"model": "fsmn-vad", "keep-fp32": False}}),
        ["tool.funasr.models.v.keep-fp32: false needs quantize = true, or nothing would ship"],
        id="nothing-to-ship",
    ),
    pytest.param(
        _pyproject({"spk": {"model": "cam++", "format": "onnx"}}),
        [
            'tool.funasr.models.spk.format: "onnx" is not available for campplus models: FunASR has no export() '
            "for CAM++ and publishes no official ONNX of it; a third-party ONNX "
            '(lovemefan/campplus) exists but is unverified; use format = "pytorch"; or, experimental, '
            'export = "generic" with export-inputs (torch.onnx.export of the PyTorch module, checked against it)'
        ],
        id="campplus-onnx",
    ),
    pytest.param(
        _pyproject({"spk": {"model": "cam++", "format": "torchscript"}}),
        [
            'tool.funasr.models.spk.format: "torchscript" is not available for campplus models: FunASR has no '
            "export() for CAM++ (funasr/models/campplus has no export_meta.py), so its TorchScript export does not "
            'exist either; use format = "pytorch"'
        ],
        id="campplus-torchscript",
    ),
    pytest.param(
        _pyproject({"ser": {"model": "emotion2vec-plus-large", "format": "torchscript"}}),
        [
            'tool.funasr.models.ser.format: "torchscript" is not available for emotion2vec models: FunASR\'s '
            "export of emotion2vec rebuilds the model for ONNX only (emotion2vec/export_meta.py has no TorchScript "
            'switch) and no FunASR runtime loads it; use format = "pytorch"'
        ],
        id="emotion2vec-torchscript",
    ),
    pytest.param(
        _pyproject({"vad": {"model": "fsmn-vad", "format": "torchscript", "quantize": True, "keep-fp32": True}}),
        [
            "tool.funasr.models.vad.quantize: only applies to ONNX models; fsmn-vad in torchscript format has none",
            "tool.funasr.models.vad.keep-fp32: only applies to ONNX models (FunASR quantizes ONNX only)",
        ],
        id="torchscript-quantize",
    ),
    pytest.param(
        _pyproject({"spk": {"model": "cam++", "export": "generic"}}),
        [
            'tool.funasr.models.spk.export-inputs: required with export = "generic": the inputs of the '
            'module\'s forward, in order, e.g. export-inputs = {{ x = {{ shape = ["B", "T", 80], dtype = '
            '"float32" }} }} (strings are dynamic axes)'
        ],
        id="generic-without-inputs",
    ),
    pytest.param(
        _pyproject(
            {"vad": {"model": "fsmn-vad", "export": "generic", "export-inputs": {"x": {"shape": ["B", "T", 400]}}}}
        ),
        [
            'tool.funasr.models.vad.export: "generic" is for models FunASR has no export() for; FunASR exports '
            'fsmn-vad to onnx itself: use export = "auto" or true'
        ],
        id="generic-where-funasr-exports",
    ),
    pytest.param(
        _pyproject(
            {
                "spk": {
                    "model": "cam++",
                    "format": "pytorch",
                    "export": "generic",
                    "export-inputs": {"x": {"shape": ["B", "T", 80]}},
                }
            }
        ),
        [
            'tool.funasr.models.spk.export: "generic" exports to format = "onnx" or "torchscript"; nothing to '
            "export for a PyTorch directory"
        ],
        id="generic-to-pytorch",
    ),
    pytest.param(
        _pyproject({"vad": {"model": "fsmn-vad", "export-inputs": {"x": {"shape": ["B"]}}}}),
        ['tool.funasr.models.vad.export-inputs: only applies to export = "generic"'],
        id="inputs-without-generic",
    ),
    pytest.param(
        _pyproject(
            {
                "spk": {
                    "model": "cam++",
                    "export": "generic",
                    "max-export-drift": -1,
                    "export-inputs": {
                        "x": {"shape": ["B", 0, "T"], "dtype": "float32"},
                        "lens": {"shape": ["B"], "dtype": "int64"},
                        "n": {"shape": [1], "dtype": "int32", "value": "U"},
                        "y": {"shape": [2], "dtype": "float16"},
                        "z": {"shape": [2], "value": 3},
                        "1bad": {"shape": [1]},
                    },
                    "export-outputs": {"e": {"shape": ["B", 192], "dtype": "float32"}},
                }
            }
        ),
        [
            "tool.funasr.models.spk.max-export-drift: expected a non-negative number, got -1",
            "tool.funasr.models.spk.export-inputs.x.shape: expected an array of sizes (positive integers) and "
            'dynamic axis names (strings such as "B" or "T"), got an array',
            "tool.funasr.models.spk.export-inputs.lens.value: integer inputs need a value to fill them with: an "
            'integer, or the name of a dynamic axis (e.g. "T" for a lengths input), got None',
            'tool.funasr.models.spk.export-inputs.y.dtype: expected "float32", "float64", "int64" or "int32", '
            'got "float16"',
            "tool.funasr.models.spk.export-inputs.z.value: only integer inputs take a value (float inputs are "
            "seeded random normal)",
            'tool.funasr.models.spk.export-inputs."1bad": tensor names must be a letter or _ then letters, digits, '
            "_ . : or -",
            'tool.funasr.models.spk.export-inputs.n.value: "U" names no dynamic axis of the inputs (none)',
            "tool.funasr.models.spk.export-outputs.e.dtype: unknown key (expected one of: shape)",
        ],
        id="generic-bad-inputs",
    ),
    pytest.param(
        _pyproject({"lm": {"model": "ngram-lm-zh", "quantize": True}}),
        ["tool.funasr.models.lm.quantize: only applies to ONNX models; ngram-lm in onnx format has none"],
        id="quantize-lm",
    ),
    pytest.param(
        _pyproject({"x": {"model": "acme/mystery-model"}}),
        [
            "tool.funasr.models.x.family: cannot tell the model family of acme/mystery-model; set family = one of: "
            "paraformer-contextual, paraformer-streaming, paraformer, fsmn-vad, ct-punc-realtime, ct-punc, "
            "sensevoice, ngram-lm, fst-itn, campplus, emotion2vec, whisper, fun-asr-nano, timestamp, kws, qwen-audio"
        ],
        id="unknown-family",
    ),
    pytest.param(
        _pyproject({"x": {"path": "does/not/exist", "family": "fsmn-vad"}}),
        ['tool.funasr.models.x.path: "does/not/exist" is not a directory (relative paths start at {root})'],
        id="missing-path",
    ),
    pytest.param(
        _pyproject({"x": {"path": "m", "family": "fsmn-vad", "revision": "v1"}}),
        ['tool.funasr.models.x.revision: only applies to hub models, not to a local "path"'],
        id="revision-on-path",
    ),
    pytest.param(
        _pyproject({"x": "ct-punc-realtime"}, hub="hf"),
        ['tool.funasr.models.x.hub: "ct-punc-realtime" has no Hugging Face repository; use hub = "ms"'],
        id="no-hf-repo",
    ),
    pytest.param(
        _pyproject({"x": 3}),
        ['tool.funasr.models.x: expected a model alias or repo id string, or a table with "model" or "path", got 3'],
        id="wrong-type",
    ),
    pytest.param(
        _pyproject({"x": "fsmn-vad"}, **{"max-file-size": "lots"}),
        ['tool.funasr.max-file-size: expected a size such as 104857600 or "100 MiB", got "lots"'],
        id="bad-size",
    ),
    pytest.param(
        _pyproject({"vad": {"model": "fsmn-vad", "family": "vad", "hub": "HF", "format": "ONNX"}}, hub="MS"),
        [
            'tool.funasr.hub: expected "ms" or "hf", got "MS" (did you mean "ms"?)',
            'tool.funasr.models.vad.hub: expected "ms" or "hf", got "HF" (did you mean "hf"?)',
            'tool.funasr.models.vad.format: expected "onnx", "pytorch", "torchscript" or "gguf", got "ONNX" '
            '(did you mean "onnx"?)',
            'tool.funasr.models.vad.family: expected "paraformer-contextual", "paraformer-streaming", "paraformer", '
            '"fsmn-vad", "ct-punc-realtime", "ct-punc", "sensevoice", "ngram-lm", "fst-itn", "campplus", '
            '"emotion2vec", "whisper", "fun-asr-nano", "timestamp", "kws" or "qwen-audio", got "vad" '
            '(did you mean "fsmn-vad"?)',
        ],
        id="did-you-mean-values",
    ),
    pytest.param(
        _pyproject({"punc": {"model": "ct-punc", "family": "punc"}, "x": {"model": "fsmn-vad", "family": "xyz"}}),
        [
            'tool.funasr.models.punc.family: expected "paraformer-contextual", "paraformer-streaming", "paraformer", '
            '"fsmn-vad", "ct-punc-realtime", "ct-punc", "sensevoice", "ngram-lm", "fst-itn", "campplus", '
            '"emotion2vec", "whisper", "fun-asr-nano", "timestamp", "kws" or "qwen-audio", got "punc" '
            '(did you mean "ct-punc"?)',
            'tool.funasr.models.x.family: expected "paraformer-contextual", "paraformer-streaming", "paraformer", '
            '"fsmn-vad", "ct-punc-realtime", "ct-punc", "sensevoice", "ngram-lm", "fst-itn", "campplus", '
            '"emotion2vec", "whisper", "fun-asr-nano", "timestamp", "kws" or "qwen-audio", got "xyz"',
        ],
        id="did-you-mean-only-when-close",
    ),
    pytest.param(
        _pyproject({"vad": "m", "mine": {"model": "./m", "family": "fsmn-vad"}}),
        [
            'tool.funasr.models.vad: "m" is a directory of this project, not a hub repository; '
            'did you mean path = "m"? (vad = {{ path = "m" }})',
            'tool.funasr.models.mine.model: "./m" is a directory of this project, not a hub repository; '
            'did you mean path = "./m"? (mine = {{ path = "./m" }})',
        ],
        id="directory-as-model",
    ),
]


@pytest.mark.parametrize(("pyproject", "expected"), BAD)
def test_bad_declarations(pyproject: dict[str, Any], expected: list[str], tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(ConfigError) as info:
        parse(pyproject, tmp_path, {})
    assert info.value.problems == [e.format(root=tmp_path) for e in expected]
    assert all(line in str(info.value) for line in info.value.problems)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    pyproject = _pyproject({"a": {"model": "fsmn-vad", "quantize": 1}, "b": {"model": "nope"}}, hub="x")
    with pytest.raises(ConfigError) as info:
        parse(pyproject, tmp_path, {})
    assert len(info.value.problems) == 3
    assert str(info.value).startswith("invalid FunASR model declaration in pyproject.toml (3 problems):")


def test_hook_table_reserved_keys_stripped_and_conflicts(tmp_path: Path) -> None:
    hook = {"dependencies": ["x"], "enable-by-default": True, "package": "other_pkg"}
    config = parse(_pyproject({"vad": "fsmn-vad"}), tmp_path, hook)
    assert config.package == "other_pkg"
    with pytest.raises(ConfigError) as info:
        parse(_pyproject({"vad": "fsmn-vad"}, hub="ms"), tmp_path, {"hub": "hf"})
    assert info.value.problems == [
        "tool.hatch.build.targets.wheel.hooks.funasr.hub: conflicts with tool.funasr.hub; set it in one place"
    ]


def test_short_and_long_forms_resolve(tmp_path: Path) -> None:
    config = parse(
        _pyproject(
            {
                "vad": "fsmn-vad",
                "asr": {"model": "paraformer-zh", "revision": "v2.0.4", "quantize": True},
                "punc": {"model": "ct-punc", "revision": "v2.0.4", "hub": "hf"},
                "lm": {"model": "iic/speech_ngram_lm_zh-cn-ai-wesp-fst", "revision": "v1.0.2"},
                "spk": "cam++",
                "sv": "Whisper-large-v3",
            }
        ),
        tmp_path,
        {},
    )
    by = {m.name: m for m in config.models}
    assert config.package == "acme_asr_models"
    assert by["vad"].origin == HubRef("ms", "iic/speech_fsmn_vad_zh-cn-16k-common-onnx")
    assert (by["vad"].family, by["vad"].format) == ("fsmn-vad", "onnx")
    asr = "iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-onnx"
    assert by["asr"].quantize and by["asr"].origin == HubRef("ms", asr, "v2.0.4")
    assert by["punc"].origin == HubRef("hf", "funasr/ct-punc", "v2.0.4")
    assert (by["lm"].family, by["lm"].alias) == ("ngram-lm", "ngram-lm-zh")
    assert (by["spk"].family, by["spk"].format) == ("campplus", "pytorch")
    assert (by["sv"].alias, by["sv"].format) == ("whisper-large-v3", "pytorch")


def test_extra_files_default_from_the_catalog_and_declared(tmp_path: Path) -> None:
    config = parse(
        _pyproject(
            {
                "sv": "sensevoice-small",
                "sv2": {"model": "sensevoice-small", "extra-files": []},
                "sv3": {
                    "model": "iic/SenseVoiceSmall-onnx",
                    "family": "sensevoice",
                    "extra-files": {"model": "sensevoice-small", "revision": "v2.0.5", "files": ["a.model"]},
                },
            }
        ),
        tmp_path,
        {},
    )
    by = {m.name: m for m in config.models}
    (default,) = by["sv"].extra
    assert (default.hub, default.repo, default.revision) == ("ms", "iic/SenseVoiceSmall", None)
    assert default.files == ("chn_jpn_yue_eng_ko_spectok.bpe.model",)
    assert by["sv2"].extra == ()
    (declared,) = by["sv3"].extra  # an alias names the PyTorch repository of its hub
    assert (declared.repo, declared.revision, declared.files) == ("iic/SenseVoiceSmall", "v2.0.5", ("a.model",))


def test_keep_fp32_is_unset_true_or_false(tmp_path: Path) -> None:
    config = parse(
        _pyproject(
            {
                "a": {"model": "fsmn-vad", "quantize": True},
                "b": {"model": "fsmn-vad", "quantize": True, "keep-fp32": True},
                "c": {"model": "fsmn-vad", "quantize": True, "keep-fp32": False},
            }
        ),
        tmp_path,
        {},
    )
    assert [m.keep_fp32 for m in config.models] == [None, True, False]


def test_generic_export_and_torchscript_parse(tmp_path: Path) -> None:
    config = parse(
        _pyproject(
            {
                "spk": {
                    "model": "cam++",
                    "export": "generic",
                    "max-export-drift": 1e-4,
                    "export-inputs": {
                        "features": {"shape": ["B", "T", 80]},
                        "lengths": {"shape": ["B"], "dtype": "int64", "value": "T"},
                    },
                    "export-outputs": {"embedding": {"shape": ["B", 192]}},
                },
                "vad": {"model": "fsmn-vad", "format": "torchscript", "max-export-drift": 0},
                "lm": {"model": "ngram-lm-zh", "format": "torchscript"},
            }
        ),
        tmp_path,
        {},
    )
    spk, vad, lm = config.models
    assert (spk.format, spk.export, spk.max_export_drift) == ("onnx", "generic", 1e-4)  # generic defaults to ONNX
    assert [(s.name, s.shape, s.dtype, s.value) for s in spk.export_inputs] == [
        ("features", ("B", "T", 80), "float32", None),
        ("lengths", ("B",), "int64", "T"),
    ]
    assert [(s.name, s.shape) for s in spk.export_outputs] == [("embedding", ("B", 192))]
    assert spk.origin == HubRef("ms", "iic/speech_campplus_sv_zh-cn_16k-common")  # the PyTorch one: no ready ONNX
    assert (vad.format, vad.origin, vad.max_export_drift) == (
        "torchscript",
        HubRef("ms", "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"),
        0.0,
    )
    assert lm.format == "torchscript"  # LM files are the same in every format


def test_quantization_drift_limits_and_package_names_that_are_accepted(tmp_path: Path) -> None:
    models = {
        "a": {"model": "fsmn-vad", "quantize": True, "max-quant-drift": 0},
        "b": {"model": "fsmn-vad", "quantize": True, "max-quant-drift": 0.05},
        "c": {"model": "fsmn-vad", "quantize": True, "max-quant-drift": 2},
        "d": {"model": "fsmn-vad", "quantize": True},
    }
    config = parse(_pyproject(models, package="acme_models_2"), tmp_path)
    assert [m.max_quant_drift for m in config.models] == [0.0, 0.05, 2.0, None]
    assert isinstance(config.models[2].max_quant_drift, float)
    assert config.package == "acme_models_2"
    assert parse(_pyproject(models, package="_private"), tmp_path).package == "_private"


def test_a_local_directory_written_as_a_model_is_caught_before_anything_slow(tmp_path: Path) -> None:
    """`vad = "models/fsmn-vad"` looks like a repo id "owner/name"; with that directory in the project
    it is a local model written without `path =`, caught at parse (before any download or install)."""
    (tmp_path / "models" / "fsmn-vad").mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        parse(_pyproject({"vad": "models/fsmn-vad"}), tmp_path, {})
    assert info.value.problems == [
        'tool.funasr.models.vad: "models/fsmn-vad" is a directory of this project, not a hub repository; '
        'did you mean path = "models/fsmn-vad"? (vad = { path = "models/fsmn-vad" })'
    ]
    # The same repo id in a project without that directory is a hub model, as before.
    (tmp_path / "project").mkdir()
    hub_model = parse(_pyproject({"vad": "models/fsmn-vad"}), tmp_path / "project", {}).models[0]
    assert hub_model.origin == HubRef("ms", "models/fsmn-vad")
