"""FunASR's Python runtime on installed PyTorch bundles, with no network: ``funasr.AutoModel`` for
every PyTorch family (CAM++, emotion2vec, KWS, SenseVoice, Paraformer, SeACo-Paraformer with
hotwords, streaming Paraformer over chunks, FSMN-VAD, CT-punc, realtime CT-punc over text pieces), the
bundle's ``automodel`` helper and its full pipeline, and ``funasr-server`` started through
``exec-server`` answering ``/v1/audio/transcriptions``.

The bundles are built through the loopback hub from stand-ins FunASR itself builds
(support/torchmodels.py), installed with ``pip --no-index`` into a fresh venv that sees only
what a deployer installs (support/venvs.py AUTOMODEL: torch, funasr, kaldi-native-fbank and
funasr-server's web stack), and every run happens under ``strace -f -e trace=connect``: no
connection may leave the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from support import genmodels, torchmodels, venvs
from support.hubserver import LoopbackHub
from support.runtimes import free_port, outbound, stop_group
from support.speech import Utterance
from tools.bundles import BUNDLES, build_bundle, build_env, publish_models

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: (project, its package): the ready PyTorch bundles, a project with the PyTorch speech pipeline
#: and one with the hotword, streaming and realtime-punctuation models.
PROJECTS = {
    BUNDLES / "speaker-campplus": "funasr_speaker_campplus",
    BUNDLES / "emotion2vec": "funasr_emotion2vec",
    BUNDLES / "kws-xiaoyun": "funasr_kws_xiaoyun",
    FIXTURES / "torch-set": "acme_torch_set",
    FIXTURES / "torch-stream": "acme_torch_stream",
}
#: SeACo-Paraformer's hotwords, as FunASR's README passes them (``hotword="..."``): one Chinese word,
#: one English word the seg_dict spells as BPE pieces.
HOTWORDS = "阿里巴巴 hello"


def _strace() -> list[str]:
    if shutil.which("strace") is None:
        pytest.fail("strace is required (apt-get install strace): it shows no outbound connection is made")
    return ["strace", "-f", "-qq", "-e", "trace=connect"]


@pytest.fixture(scope="module")
def deploy(hub: LoopbackHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv that sees torch, funasr and kaldi-native-fbank (the kept AUTOMODEL venv's
    site-packages, through a .pth) and nothing of the build environment, with the bundles installed by ``pip --no-index``."""
    work = tmp_path_factory.mktemp("torch-bundles")
    env = build_env(hub, work / "cache")
    wheels = []
    for project in PROJECTS:
        publish_models(hub.store, project, work)
        wheels.append(build_bundle(project, work / "dist", env))
    python = venvs.deploy_venv(work / "venv", venvs.purelib(venvs.ensure(venvs.AUTOMODEL)))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index", "--no-deps"]
        + [str(w) for w in wheels],
        check=True,
    )
    return python


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "MODELSCOPE"))}
    return env | {"HOME": str(home), "PYTHONNOUSERSITE": "1"}


#: Run in the deploy venv under strace: every model of every bundle in AutoModel, called as
#: FunASR's README and examples call each kind, then the pipeline.
_RUN = r"""
import importlib, json, sys, wave
import numpy as np
from funasr import AutoModel
wav, hotwords = sys.argv[1:3]
with wave.open(wav) as w:
    speech = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
out = {}
def plain(value):
    if hasattr(value, "shape"):
        return {"shape": list(value.shape)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
PUNC_TEXT = "跨境河流是养育沿岸人民的生命之源长期以来为帮助下游地区防灾减灾"
def run(model, family):
    if family == "paraformer-streaming":  # FunASR's README: 600 ms chunks, one cache across them
        chunk_size, cache, texts = [0, 10, 5], {}, []
        stride = chunk_size[1] * 960
        n = (len(speech) - 1) // stride + 1
        for i in range(n):
            result = model.generate(input=speech[i * stride : (i + 1) * stride], cache=cache, is_final=i == n - 1,
                                    chunk_size=chunk_size, encoder_chunk_look_back=4, decoder_chunk_look_back=1)
            texts.append(result[0]["text"])
        return result, {"chunks": n, "texts": texts, "cache": sorted(cache)}
    if family == "ct-punc-realtime":  # examples/industrial_data_pretraining/ct_transformer_streaming/demo.py
        cache, texts = {}, []
        for piece in (PUNC_TEXT[:9], PUNC_TEXT[9:22], PUNC_TEXT[22:]):
            result = model.generate(input=piece, cache=cache)
            texts.append(result[0]["text"])
        return result, {"texts": texts, "cache": sorted(cache)}
    if family == "paraformer-contextual":  # FunASR's README: generate(..., hotword="...")
        result = model.generate(input=wav, hotword=hotwords)
        ids = model.model.generate_hotwords_list(hotwords, tokenizer=model.kwargs["tokenizer"],
                                                 frontend=model.kwargs["frontend"])
        return result, {"hotword_ids": ids}
    if family == "kws":
        return model.generate(input=wav, keywords="小云小云", chunk_size=[4, 8, 4], encoder_chunk_look_back=0,
                              decoder_chunk_look_back=0), {}
    return model.generate(input=PUNC_TEXT if family == "ct-punc" else wav), {}
for package in sys.argv[3:]:
    bundle = importlib.import_module(package)
    for name in bundle.names():
        family = bundle.manifest()["models"][name]["family"]
        # What a deployer writes: the installed directory, disable_update=True (no PyPI version check).
        model = AutoModel(model=str(bundle.path(name)), disable_update=True, device="cpu")
        result, extra = run(model, family)
        out[f"{package}:{name}"] = {"family": family, "result": plain(result), **extra}
# The bundle's helper: the ASR model with the bundle's VAD, punctuation and speaker model.
pipe = importlib.import_module("acme_torch_set").automodel("asr-para", pipeline=True, device="cpu")
out["pipeline"] = {"args": sorted(pipe.kwargs), "result": plain(pipe.generate(input=wav, batch_size_s=300))}
print("@@RESULT " + json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def automodel_runs(deploy: Path, utterance: Utterance, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("automodel")
    trace = work / "strace.txt"
    proc = subprocess.run(
        [*_strace(), "-o", str(trace), str(deploy), "-c", _RUN, str(utterance.wav), HOTWORDS, *PROJECTS.values()],
        capture_output=True,
        text=True,
        cwd=work,
        env=_env(work),
        timeout=1200,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return {"runs": json.loads(lines[0][len("@@RESULT ") :]), "outbound": outbound(trace), "stderr": proc.stderr}


def test_every_pytorch_family_runs_in_automodel_from_its_installed_directory(
    automodel_runs: dict[str, Any], utterance: Utterance
) -> None:
    runs = automodel_runs["runs"]
    families = {run["family"] for key, run in runs.items() if key != "pipeline"}
    assert families == set(torchmodels.FAMILIES)
    tokens = json.loads(genmodels._side_file("paraformer-contextual", "tokens.json"))
    for key, run in runs.items():
        if key == "pipeline":
            continue
        (result,) = run["result"]
        family = run["family"]
        if family == "campplus":  # a 192-d speaker embedding
            assert result["spk_embedding"]["shape"] == [1, 192], result
        elif family == "emotion2vec":  # a score for each of the nine labels of tokens.txt
            assert result["labels"] == list(torchmodels.EMOTIONS) and len(result["scores"]) == 9, result
        elif family == "kws":  # the wake word found or not: SanmKWSStreaming's decision
            assert result["text"] == "rejected" or result["text"].startswith("detected"), result
        elif family == "fsmn-vad":  # the real FSMN-VAD finds where the speech starts and covers all of it
            # (observed: in AutoModel it keeps the segment open through the digital silence after the
            # speech, to the end of the file, where funasr_onnx and the C++ runtime close it)
            start, end = result["value"][0][0], result["value"][-1][1]
            assert abs(start - utterance.speech_start_ms) <= 500, result
            assert utterance.speech_end_ms - 100 <= end <= utterance.duration_ms, result
        elif family == "ct-punc":
            assert result["text"] and result["text"] != result.get("key"), result
        elif family == "ct-punc-realtime":  # each piece punctuated with the cache of the ones before
            assert all(run["texts"]) and run["cache"] == ["pre_text"], run
        elif family == "paraformer-streaming":  # one answer per 600 ms chunk, the encoder state cached
            assert len(run["texts"]) == run["chunks"] > 1 and "encoder" in run["cache"], run
            assert "".join(run["texts"]), run
        elif family == "paraformer-contextual":  # the hotwords spelled through the installed seg_dict
            # (without it "hello" would be one <unk>): 阿里巴巴 -> 阿 里 巴 巴, hello -> he@@ llo, then <s>
            spelled = [[tokens.index(t) for t in w.split()] for w in ("阿 里 巴 巴", "he@@ llo", "<s>")]
            assert run["hotword_ids"] == spelled, run
            assert result["text"], (key, result)
        else:  # SenseVoice, Paraformer: text (nonsense from random weights)
            assert result["text"], (key, result)
    assert automodel_runs["outbound"] == [], automodel_runs["outbound"]


def test_the_bundle_pipeline_runs_vad_asr_punctuation_and_speakers_offline(automodel_runs: dict[str, Any]) -> None:
    """``bundle.automodel("asr-para", pipeline=True)``: AutoModel with the installed VAD, CT-punc and
    CAM++ (vad_model, punc_model, spk_model), no download: one result with sentences and speakers."""
    pipeline = automodel_runs["runs"]["pipeline"]
    assert {"vad_model", "punc_model", "spk_model"} <= set(pipeline["args"]), pipeline["args"]
    (result,) = pipeline["result"]
    assert result["text"], result
    assert result["sentence_info"] and all("spk" in s for s in result["sentence_info"]), result
    assert automodel_runs["outbound"] == []


def test_the_trace_sees_the_update_check_automodel_makes_without_disable_update(deploy: Path, tmp_path: Path) -> None:
    """The control of the checks above: the same installed directory without
    ``disable_update=True`` makes AutoModel ask PyPI for a newer funasr
    (funasr/utils/version_checker.py), and the trace shows it reaching for the network (a name
    lookup, port 53, then pypi.org on 443, answered or not)."""
    trace = tmp_path / "strace.txt"
    code = "import acme_torch_set as b; from funasr import AutoModel; AutoModel(model=str(b.path('vad')), device='cpu')"
    subprocess.run(
        [*_strace(), "-o", str(trace), str(deploy), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
        timeout=600,
    )
    reaching = [line for line in trace.read_text().splitlines() if "htons(53)" in line or "htons(443)" in line]
    assert reaching, trace.read_text()[-3000:]


# --- funasr-server ------------------------------------------------------------------------------


def _post_wav(port: int, wav: Path, **fields: str) -> tuple[int, dict[str, Any]]:
    """``POST /v1/audio/transcriptions`` as OpenAI's client sends it (multipart form)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{wav.name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + wav.read_bytes()
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/audio/transcriptions",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, {"error": e.read().decode(errors="replace")}


def _wait_http(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"funasr-server exited {proc.returncode}:\n{log.read_text()[-5000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"funasr-server not ready after {timeout}s:\n{log.read_text()[-5000:]}")


@pytest.mark.parametrize(
    ("package", "asr"),
    [("acme_torch_set", "asr"), ("acme_torch_set", "asr-para"), ("acme_torch_stream", "asr-hot")],
    ids=["sensevoice", "paraformer", "seaco-paraformer"],
)
def test_funasr_server_started_by_exec_server_answers_and_reaches_no_hub(
    deploy: Path, utterance: Utterance, tmp_path: Path, package: str, asr: str
) -> None:
    """``python -m <bundle> exec-server funasr-server`` (FunASR's funasr/bin/server.py) loads the
    installed SenseVoice (Paraformer, SeACo-Paraformer) as ``custom`` and the bundle's CAM++ as
    its speaker model, and answers OpenAI-style transcription requests, one with speaker labels
    where the bundle has CAM++; under strace, nothing leaves the machine."""
    port = free_port()
    trace, log = tmp_path / "strace.txt", tmp_path / "server.log"
    argv = [*_strace(), "-o", str(trace), str(deploy), "-m", package, "exec-server", "funasr-server"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--model-path", asr]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=_env(tmp_path), start_new_session=True
        )
        try:
            _wait_http(port, proc, log)
            status, answer = _post_wav(port, utterance.wav, model="custom")
            assert status == 200 and isinstance(answer.get("text"), str) and answer["text"], answer
            if package == "acme_torch_set":  # the bundle with CAM++
                status, verbose = _post_wav(
                    port, utterance.wav, model="custom", spk="true", response_format="verbose_json"
                )
                assert status == 200, verbose
                assert verbose["segments"] and all("speaker" in s for s in verbose["segments"]), verbose
        finally:
            stop_group(proc, timeout=30)  # strace and the server it traces
    text = log.read_text(errors="replace")
    installed = subprocess.run(
        [str(deploy), "-m", package, "path", asr], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "Loading custom model: " + installed in text, text[-3000:]
    assert outbound(trace) == [], outbound(trace)


def test_exec_server_funasr_server_arguments(deploy: Path) -> None:
    """What exec-server passes funasr-server: the installed ASR and CAM++ directories (a bundle
    model's name given to --model-path becomes its directory, the user's flags come last); a
    bundle without exactly one PyTorch ASR model is refused with one line naming what to give."""

    def run(package: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(deploy), "-m", package, *args], capture_output=True, text=True)

    def where(package: str, name: str) -> str:
        return run(package, "path", name).stdout.strip()

    several = run("acme_torch_set", "server-args", "funasr-server")
    assert several.returncode == 1 and several.stderr.count("\n") == 1, several.stderr
    assert several.stderr.startswith("error: cannot start funasr-server with this bundle: it runs one PyTorch ASR")
    assert "the bundle has asr, asr-para; give --model-path NAME" in several.stderr
    none = run("funasr_speaker_campplus", "exec-server", "funasr-server")
    assert none.returncode == 1 and "the bundle has none; give --model-path NAME" in none.stderr, none.stderr
    code = "from acme_torch_set._funasr_runtime import funasr_server_plan as p; import json, sys; "
    code += "print(json.dumps(p(sys.argv[1:])))"
    args = subprocess.run(
        [str(deploy), "-c", code, "--model-path", "asr-para", "--port", "9"], capture_output=True, text=True, check=True
    )
    plan, notes = json.loads(args.stdout)
    assert plan == [
        "--spk-model",
        where("acme_torch_set", "spk"),
        "--model-path",
        where("acme_torch_set", "asr-para"),
        "--port",
        "9",
    ]
    assert any("model=custom" in n for n in notes)
