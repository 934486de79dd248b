/* The memory planner's promise: the planned peak (arena_bytes) of a graph is
 * what the lifetimes of its intermediates imply, written out by hand here
 * from the planner's rules (include/hwadapt/graph.h, src/core/planner.c):
 *
 * - Every node that is not a view (reshape, permute, slice) and does not
 *   write into a persistent tensor (a gradient accumulation, a KV-cache
 *   write) owns a region of its size rounded up to 64 bytes. Leaves (inputs,
 *   parameters) and parameter gradients are not in the arena.
 * - A region is taken when its node runs and returned after the last node
 *   that reads it, directly or through a view; an output lives to the end.
 * - An elementwise node (add, sub, mul, div, scale, the activations and their
 *   backward) writes over its first input in place when that input is a
 *   node (not a leaf, not a view) of the same size that dies there.
 * - Otherwise the smallest free region that fits is taken (the lowest
 *   address among equals), or the arena grows at its end, extending a free
 *   region that ends there.
 *
 * Where a plan is run, its results are compared bit for bit with the naive
 * plan's (every intermediate its own region), so a region handed out while
 * its old owner is still read would show as a wrong value, not only as a
 * smaller peak. */
#include <stdlib.h>

#include "harness.h"

enum { KIB = 1024 };

static float lcg_uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return -1.0f + 2.0f * (float)((*s >> 40) * 0x1p-24);
}

typedef hwa_tensor *(*build_fn)(hwa_ctx *ctx, hwa_tensor *x);

/* Builds out = build(x) for x [rows, cols] f32 in a fresh context and plans
 * it with mode; with out_values, also runs it on the CPU with x filled from a
 * fixed sequence and copies the n_out output values out. */
static bool plan_and_run(build_fn build, int64_t rows, int64_t cols, hwa_plan_mode mode, hwa_plan_stats *st,
                         float *out_values, int64_t n_out) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, rows, cols);
    hwa_tensor *out = x ? build(ctx, x) : NULL;
    hwa_graph *g = hwa_graph_new(ctx);
    bool ok = out && !hwa_graph_build_forward(g, out) && !hwa_graph_plan(g, mode, st);
    if (ok && out_values) {
        hwa_backend *be = hwa_backend_new(ctx, "cpu");
        float *xv = malloc(sizeof(float) * (size_t)(rows * cols));
        uint64_t seed = 5;
        for (int64_t i = 0; xv && i < rows * cols; i++) xv[i] = lcg_uniform(&seed);
        ok = be && xv && !hwa_ctx_alloc_leaves(ctx, be) && !hwa_tensor_set_f32(x, xv, rows * cols) &&
             !hwa_graph_alloc(g, be, mode, NULL) && !hwa_graph_compute(g, be) &&
             !hwa_tensor_get_f32(out, out_values, n_out);
        free(xv);
        hwa_backend_free(be);
    }
    if (!ok) fprintf(stderr, "    %s\n", hwa_last_error());
    hwa_ctx_free(ctx);
    return ok;
}

/* Plans and runs build with both modes: the reuse plan's stats in *reuse,
 * the naive one's in *naive, and whether the outputs are bitwise equal. */
static bool plan_both(build_fn build, int64_t rows, int64_t cols, int64_t n_out, hwa_plan_stats *reuse,
                      hwa_plan_stats *naive, bool *same) {
    float *a = calloc((size_t)n_out, sizeof *a), *b = calloc((size_t)n_out, sizeof *b);
    bool ok = a && b && plan_and_run(build, rows, cols, HWA_PLAN_REUSE, reuse, a, n_out) &&
              plan_and_run(build, rows, cols, HWA_PLAN_NAIVE, naive, b, n_out);
    *same = ok && memcmp(a, b, sizeof(float) * (size_t)n_out) == 0;
    free(a);
    free(b);
    return ok;
}

/* ---- (1) a chain read through views ---------------------------------------- */

/* x -> [scale -> transpose -> softmax] x 10, on 256 x 256 f32 (256 KiB a
 * tensor). */
static hwa_tensor *scale_transpose_softmax_x10(hwa_ctx *ctx, hwa_tensor *x) {
    hwa_tensor *h = x;
    for (int i = 0; i < 10; i++) h = hwa_softmax(ctx, hwa_transpose(ctx, hwa_scale(ctx, h, 0.5f)));
    return h;
}

/* Step 1: scale reads the leaf x, so it takes a new region A (0..256K).
 * transpose is a view of A and owns nothing. softmax reads A through the
 * view and is not elementwise, so it takes B (256K..512K) while A is alive;
 * A dies at that softmax. Step k > 1: scale is elementwise over the previous
 * softmax, which dies there, so it runs in place; softmax takes the region
 * the previous scale left free. Two regions of 256 KiB at every moment: the
 * peak is 512 KiB. A planner that lost the readers behind the views would
 * never free the scales' regions (2.75 MiB: ten scales and the output) or
 * free them before softmax reads them (a wrong result). */
TEST(view_chain_scale_transpose_softmax_x10_peaks_at_two_tensors) {
    enum { N = 256, T = N * N * 4 };
    hwa_plan_stats reuse, naive;
    bool same;
    CHECK(plan_both(scale_transpose_softmax_x10, N, N, N * N, &reuse, &naive, &same));
    CHECK_INT_EQ(reuse.arena_bytes, 2 * T);
    CHECK_INT_EQ(reuse.arena_bytes, 512 * KIB);
    CHECK_INT_EQ(reuse.n_intermediates, 20); /* ten scales, ten softmaxes; the views own nothing */
    CHECK_INT_EQ(reuse.n_inplace, 9);        /* every scale but the first (which reads the leaf) */
    CHECK_INT_EQ(reuse.intermediate_bytes, 20 * T);
    CHECK_INT_EQ(naive.arena_bytes, 20 * T); /* 5 MiB: one region each */
    CHECK_MSG(same, "the reuse plan's output differs from the naive plan's");
}

/* ---- (2) elementwise ops in place, and the alignment ---------------------- */

/* x: [1, 1000] f32 = 4000 bytes, which the planner rounds up to 4032 (63 x
 * 64). */
static hwa_tensor *elementwise_chain(hwa_ctx *ctx, hwa_tensor *x) {
    hwa_tensor *a = hwa_scale(ctx, x, 0.5f); /* reads a leaf: a new region R */
    hwa_tensor *b = hwa_relu(ctx, a);        /* a dies here: in place in R */
    hwa_tensor *c = hwa_add(ctx, b, x);      /* b dies here; x is a leaf: in place in R */
    hwa_tensor *d = hwa_mul(ctx, c, c);      /* both operands are c itself: in place in R */
    hwa_tensor *e = hwa_tanh(ctx, d);        /* in place in R */
    return hwa_sigmoid(ctx, e);              /* the output, in place in R */
}

TEST(elementwise_chain_runs_in_place_in_one_aligned_region) {
    enum { R = 4032 };
    hwa_plan_stats reuse, naive;
    bool same;
    CHECK(plan_both(elementwise_chain, 1, 1000, 1000, &reuse, &naive, &same));
    CHECK_INT_EQ(reuse.n_intermediates, 6);
    CHECK_INT_EQ(reuse.n_inplace, 5);
    CHECK_INT_EQ(reuse.arena_bytes, R);
    CHECK_INT_EQ(reuse.intermediate_bytes, 6 * R);
    CHECK_INT_EQ(naive.arena_bytes, 6 * R);
    CHECK_MSG(same, "the reuse plan's output differs from the naive plan's");
}

static hwa_tensor *elementwise_input_read_later(hwa_ctx *ctx, hwa_tensor *x) {
    hwa_tensor *a = hwa_scale(ctx, x, 0.5f); /* region R1 */
    hwa_tensor *b = hwa_relu(ctx, a);        /* a is read again below: not in place, R2 */
    hwa_tensor *c = hwa_add(ctx, b, a);      /* b dies here: in place in R2; a dies here too */
    return hwa_softmax(ctx, c);              /* not elementwise: R1, free again */
}

TEST(elementwise_op_whose_input_is_read_later_takes_a_second_region) {
    enum { R = 4032 };
    hwa_plan_stats reuse, naive;
    bool same;
    CHECK(plan_both(elementwise_input_read_later, 1, 1000, 1000, &reuse, &naive, &same));
    CHECK_INT_EQ(reuse.n_intermediates, 4);
    CHECK_INT_EQ(reuse.n_inplace, 1);
    CHECK_INT_EQ(reuse.arena_bytes, 2 * R);
    CHECK_INT_EQ(naive.arena_bytes, 4 * R);
    CHECK_MSG(same, "the reuse plan's output differs from the naive plan's");
}

/* ---- (3) reshape and permute views read several nodes later ---------------- */

/* x: [64, 64] f32, 16 KiB a tensor. Nodes run in the order the graph's
 * depth-first walk from the output reaches them: a b c, the two views, d, the
 * reshape of d, e, f. */
static hwa_tensor *views_read_later(hwa_ctx *ctx, hwa_tensor *x) {
    hwa_tensor *a = hwa_scale(ctx, x, 2.0f);
    hwa_tensor *b = hwa_softmax(ctx, a);
    hwa_tensor *c = hwa_softmax(ctx, b);
    hwa_tensor *v = hwa_permute(ctx, hwa_reshape(ctx, a, 3, (int64_t[]){8, 8, 64}), (int[]){2, 0, 1});
    hwa_tensor *d = hwa_cont(ctx, v); /* reads a through a view of a view */
    hwa_tensor *e = hwa_add(ctx, c, hwa_reshape(ctx, d, 2, (int64_t[]){64, 64}));
    return hwa_concat(ctx, e, e, 0); /* [128, 64]: 32 KiB */
}

/* a takes A (0..16K). b is not elementwise and a is read again (by d, through
 * the views), so b takes B (16K..32K); c takes C (32K..48K) and B dies. d
 * takes B's region; A dies at d, its last reader, and leaves 0..16K free. e
 * adds d (through a reshape) to c, whose last reader it is: in place in C; D
 * dies there, so 0..32K is free and f (32 KiB) fits there exactly. Peak: A, B
 * and C together, 48 KiB. A planner that never freed A (its readers all go
 * through views) would have only 16..32K free for f and grow to 80 KiB; one
 * that freed A at the reshape, its last direct reader, would hand A's bytes
 * to d while d reads them (a wrong result). */
TEST(views_keep_their_storage_alive_until_their_last_reader) {
    enum { T = 64 * 64 * 4 };
    hwa_plan_stats reuse, naive;
    bool same;
    CHECK(plan_both(views_read_later, 64, 64, 128 * 64, &reuse, &naive, &same));
    CHECK_INT_EQ(reuse.n_intermediates, 6); /* a b c d e f; the three views own nothing */
    CHECK_INT_EQ(reuse.n_inplace, 1);       /* e */
    CHECK_INT_EQ(reuse.arena_bytes, 3 * T);
    CHECK_INT_EQ(reuse.arena_bytes, 48 * KIB);
    CHECK_INT_EQ(reuse.intermediate_bytes, 5 * T + 2 * T);
    CHECK_INT_EQ(naive.arena_bytes, 7 * T);
    CHECK_MSG(same, "the reuse plan's output differs from the naive plan's");
}

/* ---- (5) naive and reuse plans of the same graph ---------------------------- */

TEST(naive_plan_is_the_sum_of_every_intermediate_and_the_reuse_plan_no_more) {
    build_fn builds[] = {scale_transpose_softmax_x10, elementwise_chain, elementwise_input_read_later,
                         views_read_later};
    const int64_t shapes[][2] = {{256, 256}, {1, 1000}, {1, 1000}, {64, 64}};
    for (int i = 0; i < 4; i++) {
        hwa_plan_stats reuse, naive;
        CHECK(plan_and_run(builds[i], shapes[i][0], shapes[i][1], HWA_PLAN_REUSE, &reuse, NULL, 0));
        CHECK(plan_and_run(builds[i], shapes[i][0], shapes[i][1], HWA_PLAN_NAIVE, &naive, NULL, 0));
        CHECK_INT_EQ(naive.arena_bytes, naive.intermediate_bytes);
        CHECK_INT_EQ(naive.intermediate_bytes, reuse.intermediate_bytes);
        CHECK_INT_EQ(naive.n_intermediates, reuse.n_intermediates);
        CHECK_INT_EQ(naive.n_inplace, 0);
        CHECK(reuse.arena_bytes <= naive.arena_bytes);
    }
}

/* ---- (4) a backward pass ---------------------------------------------------- */

/* A two-layer MLP on a batch of 4: x [4, 8] -> matmul W1 [8, 16] -> + b1 ->
 * relu -> matmul W2 [16, 32] -> + b2 -> cross-entropy against 4 labels, with
 * its backward pass. Plans it with mode; with out (1 + the 4 parameters'
 * 8*16 + 16 + 16*32 + 32 values), also runs it and copies the loss and the
 * gradients out. */
static bool mlp_backward(hwa_plan_mode mode, hwa_plan_stats *st, float *out) {
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 3});
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 4, 8);
    hwa_tensor *w[4] = {hwa_tensor_new_2d(ctx, HWA_F32, 8, 16), hwa_tensor_new_1d(ctx, HWA_F32, 16),
                        hwa_tensor_new_2d(ctx, HWA_F32, 16, 32), hwa_tensor_new_1d(ctx, HWA_F32, 32)};
    hwa_tensor *labels = hwa_tensor_new_1d(ctx, HWA_I32, 4);
    bool ok = true;
    for (int i = 0; i < 4; i++) ok = ok && !hwa_tensor_set_param(w[i]);
    hwa_tensor *h = hwa_relu(ctx, hwa_bias_add(ctx, hwa_matmul(ctx, x, w[0]), w[1]));
    hwa_tensor *loss = hwa_cross_entropy(ctx, hwa_bias_add(ctx, hwa_matmul(ctx, h, w[2]), w[3]), labels);
    hwa_graph *g = hwa_graph_new(ctx);
    ok = ok && loss && !hwa_graph_build_forward(g, loss) && !hwa_graph_build_backward(g, loss) &&
         !hwa_graph_plan(g, mode, st);
    if (ok && out) {
        hwa_backend *be = hwa_backend_new(ctx, "cpu");
        const int32_t lab[4] = {3, 0, 31, 17};
        ok = be && !hwa_ctx_alloc_leaves(ctx, be) && !hwa_tensor_fill_uniform(x, -1, 1) &&
             !hwa_tensor_set_bytes(labels, lab, sizeof lab);
        for (int i = 0; ok && i < 4; i++) ok = !hwa_tensor_fill_uniform(w[i], -0.5f, 0.5f);
        ok = ok && !hwa_graph_alloc(g, be, mode, NULL) && !hwa_graph_compute(g, be) &&
             !hwa_tensor_get_f32(loss, out, 1);
        float *o = out + 1;
        for (int i = 0; ok && i < 4; i++) {
            const int64_t n = hwa_tensor_nelements(w[i]);
            ok = !hwa_tensor_get_f32(hwa_tensor_grad(w[i]), o, n);
            o += n;
        }
        hwa_backend_free(be);
    }
    if (!ok) fprintf(stderr, "    %s\n", hwa_last_error());
    hwa_ctx_free(ctx);
    return ok;
}

/* The nodes in the order the backward pass appends them (one parameter at a
 * time, each gradient's subgraph depth first), with sizes rounded to 64 bytes
 * and the last node that reads each:
 *
 *    0 z1  = x W1          [4,16]  256   read by 1
 *    1 a1  = z1 + b1       [4,16]  in place in z1 (z1 dies); read by 2, 9
 *    2 h   = relu(a1)      [4,16]  256   read by 3, 14 (a1 lives on: not in place)
 *    3 z2  = h W2          [4,32]  512   read by 4
 *    4 l   = z2 + b2       [4,32]  in place in z2; read by 5, 7
 *    5 loss                [1]      64   the output: lives to the end
 *    6 one = fill 1        [1]      64   read by 7
 *    7 gl  = d loss/d l    [4,32]  512   read by 8, 14, 16
 *    8 gh  = gl W2^T       [4,16]  256   read by 9
 *    9 ga1 = relu'(a1) gh  [4,16]  in place in gh; read by 10, 12
 *   10 dW1 = x^T ga1       [8,16]  512   read by 11
 *   11 grad(W1) += dW1             no region (writes into the gradient)
 *   12 db1 = sum of ga1    [16]     64   read by 13
 *   13 grad(b1) += db1
 *   14 dW2 = h^T gl        [16,32] 2048  read by 15
 *   15 grad(W2) += dW2
 *   16 db2 = sum of gl     [32]    128   read by 17
 *   17 grad(b2) += db2
 *
 * The walk (offsets in bytes; "free" lists the free regions after the node):
 *   z1 0, a1 0, h 256, z2 512, l 512, loss 1024, one 1088 (end 1152);
 *   gl 1152 (end 1664), then one and l die: free 512..1024, 1088..1152;
 *   gh 512 (the smallest free region that fits), ga1 in place at 512, a1
 *   dies: free 0..256, 768..1024, 1088..1152;
 *   dW1 fits nowhere: 1664 (end 2176); it dies at 11: free also 1664..2176;
 *   db1 1088; ga1 dies: free 0..256, 512..1024, 1664..2176; db1 dies at 13;
 *   dW2 (2048) fits nowhere, but the free region 1664..2176 ends the arena
 *   and grows: 1664 (end 3712). Peak 3712 bytes.
 *   Then h dies (free 0..1024), dW2 dies at 15, db2 128 takes 0.
 * The gradients themselves are persistent, outside the arena:
 * 512 + 64 + 2048 + 128 = 2752 bytes. */
TEST(mlp_backward_pass_peak_and_gradients) {
    hwa_plan_stats reuse, naive;
    CHECK(mlp_backward(HWA_PLAN_REUSE, &reuse, NULL));
    CHECK(mlp_backward(HWA_PLAN_NAIVE, &naive, NULL));
    CHECK_INT_EQ(reuse.n_intermediates, 14);
    CHECK_INT_EQ(reuse.n_inplace, 3); /* a1, l, ga1 */
    CHECK_INT_EQ(reuse.intermediate_bytes, 3 * 256 + 2 * 512 + 2 * 64 + 512 + 2 * 256 + 512 + 64 + 2048 + 128);
    CHECK_INT_EQ(reuse.arena_bytes, 3712);
    CHECK_INT_EQ(reuse.persistent_bytes, 512 + 64 + 2048 + 128);
    CHECK_INT_EQ(naive.persistent_bytes, reuse.persistent_bytes);
    CHECK_INT_EQ(naive.arena_bytes, reuse.intermediate_bytes);
    enum { N = 1 + 8 * 16 + 16 + 16 * 32 + 32 };
    float a[N], b[N];
    CHECK(mlp_backward(HWA_PLAN_REUSE, &reuse, a));
    CHECK(mlp_backward(HWA_PLAN_NAIVE, &naive, b));
    CHECK(a[0] > 0);
    CHECK_MSG(memcmp(a, b, sizeof a) == 0, "the reuse plan's loss or gradients differ from the naive plan's");
}

/* ---- (6) the free list: best fit, and merging with the block after ------- */

/* Sizes in units u of 64 bytes (every region here is a whole number of them;
 * a [1] or [5] f32 rounds up to 1u). Leaves: a [4, 64] (16u), s and k
 * [64, 1] (4u), t [64] (4u), u [256] (16u). Execution order (depth first,
 * sources in order) and the plan, as "node size @offset; free list after":
 *
 *   A = scale(a)       16 @0   ; -              (arena end 16)
 *   K = scale(k)        4 @16  ; -              (20)
 *   S = add(s, K)       4 @20  ; -              (24; first input a leaf: not in place)
 *   M = A x S  [4,1]    1 @24  ; A, S die: [0,16) [20,24)          (25)
 *   T = scale(t)        4 @20  ; [0,16)         (best fit: the 4u hole, exactly)
 *   tT = sum(T)         1 @0   ; T dies: [1,16) [20,24)
 *   L = concat(M', tT)  1 @20  ; M, tT die: [24,25) joins [21,24), [0,1) joins
 *                                the block after it, [1,16): [0,16) [21,25)
 *   U = scale(u)       16 @0   ; [21,25)        (fits only because of that join)
 *   uU = sum(U)         1 @21  ; U dies: [0,16) [22,25)
 *   kK = sum(K)         1 @22  ; K dies: [0,20) [23,25)
 *   R = concat(uU, kK)  1 @23  ; uU, kK die: [0,20) [21,23) [24,25)
 *   out = concat(L, R)  1 @24  (the output)
 *
 * (M' is M reshaped to [4], a view.) Peak 25u = 1600 bytes. Worst fit would
 * put T in the 16u hole and leave no room for U (36u and more); a free list
 * that does not join a released block with the free block after it leaves
 * [0,1) and [1,16) apart, and U grows the arena (37u). */
static hwa_tensor *fit_and_merge(hwa_ctx *ctx, hwa_tensor *a) {
    hwa_tensor *s = hwa_tensor_new_2d(ctx, HWA_F32, 64, 1), *k = hwa_tensor_new_2d(ctx, HWA_F32, 64, 1);
    hwa_tensor *t = hwa_tensor_new_1d(ctx, HWA_F32, 64), *u = hwa_tensor_new_1d(ctx, HWA_F32, 256);
    hwa_tensor *A = hwa_scale(ctx, a, 0.5f);
    hwa_tensor *K = hwa_scale(ctx, k, 0.5f);
    hwa_tensor *M = hwa_matmul(ctx, A, hwa_add(ctx, s, K));
    int64_t four[1] = {4};
    hwa_tensor *L = hwa_concat(ctx, hwa_reshape(ctx, M, 1, four), hwa_sum(ctx, hwa_scale(ctx, t, 0.5f)), 0);
    hwa_tensor *R = hwa_concat(ctx, hwa_sum(ctx, hwa_scale(ctx, u, 0.5f)), hwa_sum(ctx, K), 0);
    return hwa_concat(ctx, L, R, 0);
}

TEST(free_regions_go_to_the_best_fit_and_join_their_neighbours) {
    hwa_plan_stats reuse, naive;
    CHECK(plan_and_run(fit_and_merge, 4, 64, HWA_PLAN_REUSE, &reuse, NULL, 0));
    CHECK(plan_and_run(fit_and_merge, 4, 64, HWA_PLAN_NAIVE, &naive, NULL, 0));
    CHECK_INT_EQ(reuse.n_intermediates, 12);
    CHECK_INT_EQ(reuse.n_inplace, 0);
    CHECK_INT_EQ(reuse.arena_bytes, 25 * 64);
    CHECK_INT_EQ(naive.arena_bytes, (16 + 4 + 4 + 1 + 4 + 1 + 1 + 16 + 1 + 1 + 1 + 1) * 64);
}
