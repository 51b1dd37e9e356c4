"""The whole build, top to bottom: declaration -> model directories in a staging tree.

    config (declaration) -> catalog -> sources (listing; lock) -> select runtime files
      -> fetch (cache) -> export / quantize (staging) -> keep what ships
      -> stage package (models, manifest, runtime module)

The wheel writer (hatchling, via :mod:`hatch_funasr.plugin`) then packs the staged tree,
and :mod:`hatch_funasr.pack` streams the model files in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hatch_funasr import catalog, export, quantize
from hatch_funasr.context import BuildContext
from hatch_funasr.errors import ConfigError, FetchError, SelectionError
from hatch_funasr.families import FAMILIES, Selection, expected_files, quant_name, select_files
from hatch_funasr.lock import LOCK_NAME, Lock, LockedFile, LockedModel, declaration_of, mismatches
from hatch_funasr.model import BundleConfig, FileRecord, ModelConfig, Source, StagedModel
from hatch_funasr.onnxscan import weight_files
from hatch_funasr.package import write_package
from hatch_funasr.settings import EnvVars
from hatch_funasr.sources import open_locked, open_source

__all__ = ["Plan", "lock_models", "open_sources", "plan", "prepare_bundle", "select", "stage_model"]


def select(model: ModelConfig, source: Source) -> Selection:
    """The model's runtime files from its source's listing; every reason it cannot be built
    (a missing file, an impossible export or quantization) in one :class:`SelectionError`."""
    sizes = {p: f.size for p, f in source.listing.items()}
    selection = select_files(
        FAMILIES[model.family],
        model.format,
        sizes,
        quantize=model.quantize,
        keep_fp32=model.keep_fp32,
        export=model.export,
        include=model.include,
        exclude=model.exclude,
        configuration_json=source.read_text("configuration.json") if model.format == "pytorch" else None,
    )
    problems = [f"{model.source_label} has no {name}" for name in selection.missing]
    problems += [*selection.notes, *export.unavailable(selection, sizes), *quantize.unavailable(selection)]
    if problems:
        raise SelectionError(
            f"model {model.name} ({model.family}, {model.format}): cannot build its runtime directory:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return selection


def open_sources(config: BundleConfig, ctx: BuildContext) -> list[Source]:
    """Every model's source: from the lock when there is one.  Offline, every model missing
    from the cache is named in one error, not just the first."""
    if ctx.lock is not None:
        problems = mismatches(config, ctx.lock)
        if problems:
            raise ConfigError(
                [*problems, f"run `hatch-funasr lock` to update it (or build with {EnvVars.LOCK}=update)"],
                source=LOCK_NAME,
            )
    sources: list[Source] = []
    missing: list[str] = []
    for model in config.models:
        try:
            if ctx.lock is not None and model.path is None:
                source: Source = open_locked(model, ctx.lock.models[model.name], ctx)
            else:
                source = open_source(model, ctx)
        except FetchError as e:
            if not ctx.offline:
                raise
            missing.append(str(e))
            continue
        sources.append(source)
        if ctx.offline:
            try:
                absent = source.missing(select(model, source).files)
            except FetchError:
                absent = ["configuration.json"]
            if absent:
                missing.append(
                    f"model {model.name}: {model.hub}:{model.repo} revision {model.revision or 'default'} "
                    f"(commit {source.commit}): {', '.join(absent)}"
                )
    if missing:
        raise FetchError(
            f"offline build ({EnvVars.OFFLINE}=1) but the cache lacks:\n"
            + "\n".join(f"  - {m}" for m in missing)
            + f"\nrun `hatch-funasr fetch` on a connected machine with the same {EnvVars.CACHE}, "
            "then carry the cache over"
        )
    return sources


def _guard_size(model: ModelConfig, source: Source, files: tuple[str, ...], limit: int | None) -> None:
    """``max-file-size``: fail before any download when a file is larger than the index allows."""
    if limit is None:
        return
    too_big = [(p, source.listing[p].size) for p in files if p in source.listing and source.listing[p].size > limit]
    if too_big:
        listed = ", ".join(f"{p} ({size / 2**20:.1f} MiB)" for p, size in too_big)
        raise SelectionError(
            f"model {model.name}: {listed} exceed max-file-size ({limit / 2**20:.1f} MiB, e.g. PyPI's per-file "
            "limit); publish to an index without that limit, or split the bundle into one wheel per model"
        )


def fetch_files(
    source: Source, names: tuple[str, ...], ctx: BuildContext, max_file_size: int | None = None
) -> StagedModel:
    """Verified local copies of ``names``, plus the external-data files their ONNX files keep
    their weights in (models over 2 GB), fetched too.  A reference that leaves the model
    directory, or to a file the source does not have, is an error naming the ONNX file."""
    model = source.model
    _guard_size(model, source, names, max_file_size)
    files = source.materialize(list(names), ctx.report)
    weights: dict[str, tuple[str, ...]] = {}
    for onnx_file in sorted(p for p in names if p.endswith(".onnx")):
        found = weight_files(
            onnx_file, files[onnx_file].source, source.listing, what=f"model {model.name}", source=model.source_label
        )
        weights[onnx_file] = tuple(found)
        wanted = tuple(n for n in found if n not in files)
        if wanted:
            _guard_size(model, source, wanted, max_file_size)
            ctx.report(f"model {model.name}: {onnx_file} keeps its weights in {', '.join(wanted)}; packing them too")
            files.update(source.materialize(list(wanted), ctx.report))
    return StagedModel(model, source.commit, files, weights={k: v for k, v in weights.items() if v})


def _keep_shipped(staged: StagedModel, selection: Selection) -> StagedModel:
    """Only what the model directory ships: drops the fp32 inputs of quantization (and
    their external data) when ``keep-fp32 = false``."""
    keep = set(selection.ship)
    keep |= {w for name in selection.ship for w in staged.weights.get(name, ())}
    files: dict[str, FileRecord] = {p: r for p, r in staged.files.items() if p in keep}
    return replace(staged, files=files, derived=tuple(p for p in staged.derived if p in keep))


def stage_model(source: Source, ctx: BuildContext, max_file_size: int | None = None) -> StagedModel:
    """Select, fetch and, if needed, export and quantize one model's files."""
    selection = select(source.model, source)
    staged = fetch_files(source, selection.files, ctx, max_file_size)
    if selection.export:
        staged = export.export_onnx(staged, selection, source, ctx)
    if selection.quantize:
        staged = quantize.quantize_model(staged, selection, ctx)
    return _keep_shipped(staged, selection)


def prepare_bundle(
    config: BundleConfig,
    ctx: BuildContext,
    staging: Path,
    *,
    generate_init: bool = True,
    editable_root: Path | None = None,
    link_models: bool = True,
) -> tuple[Path, list[StagedModel]]:
    """Run the pipeline for every model and stage the bundle package under ``staging``.

    ``editable_root``: stage model directories there (persistent, outside the wheel) and
    let the package point at them, so an editable install copies no model bytes.
    """
    staged = [stage_model(s, ctx, config.max_file_size) for s in open_sources(config, ctx)]
    locations = None
    if editable_root is not None:
        write_package(config, staged, editable_root, generate_init=False)
        locations = {s.config.name: editable_root / config.package / "models" / s.config.dir_name for s in staged}
    pkg = write_package(
        config, staged, staging, generate_init=generate_init, locations=locations, link_models=link_models
    )
    return pkg, staged


def lock_models(config: BundleConfig, ctx: BuildContext, *, upgrade: set[str] | None = None) -> Lock:
    """Resolve every hub model to a commit and hash its runtime files (downloading them into
    the cache).  Entries of ``ctx.lock`` whose declaration is unchanged are kept as they are
    unless named in ``upgrade`` (an empty set means all)."""
    entries: dict[str, LockedModel] = {}
    for model in config.models:
        if model.path is None:
            previous = ctx.lock.models.get(model.name) if ctx.lock else None
            wanted = upgrade is not None and (not upgrade or model.name in upgrade)
            if previous is not None and previous.declaration == declaration_of(model) and not wanted:
                entries[model.name] = previous
                continue
            source = open_source(model, replace(ctx, offline=False))
            staged = fetch_files(source, select(model, source).files, ctx)
            assert model.repo is not None and source.commit is not None
            entries[model.name] = LockedModel(
                name=model.name,
                hub=model.hub,
                repo=model.repo,
                revision=model.revision,
                commit=source.commit,
                declaration=declaration_of(model),
                files=tuple(LockedFile(p, r.size, r.digest()) for p, r in sorted(staged.files.items())),
            )
            ctx.report(f"locked {model.name}: {model.repo}@{source.commit} ({len(staged.files)} files)")
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
        entry = catalog.by_repo(m.repo) if m.repo else None
        onnx_ready = entry is not None and m.repo in entry.onnx.values()
        if m.format == "onnx" and family.onnx:
            if m.export is True or (not onnx_ready and m.path is None and m.export == "auto"):
                steps.append(f"export {', '.join(family.onnx)} with FunASR if the source has no ONNX")
            if m.quantize:
                quant = ", ".join(map(quant_name, family.onnx))
                steps.append(f"quantize to {quant} unless the source ships them")
        if m.format == "pytorch" and not family.plain:
            steps.append("pack configuration.json, config.yaml and every file its file_path_metas names")
        else:
            files = expected_files(family, m.format, quantize=m.quantize, keep_fp32=m.keep_fp32)
            steps.append("pack " + ", ".join(files))
        target = f"{config.package}/models/{m.dir_name}"
        plans.append(Plan(m.name, m.source_label, m.family, m.format, tuple(steps), target))
    return plans
