/* hwadapt quantize — a GGUF model rewritten with its matrices in a block type
 * (hwa_gguf_quantize); this file parses options and prints. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt quantize IN.gguf OUT.gguf --type TYPE [--keep-output-f16] [--override TENSOR=TYPE]...\n\n"
               "Writes IN's model to OUT with every matrix in TYPE: q8_0, q4_0, q4_1, q4_k, q6_k (GGUF's block\n"
               "types), or f16, bf16, f32. Blocks are encoded as llama.cpp's reference quantizers encode them;\n"
               "a matrix whose rows are not whole blocks of TYPE takes q8_0 (for a K-quant whose rows are whole\n"
               "32-value blocks) or f16, as llama.cpp does. Norm weights and other 1-D tensors are copied. The\n"
               "metadata (architecture, tokenizer) is copied; general.file_type names the new type. OUT is\n"
               "replaced atomically.\n\n"
               "  --type TYPE              the matrices' type\n"
               "  --keep-output-f16        the classifier (output.weight) in f16\n"
               "  --override TENSOR=TYPE   one tensor in another type (repeatable)\n");
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type = NULL;
    const char *overrides[64];
    hwa_quantize_opts o = {.overrides = overrides};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--type") && v) {
            type = v;
            i++;
        } else if (!strcmp(a, "--keep-output-f16")) {
            o.keep_output_f16 = true;
        } else if (!strcmp(a, "--override") && v) {
            if (o.n_overrides == (int)(sizeof overrides / sizeof overrides[0])) {
                fprintf(stderr, "hwadapt quantize: more than %d --override\n", (int)(sizeof overrides / sizeof overrides[0]));
                return 2;
            }
            overrides[o.n_overrides++] = v;
            i++;
        } else if (a[0] != '-' && !in) {
            in = a;
        } else if (a[0] != '-' && !out) {
            out = a;
        } else {
            fprintf(stderr, "hwadapt quantize: bad option or value '%s'%s%s (see hwadapt quantize --help)\n", a,
                    v ? " " : "", v ? v : "");
            return 2;
        }
    }
    if (!in || !out || !type) {
        fprintf(stderr, "hwadapt quantize: name IN, OUT and --type (see hwadapt quantize --help)\n");
        return 2;
    }
    if (hwa_dtype_from_name(type, &o.type) || !(hwa_dtype_is_float(o.type) || hwa_dtype_is_quantized(o.type))) {
        fprintf(stderr, "hwadapt quantize: --type '%s': expected q8_0, q4_0, q4_1, q4_k, q6_k, f16, bf16 or f32\n", type);
        return 2;
    }
    /* the output's folder, before the work */
    if (!cli_writable("quantize", "model", out)) return 2;
    hwa_quantize_stats s;
    hwa_status st = hwa_gguf_quantize(in, out, &o, &s);
    if (st) {
        fprintf(stderr, "hwadapt quantize: %s\n", hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
        return st == HWA_E_INVALID || st == HWA_E_NOTFOUND ? 2 : 1;
    }
    printf("%s -> %s: %d tensors, %d in block types, %d kept as they were, %d could not take %s (rows not whole "
           "blocks) and took q8_0 or f16\n",
           in, out, s.n_tensors, s.n_quantized, s.n_kept, s.n_fallback, type);
    printf("tensor data: %.2f MiB -> %.2f MiB (%.2fx smaller)\n", s.bytes_in / 1048576.0, s.bytes_out / 1048576.0,
           s.bytes_out ? (double)s.bytes_in / (double)s.bytes_out : 0.0);
    return 0;
}
