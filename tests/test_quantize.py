"""Quantization with FunASR's settings (funasr/utils/export_utils.py:121-136): MatMul only, and the
nodes whose names hold ``output``, ``bias_encoder`` or ``bias_decoder`` left in float.

The stand-in models' nodes are named by helper, so this graph carries the names torch.onnx gives
FunASR's modules (the decoder's ``output_layer``, the contextual model's bias encoder and decoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hatch_funasr.quantize import quant_drift, quantize_file

pytest.importorskip("onnxruntime.quantization", reason="the quantize extra is a test requirement")

#: node name -> whether FunASR's rule keeps it in float
MATMULS = {
    "/encoder/encoders.0/self_attn/linear_q_k_v/MatMul": False,
    "/decoder/output_layer/MatMul": True,
    "/bias_encoder/linear/MatMul": True,
    "/decoder/bias_decoder/MatMul": True,
    "/encoder/encoders.1/feed_forward/w_1/MatMul": False,
}
DIM = 32


def _model(path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    nodes, inits, weights = [], [], {}
    current = "speech"
    for i, name in enumerate(MATMULS):
        w = (rng.standard_normal((DIM, DIM)) / np.sqrt(DIM)).astype(np.float32)
        weights[name] = w
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        out = "output" if i == len(MATMULS) - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [out], name=name))
        current = out
    graph = helper.make_graph(
        nodes,
        "funasr-names",
        [helper.make_tensor_value_info("speech", TensorProto.FLOAT, ["B", "T", DIM])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["B", "T", DIM])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, path)
    return weights


def test_funasrs_excluded_nodes_stay_float_and_the_others_are_quantized(tmp_path: Path) -> None:
    weights = _model(tmp_path / "model.onnx")
    quantize_file(tmp_path / "model.onnx", tmp_path / "model_quant.onnx")
    quant = onnx.load(str(tmp_path / "model_quant.onnx"))
    by_name = {n.name: n for n in quant.graph.node}
    inits = {i.name: numpy_helper.to_array(i) for i in quant.graph.initializer}
    for name, kept in MATMULS.items():
        if kept:
            node = by_name.get(name)
            assert node is not None and node.op_type == "MatMul", name
            assert np.array_equal(inits[node.input[1]], weights[name]), name  # the float weights, untouched
        else:
            assert name not in by_name or by_name[name].op_type != "MatMul", f"{name} was left in float"
    assert sum(n.op_type == "MatMulInteger" for n in quant.graph.node) == list(MATMULS.values()).count(False)
    drift = quant_drift(tmp_path / "model.onnx", tmp_path / "model_quant.onnx")
    assert drift is not None and 0 < drift < 0.5


def test_drift_of_a_file_against_itself_is_zero_and_of_a_broken_file_unknown(tmp_path: Path) -> None:
    _model(tmp_path / "model.onnx")
    assert quant_drift(tmp_path / "model.onnx", tmp_path / "model.onnx") == 0.0
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    assert quant_drift(tmp_path / "model.onnx", tmp_path / "broken.onnx") is None
