"""The plain types every stage shares: the parsed declaration, files and their provenance,
and the :class:`Source` protocol a model's files come through.

Bottom layer: nothing here touches the network, the cache or a wheel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from hatch_funasr.digest import hash_file
from hatch_funasr.families import FAMILIES, Selection
from hatch_funasr.settings import Report

__all__ = [
    "BundleConfig",
    "Export",
    "ExtraFiles",
    "FileRecord",
    "HubRef",
    "LocalDir",
    "ModelConfig",
    "Origin",
    "RemoteFile",
    "RemoteModel",
    "RepoListing",
    "Source",
    "StagedModel",
    "TensorSpec",
]

#: ``export``: ``"auto"``, ``True``, ``False``, or ``"generic"`` (``torch.onnx.export`` /
#: ``torch.jit.trace`` of the PyTorch module with declared inputs, for models FunASR has no
#: ``export()`` for).
Export = Literal["auto", "generic"] | bool


@dataclass(frozen=True)
class TensorSpec:
    """One input (or output) of a generic export (``export-inputs`` / ``export-outputs``):
    its shape, where a string is a named dynamic axis (``["B", "T", 80]``), and for inputs its
    dtype and, for integer inputs, the value they are filled with (an integer, or the name of a
    dynamic axis, e.g. ``"T"`` for a lengths input)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str | None = None
    value: int | str | None = None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "value": self.value}


@dataclass(frozen=True)
class HubRef:
    """A hub repository at a revision (None: the hub's default branch)."""

    hub: str
    repo: str
    revision: str | None = None

    @property
    def label(self) -> str:
        """How messages name it: ``ms:iic/x@v2.0.4``."""
        return f"{self.hub}:{self.repo}@{self.revision or 'default branch'}"


@dataclass(frozen=True)
class LocalDir:
    """A model directory on this machine (``path = "..."``), absolute."""

    path: Path

    @property
    def label(self) -> str:
        """How messages name it: ``path:/abs/models/x``."""
        return f"path:{self.path}"


#: Where a model's files come from: a hub repository, or a local directory.
Origin = HubRef | LocalDir


@dataclass(frozen=True)
class ExtraFiles:
    """Files of a second hub repository that complete a model directory (``extra-files``):
    e.g. SenseVoice's bpe model, which the ONNX repository does not ship."""

    repo: str
    hub: str
    revision: str | None
    files: tuple[str, ...]

    @property
    def ref(self) -> HubRef:
        return HubRef(self.hub, self.repo, self.revision)

    @property
    def label(self) -> str:
        return self.ref.label


@dataclass(frozen=True)
class ModelConfig:
    """One entry of ``[tool.funasr.models]``, resolved against the catalog."""

    name: str
    #: The hub repository to fetch (after alias and format resolution), or the local directory.
    origin: Origin
    family: str
    format: str
    export: Export = "auto"
    quantize: bool = False
    #: None: ship fp32 where the source has it; True: insist on it; False: quantized only.
    keep_fp32: bool | None = None
    opset_version: int = 14
    #: Fail the build when a quantized file's outputs drift more than this from fp32.
    max_quant_drift: float | None = None
    #: Fail the build when an exported file's outputs drift more than this from PyTorch's.
    max_export_drift: float | None = None
    #: ``export = "generic"``: the inputs to trace with, and the outputs' names and axes.
    export_inputs: tuple[TensorSpec, ...] = ()
    export_outputs: tuple[TensorSpec, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: The catalog alias this model came from, if any.
    alias: str | None = None
    #: Files taken from other repositories into this model's directory.
    extra: tuple[ExtraFiles, ...] = ()
    #: ``format = "gguf"``: the variant (canonical name), and whether the FSMN-VAD GGUF joins
    #: the directory (``gguf-vad``; its repository is one of ``extra``).
    gguf: str | None = None
    gguf_vad: bool = False

    @property
    def dir_name(self) -> str:
        """The model's directory in the bundle package (``models/<dir_name>``): its name, plus
        the family's marker where the C++ runtime detects the family by path (SenseVoice)."""
        marker = FAMILIES[self.family].dir_marker
        if marker and marker.lower() not in self.name.lower():
            return f"{self.name}-{marker}"
        return self.name

    @property
    def source_label(self) -> str:
        """How messages name the source: ``ms:iic/x@v2.0.4`` or ``path:/abs/models/x``."""
        return self.origin.label


@dataclass(frozen=True)
class BundleConfig:
    """The whole declaration of one bundle project."""

    project_name: str
    version: str
    package: str
    hub: str
    models: tuple[ModelConfig, ...]
    max_file_size: int | None = None
    root: Path = field(default=Path(), compare=False)

    def model(self, name: str) -> ModelConfig:
        return next(m for m in self.models if m.name == name)


@dataclass(frozen=True)
class RemoteFile:
    """A file as its source lists it: size, and the hashes the source vouches for."""

    path: str
    size: int
    sha256: str | None = None
    git_sha1: str | None = None


@dataclass(frozen=True)
class RemoteModel:
    """A repository as a hub's model listing shows it (``models --remote``)."""

    repo: str
    #: The hub's task labels (ModelScope ``tasks``, Hugging Face ``pipeline_tag``).
    tasks: tuple[str, ...] = ()
    downloads: int | None = None
    #: ISO date of the last change, where the hub says.
    modified: str | None = None


@dataclass(frozen=True)
class RepoListing:
    """A hub revision resolved to its commit, with every file of that commit."""

    commit: str
    files: Mapping[str, RemoteFile]
    #: The licence the hub reports for the repository, if any (validated by the caller).
    license: str | None = None


@dataclass(frozen=True)
class FileRecord:
    """A file of a model directory: where its bytes are now and what they must hash to.

    ``sha256`` is None for a file of a local model directory: it is hashed while it is
    packed (one read), or by :meth:`hashed` where the hash is needed earlier.
    """

    source: Path
    size: int
    sha256: str | None

    def digest(self) -> str:
        """The sha256, reading the file if it is not known yet."""
        return self.sha256 if self.sha256 is not None else hash_file(self.source).sha256

    def hashed(self) -> FileRecord:
        """This record with its sha256 known."""
        return self if self.sha256 is not None else FileRecord(self.source, self.size, self.digest())


@dataclass(frozen=True)
class StagedModel:
    """One model ready to pack: its provenance and its files (relative path -> record)."""

    config: ModelConfig
    commit: str | None
    files: Mapping[str, FileRecord]
    tools: Mapping[str, str] = field(default_factory=dict)
    derived: tuple[str, ...] = ()
    #: Per quantized file, the max abs difference of its outputs from fp32 on a fixed input.
    drift: Mapping[str, float | None] = field(default_factory=dict)
    #: Per exported file, the max abs difference of its outputs from the PyTorch model's on a
    #: fixed input (measured in the export child).
    export_drift: Mapping[str, float] = field(default_factory=dict)
    #: What selection decided for this model (runtime mode, advice, config paths).
    selection: Selection | None = None
    #: Per extra repository (``extra-files``): its declaration, commit and the files taken.
    extra: tuple[tuple[ExtraFiles, str, tuple[str, ...]], ...] = ()
    #: The licence the hub reports for the model's repository (None: not reported, or local).
    license: str | None = None
    #: Per ONNX file, the files it keeps its weights in (external data, models over 2 GB).
    weights: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def quantized(self) -> bool:
        return any(p.endswith("_quant.onnx") for p in self.files)


class Source(Protocol):
    """Where a model's files come from: a listing first (no bytes), then the bytes of the
    files chosen from it.  :class:`hatch_funasr.sources.LocalSource` and
    :class:`hatch_funasr.sources.HubSource` implement it."""

    @property
    def model(self) -> ModelConfig: ...

    @property
    def commit(self) -> str | None:
        """The resolved commit (None for a local directory)."""

    @property
    def listing(self) -> Mapping[str, RemoteFile]:
        """Every file the source has (path -> size and hashes), validated names only."""

    @property
    def license(self) -> str | None:
        """The licence the hub reports for the repository (None: not reported, or local)."""

    def read_text(self, path: str) -> str | None:
        """A small file's text (None when the source has no such file)."""

    def materialize(self, paths: Sequence[str], report: Report) -> dict[str, FileRecord]:
        """Verified local copies of ``paths`` (downloading what is not cached)."""

    def missing(self, paths: Sequence[str]) -> list[str]:
        """Which of ``paths`` would need the network (none for a local directory)."""
