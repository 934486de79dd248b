/* See lm_text.h. */
#include "lm_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

const char *const cli_lm_dtype_names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k", NULL};
const char *const cli_lm_dtypes = "f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k";

int cli_lm_opt(const char *cmd, const char *a, const char *v, cli_lm_opts *o, bool *matched) {
    int64_t n;
    int rc = 0, k;
    *matched = true;
    if (!strcmp(a, "--text")) rc = cli_once(cmd, a, &o->text, v);
    else if (!strcmp(a, "--tokenizer")) rc = cli_once(cmd, a, &o->tokenizer, v);
    else if (!strcmp(a, "--dtype")) {
        if (!(rc = cli_enum_opt(cmd, a, v, NULL, cli_lm_dtype_names, &k))) o->dtype = v;
    } else if (!strcmp(a, "--ctx")) {
        if (!(rc = cli_int_opt(cmd, a, v, NULL, o->ctx_min, 1 << 20, &n))) o->ctx = (long)n;
    } else if (!strcmp(a, "--chunks")) {
        if (!(rc = cli_int_opt(cmd, a, v, NULL, 1, INT32_MAX, &n))) o->chunks = (long)n;
    } else if (!strcmp(a, "--threads")) {
        if (!(rc = cli_int_opt(cmd, a, v, NULL, 1, 4096, &n))) o->threads = (long)n;
    } else {
        *matched = false;
    }
    return rc;
}

char *cli_read_text(const char *cmd, const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (f && n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        fclose(f);
        return buf;
    }
    fprintf(stderr, "hwadapt %s: cannot read %s\n", cmd, path);
    free(buf);
    if (f) fclose(f);
    return NULL;
}

int cli_model_tokenizer(const char *cmd, const char *model, const hwa_llama *m, const char *tokp, hwa_tokenizer **out) {
    hwa_status st;
    if (tokp) st = hwa_tokenizer_load(tokp, hwa_llama_get_config(m)->vocab_size, out);
    else if (hwa_model_file_format(hwa_llama_file(m)) == HWA_FORMAT_GGUF) st = hwa_tokenizer_from_file(hwa_llama_file(m), out);
    else {
        fprintf(stderr, "hwadapt %s: %s is a llama2.c checkpoint: name its tokenizer with --tokenizer FILE\n", cmd, model);
        return 2;
    }
    if (st) {
        fprintf(stderr, "hwadapt %s: tokenizer: %s\n", cmd, hwa_last_error());
        return 1;
    }
    return 0;
}

int32_t cli_chunk_bos(const hwa_tokenizer *tok) { return hwa_tokenizer_add_bos(tok) ? hwa_tokenizer_bos(tok) : -1; }

int32_t *cli_tokenize(const char *cmd, const hwa_tokenizer *tok, char *text, int64_t *n_out) {
    /* byte-level BPE: newlines are tokens, so the text goes whole */
    const bool whole = !strcmp(hwa_tokenizer_model(tok), "gpt2");
    int64_t n = 0, cap = 1 << 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    for (char *line = text, *next; ids && line && *line; line = next) {
        char *nl = whole ? NULL : strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        if (!*line) continue;
        int32_t got = 0;
        for (;;) {
            if (cap - n < 16) {
                int32_t *g = realloc(ids, (size_t)(cap * 2) * sizeof *ids);
                if (!g) break;
                ids = g, cap *= 2;
            }
            hwa_status st = hwa_tokenizer_encode(tok, line, false, false, ids + n, (int32_t)(cap - n < INT32_MAX ? cap - n : INT32_MAX), &got);
            if (st == HWA_E_RANGE) {
                int32_t *g = realloc(ids, (size_t)(cap * 2 + got) * sizeof *ids);
                if (!g) break;
                ids = g, cap = cap * 2 + got;
                continue;
            }
            if (st) {
                fprintf(stderr, "hwadapt %s: tokenizing: %s\n", cmd, hwa_last_error());
                free(ids);
                return NULL;
            }
            break;
        }
        n += got;
    }
    if (!ids) fprintf(stderr, "hwadapt %s: out of memory\n", cmd);
    *n_out = n;
    return ids;
}
