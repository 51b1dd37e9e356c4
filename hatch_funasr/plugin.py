"""Hatchling build hook: translates hatchling's calls into :func:`prepare_bundle`, nothing else."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from hatch_funasr.bundle import MANIFEST_NAME, complete_manifest, pack_entries
from hatch_funasr.cache import Cache
from hatch_funasr.config import parse
from hatch_funasr.errors import disk_errors
from hatch_funasr.lock import read_lock, write_lock
from hatch_funasr.pack import add_models
from hatch_funasr.pipeline import lock_models, prepare_bundle

__all__ = ["FunasrBuildHook"]

ENTRY_POINT_GROUP = "funasr_models"


class FunasrBuildHook(BuildHookInterface):  # type: ignore[type-arg]  # generic only in hatchling's stubs
    """Stages the declared models as package data of the bundle's package."""

    PLUGIN_NAME = "funasr"

    def _hook_path(self) -> str:
        targets = self.metadata.config.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
        if "funasr" in targets.get("wheel", {}).get("hooks", {}):
            return "tool.hatch.build.targets.wheel.hooks.funasr"
        return "tool.hatch.build.hooks.funasr"

    def _has_own_package(self, package: str) -> bool:
        root = Path(self.root)
        return any((root / base / package / "__init__.py").is_file() for base in (".", "src"))

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return  # the sdist carries the declaration (and lock), never the models
        root = Path(self.root).resolve()
        config = parse(self.metadata.config, root, self.config, self._hook_path())
        self._staging = Path(tempfile.mkdtemp(prefix="hatch-funasr-build-"))
        cache = Cache()
        lock = read_lock(root)
        if lock is not None and os.environ.get("HATCH_FUNASR_LOCK", "").strip().lower() == "update":
            lock = lock_models(config, lock, cache=cache, report=self.app.display_info)
            if write_lock(root, lock):
                self.app.display_warning(f"hatch-funasr: updated {root / 'funasr.lock'} (HATCH_FUNASR_LOCK=update)")
        editable_root = None
        if version == "editable":
            key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
            editable_root = cache.root / "editable" / key
            shutil.rmtree(editable_root, ignore_errors=True)
        try:
            with disk_errors(
                "hatch-funasr: cannot write model files",
                f"free space, or point HATCH_FUNASR_CACHE (now {cache.root}) and TMPDIR at a writable disk",
            ):
                pkg, staged = prepare_bundle(
                    config,
                    self._staging,
                    cache=cache,
                    report=self.app.display_info,
                    generate_init=not self._has_own_package(config.package),
                    editable_root=editable_root,
                    lock=lock,
                    link_models=False,
                )
        except BaseException:
            self._cleanup()
            raise
        self._entries = [] if version == "editable" else pack_entries(config, staged)
        self._package = config.package
        inclusion = "force_include_editable" if version == "editable" else "force_include"
        build_data.setdefault(inclusion, {})[str(pkg)] = config.package
        if version == "editable":
            build_data["force_include"][str(pkg)] = config.package
        entry_points = self.metadata.core.entry_points
        entry_points.setdefault(ENTRY_POINT_GROUP, {}).setdefault(config.package, config.package)
        total = sum(r.size for s in staged for r in s.files.values())
        self.app.display_info(
            f"hatch-funasr: {len(staged)} model(s), {sum(len(s.files) for s in staged)} files, "
            f"{total / 2**20:.1f} MiB into {config.package}/models"
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        try:
            if self.target_name == "wheel" and getattr(self, "_entries", None):
                with disk_errors(
                    f"hatch-funasr: cannot write the wheel {artifact_path}",
                    "free space in the output directory (the unfinished wheel was removed)",
                ):
                    add_models(
                        Path(artifact_path),
                        self._entries,
                        report=self.app.display_info,
                        rewrite={f"{self._package}/{MANIFEST_NAME}": complete_manifest},
                    )
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            del self._staging
