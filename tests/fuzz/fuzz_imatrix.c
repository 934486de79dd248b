/* libFuzzer target: importance-matrix files (llama.cpp's GGUF form and its
 * legacy .dat), and the importance of every entry they yield. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_imatrix *im;
    if (hwa_imatrix_load_mem(data, size, "fuzz", &im) != HWA_OK) return 0;
    for (size_t i = 0; i < hwa_imatrix_n_entries(im); i++) {
        int64_t n;
        const char *name = hwa_imatrix_entry(im, i, &n, NULL, NULL);
        float *imp = malloc((size_t)n * sizeof *imp);
        uint32_t bits = 0;
        if (imp && hwa_imatrix_importance(im, name, n, imp) == HWA_OK) memcpy(&bits, &imp[n - 1], sizeof bits);
        hwa__fuzz_sink += bits;
        free(imp);
    }
    hwa_imatrix_free(im);
    return 0;
}
