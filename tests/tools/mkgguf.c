/* hwa_mkgguf OUT ARCH: writes a tiny GGUF whose general.architecture is ARCH
 * (one 4x8 f32 token_embd.weight), with the library's GGUF writer, for the
 * command-line tests. */
#include <stdio.h>

#include "hwadapt/hwadapt.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hwa_mkgguf OUT ARCH\n");
        return 2;
    }
    static const float wte[4 * 8];
    const int64_t shape[2] = {4, 8};
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    hwa_status st = w ? hwa_gguf_writer_add_str(w, "general.architecture", argv[2]) : HWA_E_NOMEM;
    if (st == HWA_OK) st = hwa_gguf_writer_add_tensor(w, "token_embd.weight", HWA_F32, 2, shape, wte, sizeof wte);
    if (st == HWA_OK) st = hwa_gguf_writer_write(w, argv[1]);
    hwa_gguf_writer_free(w);
    if (st != HWA_OK) fprintf(stderr, "hwa_mkgguf: %s\n", hwa_last_error());
    return st == HWA_OK ? 0 : 1;
}
