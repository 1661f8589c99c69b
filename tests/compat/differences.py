"""onnxruntime's public names onyx does not provide, each with its reason (one place; the names
test checks both that everything else exists and that these are really absent). A name of the
native module that is also a top-level name is listed once, in TOP_LEVEL."""

_PLUGIN_EPS = "plugin execution providers and device discovery: onyx loads no native providers"
_COMPILE = "EP-context model compilation and model packages: there is no native compiler to drive"
_ALLOCATORS = "native allocators and memory infos: onyx's values are NumPy arrays on the CPU"
_ALIAS_ONLY = "the `onnxruntime` alias module has it (onnxruntime's version); `onyx` keeps its own version names"

TOP_LEVEL = {
    "AdapterFormat": "LoRA adapters are not supported",
    "LoraAdapter": "LoRA adapters are not supported",
    "ModelCompiler": _COMPILE,
    "ModelPackage": _COMPILE,
    "ModelPackageComponentContext": _COMPILE,
    "ModelPackageContext": _COMPILE,
    "ModelPackageOptions": _COMPILE,
    "ModelPackageWriteMode": _COMPILE,
    "OrtCompileApiFlags": _COMPILE,
    "OrtCompiledModelCompatibility": _COMPILE,
    "OrtEpContextData": _COMPILE,
    "OrtEpContextDataBuffer": _COMPILE,
    "OrtArenaCfg": _ALLOCATORS,
    "OrtDeviceMemoryType": _ALLOCATORS,
    "OrtDeviceVendorId": _ALLOCATORS,
    "OrtMemoryInfo": _ALLOCATORS,
    "OrtMemoryInfoDeviceType": _ALLOCATORS,
    "OrtSyncStream": _ALLOCATORS,
    "OrtValueVector": _ALLOCATORS,
    "create_and_register_allocator": _ALLOCATORS,
    "create_and_register_allocator_v2": _ALLOCATORS,
    "copy_tensors": _ALLOCATORS,
    "OrtEpAssignedNode": _PLUGIN_EPS,
    "OrtEpAssignedSubgraph": _PLUGIN_EPS,
    "OrtEpDevice": _PLUGIN_EPS,
    "OrtExecutionProviderDevicePolicy": _PLUGIN_EPS,
    "OrtHardwareDevice": _PLUGIN_EPS,
    "OrtHardwareDeviceType": _PLUGIN_EPS,
    "OrtDeviceEpIncompatibilityReason": _PLUGIN_EPS,
    "OrtExternalInitializerInfo": _PLUGIN_EPS,
    "get_ep_devices": _PLUGIN_EPS,
    "get_hardware_devices": _PLUGIN_EPS,
    "get_hardware_device_ep_incompatibility_details": _PLUGIN_EPS,
    "get_model_compatibility_for_ep_devices": _PLUGIN_EPS,
    "get_compatibility_info_from_model": _PLUGIN_EPS,
    "get_compatibility_info_from_model_bytes": _PLUGIN_EPS,
    "get_registered_ep_kernel_defs": _PLUGIN_EPS,
    "register_execution_provider_library": _PLUGIN_EPS,
    "unregister_execution_provider_library": _PLUGIN_EPS,
    "set_default_logger_callback": "onyx logs through Python's logging module ('onyx' logger); attach a handler there",
    "set_global_thread_pool_sizes": "onyx has no global thread pools: SessionOptions.intra_op_num_threads limits a run",
    "print_debug_info": "onnxruntime's CUDA/DLL diagnostics; onyx.get_build_info() describes onyx",
    "import_capi_exception": "an onnxruntime-internal helper",
    "onnxruntime_validation": "an onnxruntime-internal module (platform checks at import)",
    "cuda_version": "onnxruntime's CUDA build version; onyx is not built against CUDA",
    "version": _ALIAS_ONLY,
    "package_name": _ALIAS_ONLY,
}

# names only onnxruntime's native module (capi.onnxruntime_pybind11_state) has
NATIVE = {
    "InferenceSession": "the native session class has another API; code uses onnxruntime.InferenceSession",
    "SessionObjectInitializer": "an onnxruntime-internal helper",
    "get_all_operator_schema": "onnx.defs has the schemas",
    "get_all_opkernel_def": "onnxruntime's kernel registry",
    "get_session_initializer": "an onnxruntime-internal helper",
    "opkernel": "onnxruntime's kernel registry",
    "schemadef": "onnx.defs has the schemas",
    "pack_fp4_weights_for_cuda_moe_gemm": "onnxruntime's offline quantization helpers",
    "quantize_matmul_2bits": "onnxruntime's offline quantization helpers",
    "quantize_matmul_4bits": "onnxruntime's offline quantization helpers",
    "quantize_matmul_8bits": "onnxruntime's offline quantization helpers",
    "quantize_matmul_bnb4": "onnxruntime's offline quantization helpers",
    "quantize_qdq_matmul_2bits": "onnxruntime's offline quantization helpers",
    "quantize_qdq_matmul_4bits": "onnxruntime's offline quantization helpers",
}

METHODS = {
    "InferenceSession": {
        "create_ortvalue_from_shape_and_type": _ALLOCATORS,
        "get_input_epdevices": _PLUGIN_EPS,
        "get_input_memory_infos": _ALLOCATORS,
        "get_output_memory_infos": _ALLOCATORS,
        "get_provider_graph_assignment_info": _PLUGIN_EPS,
        "release_captured_graph": "CUDA graph capture",
        "run_with_ortvaluevector": _ALLOCATORS,
        "set_ep_dynamic_options": _PLUGIN_EPS,
    },
    "SessionOptions": {
        "add_external_initializers_from_files_in_memory": "external data is read from the model's folder",
        "add_provider": _PLUGIN_EPS,
        "add_provider_for_devices": _PLUGIN_EPS,
        "clear_ep_context_data_read_func": _COMPILE,
        "has_providers": _PLUGIN_EPS,
        "set_ep_context_data_read_func": _COMPILE,
        "set_load_cancellation_flag": "loading is not cancellable",
        "set_provider_selection_policy": _PLUGIN_EPS,
        "set_provider_selection_policy_delegate": _PLUGIN_EPS,
    },
    "RunOptions": {"add_active_adapter": "LoRA adapters are not supported"},
}
