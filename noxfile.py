"""Developer sessions: `nox -s demo` (the main job, offline), `nox -s tests`, `slow`, `mutation`, lint, types."""

from __future__ import annotations

import shutil

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

TEST_DEPS = [
    "pytest>=8",
    "build>=1.2",
    "hatch>=1.13",
    "pip>=24",
    "uv>=0.4",
    "editables",
    "modelscope",
    "pypiserver>=2.4",
    "cyclonedx-python-lib[json-validation]>=8",
    "validate-pyproject[all]>=0.27",  # tests/test_schema.py runs it with our entry point
    "jsonschema>=4",  # the draft-07 metaschema check
    "in-toto-attestation>=0.9",  # tests/test_attest.py validates the provenance with its protobuf schema
    "hypothesis>=6.100",  # tests/test_properties.py
    "gguf>=0.17",  # tests/support/ggufgen.py: stand-in GGUFs for FunASR's llama.cpp runtime
]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, end-to-end builds included (needs espeak-ng and sox)."""
    session.install("-e", ".[quantize,sign]", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """The tests marked slow (a 4.5 GiB file packed and installed; several GiB of disk), deselected elsewhere."""
    session.install("-e", ".[quantize,sign]", *TEST_DEPS)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing with mutmut 3 of file selection, integrity checks, the lock and the pack
    ([tool.mutmut] in pyproject.toml), then killed/total per module.  Starts afresh each time;
    `nox -s mutation -- --resume` continues an interrupted run."""
    # Not editable: mutmut imports the mutated copy in mutants/; builds run in a subprocess use this one.
    session.install(".[quantize,sign]", *TEST_DEPS, "mutmut>=3.8,<4")
    resume = "--resume" in session.posargs
    if not resume:
        shutil.rmtree("mutants", ignore_errors=True)
    session.run("mutmut", "run", *(a for a in session.posargs if a != "--resume"))
    session.run("python", "tests/tools/mutation_report.py", "mutants")


@nox.session
def demo(session: nox.Session) -> None:
    """Build a bundle from the loopback hub, install it in a fresh venv, run the real FSMN-VAD."""
    session.install("-e", ".[quantize]", "build>=1.2", "pip>=24")
    session.run("python", "tests/tools/demo.py", *session.posargs)


@nox.session
def bundles(session: nox.Session) -> None:
    """Build every bundle in bundles/ through the loopback hub with stand-in models; inspect each wheel."""
    session.install("-e", ".[quantize]", "build>=1.2", "pip>=24", "gguf")  # gguf: the edge bundle's stand-ins
    session.run("python", "tests/tools/bundles.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: `nox -s bench -- pack --size-mib 512` (scenarios: pack, cold, small, quant-hit);
    see benchmarks/README.md."""
    session.install("-e", ".", "uv", "onnx", "numpy")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "hatch_funasr", "tests", "benchmarks", "noxfile.py")


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".", "mypy")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate the reference pages made from the code (configuration, environment, CLI), then
    render docs/ as a site in site/ (`nox -s docs -- serve` to browse it). The Markdown reads as it is."""
    session.install("-e", ".", "mkdocs>=1.6")
    session.run("python", "-m", "hatch_funasr._docgen")
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--site-dir", "site", *session.posargs)
