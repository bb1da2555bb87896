#!/usr/bin/python3
"""Small ONNX models for the tests: one Identity model per tensor element type the samples lack,
and a two-input model. Run with Debian's Python; the outputs under test/fixtures/models are committed.

    /usr/bin/python3 training/make_test_models.py
"""
import os

import onnx
from onnx import TensorProto, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "models")
TYPES = {
    "bool": TensorProto.BOOL, "uint8": TensorProto.UINT8, "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32, "uint64": TensorProto.UINT64, "int8": TensorProto.INT8,
    "int16": TensorProto.INT16, "int32": TensorProto.INT32, "int64": TensorProto.INT64,
    "fp16": TensorProto.FLOAT16, "fp32": TensorProto.FLOAT, "fp64": TensorProto.DOUBLE,
    "bytes": TensorProto.STRING,
}


def save(name, graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modelship-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory = os.path.join(ROOT, name, "1")
    os.makedirs(directory, exist_ok=True)
    onnx.save(model, os.path.join(directory, "model.onnx"))


for suffix, dtype in TYPES.items():
    save(f"identity_{suffix}", helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], f"identity_{suffix}",
        [helper.make_tensor_value_info("x", dtype, ["batch", 2])],
        [helper.make_tensor_value_info("y", dtype, ["batch", 2])]))

save("add_two", helper.make_graph(
    [helper.make_node("Add", ["a", "b"], ["sum"])], "add_two",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
     helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])],
    [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3])]))
print("wrote", ROOT)

# A deliberately wrong version of the iris sample for the delivery gate's tests: the same trees,
# with every leaf's class weights moved to the next class, so each prediction names the wrong class.
iris = onnx.load(os.path.join(ROOT, "..", "..", "..", "models", "iris_forest", "1", "model.onnx"))
node = iris.graph.node[0]
for attribute in node.attribute:
    if attribute.name == "class_ids":
        shifted = [(c + 1) % 3 for c in attribute.ints]
        del attribute.ints[:]
        attribute.ints.extend(shifted)
onnx.checker.check_model(iris)
os.makedirs(os.path.join(ROOT, "iris_wrong", "1"), exist_ok=True)
onnx.save(iris, os.path.join(ROOT, "iris_wrong", "1", "model.onnx"))
print("wrote iris_wrong")

# A convolutional model for the large-tensor benchmark: a 1x3x320x320 image (1.2 MB of FP32) in,
# 8 feature maps averaged to [batch, 8] out.
import numpy as np
from onnx import numpy_helper
rng = np.random.default_rng(7)
weights = numpy_helper.from_array(rng.normal(0, 0.1, (8, 3, 3, 3)).astype(np.float32), "w")
bias = numpy_helper.from_array(np.zeros(8, dtype=np.float32), "b")
save("conv_large", helper.make_graph(
    [helper.make_node("Conv", ["image", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
     helper.make_node("Relu", ["conv"], ["relu"]),
     helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
     helper.make_node("Flatten", ["pooled"], ["features"], axis=1)],
    "conv_large",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 320, 320])],
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 8])],
    [weights, bias]))
print("wrote conv_large")

# A model whose first dimension is fixed: dynamic batching must refuse it at load.
save("fixed_batch", helper.make_graph(
    [helper.make_node("Identity", ["x"], ["y"])], "fixed_batch",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])]))
print("wrote fixed_batch")

# A lookup whose run fails for an index out of range (values pass validation): a failed batched run
# must fail only the request that caused it.
import numpy as np  # noqa: E402
from onnx import numpy_helper  # noqa: E402
save("gather_lookup", helper.make_graph(
    [helper.make_node("Gather", ["table", "index"], ["value"], axis=0)], "gather_lookup",
    [helper.make_tensor_value_info("index", TensorProto.INT64, ["batch", 1])],
    [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["batch", 1])],
    [numpy_helper.from_array(np.array([10.0, 20.0, 30.0], dtype=np.float32), "table")]))
print("wrote gather_lookup")
