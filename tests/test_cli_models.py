"""``hatch-funasr models``: the catalog in 80 columns, ``--wide`` and ``--json``; every command
stops quietly when the reader of its output goes away (``hatch-funasr models | head``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from hatch_funasr import catalog, cli

ROOT = Path(__file__).resolve().parents[1]


def _columns(line: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _models(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["models", *args]) == 0
    out, err = capsys.readouterr()
    assert not err
    return out


def test_default_fits_80_columns_and_names_every_alias(capsys: pytest.CaptureFixture[str]) -> None:
    out = _models(capsys)
    lines = out.splitlines()
    assert all(_columns(line) <= 80 for line in lines), max(lines, key=_columns)
    table = lines[: lines.index("")]  # then the key to the columns, and FunASR's names
    rows = {line.split()[0]: line.split()[1:] for line in table if not line[0].isspace()}
    assert list(rows) == ["alias", *(e.alias for e in catalog.entries())]
    for e in catalog.entries():
        family, *where = rows[e.alias]
        assert family == e.family
        assert where[: len(e.repos)] == list(e.repos)  # the hubs, then how it gets to ONNX
    assert rows["fsmn-vad"] == ["fsmn-vad", "ms", "hf", "ready", "ms"]
    assert rows["paraformer"] == ["paraformer", "ms", "export"]
    assert rows["cam++"] == ["campplus", "ms", "hf", "none"]
    assert rows["ngram-lm-zh"] == ["ngram-lm", "ms", "as", "is"]
    assert "    LLM-based, 31 languages; PyTorch only" in lines  # notes under their alias
    assert "FunASR's short names also resolve:" in out and "Whisper-large-v3-turbo" in out  # no hyphen breaks


def test_wide_has_every_repository(capsys: pytest.CaptureFixture[str]) -> None:
    out = _models(capsys, "--wide")
    for e in catalog.entries():
        for repo in e.all_repos():
            assert repo in out
    assert out.splitlines()[0].split() == ["alias", "family", "ModelScope", "Hugging", "Face", "ready", "ONNX",
                                           "(ModelScope)", "ready", "ONNX", "(Hugging", "Face)", "note"]  # fmt: skip


def test_json_is_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads(_models(capsys, "--json"))
    assert [r["alias"] for r in records] == [e.alias for e in catalog.entries()]
    vad = next(r for r in records if r["alias"] == "fsmn-vad")
    assert vad == {
        "alias": "fsmn-vad",
        "family": "fsmn-vad",
        "ModelScope": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
        "Hugging Face": "funasr/fsmn-vad",
        "ready ONNX (ModelScope)": "iic/speech_fsmn_vad_zh-cn-16k-common-onnx",
        "ready ONNX (Hugging Face)": "-",
        "note": "",
    }


@pytest.mark.parametrize("args", [["models"], ["models", "--wide"], ["models", "--json"], ["--help"]])
def test_a_reader_gone_away_ends_it_quietly(args: list[str]) -> None:
    """``hatch-funasr models | head -1``, made certain: the read end of the pipe is closed before
    the command writes a byte, so its first write fails (EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hatch_funasr", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.stderr == ""  # no traceback, no "Exception ignored"
    assert result.returncode in (0, 1)


def test_head_reads_the_first_line(tmp_path: Path) -> None:
    """The shell pipeline as a user types it."""
    command = f'"{sys.executable}" -m hatch_funasr models --wide | head -1'
    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60
    )
    assert result.stdout.split()[:2] == ["alias", "family"]
    assert result.stderr == ""
