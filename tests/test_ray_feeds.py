"""onyx.ray.feeds: Ray Data batches (NumPy dicts, pandas, Arrow) to feeds, checked; no Ray needed."""

import numpy as np
import pytest
from onnx import TensorProto
from onnx.helper import make_tensor_type_proto

from onyx.errors import InvalidArgument
from onyx.model.graph import ValueInfo
from onyx.ray.feeds import columns_of, make_feeds, output_columns_of, resolve_input_columns
from onyx.session import NodeArg


def arg(name, shape):
    return NodeArg(ValueInfo(name, make_tensor_type_proto(TensorProto.FLOAT, shape)))


IMAGE = arg("image", ["batch", 64])
FEATURES = arg("X", [None, 3])


def test_tensor_column_of_row_arrays_is_stacked_and_cast_to_the_input_dtype():
    rows = np.empty(2, dtype=object)
    rows[0], rows[1] = np.arange(64, dtype=np.float64), np.ones(64)
    columns = columns_of({"image": rows, "id": np.array([7, 8])})
    chosen = resolve_input_columns([IMAGE], ["image", "id"], None)
    feeds = make_feeds([IMAGE], columns, chosen)
    assert chosen == {"image": ["image"]}
    assert feeds["image"].dtype == np.float32 and feeds["image"].shape == (2, 64)


def test_scalar_columns_are_stacked_into_a_feature_vector_in_the_given_order():
    columns = {"a": np.array([1, 2]), "b": np.array([3.0, 4.0]), "c": np.array([5.0, 6.0])}
    chosen = resolve_input_columns([FEATURES], list(columns), {"X": ["c", "a", "b"]})
    np.testing.assert_array_equal(make_feeds([FEATURES], columns, chosen)["X"], [[5, 1, 3], [6, 2, 4]])


def test_one_input_model_takes_all_columns_when_none_is_named_after_it():
    assert resolve_input_columns([FEATURES], ["a", "b", "c"], None) == {"X": ["a", "b", "c"]}


def test_pandas_and_arrow_batches_give_the_same_columns():
    pd = pytest.importorskip("pandas", reason="pandas comes with the [ray] extra")
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the [ray] extra")
    frame = pd.DataFrame({"a": [1.0, 2.0], "v": [[1, 2], [3, 4]]})
    table = pa.table({"a": [1.0, 2.0], "v": [[1, 2], [3, 4]]})
    for batch in (frame, table):
        columns = columns_of(batch)
        np.testing.assert_array_equal(columns["a"], [1.0, 2.0])
        np.testing.assert_array_equal(np.stack(list(columns["v"])), [[1, 2], [3, 4]])


@pytest.mark.parametrize("columns, message", [
    ({"image": np.zeros((2, 63), np.float32)}, r"expects shape \['batch', 64\], the batch gives \[2, 63\]"),
    ({"image": np.zeros((2, 8, 8), np.float32)}, "expects rank 2"),
    ({"image": np.array(["x", "y"])}, "expects float32, the batch gives str"),
])
def test_a_column_that_does_not_fit_the_input_names_input_column_and_shapes(columns, message):
    with pytest.raises(InvalidArgument, match=message):
        make_feeds([IMAGE], columns, {"image": ["image"]})


def test_ragged_rows_and_non_numeric_values_are_clear_errors():
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(64), np.zeros(60)
    with pytest.raises(InvalidArgument, match="column 'image' holds rows of different shapes"):
        make_feeds([IMAGE], {"image": ragged}, {"image": ["image"]})
    text = {"a": np.array([1.0, 2.0]), "b": np.array(["1.5", "wide"], dtype=object), "c": np.array([0.0, 1.0])}
    with pytest.raises(InvalidArgument, match=r"expects float32 values, the batch has 'wide'"):
        make_feeds([FEATURES], text, {"X": ["a", "b", "c"]})


def test_unknown_input_or_missing_column_is_refused_before_running():
    with pytest.raises(InvalidArgument, match="does not have"):
        resolve_input_columns([IMAGE], ["image"], {"pixels": "image"})
    with pytest.raises(InvalidArgument, match=r"fed from columns \['pixels'\]"):
        resolve_input_columns([IMAGE], ["image"], {"image": "pixels"})


def test_outputs_become_columns_and_need_a_batch_axis():
    columns = output_columns_of(["label", "prob"], [np.array([1, 2]), np.ones((2, 3))], {"label": "predicted"}, 2)
    assert list(columns) == ["predicted", "prob"]
    with pytest.raises(InvalidArgument, match="no batch axis of 2 rows"):
        output_columns_of(["total"], [np.ones((3, 2), np.float32)], {}, 2)
    with pytest.raises(InvalidArgument, match="zipmap"):
        output_columns_of(["probabilities"], [[{0: 0.5}]], {}, 1)


def test_batch_command_without_the_ray_extra_says_how_to_install(monkeypatch, tmp_path):
    import sys

    from click.testing import CliRunner

    from onyx.cli import EXIT_USER_ERROR, main

    for name in ("ray", "ray.data", "onyx.ray.batch"):
        monkeypatch.setitem(sys.modules, name, None)  # as if Ray were not installed
    result = CliRunner().invoke(main, ["batch", "model.onnx", str(tmp_path), "--output", str(tmp_path / "out")])
    assert result.exit_code == EXIT_USER_ERROR
    assert "onyx batch needs Ray Data: pip install 'onyx-runtime[ray]'" in result.stderr
