"""The documentation: README.md, docs/ and the bundles' READMEs, read as plain Markdown.  The reference pages'
generated parts are what ``python -m hatch_funasr._docgen`` makes of the code today, every
relative link leads to a file (and heading) that exists, the TOML a reader copies is valid, and
nothing a user reads points at material users cannot see."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from hatch_funasr import _docgen
from hatch_funasr.config import json_schema
from hatch_funasr.settings import EnvVars, tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: What a user reads: README (also the PyPI page), docs/, and the READMEs of the ready bundles and benchmarks.
PAGES = [
    ROOT / "README.md",
    *sorted(DOCS.rglob("*.md")),
    *sorted(ROOT.glob("bundles/*/README.md")),
    ROOT / "benchmarks/README.md",
]
#: Pages other changes add (linked from the index, the nav and README already). A link to one
#: is accepted while it is missing; once it exists, drop it from here and its links are checked.
ELSEWHERE: frozenset[str] = frozenset()
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.M)


def _prose(page: Path) -> str:
    """The page without its code blocks (a `[x](y)` in code is not a link)."""
    return _FENCE.sub("", page.read_text("utf-8"))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in _HEADING.findall(_prose(page))}


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# --- generated reference pages -----------------------------------------------------------------
@pytest.mark.parametrize("page", list(_docgen.PAGES))
def test_generated_part_is_current(page: str) -> None:
    text = (DOCS / page).read_text("utf-8")
    assert _docgen.render(page, text) == text, (
        f"docs/{page} differs from the code it documents; run `{_docgen.COMMAND}` and commit the result"
    )


def test_check_mode_reports_a_stale_page_and_regeneration_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(DOCS / "reference", docs / "reference")
    assert _docgen.main(["--docs", str(docs), "--check"]) == 0
    page = docs / "reference/configuration.md"
    page.write_text(page.read_text("utf-8").replace("| `quantize` |", "| `quantise` |"), "utf-8")
    assert _docgen.main(["--docs", str(docs), "--check"]) == 1
    assert f"{page}: out of date" in capsys.readouterr().err
    assert _docgen.main(["--docs", str(docs)]) == 0
    assert page.read_text("utf-8") == (DOCS / "reference/configuration.md").read_text("utf-8")


def test_run_elsewhere_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _docgen.main(["--docs", str(tmp_path), "--check"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("not found; run this in hatch-funasr's checkout, or give --docs")
    assert f"{tmp_path}/reference/configuration.md" in err


def test_page_without_markers_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"reference/cli.md: no .* markers"):
        _docgen.render("reference/cli.md", "# CLI\n")


def test_a_variable_nobody_describes_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EnvVars, "NEW_SWITCH", "HATCH_FUNASR_NEW_SWITCH", raising=False)
    with pytest.raises(RuntimeError, match="EnvVars HATCH_FUNASR_NEW_SWITCH: no description"):
        _docgen.environment()


def test_every_variable_and_key_is_in_the_references() -> None:
    environment = (DOCS / "reference/environment.md").read_text("utf-8")
    names = [v for k, v in vars(EnvVars).items() if k.isupper()]
    assert [v for v in names if f"| `{v}` |" not in environment] == []
    schema = json_schema()
    configuration = (DOCS / "reference/configuration.md").read_text("utf-8")
    assert [k for k in schema["properties"] if f"| `{k}` |" not in configuration] == []


# --- links -------------------------------------------------------------------------------------
def test_every_relative_link_resolves() -> None:
    broken = []
    for page in PAGES:
        for target in _LINK.findall(_prose(page)):
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if dest.is_relative_to(DOCS) and dest.relative_to(DOCS).as_posix() in ELSEWHERE and not dest.exists():
                continue
            if not dest.exists():
                broken.append(f"{_rel(page)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{_rel(page)}: {target} (no heading #{anchor} in {_rel(dest)})")
    assert broken == []


def test_every_test_the_runtime_matrix_names_exists() -> None:
    """Each cell of the runtime matrix names the test that runs it (``B``/``G``/``P`` + name, a
    ``[case]`` of a parametrised one): the name is a test of that module and the case one of its ids."""
    modules = {"B": "test_bundles.py", "G": "test_genmodels.py", "P": "test_python_runtime.py"}
    sources = {k: (ROOT / "tests" / m).read_text("utf-8") for k, m in modules.items()}
    matrix = (DOCS / "reference/runtime-matrix.md").read_text("utf-8")
    missing, named = [], 0
    rows = "\n".join(line for line in matrix.splitlines() if line.startswith("| "))
    for cell in rows.split("|"):
        letter = ""
        for where, name, case in re.findall(r"(?:\b([BGP]) )?`(test_\w+)?(?:\[([\w-]+)\])?`", cell):
            letter = where or letter
            if not (name or case):
                continue
            named += 1
            source = sources[letter] if letter else "".join(sources.values())
            if name and f"def {name}(" not in source:
                missing.append(f"{letter} {name}")
            if case and f'"{case}"' not in source:
                missing.append(f"{letter} {name}[{case}]")
    assert named > 30 and missing == [], missing


def test_pages_named_in_messages_exist() -> None:
    """hatch-funasr's messages send users to docs/ pages (and sections) by name."""
    named = {m for f in (ROOT / "hatch_funasr").glob("*.py") for m in re.findall(r"docs/([\w/-]+\.md)", f.read_text())}
    assert named, "no message names a docs/ page (the pattern no longer matches?)"
    assert sorted(p for p in named if not (DOCS / p).is_file() and p not in ELSEWHERE) == []
    getting_started = _anchors(DOCS / "getting-started.md")
    assert "isolated-builds-where-hatch-funasr-comes-from" in getting_started


def test_mkdocs_nav_lists_every_page() -> None:
    nav = re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text("utf-8"), re.M)
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(set(nav) - on_disk - ELSEWHERE) == [], "mkdocs.yml names pages that do not exist"
    assert sorted(on_disk - set(nav)) == [], "pages missing from mkdocs.yml's nav"


def test_pages_written_elsewhere_are_dropped_from_the_list_once_they_exist() -> None:
    landed = sorted(p for p in ELSEWHERE if (DOCS / p).exists())
    assert landed == [], f"remove {landed} from tests/test_docs.py ELSEWHERE: they exist, so check their links"


# --- what a reader copies, and what a reader can see ----------------------------------------------
def test_readme_stays_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 8 * 1024, f"README.md is {size} bytes; move detail into docs/ (it is also the PyPI page)"


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "nox -s demo" in readme and "nox -s tests" in readme


#: Every pyproject.toml shown whole or from a table header on ([build-system], [tool.funasr...]), by page.
SNIPPETS = [
    pytest.param(block, id=f"{_rel(page)}:{n}")
    for page in PAGES
    for n, block in enumerate(re.findall(r"^```toml\n(.*?)^```", page.read_text("utf-8"), re.S | re.M))
    if re.search(r"^\[(build-system|tool\.funasr)", block, re.M)
]


def test_readme_shows_a_complete_pyproject() -> None:
    assert any(p.id.startswith("README.md:") and "[build-system]" in p.values[0] for p in SNIPPETS)


@pytest.mark.parametrize("block", SNIPPETS)
def test_pyproject_snippets_are_valid(block: str) -> None:
    data = tomllib.loads(block)
    if "funasr" in data.get("tool", {}):
        jsonschema.validate(data["tool"]["funasr"], json_schema())
    if "build-system" in data:
        assert data["build-system"]["build-backend"] == "hatchling.build"
        assert "hatch-funasr" in [
            re.split(r"[\s\[<>=!~;@]", r, maxsplit=1)[0] for r in data["build-system"]["requires"]
        ]
    if "tool" in data and "[build-system]" in block:  # a whole project enables the hook
        assert "funasr" in data["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]


#: What users cannot see: the project's internal specification and tracker, the test machines' files.
_INTERNAL = re.compile(r"\bthe seed\b|\bseed's\b|\bSPEC\b|\.\./shared|\bsection \d+\b|\bissue \d+\b", re.I)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_reference_to_internal_material(page: Path) -> None:
    hits = [line for line in page.read_text("utf-8").splitlines() if _INTERNAL.search(line)]
    assert hits == []


def test_the_limits_page_states_every_limit_the_code_enforces() -> None:
    """Each bound on untrusted input is written on the limits page as the code has it (a limit
    changed in the code and not on the page fails here)."""
    from hatch_funasr import _bundle_runtime, cache, hubs, names, onnxscan, sources

    text = " ".join((DOCS / "reference" / "limits.md").read_text("utf-8").split())
    stated = {
        "files in a local model directory": f"| {sources._MAX_LOCAL_FILES:,} |",
        "local directory message": f"holds more than {sources._MAX_LOCAL_FILES} files",
        "name length": f"{names._MAX_PATH:,} characters in all, {names._MAX_NAME} bytes per path component",
        "file size": f"| {names.MAX_SIZE >> 40} TiB |",
        "onnx depth": f"| {onnxscan.MAX_DEPTH} |",
        "onnx fields": f"| {onnxscan.MAX_FIELDS:,} ",
        "onnx entry": f"| {onnxscan._MAX_ENTRY:,} bytes |",
        "listing body": f"| {hubs.MAX_LIST_BODY >> 20} MiB |",
        "pages": f"| {hubs.MAX_LIST_PAGES} |",
        "deadline": f"| {hubs.LIST_DEADLINE:.0f} s |",
        "minimum rate": f"{hubs.MIN_RATE:,} bytes/s over any {hubs.MIN_RATE_WINDOW:.0f} s window",
        "retry-after": f"| {hubs.RETRY_AFTER_MAX} s |",
        "lock report": f"a line every {cache.LOCK_REPORT_EVERY:.0f} s naming the holder",
        "manifest": f"over {_bundle_runtime.MAX_MANIFEST} bytes",
    }
    missing = {what: figure for what, figure in stated.items() if figure not in text}
    assert not missing, missing
