"""``hatch-funasr``: the catalog, a no-network check of the declaration, cache filling, wheel inspection."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hatch_funasr import __version__, catalog
from hatch_funasr import _bundle_runtime as runtime
from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.context import BuildContext
from hatch_funasr.digest import hash_stream
from hatch_funasr.errors import FunasrBuildError, disk_errors
from hatch_funasr.families import FAMILIES
from hatch_funasr.hubs import HUBS
from hatch_funasr.lock import LOCK_NAME, mismatches, read_lock, write_lock
from hatch_funasr.model import BundleConfig
from hatch_funasr.package import MANIFEST_NAME
from hatch_funasr.pipeline import Plan, fetch_files, lock_models, open_sources, plan, select
from hatch_funasr.settings import EnvVars, Settings

__all__ = ["main"]


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_models(args: argparse.Namespace) -> int:
    header = ["alias", "family"]
    header += [h.label for h in HUBS.values()] + [f"ready ONNX ({h.label})" for h in HUBS.values()] + ["note"]
    rows = [tuple(header)]
    for e in catalog.entries():
        repos = [e.repos.get(h, "-") for h in HUBS] + [e.onnx.get(h, "-") for h in HUBS]
        rows.append((e.alias, e.family, *repos, e.note))
    if args.json:
        print(json.dumps([dict(zip(rows[0], r, strict=True)) for r in rows[1:]], indent=2, ensure_ascii=False))
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    print(
        "\nFunASR's short names also resolve: "
        + ", ".join(sorted({n for e in catalog.entries() for n in e.funasr_names}))
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.project)
    lock = read_lock(args.project.resolve())
    settings = Settings.from_env()
    cache = Cache.from_settings(settings) if settings.cache_root.is_dir() else None  # read only: never created here
    print(f"{config.project_name} {config.version}: {len(config.models)} model(s) into package {config.package}")
    plans = plan(config, lock=lock, cache=cache)
    for p in plans:
        print(f"\n{p.name}: {p.source}  [{p.family}, {p.format}] -> {p.target}")
        for step in p.steps:
            print(f"  - {step}")
        for problem in p.problems:
            print(f"  ! {problem}")
    hub_models = [m for m in config.models if m.path is None]
    if lock is None and hub_models:
        print(
            f"\nno {LOCK_NAME}: revisions are resolved when the wheel is built; run `hatch-funasr lock` once on a "
            "connected machine to pin every model to a commit and every file to its sha256"
        )
    elif lock is not None:
        problems = mismatches(config, lock)
        for problem in problems:
            print(f"\n{LOCK_NAME}: {problem}")
        if problems:
            _err(f"error: {LOCK_NAME} does not match the declaration; run `hatch-funasr lock` (or --upgrade NAME)")
            return 1
        size = sum(f.size for e in lock.models.values() for f in e.files)
        print(f"\n{LOCK_NAME}: {len(lock.models)} model(s) pinned, {size / 2**20:.1f} MiB of files")
    servers = _server_fit(config, plans)
    if servers:
        print("\nFunASR's C++ programs (`python -m " + config.package + " exec-server PROGRAM`):")
        for line in servers:
            print(f"  {line}")
    failing = [f"model {p.name}: {problem}" for p in plans for problem in p.problems]
    if failing:
        _err("error: the build would fail:\n" + "\n".join(f"  {f}" for f in failing))
        return 1
    print("\nok: the declaration is valid (no network was used)")
    return 0


def _server_fit(config: BundleConfig, plans: list[Plan]) -> list[str]:
    """Which of FunASR's servers the bundle starts, with the roles it turns off, or why not."""
    models = {
        m.name: {"server_flag": FAMILIES[m.family].server_flag, "family": m.family, "runtime": p.runtime}
        for m, p in zip(config.models, plans, strict=True)
        if (FAMILIES[m.family].server_flag and m.format == "onnx") or FAMILIES[m.family].plain
    }
    if not models:
        return []
    lines = []
    for program in ("funasr-wss-server", "funasr-wss-server-2pass", "run_server.sh", "run_server_2pass.sh"):
        try:
            _args, notes = runtime.plan_for(program, models, lambda name: f"models/{name}")
        except runtime.ServerError as e:
            lines.append(f"{program}: no; " + "; ".join(line.strip(" -") for line in str(e).splitlines()[1:]))
            continue
        off = [n.split(":")[0] for n in notes]
        lines.append(f"{program}: yes" + (f" (turned off: {', '.join(off)})" if off else ""))
    return lines


def cmd_lock(args: argparse.Namespace) -> int:
    root = args.project.resolve()
    config = load_config(root)
    old = read_lock(root)
    upgrade = None if args.upgrade is None else set(args.upgrade)
    unknown = (upgrade or set()) - {m.name for m in config.models}
    if unknown:
        _err(f"error: --upgrade names no declared model: {', '.join(sorted(unknown))}")
        return 1
    with tempfile.TemporaryDirectory(prefix="hatch-funasr-lock-") as work:
        lock = lock_models(config, BuildContext.create(Path(work), lock=old, report=_err), upgrade=upgrade)
    changed = write_lock(root, lock)
    print(f"{root / LOCK_NAME}: {'written' if changed else 'unchanged'} ({len(lock.models)} model(s))")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    root = args.project.resolve()
    config = load_config(root)
    with tempfile.TemporaryDirectory(prefix="hatch-funasr-fetch-") as work:
        ctx = BuildContext.create(Path(work), lock=read_lock(root), report=_err)
        for source in open_sources(config, ctx):
            model = source.model
            if model.path is not None:
                print(f"{model.name}: local directory {model.path}, nothing to fetch")
                continue
            files = fetch_files(source, select(model, source).files, ctx).files
            size = sum(r.size for r in files.values())
            print(f"{model.name}: {model.repo}@{source.commit} {len(files)} files, {size / 2**20:.1f} MiB cached")
    print(f"cache: {ctx.cache.root}")
    return 0


def _verify_wheel(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> list[str]:
    """Re-hash every model file inside the wheel against the manifest (streamed)."""
    problems = []
    package = manifest["bundle"]["package"]
    for name, m in sorted(manifest["models"].items()):
        for rel, f in sorted(m["files"].items()):
            arcname = f"{package}/{m['dir']}/{rel}"
            try:
                with zf.open(arcname) as member:
                    digest = hash_stream(member, f["size"])
            except KeyError:
                problems.append(f"{name}: {arcname}: missing from the wheel")
                continue
            if (digest.size, digest.sha256) != (f["size"], f["sha256"]):
                problems.append(f"{name}: {arcname}: sha256 {digest.sha256}, expected {f['sha256']}")
    return problems


def cmd_inspect(args: argparse.Namespace) -> int:
    with zipfile.ZipFile(args.wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith("/" + MANIFEST_NAME) and n.count("/") == 1]
        if not names:
            _err(f"{args.wheel}: no {MANIFEST_NAME}; not a hatch-funasr bundle wheel")
            return 1
        info = zf.getinfo(names[0])
        with zf.open(info) as member:  # bounded: a wheel is not trusted (a deflate bomb stays a small read)
            data = member.read(runtime.MAX_MANIFEST + 1)
        if len(data) > runtime.MAX_MANIFEST:
            _err(f"{args.wheel}: {names[0]} is over {runtime.MAX_MANIFEST} bytes: not a manifest")
            return 1
        manifest = json.loads(data)
        problems = _verify_wheel(zf, manifest)
    if args.json:
        print(json.dumps({**manifest, "verify": problems or "ok"}, indent=2, sort_keys=True))
        return 1 if problems else 0
    b = manifest["bundle"]
    generator = manifest["generator"]["hatch-funasr"]
    print(f"{b['name']} {b['version']} (package {b['package']}), built by hatch-funasr {generator}")
    for name, m in sorted(manifest["models"].items()):
        origin = f"{m['hub']}:{m['repo']}@{m['commit']}" if m.get("repo") else f"path:{m.get('path')}"
        mode = f", runtime {m['runtime']}" if m.get("runtime") else ""
        print(f"\n{name}: {origin}  [{m['family']}, {m['format']}{mode}]")
        for extra in m.get("extra", []):
            print(f"  + {', '.join(extra['files'])} from {extra['hub']}:{extra['repo']}@{extra['commit']}")
        derived = set(m.get("derived", []))
        for rel, f in sorted(m["files"].items()):
            print(f"  {f['size']:>12,}  {f['sha256'][:16]}  {rel}{'  (made here)' if rel in derived else ''}")
        for advice in m.get("advice", []):
            print(f"  note: {advice}")
    if problems:
        _err("\nverify: FAILED\n" + "\n".join(f"  {p}" for p in problems))
        return 1
    print("\nverify: ok, every model file matches the manifest")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hatch-funasr", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hatch-funasr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="print the catalog")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)
    for name, func, text in (
        ("check", cmd_check, "validate the declaration and show the plan (no network)"),
        ("lock", cmd_lock, f"resolve revisions to commits and write {LOCK_NAME}"),
        ("fetch", cmd_fetch, "fill the cache for every declared model (for a later offline build)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--project", type=Path, default=Path.cwd(), help="project directory (default: .)")
        p.set_defaults(func=func)
        if name == "lock":
            p.add_argument("--upgrade", nargs="*", metavar="NAME", help="re-resolve these models (all if none named)")
    p = sub.add_parser("inspect", help="show a built wheel's models, files and provenance")
    p.add_argument("wheel", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with disk_errors("cannot write", f"free space, or point {EnvVars.CACHE} at a writable disk"):
            return int(args.func(args))
    except FunasrBuildError as e:
        _err(f"error: {e}")
        return 1
    except FileNotFoundError as e:
        _err(f"error: {e}")
        return 1
