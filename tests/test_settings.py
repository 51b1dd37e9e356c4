"""Every environment variable read in one place (settings), the hub registry, RECORD as CSV."""

from __future__ import annotations

import ast
import hashlib
import zipfile
from pathlib import Path

import pytest
from support.projects import assert_record_matches

from hatch_funasr import catalog
from hatch_funasr.digest import record_hash
from hatch_funasr.errors import ConfigError
from hatch_funasr.hubs import HUBS
from hatch_funasr.pack import PackEntry, add_models, read_record, write_record
from hatch_funasr.settings import EnvVars, Settings

PACKAGE = Path(__file__).resolve().parents[1] / "hatch_funasr"


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert (s.offline, s.lock_update, s.lock_timeout, s.download_attempts) == (False, False, 600.0, 3)
    assert s.cache_root == (tmp_path / "hatch-funasr").resolve()
    assert s.source_date_epoch == 315532800


def test_values(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            EnvVars.OFFLINE: "yes",
            EnvVars.CACHE: str(tmp_path / "c"),
            EnvVars.LOCK: "update",
            EnvVars.LOCK_TIMEOUT: "1.5",
            EnvVars.DOWNLOAD_ATTEMPTS: "5",
            EnvVars.EXPORT_PYTHON: "/opt/export/bin/python",
            EnvVars.SOURCE_DATE_EPOCH: "1767225600",
        }
    )
    assert (s.offline, s.lock_update, s.lock_timeout, s.download_attempts) == (True, True, 1.5, 5)
    assert (s.cache_root, s.export_python, s.source_date_epoch) == (
        tmp_path / "c",
        "/opt/export/bin/python",
        1767225600,
    )


@pytest.mark.parametrize("value", ["0", "1", "-86400", "315532799"])
def test_a_source_date_epoch_before_1980_dates_entries_1980_as_hatchling_does(value: str, tmp_path: Path) -> None:
    """A zip cannot store a date before 1980-01-01.  hatchling dates its own entries of the
    wheel then (wheel.py, ``max(get_reproducible_timestamp(), min_ts)``), so the model files
    are dated the same: the build goes on, and the wheel is still reproducible."""
    epoch = Settings.from_env({EnvVars.SOURCE_DATE_EPOCH: value}).source_date_epoch
    assert epoch == 315532800
    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg-1.dist-info/RECORD", write_record([["pkg-1.dist-info/RECORD", "", ""]]))
    src = tmp_path / "model.onnx"
    src.write_bytes(b"onnx")
    add_models(wheel, [PackEntry("pkg/models/m/model.onnx", src, 4, None)], source_date_epoch=epoch)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.getinfo("pkg/models/m/model.onnx").date_time == (1980, 1, 1, 0, 0, 0)


def test_the_last_date_a_zip_holds_is_taken(tmp_path: Path) -> None:
    assert Settings.from_env({EnvVars.SOURCE_DATE_EPOCH: "4354819199"}).source_date_epoch == 4354819199


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (EnvVars.OFFLINE, "maybe", "HATCH_FUNASR_OFFLINE: expected 1 or 0"),
        (EnvVars.LOCK, "refresh", 'HATCH_FUNASR_LOCK: expected "update" or unset'),
        (EnvVars.LOCK_TIMEOUT, "soon", "HATCH_FUNASR_LOCK_TIMEOUT: expected a number"),
        (EnvVars.LOCK_TIMEOUT, "inf", "HATCH_FUNASR_LOCK_TIMEOUT: expected a finite number"),
        (EnvVars.DOWNLOAD_ATTEMPTS, "2.5", "HATCH_FUNASR_DOWNLOAD_ATTEMPTS: expected a whole number"),
        (EnvVars.SOURCE_DATE_EPOCH, "yesterday", "SOURCE_DATE_EPOCH: expected a whole number"),
        (EnvVars.SOURCE_DATE_EPOCH, "1.7e9", "SOURCE_DATE_EPOCH: expected a whole number"),
        (EnvVars.SOURCE_DATE_EPOCH, "4354819200", "SOURCE_DATE_EPOCH: 4354819200 is after 2107"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid hatch-funasr settings in the environment") as info:
        Settings.from_env({name: value})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "on"), [("TRUE", True), ("Yes", True), (" On ", True), ("1", True), ("False", False), ("NO", False)]
)
def test_a_switch_is_read_in_any_case_and_spacing(value: str, on: bool) -> None:
    """``HATCH_FUNASR_OFFLINE=True`` as shells and CI files write it."""
    assert Settings.from_env({EnvVars.OFFLINE: value}).offline is on
    assert Settings.from_env({EnvVars.TRUST_CACHE: value}).trust_cache is on


def test_only_settings_reads_the_environment() -> None:
    """`os.environ` / `os.getenv` are read in settings.py alone: hub endpoints and the export
    child's environment come from the settings, and making a hub client sets nothing."""
    readers = {}
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        reads = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ]
        if reads:
            readers[module.name] = reads
    # _bundle_runtime.py runs on the deployment host, not in the build: it only sets a variable
    # for the FunASR program it execs (ORT_DISABLE_TELEMETRY).
    assert set(readers) == {"settings.py", "_bundle_runtime.py"}, readers
    text = (PACKAGE / "_bundle_runtime.py").read_text()
    assert "os.environ.get(" not in text and "os.getenv(" not in text


def test_hub_registry_drives_the_catalog_and_the_declaration() -> None:
    assert set(HUBS) == {"ms", "hf"}
    for hub in HUBS.values():
        assert hub.endpoint_var in (EnvVars.MODELSCOPE_ENDPOINT, EnvVars.HF_ENDPOINT)
    for entry in catalog.entries():
        assert set(entry.repos) | set(entry.onnx) | set(entry.gguf) <= set(HUBS)
        # the -gguf aliases name FunASR's GGUF repositories, published on Hugging Face only
        assert "ms" in entry.repos or (entry.format == "gguf" and set(entry.repos) == set(entry.gguf) == {"hf"})


def test_record_round_trips_names_with_commas_and_quotes(tmp_path: Path) -> None:
    rows = [["pkg/a,b.txt", "sha256=x", "3"], ['pkg/q"uote.txt', "sha256=y", "4"], ["pkg-1.dist-info/RECORD", "", ""]]
    assert read_record(write_record(rows)) == rows
    wheel = tmp_path / "pkg-1-py3-none-any.whl"
    metadata = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", b"")
        zf.writestr("pkg-1.dist-info/METADATA", metadata)
        listed = [
            [n, record_hash(hashlib.sha256(d).hexdigest()), str(len(d))]
            for n, d in (("pkg/__init__.py", b""), ("pkg-1.dist-info/METADATA", metadata))
        ]
        zf.writestr("pkg-1.dist-info/RECORD", write_record([*listed, ["pkg-1.dist-info/RECORD", "", ""]]))
    src = tmp_path / "w"
    src.write_bytes(b"x" * 10)
    add_models(wheel, [PackEntry("pkg/models/m/a,b.onnx", src, 10, None)], source_date_epoch=315532800)
    with zipfile.ZipFile(wheel) as zf:
        assert "pkg/models/m/a,b.onnx" in zf.namelist()
        assert '"pkg/models/m/a,b.onnx",sha256=' in zf.read("pkg-1.dist-info/RECORD").decode()
        assert_record_matches(zf)
