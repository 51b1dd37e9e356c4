"""Packing benchmark: hatch-funasr vs the floor (zip -0 + sha256sum) vs stock hatchling.

    python benchmarks/bench.py --size-mib 512 [--out benchmarks/results-512.md]

Generates a real ONNX model (one MatMul with a float32 weight of the chosen size, random
values: like trained weights they barely compress), puts it in a local FSMN-VAD-shaped model
directory, and measures in one run, side by side:

- hatch-funasr: `python -m build --wheel --no-isolation` of a bundle declaring that directory
  (cold, then a warm rebuild), with peak RSS from /usr/bin/time -v;
- the floor for a wheel with a RECORD: `zip -0 -r` of the same files plus one `sha256sum` pass;
- stock hatchling: the same files through `force-include`, no plugin (deflate level 6);
- install time of each wheel with `pip install --no-deps` and `uv pip install --no-deps`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from support import realvad  # noqa: E402  (after the path set-up above)


def make_model(path: Path, size_mib: int) -> None:
    """A valid ONNX graph: y = x @ W with W float32 [n, 1024] of about ``size_mib`` MiB.

    Under 1.9 GiB the weight is inside model.onnx; above (protobuf stops at 2 GiB) it is
    written, in chunks, to ``model.onnx.data`` as ONNX external data.
    """
    cols = 1024
    rows = max(1, size_mib * 2**20 // (4 * cols))
    rng = np.random.default_rng(0)
    if size_mib < 1900:
        weight = helper.make_tensor(
            "W", TensorProto.FLOAT, [rows, cols], rng.standard_normal((rows, cols), np.float32).tobytes(), raw=True
        )
    else:
        data = path.with_name(path.name + ".data")
        with data.open("wb") as f:
            for start in range(0, rows, 16384):
                f.write(rng.standard_normal((min(16384, rows - start), cols), np.float32).tobytes())
        weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[rows, cols])
        for key, value in (("location", data.name), ("offset", "0"), ("length", str(rows * cols * 4))):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
        weight.data_location = TensorProto.EXTERNAL
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["speech", "W"], ["logits"], name="matmul")],
        "bench",
        [helper.make_tensor_value_info("speech", TensorProto.FLOAT, ["T", rows])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["T", cols])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="hatch-funasr-bench")
    path.write_bytes(model.SerializeToString())


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int | None]:
    """Wall seconds and peak RSS (KiB, from /usr/bin/time -v) of a command."""
    full = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    start = time.perf_counter()
    result = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{result.stdout}\n{result.stderr}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return elapsed, int(match.group(1)) if match else None


def project(root: Path, name: str, body: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n{body}'
    )
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--out", type=Path, help="write the markdown table here as well")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hatch-funasr-bench-"))
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600", "HATCH_FUNASR_CACHE": str(work / "cache")}
    py = sys.executable
    rows: list[tuple[str, str, str]] = []
    try:
        models = work / "models" / "vad"
        realvad.write_model(models, ("config.yaml", "am.mvn"))
        make_model(models / "model.onnx", args.size_mib)
        size = sum(p.stat().st_size for p in models.iterdir())

        ours = project(
            work / "ours",
            "bench-ours",
            "[tool.hatch.build.targets.wheel.hooks.funasr]\n[tool.funasr.models]\n"
            f'vad = {{ path = "{models}" }}\n',  # model.onnx.data (>2 GiB) is found by its reference
        )
        cold, rss = timed([py, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], ours, env)
        warm, rss_warm = timed([py, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist2", "."], ours, env)

        stock = project(
            work / "stock",
            "bench-stock",
            f'[tool.hatch.build.targets.wheel.force-include]\n"{models}" = "bench_stock/models/vad"\n',
        )
        stock_t, stock_rss = timed(
            [py, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], stock, env
        )

        start = time.perf_counter()
        subprocess.run(["zip", "-0", "-q", "-r", str(work / "floor.zip"), "."], cwd=models, check=True)
        subprocess.run(["sha256sum", *sorted(str(p) for p in models.iterdir())], check=True, capture_output=True)
        floor = time.perf_counter() - start

        our_wheel = next((ours / "dist").glob("*.whl"))
        stock_wheel = next((stock / "dist").glob("*.whl"))
        installs = {}
        for label, wheel in (("ours", our_wheel), ("stock", stock_wheel)):
            for tool in ("pip", "uv"):
                target = work / f"venv-{label}-{tool}"
                subprocess.run([py, "-m", "venv", "--without-pip", str(target)], check=True)
                cmd = (
                    [
                        py,
                        "-m",
                        "pip",
                        "--python",
                        str(target / "bin" / "python"),
                        "install",
                        "-q",
                        "--no-deps",
                        str(wheel),
                    ]
                    if tool == "pip"
                    else [
                        shutil.which("uv") or str(Path(py).with_name("uv")),
                        "pip",
                        "install",
                        "-q",
                        "--no-deps",
                        "--python",
                        str(target / "bin" / "python"),
                        str(wheel),
                    ]
                )
                installs[(label, tool)], _ = timed(cmd, work)

        mib = size / 2**20
        rows = [
            ("model directory", f"{mib:.0f} MiB", " + ".join(sorted(f.name for f in models.iterdir()))),
            ("floor: zip -0 + sha256sum", f"{floor:.2f} s", "one write pass + one hash pass"),
            (
                "hatch-funasr build (cold)",
                f"{cold:.2f} s",
                f"{cold / floor:.2f} x floor; peak RSS {rss / 1024:.0f} MiB" if rss else f"{cold / floor:.2f} x floor",
            ),
            (
                "hatch-funasr build (warm rebuild)",
                f"{warm:.2f} s",
                f"peak RSS {rss_warm / 1024:.0f} MiB" if rss_warm else "",
            ),
            (
                "stock hatchling force-include",
                f"{stock_t:.2f} s",
                f"{stock_t / cold:.1f} x slower than hatch-funasr; peak RSS {stock_rss / 1024:.0f} MiB"
                if stock_rss
                else "",
            ),
            (
                "wheel size: hatch-funasr / stock",
                f"{our_wheel.stat().st_size / 2**20:.0f} / {stock_wheel.stat().st_size / 2**20:.0f} MiB",
                "stored vs deflated",
            ),
            (
                "pip install: hatch-funasr / stock",
                f"{installs[('ours', 'pip')]:.2f} / {installs[('stock', 'pip')]:.2f} s",
                "",
            ),
            (
                "uv pip install: hatch-funasr / stock",
                f"{installs[('ours', 'uv')]:.2f} / {installs[('stock', 'uv')]:.2f} s",
                "",
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"command: `python benchmarks/bench.py --size-mib {args.size_mib}`\n\n"
        "| measure | value | note |\n|---|---|---|\n"
    )
    table = header + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
