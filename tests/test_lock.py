"""funasr.lock: contents, locked builds that verify every byte, offline and reproducible builds."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support import hubrepos
from support.hubserver import LoopbackHub
from support.projects import (
    DEAD,
    FIXTURES,
    MODEL,
    RUNTIME,
    VAD_HF_REPO,
    VAD_ONNX_REPO,
    cli,
    lock_project,
    make_project,
    stage_project,
    wheel_build,
)

from hatch_funasr.cache import Cache
from hatch_funasr.config import load_config
from hatch_funasr.errors import ConfigError, FetchError, IntegrityError
from hatch_funasr.lock import (
    Lock,
    LockedFile,
    LockedModel,
    LockedRepo,
    declaration_of,
    mismatches,
    read_lock,
    write_lock,
)
from hatch_funasr.model import HubRef


@pytest.fixture
def tamper(hub: LoopbackHub) -> Iterator[set[str]]:
    hub.tamper.clear()
    yield hub.tamper
    hub.tamper.clear()


def build(project: Path, tmp: Path, **env: str) -> Path:
    """Stage the bundle in-process the way the hook does (config + lock from the project)."""
    return stage_project(project, tmp, offline=env.get("offline") == "1")


def test_lock_contents_and_idempotence(tmp_path: Path, hub_env: dict[str, str], vad_repo: dict[str, bytes]) -> None:
    project = make_project(
        tmp_path, f'vad = "fsmn-vad"\nvad2 = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n'
    )
    result = cli(project, "lock")
    assert result.returncode == 0, result.stderr
    assert "funasr.lock: written (2 model(s))" in result.stdout
    lock = read_lock(project)
    assert lock is not None
    text = (project / "funasr.lock").read_text()
    master = hubrepos.PUBLISHED[VAD_ONNX_REPO]["master"]  # vad has no revision: the default branch
    for name, repo, hub, files in (("vad", VAD_ONNX_REPO, "ms", master), ("vad2", VAD_HF_REPO, "hf", vad_repo)):
        entry = lock.models[name]
        assert (entry.repo, entry.hub, len(entry.commit)) == (repo, hub, 40)
        assert {(f.path, f.size, f.sha256) for f in entry.files} == {
            (p, len(files[p]), hashlib.sha256(files[p]).hexdigest()) for p in RUNTIME
        }
        assert f"[models.{name}]" in text
    assert lock.models["vad2"].revision == "v2.0.4" and lock.models["vad"].revision is None
    before = (project / "funasr.lock").stat().st_mtime_ns
    again = cli(project, "lock")
    assert "unchanged" in again.stdout
    assert (project / "funasr.lock").stat().st_mtime_ns == before


def test_upgrade_re_resolves_a_moved_branch(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], vad_repo: dict[str, bytes]
) -> None:
    repo = "acme/moving-fsmn-vad-onnx"
    files = {k: v for k, v in vad_repo.items() if k in RUNTIME}
    first = hub.store.publish(repo, files)
    project = make_project(tmp_path, f'vad = {{ model = "{repo}" }}\n')
    lock_project(project)
    second = hub.store.publish(repo, {**files, "config.yaml": files["config.yaml"] + b"\n# v2\n"})
    assert cli(project, "lock").stdout.strip().endswith("unchanged (1 model(s))")
    assert read_lock(project).models["vad"].commit == first  # type: ignore[union-attr]
    result = cli(project, "lock", "--upgrade", "vad")
    assert "written" in result.stdout, result.stderr
    assert read_lock(project).models["vad"].commit == second  # type: ignore[union-attr]


def test_warm_locked_rebuild_makes_no_request_and_offline_works_with_server_gone(
    tmp_path: Path, hub: LoopbackHub, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    lock_project(project)
    hub.clear_log()
    pkg = build(project, tmp_path / "b1")
    assert hub.requests == [], "a locked build with a warm cache must not touch the network"
    monkeypatch.setenv("HF_ENDPOINT", DEAD)
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", DEAD)
    pkg2 = build(project, tmp_path / "b2", offline="1")
    assert (pkg2 / "funasr_manifest.json").read_bytes() == (pkg / "funasr_manifest.json").read_bytes()


def test_offline_locked_build_with_empty_cache_names_model(
    tmp_path: Path, hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    lock_project(project)
    monkeypatch.setenv("HATCH_FUNASR_CACHE", str(tmp_path / "empty-cache"))
    commit = read_lock(project).models["vad"].commit  # type: ignore[union-attr]
    with pytest.raises(FetchError) as info:
        build(project, tmp_path / "b", offline="1")
    assert (
        f"  - model vad: ms:{VAD_ONNX_REPO} revision v2.0.4 (commit {commit}): config.yaml, am.mvn, model_quant.onnx"
        in str(info.value)
    )


@pytest.mark.parametrize("hub_name", ["ms", "hf"])
def test_altered_byte_on_cold_cache_is_caught(
    tmp_path: Path,
    hub_env: dict[str, str],
    tamper: set[str],
    monkeypatch: pytest.MonkeyPatch,
    hub_name: str,
    vad_repo: dict[str, bytes],
) -> None:
    models = (
        'vad = { model = "fsmn-vad", revision = "v2.0.4" }\n'
        if hub_name == "ms"
        else (f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n')
    )
    project = make_project(tmp_path, models)
    lock_project(project)
    monkeypatch.setenv("HATCH_FUNASR_CACHE", str(tmp_path / "cold-cache"))
    tamper.add(MODEL)
    with pytest.raises((IntegrityError, FetchError)) as info:
        build(project, tmp_path / "b")
    message = str(info.value)
    assert message.startswith("model vad: ") and MODEL in message
    if hub_name == "hf":  # huggingface_hub checks only the size: our check against the lock catches it
        expected = read_lock(project).models["vad"]  # type: ignore[union-attr]
        sha = next(f.sha256 for f in expected.files if f.path == MODEL)
        assert isinstance(info.value, IntegrityError)
        assert "does not match funasr.lock: sha256 " in message and f"expected {sha}" in message
    cold = Cache(tmp_path / "cold-cache")
    config_sha = hashlib.sha256(vad_repo["config.yaml"]).hexdigest()
    assert cold.has_blob(config_sha, len(vad_repo["config.yaml"])), "config.yaml was fetched first: this is the cache"
    tampered = [b for b in (cold.root / "blobs").rglob("*") if b.is_file() and b.stat().st_size == len(vad_repo[MODEL])]
    assert tampered == [], "the altered bytes must never enter the cache"
    tamper.clear()
    build(project, tmp_path / "b2")  # a later build against a good server succeeds


def test_cache_poisoned_after_locking_is_detected(
    tmp_path: Path, hub_env: dict[str, str], vad_repo: dict[str, bytes]
) -> None:
    project = make_project(tmp_path)
    lock_project(project)
    sha = hashlib.sha256(vad_repo[MODEL]).hexdigest()
    blob = Cache(Path(hub_env["HATCH_FUNASR_CACHE"])).blob_path(sha)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(
        IntegrityError, match=r"model vad: model_quant.onnx: cached copy .* was altered after it was verified"
    ):
        build(project, tmp_path / "offline", offline="1")
    assert not blob.exists(), "the poisoned copy is removed"
    blob_data = bytearray(vad_repo[MODEL])
    blob_data[100] ^= 0xFF
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(bytes(blob_data))
    pkg = build(project, tmp_path / "online")  # online: the bad copy is dropped and fetched again
    assert (pkg / "models" / "vad" / MODEL).read_bytes() == vad_repo[MODEL]


def test_declaration_changed_since_lock(tmp_path: Path, hub_env: dict[str, str]) -> None:
    project = make_project(tmp_path)
    lock_project(project)
    text = (project / "pyproject.toml").read_text().replace('revision = "v2.0.4"', 'revision = "master"')
    (project / "pyproject.toml").write_text(text + 'vad2 = "fsmn-vad"\n')
    with pytest.raises(ConfigError) as info:
        build(project, tmp_path / "b")
    assert info.value.problems == [
        "model vad changed since it was locked: revision 'v2.0.4' -> 'master'",
        "model vad2 is declared but not in funasr.lock",
        "run `hatch-funasr lock` to update it (or build with HATCH_FUNASR_LOCK=update)",
    ]
    wheel_build(project, HATCH_FUNASR_LOCK="update")
    assert set(read_lock(project).models) == {"vad", "vad2"}  # type: ignore[union-attr]


def test_byte_identical_wheels_from_two_directories(tmp_path: Path, hub_env: dict[str, str]) -> None:
    wheels = []
    for name in ("a", "elsewhere/b"):
        project = make_project(tmp_path, name=name)
        if not wheels:
            lock_project(project)
            lock_text = (project / "funasr.lock").read_text()
        else:
            (project / "funasr.lock").write_text(lock_text)
        wheels.append(wheel_build(project, SOURCE_DATE_EPOCH="1767225600").read_bytes())
    assert wheels[0] == wheels[1]


def test_unlocked_hf_build_still_checks_lfs_sha256(tmp_path: Path, hub_env: dict[str, str], tamper: set[str]) -> None:
    project = make_project(tmp_path, f'vad = {{ model = "{VAD_HF_REPO}", hub = "hf", revision = "v2.0.4" }}\n')
    tamper.add(MODEL)
    with pytest.raises(
        IntegrityError,
        match=r"model vad: acme/fsmn-vad-onnx/model_quant.onnx: downloaded content does not "
        r"match the hub listing: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}",
    ):
        build(project, tmp_path / "b")


# --- the lock file itself, in process: its exact text, every value checked ------------------------
C1, C2 = "1" * 40, "2" * 40
D_VAD = {"export": False, "family": "fsmn-vad"}
D_ASR = {
    "exclude": [],
    "export": "auto",
    "extra": [{"files": ["bpe.model"], "hub": "hf", "repo": "FunAudioLLM/SenseVoiceSmall"}],
    "quantize": True,
}
S1, S2 = "a" * 64, "b" * 64
LOCK_TEXT = f"""\
# funasr.lock: written by `hatch-funasr lock`; commit it. Do not edit by hand.
version = 1
hash-algorithm = "sha256"

[models.asr]
hub = "ms"
repo = "iic/SenseVoiceSmall-onnx"
revision = "v2.0.5"
commit = "{C1}"
license = "Apache-2.0"
declaration = {{ exclude = [], export = "auto", extra = [{{ files = ["bpe.model"], hub = "hf", repo = "FunAudioLLM/SenseVoiceSmall" }}], quantize = true }}
files = [
  {{ path = "am.mvn", size = 11203, sha256 = "{S1}" }},
  {{ path = "sub/tokens.json", size = 3, sha256 = "{S2}" }},
  {{ path = "词表.txt", size = 4, sha256 = "{S1}" }},
]

[[models.asr.extra]]
hub = "hf"
repo = "FunAudioLLM/SenseVoiceSmall"
commit = "{C2}"
files = [
  {{ path = "bpe.model", size = 0, sha256 = "{S2}" }},
]

[models.vad]
hub = "ms"
repo = "iic/vad"
commit = "{C2}"
declaration = {{ export = false, family = "fsmn-vad" }}
files = [
]
"""
LOCK = Lock(
    {
        "vad": LockedModel(hub="ms", repo="iic/vad", revision=None, commit=C2, files=(), name="vad", declaration=D_VAD),
        "asr": LockedModel(
            hub="ms",
            repo="iic/SenseVoiceSmall-onnx",
            revision="v2.0.5",
            commit=C1,
            # written sorted by path whatever the order here
            files=(
                LockedFile("词表.txt", 4, S1),
                LockedFile("sub/tokens.json", 3, S2),
                LockedFile("am.mvn", 11203, S1),
            ),
            license="Apache-2.0",
            name="asr",
            declaration=D_ASR,
            extra=(LockedRepo("hf", "FunAudioLLM/SenseVoiceSmall", None, C2, (LockedFile("bpe.model", 0, S2),)),),
        ),
    }
)


def test_the_lock_is_written_exactly_and_read_back_whole(tmp_path: Path) -> None:
    assert write_lock(tmp_path, LOCK) is True
    assert (tmp_path / "funasr.lock").read_text("utf-8") == LOCK_TEXT
    assert write_lock(tmp_path, LOCK) is False  # unchanged: not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["funasr.lock"]  # no temporary file left
    back = read_lock(tmp_path)
    assert back is not None and set(back.models) == {"asr", "vad"}
    assert back.models["vad"] == LOCK.models["vad"]
    asr = back.models["asr"]
    assert asr.files == (
        LockedFile("am.mvn", 11203, S1),
        LockedFile("sub/tokens.json", 3, S2),
        LockedFile("词表.txt", 4, S1),  # written as it is (readable), not \u-escaped
    )
    assert (asr.hub, asr.repo, asr.revision, asr.commit, asr.license, asr.declaration, asr.name) == (
        "ms",
        "iic/SenseVoiceSmall-onnx",
        "v2.0.5",
        C1,
        "Apache-2.0",
        D_ASR,
        "asr",
    )
    assert asr.extra == LOCK.models["asr"].extra
    assert read_lock(tmp_path / "nowhere") is None


def test_a_lock_written_before_the_hash_algorithm_key_still_reads(tmp_path: Path) -> None:
    """The lock format as first released (committed as a fixture, never regenerated): no
    ``hash-algorithm`` key, which means sha256; it reads into the same lock, and writing it
    back adds the key and changes nothing else."""
    old = Path(__file__).parent / "fixtures" / "lock-v1"
    assert "hash-algorithm" not in (old / "funasr.lock").read_text("utf-8")
    back = read_lock(old)
    assert back is not None and write_lock(tmp_path, back) is True
    assert (tmp_path / "funasr.lock").read_text("utf-8") == LOCK_TEXT
    assert read_lock(tmp_path) == back


def _bad(tmp_path: Path, old: str, new: str) -> str:
    assert LOCK_TEXT.count(old) >= 1, old
    (tmp_path / "funasr.lock").write_text(LOCK_TEXT.replace(old, new, 1), "utf-8")
    with pytest.raises(ConfigError) as info:
        read_lock(tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith("funasr.lock: ") and problem.endswith(
        "; fix it, or delete it and run `hatch-funasr lock`"
    )
    return problem.removeprefix("funasr.lock: ").removesuffix("; fix it, or delete it and run `hatch-funasr lock`")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version = 1", "version = 2", "unsupported version 2, expected 1"),
        ("version = 1\n", "", "unsupported version None, expected 1"),
        (
            'hash-algorithm = "sha256"',
            'hash-algorithm = "blake3"',
            "hash-algorithm 'blake3' is not one this hatch-funasr reads (sha256); upgrade hatch-funasr",
        ),
        (
            'hub = "ms"\nrepo = "iic/vad"',
            'hub = ""\nrepo = "iic/vad"',
            "models.vad.hub: expected a non-empty string, got ''",
        ),
        ('repo = "iic/vad"', 'repo = "vad"', "models.vad.repo: 'vad' is not a hub repository id owner/name"),
        ('repo = "iic/vad"', "repo = 7", "models.vad.repo: expected a non-empty string, got 7"),
        (
            'family = "fsmn-vad" }\nfiles = [\n]',
            'family = "fsmn-vad" }\nfiles = "x"',
            "models.vad.files: expected an array of tables, got str",
        ),
        (
            'declaration = { export = false, family = "fsmn-vad" }\n',
            "",
            "models.vad.declaration: expected the table `hatch-funasr lock` writes, got None; it is not edited by hand",
        ),
        (
            'declaration = { export = false, family = "fsmn-vad" }',
            'declaration = "{\\"family\\": \\"fsmn-vad\\""',
            'models.vad.declaration: expected the table `hatch-funasr lock` writes, got \'{"family": "fsmn-vad"\'; '
            "it is not edited by hand",
        ),
        (
            'export = false, family = "fsmn-vad"',
            "export = false, family = 3",
            "models.vad.declaration.family: 3 is not a value `hatch-funasr lock` writes there",
        ),
        (
            'extra = [{ files = ["bpe.model"]',
            'extra = [{ files = "bpe.model"',
            "models.asr.declaration.extra: [{'files': 'bpe.model', 'hub': 'hf', 'repo': 'FunAudioLLM/SenseVoiceSmall'}] "
            "is not a value",
        ),
        (
            'family = "fsmn-vad" }\nfiles = [\n]',
            'family = "fsmn-vad" }\nfiles = [1]',
            "models.vad.files[0]: expected a table, got int",
        ),
        ('path = "am.mvn"', 'path = "../am.mvn"', "models.asr.files[0].path: unsafe file name '../am.mvn'"),
        (
            'path = "sub/tokens.json"',
            'path = "AM.mvn"',
            "models.asr.files: 'AM.mvn' and 'am.mvn' are one file on Windows and macOS",
        ),
        (
            'license = "Apache-2.0"',
            'license = "see <a href=x>"',
            "models.asr.license: 'see <a href=x>' is not a licence name or SPDX expression",
        ),
        ('license = "Apache-2.0"', "license = 3", "models.asr.license: expected a non-empty string, got 3"),
        ('revision = "v2.0.5"', "revision = 5", "models.asr.revision: expected a non-empty string, got 5"),
        (
            '[[models.asr.extra]]\nhub = "hf"',
            '[[models.asr.extra]]\nhub = "gh"',
            "models.asr.extra[0].hub: expected one of ms, hf, got 'gh'",
        ),
        (
            f'commit = "{C2}"\nfiles = [\n  {{ path = "bpe',
            'commit = "main"\nfiles = [\n  { path = "bpe',
            "models.asr.extra[0].commit (a movable tag or branch cannot be locked): 'main' is not a full commit id",
        ),
        ("[models.vad]", "[models.vad]\nextra = 3", "models.vad.extra: expected an array of tables, got int"),
        ("[models.vad]", '[models."../x"]', "models.../x: unsafe file name '../x'"),
        ("[models.vad]\nhub", "[models]\nvad = 3\n[models.v]\nhub", "models.vad: expected a table, got int"),
        (
            LOCK_TEXT[LOCK_TEXT.index("\n[models.asr]") :],
            "\nmodels = 3\n",
            "models: expected a table of models, got int",
        ),
        ("size = 11203", "size = -1", "models.asr.files[0].size: -1 is not a file size"),
        ('export = "auto"', 'export = "sometimes"', "models.asr.declaration.export: 'sometimes' is not a value"),
        ("quantize = true }", 'quantize = "yes" }', "models.asr.declaration.quantize: 'yes' is not a value"),
        ("quantize = true }", "quantize = true, keep-fp32 = 0 }", "models.asr.declaration.keep-fp32: 0 is not a value"),
        ("exclude = []", "exclude = [1]", "models.asr.declaration.exclude: [1] is not a value"),
        ('export = "auto",', 'colour = "red", export = "auto",', "models.asr.declaration.colour: 'red' is not a value"),
        ('declaration = { export = false, family = "fsmn-vad" }', "declaration = {}", "got {}; it is not edited"),
        (
            'repo = "FunAudioLLM/SenseVoiceSmall" }',
            'repo = "FunAudioLLM/SenseVoiceSmall", branch = "x" }',
            "declaration.extra: ",
        ),
        (
            'repo = "FunAudioLLM/SenseVoiceSmall" }',
            'repo = "FunAudioLLM/SenseVoiceSmall", revision = 3 }',
            "declaration.extra: ",
        ),
        ('hub = "hf", repo = "FunAudioLLM', 'hub = 1, repo = "FunAudioLLM', "declaration.extra: "),
        ('files = ["bpe.model"]', 'files = "bpe.model"', "declaration.extra: "),
        ("extra = [{ files", 'extra = ["x", { files', "declaration.extra: "),
        ("[models.vad]", "[models.vad", "Expected ']' at the end of a table declaration"),
    ],
)
def test_a_lock_value_that_is_not_one_is_refused_naming_where(old: str, new: str, message: str, tmp_path: Path) -> None:
    assert message in _bad(tmp_path, old, new)


def test_a_lock_that_is_not_utf8_or_not_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "funasr.lock").write_bytes(b"version = 1\n\xff\n")
    with pytest.raises(ConfigError, match=r"funasr\.lock: 'utf-8' codec can't decode"):
        read_lock(tmp_path)
    (tmp_path / "funasr.lock").unlink()
    (tmp_path / "funasr.lock").mkdir()
    with pytest.raises(ConfigError, match=r"funasr\.lock: \[Errno 21\] Is a directory"):
        read_lock(tmp_path)


def test_mismatches_name_each_change_and_each_model(tmp_path: Path) -> None:
    declared = 'local = { path = "m", family = "fsmn-vad" }\nnew = "fsmn-vad"\nvad = { model = "fsmn-vad", revision = "v2.0.4" }\n'
    project = make_project(tmp_path, declared)  # a local model and a model missing from the lock come first
    (project / "m").mkdir()
    config = load_config(project)
    vad = next(m for m in config.models if m.name == "vad")
    assert isinstance(vad.origin, HubRef)
    was = declaration_of(vad, vad.origin) | {"revision": "v2.0.3", "quantize": True}
    entry = LockedModel(
        hub="ms", repo=vad.origin.repo, revision="v2.0.3", commit=C1, files=(), name="vad", declaration=was
    )
    gone = LockedModel(hub="ms", repo="iic/x", revision=None, commit=C1, files=(), name="old", declaration={})
    assert mismatches(config, Lock({"vad": entry, "old": gone})) == [
        "model new is declared but not in funasr.lock",
        "model vad changed since it was locked: quantize True -> False, revision 'v2.0.3' -> 'v2.0.4'",
        "model old is in funasr.lock but no longer declared",
    ]
    same = LockedModel(
        hub="ms",
        repo=vad.origin.repo,
        revision="v2.0.4",
        commit=C1,
        files=(),
        name="vad",
        declaration=declaration_of(vad, vad.origin),
    )
    new = next(m for m in config.models if m.name == "new")
    assert (
        mismatches(
            config, Lock({"vad": same, "new": replace(same, name="new", declaration=declaration_of(new, new.origin))})
        )
        == []
    )


def test_the_declaration_records_what_decides_commits_and_files(tmp_path: Path) -> None:
    models = (
        'asr = { model = "sensevoice-small", revision = "v2.0.5", quantize = true, keep-fp32 = false, '
        'include = ["*.txt"], exclude = ["x"] }\n'
    )
    config = load_config(make_project(tmp_path, models))
    assert declaration_of(config.models[0], config.models[0].origin) == {
        "hub": "ms",
        "repo": "iic/SenseVoiceSmall-onnx",
        "revision": "v2.0.5",
        "family": "sensevoice",
        "format": "onnx",
        "export": "auto",
        "quantize": True,
        "keep-fp32": False,
        "include": ["*.txt"],
        "exclude": ["x"],
        "extra": [{"hub": "ms", "repo": "iic/SenseVoiceSmall", "files": ["chn_jpn_yue_eng_ko_spectok.bpe.model"]}],
    }
    assert list(declaration_of(config.models[0], config.models[0].origin))[:2] == [
        "exclude",
        "export",
    ]  # sorted, as written


def test_a_lock_whose_declarations_are_json_strings_still_reads(tmp_path: Path) -> None:
    """Locks written before declarations were TOML tables hold each as a JSON string (with nulls,
    extra repositories as arrays): read into the same table, they match the declaration, and the
    next `lock` writes them as tables."""
    project = tmp_path / "p"
    shutil.copytree(FIXTURES / "lock-json-declaration", project)
    assert '"{\\"exclude\\":[]' in (project / "funasr.lock").read_text()
    lock = read_lock(project)
    assert lock is not None
    config = load_config(project)
    assert mismatches(config, lock) == []
    assert lock.models["asr"].declaration == declaration_of(config.model("asr"), config.model("asr").origin)
    assert "keep-fp32" not in lock.models["vad"].declaration
    write_lock(project, lock)
    assert 'declaration = { exclude = [], export = "auto", extra = [{ files' in (project / "funasr.lock").read_text()
    assert read_lock(project) == lock


def test_a_lock_without_models_pins_nothing(tmp_path: Path) -> None:
    (tmp_path / "funasr.lock").write_text("version = 1\n")
    lock = read_lock(tmp_path)
    assert lock is not None and dict(lock.models) == {}


def test_every_kind_of_declaration_value_is_written_and_read_back(tmp_path: Path) -> None:
    """A GGUF variant, a generic export, keep-fp32, an extra repository at a revision, names
    beyond ASCII: written as TOML and read back to the same declaration."""
    declaration = {
        "exclude": ["a, b", "词"],
        "export": "generic",
        "extra": [{"files": ["x.model", "y"], "hub": "hf", "repo": "acme/extra", "revision": "v1"}],
        "family": "sensevoice",
        "format": "gguf",
        "gguf": "f16",
        "keep-fp32": False,
        "quantize": False,
    }
    model = replace(LOCK.models["vad"], declaration=declaration)
    assert write_lock(tmp_path, Lock({"vad": model}))
    text = (tmp_path / "funasr.lock").read_text("utf-8")
    assert 'exclude = ["a, b", "词"]' in text and 'gguf = "f16"' in text and "keep-fp32 = false" in text
    assert 'revision = "v1"' in text
    back = read_lock(tmp_path)
    assert back is not None and back.models["vad"].declaration == declaration


def test_an_old_locks_extra_repositories_read_as_tables(tmp_path: Path) -> None:
    """hatch-funasr 0.x wrote the declaration as a JSON string, extra repositories in it as
    ``[hub, repo, revision, files]`` arrays and unset values as null: read into the table form,
    a null revision left out as the table form leaves it out."""
    old = {
        "export": "auto",
        "extra": [
            ["hf", "acme/extra", "v1", ["x"]],
            ["ms", "iic/y", None, ["z"]],
            {"files": ["w"], "hub": "hf", "repo": "acme/w", "revision": "v2"},  # already a table: kept
        ],
        "quantize": None,
    }
    lock_text = (
        f'version = 1\n\n[models.vad]\nhub = "ms"\nrepo = "iic/vad"\ncommit = "{C2}"\nfiles = []\n'
        f"declaration = {json.dumps(json.dumps(old))}\n"  # a TOML basic string holding the JSON
    )
    (tmp_path / "funasr.lock").write_text(lock_text, "utf-8")
    back = read_lock(tmp_path)
    assert back is not None
    assert back.models["vad"].declaration == {
        "export": "auto",
        "extra": [
            {"files": ["x"], "hub": "hf", "repo": "acme/extra", "revision": "v1"},
            {"files": ["z"], "hub": "ms", "repo": "iic/y"},
            {"files": ["w"], "hub": "hf", "repo": "acme/w", "revision": "v2"},
        ],
    }


def test_the_declaration_a_lock_stores_names_every_key_as_the_lock_file_spells_it(tmp_path: Path) -> None:
    """The keys are the lock format (a lock written by one version is read by the next): a GGUF
    variant and an extra repository's revision are kept under their own names."""
    from hatch_funasr.config import parse
    from hatch_funasr.lock import declaration_of

    pyproject = {
        "project": {"name": "acme-edge", "version": "1"},
        "tool": {
            "funasr": {
                "models": {
                    "asr": {
                        "model": "FunAudioLLM/SenseVoiceSmall-GGUF",
                        "hub": "hf",
                        "gguf": "q8",
                        "extra-files": [
                            {"model": "FunAudioLLM/SenseVoiceSmall", "revision": "v1", "files": ["am.mvn"]}
                        ],
                    }
                }
            }
        },
    }
    model = parse(pyproject, tmp_path, {}).model("asr")
    assert isinstance(model.origin, HubRef)
    assert declaration_of(model, model.origin) == {
        "exclude": [],
        "export": "auto",
        "extra": [{"files": ["am.mvn"], "hub": "hf", "repo": "FunAudioLLM/SenseVoiceSmall", "revision": "v1"}],
        "family": "sensevoice",
        "format": "gguf",
        "gguf": "q8",
        "hub": "hf",
        "include": [],
        "quantize": False,
        "repo": "FunAudioLLM/SenseVoiceSmall-GGUF",
    }
