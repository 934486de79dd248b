/* The op table: the one place that lists every operation.
 *
 * X(NAME, "name", n_src, differentiable)
 *
 * For each row, the core defines the shape rule hwa__infer_<name> (ops.c,
 * checks inputs and sets the result's shape and dtype) and, when
 * differentiable, the backward rule hwa__back_<name> (autograd.c, builds the
 * gradient of each input from graph ops). The CPU reference backend defines
 * the forward kernel hwa__ref_<name> (backends/cpu/ref/). Adding a row without
 * the three functions does not link.
 *
 * Semantics of each op (srcs are dst->src[0..n_src-1]; shapes outermost first;
 * "rows" are the last dimension; float data is read and written through f32):
 *
 *  NONE        a leaf: input or parameter, computes nothing.
 *  RESHAPE     view: same storage, new shape (src contiguous).
 *  PERMUTE     view: dst dim i = src dim p.i[i].
 *  SLICE       view: src dim p.i[0] restricted to [p.l[0], p.l[0] + dst extent).
 *  CONT        dst (contiguous, dtype may differ) = src element by element.
 *  FILL        every element = p.f[0].
 *  ADD SUB MUL DIV  dst = src0 op src1, src1 broadcast to dst's shape (aligned
 *              at the last dim; src1 extents equal or 1; missing leading dims = 1).
 *  SCALE       dst = src0 * p.f[0].
 *  MATMUL      src0 [..,M,K] (or [..,K,M] if p.i[0]), src1 [..,K,N] (or [..,N,K]
 *              if p.i[1]); dst [..,M,N]; src1 batch dims equal dst's or 1.
 *  RELU GELU SILU SIGMOID TANH   elementwise; gelu is exact (erf).
 *  UNARY_BACK  dst = src0 * f'(src1) where f is the activation whose op code
 *              is p.i[0] (src0 = gradient of the output, src1 = forward input).
 *  SOFTMAX LOG_SOFTMAX   over rows, max-subtracted.
 *  SOFTMAX_BACK  src0 = g, src1 = y (forward output); p.i[0] = 0: softmax,
 *              dst = y * (g - sum_row(g * y)); p.i[0] = 1: log_softmax,
 *              dst = g - exp(y) * sum_row(g).
 *  NORM        per row: (x - mean) / sqrt(var + p.f[0]), biased variance.
 *  NORM_BACK   src0 = g, src1 = x; with xh the normalised row and r =
 *              1/sqrt(var + eps): dst = r * (g - mean(g) - xh * mean(g * xh)).
 *  RMS_NORM    per row: x * r, r = 1/sqrt(mean(x^2) + p.f[0]).
 *  RMS_NORM_BACK src0 = g, src1 = x: dst = r * g - x * r^3 * mean(g * x).
 *  EMBEDDING   src0 table [V, D], src1 i32 ids [...]; dst [..., D] = rows.
 *  EMBEDDING_BACK src0 g [..., D], src1 ids; dst [V, D] = 0, then
 *              dst[ids[j]] += g[j] for every j in order.
 *  ROPE        src0 x [..,T,H,D], src1 i32 pos [T]; p.f[0] theta; p.i[0] mode
 *              (hwa_rope_mode); p.i[1] = 1 rotates by minus the angle (the
 *              backward). Pair (a, b) of index i at position p, angle
 *              t = p * theta^(-2i/D): (a cos t - b sin t, a sin t + b cos t).
 *              Interleaved pairs are (2i, 2i+1); halves are (i, i + D/2).
 *  ATTENTION   src0 q [B,Hq,Tq,D], src1 k [B,Hkv,Tk,D], src2 v [B,Hkv,Tk,Dv];
 *              dst [B,Hq,Tq,Dv]; p.f[0] scale; p.i[0] causal (query i at
 *              position Tk - Tq + i sees keys <= it); kv head = h / (Hq/Hkv).
 *  ATTENTION_BACK src0 g (d dst), src1 q, src2 k, src3 v; p.i[0] causal,
 *              p.i[1] which: 0 -> dst = dq, 1 -> dk, 2 -> dv; p.f[0] scale.
 *  CONCAT      along dim p.i[0]: src0 then src1.
 *  SLICE_BACK  dst (shape of the sliced source) = 0 except the region of dim
 *              p.i[0] starting at p.l[0], which is src0.
 *  REPEAT      dst = src0 broadcast to dst's shape (same rule as ADD's src1).
 *  SUM_TO      dst = src0 summed down to dst's shape (the inverse of REPEAT):
 *              every dst element is the sum of the src elements that REPEAT
 *              would have copied it to.
 *  WRITE_SLICE src0 a persistent tensor (a leaf: a KV cache, say), src1
 *              values; dst is src0 itself after the write (same storage):
 *              the region of dim p.i[0] starting at p.l[0] with src1's
 *              extent along it is overwritten with src1, the rest untouched.
 *  CACHE_WRITE src0 a persistent tensor [C, H, T, D] (a leaf: the KV caches
 *              of C sequences), src1 values [B, H, n, D], src2 i32 at [B, 2]
 *              (per row b: a sequence c = at[b,0] and a position p = at[b,1]);
 *              dst is src0 itself after the write (same storage, like
 *              WRITE_SLICE): values[b, :, i, :] overwrites src0[c, :, p + i, :]
 *              for b in order. The index comes from a tensor so that one graph
 *              serves every decode step. Needs 0 <= c < C, 0 <= p <= T - n.
 *  CACHE_ATTENTION src0 q [B,Hq,n,D], src1 k cache [C,Hkv,T,D], src2 v cache
 *              [C,Hkv,T,Dv], src3 i32 at [B, 2] as CACHE_WRITE's; dst
 *              [B,Hq,n,Dv]: for each b, causal ATTENTION of q[b] over the
 *              first p + n keys of sequence c (query i at position p + i sees
 *              keys <= p + i); p.f[0] scale; kv head = h / (Hq/Hkv). Equal to
 *              ATTENTION over the slice [0, p + n) of that sequence's cache.
 *  SPMM        src0 x [M, K] (float), a sparse [N, K] matrix W in compressed
 *              rows: src1 i32 row_ptr [N + 1], src2 i32 col [nnz], src3 f32
 *              vals [nnz]; dst [M, N] f32 = x W^T, where row n of W holds
 *              vals[j] at column col[j] for row_ptr[n] <= j < row_ptr[n+1]
 *              (summed in j order; no other entry). Needs row_ptr[0] = 0,
 *              row_ptr non-decreasing, row_ptr[N] = nnz, 0 <= col < K.
 *  QLINEAR     src0 x [M, K] f32, src1 i8 w [N, K], src2 f32 w_scale [N];
 *              dst [M, N] f32: int8 products with int32 sums. Activations
 *              become u8 with a scale s and zero point z: static when p.f[0]
 *              > 0 (s = p.f[0], inv = p.f[1] = 1/s as the builder computed
 *              it, z = p.i[0] in [0, 255]); dynamic per row when p.f[0] = 0
 *              (lo = min(0, min_k x), hi = max(0, max_k x), s = (hi - lo) /
 *              255 or 1 when hi = lo, inv = 1 / s, z = nearbyint(-lo * inv)
 *              clamped to [0, 255]). xq = clamp(nearbyint(x * inv) + z, 0,
 *              255), a NaN x giving 0; acc = sum_k (xq - z) * w[n,k] (exact, int32);
 *              dst = (float)acc * (s * w_scale[n]).
 *  CONV2D      src0 x [N, C, H, W], src1 w [O, C/G, KH, KW]; dst [N, O, OH,
 *              OW] = cross-correlation (PyTorch/ONNX Conv without bias):
 *              dst[n,o,i,j] = sum_{c,a,b} x[n, g*C/G + c, i*sh - pt + a*dh,
 *              j*sw - pl + b*dw] * w[o,c,a,b] with g = o / (O/G), positions
 *              outside the image reading 0. p.i: [0] sh, [1] sw, [2] pt,
 *              [3] pl, [4] pb, [5] pr, [6] dh, [7] dw (strides and dilations
 *              >= 1, pads >= 0); p.l[0] G (>= 1, dividing C and O).
 *              OH = (H + pt + pb - dh*(KH-1) - 1) / sh + 1, likewise OW.
 *              The bias is not an input: hwa_conv2d adds it as an ADD of b
 *              [O, 1, 1] (see ops.c).
 *  CONV2D_BACK_DATA  src0 g [N, O, OH, OW], src1 w; dst [N, C, H, W] (the
 *              forward x's shape, given by the builder) = the gradient of
 *              CONV2D with respect to x; params as CONV2D's.
 *  CONV2D_BACK_WEIGHT  src0 g [N, O, OH, OW], src1 x; dst [O, C/G, KH, KW]
 *              (the forward w's shape, given by the builder) = the gradient
 *              of CONV2D with respect to w; params as CONV2D's.
 *  CROSS_ENTROPY  src0 logits [N,C], src1 i32 labels [N]; dst [1] =
 *              mean over rows of logsumexp(row) - row[label].
 *  CROSS_ENTROPY_BACK  src0 g [1], src1 logits, src2 labels; dst [N,C] =
 *              g / N * (softmax(row) - onehot(label)).
 *  SUM_SQ      dst [1] = sum of the squares of every element of src0 (in
 *              double, flat order).
 *
 * Elementwise and indexing ops for ONNX models (hwa_map .. hwa_reduce_max_to).
 * Numerics follow ONNX's numpy reference, in f32: erf is erff, ROUND is
 * nearbyintf (half to even), POWC and POW powf, MOD fmodf (the dividend's
 * sign).
 *  MAP         dst = fn(src0), fn = p.i[0] (hwa_map_fn), parameters p.f[0]
 *              = a, p.f[1] = b (graph.h gives each fn; CLIP, LEAKY_RELU,
 *              HARD_SIGMOID and MAX/MIN pass a NaN through).
 *  MAP_BACK    src0 g, src1 x (MAP's input), p as MAP's: dst = g * fn'(x);
 *              0 (not g * 0) for the piecewise-constant fns (FLOOR, CEIL,
 *              ROUND, SIGN, NOT).
 *  BINARY      dst = fn(src0, src1), fn = p.i[0] (hwa_binary_fn), src1
 *              broadcast as ADD's; comparisons and logic give 1 or 0.
 *  WHERE       src0 cond, src1 a, src2 b (one shape): dst = cond != 0 ? a : b.
 *  GATHER      src0 data, src1 i32 idx, axis p.i[0] (0 <= axis < data's
 *              ndim); dst = data.shape[:axis] + idx.shape + data.shape[axis+1:]
 *              takes data[.., j, ..] with j = idx[..] (+ the extent when
 *              negative); an index outside [-extent, extent) is HWA_E_RANGE.
 *  GATHER_BACK src0 g (GATHER's result shape), src1 idx, p.i[0] axis; dst
 *              (data's shape) = 0, then each g element added into the data
 *              element GATHER read it from, in g's row-major order.
 *  REDUCE_MAX  p.i[1] = 0: dst (extents of src0's or 1) = the max (p.i[0]:
 *              min) of the src elements SUM_TO would have summed into it, a
 *              NaN winning; p.i[1] = 1: dst has src0's shape and is 1 at the
 *              first (row-major) element that wins its group, else 0 (the
 *              gradient's mask), the groups those of a reduction over the
 *              axes k of the shape padded to 4 dims on the left whose bit k
 *              (1 << k) is set in p.i[2].
 *
 * Optimizer updates. Each writes into src0, a persistent parameter (a leaf),
 * and dst is src0 itself after the update (same storage, like WRITE_SLICE);
 * the kernel also updates its state tensor in place. src2 is the sum of the
 * squares of every gradient of the model ([1], from SUM_SQ and ADD): when
 * the max norm is > 0 the gradient is first scaled by
 * c = min(1, max_norm / (sqrt(src2) + 1e-6)) (global-norm clipping, as
 * PyTorch's clip_grad_norm_). Hyper-parameters are op params, which the
 * optimizer changes between runs.
 *  SGD_UPDATE  src0 param, src1 grad (param's shape), src2 sum of squares,
 *              src3 momentum buffer (param's element count; only read and
 *              written when p.i[0] != 0). p.f: [0] lr, [1] momentum,
 *              [2] weight decay, [3] max norm; p.i[1] != 0: Nesterov.
 *              g = c*grad + wd*param; with momentum buf = mom*buf + g and
 *              g = buf (Nesterov: g + mom*buf); param -= lr*g.
 *  ADAM_UPDATE src0 param, src1 grad, src2 sum of squares, src3 state
 *              [2, n] (n = param's element count: first moments, then
 *              second moments). p.f: [0] lr, [1] beta1, [2] beta2, [3] eps,
 *              [4] weight decay, [5] max norm, [6] 1 - beta1^t,
 *              [7] sqrt(1 - beta2^t) (t = the step, counted from 1);
 *              p.i[0] != 0: decoupled weight decay (AdamW: param *=
 *              1 - lr*wd first) else L2 (g += wd*param). m = b1*m + (1-b1)*g,
 *              v = b2*v + (1-b2)*g*g, param -= lr/[6] * m / (sqrt(v)/[7] + eps).
 *
 * Index inputs (ids, labels, positions) out of range are HWA_E_RANGE errors
 * from the kernel, with a message naming the op, the index and the bound.
 *
 * Vision ops (x is [N, C, H, W]; batch normalization also takes [N, C] and
 * [N, C, L], its channel dim being 1 and S the product of the dims after it).
 *  POOL2D      src0 x; dst [N, C, OH, OW]. p.i: [0] hwa_pool_kind, [1] kh,
 *              [2] kw, [3] stride h, [4] stride w, [5] pad top, [6] pad left,
 *              [7] flags (bit 0 count_include_pad, bit 1 ceil_mode); p.l:
 *              [0] pad bottom, [1] pad right; p.f: [0] dilation h, [1]
 *              dilation w (small integers, exact in f32). Window (oh, ow)
 *              covers rows oh*sh - pt + i*dh (i < kh), likewise columns. Max:
 *              the largest in-image tap (padding never wins; NaN wins; ties
 *              keep the first in row-major tap order). Avg: sum of in-image
 *              taps divided by the in-image tap count, or with
 *              count_include_pad by the taps inside the padded extent
 *              [-pt, H + pb) x [-pl, W + pr) (as PyTorch; ceil_mode windows
 *              that run past it count only up to its end). OH = floor or ceil
 *              of (H + pt + pb - dh*(kh-1) - 1) / sh, plus 1, less 1 when
 *              ceil_mode's last window would start at or past H + pt. Every
 *              window holds at least one in-image tap (the shape rule checks).
 *  POOL2D_BACK src0 g [N, C, OH, OW], src1 x; params as POOL2D; dst like x =
 *              0, then for each window in row-major order: max adds g to the
 *              first arg-max tap; avg adds g / divisor to every in-image tap.
 *  BATCHNORM   src0 x, src1 scale [C], src2 bias [C], src3 stats [2, C] (row
 *              0 mean, row 1 variance; hwa_batchnorm packs them so the op
 *              fits HWA_MAX_SRC); p.f[0] eps: per channel, in double, r =
 *              1/sqrt(var + eps), a = scale * r and b = bias - mean * a, both
 *              rounded to f32; dst = x * a + b in f32 (no fused multiply-add).
 *  BATCHNORM_BACK src0 g, src1 x, src2 scale, src3 stats; p.f[0] eps;
 *              p.i[0] = 0: dst (like x) = g * scale * r; 1: dst [C] =
 *              sum over n, s of g * (x - mean) * r (in double, n then s).
 *  BATCHNORM_TRAIN src0 x, src1 scale, src2 bias, src3 running [2, C] f32 (a
 *              persistent leaf, updated in place like ADAM_UPDATE's state);
 *              p.f: [0] eps, [1] momentum. With the batch's mean m and biased
 *              variance v per channel (in double over n then s; M = N*S
 *              values), dst = x * a + b as BATCHNORM's with m and v, and
 *              running = (1 - momentum) * running + momentum * (m, v * M /
 *              (M - 1)) (M = 1: v itself).
 *  BATCHNORM_TRAIN_BACK src0 g, src1 x, src2 scale; p.f[0] eps; with xh the
 *              normalised x and r = 1/sqrt(v + eps) from x's batch stats:
 *              p.i[0] = 0: dst (like x) = scale * r * (g - mean(g) - xh *
 *              mean(g * xh)) (means per channel over M); 1: dst [C] =
 *              sum(g * xh) per channel.
 *  DROPOUT     src0 x, src1 i32 seed [2]; p.f[0] ratio in [0, 1): element i
 *              (flat row-major index) is kept when hash(seed0, seed1, i) >> 40
 *              >= the threshold floor(ratio * 2^24), and is then x * (1 /
 *              (1 - ratio)) (the factor rounded to f32 once), else 0. hash is
 *              hwa__dropout_hash (backends/cpu/ref/ref.h); the backward is DROPOUT of the
 *              gradient with the same seed.
 */
#define HWA_OP_LIST(X)                                    \
    X(NONE,               "none",               0, 0)     \
    X(RESHAPE,            "reshape",            1, 1)     \
    X(PERMUTE,            "permute",            1, 1)     \
    X(SLICE,              "slice",              1, 1)     \
    X(CONT,               "cont",               1, 1)     \
    X(FILL,               "fill",               0, 0)     \
    X(ADD,                "add",                2, 1)     \
    X(SUB,                "sub",                2, 1)     \
    X(MUL,                "mul",                2, 1)     \
    X(DIV,                "div",                2, 1)     \
    X(SCALE,              "scale",              1, 1)     \
    X(MATMUL,             "matmul",             2, 1)     \
    X(RELU,               "relu",               1, 1)     \
    X(GELU,               "gelu",               1, 1)     \
    X(SILU,               "silu",               1, 1)     \
    X(SIGMOID,            "sigmoid",            1, 1)     \
    X(TANH,               "tanh",               1, 1)     \
    X(UNARY_BACK,         "unary_back",         2, 0)     \
    X(SOFTMAX,            "softmax",            1, 1)     \
    X(LOG_SOFTMAX,        "log_softmax",        1, 1)     \
    X(SOFTMAX_BACK,       "softmax_back",       2, 0)     \
    X(NORM,               "norm",               1, 1)     \
    X(NORM_BACK,          "norm_back",          2, 0)     \
    X(RMS_NORM,           "rms_norm",           1, 1)     \
    X(RMS_NORM_BACK,      "rms_norm_back",      2, 0)     \
    X(EMBEDDING,          "embedding",          2, 1)     \
    X(EMBEDDING_BACK,     "embedding_back",     2, 0)     \
    X(ROPE,               "rope",               2, 1)     \
    X(ATTENTION,          "attention",          3, 1)     \
    X(ATTENTION_BACK,     "attention_back",     4, 0)     \
    X(CONCAT,             "concat",             2, 1)     \
    X(SLICE_BACK,         "slice_back",         1, 0)     \
    X(REPEAT,             "repeat",             1, 1)     \
    X(SUM_TO,             "sum_to",             1, 1)     \
    X(CROSS_ENTROPY,      "cross_entropy",      2, 1)     \
    X(CROSS_ENTROPY_BACK, "cross_entropy_back", 3, 0)     \
    X(WRITE_SLICE,        "write_slice",        2, 0)     \
    X(SUM_SQ,             "sum_sq",             1, 0)     \
    X(CACHE_WRITE,        "cache_write",        3, 0)     \
    X(CACHE_ATTENTION,    "cache_attention",    4, 0)     \
    X(SPMM,               "spmm",               4, 0)     \
    X(QLINEAR,            "qlinear",            3, 0)     \
    X(CONV2D,             "conv2d",             2, 1)     \
    X(CONV2D_BACK_DATA,   "conv2d_back_data",   2, 0)     \
    X(CONV2D_BACK_WEIGHT, "conv2d_back_weight", 2, 0)     \
    X(SGD_UPDATE,         "sgd_update",         4, 0)     \
    X(ADAM_UPDATE,        "adam_update",        4, 0)     \
    X(MAP,                "map",                1, 1)     \
    X(MAP_BACK,           "map_back",           2, 0)     \
    X(BINARY,             "binary",             2, 1)     \
    X(WHERE,              "where",              3, 1)     \
    X(GATHER,             "gather",             2, 1)     \
    X(GATHER_BACK,        "gather_back",        2, 0)     \
    X(REDUCE_MAX,         "reduce_max",         1, 1)     \
    X(POOL2D,             "pool2d",             1, 1)     \
    X(POOL2D_BACK,        "pool2d_back",        2, 0)     \
    X(BATCHNORM,          "batchnorm",          4, 1)     \
    X(BATCHNORM_BACK,     "batchnorm_back",     4, 0)     \
    X(BATCHNORM_TRAIN,    "batchnorm_train",    4, 1)     \
    X(BATCHNORM_TRAIN_BACK, "batchnorm_train_back", 3, 0) \
    X(DROPOUT,            "dropout",            2, 1)

