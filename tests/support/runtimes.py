"""Run FunASR's real consumers on a model directory: funasr_onnx 0.4.3 and the C++ runtime.

- :func:`run_funasr_onnx` constructs a ``funasr_onnx`` class on a directory exactly as a
  deployer does (``cls(model_dir, quantize=...)``) in the funasr_onnx venv (funasr_onnx pins
  numpy<=1.26.4, so never in the test environment), calls it the documented way, and returns
  the result as JSON with its Python type and every warning funasr_onnx logged (it swallows
  ONNX Runtime failures into a "input wav is silence or noise" warning and an empty result).
- :func:`cpp_offline`, :func:`cpp_offline_vad` run ``funasr-onnx-offline`` / ``-offline-vad``
  from ``../shared/funasr-cpp`` (beside the checkout); :class:`WssServer` starts
  ``funasr-wss-server`` and talks to it over a plain websocket (stdlib client below).  The C++
  runtime skips a VAD, punctuation or ITN directory whose files are missing with only an INFO
  line (offline-stream.cpp:18-22, :119-124, :136-140), so callers check
  :attr:`CppRun.loaded` (its "Successfully load ..." lines), not just the exit code.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import venvs
from support.speech import Utterance

CPP_DIR = Path(__file__).resolve().parents[3] / "shared" / "funasr-cpp"

# ---- funasr_onnx -------------------------------------------------------------------------------


def funasr_onnx_python() -> Path:
    """The Python of the kept funasr_onnx venv (support/venvs.py; the one tests/conftest.py's fixture uses)."""
    return venvs.ensure(venvs.FUNASR_ONNX)


#: Run in the funasr_onnx venv: argv[1] is a JSON list of jobs; each prints "@@RESULT " + JSON on stdout.
_RUNNER = r"""
import importlib, json, logging, sys, traceback
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append({"level": record.levelname, "message": record.getMessage()})
logging.getLogger("funasr_onnx").addHandler(Keep())
def plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value
def run(job):
    module = importlib.import_module(job["module"])
    model = getattr(module, job["cls"])(job["model_dir"], **job["init"])
    mode, call = job["mode"], job["call"]
    if mode == "file":  # Paraformer, ContextualParaformer, SenseVoiceSmall, Fsmn_vad: a wav path
        return model(job["wav"], **call)
    if mode == "text":  # CT_Transformer: one text
        return model(job["texts"][0], **call)
    if mode == "text-stream":  # CT_Transformer_VadRealtime: text pieces through one cache
        param_dict = {"cache": []}
        return [model(text, param_dict=param_dict, **call) for text in job["texts"]]
    # "asr-stream" (paraformer_online_bin.Paraformer) or "vad-stream" (Fsmn_vad_online): fixed chunks
    import soundfile
    speech, _ = soundfile.read(job["wav"], dtype="float32")
    step = job["step"]
    param_dict = {"cache": dict()} if mode == "asr-stream" else {"in_cache": [], "is_final": False}
    result = []
    for offset in range(0, len(speech), step):
        param_dict["is_final"] = offset + step >= len(speech)
        piece = model(speech[offset : offset + step], param_dict=param_dict, **call)
        if piece:
            result.append(piece)
    return result
for job in json.loads(sys.argv[1]):
    del records[:]
    try:
        result = run(job)
        out = {"ok": True, "type": type(result).__name__, "result": plain(result)}
    except BaseException as exc:
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    out["log"] = list(records)
    print("@@RESULT " + json.dumps(out, ensure_ascii=False, default=repr), flush=True)
"""


@dataclass
class OnnxRun:
    """What a funasr_onnx call returned."""

    ok: bool
    type: str | None
    result: Any
    error: str | None
    log: list[dict[str, str]]
    stderr: str

    def check(self) -> OnnxRun:
        """Fail unless it ran without exception and logged no warning (funasr_onnx's swallowed errors)."""
        assert self.ok, f"{self.error}\n{self.stderr[-3000:]}"
        problems = [r for r in self.log if r["level"] in ("WARNING", "ERROR", "CRITICAL")]
        assert not problems, problems
        return self


@dataclass(frozen=True)
class OnnxJob:
    """``module.cls(model_dir, quantize=quantize, **init)``, then a call in one of ``_RUNNER``'s modes.

    ``step`` is the chunk in samples of the streaming modes: 9600 (600 ms, chunk_size [5, 10, 5])
    for the online Paraformer as in funasr_onnx's demo, 1600 for the online VAD.
    """

    cls: str
    model_dir: Path
    mode: str
    quantize: bool
    wav: Path | None = None
    texts: tuple[str, ...] = ()
    call: tuple[tuple[str, Any], ...] = ()
    init: tuple[tuple[str, Any], ...] = ()
    step: int = 9600
    module: str = "funasr_onnx"

    def as_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "cls": self.cls,
            "model_dir": str(self.model_dir),
            "init": {"quantize": self.quantize, **dict(self.init)},
            "mode": self.mode,
            "call": dict(self.call),
            "wav": str(self.wav) if self.wav else None,
            "texts": list(self.texts),
            "step": self.step,
        }


def run_funasr_onnx_jobs(jobs: Sequence[OnnxJob], *, timeout: float = 900) -> list[OnnxRun]:
    """Run ``jobs`` one after another in one funasr_onnx process (imports once); one result each."""
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(funasr_onnx_python()), "-c", _RUNNER, json.dumps([job.as_json() for job in jobs])],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=jobs[0].model_dir.parent,
    )
    outs = [json.loads(line[len("@@RESULT ") :]) for line in proc.stdout.splitlines() if line.startswith("@@RESULT ")]
    if len(outs) != len(jobs):
        raise AssertionError(
            f"funasr_onnx runner exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return [OnnxRun(o["ok"], o.get("type"), o.get("result"), o.get("error"), o["log"], proc.stderr) for o in outs]


def run_funasr_onnx(
    cls: str,
    model_dir: Path,
    *,
    mode: str,
    quantize: bool,
    wav: Path | None = None,
    texts: Sequence[str] = (),
    call: dict[str, Any] | None = None,
    init: dict[str, Any] | None = None,
    step: int = 9600,
    module: str = "funasr_onnx",
) -> OnnxRun:
    """One :class:`OnnxJob` in its own process."""
    job = OnnxJob(
        cls,
        model_dir,
        mode,
        quantize,
        wav,
        tuple(texts),
        tuple((call or {}).items()),
        tuple((init or {}).items()),
        step,
        module,
    )
    return run_funasr_onnx_jobs([job])[0]


# ---- every funasr_onnx class, called the documented way, and what it must return -------------------

PUNC_TEXT = "跨境河流是养育沿岸人民的生命之源长期以来为帮助下游地区防灾减灾中方技术人员在上游地区极为恶劣的自然条件下克服巨大困难"
PUNC_PIECES = (
    "跨境河流是养育沿岸",
    "人民的生命之源长期以来为帮助下游地区防灾",
    "减灾中方技术人员在上游地区极为恶劣的自然条件下克服巨大困难",
)
HOTWORDS = "阿里巴巴 魔搭"
SV_TAGS = (
    "<|en|><|NEUTRAL|><|Speech|>"  # language auto -> <|en|>, then emotion and event (sensevoice-small.cpp:330-334)
)


def funasr_onnx_jobs(family: str, model_dir: Path, wav: Path, quantize: bool) -> list[OnnxJob]:
    """Every funasr_onnx class that runs ``family``, called the documented way."""
    common = {"model_dir": model_dir, "quantize": quantize}
    online = "funasr_onnx.paraformer_online_bin"
    return {
        "paraformer": [OnnxJob("Paraformer", mode="file", wav=wav, **common)],
        "paraformer-contextual": [
            OnnxJob("ContextualParaformer", mode="file", wav=wav, call=(("hotwords", HOTWORDS),), **common)
        ],
        "paraformer-streaming": [
            OnnxJob(
                "Paraformer", mode="asr-stream", wav=wav, module=online, init=(("chunk_size", [5, 10, 5]),), **common
            )
        ],
        "fsmn-vad": [
            OnnxJob("Fsmn_vad", mode="file", wav=wav, **common),
            OnnxJob("Fsmn_vad_online", mode="vad-stream", wav=wav, step=1600, **common),
        ],
        "ct-punc": [OnnxJob("CT_Transformer", mode="text", texts=(PUNC_TEXT,), **common)],
        "ct-punc-realtime": [OnnxJob("CT_Transformer_VadRealtime", mode="text-stream", texts=PUNC_PIECES, **common)],
        "sensevoice": [
            OnnxJob(
                "SenseVoiceSmall", mode="file", wav=wav, call=(("language", "auto"), ("textnorm", "withitn")), **common
            )
        ],
    }[family]


def near(ms: int, expected: int) -> bool:
    return abs(ms - expected) <= 500


def check_result(job: OnnxJob, run: OnnxRun, utt: Utterance) -> None:
    """funasr_onnx returned its normal result type, with the shape its callers index."""
    run.check()
    result = run.result
    if job.cls == "Paraformer" and job.mode == "file":  # BiCIF: text, per-token timestamps, raw tokens
        assert run.type == "list" and len(result) == 1
        assert set(result[0]) == {"preds", "timestamp", "raw_tokens"}
        assert result[0]["preds"] and len(result[0]["timestamp"]) == len(result[0]["raw_tokens"]) > 0
        assert all(a <= b for a, b in result[0]["timestamp"])
    elif job.cls == "ContextualParaformer":
        assert run.type == "list" and len(result) == 1 and result[0]["preds"][0]
    elif job.cls == "Paraformer":  # online: one list of {"preds": (text, tokens)} per chunk that fired
        assert run.type == "list" and result and all(piece[0]["preds"][0] for piece in result)
    elif job.cls == "Fsmn_vad":
        assert run.type == "list" and len(result) == 1 and len(result[0]) == 1
        (start, end) = result[0][0]
        assert near(start, utt.speech_start_ms) and near(end, utt.speech_end_ms), result
    elif job.cls == "Fsmn_vad_online":  # [[beg, -1]] when speech starts, [[-1, end]] when it ends
        segments = [seg for piece in result for seg in piece[0]]
        assert near(segments[0][0], utt.speech_start_ms) and near(segments[-1][1], utt.speech_end_ms), result
    elif job.cls == "CT_Transformer":
        assert run.type == "tuple"
        text, puncs = result
        assert text.endswith("。") and "".join(c for c in text if c not in "，。？、") == PUNC_TEXT
        assert 0 < len(puncs) <= len(PUNC_TEXT)  # one per word: jieba words with jieba_usr_dict, else characters
    elif job.cls == "CT_Transformer_VadRealtime":
        assert run.type == "list" and len(result) == len(PUNC_PIECES)
        assert all(len(item) == 3 and isinstance(item[0], str) for item in result)
    elif job.cls == "SenseVoiceSmall":
        assert run.type == "list" and len(result) == 1 and result[0].startswith(SV_TAGS + "<|withitn|>"), result
    else:
        raise AssertionError(job.cls)


# ---- the C++ runtime ----------------------------------------------------------------------------


def cpp_dir() -> Path:
    """``../shared/funasr-cpp`` beside the checkout; skips the test when it is not built there."""
    if not (CPP_DIR / "bin" / "funasr-onnx-offline").is_file():
        pytest.skip(f"FunASR's C++ runtime is not built at {CPP_DIR} (../shared/funasr-cpp beside the checkout)")
    return CPP_DIR


_LOADED = re.compile(r"Successfully load (?:model from|lm file|file from) (.+?)\s*$", re.M)


@dataclass
class CppRun:
    """One run of a C++ binary."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    #: Paths from the "Successfully load model from ..." / "... lm file ..." / "... file from ..." lines.
    loaded: list[str] = field(default_factory=list)

    def check(self) -> CppRun:
        assert self.returncode == 0, f"{' '.join(self.args)} -> {self.returncode}\n{self.stderr[-4000:]}"
        errors = [line for line in self.stderr.splitlines() if line.startswith(("E", "F")) and "] " in line]
        assert not errors, "\n".join(errors)
        return self

    def jsonl(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


def run_cpp(binary: str, *args: str, timeout: float = 300) -> CppRun:
    """Run ``bin/binary args`` from the runtime's directory (its RUNPATH is ``$ORIGIN/../lib``)."""
    root = cpp_dir()
    argv = [str(root / "bin" / binary), *args]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout, errors="replace")
    loaded = [m.strip() for m in _LOADED.findall(proc.stderr)]
    return CppRun(argv, proc.returncode, proc.stdout, proc.stderr, loaded)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def cpp_offline(
    model_dir: Path,
    wav: Path,
    *,
    quantize: bool,
    vad_dir: Path | None = None,
    vad_quant: bool | None = None,
    punc_dir: Path | None = None,
    punc_quant: bool | None = None,
    lm_dir: Path | None = None,
    itn_dir: Path | None = None,
    hotword_file: Path | None = None,
) -> CppRun:
    """``funasr-onnx-offline`` with jsonl output; quant flags of VAD / punc default to ``quantize``."""
    args = ["--model-dir", str(model_dir), "--quantize", _flag(quantize), "--wav-path", str(wav)]
    args += ["--output-format", "jsonl"]
    if vad_dir:
        args += ["--vad-dir", str(vad_dir), "--vad-quant", _flag(quantize if vad_quant is None else vad_quant)]
    if punc_dir:
        args += ["--punc-dir", str(punc_dir), "--punc-quant", _flag(quantize if punc_quant is None else punc_quant)]
    if lm_dir:
        args += ["--lm-dir", str(lm_dir)]
    if itn_dir:
        args += ["--itn-dir", str(itn_dir)]
    if hotword_file:
        args += ["--hotword", str(hotword_file)]
    return run_cpp("funasr-onnx-offline", *args)


_SEGMENTS = re.compile(r"wav_default_id: (\[.*\])\s*$", re.M)


def cpp_offline_vad(model_dir: Path, wav: Path, *, quantize: bool) -> tuple[CppRun, list[list[int]]]:
    """``funasr-onnx-offline-vad`` and the segments (ms) it printed."""
    run = run_cpp(
        "funasr-onnx-offline-vad", "--model-dir", str(model_dir), "--quantize", _flag(quantize), "--wav-path", str(wav)
    )
    found = _SEGMENTS.findall(run.stderr)
    return run, (json.loads(found[-1]) if found else [])


# ---- funasr-wss-server and a minimal websocket client (RFC 6455) ------------------------------


class _WebSocket:
    """Just enough of a websocket client for funasr-wss-server: masked text/binary frames out, text in."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head!r}")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, payload: bytes | str) -> None:
        opcode = 1 if isinstance(payload, str) else 2
        data = payload.encode() if isinstance(payload, str) else payload
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> str:
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else b""
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 1:
                return data.decode()
            if opcode == 8:
                raise ConnectionError("websocket closed by the server")

    def close(self) -> None:
        self.sock.close()


def outbound(trace: Path) -> list[str]:
    """The connect() calls in an ``strace -e trace=connect`` log that leave the machine (not
    AF_UNIX, not 127.0.0.1)."""
    connects = [line for line in trace.read_text().splitlines() if "connect(" in line]
    return [line for line in connects if "AF_UNIX" not in line and "127.0.0.1" not in line]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WssServer:
    """``funasr-wss-server`` on a free port with the given role directories (``""`` = role off)."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        *,
        launcher: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        wrap: Sequence[str] = (),
    ) -> None:
        """``launcher``: what starts the server instead of the binary itself (``python -m
        bundle exec-server <binary>``); ``wrap``: a command the whole thing runs under (strace)."""
        self.port = free_port()
        self.log = log
        root = cpp_dir()
        argv = [*wrap, *(launcher or [str(root / "bin" / "funasr-wss-server")]), *args]
        argv += ["--listen-ip", "127.0.0.1", "--port", str(self.port), "--certfile", "", "--keyfile", ""]
        argv += ["--decoder-thread-num", "1", "--io-thread-num", "1", "--model-thread-num", "1"]
        self.argv = argv
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            argv, cwd=root, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "asr model init finished" in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"funasr-wss-server exited {self.proc.returncode}:\n{self.text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"funasr-wss-server not ready after {timeout}s:\n{self.text()[-4000:]}")

    def text(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    @property
    def loaded(self) -> list[str]:
        return [m.strip() for m in _LOADED.findall(self.text())]

    def transcribe(self, wav: Path, timeout: float = 120, **message: object) -> dict[str, object]:
        """Send ``wav`` as an offline request (the protocol of FunASR's own clients); return the result JSON."""
        with wave.open(str(wav)) as w:
            pcm, rate = w.readframes(w.getnframes()), w.getframerate()
        ws = _WebSocket(self.port, timeout)
        try:
            first = {"mode": "offline", "wav_name": wav.stem, "wav_format": "pcm", "audio_fs": rate}
            first |= {"is_speaking": True, "itn": True, "hotwords": ""} | message
            ws.send(json.dumps(first, ensure_ascii=False))
            for offset in range(0, len(pcm), 32000):
                ws.send(pcm[offset : offset + 32000])
            ws.send(json.dumps({"is_speaking": False}))
            return json.loads(ws.receive())
        finally:
            ws.close()

    def stream_2pass(
        self, wav: Path, timeout: float = 120, chunk_ms: int = 600, **message: object
    ) -> list[dict[str, object]]:
        """Stream ``wav`` to ``funasr-wss-server-2pass`` in ``2pass`` mode (chunk_size [5, 10, 5], as
        FunASR's own clients do; websocket-server-2pass.cpp:518-531) in ``chunk_ms`` pieces, then
        ``is_speaking: false``; return every answer up to the one marked ``is_final``.  ``message``
        adds to (or replaces) the first message's fields, e.g. ``hotwords``."""
        with wave.open(str(wav)) as w:
            pcm, rate = w.readframes(w.getnframes()), w.getframerate()
        ws = _WebSocket(self.port, timeout)
        answers: list[dict[str, object]] = []
        try:
            first = {"mode": "2pass", "chunk_size": [5, 10, 5], "chunk_interval": 10, "wav_name": wav.stem}
            first |= {"wav_format": "pcm", "audio_fs": rate, "is_speaking": True, "itn": True, "hotwords": ""} | message
            ws.send(json.dumps(first, ensure_ascii=False))
            step = rate * 2 * chunk_ms // 1000
            for offset in range(0, len(pcm), step):
                ws.send(pcm[offset : offset + step])
            ws.send(json.dumps({"is_speaking": False}))
            while not answers or not answers[-1].get("is_final"):
                answers.append(json.loads(ws.receive()))
            return answers
        finally:
            ws.close()

    def stop(self) -> None:
        """Stop the server and everything it started."""
        stop_group(self.proc)
        self._log_file.close()


@contextmanager
def wss_server(log: Path, *, model_dir: Path, quantize: bool, **roles: Path | str | bool) -> Iterator[WssServer]:
    """A ready server for ``model_dir``; ``roles``: vad_dir, punc_dir, lm_dir, itn_dir (paths or "")
    and vad_quant / punc_quant (default ``quantize``).  LM and ITN are off unless given."""
    args = ["--model-dir", str(model_dir), "--quantize", _flag(quantize)]
    for role in ("vad_dir", "punc_dir", "lm_dir", "itn_dir"):
        args += [f"--{role.replace('_', '-')}", str(roles.get(role, ""))]
    for role in ("vad_quant", "punc_quant"):
        args += [f"--{role.replace('_', '-')}", _flag(bool(roles.get(role, quantize)))]
    server = WssServer(args, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def stop_group(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Stop ``proc`` and everything in its process group (started with ``start_new_session=True``):
    a wrapper such as strace does not pass a terminate signal on; it detaches and leaves the
    program it traced running."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate ``proc``; kill it if it has not ended within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


__all__ = [
    "CPP_DIR",
    "CppRun",
    "OnnxJob",
    "OnnxRun",
    "WssServer",
    "cpp_dir",
    "cpp_offline",
    "cpp_offline_vad",
    "free_port",
    "funasr_onnx_python",
    "outbound",
    "run_cpp",
    "run_funasr_onnx",
    "run_funasr_onnx_jobs",
    "stop_group",
    "stop_process",
    "wss_server",
]
