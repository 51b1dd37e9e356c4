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


#: What the silence around the speech is, as recordings have it: exact digital zero (a file
#: padded without processing), ``dither`` (+-1 LSB, what sox leaves wherever it resamples or
#: reduces bit depth, silence included), or a noise floor: ``pink-60`` (pink noise at -60 dBFS,
#: a quiet room and a good microphone) and ``brown-50`` (brown noise at -50 dBFS, mains hum and
#: a laptop fan).  Every one is deterministic (``sox -R`` seeds its random generators).
BACKGROUNDS = ("digital", "dither", "pink-60", "brown-50")


def make_utterance(
    dest: Path, *, lead_s: float = 1.5, tail_s: float = 1.5, text: str = TEXT, background: str = "digital"
) -> Utterance:
    """A 16 kHz mono 16-bit wav: ``lead_s`` of silence, the utterance, ``tail_s`` of silence;
    the silence (and the speech) carries ``background`` (one of :data:`BACKGROUNDS`)."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background {background!r}: expected one of {', '.join(BACKGROUNDS)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    raw = dest.with_suffix(".raw.wav")
    speech = dest.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(raw), text], check=True)
    # Trim espeak's own leading and trailing silence so the speech bounds are known exactly.
    subprocess.run(
        [
            "sox",
            "-R",
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
    with wave.open(str(speech)) as w:
        speech_ms = round(w.getnframes() * 1000 / w.getframerate())
    if background == "dither":  # padded in float, then to 16 bits the way sox does it: dithered
        wide = dest.with_suffix(".float.wav")
        subprocess.run(
            ["sox", "-R", str(speech), "-b", "32", "-e", "float", str(wide), "pad", str(lead_s), str(tail_s)],
            check=True,
        )
        subprocess.run(["sox", "-R", str(wide), "-b", "16", "-e", "signed-integer", str(dest), "dither"], check=True)
        wide.unlink()
    else:
        subprocess.run(["sox", "-R", str(speech), str(dest), "pad", str(lead_s), str(tail_s)], check=True)
    if background in ("pink-60", "brown-50"):
        colour, level = background.split("-")
        padded = dest.with_suffix(".padded.wav")
        noise = dest.with_suffix(".noise.wav")
        dest.rename(padded)
        seconds = f"{lead_s + speech_ms / 1000 + tail_s:.3f}"
        synth = ["synth", seconds, f"{colour}noise", "vol", f"-{level}dB"]
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(noise), *synth], check=True)
        subprocess.run(["sox", "-R", "-m", "-v", "1", str(padded), "-v", "1", str(noise), str(dest)], check=True)
        padded.unlink()
        noise.unlink()
    with wave.open(str(dest)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        total_ms = round(w.getnframes() * 1000 / w.getframerate())
    raw.unlink()
    speech.unlink()
    start = round(lead_s * 1000)
    return Utterance(dest, start, start + speech_ms, total_ms)
