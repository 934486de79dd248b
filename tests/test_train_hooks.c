/* The trainer's access for compression passes: setting and reading a
 * layer's weights, the gradient of the last step, and the hook after every
 * optimizer update. */
#include <stdlib.h>

#include "harness.h"

#define N 12 /* samples */
#define F 4  /* features */
#define C 3  /* classes */

/* N samples of F features in [-1, 1) from a fixed LCG, labels i % C. */
static hwa_dataset *toy_set(void) {
    float x[N * F];
    int32_t y[N];
    uint32_t s = 12345u;
    for (int i = 0; i < N * F; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    for (int i = 0; i < N; i++) y[i] = i % C;
    hwa_dataset *d = NULL;
    return hwa_dataset_from_arrays(x, y, N, F, C, &d) == HWA_OK ? d : NULL;
}

/* A trainer on d (borrowed as training and test set): hidden sizes h[0..nh),
 * plain SGD at a constant rate lr, batch rows. */
static hwa_trainer *toy_trainer(const hwa_dataset *d, int nh, const int64_t *h, int64_t batch, double lr,
                                int64_t epochs) {
    hwa_train_config c = hwa_train_config_default();
    c.train_set = d;
    c.test_set = d;
    c.n_hidden = nh;
    for (int i = 0; i < nh; i++) c.hidden[i] = h[i];
    c.batch = batch;
    c.epochs = epochs;
    c.optim = hwa_optim_config_default(HWA_OPTIM_SGD);
    c.sched = hwa_sched_default(HWA_SCHED_CONSTANT, lr, 1);
    c.threads = 1;
    hwa_trainer *t = NULL;
    return hwa_trainer_new(&c, &t) == HWA_OK ? t : NULL;
}

TEST(weights_round_trip_and_layers_out_of_range_are_refused) {
    hwa_dataset *d = toy_set();
    CHECK(d);
    const int64_t h[1] = {5};
    hwa_trainer *t = toy_trainer(d, 1, h, 4, 0.1, 1);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    CHECK_INT_EQ(hwa_trainer_n_layers(t), 2);
    CHECK_INT_EQ(hwa_trainer_layer_out(t, 0), 5);
    CHECK_INT_EQ(hwa_trainer_layer_in(t, 0), F);
    CHECK_INT_EQ(hwa_trainer_layer_out(t, 1), C);
    CHECK_INT_EQ(hwa_trainer_layer_in(t, 1), 5);
    CHECK_INT_EQ(hwa_trainer_layer_out(t, 2), 0);
    float w[5 * F], b[5], w2[5 * F], b2[5];
    for (int i = 0; i < 5 * F; i++) w[i] = 0.25f * (float)i - 2.0f;
    for (int i = 0; i < 5; i++) b[i] = -0.5f * (float)i;
    CHECK_OK(hwa_trainer_set_weights(t, 0, w, b));
    CHECK_OK(hwa_trainer_get_weights(t, 0, w2, b2));
    CHECK(memcmp(w, w2, sizeof w) == 0);
    CHECK(memcmp(b, b2, sizeof b) == 0);
    /* NULL leaves the bias alone */
    for (int i = 0; i < 5 * F; i++) w[i] = 1.0f;
    CHECK_OK(hwa_trainer_set_weights(t, 0, w, NULL));
    CHECK_OK(hwa_trainer_get_weights(t, 0, w2, b2));
    CHECK(memcmp(w, w2, sizeof w) == 0);
    CHECK(memcmp(b, b2, sizeof b) == 0);
    CHECK_STATUS(hwa_trainer_set_weights(t, 2, w, b), HWA_E_RANGE);
    CHECK_STATUS(hwa_trainer_get_weights(t, -1, w, b), HWA_E_RANGE);
    CHECK_STATUS(hwa_trainer_get_grad(t, 2, w), HWA_E_RANGE);
    CHECK_STATUS(hwa_trainer_get_grad(NULL, 0, w), HWA_E_MISUSE);
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}

/* Softmax regression (no hidden layer) over the whole set in one batch: the
 * gradient of the mean cross-entropy is (softmax(x W^T + b) - onehot)^T x / N,
 * worked out here in double; plain SGD then moves W by -lr times it. */
TEST(grad_is_the_softmax_regression_gradient_and_sgd_follows_it) {
    hwa_dataset *d = toy_set();
    CHECK(d);
    const double lr = 0.1;
    hwa_trainer *t = toy_trainer(d, 0, NULL, N, lr, 1);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    float w[C * F], b[C];
    for (int i = 0; i < C * F; i++) w[i] = 0.3f * (float)((i * 7) % 5) - 0.6f;
    for (int i = 0; i < C; i++) b[i] = 0.1f * (float)i;
    CHECK_OK(hwa_trainer_set_weights(t, 0, w, b));
    double want[C * F] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = hwa_dataset_x(d, n);
        double z[C], mx = -1e300, sum = 0.0;
        for (int c = 0; c < C; c++) {
            z[c] = b[c];
            for (int k = 0; k < F; k++) z[c] += (double)w[c * F + k] * x[k];
            mx = z[c] > mx ? z[c] : mx;
        }
        for (int c = 0; c < C; c++) sum += exp(z[c] - mx);
        for (int c = 0; c < C; c++) {
            const double p = exp(z[c] - mx) / sum - (c == hwa_dataset_label(d, n) ? 1.0 : 0.0);
            for (int k = 0; k < F; k++) want[c * F + k] += p * x[k] / N;
        }
    }
    CHECK_OK(hwa_trainer_step(t, 0.0, NULL));
    float g[C * F], w1[C * F];
    CHECK_OK(hwa_trainer_get_grad(t, 0, g));
    CHECK_OK(hwa_trainer_get_weights(t, 0, w1, NULL));
    for (int i = 0; i < C * F; i++) {
        CHECK_NEAR(g[i], want[i], 1e-6);
        CHECK_NEAR(w1[i], w[i] - lr * want[i], 1e-6);
    }
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}

typedef struct hook_log {
    int calls;
    int64_t steps[16];
    double lr[16];
    int fail_at; /* the call that returns an error (0: none) */
} hook_log;

/* Records the call, and holds layer 0's first weight at zero. */
static hwa_status zero_first_weight(void *ud, hwa_trainer *t, int64_t step, double lr) {
    hook_log *log = ud;
    if (log->calls < 16) {
        log->steps[log->calls] = step;
        log->lr[log->calls] = lr;
    }
    if (++log->calls == log->fail_at) return HWA_E_RANGE;
    float w[5 * F];
    hwa_status st = hwa_trainer_get_weights(t, 0, w, NULL);
    w[0] = 0.0f;
    if (st == HWA_OK) st = hwa_trainer_set_weights(t, 0, w, NULL);
    return st;
}

TEST(step_hook_runs_after_every_update_and_its_writes_stay) {
    hwa_dataset *d = toy_set();
    CHECK(d);
    const int64_t h[1] = {5};
    hwa_trainer *t = toy_trainer(d, 1, h, 4, 0.5, 2);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    float w0[5 * F], w1[5 * F];
    CHECK_OK(hwa_trainer_get_weights(t, 0, w0, NULL));
    hook_log log = {0};
    hwa_trainer_set_step_hook(t, zero_first_weight, &log);
    CHECK_OK(hwa_trainer_run(t, NULL));
    CHECK_INT_EQ(log.calls, 6); /* 2 epochs of 3 batches */
    for (int i = 0; i < 6; i++) {
        CHECK_INT_EQ(log.steps[i], i + 1);
        CHECK_NEAR(log.lr[i], 0.5, 1e-7);
    }
    CHECK_OK(hwa_trainer_get_weights(t, 0, w1, NULL));
    CHECK(w1[0] == 0.0f);
    int moved = 0;
    for (int i = 1; i < 5 * F; i++) moved += w1[i] != w0[i];
    CHECK_MSG(moved > 0, "training changed no weight");
    /* removed: the next step leaves the weight to the optimizer */
    hwa_trainer_set_step_hook(t, NULL, &log);
    CHECK_OK(hwa_trainer_step(t, 0.0, NULL));
    CHECK_INT_EQ(log.calls, 6);
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}

TEST(step_hook_error_stops_training_with_its_status) {
    hwa_dataset *d = toy_set();
    CHECK(d);
    const int64_t h[1] = {5};
    hwa_trainer *t = toy_trainer(d, 1, h, 4, 0.5, 3);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    hook_log log = {.fail_at = 2};
    hwa_trainer_set_step_hook(t, zero_first_weight, &log);
    CHECK_STATUS(hwa_trainer_run(t, NULL), HWA_E_RANGE);
    CHECK_INT_EQ(log.calls, 2);
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}
