/* hwadapt inspect FILE [--json] [--format NAME]: what is in a model or data
 * file, or a compressed model (.hwac). Exit 0 for a valid file; otherwise one line on stderr naming the
 * file, the field and why, and exit 1 (2 for a usage error). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "core/json_write.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt inspect FILE [--json] [--format NAME]\n\n"
               "Lists the metadata and tensors of a model or data file; for a compressed model (hwadapt\n"
               "compress) its layers: shape, form, stored weights, bits per value, bytes in the file, and the\n"
               "total with its ratio to the f32 model.\n\n"
               "  --json          the listing as one JSON object (default: text)\n"
               "  --format NAME   read FILE as safetensors, gguf, llama2c, llama2c-tokenizer or idx (default:\n"
               "                  detected from its content)\n");
}

/* A JSON string literal of n bytes. */
static void json_str(const char *s, size_t n) { hwa__json_write_str(stdout, s, n); }

static void shape_str(const hwa_file_tensor *t, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, d ? "," : "", t->shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static void print_meta_text(const hwa_model_file *f) {
    hwa_file_format fmt = hwa_model_file_format(f);
    if (fmt == HWA_FORMAT_GGUF) {
        printf("version: %u, alignment: %zu, %zu key-values\n", hwa_gguf_version(f), hwa_gguf_alignment(f),
               hwa_gguf_n_kv(f));
        char buf[256];
        for (size_t i = 0; i < hwa_gguf_n_kv(f); i++)
            printf("  %-40s %-6s %s\n", hwa_gguf_kv_key(f, i), hwa_gguf_type_name(hwa_gguf_kv_type(f, i)),
                   hwa_gguf_kv_format(f, i, buf, sizeof buf));
    } else if (fmt == HWA_FORMAT_LLAMA2C) {
        hwa_llama2c_config c;
        hwa_llama2c_get_config(f, &c);
        printf("dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier\n",
               c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
               c.shared_classifier ? "shared" : "separate");
    }
    for (size_t i = 0; i < hwa_model_file_n_meta(f); i++) {
        const char *k, *v;
        hwa_model_file_meta(f, i, &k, &v);
        printf("  %s: %s\n", k, v);
    }
}

static void print_text(const hwa_model_file *f, const hwa_vocab *v) {
    size_t size;
    hwa_model_file_bytes(f, &size);
    printf("%s: %s, %zu bytes, %zu tensors\n", hwa_model_file_label(f), hwa_file_format_name(hwa_model_file_format(f)),
           size, hwa_model_file_n_tensors(f));
    print_meta_text(f);
    if (v) printf("vocabulary: %zu tokens, max token length %d\n", hwa_vocab_size(v), hwa_vocab_max_token_length(v));
    if (hwa_model_file_n_tensors(f) == 0) return;
    printf("%-40s %-5s %-22s %12s %12s %s\n", "name", "dtype", "shape", "bytes", "offset", "fnv1a64");
    for (size_t i = 0; i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i);
        char sh[128];
        shape_str(t, sh, sizeof sh);
        printf("%-40s %-5s %-22s %12zu %12" PRIu64 " %016" PRIx64 "\n", t->name, hwa_file_dtype_name(t->file_dtype), sh,
               t->nbytes, t->offset, hwa_file_tensor_checksum(t));
    }
}

static void print_json(const hwa_model_file *f, const hwa_vocab *v) {
    size_t size;
    hwa_model_file_bytes(f, &size);
    printf("{\"file\":");
    json_str(hwa_model_file_label(f), strlen(hwa_model_file_label(f)));
    printf(",\"format\":\"%s\",\"bytes\":%zu", hwa_file_format_name(hwa_model_file_format(f)), size);
    if (hwa_model_file_format(f) == HWA_FORMAT_GGUF) {
        printf(",\"gguf_version\":%u,\"alignment\":%zu,\"kv\":{", hwa_gguf_version(f), hwa_gguf_alignment(f));
        char buf[256];
        for (size_t i = 0; i < hwa_gguf_n_kv(f); i++) {
            const char *k = hwa_gguf_kv_key(f, i);
            printf("%s", i ? "," : "");
            json_str(k, strlen(k));
            putchar(':');
            hwa_gguf_kv_format(f, i, buf, sizeof buf);
            json_str(buf, strlen(buf));
        }
        printf("}");
    }
    if (hwa_model_file_format(f) == HWA_FORMAT_LLAMA2C) {
        hwa_llama2c_config c;
        hwa_llama2c_get_config(f, &c);
        printf(",\"config\":{\"dim\":%d,\"hidden_dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,"
               "\"vocab_size\":%d,\"seq_len\":%d,\"shared_classifier\":%s}",
               c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
               c.shared_classifier ? "true" : "false");
    }
    printf(",\"metadata\":{");
    for (size_t i = 0; i < hwa_model_file_n_meta(f); i++) {
        const char *k, *val;
        hwa_model_file_meta(f, i, &k, &val);
        printf("%s", i ? "," : "");
        json_str(k, strlen(k));
        putchar(':');
        json_str(val, strlen(val));
    }
    printf("}");
    if (v) printf(",\"vocab_size\":%zu", hwa_vocab_size(v));
    printf(",\"tensors\":[");
    for (size_t i = 0; i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i);
        printf("%s{\"name\":", i ? "," : "");
        json_str(t->name, strlen(t->name));
        printf(",\"dtype\":\"%s\",\"shape\":[", hwa_file_dtype_name(t->file_dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%" PRId64, d ? "," : "", t->shape[d]);
        printf("],\"bytes\":%zu,\"offset\":%" PRIu64 ",\"fnv1a64\":\"%016" PRIx64 "\"}", t->nbytes, t->offset,
               hwa_file_tensor_checksum(t));
    }
    printf("]}\n");
}

static int inspect_idx(const char *path, bool json) {
    hwa_idx *x;
    if (hwa_idx_load(path, &x) != HWA_OK) {
        fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
        return 1;
    }
    uint64_t sum = hwa_checksum64(hwa_idx_data(x), hwa_idx_nbytes(x));
    if (json) {
        printf("{\"file\":");
        json_str(path, strlen(path));
        printf(",\"format\":\"idx\",\"dtype\":\"U8\",\"shape\":[");
        for (int d = 0; d < hwa_idx_ndim(x); d++) printf("%s%" PRId64, d ? "," : "", hwa_idx_dim(x, d));
        printf("],\"bytes\":%zu,\"fnv1a64\":\"%016" PRIx64 "\"}\n", hwa_idx_nbytes(x), sum);
    } else {
        printf("%s: idx, U8 [", path);
        for (int d = 0; d < hwa_idx_ndim(x); d++) printf("%s%" PRId64, d ? "," : "", hwa_idx_dim(x, d));
        printf("], %zu bytes of data, fnv1a64 %016" PRIx64 "\n", hwa_idx_nbytes(x), sum);
    }
    hwa_idx_free(x);
    return 0;
}

/* "sparse shared", "dense f32", "int8 static", ... */
static const char *cm_form(const hwa_cm_layer *L) {
    if (L->q) return L->act == HWA_CM_ACT_STATIC ? "int8 static" : "int8 dynamic";
    if (L->bits) return L->sparse ? "sparse shared" : "dense shared";
    return L->sparse ? "sparse f32" : "dense f32";
}

static int inspect_cmodel(const char *path, bool json) {
    hwa_cmodel *m;
    int64_t total = 0, layer_bytes[HWA_CMODEL_MAX_LAYERS], f32 = 0;
    hwa_status st = hwa_cmodel_read(path, &m);
    if (st == HWA_OK) st = hwa_cmodel_size(m, &total);
    for (int l = 0; st == HWA_OK && l < m->n_layers; l++) {
        st = hwa_cmodel_layer_size(m, l, &layer_bytes[l]);
        f32 += 4 * (m->layer[l].out * m->layer[l].in + m->layer[l].out);
    }
    if (st != HWA_OK) {
        fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
        hwa_cmodel_free(m);
        return 1;
    }
    const double ratio = (double)f32 / (double)total;
    if (json) {
        printf("{\"file\":");
        json_str(path, strlen(path));
        printf(",\"format\":\"hwac\",\"bytes\":%" PRId64 ",\"f32_bytes\":%" PRId64 ",\"ratio\":%.4f,"
               "\"activation\":\"%s\",\"huffman\":%s,\"layers\":[",
               total, f32, ratio, hwa_activation_name(m->activation), m->huffman ? "true" : "false");
    } else {
        printf("%s: compressed model, %" PRId64 " bytes, %d layers, %s between layers%s\n", path, total, m->n_layers,
               hwa_activation_name(m->activation), m->huffman ? ", Huffman-coded" : "");
        printf("%-5s %-14s %-13s %10s %5s %10s %12s\n", "layer", "shape", "form", "stored", "bits", "bytes",
               "bits/weight");
    }
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        const int bits = L->q ? 8 : L->bits ? L->bits : 32;
        const double per = L->nnz ? 8.0 * (double)layer_bytes[l] / (double)L->nnz : 0.0;
        if (json) {
            printf("%s{\"out\":%" PRId64 ",\"in\":%" PRId64 ",\"form\":\"%s\",\"stored\":%" PRId64
                   ",\"bits\":%d,\"n_codes\":%d,\"bytes\":%" PRId64 ",\"bits_per_weight\":%.4f}",
                   l ? "," : "", L->out, L->in, cm_form(L), L->nnz, bits, L->n_codes, layer_bytes[l], per);
        } else {
            char shape[48];
            snprintf(shape, sizeof shape, "[%" PRId64 ",%" PRId64 "]", L->out, L->in);
            printf("%-5d %-14s %-13s %10" PRId64 " %5d %10" PRId64 " %12.3f\n", l, shape, cm_form(L), L->nnz, bits,
                   layer_bytes[l], per);
        }
    }
    if (json) printf("]}\n");
    else
        printf("total: %" PRId64 " bytes (header and checksum included); f32: %" PRId64 " bytes; %.2fx smaller\n",
               total, f32, ratio);
    hwa_cmodel_free(m);
    return 0;
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    hwa_file_format fmt = HWA_FORMAT_UNKNOWN;
    static const char *const formats = "safetensors, gguf, llama2c, llama2c-tokenizer, idx";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--format")) {
            if (i + 1 == argc) return cli_missing_value("inspect", a, formats);
            if (hwa_file_format_from_name(argv[++i], &fmt) != HWA_OK)
                return cli_usage_error("inspect", a, argv[i], "unknown format; allowed: %s", formats);
        } else if (a[0] == '-') {
            return cli_unknown_option("inspect", a);
        } else if (cli_positional("inspect", &path, a, "FILE")) {
            return 2;
        }
    }
    if (!path) return cli_missing_arg("inspect", "FILE", "a model or data file");
    if (fmt == HWA_FORMAT_UNKNOWN && hwa_cmodel_is_file(path)) return inspect_cmodel(path, json);
    if (fmt == HWA_FORMAT_UNKNOWN && hwa_file_detect_path(path, &fmt) != HWA_OK) {
        fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
        return 1;
    }
    if (fmt == HWA_FORMAT_IDX) return inspect_idx(path, json);
    hwa_model_file *f;
    hwa_vocab *v = NULL;
    if (hwa_model_file_open(path, fmt, &f) != HWA_OK) {
        fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
        return 1;
    }
    if (fmt == HWA_FORMAT_LLAMA2C_VOCAB || (fmt == HWA_FORMAT_GGUF && hwa_gguf_find_key(f, "tokenizer.ggml.tokens") >= 0)) {
        if (hwa_vocab_from_file(f, &v) != HWA_OK) {
            fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
            hwa_model_file_free(f);
            return 1;
        }
    }
    if (json) print_json(f, v);
    else print_text(f, v);
    hwa_vocab_free(v);
    hwa_model_file_free(f);
    return 0;
}
