/* hwadapt quantize — a GGUF model rewritten with its matrices in a block type
 * (hwa_gguf_quantize); this file parses options and prints. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"

/* --override may be given this many times. */
#define MAX_OVERRIDES 64

/* The types --type takes, as the message and the help list them. */
static const char *const quant_type_names[] = {"q8_0", "q4_0", "q4_1", "q4_k", "q6_k", "f16", "bf16", "f32", NULL};
static const char *const quant_types = "q8_0, q4_0, q4_1, q4_k, q6_k, f16, bf16, f32";

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt quantize IN OUT.gguf --type TYPE [OPTIONS]\n\n"
               "Writes IN's model to OUT with every matrix in TYPE. IN is a GGUF model, a llama2.c checkpoint,\n"
               "or a safetensors model in the Hugging Face llama layout with its config.json beside it (its\n"
               "q/k rows put in GGUF's rotary order, so OUT computes what IN does). Blocks are encoded as\n"
               "llama.cpp's reference quantizers encode them; a matrix whose rows are not whole blocks of TYPE\n"
               "takes q8_0 (for a K-quant whose rows are whole 32-value blocks) or f16, as llama.cpp does. Norm\n"
               "weights and other 1-D tensors are copied. A GGUF's metadata (architecture, tokenizer) is\n"
               "copied; general.file_type names the new type. OUT is replaced atomically; its folder is\n"
               "checked before any work.\n\n"
               "  --type TYPE              the matrices' type (required):\n"
               "                           %s\n"
               "  --keep-output-f16        the classifier (output.weight) in f16 (default: in TYPE)\n"
               "  --override TENSOR=TYPE   one tensor in another type (repeatable, at most %d; default none)\n"
               "  --tokenizer FILE         a llama2.c tokenizer written into OUT as its vocabulary (llama2.c and\n"
               "                           safetensors IN; default: none, a GGUF IN keeps its own)\n"
               "  --imatrix FILE           an importance matrix (hwadapt imatrix, or llama.cpp's GGUF or .dat):\n"
               "                           block scales fitted to the weighted error (default: none). A matrix\n"
               "                           with no entry is encoded without one (a warning counts them); an\n"
               "                           entry of another length, or a file that matches no matrix, is an error\n",
            quant_types, MAX_OVERRIDES);
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type = NULL, *imatrix = NULL, *tokenizer = NULL;
    const char *overrides[MAX_OVERRIDES];
    hwa_quantize_opts o = {.overrides = overrides};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, k;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--keep-output-f16")) {
            o.keep_output_f16 = true;
        } else if (!strcmp(a, "--imatrix") || !strcmp(a, "--tokenizer")) {
            if (!v) return cli_missing_value("quantize", a, "FILE");
            i++;
            rc = cli_once("quantize", a, !strcmp(a, "--imatrix") ? &imatrix : &tokenizer, v);
        } else if (!strcmp(a, "--type") || !strcmp(a, "--override")) {
            if (!v) return cli_missing_value("quantize", a, !strcmp(a, "--type") ? quant_types : "TENSOR=TYPE");
            i++;
            if (!strcmp(a, "--type")) {
                if (!(rc = cli_enum_opt("quantize", a, v, NULL, quant_type_names, &k))) rc = cli_once("quantize", a, &type, v);
            } else if (o.n_overrides == MAX_OVERRIDES) {
                rc = cli_usage_error("quantize", a, v, "too many; allowed: at most %d --override", MAX_OVERRIDES);
            } else {
                overrides[o.n_overrides++] = v;
            }
        } else if (a[0] == '-') {
            return cli_unknown_option("quantize", a);
        } else {
            if (in && out) return cli_usage_error("quantize", a, NULL, "extra argument; allowed: IN OUT.gguf");
            *(in ? &out : &in) = a;
        }
        if (rc) return rc;
    }
    if (!in) return cli_missing_arg("quantize", "IN", "the model to read (GGUF, llama2.c, safetensors)");
    if (!out) return cli_missing_arg("quantize", "OUT.gguf", "the GGUF model to write");
    if (!type) return cli_missing_arg("quantize", "--type", quant_types);
    if (hwa_dtype_from_name(type, &o.type)) return cli_usage_error("quantize", "--type", type, "allowed: %s", quant_types);
    /* the output's folder, before the work */
    if (cli_output_file("quantize", "OUT.gguf", out)) return 2;
    /* an input that is not there is a runtime failure (1), like one that
     * does not parse; the library's NOTFOUND below is an --override's tensor */
    const char *inputs[3] = {in, tokenizer, imatrix};
    for (int k = 0; k < 3; k++)
        if (inputs[k] && access(inputs[k], R_OK) != 0) {
            fprintf(stderr, "hwadapt quantize: %s: %s\n", inputs[k], strerror(errno));
            return 1;
        }
    hwa_imatrix *im = NULL;
    if (imatrix && hwa_imatrix_load(imatrix, &im)) {
        fprintf(stderr, "hwadapt quantize: --imatrix: %s\n", hwa_last_error());
        return 1;
    }
    o.imatrix = im;
    o.tokenizer = tokenizer;
    hwa_quantize_stats s;
    hwa_status st = hwa_gguf_quantize(in, out, &o, &s);
    hwa_imatrix_free(im);
    if (st) {
        fprintf(stderr, "hwadapt quantize: %s\n", hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
        return st == HWA_E_INVALID || st == HWA_E_NOTFOUND ? 2 : 1;
    }
    printf("%s -> %s: %d tensors, %d in block types, %d kept as they were, %d could not take %s (rows not whole "
           "blocks) and took q8_0 or f16\n",
           in, out, s.n_tensors, s.n_quantized, s.n_kept, s.n_fallback, type);
    if (imatrix) {
        printf("imatrix %s: %d matrices weighted by it\n", imatrix, s.n_weighted);
        if (s.n_unweighted)
            fprintf(stderr, "hwadapt quantize: warning: %d matrices in block types have no entry in %s and were "
                    "encoded without one\n", s.n_unweighted, imatrix);
    }
    printf("tensor data: %.2f MiB -> %.2f MiB (%.2fx smaller)\n", s.bytes_in / 1048576.0, s.bytes_out / 1048576.0,
           s.bytes_out ? (double)s.bytes_in / (double)s.bytes_out : 0.0);
    return 0;
}
