/* The ONNX reader's entry points in a build without protobuf-c (a cross
 * build: CMakeLists.txt compiles this file only then). They say why. */
#include "io/onnx/onnx_internal.h"

static hwa_status absent(const char *what) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: this hwadapt was built without the ONNX reader (protobuf-c)", what);
}

hwa_status hwa_onnx_load(const char *path, hwa_onnx **out) {
    if (out) *out = NULL;
    return absent(path ? path : "ONNX model");
}

hwa_status hwa_onnx_load_memory(const void *data, size_t size, const char *dir, const char *name, hwa_onnx **out) {
    if (out) *out = NULL;
    return absent(name ? name : "ONNX model");
}

hwa_status hwa_onnx_array_load_pb(const char *path, hwa_onnx_array **out) {
    if (out) *out = NULL;
    return absent(path ? path : "TensorProto file");
}
