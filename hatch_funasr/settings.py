"""Every environment variable hatch-funasr reads, in one place, and the small shared shims.

Hatchling passes no config-settings to build hooks, so runtime switches are environment
variables.  :class:`Settings` reads them all at once, when a build or a command starts (not
at import, so a variable set later is honoured), validates each, and is handed down: no other
module reads the environment.  It keeps the environment it read, for what depends on the hub
registry (each hub's endpoint variable: :meth:`Settings.endpoint`) and for the export child's
environment (:meth:`Settings.child_environment`); tokens are never read, only left out.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hatch_funasr.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["EnvVars", "Report", "Settings", "silent", "tomllib"]

#: How the pipeline tells the user what it does: one line at a time (hatchling's
#: ``app.display_info`` in the hook, stderr in the CLI).
Report = Callable[[str], None]


def silent(_message: str) -> None:
    """A :data:`Report` that says nothing."""


class EnvVars:
    """The names of every variable read (``HATCH_FUNASR_*``) or passed on (hub clients)."""

    OFFLINE = "HATCH_FUNASR_OFFLINE"
    CACHE = "HATCH_FUNASR_CACHE"
    LOCK = "HATCH_FUNASR_LOCK"
    LOCK_TIMEOUT = "HATCH_FUNASR_LOCK_TIMEOUT"
    DOWNLOAD_ATTEMPTS = "HATCH_FUNASR_DOWNLOAD_ATTEMPTS"
    EXPORT_PYTHON = "HATCH_FUNASR_EXPORT_PYTHON"
    KEY_FILE = "HATCH_FUNASR_KEY_FILE"
    TRUST_CACHE = "HATCH_FUNASR_TRUST_CACHE"
    PROGRESS = "HATCH_FUNASR_PROGRESS"
    ATTEST = "HATCH_FUNASR_ATTEST"
    SIGNING_KEY = "HATCH_FUNASR_SIGNING_KEY"
    SIGNING_CERTIFICATE = "HATCH_FUNASR_SIGNING_CERTIFICATE"
    SIGNING_CHAIN = "HATCH_FUNASR_SIGNING_CHAIN"
    SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
    # Hub clients: endpoints (mirrors) we pass on explicitly; switches we set for them.
    HF_ENDPOINT = "HF_ENDPOINT"
    MODELSCOPE_ENDPOINT = "MODELSCOPE_ENDPOINT"
    HF_HUB_DISABLE_TELEMETRY = "HF_HUB_DISABLE_TELEMETRY"
    HF_HUB_OFFLINE = "HF_HUB_OFFLINE"
    TQDM_DISABLE = "TQDM_DISABLE"
    # Platform cache locations.
    XDG_CACHE_HOME = "XDG_CACHE_HOME"
    XDG_CONFIG_HOME = "XDG_CONFIG_HOME"
    LOCALAPPDATA = "LOCALAPPDATA"
    APPDATA = "APPDATA"


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
#: The zip format's earliest date (1980-01-01): what a wheel's entries are dated without SOURCE_DATE_EPOCH,
#: and with an earlier one (hatchling dates its own entries so: hatchling/builders/wheel.py, ``min_ts``).
_ZIP_EPOCH = 315532800
#: The zip format's last second (2107-12-31T23:59:59Z): its year field holds 1980 + 0..127.
_ZIP_END = 4354819199


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError([f"{name}: expected 1 or 0 (true/false, yes/no, on/off), got {raw!r}"], source="the environment")


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        noun = "a whole number" if integer else "a number"
        raise ConfigError([f"{name}: expected {noun}, got {raw!r}"], source="the environment") from None
    if not math.isfinite(value):
        raise ConfigError([f"{name}: expected a finite number, got {raw!r}"], source="the environment")
    return max(minimum, value)


def _default_cache_root(env: Mapping[str, str]) -> Path:
    if sys.platform == "win32":
        base = Path(env.get(EnvVars.LOCALAPPDATA) or Path.home() / "AppData" / "Local")
        return base / "hatch-funasr" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hatch-funasr"
    return Path(env.get(EnvVars.XDG_CACHE_HOME) or Path.home() / ".cache") / "hatch-funasr"


def _default_key_file(env: Mapping[str, str]) -> Path:
    """Where this machine's key for the cache's derived-file records lives: the user's config
    directory, never the cache (which travels, and is not trusted)."""
    if sys.platform == "win32":
        base = Path(env.get(EnvVars.APPDATA) or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(env.get(EnvVars.XDG_CONFIG_HOME) or Path.home() / ".config")
    return base / "hatch-funasr" / "cache.key"


@dataclass(frozen=True)
class Settings:
    """The runtime switches of one build or command."""

    #: ``HATCH_FUNASR_OFFLINE=1``: build from the cache alone, never touch the network.
    offline: bool = False
    #: ``HATCH_FUNASR_CACHE``: the cache directory (created if missing); unset, the platform's user cache directory.
    cache_root: Path = Path()
    #: ``HATCH_FUNASR_LOCK=update``: a build re-locks a changed declaration instead of failing.
    lock_update: bool = False
    #: ``HATCH_FUNASR_LOCK_TIMEOUT`` seconds to wait for another build's cache lock (default 600).
    lock_timeout: float = 600.0
    #: ``HATCH_FUNASR_DOWNLOAD_ATTEMPTS`` tries per file, on top of the client's own retries (default 3).
    download_attempts: int = 3
    #: ``HATCH_FUNASR_EXPORT_PYTHON``: the Python (with torch and funasr) that runs FunASR's export.
    export_python: str = sys.executable
    #: ``SOURCE_DATE_EPOCH``: the time stamped on a wheel's entries (reproducible builds).
    source_date_epoch: int = _ZIP_EPOCH
    #: ``HATCH_FUNASR_KEY_FILE``: this machine's key that signs derived-file records in the cache.
    key_file: Path = Path()
    #: ``HATCH_FUNASR_TRUST_CACHE=1``: allow an offline build without funasr.lock, taking the
    #: cache's listings on trust (the cache is otherwise not a root of trust).
    trust_cache: bool = False
    #: ``HATCH_FUNASR_PROGRESS``: ``live`` (a line rewritten on stderr), ``log`` (a line per 10%
    #: or 5 s), ``off``; unset: live on a terminal, log elsewhere.
    progress: str | None = None
    #: ``HATCH_FUNASR_ATTEST=1``: write, beside the wheel, ``<name>-<version>.requirements.txt`` (the
    #: wheel's sha256 for ``pip install --require-hashes``) and ``<name>-<version>.intoto.jsonl``
    #: (build provenance). Off by default: ``twine upload dist/*`` refuses files that are not
    #: distributions (see guides/verifying.md).
    attest: bool = False
    #: ``HATCH_FUNASR_SIGNING_KEY``: a PEM elliptic-curve private key; with it every model directory
    #: of the wheel gets an OpenSSF Model Signing signature (``model.sig``), and the provenance is signed.
    signing_key: Path | None = None
    #: ``HATCH_FUNASR_SIGNING_CERTIFICATE``: the key's certificate (PEM): signatures carry it, and
    #: are checked against a certificate chain instead of a public key.
    signing_certificate: Path | None = None
    #: ``HATCH_FUNASR_SIGNING_CHAIN``: the certificates between it and the root (PEM files,
    #: separated like PATH).
    signing_chain: tuple[Path, ...] = ()
    # The environment as it was read (copied once): hub endpoints, the export child's environment.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every switch; a bad value is a :class:`ConfigError` naming the variable."""
        env = dict(os.environ if env is None else env)
        cache = env.get(EnvVars.CACHE, "").strip()
        lock = env.get(EnvVars.LOCK, "").strip().lower()
        if lock not in ("", "update"):
            raise ConfigError([f'{EnvVars.LOCK}: expected "update" or unset, got {lock!r}'], source="the environment")
        epoch = _number(env, EnvVars.SOURCE_DATE_EPOCH, _ZIP_EPOCH, minimum=_ZIP_EPOCH, integer=True)
        if epoch > _ZIP_END:
            why = f"{EnvVars.SOURCE_DATE_EPOCH}: {int(epoch)} is after 2107, the last year a zip (a wheel) can date"
            raise ConfigError([why], source="the environment")
        cache_root = (Path(cache).expanduser() if cache else _default_cache_root(env)).resolve()
        if cache_root.exists() and not cache_root.is_dir():
            why = f"{EnvVars.CACHE}: {cache_root} is not a directory; point it at a directory (created if missing)"
            raise ConfigError([why], source="the environment")
        key_file = env.get(EnvVars.KEY_FILE, "").strip()
        progress = env.get(EnvVars.PROGRESS, "").strip().lower()
        if progress not in ("", "live", "log", "off"):
            why = f'{EnvVars.PROGRESS}: expected "live", "log" or "off", got {progress!r}'
            raise ConfigError([why], source="the environment")
        return cls(
            offline=_flag(env, EnvVars.OFFLINE),
            cache_root=cache_root,
            lock_update=lock == "update",
            lock_timeout=_number(env, EnvVars.LOCK_TIMEOUT, 600.0, minimum=0.0),
            download_attempts=int(_number(env, EnvVars.DOWNLOAD_ATTEMPTS, 3, minimum=1, integer=True)),
            export_python=env.get(EnvVars.EXPORT_PYTHON, "").strip() or sys.executable,
            source_date_epoch=int(epoch),
            key_file=(Path(key_file).expanduser() if key_file else _default_key_file(env)).resolve(),
            trust_cache=_flag(env, EnvVars.TRUST_CACHE),
            progress=progress or None,
            attest=_flag(env, EnvVars.ATTEST),
            **_signing(env),
            environ=env,
        )

    def endpoint(self, variable: str, default: str | None) -> str | None:
        """A hub client's endpoint: a mirror when its variable is set, else ``default``."""
        value = self.environ.get(variable, "").strip() or default
        return value.rstrip("/") if value else None

    def child_environment(self, *, drop: Iterable[str], put: Mapping[str, str]) -> dict[str, str]:
        """The environment of a child process (the export): this one's, without ``drop``
        (credentials), with ``put`` on top."""
        dropped = set(drop)
        return {k: v for k, v in self.environ.items() if k not in dropped} | dict(put)

    def quiet_hub_clients(self) -> None:
        """Set the hub clients' own switches in this process, once per build or command, before
        a client is imported (they read them at import), unless the user set them:
        ``TQDM_DISABLE=1`` (modelscope_hub draws a tqdm bar for every file it streams, whatever its
        caller asks; our progress reports per model; ``TQDM_DISABLE=0`` keeps the bars) and
        ``HF_HUB_DISABLE_TELEMETRY=1`` (huggingface_hub 2.x fetches an "agent harnesses" registry
        from its import-time endpoint on first use, whatever ``endpoint=`` says; a build tool talks
        to the mirror only)."""
        for name in (EnvVars.TQDM_DISABLE, EnvVars.HF_HUB_DISABLE_TELEMETRY):
            if name not in self.environ:
                os.environ.setdefault(name, "1")


def _signing(env: Mapping[str, str]) -> dict[str, Any]:
    """The signing key, certificate and chain: files that exist (named by the environment only,
    never by the project, so a key is never committed beside the declaration)."""

    def existing(name: str, raw: str) -> Path:
        path = Path(raw).expanduser().resolve()
        if not path.is_file():
            raise ConfigError([f"{name}: {raw!r} is not a file"], source="the environment")
        return path

    key = env.get(EnvVars.SIGNING_KEY, "").strip()
    cert = env.get(EnvVars.SIGNING_CERTIFICATE, "").strip()
    chain = [c for c in env.get(EnvVars.SIGNING_CHAIN, "").split(os.pathsep) if c.strip()]
    if (cert or chain) and not key:
        why = f"{EnvVars.SIGNING_CERTIFICATE} and {EnvVars.SIGNING_CHAIN} need {EnvVars.SIGNING_KEY} (the private key)"
        raise ConfigError([why], source="the environment")
    if chain and not cert:
        why = f"{EnvVars.SIGNING_CHAIN} needs {EnvVars.SIGNING_CERTIFICATE} (the certificate the chain vouches for)"
        raise ConfigError([why], source="the environment")
    if cert and not chain:  # model-signing 1.1 cannot sign with a certificate and an empty chain
        why = f"{EnvVars.SIGNING_CERTIFICATE} needs {EnvVars.SIGNING_CHAIN} (the issuing CA's certificates)"
        raise ConfigError([why], source="the environment")
    return {
        "signing_key": existing(EnvVars.SIGNING_KEY, key) if key else None,
        "signing_certificate": existing(EnvVars.SIGNING_CERTIFICATE, cert) if cert else None,
        "signing_chain": tuple(existing(EnvVars.SIGNING_CHAIN, c.strip()) for c in chain),
    }
