/* Training on device "auto": the graphs placed across cpu and opencl:0
 * (a layer split, or everything on opencl:0) give the losses and weights
 * that training on the CPU gives; a failing device ends the run by name, or
 * with fallback is left out and the run completes with the same results;
 * bad device lists are refused. The data: a synthetic Fashion-MNIST-shaped
 * set (28x28 bytes, 10 classes) written as IDX files, so that the test
 * needs no dataset package. */
#include <stdlib.h>

#include "harness.h"
#include "train/train_internal.h"

#define N_TRAIN 150 /* 15 for validation, then two full batches of 64 and a partial one of 7 */
#define N_TEST 40

/* Writes an IDX file: magic (u8 data, dims), big-endian dims, then data. */
static bool write_idx(const char *path, const uint32_t *dims, int nd, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    uint8_t h[4] = {0, 0, 8, (uint8_t)nd};
    bool ok = fwrite(h, 1, 4, f) == 4;
    for (int i = 0; i < nd; i++) {
        uint8_t be[4] = {(uint8_t)(dims[i] >> 24), (uint8_t)(dims[i] >> 16), (uint8_t)(dims[i] >> 8), (uint8_t)dims[i]};
        ok &= fwrite(be, 1, 4, f) == 4;
    }
    ok &= fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Images whose label shifts where the bright pixels are, so that the loss
 * falls; in Fashion-MNIST's file names (the reader takes raw IDX too). */
static const char *synthetic_fmnist(void) {
    static char dir[4096];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/fmnist", hwa_test_tmpdir());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return NULL;
    uint32_t s = 12345;
    for (int set = 0; set < 2; set++) {
        const int n = set ? N_TEST : N_TRAIN;
        uint8_t *img = malloc((size_t)n * 784), *lab = malloc((size_t)n);
        if (!img || !lab) return NULL;
        for (int i = 0; i < n; i++) {
            lab[i] = (uint8_t)(i % 10);
            for (int p = 0; p < 784; p++) {
                s = s * 1664525u + 1013904223u;
                img[(size_t)i * 784 + p] = (uint8_t)((s >> 24) / 2 + (p / 78 == lab[i] ? 120 : 0));
            }
        }
        char ip[4200], lp[4200];
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, set ? "t10k" : "train");
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, set ? "t10k" : "train");
        bool ok = write_idx(ip, (const uint32_t[]){(uint32_t)n, 28, 28}, 3, img, (size_t)n * 784) &&
                  write_idx(lp, (const uint32_t[]){(uint32_t)n}, 1, lab, (size_t)n);
        free(img);
        free(lab);
        if (!ok) return NULL;
    }
    return dir;
}

/* fmnist-mlp (784 -> 1000 relu -> 1000 relu -> 10) for two epochs of three
 * steps, with a validation split, so that every graph runs: both training
 * graphs, and both evaluation graphs (the 40 test samples, the 15
 * validation samples). */
static hwa_train_config small_config(void) {
    hwa_train_config c = hwa_train_config_default();
    c.data_dir = synthetic_fmnist();
    c.epochs = 2;
    c.batch = 64;
    c.val_fraction = 0.1;
    c.threads = 2;
    return c;
}

#define MAX_LOSSES 64

typedef struct run {
    double loss[MAX_LOSSES]; /* per batch, then per epoch: test and validation losses */
    int n;
    float *params;           /* every parameter, in export order */
    int64_t n_params;
    char fallback[400];
    int fallbacks;
} run;

static void on_batch(void *ud, int64_t epoch, int64_t batch, int64_t n_batches, double loss) {
    (void)epoch, (void)batch, (void)n_batches;
    run *r = ud;
    if (r->n < MAX_LOSSES) r->loss[r->n++] = loss;
}

static void on_epoch(void *ud, const hwa_epoch_stats *s) {
    run *r = ud;
    if (r->n + 2 <= MAX_LOSSES) r->loss[r->n++] = s->test_loss, r->loss[r->n++] = s->val_loss;
}

static void on_fallback(void *ud, const char *note) {
    run *r = ud;
    snprintf(r->fallback, sizeof r->fallback, "%s", note);
    r->fallbacks++;
}

/* Trains with c and keeps the losses and the final parameters in r. */
static hwa_status train(const hwa_train_config *c, run *r, char *placed, size_t cap) {
    memset(r, 0, sizeof *r);
    hwa_trainer *t = NULL;
    hwa_status st = hwa_trainer_new(c, &t);
    if (st) return st;
    if (placed) {
        const hwa_placement *pl = hwa_trainer_placement(t);
        snprintf(placed, cap, "%s", pl ? hwa_placement_choice(pl) : "(not placed)");
    }
    hwa_train_callbacks cb = {.batch = on_batch, .epoch = on_epoch, .ud = r, .fallback = on_fallback};
    st = hwa_trainer_run(t, &cb);
    r->n_params = hwa_trainer_n_params(t);
    r->params = malloc((size_t)r->n_params * sizeof(float));
    char name[HWA_MAX_NAME];
    hwa_tensor *p;
    for (int i = 0, off = 0; st == HWA_OK && (p = hwa__train_param(t, i, name, sizeof name)); i++) {
        st = hwa_tensor_get_f32(p, r->params + off, hwa_tensor_nelements(p));
        off += (int)hwa_tensor_nelements(p);
    }
    if (st == HWA_OK && placed && hwa_trainer_placement(t))
        snprintf(placed + strlen(placed), cap - strlen(placed), " -> %s", hwa_placement_choice(hwa_trainer_placement(t)));
    hwa_trainer_free(t);
    return st;
}

/* ||a - b|| / ||b|| (2-norms). Not the largest difference per element:
 * Adam divides each update by the root of the squared gradients' average,
 * so an element whose gradients are near zero turns a rounding difference
 * between devices (another order of summation) into a sizeable share of
 * the learning rate, for that element alone. */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double d2 = 0, n2 = 0;
    for (int64_t i = 0; i < n; i++) {
        d2 += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
        n2 += (double)b[i] * (double)b[i];
    }
    return n2 > 0 ? sqrt(d2 / n2) : sqrt(d2);
}

static void free_run(run *r) {
    free(r->params);
    r->params = NULL;
}

/* Whether two runs gave the same bits. */
static bool same_bits(const run *a, const run *b) {
    return a->n == b->n && !memcmp(a->loss, b->loss, sizeof a->loss) && a->n_params == b->n_params &&
           !memcmp(a->params, b->params, (size_t)a->n_params * sizeof(float));
}

/* Trains c on the CPU into *ref, then sets c up for device auto over cpu
 * and the OpenCL device (with_opencl) or with no list. false when the test
 * was skipped or failed (nothing to free then). */
static bool cpu_reference(hwa_train_config *c, run *ref, bool with_opencl) {
    if (!c->data_dir) {
        hwa_test_skip("cannot write the synthetic dataset");
        return false;
    }
    if (with_opencl && !hwa_test_have_opencl()) return false;
    setenv("HWA_ADAPT_THREADS", "0", 1); /* the same threads on every compute: the same bits */
    hwa_status st = train(c, ref, NULL, 0);
    if (st) {
        free_run(ref);
        hwa_test_fail(__FILE__, __LINE__, "training on the CPU: %s", hwa_last_error());
        return false;
    }
    c->device = "auto";
    c->devices = with_opencl ? hwa_test_cpu_and_opencl() : NULL;
    return true;
}

/* The same run on the CPU and as placed by opts over cpu and the OpenCL
 * device: the same losses (each within 1e-4 of itself) and weights (the
 * difference's norm within 1e-4 of theirs). */
static void check_like_cpu(hwa_train_config c, const hwa_place_opts *opts, const char *want_choice) {
    run ref, got;
    if (!cpu_reference(&c, &ref, true)) return;
    c.place = opts;
    char placed[256];
    hwa_status st = train(&c, &got, placed, sizeof placed);
    if (st) free_run(&ref), free_run(&got);
    CHECK_OK(st);
    const double dp = rel_diff(got.params, ref.params, ref.n_params);
    double dl = 0;
    for (int i = 0; i < ref.n; i++) {
        const double d = fabs(got.loss[i] - ref.loss[i]) / fabs(ref.loss[i]);
        if (d > dl) dl = d;
    }
    const int n = ref.n, gn = got.n;
    free_run(&ref);
    free_run(&got);
    printf("    placed as %s: losses within %.2g, parameters within %.2g (relative)\n", placed, dl, dp);
    CHECK_STR_CONTAINS(placed, want_choice);
    CHECK_INT_EQ(gn, n);
    CHECK_INT_EQ(n, 2 * 3 + 2 * 2);
    CHECK(dl <= 1e-4);
    CHECK(dp <= 1e-4);
}

TEST(a_layer_split_across_cpu_and_opencl_trains_like_the_cpu) {
    hwa_place_opts o = {.mode = HWA_PLACE_LAYERS, .split = 0.5, .profile_path = ""};
    check_like_cpu(small_config(), &o, "layers cpu:0 | opencl:");
}

TEST(everything_on_opencl_but_the_updates_trains_like_the_cpu) {
    hwa_place_opts o = {.mode = HWA_PLACE_SINGLE, .device = 1, .profile_path = ""};
    check_like_cpu(small_config(), &o, "opencl:");
}

TEST(gradient_clipping_and_momentum_read_gradients_from_the_other_device) {
    /* The optimizer's gradient norm reads every gradient, all of them on
     * opencl: a quarter of the nodes on the CPU cuts the forward pass, whose
     * activations cross to opencl too. */
    hwa_train_config c = small_config();
    c.optim = hwa_optim_config_default(HWA_OPTIM_NESTEROV);
    c.optim.clip_norm = 0.5f;
    c.sched.lr = 0.01;
    hwa_place_opts o = {.mode = HWA_PLACE_LAYERS, .split = 0.25, .profile_path = ""};
    check_like_cpu(c, &o, "layers cpu:0 | opencl:");
}

TEST(without_figures_auto_keeps_the_cpu_and_its_bits) {
    hwa_train_config c = small_config();
    run ref, got;
    if (!cpu_reference(&c, &ref, false)) return; /* no passport, no list: the CPU alone */
    char placed[256];
    hwa_status st = train(&c, &got, placed, sizeof placed);
    const bool same = st == HWA_OK && same_bits(&got, &ref);
    free_run(&ref);
    free_run(&got);
    CHECK_OK(st);
    CHECK_STR_CONTAINS(placed, "cpu:0 -> cpu:0");
    CHECK(same);
}

TEST(a_failing_device_ends_the_run_by_name_or_with_fallback_is_left_out) {
    hwa_train_config c = small_config();
    run ref, got;
    if (!cpu_reference(&c, &ref, true)) return;
    hwa_place_opts o = {.mode = HWA_PLACE_SINGLE, .device = 1, .profile_path = ""};
    c.place = &o;
    setenv("HWA_FAULT_DEVICE", hwa_test_opencl_spec(), 1);
    hwa_status st = train(&c, &got, NULL, 0);
    free_run(&got);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hwa_last_error());
    if (st != HWA_E_DEVICE) {
        unsetenv("HWA_FAULT_DEVICE");
        free_run(&ref);
    }
    CHECK_STATUS(st, HWA_E_DEVICE);
    CHECK_STR_CONTAINS(msg, "injected fault");
    c.fallback = true;
    char placed[256];
    st = train(&c, &got, placed, sizeof placed);
    unsetenv("HWA_FAULT_DEVICE");
    /* re-planned onto the CPU before the first step ran: the CPU's bits */
    const bool same = st == HWA_OK && same_bits(&got, &ref);
    const int n = got.n, fallbacks = got.fallbacks;
    char note[400];
    snprintf(note, sizeof note, "%s", got.fallback);
    free_run(&ref);
    free_run(&got);
    CHECK_OK(st);
    printf("    %s; placed %s\n", note, placed);
    CHECK_INT_EQ(fallbacks, 1);
    CHECK_STR_CONTAINS(note, "--fallback: opencl:");
    CHECK_STR_CONTAINS(note, "injected fault");
    CHECK_STR_CONTAINS(note, "re-planned without opencl:");
    CHECK_STR_CONTAINS(placed, " -> cpu:0");
    CHECK_INT_EQ(n, 10);
    CHECK(same);
}

TEST(device_lists_without_auto_or_without_the_cpu_are_refused) {
    hwa_train_config c = small_config();
    if (!c.data_dir) SKIP("cannot write the synthetic dataset");
    hwa_trainer *t = NULL;
    c.devices = "cpu";
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "need --device auto");
    c.devices = NULL;
    c.fallback = true;
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_INVALID);
    c.device = "auto";
    c.devices = "cpu,cpu:0";
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "names cpu:0 twice");
    c.devices = "cpu,nosuch:0";
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "nosuch");
    hwa_place_opts o = {.mode = HWA_PLACE_GIVEN};
    c.devices = "cpu";
    c.place = &o;
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_INVALID);
    CHECK(t == NULL);
    if (!hwa_test_have_opencl()) return;
    c.place = NULL;
    c.devices = hwa_test_opencl_spec();
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "must include cpu");
}
