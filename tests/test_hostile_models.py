"""Malformed models give an OnyxError naming what is wrong (issue 12, items 4 and 5), and
onyx refuses at load what onnxruntime refuses (onnxruntime is the oracle for each case)."""

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper

import hostile_models as hm
import onyx
from onyx import GraphOptimizationLevel

LEVELS = [GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL]


def session(model, level=GraphOptimizationLevel.ORT_ENABLE_ALL):
    options = onyx.SessionOptions()
    options.graph_optimization_level = level
    return onyx.InferenceSession(model.SerializeToString(), options)


def onnxruntime_refuses(model, feeds) -> bool:
    try:
        onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)
    except Exception:  # noqa: BLE001 - any refusal counts
        return True
    return False


REFUSED_AT_LOAD = {
    "two nodes write one name": (hm.two_writers, r'"second" \(Neg\) writes \'y\', which node "first"'),
    "a node overwrites a graph input": (hm.overwrites_input, r'"clobber" \(Neg\) writes \'x\', which a graph input'),
    "a node overwrites an initializer": (hm.overwrites_initializer, r"writes 'c', which an initializer"),
    "negative initializer dims": (hm.negative_dims, r"tensor 'c' has negative dims \[-2\]"),
    "output type contradicts the graph": (lambda: hm.unary(out_type=TensorProto.INT64),
                                          r"'y' is declared as tensor\(int64\), but node \"n\" \(Relu\) computes tensor\(float\)"),
    "value_info type contradicts the graph": (hm.wrong_value_info_type, r"'t' is declared as tensor\(int64\)"),
    "no outputs": (hm.no_outputs, "has no outputs"),
    "attribute of the wrong type": (lambda: hm.unary("LeakyRelu", alpha=2), r"'alpha' is of type INT.*FLOAT"),
    "attribute holding a TypeProto": (hm.type_proto_attribute, r"'axis' is of type TYPE_PROTO.*INT"),
    "missing required attribute": (lambda: hm.unary("Cast"), r'"n" \(Cast\).*lacks the required attribute \'to\''),
    "node without outputs": (lambda: hm.model([helper.make_node("Relu", ["x"], [], name="r")], [hm.tensor("x", [2])],
                                              [hm.tensor("x", [2])]), r'"r" \(Relu\).*has 0 outputs'),
    "Shape without input": (lambda: hm.model([helper.make_node("Shape", [], ["y"], name="s")], [hm.tensor("x", [2])],
                                             [hm.tensor("y", None, TensorProto.INT64)]), r'"s" \(Shape\).*has 0 inputs'),
    "BatchNormalization missing parameters": (lambda: hm.conv_batchnorm({"s": 4, "b": 4}), r'"bn".*has 3 inputs'),
    "invalid element type": (lambda: hm.model([helper.make_node("Identity", ["x"], ["y"])], [hm.tensor("x", [2], 999)],
                                              [hm.tensor("y", [2], 999)]), "'x' is declared with element type 999"),
    "sparse initializer with an index out of range": (lambda: hm.sparse_bias([1, 2], [0, 7], [2]), "indices lie outside"),
    "sparse initializer with mismatched indices": (lambda: hm.sparse_bias([1, 2], [[0, 0, 1], [1, 1, 1]], [2]),
                                                   r"indices of shape \[2, 3\]"),
    "sparse initializer of 10^12 elements": (lambda: hm.sparse_bias([1, 2], [0, 1], [10**12]), "dims \\[1000000000000\\]"),
    "function calls 300 deep": (lambda: hm.function_chain(300), "nest deeper than 100"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_AT_LOAD))
@pytest.mark.parametrize("level", LEVELS, ids=["unoptimized", "optimized"])
def test_invalid_model_is_refused_at_load_naming_what_is_wrong(case, level):
    build, message = REFUSED_AT_LOAD[case]
    model = build()
    with pytest.raises(onyx.InvalidGraph, match=message):
        session(model, level)
    assert onnxruntime_refuses(model, hm.X2)


def test_output_shape_that_differs_from_the_computed_one_is_accepted_as_onnxruntime_does():
    model = hm.model([helper.make_node("Relu", ["x"], ["y"])], [hm.tensor("x", [2])], [hm.tensor("y", [3])])
    assert session(model).run(None, hm.X2)[0].tolist() == [1, 1]
    assert not onnxruntime_refuses(model, hm.X2)


def test_function_calls_up_to_the_depth_limit_run():
    out = session(hm.function_chain(50)).run(None, {"x": np.array([-1, 2], np.float32)})[0]
    assert out.tolist() == [0, 2]


def test_ref_attr_name_in_the_main_graph_uses_the_attributes_own_value_as_onnxruntime_does():
    model = hm.ref_attr_in_main_graph()
    feeds = {"x": np.array([[-1, 2], [3, -4]], np.float32)}
    expected = onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_array_equal(session(model).run(None, feeds)[0], expected)


@pytest.mark.parametrize("level", LEVELS, ids=["unoptimized", "optimized"])
def test_conv_batchnorm_with_wrong_length_parameters_gives_an_onyx_error(level):
    model = hm.conv_batchnorm({"s": 3, "b": 4, "m": 4, "v": 4})
    with pytest.raises(onyx.OnyxError, match='"bn"'):
        session(model, level).run(None, {"x": np.ones((1, 3, 2, 2), np.float32)})


def test_conv_batchnorm_folding_still_folds_valid_parameters():
    model = hm.conv_batchnorm({"s": 4, "b": 4, "m": 4, "v": 4})
    x = np.random.default_rng(0).standard_normal((1, 3, 2, 2)).astype(np.float32)
    plain = session(model, GraphOptimizationLevel.ORT_DISABLE_ALL).run(None, {"x": x})[0]
    folded = session(model)
    assert [n.op_type for n in folded._model.graph.nodes] == ["Conv"]
    np.testing.assert_allclose(folded.run(None, {"x": x})[0], plain, rtol=1e-5)


def test_expanding_to_a_huge_output_gives_an_onyx_error():
    with pytest.raises(onyx.errors.MemoryLimitExceeded, match=r'"expand" \(Expand\).*\[1000000000000\]'):
        session(hm.expand_to(10**12)).run(None, {"x": np.ones(1, np.float32)})


def test_an_output_too_large_to_copy_gives_an_onyx_error():
    """The copy that gives the caller an array of its own can fail too."""
    from onyx import session as session_module

    view = np.broadcast_to(np.ones(1, np.float32), (10**12,))
    with pytest.raises(onyx.errors.MemoryLimitExceeded, match=r"shape \[1000000000000\].*does not fit in memory"):
        session_module._owned(view)


def test_a_failing_optimizer_pass_becomes_an_optimizer_error_naming_pass_and_node(monkeypatch):
    from onyx import optimizer

    def broken_pass(model):
        for node in model.graph.nodes:
            raise IndexError("list index out of range")

    monkeypatch.setattr(optimizer, "DECLUTTER", (optimizer.OptimizerPass("broken", broken_pass, optimizer.BASIC),))
    with pytest.raises(onyx.OptimizerError, match=r"pass 'broken' failed at node \"n\" \(Relu\): IndexError"):
        session(hm.unary())


def test_nul_byte_in_an_external_data_location_is_refused(tmp_path):
    model = hm.model([helper.make_node("Add", ["x", "c"], ["y"])], [hm.tensor("x", [2])], [hm.tensor("y", [2])])
    bias = model.graph.initializer.add()
    bias.name, bias.data_type, bias.data_location = "c", TensorProto.FLOAT, TensorProto.EXTERNAL
    bias.dims[:] = [2]
    for key, value in [("location", "w\0.bin"), ("length", "8")]:
        entry = bias.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(onyx.UnsafeExternalData, match="NUL byte"):
        onyx.InferenceSession(str(tmp_path / "m.onnx"))
