"""Progress: downloads from both hubs and the packing of large files say how far
they are -- bytes, rate, ETA -- as a live line on a terminal and as a line per tenth (or
per few seconds) in logs, never per chunk; onnxruntime's static-quantization hint is quiet."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import realvad
from support.hubserver import LoopbackHub
from support.projects import VAD_HF_REPO, make_project, stage_project

from hatch_funasr import pack, progress
from hatch_funasr.pack import PackEntry, add_models
from hatch_funasr.progress import Meter, format_line
from hatch_funasr.quantize import _static_only_hint, quantize_file

LINE = re.compile(r"^model vad: downloading: [\d.]+/[\d.]+ MiB \(\d+%\), [\d.]+ MiB/s, ETA \d+:\d\d$")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_line() -> None:
    line = format_line("model asr", 120 * 2**20, 300 * 2**20, 10.0)
    assert line == "model asr: 120.0/300.0 MiB (40%), 12.0 MiB/s, ETA 0:15"
    assert format_line("m", 0, 10, 1.0) == "m: 0.0/0.0 MiB (0%)"  # no rate yet: no ETA
    assert "ETA 1:00:00" in format_line("m", 2**20, 3601 * 2**20, 1.0)


def test_log_lines_per_tenth_or_interval_never_per_chunk() -> None:
    clock, lines = Clock(), []
    meter = Meter("model asr: downloading", 1000 * 2**20, lines.append, mode="log", clock=clock)
    meter.advance(2**20)
    assert lines == []  # within QUIET_FOR: nothing yet
    for _ in range(999):  # 999 chunks, 0.01 s apart: ~10 s
        clock.now += 0.01
        meter.advance(2**20)
    assert 9 <= len(lines) <= 11, lines  # a line per tenth (and no more), not one per chunk
    assert lines[-1].startswith("model asr: downloading: 1000.0/1000.0 MiB (100%)")
    # A stalled transfer still says something every LOG_INTERVAL seconds.
    stalled = Meter("model asr: downloading", 1000, lines.append, mode="log", clock=clock)
    before = len(lines)
    for _ in range(30):
        clock.now += 1.0
        stalled.advance(1)
    assert len(lines) - before == pytest.approx(30 / progress.LOG_INTERVAL, abs=1)


def test_live_line_on_a_terminal_is_rewritten_in_place_and_cleared() -> None:
    clock, terminal, lines = Clock(), Terminal(), []
    meter = Meter("model asr: downloading", 100 * 2**20, lines.append, stream=terminal, clock=clock)
    assert meter.mode == "live"
    for _ in range(100):
        clock.now += 0.1
        meter.advance(2**20)
    meter.close()
    out = terminal.getvalue()
    assert lines == []  # nothing in the log
    assert out.count("\r") <= 10 * 4 + 2  # redrawn at most four times a second
    assert "\n" not in out and out.endswith("\r\x1b[K")
    assert "model asr: downloading: 100.0/100.0 MiB (100%)" in out
    silent = Meter("x", 10, lines.append, mode="off", stream=terminal, clock=clock)
    clock.now += 10
    silent.advance(5)
    assert lines == []


def test_a_start_over_gives_bytes_back() -> None:
    clock, lines = Clock(), []
    meter = Meter("m", 100, lines.append, mode="log", clock=clock)
    meter.advance(60)
    meter.advance(-60)
    assert meter.done == 0
    meter.advance(-5)
    assert meter.done == 0


@pytest.fixture
def slow(hub: LoopbackHub) -> Iterator[LoopbackHub]:
    hub.chunk_delay = 0.5  # model_quant.onnx: 8 chunks of 64 KiB, ~4 s
    yield hub
    hub.chunk_delay = 0.0


@pytest.mark.parametrize("declaration", ["", f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n'])
def test_download_progress_from_each_hub(
    declaration: str,
    slow: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vad_repo: dict[str, bytes],
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_PROGRESS", "log")
    project = make_project(tmp_path, declaration or None)
    messages: list[str] = []
    stage_project(project, tmp_path / "stage", report=messages.append)
    progress_lines = [m for m in messages if "MiB/s" in m]
    assert progress_lines, messages
    assert all(LINE.match(m) for m in progress_lines), progress_lines
    assert len(progress_lines) <= 12, progress_lines


@pytest.mark.parametrize("two_cores", [1, 1 << 30], ids=["hashed-beside", "hashed-inline"])
def test_packing_progress_for_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_cores: int) -> None:
    monkeypatch.setattr(pack, "_PROGRESS", 1 << 20)  # "large" from 1 MiB (the real VAD is 1.7 MB)
    monkeypatch.setattr(pack, "_TWO_CORES", two_cores)
    monkeypatch.setattr(progress, "QUIET_FOR", 0.0)
    model = realvad.write_model(tmp_path / "m", ("model.onnx", "am.mvn"))
    wheel = tmp_path / "p-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("p-1.dist-info/RECORD", "")
    entries = [PackEntry(f"p/models/vad/{f.name}", f, f.stat().st_size, None) for f in sorted(model.iterdir())]
    lines: list[str] = []
    add_models(wheel, entries, source_date_epoch=315532800, report=lines.append, progress="log")
    packing = [line for line in lines if line.startswith("hatch-funasr: packing model.onnx: ")]
    assert packing and packing[-1].startswith("hatch-funasr: packing model.onnx: 1.7/1.7 MiB (100%)"), lines
    assert not any("am.mvn" in line for line in lines)  # small files pack silently


def test_onnxruntime_static_quantization_hint_is_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = realvad.write_model(tmp_path / "m", ("model.onnx",)) / "model.onnx"
    filters = list(logging.getLogger().filters)
    with caplog.at_level(logging.WARNING):
        quantize_file(src, tmp_path / "model_quant.onnx")
    assert (tmp_path / "model_quant.onnx").stat().st_size > 0
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()], caplog.text
    assert logging.getLogger().filters == filters  # removed again
    other = logging.LogRecord("root", logging.WARNING, __file__, 1, "the model has no MatMul", None, None)
    assert _static_only_hint(other)
