/* libFuzzer target: the GGUF reader, its metadata getters, vocabulary and
 * tokenizer (encoding and decoding a fixed text). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hwa_model_file *f;
    if (hwa_model_file_open_mem(data, size, "fuzz", HWA_FORMAT_GGUF, &f) == HWA_OK) {
        hwa__fuzz_touch_tensors(f);
        char buf[256];
        for (size_t i = 0; i < hwa_gguf_n_kv(f); i++) {
            const char *k = hwa_gguf_kv_key(f, i);
            hwa_gguf_kv_format(f, i, buf, sizeof buf);
            int64_t iv;
            uint64_t uv, n;
            double d;
            bool b;
            const char *s;
            hwa_gguf_type et;
            hwa_gguf_get_int(f, k, &iv);
            hwa_gguf_get_u64(f, k, &uv);
            hwa_gguf_get_float(f, k, &d);
            hwa_gguf_get_bool(f, k, &b);
            hwa_gguf_get_str(f, k, &s, NULL);
            if (hwa_gguf_get_arr_info(f, k, &et, &n) == HWA_OK && n <= 4096) {
                void *dst = malloc(8 * (n ? n : 1));
                const char **ps = malloc(sizeof *ps * (n ? n : 1));
                size_t *ls = malloc(sizeof *ls * (n ? n : 1));
                if (dst && ps && ls) {
                    hwa_gguf_get_arr(f, k, et, dst, (size_t)n);
                    if (hwa_gguf_get_arr_strs(f, k, ps, ls, (size_t)n) == HWA_OK)
                        for (size_t j = 0; j < n; j++) hwa__fuzz_sink += ls[j] ? (uint8_t)ps[j][ls[j] - 1] : 0;
                }
                free(dst);
                free(ps);
                free(ls);
            }
        }
        hwa_vocab *v;
        if (hwa_vocab_from_file(f, &v) == HWA_OK)
            for (size_t i = 0; i < hwa_vocab_size(v); i++) hwa__fuzz_sink += (uint8_t)hwa_vocab_token(v, i, NULL)[0];
        hwa_vocab_free(v);
        hwa_tokenizer *t;
        if (hwa_tokenizer_from_file(f, &t) == HWA_OK) {
            int32_t ids[64], n = 0;
            char text[256];
            size_t len;
            if (hwa_tokenizer_encode(t, "Hi <|im_start|>x  12\n\xc3\xa9\xff 's", false, false, ids, 64, &n) == HWA_OK)
                hwa_tokenizer_decode(t, ids, n, text, sizeof text, &len);
            hwa_tokenizer_free(t);
        }
    }
    hwa_model_file_free(f);
    return 0;
}
