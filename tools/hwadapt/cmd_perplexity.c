/* hwadapt perplexity — a language model's perplexity over a text, and against
 * a reference model the KL divergence and top-1 agreement of their next-token
 * distributions (hwa_llama_perplexity); this file reads the text, tokenizes
 * it and prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "lm_text.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt perplexity MODEL --text FILE [OPTIONS]\n\n"
               "The perplexity of MODEL over FILE as llama.cpp's perplexity tool measures it: the text tokenized\n"
               "(a line at a time for SentencePiece vocabularies; whole, newlines included, for byte-level BPE\n"
               "ones), cut into chunks of N tokens, each starting with BOS when the vocabulary asks for one,\n"
               "each run in one pass, the predictions of the second half of each chunk scored. With\n"
               "--reference, the same chunks through MODEL2 too (MODEL2 may be MODEL itself with another\n"
               "--ref-dtype): its perplexity, the mean, p99 and largest KL divergence of MODEL's next-token\n"
               "distributions from MODEL2's, and their top-1 agreement.\n\n"
               "  --text FILE          UTF-8 text (required)\n"
               "  --ctx N              tokens per chunk, 4..1048576 (default 128)\n"
               "  --chunks N           at most N chunks, N >= 1 (default: every whole chunk of the text)\n"
               "  --tokenizer FILE     llama2.c tokenizer (default: the GGUF model's own)\n"
               "  --dtype T            MODEL's matrices converted at load (default: the file's):\n"
               "                       %s\n"
               "  --reference MODEL2   the model to compare with (default: none; MODEL with --ref-dtype)\n"
               "  --ref-dtype T        MODEL2's matrices converted at load, as --dtype (default: the file's)\n"
               "  --threads N          threads, 1..4096 (default: the CPUs this process may use)\n"
               "  --json               one JSON object instead of text (default: text)\n",
            cli_lm_dtypes);
}

static hwa_llama *open_model(const char *path, const char *dtype, long threads) {
    hwa_llama *m = NULL;
    const hwa_llama_params lp = {.weight_dtype = dtype, .n_threads = (int32_t)threads};
    if (hwa_llama_load(path, &lp, &m)) fprintf(stderr, "hwadapt perplexity: %s\n", hwa_last_error());
    return m;
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *ref = NULL, *ref_dtype = NULL;
    cli_lm_opts o = {.ctx = 128, .ctx_min = 4};
    bool json = false;
    static const char *const valued[] = {"--text", "--tokenizer", "--dtype", "--reference", "--ref-dtype", "--ctx",
                                         "--chunks", "--threads", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, k;
        bool lm;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) { json = true; continue;
        } else if (a[0] != '-') { rc = cli_positional("perplexity", &model, a, "MODEL");
        } else if (!cli_word_in(a, valued)) { return cli_unknown_option("perplexity", a);
        } else if (!v) { return cli_missing_value("perplexity", a, NULL);
        } else if (i++, (rc = cli_lm_opt("perplexity", a, v, &o, &lm)) || lm) { /* taken */
        } else if (!strcmp(a, "--reference")) { rc = cli_once("perplexity", a, &ref, v);
        } else if (!(rc = cli_enum_opt("perplexity", a, v, NULL, cli_lm_dtype_names, &k))) { ref_dtype = v;
        }
        if (rc) return rc;
    }
    if (!model) return cli_missing_arg("perplexity", "MODEL", "a GGUF or llama2.c model");
    if (!o.text) return cli_missing_arg("perplexity", "--text", "a UTF-8 text file");
    if (ref_dtype && !ref) ref = model;
    char *body = cli_read_text("perplexity", o.text);
    if (!body) return 1;
    hwa_llama *m = open_model(model, o.dtype, o.threads), *r = ref ? open_model(ref, ref_dtype, o.threads) : NULL;
    hwa_tokenizer *tok = NULL;
    int rc = 1;
    if (!m || (ref && !r)) goto done;
    hwa_status st;
    if ((rc = cli_model_tokenizer("perplexity", model, m, o.tokenizer, &tok)) != 0) goto done;
    rc = 1;
    int64_t n = 0;
    int32_t *ids = cli_tokenize("perplexity", tok, body, &n);
    if (!ids) goto done;
    hwa_perplexity_result res;
    st = hwa_llama_perplexity(m, r, ids, n, (int32_t)o.ctx, cli_chunk_bos(tok), (int32_t)o.chunks, &res);
    free(ids);
    if (st) {
        fprintf(stderr, "hwadapt perplexity: %s\n", hwa_last_error());
        rc = st == HWA_E_RANGE ? 2 : 1;
        goto done;
    }
    const hwa_llama_config *c = hwa_llama_get_config(m);
    if (json) {
        printf("{\"model\": \"%s\", \"dtype\": \"%s\", \"text_tokens\": %lld, \"ctx\": %ld, \"chunks\": %d, "
               "\"scored\": %lld, \"nll\": %.9g, \"ppl\": %.9g, \"ppl_se\": %.9g",
               model, hwa_dtype_name(c->weight_dtype), (long long)n, o.ctx, res.n_chunks, (long long)res.n_scored, res.nll,
               res.ppl, res.ppl_se);
        if (r)
            printf(", \"reference\": \"%s\", \"ref_dtype\": \"%s\", \"ref_ppl\": %.9g, \"kl_mean\": %.9g, \"kl_p99\": %.9g, "
                   "\"kl_max\": %.9g, \"top1\": %.9g", ref, hwa_dtype_name(hwa_llama_get_config(r)->weight_dtype),
                   res.ref_ppl, res.kl_mean, res.kl_p99, res.kl_max, res.top1);
        printf("}\n");
    } else {
        printf("%s (%s matrices): perplexity %.4f +- %.4f over %lld predictions (%d chunks of %ld tokens; the text is "
               "%lld tokens)\n", model, hwa_dtype_name(c->weight_dtype), res.ppl, res.ppl_se, (long long)res.n_scored,
               res.n_chunks, o.ctx, (long long)n);
        if (r)
            printf("against %s (%s matrices): its perplexity %.4f (%+.3f%%); KL divergence mean %.6f, p99 %.6f, max "
                   "%.6f nats; top-1 agreement %.2f%%\n", ref, hwa_dtype_name(hwa_llama_get_config(r)->weight_dtype),
                   res.ref_ppl, (res.ppl / res.ref_ppl - 1) * 100, res.kl_mean, res.kl_p99, res.kl_max, res.top1 * 100);
    }
    rc = 0;
done:
    hwa_tokenizer_free(tok);
    hwa_llama_free(m);
    hwa_llama_free(r);
    free(body);
    return rc;
}
