/* hwadapt inspect FILE [--json] [--format NAME]: what is in a model or data
 * file, or a compressed model (.hwac). Exit 0 for a valid file; otherwise one line on stderr naming the
 * file, the field and why, and exit 1 (2 for a usage error). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "commands.h"
#include "core/json_write.h"
#include "hwadapt/hwadapt.h"
#include "hwadapt/onnx.h"

static void usage(FILE *f) {
    fprintf(f, "usage: hwadapt inspect FILE [--json] [--format NAME]\n\n"
               "Lists the metadata and tensors of a model or data file; for a compressed model (hwadapt\n"
               "compress) its layers: shape, form, stored weights, bits per value, bytes in the file, and the\n"
               "total with its ratio to the f32 model.\n\n"
               "  --json          the listing as one JSON object (default: text)\n"
               "  --format NAME   read FILE as safetensors, gguf, llama2c, llama2c-tokenizer, idx or onnx\n"
               "                  (default: detected from its content; onnx from a .onnx name)\n\n"
               "For an ONNX model: producer, IR version, opsets, inputs and outputs with element type and\n"
               "shape (symbolic dimensions by name), op counts by type, and the initializers' count,\n"
               "elements and bytes.\n");
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

/* ---- ONNX models ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A value's shape: [batch,4], ? for an undeclared rank or dimension. */
static void onnx_shape_str(const hwa_onnx_value *v, char *buf, size_t cap) {
    if (v->ndim < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < v->ndim && o < cap; d++) {
        if (v->dim_param[d]) o += (size_t)snprintf(buf + o, cap - o, "%s%s", d ? "," : "", v->dim_param[d]);
        else if (v->dims[d] < 0) o += (size_t)snprintf(buf + o, cap - o, "%s?", d ? "," : "");
        else o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, d ? "," : "", v->dims[d]);
    }
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static void onnx_value_json(const hwa_onnx_value *v) {
    printf("{\"name\":");
    json_str(v->name, strlen(v->name));
    printf(",\"type\":\"%s\",\"shape\":", hwa_onnx_type_name(v->type));
    if (v->ndim < 0) printf("null");
    else {
        putchar('[');
        for (int d = 0; d < v->ndim; d++) {
            if (d) putchar(',');
            if (v->dim_param[d]) json_str(v->dim_param[d], strlen(v->dim_param[d]));
            else if (v->dims[d] < 0) printf("null");
            else printf("%" PRId64, v->dims[d]);
        }
        putchar(']');
    }
    putchar('}');
}

/* Node op names ("Conv", "com.microsoft.Gelu"), sorted: counted as runs. */
static char **onnx_sorted_ops(const hwa_onnx *m) {
    int n = hwa_onnx_n_nodes(m);
    char **ops = calloc(n ? (size_t)n : 1, sizeof *ops);
    if (!ops) return NULL;
    for (int i = 0; i < n; i++) {
        const hwa_onnx_node *nd = hwa_onnx_node_at(m, i);
        size_t len = strlen(nd->domain) + strlen(nd->op_type) + 2;
        if (!(ops[i] = malloc(len))) {
            for (int j = 0; j < i; j++) free(ops[j]);
            free(ops);
            return NULL;
        }
        snprintf(ops[i], len, "%s%s%s", nd->domain, nd->domain[0] ? "." : "", nd->op_type);
    }
    qsort(ops, (size_t)n, sizeof *ops, cmp_str);
    return ops;
}

static int inspect_onnx(const char *path, bool json) {
    hwa_onnx *m;
    if (hwa_onnx_load(path, &m) != HWA_OK) {
        fprintf(stderr, "hwadapt inspect: %s\n", hwa_last_error());
        return 1;
    }
    char **ops = onnx_sorted_ops(m);
    if (!ops) {
        fprintf(stderr, "hwadapt inspect: %s: out of memory\n", path);
        hwa_onnx_free(m);
        return 1;
    }
    int n_nodes = hwa_onnx_n_nodes(m);
    int64_t elems = 0, bytes = 0;
    for (int i = 0; i < hwa_onnx_n_initializers(m); i++) {
        const hwa_onnx_array *a = hwa_onnx_initializer(m, i);
        elems += a->n;
        bytes += a->n * (int64_t)hwa_onnx_type_size(a->type);
    }
    const char *prod = hwa_onnx_producer(m);
    if (json) {
        printf("{\"file\":");
        json_str(path, strlen(path));
        printf(",\"format\":\"onnx\",\"ir_version\":%" PRId64 ",\"producer\":", hwa_onnx_ir_version(m));
        json_str(prod, strlen(prod));
        printf(",\"opsets\":{");
        for (int i = 0; i < hwa_onnx_n_opsets(m); i++) {
            int64_t ver;
            const char *d = hwa_onnx_opset_at(m, i, &ver);
            if (i) putchar(',');
            json_str(d[0] ? d : "ai.onnx", strlen(d[0] ? d : "ai.onnx"));
            printf(":%" PRId64, ver);
        }
        printf("},\"inputs\":[");
        for (int i = 0; i < hwa_onnx_n_inputs(m); i++) {
            if (i) putchar(',');
            onnx_value_json(hwa_onnx_input(m, i));
        }
        printf("],\"outputs\":[");
        for (int i = 0; i < hwa_onnx_n_outputs(m); i++) {
            if (i) putchar(',');
            onnx_value_json(hwa_onnx_output(m, i));
        }
        printf("],\"nodes\":%d,\"ops\":{", n_nodes);
        for (int i = 0, first = 1; i < n_nodes;) {
            int j = i;
            while (j < n_nodes && !strcmp(ops[j], ops[i])) j++;
            if (!first) putchar(',');
            first = 0;
            json_str(ops[i], strlen(ops[i]));
            printf(":%d", j - i);
            i = j;
        }
        printf("},\"initializers\":{\"count\":%d,\"elements\":%" PRId64 ",\"bytes\":%" PRId64 "}}\n",
               hwa_onnx_n_initializers(m), elems, bytes);
    } else {
        printf("%s: onnx, IR version %" PRId64 ", producer %s\n", path, hwa_onnx_ir_version(m),
               prod[0] ? prod : "(none)");
        printf("opsets:");
        for (int i = 0; i < hwa_onnx_n_opsets(m); i++) {
            int64_t ver;
            const char *d = hwa_onnx_opset_at(m, i, &ver);
            printf("%s %s %" PRId64, i ? "," : "", d[0] ? d : "ai.onnx", ver);
        }
        printf("\n");
        char sh[256];
        for (int io = 0; io < 2; io++) {
            int n = io ? hwa_onnx_n_outputs(m) : hwa_onnx_n_inputs(m);
            printf("%s (%d):\n", io ? "outputs" : "inputs", n);
            for (int i = 0; i < n; i++) {
                const hwa_onnx_value *v = io ? hwa_onnx_output(m, i) : hwa_onnx_input(m, i);
                onnx_shape_str(v, sh, sizeof sh);
                printf("  %-32s %-9s %s\n", v->name, v->type ? hwa_onnx_type_name(v->type) : "?", sh);
            }
        }
        printf("ops (%d nodes):", n_nodes);
        for (int i = 0; i < n_nodes;) {
            int j = i;
            while (j < n_nodes && !strcmp(ops[j], ops[i])) j++;
            printf("%s %s %d", i ? "," : "", ops[i], j - i);
            i = j;
        }
        printf("\ninitializers: %d, %" PRId64 " elements, %" PRId64 " bytes\n", hwa_onnx_n_initializers(m), elems,
               bytes);
    }
    for (int i = 0; i < n_nodes; i++) free(ops[i]);
    free(ops);
    hwa_onnx_free(m);
    return 0;
}

/* A name ending in .onnx (any case). */
static bool onnx_name(const char *path) {
    size_t n = strlen(path);
    return n >= 5 && !strcasecmp(path + n - 5, ".onnx");
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    hwa_file_format fmt = HWA_FORMAT_UNKNOWN;
    static const char *const formats = "safetensors, gguf, llama2c, llama2c-tokenizer, idx, onnx";
    bool onnx = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--format")) {
            if (i + 1 == argc) return cli_missing_value("inspect", a, formats);
            if (!strcmp(argv[i + 1], "onnx")) {
                onnx = true;
                i++;
            } else if (hwa_file_format_from_name(argv[++i], &fmt) != HWA_OK)
                return cli_usage_error("inspect", a, argv[i], "unknown format; allowed: %s", formats);
        } else if (a[0] == '-') {
            return cli_unknown_option("inspect", a);
        } else if (cli_positional("inspect", &path, a, "FILE")) {
            return 2;
        }
    }
    if (!path) return cli_missing_arg("inspect", "FILE", "a model or data file");
    if (onnx || (fmt == HWA_FORMAT_UNKNOWN && onnx_name(path))) return inspect_onnx(path, json);
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
