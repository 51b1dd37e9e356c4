"""The whole build, top to bottom: declaration -> model directories in a staging tree.

    config (declaration) -> catalog -> sources (listing; lock) -> select runtime files
      -> fetch (cache) -> export / quantize (staging) -> keep what ships
      -> stage package (models, manifest, runtime module)

The wheel writer (hatchling, via :mod:`hatch_funasr.plugin`) then packs the staged tree,
and :mod:`hatch_funasr.pack` streams the model files in.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from hatch_funasr import catalog, export, quantize
from hatch_funasr._bundle_runtime import gguf_programs
from hatch_funasr.cache import Cache
from hatch_funasr.context import BuildContext
from hatch_funasr.errors import ConfigError, FetchError, SelectionError
from hatch_funasr.families import (
    FAMILIES,
    Selection,
    exported_files,
    model_text,
    published,
    quant_name,
    select_files,
    tokens_json,
)
from hatch_funasr.lock import (
    LOCK_NAME,
    Lock,
    LockedFile,
    LockedModel,
    LockedRepo,
    declaration_of,
    mismatches,
    read_lock,
)
from hatch_funasr.manifest import Manifest
from hatch_funasr.model import BundleConfig, FileRecord, HubRef, LocalDir, ModelConfig, Source, StagedModel
from hatch_funasr.names import is_sha256
from hatch_funasr.onnxscan import weight_files
from hatch_funasr.package import write_package
from hatch_funasr.settings import EnvVars, Settings
from hatch_funasr.sources import ComposedSource, LocalSource, cached_listing, open_locked, open_source

__all__ = ["Plan", "lock_models", "open_sources", "plan", "prepare_bundle", "select", "stage_model"]


def choose(
    model: ModelConfig, listing: Mapping[str, int], read_text: Callable[[str], str | None], *, read_configs: bool = True
) -> Selection:
    """The one planner: the model's runtime files from a listing (path -> size), reading
    configuration.json / config.yaml through ``read_text`` where the family's rules need them.
    ``read_configs`` false: decide without them (offline, to name everything missing), and list
    those two among the files."""
    pytorch = model.format == "pytorch" or "model.pt" in listing or model.export == "generic"
    selection = select_files(
        FAMILIES[model.family],
        model.format,
        listing,
        quantize=model.quantize,
        keep_fp32=model.keep_fp32,
        export=model.export,
        include=model.include,
        exclude=model.exclude,
        configuration_json=read_text("configuration.json") if pytorch and read_configs else None,
        config_yaml=read_text("config.yaml") if read_configs else None,
        source=model.source_label,
        gguf=model.gguf,
        gguf_vad=model.gguf_vad,
    )
    if read_configs:
        return selection
    configs = tuple(f for f in ("config.yaml", "configuration.json") if f in listing)
    return replace(selection, files=tuple(dict.fromkeys(configs + selection.files)))


def problems_of(model: ModelConfig, selection: Selection, listing: Mapping[str, int]) -> list[str]:
    """Every reason ``selection`` cannot be built: a missing file, an impossible export or quantization."""
    missing = [f"{model.source_label} has no {name}" for name in selection.missing]
    unavailable = [*export.unavailable(model, selection, listing), *quantize.unavailable(selection)]
    return [*missing, *selection.notes, *unavailable]


def select(model: ModelConfig, source: Source, *, read_configs: bool = True) -> Selection:
    """The model's runtime files from its source's listing (:func:`choose`); every reason it
    cannot be built in one :class:`SelectionError`."""
    sizes = {p: f.size for p, f in source.listing.items()}
    selection = choose(model, sizes, source.read_text, read_configs=read_configs)
    if not read_configs:
        return selection
    problems = problems_of(model, selection, sizes)
    if problems:
        raise SelectionError(
            f"model {model.name} ({model.family}, {model.format}): cannot build its runtime directory:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return selection


def open_sources(config: BundleConfig, ctx: BuildContext) -> list[Source]:
    """Every model's source: from the lock when there is one.  Offline, every model missing
    from the cache is named in one error, not just the first."""
    hub_models = [m.name for m in config.models if isinstance(m.origin, HubRef)]
    if ctx.offline and ctx.lock is None and hub_models and not ctx.settings.trust_cache:
        raise FetchError(
            f"an offline build of hub models ({', '.join(hub_models)}) needs {LOCK_NAME}: the cache is not a root "
            "of trust (it travels, and its listings could have been edited to match altered files). Run "
            f"`hatch-funasr lock` on the connected machine and carry {LOCK_NAME} with the project; or set "
            f"{EnvVars.TRUST_CACHE}=1 to take the cache's listings on trust"
        )
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
            if ctx.lock is not None and isinstance(model.origin, HubRef):
                source: Source = open_locked(model, model.origin, ctx.lock.models[model.name], ctx)
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
            except FetchError:  # the config files selection reads are not cached either: name
                # them and what the selection needs without them
                absent = source.missing(select(model, source, read_configs=False).files)
            if absent:
                missing.append(
                    f"model {model.name}: {_revision_label(model)} (commit {source.commit}): {', '.join(absent)}"
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
    extra = source.provenance() if isinstance(source, ComposedSource) else ()
    return StagedModel(
        model,
        source.commit,
        files,
        weights={k: v for k, v in weights.items() if v},
        extra=tuple(extra),
        license=source.license,
    )


def _convert(staged: StagedModel, selection: Selection, ctx: BuildContext) -> StagedModel:
    """Files written from another upstream file (``tokens.json`` from ``tokens.txt``)."""
    out = ctx.work / staged.config.name / "converted"
    out.mkdir(parents=True, exist_ok=True)
    files = dict(staged.files)
    for name, origin in selection.converted.items():
        try:  # bytes decoded as they are: tokens_json takes every line ending itself
            text = files[origin].source.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise SelectionError(
                f"model {staged.config.name}: {origin} from {staged.config.source_label} is not UTF-8 text (byte "
                f"{e.start}); FunASR reads it as UTF-8, so {name} cannot be written from it: declare a revision "
                f"that ships {name}, or a {origin} in UTF-8"
            ) from None
        data = tokens_json(text)
        (out / name).write_bytes(data)
        files[name] = FileRecord(out / name, len(data), hashlib.sha256(data).hexdigest())
        ctx.report(f"model {staged.config.name}: wrote {name} from {origin} (both runtimes read only {name})")
    return replace(staged, files=files, derived=tuple(sorted({*staged.derived, *selection.converted})))


def _keep_shipped(staged: StagedModel, selection: Selection) -> StagedModel:
    """Only what the model directory ships: drops inputs of what was derived (the fp32 file
    quantized with ``keep-fp32 = false`` and its external data, ``tokens.txt``)."""
    keep = set(selection.ship)
    keep |= {w for name in selection.ship for w in staged.weights.get(name, ())}
    files: dict[str, FileRecord] = {p: r for p, r in staged.files.items() if p in keep}
    return replace(staged, files=files, derived=tuple(p for p in staged.derived if p in keep), selection=selection)


def stage_model(source: Source, ctx: BuildContext, max_file_size: int | None = None) -> StagedModel:
    """Select, fetch and, if needed, export, quantize and convert one model's files."""
    selection = select(source.model, source)
    for advice in selection.advice:
        ctx.report(f"model {source.model.name}: {advice}")
    staged = fetch_files(source, selection.files, ctx, max_file_size)
    if selection.export:
        staged = export.export_model(staged, selection, source, ctx)
    if selection.quantize:
        staged = quantize.quantize_model(staged, selection, ctx)
    if selection.converted:
        staged = _convert(staged, selection, ctx)
    return _keep_shipped(staged, selection)


def prepare_bundle(
    config: BundleConfig,
    ctx: BuildContext,
    staging: Path,
    *,
    generate_init: bool = True,
    editable_root: Path | None = None,
    link_models: bool = True,
) -> tuple[Path, list[StagedModel], Manifest]:
    """Run the pipeline for every model and stage the bundle package under ``staging``; the
    package directory, the staged models and the bundle's manifest.

    ``editable_root``: stage model directories there (persistent, outside the wheel) and
    let the package point at them, so an editable install copies no model bytes.
    """
    staged = [stage_model(s, ctx, config.max_file_size) for s in open_sources(config, ctx)]
    locations = None
    if editable_root is not None:
        write_package(config, staged, editable_root, generate_init=False)
        locations = {s.config.name: editable_root / config.package / "models" / s.config.dir_name for s in staged}
    pkg, manifest = write_package(
        config, staged, staging, generate_init=generate_init, locations=locations, link_models=link_models
    )
    return pkg, staged, manifest


def _revision_label(model: ModelConfig) -> str:
    """``ms:iic/x revision v2.0.4`` (offline messages); a local directory by its path."""
    if isinstance(model.origin, LocalDir):
        return model.origin.label
    return f"{model.origin.hub}:{model.origin.repo} revision {model.origin.revision or 'default'}"


def _locked(model: ModelConfig, ref: HubRef, commit: str, staged: StagedModel) -> LockedModel:
    """The lock entry of a fetched hub model: its commit and files, and each extra repository's."""

    def pinned(names: set[str]) -> tuple[LockedFile, ...]:
        return tuple(LockedFile(p, r.size, r.digest()) for p, r in sorted(staged.files.items()) if p in names)

    taken = {f for _e, _c, files in staged.extra for f in files}
    return LockedModel(
        name=model.name,
        hub=ref.hub,
        repo=ref.repo,
        revision=ref.revision,
        commit=commit,
        declaration=declaration_of(model, ref),
        files=pinned(set(staged.files) - taken),
        license=staged.license,
        extra=tuple(LockedRepo(e.hub, e.repo, e.revision, c, pinned(set(f))) for e, c, f in staged.extra),
    )


def lock_models(config: BundleConfig, ctx: BuildContext, *, upgrade: set[str] | None = None) -> Lock:
    """Resolve every hub model to a commit and hash its runtime files (downloading them into
    the cache).  Entries of ``ctx.lock`` whose declaration is unchanged are kept as they are
    unless named in ``upgrade`` (an empty set means all)."""
    entries: dict[str, LockedModel] = {}
    kept: dict[str, LockedModel] = {}
    hub_models = [(m, m.origin) for m in config.models if isinstance(m.origin, HubRef)]
    for model, ref in hub_models:
        previous = ctx.lock.models.get(model.name) if ctx.lock else None
        wanted = upgrade is not None and (not upgrade or model.name in upgrade)
        if previous is not None and previous.declaration == declaration_of(model, ref) and not wanted:
            kept[model.name] = previous
    resolve = [(m, ref) for m, ref in hub_models if m.name not in kept]
    if ctx.offline and resolve:  # the cache is no root of trust: a lock is made from the hubs only
        raise FetchError(
            f"offline ({EnvVars.OFFLINE}=1): no hub was contacted, and locking "
            + ", ".join(f"{m.name} ({ref.hub}:{ref.repo}@{ref.revision or 'default'})" for m, ref in resolve)
            + " needs one (a revision resolved to its commit, each file hashed); run `hatch-funasr lock` "
            f"on a connected machine, without {EnvVars.OFFLINE}"
        )
    for model, ref in hub_models:
        if model.name in kept:
            entries[model.name] = kept[model.name]
        else:
            source = open_source(model, ctx)  # online: an offline ctx resolves nothing (above)
            staged = fetch_files(source, select(model, source).files, ctx)
            commit = str(source.commit)  # a hub source always has one
            entries[model.name] = _locked(model, ref, commit, staged)
            ctx.report(f"locked {model.name}: {ref.repo}@{commit} ({len(staged.files)} files)")
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
    #: Why the build would fail, where the listing is known (a missing file, …).
    problems: tuple[str, ...] = ()
    #: The runtime mode the directory will serve: "quantized", "fp32", "both", or None (no ONNX).
    runtime: str | None = None
    #: Whether the build exports / quantizes: True, False, or None (the listing decides).
    exports: bool | None = False
    quantizes: bool | None = False
    #: Where the listing is known: each shipped file with its size (None: made by the build).
    shipped: tuple[tuple[str, int | None], ...] = ()
    #: ``format = "gguf"``: each GGUF file's role (``model``, ``encoder``, ``llm``, ``vad``) -> file.
    gguf: tuple[tuple[str, str], ...] = ()
    #: Where the listing came from (the local directory, funasr.lock, the cached listing); None:
    #: the listing is unknown here, and the plan is what the family and the catalog imply.
    listing: str | None = None


def _known_listing(model: ModelConfig, lock: Lock | None, cache: Cache | None) -> tuple[dict[str, int], str] | None:
    """The files the model's sources have, where known without the network: a local directory,
    the lock, or listings an earlier build left in the cache; with where it came from."""
    ref = model.origin
    if isinstance(ref, LocalDir):
        return {p: f.size for p, f in LocalSource.open(model, ref).listing.items()}, "the local directory"
    entry = lock.models.get(model.name) if lock else None
    if entry is not None and entry.declaration == declaration_of(model, ref):
        listing = {f.path: f.size for f in entry.files}
        for extra in entry.extra:
            listing |= {f.path: f.size for f in extra.files if f.path not in listing}
        return listing, LOCK_NAME
    if cache is None:
        return None
    found: dict[str, int] = {}
    for repo, wanted in [(ref, None), *((e.ref, e.files) for e in model.extra)]:
        cached = cached_listing(model, repo, cache)
        if cached is None:
            return None
        found |= {p: f.size for p, f in cached.files.items() if wanted is None or p in wanted if p not in found}
    return found, "the cached listing"


def _cached_text(model: ModelConfig, name: str, lock: Lock | None, cache: Cache | None) -> str | None:
    """A small file's text without the network: from the local directory, or the cache."""
    if isinstance(model.origin, LocalDir):
        return model_text(model.origin.path / name)
    entry = lock.models.get(model.name) if lock else None
    sha = next((f.sha256 for f in entry.files if f.path == name), None) if entry else None
    if sha is None and cache is not None:
        cached = cached_listing(model, model.origin, cache)
        listed = cached.files.get(name) if cached is not None else None
        sha = listed.sha256 if listed is not None else None
    return model_text(cache.blob_path(sha)) if cache is not None and is_sha256(sha) else None


def _runtime_line(selection: Selection) -> str | None:
    if selection.quantized_runtime is True:
        return "runtime: quantized only: funasr_onnx with quantize=True, the C++ runtime with --quantize true"
    if selection.quantized_runtime is False:
        return "runtime: fp32 only: funasr_onnx with quantize=False, the C++ runtime with --quantize false"
    if any(f.endswith("_quant.onnx") for f in selection.ship):
        return "runtime: both fp32 and quantized files ship (the C++ runtime loads model_quant.onnx by default)"
    return None


def _export_step(m: ModelConfig, files: tuple[str, ...], when: str = "") -> str:
    """How ``files`` will be exported, and the check every export gets."""
    gate = f", at most {m.max_export_drift}" if m.max_export_drift is not None else ""
    check = f"; check against the PyTorch model on a fixed input (max abs drift recorded{gate})"
    spec = FAMILIES[m.family].gguf
    if m.format == "gguf" and spec is not None:
        return f"{when}convert {', '.join(files)} from model.pt (the {spec.converter} layout of llama.cpp){check}"
    if m.export == "generic":
        traced = ", ".join(f"{s.name}[{', '.join(map(str, s.shape))}]" for s in m.export_inputs)
        how = "torch.onnx.export" if m.format == "onnx" else "torch.jit.trace"
        return f"{when}export {', '.join(files)} with {how} of AutoModel(...).model on {traced} (experimental){check}"
    return f'{when}export {", ".join(files)} with FunASR\'s export(type="{m.format}"){check}'


def plan(config: BundleConfig, *, lock: Lock | None = None, cache: Cache | None = None) -> list[Plan]:
    """The build plan without the network (``hatch-funasr check``): the file selection run on
    every listing known here (local directory, lock, cache), else over what a complete source publishes."""
    return [_plan_model(m, config.package, lock, cache) for m in config.models]


def _plan_model(m: ModelConfig, package: str, lock: Lock | None, cache: Cache | None) -> Plan:
    if isinstance(m.origin, LocalDir):
        steps = [f"copy from local directory {m.origin.path}"]
    else:
        steps = [f"fetch {m.origin.repo} at {m.origin.revision or 'the default branch'} from {m.origin.hub}"]
    steps += [f"take {', '.join(e.files)} from {e.label} (extra-files)" for e in m.extra]
    shipped: tuple[tuple[str, int | None], ...] = ()
    problems: list[str] = []
    known = _known_listing(m, lock, cache)
    where = None
    if known is None:
        exports, quantizes, runtime, implied = _implied(m, steps)
        shipped_roles: Mapping[str, str] = implied.gguf
        problems += implied.notes  # what no listing can mend (a runtime file excluded, …)
    else:
        listing, where = known
        selection = choose(m, listing, partial(_cached_text, m, lock=lock, cache=cache))
        steps.append(f"files chosen from {where} ({len(listing)} files listed)")
        if selection.export:
            steps.append(_export_step(m, selection.export))
        if selection.quantize:
            steps.append(
                f"quantize {', '.join(selection.quantize)} -> {', '.join(map(quant_name, selection.quantize))}"
            )
        steps += [f"write {name} from {origin}" for name, origin in selection.converted.items()]
        steps.append("ship " + ", ".join(selection.ship))
        steps += [line for line in (_runtime_line(selection),) if line]
        runtime = selection.runtime
        exports, quantizes = bool(selection.export), bool(selection.quantize)
        shipped = tuple((f, listing.get(f)) for f in selection.ship)
        shipped_roles = dict(selection.gguf)
        steps += list(selection.advice)
        problems += problems_of(m, selection, listing)
    roles = _gguf_roles(m, shipped_roles)
    if roles:
        steps.append("runs in FunASR's llama.cpp programs: " + ", ".join(gguf_programs(m.family, roles)))
    family = FAMILIES[m.family]
    runtime = runtime or ("fp32" if m.format == "onnx" and family.onnx else None)
    target = f"{package}/models/{m.dir_name}"
    return Plan(
        m.name,
        m.source_label,
        m.family,
        m.format,
        tuple(steps),
        target,
        tuple(problems),
        runtime,
        exports,
        quantizes,
        shipped,
        tuple(sorted(roles.items())),
        where,
    )


def _implied(m: ModelConfig, steps: list[str]) -> tuple[bool | None, bool | None, str | None, Selection]:
    """What the family and the catalog imply where the listing is unknown (only a hub model's can
    be: a local directory is always listed): whether the build exports and quantizes (None: the
    listing decides), the runtime mode, and the selection over what a complete source publishes
    (:func:`hatch_funasr.families.published`; FunASR's ONNX repository, quantized only, where
    the catalog names this one); the steps are said in ``steps``."""
    family = FAMILIES[m.family]
    onnx = m.format == "onnx" and bool(family.onnx)
    runtime: str | None = "quantized" if onnx and m.quantize else None
    # Quantization when asked for (or a contextual model, whose official repository lacks
    # model_eb_quant.onnx), export unless a ready ONNX repository is known.
    quantizes: bool | None = None if onnx and (m.quantize or family.fp32_always) else False
    exportable = m.format in ("onnx", "torchscript") and bool(exported_files(family, m.format, m.export))
    exports: bool | None = (
        False if m.export is False or not exportable else True if m.export in (True, "generic") else None
    )
    repo = m.origin.repo if isinstance(m.origin, HubRef) else ""
    entry = catalog.by_repo(repo) if repo else None
    onnx_ready = entry is not None and entry.is_onnx_repo(repo)
    if m.export == "auto" and onnx_ready:
        exports = False  # FunASR's ONNX repository (by the catalog): nothing to export
    complete = published(family, m.format, export=m.export, gguf=m.gguf, quantized_only=onnx_ready and onnx)
    selection = choose(m, complete, lambda _name: None)
    model_files = exported_files(family, m.format, m.export)
    if m.export == "generic":
        steps.append(_export_step(m, model_files))
    elif m.format == "torchscript" and model_files and m.export is not False:
        steps.append(_export_step(m, model_files, "if the source has none, "))
    if onnx:
        if m.export is True or (not onnx_ready and m.export == "auto"):
            steps.append(_export_step(m, family.onnx, "if the source has no ONNX, "))
        if m.quantize:
            steps.append(f"quantize to {', '.join(map(quant_name, family.onnx))} unless the source ships them")
        if onnx_ready:
            runtime = "quantized"
            steps.append(
                "FunASR's -onnx repositories ship *_quant.onnx only: expect the quantized runtime "
                "(funasr_onnx quantize=True, the C++ runtime --quantize true); the listing decides when built"
            )
    if m.format == "gguf" and family.gguf is not None:
        gguf_ready = entry is not None and repo in entry.gguf.values()
        convertible = family.gguf.converter is not None and m.export is not False
        exports = (m.export is True or None) if convertible and (m.export is True or not gguf_ready) else False
        if exports is not False:
            when = "" if exports else "if the source has no GGUF, "
            steps.append(_export_step(m, tuple(f for r, f in selection.gguf.items() if r != "vad"), when))
    if m.format == "pytorch" and not family.plain:
        steps.append(
            "pack configuration.json and what its file_path_metas names; a source without it: "
            + ", ".join(selection.ship)
        )
    else:
        steps.append(f"pack {', '.join(selection.ship)} (as a complete source publishes them; the listing decides)")
    return exports, quantizes, runtime, selection


def _gguf_roles(m: ModelConfig, selected: Mapping[str, str]) -> dict[str, str]:
    """A GGUF model's files by role, as selected (from the listing, or from what a complete source publishes)."""
    return dict(selected) if m.format == "gguf" and FAMILIES[m.family].gguf is not None else {}


def _extra(name: str) -> list[str]:
    """The requirements of one of our extras (``quantize``, ``export``), from our own metadata:
    pyproject.toml stays the one place they are written."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        listed = requires("hatch-funasr") or []
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return []
    out = []
    for text in listed:
        req = Requirement(text)
        if req.marker is not None and req.marker.evaluate({"extra": name}) and not req.marker.evaluate({"extra": ""}):
            req.marker = None
            out.append(str(req))
    return out


def build_requirements_for(config: BundleConfig, root: Path, settings: Settings) -> list[str]:
    """What the hook's ``dependencies()`` asks the frontend for (:func:`build_requirements`), from
    the plan of every model.  Where a hub model's listing is unknown here (no lock entry, nothing
    cached) and the machine is online, the hub is asked for it first (one listing request per
    repository, kept in the cache, where the build that follows finds it): whether the repository
    ships ONNX decides whether torch and FunASR are needed, not its name."""
    lock = read_lock(root)
    cache = Cache.from_settings(settings)
    plans = plan(config, lock=lock, cache=cache if cache.root.is_dir() else None)
    unknown = [
        m
        for m, p in zip(config.models, plans, strict=True)
        if p.listing is None and (p.exports is None or p.quantizes is None)
    ]
    if unknown and not settings.offline:
        with tempfile.TemporaryDirectory(prefix="hatch-funasr-plan-") as work:
            ctx = BuildContext.create(Path(work), settings=settings, cache=cache)
            for model in unknown:  # a repository that cannot be listed fails here as the build would
                open_source(model, ctx)
        plans = plan(config, lock=lock, cache=cache)
    return build_requirements(config, plans, settings)


def build_requirements(config: BundleConfig, plans: list[Plan], settings: Settings) -> list[str]:
    """What the build environment needs beyond hatch-funasr, for the hook's ``dependencies()``:
    onnx and onnxruntime when anything may be quantized; the export stack (FunASR, torch) when
    anything may be exported, unless ``HATCH_FUNASR_EXPORT_PYTHON`` names a Python that has it."""
    wanted: list[str] = []
    if any(p.quantizes is not False for p in plans):
        wanted += _extra("quantize")
    if any(p.exports is not False for p in plans) and settings.export_python == sys.executable:
        wanted += _extra("export")
    return list(dict.fromkeys(wanted))
