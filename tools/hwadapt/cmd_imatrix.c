/* hwadapt imatrix — an importance matrix for `quantize --imatrix`: the model
 * run over a text in chunks, collecting per matrix the column sums of its
 * squared inputs (hwa_llama_imatrix), written in llama.cpp's GGUF imatrix
 * form (hwa_imatrix_save); this file parses options, reads the text and
 * prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "lm_text.h"

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt imatrix MODEL --text FILE -o OUT [OPTIONS]\n\n"
               "Runs MODEL over FILE as llama.cpp's imatrix tool does (the text tokenized a line at a time for\n"
               "SentencePiece vocabularies, whole for byte-level BPE ones, cut into chunks of N tokens, each\n"
               "starting with BOS when the vocabulary asks for one, each run in one pass) and collects, for every\n"
               "layer matrix (and an untied classifier), the sum over all positions of each input column's\n"
               "squared activation and the number of positions: the importance matrix that `hwadapt quantize\n"
               "--imatrix OUT` weighs its block fits with. OUT is llama.cpp's GGUF imatrix form (docs/formats.md),\n"
               "replaced atomically; its folder is checked before any work.\n\n"
               "  --text FILE          UTF-8 calibration text (required)\n"
               "  -o, --output OUT     the imatrix file to write (required)\n"
               "  --ctx N              tokens per chunk, 1..1048576, at most the model's context (default 128)\n"
               "  --chunks N           at most N chunks, N >= 1 (default: every whole chunk of the text)\n"
               "  --tokenizer FILE     llama2.c tokenizer (default: the GGUF model's own)\n"
               "  --dtype T            MODEL's matrices converted at load (default: the file's):\n"
               "                       %s\n"
               "  --threads N          threads, 1..4096 (default: the CPUs this process may use)\n",
            cli_lm_dtypes);
}

int cmd_imatrix(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    cli_lm_opts o = {.ctx = 128, .ctx_min = 1};
    static const char *const valued[] = {"--text", "-o", "--output", "--tokenizer", "--dtype", "--ctx", "--chunks",
                                         "--threads", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        bool lm;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-') { rc = cli_positional("imatrix", &model, a, "MODEL");
        } else if (!cli_word_in(a, valued)) { return cli_unknown_option("imatrix", a);
        } else if (!v) { return cli_missing_value("imatrix", a, NULL);
        } else if (i++, !(rc = cli_lm_opt("imatrix", a, v, &o, &lm)) && !lm) { rc = cli_once("imatrix", "--output", &out, v);
        }
        if (rc) return rc;
    }
    if (!model) return cli_missing_arg("imatrix", "MODEL", "a GGUF or llama2.c model");
    if (!o.text) return cli_missing_arg("imatrix", "--text", "a UTF-8 text file");
    if (!out) return cli_missing_arg("imatrix", "--output", "the imatrix file to write");
    if (cli_output_file("imatrix", "--output", out)) return 2;
    char *body = cli_read_text("imatrix", o.text);
    if (!body) return 1;
    hwa_llama *m = NULL;
    hwa_tokenizer *tok = NULL;
    hwa_imatrix *im = NULL;
    int32_t *ids = NULL;
    int rc = 1;
    const hwa_llama_params lp = {.weight_dtype = o.dtype, .n_threads = (int32_t)o.threads};
    if (hwa_llama_load(model, &lp, &m)) {
        fprintf(stderr, "hwadapt imatrix: %s\n", hwa_last_error());
        goto done;
    }
    if ((rc = cli_model_tokenizer("imatrix", model, m, o.tokenizer, &tok)) != 0) goto done;
    rc = 1;
    int64_t n = 0;
    if (!(ids = cli_tokenize("imatrix", tok, body, &n))) goto done;
    int32_t ran = 0;
    hwa_status st = (im = hwa_imatrix_new()) ? HWA_OK : HWA_E_NOMEM;
    if (!st) st = hwa_llama_imatrix(m, ids, n, (int32_t)o.ctx, cli_chunk_bos(tok), (int32_t)o.chunks, im, &ran);
    if (!st) st = hwa_imatrix_set_info(im, o.text, ran, o.ctx);
    if (!st) st = hwa_imatrix_save(im, out);
    if (st) {
        fprintf(stderr, "hwadapt imatrix: %s\n", hwa_last_error());
        rc = st == HWA_E_RANGE ? 2 : 1;
        goto done;
    }
    printf("%s: %zu matrices over %d chunks of %ld tokens (the text is %lld tokens) -> %s\n", model,
           hwa_imatrix_n_entries(im), ran, o.ctx, (long long)n, out);
    rc = 0;
done:
    hwa_imatrix_free(im);
    free(ids);
    hwa_tokenizer_free(tok);
    hwa_llama_free(m);
    free(body);
    return rc;
}
