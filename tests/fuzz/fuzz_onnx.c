/* libFuzzer target: the ONNX reader on arbitrary bytes (from memory, so no
 * external data), reading every byte of every view it hands out. */
#include <stdint.h>
#include <stddef.h>

#include "fuzz_common.h"
#include "hwadapt/onnx.h"

static void touch_array(const hwa_onnx_array *a) {
    const uint8_t *p = a->data;
    size_t n = (size_t)a->n * hwa_onnx_type_size(a->type);
    for (size_t i = 0; i < n; i++) hwa__fuzz_sink += p[i];
    hwa__fuzz_sink += strlen(a->name) + (uint64_t)a->ndim;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_onnx *m;
    if (hwa_onnx_load_memory(data, size, NULL, "fuzz", &m) != HWA_OK) return 0;
    for (int i = 0; i < hwa_onnx_n_initializers(m); i++) {
        const hwa_onnx_array *a = hwa_onnx_initializer(m, i);
        touch_array(a);
        if (hwa_onnx_find_initializer(m, a->name) != a) __builtin_trap();
    }
    for (int i = 0; i < hwa_onnx_n_nodes(m); i++) {
        const hwa_onnx_node *n = hwa_onnx_node_at(m, i);
        hwa__fuzz_sink += strlen(n->name) + strlen(n->op_type) + strlen(n->domain);
        for (int j = 0; j < n->n_inputs; j++) hwa__fuzz_sink += strlen(n->inputs[j]);
        for (int j = 0; j < n->n_outputs; j++) hwa__fuzz_sink += strlen(n->outputs[j]);
        for (int j = 0; j < n->n_attrs; j++) {
            const hwa_onnx_attr *a = &n->attrs[j];
            if (a->t) touch_array(a->t);
            if (a->s) hwa__fuzz_sink += strlen(a->s);
            for (int64_t k = 0; k < a->n; k++)
                hwa__fuzz_sink += a->ints ? (uint64_t)a->ints[k] : a->floats ? (uint64_t)(a->floats[k] != 0)
                                                                             : strlen(a->strings[k]);
        }
    }
    for (int i = 0; i < hwa_onnx_n_inputs(m); i++) hwa__fuzz_sink += strlen(hwa_onnx_input(m, i)->name);
    for (int i = 0; i < hwa_onnx_n_outputs(m); i++) hwa__fuzz_sink += strlen(hwa_onnx_output(m, i)->name);
    hwa_onnx_free(m);
    return 0;
}
