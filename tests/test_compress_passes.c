/* The compression passes: pruning, weight sharing, structured pruning of
 * hidden units and int8 with its gate, on small models made here and on
 * an MLP (784-64-64-10) trained on 2,000 Fashion-MNIST samples. */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

/* ---- models and data ---- */

/* A dense f32 model of n layers of sizes dims[0..n] from weights w[l]
 * ([out * in]) and biases b[l] (NULL: zeros). */
static hwa_cmodel *model_new(int n, const int64_t *dims, const float *const *w, const float *const *b) {
    hwa_cmodel *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n_layers = n;
    m->activation = HWA_ACT_RELU;
    for (int l = 0; l < n; l++) {
        hwa_cm_layer *L = &m->layer[l];
        L->out = dims[l + 1];
        L->in = dims[l];
        L->bias = calloc((size_t)L->out, sizeof(float));
        if (!L->bias || hwa_cmodel_set_dense(m, l, w[l]) != HWA_OK) {
            hwa_cmodel_free(m);
            return NULL;
        }
        if (b && b[l]) memcpy(L->bias, b[l], (size_t)L->out * sizeof(float));
    }
    return m;
}

static hwa_ctx *g_ctx;
static hwa_backend *g_be; /* the CPU, for evaluations */
static hwa_dataset *g_train, *g_test;
static hwa_cmodel *g_base; /* 784-64-64-10 trained 3 epochs on g_train */
static double g_base_acc;

/* The shared fixture, made once; false (with a skip) without Fashion-MNIST. */
static bool fixture(void) {
    if (g_base) return true;
    if (access(HWA_FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        hwa_test_skip_for("fmnist", "Fashion-MNIST is not installed (Debian package " HWA_FMNIST_PACKAGE ")");
        return false;
    }
    if (!g_be && (!(g_ctx = hwa_ctx_new(NULL)) || !(g_be = hwa_backend_new(g_ctx, "cpu")))) {
        hwa_test_fail(__FILE__, __LINE__, "cpu backend: %s", hwa_last_error());
        return false;
    }
    if (!g_train && (hwa_dataset_load_fmnist(NULL, true, &g_train) || hwa_dataset_truncate(g_train, 2000) ||
                     hwa_dataset_load_fmnist(NULL, false, &g_test) || hwa_dataset_truncate(g_test, 500))) {
        hwa_test_fail(__FILE__, __LINE__, "Fashion-MNIST: %s", hwa_last_error());
        return false;
    }
    hwa_train_config c = hwa_train_config_default();
    c.train_set = g_train;
    c.test_set = g_test;
    c.hidden[0] = c.hidden[1] = 64;
    c.epochs = 3;
    c.sched = hwa_sched_default(HWA_SCHED_CONSTANT, 1e-3, 1);
    hwa_trainer *t = NULL;
    if (hwa_trainer_new(&c, &t)) return false;
    const int64_t dims[4] = {784, 64, 64, 10};
    float *w[3], *b[3];
    bool ok = hwa_trainer_run(t, NULL) == HWA_OK;
    for (int l = 0; l < 3; l++) {
        w[l] = malloc((size_t)(dims[l] * dims[l + 1]) * sizeof(float));
        b[l] = malloc((size_t)dims[l + 1] * sizeof(float));
        ok = ok && w[l] && b[l] && hwa_trainer_get_weights(t, l, w[l], b[l]) == HWA_OK;
    }
    hwa_trainer_free(t);
    if (ok) g_base = model_new(3, dims, (const float *const *)w, (const float *const *)b);
    for (int l = 0; l < 3; l++) {
        free(w[l]);
        free(b[l]);
    }
    double loss;
    if (!g_base || hwa_cmodel_evaluate(g_base, g_be, g_test, &loss, &g_base_acc) != HWA_OK) {
        hwa_test_fail(__FILE__, __LINE__, "the base model: %s", hwa_last_error());
        return false;
    }
    return true;
}

static hwa_compress_data data_of(const hwa_dataset *train, const hwa_dataset *test) {
    hwa_compress_data d;
    memset(&d, 0, sizeof d);
    d.train = train;
    d.test = test;
    d.seed = 1;
    return d;
}

static hwa_cmodel *base_clone(void) {
    hwa_cmodel *m = NULL;
    return hwa_cmodel_clone(g_base, &m) == HWA_OK ? m : NULL;
}

static double accuracy(const hwa_cmodel *m) {
    double loss, acc = -1.0;
    hwa_status st = hwa_cmodel_evaluate(m, g_be, g_test, &loss, &acc);
    return st == HWA_OK ? acc : -1.0;
}

static float *dense_of(const hwa_cmodel *m, int l) {
    float *w = malloc((size_t)(m->layer[l].out * m->layer[l].in) * sizeof *w);
    if (w && hwa_cmodel_dense(m, l, w) != HWA_OK) {
        free(w);
        return NULL;
    }
    return w;
}

/* Returns from the test when the fixture is missing (a skip) or broken (a
 * failure, recorded by fixture). */
#define NEED_FIXTURE()           \
    do {                         \
        if (!fixture()) return; \
    } while (0)

/* A model of one layer 3 -> 2 with weights w, and a set of one sample of
 * zeros for it (*ds); NULL on failure. */
static hwa_cmodel *tiny_model(const float *w, hwa_dataset **ds) {
    const int64_t dims[2] = {3, 2};
    const float *ws[1] = {w};
    const float x[3] = {0};
    const int32_t y[1] = {0};
    hwa_cmodel *m = model_new(1, dims, ws, NULL);
    if (m && hwa_dataset_from_arrays(x, y, 1, 3, 2, ds) == HWA_OK) return m;
    hwa_cmodel_free(m);
    return NULL;
}

/* ---- prune ---- */

typedef struct last_test {
    double acc; /* the last retraining epoch's test accuracy, from its note */
} last_test;

static void keep_last_test(void *ud, const char *line) {
    const char *p = strstr(line, "test ");
    if (p && strstr(line, "epoch")) ((last_test *)ud)->acc = atof(p + 5) / 100.0;
}

TEST(prune_per_layer_reaches_each_layers_sparsity_exactly) {
    NEED_FIXTURE();
    hwa_cmodel *m = base_clone();
    CHECK(m);
    hwa_compress_data d = data_of(g_train, g_test);
    d.lr = 1e-3; /* pruned weights that came back would show in the accuracy below */
    last_test lt = {-1.0};
    d.note = keep_last_test;
    d.ud = &lt;
    hwa_prune_opts o = {.sparsity = 0.8, .iterations = 2, .retrain_epochs = 1};
    o.layer_sparsity[2] = 0.5;
    CHECK_OK(hwa_compress_prune(m, &o, &d));
    const double want[3] = {0.8, 0.8, 0.5};
    for (int l = 0; l < 3; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        const int64_t n = L->out * L->in;
        CHECK(L->sparse && L->values && !L->codes);
        CHECK_INT_EQ(L->nnz, n - llround(want[l] * (double)n));
        CHECK_INT_EQ(L->row_ptr[L->out], L->nnz);
    }
    CHECK_OK(hwa_cmodel_validate(m));
    /* the model the retraining last tested is the sparse one: the pruned
     * weights stayed 0 through it (1 sample of 500 for rounding) */
    CHECK_NEAR(accuracy(m), lt.acc, 1.0 / 500 + 1e-9);
    CHECK_MSG(accuracy(m) >= g_base_acc - 0.05, "pruned %.3f, base %.3f", accuracy(m), g_base_acc);
    hwa_cmodel_free(m);
}

TEST(prune_global_uses_one_threshold_for_every_layer) {
    NEED_FIXTURE();
    hwa_cmodel *m = base_clone();
    CHECK(m);
    float *before[3];
    int64_t total = 0, kept = 0;
    for (int l = 0; l < 3; l++) {
        before[l] = dense_of(m, l);
        CHECK(before[l]);
        total += m->layer[l].out * m->layer[l].in;
    }
    hwa_compress_data d = data_of(g_train, g_test);
    hwa_prune_opts o = {.sparsity = 0.9, .global = true, .iterations = 1, .retrain_epochs = 0};
    CHECK_OK(hwa_compress_prune(m, &o, &d));
    float max_pruned = 0.0f, min_kept = INFINITY;
    double layer_sp[3];
    for (int l = 0; l < 3; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        kept += L->nnz;
        layer_sp[l] = 1.0 - (double)L->nnz / (double)(L->out * L->in);
        char *on = calloc((size_t)(L->out * L->in), 1);
        CHECK(on);
        for (int64_t r = 0; r < L->out; r++)
            for (int32_t j = L->row_ptr[r]; j < L->row_ptr[r + 1]; j++) {
                on[r * L->in + L->col[j]] = 1;
                CHECK(L->values[j] == before[l][r * L->in + L->col[j]]); /* no retraining: the values as they were */
            }
        for (int64_t i = 0; i < L->out * L->in; i++) {
            const float a = fabsf(before[l][i]);
            if (on[i]) min_kept = fminf(min_kept, a);
            else max_pruned = fmaxf(max_pruned, a);
        }
        free(on);
        free(before[l]);
    }
    CHECK_INT_EQ(kept, total - llround(0.9 * (double)total));
    CHECK_MSG(max_pruned <= min_kept, "pruned up to %g, kept down to %g", max_pruned, min_kept);
    /* one threshold: the layers end at different sparsities */
    CHECK_MSG(fabs(layer_sp[0] - layer_sp[2]) > 0.01, "fc1 %.3f, fc3 %.3f", layer_sp[0], layer_sp[2]);
    hwa_cmodel_free(m);
}

/* 10% of the weights exactly 0: pruning 5% removes zeros only, and the
 * other zeros stay stored (the mask, not the value, says what is pruned). */
TEST(prune_keeps_stored_weights_that_are_zero) {
    enum { O = 10, I = 20 };
    float w[O * I];
    for (int i = 0; i < O * I; i++) w[i] = i % 10 == 3 ? 0.0f : 0.01f * (float)(1 + i % 7);
    const int64_t dims[2] = {I, O};
    const float *ws[1] = {w};
    hwa_cmodel *m = model_new(1, dims, ws, NULL);
    CHECK(m);
    float x[I * 4] = {0};
    int32_t y[4] = {0, 1, 2, 3};
    hwa_dataset *ds = NULL;
    CHECK_OK(hwa_dataset_from_arrays(x, y, 4, I, O, &ds));
    hwa_compress_data d = data_of(ds, ds);
    hwa_prune_opts o = {.sparsity = 0.05, .iterations = 1};
    CHECK_OK(hwa_compress_prune(m, &o, &d));
    CHECK_INT_EQ(m->layer[0].nnz, O * I - 10);
    int zeros = 0;
    for (int64_t j = 0; j < m->layer[0].nnz; j++) zeros += m->layer[0].values[j] == 0.0f;
    CHECK_INT_EQ(zeros, 10);
    hwa_cmodel_free(m);
    hwa_dataset_free(ds);
}

TEST(prune_refuses_bad_options) {
    const float w[6] = {1, 2, 3, 4, 5, 6};
    hwa_dataset *ds = NULL;
    hwa_cmodel *m = tiny_model(w, &ds);
    CHECK(m);
    hwa_compress_data d = data_of(ds, ds);
    hwa_prune_opts o = {.sparsity = 1.0};
    CHECK_STATUS(hwa_compress_prune(m, &o, &d), HWA_E_INVALID);
    o.sparsity = 0.5;
    o.global = true;
    o.layer_sparsity[0] = 0.3;
    CHECK_STATUS(hwa_compress_prune(m, &o, &d), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "per-layer");
    o.global = false;
    o.layer_sparsity[0] = 0.0;
    o.layer_sparsity[3] = 0.3; /* past the model's one layer */
    CHECK_STATUS(hwa_compress_prune(m, &o, &d), HWA_E_INVALID);
    hwa_cmodel_free(m);
    hwa_dataset_free(ds);
}

/* ---- share ---- */

TEST(share_kmeans_finds_the_two_clusters_of_known_values) {
    const float w[6] = {0.0f, 0.1f, 0.2f, 1.0f, 1.1f, 1.2f};
    hwa_dataset *ds = NULL;
    hwa_cmodel *m = tiny_model(w, &ds);
    CHECK(m);
    hwa_compress_data d = data_of(ds, ds);
    hwa_share_opts o = {.bits = {1}};
    CHECK_OK(hwa_compress_share(m, &o, &d));
    const hwa_cm_layer *L = &m->layer[0];
    CHECK_INT_EQ(L->bits, 1);
    CHECK_INT_EQ(L->n_codes, 2);
    CHECK_NEAR(L->codebook[0], 0.1, 1e-6);
    CHECK_NEAR(L->codebook[1], 1.1, 1e-6);
    for (int j = 0; j < 6; j++) CHECK_INT_EQ(L->codes[j], j < 3 ? 0 : 1);
    CHECK(L->values == NULL);
    hwa_cmodel_free(m);
    hwa_dataset_free(ds);
}

TEST(share_retraining_moves_the_centroids_and_keeps_codes_and_positions) {
    NEED_FIXTURE();
    hwa_compress_data d = data_of(g_train, g_test);
    hwa_prune_opts po = {.sparsity = 0.5, .iterations = 1};
    hwa_cmodel *pruned = base_clone(), *a = NULL, *b = NULL;
    CHECK(pruned);
    CHECK_OK(hwa_compress_prune(pruned, &po, &d));
    CHECK_OK(hwa_cmodel_clone(pruned, &a));
    CHECK_OK(hwa_cmodel_clone(pruned, &b));
    hwa_share_opts o = {.bits = {3, 0, 2}, .retrain_epochs = 0};
    CHECK_OK(hwa_compress_share(a, &o, &d)); /* k-means alone */
    o.retrain_epochs = 2;
    CHECK_OK(hwa_compress_share(b, &o, &d));
    const int want_bits[3] = {3, 3, 2};
    for (int l = 0; l < 3; l++) {
        const hwa_cm_layer *A = &a->layer[l], *B = &b->layer[l], *P = &pruned->layer[l];
        CHECK_INT_EQ(B->bits, want_bits[l]);
        CHECK(B->n_codes <= 1 << want_bits[l]);
        CHECK(B->sparse && B->nnz == P->nnz);
        CHECK(!memcmp(B->row_ptr, P->row_ptr, (size_t)(P->out + 1) * sizeof(int32_t)));
        CHECK(!memcmp(B->col, P->col, (size_t)P->nnz * sizeof(int32_t)));
        CHECK(!memcmp(A->codes, B->codes, (size_t)P->nnz)); /* the codes are fixed */
        CHECK_INT_EQ(A->n_codes, B->n_codes);
        double moved = 0.0;
        for (int c = 0; c < B->n_codes; c++) moved = fmax(moved, fabs((double)A->codebook[c] - B->codebook[c]));
        CHECK_MSG(moved > 1e-5, "fc%d: the centroids moved by at most %g", l + 1, moved);
        /* decoded: at most 2^bits distinct values besides the pruned zeros */
        float *w = dense_of(b, l);
        CHECK(w);
        float seen[256];
        int n_seen = 0;
        for (int64_t r = 0; r < P->out; r++)
            for (int32_t j = P->row_ptr[r]; j < P->row_ptr[r + 1]; j++) {
                const float v = w[r * P->in + P->col[j]];
                int k = 0;
                while (k < n_seen && seen[k] != v) k++;
                if (k == n_seen && n_seen < 256) seen[n_seen++] = v;
            }
        free(w);
        CHECK(n_seen <= 1 << want_bits[l]);
    }
    CHECK_MSG(accuracy(b) >= accuracy(a) - 0.01, "retrained %.3f, k-means alone %.3f", accuracy(b), accuracy(a));
    CHECK_MSG(accuracy(b) >= accuracy(pruned) - 0.02, "shared %.3f, pruned %.3f", accuracy(b), accuracy(pruned));
    hwa_cmodel_free(pruned);
    hwa_cmodel_free(a);
    hwa_cmodel_free(b);
}

/* ---- neurons ---- */

/* Logits of a dense f32 relu model for sample x, in double with the sums in
 * input order. */
static void logits_f64(const hwa_cmodel *m, const float *x, double *out) {
    double h[1024], nx[1024];
    for (int64_t k = 0; k < m->layer[0].in; k++) h[k] = x[k];
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        for (int64_t r = 0; r < L->out; r++) {
            double s = L->bias[r];
            for (int64_t k = 0; k < L->in; k++) s += (double)L->values[r * L->in + k] * h[k];
            nx[r] = l + 1 < m->n_layers && s < 0.0 ? 0.0 : s;
        }
        memcpy(h, nx, (size_t)L->out * sizeof *h);
    }
    memcpy(out, h, (size_t)m->layer[m->n_layers - 1].out * sizeof *out);
}

TEST(neurons_cut_equals_the_model_with_the_units_silenced) {
    NEED_FIXTURE();
    hwa_cmodel *big = base_clone(), *small = base_clone();
    CHECK(big && small);
    hwa_compress_data d = data_of(g_train, g_test);
    hwa_neuron_opts o = {.keep = 0.5, .retrain_epochs = 0};
    CHECK_OK(hwa_compress_neurons(small, &o, &d));
    CHECK_INT_EQ(small->layer[0].out, 32);
    CHECK_INT_EQ(small->layer[1].in, 32);
    CHECK_INT_EQ(small->layer[1].out, 32);
    CHECK_INT_EQ(small->layer[2].in, 32);
    CHECK_INT_EQ(small->layer[2].out, 10);
    /* the units with the smallest norm of incoming row and outgoing column
     * (worked out here): their outgoing weights zeroed in the big model */
    for (int h = 0; h < 2; h++) {
        const hwa_cm_layer *A = &g_base->layer[h], *B = &g_base->layer[h + 1];
        double score[64];
        for (int64_t j = 0; j < 64; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < A->in; k++) s += (double)A->values[j * A->in + k] * A->values[j * A->in + k];
            for (int64_t r = 0; r < B->out; r++) s += (double)B->values[r * B->in + j] * B->values[r * B->in + j];
            score[j] = s;
        }
        for (int64_t j = 0; j < 64; j++) {
            int above = 0;
            for (int64_t i = 0; i < 64; i++) above += score[i] > score[j] || (score[i] == score[j] && i < j);
            if (above < 32) continue;
            for (int64_t r = 0; r < B->out; r++) big->layer[h + 1].values[r * B->in + j] = 0.0f;
        }
    }
    for (int64_t i = 0; i < 50; i++) {
        double lb[10], ls[10];
        logits_f64(big, hwa_dataset_x(g_test, i), lb);
        logits_f64(small, hwa_dataset_x(g_test, i), ls);
        for (int c = 0; c < 10; c++) CHECK_MSG(lb[c] == ls[c], "sample %lld class %d: %.17g vs %.17g", (long long)i, c, lb[c], ls[c]);
    }
    /* retrained, the half-width model is close to the full one */
    o.retrain_epochs = 3;
    d.lr = 1e-3;
    hwa_cmodel_free(small);
    small = base_clone();
    CHECK_OK(hwa_compress_neurons(small, &o, &d));
    CHECK_MSG(accuracy(small) >= g_base_acc - 0.05, "half width %.3f, base %.3f", accuracy(small), g_base_acc);
    hwa_cmodel_free(big);
    hwa_cmodel_free(small);
}

TEST(neurons_refuses_sparse_layers_and_a_bad_keep) {
    NEED_FIXTURE();
    hwa_cmodel *m = base_clone();
    CHECK(m);
    hwa_compress_data d = data_of(g_train, g_test);
    hwa_neuron_opts o = {.keep = 0.0};
    CHECK_STATUS(hwa_compress_neurons(m, &o, &d), HWA_E_INVALID);
    hwa_prune_opts po = {.sparsity = 0.5, .iterations = 1};
    CHECK_OK(hwa_compress_prune(m, &po, &d));
    o.keep = 0.5;
    CHECK_STATUS(hwa_compress_neurons(m, &o, &d), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "dense");
    hwa_cmodel_free(m);
}

/* ---- int8 ---- */

TEST(int8_weight_scales_and_codes_by_hand) {
    const float w[6] = {0.5f, -1.27f, 0.3f, 2.54f, 0.0f, -0.062f};
    const int64_t dims[2] = {3, 2};
    const float *ws[1] = {w};
    hwa_cmodel *m = model_new(1, dims, ws, NULL);
    CHECK(m);
    /* inputs in [-1, 3]: min-max gives scale 4/255 and zero point round(63.75) */
    float x[6] = {-1.0f, 0.5f, 3.0f, 2.0f, 0.0f, -0.5f};
    int32_t y[2] = {0, 1};
    hwa_dataset *ds = NULL;
    CHECK_OK(hwa_dataset_from_arrays(x, y, 2, 3, 2, &ds));
    hwa_compress_data d = data_of(ds, ds);
    hwa_int8_opts o = {.method = HWA_CALIB_MINMAX, .max_drop = -1.0};
    CHECK_OK(hwa_compress_int8(m, &o, &d, NULL));
    const hwa_cm_layer *L = &m->layer[0];
    CHECK(L->q && L->q_scale && !L->values);
    CHECK_NEAR(L->q_scale[0], 1.27 / 127.0, 1e-8);
    CHECK_NEAR(L->q_scale[1], 2.54 / 127.0, 1e-8);
    const int want[6] = {50, -127, 30, 127, 0, -3};
    for (int i = 0; i < 6; i++) CHECK_INT_EQ(L->q[i], want[i]);
    CHECK_INT_EQ(L->act, HWA_CM_ACT_STATIC);
    CHECK_NEAR(L->act_scale, 4.0 / 255.0, 1e-7);
    CHECK_INT_EQ(L->act_zero, 64);
    hwa_cmodel_free(m);
    /* dynamic: no fixed parameters */
    m = model_new(1, dims, ws, NULL);
    CHECK(m);
    o.method = HWA_CALIB_DYNAMIC;
    CHECK_OK(hwa_compress_int8(m, &o, &d, NULL));
    CHECK_INT_EQ(m->layer[0].act, HWA_CM_ACT_DYNAMIC);
    hwa_cmodel_free(m);
    hwa_dataset_free(ds);
}

/* 101 samples of 3 features holding -100, -99, ..., 202. */
static hwa_dataset *ramp_set(void) {
    float x[303];
    int32_t y[101] = {0};
    for (int i = 0; i < 303; i++) x[i] = (float)(i - 100);
    hwa_dataset *ds = NULL;
    return hwa_dataset_from_arrays(x, y, 101, 3, 2, &ds) == HWA_OK ? ds : NULL;
}

TEST(int8_percentile_calibration_on_known_values) {
    hwa_dataset *ds = ramp_set();
    CHECK(ds);
    const float w[6] = {1, 2, 3, 4, 5, 6};
    const int64_t dims[2] = {3, 2};
    const float *ws[1] = {w};
    hwa_cmodel *m = model_new(1, dims, ws, NULL);
    CHECK(m);
    hwa_compress_data d = data_of(ds, ds);
    hwa_int8_opts o = {.method = HWA_CALIB_PERCENTILE, .percentile = 99.0, .calib = 1000, .max_drop = -1.0};
    CHECK_OK(hwa_compress_int8(m, &o, &d, NULL));
    /* 303 values -100..202: P(99) at rank 302 * 0.99 = 298.98 is 198.98,
     * P(1) at rank 3.02 is -96.98 */
    const double lo = -96.98, hi = 198.98, s = (hi - lo) / 255.0;
    CHECK_NEAR(m->layer[0].act_scale, s, 1e-4);
    CHECK_INT_EQ(m->layer[0].act_zero, (int)nearbyint(-lo / s)); /* 84 */
    hwa_cmodel_free(m);
    /* min-max over the same values: [-100, 202] */
    m = model_new(1, dims, ws, NULL);
    CHECK(m);
    o.method = HWA_CALIB_MINMAX;
    CHECK_OK(hwa_compress_int8(m, &o, &d, NULL));
    CHECK_NEAR(m->layer[0].act_scale, 302.0 / 255.0, 1e-5);
    CHECK_INT_EQ(m->layer[0].act_zero, 84); /* round(100 * 255 / 302) = round(84.4) */
    hwa_cmodel_free(m);
    hwa_dataset_free(ds);
}

/* 400 samples of 50 features: 60% zeros, a bell of |sum of 4 uniforms| (in
 * [0, 2]), and 8 outliers at 10. */
static hwa_dataset *bell_set(void) {
    enum { S = 400, F = 50 };
    float *x = malloc(S * F * sizeof *x);
    int32_t y[S] = {0};
    if (!x) return NULL;
    uint32_t r = 7u;
    for (int i = 0; i < S * F; i++) {
        double s = 0.0;
        for (int k = 0; k < 4; k++) {
            r = r * 1664525u + 1013904223u;
            s += (double)(r >> 8) / (double)(1u << 24) - 0.5;
        }
        x[i] = i % 5 < 3 ? 0.0f : (float)fabs(s); /* 60% zeros, as after a ReLU */
    }
    for (int i = 0; i < 8; i++) x[i * 995 + 4] = 10.0f;
    hwa_dataset *ds = NULL;
    hwa_status st = hwa_dataset_from_arrays(x, y, S, F, 2, &ds);
    free(x);
    return st == HWA_OK ? ds : NULL;
}

TEST(int8_entropy_calibration_clips_outliers) {
    hwa_dataset *ds = bell_set();
    CHECK(ds);
    float w[2 * 50];
    for (int i = 0; i < 100; i++) w[i] = 0.01f * (float)(i % 7);
    const int64_t dims[2] = {50, 2};
    const float *ws[1] = {w};
    hwa_cmodel *m = model_new(1, dims, ws, NULL), *mm = model_new(1, dims, ws, NULL);
    CHECK(m && mm);
    hwa_compress_data d = data_of(ds, ds);
    hwa_int8_opts o = {.method = HWA_CALIB_ENTROPY, .calib = 400, .max_drop = -1.0};
    CHECK_OK(hwa_compress_int8(m, &o, &d, NULL));
    o.method = HWA_CALIB_MINMAX;
    CHECK_OK(hwa_compress_int8(mm, &o, &d, NULL));
    /* min-max spans the outliers; the entropy range ends near the bell's
     * end (at most 2), past nearly all of it and above the narrowest window
     * (256 of 2048 bins: 1.25) */
    CHECK_NEAR(mm->layer[0].act_scale, 10.0 / 255.0, 1e-7);
    const double hi = 255.0 * m->layer[0].act_scale;
    CHECK_MSG(hi > 1.3 && hi < 2.5, "entropy range [0, %g]", hi);
    CHECK_INT_EQ(m->layer[0].act_zero, 0);
    hwa_cmodel_free(m);
    hwa_cmodel_free(mm);
    hwa_dataset_free(ds);
}

/* Hidden unit 0 of fc1 always off (weights 0, bias -1), and each row of fc2
 * an outlier of 1000 times its largest weight on that unit's column: the
 * float model is as good as before, but int8 fc2 keeps nothing but the
 * outliers. */
static hwa_cmodel *outlier_model(void) {
    hwa_cmodel *m = base_clone();
    if (!m) return NULL;
    hwa_cm_layer *A = &m->layer[0], *B = &m->layer[1];
    for (int64_t k = 0; k < A->in; k++) A->values[k] = 0.0f;
    A->bias[0] = -1.0f;
    for (int64_t r = 0; r < B->out; r++) {
        float mx = 0.0f;
        for (int64_t k = 0; k < B->in; k++) mx = fmaxf(mx, fabsf(B->values[r * B->in + k]));
        B->values[r * B->in] = 1000.0f * mx;
    }
    return m;
}

TEST(int8_gate_reverts_the_layer_made_bad_and_nothing_when_the_drop_is_free) {
    NEED_FIXTURE();
    hwa_compress_data d = data_of(g_train, g_test);
    hwa_int8_opts o = {.method = HWA_CALIB_MINMAX, .max_drop = 0.02};
    hwa_cmodel *m = outlier_model();
    CHECK(m);
    hwa_int8_report rep;
    CHECK_OK(hwa_compress_int8(m, &o, &d, &rep));
    CHECK_MSG(rep.layer_drop[1] > 0.2, "fc2 alone in int8 loses %.3f", rep.layer_drop[1]);
    CHECK(rep.layer_drop[1] > rep.layer_drop[0] && rep.layer_drop[1] > rep.layer_drop[2]);
    CHECK(rep.kept_float[1]);
    CHECK(m->layer[1].values && !m->layer[1].q);
    CHECK(rep.val_float - rep.val_int8 <= 0.02);
    CHECK_NEAR(accuracy(m), rep.val_int8, 1e-9);
    int int8_layers = 0;
    for (int l = 0; l < 3; l++) int8_layers += m->layer[l].q != NULL && !rep.kept_float[l];
    CHECK_MSG(int8_layers >= 1, "the gate reverted every layer");
    hwa_cmodel_free(m);
    /* a drop of 100 points allowed: every layer int8 */
    m = outlier_model();
    CHECK(m);
    o.max_drop = 1.0;
    CHECK_OK(hwa_compress_int8(m, &o, &d, &rep));
    for (int l = 0; l < 3; l++) {
        CHECK(!rep.kept_float[l]);
        CHECK(m->layer[l].q != NULL);
    }
    CHECK(rep.val_float - rep.val_int8 > 0.2);
    hwa_cmodel_free(m);
}

TEST(int8_keeps_the_accuracy_of_a_normal_model) {
    NEED_FIXTURE();
    hwa_compress_data d = data_of(g_train, g_test);
    const hwa_calib_method ms[3] = {HWA_CALIB_MINMAX, HWA_CALIB_ENTROPY, HWA_CALIB_DYNAMIC};
    for (int i = 0; i < 3; i++) {
        hwa_cmodel *m = base_clone();
        CHECK(m);
        hwa_int8_opts o = {.method = ms[i], .max_drop = -1.0};
        hwa_int8_report rep;
        CHECK_OK(hwa_compress_int8(m, &o, &d, &rep));
        CHECK_NEAR(rep.val_float, g_base_acc, 1e-9);
        CHECK_MSG(rep.val_int8 >= g_base_acc - 0.02, "%s: int8 %.3f, f32 %.3f", hwa_calib_method_name(ms[i]),
                  rep.val_int8, g_base_acc);
        for (int l = 0; l < 3; l++) CHECK(m->layer[l].q != NULL);
        hwa_cmodel_free(m);
    }
}

TEST(calibration_method_names_round_trip) {
    for (int c = 0; c < 4; c++) {
        hwa_calib_method k;
        CHECK_OK(hwa_calib_method_from_name(hwa_calib_method_name((hwa_calib_method)c), &k));
        CHECK_INT_EQ(k, c);
    }
    CHECK_STR_CONTAINS(hwa_calib_method_name(HWA_CALIB_ENTROPY), "entropy");
    CHECK_STATUS(hwa_calib_method_from_name("kl", NULL), HWA_E_NOTFOUND);
}
