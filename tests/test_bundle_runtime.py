"""The runtime module every bundle carries (``_bundle_runtime.py``), run in this process on an
installed-looking package: the manifest it trusts, ``verify``, ``check_installed``, ``path``.

The end-to-end tests run the copy inside built wheels; these call the functions directly, so
each check is exercised with exactly one thing wrong."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hatch_funasr import _bundle_runtime as rt

FILES = {"model_quant.onnx": b"\x08\x07onnx-bytes" * 100, "am.mvn": b"<Nnet>\n" * 20, "sub/config.yaml": b"a: 1\n"}


def _entry(data: bytes) -> dict[str, object]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _install(root: Path, models: dict[str, dict[str, bytes]], *, manifest: dict[str, Any] | None = None) -> None:
    for name, files in models.items():
        for rel, data in files.items():
            target = root / "models" / name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    if manifest is None:
        manifest = {
            "bundle": {"name": "acme-models", "version": "1", "package": "acme_models"},
            "models": {
                name: {"dir": f"models/{name}", "files": {rel: _entry(d) for rel, d in files.items()}}
                for name, files in models.items()
            },
        }
    (root / "funasr_manifest.json").write_text(json.dumps(manifest), "utf-8")


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed bundle package with models ``vad`` and ``asr``; the runtime module reads it."""
    root = tmp_path / "acme_models"
    root.mkdir()
    _install(root, {"vad": dict(FILES), "asr": {"model.onnx": b"asr" * 50}})
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    return root


def _problems(call: Callable[[], object]) -> list[str]:
    with pytest.raises(rt.VerificationError) as info:
        call()
    return info.value.problems


def test_an_intact_bundle_verifies(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rt.verify()
    rt.verify(["vad"])
    rt.check_installed()
    assert rt.main(["verify"]) == 0
    assert capsys.readouterr().out == "ok: 4 files match the manifest\n"
    assert rt.main(["verify", "asr"]) == 0
    assert capsys.readouterr().out == "ok: 1 files match the manifest\n"


def test_a_changed_byte_of_the_same_size_is_caught_by_its_hash(bundle: Path) -> None:
    file = bundle / "models" / "vad" / "model_quant.onnx"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    expected = hashlib.sha256(FILES["model_quant.onnx"]).hexdigest()
    assert _problems(rt.verify) == [f"vad: {file}: sha256 {actual}, expected {expected}"]
    rt.verify(["asr"])  # the other model is fine, and only the named one is checked


def test_a_file_of_another_size_missing_or_planted_is_named(bundle: Path) -> None:
    vad = bundle / "models" / "vad"
    (vad / "am.mvn").write_bytes(b"short")
    (vad / "sub" / "config.yaml").unlink()
    (vad / "evil.py").write_text("print('hi')\n")
    (vad / "sub" / "link").symlink_to(vad / "am.mvn")
    assert _problems(lambda: rt.verify(["vad"])) == [
        f"vad: {vad / 'evil.py'}: not in the manifest (planted?)",
        f"vad: {vad / 'sub/link'}: not in the manifest (planted?)",
        f"vad: {vad / 'am.mvn'}: size 5, expected {len(FILES['am.mvn'])}",
        f"vad: {vad / 'sub/config.yaml'}: missing",
    ]


def test_empty_files_and_non_ascii_names_verify_and_an_emptied_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files as real repositories have them: empty, and named outside ASCII (``词表.txt``)."""
    root = tmp_path / "acme_models"
    root.mkdir()
    files = {"词表.txt": "你\n好\n".encode(), "empty": b"", "sub/café.model": b"bpe" * 10}
    _install(root, {"asr": files})
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    rt.verify()
    rt.check_installed()
    asr = root / "models" / "asr"
    (asr / "词表.txt").write_bytes(b"")
    (asr / "sub" / "naïve.txt").write_text("planted")
    assert _problems(rt.verify) == [
        f"asr: {asr / 'sub/naïve.txt'}: not in the manifest (planted?)",
        f"asr: {asr / '词表.txt'}: size 0, expected {len(files['词表.txt'])}",
    ]


def test_a_planted_link_to_nothing_is_named(bundle: Path) -> None:
    """A dangling symbolic link is no file, but it is something planted in the directory."""
    vad = bundle / "models" / "vad"
    (vad / "model.onnx").symlink_to(bundle / "elsewhere" / "model.onnx")
    assert _problems(lambda: rt.verify(["vad"])) == [f"vad: {vad / 'model.onnx'}: not in the manifest (planted?)"]


def test_a_model_directory_that_is_gone_is_every_file_missing(bundle: Path) -> None:
    for file in (bundle / "models" / "asr").iterdir():
        file.unlink()
    (bundle / "models" / "asr").rmdir()
    assert _problems(rt.verify) == [f"asr: {bundle / 'models' / 'asr' / 'model.onnx'}: missing"]
    with pytest.raises(ImportError) as info:
        rt.check_installed()
    assert str(info.value).startswith(f"{rt.__package__}: 1 model file(s) of this bundle are not installed")
    assert str(info.value).endswith(f"\nasr: {bundle / 'models' / 'asr' / 'model.onnx'}")


@pytest.mark.parametrize(("count", "more"), [(10, []), (11, ["... and 1 more"]), (12, ["... and 2 more"])])
def test_check_installed_names_ten_missing_files_and_counts_the_rest(
    count: int, more: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "acme_models"
    root.mkdir()
    files = {f"f{i:02d}.bin": b"x" for i in range(count)}
    _install(root, {"lm": files})
    for name in files:
        (root / "models" / "lm" / name).unlink()
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    with pytest.raises(ImportError) as info:
        rt.check_installed()
    lines = str(info.value).splitlines()
    assert f"{count} model file(s) of this bundle are not installed" in lines[0]
    assert lines[1:] == [f"lm: {root / 'models' / 'lm' / f'f{i:02d}.bin'}" for i in range(10)] + more


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ("../outside", "a model"),
        ("/etc", "a model"),
        ("a\\b", "a model"),
        ("c:x", "a model"),
        ("", "a model"),
        (".", "a model"),
        ("a//b", "a model"),
    ],
)
def test_a_manifest_naming_a_path_outside_the_bundle_is_refused(
    bad: str, what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    _install(root, {}, manifest={"models": {bad: {"dir": "models/x", "files": {}}}})
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    assert _problems(rt.manifest) == [f"the manifest names {what} {bad!r}, which is not a path inside the bundle"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"dir": "../../x", "files": {}}, "the manifest names for model m the directory '../../x'"),
        ({"dir": None, "files": {}}, "the manifest names for model m the directory None"),
        (
            {"dir": "models/m", "files": {"../../etc/passwd": {}}},
            "the manifest names for model m the file '../../etc/passwd'",
        ),
        ({"dir": "models/m", "files": {"a/./b": {}}}, "the manifest names for model m the file 'a/./b'"),
    ],
)
def test_a_manifest_with_a_bad_directory_or_file_is_refused(
    model: dict[str, Any], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    _install(root, {}, manifest={"models": {"m": model}})
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    assert _problems(rt.manifest) == [f"{message}, which is not a path inside the bundle"]


def test_a_manifest_over_the_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    monkeypatch.setattr(rt, "MAX_MANIFEST", 64)
    (root / "funasr_manifest.json").write_text(json.dumps({"models": {}}).ljust(64))
    assert rt.manifest() == {"models": {}}  # exactly the limit: read
    monkeypatch.setattr(rt, "_cache", {})
    (root / "funasr_manifest.json").write_text(json.dumps({"models": {}}).ljust(65))
    assert _problems(rt.manifest) == [f"{root / 'funasr_manifest.json'} is over 64 bytes: not a manifest"]


def test_names_path_and_the_editable_locations(bundle: Path, tmp_path: Path) -> None:
    assert rt.names() == ["asr", "vad"]
    assert rt.path("vad") == bundle / "models" / "vad"
    with pytest.raises(KeyError, match=r"no model named 'lm' in this bundle; it has: asr, vad"):
        rt.path("lm")
    elsewhere = tmp_path / "editable" / "vad"
    (bundle / "_funasr_locations.json").write_text(json.dumps({"vad": str(elsewhere)}))
    rt._cache.clear()
    assert rt.path("vad") == elsewhere and rt.path("asr") == bundle / "models" / "asr"


def test_main_reports_errors_and_exits_1(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bundle / "models" / "asr" / "model.onnx").write_bytes(b"asr" * 49 + b"asX")
    assert rt.main(["verify"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: installed model files do not match the manifest:\nasr: ")
    assert rt.main(["verify", "vad"]) == 0  # only the named model is checked
    (bundle / "models" / "vad" / "am.mvn").unlink()
    with pytest.raises(rt.VerificationError) as info:
        rt.verify()
    assert str(info.value) == "installed model files do not match the manifest:\n" + "\n".join(info.value.problems)
    assert len(info.value.problems) == 2
    assert rt.main(["path", "nope"]) == 1
    assert capsys.readouterr().err == "error: no model named 'nope' in this bundle; it has: asr, vad\n"
    assert rt.main(["names"]) == 0 and capsys.readouterr().out == "asr\nvad\n"
    assert rt.main(["path", "vad"]) == 0 and capsys.readouterr().out == f"{bundle / 'models' / 'vad'}\n"


def test_automodel_kwargs_point_config_paths_at_the_installed_directory(bundle: Path) -> None:
    manifest = json.loads((bundle / "funasr_manifest.json").read_text())
    manifest["models"]["asr"]["config_paths"] = {"llm_conf.init_param_path": "Qwen3-0.6B", "top": "x/y"}
    (bundle / "funasr_manifest.json").write_text(json.dumps(manifest))
    root = bundle / "models" / "asr"
    assert rt.automodel_kwargs("asr") == {
        "llm_conf": {"init_param_path": str(root / "Qwen3-0.6B")},
        "top": str(root / "x/y"),
    }
    assert rt.automodel_kwargs("vad") == {}


# --- FunASR's C++ programs: the arguments a bundle gives each (plan_for) --------------------------
def _m(flag: str, family: str, runtime: str = "quantized") -> dict[str, str]:
    return {"server_flag": flag, "family": family, "runtime": runtime}


OFFLINE = {
    "asr": _m("--model-dir", "paraformer"),
    "vad": _m("--vad-dir", "fsmn-vad"),
    "punc": _m("--punc-dir", "ct-punc"),
    "lm": {"server_flag": "--lm-dir", "family": "ngram-lm"},
    "itn": {"server_flag": "--itn-dir", "family": "fst-itn"},
}


def _where(name: str) -> str:
    return f"/site/models/{name}"


def test_every_role_of_the_offline_server_with_its_quantization() -> None:
    args, notes = rt.plan_for("funasr-wss-server", OFFLINE, _where)
    assert args == [
        *("--model-dir", "/site/models/asr", "--vad-dir", "/site/models/vad", "--punc-dir", "/site/models/punc"),
        *("--lm-dir", "/site/models/lm", "--itn-dir", "/site/models/itn"),
        *("--quantize", "true", "--vad-quant", "true", "--punc-quant", "true"),
    ]
    assert notes == []
    assert rt.plan_for("/opt/funasr/bin/run_server.sh", OFFLINE, _where)[0] == args[:10]  # no quantization flags


def test_roles_the_bundle_lacks_are_turned_off_and_said() -> None:
    models = {"asr": _m("--model-dir", "paraformer", "fp32"), "vad": _m("--vad-dir", "fsmn-vad", "both")}
    args, notes = rt.plan_for("funasr-onnx-offline", models, _where)
    assert args == [
        *("--model-dir", "/site/models/asr", "--vad-dir", "/site/models/vad"),
        *("--punc-dir", "", "--lm-dir", "", "--itn-dir", ""),
        *("--quantize", "false", "--vad-quant", "true"),
    ]
    assert notes == [
        "--punc-dir '': the bundle has no punctuation model, so funasr-onnx-offline runs without one",
        "--lm-dir '': the bundle has no n-gram LM, so funasr-onnx-offline runs without one",
        "--itn-dir '': the bundle has no ITN model, so funasr-onnx-offline runs without one",
    ]
    _, only_asr = rt.plan_for("funasr-wss-server", {"asr": models["asr"]}, _where)
    assert only_asr[0] == "--vad-dir '': the bundle has no VAD model, so funasr-wss-server runs without one"


def test_the_two_pass_server_and_single_model_tools() -> None:
    models = {**OFFLINE, "online": _m("--online-model-dir", "paraformer-streaming")}
    models["punc"] = _m("--punc-dir", "ct-punc-realtime")
    args, notes = rt.plan_for("funasr-wss-server-2pass", models, _where)
    assert args == [
        *("--model-dir", "/site/models/asr", "--online-model-dir", "/site/models/online"),
        *("--vad-dir", "/site/models/vad", "--punc-dir", "/site/models/punc"),
        *("--lm-dir", "/site/models/lm", "--itn-dir", "/site/models/itn"),
        *("--quantize", "true", "--vad-quant", "true", "--punc-quant", "true"),
    ]
    assert notes == []
    vad_only = rt.plan_for("funasr-onnx-offline-vad", {**OFFLINE, "vad": _m("--vad-dir", "fsmn-vad", "fp32")}, _where)
    assert vad_only == (["--model-dir", "/site/models/vad", "--quantize", "false"], [])
    assert rt.plan_for("funasr-onnx-offline-punc", OFFLINE, _where)[0] == [
        *("--model-dir", "/site/models/punc", "--quantize", "true"),
    ]


def test_user_arguments_replace_the_bundles_and_come_last() -> None:
    args, _ = rt.plan_for(
        "funasr-wss-server", OFFLINE, _where, ["--vad-dir=/srv/vad", "--quantize", "false", "--port", "1"]
    )
    assert args == [
        *("--model-dir", "/site/models/asr", "--punc-dir", "/site/models/punc"),
        *("--lm-dir", "/site/models/lm", "--itn-dir", "/site/models/itn"),
        *("--vad-quant", "true", "--punc-quant", "true"),
        *("--vad-dir=/srv/vad", "--quantize", "false", "--port", "1"),
    ]
    with_equals, _ = rt.plan_for("funasr-wss-server", OFFLINE, _where, ["--vad-dir=/srv/a=b"])
    assert with_equals.count("--vad-dir") == 0 and with_equals[-1] == "--vad-dir=/srv/a=b"
    off, notes = rt.plan_for("funasr-wss-server", {"asr": OFFLINE["asr"]}, _where, ["--punc-dir", "/p"])
    assert "--punc-dir" not in off[:-2] and not any(n.startswith("--punc-dir") for n in notes)


@pytest.mark.parametrize(
    ("program", "models", "problems"),
    [
        pytest.param(
            "funasr-wss-server",
            {"vad": OFFLINE["vad"]},
            [
                'funasr-wss-server needs an offline ASR model (--model-dir): "" makes it load /config.yaml and exit '
                "(util.cpp:76-91, paraformer.cpp:170-178); the bundle has none"
            ],
            id="no-asr",
        ),
        pytest.param(
            "funasr-wss-server-2pass",
            {"asr": OFFLINE["asr"]},
            [
                "funasr-wss-server-2pass needs a streaming ASR model (--online-model-dir): the 2-pass programs exit "
                "without it (tpass-stream.cpp:75-78, paraformer.cpp:194-202); the bundle has none",
                "funasr-wss-server-2pass needs a VAD model (--vad-dir): the 2-pass programs exit at the first stream "
                "without it (tpass-online-stream.cpp:6-11); the bundle has none",
            ],
            id="two-pass-without-online-and-vad",
        ),
        pytest.param(
            "funasr-onnx-offline-punc",
            {"asr": OFFLINE["asr"]},
            [
                "funasr-onnx-offline-punc needs a punctuation model (--punc-dir): it is the one model it runs; the bundle has none"
            ],
            id="single-model-tool-without-its-model",
        ),
        pytest.param(
            "funasr-onnx-offline-vad",
            {"asr": OFFLINE["asr"]},
            ["funasr-onnx-offline-vad needs a VAD model (--vad-dir): it is the one model it runs; the bundle has none"],
            id="vad-tool-without-a-vad",
        ),
        pytest.param(
            "funasr-wss-server",
            {"a": OFFLINE["asr"], "b": _m("--model-dir", "sensevoice")},
            None,
            id="two-models-one-flag",
        ),
        pytest.param(
            "run_server.sh",
            {
                **OFFLINE,
                "punc": _m("--punc-dir", "ct-punc-realtime"),
                "online": _m("--online-model-dir", "paraformer-streaming"),
            },
            [
                "model online (paraformer-streaming) needs --online-model-dir, which run_server.sh does not take",
                "model punc is ct-punc-realtime; run_server.sh loads punctuation as ct-punc",
            ],
            id="streaming-models-offline-server",
        ),
        pytest.param(
            "run_server.sh",
            {"asr": _m("--model-dir", "paraformer", "fp32")},
            ["model asr ships fp32 only, and run_server.sh takes no quantization flag"],
            id="fp32-without-a-switch",
        ),
        pytest.param(
            "funasr-onnx-2pass",
            {
                **OFFLINE,
                "punc": _m("--punc-dir", "ct-punc-realtime"),
                "online": _m("--online-model-dir", "paraformer-streaming", "fp32"),
            },
            ["--quantize is one switch for several models of funasr-onnx-2pass, and they differ here"],
            id="one-switch-two-modes",
        ),
    ],
)
def test_a_bundle_and_a_program_that_do_not_fit_are_refused(
    program: str, models: dict[str, dict[str, str]], problems: list[str] | None
) -> None:
    with pytest.raises(rt.ServerError) as info:
        rt.plan_for(program, models, _where)
    if problems is None:
        assert str(info.value) == "models a and b both take --model-dir; funasr-wss-server takes one"
    else:
        assert str(info.value) == f"cannot start {program} with this bundle:\n" + "\n".join(
            f"  - {p}" for p in problems
        )


def test_an_unknown_program_is_named_with_the_known_ones() -> None:
    with pytest.raises(rt.ServerError) as info:
        rt.plan_for("/usr/bin/funasr-wss-server-3pass", OFFLINE, _where)
    assert str(info.value) == (
        "/usr/bin/funasr-wss-server-3pass: not a FunASR program this bundle knows how to start (known: "
        "funasr-onnx-2pass, funasr-onnx-offline, funasr-onnx-offline-punc, funasr-onnx-offline-vad, funasr-server, "
        "funasr-wss-server, funasr-wss-server-2pass, llama-funasr-cli, llama-funasr-embd, llama-funasr-encoder, "
        "llama-funasr-paraformer, llama-funasr-sensevoice, llama-funasr-vad, run_server.sh, run_server_2pass.sh)"
    )
    with pytest.raises(rt.ServerError) as info:
        rt.plan_for("funasr-realtime-server", OFFLINE, _where)
    assert str(info.value) == (
        "funasr-realtime-server: cannot be started from a bundle: its ASR is Fun-ASR-Nano through vLLM "
        "(funasr/bin/realtime_ws.py, AutoModelVLLM), and it loads its VAD as the hub id fsmn-vad with no flag for a "
        "directory"
    )


# --- the command line and exec-server, in process -------------------------------------------------
def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as info:
        rt.main([*args, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_the_command_line_help_names_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(capsys)
    assert text.startswith(
        f"usage: python -m {rt.__package__} [-h] {{names,path,json,verify,server-args,exec-server}} ..."
    )
    assert (
        "``python -m <bundle> path NAME | names | json | verify [NAME…] | server-args [BINARY] | exec-server BINARY [ARGS…]``."
        in text
    )
    for command, said in [
        ("names", "list the model names"),
        ("path", "print a model's directory"),
        ("json", "print the manifest"),
        ("verify", "re-hash installed files against the manifest"),
        ("server-args", "print a FunASR program's arguments, shell-quoted (for eval)"),
        ("exec-server", "start a FunASR program with the bundle's directories"),
    ]:
        assert re.search(rf"^ +{command} +{re.escape(said)}$", text, re.MULTILINE), command
    assert re.search(r"^ +binary +default: run_server\.sh$", _help(capsys, "server-args"), re.MULTILINE)
    exec_help = _help(capsys, "exec-server")
    assert re.search(
        r"^ +binary +funasr-wss-server, funasr-wss-server-2pass, run_server\.sh, funasr-server, …$",
        exec_help,
        re.MULTILINE,
    )
    assert re.search(r"^ +args +more arguments; a flag given here wins$", exec_help, re.MULTILINE)
    usage = f"usage: python -m {rt.__package__} verify [-h] [--public-key PEM | --certificate-chain PEM] [names ...]"
    assert usage in _help(capsys, "verify")
    assert f"usage: python -m {rt.__package__} path [-h] name" in _help(capsys, "path")
    monkeypatch.setattr(rt, "__package__", "")  # run as a file, outside its package
    assert _help(capsys).startswith("usage: python -m bundle [-h]")
    with pytest.raises(SystemExit) as info:
        rt.main([])  # a command is required
    assert info.value.code == 2 and "the following arguments are required: command" in capsys.readouterr().err


def test_json_and_server_args_print_what_a_deployer_pastes(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((bundle / "funasr_manifest.json").read_text())
    manifest["models"]["asr"] |= {"server_flag": "--model-dir", "family": "paraformer", "runtime": "fp32"}
    manifest["models"]["vad"] |= {"server_flag": "--vad-dir", "family": "fsmn-vad", "runtime": "quantized"}
    (bundle / "funasr_manifest.json").write_text(json.dumps(manifest))
    assert rt.main(["json"]) == 0
    assert capsys.readouterr().out == json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    assert rt.main(["server-args", "funasr-wss-server"]) == 0
    out, err = capsys.readouterr()
    asr, vad = bundle / "models" / "asr", bundle / "models" / "vad"
    assert (
        out
        == f"--model-dir {asr} --vad-dir {vad} --punc-dir '' --lm-dir '' --itn-dir '' --quantize false --vad-quant true\n"
    )
    assert err.splitlines() == [
        "# --punc-dir '': the bundle has no punctuation model, so funasr-wss-server runs without one",
        "# --lm-dir '': the bundle has no n-gram LM, so funasr-wss-server runs without one",
        "# --itn-dir '': the bundle has no ITN model, so funasr-wss-server runs without one",
    ]
    assert rt.server_args("funasr-wss-server") == rt.server_plan("funasr-wss-server")[0] == shlex.split(out)
    assert rt.main(["server-args"]) == 1
    assert capsys.readouterr().err == (
        "error: cannot start run_server.sh with this bundle:\n  - model asr ships fp32 only, and run_server.sh takes "
        "no quantization flag\n"
    )


class _Replaced(Exception):
    """Raised by the stand-in for os.execv."""


def test_exec_server_replaces_the_process_with_the_program_and_its_arguments(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((bundle / "funasr_manifest.json").read_text())
    manifest["models"]["vad"] |= {"server_flag": "--vad-dir", "family": "fsmn-vad", "runtime": "quantized"}
    manifest["models"]["asr"] |= {"server_flag": "--model-dir", "family": "paraformer", "runtime": "quantized"}
    (bundle / "funasr_manifest.json").write_text(json.dumps(manifest))
    calls: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append((path, list(argv)))
        raise _Replaced  # as a real exec, nothing after it runs

    monkeypatch.setattr(rt.os, "execv", execv)
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("funasr-wss-server", "run_server.sh"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    asr, vad = str(bundle / "models" / "asr"), str(bundle / "models" / "vad")
    with pytest.raises(_Replaced):
        rt.main(["exec-server", "funasr-wss-server", "--port", "1"])
    server = str(bin_dir / "funasr-wss-server")
    roles = ["--model-dir", asr, "--vad-dir", vad, "--punc-dir", "", "--lm-dir", "", "--itn-dir", ""]
    assert calls.pop() == (server, [server, *roles, "--quantize", "true", "--vad-quant", "true", "--port", "1"])
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    assert capsys.readouterr().err.count("# --") == 3
    with pytest.raises(_Replaced):
        rt.exec_server(str(bin_dir / "run_server.sh"))  # a script without #!: run with bash
    bash = shutil.which("bash") or "/bin/bash"
    assert calls.pop() == (bash, [bash, str(bin_dir / "run_server.sh"), *roles])
    assert rt.main(["exec-server", str(tmp_path / "nowhere" / "funasr-wss-server")]) == 1
    assert capsys.readouterr().err.endswith(
        f"error: {tmp_path / 'nowhere' / 'funasr-wss-server'}: no such program (give its path, or put its directory on PATH)\n"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(rt.ServerError, match=r"^funasr-wss-server: no such program"):
        rt.exec_server("funasr-wss-server")
    assert calls == []
    with pytest.raises(_Replaced):  # no bash on PATH: the usual place
        rt.exec_server(str(bin_dir / "run_server.sh"))
    assert calls.pop()[0] == "/bin/bash"
    (bin_dir / "funasr-wss-server").chmod(0o644)  # a path is taken as given (exec says if it cannot run it)
    with pytest.raises(_Replaced):
        rt.exec_server(server)
    assert calls.pop()[0] == server


def test_a_manifest_without_models_or_files_is_an_empty_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    monkeypatch.setattr(rt, "_HERE", root)
    for manifest, names in (({"bundle": {"name": "x"}}, []), ({"models": {"m": {"dir": "models/m"}}}, ["m"])):
        monkeypatch.setattr(rt, "_cache", {})
        (root / "funasr_manifest.json").write_text(json.dumps(manifest))
        assert rt.names() == names
        assert all(rt.manifest()["models"][n]["files"] == {} for n in names)  # absent: given empty tables
        rt.check_installed()
        rt.verify()  # nothing listed, nothing to differ


def test_server_args_default_to_run_server_sh(bundle: Path) -> None:
    manifest = json.loads((bundle / "funasr_manifest.json").read_text())
    manifest["models"]["asr"] |= {"server_flag": "--model-dir", "family": "paraformer", "runtime": "quantized"}
    (bundle / "funasr_manifest.json").write_text(json.dumps(manifest))
    asr = str(bundle / "models" / "asr")
    assert rt.server_args() == ["--model-dir", asr, "--vad-dir", "", "--punc-dir", "", "--lm-dir", "", "--itn-dir", ""]


# --- FunASR's Python runtime: AutoModel's arguments and funasr-server's ---------------------------
@pytest.fixture
def torch_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed bundle of PyTorch models: two ASR models, a VAD, punctuation, a speaker
    model, and one ONNX model."""
    root = tmp_path / "acme_torch"
    root.mkdir()
    families = {"asr": "sensevoice", "para": "paraformer", "vad": "fsmn-vad", "punc": "ct-punc", "spk": "campplus"}
    models = {name: {"model.pt": name.encode()} for name in [*families, "onnx-vad"]}
    _install(root, models)
    manifest = json.loads((root / "funasr_manifest.json").read_text())
    for name, family in families.items():
        manifest["models"][name] |= {"family": family, "format": "pytorch"}
    manifest["models"]["onnx-vad"] |= {"family": "fsmn-vad", "format": "onnx", "server_flag": "--vad-dir"}
    manifest["models"]["para"]["config_paths"] = {"llm_conf.init_param_path": "sub"}
    (root / "funasr_manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    return root


def test_automodel_args_load_installed_directories_with_no_update_check(torch_bundle: Path, tmp_path: Path) -> None:
    d = {name: str(torch_bundle / "models" / name) for name in ("asr", "para", "vad", "punc", "spk")}
    assert rt.automodel_args("asr") == {"model": d["asr"], "disable_update": True}
    assert rt.automodel_args("asr", disable_update=False, device="cpu") == {
        "model": d["asr"],
        "device": "cpu",
        "disable_update": True,  # never the PyPI version check (funasr/utils/version_checker.py)
    }
    full = rt.automodel_args("asr", pipeline=True, vad_kwargs={"max_single_segment_time": 30000})
    assert full == {
        "model": d["asr"],
        "vad_model": d["vad"],
        "punc_model": d["punc"],
        "spk_model": d["spk"],
        "vad_kwargs": {"max_single_segment_time": 30000},
        "disable_update": True,
    }
    # A role given by name becomes its directory, with its config paths under <role>_kwargs.
    named = rt.automodel_args("asr", punc_model="punc", vad_model="vad")
    assert (named["punc_model"], named["vad_model"], "spk_model" in named) == (d["punc"], d["vad"], False)
    assert rt.automodel_args("asr", spk_model="para")["spk_kwargs"] == {
        "llm_conf": {"init_param_path": str(torch_bundle / "models" / "para" / "sub")}
    }
    assert rt.automodel_args("asr", vad_model=str(tmp_path))["vad_model"] == str(tmp_path)  # a directory of one's own
    # a role's own keyword arguments are merged over the config paths the bundle gives it
    merged = rt.automodel_args("asr", spk_model="para", spk_kwargs={"device": "cpu"})
    assert merged["spk_kwargs"] == {
        "llm_conf": {"init_param_path": str(torch_bundle / "models" / "para" / "sub")},
        "device": "cpu",
    }


def _pytorch_bundle(root: Path, monkeypatch: pytest.MonkeyPatch, families: dict[str, str]) -> Path:
    """An installed bundle of PyTorch models, one per name in ``families`` (name -> family)."""
    root.mkdir()
    _install(root, {name: {"model.pt": name.encode()} for name in families})
    manifest = json.loads((root / "funasr_manifest.json").read_text())
    for name, family in families.items():
        manifest["models"][name] |= {"family": family, "format": "pytorch"}
    (root / "funasr_manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    return root


def test_a_pipeline_takes_only_the_roles_the_bundle_has(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _pytorch_bundle(tmp_path / "acme_sv", monkeypatch, {"asr": "sensevoice", "vad": "fsmn-vad"})
    assert rt.automodel_args("asr", pipeline=True) == {
        "model": str(root / "models" / "asr"),
        "vad_model": str(root / "models" / "vad"),
        "disable_update": True,
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rt.automodel_args("nope"), "AutoModel: no model named 'nope' in this bundle; it has: asr, onnx-vad, "),
        (
            lambda: rt.automodel_args("onnx-vad"),
            "AutoModel: model onnx-vad is in onnx format; AutoModel loads PyTorch models (declare it with format = "
            '"pytorch"; ONNX models run in funasr_onnx or FunASR\'s C++ runtime)',
        ),
        (lambda: rt.automodel_args("asr", vad_model="onnx-vad"), "vad_model: model onnx-vad is in onnx format"),
        (
            lambda: rt.automodel_args("asr", vad_model="fsmn-vad"),
            "vad_model='fsmn-vad' is neither a model of this bundle (asr, onnx-vad, para, punc, spk, vad) nor a "
            "directory; AutoModel would download it from a hub",
        ),
    ],
    ids=["unknown", "onnx", "onnx-role", "hub-id"],
)
def test_automodel_args_refuse_what_would_not_load_or_would_download(
    torch_bundle: Path, call: Callable[[], object], message: str
) -> None:
    with pytest.raises(rt.AutoModelError) as info:
        call()
    assert str(info.value).startswith(message)


def test_automodel_imports_funasr_only_when_called(torch_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    seen: list[dict[str, Any]] = []
    fake = types.ModuleType("funasr")
    fake.AutoModel = lambda **kw: seen.append(kw) or "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "funasr", fake)
    assert rt.automodel("spk", device="cpu") == "model"
    assert seen == [{"model": str(torch_bundle / "models" / "spk"), "device": "cpu", "disable_update": True}]
    assert rt.automodel("asr", pipeline=True) == "model"
    assert seen[-1] == rt.automodel_args("asr", pipeline=True) and "punc_model" in seen[-1]
    # what runs when the module is imported (everything but function bodies) imports no funasr
    # (read as a syntax tree: mutation testing keeps extra copies of each function in the file)
    pending: list[ast.AST] = [ast.parse(Path(rt.__file__).read_text())]
    imported: list[str] = []
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    assert imported and not [m for m in imported if m.split(".")[0] == "funasr"], imported


def test_funasr_server_plan_names_the_installed_asr_and_speaker_model(
    torch_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spk, asr = str(torch_bundle / "models" / "spk"), str(torch_bundle / "models" / "asr")
    with pytest.raises(rt.ServerError) as info:
        rt.funasr_server_plan()
    assert str(info.value) == (
        "cannot start funasr-server with this bundle: it runs one PyTorch ASR model (paraformer, "
        "paraformer-contextual, sensevoice, whisper, fun-asr-nano) and the bundle has asr, para; give --model-path NAME"
    )
    args, notes = rt.funasr_server_plan(["--model-path", "asr", "--port", "9"])
    assert args == ["--spk-model", spk, "--model-path", asr, "--port", "9"]
    assert notes == ["requests must send model=custom (the bundle's model); any other model is fetched from a hub"]
    args, _ = rt.funasr_server_plan(["--model-path=asr"])
    assert args == ["--spk-model", spk, f"--model-path={asr}"]
    args, _ = rt.server_plan("funasr-server", ["--model-path", "/srv/mine", "--spk-model", "cam++"])
    assert args == ["--model-path", "/srv/mine", "--spk-model", "cam++"]  # the user's flags win, as given
    with pytest.raises(rt.AutoModelError, match=r"^funasr-server --model-path: model onnx-vad is in onnx format"):
        rt.funasr_server_plan(["--model-path", "onnx-vad"])
    assert rt.main(["server-args", "funasr-server"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot start funasr-server with this bundle: it runs one")


def test_funasr_server_without_a_speaker_model_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _pytorch_bundle(tmp_path / "acme_sv", monkeypatch, {"asr": "sensevoice"})
    args, notes = rt.funasr_server_plan()
    assert args == ["--model-path", str(root / "models" / "asr"), "--spk-model", ""]
    assert notes[0] == "--spk-model '': the bundle has no speaker model, so spk=true requests get no speaker labels"


def test_exec_server_funasr_server_runs_funasrs_server_module_in_this_python(
    torch_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util
    import sys

    calls: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append((path, list(argv)))
        raise _Replaced

    monkeypatch.setattr(rt.os, "execv", execv)
    asr, spk = str(torch_bundle / "models" / "asr"), str(torch_bundle / "models" / "spk")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "funasr" else None)
    with pytest.raises(_Replaced):
        rt.main(["exec-server", "funasr-server", "--model-path", "asr"])
    assert calls.pop() == (sys.executable, [sys.executable, "-m", "funasr.bin.server", "--spk-model", spk,
                                            "--model-path", asr])  # fmt: skip
    assert "# requests must send model=custom" in capsys.readouterr().err
    script = str(tmp_path / "bin" / "funasr-server")
    assert rt.main(["exec-server", script, "--model-path", "asr"]) == 1
    assert capsys.readouterr().err.endswith(
        f"error: {script}: no such program (give its path, or just funasr-server)\n"
    )
    Path(script).parent.mkdir()
    Path(script).write_text("#!/bin/sh\n")
    with pytest.raises(_Replaced):
        rt.exec_server(script, ["--model-path", "asr"])
    assert calls.pop() == (script, [script, "--spk-model", spk, "--model-path", asr])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert rt.main(["exec-server", "funasr-server", "--model-path", "asr"]) == 1
    assert capsys.readouterr().err.endswith(f"error: funasr-server: funasr is not installed in {sys.executable} "
                                            "(pip install funasr)\n")  # fmt: skip
    assert calls == []


# --- verify_signatures, in this process (the end-to-end tests in test_attest run it in a bundle) ---


def _sign_bundle(bundle: Path, key: Path, certificate: tuple[Path, Path] | None = None) -> None:
    """Each model directory signed as the build signs it: ``funasr_bundle_files.json`` (the
    manifest's sha256, vouched for) written in it, then ``model.sig`` by model-signing, with
    the elliptic ``key`` alone or with ``certificate`` (the signing certificate and its root)."""
    model_signing = pytest.importorskip("model_signing")  # the [sign] extra: installed with the tests
    from hatch_funasr import signing

    meta = json.loads((bundle / "funasr_manifest.json").read_bytes())["bundle"]
    others = {
        "acme_models/funasr_manifest.json": hashlib.sha256((bundle / "funasr_manifest.json").read_bytes()).hexdigest()
    }
    for name in ("vad", "asr"):
        root = bundle / "models" / name
        (root / signing.BUNDLE_FILES_NAME).write_bytes(signing.bundle_files(meta, name, others))
        config = model_signing.signing.Config()
        if certificate is None:
            config.use_elliptic_key_signer(private_key=key)
        else:
            leaf, root_ca = certificate
            config.use_certificate_signer(private_key=key, signing_certificate=leaf, certificate_chain=[root_ca])
        config.set_hashing_config(model_signing.hashing.Config().set_ignored_paths(paths=[signing.SIGNATURE_NAME]))
        config.sign(root, root / signing.SIGNATURE_NAME)


@pytest.fixture
def signed_bundle(bundle: Path, tmp_path: Path) -> tuple[Path, str]:
    """The ``bundle`` fixture with both model directories signed; (bundle, the public key's path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "site.key", tmp_path / "site.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _sign_bundle(bundle, private)
    return bundle, str(public)


def _signature_problems(*args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(rt.SignatureError) as info:
        rt.verify_signatures(*args, **kwargs)
    assert str(info.value).startswith("model signatures do not verify (nothing is vouched for):\n")
    return info.value.problems


def test_signed_directories_verify_and_count(signed_bundle: tuple[Path, str]) -> None:
    _, public = signed_bundle
    assert rt.verify_signatures(public) == 2
    assert rt.verify_signatures(public, model_names=["asr"]) == 1


def test_a_signature_needs_exactly_one_of_key_and_chain(signed_bundle: tuple[Path, str]) -> None:
    _, public = signed_bundle
    why = ["give a public key or a certificate chain (one of them) to check signatures against"]
    assert _signature_problems() == why
    assert _signature_problems(public, [public]) == why


def test_without_model_signing_nothing_is_said_verified(
    signed_bundle: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rt.importlib.import_module

    def no_model_signing(name: str, *args: Any) -> Any:
        if name == "model_signing":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(rt.importlib, "import_module", no_model_signing)
    assert _signature_problems(signed_bundle[1]) == [
        "checking signatures needs the model-signing package, which is not installed here: "
        "pip install model-signing (no signature was checked)"
    ]


def test_a_changed_model_file_or_a_missing_signature_names_the_directory(signed_bundle: tuple[Path, str]) -> None:
    bundle, public = signed_bundle
    (bundle / "models" / "vad" / "am.mvn").write_bytes(b"<Nnet>\nchanged\n")
    (bundle / "models" / "asr" / "model.sig").unlink()
    asr, vad = _signature_problems(public)  # sorted by name, as names() gives them
    assert vad.startswith(f"vad: {bundle / 'models' / 'vad'}: ") and len(vad) > len(f"vad: {bundle}/models/vad: ")
    assert asr == f"asr: {bundle / 'models' / 'asr' / 'model.sig'}: missing; this model directory is not signed"
    assert _signature_problems(public, model_names=["asr"]) == [asr]


def test_the_bundle_files_a_signature_vouches_for_are_checked(signed_bundle: tuple[Path, str]) -> None:
    """The manifest sits outside every model directory: the signed ``funasr_bundle_files.json``
    carries its sha256, so a manifest changed after signing is caught by every directory."""
    bundle, public = signed_bundle
    manifest = bundle / "funasr_manifest.json"
    signed_sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    now = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert _signature_problems(public) == [
        f"{name}: {manifest}: sha256 {now}, signed {signed_sha}" for name in ("asr", "vad")
    ]


@pytest.mark.parametrize(
    ("listing", "why"),
    [
        (b"not json", "not the signed list of the bundle's files"),
        (b'{"files": 3}', "not the signed list of the bundle's files"),
        (b"[]", "not the signed list of the bundle's files"),
        (b'{"files": {}, "hash_algorithm": "md5", "bundle": {}}', "was signed for another bundle or format"),
        (
            b'{"files": {}, "hash_algorithm": "sha256", "bundle": {"name": "other", "version": "1", "package": "x"}}',
            "was signed for another bundle or format: {'name': 'other', 'version': '1', 'package': 'x'}",
        ),
    ],
    ids=["not-json", "files-not-a-table", "a-list", "another-algorithm", "another-bundle"],
)
def test_a_bundle_files_list_that_is_not_ours_is_refused(bundle: Path, listing: bytes, why: str) -> None:
    """Checked after the signature: ``_check_bundle_files`` on a directory whose listing (as a
    signature could vouch for a wrong one) is malformed or another bundle's."""
    root = bundle / "models" / "vad"
    (root / "funasr_bundle_files.json").write_bytes(listing)
    (problem,) = rt._check_bundle_files("vad", root)
    assert problem.startswith(f"vad: {root / 'funasr_bundle_files.json'}") and why in problem


def test_a_vouched_for_file_that_is_gone_is_named(bundle: Path) -> None:
    root = bundle / "models" / "vad"
    from hatch_funasr import signing

    meta = json.loads((bundle / "funasr_manifest.json").read_bytes())["bundle"]
    (root / "funasr_bundle_files.json").write_bytes(
        signing.bundle_files(
            meta, "vad", {"acme_models/gone.txt": "0" * 64, "acme_models/funasr_manifest.json": "f" * 64}
        )
    )
    manifest = bundle / "funasr_manifest.json"
    actual = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert rt._check_bundle_files("vad", root) == [
        f"vad: {manifest}: sha256 {actual}, signed {'f' * 64}",
        f"vad: {bundle / 'gone.txt'}: signed, and missing",
    ]


def test_a_vouched_for_file_outside_the_installation_is_refused_by_name(bundle: Path) -> None:
    """Even a list a valid signature vouches for names only paths inside the installation."""
    from hatch_funasr import signing

    root = bundle / "models" / "vad"
    meta = json.loads((bundle / "funasr_manifest.json").read_bytes())["bundle"]
    (root / "funasr_bundle_files.json").write_bytes(signing.bundle_files(meta, "vad", {"../../etc/passwd": "0" * 64}))
    with pytest.raises(rt.ManifestError) as info:
        rt._check_bundle_files("vad", root)
    assert str(info.value).startswith(
        "the manifest names a signed file '../../etc/passwd', which is not a path inside the bundle"
    )


def test_verify_with_a_key_says_what_it_checked_and_without_one_that_it_did_not(
    signed_bundle: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, public = signed_bundle
    assert rt.main(["verify", "--public-key", public]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"ok: the signatures of 2 model directories verify with the public key {public} (model-signing)"
    assert rt.main(["verify", "asr", "--public-key", public]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok: the signatures of 1 model directories verify")
    assert rt.main(["verify"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "note: model directories are signed; signatures NOT checked (pass --public-key or --certificate-chain)"
    )
    (bundle / "models" / "vad" / "model.sig").unlink()
    assert rt.main(["verify", "--public-key", public]) == 1
    assert "vad:" in capsys.readouterr().err


def test_certificate_signatures_verify_against_the_chain_given_and_say_which(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Signed with a site certificate: ``--certificate-chain`` is repeatable (each root is a
    chain the signing certificate may lead to) and the output names every PEM it was given."""
    from support.pki import site_pki

    root_ca, leaf, leaf_key = site_pki(tmp_path / "pki", "acme")
    other_root, _leaf, _key = site_pki(tmp_path / "pki", "mallory")
    _sign_bundle(bundle, leaf_key, (leaf, root_ca))
    assert rt.verify_signatures(certificate_chain=[str(root_ca)]) == 2
    assert rt.main(["verify", "--certificate-chain", str(root_ca), "--certificate-chain", str(other_root)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"ok: the signatures of 2 model directories verify with the certificate chain {root_ca}, {other_root} "
        "(model-signing)"
    )
    assert rt.main(["verify", "--certificate-chain", str(other_root)]) == 1  # not the root that issued it
    err = capsys.readouterr().err
    assert err.startswith("error: model signatures do not verify (nothing is vouched for):\n") and "asr: " in err


def test_the_verify_command_passes_the_key_or_the_chains_as_given(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(rt, "verify_signatures", lambda *a: calls.append(a) or 1)
    assert rt.main(["verify", "vad", "--public-key", "k.pem"]) == 0
    assert rt.main(["verify", "--certificate-chain", "a.pem", "--certificate-chain", "b.pem"]) == 0
    assert calls == [("k.pem", [], ["vad"]), (None, ["a.pem", "b.pem"], None)]
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "ok: the signatures of 1 model directories verify with the public key k.pem (model-signing)"
    assert out[3] == (
        "ok: the signatures of 1 model directories verify with the certificate chain a.pem, b.pem (model-signing)"
    )
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        rt.main(["verify", "--help"])
    text = capsys.readouterr().out
    assert re.search(r"^ +--public-key PEM +also check each model directory's signature against this key$", text, re.M)
    assert re.search(
        r"^ +--certificate-chain PEM\s+also check signatures made with a certificate, against this chain \(repeatable\)$",
        text,
        re.M,
    )


def test_what_model_signing_raises_is_one_line_per_directory(
    signed_bundle: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every directory is tried (one failure does not stop the others); an exception's text is
    folded onto one line, and one with no text is named by its type."""
    import types

    raised = iter([ValueError("digest\n   mismatch  here"), RuntimeError()])

    class Config:
        def use_elliptic_key_verifier(self, **_: Any) -> Config:
            return self

        def set_hashing_config(self, config: Any) -> Config:
            assert config == ("ignored", ["model.sig"])  # the signature does not sign itself
            return self

        def verify(self, *_: Any) -> None:
            raise next(raised)

    class Hashing:
        def set_ignored_paths(self, *, paths: list[str]) -> tuple[str, list[str]]:
            return ("ignored", paths)

    fake = types.SimpleNamespace(
        verifying=types.SimpleNamespace(Config=Config), hashing=types.SimpleNamespace(Config=Hashing)
    )
    monkeypatch.setattr(rt.importlib, "import_module", lambda name: fake)
    bundle, public = signed_bundle
    assert _signature_problems(public) == [
        f"asr: {bundle / 'models' / 'asr'}: digest mismatch here",
        f"vad: {bundle / 'models' / 'vad'}: RuntimeError",
    ]
    with pytest.raises(rt.SignatureError) as info:
        rt.verify_signatures(public)  # (the iterator is spent: StopIteration is one more kind of failure)
    assert str(info.value) == (  # the heading, then one line per directory
        "model signatures do not verify (nothing is vouched for):\n"
        f"asr: {bundle / 'models' / 'asr'}: StopIteration\nvad: {bundle / 'models' / 'vad'}: StopIteration"
    )


# --- the manifest checked whole: each malformed field is one line naming it -------------------------

_GOOD = {"dir": "models/vad", "files": {"am.mvn": {"size": 1, "sha256": "a" * 64}}}


@pytest.mark.parametrize(
    ("loaded", "message"),
    [
        ([], "the manifest's top level is [], not a table"),
        ({"bundle": []}, "the manifest's bundle is [], not a table"),
        ({"bundle": {"name": 3}}, "the manifest's bundle name is 3, not text"),
        ({"bundle": {"version": None}}, "the manifest's bundle version is None, not text"),
        ({"bundle": {"package": True}}, "the manifest's bundle package is True, not text"),
        ({"models": []}, "the manifest's models is [], not a table"),
        ({"models": {"../x": _GOOD}}, "the manifest names a model '../x', which is not a path inside the bundle"),
        ({"models": {"vad": "x"}}, "the manifest's model vad is 'x', not a table"),
        ({"models": {"vad": {"dir": "/abs"}}}, "the manifest names for model vad the directory '/abs', which is not a path inside the bundle"),
        ({"models": {"vad": {"dir": "m", "files": []}}}, "the manifest's files of model vad is [], not a table"),
        ({"models": {"vad": {"dir": "m", "files": {"-x": {}}}}}, "the manifest names for model vad the file '-x', which is not a path inside the bundle"),
        ({"models": {"vad": {"dir": "m", "files": {"a": 1}}}}, "the manifest's entry of vad/a is 1, not a table"),
        ({"models": {"vad": {"dir": "m", "files": {"a": {"size": "1"}}}}}, "the manifest's size of vad/a is '1', not a whole number"),
        ({"models": {"vad": {"dir": "m", "files": {"a": {"size": True, "sha256": "a" * 64}}}}}, "the manifest's size of vad/a is True, not a whole number"),
        ({"models": {"vad": {"dir": "m", "files": {"a": {"size": 1, "sha256": 2}}}}}, "the manifest's sha256 of vad/a is 2, not text"),
        ({"models": {"vad": {"dir": "m", "files": {"a": {"size": -1, "sha256": "a" * 64}}}}}, "the manifest's entry of vad/a is not a size and a sha256"),
        ({"models": {"vad": {"dir": "m", "files": {"a": {"size": 1, "sha256": "A" * 64}}}}}, "the manifest's entry of vad/a is not a size and a sha256"),
        ({"models": {"vad": {"dir": "m", "family": 7}}}, "the manifest's family of model vad is 7, not text or null"),
        ({"models": {"vad": {"dir": "m", "runtime": []}}}, "the manifest's runtime of model vad is [], not text or null"),
        ({"models": {"vad": {"dir": "m", "server_flag": 1}}}, "the manifest's server_flag of model vad is 1, not text or null"),
        ({"models": {"vad": {"dir": "m", "server_flag": "--rm"}}}, "the manifest's server_flag of model vad is '--rm', not a role flag"),
        ({"models": {"vad": {"dir": "m", "config_paths": []}}}, "the manifest's config_paths of model vad is [], not a table"),
        ({"models": {"vad": {"dir": "m", "config_paths": {"k\x1b": "../x"}}}}, "the manifest names for model vad the config path k\\x1b '../x', which is not a path inside the bundle"),
        ({"models": {"vad": {"dir": "m", "derived": {}}}}, "the manifest's derived of model vad is {}, not a list"),
        ({"models": {"vad": {"dir": "m", "advice": "x"}}}, "the manifest's advice of model vad is 'x', not a list"),
        ({"models": {"vad": {"dir": "m", "extra": 1}}}, "the manifest's extra of model vad is 1, not a list"),
        ({"models": {"vad": {"dir": "m", "quant_drift": [1]}}}, "the manifest's quant_drift of model vad is [1], not a table"),
        ({"models": {"vad": {"dir": "m", "export_drift": "x"}}}, "the manifest's export_drift of model vad is 'x', not a table"),
        ({"models": {"vad": {"dir": "m", "tools": [1]}}}, "the manifest's tools of model vad is [1], not a table"),
        ({"models": {"vad": {"dir": "m", "alias": "\x1b[32mok"}}}, None),
    ],
)  # fmt: skip
def test_a_malformed_manifest_field_is_one_line_naming_it(loaded: object, message: str | None) -> None:
    if message is None:  # text fields are text: shown escaped wherever printed, not refused
        assert rt.validated(loaded) == loaded
        return
    with pytest.raises(rt.ManifestError) as info:
        rt.validated(loaded)
    assert str(info.value) == f"{message}; reinstall the bundle from its wheel"


def test_empty_optional_fields_and_an_intact_entry_are_accepted() -> None:
    whole = {"bundle": {"name": "a", "version": "1", "package": "a"}, "models": {"vad": dict(_GOOD)}}
    assert rt.validated(whole) is whole
    assert rt.validated({}) == {"models": {}}  # an empty bundle
    flagged = {"models": {"vad": {"dir": "m", "server_flag": "--vad-dir", "config_paths": {"a.b": "sub/x"}}}}
    assert rt.validated(flagged) is flagged


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
        ("[]", "the manifest's editable locations is [], not a table"),
        ('{"vad": "rel/dir"}', "gives model vad 'rel/dir', not an absolute path"),
        ('{"vad": 3}', "gives model vad 3, not an absolute path"),
        ('{"vad": "/abs/\\u001b[2J"}', "gives model vad '/abs/\\x1b[2J', not an absolute path"),
    ],
)
def test_an_editable_installs_locations_are_checked(bundle: Path, text: str, message: str) -> None:
    (bundle / rt._LOCATIONS).write_text(text, "utf-8")
    with pytest.raises(rt.ManifestError) as info:
        rt.path("vad")
    assert message in str(info.value)
    if "gives model" in message or "is not JSON" in message:
        assert str(info.value).startswith(str(bundle / rt._LOCATIONS))


def test_an_editable_installs_locations_are_used(bundle: Path, tmp_path: Path) -> None:
    (bundle / rt._LOCATIONS).write_text(json.dumps({"vad": str(tmp_path / "elsewhere")}), "utf-8")
    assert rt.path("vad") == tmp_path / "elsewhere"
    assert rt.path("asr") == bundle / "models" / "asr"


def test_funasr_server_takes_a_bundle_models_name_in_either_flag_form() -> None:
    """``--model-path asr`` and ``--model-path=asr`` become the installed directory; a value
    that is not one of the bundle's models (or a flag with nothing after it) is passed as given."""
    models = {
        "asr": {"family": "sensevoice", "format": "pytorch"},
        "b": {"family": "paraformer", "format": "pytorch"},
        "spk": {"family": "campplus", "format": "pytorch"},
    }
    where = lambda n: f"/m/{n}"  # noqa: E731
    args, _ = rt.funasr_server_for(models, where, ["--model-path=asr", "--port", "9"])
    assert args == ["--spk-model", "/m/spk", "--model-path=/m/asr", "--port", "9"]
    args, _ = rt.funasr_server_for(models, where, ["--model-path", "b"])
    assert args == ["--spk-model", "/m/spk", "--model-path", "/m/b"]
    args, _ = rt.funasr_server_for(models, where, ["--model-path=x=y", "--spk-model", ""])
    assert args == ["--model-path=x=y", "--spk-model", ""]
    args, _ = rt.funasr_server_for(models, where, ["--spk-model", "s", "--model-path"])
    assert args == ["--spk-model", "s", "--model-path"]
    with pytest.raises(rt.ServerError) as info:
        rt.funasr_server_for({"spk": models["spk"]}, where)
    assert str(info.value) == (
        "cannot start funasr-server with this bundle: it runs one PyTorch ASR model "
        f"({', '.join(rt.SERVER_ASR)}) and the bundle has none; give --model-path NAME"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", " is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
        (b"\xff{}", " is not JSON ('utf-8' codec can't decode byte 0xff in position 0: invalid start byte)"),
        (b'{"hash_algorithm": "md5"}', ": hash_algorithm 'md5' is not one this runtime checks (sha256)"),
    ],
)
def test_a_manifest_that_cannot_be_used_is_one_line_naming_the_file(bundle: Path, content: bytes, message: str) -> None:
    (bundle / "funasr_manifest.json").write_bytes(content)
    with pytest.raises(rt.ManifestError) as info:
        rt.manifest()
    assert str(info.value) == f"{bundle / 'funasr_manifest.json'}{message}; reinstall the bundle from its wheel"


def test_a_manifest_that_is_a_directory_cannot_be_read_and_a_read_one_is_kept(bundle: Path) -> None:
    first = rt.manifest()
    (bundle / "funasr_manifest.json").unlink()
    assert rt.manifest() is first  # read once per process
    rt._cache.clear()
    (bundle / "funasr_manifest.json").mkdir()
    with pytest.raises(rt.ManifestError) as info:
        rt.manifest()
    assert str(info.value) == (
        f"{bundle / 'funasr_manifest.json'}: cannot be read (Is a directory); reinstall the bundle from its wheel"
    )
