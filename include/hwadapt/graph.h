/* hwadapt — operations, compute graphs and autograd.
 *
 * Operations are built lazily: each builder checks its inputs' shapes and
 * dtypes, records a new tensor that describes the result, and computes
 * nothing. When the inputs do not fit, it returns NULL and records a message
 * that names the op and the shapes (hwa_ctx_last_error). A NULL input is
 * reported the same way, so builders can be nested and checked once.
 *
 * Broadcasting (add, sub, mul, div): b is broadcast to a's shape. Shapes are
 * aligned at the last dimension; each of b's extents must equal a's or be 1.
 * The result has a's shape.
 *
 * Dtypes: float ops take f32, f16 or bf16 and compute in f32; the result has
 * the dtype of the first operand (matmul: f32 unless both operands share a
 * dtype). Index inputs (embedding ids, labels, positions) are i32.
 *
 * Views share their source's storage and compute nothing; a view that is not
 * contiguous can be made so with hwa_cont. Ops accept non-contiguous inputs.
 */
#ifndef HWADAPT_GRAPH_H
#define HWADAPT_GRAPH_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- views and copies -------------------------------------------------- */

/* Same elements, new shape; a must be contiguous; element counts must match. */
hwa_tensor *hwa_reshape(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape);
/* Dimension i of the result is dimension perm[i] of a; perm is a permutation
 * of 0..ndim-1. */
hwa_tensor *hwa_permute(hwa_ctx *ctx, hwa_tensor *a, const int *perm);
/* Swap the last two dimensions. */
hwa_tensor *hwa_transpose(hwa_ctx *ctx, hwa_tensor *a);
/* Elements [start, start+len) along dimension dim (negative counts from the end). */
hwa_tensor *hwa_slice(hwa_ctx *ctx, hwa_tensor *a, int dim, int64_t start, int64_t len);
/* A contiguous copy (of a view, say). */
hwa_tensor *hwa_cont(hwa_ctx *ctx, hwa_tensor *a);
/* A contiguous copy converted to another dtype: a float dtype, or between
 * float and i32 (ONNX Cast): float -> i32 rounds toward zero as numpy's
 * astype does, saturating at the i32 range, NaN giving 0; i32 -> float
 * rounds to the nearest float; i32 -> i32 is exact. */
hwa_tensor *hwa_cast(hwa_ctx *ctx, hwa_tensor *a, hwa_dtype t);

/* ---- arithmetic -------------------------------------------------------- */

hwa_tensor *hwa_add(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);
hwa_tensor *hwa_sub(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);
hwa_tensor *hwa_mul(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);
hwa_tensor *hwa_div(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);
hwa_tensor *hwa_scale(hwa_ctx *ctx, hwa_tensor *a, float s);
/* a: [..., N], bias: [N]. */
hwa_tensor *hwa_bias_add(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *bias);
/* a: [..., M, K], b: [..., K, N] -> [..., M, N]. b's batch dimensions must
 * equal a's or be 1 (shared weights). With trans_a, a is read as [..., K, M]
 * and used transposed; with trans_b, b is [..., N, K] (PyTorch's Linear
 * weight layout). */
hwa_tensor *hwa_matmul(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);
hwa_tensor *hwa_matmul_ex(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, bool trans_a, bool trans_b);

/* ---- activations ------------------------------------------------------- */

hwa_tensor *hwa_relu(hwa_ctx *ctx, hwa_tensor *a);
hwa_tensor *hwa_gelu(hwa_ctx *ctx, hwa_tensor *a);    /* exact: x * Phi(x), with erf */
hwa_tensor *hwa_silu(hwa_ctx *ctx, hwa_tensor *a);    /* x * sigmoid(x) */
hwa_tensor *hwa_sigmoid(hwa_ctx *ctx, hwa_tensor *a);
hwa_tensor *hwa_tanh(hwa_ctx *ctx, hwa_tensor *a);

/* ---- normalisation, softmax -------------------------------------------- */

/* Over the last dimension. */
hwa_tensor *hwa_softmax(hwa_ctx *ctx, hwa_tensor *a);
hwa_tensor *hwa_log_softmax(hwa_ctx *ctx, hwa_tensor *a);
/* (x - mean) / sqrt(var + eps) * w + b over the last dimension (biased
 * variance, as PyTorch). w and b ([N]) may be NULL. */
hwa_tensor *hwa_layernorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *b, float eps);
/* x / sqrt(mean(x^2) + eps) * w over the last dimension; w may be NULL. */
hwa_tensor *hwa_rmsnorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, float eps);

/* ---- transformer pieces ------------------------------------------------ */

/* table: [V, D] (float), ids: i32 of any shape [...] -> [..., D]. An id
 * outside [0, V) is an HWA_E_RANGE error when the graph runs. */
hwa_tensor *hwa_embedding(hwa_ctx *ctx, hwa_tensor *table, hwa_tensor *ids);

typedef enum hwa_rope_mode {
    HWA_ROPE_INTERLEAVED = 0, /* rotate pairs (2i, 2i+1): llama2.c, GGUF llama */
    HWA_ROPE_HALVES = 1       /* rotate pairs (i, i + D/2): GPT-NeoX, Hugging Face */
} hwa_rope_mode;
/* x: [..., T, H, D] with D even; pos: i32 [T] (absolute positions).
 * Pair i of position p is rotated by p * theta^(-2i/D). */
hwa_tensor *hwa_rope(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *pos, float theta, hwa_rope_mode mode);

/* Scaled dot-product attention. q: [B, Hq, Tq, D], k: [B, Hkv, Tk, D],
 * v: [B, Hkv, Tk, Dv] -> [B, Hq, Tq, Dv]. Hq must be a multiple of Hkv
 * (grouped-query attention: query head h reads kv head h / (Hq / Hkv)).
 * scale <= 0 means 1/sqrt(D). With causal, query i sits at position
 * Tk - Tq + i and sees keys 0 .. that position (so a decode step with a KV
 * cache is Tq = 1). */
hwa_tensor *hwa_attention(hwa_ctx *ctx, hwa_tensor *q, hwa_tensor *k, hwa_tensor *v, bool causal, float scale);

/* Concatenate along dimension dim; all other extents must match. */
hwa_tensor *hwa_concat(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, int dim);

/* Writes values into dest along dimension dim starting at start, in place,
 * when the graph runs; returns a tensor that stands for dest after the
 * write (same storage, dest's shape). dest must be a leaf with data that
 * outlives the graph (a KV cache); values must match dest's shape except
 * along dim. Read the cache through views of the result (hwa_slice), so
 * that the reads are ordered after the write. Not differentiable. */
hwa_tensor *hwa_write_slice(hwa_ctx *ctx, hwa_tensor *dest, int dim, int64_t start, hwa_tensor *values);

/* The KV cache of several sequences, indexed at run time: cache is a leaf
 * [C, H, T, D] (C sequences of T positions), values [B, H, n, D], at an i32
 * tensor [B, 2] whose row b names a sequence c and a position p; when the
 * graph runs, values[b] goes to cache[c] at positions p .. p+n-1 (rows in
 * order b). Returns a tensor that stands for cache after the write (same
 * storage). Because the sequence and position are data, not part of the
 * graph, one graph serves every decode step. A c or p out of range is an
 * HWA_E_RANGE error when the graph runs. Not differentiable. */
hwa_tensor *hwa_cache_write(hwa_ctx *ctx, hwa_tensor *cache, hwa_tensor *values, hwa_tensor *at);
/* Causal attention of q [B, Hq, n, D] over caches k [C, Hkv, T, D] and v
 * [C, Hkv, T, Dv] with at [B, 2] as hwa_cache_write's: row b attends to the
 * first p + n positions of sequence c, query i sitting at position p + i;
 * the result equals hwa_attention(q[b], k[c][:p+n], v[c][:p+n], causal).
 * Pass the caches through hwa_cache_write's result so that the reads are
 * ordered after the write. scale <= 0: 1/sqrt(D). Not differentiable. */
hwa_tensor *hwa_cache_attention(hwa_ctx *ctx, hwa_tensor *q, hwa_tensor *k_cache, hwa_tensor *v_cache, hwa_tensor *at,
                                float scale);

/* ---- reductions and losses --------------------------------------------- */

/* Over every element -> [1]. */
/* x [M, K] (float) times the transpose of a sparse [N, K] matrix W in
 * compressed rows: row_ptr i32 [N + 1], col i32 [nnz] (the columns of row n
 * are col[row_ptr[n] .. row_ptr[n+1])), vals f32 [nnz]; the result is f32
 * [M, N]. Indices that do not describe such a matrix (row_ptr not starting
 * at 0, decreasing or not ending at nnz, a column outside [0, K)) are
 * HWA_E_RANGE from the kernel, naming the row. Not differentiable. */
hwa_tensor *hwa_spmm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *row_ptr, hwa_tensor *col, hwa_tensor *vals);
/* x f32 [M, K] times the transpose of int8 weights w [N, K] (value =
 * w * w_scale[n], per output channel), in integer arithmetic: activations
 * are quantized to u8 with scale act_scale and zero point act_zero (static,
 * from calibration; act_zero in [0, 255]), or per row from the row's range
 * when act_scale is 0 (dynamic); products sum in int32 (core/ops_list.h
 * gives the exact rule). Result f32 [M, N]. Not differentiable. */
hwa_tensor *hwa_qlinear(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *w_scale, float act_scale,
                        int act_zero);
/* 2-D convolution (cross-correlation, as PyTorch's and ONNX's Conv). */
typedef struct hwa_conv2d_params {
    int stride[2];    /* h, w; 0 means 1 */
    int pad[4];       /* top, left, bottom, right (>= 0) */
    int dilation[2];  /* h, w; 0 means 1 */
    int groups;       /* 0 means 1; C and O divisible by it */
} hwa_conv2d_params;
/* x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or NULL (no bias) -> [N, O, OH, OW],
 * OH = (H + pad_t + pad_b - dil_h*(KH-1) - 1) / stride_h + 1 (likewise OW); p NULL means all
 * defaults (stride 1, no pads, dilation 1, one group). Differentiable in x, w and b. NULL with
 * HWA_E_SHAPE (channels that do not fit, groups not dividing C and O, an output smaller than 1x1,
 * a bias not [O]) or HWA_E_INVALID (negative strides, pads, dilations or groups) recorded. */
hwa_tensor *hwa_conv2d(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *w, hwa_tensor *b, const hwa_conv2d_params *p);
hwa_tensor *hwa_sum(hwa_ctx *ctx, hwa_tensor *a);
hwa_tensor *hwa_mean(hwa_ctx *ctx, hwa_tensor *a);
/* Over one dimension, kept with extent 1. */
hwa_tensor *hwa_sum_dim(hwa_ctx *ctx, hwa_tensor *a, int dim);
hwa_tensor *hwa_mean_dim(hwa_ctx *ctx, hwa_tensor *a, int dim);
/* logits: [N, C], labels: i32 [N] -> [1], the mean of -log softmax(logits)[label].
 * A label outside [0, C) is an HWA_E_RANGE error when the graph runs. */
hwa_tensor *hwa_cross_entropy(hwa_ctx *ctx, hwa_tensor *logits, hwa_tensor *labels);
/* mean((a - b)^2) -> [1]; shapes must be equal. */
hwa_tensor *hwa_mse(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b);

/* ---- elementwise and indexing ops for ONNX models ------------------------ */

typedef enum hwa_map_fn {
    HWA_MAP_ERF, HWA_MAP_SQRT, HWA_MAP_EXP, HWA_MAP_LOG, HWA_MAP_NEG, HWA_MAP_ABS, HWA_MAP_RECIP,
    HWA_MAP_FLOOR, HWA_MAP_CEIL, HWA_MAP_ROUND /* half to even */, HWA_MAP_SIGN, HWA_MAP_SIN, HWA_MAP_COS,
    HWA_MAP_LEAKY_RELU /* a: alpha */, HWA_MAP_CLIP /* [a, b] */, HWA_MAP_POWC /* x^a */,
    HWA_MAP_ELU /* a */, HWA_MAP_SOFTPLUS, HWA_MAP_HARD_SIGMOID /* max(0, min(1, a*x + b)) */,
    HWA_MAP_NOT /* x == 0 ? 1 : 0 */,
    HWA_MAP_COUNT
} hwa_map_fn;
/* dst = fn(x) elementwise (same shape and dtype; x float). Computed in f32 as
 * ONNX's numpy reference does: erf exact, round half to even, leaky relu
 * x < 0 ? a*x : x, elu x < 0 ? a*(exp(x) - 1) : x, softplus log(1 + exp(x))
 * without overflow; clip, leaky relu and hard sigmoid pass a NaN through.
 * Differentiable (floor, ceil, round, sign, not: zero gradient). An fn outside
 * the enum is HWA_E_INVALID. */
hwa_tensor *hwa_map(hwa_ctx *ctx, hwa_tensor *x, hwa_map_fn fn, float a, float b);
typedef enum hwa_binary_fn {
    HWA_BIN_POW, HWA_BIN_MAX, HWA_BIN_MIN, HWA_BIN_EQ, HWA_BIN_LT, HWA_BIN_LE, HWA_BIN_GT, HWA_BIN_GE,
    HWA_BIN_AND, HWA_BIN_OR, HWA_BIN_XOR, HWA_BIN_MOD /* fmod: sign of the dividend */,
    HWA_BIN_COUNT
} hwa_binary_fn;
/* dst = fn(a, b) with b broadcast to a's shape by hwa_add's rule; comparisons and logic give 1.0 / 0.0
 * (logic reads nonzero as true); max and min pass a NaN of either side through. Differentiable for
 * POW (both), MAX, MIN (the gradient goes to the chosen side; ties to a); comparisons/logic/mod have
 * no gradient. */
hwa_tensor *hwa_binary(hwa_ctx *ctx, hwa_tensor *a, hwa_tensor *b, hwa_binary_fn fn);
/* dst = cond != 0 ? a : b; cond, a, b of one shape (callers expand first); cond float. Differentiable
 * in a and b. */
hwa_tensor *hwa_where(hwa_ctx *ctx, hwa_tensor *cond, hwa_tensor *a, hwa_tensor *b);
/* ONNX Gather: idx i32 of any shape (negative counts from the end; out of range is HWA_E_RANGE from the
 * kernel, naming the index); dst = data.shape[:axis] + idx.shape + data.shape[axis+1:] (<= 4 dims;
 * more is HWA_E_SHAPE); axis negative counts from the end. data float or i32 (i32 copied exactly).
 * Differentiable in data (float). */
hwa_tensor *hwa_gather(hwa_ctx *ctx, hwa_tensor *data, hwa_tensor *idx, int axis);
/* a broadcast to shape (hwa_add's rule for src1: extents equal or 1, missing leading dims 1). */
hwa_tensor *hwa_expand(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape);
/* a summed (mean: averaged) down to shape, keeping dims (extents equal or 1): ReduceSum/ReduceMean with
 * keepdims=1 over the axes where shape has 1. */
hwa_tensor *hwa_reduce_to(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape, bool mean);
/* max (or min) over the axes where shape has 1, keeping dims; a NaN wins. Gradient to the first arg-max. */
hwa_tensor *hwa_reduce_max_to(hwa_ctx *ctx, hwa_tensor *a, int ndim, const int64_t *shape, bool min);
/* ---- vision: pooling, batch normalization, dropout ---------------------- */

typedef enum hwa_pool_kind { HWA_POOL_MAX = 0, HWA_POOL_AVG = 1 } hwa_pool_kind;
typedef struct hwa_pool2d_params {
    hwa_pool_kind kind;
    int kernel[2];          /* h, w (>= 1) */
    int stride[2];          /* 0 means 1 */
    int pad[4];             /* top, left, bottom, right */
    int dilation[2];        /* 0 means 1 (max pooling only; avg needs 1) */
    bool ceil_mode;         /* output size rounded up, as ONNX/PyTorch ceil_mode */
    bool count_include_pad; /* avg: divide by the full window, pads included */
} hwa_pool2d_params;
/* x [N, C, H, W] -> [N, C, OH, OW]. Max: padding never wins; avg without count_include_pad divides
 * by the window's in-image elements. Differentiable. p is read during the call only (NULL:
 * HWA_E_MISUSE). Windows must fit the padded image and each must hold an in-image element (else
 * HWA_E_SHAPE); kernel, stride and dilation >= 1 and pads >= 0 (else HWA_E_INVALID). */
hwa_tensor *hwa_pool2d(hwa_ctx *ctx, hwa_tensor *x, const hwa_pool2d_params *p);
/* x [N, C, H, W] -> [N, C, 1, 1], the mean of each plane. Differentiable. Built from a sum and a
 * scale (no op of its own). */
hwa_tensor *hwa_global_avg_pool(hwa_ctx *ctx, hwa_tensor *x);
/* Inference batch normalization over dim 1 of x [N, C] or [N, C, H, W] (or [N, C, L]):
 * y = (x - mean) / sqrt(var + eps) * scale + bias; scale, bias, mean, var [C]. Differentiable in x,
 * scale and bias. The op takes at most four inputs, so the builder packs mean and var into one
 * [2, C] tensor (a concat node the graph computes; the leaves are read at each run, not copied at
 * build time). */
hwa_tensor *hwa_batchnorm(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *scale, hwa_tensor *bias, hwa_tensor *mean,
                          hwa_tensor *var, float eps);
/* Training batch normalization: normalizes with the batch's own mean and biased variance over every dim
 * but 1; running [2, C] (row 0 mean, row 1 variance; a persistent leaf) is updated in place at each
 * compute as running = (1 - momentum) * running + momentum * batch stat (the variance's unbiased, as
 * PyTorch). Differentiable in x, scale, bias. running must be an f32 leaf (HWA_E_MISUSE otherwise). */
hwa_tensor *hwa_batchnorm_train(hwa_ctx *ctx, hwa_tensor *x, hwa_tensor *scale, hwa_tensor *bias,
                                hwa_tensor *running, float eps, float momentum);
/* Training dropout: each element kept with probability 1 - ratio and scaled by 1/(1 - ratio), the mask a
 * pure function of (seed[0], seed[1], element index) (counter-based hash), so it does not depend on
 * threads; seed an i32 [2] leaf the caller sets per step. ratio in [0, 1). Differentiable in x (same
 * mask). Inference dropout is the identity: callers simply do not add the op. */
hwa_tensor *hwa_dropout(hwa_ctx *ctx, hwa_tensor *x, float ratio, hwa_tensor *seed);

/* ---- graphs ------------------------------------------------------------ */

typedef struct hwa_graph hwa_graph;
typedef struct hwa_backend hwa_backend;

/* An empty graph owned by ctx. */
hwa_graph *hwa_graph_new(hwa_ctx *ctx);
/* Adds out and everything it depends on, in an order where every node comes
 * after its inputs, and marks out as an output (kept alive to the end). */
hwa_status hwa_graph_build_forward(hwa_graph *g, hwa_tensor *out);
/* Appends the backward pass of loss (a tensor of one element already in the
 * graph): every parameter that loss depends on gets a gradient tensor, and
 * each run of the graph adds d loss / d param into it (so gradients
 * accumulate over runs until hwa_graph_zero_grads). Call once per graph. */
hwa_status hwa_graph_build_backward(hwa_graph *g, hwa_tensor *loss);

typedef enum hwa_grad_mode {
    HWA_GRAD_ACCUMULATE = 0, /* each run adds into the gradients (hwa_graph_zero_grads clears them) */
    HWA_GRAD_OVERWRITE = 1   /* each run writes the gradients afresh: no zeroing pass, no read of the
                                old values (a training step without gradient accumulation) */
} hwa_grad_mode;
/* hwa_graph_build_backward with a choice of how runs combine gradients. */
hwa_status hwa_graph_build_backward_ex(hwa_graph *g, hwa_tensor *loss, hwa_grad_mode mode);
int hwa_graph_n_nodes(const hwa_graph *g);
hwa_tensor *hwa_graph_node(const hwa_graph *g, int i);

typedef enum hwa_plan_mode {
    HWA_PLAN_REUSE = 0, /* lifetimes: intermediates share one arena, in place where safe */
    HWA_PLAN_NAIVE = 1  /* every intermediate its own region (for checking the planner) */
} hwa_plan_mode;

typedef struct hwa_plan_stats {
    size_t arena_bytes;        /* planned peak of intermediates: the arena's size */
    size_t intermediate_bytes; /* sum of all intermediates' sizes */
    size_t persistent_bytes;   /* gradients of parameters (kept across runs) */
    int n_intermediates;
    int n_inplace;             /* intermediates that reuse an input's storage */
} hwa_plan_stats;

/* Plans memory without allocating anything (a dry run): stats may be NULL. */
hwa_status hwa_graph_plan(hwa_graph *g, hwa_plan_mode mode, hwa_plan_stats *stats);
/* Plans and allocates the arena and the gradients on backend be. Leaves
 * (inputs, parameters) must already have data (hwa_ctx_alloc_leaves). */
hwa_status hwa_graph_alloc(hwa_graph *g, hwa_backend *be, hwa_plan_mode mode, hwa_plan_stats *stats);
/* Runs every node. Allocates with HWA_PLAN_REUSE first if hwa_graph_alloc
 * was not called. Errors found while running (an id out of range) are
 * returned with a message naming the op. */
hwa_status hwa_graph_compute(hwa_graph *g, hwa_backend *be);
/* Sets every parameter gradient of the graph to zero. */
hwa_status hwa_graph_zero_grads(hwa_graph *g);

/* The parameters of a graph with a backward pass, in the order they were
 * first reached; n_params counts them. */
int hwa_graph_n_params(const hwa_graph *g);
hwa_tensor *hwa_graph_param(const hwa_graph *g, int i);

#ifdef __cplusplus
}
#endif
#endif
