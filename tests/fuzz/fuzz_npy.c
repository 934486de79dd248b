/* libFuzzer target: the .npy reader on arbitrary bytes. */
#include <stdint.h>
#include <stddef.h>

#include "fuzz_common.h"
#include "io/onnx/onnx_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_onnx_array *a;
    if (hwa__npy_parse(data, size, "fuzz", &a) != HWA_OK) return 0;
    const uint8_t *p = a->data;
    for (size_t i = 0; i < (size_t)a->n * hwa_onnx_type_size(a->type); i++) hwa__fuzz_sink += p[i];
    hwa_onnx_array_free(a);
    return 0;
}
