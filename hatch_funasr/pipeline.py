"""The whole build, top to bottom: declaration -> model directories in a staging tree.

    declaration -> config -> catalog -> fetch (cache) -> select runtime files
      -> export / quantize (staging) -> stage package (models, manifest, runtime module)

The wheel writer (hatchling, via :mod:`hatch_funasr.plugin`) then packs the staged tree.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_funasr import config as config_mod
from hatch_funasr.bundle import FileRecord, StagedModel, model_dir_name, write_package
from hatch_funasr.cache import Cache
from hatch_funasr.config import BundleConfig, ModelConfig
from hatch_funasr.errors import ConfigError, FetchError, SelectionError
from hatch_funasr.families import FAMILIES, Selection, select_files
from hatch_funasr.fetch import Source, is_offline, open_locked, open_source
from hatch_funasr.lock import LOCK_NAME, Lock, LockedFile, LockedModel, declaration_of, mismatches
from hatch_funasr.onnxscan import weight_files

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Plan", "load_config", "lock_models", "open_sources", "plan", "prepare_bundle", "stage_model"]

Report = Callable[[str], None]


def load_config(root: Path, hook_config: dict[str, Any] | None = None) -> BundleConfig:
    """Parse ``root/pyproject.toml`` (used by the CLI; the hook gets the table from hatchling)."""
    with (root / "pyproject.toml").open("rb") as f:
        pyproject = tomllib.load(f)
    if hook_config is None:
        hook_config = _hook_table(pyproject)
    return config_mod.parse(pyproject, root.resolve(), hook_config)


def _hook_table(pyproject: dict[str, Any]) -> dict[str, Any] | None:
    build = pyproject.get("tool", {}).get("hatch", {}).get("build", {})
    table = build.get("targets", {}).get("wheel", {}).get("hooks", {}).get("funasr")
    found = table if table is not None else build.get("hooks", {}).get("funasr")
    return dict(found) if isinstance(found, dict) else None


def _select(model: ModelConfig, source: Source) -> Selection:
    family = FAMILIES[model.family]
    configuration = source.read_text("configuration.json") if model.format == "pytorch" else None
    selection = select_files(
        family,
        model.format,
        source.sizes,
        quantize=model.quantize,
        keep_fp32=model.keep_fp32,
        export=model.export,
        include=model.include,
        exclude=model.exclude,
        configuration_json=configuration,
    )
    where = model.source_label
    problems = [f"{where} has no {name}" for name in selection.missing]
    problems += list(selection.notes)
    if selection.export or selection.quantize:
        from hatch_funasr import export

        problems += export.unavailable(model, selection, source.sizes)
    if problems:
        raise SelectionError(
            f"model {model.name} ({model.family}, {model.format}): cannot build its runtime directory:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return selection


def open_sources(config: BundleConfig, *, cache: Cache, offline: bool, lock: Lock | None) -> list[Source]:
    """Every model's source: from the lock when there is one.  Offline, every model missing
    from the cache is named in one error, not just the first."""
    if lock is not None:
        problems = mismatches(config, lock)
        if problems:
            raise ConfigError(
                [*problems, "run `hatch-funasr lock` to update it (or build with HATCH_FUNASR_LOCK=update)"],
                source=LOCK_NAME,
            )
    sources: list[Source] = []
    missing: list[str] = []
    for model in config.models:
        try:
            if lock is not None and model.path is None:
                source = open_locked(model, lock.models[model.name], cache=cache, offline=offline)
            else:
                source = open_source(model, cache=cache, offline=offline)
        except FetchError as e:
            if not offline:
                raise
            missing.append(str(e))
            continue
        sources.append(source)
        if offline:
            try:
                absent = source.missing(_select(model, source).files)
            except FetchError:
                absent = ["configuration.json"]
            if absent:
                missing.append(
                    f"model {model.name}: {model.hub}:{model.repo} revision {model.revision or 'default'} "
                    f"(commit {source.commit}): {', '.join(absent)}"
                )
    if missing:
        raise FetchError(
            "offline build (HATCH_FUNASR_OFFLINE=1) but the cache lacks:\n"
            + "\n".join(f"  - {m}" for m in missing)
            + "\nrun `hatch-funasr fetch` on a connected machine with the same HATCH_FUNASR_CACHE, "
            "then carry the cache over"
        )
    return sources


def _guard_size(model: ModelConfig, source: Source, files: tuple[str, ...], limit: int | None) -> None:
    """``max-file-size``: fail before any download when a file is larger than the index allows."""
    if limit is None:
        return
    too_big = [(p, source.sizes[p]) for p in files if source.sizes.get(p, 0) > limit]
    if too_big:
        listed = ", ".join(f"{p} ({size / 2**20:.1f} MiB)" for p, size in too_big)
        raise SelectionError(
            f"model {model.name}: {listed} exceed max-file-size ({limit / 2**20:.1f} MiB, e.g. PyPI's per-file "
            "limit); publish to an index without that limit, or split the bundle into one wheel per model"
        )


def with_external_data(
    model: ModelConfig,
    source: Source,
    records: dict[str, FileRecord],
    report: Report,
    max_file_size: int | None = None,
) -> dict[str, FileRecord]:
    """``records`` plus the external-data files its ONNX files keep their weights in (models
    over 2 GB), fetched too.  A reference that leaves the model directory, or to a file the
    source does not have, is an error naming the ONNX file and the reference."""
    out = dict(records)
    for onnx_file in sorted(p for p in records if p.endswith(".onnx")):
        names = weight_files(
            onnx_file, records[onnx_file].source, source.listing, what=f"model {model.name}", source=model.source_label
        )
        wanted = [n for n in names if n not in out]
        if wanted:
            _guard_size(model, source, tuple(wanted), max_file_size)
            report(f"model {model.name}: {onnx_file} keeps its weights in {', '.join(wanted)}; packing them too")
            out.update(source.materialize(wanted, report))
    return out


def stage_model(
    source: Source, *, cache: Cache, work: Path, report: Report, max_file_size: int | None = None
) -> StagedModel:
    """Select and fetch (and, if needed, derive) one model's files."""
    model = source.model
    selection = _select(model, source)
    _guard_size(model, source, selection.files, max_file_size)
    records = with_external_data(
        model, source, source.materialize(list(selection.files), report), report, max_file_size
    )
    staged = StagedModel(model, source.commit, records)
    if selection.export or selection.quantize:
        from hatch_funasr import export

        staged = export.derive(staged, selection, source, work=work, cache=cache, report=report)
    return staged


def prepare_bundle(
    config: BundleConfig,
    staging: Path,
    *,
    cache: Cache | None = None,
    offline: bool | None = None,
    report: Report = lambda _m: None,
    generate_init: bool = True,
    editable_root: Path | None = None,
    lock: Lock | None = None,
    link_models: bool = True,
) -> tuple[Path, list[StagedModel]]:
    """Run the pipeline for every model and stage the bundle package under ``staging/wheel``
    (derived files go to ``staging/work``).

    ``editable_root``: stage model directories there (persistent, outside the wheel) and
    let the package point at them, so an editable install copies no model bytes.
    """
    cache = cache or Cache()
    offline = is_offline() if offline is None else offline
    work = staging / "work"
    sources = open_sources(config, cache=cache, offline=offline, lock=lock)
    staged = [
        stage_model(s, cache=cache, work=work, report=report, max_file_size=config.max_file_size) for s in sources
    ]
    locations = None
    if editable_root is not None:
        write_package(config, staged, editable_root, generate_init=False)
        locations = {
            s.config.name: editable_root / config.package / "models" / model_dir_name(s.config) for s in staged
        }
    pkg = write_package(
        config, staged, staging / "wheel", generate_init=generate_init, locations=locations, link_models=link_models
    )
    return pkg, staged


def lock_models(
    config: BundleConfig,
    old: Lock | None,
    *,
    cache: Cache,
    upgrade: set[str] | None = None,
    report: Report = lambda _m: None,
) -> Lock:
    """Resolve every hub model to a commit and hash its runtime files (downloading them into
    the cache).  Entries whose declaration is unchanged are kept as they are unless named in
    ``upgrade`` (an empty set means all)."""
    entries: dict[str, LockedModel] = {}
    for model in config.models:
        if model.path is not None:
            continue
        previous = old.models.get(model.name) if old else None
        wanted = upgrade is not None and (not upgrade or model.name in upgrade)
        if previous is not None and previous.declaration == declaration_of(model) and not wanted:
            entries[model.name] = previous
            continue
        source = open_source(model, cache=cache, offline=False)
        selection = _select(model, source)
        records = with_external_data(model, source, source.materialize(list(selection.files), report), report)
        assert model.repo is not None and source.commit is not None
        entries[model.name] = LockedModel(
            name=model.name,
            hub=model.hub,
            repo=model.repo,
            revision=model.revision,
            commit=source.commit,
            declaration=declaration_of(model),
            files=tuple(LockedFile(p, r.size, r.digest()) for p, r in sorted(records.items())),
        )
        report(f"locked {model.name}: {model.repo}@{source.commit} ({len(records)} files)")
    return Lock(entries)


@dataclass(frozen=True)
class Plan:
    """What a build will do for one model, known without the network."""

    name: str
    source: str
    family: str
    format: str
    steps: tuple[str, ...]
    target: str


def plan(config: BundleConfig) -> list[Plan]:
    """The build plan, from the declaration and catalog alone (``hatch-funasr check``)."""
    plans = []
    for m in config.models:
        family = FAMILIES[m.family]
        steps: list[str] = []
        if m.path is not None:
            steps.append(f"copy from local directory {m.path}")
        else:
            steps.append(f"fetch {m.repo} at {m.revision or 'the default branch'} from {m.hub}")
        onnx_ready = m.repo is not None and m.repo.endswith("-onnx")
        if m.format == "onnx" and family.onnx:
            if m.export is True or (not onnx_ready and m.path is None and m.export == "auto"):
                steps.append(f"export {', '.join(family.onnx)} with FunASR if the source has no ONNX")
            if m.quantize:
                steps.append(
                    "quantize to "
                    + ", ".join(f.replace(".onnx", "_quant.onnx") for f in family.onnx)
                    + " unless the source ships them"
                )
        if m.format == "pytorch":
            steps.append("pack configuration.json, config.yaml and every file its file_path_metas names")
        else:
            wanted = [
                f if not m.quantize or f in family.fp32_always else f.replace(".onnx", "_quant.onnx")
                for f in family.onnx
            ]
            if m.quantize and m.keep_fp32:
                wanted = [*family.onnx, *wanted]
            wanted += [r if isinstance(r, str) else "|".join(r) for r in family.required]
            steps.append("pack " + ", ".join(dict.fromkeys(wanted)))
        plans.append(
            Plan(
                m.name, m.source_label, m.family, m.format, tuple(steps), f"{config.package}/models/{model_dir_name(m)}"
            )
        )
    return plans
