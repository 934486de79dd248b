/* libFuzzer target: the compressed-model file. A file that decodes must
 * re-encode into bytes that decode and encode to the same bytes again (a
 * file may choose other Huffman tables or gap widths than the encoder, so
 * the first encoding may differ from the input), and expand to dense
 * weights. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_cmodel *m, *m2;
    if (hwa_cmodel_decode(data, size, "fuzz", &m) != HWA_OK) return 0;
    uint8_t *a, *b;
    size_t na, nb;
    if (hwa_cmodel_encode(m, &a, &na) != HWA_OK) __builtin_trap();
    if (hwa_cmodel_decode(a, na, "fuzz again", &m2) != HWA_OK) __builtin_trap();
    if (hwa_cmodel_encode(m2, &b, &nb) != HWA_OK || na != nb || memcmp(a, b, na)) __builtin_trap();
    free(a);
    free(b);
    hwa_cmodel_free(m2);
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        if (L->out * L->in > (1 << 22)) continue;
        float *w = malloc((size_t)(L->out * L->in) * sizeof(float));
        if (w && hwa_cmodel_dense(m, l, w) == HWA_OK) hwa__fuzz_sink += (uint64_t)w[L->out * L->in - 1];
        free(w);
    }
    hwa_cmodel_free(m);
    return 0;
}
