"""``hatch-funasr``: the catalog and the hubs' live listings, a no-network check of the declaration,
cache filling, wheel inspection."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hatch_funasr import __version__, attest, catalog, checks, sbom
from hatch_funasr import _bundle_runtime as runtime
from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.context import BuildContext
from hatch_funasr.digest import hash_file, hash_stream
from hatch_funasr.errors import FunasrBuildError, disk_errors
from hatch_funasr.families import FAMILIES, Family, detect_family
from hatch_funasr.hubs import HUBS, repo_key, search
from hatch_funasr.lock import LOCK_NAME, mismatches, read_lock, write_lock
from hatch_funasr.model import BundleConfig, HubRef, LocalDir, RemoteModel
from hatch_funasr.package import MANIFEST_NAME, extras_lines, runtime_extras
from hatch_funasr.pipeline import Plan, fetch_files, lock_models, open_sources, plan, select
from hatch_funasr.settings import EnvVars, Settings, tomllib

__all__ = ["main"]


def _err(message: str) -> None:
    print(message, file=sys.stderr)


#: ``models`` and ``models --remote`` fit this many columns unless ``--wide``.
WIDTH = 80


def _onnx_form(entry: catalog.CatalogEntry) -> str:
    """How an alias gets to ONNX, in a word or two."""
    family = FAMILIES[entry.family]
    if entry.format == "gguf":
        return "none (GGUF)"
    if family.plain:
        return "as is"
    if not family.has_onnx:
        return "none"
    return "ready " + " ".join(entry.onnx) if entry.onnx else "export"


#: What ``models``' short columns mean.
_CATALOG_KEY = (
    "hubs: where the alias's repository is (ms ModelScope, hf Hugging Face). ONNX: ready = FunASR's "
    "exported repository on that hub, fetched as it is (no torch at build); export = FunASR exports it at "
    'build (needs torch); none = PyTorch only (format = "pytorch"); as is = files the same in every '
    "format. --wide adds the repository ids, --json gives every field."
)


def cmd_models(args: argparse.Namespace) -> int:
    """``models``: the catalog, in 80 columns (alias, family, hubs, how it gets to ONNX, its note);
    ``--wide`` with every repository id, ``--json`` every field."""
    if args.remote:
        return cmd_remote(args)
    header = ["alias", "family"]
    header += [h.label for h in HUBS.values()] + [f"ready ONNX ({h.label})" for h in HUBS.values()] + ["note"]
    rows = [tuple(header)]
    for e in catalog.entries():
        repos = [e.repos.get(h, "-") for h in HUBS] + [e.onnx.get(h, "-") for h in HUBS]
        rows.append((e.alias, e.family, *repos, e.note))
    if args.json:
        print(json.dumps([dict(zip(rows[0], r, strict=True)) for r in rows[1:]], indent=2, ensure_ascii=False))
        return 0
    if args.wide:
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    else:
        # one line an alias, its note wrapped under it
        short = [("alias", "family", "hubs", "ONNX", "")]
        short += [(e.alias, e.family, " ".join(e.repos), _onnx_form(e), e.note) for e in catalog.entries()]
        widths = [max(len(r[i]) for r in short) for i in range(3)]
        for *cells, onnx, note in short:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + onnx)
            for line in _wrap(note, WIDTH - 4):
                print("    " + line)
        print("", *_wrap(_CATALOG_KEY, WIDTH), sep="\n")
    names = ", ".join(sorted({n for e in catalog.entries() for n in e.funasr_names}))
    print("", *_wrap(f"FunASR's short names also resolve: {names}", 10**6 if args.wide else WIDTH), sep="\n")
    return 0


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal columns (CJK characters take two), broken at
    spaces only: names keep their hyphens."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return textwrap.wrap(text, width - wide, break_long_words=False, break_on_hyphens=False)


@dataclass(frozen=True)
class Listed:
    """One repository of a hub's listing, as ``models --remote`` marks it."""

    hub: str
    owner: str
    repo: str
    #: The family hatch-funasr detects (catalog, else the repository name); None: not a FunASR one it knows.
    family: str | None
    #: ``this`` (the catalog says the repository is ONNX), ``catalog`` (the catalog's ready ONNX),
    #: ``named`` (named ``-onnx``: a guess by the name), ``sibling`` (a ``-onnx``-named repository in the
    #: listing: a guess by the name), ``export`` (FunASR exports it at build), ``none``, ``unknown``.
    onnx: str
    onnx_repo: str | None
    alias: str | None
    #: The model's name and table in a ``[tool.funasr.models]`` line that resolves to exactly
    #: this repository (None without a family).
    name: str | None
    table: dict[str, str] | None
    tasks: tuple[str, ...]
    downloads: int | None
    modified: str | None

    @property
    def declaration(self) -> str | None:
        return _line(self.name, self.table) if self.name and self.table else None


def _same_repo(a: str, b: str) -> bool:
    """Repo ids compared as the hubs do (:func:`hatch_funasr.hubs.repo_key`)."""
    return repo_key(a) == repo_key(b)


def _onnx_of(
    hub: str, repo: str, entry: catalog.CatalogEntry | None, family: Family | None, listed: list[str]
) -> tuple[str, str | None]:
    """Whether an ONNX form of ``repo`` exists, and where.  Only the catalog knows (a listing of
    repositories has no files): a ``-onnx`` name is said as a guess by the name (``named``,
    ``sibling``), which the build settles from the repository's files, never from its name."""
    if entry is not None and entry.is_onnx_repo(repo):
        return "this", repo
    if entry is not None and entry.onnx.get(hub):
        return "catalog", entry.onnx[hub]
    if repo.lower().endswith("-onnx"):
        return "named", repo
    base = re.sub(r"[-_]pytorch$", "", repo, flags=re.IGNORECASE)
    sibling = next((r for r in listed if _same_repo(r, f"{base}-onnx")), None)
    if sibling is not None:
        return "sibling", sibling
    if family is None:
        return "unknown", None
    return ("export" if family.has_onnx else "none"), None


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _declaration(hub: str, repo: str, entry: catalog.CatalogEntry | None, family: Family) -> tuple[str, dict[str, str]]:
    """The shortest declaration that resolves to exactly ``repo``: the catalog alias (with
    ``format = "pytorch"`` where the alias's default format would fetch its ready ONNX
    repository instead), else the repo id; always with its hub (a project's default may differ).
    Named after the alias, else the family or the repository, short enough for the line to fit."""
    table = {"model": repo, "hub": hub}
    names = [re.sub(r"[^A-Za-z0-9_-]+", "-", re.sub(r"^speech_", "", repo.split("/", 1)[1], flags=re.I))]
    if entry is not None:
        for fmt, suffix in ((family.default_format, ""), ("pytorch", "-pt")):
            resolved = entry.repo(hub, fmt)
            if resolved is not None and _same_repo(resolved, repo):
                table = {"model": entry.alias, "hub": hub} | ({"format": fmt} if suffix else {})
                names = [entry.alias + suffix, family.name + suffix]
                break
    room = min(40, max(16, WIDTH - len(_line("", table))))
    safe = [n.strip("-_").lower() for n in names if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", n)] or [family.name]
    name = next((n for n in safe if len(n) <= room), safe[-1])
    if len(name) > room:  # cut at a - or _
        cut = max(name.rfind("-", room // 2, room), name.rfind("_", room // 2, room))
        name = name[: cut if cut > 0 else room].rstrip("-_")
    return name, table


def _line(name: str, table: dict[str, str]) -> str:
    return f"{name} = {{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in table.items()) + " }"


def _wrapped(name: str, table: dict[str, str], indent: str) -> list[str]:
    r"""The declaration in ``WIDTH`` columns: as one line when it fits, else with the repo id in
    a TOML multi-line string whose lines end in ``\`` (the backslash joins them, dropping the
    newline and the indentation that follows), cut after a ``-`` or ``_``."""
    line = indent + _line(name, table)
    if len(line) <= WIDTH:
        return [line]
    inner = indent + "    "
    room = WIDTH - len(inner) - 1
    rest, parts = table["model"], []
    while len(rest) > room:
        cut = max(rest.rfind("-", room // 2, room), rest.rfind("_", room // 2, room)) + 1 or room
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    tail = ", ".join(f"{k} = {_toml(v)}" for k, v in table.items() if k != "model")
    return [
        f'{indent}{name} = {{ model = """\\',
        *(f"{inner}{part}\\" for part in parts),
        f'{inner}"""' + (f", {tail}" if tail else "") + " }",
    ]


def _listed(hub: str, found: list[tuple[str, RemoteModel]], taken: set[str]) -> list[Listed]:
    """Each repository of one hub's listing, marked; declaration names unique among ``taken``
    (all hubs' lines paste into one table)."""
    repos = [m.repo for _, m in found]
    out = []
    for owner, m in sorted(found, key=lambda item: item[1].repo.lower()):
        entry = catalog.by_repo(m.repo)
        family = FAMILIES[entry.family] if entry is not None else detect_family(m.repo)
        onnx, onnx_repo = _onnx_of(hub, m.repo, entry, family, repos)
        unique, table = None, None
        if family is not None:
            name, table = _declaration(hub, m.repo, entry, family)
            unique, n = name, 2
            if unique.lower() in taken:
                unique = f"{name}-{hub}"
            while unique.lower() in taken:
                unique, n = f"{name}-{hub}{n}", n + 1
            taken.add(unique.lower())
        out.append(
            Listed(
                hub,
                owner,
                m.repo,
                family.name if family else None,
                onnx,
                onnx_repo,
                entry.alias if entry else None,
                unique,
                table,
                m.tasks,
                m.downloads,
                m.modified,
            )
        )
    return out


#: What a name alone suggests; the build decides from the repository's files.
_BY_NAME = "by its name; the build decides from its files"
_ONNX_TEXT = {
    "this": "this repository (catalog)",
    "catalog": "{repo} (catalog)",
    "named": f"this repository, {_BY_NAME}",
    "sibling": f"{{repo}}, {_BY_NAME}",
    "export": "FunASR's export at build (needs torch), unless its files hold ONNX",
    "none": "none, PyTorch only",
    "unknown": "?",
}


def _elide(text: str, room: int) -> str:
    """``text`` in ``room`` columns, its middle replaced by ``...`` when longer."""
    if len(text) <= room:
        return text
    keep = room - 3
    return text[: keep // 2] + "..." + text[len(text) - (keep - keep // 2) :]


def _comment(text: str) -> list[str]:
    """``text`` as TOML comment lines of at most ``WIDTH`` columns."""
    return ["# " + _elide(line, WIDTH - 2) for line in textwrap.wrap(text, WIDTH - 2, break_long_words=False)]


def _block(item: Listed) -> list[str]:
    """One repository in ``WIDTH`` columns, as TOML: its id and what it is in comments, then its
    declaration (so a whole listing pastes under ``[tool.funasr.models]`` as it is)."""
    onnx = _ONNX_TEXT[item.onnx].format(repo=item.onnx_repo)
    facts = [f"family {item.family or '? (not one hatch-funasr knows: no declaration)'}", f"ONNX: {onnx}"]
    if item.alias:
        facts.append(f"alias {item.alias}")
    if item.tasks:
        facts.append(", ".join(item.tasks))
    lines = ["# " + _elide(item.repo, WIDTH - 2)]
    lines += ["#   " + line for line in textwrap.wrap("; ".join(facts), WIDTH - 4, break_long_words=False)]
    lines = [_elide(line, WIDTH) for line in lines]
    if item.name and item.table:
        lines += _wrapped(item.name, item.table, "")
    return lines


def _wide(items: list[Listed]) -> list[str]:
    """One line per repository, however wide."""
    rows = [("repository", "family", "ONNX", "alias", "[tool.funasr.models]")]
    rows += [
        (i.repo, i.family or "?", _ONNX_TEXT[i.onnx].format(repo=i.onnx_repo), i.alias or "-", i.declaration or "-")
        for i in items
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]


def cmd_remote(args: argparse.Namespace) -> int:
    """``models --remote``: what the hubs publish, marked against what hatch-funasr knows."""
    settings = args.settings
    taken: set[str] = set()
    listed = {
        hub: _listed(hub, search(hub, args.org or (), args.task, limit=args.limit, settings=settings), taken)
        for hub in ([args.hub] if args.hub else HUBS)
    }
    if args.json:
        records = [asdict(item) | {"declaration": item.declaration} for items in listed.values() for item in items]
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return 0
    sections: list[list[str]] = []
    for hub, items in listed.items():
        spec = HUBS[hub]
        shown = [i for i in items if args.all or i.family is not None]
        owners = ", ".join(args.org or spec.organisations)
        head = f"{spec.label} at {spec.where(settings)}: {owners}" + (f", task {args.task}" if args.task else "")
        head += f": {len(items)} repositories, {len(shown)} shown"
        hidden = len(items) - len(shown)
        tail = [f"({hidden} more with no FunASR family hatch-funasr knows: --all lists them)"] if hidden else []
        if args.wide:
            sections.append([head, *_wide(shown), *tail])
        else:
            section = _comment(head)
            for item in shown:
                section += ["", *_block(item)]
            sections.append(section + [line for t in tail for line in ["", *_comment(t)]])
    if not args.wide:
        sections.append(
            _comment(
                "Paste these lines under [tool.funasr.models] (comments and all): each declaration fetches "
                "exactly the repository above it; `hatch-funasr check` shows the plan."
            )
        )
    print("\n\n".join("\n".join(section) for section in sections))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.project)
    lock = read_lock(args.project.resolve())
    settings = args.settings
    cache = Cache.from_settings(settings) if settings.cache_root.is_dir() else None  # read only: never created here
    print(f"{config.project_name} {config.version}: {len(config.models)} model(s) into package {config.package}")
    plans = plan(config, lock=lock, cache=cache)
    for p in plans:
        print(f"\n{p.name}: {p.source}  [{p.family}, {p.format}] -> {p.target}")
        for step in p.steps:
            print(f"  - {step}")
        for problem in p.problems:
            print(f"  ! {problem}")
    hub_models = [m for m in config.models if isinstance(m.origin, HubRef)]
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
    extras = {k: list(v) for k, v in runtime_extras(config.models).items()}
    if extras:
        print("\nPython runtimes, extras of the wheel (on the server, or into the wheelhouse you carry):")
        for line in extras_lines(config.project_name, extras):
            print(f"  {line}")
    servers = _server_fit(config, plans)
    if servers:
        print("\nFunASR's C++ programs (`python -m " + config.package + " exec-server PROGRAM`):")
        for line in servers:
            print(f"  {line}")
    programs = _gguf_fit(config, plans)
    if programs:
        print("\nFunASR's llama.cpp programs (`python -m " + config.package + " exec-server PROGRAM -a AUDIO`):")
        for line in programs:
            print(f"  {line}")
    python_lines = _python_fit(config)
    if python_lines:
        print("\nFunASR's Python runtime (PyTorch models, funasr and torch on the server):")
        for line in python_lines:
            print(f"  {line}")
    with (args.project / "pyproject.toml").open("rb") as f:
        pyproject = tomllib.load(f)
    notes, project_problems = [], []
    for found_notes, found_problems in (
        checks.build_system(pyproject),
        checks.package_clash(config),
        checks.size_limits(config, plans),
    ):
        notes += found_notes
        project_problems += found_problems
    if notes:
        print()
        for note in notes:
            print(note)
    failing = [f"model {p.name}: {problem}" for p in plans for problem in p.problems] + project_problems
    if failing:
        _err("error: the build would fail:\n" + "\n".join(f"  {f}" for f in failing))
        return 1
    print("\nok: the declaration is valid (no network was used)")
    return 0


def _python_fit(config: BundleConfig) -> list[str]:
    """The PyTorch models ``AutoModel`` loads (``<package>.automodel(NAME)``), and whether
    ``exec-server funasr-server`` starts, with what, or why not."""
    models = {m.name: {"family": m.family, "format": m.format} for m in config.models if m.format == "pytorch"}
    if not models:
        return []
    how = f"`{config.package}.automodel(NAME)`: installed directories, no network"
    lines = [f"AutoModel: {', '.join(sorted(models))} ({how})"]
    asr = sorted(n for n, m in models.items() if m["family"] in runtime.SERVER_ASR)
    pick = ["--model-path", asr[0]] if len(asr) > 1 else []  # several: the user names one
    try:
        args, _notes = runtime.funasr_server_for(models, lambda name: name, pick)
    except runtime.ServerError as e:
        return [*lines, f"funasr-server: no; {str(e).split(': ', 1)[1]}"]
    pairs = zip(args[::2], args[1::2], strict=True)
    shown = [f"{flag} {value or repr(value)}" for flag, value in pairs if [flag, value] != pick]
    if pick:
        shown.insert(0, f"--model-path NAME, one of {', '.join(asr)}")
    return [*lines, f"funasr-server: yes ({'; '.join(shown)}; requests send model=custom)"]


def _server_fit(config: BundleConfig, plans: list[Plan]) -> list[str]:
    """Which of FunASR's C++ programs the bundle starts, with the roles it turns off, or why not."""
    models = {
        m.name: {"server_flag": FAMILIES[m.family].server_flag, "family": m.family, "runtime": p.runtime}
        for m, p in zip(config.models, plans, strict=True)
        if (FAMILIES[m.family].server_flag and m.format == "onnx") or FAMILIES[m.family].plain
    }
    if not models:
        return []
    lines = []
    for program in runtime.PROGRAMS:  # the servers, their scripts and the single-model tools
        try:
            _args, notes = runtime.plan_for(program, models, lambda name: f"models/{name}")
        except runtime.ServerError as e:
            why = [line.strip(" -").removeprefix(f"{program} ") for line in str(e).splitlines()[1:]]
            lines.append(f"{program}: no; " + "; ".join(why))
            continue
        off = [n.split(":")[0] for n in notes]
        lines.append(f"{program}: yes" + (f" (turned off: {', '.join(off)})" if off else ""))
    return lines


def _gguf_fit(config: BundleConfig, plans: list[Plan]) -> list[str]:
    """Which of FunASR's llama.cpp programs the bundle's GGUF models run in, with the files given."""
    models: dict[str, dict[str, Any]] = {
        m.name: {"format": "gguf", "family": m.family, "gguf": dict(p.gguf), "files": dict(p.gguf).values()}
        for m, p in zip(config.models, plans, strict=True)
        if p.gguf
    }
    wanted = {prog for name, m in models.items() for prog in runtime.gguf_programs(m["family"], m["gguf"])}
    lines = []
    for program in sorted(wanted):
        try:
            args, notes = runtime.gguf_plan_for(program, models, lambda name: config.model(name).dir_name)
        except runtime.ServerError as e:
            lines.append(f"{program}: no; " + "; ".join(line.strip(" -") for line in str(e).splitlines()[1:]))
            continue
        lines.append(f"{program}: yes ({' '.join(args)})" + "".join(f"; {n}" for n in notes))
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
        lock = lock_models(
            config, BuildContext.create(Path(work), settings=args.settings, lock=old, report=_err), upgrade=upgrade
        )
    changed = write_lock(root, lock)
    print(f"{root / LOCK_NAME}: {'written' if changed else 'unchanged'} ({len(lock.models)} model(s))")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    root = args.project.resolve()
    config = load_config(root)
    with tempfile.TemporaryDirectory(prefix="hatch-funasr-fetch-") as work:
        ctx = BuildContext.create(Path(work), settings=args.settings, lock=read_lock(root), report=_err)
        if ctx.offline:
            _err(f"offline ({EnvVars.OFFLINE}=1): no hub is contacted; checking that the cache holds every file")
        for source in open_sources(config, ctx):
            model = source.model
            if isinstance(model.origin, LocalDir):
                print(f"{model.name}: local directory {model.origin.path}, nothing to fetch")
                continue
            files = fetch_files(source, select(model, source).files, ctx).files
            size = sum(r.size for r in files.values())
            got = f"{len(files)} files, {size / 2**20:.1f} MiB cached"
            print(f"{model.name}: {model.origin.repo}@{source.commit} {got}")
    print(f"cache: {ctx.cache.root}")
    return 0


def _verify_wheel(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> list[str]:
    """Re-hash every model file inside the wheel against the (validated) manifest (streamed)."""
    problems = []
    package = manifest.get("bundle", {}).get("package", "")
    for name, m in sorted(manifest.get("models", {}).items()):
        for rel, f in sorted(m.get("files", {}).items()):
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
    p = runtime.printable  # every value below comes from the wheel: shown, never drawn
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
        try:
            manifest = runtime.validated(json.loads(data))
        except ValueError as e:  # not UTF-8, not JSON, or not a manifest hatch-funasr writes
            _err(
                f"error: {args.wheel}: {p(names[0])}: {p(e.problems[0] if isinstance(e, runtime.ManifestError) else e)}"
            )
            return 1
        problems = _verify_wheel(zf, manifest)
        sbom_name, sbom_line, sbom_problems = _check_sbom(zf, manifest)
        problems += sbom_problems
    if args.json:
        document = {**manifest, "sbom": sbom_name, "verify": problems or "ok"}
        print(json.dumps(document, indent=2, sort_keys=True))
        return 1 if problems else 0
    b = manifest.get("bundle", {})
    generator = p(
        manifest.get("generator", {}).get("hatch-funasr") if isinstance(manifest.get("generator"), dict) else None
    )
    print(
        f"{p(b.get('name'))} {p(b.get('version'))} (package {p(b.get('package'))}), built by hatch-funasr {generator}"
    )
    for line in extras_lines(b.get("name", ""), b.get("extras")):
        print(f"  runtime: {p(line)}")
    for name, m in sorted(manifest.get("models", {}).items()):
        origin = f"{p(m['hub'])}:{p(m['repo'])}@{p(m['commit'])}" if m.get("repo") else f"path:{p(m.get('path'))}"
        mode = f", runtime {p(m['runtime'])}" if m.get("runtime") else ""
        print(f"\n{name}: {origin}  [{p(m.get('family'))}, {p(m.get('format'))}{mode}]")
        if m.get("repo"):
            print(f"  licence: {p(m.get('license') or 'not reported by the hub')}")
        for listed in m.get("extra", []):
            extra = listed if isinstance(listed, dict) else {}
            files = ", ".join(map(p, extra.get("files") or []))
            print(f"  + {files} from {p(extra.get('hub'))}:{p(extra.get('repo'))}@{p(extra.get('commit'))}")
        derived = set(map(str, m.get("derived", [])))
        for rel, f in sorted(m.get("files", {}).items()):
            print(f"  {f['size']:>12,}  {f['sha256'][:16]}  {rel}{'  (made here)' if rel in derived else ''}")
        for kind, against in (("export_drift", "the PyTorch model"), ("quant_drift", "fp32")):
            for rel, drift in sorted((m.get(kind) or {}).items()):
                shown = f"{drift:.3g}" if isinstance(drift, float | int) else "not measurable"
                print(f"  {p(rel)}: max abs drift from {against} on a fixed input: {shown}")
        for advice in m.get("advice", []):
            print(f"  note: {p(advice)}")
    print(f"\n{p(sbom_line)}")
    if problems:
        _err("\nverify: FAILED\n" + "\n".join(f"  {p(problem)}" for problem in problems))
        return 1
    print("\nverify: ok, every model file matches the manifest")
    return 0


def _check_sbom(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> tuple[str | None, str, list[str]]:
    """The wheel's SBOM (``.dist-info/sboms/``): its name, a line about it, and where it
    disagrees with the manifest (a model or file it lacks, another sha256)."""
    names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/sboms/" + re.escape(sbom.SBOM_NAME), n)]
    if not names:
        return None, "SBOM: none (built before hatch-funasr wrote one)", [f"no .dist-info/sboms/{sbom.SBOM_NAME}"]
    with zf.open(names[0]) as member:
        data = member.read(runtime.MAX_MANIFEST + 1)
    try:
        bom: dict[str, Any] = json.loads(data) if len(data) <= runtime.MAX_MANIFEST else {}
        listed = {
            f["name"]: next((h["content"] for h in f.get("hashes", []) if h.get("alg") == "SHA-256"), None)
            for c in bom["components"]
            for f in c.get("components", [])
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return names[0], f"SBOM: {names[0]} (unreadable)", [f"{names[0]} is not a CycloneDX SBOM hatch-funasr wrote"]
    package = manifest.get("bundle", {}).get("package", "")
    expected = {
        f"{package}/{m['dir']}/{rel}": f["sha256"]
        for m in manifest.get("models", {}).values()
        for rel, f in m.get("files", {}).items()
    }
    problems = [
        f"{names[0]}: {arcname} {'is missing' if arcname not in listed else 'has another sha256'}"
        for arcname, sha in sorted(expected.items())
        if listed.get(arcname) != sha
    ]
    extra = sorted(set(listed) - set(expected))
    problems += [f"{names[0]}: lists {arcname}, which the manifest does not" for arcname in extra]
    models = len(bom["components"])
    line = f"SBOM: {names[0]} (CycloneDX {bom.get('specVersion')}, {models} model(s), {len(listed)} files)"
    return names[0], line, problems


def cmd_wheelhouse(args: argparse.Namespace) -> int:
    """Gather bundle wheels and the wheels their runtime needs into one directory, each pinned by
    its sha256 in ``requirements.txt``, with PEP 658 ``.metadata`` files beside them."""
    house: Path = args.out
    wanted = []
    for wheel in args.wheels:
        if wheel.suffix != ".whl" or not wheel.is_file():
            _err(f"error: {wheel}: not a wheel file")
            return 1
        name, version, extras = attest.name_version(attest.wheel_metadata(wheel), wheel)
        if args.runtime and args.runtime not in extras:
            has = ", ".join(extras) or "none"
            _err(
                f"error: {wheel.name}: {name} has no extra {args.runtime!r} (its extras: {has}); gather with -r instead"
            )
            return 1
        wanted.append(f"{name}[{args.runtime}]=={version}" if args.runtime else f"{name}=={version}")
    house.mkdir(parents=True, exist_ok=True)
    given = {}
    for wheel in args.wheels:
        if not (house / wheel.name).exists() or not (house / wheel.name).samefile(wheel):
            shutil.copyfile(wheel, house / wheel.name)
        given[wheel.name] = hash_file(wheel).sha256
    if args.runtime or args.requirement:
        # pip resolves what the bundles need (their extra, or the given lists).  For this machine's
        # platform `pip wheel` also builds what is published only as an sdist (jieba, which
        # funasr-onnx needs) into a wheel; for another platform only published wheels can serve.
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        verb = "download" if args.platform or args.python_version else "wheel"
        if verb == "download":
            cmd = [*pip, verb, "--only-binary=:all:", "--dest", str(house)]
        else:
            cmd = [*pip, verb, "--wheel-dir", str(house)]
        cmd += ["--find-links", str(house)]
        for link in args.find_links:
            cmd += ["--find-links", link]
        cmd += ["--no-index"] if args.no_index else []
        cmd += ["--index-url", args.index_url] if args.index_url else []
        for platform in args.platform:
            cmd += ["--platform", platform]
        cmd += ["--python-version", args.python_version] if args.python_version else []
        for req in args.requirement:
            cmd += ["-r", str(req)]
        result = subprocess.run([*cmd, *wanted], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
            _err(f"error: pip {verb} failed (exit {result.returncode}): {' / '.join(tail)}")
            return 1
    # pip may take a same-named wheel from an index instead of the one given: the given ones must stay.
    replaced = [name for name, sha in given.items() if hash_file(house / name).sha256 != sha]
    if replaced:
        _err(f"error: {', '.join(replaced)}: replaced in {house} by pip (a same-named wheel on the index?)")
        return 1
    requirements = attest.write_wheelhouse_index(house)
    count = len(list(house.glob("*.whl")))
    print(f"{house}: {count} wheels, each pinned by sha256 in {requirements.name}, with .metadata files")
    print(f"install: pip install --no-index --require-hashes --find-links {house} -r {requirements}")
    return 0


def cmd_provenance(args: argparse.Namespace) -> int:
    """Check the provenance written beside a wheel: signed by the site's key, about this wheel."""
    statement = attest.check_provenance(args.attestation, args.wheel, args.public_key)
    predicate = statement["predicate"]
    sources = predicate["buildDefinition"]["resolvedDependencies"]
    made = predicate["runDetails"]["byproducts"]
    builder = predicate["runDetails"]["builder"]
    print(f"{args.wheel.name}: the subject of {args.attestation.name} (sha256 matches)")
    if args.public_key:
        print(f"signature: ok, by {args.public_key}")
    else:
        print("signature: NOT checked (pass --public-key)")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(builder.get("version", {}).items()))
    print(f"built by {builder['id']} ({versions})")
    for dep in sources:
        print(f"  source  {dep['digest']['sha256'][:16]}  {dep['name']}")
    for item in made:
        print(f"  made    {item['digest']['sha256'][:16]}  {item['name']}: {item['annotations']['made_by']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hatch-funasr", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hatch-funasr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="print the catalog, or (--remote) what the hubs publish")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--remote", action="store_true", help="list what the hubs publish (needs the network)")
    p.add_argument("--hub", choices=list(HUBS), help="with --remote: one hub (default: all)")
    p.add_argument("--task", help="with --remote: the hub's task name (ModelScope auto-speech-recognition, …)")
    p.add_argument("--org", action="append", help="with --remote: an organisation (repeatable; default the hub's)")
    p.add_argument("--limit", type=int, default=500, help="with --remote: at most this many per organisation")
    p.add_argument("--all", action="store_true", help="with --remote: also repositories of no known family")
    p.add_argument("--wide", action="store_true", help="one line per alias (or repository), however wide")
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
    p = sub.add_parser("wheelhouse", help="gather bundle and runtime wheels, pinned by sha256, for the far side")
    p.add_argument("wheels", type=Path, nargs="+", metavar="WHEEL", help="bundle wheel(s)")
    p.add_argument("-o", "--out", type=Path, required=True, help="the wheelhouse directory (created)")
    p.add_argument("--runtime", metavar="EXTRA", help="also the wheels of this extra of each bundle (onnx, torch)")
    p.add_argument("-r", "--requirement", type=Path, action="append", default=[], help="also these (pip -r)")
    p.add_argument("--find-links", action="append", default=[], metavar="URL", help="passed to pip")
    p.add_argument("--index-url", metavar="URL", help="passed to pip")
    p.add_argument("--no-index", action="store_true", help="passed to pip")
    p.add_argument(
        "--platform", action="append", default=[], help="the far side's platform tag (published wheels only)"
    )
    p.add_argument("--python-version", help="the far side's Python, e.g. 3.11 (published wheels only)")
    p.set_defaults(func=cmd_wheelhouse)
    p = sub.add_parser("provenance", help="check the provenance written beside a wheel (signature, subject)")
    p.add_argument("attestation", type=Path, help="<name>-<version>.intoto.jsonl")
    p.add_argument("--wheel", type=Path, required=True, help="the wheel it must be about")
    p.add_argument("--public-key", type=Path, help="the site's public key (PEM) the build signed with")
    p.set_defaults(func=cmd_provenance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(build_parser().parse_args(argv))
        finally:
            sys.stdout.flush()  # here, not at exit, so that a reader gone away is caught below
    except BrokenPipeError:
        # `hatch-funasr models | head`: stop quietly, as Unix tools do. Python's docs (signal, "Note on
        # SIGPIPE"): point stdout at devnull so that the flush at exit does not fail again; exit 1.
        with contextlib.suppress(OSError, ValueError):  # a stdout with no file descriptor (captured)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace) -> int:
    try:
        with disk_errors("cannot write", f"free space, or point {EnvVars.CACHE} at a writable disk"):
            args.settings = Settings.from_env()  # once per command, handed down
            args.settings.quiet_hub_clients()
            return int(args.func(args))
    except FunasrBuildError as e:
        _err(f"error: {e}")
        return 1
    except FileNotFoundError as e:
        _err(f"error: {e}")
        return 1
