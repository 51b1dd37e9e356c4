"""``hatch-funasr models --remote``: the hubs' model listings through the official clients
(``modelscope_hub`` ``HubApi.list_repos``, ``huggingface_hub`` ``HfApi.list_models``) against the
loopback hub, each repository marked with family, ONNX availability and catalog alias, with a
declaration line that ``hatch_funasr.config.parse`` takes and that resolves to that repository."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import hubserver
from support.hubserver import LoopbackHub, RepoStore

from hatch_funasr import cli, hubs
from hatch_funasr.config import parse
from hatch_funasr.model import HubRef
from hatch_funasr.settings import tomllib

#: Real repository names (the seed's tables, hub-listings.md, the catalog) and one of each kind
#: the listing must tell apart: a -onnx sibling, a catalog ONNX elsewhere, FunASR-exportable, no
#: ONNX at all, no family hatch-funasr knows, ModelScope's damo/ spelling, an 81-character id.
MS_REPOS: dict[str, tuple[str, ...]] = {
    "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch": ("voice-activity-detection",),
    "iic/speech_fsmn_vad_zh-cn-16k-common-onnx": ("voice-activity-detection",),
    "iic/SenseVoiceSmall": ("auto-speech-recognition",),
    "iic/SenseVoiceSmall-onnx": ("auto-speech-recognition",),
    "iic/speech_campplus_sv_zh-cn_16k-common": ("speaker-verification",),
    "iic/speech_paraformer-large-vad-punc-spk_asr_nat-zh-cn": ("auto-speech-recognition",),
    "iic/speech_paraformer-large_asr_nat-zh-cn-16k-aishell1-vocab8404-pytorch": ("auto-speech-recognition",),
    "iic/speech_eres2net_sv_zh-cn_16k-common": ("speaker-verification",),
    "iic/nlp_structbert_word-segmentation_chinese-base": ("word-segmentation",),
    "damo/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch": ("auto-speech-recognition",),
    "FunAudioLLM/Fun-ASR-Nano-2512": ("auto-speech-recognition",),
}
HF_REPOS: dict[str, str | None] = {
    "funasr/paraformer-zh": "automatic-speech-recognition",
    "funasr/fsmn-vad": "voice-activity-detection",
    "funasr/fsmn-vad-onnx": "voice-activity-detection",
    "funasr/campplus": None,
    "FunAudioLLM/SenseVoiceSmall": "automatic-speech-recognition",
    "FunAudioLLM/CosyVoice2-0.5B": "text-to-speech",
}


@pytest.fixture(scope="module")
def listing_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackHub]:
    """A hub of its own (the session hub's repositories are real-shaped file sets; these are
    listing entries), 120 ModelScope repositories of iic in all, so the listing takes pages."""
    store = RepoStore(tmp_path_factory.mktemp("listing-hub"))
    for repo, tasks in MS_REPOS.items():
        store.publish(repo, {"configuration.json": b'{"framework": "pytorch"}\n'})
        store.describe(repo, tasks=tasks, downloads=100, listed_by=("ms",))
    for i in range(110):
        filler = f"iic/cv_filler-model-{i:03d}"
        store.publish(filler, {"README.md": b"# not a speech model\n"})
        store.describe(filler, tasks=("image-classification",), listed_by=("ms",))
    for repo, tag in HF_REPOS.items():
        store.publish(repo, {"README.md": b"# model\n"})
        store.describe(repo, pipeline_tag=tag, listed_by=("hf",))
    with LoopbackHub(store) as hub:
        yield hub


@pytest.fixture
def listing_env(listing_hub: LoopbackHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LoopbackHub:
    for var in ("MODELSCOPE_ENDPOINT", "HF_ENDPOINT"):
        monkeypatch.setenv(var, listing_hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-home"))
    monkeypatch.delenv("HATCH_FUNASR_OFFLINE", raising=False)
    listing_hub.clear_log()
    return listing_hub


def _models(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["models", "--remote", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _parsed(out: str, tmp_path: Path) -> dict[str, Any]:
    """The default output pasted under ``[tool.funasr.models]`` (it is TOML, comments and all),
    parsed as a declaration; its models by name."""
    table = tomllib.loads("[tool.funasr.models]\n" + out)["tool"]["funasr"]["models"]
    pyproject = {"project": {"name": "acme", "version": "1"}, "tool": {"funasr": {"hub": "hf", "models": table}}}
    return {m.name: m for m in parse(pyproject, tmp_path, {}).models}


def test_modelscope_listing_marks_every_repository_and_its_lines_parse(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _models(capsys, "--hub", "ms")
    assert code == 0, err
    assert all(len(line) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    # the official client's calls: GET /openapi/v1/models, owner by owner, page after page
    listed = [t for m, t in listing_env.requests if t.startswith("/openapi/v1/models?")]
    assert {re.search(r"owner=(\w+)", t).group(1) for t in listed} == {"iic", "damo", "FunAudioLLM"}  # type: ignore[union-attr]
    assert any("page_number=3" in t for t in listed), "120 iic models at 50 a page: three pages"
    assert out.startswith(f"# ModelScope at {listing_env.url} (MODELSCOPE_ENDPOINT): iic, damo,\n# FunAudioLLM: 121")
    assert "# (112 more with no FunASR family hatch-funasr knows: --all lists them)" in out

    by_repo = {i.repo: i for i in cli._listed("ms", [("iic", _remote(r)) for r in MS_REPOS], set())}
    vad = by_repo["iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"]
    assert (vad.family, vad.onnx, vad.onnx_repo, vad.alias) == (
        "fsmn-vad",
        "catalog",  # the catalog knows its ONNX repository: no guess by the sibling's name
        "iic/speech_fsmn_vad_zh-cn-16k-common-onnx",
        "fsmn-vad",
    )
    assert vad.declaration == 'fsmn-vad-pt = { model = "fsmn-vad", hub = "ms", format = "pytorch" }'
    assert by_repo["iic/speech_fsmn_vad_zh-cn-16k-common-onnx"].declaration == (
        'fsmn-vad = { model = "fsmn-vad", hub = "ms" }'
    )
    assert by_repo["iic/SenseVoiceSmall"].onnx == "catalog"
    assert by_repo["iic/speech_fsmn_vad_zh-cn-16k-common-onnx"].onnx == "this"  # the catalog's, not the name's
    assert by_repo["iic/speech_campplus_sv_zh-cn_16k-common"].onnx == "none"
    spk = by_repo["iic/speech_paraformer-large-vad-punc-spk_asr_nat-zh-cn"]
    assert (spk.onnx, spk.alias) == ("export", "paraformer-zh-spk")
    unknown = by_repo["iic/speech_paraformer-large_asr_nat-zh-cn-16k-aishell1-vocab8404-pytorch"]
    assert (unknown.family, unknown.onnx, unknown.alias) == ("paraformer", "export", None)
    damo = by_repo["damo/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch"]
    assert (damo.alias, damo.onnx) == ("paraformer-zh", "catalog")  # damo/ is iic/ on ModelScope
    assert damo.onnx_repo == "iic/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-onnx"
    assert by_repo["iic/speech_eres2net_sv_zh-cn_16k-common"].family is None
    assert by_repo["iic/speech_eres2net_sv_zh-cn_16k-common"].declaration is None

    # every printed declaration parses (together: names are unique), and resolves to its repository
    models = _parsed(out, tmp_path)
    shown = [r for r in MS_REPOS if by_repo[r].family is not None]
    assert len(models) == len(shown) == 9
    for item in (by_repo[r] for r in shown):
        m = models[item.name]  # type: ignore[index]
        assert isinstance(m.origin, HubRef), item.declaration
        assert m.origin.hub == "ms" and cli._same_repo(m.origin.repo, item.repo), (item.declaration, m.origin)
        assert m.family == item.family
    assert 'paraformer = { model = """\\\n' in out, "a long repo id is wrapped into a TOML multi-line string"
    assert '\nsensevoice-pt = { model = "sensevoice-small", hub = "ms", format = "pytorch" }\n' in out


@pytest.mark.parametrize(("which", "org", "limit"), [("ms", "iic", 70), ("hf", "FunASR", 3)])
def test_limit_per_organisation_takes_distinct_models(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], which: str, org: str, limit: int
) -> None:
    code, out, _ = _models(capsys, "--hub", which, "--org", org, "--limit", str(limit), "--json")
    repos = [r["repo"] for r in json.loads(out)]
    assert code == 0 and len(repos) == len(set(repos)) == limit


def test_both_hubs_paste_into_one_table(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _models(capsys)
    assert code == 0, err
    models = _parsed(out, tmp_path)  # no name twice, though fsmn-vad is on both hubs
    assert (models["fsmn-vad"].origin.hub, models["fsmn-vad-hf"].origin.hub) == ("ms", "hf")  # type: ignore[union-attr]
    assert models["fsmn-vad-hf"].origin == HubRef("hf", "funasr/fsmn-vad") and len(models) == 9 + 5


def _remote(repo: str) -> Any:
    from hatch_funasr.model import RemoteModel

    return RemoteModel(repo)


def test_hugging_face_listing_by_author_and_task_and_wide_and_json(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _models(capsys, "--hub", "hf")
    assert code == 0, err
    assert all(len(line) <= 80 for line in out.splitlines())
    listed = [t for m, t in listing_env.requests if t.startswith("/api/models?")]
    assert {re.search(r"author=(\w+)", t).group(1) for t in listed} == {"FunASR", "FunAudioLLM"}  # type: ignore[union-attr]
    models = _parsed(out, tmp_path)
    assert {(m.name, m.origin.repo) for m in models.values()} == {  # type: ignore[union-attr]
        ("paraformer-zh", "funasr/paraformer-zh"),
        ("fsmn-vad", "funasr/fsmn-vad"),
        ("fsmn-vad-onnx", "funasr/fsmn-vad-onnx"),
        ("campplus", "funasr/campplus"),  # cam++ is no TOML bare key: the family names it
        ("sensevoice-small", "FunAudioLLM/SenseVoiceSmall"),
    }
    assert all(m.origin == HubRef("hf", m.origin.repo) for m in models.values())  # type: ignore[union-attr]
    assert "# (1 more with no FunASR family" in out  # CosyVoice: a TTS model, not one of FunASR's families

    code, out, _ = _models(capsys, "--hub", "hf", "--task", "voice-activity-detection", "--json")
    records = json.loads(out)
    # Hugging Face's funasr/fsmn-vad-onnx is in no catalog entry: its name is all there is, and
    # it is said as a guess (the build takes ONNX from the repository's files, never its name)
    assert [(r["repo"], r["family"], r["onnx"], r["onnx_repo"]) for r in records] == [
        ("funasr/fsmn-vad", "fsmn-vad", "sibling", "funasr/fsmn-vad-onnx"),
        ("funasr/fsmn-vad-onnx", "fsmn-vad", "named", "funasr/fsmn-vad-onnx"),
    ]
    code, out, _ = _models(capsys, "--hub", "hf", "--task", "voice-activity-detection", "--wide")
    rows = {r.split()[0]: r for r in out.splitlines()[1:] if r.startswith("funasr/")}
    assert "funasr/fsmn-vad-onnx, by its name; the build decides from its files" in rows["funasr/fsmn-vad"]
    assert "this repository, by its name; the build decides from its files" in rows["funasr/fsmn-vad-onnx"]
    assert records[0]["tasks"] == ["voice-activity-detection"]
    assert any("pipeline_tag=voice-activity-detection" in t for _, t in listing_env.requests)

    code, out, _ = _models(capsys, "--hub", "ms", "--org", "iic", "--task", "speaker-verification", "--wide", "--all")
    rows = out.splitlines()
    assert any(r.startswith("iic/speech_campplus_sv_zh-cn_16k-common ") and "none, PyTorch only" in r for r in rows)
    assert any(r.startswith("iic/speech_eres2net_sv_zh-cn_16k-common ") and r.rstrip().endswith("-") for r in rows)
    assert any("filter.task=speaker-verification" in t for _, t in listing_env.requests)


def test_offline_or_unreachable_names_hub_and_endpoint_variable(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCH_FUNASR_OFFLINE", "1")
    code, out, err = _models(capsys, "--hub", "hf")
    assert code == 1 and not out
    assert err.strip() == (
        "error: listing Hugging Face's models needs the network, and HATCH_FUNASR_OFFLINE=1 says not to use it; "
        f"unset it (the endpoint would be {listing_env.url} (HF_ENDPOINT))"
    )
    assert not listing_env.requests

    monkeypatch.delenv("HATCH_FUNASR_OFFLINE")
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9")
    import modelscope_hub._openapi

    monkeypatch.setattr(modelscope_hub._openapi, "API_MAX_RETRIES", 0)  # the client's own retries: not here
    code, out, err = _models(capsys, "--hub", "ms")
    assert code == 1 and not out
    assert err.startswith(
        "error: cannot list the models of iic on ModelScope at http://127.0.0.1:9 (MODELSCOPE_ENDPOINT): "
    )
    assert err.rstrip().endswith("check the network, or set MODELSCOPE_ENDPOINT to a reachable mirror")


@pytest.mark.parametrize(
    ("name", "repo"),
    [
        ("long", "damo/speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch"),
        ("longer", "acme/" + "x" * 200),
        ("dashes", "acme/" + "-".join(["abcdefghij"] * 15)),
    ],
)
def test_wrapped_declarations_fit_and_parse_back(name: str, repo: str) -> None:
    table = {"model": repo, "hub": "ms", "format": "pytorch"}
    lines = cli._wrapped(name, table, "    ")
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines), lines
    assert tomllib.loads("\n".join(lines))[name] == table


# --- hostile listings ----------------------------------------------------------------------------
def _hf_pages(monkeypatch: pytest.MonkeyPatch, page: Any) -> list[tuple[str | None, str | None]]:
    """Hugging Face's ``/api/models`` answered by ``page(request)`` (items, next URL or None);
    returns the (Host, Authorization) of every request it saw."""
    seen: list[tuple[str | None, str | None]] = []

    def list_models(self: Any, request: Any) -> Any:
        seen.append((request.header("host"), request.header("authorization")))
        items, link = page(request)
        return hubserver.json_response(200, items, [("Link", f'<{link}>; rel="next"')] if link else [])

    monkeypatch.setattr(hubserver.HuggingFaceRoutes, "_list_models", list_models)
    return seen


def test_an_empty_page_linking_to_itself_ends_in_one_line(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _hf_pages(monkeypatch, lambda r: ([], f"http://{r.header('host')}{r.target}"))
    code, out, err = _models(capsys, "--hub", "hf")
    assert code == 1 and not out
    page = f"{listing_env.url}/api/models?author=FunASR&limit=500"  # the default --limit
    assert (
        err == f"error: Hugging Face links its model listing back to a page it gave already ('{page}'); stopped there\n"
    )
    assert len(seen) == 1


def test_endless_distinct_pages_stop_at_the_page_limit(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubs, "MAX_LIST_PAGES", 7)
    seen = _hf_pages(
        monkeypatch, lambda r: ([], f"http://{r.header('host')}/api/models?cursor={int(r.param('cursor') or 0) + 1}")
    )
    code, _, err = _models(capsys, "--hub", "hf")
    assert code == 1
    assert err.strip() == (
        "error: Hugging Face's model listing goes on past 7 pages; stopped there (--limit, --task or --org narrows it)"
    )
    assert len(seen) == 7


def test_slow_distinct_pages_stop_at_the_listing_deadline(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages under the page limit, each slow: the whole listing still ends, by its deadline."""
    monkeypatch.setattr(hubs, "LIST_DEADLINE", 1.0)

    def slow_page(request: Any) -> tuple[list[object], str]:
        time.sleep(0.2)
        return [], f"http://{request.header('host')}/api/models?cursor={int(request.param('cursor') or 0) + 1}"

    seen = _hf_pages(monkeypatch, slow_page)
    code, _, err = _models(capsys, "--hub", "hf")
    assert code == 1
    assert err.strip() == "error: Hugging Face's model listing took over 1 s; stopped there"
    assert len(seen) < hubs.MAX_LIST_PAGES


def test_hf_token_is_not_sent_to_a_next_page_on_another_host(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_CANARYtoken0123456789abcdef")
    port = listing_env.url.rsplit(":", 1)[1]
    elsewhere = f"http://localhost:{port}/api/models?cursor=1"  # the same server, under another host name
    seen = _hf_pages(monkeypatch, lambda r: ([], None if r.param("cursor") else elsewhere))
    code, _, err = _models(capsys, "--hub", "hf")
    assert code == 1
    assert err.startswith(f"error: Hugging Face links its model listing's next page to '{elsewhere}', not its endpoint")
    assert seen == [(f"127.0.0.1:{port}", "Bearer hf_CANARYtoken0123456789abcdef")]


@pytest.mark.parametrize(
    "repo",
    ['acme/x\n[tool.funasr.models]\nevil = "acme/evil"', "acme/\x1b[32mALL FILES VERIFIED OK\x1b[0m", "../../x"],
)
def test_a_repository_id_that_is_not_owner_name_is_never_printed(
    repo: str, listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _hf_pages(monkeypatch, lambda r: ([{"id": "funasr/fsmn-vad"}, {"id": repo, "pipeline_tag": None}], None))
    code, out, err = _models(capsys, "--hub", "hf")
    assert code == 1 and not out
    assert err.strip() == (
        f"error: Hugging Face at {listing_env.url} (HF_ENDPOINT) lists a repository id that is not owner/name: "
        f"{repo!a}; refusing its listing"
    )
    assert "\x1b" not in err and err.count("\n") == 1


def test_escape_sequences_in_a_listing_never_reach_the_terminal(
    listing_env: LoopbackHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "\x1b[2J\x1b[32mALL FILES VERIFIED OK"
    _hf_pages(
        monkeypatch,
        lambda r: ([{"id": "funasr/fsmn-vad", "pipeline_tag": tag, "downloads": "\x1b[1m", "lastModified": tag}], None),
    )
    code, out, err = _models(capsys, "--hub", "hf", "--all")
    assert code == 0, err
    assert "funasr/fsmn-vad" in out
    assert "\x1b" not in out + err and "VERIFIED" not in out


def test_a_hugging_face_search_asks_for_its_limit_and_stops_at_it(listing_env: LoopbackHub) -> None:
    """``HfApi.list_models``'s request (``author``, ``pipeline_tag``, ``limit``): a page that
    fills the limit is the last one asked for, though the hub links a next page."""
    client = hubs.HuggingFaceClient(listing_env.url + "/", "main")  # a trailing slash is not doubled
    assert (
        client.endpoint == listing_env.url and hubs.HuggingFaceClient(None, "main").endpoint == "https://huggingface.co"
    )
    found = client.search("FunASR", None, 2)
    listed = [t for _, t in listing_env.requests if t.startswith("/api/models")]
    assert len(found) == 2 and listed == ["/api/models?author=FunASR&limit=2"], listed
    assert all(re.fullmatch(r"FunASR/\S+|funasr/\S+", m.repo) for m in found), found
    assert all(m.modified and re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.modified) for m in found), found
    listing_env.clear_log()
    tagged = client.search("FunASR", "voice-activity-detection", 50)
    (only,) = [t for _, t in listing_env.requests if t.startswith("/api/models")]
    assert only == "/api/models?author=FunASR&limit=50&pipeline_tag=voice-activity-detection"
    assert tagged and all(m.tasks == ("voice-activity-detection",) for m in tagged), tagged


def test_a_modelscope_search_pages_by_one_size_and_stops_at_its_limit(listing_env: LoopbackHub) -> None:
    """``HubApi.list_repos``'s requests: ``page_size`` the limit (at most a page), and no page
    asked for once the limit is reached, though the hub has more."""
    client = hubs.ModelScopeClient(listing_env.url, "master")
    found = client.search("iic", None, 2)
    listed = [t for _, t in listing_env.requests if t.startswith("/openapi/v1/models?")]
    assert len(found) == 2 and len(listed) == 1, listed
    assert "owner=iic" in listed[0] and "page_number=1" in listed[0] and "page_size=2" in listed[0], listed
    assert all(
        m.repo.startswith("iic/") and m.modified and re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.modified) for m in found
    )
    listing_env.clear_log()
    everything = client.search("iic", None, 500)
    listed = [t for _, t in listing_env.requests if t.startswith("/openapi/v1/models?")]
    # pages of 50 until the hub says there is no next one: never a page past the last
    assert listed == [f"/openapi/v1/models?owner=iic&page_number={n}&page_size=50" for n in (1, 2, 3)], listed
    assert 100 < len(everything) <= 150 and len({m.repo for m in everything}) == len(everything)


def test_a_hugging_face_search_gathers_every_page_until_its_limit(
    listing_env: LoopbackHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages are added up (not the last one kept); a model's date is its last change, else its creation."""

    def page(request: Any) -> tuple[list[object], str | None]:
        cursor = int(request.param("cursor") or 0)
        item = {"id": f"funasr/m{cursor}", "createdAt": f"2024-01-0{cursor + 1}T00:00:00Z"}
        if cursor == 0:
            item["lastModified"] = "2025-06-30T12:00:00Z"
        nxt = f"http://{request.header('host')}/api/models?cursor={cursor + 1}" if cursor < 2 else None
        return [item], nxt

    _hf_pages(monkeypatch, page)
    found = hubs.HuggingFaceClient(listing_env.url, "main").search("funasr", None, 10)
    assert [(m.repo, m.modified) for m in found] == [
        ("funasr/m0", "2025-06-30"),
        ("funasr/m1", "2024-01-02"),
        ("funasr/m2", "2024-01-03"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"models": []}, "Hugging Face's model listing is not a list of models"),
        (["funasr/fsmn-vad"], "Hugging Face's model listing is not a list of models"),
        ([{"id": "funasr/fsmn-vad"}, 3], "Hugging Face's model listing is not a list of models"),
    ],
)
def test_a_hugging_face_search_answer_that_is_not_models_is_one_line(
    body: object, message: str, listing_env: LoopbackHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hf_pages(monkeypatch, lambda r: (body, None))
    with pytest.raises(hubs.FetchError) as info:
        hubs.HuggingFaceClient(listing_env.url, "main").search("funasr", None, 10)
    assert str(info.value) == message


def test_a_hugging_face_search_answer_that_is_not_json_is_named(
    listing_env: LoopbackHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        hubserver.HuggingFaceRoutes,
        "_list_models",
        lambda self, request: hubserver.HubResponse(200, [("Content-Type", "application/json")], b"<html>"),
    )
    with pytest.raises(hubs.FetchError) as info:
        hubs.HuggingFaceClient(listing_env.url, "main").search("funasr", None, 10)
    assert str(info.value).startswith("Hugging Face's model listing is not JSON (")


def test_a_modelscope_listing_past_the_page_limit_stops_with_its_name(
    listing_env: LoopbackHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubs, "MAX_LIST_PAGES", 2)
    with pytest.raises(hubs.FetchError) as info:
        hubs.ModelScopeClient(listing_env.url, "master").search("iic", None, 500)  # 120 repositories, 50 a page
    assert str(info.value) == (
        "ModelScope's model listing goes on past 2 pages; stopped there (--limit, --task or --org narrows it)"
    )
    assert len([t for _, t in listing_env.requests if t.startswith("/openapi/v1/models?")]) == 2


def test_a_hugging_face_listing_asks_for_the_revision_whole_with_the_token(
    listing_env: LoopbackHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``model_info(revision=)``'s request: a revision with ``/`` (``refs/pr/1``) is one path
    segment, and the client's token goes with it; an answer that is not a repository
    description is named."""
    monkeypatch.setenv("HF_TOKEN", "hf_CANARYtoken0123456789abcdef")
    seen: list[tuple[str, str | None]] = []

    def repo_api(self: Any, request: Any, repo_id: str, rest: list[str]) -> Any:
        seen.append((request.target, request.header("authorization")))
        return hubserver.json_response(200, ["not", "a", "repository"])

    monkeypatch.setattr(hubserver.HuggingFaceRoutes, "_repo_api", repo_api)
    with pytest.raises(hubs.FetchError) as info:
        hubs.HuggingFaceClient(listing_env.url, "main").list("funasr/fsmn-vad", "refs/pr/1")
    assert str(info.value) == "Hugging Face's listing of funasr/fsmn-vad is not a repository description"
    assert seen == [
        ("/api/models/funasr/fsmn-vad/revision/refs%2Fpr%2F1?blobs=true", "Bearer hf_CANARYtoken0123456789abcdef")
    ]
