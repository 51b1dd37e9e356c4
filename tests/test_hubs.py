"""The hub adapters (hubs.py) against the loopback hub, where what a hub answers decides what can
be trusted: ModelScope's revision listing names no commit (it is inferred from the files' own
``Revision``), and Hugging Face lists no sha256 for files outside LFS (their git blob id is
checked instead)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support.hubserver import LoopbackHub
from support.projects import make_project, stage_project

from hatch_funasr.cache import Cache
from hatch_funasr.errors import FetchError, IntegrityError
from hatch_funasr.hubs import HUBS

HISTORY = "acme/history"
#: Under hubserver's LFS threshold (1 KiB) and not a model suffix: a plain git file on Hugging Face.
SMALL_CONFIG = b"model: FsmnVADStreaming\nmodel_conf:\n  max_end_silence_time: 800\n"


@pytest.fixture(scope="module")
def history(hub: LoopbackHub) -> dict[str, str]:
    """Three commits: v1 (a, b), v2 changes b, master then changes a.  So at v2 the files' own
    commits differ (a from v1, b from v2), and the newest of them is v2's."""
    store = hub.store
    v1 = store.publish(HISTORY, {"a.txt": b"one", "b.txt": b"one"}, tags=["v1"])
    v2 = store.publish(HISTORY, {"a.txt": b"one", "b.txt": b"two"}, tags=["v2"])
    master = store.publish(HISTORY, {"a.txt": b"three", "b.txt": b"two"})
    assert len({v1, v2, master}) == 3
    return {"v1": v1, "v2": v2, "master": master}


@pytest.mark.parametrize("revision", ["v1", "v2", "master", None])
def test_modelscope_commit_of_a_revision_is_the_newest_commit_of_its_files(
    revision: str | None, history: dict[str, str], hub_env: dict[str, str]
) -> None:
    listing = HUBS["ms"].client().list(HISTORY, revision)
    assert listing.commit == history[revision or "master"]
    assert set(listing.files) == {"a.txt", "b.txt"}


def test_modelscope_listing_at_a_commit_and_its_files(history: dict[str, str], hub_env: dict[str, str]) -> None:
    listing = HUBS["ms"].client().list(HISTORY, history["v2"])
    assert listing.commit == history["v2"]
    assert {p: (f.size, f.sha256, f.git_sha1) for p, f in listing.files.items()} == {
        "a.txt": (3, hashlib.sha256(b"one").hexdigest(), None),
        "b.txt": (3, hashlib.sha256(b"two").hexdigest(), None),
    }


def test_modelscope_unknown_revision_names_the_ones_it_has(history: dict[str, str], hub_env: dict[str, str]) -> None:
    with pytest.raises(FetchError) as info:
        HUBS["ms"].client().list(HISTORY, "v9")
    assert str(info.value) == f"ModelScope repository {HISTORY} has no revision v9 (it has: master, v1, v2)"


def test_hugging_face_lists_sha256_for_lfs_files_and_the_git_blob_id_for_others(
    hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    big = b"\x00" * 4096
    commit = hub.store.publish("acme/mixed", {"config.yaml": SMALL_CONFIG, "model.onnx": big})
    listing = HUBS["hf"].client().list("acme/mixed", None)
    assert listing.commit == commit
    git_id = hashlib.sha1(b"blob %d\x00" % len(SMALL_CONFIG) + SMALL_CONFIG).hexdigest()
    assert {p: (f.size, f.sha256, f.git_sha1) for p, f in listing.files.items()} == {
        "config.yaml": (len(SMALL_CONFIG), None, git_id),
        "model.onnx": (len(big), hashlib.sha256(big).hexdigest(), None),
    }


def test_hugging_face_file_outside_lfs_with_other_bytes_is_refused_by_its_git_blob_id(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], vad_repo: dict[str, bytes]
) -> None:
    """A mirror serving other bytes of the same size for config.yaml (no sha256 in the listing):
    caught by the git blob id, nothing of it enters the cache; the good bytes are taken later."""
    repo = "acme/vad-plain-config"
    hub.store.publish(
        repo,
        {"model_quant.onnx": vad_repo["model_quant.onnx"], "am.mvn": vad_repo["am.mvn"], "config.yaml": SMALL_CONFIG},
    )
    project = make_project(tmp_path, f'vad = {{ model = "{repo}", hub = "hf", family = "fsmn-vad" }}\n')
    altered = bytes([SMALL_CONFIG[0] ^ 0xFF]) + SMALL_CONFIG[1:]  # what hub.tamper serves
    hub.tamper.add("config.yaml")
    try:
        with pytest.raises(IntegrityError) as info:
            stage_project(project, tmp_path / "tampered")
    finally:
        hub.tamper.discard("config.yaml")

    def git_id(data: bytes) -> str:
        return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()

    assert str(info.value) == (
        f"model vad: {repo}/config.yaml: downloaded content does not match the hub listing: "
        f"git blob id {git_id(altered)}, expected {git_id(SMALL_CONFIG)}"
    )
    cache = Path(hub_env["HATCH_FUNASR_CACHE"])
    assert not Cache(cache).has_blob(hashlib.sha256(altered).hexdigest(), len(altered))
    pkg = stage_project(project, tmp_path / "good")
    assert (pkg / "models" / "vad" / "config.yaml").read_bytes() == SMALL_CONFIG
