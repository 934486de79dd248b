/* The tuner (include/hwadapt/tune.h) and the trainer's pieces it stands on:
 * the memory plan against the allocator, the step API against the epoch
 * loop, the batch search under a memory cap and a failing allocation, the
 * learning-rate range test, successive halving, and bad options. The data
 * are synthetic blobs, so nothing here needs Fashion-MNIST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hwadapt/hwadapt.h"

#if defined(HWA_HAVE_JANSSON)
#include <jansson.h>
#endif

enum { FEATURES = 24, CLASSES = 4 };

/* n samples of CLASSES Gaussian-ish blobs (sums of uniforms) around fixed
 * centres: learnable, not trivially. */
static hwa_dataset *blobs(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * FEATURES * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % CLASSES);
        for (int f = 0; f < FEATURES; f++) {
            const float centre = (float)(((y[i] * 7 + f * 3) % 5) - 2) * 0.25f;
            float noise = 0;
            for (int k = 0; k < 3; k++) noise += (float)hwa_bench_rng_uniform(&r) - 0.5f;
            x[i * FEATURES + f] = centre + noise;
        }
    }
    hwa_dataset *d = NULL;
    hwa_status st = hwa_dataset_from_arrays(x, y, n, FEATURES, CLASSES, &d);
    free(x);
    free(y);
    return st ? NULL : d;
}

typedef struct sets {
    hwa_dataset *train, *val, *test;
} sets;

static void sets_make(sets *s) {
    s->train = blobs(1200, 1);
    s->val = blobs(300, 2);
    s->test = blobs(400, 3);
}

static void sets_free(sets *s) {
    hwa_dataset_free(s->train);
    hwa_dataset_free(s->val);
    hwa_dataset_free(s->test);
}

static hwa_train_config config(const sets *s, int64_t batch) {
    hwa_train_config c = hwa_train_config_default();
    c.n_hidden = 1;
    c.hidden[0] = 64;
    c.batch = batch;
    c.threads = 1;
    c.train_set = s->train;
    c.val_set = s->val;
    c.test_set = s->test;
    return c;
}

/* The plan of the backend's part is what the allocator really held, byte
 * for byte: parameters, gradients, Adam's moments, the arenas and inputs of
 * the full and partial training batches and of the evaluation. */
TEST(memory_plan_is_what_the_allocator_holds) {
    sets s;
    sets_make(&s);
    const int64_t batches[3] = {32, 100, 1200};
    for (int i = 0; i < 3; i++) {
        hwa_train_config c = config(&s, batches[i]);
        hwa_train_memory m;
        CHECK_OK(hwa_train_memory_plan(&c, &m));
        CHECK_INT_EQ(m.params, (int64_t)(FEATURES * 64 + 64 + 64 * CLASSES + CLASSES) * 4);
        CHECK_INT_EQ(m.optim_state, 2 * m.params);
        /* each gradient's region aligned to 64 bytes */
        CHECK(m.grads >= m.params && m.grads < m.params + 4 * 64);
        CHECK_INT_EQ(m.device, m.params + m.grads + m.optim_state + m.activations + m.inputs);
        hwa_trainer *t = NULL;
        CHECK_OK(hwa_trainer_new(&c, &t));
        CHECK_OK(hwa_trainer_exercise(t));
        const int64_t peak = hwa_trainer_device_peak_bytes(t);
        /* and a few hundred bytes: the optimizer's one-element placeholder,
         * buffers' sizes rounded up */
        CHECK_MSG(peak >= m.device && peak <= m.device + 256, "batch %lld: allocator peak %lld, plan %lld",
                  (long long)batches[i], (long long)peak, (long long)m.device);
        hwa_trainer_free(t);
    }
    sets_free(&s);
}

TEST(memory_plan_grows_with_the_batch) {
    sets s;
    sets_make(&s);
    hwa_train_config a = config(&s, 64), b = config(&s, 256);
    hwa_train_memory ma, mb;
    CHECK_OK(hwa_train_memory_plan(&a, &ma));
    CHECK_OK(hwa_train_memory_plan(&b, &mb));
    CHECK(mb.activations > ma.activations);
    CHECK_INT_EQ(mb.params, ma.params);
    CHECK_INT_EQ(ma.data, 1200 * 8); /* borrowed sets: only the shuffled order */
    a.optim = hwa_optim_config_default(HWA_OPTIM_SGD);
    CHECK_OK(hwa_train_memory_plan(&a, &ma));
    CHECK_INT_EQ(ma.optim_state, 0);
    sets_free(&s);
}

typedef struct losses {
    double v[64];
    int n;
} losses;

static void on_batch(void *ud, int64_t epoch, int64_t batch, int64_t n_batches, double loss) {
    (void)epoch, (void)batch, (void)n_batches;
    losses *l = ud;
    if (l->n < 64) l->v[l->n++] = loss;
}

/* hwa_trainer_step walks the same batches as an epoch of hwa_trainer_run,
 * with the same schedule: the same losses, bit for bit. */
TEST(steps_follow_the_epoch_loop) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 100);
    c.epochs = 1;
    hwa_trainer *a = NULL, *b = NULL;
    CHECK_OK(hwa_trainer_new(&c, &a));
    CHECK_OK(hwa_trainer_new(&c, &b));
    losses l = {.n = 0};
    hwa_train_callbacks cb = {.batch = on_batch, .ud = &l};
    CHECK_OK(hwa_trainer_run(a, &cb));
    CHECK_INT_EQ(l.n, 12);
    for (int i = 0; i < l.n; i++) {
        double loss;
        CHECK_OK(hwa_trainer_step(b, 0.0, &loss));
        CHECK_MSG(loss == l.v[i], "step %d: %.9g, the loop's %.9g", i, loss, l.v[i]);
    }
    CHECK_INT_EQ(hwa_trainer_epoch(b), 1);
    double la, aa, lb, ab;
    CHECK_OK(hwa_trainer_evaluate_on(a, s.val, &la, &aa));
    CHECK_OK(hwa_trainer_evaluate_on(b, s.val, &lb, &ab));
    CHECK(la == lb && aa == ab);
    CHECK(hwa_trainer_val_set(a) == s.val);
    hwa_dataset *wrong = NULL;
    float x[3] = {0};
    int32_t y[1] = {0};
    CHECK_OK(hwa_dataset_from_arrays(x, y, 1, 3, CLASSES, &wrong));
    CHECK_STATUS(hwa_trainer_evaluate_on(a, wrong, &la, &aa), HWA_E_INVALID);
    hwa_dataset_free(wrong);
    hwa_trainer_free(a);
    hwa_trainer_free(b);
    sets_free(&s);
}

TEST(borrowed_data_refuses_cutting) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 64);
    c.limit = 100;
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_INVALID);
    c = config(&s, 64);
    c.test_set = NULL;
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_INVALID);
    c = config(&s, 64);
    hwa_dataset *other = blobs(10, 4);
    CHECK_OK(hwa_dataset_truncate(other, 5));
    c.val_set = other;
    CHECK_OK(hwa_train_config_check(&c)); /* same features and classes */
    hwa_dataset_free(other);
    sets_free(&s);
}

/* With the memory to fit given, the chosen batch is the largest whose plan
 * fits: the next one up does not. */
TEST(batch_is_the_largest_that_fits) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 64);
    hwa_tune_target tg = {.train = &c};
    int64_t one, big;
    CHECK_OK(hwa_tune_predict(&tg, 1, &one, NULL));
    CHECK_OK(hwa_tune_predict(&tg, 1200, &big, NULL));
    CHECK(big > one);
    /* the kernels' workspace (measured: large under a sanitizer) first */
    hwa_tune_batch_opts o = {.mem_bytes = (int64_t)1 << 34, .margin = 0.05};
    hwa_tune_batch_result r;
    CHECK_OK(hwa_tune_batch(&tg, &o, &r));
    const double ws1 = (double)r.workspace_base_bytes + r.workspace_per_sample,
                 ws1200 = (double)r.workspace_base_bytes + 1200 * r.workspace_per_sample;
    o.mem_bytes = (int64_t)(((double)one + ws1 + (double)big + ws1200) / 2 / 0.95);
    CHECK_OK(hwa_tune_batch(&tg, &o, &r));
    CHECK(r.max_fit > 1 && r.max_fit < 1200);
    CHECK(r.max_fit_bytes <= r.avail_bytes);
    CHECK_MSG(r.next_bytes > r.avail_bytes, "batch %lld + 1 plans %lld bytes, %lld available",
              (long long)r.max_fit, (long long)r.next_bytes, (long long)r.avail_bytes);
    CHECK_INT_EQ(r.batch, r.max_fit); /* no curve: the largest */
    CHECK_INT_EQ(r.confirmed_batch, 0);
    /* more memory, a larger batch */
    o.mem_bytes = (int64_t)1 << 30;
    hwa_tune_batch_result r2;
    CHECK_OK(hwa_tune_batch(&tg, &o, &r2));
    CHECK_INT_EQ(r2.max_fit, 1200); /* the training set caps it */
    CHECK_INT_EQ(r2.next_bytes, -1);
    sets_free(&s);
}

/* The device's memory capped far below what the search plans for: the
 * confirmation's allocation fails, the search backs off and confirms a
 * batch that fits the cap. */
TEST(failed_confirmation_backs_off) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 64);
    hwa_tune_target tg = {.train = &c};
    int64_t dev_big, dev_small;
    CHECK_OK(hwa_tune_predict(&tg, 1200, NULL, &dev_big));
    CHECK_OK(hwa_tune_predict(&tg, 16, NULL, &dev_small));
    char cap[64];
    snprintf(cap, sizeof cap, "cpu=%lld", (long long)(dev_small + (dev_big - dev_small) / 8));
    setenv("HWA_MEM_LIMIT", cap, 1);
    hwa_tune_batch_opts o = {.mem_bytes = (int64_t)1 << 34, .confirm = true};
    hwa_tune_batch_result r;
    hwa_status st = hwa_tune_batch(&tg, &o, &r);
    unsetenv("HWA_MEM_LIMIT");
    CHECK_OK(st);
    CHECK_MSG(r.n_backoffs >= 1, "no confirmation failed under %s", cap);
    CHECK_INT_EQ(r.backoffs[0].batch, 1200);
    CHECK(strstr(r.backoffs[0].why, "HWA_MEM_LIMIT") != NULL);
    CHECK(r.confirmed_batch > 0 && r.confirmed_batch < 1200);
    CHECK_INT_EQ(r.max_fit, r.confirmed_batch);
    int64_t dev;
    CHECK_OK(hwa_tune_predict(&tg, r.confirmed_batch, NULL, &dev));
    CHECK(dev <= atoll(cap + 4));
    /* the allocator never went past the cap */
    CHECK(r.device_peak_bytes > 0 && r.device_peak_bytes <= atoll(cap + 4));
    sets_free(&s);
}

TEST(range_test_finds_a_rate_and_stops_on_divergence) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 32);
    c.optim = hwa_optim_config_default(HWA_OPTIM_MOMENTUM);
    hwa_tune_target tg = {.train = &c};
    hwa_tune_lr_result *r = malloc(sizeof *r);
    CHECK_OK(hwa_tune_lr_range(&tg, &(hwa_tune_lr_opts){.lr_min = 1e-5, .lr_max = 1e3, .steps = 150}, r));
    CHECK(r->diverged);
    CHECK(r->n > 20 && r->n < 150);
    for (int i = 1; i < r->n; i++) CHECK(r->lr[i] > r->lr[i - 1] && isfinite(r->smoothed[i]));
    /* the loss fell below its start before it rose */
    double lo = INFINITY;
    for (int i = 0; i < r->n; i++) lo = fmin(lo, r->smoothed[i]);
    CHECK(lo < 0.8 * r->smoothed[5]);
    CHECK(r->suggestion > 1e-5 && r->suggestion < 1e3);
    CHECK_NEAR(r->suggestion, r->lr_at_min / 10, 1e-12 * r->lr_at_min);
    CHECK(r->lr_steepest <= r->lr_at_min);
    /* a forward workload has no rate */
    hwa_tune_target w = {.workload = "mlp1000"};
    CHECK_STATUS(hwa_tune_lr_range(&w, &(hwa_tune_lr_opts){0}, r), HWA_E_INVALID);
    free(r);
    sets_free(&s);
}

TEST(search_keeps_the_best_trial) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 50);
    hwa_tune_target tg = {.train = &c};
    hwa_tune_search_opts o = {.n_optims = 2, .optims = {HWA_OPTIM_MOMENTUM, HWA_OPTIM_ADAM},
                              .suggested = {0.05, 3e-3}, .rung_steps = 4};
    hwa_tune_search_result r;
    CHECK_OK(hwa_tune_search(&tg, &o, &r));
    CHECK_INT_EQ(r.n, 6);
    CHECK(r.rungs >= 2);
    const hwa_tune_trial *best = &r.trials[r.best];
    CHECK_INT_EQ(best->rung, r.rungs - 1);
    for (int i = 0; i < r.n; i++) {
        CHECK(r.trials[i].steps >= 4);
        if (r.trials[i].rung == best->rung && i != r.best) CHECK(!(r.trials[i].val_loss < best->val_loss));
    }
    CHECK(best->val_accuracy > 0.5);
    o.suggested[1] = 0;
    CHECK_STATUS(hwa_tune_search(&tg, &o, &r), HWA_E_INVALID);
    c.val_set = NULL;
    o.suggested[1] = 1e-3;
    CHECK_STATUS(hwa_tune_search(&tg, &o, &r), HWA_E_INVALID);
    sets_free(&s);
}

TEST(bad_jobs_are_refused) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 64);
    hwa_tune_report *r = NULL;
    hwa_tune_job j = {.target = {.train = &c}, .budget_s = 0};
    CHECK_STATUS(hwa_tune_run(&j, &r), HWA_E_INVALID);
    CHECK(strstr(hwa_last_error(), "budget") != NULL);
    j.budget_s = -5;
    CHECK_STATUS(hwa_tune_run(&j, &r), HWA_E_INVALID);
    j = (hwa_tune_job){.target = {.train = &c, .workload = "mlp1000"}, .budget_s = 10};
    CHECK_STATUS(hwa_tune_run(&j, &r), HWA_E_INVALID);
    j = (hwa_tune_job){.target = {.workload = "resnet9000"}, .budget_s = 10};
    CHECK_STATUS(hwa_tune_run(&j, &r), HWA_E_NOTFOUND);
    j = (hwa_tune_job){.target = {.workload = "mlp1000", .device = "opencl:99"}, .budget_s = 10};
    CHECK(hwa_tune_run(&j, &r) != HWA_OK);
    hwa_tune_batch_result br;
    hwa_tune_target tg = {.train = &c};
    CHECK_STATUS(hwa_tune_batch(&tg, &(hwa_tune_batch_opts){.p99_ms = 5}, &br), HWA_E_INVALID);
    CHECK_STATUS(hwa_tune_batch(&tg, &(hwa_tune_batch_opts){.margin = -0.1}, &br), HWA_E_INVALID);
    CHECK_STATUS(hwa_tune_batch(&tg, &(hwa_tune_batch_opts){.mem_bytes = 1000}, &br), HWA_E_NOMEM);
    CHECK(strstr(hwa_last_error(), "not even batch 1") != NULL);
    c.val_set = NULL;
    j = (hwa_tune_job){.target = {.train = &c}, .budget_s = 10};
    CHECK_STATUS(hwa_tune_run(&j, &r), HWA_E_INVALID);
    CHECK(r == NULL);
    sets_free(&s);
}

/* A whole job on the blobs within a step budget: a report whose settings
 * name a batch that fits, a rate from the search, and epochs. */
TEST(job_writes_settings_train_takes) {
    sets s;
    sets_make(&s);
    hwa_train_config c = config(&s, 64);
    hwa_tune_job j = {.target = {.train = &c}, .budget_steps = 400,
                      .batch = {.mem_bytes = (int64_t)1 << 30, .confirm = true, .curve = true, .point_s = 0.02,
                                .max_batch = 256},
                      .n_optims = 2, .optims = {HWA_OPTIM_MOMENTUM, HWA_OPTIM_ADAM}};
    hwa_tune_report *r = NULL;
    CHECK_OK(hwa_tune_run(&j, &r));
    if (!r) return;
    CHECK(r->training && !r->synthetic && r->searched);
    CHECK(r->batch.batch >= 8 && r->batch.batch <= 256);
    CHECK_INT_EQ(r->batch.confirmed_batch, 256);
    CHECK(r->batch.n_points >= 3);
    CHECK_INT_EQ(r->n_lr, 2);
    CHECK(r->lr_value > 0 && r->epochs >= 1 && r->schedule == HWA_SCHED_COSINE);
    const hwa_tune_trial *w = &r->search.trials[r->search.best];
    CHECK(r->lr_value == w->lr && r->optim == w->optim);
    char path[512];
    snprintf(path, sizeof path, "%s/tuned.json", hwa_test_tmpdir());
    CHECK_OK(hwa_tune_report_save(r, path));
#if defined(HWA_HAVE_JANSSON)
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    CHECK_MSG(doc != NULL, "%s: %s", path, e.text);
    json_t *tr = json_object_get(doc, "train");
    CHECK(json_integer_value(json_object_get(tr, "batch")) == r->batch.batch);
    CHECK(json_number_value(json_object_get(tr, "lr")) == r->lr_value); /* %.17g reads back exactly */
    CHECK(!strcmp(json_string_value(json_object_get(tr, "optimizer")), hwa_optim_kind_name(r->optim)));
    CHECK(json_is_array(json_object_get(json_object_get(json_object_get(doc, "tune"), "batch"), "curve")));
    json_decref(doc);
#endif
    hwa_tune_report_free(r);
    sets_free(&s);
}

/* What the CPU's kernels keep beside a graph: oneDNN's copy of a weight
 * that is a plain leaf (at least its bytes, in its own layout), none of a
 * trainable parameter (read in place, as it changes every step). */
TEST(kept_copies_are_planned) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 64, 256);
    hwa_tensor *w = hwa_tensor_new_2d(ctx, HWA_F32, 128, 256);
    hwa_tensor *p = hwa_tensor_new_2d(ctx, HWA_F32, 128, 256);
    CHECK_OK(hwa_tensor_set_param(p));
    hwa_graph *gw = hwa_graph_new(ctx), *gp = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(gw, hwa_matmul_ex(ctx, x, w, false, true)));
    CHECK_OK(hwa_graph_build_forward(gp, hwa_matmul_ex(ctx, x, p, false, true)));
    int64_t kw = -1, kp = -1;
    CHECK_OK(hwa_backend_plan_kept(be, gw, &kw));
    CHECK_OK(hwa_backend_plan_kept(be, gp, &kp));
    CHECK_INT_EQ(kp, 0);
    /* oneDNN may be absent or not chosen (HWA_MATMUL, HWA_ISA=scalar) */
    CHECK_MSG(kw == 0 || kw >= 128 * 256 * 4, "a copy of %lld bytes for a %d-byte weight", (long long)kw, 128 * 256 * 4);
    CHECK_STATUS(hwa_backend_plan_kept(be, NULL, &kw), HWA_E_MISUSE);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}
