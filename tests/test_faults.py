"""Faults: dropped and short downloads, killed builds, concurrent
builds on one cache, held and stale locks, full and read-only disks.

Every test ends in either a correct result or a clear error, and checks that nothing
unverified was kept: no blob whose bytes differ from its name, no scratch space, no wheel.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hubserver import Fault, LoopbackHub
from support.projects import MODEL, RUNTIME, VAD_HF_REPO, VAD_ONNX_REPO, make_project, stage_project, wheel_build

from hatch_funasr.cache import Cache
from hatch_funasr.errors import FetchError

HF_VAD = f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n'


@pytest.fixture
def faults(hub: LoopbackHub) -> Iterator[LoopbackHub]:
    """The hub, with faults and throttling removed again after the test."""
    hub.faults.clear()
    hub.chunk_delay = 0.0
    hub.clear_log()
    yield hub
    hub.faults.clear()
    hub.chunk_delay = 0.0


def assert_cache_sound(root: Path) -> None:
    """Every blob's bytes hash to its name, and no scratch space is left.  Called after builds
    that downloaded: the blob store and the scratch root exist (else this is not the cache the
    build used, and every check below would pass on nothing)."""
    blobs = [b for b in (root / "blobs" / "sha256").rglob("*") if b.is_file()]
    assert blobs, f"no blob in {root}: not the cache the build used"
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
    assert (root / "tmp").is_dir(), f"{root / 'tmp'}: downloads made no scratch space here"
    assert not any((root / "tmp").iterdir()), list((root / "tmp").iterdir())


def stage(project: Path, tmp_path: Path, messages: list[str]) -> Path:
    return stage_project(project, tmp_path / "stage", report=messages.append)


def downloads(hub: LoopbackHub, name: str) -> int:
    """GET requests that fetched ``name``'s bytes, on either protocol."""
    return hub.transfers.count(name)


# --- dropped, truncated and short bodies ----------------------------------------------------
@pytest.mark.parametrize(
    ("models", "kind", "times"),
    [
        # Hugging Face bodies are streamed by us: a cut or short body is resumed with a Range request.
        pytest.param(HF_VAD, "truncate", 6, id="hf-truncated-resumed"),
        pytest.param(HF_VAD, "short", 2, id="hf-short-body-resumed"),
        pytest.param('vad = { model = "fsmn-vad", revision = "v2.0.4" }\n', "reset", 1, id="ms-connection-reset"),
        pytest.param(
            'vad = { model = "fsmn-vad", revision = "v2.0.4" }\n', "short", 3, id="ms-short-body-beyond-client-retries"
        ),
    ],
)
def test_dropped_download_is_retried_and_the_result_is_exact(
    models: str,
    kind: str,
    times: int,
    faults: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    vad_repo: dict[str, bytes],
) -> None:
    faults.faults[MODEL] = Fault(kind, times)  # type: ignore[arg-type]
    messages: list[str] = []
    pkg = stage(make_project(tmp_path, models), tmp_path, messages)
    assert faults.faults[MODEL].served == times
    assert (pkg / "models" / "vad" / MODEL).read_bytes() == vad_repo[MODEL]
    if models != HF_VAD and (kind == "short" or times > 1):  # beyond what the client fixes: our retry did
        assert any("retrying model_quant.onnx (2/3)" in m for m in messages), messages
    assert_cache_sound(Path(hub_env["HATCH_FUNASR_CACHE"]))


@pytest.mark.parametrize("kind", ["reset", "short"])
def test_persistent_failure_ends_in_a_clear_error_and_keeps_nothing(
    kind: str,
    faults: LoopbackHub,
    hub_env: dict[str, str],
    tmp_path: Path,
    vad_repo: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_DOWNLOAD_ATTEMPTS", "2")
    faults.faults[MODEL] = Fault(kind)  # type: ignore[arg-type]
    project = make_project(tmp_path, HF_VAD)
    with pytest.raises(
        FetchError,
        match=r"(?s)model vad: model_quant\.onnx from Hugging Face acme/fsmn-vad-onnx@\w+ not downloaded after 2 attempt\(s\); last failure: .+Nothing of it was kept",
    ) as err:
        stage(project, tmp_path, [])
    assert "acme/fsmn-vad-onnx" in str(err.value)
    cache = Path(hub_env["HATCH_FUNASR_CACHE"])
    assert_cache_sound(cache)
    model_sha = hashlib.sha256(vad_repo[MODEL]).hexdigest()
    assert not Cache(cache).blob_path(model_sha).exists()
    # The hub recovers: the next build downloads the file whole, nothing partial was trusted.
    faults.faults.clear()
    pkg = stage(project, tmp_path / "again", [])
    assert (pkg / "models" / "vad" / MODEL).read_bytes() == vad_repo[MODEL]


# --- killed builds ----------------------------------------------------------------------------
def _build_process(project: Path, outdir: str = "dist") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir, "."],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sigkill_mid_download_then_rebuild(
    faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, vad_repo: dict[str, bytes]
) -> None:
    cache = Path(hub_env["HATCH_FUNASR_CACHE"])
    project = make_project(tmp_path)
    faults.chunk_delay = 0.5  # model_quant.onnx (8 chunks of 64 KiB) takes ~4 s
    build = _build_process(project)

    def partial_download() -> bool:
        # The build creates and removes scratch directories while this looks: os.walk skips a
        # directory that vanished between listing and opening (rglob raised on it).
        for parent, _dirs, names in os.walk(cache / "tmp"):
            for name in names:
                if MODEL in name:
                    try:
                        if Path(parent, name).stat().st_size > 0:
                            return True
                    except FileNotFoundError:
                        continue
        return False

    try:
        _wait_for(partial_download, "a partial download of model_quant.onnx")
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.communicate()
    assert build.returncode == -signal.SIGKILL
    assert any((cache / "tmp").iterdir()), "the killed build left its scratch space (as a kill does)"
    assert not Cache(cache).has_blob(hashlib.sha256(vad_repo[MODEL]).hexdigest(), len(vad_repo[MODEL]))
    assert not list(project.rglob("*.whl")), "no wheel anywhere in the project (dist/ or elsewhere)"

    faults.chunk_delay = 0.0
    wheel = wheel_build(project)
    with zipfile.ZipFile(wheel) as zf:
        for name in RUNTIME:
            assert zf.read(f"acme_vad_models/models/vad/{name}") == vad_repo[name]
    assert_cache_sound(cache)  # the dead build's scratch space was swept


# --- concurrent builds ------------------------------------------------------------------------
def test_three_builds_at_once_on_a_cold_cache(
    faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, vad_repo: dict[str, bytes]
) -> None:
    """Three builds listed the repository and wait on one cache lock before any byte is
    downloaded (a holder process keeps it until all three got there: they are in flight
    together by construction, not by hoping a slow link makes them overlap); then each file
    crosses the wire once and all three wheels are the same."""
    listing = f"/api/v1/models/{VAD_ONNX_REPO}/repo/files"

    def listed() -> int:
        return sum(1 for method, target in faults.requests if method == "GET" and target.startswith(listing))

    holder = _hold_lock(faults, 600)
    projects = [make_project(tmp_path, name=f"p{i}") for i in range(3)]
    builds = [_build_process(p) for p in projects]
    try:
        _wait_for(lambda: listed() >= 3, "three builds to list the repository", timeout=120)
        assert faults.transfers == [], "no build downloads while another holds the model's lock"
        assert [b.poll() for b in builds] == [None, None, None], "all three are still running, waiting on the lock"
    finally:
        _stop(holder)
    outputs = [b.communicate(timeout=300)[0] for b in builds]
    assert [b.returncode for b in builds] == [0, 0, 0], outputs
    assert listed() == 3
    wheels = [next((p / "dist").glob("*.whl")).read_bytes() for p in projects]
    assert wheels[0] == wheels[1] == wheels[2]
    for name in RUNTIME:
        assert downloads(faults, name) == 1, (name, faults.requests)
    with zipfile.ZipFile(next((projects[0] / "dist").glob("*.whl"))) as zf:
        assert zf.read(f"acme_vad_models/models/vad/{MODEL}") == vad_repo[MODEL]
    assert_cache_sound(Path(hub_env["HATCH_FUNASR_CACHE"]))


# --- locks --------------------------------------------------------------------------------------
HOLD_LOCK = """
import sys, time
from hatch_funasr.cache import Cache
from hatch_funasr.settings import Settings
with Cache.from_settings(Settings.from_env()).lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _lock_key(hub: LoopbackHub) -> str:
    commit = hub.store.resolve(VAD_ONNX_REPO, "v2.0.4")
    return f"ms:{VAD_ONNX_REPO}@{commit}"


def _hold_lock(hub: LoopbackHub, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, _lock_key(hub), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _stop(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.communicate()


def test_lock_left_by_a_dead_process_does_not_block(
    faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _hold_lock(faults, 600)
    _stop(holder)
    locks = list((Path(hub_env["HATCH_FUNASR_CACHE"]) / "locks").glob("*.lock"))
    assert locks, "the dead process left its lock file behind"
    monkeypatch.setenv("HATCH_FUNASR_LOCK_TIMEOUT", "5")
    pkg = stage(make_project(tmp_path), tmp_path, [])
    assert (pkg / "models" / "vad" / MODEL).is_file()


def test_lock_held_by_a_live_process_waits_a_bounded_time_then_names_it(
    faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _hold_lock(faults, 120)
    try:
        monkeypatch.setenv("HATCH_FUNASR_LOCK_TIMEOUT", "1.5")
        lock_dir = Path(hub_env["HATCH_FUNASR_CACHE"]) / "locks"
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out after 1\.5s waiting for the cache lock") as err:
            stage(make_project(tmp_path), tmp_path, [])
        assert time.monotonic() - started < 60  # bounded: not the default 600 s
        message = str(err.value)
        assert str(next(lock_dir.glob("*.lock"))) in message
        assert f"pid {holder.pid}" in message and "HATCH_FUNASR_LOCK_TIMEOUT" in message
    finally:
        _stop(holder)


# --- full and read-only disks -----------------------------------------------------------------
def _unshare(script: str) -> list[str]:
    """``sh -c script`` in a private mount namespace (a user namespace too when not root)."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", "--mount", "--propagation", "private", *user, "sh", "-c", script]


#: What the kernel says when this user may not create the namespaces or mount there.
_NO_PRIVILEGE = ("Operation not permitted", "Permission denied")


@pytest.fixture(scope="module")
def mount_namespace() -> None:
    """These tests mount a small tmpfs (a full disk) or a read-only one in a private mount
    namespace.  Where the kernel refuses this user the namespace or the mount (no root, and
    unprivileged user namespaces disabled, or a container without CAP_SYS_ADMIN), they are
    skipped saying so; any other failure of the probe fails them."""
    probe = subprocess.run(
        _unshare('d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"'),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        why = (probe.stderr or probe.stdout).strip()
        if any(text in why for text in _NO_PRIVILEGE):
            pytest.skip(f"needs a private mount namespace with tmpfs mounts, which this user may not create ({why})")
        pytest.fail(f"probing for a private mount namespace failed: {why}")


def _in_mount_namespace(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) in a private mount namespace, so it can mount small or read-only file systems."""
    return subprocess.run(
        _unshare(script),
        cwd=cwd,
        env={**os.environ, **env, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )


BUILD = '"$PYTHON" -m build --wheel --no-isolation --outdir "$DIST" . > "$LOG" 2>&1; echo "build exit $?"'
REPORT = textwrap.dedent(
    """
    "$PYTHON" - <<'EOF'
    import hashlib, os, pathlib
    cache = pathlib.Path(os.environ["HATCH_FUNASR_CACHE"])
    for blob in cache.glob("blobs/sha256/*/*"):
        good = hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
        print("blob", blob.name, "ok" if good else "BAD")
    for entry in cache.glob("tmp/*"):
        print("scratch", entry.name)
    for entry in pathlib.Path(os.environ["DIST"]).glob("*"):
        print("dist", entry.name)
    EOF
    """
)


def _full_disk_run(tmp_path: Path, mount: str, project: Path | None = None, **extra: str) -> tuple[str, str]:
    """Build in a mount namespace after ``mount``; the build's exit and what it left, and its log."""
    project = project or make_project(tmp_path)
    env = {"DIST": str(tmp_path / "dist"), "LOG": str(tmp_path / "build.log"), **extra}
    for d in ("dist", "cache"):
        (tmp_path / d).mkdir(exist_ok=True)
    env["HATCH_FUNASR_CACHE"] = str(tmp_path / "cache")
    result = _in_mount_namespace(f"set -e\n{mount}\nset +e\n{BUILD}\n{REPORT}", env, project)
    assert result.returncode == 0, result.stderr
    return result.stdout, (tmp_path / "build.log").read_text()


@pytest.mark.usefixtures("mount_namespace")
def test_cache_on_a_full_disk(faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path) -> None:
    # 256 KiB: the small files fit, model_quant.onnx (500 KiB) does not.
    report, log = _full_disk_run(tmp_path, 'mount -t tmpfs -o size=256k tmpfs "$HATCH_FUNASR_CACHE"')
    assert "build exit 0" not in report
    assert "No space left on device" in log and "free space or point HATCH_FUNASR_CACHE at a writable disk" in log
    assert "model vad: cannot download ModelScope" in log
    assert "BAD" not in report and "scratch" not in report and "dist" not in report, report


@pytest.mark.usefixtures("mount_namespace")
def test_output_on_a_full_disk(faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path) -> None:
    report, log = _full_disk_run(tmp_path, 'mount -t tmpfs -o size=256k tmpfs "$DIST"')
    assert "build exit 0" not in report
    assert "hatch-funasr: cannot write the wheel" in log and "No space left on device" in log
    assert "dist " not in report, report  # neither the wheel nor its unfinished rebuild
    assert "BAD" not in report and "scratch" not in report and report.count("blob ") == len(RUNTIME)


@pytest.mark.usefixtures("mount_namespace")
def test_read_only_cache(faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path) -> None:
    # Cold and read-only: a clear error naming the cache.
    report, log = _full_disk_run(tmp_path, 'mount -t tmpfs -o ro,size=1m tmpfs "$HATCH_FUNASR_CACHE"')
    assert "build exit 0" not in report
    assert "Read-only file system" in log and str(tmp_path / "cache") in log, log
    assert "dist " not in report


@pytest.mark.usefixtures("mount_namespace")
def test_warm_read_only_cache_builds_offline(
    faults: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, vad_repo: dict[str, bytes]
) -> None:
    """A cache filled on a connected machine and shared read-only serves offline builds."""
    warm = tmp_path / "warm-cache"
    project = make_project(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "hatch_funasr", "fetch"],
        cwd=project,
        env={**os.environ, "HATCH_FUNASR_CACHE": str(warm)},
        check=True,
        capture_output=True,
    )
    mount = f'mount --bind "{warm}" "$HATCH_FUNASR_CACHE"\nmount -o remount,ro,bind "$HATCH_FUNASR_CACHE"'
    report, log = _full_disk_run(tmp_path, mount, project, HATCH_FUNASR_OFFLINE="1", HATCH_FUNASR_TRUST_CACHE="1")
    assert "build exit 0" in report, log
    wheel = next((tmp_path / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"acme_vad_models/models/vad/{MODEL}") == vad_repo[MODEL]
