/* libFuzzer target: llama2.c checkpoints and tokenizer files, and the
 * content-based format detection that must tell them apart. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_model_file *f;
    if (hwa_model_file_open_mem(data, size, "fuzz", HWA_FORMAT_LLAMA2C, &f) == HWA_OK) hwa__fuzz_touch_tensors(f);
    hwa_model_file_free(f);
    hwa_vocab *v;
    if (hwa_vocab_load_llama2c_mem(data, size, "fuzz", 0, &v) == HWA_OK)
        for (size_t i = 0; i < hwa_vocab_size(v); i++) {
            size_t len;
            const char *t = hwa_vocab_token(v, i, &len);
            hwa__fuzz_sink += len ? (uint8_t)t[len - 1] : 0;
        }
    hwa_vocab_free(v);
    hwa__fuzz_sink += (uint64_t)hwa_file_detect(data, size);
    return 0;
}
