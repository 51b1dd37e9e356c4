"""What every stage of one build shares: settings, cache, scratch space, reporter, lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hatch_funasr.cache import Cache
from hatch_funasr.lock import Lock
from hatch_funasr.settings import Report, Settings, silent

__all__ = ["BuildContext"]


@dataclass(frozen=True)
class BuildContext:
    """One build's (or one command's) shared state, passed instead of loose arguments."""

    settings: Settings
    cache: Cache
    #: Scratch space of this build (derived files before they enter the cache); removed after.
    work: Path
    report: Report
    #: Build from the cache alone (``HATCH_FUNASR_OFFLINE``), never touching the network.
    offline: bool
    #: The project's ``funasr.lock``, when it has one.
    lock: Lock | None

    @classmethod
    def create(
        cls,
        work: Path,
        *,
        settings: Settings | None = None,
        cache: Cache | None = None,
        offline: bool | None = None,
        lock: Lock | None = None,
        report: Report = silent,
    ) -> BuildContext:
        """A context from the environment's settings, overridden where given."""
        settings = settings or Settings.from_env()
        return cls(
            settings=settings,
            cache=cache or Cache.from_settings(settings),
            work=work,
            report=report,
            offline=settings.offline if offline is None else offline,
            lock=lock,
        )
