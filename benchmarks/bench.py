"""Benchmarks of hatch-funasr against honest floors, measured side by side.

    python benchmarks/bench.py pack  --size-mib 512  [--rounds 5] [--stock] [--out FILE]
    python benchmarks/bench.py cold  --size-mib 512  [--rounds 5] [--rate-mbps R] [--out FILE]
    python benchmarks/bench.py small --files 2000    [--rounds 5] [--out FILE]
    python benchmarks/bench.py quant-hit             [--rounds 5] [--out FILE]

Each scenario runs its commands in alternation (round 1: A, B, C; round 2: A, B, C; ...) so
the machine's noise falls on all of them alike, and reports each command's min and median
wall time, its peak RSS (``/usr/bin/time -v``) and its ratio to the scenario's baseline
(median over median, and min over min).  Only these ratios are claimed.

Builds run in a venv like an isolated build's (hatchling and this checkout only).

- ``pack``: a local model directory (a real ONNX graph whose float32 weight is the given size,
  in ``model.onnx`` or, from 1.9 GiB, ``model.onnx.data``, plus FSMN-VAD side files) packed by
  hatch-funasr (``hatchling.build.build_wheel`` in a fresh interpreter) against the one-pass
  writer (``benchmarks/floor.py``: reads each byte once, sha256 with hashlib while writing a
  stored zip), ``zip -0`` + ``sha256sum``, and (``--stock``) stock hatchling's force-include.
- ``cold``: the same model published on a loopback hub (``tests/support/hubserver.py``, its
  own process); hatch-funasr's cold build (empty cache, unlocked) against each official
  client's own download of the same files (``huggingface_hub.snapshot_download``,
  ``modelscope_hub.HubApi.download_repo``), for both hubs.
- ``small``: a local model with ``--files`` small text files (``include``) against the
  one-pass writer over the same files.
- ``quant-hit``: a local fp32 FSMN-VAD (the real one) built with ``quantize = true`` from a
  warm derived cache against the same model built without quantization.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
from support import realvad  # noqa: E402  (after the path set-up above)

PY = sys.executable
#: ``hatchling.build.build_wheel`` as a frontend calls it, run by the build environment's Python
#: (see :func:`build_env`).
BUILD_WHEEL = "import hatchling.build as b; b.build_wheel('dist')"
BUILD = [PY, "-c", BUILD_WHEEL]


def build_env(work: Path) -> list[str]:
    """A venv like the one an isolated build gets: hatchling and this checkout of hatch-funasr
    with its dependencies and the ``quantize`` extra, nothing else (hatchling scans every
    installed distribution's entry points at start-up, so a crowded venv would add its own
    cost to every build).  Installed with uv from its cache; the build command to run there."""
    uv = shutil.which("uv") or str(Path(PY).with_name("uv"))
    venv = work / "build-venv"
    subprocess.run([uv, "venv", "--quiet", "--python", PY, str(venv)], check=True)
    python = venv / "bin" / "python"
    # Byte-compiled at install, as pip does (uv does not by default; PYTHONDONTWRITEBYTECODE may be set).
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    subprocess.run([*install, f"{ROOT}[quantize]"], check=True)
    return [str(python), "-c", BUILD_WHEEL]


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


def project(root: Path, name: str, body: str, requires: str = "hatchling") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n{body}'
    )
    return root


def bundle(root: Path, name: str, models: str) -> Path:
    return project(root, name, f"[tool.hatch.build.targets.wheel.hooks.funasr]\n[tool.funasr.models]\n{models}")


@dataclass
class Command:
    """One measured command: its argv and directory, and what to reset before each run."""

    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[], None] = lambda: None
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    def run(self) -> None:
        self.before()
        full = ["/usr/bin/time", "-v", *self.argv] if Path("/usr/bin/time").exists() else self.argv
        start = time.perf_counter()
        result = subprocess.run(
            full, cwd=self.cwd, env={**os.environ, **self.env}, capture_output=True, text=True, check=False
        )
        self.times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{self.label}: {self.argv} failed:\n{result.stdout}\n{result.stderr}")
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
        if match:
            self.rss_kib.append(int(match.group(1)))


def alternate(commands: list[Command], rounds: int) -> None:
    for _ in range(rounds):
        for command in commands:
            command.run()


def table(title: str, command_line: str, commands: list[Command], baseline: Command, notes: list[str]) -> str:
    lines = [
        f"### {title}",
        "",
        f"`{command_line}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; {len(baseline.times)} alternated rounds.",
        "",
        f"| command | min s | median s | median / {baseline.label} | min / {baseline.label} | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    base_med, base_min = statistics.median(baseline.times), min(baseline.times)
    for c in commands:
        med, low = statistics.median(c.times), min(c.times)
        rss = f"{max(c.rss_kib) / 1024:.0f}" if c.rss_kib else "-"
        lines.append(f"| {c.label} | {low:.2f} | {med:.2f} | {med / base_med:.2f} | {low / base_min:.2f} | {rss} |")
    return "\n".join([*lines, "", *notes, ""])


def clear(*paths: Path) -> Callable[[], None]:
    def reset() -> None:
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)

    return reset


def scenario_pack(work: Path, args: argparse.Namespace) -> str:
    models = work / "models" / "vad"
    realvad.write_model(models, ("config.yaml", "am.mvn"))
    make_model(models / "model.onnx", args.size_mib)
    env = {"SOURCE_DATE_EPOCH": "1767225600", "HATCH_FUNASR_CACHE": str(work / "cache")}
    ours = bundle(work / "ours", "bench-ours", f'vad = {{ path = "{models}" }}\n')
    commands = [
        Command("one-pass writer", [PY, str(HERE / "floor.py"), str(models), str(work / "floor.zip")], work),
        Command("hatch-funasr", BUILD, ours, env, clear(ours / "dist")),
        Command(
            "zip -0 + sha256sum",
            ["sh", "-c", f'zip -0 -q -r "{work}/zip.zip" . && sha256sum * >/dev/null'],
            models,
            before=lambda: (work / "zip.zip").unlink(missing_ok=True),
        ),
    ]
    if args.stock:
        stock = project(
            work / "stock",
            "bench-stock",
            f'[tool.hatch.build.targets.wheel.force-include]\n"{models}" = "s/models/vad"\n',
        )
        commands.append(Command("stock hatchling force-include", BUILD, stock, env, clear(stock / "dist")))
    alternate(commands, args.rounds)
    size = sum(p.stat().st_size for p in models.iterdir()) / 2**20
    notes = [f"Model directory: {size:.0f} MiB ({', '.join(sorted(p.name for p in models.iterdir()))})."]
    stock_flag = " --stock" if args.stock else ""
    line = f"python benchmarks/bench.py pack --size-mib {args.size_mib} --rounds {args.rounds}{stock_flag}"
    return table(f"Packing a {args.size_mib} MiB local model", line, commands, commands[0], notes)


def _start_hub(store_root: Path, rate_mbps: float) -> tuple[subprocess.Popen[str], str]:
    rate = ["--rate-mbps", str(rate_mbps)] if rate_mbps else []
    server = subprocess.Popen(
        [PY, str(ROOT / "tests" / "support" / "hubserver.py"), "--root", str(store_root), *rate],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def scenario_cold(work: Path, args: argparse.Namespace) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.hubserver import RepoStore

    source = work / "source"
    realvad.write_model(source, ("config.yaml", "am.mvn"))
    make_model(source / "model.onnx", args.size_mib)
    files = sorted(p.name for p in source.iterdir())
    repo = "bench/big-vad-onnx"
    RepoStore(work / "store").publish(repo, {n: source / n for n in files}, tags=["v1"])
    server, url = _start_hub(work / "store", args.rate_mbps)
    try:
        env = {
            "HF_ENDPOINT": url,
            "MODELSCOPE_ENDPOINT": url,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HATCH_FUNASR_CACHE": str(work / "cache"),
            "HF_HOME": str(work / "hf-home"),
            "MODELSCOPE_CACHE": str(work / "ms-home"),
            "SOURCE_DATE_EPOCH": "1767225600",
        }
        hf_get = (
            "import sys; from huggingface_hub import snapshot_download; "
            f"snapshot_download({repo!r}, revision='v1', allow_patterns={files!r}, local_dir=sys.argv[1], "
            f"endpoint={url!r})"
        )
        ms_get = (
            "import sys; from modelscope_hub import HubApi; "
            f"HubApi(endpoint={url!r}).download_repo({repo!r}, 'model', revision='v1', "
            f"allow_patterns={files!r}, local_dir=sys.argv[1])"
        )
        commands = []
        for hub, get in (("hf", hf_get), ("ms", ms_get)):
            target = work / f"{hub}-client"
            commands.append(
                Command(
                    f"{hub}: client download",
                    [PY, "-c", get, str(target)],
                    work,
                    env,
                    clear(target, work / "hf-home", work / "ms-home"),
                )
            )
            ours = bundle(
                work / f"ours-{hub}",
                f"bench-cold-{hub}",
                f'vad = {{ model = "{repo}", hub = "{hub}", revision = "v1", family = "fsmn-vad" }}\n',
            )
            commands.append(
                Command(f"{hub}: hatch-funasr cold build", BUILD, ours, env, clear(ours / "dist", work / "cache"))
            )
        alternate(commands, args.rounds)
    finally:
        server.terminate()
        server.wait()
    link = f" over a {args.rate_mbps:g} MB/s link" if args.rate_mbps else " (loopback, unthrottled)"
    rate = f" --rate-mbps {args.rate_mbps:g}" if args.rate_mbps else ""
    rows = table(
        f"Cold build of a {args.size_mib} MiB hub model vs the official clients{link}",
        f"python benchmarks/bench.py cold --size-mib {args.size_mib} --rounds {args.rounds}{rate}",
        commands,
        commands[0],
        [
            "Ratios per hub: "
            + "; ".join(
                f"{commands[i + 1].label} / {commands[i].label}: median "
                f"{statistics.median(commands[i + 1].times) / statistics.median(commands[i].times):.2f}, min "
                f"{min(commands[i + 1].times) / min(commands[i].times):.2f}"
                for i in (0, 2)
            )
            + ". The build also writes the wheel; the clients only download.",
        ],
    )
    return rows


def scenario_small(work: Path, args: argparse.Namespace) -> str:
    models = work / "models" / "vad"
    realvad.write_model(models, ("model.onnx", "config.yaml", "am.mvn"))
    extra = models / "extra"
    extra.mkdir()
    rng = np.random.default_rng(0)
    for i in range(args.files):
        words = " ".join(f"w{int(x)}" for x in rng.integers(0, 5000, 300))
        (extra / f"f{i:05d}.txt").write_text(words + "\n")
    env = {"SOURCE_DATE_EPOCH": "1767225600", "HATCH_FUNASR_CACHE": str(work / "cache")}
    ours = bundle(work / "ours", "bench-small", f'vad = {{ path = "{models}", include = ["extra/*.txt"] }}\n')
    include = f'[tool.hatch.build.targets.wheel.force-include]\n"{models}" = "s/models/vad"\n'
    stock = project(work / "stock", "bench-stock", include)
    empty = project(work / "empty", "bench-empty", "[tool.hatch.build.targets.wheel]\nbypass-selection = true\n")
    commands = [
        Command("one-pass writer", [PY, str(HERE / "floor.py"), str(models), str(work / "floor.zip")], work),
        Command("hatch-funasr", BUILD, ours, env, clear(ours / "dist")),
        Command("stock hatchling force-include", BUILD, stock, env, clear(stock / "dist")),
        Command("hatchling, empty wheel (start-up)", BUILD, empty, env, clear(empty / "dist")),
    ]
    alternate(commands, args.rounds)
    size = sum(p.stat().st_size for p in extra.iterdir()) / 2**20
    notes = [f"{args.files} text files, {size:.1f} MiB together, plus the real FSMN-VAD (1.7 MB)."]
    return table(
        f"{args.files} small files",
        f"python benchmarks/bench.py small --files {args.files} --rounds {args.rounds}",
        commands,
        commands[0],
        notes,
    )


def scenario_quant_hit(work: Path, args: argparse.Namespace) -> str:
    models = work / "models" / "vad"
    realvad.write_model(models, ("model.onnx", "config.yaml", "am.mvn"))
    env = {"SOURCE_DATE_EPOCH": "1767225600", "HATCH_FUNASR_CACHE": str(work / "cache")}
    plain = bundle(work / "plain", "bench-plain", f'vad = {{ path = "{models}" }}\n')
    quant = bundle(work / "quant", "bench-quant", f'vad = {{ path = "{models}", quantize = true }}\n')
    warm = subprocess.run(BUILD, cwd=quant, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if warm.returncode != 0:
        raise SystemExit(warm.stderr)
    commands = [
        Command("build without quantization", BUILD, plain, env, clear(plain / "dist")),
        Command("quantize = true, cache hit", BUILD, quant, env, clear(quant / "dist")),
    ]
    alternate(commands, args.rounds)
    return table(
        "Quantization cache hit",
        f"python benchmarks/bench.py quant-hit --rounds {args.rounds}",
        commands,
        commands[0],
        ["The real FSMN-VAD (model.onnx 1.7 MB); the hit ships model.onnx and the cached model_quant.onnx."],
    )


SCENARIOS = {"pack": scenario_pack, "cold": scenario_cold, "small": scenario_small, "quant-hit": scenario_quant_hit}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=list(SCENARIOS))
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stock", action="store_true", help="pack: also stock hatchling (slow: deflate)")
    parser.add_argument("--rate-mbps", type=float, default=0.0, help="cold: the hub serves at about this rate")
    parser.add_argument("--out", type=Path, help="write the markdown table here as well")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hatch-funasr-bench-"))
    global BUILD  # noqa: PLW0603  (one build command for every scenario of this run)
    try:
        BUILD = build_env(work)
        text = SCENARIOS[args.scenario](work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
