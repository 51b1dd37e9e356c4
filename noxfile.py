"""Developer sessions: `nox -s demo` (the main job, offline), `nox -s tests`, lint, types."""

from __future__ import annotations

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
]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, end-to-end builds included (needs espeak-ng and sox)."""
    session.install("-e", ".[quantize]", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Build a bundle from the loopback hub, install it in a fresh venv, run the real FSMN-VAD."""
    session.install("-e", ".[quantize]", "build>=1.2", "pip>=24")
    session.run("python", "tests/support/demo.py", *session.posargs)


@nox.session
def bundles(session: nox.Session) -> None:
    """Build every bundle in bundles/ through the loopback hub with stand-in models; inspect each wheel."""
    session.install("-e", ".[quantize]", "build>=1.2", "pip>=24")
    session.run("python", "tests/support/bundles.py", *session.posargs)


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
