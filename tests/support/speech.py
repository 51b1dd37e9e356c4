"""Test speech: an espeak-ng utterance, trimmed of its own silence, padded with known silence."""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away."


@dataclass(frozen=True)
class Utterance:
    wav: Path
    #: Where the speech is, in milliseconds from the start of the file.
    speech_start_ms: int
    speech_end_ms: int
    duration_ms: int


def make_utterance(dest: Path, *, lead_s: float = 1.5, tail_s: float = 1.5, text: str = TEXT) -> Utterance:
    """A 16 kHz mono 16-bit wav: ``lead_s`` of silence, the utterance, ``tail_s`` of silence."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    raw = dest.with_suffix(".raw.wav")
    speech = dest.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(raw), text], check=True)
    # Trim espeak's own leading and trailing silence so the speech bounds are known exactly.
    subprocess.run(
        [
            "sox",
            str(raw),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(speech),
            "silence",
            "1",
            "0.01",
            "0.5%",
            "reverse",
            "silence",
            "1",
            "0.01",
            "0.5%",
            "reverse",
        ],
        check=True,
    )
    subprocess.run(["sox", str(speech), str(dest), "pad", str(lead_s), str(tail_s)], check=True)
    with wave.open(str(speech)) as w:
        speech_ms = round(w.getnframes() * 1000 / w.getframerate())
    with wave.open(str(dest)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        total_ms = round(w.getnframes() * 1000 / w.getframerate())
    raw.unlink()
    speech.unlink()
    start = round(lead_s * 1000)
    return Utterance(dest, start, start + speech_ms, total_ms)
