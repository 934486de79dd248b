/* libFuzzer target: IDX, raw and gzipped. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_idx *x;
    if (hwa_idx_load_mem(data, size, "fuzz", &x) == HWA_OK) {
        size_t n = hwa_idx_nbytes(x);
        if (n) hwa__fuzz_sink += hwa_idx_data(x)[n - 1];
    }
    hwa_idx_free(x);
    return 0;
}
