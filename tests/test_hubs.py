"""The hub adapters (hubs.py) against the loopback hub, where what a hub answers decides what can
be trusted: ModelScope's revision listing names no commit (it is inferred from the files' own
``Revision``), and Hugging Face lists no sha256 for files outside LFS (their git blob id is
checked instead)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support import hubserver, realvad
from support.hubserver import Fault, LoopbackHub
from support.projects import VAD_HF_REPO, config_of, make_project, stage_project

from hatch_funasr import hubs
from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.context import BuildContext
from hatch_funasr.digest import FileDigest, hash_stream
from hatch_funasr.errors import FetchError, IntegrityError
from hatch_funasr.export import export_environment
from hatch_funasr.hubs import HUBS, HubSpec, _date, _hf_license, search
from hatch_funasr.lock import read_lock, write_lock
from hatch_funasr.manifest import read_manifest
from hatch_funasr.model import RemoteFile, RemoteModel, RepoListing
from hatch_funasr.pipeline import lock_models
from hatch_funasr.sbom import render
from hatch_funasr.settings import Settings
from hatch_funasr.sources import open_source

HISTORY = "acme/history"
#: Under hubserver's LFS threshold (1 KiB) and not a model suffix: a plain git file on Hugging Face.
SMALL_CONFIG = b"model: FsmnVADStreaming\nmodel_conf:\n  max_end_silence_time: 800\n"


@pytest.fixture(scope="module")
def history(hub: LoopbackHub) -> dict[str, str]:
    """Three commits: v1 (a, b), v2 changes b, master then changes a.  So at v2 the files' own
    commits differ (a from v1, b from v2), and the newest of them is v2's."""
    store = hub.store
    same = {"sub/c.txt": b"c", "empty.txt": b""}  # a nested file and an empty one, unchanged throughout
    v1 = store.publish(HISTORY, {"a.txt": b"one", "b.txt": b"one", **same}, tags=["v1"])
    v2 = store.publish(HISTORY, {"a.txt": b"one", "b.txt": b"two", **same}, tags=["v2"])
    master = store.publish(HISTORY, {"a.txt": b"three", "b.txt": b"two", **same})
    store.describe(HISTORY, license="Apache License 2.0")
    assert len({v1, v2, master}) == 3
    return {"v1": v1, "v2": v2, "master": master}


@pytest.mark.parametrize("revision", ["v1", "v2", "master", None])
def test_modelscope_commit_of_a_revision_is_the_newest_commit_of_its_files(
    revision: str | None, history: dict[str, str], hub_env: dict[str, str]
) -> None:
    listing = HUBS["ms"].client(Settings.from_env()).list(HISTORY, revision)
    assert listing.commit == history[revision or "master"]
    assert set(listing.files) == {"a.txt", "b.txt", "sub/c.txt", "empty.txt"}  # files only, nested ones too
    assert listing.license == "Apache License 2.0"


def test_modelscope_listing_at_a_commit_and_its_files(history: dict[str, str], hub_env: dict[str, str]) -> None:
    listing = HUBS["ms"].client(Settings.from_env()).list(HISTORY, history["v2"])
    assert listing.commit == history["v2"]
    assert {p: (f.size, f.sha256, f.git_sha1) for p, f in listing.files.items()} == {
        "a.txt": (3, hashlib.sha256(b"one").hexdigest(), None),
        "b.txt": (3, hashlib.sha256(b"two").hexdigest(), None),
        "sub/c.txt": (1, hashlib.sha256(b"c").hexdigest(), None),
        "empty.txt": (0, hashlib.sha256(b"").hexdigest(), None),
    }


def test_modelscope_unknown_revision_names_the_ones_it_has(history: dict[str, str], hub_env: dict[str, str]) -> None:
    with pytest.raises(FetchError) as info:
        HUBS["ms"].client(Settings.from_env()).list(HISTORY, "v9")
    assert str(info.value) == f"ModelScope repository {HISTORY} has no revision v9 (it has: master, v1, v2)"


def test_hugging_face_lists_sha256_for_lfs_files_and_the_git_blob_id_for_others(
    hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    big = b"\x00" * 4096
    commit = hub.store.publish("acme/mixed", {"config.yaml": SMALL_CONFIG, "model.onnx": big, "empty.txt": b""})
    listing = HUBS["hf"].client(Settings.from_env()).list("acme/mixed", None)
    assert listing.commit == commit
    git_id = hashlib.sha1(b"blob %d\x00" % len(SMALL_CONFIG) + SMALL_CONFIG).hexdigest()
    assert {p: (f.size, f.sha256, f.git_sha1) for p, f in listing.files.items()} == {
        "config.yaml": (len(SMALL_CONFIG), None, git_id),
        "model.onnx": (len(big), hashlib.sha256(big).hexdigest(), None),
        "empty.txt": (0, None, hashlib.sha1(b"blob 0\x00").hexdigest()),
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


def test_modelscope_repository_without_files_has_no_commit_to_infer(hub: LoopbackHub, hub_env: dict[str, str]) -> None:
    hub.store.publish("acme/nothing", {})
    with pytest.raises(FetchError) as info:
        HUBS["ms"].client(Settings.from_env()).list("acme/nothing", None)
    assert str(info.value) == "ModelScope did not report a commit for acme/nothing@master"


class _Legacy:
    def __init__(self, entries: list[dict[str, object]]) -> None:
        self.entries, self.asked = entries, []  # type: ignore[var-annotated]

    def list_repo_files(self, **kwargs: object) -> list[dict[str, object]]:
        self.asked.append(kwargs)
        return self.entries


class _Api:
    """modelscope_hub.HubApi as an answer that names a revision's commit would look (CommitId)."""

    def __init__(self, revisions: list[dict[str, object]], entries: list[dict[str, object]]) -> None:
        self.revisions, self.legacy = revisions, _Legacy(entries)

    def list_repo_revisions(self, repo: str, kind: str) -> list[dict[str, object]]:
        assert kind == "model"
        return self.revisions

    def get_repo(self, repo: str, kind: str) -> object:
        raise RuntimeError("no licence here")


def test_modelscope_commit_id_when_a_revision_listing_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    commit = "c" * 40
    entries: list[dict[str, object]] = [
        {"Path": "a.txt", "Type": "blob", "Size": 3, "Sha256": "a" * 64, "Revision": "d" * 40, "CommittedDate": 9},
        {"Path": "sub", "Type": "tree", "Size": 0, "Sha256": "", "Revision": "e" * 40},
        {"Path": "b.txt", "Size": None, "Sha256": ""},  # no Type: a file; no size or hash given
    ]
    api = _Api([{"Revision": "v1", "CommitId": commit}, {"Revision": None}], entries)
    client = HUBS["ms"].adapter(None, "master")
    monkeypatch.setattr(client, "_api", lambda *_: api)
    listing = client.list("acme/x", "v1")
    assert listing.commit == commit and listing.license is None
    assert {p: (f.size, f.sha256, f.git_sha1) for p, f in listing.files.items()} == {
        "a.txt": (3, "a" * 64, None),
        "b.txt": (0, None, None),
    }
    assert api.legacy.asked == [{"repo_id": "acme/x", "repo_type": "model", "revision": commit, "recursive": True}]
    with pytest.raises(FetchError) as info:
        client.list("acme/x", "v2")
    assert str(info.value) == "ModelScope repository acme/x has no revision v2 (it has: v1)"
    monkeypatch.setattr(client, "_api", lambda *_: _Api([], entries))
    with pytest.raises(FetchError, match=r"^ModelScope repository acme/x has no revision v2 \(it has: none\)$"):
        client.list("acme/x", "v2")


@pytest.mark.parametrize(
    ("info", "licence"),
    [
        (SimpleNamespace(card_data=SimpleNamespace(license="apache-2.0"), tags=["license:mit"]), "apache-2.0"),
        (
            SimpleNamespace(card_data=SimpleNamespace(license=""), tags=[3, "other", "license:mit", "license:bsd"]),
            "mit",
        ),
        (SimpleNamespace(card_data=None, tags=["license:cc-by-4.0"]), "cc-by-4.0"),
        (SimpleNamespace(card_data=SimpleNamespace(license=["mit"]), tags=None), None),
        (SimpleNamespace(), None),
    ],
)
def test_hugging_face_licence_from_the_card_else_its_tag(info: object, licence: str | None) -> None:
    assert _hf_license(info) == licence


def test_the_hubs_licences_reach_the_source_and_a_bad_one_is_said_and_dropped(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], history: dict[str, str]
) -> None:
    hub.store.publish("acme/licensed", {"config.yaml": SMALL_CONFIG})
    hub.store.describe("acme/licensed", license="apache-2.0")
    hub.store.publish("acme/odd-licence", {"config.yaml": SMALL_CONFIG})
    hub.store.describe("acme/odd-licence", license="<see LICENSE>")
    messages: list[str] = []
    ctx = BuildContext.create(tmp_path / "work", report=messages.append)
    declared = {
        "ms": {"model": HISTORY, "family": "fsmn-vad"},
        "hf": {"model": "acme/licensed", "hub": "hf", "family": "fsmn-vad"},
        "odd": {"model": "acme/odd-licence", "hub": "hf", "family": "fsmn-vad"},
    }
    config = config_of(tmp_path, declared)
    sources = {m.name: open_source(m, ctx) for m in config.models}
    assert {n: s.license for n, s in sources.items()} == {"ms": "Apache License 2.0", "hf": "apache-2.0", "odd": None}
    assert messages == ["model odd: ignoring the licence Hugging Face reports (not a licence name): '<see LICENSE>'"]
    snapshot = ctx.cache.read_snapshot("hf", "acme/licensed", sources["hf"].commit or "")
    assert snapshot is not None and snapshot["license"] == "apache-2.0"


def test_a_git_hashed_file_keeps_the_sha256_learnt_when_it_was_downloaded(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    """Hugging Face lists only a git blob id for config.yaml; once downloaded, its sha256 is kept
    with the cached listing and used the next time that commit is listed (the same git id)."""
    repo = "acme/learnt"
    commit = hub.store.publish(repo, {"config.yaml": SMALL_CONFIG, "model.onnx": b"\x00" * 2048})
    config = config_of(tmp_path, {"m": {"model": repo, "hub": "hf", "family": "fsmn-vad"}})
    ctx = BuildContext.create(tmp_path / "work")
    first = open_source(config.models[0], ctx)
    assert first.listing["config.yaml"].sha256 is None
    first.materialize(["config.yaml"], ctx.report)
    again = open_source(config.models[0], ctx).listing["config.yaml"]
    assert again.sha256 == hashlib.sha256(SMALL_CONFIG).hexdigest()
    # a cached entry whose git id is not the listed one, or a cached listing that is not one: not used
    snapshots = [
        {"files": {"config.yaml": {"size": 1, "sha256": "f" * 64, "git_sha1": "0" * 40}}},
        {"files": {"../x": {"size": 1, "sha256": "f" * 64, "git_sha1": None}}},
        {"files": "nothing"},
    ]
    for snapshot in snapshots:
        ctx.cache.write_snapshot("hf", repo, commit, snapshot)
        assert open_source(config.models[0], ctx).listing["config.yaml"].sha256 is None, snapshot
    assert ctx.cache.read_ref("hf", repo, "@default") == commit


# --- Hugging Face downloads: streamed, hashed, resumed, cut off -----------------------------------
BODY = bytes(range(256)) * 1024 * 12  # 3 MiB: three of our 1 MiB reads, so a cut leaves some read
BODY_REPO = "acme/body"


@pytest.fixture
def body_hub(
    hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LoopbackHub, str]]:
    """The hub with one 3 MiB file; the client's retry backoff does not sleep."""
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    commit = hub.store.publish(BODY_REPO, {"model.bin": BODY})
    hub.faults.clear()
    hub.ignore_range.clear()
    yield hub, commit
    hub.faults.clear()
    hub.ignore_range.clear()


def _fetch(commit: str, dest: Path, size: int = len(BODY)) -> tuple[FileDigest, list[int]]:
    """Fetch model.bin into ``dest/nested`` (neither exists yet)."""
    counted: list[int] = []
    remote = RemoteFile("model.bin", size, None, None)
    digest = (
        HUBS["hf"].client(Settings.from_env()).fetch(BODY_REPO, commit, remote, dest / "nested", counted.append)
    )  # made, parents too
    return digest, counted


def test_a_cut_transfer_resumes_where_it_stopped(body_hub: tuple[LoopbackHub, str], tmp_path: Path) -> None:
    hub, commit = body_hub
    hub.faults["model.bin"] = Fault("truncate", 1)
    digest, counted = _fetch(commit, tmp_path)
    assert (tmp_path / "nested" / "model.bin").read_bytes() == BODY
    assert (digest.size, digest.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert digest.git_sha1 == hashlib.sha1(b"blob %d\x00" % len(BODY) + BODY).hexdigest()
    assert min(counted) > 0 and sum(counted) == len(BODY)  # the rest came as a range: nothing sent twice


def test_a_resume_the_server_answers_whole_starts_over(body_hub: tuple[LoopbackHub, str], tmp_path: Path) -> None:
    hub, commit = body_hub
    hub.faults["model.bin"] = Fault("truncate", 1)
    hub.ignore_range.add("model.bin")
    digest, counted = _fetch(commit, tmp_path / "dest")
    assert (tmp_path / "dest" / "nested" / "model.bin").read_bytes() == BODY
    assert digest.sha256 == hashlib.sha256(BODY).hexdigest()
    assert digest.git_sha1 == hashlib.sha1(b"blob %d\x00" % len(BODY) + BODY).hexdigest()  # hashed afresh
    given_back = [c for c in counted if c < 0]
    assert given_back == [-(len(BODY) // 2)] and sum(counted) == len(BODY)  # all that arrived before the cut


def test_a_body_longer_than_listed_is_cut_off(body_hub: tuple[LoopbackHub, str], tmp_path: Path) -> None:
    _, commit = body_hub
    with pytest.raises(IntegrityError) as info:
        _fetch(commit, tmp_path, size=len(BODY) - 1)
    assert (
        str(info.value)
        == f"{BODY_REPO}/model.bin: the hub sent more than the {len(BODY) - 1} bytes it lists; stopped there"
    )
    assert (tmp_path / "nested" / "model.bin").stat().st_size <= len(BODY) - 1


@pytest.mark.parametrize(("kind", "why"), [("reset", r"\(\w+Error: .+\)"), ("short", r"\(the body ended early\)")])
def test_a_transfer_that_never_completes_says_how_far_it_got(
    kind: str, why: str, body_hub: tuple[LoopbackHub, str], tmp_path: Path
) -> None:
    hub, commit = body_hub
    hub.faults["model.bin"] = Fault(kind)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError) as info:
        _fetch(commit, tmp_path)
    assert re.fullmatch(rf"model\.bin: (\d+) of {len(BODY)} bytes after 6 tries {why}", str(info.value)), info.value
    assert hub.faults["model.bin"].served >= 6  # our six tries (the client may retry within each)


@pytest.mark.parametrize(
    ("value", "date"),
    [
        (datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc), "2024-05-06"),
        ("2024-05-06T07:08:09.000Z", "2024-05-06"),
        (None, None),
        ("", None),
    ],
)
def test_dates_of_listed_models(value: object, date: str | None) -> None:
    assert _date(value) == date


def test_where_a_hub_is_said_with_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSCOPE_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert HUBS["ms"].where(Settings.from_env()) == "https://www.modelscope.cn (MODELSCOPE_ENDPOINT unset)"
    assert HUBS["hf"].where(Settings.from_env()) == "https://huggingface.co (HF_ENDPOINT)"
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://mirror.example")
    assert HUBS["ms"].where(Settings.from_env()) == "http://mirror.example (MODELSCOPE_ENDPOINT)"


# --- the rest of what the adapters read from an answer ---------------------------------------------
def test_modelscope_commit_by_date_then_by_id_and_a_commit_asked_for_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def listing(entries: list[dict[str, object]], revision: str = "v1") -> str:
        client = HUBS["ms"].adapter(None, "master")
        monkeypatch.setattr(client, "_api", lambda *_: _Api([{"Revision": "v1"}], entries))
        return client.list("acme/x", revision).commit

    newer_but_smaller_id = [
        {"Path": "a", "Revision": "f" * 40, "CommittedDate": None},
        {"Path": "b", "Revision": "1" * 40, "CommittedDate": 1},
    ]
    assert listing(newer_but_smaller_id) == "1" * 40
    same_date = [
        {"Path": "a", "Revision": "1" * 40, "CommittedDate": 5},
        {"Path": "b", "Revision": "f" * 40, "CommittedDate": 5},
    ]
    assert listing(same_date) == "f" * 40
    assert listing(same_date, revision="c" * 40) == "c" * 40  # a commit asked for is the commit


@pytest.mark.parametrize(
    ("answer", "licence"),
    [
        ({"license": "Apache License 2.0"}, "Apache License 2.0"),
        ({"license": {"id": 1}}, None),
        ({"license": ""}, None),
    ],
)
def test_modelscope_licence_is_a_non_empty_string_or_nothing(
    answer: dict[str, object], licence: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Api(_Api):
        def get_repo(self, repo: str, kind: str) -> object:
            assert kind == "model"
            return SimpleNamespace(**answer)

    client = HUBS["ms"].adapter(None, "master")
    monkeypatch.setattr(client, "_api", lambda *_: Api([], [{"Path": "a", "Revision": "1" * 40}]))
    assert client.list("acme/x", "1" * 40).license == licence


def test_hugging_face_licence_tag_with_a_colon_in_it() -> None:
    assert _hf_license(SimpleNamespace(card_data=SimpleNamespace(), tags=["license:other:acme"])) == "other:acme"


def test_both_hubs_list_an_organisations_models_with_downloads_and_dates(
    hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    hub.store.publish("listed-org/one", {"README.md": b"# one\n"})
    hub.store.describe("listed-org/one", tasks=("punctuation",), pipeline_tag="token-classification", downloads=42)
    created = datetime.fromtimestamp(hub.store.created("listed-org/one"), tz=timezone.utc).strftime("%Y-%m-%d")
    (ms,) = HUBS["ms"].client(Settings.from_env()).search("listed-org", None, 10)
    (hf,) = HUBS["hf"].client(Settings.from_env()).search("listed-org", None, 10)
    assert ms == RemoteModel("listed-org/one", ("punctuation",), 42, created)
    assert hf == RemoteModel("listed-org/one", ("token-classification",), 42, created)
    assert HUBS["ms"].client(Settings.from_env()).search("listed-org", "auto-speech-recognition", 10) == []


def test_an_offline_source_comes_from_the_cache_by_ref_or_by_commit(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = "acme/offline"
    commit = hub.store.publish(repo, {"config.yaml": SMALL_CONFIG, "model.onnx": b"\x00" * 2048}, tags=["v1"])
    monkeypatch.setenv("HATCH_FUNASR_DOWNLOAD_ATTEMPTS", "5")
    monkeypatch.setenv("HATCH_FUNASR_PROGRESS", "off")
    ctx = BuildContext.create(tmp_path / "work")
    by_tag = config_of(tmp_path, {"m": {"model": repo, "hub": "hf", "family": "fsmn-vad", "revision": "v1"}}).models[0]
    online = open_source(by_tag, ctx)
    assert (online.attempts, online.progress, online.offline) == (5, "off", False)  # type: ignore[union-attr]
    online.materialize(["config.yaml"], ctx.report)
    offline_ctx = replace(ctx, offline=True)
    by_commit = replace(by_tag, origin=replace(by_tag.origin, revision=commit))
    for model in (by_tag, by_commit):
        source = open_source(model, offline_ctx)
        assert source.commit == commit and source.listing["config.yaml"].sha256 is not None
        assert source.read_text("config.yaml") == SMALL_CONFIG.decode()
        with pytest.raises(
            FetchError, match=r"^model m: 1 file\(s\) of acme/offline@\w+ are not in the cache \(model\.onnx\)"
        ):
            source.materialize(["model.onnx"], ctx.report)  # offline: never fetched, even with the hub up
    (snapshot,) = (ctx.cache.root / "snapshots").rglob("*.json")
    snapshot.write_text('{"files": "not a listing"}')
    with pytest.raises(IntegrityError) as info:
        open_source(by_tag, offline_ctx)
    stale = "; delete that file (the next online build or `hatch-funasr fetch` lists the hub again)"
    assert str(info.value) == f"the cached listing {snapshot}: files: expected a table of files, got str{stale}"
    snapshot.write_text(json.dumps({"files": {"config.yaml": {"size": -1, "sha256": None}}}))
    with pytest.raises(IntegrityError) as info:
        open_source(by_tag, offline_ctx)
    assert str(info.value).startswith(f"model m: the cached listing {snapshot}: size of 'config.yaml': -1 is not")
    assert str(info.value).endswith(stale)
    snapshot.unlink()
    with pytest.raises(FetchError) as fetch:
        open_source(by_tag, offline_ctx)  # the ref is there, the listing is not
    assert str(fetch.value) == f"model m: hf:{repo} revision v1 is not in the cache"


def test_a_listing_that_names_no_commit_or_cannot_be_had_is_named(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = config_of(tmp_path, {"m": {"model": "acme/nowhere", "hub": "hf", "family": "fsmn-vad"}}).models[0]
    ctx = BuildContext.create(tmp_path / "work")
    with pytest.raises(
        FetchError, match=r"^model m: cannot list Hugging Face repository acme/nowhere at revision default: \w+Error"
    ):
        open_source(model, ctx)

    class Moved:
        def list(self, repo: str, revision: str | None) -> RepoListing:
            return RepoListing("main", {})

    monkeypatch.setitem(HUBS, "hf", replace(HUBS["hf"], adapter=lambda _url, _branch: Moved()))
    with pytest.raises(IntegrityError) as info:
        open_source(model, ctx)
    assert str(info.value) == "model m: Hugging Face gave 'main' as the commit of acme/nowhere"


def test_client_log_records_carry_no_endpoint_credentials(
    hub_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    before = logging.getLogRecordFactory()
    request.addfinalizer(lambda: logging.setLogRecordFactory(before))
    logging.setLogRecordFactory(logging.LogRecord)  # as in a process where no client was made yet
    HUBS["ms"].client(Settings.from_env())  # installs the redacting record factory
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger("hatch-funasr-tests.redaction")
    logger.addHandler(Keep())
    logger.propagate = False
    try:
        logger.warning("retrying %s", "https://user:secret@mirror.example/api")
        logger.warning("mail %s about %s", "someone@example.com", "x")  # an @ but no URL: left as it is
        logger.warning("plain %d", 3)
    finally:
        logger.handlers.clear()
    assert [r.getMessage() for r in seen] == [
        "retrying https://***@mirror.example/api",
        "mail someone@example.com about x",
        "plain 3",
    ]
    assert seen[1].args == ("someone@example.com", "x") and seen[0].args is None
    assert seen[0].levelno == logging.WARNING and seen[0].name == "hatch-funasr-tests.redaction"


def test_hugging_face_defaults_and_no_telemetry(
    monkeypatch: pytest.MonkeyPatch, hub: LoopbackHub, hub_env: dict[str, str]
) -> None:
    """Making a client sets nothing in the process; the build's (or command's) settings turn the
    client's telemetry off once, before it is used."""
    assert HUBS["hf"].adapter(None, "main").endpoint == "https://huggingface.co"  # type: ignore[attr-defined]
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    hub.store.publish("acme/telemetry", {"config.yaml": SMALL_CONFIG})
    settings = Settings.from_env()
    client = HUBS["hf"].client(settings)
    assert "HF_HUB_DISABLE_TELEMETRY" not in os.environ
    settings.quiet_hub_clients()
    client.list("acme/telemetry", None)
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"


def test_hugging_face_answer_without_a_commit_is_refused(
    hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = hubserver.HuggingFaceRoutes.info_payload

    def info_payload(repo_id: str, commit: Any, *, blobs: bool) -> Any:
        return {k: v for k, v in original(repo_id, commit, blobs=blobs).items() if k != "sha"}

    monkeypatch.setattr(hubserver.HuggingFaceRoutes, "info_payload", staticmethod(info_payload))
    with pytest.raises(FetchError) as info:
        HUBS["hf"].client(Settings.from_env()).list(VAD_HF_REPO, "v2.0.4")
    assert str(info.value) == f"Hugging Face did not report the commit of {VAD_HF_REPO}@v2.0.4"


def test_a_listing_body_is_bounded_after_decompression(
    hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gzip body of 20 KiB on the wire that inflates to 20 MiB is not read whole."""
    bomb = gzip.compress(b'{"id": "' + b" " * (20 << 20) + b'"}')
    assert len(bomb) < 64 << 10
    monkeypatch.setattr(
        hubserver.HuggingFaceRoutes,
        "_info",
        lambda self, request, repo_id, revision: hubserver.HubResponse(
            200, [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], bomb
        ),
    )
    with pytest.raises(FetchError) as info:
        HUBS["hf"].client(Settings.from_env()).list(VAD_HF_REPO, "v2.0.4")
    assert str(info.value) == f"Hugging Face's listing of {VAD_HF_REPO} is over 16 MiB; not read further"


def test_modelscope_downloads_report_progress_and_hash_what_has_no_listed_sha256(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path
) -> None:
    commit = hub.store.publish("acme/ms-body", {"model.bin": BODY})
    client = HUBS["ms"].client(Settings.from_env())
    for sha256 in (hashlib.sha256(BODY).hexdigest(), None):
        counted: list[int] = []
        dest = tmp_path / str(sha256 is None)
        digest = client.fetch("acme/ms-body", commit, RemoteFile("model.bin", len(BODY), sha256), dest, counted.append)
        assert (dest / "model.bin").read_bytes() == BODY and sum(counted) == len(BODY) and min(counted) > 0
        assert (digest.size, digest.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
        assert digest.git_sha1 is None  # ModelScope lists no git blob ids: none is computed


def test_modelscope_download_of_other_bytes_or_a_short_body(
    hub: LoopbackHub, hub_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelscope_hub.errors import FileSizeMismatchError

    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    commit = hub.store.publish("acme/ms-tampered", {"other.bin": BODY})
    remote = RemoteFile("other.bin", len(BODY), hashlib.sha256(BODY).hexdigest())
    hub.tamper.add("other.bin")
    try:
        with pytest.raises(IntegrityError) as info:
            HUBS["ms"].client(Settings.from_env()).fetch("acme/ms-tampered", commit, remote, tmp_path / "a")
    finally:
        hub.tamper.discard("other.bin")
    assert str(info.value).startswith(
        f"other.bin from ModelScope acme/ms-tampered@{commit[:12]}: downloaded content does not match sha256 {remote.sha256} ("
    )
    hub.faults["other.bin"] = Fault("short")
    try:
        with pytest.raises(FileSizeMismatchError):  # a short body: worth another try (HubSource retries it)
            HUBS["ms"].client(Settings.from_env()).fetch("acme/ms-tampered", commit, remote, tmp_path / "b")
    finally:
        hub.faults.pop("other.bin")


def test_listing_an_unreachable_hub_names_it_and_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)  # the client's retry backoff
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(FetchError) as info:
        search("ms", ["iic"], None, limit=5, settings=Settings.from_env())
    assert re.fullmatch(
        r"cannot list the models of iic on ModelScope at http://127\.0\.0\.1:9 \(MODELSCOPE_ENDPOINT\): \w*Error: .+; "
        r"check the network, or set MODELSCOPE_ENDPOINT to a reachable mirror",
        str(info.value),
        re.DOTALL,
    ), info.value


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_a_hub_client_turns_the_clients_own_bars_off_unless_asked(
    hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, given: str | None, expected: str
) -> None:
    """modelscope_hub draws a tqdm bar per file: a build's settings set TQDM_DISABLE=1 unless the
    user set it (TQDM_DISABLE=0 keeps the bars); making a client sets nothing."""
    if given is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", given)
    settings = Settings.from_env()
    HUBS["ms"].client(settings)
    assert os.environ.get("TQDM_DISABLE") == given
    settings.quiet_hub_clients()
    assert os.environ["TQDM_DISABLE"] == expected


# --- names as real repositories have them ---------------------------------------------------------
ODD_NAMES = {"词表.txt": "你\n好\n".encode(), "example/测试 音频.wav": b"RIFF" + b"\x00" * 40, "a b+c%20.txt": b"x"}


@pytest.mark.parametrize("hub_name", ["ms", "hf"])
def test_non_ascii_names_spaces_and_percent_signs_are_listed_fetched_and_verified(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], hub_name: str
) -> None:
    """Each client quotes a file name in its own URL: a name outside ASCII, with a space, a
    ``+`` or a literal ``%20`` comes back as the same bytes under the same name."""
    repo = f"acme/odd-names-{hub_name}"
    commit = hub.store.publish(repo, {"config.yaml": SMALL_CONFIG, **ODD_NAMES})
    config = config_of(tmp_path, {"m": {"model": repo, "hub": hub_name, "family": "fsmn-vad"}})
    ctx = BuildContext.create(tmp_path / "work")
    source = open_source(config.models[0], ctx)
    assert source.commit == commit and set(ODD_NAMES) <= set(source.listing)
    fetched = source.materialize(sorted(ODD_NAMES), ctx.report)
    assert {name: record.source.read_bytes() for name, record in fetched.items()} == ODD_NAMES
    assert all(record.sha256 == hashlib.sha256(ODD_NAMES[n]).hexdigest() for n, record in fetched.items())


# --- a third hub: one registry entry and one adapter ---------------------------------------------
class DirectoryHub:
    """A stand-in hub adapter: each repository a directory under the endpoint (a local path),
    each commit a subdirectory named by its id, each branch a file under ``refs/`` naming one."""

    def __init__(self, url: str | None, default_branch: str) -> None:
        assert url is not None, "DIRHUB_ENDPOINT is unset"
        self.root, self.default_branch = Path(url), default_branch

    def list(self, repo: str, revision: str | None) -> RepoListing:
        wanted = revision or self.default_branch
        ref = self.root / repo / "refs" / wanted
        commit = ref.read_text().strip() if ref.is_file() else wanted
        files = {
            p.relative_to(self.root / repo / commit).as_posix(): p
            for p in sorted((self.root / repo / commit).rglob("*"))
            if p.is_file()
        }
        listed = {
            n: RemoteFile(n, p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for n, p in files.items()
        }
        return RepoListing(commit, listed, "MIT")

    def fetch(self, repo: str, commit: str, remote: RemoteFile, dest: Path, progress: object = None) -> FileDigest:
        target = dest / remote.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with (self.root / repo / commit / remote.path).open("rb") as src, target.open("wb") as out:
            return hash_stream(src, remote.size, out)

    def search(self, owner: str, task: str | None, limit: int) -> list[RemoteModel]:
        return [RemoteModel(f"{owner}/{d.name}") for d in sorted((self.root / owner).iterdir())][:limit]


def test_a_third_hub_is_one_entry_and_one_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering a hub (its entry and its adapter, nothing else) is enough to declare, plan, lock,
    build and describe a model from it."""
    commit = "d" * 40
    files = realvad.model_files()
    root = tmp_path / "dirhub"
    for name, data in files.items():
        (root / "acme/vad" / commit / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "acme/vad" / commit / name).write_bytes(data)
    (root / "acme/vad/refs").mkdir()
    (root / "acme/vad/refs/trunk").write_text(commit)
    spec = HubSpec(
        "dh",
        "Directory hub",
        "DIRHUB_ENDPOINT",
        None,
        "trunk",
        DirectoryHub,
        organisations=("acme",),
        page="https://dirhub.example/{repo}",
        purl_type="generic",
        token_vars=("DIRHUB_TOKEN",),
    )
    monkeypatch.setitem(HUBS, "dh", spec)
    monkeypatch.setenv("DIRHUB_ENDPOINT", str(root))
    monkeypatch.setenv("DIRHUB_TOKEN", "secret")
    monkeypatch.setenv("HATCH_FUNASR_CACHE", str(tmp_path / "cache"))
    project = make_project(tmp_path, 'vad = { model = "acme/vad", hub = "dh", family = "fsmn-vad" }\n')
    config = load_config(project)
    settings = Settings.from_env()
    ctx = BuildContext.create(tmp_path / "work", settings=settings)
    lock = lock_models(config, ctx)
    assert (lock.models["vad"].hub, lock.models["vad"].commit) == ("dh", commit)
    write_lock(project, lock)
    assert read_lock(project) == lock
    pkg = stage_project(project, tmp_path / "stage")
    manifest = read_manifest((pkg / "funasr_manifest.json").read_bytes(), "the manifest")
    vad = manifest.models["vad"]
    assert (vad.hub, vad.repo, vad.commit, vad.license) == ("dh", "acme/vad", commit, "MIT")
    assert {rel: f.sha256 for rel, f in vad.files.items()} == {
        n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n in vad.files
    }
    bom = json.loads(render(manifest, epoch=0))
    (component,) = bom["components"]
    assert component["purl"] == f"pkg:generic/acme/vad@{commit}"
    assert component["externalReferences"][0] == {
        "type": "distribution",
        "url": "https://dirhub.example/acme/vad",
        "comment": "Directory hub",
    }
    assert "DIRHUB_TOKEN" not in export_environment(settings)
    assert export_environment(settings)["DIRHUB_ENDPOINT"] == "http://127.0.0.1:9"
    assert [m.repo for _, m in search("dh", (), None, limit=5, settings=settings)] == ["acme/vad"]


def _inflating(route: Any) -> Any:
    """``route``'s answer with 20 MiB of JSON whitespace before its last byte, gzip-compressed:
    still the same answer, about 20 KiB on the wire."""

    def answer(*args: Any) -> hubserver.HubResponse:
        response = route(*args)
        body = gzip.compress(response.body[:-1] + b" " * (20 << 20) + response.body[-1:])
        return hubserver.HubResponse(response.status, [*response.headers, ("Content-Encoding", "gzip")], body)

    return answer


@pytest.mark.parametrize("route", ["_revisions", "_files", "_list_models", "_openapi"])
def test_modelscope_answers_are_bounded_after_decompression(
    route: str, history: dict[str, str], hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer ``modelscope_hub`` reads whole (revisions, files, the model listing, the
    repository's page) is cut at 16 MiB after decompression, as Hugging Face's are."""
    client = HUBS["ms"].client(Settings.from_env())
    assert client.list(HISTORY, "v2").license == "Apache License 2.0"
    monkeypatch.setattr(hubserver.ModelScopeRoutes, route, _inflating(getattr(hubserver.ModelScopeRoutes, route)))
    if route == "_openapi":  # the repository's page gives only the licence, which a build can do without
        assert client.list(HISTORY, "v2").license is None
        return
    with pytest.raises(FetchError) as info:
        if route == "_list_models":
            client.search("acme", None, 10)
        else:
            client.list(HISTORY, "v2")
    what = "model listing" if route == "_list_models" else f"listing of {HISTORY}"
    assert str(info.value) == f"ModelScope's {what} is over 16 MiB; not read further"


def test_a_bounded_modelscope_body_read_all_at_once_is_still_cut_in_pieces() -> None:
    """``read()`` with no size (urllib3 would inflate the whole body first) reads piece by piece."""

    class Raw:
        def __init__(self) -> None:
            self.body, self.largest = io.BytesIO(b" " * (hubs.MAX_LIST_BODY + 1)), 0

        def read(self, amt: int | None = None) -> bytes:
            self.largest = max(self.largest, amt or 1 << 62)
            return self.body.read(amt)

        def close(self) -> None:
            pass

    raw = Raw()
    with pytest.raises(FetchError, match=r"^a listing is over 16 MiB; not read further$"):
        hubs._BoundedBody(raw, "a listing").read()
    assert raw.largest <= hubs.CHUNK


def test_a_bounded_body_passes_every_argument_on_and_counts_exactly_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wrapper is the body's own in everything but the count: ``read``, ``read1`` and
    ``stream`` get the arguments ``requests`` gave (``decode_content``, ``cache_content``), a
    whole read is the body joined, and a body of exactly the limit is read while one byte more
    is not."""
    calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    class Raw:
        def __init__(self, data: bytes) -> None:
            self.body, self.closed = io.BytesIO(data), False

        def read(self, amt: int, *args: object, **kwargs: object) -> bytes:
            calls.append(("read", (amt, *args), kwargs))
            return self.body.read(amt)

        def read1(self, *args: object, **kwargs: object) -> bytes:
            calls.append(("read1", args, kwargs))
            return self.body.read(3)

        def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
            calls.append(("stream", args, kwargs))
            yield from iter(lambda: self.body.read(4), b"")

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(hubs, "MAX_LIST_BODY", 10)
    monkeypatch.setattr(hubs, "CHUNK", 4)
    assert hubs._BoundedBody(Raw(b"0123456789"), "a listing").read(None, True, cache_content=False) == b"0123456789"
    assert calls[0] == ("read", (4, True), {"cache_content": False}) and len(calls) == 4  # 4 + 4 + 2, then b""
    calls.clear()
    body = hubs._BoundedBody(Raw(b"0123456789"), "a listing")
    assert body.read1(7, decode_content=True) == b"012"
    assert list(body.stream(8, decode_content=True)) == [b"3456", b"789"]
    assert calls == [("read1", (7,), {"decode_content": True}), ("stream", (8,), {"decode_content": True})]
    raw = Raw(b"0123456789A")
    with pytest.raises(FetchError, match=r"^a listing is over 0 MiB; not read further$"):
        hubs._BoundedBody(raw, "a listing").read()
    assert raw.closed


def test_a_modelscope_client_without_requests_sessions_is_refused_by_name() -> None:
    import types

    api = types.SimpleNamespace(legacy=types.SimpleNamespace(), openapi=types.SimpleNamespace(timeout=3))
    with pytest.raises(FetchError) as info:
        hubs._bound_answers(api, "ModelScope's model listing")
    assert str(info.value) == (
        "modelscope_hub's clients have no requests sessions to bound; this version is not supported"
    )


def test_a_listed_repository_keeps_only_what_may_be_printed() -> None:
    """``models --remote``: tasks and dates that are plain text, a download count that is a number
    (``True`` is not one); anything else dropped, never shown."""
    spec, settings = HUBS["hf"], Settings()
    kept = hubs._checked(spec, RemoteModel("acme/vad", ("voice-activity-detection",), 12, "2026-01-02"), settings)
    assert kept == RemoteModel("acme/vad", ("voice-activity-detection",), 12, "2026-01-02")
    odd = RemoteModel("acme/vad", ("a\x1b[2J", 3, "ok-task"), True, "yesterday")  # type: ignore[arg-type]
    assert hubs._checked(spec, odd, settings) == RemoteModel("acme/vad", ("ok-task",), None, None)
    assert hubs._checked(spec, RemoteModel("acme/vad", (), "12", 20260102), settings) == RemoteModel("acme/vad")  # type: ignore[arg-type]
    with pytest.raises(FetchError, match=r"lists a repository id that is not owner/name: 'a\\nb/c'; refusing"):
        hubs._checked(spec, RemoteModel("a\nb/c"), settings)


def test_the_minimum_rate_is_judged_over_each_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body must bring ``MIN_RATE`` bytes a second, counted over windows of ``MIN_RATE_WINDOW``
    seconds: a slow start is forgiven when the window's total is enough, and each window starts
    afresh (bytes of the last one do not carry a later stall)."""
    now = [1000.0]
    monkeypatch.setattr(hubs.time, "monotonic", lambda: now[0])
    floor = hubs._RateFloor("acme/vad/model.onnx")
    window, rate = hubs.MIN_RATE_WINDOW, hubs.MIN_RATE
    now[0] += window - 1
    floor.add(1)  # within the first window: not judged yet
    now[0] += 1
    floor.add(int(rate * window) - 1)  # the window's total, exactly enough
    assert floor.count == 0 and floor.start == now[0]  # a new window
    now[0] += window
    floor.add(int(rate * window) * 5)  # plenty, then a stall in the next window
    now[0] += window
    with pytest.raises(ConnectionError) as info:
        floor.add(int(rate * window) - 1)
    assert str(info.value) == (
        f"acme/vad/model.onnx: {int(rate * window) - 1} bytes in {window:.0f} s, under the minimum of {rate} "
        "bytes/s; cut off"
    )


def test_a_retry_after_delay_is_capped_and_the_cut_said(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hatch_funasr")
    assert hubs._capped(None) is None
    assert hubs._capped(hubs.RETRY_AFTER_MAX) == hubs.RETRY_AFTER_MAX and not caplog.records  # at the cap: as asked
    assert hubs._capped(3.5) == 3.5
    assert hubs._capped(3600.0) == hubs.RETRY_AFTER_MAX
    assert [r.getMessage() for r in caplog.records] == [
        f"the hub asked to wait 3600 s before retrying; waiting {hubs.RETRY_AFTER_MAX} s at most"
    ]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://HF.example/api/models?x=1", ("https", "hf.example", 443)),
        ("HTTP://hf.example/api", ("http", "hf.example", 80)),
        ("http://127.0.0.1:8080/next", ("http", "127.0.0.1", 8080)),
        ("https://hf.example:443/a", ("https", "hf.example", 443)),
        ("https://hf.example:99999/a", ("https", "hf.example", -1)),  # not a port: matches no endpoint
        ("ftp://hf.example/a", ("ftp", "hf.example", None)),
        ("/relative/page", ("", "", None)),
    ],
)
def test_an_origin_is_scheme_host_and_port_with_the_default_made_explicit(
    url: str, origin: tuple[str, str, int | None]
) -> None:
    """Tokens follow only pages at the endpoint's own origin: ``https://hf.example`` and
    ``https://hf.example:443`` are one origin, ``http://`` on port 80 another."""
    assert hubs._origin(url) == origin


def test_the_retry_after_patches_cap_what_they_wrap_and_wrap_once() -> None:
    """The patches the hub clients get (applied once per process, so checked here on fresh
    targets): a parser's result capped, a client error's ``retry_after`` capped when it is a
    number, each patch applied once."""
    calls: list[tuple[object, ...]] = []

    def parse(*args: object) -> float | None:
        calls.append(args)
        return 3600.0 if args else None

    owner = SimpleNamespace(parse=parse)
    hubs._cap_retry_after(owner, "parse")
    wrapped = owner.parse
    assert wrapped("3600") == hubs.RETRY_AFTER_MAX and wrapped() is None and calls == [("3600",), ()]
    hubs._cap_retry_after(owner, "parse")
    assert owner.parse is wrapped

    class HubError(Exception):
        retry_after = None

    hubs._cap_retry_after_attribute(HubError)
    prop = HubError.__dict__["retry_after"]
    hubs._cap_retry_after_attribute(HubError)
    assert isinstance(prop, property) and HubError.__dict__["retry_after"] is prop
    error = HubError()
    assert error.retry_after is None
    for given, kept in ((3600, hubs.RETRY_AFTER_MAX), (5.5, 5.5), ("soon", "soon"), (None, None)):
        error.retry_after = given
        assert error.retry_after == kept


def test_each_hubs_adapter_is_made_with_the_registrys_endpoint_and_branch() -> None:
    settings = Settings.from_env({"MODELSCOPE_ENDPOINT": "http://ms.example/", "HF_ENDPOINT": "http://hf.example/"})
    for key, endpoint in (("ms", "http://ms.example"), ("hf", "http://hf.example")):  # settings drop the slash
        client = HUBS[key].client(settings)
        assert (client.endpoint, client.default_branch) == (endpoint, HUBS[key].default_branch), key  # type: ignore[attr-defined]
    assert (HUBS["ms"].default_branch, HUBS["hf"].default_branch) == ("master", "main")
    unset = Settings.from_env({})
    for key in ("ms", "hf"):  # no mirror: the hub's own endpoint, as the registry has it
        assert HUBS[key].client(unset).endpoint == (HUBS[key].default_endpoint or None), key  # type: ignore[attr-defined]
    assert hubs.repo_key("damo/Speech_FSMN_VAD") == "iic/speech_fsmn_vad"  # ModelScope's renamed owner
    assert hubs.repo_key("FunAudioLLM/SenseVoiceSmall") == "funaudiollm/sensevoicesmall"


def test_the_cookie_patch_drops_cookies_on_a_redirect_to_another_origin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    seen: list[str | None] = []
    passed: list[tuple[object, object]] = []

    def rebuild_auth(self: requests.Session, prepared: requests.PreparedRequest, response: requests.Response) -> None:
        seen.append(prepared.headers.get("Cookie"))
        passed.append((self, response))

    monkeypatch.setattr(requests.Session, "rebuild_auth", rebuild_auth)  # as requests has it, unpatched
    hubs._no_cookies_across_origins()
    patched = requests.Session.rebuild_auth
    hubs._no_cookies_across_origins()
    assert patched is not rebuild_auth and requests.Session.rebuild_auth is patched  # once

    def redirect(source: str, target: str, cookie: str | None = "m_session_id=secret") -> str | None:
        response = requests.Response()
        response.request = requests.Request("GET", source).prepare()
        prepared = requests.Request("GET", target, headers={"Cookie": cookie} if cookie else {}).prepare()
        session = requests.Session()
        session.rebuild_auth(prepared, response)
        assert passed[-1][0] is session and passed[-1][1] is response  # requests' own rule gets what it would
        return prepared.headers.get("Cookie")

    assert redirect("http://127.0.0.1:1/a", "http://127.0.0.1:1/b") == "m_session_id=secret"
    assert redirect("http://127.0.0.1:1/a", "http://127.0.0.1:2/b") is None
    assert redirect("http://hub.example/a", "http://other.example/b") is None
    assert seen == ["m_session_id=secret", None, None]  # requests' own rule runs after
    assert redirect("http://hub.example/a", "http://other.example/b", cookie=None) is None  # none to drop
