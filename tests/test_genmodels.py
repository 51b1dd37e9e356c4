"""The generated stand-in models: real ONNX names, loadable, deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from support.genmodels import FAMILIES, ONNX_SPECS, PYTORCH_SIDE, write_family

from hatch_funasr.families import FAMILIES as RUNTIME_FAMILIES
from hatch_funasr.families import pytorch_files, select_files


def _feed(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    feed = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 3 for d in i.shape]
        if "int" in i.type:
            feed[i.name] = np.ones(shape, dtype=np.int32)
        else:
            feed[i.name] = np.zeros(shape, dtype=np.float32)
    return feed


@pytest.mark.parametrize("family", FAMILIES)
def test_family_dir_is_complete_and_runs(family: str, tmp_path: Path) -> None:
    names = write_family(family, tmp_path, extras=True)
    selection = select_files(RUNTIME_FAMILIES[family], "onnx", {n: 1 for n in names})
    assert not selection.missing, selection
    for file, (inputs, outputs) in ONNX_SPECS.get(family, {}).items():
        session = ort.InferenceSession(str(tmp_path / file), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == [n for n, _, _ in inputs]
        assert [o.name for o in session.get_outputs()] == [n for n, _, _ in outputs]
        results = session.run(None, _feed(session))
        assert len(results) == len(outputs)


def test_deterministic(tmp_path: Path) -> None:
    write_family("paraformer-streaming", tmp_path / "a")
    write_family("paraformer-streaming", tmp_path / "b")
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()


@pytest.mark.parametrize("family", [*PYTORCH_SIDE, "paraformer"])
def test_pytorch_stand_in_has_what_automodel_reads(family: str, tmp_path: Path) -> None:
    names = write_family(family, tmp_path, pytorch=True, extras=True)
    found, missing = pytorch_files((tmp_path / "configuration.json").read_text(), {n: 1 for n in names})
    assert not missing
    assert {"configuration.json", "config.yaml", "model.pt"} <= set(found)
