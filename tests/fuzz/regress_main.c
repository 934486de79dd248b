/* The regression runner: every file in tests/fuzz/regress/<format>/ must be
 * rejected, without a sanitizer report, with an error message containing the
 * substring its folder's MANIFEST gives; a MANIFEST line whose substring is
 * "=valid" names a valid file (a seed) that must be accepted instead. Built
 * with ASan/UBSan by CMake.
 * usage: hwa_regress DIR   (DIR = tests/fuzz/regress) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwadapt/hwadapt.h"
#include "hwadapt/onnx.h"
#include "io/io_internal.h"

/* Opens the file the way its format folder says; the status. */
static hwa_status try_open(const char *fmt, const char *path) {
    hwa_status s;
    if (!strcmp(fmt, "idx")) {
        hwa_idx *x;
        s = hwa_idx_load(path, &x);
        hwa_idx_free(x);
    } else if (!strcmp(fmt, "llama2c-vocab")) {
        hwa_vocab *v;
        s = hwa_vocab_load_llama2c(path, 0, &v);
        hwa_vocab_free(v);
    } else if (!strcmp(fmt, "imatrix")) {
        hwa_imatrix *im;
        s = hwa_imatrix_load(path, &im);
        hwa_imatrix_free(im);
    } else if (!strcmp(fmt, "cmodel")) {
        hwa_cmodel *m;
        s = hwa_cmodel_read(path, &m);
        hwa_cmodel_free(m);
    } else if (!strcmp(fmt, "settings")) {
        hwa_settings *st = hwa_settings_load(path);
        s = st ? HWA_OK : HWA_E_FORMAT;
        hwa_settings_free(st);
    } else if (!strcmp(fmt, "gguf-vocab") || !strcmp(fmt, "gguf-tokenizer")) {
        /* a GGUF file's vocabulary, or the tokenizer built from it */
        hwa_model_file *f;
        hwa_vocab *v = NULL;
        hwa_tokenizer *t = NULL;
        s = hwa_model_file_open(path, HWA_FORMAT_GGUF, &f);
        if (s == HWA_OK) s = !strcmp(fmt, "gguf-vocab") ? hwa_vocab_from_file(f, &v) : hwa_tokenizer_from_file(f, &t);
        hwa_vocab_free(v);
        hwa_tokenizer_free(t);
        hwa_model_file_free(f);
    } else if (!strcmp(fmt, "onnx")) {
        hwa_onnx *m;
        s = hwa_onnx_load(path, &m);
        hwa_onnx_free(m);
    } else if (!strcmp(fmt, "npy")) {
        hwa_onnx_array *a;
        s = hwa_npy_load(path, &a);
        hwa_onnx_array_free(a);
    } else {
        hwa_file_format ff;
        if (hwa_file_format_from_name(fmt, &ff) != HWA_OK) return HWA_E_INTERNAL;
        hwa_model_file *f;
        s = hwa_model_file_open(path, ff, &f);
        hwa_model_file_free(f);
    }
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fuzz/regress\n", argv[0]);
        return 2;
    }
    static const char *const formats[] = {"safetensors", "gguf", "gguf-vocab", "gguf-tokenizer", "llama2c",
                                           "llama2c-vocab", "idx", "settings", "imatrix", "cmodel",
                                           "onnx", "npy"};
    int failed = 0, n = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char path[8192], line[2048];
        snprintf(path, sizeof path, "%s/%s/MANIFEST", argv[1], formats[i]);
        FILE *m = fopen(path, "r");
        if (!m) {
            fprintf(stderr, "FAIL %s: cannot open\n", path);
            failed++;
            continue;
        }
        while (fgets(line, sizeof line, m)) {
            line[strcspn(line, "\r\n")] = '\0';
            char *tab = strchr(line, '\t');
            if (!tab) continue;
            *tab = '\0';
            const char *expect = tab + 1;
            snprintf(path, sizeof path, "%s/%s/%s", argv[1], formats[i], line);
            hwa_clear_error();
            hwa_status s = try_open(formats[i], path);
            const char *msg = hwa_last_error();
            n++;
            if (!strcmp(expect, "=valid")) {
                if (s == HWA_OK) printf("ok   %s: valid\n", path);
                else {
                    printf("FAIL %s: a valid file rejected: %s\n", path, msg);
                    failed++;
                }
            } else if (s == HWA_OK) {
                printf("FAIL %s: accepted\n", path);
                failed++;
            } else if (!strstr(msg, expect)) {
                printf("FAIL %s: message \"%s\" lacks \"%s\"\n", path, msg, expect);
                failed++;
            } else if (strchr(msg, '\n')) {
                printf("FAIL %s: message spans lines\n", path);
                failed++;
            } else printf("ok   %s: %s\n", path, msg);
        }
        fclose(m);
    }
    printf("%d files, %d failed\n", n, failed);
    return failed ? 1 : 0;
}
