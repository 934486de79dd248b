/* Shared by the libFuzzer targets: read every byte the reader hands out, so
 * ASan sees any pointer that leaves the input. */
#ifndef HWA_FUZZ_COMMON_H
#define HWA_FUZZ_COMMON_H

#include <string.h>

#include "hwadapt/hwadapt.h"

static volatile uint64_t hwa__fuzz_sink;

static inline void hwa__fuzz_touch_tensors(const hwa_model_file *f) {
    for (size_t i = 0; i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i);
        hwa__fuzz_sink += hwa_file_tensor_checksum(t) + strlen(t->name);
        if (hwa_model_file_find(f, t->name) != t) __builtin_trap();
    }
}
#endif
