"""Hatchling build hook: translates hatchling's calls into :func:`prepare_bundle`, nothing else."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from packaging.utils import canonicalize_name

from hatch_funasr import attest, sbom, scratch, signing
from hatch_funasr.config import HOOK_PATHS, find_hook_table, parse
from hatch_funasr.context import BuildContext
from hatch_funasr.errors import FunasrBuildError, disk_errors
from hatch_funasr.lock import LOCK_NAME, read_lock, write_lock
from hatch_funasr.manifest import Manifest
from hatch_funasr.pack import PARTIAL_PREFIX, add_models
from hatch_funasr.package import MANIFEST_NAME, pack_entries, runtime_extras
from hatch_funasr.pipeline import build_requirements_for, lock_models, prepare_bundle
from hatch_funasr.settings import EnvVars, Settings

__all__ = ["FunasrBuildHook"]


def _dist_info(wheel: str) -> str:
    """``acme_asr_models-2026.11.0.dist-info`` of ``…/acme_asr_models-2026.11.0-py3-none-any.whl``
    (a wheel's name and version are escaped the same way in both places)."""
    name, version = Path(wheel).name.split("-")[:2]
    return f"{name}-{version}.dist-info"


ENTRY_POINT_GROUP = "funasr_models"
#: Signals that end a build cleanly: whatever the hook made is removed, no wheel without its models stays.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n))


class BuildInterrupted(BaseException):
    """A terminating signal arrived during the build (cleanup runs, then the build ends)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"hatch-funasr: build interrupted by signal {signum}; nothing half-made was kept")
        self.signum = signum


class FunasrBuildHook(BuildHookInterface):  # type: ignore[type-arg]  # generic only in hatchling's stubs
    """Stages the declared models as package data of the bundle's package."""

    PLUGIN_NAME = "funasr"

    @contextlib.contextmanager
    def _said(self) -> Iterator[None]:
        """An error of hatch-funasr is said through hatchling's display before it propagates, one
        clear line (and the problems under it) that the frontend's traceback does not bury."""
        try:
            yield
        except FunasrBuildError as e:
            self.app.display_error(f"hatch-funasr: cannot build the wheel of {self.metadata.core.name}: {e}")
            raise

    def dependencies(self) -> list[str]:
        """Ask the frontend for what the declaration needs in an isolated build environment:
        onnx/onnxruntime to quantize, the export stack to export (see build_requirements)."""
        with self._said():
            return self._dependencies()

    def _dependencies(self) -> list[str]:
        found = find_hook_table(self.metadata.config)
        root = Path(self.root).resolve()
        config = parse(self.metadata.config, root, self.config, found[0] if found else HOOK_PATHS[0])
        settings = Settings.from_env()
        settings.quiet_hub_clients()
        return build_requirements_for(config, root, settings)

    def _has_own_package(self, package: str) -> bool:
        root = Path(self.root)
        return any((root / base / package / "__init__.py").is_file() for base in (".", "src"))

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        with self._said():
            self._initialize(version, build_data)

    def _initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return  # the sdist carries the declaration (and lock), never the models
        root = Path(self.root).resolve()
        found = find_hook_table(self.metadata.config)
        config = parse(self.metadata.config, root, self.config, found[0] if found else HOOK_PATHS[0])
        scratch.sweep(Path(self.directory), PARTIAL_PREFIX)  # left by a build killed while packing
        self._started = time.time()
        self._staging = scratch.make_dir(Path(tempfile.gettempdir()), "hatch-funasr-build-")
        self._catch_signals()
        try:
            settings = Settings.from_env()  # once per build, handed down
            settings.quiet_hub_clients()
            ctx = BuildContext.create(
                self._staging / "work", settings=settings, lock=read_lock(root), report=self.app.display_info
            )
            self._signer = None if version == "editable" else signing.signer_config(ctx.settings)
            if version == "editable" and ctx.settings.signing_key is not None:
                self.app.display_warning("hatch-funasr: an editable install's model directories are not signed")
            if ctx.lock is not None and ctx.settings.lock_update:
                ctx = BuildContext.create(
                    ctx.work,
                    settings=ctx.settings,
                    cache=ctx.cache,
                    report=ctx.report,
                    lock=lock_models(config, ctx),
                )
                assert ctx.lock is not None
                if write_lock(root, ctx.lock):
                    self.app.display_warning(f"hatch-funasr: updated {root / LOCK_NAME} ({EnvVars.LOCK}=update)")
            editable_root = None
            if version == "editable":
                editable_root = ctx.cache.editable_dir(hashlib.sha256(str(root).encode()).hexdigest()[:16])
                shutil.rmtree(editable_root, ignore_errors=True)
            with disk_errors(
                "hatch-funasr: cannot write model files",
                f"free space, or point {EnvVars.CACHE} (now {ctx.cache.root}) and TMPDIR at a writable disk",
            ):
                pkg, staged, manifest = prepare_bundle(
                    config,
                    ctx,
                    self._staging / "wheel",
                    generate_init=not self._has_own_package(config.package),
                    editable_root=editable_root,
                    link_models=False,
                )
        except BaseException:
            self._cleanup()
            raise
        self._entries = [] if version == "editable" else pack_entries(config, staged)
        self._package = config.package
        self._epoch = ctx.settings.source_date_epoch
        self._progress = ctx.settings.progress
        self._config, self._settings, self._lock = config, ctx.settings, ctx.lock
        #: Each model directory's files by wheel path, for its signature (see _sign).
        self._directories = {
            f"{config.package}/models/{s.config.dir_name}": {rel: r.source for rel, r in s.files.items()}
            for s in staged
        }
        # The provenance is written beside the wheel after it, so the SBOM can only name it.
        self._provenance = (
            attest.provenance_name(config.project_name, config.version)
            if ctx.settings.attest and version != "editable"
            else None
        )
        # The SBOM (PEP 770), made from the staged manifest; packing completes both with the
        # sha256 of local files it hashes (see finalize).
        self._manifest = manifest
        # Complete already (hub files, editable builds): render it now; else packing does.
        self._sbom_pending = not manifest.complete
        sbom_file = self._staging / "sbom" / sbom.SBOM_NAME
        sbom_file.parent.mkdir(parents=True, exist_ok=True)
        sbom_file.write_bytes(
            b"{}\n" if self._sbom_pending else sbom.render(manifest, epoch=self._epoch, provenance=self._provenance)
        )
        build_data.setdefault("sbom_files", []).append(str(sbom_file))
        build_data["tag"] = "py3-none-any"  # the runtime module needs Python 3 (hatchling may say py2.py3)
        inclusion = "force_include_editable" if version == "editable" else "force_include"
        build_data.setdefault(inclusion, {})[str(pkg)] = config.package
        if version == "editable":
            build_data["force_include"][str(pkg)] = config.package
        entry_points = self.metadata.core.entry_points
        entry_points.setdefault(ENTRY_POINT_GROUP, {}).setdefault(config.package, config.package)
        self._declare_extras(runtime_extras(config.models))
        total = sum(r.size for s in staged for r in s.files.values())
        self.app.display_info(
            f"hatch-funasr: {len(staged)} model(s), {sum(len(s.files) for s in staged)} files, "
            f"{total / 2**20:.1f} MiB into {config.package}/models"
        )

    def _declare_extras(self, extras: Mapping[str, tuple[str, ...]]) -> None:
        """The bundle's runtimes as extras of the wheel (hatchling writes its METADATA from the core
        metadata after initialize, as with the entry point above); an extra the project declares
        itself under the same name is left as it is."""
        optional = self.metadata.core.optional_dependencies
        for extra, requirements in extras.items():
            if extra in optional:
                if sorted(optional[extra]) != sorted(requirements):
                    self.app.display_warning(
                        f"hatch-funasr: project.optional-dependencies.{extra} is the project's own; "
                        f"the bundle's runtime extra would be: {', '.join(requirements)}"
                    )
                continue
            optional[extra] = list(requirements)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        with self._said():
            self._finalize(artifact_path)

    def _finalize(self, artifact_path: str) -> None:
        try:
            if self.target_name == "wheel" and getattr(self, "_entries", None):
                with disk_errors(
                    f"hatch-funasr: cannot write the wheel {artifact_path}",
                    "free space in the output directory (the unfinished wheel was removed)",
                ):
                    add_models(
                        Path(artifact_path),
                        self._entries,
                        source_date_epoch=self._epoch,
                        report=self.app.display_info,
                        progress=self._progress,
                        rewrite={
                            f"{self._package}/{MANIFEST_NAME}": self._complete_manifest,
                            **(
                                {f"{_dist_info(artifact_path)}/sboms/{sbom.SBOM_NAME}": self._complete_sbom}
                                if self._sbom_pending
                                else {}
                            ),
                        },
                        append=self._sign if self._signer is not None else None,
                    )
            if self._provenance is not None:
                written = attest.write_beside(
                    Path(artifact_path),
                    self._config,
                    self._manifest,
                    self._lock,
                    key=self._settings.signing_key,
                    epoch=self._epoch,
                    offline=self._settings.offline,
                )
                self.app.display_info(f"hatch-funasr: wrote {', '.join(p.name for p in written)}")
        finally:
            self._cleanup()

    def _completed(self, hashes: Mapping[str, str]) -> Manifest:
        """The manifest as packing completed it (every file's sha256 known), made once."""
        if not self._manifest.complete:
            self._manifest = self._manifest.completed(hashes)
        return self._manifest

    def _complete_manifest(self, _staged: bytes, hashes: Mapping[str, str]) -> bytes:
        return self._completed(hashes).to_bytes()

    def _complete_sbom(self, _staged: bytes, hashes: Mapping[str, str]) -> bytes:
        """The SBOM of the completed manifest."""
        return sbom.render(self._completed(hashes), epoch=self._epoch, provenance=self._provenance)

    def _sign(self, written: Mapping[str, str]) -> Mapping[str, bytes]:
        """Each model directory's signature, over its files and the bundle's others (``written``)."""
        bundle = self._manifest.document["bundle"]
        work = self._staging / "sign"
        self.app.display_info(f"hatch-funasr: signing {len(self._directories)} model directories (model-signing)")
        return signing.sign_directories(self._signer, self._directories, written, bundle, work)

    def _catch_signals(self) -> None:
        """Turn SIGTERM/SIGHUP into an exception while the hook owns the build, so the cleanup
        runs: staging removed, and no wheel without its models left behind."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous = {}
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._interrupted)

    def _interrupted(self, signum: int, _frame: object) -> None:
        # Between hatchling writing the wheel and finalize, the wheel has no models yet.
        prefix = canonicalize_name(self.metadata.core.name).replace("-", "_") + "-"
        for wheel in Path(self.directory).glob("*.whl"):
            with contextlib.suppress(OSError):
                if wheel.name.lower().startswith(prefix) and wheel.stat().st_mtime >= self._started - 1:
                    wheel.unlink()
        raise BuildInterrupted(signum)

    def _cleanup(self) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            del self._staging
        for signum, handler in getattr(self, "_previous", {}).items():
            signal.signal(signum, handler)
        self._previous = {}
