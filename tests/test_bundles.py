"""The ready bundles: each checks offline, builds against loopback
repositories shaped like the real ones (support/hubrepos.py), installs, verifies, and its
installed directories run in FunASR's consumers: every funasr_onnx class and the C++ runtime
from ../shared/funasr-cpp.  Their READMEs tell the truth."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.genmodels import ONNX_SPECS, RUNTIME_FILES, required_files
from support.hubserver import LoopbackHub
from support.runtimes import (
    HOTWORDS,
    SV_TAGS,
    WssServer,
    check_result,
    cpp_dir,
    cpp_offline,
    cpp_offline_vad,
    funasr_onnx_jobs,
    near,
    outbound,
    run_funasr_onnx_jobs,
    wss_server,
)
from support.speech import Utterance
from tools.bundles import BUNDLES, ROOT, build_bundle, build_env, bundle_dirs, publish_models

from hatch_funasr.config import load_config
from hatch_funasr.families import FAMILIES
from hatch_funasr.model import HubRef

pytestmark = pytest.mark.e2e
DEAD = "http://127.0.0.1:9"
SERVER_FLAGS = {
    "offline-server-zh": ["--model-dir", "--vad-dir", "--punc-dir", "--lm-dir", "--itn-dir"],
    "streaming-zh": ["--model-dir", "--online-model-dir", "--vad-dir", "--punc-dir"],
    "sensevoice-small": ["--model-dir", "--vad-dir"],
    "paraformer-en": ["--model-dir", "--vad-dir", "--punc-dir"],
    "hotword-zh": ["--model-dir", "--vad-dir", "--punc-dir"],
    "speaker-campplus": [],
    "emotion2vec": [],
    "kws-xiaoyun": [],
    "edge-sensevoice-gguf": [],
}


def test_the_bundle_set_is_the_seeds() -> None:
    assert [p.name for p in bundle_dirs()] == sorted(SERVER_FLAGS)


@pytest.mark.parametrize("project", bundle_dirs(), ids=lambda p: p.name)
def test_bundle_checks_offline(project: Path, tmp_path: Path) -> None:
    """`hatch-funasr check` with no network at all: dead endpoints, empty cache, offline mode."""
    env = {
        **os.environ,
        "HATCH_FUNASR_OFFLINE": "1",
        "HATCH_FUNASR_CACHE": str(tmp_path / "cache"),
        "HF_ENDPOINT": DEAD,
        "MODELSCOPE_ENDPOINT": DEAD,
    }
    result = subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "check"], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: the declaration is valid (no network was used)" in result.stdout
    servers = result.stdout.split("FunASR's C++ programs")[1] if "FunASR's C++ programs" in result.stdout else ""
    expected = {
        "offline-server-zh": ("funasr-wss-server: yes", "run_server.sh: yes"),
        "streaming-zh": ("funasr-wss-server-2pass: yes (turned off: --lm-dir '', --itn-dir '')",),
        "paraformer-en": ("funasr-wss-server: yes (turned off: --lm-dir '', --itn-dir '')",),
    }.get(project.name, ())
    assert all(line in servers for line in expected), servers
    if project.name == "edge-sensevoice-gguf":
        assert (
            "llama-funasr-sensevoice: yes (-m asr-SenseVoiceSmall/sensevoice-small-q8.gguf --vad vad/fsmn-vad.gguf)"
            in result.stdout
        ), result.stdout
        assert "llama-funasr-vad: yes (-m vad/fsmn-vad.gguf)" in result.stdout
    assert "run `hatch-funasr lock` once on a connected machine" in result.stdout
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def built(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every bundle's wheel, built with `python -m build` against real-shaped loopback repositories."""
    work = tmp_path_factory.mktemp("bundles")
    env = build_env(hub, work / "cache")
    wheels = {}
    for project in bundle_dirs():
        publish_models(hub.store, project, work)
        wheels[project.name] = build_bundle(project, work / "dist", env)
    return wheels


def test_bundle_wheels_declare_their_runtimes_as_extras(built: dict[str, Path]) -> None:
    """By the formats each ships: ONNX -> [onnx] (funasr_onnx), PyTorch -> [torch] (AutoModel); the
    n-gram LM and ITN of offline-server-zh (the C++ runtime's) add none."""
    onnx = ["funasr-onnx>=0.4.3", "onnxruntime>=1.7.0", "numpy<=1.26.4"]
    torch = ["funasr>=1.4.16", "torch", "kaldi-native-fbank"]
    expected = {"emotion2vec": {"torch": torch}, "kws-xiaoyun": {"torch": torch}, "speaker-campplus": {"torch": torch}}
    expected["edge-sensevoice-gguf"] = {}  # its programs are FunASR's llama.cpp binaries, no Python runtime
    for bundle, wheel in sorted(built.items()):
        with zipfile.ZipFile(wheel) as zf:
            metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        extras: dict[str, list[str]] = {}
        for line in metadata.splitlines():
            if line.startswith("Provides-Extra: "):
                extras[line.split(": ", 1)[1]] = []
            elif line.startswith("Requires-Dist: "):
                requirement, marker = line.split(": ", 1)[1].split("; extra == ")
                extras[marker.strip("'")].append(requirement)
        assert extras == expected.get(bundle, {"onnx": onnx}), (bundle, metadata)


@dataclass(frozen=True)
class Installed:
    """One model of an installed bundle, as a deployer finds it."""

    bundle: str
    name: str
    family: str
    format: str
    dir: Path
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def deploy_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv where every bundle gets installed (no funasr, no torch: a deployment host)."""
    target = tmp_path_factory.mktemp("deploy") / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    return target / "bin" / "python"


@pytest.fixture(scope="module")
def installed(built: dict[str, Path], deploy_python: Path) -> dict[tuple[str, str], Installed]:
    """Every bundle installed with ``pip --no-index`` into one venv: (bundle, model) -> where it is."""
    python = deploy_python
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index", "--no-deps"]
        + [str(w) for w in built.values()],
        check=True,
    )
    out = {}
    for project in bundle_dirs():
        pkg = load_config(project).package
        result = subprocess.run([str(python), "-m", pkg, "json"], capture_output=True, text=True, check=True)
        manifest = json.loads(result.stdout)
        verify = subprocess.run([str(python), "-m", pkg, "verify"], capture_output=True, text=True)
        assert verify.returncode == 0, (project.name, verify.stderr)
        for name, entry in manifest["models"].items():
            where = subprocess.run([str(python), "-m", pkg, "path", name], capture_output=True, text=True, check=True)
            out[(project.name, name)] = Installed(
                project.name, name, entry["family"], entry["format"], Path(where.stdout.strip()), entry
            )
    return out


def test_every_bundle_installs_verifies_and_names_its_models(installed: dict[tuple[str, str], Installed]) -> None:
    for project in bundle_dirs():
        config = load_config(project)
        assert sorted(n for b, n in installed if b == project.name) == sorted(m.name for m in config.models)


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_installed_directories_meet_funasrs_file_contract(installed: dict[tuple[str, str], Installed]) -> None:
    """Judged by the contract written from FunASR's source (support/genmodels.py RUNTIME_FILES),
    not by our own selection: every file funasr_onnx (quantize=True) and the C++ runtime open."""
    for model in installed.values():
        present = _files(model.dir)
        if model.format == "gguf":  # FunASR's download script's files for the variant (test_gguf.py)
            assert present == set(model.manifest["gguf"].values()), (model.bundle, model.name, present)
            continue
        if model.format == "pytorch":  # AutoModel: configuration.json and its file_path_metas targets
            metas = json.loads((model.dir / "configuration.json").read_text())["file_path_metas"]
            targets = {v for v in metas.values() if isinstance(v, str)}
            targets |= {v for d in metas.values() if isinstance(d, dict) for v in d.values()}
            assert targets <= present, (model.bundle, model.name, present)
            continue
        config = (model.dir / "config.yaml").read_text() if "config.yaml" in present else ""
        conditions = ("seg_jieba: true",) if "seg_jieba: true" in config else ()
        for runtime in RUNTIME_FILES[model.family]:
            needed = required_files(model.family, runtime, quantize=True, conditions=conditions)
            assert needed <= present, (model.bundle, model.name, runtime, needed - present)
        if model.family in ONNX_SPECS and model.format == "onnx":  # the official -onnx repositories are quantized only
            assert model.manifest["runtime"] == "quantized", (model.bundle, model.name, model.manifest["runtime"])
        if FAMILIES[model.family].dir_marker:
            assert FAMILIES[model.family].dir_marker in str(model.dir)
    # What the official repositories lack, made here and recorded as derived (nothing else is).
    derived = {(m.bundle, m.name): m.manifest["derived"] for m in installed.values() if m.manifest["derived"]}
    assert derived == {("hotword-zh", "asr"): ["model_eb_quant.onnx"]}
    sv = installed[("sensevoice-small", "asr")].manifest
    assert [(e["repo"], e["files"]) for e in sv["extra"]] == [
        ("iic/SenseVoiceSmall", ["chn_jpn_yue_eng_ko_spectok.bpe.model"])
    ]


def test_every_funasr_onnx_class_runs_on_the_installed_bundles(
    installed: dict[tuple[str, str], Installed], utterance: Utterance
) -> None:
    """Each class constructed on the installed directory exactly as a deployer does
    (``quantize=True``: the directories are quantized only) returns its normal result."""
    jobs = [
        job
        for model in installed.values()
        if model.family in ONNX_SPECS and model.format == "onnx"
        for job in funasr_onnx_jobs(model.family, model.dir, utterance.wav, True)
    ]
    classes = {(job.module, job.cls) for job in jobs}
    assert {c for _, c in classes} >= {
        "Paraformer",
        "ContextualParaformer",
        "Fsmn_vad",
        "Fsmn_vad_online",
        "CT_Transformer",
        "CT_Transformer_VadRealtime",
        "SenseVoiceSmall",
    } and ("funasr_onnx.paraformer_online_bin", "Paraformer") in classes
    for job, run in zip(jobs, run_funasr_onnx_jobs(jobs), strict=True):
        check_result(job, run, utterance)


def _dirs(installed: dict[tuple[str, str], Installed], bundle: str) -> dict[str, Path]:
    return {name: m.dir for (b, name), m in installed.items() if b == bundle}


def test_cpp_offline_runs_the_installed_offline_server_set(
    installed: dict[tuple[str, str], Installed], utterance: Utterance
) -> None:
    """``funasr-onnx-offline`` (FunASR's C++ runtime, ../shared/funasr-cpp) on the installed
    offline-server-zh: loads every file of VAD, ASR, punctuation (jieba), LM and ITN and runs."""
    d = _dirs(installed, "offline-server-zh")
    run = cpp_offline(
        d["asr"], utterance.wav, quantize=True, vad_dir=d["vad"], punc_dir=d["punc"], lm_dir=d["lm"], itn_dir=d["itn"]
    ).check()
    loaded = {Path(p) for line in run.loaded for p in line.split(", ")}
    expected = {
        d["vad"] / "model_quant.onnx",
        d["asr"] / "model_quant.onnx",
        d["punc"] / "model_quant.onnx",
        d["punc"] / "jieba.c.dict",
        d["punc"] / "jieba.hmm",
        d["lm"] / "TLG.fst",
        d["itn"] / "zh_itn_tagger.fst",
        d["itn"] / "zh_itn_verbalizer.fst",
    }
    assert expected <= loaded, (expected - loaded, run.stderr[-3000:])
    (result,) = run.jsonl()
    assert result["text"] and result["timestamp"], result


@pytest.mark.parametrize(
    ("bundle", "hotwords"), [("paraformer-en", False), ("hotword-zh", True)], ids=["paraformer-en", "hotword-zh"]
)
def test_cpp_offline_runs_the_installed_english_and_hotword_sets(
    bundle: str, hotwords: bool, installed: dict[tuple[str, str], Installed], utterance: Utterance, tmp_path: Path
) -> None:
    d = _dirs(installed, bundle)
    hotword_file = tmp_path / "hotwords.txt"
    hotword_file.write_text("阿里巴巴 20\n魔搭 10\n", encoding="utf-8")
    run = cpp_offline(
        d["asr"],
        utterance.wav,
        quantize=True,
        vad_dir=d["vad"],
        punc_dir=d["punc"],
        hotword_file=hotword_file if hotwords else None,
    ).check()
    loaded = {Path(p) for line in run.loaded for p in line.split(", ")}
    expected = {d["vad"] / "model_quant.onnx", d["asr"] / "model_quant.onnx", d["punc"] / "model_quant.onnx"}
    if hotwords:  # the C++ runtime loads the fp32 embedder whatever --quantize says (offline-stream.cpp:60-65)
        expected.add(d["asr"] / "model_eb.onnx")
    assert expected <= loaded, (expected - loaded, run.stderr[-3000:])
    assert run.jsonl()[0]["text"]


def test_cpp_vad_of_every_bundle_finds_the_speech(
    installed: dict[tuple[str, str], Installed], utterance: Utterance
) -> None:
    """The real FSMN-VAD, as installed by each bundle, in ``funasr-onnx-offline-vad``."""
    vads = [m for m in installed.values() if m.family == "fsmn-vad" and m.format == "onnx"]
    assert len(vads) == 5
    for model in vads:
        run, segments = cpp_offline_vad(model.dir, utterance.wav, quantize=True)
        run.check()
        assert segments and near(segments[0][0], utterance.speech_start_ms), (model.bundle, segments)
        assert near(segments[-1][1], utterance.speech_end_ms), (model.bundle, segments)


def test_wss_server_runs_the_installed_sensevoice(
    installed: dict[tuple[str, str], Installed], utterance: Utterance, tmp_path: Path
) -> None:
    """SenseVoice in C++ runs only in the server (funasr-onnx-offline crashes on it, a FunASR bug:
    see test_genmodels); the installed path keeps "SenseVoiceSmall", which selects the class."""
    d = _dirs(installed, "sensevoice-small")
    with wss_server(tmp_path / "sv.log", model_dir=d["asr"], quantize=True, vad_dir=d["vad"]) as server:
        assert {str(d["asr"] / "model_quant.onnx"), str(d["vad"] / "model_quant.onnx")} <= set(server.loaded)
        result = server.transcribe(utterance.wav, svs_lang="auto", svs_itn=True)
    assert str(result["text"]).startswith(SV_TAGS), result


def test_bundle_wheels_hold_only_runtime_files(built: dict[str, Path]) -> None:
    for name, wheel in built.items():
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        assert not [n for n in names if n.endswith((".md", ".png", ".wav", ".gitattributes"))], (name, names)


# --- the READMEs tell the truth ---------------------------------------------------------------
@pytest.mark.parametrize("project", bundle_dirs(), ids=lambda p: p.name)
def test_bundle_readme_matches_its_declaration(project: Path) -> None:
    text = (project / "README.md").read_text()
    config = load_config(project)
    assert f"import {config.package} as m" in text or f"python -m {config.package}" in text
    assert f"cd bundles/{project.name}" in text and "hatch-funasr lock" in text
    for model in config.models:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{model.name}` |")), None)
        assert row is not None, f"{project.name}: no table row for {model.name}"
        assert isinstance(model.origin, HubRef)
        assert f"`{model.origin.repo}`" in row
        assert (model.origin.revision or "default branch") in row


def test_which_bundle_table_lists_every_bundle() -> None:
    guide = (ROOT / "docs/guides/ready-bundles.md").read_text("utf-8")
    table = guide.split("## Which bundle do I want?")[1].split("\n\n")[1]
    listed = re.findall(r"\[`bundles/([\w-]+)`\]", table)
    assert sorted(listed) == [p.name for p in bundle_dirs()]
    assert all((BUNDLES / name / "pyproject.toml").is_file() for name in listed)


# --- exec-server: FunASR's C++ programs started from a bundle ---------------------------------
RECORDER = """#!/bin/bash
# A stand-in for a FunASR program: records its arguments, NUL-separated.
printf '%s\\0' "$@" > "$ARGV_RECORD"
"""
PROGRAMS = (
    "funasr-wss-server",
    "funasr-wss-server-2pass",
    "funasr-onnx-offline",
    "funasr-onnx-2pass",
    "funasr-onnx-offline-vad",
    "funasr-onnx-offline-punc",
    "run_server.sh",
    "run_server_2pass.sh",
)
OFFLINE_ROLES = ("--model-dir", "--vad-dir", "--punc-dir", "--lm-dir", "--itn-dir")
TPASS_ROLES = ("--model-dir", "--online-model-dir", "--vad-dir", "--punc-dir", "--lm-dir", "--itn-dir")
ROLE_OF = {"asr": "--model-dir", "asr-online": "--online-model-dir", "vad": "--vad-dir", "punc": "--punc-dir"}
ROLE_OF |= {"lm": "--lm-dir", "itn": "--itn-dir"}
#: (bundle, program) -> why it cannot start; every other pair starts (read from FunASR's source)
REFUSED = {
    **{
        (b, p): "needs an offline ASR model (--model-dir)"
        for b in ("speaker-campplus", "emotion2vec", "kws-xiaoyun", "edge-sensevoice-gguf")
        for p in (
            "funasr-wss-server",
            "funasr-onnx-offline",
            "run_server.sh",
            "funasr-wss-server-2pass",
            "funasr-onnx-2pass",
            "run_server_2pass.sh",
        )
    },
    **{
        (b, p): "needs a VAD model (--vad-dir)"
        for b in ("speaker-campplus", "emotion2vec", "kws-xiaoyun", "edge-sensevoice-gguf")
        for p in ("funasr-onnx-offline-vad",)
    },
    **{
        (b, p): "needs a punctuation model (--punc-dir)"
        for b in ("sensevoice-small", "speaker-campplus", "emotion2vec", "kws-xiaoyun", "edge-sensevoice-gguf")
        for p in ("funasr-onnx-offline-punc",)
    },
    **{
        ("streaming-zh", p): "model asr-online (paraformer-streaming) needs --online-model-dir, which"
        for p in ("funasr-wss-server", "funasr-onnx-offline", "run_server.sh")
    },
    ("streaming-zh", "funasr-onnx-offline-punc"): "model punc is ct-punc-realtime",
    **{
        (b, p): "needs a streaming ASR model (--online-model-dir)"
        for b in ("offline-server-zh", "sensevoice-small", "paraformer-en", "hotword-zh")
        for p in ("funasr-wss-server-2pass", "funasr-onnx-2pass", "run_server_2pass.sh")
    },
}


def _expected(bundle: str, program: str, dirs: dict[str, Path]) -> list[str]:
    """What the program must get, written out from the per-program rules (not from the code)."""
    if program in ("funasr-onnx-offline-vad", "funasr-onnx-offline-punc"):
        role = "vad" if program.endswith("vad") else "punc"
        return ["--model-dir", str(dirs[role]), "--quantize", "true"]
    roles = TPASS_ROLES if "2pass" in program else OFFLINE_ROLES
    have = {ROLE_OF[name]: str(d) for name, d in dirs.items()}
    args = [a for flag in roles for a in (flag, have.get(flag, ""))]
    if not program.endswith(".sh"):  # the scripts take no quantization flag; the server's default is true
        quant = {"--model-dir": "--quantize", "--online-model-dir": "--quantize", "--vad-dir": "--vad-quant"}
        quant["--punc-dir"] = "--punc-quant"
        args += [
            a for switch in dict.fromkeys(quant[f] for f in roles if f in have and f in quant) for a in (switch, "true")
        ]
    return args


@pytest.fixture(scope="module")
def recorders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("programs")
    for program in PROGRAMS:
        (root / program).write_text(RECORDER)
        (root / program).chmod(0o755)
    return root


def _exec(python: Path, package: str, program: Path, *args: str, record: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARGV_RECORD": str(record)}
    return subprocess.run(
        [str(python), "-m", package, "exec-server", str(program), *args], capture_output=True, text=True, env=env
    )


@pytest.mark.parametrize("program", PROGRAMS)
def test_exec_server_passes_each_program_the_bundle_roles(
    program: str,
    installed: dict[tuple[str, str], Installed],
    deploy_python: Path,
    recorders: Path,
    tmp_path: Path,
) -> None:
    """Every bundle with every program: its directories, "" for each role it lacks, quantization
    flags matching what ships; or a clear refusal where they do not fit."""
    for project in bundle_dirs():
        package = load_config(project).package
        dirs = {name: m.dir for (b, name), m in installed.items() if b == project.name and name in ROLE_OF}
        record = tmp_path / f"{project.name}.argv"
        result = _exec(deploy_python, package, recorders / program, record=record)
        refused = REFUSED.get((project.name, program))
        if refused:
            assert result.returncode != 0 and not record.exists(), (project.name, program)
            assert f"error: cannot start {program} with this bundle" in result.stderr, result.stderr
            assert refused in result.stderr, (project.name, program, result.stderr)
            continue
        assert result.returncode == 0, (project.name, program, result.stderr)
        argv = record.read_bytes().split(b"\0")[:-1]
        assert [a.decode() for a in argv] == _expected(project.name, program, dirs), (project.name, program)
        off = [f for f, v in zip(argv[::2], argv[1::2], strict=True) if v == b""]
        for flag in off:  # each role turned off is said, on stderr
            assert f"# {flag.decode()} '': the bundle has no " in result.stderr


def test_exec_server_user_arguments_come_last_and_win(
    installed: dict[tuple[str, str], Installed], deploy_python: Path, recorders: Path, tmp_path: Path
) -> None:
    record = tmp_path / "argv"
    result = _exec(
        deploy_python,
        "funasr_offline_server_zh",
        recorders / "funasr-wss-server",
        "--vad-dir",
        "/srv/my-vad",
        "--quantize=false",
        "--port",
        "10096",
        record=record,
    )
    assert result.returncode == 0, result.stderr
    argv = [a.decode() for a in record.read_bytes().split(b"\0")[:-1]]
    assert argv.count("--vad-dir") == 1 and "--quantize" not in argv  # theirs replace ours, no duplicates (TCLAP)
    assert argv[-5:] == ["--vad-dir", "/srv/my-vad", "--quantize=false", "--port", "10096"]
    assert argv[:2] == ["--model-dir", str(installed[("offline-server-zh", "asr")].dir)]


def test_server_args_is_shell_quoted_and_survives_eval(
    installed: dict[tuple[str, str], Installed], deploy_python: Path, tmp_path: Path
) -> None:
    """The display form: `eval` keeps the empty values a `$(...)` would drop."""
    shown = subprocess.run(
        [str(deploy_python), "-m", "funasr_paraformer_en", "server-args", "funasr-wss-server"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--lm-dir '' --itn-dir ''" in shown.stdout
    assert "# --lm-dir '': the bundle has no n-gram LM, so funasr-wss-server runs without one" in shown.stderr
    printed = subprocess.run(
        ["bash", "-c", f"eval \"printf '%s\\\\0' {shown.stdout.strip()}\""], capture_output=True, check=True
    ).stdout.split(b"\0")[:-1]
    dirs = {name: m.dir for (b, name), m in installed.items() if b == "paraformer-en"}
    assert [a.decode() for a in printed] == _expected("paraformer-en", "funasr-wss-server", dirs)


PYTHON_STUB = """#!/bin/bash
# What funasr-wss-server runs for each local role directory (its download tool): record, then fail
# as it does on a host without funasr (funasr-wss-server.cpp logs it and goes on).
printf '%s\\n' "$*" >> "$TOOL_RECORD"
exit 1
"""


@dataclass
class Launched:
    """A real FunASR server started by ``python -m <bundle> exec-server`` under strace, with a
    stand-in ``python`` on PATH recording what the server asks its download tool for."""

    server: WssServer
    dirs: dict[str, Path]
    before: dict[str, list[str]]
    record: Path
    trace: Path
    package: str

    def check_offline(self, deploy_python: Path) -> None:
        """No connection left the machine; the download tool got local paths only; the
        installed files did not change."""
        assert outbound(self.trace) == [], outbound(self.trace)
        assert self.record.is_file(), "the server runs its download tool for each local directory"
        calls = self.record.read_text().splitlines()
        assert calls, "the server runs its download tool for each local directory"
        for call in calls:
            model_name = call.split("--model-name ")[1].split()[0]
            assert Path(model_name).is_dir() and any(model_name == str(d) for d in self.dirs.values()), call
        assert {name: sorted(_files(d)) for name, d in self.dirs.items()} == self.before
        verify = subprocess.run([str(deploy_python), "-m", self.package, "verify"], capture_output=True)
        assert verify.returncode == 0


def _launch(
    bundle: str,
    program: str,
    installed: dict[tuple[str, str], Installed],
    deploy_python: Path,
    tmp_path: Path,
    offline_from: str | None = None,
) -> Launched:
    """``offline_from``: another installed bundle whose ``asr`` the user gives as ``--model-dir``
    (user arguments come last and win), the way two bundles are combined."""
    if shutil.which("strace") is None:
        pytest.fail("strace is required (apt-get install strace): it shows the server opens no outbound connection")
    dirs = {name: m.dir for (b, name), m in installed.items() if b == bundle and name in ROLE_OF}
    user = ["--hotword", ""]
    if offline_from is not None:
        dirs["asr"] = installed[(offline_from, "asr")].dir
        user += ["--model-dir", str(dirs["asr"])]
    before = {name: sorted(_files(d)) for name, d in dirs.items()}
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "python").write_text(PYTHON_STUB)
    (stub / "python").chmod(0o755)
    record, trace = tmp_path / "tool.txt", tmp_path / "strace.txt"
    env = {**os.environ, "PATH": f"{stub}:/usr/bin:/bin", "TOOL_RECORD": str(record)}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # exec-server turns ONNX Runtime's telemetry off itself
    package = load_config(BUNDLES / bundle).package
    launcher = [str(deploy_python), "-m", package, "exec-server", str(cpp_dir() / "bin" / program)]
    server = WssServer(
        user,
        tmp_path / "server.log",
        launcher=launcher,
        env=env,
        wrap=["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace)],
    )
    return Launched(server, dirs, before, record, trace, package)


@pytest.mark.parametrize("bundle", ["offline-server-zh", "paraformer-en", "sensevoice-small"])
def test_real_server_started_by_exec_server_answers_and_reaches_no_hub(
    bundle: str,
    installed: dict[tuple[str, str], Installed],
    deploy_python: Path,
    utterance: Utterance,
    tmp_path: Path,
) -> None:
    """`python -m <bundle> exec-server .../funasr-wss-server` (FunASR's real server from
    ../shared/funasr-cpp) listens on 127.0.0.1 with every model of the bundle loaded and answers
    a websocket request; under strace, no connection leaves the machine; the download tool it
    runs for each directory gets local paths only, and the installed files do not change."""
    launched = _launch(bundle, "funasr-wss-server", installed, deploy_python, tmp_path)
    server, dirs = launched.server, launched.dirs
    try:
        server.wait_ready()
        loaded = set(server.loaded)
        for name, directory in dirs.items():
            if name in ("lm", "itn"):
                continue  # the LM and ITN loaders log no "Successfully load" line
            assert any(p.startswith(str(directory)) for p in loaded), (name, loaded)
        extra = {"svs_lang": "auto", "svs_itn": True} if bundle == "sensevoice-small" else {}
        result = server.transcribe(utterance.wav, **extra)
        assert result.get("text"), result
    finally:
        server.stop()
    text = server.text()
    if bundle != "sensevoice-small":  # the server clears LM, ITN and punctuation for SenseVoice itself
        for name in ("lm", "itn"):
            if name in dirs:
                assert str(dirs[name]) in text, name
    launched.check_offline(deploy_python)


@pytest.mark.parametrize(
    "offline_from", [None, "hotword-zh", "sensevoice-small"], ids=["paraformer", "contextual", "sensevoice"]
)
def test_real_2pass_server_started_by_exec_server_answers_a_2pass_stream_and_reaches_no_hub(
    offline_from: str | None,
    installed: dict[tuple[str, str], Installed],
    deploy_python: Path,
    utterance: Utterance,
    tmp_path: Path,
) -> None:
    """`python -m funasr_streaming_zh exec-server .../funasr-wss-server-2pass` (FunASR's real 2-pass
    server, every role flag of which defaults to a hub id): exec-server sets the offline and
    online ASR, VAD and realtime punctuation to the installed directories and turns LM and ITN
    off; the server loads all four, answers a ``2pass`` stream with ``2pass-online`` partial
    results and a ``2pass-offline`` final one, and no connection leaves the machine.  The offline
    pass is the bundle's Paraformer, or another bundle's model given as ``--model-dir``: the
    contextual Paraformer of hotword-zh (model_eb.onnx and seg_dict loaded, tpass-stream.cpp:52-59;
    the request's hotwords compiled for it) or SenseVoiceSmall (2pass.cpp:273-284)."""
    launched = _launch(
        "streaming-zh", "funasr-wss-server-2pass", installed, deploy_python, tmp_path, offline_from=offline_from
    )
    server, dirs = launched.server, launched.dirs
    try:
        server.wait_ready()
        loaded = set(server.loaded)
        for name, directory in dirs.items():
            assert any(p.startswith(str(directory)) for p in loaded), (name, loaded)
        if offline_from == "hotword-zh":
            assert str(dirs["asr"] / "model_eb.onnx") in loaded, loaded
        answers = server.stream_2pass(utterance.wav, hotwords=HOTWORDS if offline_from == "hotword-zh" else "")
    finally:
        server.stop()
    modes = [a.get("mode") for a in answers]
    assert "2pass-online" in modes and "2pass-offline" in modes, answers
    final = [a for a in answers if a.get("mode") == "2pass-offline"]
    assert all(a["text"] for a in final), answers
    argv = server.text()
    if offline_from == "hotword-zh":  # the request's two hotwords and the blank one, embedded (paraformer.cpp:627)
        assert "clas shape 3 " in argv, argv[-3000:]
    for flag in ("--lm-dir", "--itn-dir"):  # turned off, said so on stderr
        assert f"# {flag} '': the bundle has no " in argv, argv[:3000]
    launched.check_offline(deploy_python)


# --- FunASR's llama.cpp runtime on the edge bundle -----------------------------------------
GGUF_BIN = Path(__file__).resolve().parents[2] / "shared" / "funasr-gguf" / "bin"


def test_llama_funasr_sensevoice_runs_the_installed_edge_bundle_with_no_network(
    installed: dict[tuple[str, str], Installed], deploy_python: Path, utterance: Utterance, tmp_path: Path
) -> None:
    """`python -m funasr_edge_sensevoice_gguf exec-server .../llama-funasr-sensevoice -a WAV`: the
    real binary (../shared/funasr-gguf) gets the installed q8 model and the bundle's FSMN-VAD GGUF,
    opens them, transcribes (stand-in weights: some text) and connects nowhere."""
    if shutil.which("strace") is None:
        pytest.fail("strace is required (apt-get install strace): it shows the program connects nowhere")
    d = _dirs(installed, "edge-sensevoice-gguf")
    trace = tmp_path / "strace.txt"
    strace = ["strace", "-f", "-qq", "-e", "trace=connect,openat", "-o", str(trace)]
    program = str(GGUF_BIN / "llama-funasr-sensevoice")
    result = subprocess.run(
        [
            *strace,
            str(deploy_python),
            "-m",
            "funasr_edge_sensevoice_gguf",
            "exec-server",
            program,
            "-a",
            str(utterance.wav),
        ],
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "HF_ENDPOINT": DEAD, "MODELSCOPE_ENDPOINT": DEAD},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "vad segments" in result.stderr, result.stderr  # funasr-sensevoice.cpp segments with --vad
    lines = trace.read_text().splitlines()
    opened = {line.split('"')[1] for line in lines if "openat(" in line and '"' in line and "= -1" not in line}
    assert {str(d["asr"] / "sensevoice-small-q8.gguf"), str(d["vad"] / "fsmn-vad.gguf")} <= opened
    assert [line for line in lines if "connect(" in line and "AF_UNIX" not in line] == []
