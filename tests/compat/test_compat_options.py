"""SessionOptions and RunOptions: typed fields, unknown attributes, config entries."""

import pathlib

import pytest

BAD_SESSION_VALUES = [
    ("intra_op_num_threads", "two"),
    ("intra_op_num_threads", 2.0),
    ("inter_op_num_threads", None),
    ("enable_profiling", "yes"),
    ("optimized_model_filepath", 3),
    ("logid", 1),
    ("log_severity_level", "1"),
    ("graph_optimization_level", "ORT_ENABLE_ALL"),
    ("execution_mode", 1.0),
]


@pytest.mark.parametrize("name,value", BAD_SESSION_VALUES)
def test_wrongly_typed_session_option_is_a_type_error(rt, name, value):
    with pytest.raises(TypeError):
        setattr(rt.SessionOptions(), name, value)


@pytest.mark.parametrize("name,value", [("intra_op_num_threads", 2), ("intra_op_num_threads", True), ("enable_profiling", 1),
                                        ("logid", "x"), ("log_severity_level", 3), ("use_deterministic_compute", True)])
def test_well_typed_session_option_is_kept(rt, name, value):
    options = rt.SessionOptions()
    setattr(options, name, value)
    assert getattr(options, name) == value


def test_optimization_level_takes_the_enum(rt):
    options = rt.SessionOptions()
    options.graph_optimization_level = rt.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert options.graph_optimization_level == rt.GraphOptimizationLevel.ORT_ENABLE_BASIC


@pytest.mark.parametrize("cls,name", [("SessionOptions", "intra_op_num_thread"), ("SessionOptions", "optimised_model_filepath"),
                                      ("RunOptions", "terminat")])
def test_unknown_option_is_an_attribute_error(rt, cls, name):
    with pytest.raises(AttributeError):
        setattr(getattr(rt, cls)(), name, 1)


@pytest.mark.parametrize("cls,get", [("SessionOptions", "get_session_config_entry"), ("RunOptions", "get_run_config_entry")])
def test_unknown_config_key_is_a_runtime_error(rt, cls, get):
    with pytest.raises(RuntimeError):
        getattr(getattr(rt, cls)(), get)("no.such.key")


@pytest.mark.parametrize("cls,add,get", [("SessionOptions", "add_session_config_entry", "get_session_config_entry"),
                                         ("RunOptions", "add_run_config_entry", "get_run_config_entry")])
def test_config_entries_are_strings(rt, cls, add, get):
    options = getattr(rt, cls)()
    getattr(options, add)("key", "1")
    assert getattr(options, get)("key") == "1"
    with pytest.raises(TypeError):
        getattr(options, add)("key", 1)


def test_run_options_fields(rt):
    options = rt.RunOptions()
    assert (options.terminate, options.only_execute_path_to_fetches, options.logid) == (False, False, "")
    options.terminate = True
    with pytest.raises(TypeError):
        options.terminate = "x"


def test_session_option_defaults(rt):
    options = rt.SessionOptions()
    assert options.graph_optimization_level == rt.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert (options.intra_op_num_threads, options.inter_op_num_threads, options.enable_profiling) == (0, 0, False)
    assert options.execution_mode == rt.ExecutionMode.ORT_SEQUENTIAL
    assert options.optimized_model_filepath == ""


def test_onyx_also_takes_a_path_for_file_options():
    import onyx

    options = onyx.SessionOptions()
    options.optimized_model_filepath = pathlib.Path("out.onnx")
    assert options.optimized_model_filepath == "out.onnx"
