/* libFuzzer target: the safetensors reader on arbitrary bytes. */
#include <stdint.h>
#include <stddef.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_model_file *f;
    if (hwa_model_file_open_mem(data, size, "fuzz", HWA_FORMAT_SAFETENSORS, &f) == HWA_OK) {
        hwa__fuzz_touch_tensors(f);
        for (size_t i = 0; i < hwa_model_file_n_meta(f); i++) {
            const char *k, *v;
            hwa_model_file_meta(f, i, &k, &v);
            hwa__fuzz_sink += (uint8_t)k[0] + (uint8_t)v[0];
        }
    }
    hwa_model_file_free(f);
    return 0;
}
