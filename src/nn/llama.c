/* Llama-family models: the config from a llama2.c checkpoint or GGUF
 * metadata, weights bound to the file's mapping, a KV cache per sequence, and
 * the forward pass built from the graph's ops. A decode step's graph (one
 * token per sequence) takes its positions from tensors, so it is built,
 * planned and allocated once per sequence count and reused at every
 * position; prefills (and backends without the cache ops) build a graph per
 * call with the position fixed in it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/internal.h"
#include "hwadapt/backend.h"
#include "hwadapt/graph.h"
#include "hwadapt/nn.h"
#include "nn/nn_internal.h"

/* One step's graph and its inputs: S sequences of n tokens each. */
typedef struct step_graph {
    hwa_graph *g;
    hwa_tensor *ids, *pos; /* i32 [S * n]: the tokens and their positions */
    hwa_tensor *at;        /* i32 [S, 2]: each sequence and its first position (cache ops only) */
    hwa_tensor *out;       /* logits */
} step_graph;

typedef struct llama_layer {
    hwa_tensor *att_norm;  /* [dim] */
    hwa_tensor *wq;        /* [dim, dim] (out, in) */
    hwa_tensor *wk, *wv;   /* [kv_dim, dim] */
    hwa_tensor *wo;        /* [dim, dim] */
    hwa_tensor *ffn_norm;  /* [dim] */
    hwa_tensor *w1, *w3;   /* gate and up: [hidden, dim] */
    hwa_tensor *w2;        /* down: [dim, hidden] */
    hwa_tensor *k_cache;   /* [n_seq, n_kv_heads, n_ctx, head_size], f32 */
    hwa_tensor *v_cache;   /* the same */
} llama_layer;

struct hwa_llama {
    hwa_llama_config cfg;
    hwa_model_file *file;
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_tensor *tok_emb;   /* [vocab, dim] */
    hwa_tensor *out_norm;  /* [dim] */
    hwa_tensor *wcls;      /* [vocab, dim]; tok_emb when shared */
    llama_layer *layers;   /* [n_layers] */
    int32_t n_ctx, n_seq;
    int32_t *seq_pos;      /* [n_seq]: positions filled in each sequence's cache */
    /* The cache ops (hwa_cache_write, hwa_cache_attention) run on be and
     * the graphs are not placed: decode steps reuse dec[S - 1], the graph
     * of S sequences' steps, built at the first such step. */
    bool cached;
    step_graph *dec;       /* [n_seq] */
    size_t weight_bytes, kv_bytes;
    bool convert;          /* matrices go to want_dtype at load */
    hwa_dtype want_dtype;
    int n_fallback;        /* matrices whose rows want_dtype's blocks do not fit (hwa_dtype_for_rows) */
    /* placement across devices: pbe[0..n_place) with their figures; be is among them */
    hwa_backend *pbe[HWA_PLACE_MAX_DEVICES];
    hwa_place_device pdev[HWA_PLACE_MAX_DEVICES];
    bool pbe_owned[HWA_PLACE_MAX_DEVICES];
    int n_place;
    hwa_place_opts popts;
    hwa_place_cache *pcache;
    char place_choice[96];
    double place_est_s;
    bool learn_pending;    /* place_learn: the first one-token step's nodes are still to be timed */
    /* The last full plan's assignment, reused while the graph has the same
     * nodes (a decode step's only move with the position) until pos reaches
     * replan_at: planning every candidate each step would cost more than a
     * small model's step. */
    signed char *last_assign;
    int last_n;
    uint64_t last_sig;
    int32_t replan_at;
    hwa_imatrix *imatrix;  /* collection mode (nn/imatrix.c): borrowed, NULL when off */
};

/* ---- config --------------------------------------------------------------- */

static hwa_status gguf_int(const hwa_model_file *f, const char *key, bool required, int64_t def, int32_t *out) {
    int64_t v = def;
    hwa_status st = hwa_gguf_get_int(f, key, &v);
    if (st == HWA_E_NOTFOUND && !required) {
        v = def;
    } else if (st != HWA_OK) {
        return hwa__err(NULL, st, "%s: %s: %s", hwa_model_file_label(f), key,
                        st == HWA_E_NOTFOUND ? "missing" : "not an integer");
    }
    if (v <= 0 || v > INT32_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %lld is outside 1..%d", hwa_model_file_label(f), key,
                        (long long)v, INT32_MAX);
    *out = (int32_t)v;
    return HWA_OK;
}

static hwa_status gguf_float(const hwa_model_file *f, const char *key, double def, float *out) {
    double v = def;
    hwa_status st = hwa_gguf_get_float(f, key, &v);
    if (st != HWA_OK && st != HWA_E_NOTFOUND)
        return hwa__err(NULL, st, "%s: %s: not a float", hwa_model_file_label(f), key);
    if (st == HWA_E_NOTFOUND) v = def;
    if (!(v > 0.0) || !isfinite(v) || v > 1e30)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %g must be positive and finite", hwa_model_file_label(f), key, v);
    *out = (float)v;
    return HWA_OK;
}

static hwa_status config_from_gguf(const hwa_model_file *f, hwa_llama_config *c) {
    const char *L = hwa_model_file_label(f), *arch = NULL;
    if (hwa_gguf_get_str(f, "general.architecture", &arch, NULL) != HWA_OK)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: general.architecture: missing or not a string", L);
    if (strcmp(arch, "llama") != 0)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: architecture '%.40s' is not supported (only 'llama')", L, arch);
    hwa_status st;
    if ((st = gguf_int(f, "llama.embedding_length", true, 0, &c->dim)) ||
        (st = gguf_int(f, "llama.feed_forward_length", true, 0, &c->hidden_dim)) ||
        (st = gguf_int(f, "llama.block_count", true, 0, &c->n_layers)) ||
        (st = gguf_int(f, "llama.attention.head_count", true, 0, &c->n_heads)) ||
        (st = gguf_int(f, "llama.attention.head_count_kv", false, c->n_heads, &c->n_kv_heads)) ||
        (st = gguf_int(f, "llama.context_length", true, 0, &c->seq_len)) ||
        (st = gguf_float(f, "llama.rope.freq_base", 10000.0, &c->rope_theta)) ||
        (st = gguf_float(f, "llama.attention.layer_norm_rms_epsilon", 1e-5, &c->norm_eps)))
        return st;
    const hwa_file_tensor *emb = hwa_model_file_find(f, "token_embd.weight");
    if (!emb || emb->ndim != 2 || emb->shape[0] <= 0 || emb->shape[0] > INT32_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: token_embd.weight: missing or not a [vocab, dim] matrix", L);
    c->vocab_size = (int32_t)emb->shape[0];
    c->shared_classifier = hwa_model_file_find(f, "output.weight") == NULL;
    if (c->n_heads > 0 && c->dim % c->n_heads == 0) {
        int32_t rot = c->dim / c->n_heads;
        if ((st = gguf_int(f, "llama.rope.dimension_count", false, rot, &rot))) return st;
        if (rot != c->dim / c->n_heads)
            return hwa__err(NULL, HWA_E_UNSUPPORTED,
                            "%s: llama.rope.dimension_count %d differs from the head size %d (partial rotary "
                            "embedding is not supported)",
                            L, rot, c->dim / c->n_heads);
    }
    return HWA_OK;
}

static hwa_status config_check(const hwa_llama_config *c, const char *L) {
    if (c->dim % c->n_heads)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %d heads do not divide dim %d", L, c->n_heads, c->dim);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %d kv heads do not divide %d heads", L, c->n_kv_heads, c->n_heads);
    if ((c->dim / c->n_heads) % 2)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: head size %d is odd (rotary embedding needs pairs)", L,
                        c->dim / c->n_heads);
    return HWA_OK;
}

/* ---- weights ------------------------------------------------------------- */

/* The dtype params ask the matrices in; *convert false keeps the file's. */
static hwa_status weight_dtype_param(const char *name, bool *convert, hwa_dtype *out) {
    *convert = false;
    if (!name || !name[0]) return HWA_OK;
    hwa_dtype t;
    if (hwa_dtype_from_name(name, &t))
        return hwa__err(NULL, HWA_E_INVALID, "llama: weight dtype '%.40s' is unknown; available: f32, f16, bf16, "
                        "q8_0, q4_0, q4_1, q4_k, q6_k", name);
    if (!hwa_dtype_is_float(t) && !hwa_dtype_is_quantized(t))
        return hwa__err(NULL, HWA_E_UNSUPPORTED,
                        "llama: the matrix products cannot run on %s weights converted at load; available: f32, f16, "
                        "bf16, q8_0, q4_0, q4_1, q4_k, q6_k", hwa_dtype_name(t));
    *convert = true;
    *out = t;
    return HWA_OK;
}

/* Copies n elements of the file's src_t at src into t (dtype dst_t, host
 * memory), converting through f32 a block at a time: the whole matrix in f32
 * would cost twice its f32 size in memory for a moment. */
static hwa_status convert_into(hwa_tensor *t, const void *src, hwa_dtype src_t, int64_t n) {
    enum { BLOCK = 4096 };
    float tmp[BLOCK];
    /* A device's memory has no host address: convert into host memory, then
     * copy the whole matrix over. */
    char *dst = hwa_tensor_data(t), *staged = NULL;
    if (!dst && !(dst = staged = malloc(hwa_tensor_nbytes(t))))
        return hwa__err(NULL, HWA_E_NOMEM, "llama: out of memory converting '%s' at load", hwa_tensor_name(t));
    const hwa_dtype dst_t = hwa_tensor_dtype(t);
    hwa_status st = HWA_OK;
    /* BLOCK is whole blocks of every type; offsets in bytes through the
     * block sizes */
    for (int64_t i = 0; i < n && st == HWA_OK; i += BLOCK) {
        const int64_t m = n - i < BLOCK ? n - i : BLOCK;
        size_t so = 0, dof = 0;
        st = hwa_dtype_row_bytes(src_t, i, &so);
        if (st == HWA_OK) st = hwa_dtype_row_bytes(dst_t, i, &dof);
        if (st == HWA_OK) st = hwa_convert_to_f32(src_t, (const char *)src + so, tmp, m);
        if (st == HWA_OK) st = hwa_convert_from_f32(dst_t, dst + dof, tmp, m);
    }
    if (staged) {
        if (st == HWA_OK) st = hwa_tensor_set_bytes(t, staged, hwa_tensor_nbytes(t));
        free(staged);
    } else {
        hwa_tensor_mark_modified(t); /* written through its pointer */
    }
    return st;
}

/* Finds one weight and binds a new leaf to its bytes in the mapping. GGUF:
 * the tensor gguf_name (with %d for the layer). llama2.c: the stacked tensor
 * l2c_name, slice `layer` (layer < 0: not stacked). The tensor must have
 * shape [rows, cols] ([rows] when cols is 0) and a float dtype. */
static hwa_status bind_weight(hwa_llama *m, const char *gguf_name, const char *l2c_name, int layer, int64_t rows,
                              int64_t cols, hwa_tensor **out) {
    const hwa_model_file *f = m->file;
    const bool gguf = hwa_model_file_format(f) == HWA_FORMAT_GGUF;
    char name[96];
    if (gguf) snprintf(name, sizeof name, gguf_name, layer);
    else snprintf(name, sizeof name, "%s", l2c_name);
    const char *L = hwa_model_file_label(f);
    const hwa_file_tensor *ft = hwa_model_file_find(f, name);
    if (!ft) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is missing", L, name);
    const int want_nd = (cols > 0 ? 2 : 1) + (!gguf && layer >= 0 ? 1 : 0);
    int64_t want[3], *w = want;
    if (!gguf && layer >= 0) *w++ = m->cfg.n_layers;
    *w++ = rows;
    if (cols > 0) *w = cols;
    bool ok = ft->ndim == want_nd;
    for (int i = 0; ok && i < want_nd; i++) ok = ft->shape[i] == want[i];
    if (!ok) {
        char got[96] = "", exp[96] = "";
        for (int i = 0; i < ft->ndim && i < HWA_IO_MAX_DIMS; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)ft->shape[i]);
        for (int i = 0; i < want_nd; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", i ? "," : "", (long long)want[i]);
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' has shape [%s], the config needs [%s]", L, name, got, exp);
    }
    /* matrices in any float or block type, norm weights in a float one */
    if (!ft->has_dtype || !(hwa_dtype_is_float(ft->dtype) || (cols > 0 && hwa_dtype_is_quantized(ft->dtype))))
        return hwa__err(NULL, HWA_E_UNSUPPORTED,
                        "%s: tensor '%s' has dtype %s (f32, f16 and bf16 are supported, and for matrices q8_0, q4_0, "
                        "q4_1, q4_k and q6_k)", L, name, hwa_file_dtype_name(ft->file_dtype));
    const int64_t shape[2] = {rows, cols};
    /* Matrices in the dtype asked for; norm weights (cols 0) as they are. */
    /* rows that are not whole blocks of the type asked for fall back as
     * llama.cpp's quantizer does (hwa_dtype_for_rows), and are counted */
    const hwa_dtype to = cols > 0 ? hwa_dtype_for_rows(m->want_dtype, cols) : m->want_dtype;
    const bool convert = m->convert && cols > 0 && ft->dtype != to;
    if (m->convert && cols > 0 && to != m->want_dtype) m->n_fallback++;
    hwa_tensor *t = hwa_tensor_new(m->ctx, convert ? to : ft->dtype, cols > 0 ? 2 : 1, shape);
    if (!t) return hwa_ctx_last_status(m->ctx);
    hwa_tensor_set_name(t, name);
    size_t file_bytes;
    if (hwa_dtype_row_bytes(ft->dtype, cols > 0 ? cols : rows, &file_bytes) != HWA_OK)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': rows of %lld values are not whole %s blocks", L, name,
                        (long long)cols, hwa_dtype_name(ft->dtype));
    if (cols > 0) file_bytes *= (size_t)rows; /* the shape was checked against the file's */
    const uint8_t *data = ft->data;
    if (!gguf && layer >= 0) data += (size_t)layer * file_bytes; /* shape checked: inside the tensor */
    hwa_status st;
    if (convert) {
        st = hwa_tensor_alloc(t, m->be);
        if (st == HWA_OK) st = convert_into(t, data, ft->dtype, hwa_tensor_nelements(t));
    } else if (hwa_backend_device_kind(m->be) != HWA_DEVICE_CPU) {
        /* a device cannot read the mapping in place: a copy in its memory */
        st = hwa_tensor_alloc(t, m->be);
        if (st == HWA_OK) st = hwa_tensor_set_bytes(t, data, file_bytes);
    } else {
        const size_t align = hwa_dtype_is_quantized(ft->dtype) ? 2 : hwa_dtype_block_bytes(ft->dtype);
        if ((uintptr_t)data % align)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is not aligned to its element size", L, name);
        st = hwa_tensor_bind_host(t, m->be, data, file_bytes);
    }
    if (st != HWA_OK) return st;
    m->weight_bytes += hwa_tensor_nbytes(t);
    *out = t;
    return HWA_OK;
}

static hwa_status bind_weights(hwa_llama *m) {
    const hwa_llama_config *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden_dim, kv = (int64_t)c->dim / c->n_heads * c->n_kv_heads;
    hwa_status st;
    if ((st = bind_weight(m, "token_embd.weight", "token_embedding_table", -1, c->vocab_size, dim, &m->tok_emb)) ||
        (st = bind_weight(m, "output_norm.weight", "rms_final_weight", -1, dim, 0, &m->out_norm)))
        return st;
    if (c->shared_classifier) m->wcls = m->tok_emb;
    else if ((st = bind_weight(m, "output.weight", "wcls", -1, c->vocab_size, dim, &m->wcls))) return st;
    for (int l = 0; l < c->n_layers; l++) {
        llama_layer *y = &m->layers[l];
        if ((st = bind_weight(m, "blk.%d.attn_norm.weight", "rms_att_weight", l, dim, 0, &y->att_norm)) ||
            (st = bind_weight(m, "blk.%d.attn_q.weight", "wq", l, dim, dim, &y->wq)) ||
            (st = bind_weight(m, "blk.%d.attn_k.weight", "wk", l, kv, dim, &y->wk)) ||
            (st = bind_weight(m, "blk.%d.attn_v.weight", "wv", l, kv, dim, &y->wv)) ||
            (st = bind_weight(m, "blk.%d.attn_output.weight", "wo", l, dim, dim, &y->wo)) ||
            (st = bind_weight(m, "blk.%d.ffn_norm.weight", "rms_ffn_weight", l, dim, 0, &y->ffn_norm)) ||
            (st = bind_weight(m, "blk.%d.ffn_gate.weight", "w1", l, hid, dim, &y->w1)) ||
            (st = bind_weight(m, "blk.%d.ffn_down.weight", "w2", l, dim, hid, &y->w2)) ||
            (st = bind_weight(m, "blk.%d.ffn_up.weight", "w3", l, hid, dim, &y->w3)))
            return st;
    }
    /* The matrices' dtype, for reports: the query projection's. */
    m->cfg.weight_dtype = hwa_tensor_dtype(m->layers[0].wq);
    const hwa_file_tensor *fq = hwa_model_file_find(m->file, hwa_tensor_name(m->layers[0].wq));
    m->cfg.file_weight_dtype = fq ? fq->dtype : m->cfg.weight_dtype;
    return HWA_OK;
}

static hwa_status alloc_cache(hwa_llama *m) {
    const hwa_llama_config *c = &m->cfg;
    const int64_t shape[4] = {m->n_seq, c->n_kv_heads, m->n_ctx, c->dim / c->n_heads};
    for (int l = 0; l < c->n_layers; l++) {
        hwa_tensor **kv[2] = {&m->layers[l].k_cache, &m->layers[l].v_cache};
        for (int i = 0; i < 2; i++) {
            hwa_tensor *t = hwa_tensor_new(m->ctx, HWA_F32, 4, shape);
            if (!t) return hwa_ctx_last_status(m->ctx);
            char name[32];
            snprintf(name, sizeof name, "blk.%d.%s_cache", l, i ? "v" : "k");
            hwa_tensor_set_name(t, name);
            hwa_status st = hwa_tensor_alloc(t, m->be);
            if (st != HWA_OK) return st;
            m->kv_bytes += hwa_tensor_nbytes(t);
            *kv[i] = t;
        }
    }
    return HWA_OK;
}

/* ---- load / free ---------------------------------------------------------- */

static hwa_status load_config(hwa_llama *m) {
    const hwa_model_file *f = m->file;
    const char *L = hwa_model_file_label(f);
    hwa_llama_config *c = &m->cfg;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    hwa_status st;
    switch (hwa_model_file_format(f)) {
    case HWA_FORMAT_LLAMA2C: {
        hwa_llama2c_config lc;
        if ((st = hwa_llama2c_get_config(f, &lc))) return st;
        c->dim = lc.dim;
        c->hidden_dim = lc.hidden_dim;
        c->n_layers = lc.n_layers;
        c->n_heads = lc.n_heads;
        c->n_kv_heads = lc.n_kv_heads;
        c->vocab_size = lc.vocab_size;
        c->seq_len = lc.seq_len;
        c->shared_classifier = lc.shared_classifier;
        break;
    }
    case HWA_FORMAT_GGUF:
        if ((st = config_from_gguf(f, c))) return st;
        break;
    default:
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: a %s file is not a Llama model (llama2.c checkpoints and GGUF are)",
                        L, hwa_file_format_name(hwa_model_file_format(f)));
    }
    return config_check(c, L);
}

/* The devices of params->place_devices as backends in m's context (m->be
 * for its own spec), described for the cost model, and the weights' cache. */
static hwa_status open_placement(hwa_llama *m, const hwa_llama_params *params) {
    const char *list = params->place_devices;
    hwa_status st = hwa_place_devices_open(m->ctx, list, params->passport, m->be, m->pbe, m->pdev, m->pbe_owned,
                                           &m->n_place);
    if (st) return st;
    bool have_home = false;
    for (int k = 0; k < m->n_place; k++) have_home |= m->pbe[k] == m->be;
    if (!have_home)
        return hwa__err(NULL, HWA_E_INVALID, "llama: the device list '%s' must include %s, which holds the weights",
                        list, m->be->spec);
    m->popts = params->place;
    m->learn_pending = params->place_learn;
    m->popts.cache = m->pcache = hwa_place_cache_new(m->ctx);
    return m->pcache ? HWA_OK : HWA_E_NOMEM;
}

/* Whether m's backend runs the cache ops (a probe of each on layer 0's
 * cache, released after). */
static bool backend_has_cache_ops(hwa_llama *m) {
    const hwa_llama_config *c = &m->cfg;
    const int64_t hs = c->dim / c->n_heads;
    hwa_ctx_mark mark = hwa_ctx_mark_get(m->ctx);
    hwa_tensor *at = hwa_tensor_new_2d(m->ctx, HWA_I32, 1, 2);
    hwa_tensor *kv = hwa_tensor_new_4d(m->ctx, HWA_F32, 1, c->n_kv_heads, 1, hs);
    hwa_tensor *q = hwa_tensor_new_4d(m->ctx, HWA_F32, 1, c->n_heads, 1, hs);
    hwa_tensor *w = hwa_cache_write(m->ctx, m->layers[0].k_cache, kv, at);
    hwa_tensor *a = hwa_cache_attention(m->ctx, q, w, w, at, 0.0f);
    const bool ok = a && hwa_backend_supports(m->be, w) && hwa_backend_supports(m->be, a);
    hwa_ctx_release(m->ctx, mark);
    return ok;
}

/* The sequences and whether decode steps reuse their graphs (the cache ops
 * on m->be, no placement, not turned off by params). */
static hwa_status choose_graphs(hwa_llama *m, const hwa_llama_params *params) {
    m->cached = !params->rebuild_graphs && !params->place_devices && backend_has_cache_ops(m);
    if (m->n_seq > 1 && !m->cached)
        return hwa__err(NULL, HWA_E_UNSUPPORTED,
                        "llama: %d sequences need the cache ops on %s, without place_devices or rebuild_graphs",
                        m->n_seq, m->be->spec);
    m->dec = calloc((size_t)m->n_seq, sizeof *m->dec);
    return m->dec ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "llama: out of memory");
}

hwa_status hwa_llama_load(const char *path, const hwa_llama_params *params, hwa_llama **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "llama: NULL path or out");
    const hwa_llama_params defaults = {0};
    if (!params) params = &defaults;
    if (params->n_ctx < 0) return hwa__err(NULL, HWA_E_RANGE, "llama: n_ctx %d is negative", params->n_ctx);
    if (params->n_threads < 0)
        return hwa__err(NULL, HWA_E_RANGE, "llama: n_threads %d is negative", params->n_threads);
    if (params->n_seq < 0 || params->n_seq > HWA_LLAMA_MAX_SEQ)
        return hwa__err(NULL, HWA_E_RANGE, "llama: n_seq %d is outside 0..%d", params->n_seq, HWA_LLAMA_MAX_SEQ);
    bool convert;
    hwa_dtype want = HWA_F32;
    hwa_status st = weight_dtype_param(params->weight_dtype, &convert, &want);
    if (st != HWA_OK) return st;
    hwa_llama *m = calloc(1, sizeof *m);
    if (!m) return hwa__err(NULL, HWA_E_NOMEM, "llama: out of memory");
    m->convert = convert;
    m->want_dtype = want;
    st = hwa_model_file_open(path, HWA_FORMAT_UNKNOWN, &m->file);
    if (st == HWA_OK) st = load_config(m);
    if (st == HWA_OK && params->n_ctx > m->cfg.seq_len)
        st = hwa__err(NULL, HWA_E_RANGE, "%s: context of %d positions exceeds the model's %d", path, params->n_ctx,
                      m->cfg.seq_len);
    if (st == HWA_OK) {
        m->n_ctx = params->n_ctx ? params->n_ctx : m->cfg.seq_len;
        m->n_seq = params->n_seq ? params->n_seq : 1;
        m->ctx = hwa_ctx_new(NULL);
        m->layers = calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
        m->seq_pos = calloc((size_t)m->n_seq, sizeof *m->seq_pos);
        if (!m->ctx || !m->layers || !m->seq_pos) st = hwa__err(NULL, HWA_E_NOMEM, "llama: out of memory");
    }
    if (st == HWA_OK && !(m->be = hwa_backend_new(m->ctx, params->device ? params->device : "cpu")))
        st = hwa_ctx_last_status(m->ctx);
    if (st == HWA_OK && params->n_threads > 0) st = hwa_backend_set_threads(m->be, params->n_threads);
    if (st == HWA_OK) st = bind_weights(m);
    if (st == HWA_OK) st = alloc_cache(m);
    if (st == HWA_OK) st = choose_graphs(m, params);
    if (st == HWA_OK && params->place_devices) st = open_placement(m, params);
    if (st != HWA_OK) {
        hwa_llama_free(m);
        return st;
    }
    *out = m;
    return HWA_OK;
}

void hwa_llama_free(hwa_llama *m) {
    if (!m) return;
    free(m->last_assign);
    hwa_place_cache_free(m->pcache);
    for (int k = 0; k < m->n_place; k++)
        if (m->pbe_owned[k]) hwa_backend_free(m->pbe[k]);
    hwa_backend_free(m->be);
    hwa_ctx_free(m->ctx);
    free(m->layers);
    free(m->seq_pos);
    free(m->dec);
    hwa_model_file_free(m->file);
    free(m);
}

const hwa_llama_config *hwa_llama_get_config(const hwa_llama *m) { return m ? &m->cfg : NULL; }
const hwa_model_file *hwa_llama_file(const hwa_llama *m) { return m ? m->file : NULL; }
int32_t hwa_llama_n_ctx(const hwa_llama *m) { return m ? m->n_ctx : 0; }
int32_t hwa_llama_pos(const hwa_llama *m) { return m ? m->seq_pos[0] : 0; }
int32_t hwa_llama_n_seq(const hwa_llama *m) { return m ? m->n_seq : 0; }
int32_t hwa_llama_seq_pos(const hwa_llama *m, int32_t seq) {
    return m && seq >= 0 && seq < m->n_seq ? m->seq_pos[seq] : 0;
}
void hwa_llama_seq_reset(hwa_llama *m, int32_t seq) {
    if (m && seq >= 0 && seq < m->n_seq) m->seq_pos[seq] = 0;
}
size_t hwa_llama_weight_bytes(const hwa_llama *m) { return m ? m->weight_bytes : 0; }
size_t hwa_llama_kv_bytes(const hwa_llama *m) { return m ? m->kv_bytes : 0; }
int hwa_llama_n_threads(const hwa_llama *m) { return m ? hwa_backend_threads(m->be) : 0; }
void hwa_llama_reset(hwa_llama *m) {
    if (m) memset(m->seq_pos, 0, (size_t)m->n_seq * sizeof *m->seq_pos);
}
int hwa_llama_n_fallback(const hwa_llama *m) { return m ? m->n_fallback : 0; }

const char *hwa_llama_placement(const hwa_llama *m, double *est_s) {
    if (est_s) *est_s = m && m->place_choice[0] ? m->place_est_s : NAN;
    return m ? m->place_choice : "";
}

/* ---- the forward pass ----------------------------------------------------- */

static hwa_tensor *linear(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w) { return hwa_matmul_ex(ctx, x, w, false, true); }

static const int to_bhtd[4] = {0, 2, 1, 3};

/* [S * n, heads * hs] (or any shape of that many values in that order) ->
 * [S, heads, n, hs], a view. */
static hwa_tensor *split_heads(hwa_ctx *ctx, hwa_tensor *x, int64_t S, int64_t n, int64_t heads, int64_t hs) {
    const int64_t shape[4] = {S, n, heads, hs};
    return hwa_permute(ctx, hwa_reshape(ctx, x, 4, shape), to_bhtd);
}

/* One layer on x [S * n, dim] (S sequences of n tokens): attention over the
 * cache, then the feed-forward block, each with its residual. With sg->at
 * the cache is written and read at the sequences and positions at holds;
 * without, sequence 0's from position seq_pos[0], fixed in the graph. */
static hwa_tensor *layer_forward(hwa_llama *m, const llama_layer *y, hwa_tensor *x, const step_graph *sg, int64_t S,
                                 int64_t n) {
    hwa_ctx *ctx = m->ctx;
    const hwa_llama_config *c = &m->cfg;
    const int64_t hs = c->dim / c->n_heads, rows = S * n;
    const int64_t q_shape[4] = {1, rows, c->n_heads, hs}, kv_shape[4] = {1, rows, c->n_kv_heads, hs};

    hwa_tensor *h = hwa_rmsnorm(ctx, x, y->att_norm, c->norm_eps);
    /* Rotary embedding works on [.., T, H, D] (a position per row);
     * attention wants [B, H, T, D]. */
    hwa_tensor *q = hwa_rope(ctx, hwa_reshape(ctx, linear(ctx, h, y->wq), 4, q_shape), sg->pos, c->rope_theta,
                             HWA_ROPE_INTERLEAVED);
    hwa_tensor *k = hwa_rope(ctx, hwa_reshape(ctx, linear(ctx, h, y->wk), 4, kv_shape), sg->pos, c->rope_theta,
                             HWA_ROPE_INTERLEAVED);
    q = split_heads(ctx, q, S, n, c->n_heads, hs);
    k = split_heads(ctx, k, S, n, c->n_kv_heads, hs);
    hwa_tensor *v = split_heads(ctx, linear(ctx, h, y->wv), S, n, c->n_kv_heads, hs), *a;
    if (sg->at) {
        hwa_tensor *k_all = hwa_cache_write(ctx, y->k_cache, k, sg->at);
        hwa_tensor *v_all = hwa_cache_write(ctx, y->v_cache, v, sg->at);
        a = hwa_cache_attention(ctx, q, k_all, v_all, sg->at, 0.0f);
    } else {
        const int64_t p0 = m->seq_pos[0];
        /* Reading through the write's result orders the reads after it. */
        hwa_tensor *k_all = hwa_slice(ctx, hwa_write_slice(ctx, y->k_cache, 2, p0, k), 2, 0, p0 + n);
        hwa_tensor *v_all = hwa_slice(ctx, hwa_write_slice(ctx, y->v_cache, 2, p0, v), 2, 0, p0 + n);
        a = hwa_attention(ctx, q, k_all, v_all, true, 0.0f);
    }
    const int64_t flat[2] = {rows, c->dim};
    a = hwa_reshape(ctx, hwa_cont(ctx, hwa_permute(ctx, a, to_bhtd)), 2, flat);
    x = hwa_add(ctx, x, linear(ctx, a, y->wo));

    h = hwa_rmsnorm(ctx, x, y->ffn_norm, c->norm_eps);
    hwa_tensor *gate = hwa_silu(ctx, linear(ctx, h, y->w1));
    hwa_tensor *f = linear(ctx, hwa_mul(ctx, gate, linear(ctx, h, y->w3)), y->w2);
    return hwa_add(ctx, x, f);
}

/* Builds sg's graph for S sequences of n tokens (S > 1 only with n = 1 and
 * the cache ops): new input leaves with memory on m->be (filled by
 * set_inputs), the logits [S * n, vocab] with all_logits, else each
 * sequence's last token's. Errors are recorded on m->ctx. */
static hwa_status build_step(hwa_llama *m, int32_t S, int32_t n, bool all_logits, bool cached, step_graph *sg) {
    hwa_ctx *ctx = m->ctx;
    const hwa_llama_config *c = &m->cfg;
    const int64_t rows = (int64_t)S * n;
    memset(sg, 0, sizeof *sg);
    sg->ids = hwa_tensor_new_1d(ctx, HWA_I32, rows);
    sg->pos = hwa_tensor_new_1d(ctx, HWA_I32, rows);
    if (cached) sg->at = hwa_tensor_new_2d(ctx, HWA_I32, S, 2);
    if (!sg->ids || !sg->pos || (cached && !sg->at) || hwa_tensor_alloc(sg->ids, m->be) ||
        hwa_tensor_alloc(sg->pos, m->be) || (cached && hwa_tensor_alloc(sg->at, m->be)))
        return hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_INTERNAL;
    hwa_tensor *x = hwa_embedding(ctx, m->tok_emb, sg->ids);
    if (x && hwa_tensor_dtype(x) != HWA_F32) x = hwa_cast(ctx, x, HWA_F32);
    for (int l = 0; l < c->n_layers && x; l++) x = layer_forward(m, &m->layers[l], x, sg, S, n);
    if (!all_logits && n > 1) x = hwa_slice(ctx, x, 0, n - 1, 1);
    x = hwa_rmsnorm(ctx, x, m->out_norm, c->norm_eps);
    sg->out = linear(ctx, x, m->wcls);
    sg->g = sg->out ? hwa_graph_new(ctx) : NULL;
    if (!sg->g) return hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_INTERNAL;
    return hwa_graph_build_forward(sg->g, sg->out);
}

/* The step's tokens, their positions (each sequence's next ones) and, for
 * the cache ops, each sequence with its first position. */
static hwa_status set_inputs(hwa_llama *m, const step_graph *sg, int32_t S, const int32_t *seqs,
                             const int32_t *tokens, int32_t n) {
    const size_t rows = (size_t)S * (size_t)n;
    int32_t *v = malloc((rows + 2 * (size_t)S) * sizeof *v);
    if (!v) return hwa__err(NULL, HWA_E_NOMEM, "llama: out of memory");
    for (int32_t s = 0; s < S; s++) {
        for (int32_t i = 0; i < n; i++) v[(size_t)s * n + i] = m->seq_pos[seqs[s]] + i;
        v[rows + 2 * (size_t)s] = seqs[s];
        v[rows + 2 * (size_t)s + 1] = m->seq_pos[seqs[s]];
    }
    /* through the transfer helpers: a device's memory has no host address */
    hwa_status st = hwa_tensor_set_bytes(sg->pos, v, rows * sizeof *v);
    if (st == HWA_OK) st = hwa_tensor_set_bytes(sg->ids, tokens, rows * sizeof *tokens);
    if (st == HWA_OK && sg->at) st = hwa_tensor_set_bytes(sg->at, v + rows, 2 * (size_t)S * sizeof *v);
    free(v);
    return st;
}

/* Places g across m's devices and runs it, then reads out into logits
 * (may be NULL); n tokens per sequence. */
static hwa_status run_placed(hwa_llama *m, hwa_graph *g, hwa_tensor *out, int32_t n, float *logits) {
    /* The graph's shapes move with the position: a full plan when its nodes
     * change or the context has doubled since the last, else the last plan's
     * assignment (checked against memory and the constraints all the same). */
    const int32_t pos = m->seq_pos[0];
    const int nn = hwa_graph_n_nodes(g);
    uint64_t sig = 1469598103934665603ull;
    for (int i = 0; i < nn; i++) sig = (sig ^ (uint64_t)(g->nodes[i]->op * 64 + g->nodes[i]->dtype)) * 1099511628211ull;
    hwa_place_opts o = m->popts;
    const bool reuse = o.mode == HWA_PLACE_AUTO && m->last_assign && m->last_n == nn && m->last_sig == sig &&
                       pos < m->replan_at;
    if (reuse) o.mode = HWA_PLACE_GIVEN, o.assign = m->last_assign;
    hwa_placement *pl = NULL;
    hwa_status st = hwa_placement_new(g, m->pbe, m->pdev, m->n_place, &o, &pl);
    if (st == HWA_OK && !reuse) {
        snprintf(m->place_choice, sizeof m->place_choice, "%s", hwa_placement_choice(pl));
        signed char *a = realloc(m->last_assign, (size_t)(nn ? nn : 1));
        if (a) {
            m->last_assign = a;
            m->last_n = nn;
            m->last_sig = sig;
            m->replan_at = pos < 8 ? 16 : 2 * pos;
            hwa_placement_candidate(pl, hwa_placement_chosen(pl), NULL, NULL, NULL, a);
        }
    }
    if (st == HWA_OK) {
        m->place_est_s = hwa_placement_estimate_s(pl);
        st = hwa_placement_compute(pl);
    }
    if (st) hwa__err(NULL, st, "%s", hwa_ctx_last_error(m->ctx));
    if (st == HWA_OK && logits) st = hwa_tensor_get_f32(out, logits, hwa_tensor_nelements(out));
    if (st == HWA_OK && m->learn_pending && n == 1) {
        /* after the logits are read: timing re-runs nodes over the arena */
        m->learn_pending = false;
        st = hwa_placement_profile(pl, 3);
        m->replan_at = 0; /* plan again with the times measured */
        if (st == HWA_OK) m->place_est_s = hwa_placement_estimate_s(pl);
        else hwa__err(NULL, st, "llama: timing the step's nodes: %s", hwa_ctx_last_error(m->ctx));
    }
    hwa_placement_free(pl);
    return st;
}

/* Runs n tokens of each of S sequences seqs[] (checked by the callers) and
 * moves their positions on. A decode step (n = 1) with the cache ops runs
 * the graph kept for S sequences, built, planned and allocated the first
 * time (outside any mark, so that it outlives this call); anything else a
 * graph of its own, released after. */
static hwa_status eval_rows(hwa_llama *m, int32_t S, const int32_t *seqs, const int32_t *tokens, int32_t n,
                            bool all_logits, float *logits) {
    /* collecting an importance matrix adds outputs to the graph: a graph of its own */
    const bool reuse = m->cached && n == 1 && !m->imatrix;
    step_graph one, *sg = reuse ? &m->dec[S - 1] : &one;
    hwa_ctx_mark mark = hwa_ctx_mark_get(m->ctx);
    hwa_status st = HWA_OK;
    if (!reuse || !sg->g) {
        st = build_step(m, S, n, all_logits, m->cached, sg);
        if (st == HWA_OK && reuse) st = hwa_graph_alloc(sg->g, m->be, HWA_PLAN_REUSE, NULL);
        if (st != HWA_OK && reuse) {
            memset(sg, 0, sizeof *sg);
            hwa_ctx_release(m->ctx, mark);
        }
    }
    hwa__imx_taps taps = {0};
    if (st == HWA_OK && m->imatrix) st = hwa__imatrix_extend(m, sg->g, &taps);
    if (st == HWA_OK) st = set_inputs(m, sg, S, seqs, tokens, n);
    if (st == HWA_OK && m->n_place) {
        st = run_placed(m, sg->g, sg->out, n, logits);
    } else if (st == HWA_OK) {
        st = hwa_graph_compute(sg->g, m->be);
        if (st == HWA_OK && logits) st = hwa_tensor_get_f32(sg->out, logits, hwa_tensor_nelements(sg->out));
    }
    if (st == HWA_OK && m->imatrix) st = hwa__imatrix_gather(m->imatrix, &taps);
    hwa__imatrix_taps_free(&taps);
    if (!reuse) hwa_ctx_release(m->ctx, mark);
    if (st == HWA_OK)
        for (int32_t s = 0; s < S; s++) m->seq_pos[seqs[s]] += n;
    return st;
}

static hwa_status check_tokens(const hwa_llama *m, const int32_t *tokens, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return hwa__err(NULL, HWA_E_RANGE, "llama eval: token %d at index %d is outside the vocabulary of %d",
                            tokens[i], i, m->cfg.vocab_size);
    return HWA_OK;
}

hwa_status hwa_llama_eval_seq(hwa_llama *m, int32_t seq, const int32_t *tokens, int32_t n, bool all_logits,
                              float *logits) {
    if (!m || !tokens || n <= 0)
        return hwa__err(NULL, HWA_E_MISUSE, "llama eval: NULL model or tokens, or a count %d <= 0", n);
    if (seq < 0 || seq >= m->n_seq)
        return hwa__err(NULL, HWA_E_RANGE, "llama eval: sequence %d is outside 0..%d", seq, m->n_seq - 1);
    if (n > m->n_ctx - m->seq_pos[seq])
        return hwa__err(NULL, HWA_E_RANGE, "llama eval: %d tokens at position %d overflow the context of %d", n,
                        m->seq_pos[seq], m->n_ctx);
    hwa_status st = check_tokens(m, tokens, n);
    return st ? st : eval_rows(m, 1, &seq, tokens, n, all_logits, logits);
}

hwa_status hwa_llama_eval(hwa_llama *m, const int32_t *tokens, int32_t n, bool all_logits, float *logits) {
    return hwa_llama_eval_seq(m, 0, tokens, n, all_logits, logits);
}

hwa_status hwa_llama_eval_batch(hwa_llama *m, int32_t n, const int32_t *seqs, const int32_t *tokens, float *logits) {
    if (!m || !seqs || !tokens || n <= 0)
        return hwa__err(NULL, HWA_E_MISUSE, "llama eval batch: NULL model, sequences or tokens, or a count %d <= 0",
                        n);
    if (n > m->n_seq)
        return hwa__err(NULL, HWA_E_RANGE, "llama eval batch: %d sequences, the model was loaded with %d", n,
                        m->n_seq);
    for (int32_t s = 0; s < n; s++) {
        if (seqs[s] < 0 || seqs[s] >= m->n_seq)
            return hwa__err(NULL, HWA_E_RANGE, "llama eval batch: sequence %d is outside 0..%d", seqs[s],
                            m->n_seq - 1);
        if (m->seq_pos[seqs[s]] >= m->n_ctx)
            return hwa__err(NULL, HWA_E_RANGE, "llama eval batch: sequence %d has filled its context of %d", seqs[s],
                            m->n_ctx);
        for (int32_t r = 0; r < s; r++)
            if (seqs[r] == seqs[s])
                return hwa__err(NULL, HWA_E_INVALID, "llama eval batch: sequence %d is listed twice", seqs[s]);
    }
    hwa_status st = check_tokens(m, tokens, n);
    return st ? st : eval_rows(m, n, seqs, tokens, 1, true, logits);
}

hwa_status hwa_llama_plan(hwa_llama *m, int32_t n_tokens, FILE *f, bool json, bool per_node) {
    if (!m || !f || n_tokens < 1) return hwa__err(NULL, HWA_E_MISUSE, "llama plan: NULL model or file, or no tokens");
    if (!m->n_place) return hwa__err(NULL, HWA_E_MISUSE, "llama plan: the model was loaded without place_devices");
    if (n_tokens > m->n_ctx) return hwa__err(NULL, HWA_E_RANGE, "llama plan: %d tokens overflow the context of %d", n_tokens, m->n_ctx);
    hwa_ctx_mark mark = hwa_ctx_mark_get(m->ctx);
    const int32_t pos = m->seq_pos[0];
    m->seq_pos[0] = 0;
    step_graph sg;
    hwa_status st = build_step(m, 1, n_tokens, false, false, &sg);
    hwa_placement *pl = NULL;
    if (st == HWA_OK) st = hwa_placement_new(sg.g, m->pbe, m->pdev, m->n_place, &m->popts, &pl);
    if (st == HWA_OK && json) st = hwa_placement_write_json(pl, f);
    if (st == HWA_OK && !json) st = hwa_placement_print(pl, f, per_node);
    if (st) hwa__err(NULL, st, "%s", hwa_ctx_last_error(m->ctx));
    hwa_placement_free(pl);
    hwa_ctx_release(m->ctx, mark);
    m->seq_pos[0] = pos;
    return st;
}

/* ---- importance-matrix collection (nn/imatrix.c does the work) ------------ */

hwa_status hwa_llama_collect_imatrix(hwa_llama *m, hwa_imatrix *im) {
    if (!m) return hwa__err(NULL, HWA_E_MISUSE, "llama: NULL model");
    m->imatrix = im;
    return HWA_OK;
}

bool hwa__llama_matrix_name(const hwa_llama *m, const hwa_tensor *w, char *buf, size_t cap) {
    static const char *const names[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
    if (!m->cfg.shared_classifier && w == m->wcls) return snprintf(buf, cap, "output.weight") > 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const llama_layer *y = &m->layers[l];
        const hwa_tensor *const mats[7] = {y->wq, y->wk, y->wv, y->wo, y->w1, y->w2, y->w3};
        for (int k = 0; k < 7; k++)
            if (w == mats[k]) return snprintf(buf, cap, "blk.%d.%s.weight", l, names[k]) > 0;
    }
    return false;
}
