/* Non-GGUF llama models seen as GGUF for hwadapt quantize (convert.c). Not a
 * published API. */
#ifndef HWADAPT_IO_CONVERT_H
#define HWADAPT_IO_CONVERT_H

#include "io/io_internal.h"

typedef struct hwa__llama_src {
    hwa_file_tensor *t;   /* GGUF names and layout, shapes outermost first */
    char (*names)[64];    /* t[i].name points here */
    void **owned;         /* per tensor: the buffer its data lies in when converted (permuted rows), else NULL */
    size_t n, cap;
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, ctx;
    float eps, theta;
    hwa_vocab *vocab;     /* from the tokenizer file given; NULL for none */
} hwa__llama_src;

/* The tensors and hyperparameters of f (opened from path: a llama2.c
 * checkpoint, or safetensors with config.json beside it), and the
 * vocabulary of the llama2.c tokenizer file `tokenizer` (NULL: none). Data
 * point into f's mapping where the layout allows; f must outlive s.
 * Errors name the file and the field: HWA_E_FORMAT (missing tensors, shapes,
 * config), HWA_E_UNSUPPORTED (another architecture, dtype or format),
 * HWA_E_NOMEM; config.json missing or unreadable is HWA_E_FORMAT. */
hwa_status hwa__llama_src_open(const char *path, const hwa_model_file *f, const char *tokenizer, hwa__llama_src *s);
/* The GGUF llama metadata (and the vocabulary's) into w. */
hwa_status hwa__llama_src_meta(const hwa__llama_src *s, hwa_gguf_writer *w);
void hwa__llama_src_free(hwa__llama_src *s);

#endif
