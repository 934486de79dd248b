/* fmnist-cnn in the trainer: it learns, its dropout is seeded (same seed,
 * same bits; a resumed run equals one that never stopped), its batchnorm
 * running statistics are trained, saved and restored, and the MLP-only
 * weight access says which model it is. On synthetic 28x28 images (the
 * class is where a bright square sits), so the test needs no dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define N 96      /* samples */
#define C 4       /* classes */
#define SIDE 28

/* Image i: noise in [0, 0.25) from an LCG, plus a 6x6 square of 1.0 in
 * quadrant i % C, at an offset that varies with i. */
static hwa_dataset *toy_images(void) {
    float *x = calloc((size_t)N * SIDE * SIDE, sizeof *x);
    int32_t y[N];
    uint32_t s = 777u;
    if (!x) return NULL;
    for (int i = 0; i < N * SIDE * SIDE; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 0.25f;
    }
    for (int i = 0; i < N; i++) {
        const int c = i % C, r0 = (c / 2) * 14 + 2 + (i / C) % 5, c0 = (c % 2) * 14 + 2 + (i / C / 5) % 5;
        for (int r = r0; r < r0 + 6; r++)
            for (int q = c0; q < c0 + 6; q++) x[(size_t)i * SIDE * SIDE + (size_t)r * SIDE + (size_t)q] = 1.0f;
        y[i] = c;
    }
    hwa_dataset *d = NULL;
    hwa_status st = hwa_dataset_from_arrays(x, y, N, SIDE * SIDE, C, &d);
    free(x);
    return st == HWA_OK ? d : NULL;
}

static hwa_train_config cnn_config(const hwa_dataset *d, int64_t epochs, uint64_t seed) {
    hwa_train_config c = hwa_train_config_default();
    c.model = "fmnist-cnn";
    c.train_set = d;
    c.test_set = d;
    c.batch = 20; /* 96 = 4 x 20 + a partial batch of 16 */
    c.epochs = epochs;
    c.seed = seed;
    c.threads = 1;
    return c;
}

static hwa_trainer *cnn_trainer(const hwa_train_config *c) {
    hwa_trainer *t = NULL;
    return hwa_trainer_new(c, &t) == HWA_OK ? t : NULL;
}

/* The whole file at path into *buf (malloc'ed); its size, or -1. */
static long slurp(const char *path, char **buf) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    return n;
}

static bool same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    const long na = slurp(a, &x), nb = slurp(b, &y);
    const bool same = na > 0 && na == nb && !memcmp(x, y, (size_t)na);
    free(x);
    free(y);
    return same;
}

/* F32 tensor name of the safetensors file path into v[0..n). */
static bool read_f32(const char *path, const char *name, float *v, int64_t n) {
    hwa_model_file *f = NULL;
    if (hwa_model_file_open(path, HWA_FORMAT_SAFETENSORS, &f)) return false;
    const hwa_file_tensor *ft = hwa_model_file_find(f, name);
    const bool ok = ft && ft->file_dtype == HWA_FDT_F32 && ft->nbytes == (size_t)n * sizeof(float);
    if (ok) memcpy(v, ft->data, ft->nbytes);
    hwa_model_file_free(f);
    return ok;
}

TEST(cnn_learns_the_toy_images_and_its_loss_falls) {
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = cnn_config(d, 6, 1);
    hwa_trainer *t = cnn_trainer(&c);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    /* conv1 288 + bn1 64 + conv2 18432 + bn2 128 + fc1 3136*128 + 128 + fc2 128*4 + 4 */
    CHECK_INT_EQ(hwa_trainer_n_params(t), 288 + 64 + 18432 + 128 + 3136 * 128 + 128 + 128 * C + C);
    double loss0, acc0, loss1, acc1;
    CHECK_OK(hwa_trainer_evaluate(t, &loss0, &acc0));
    CHECK_OK(hwa_trainer_run(t, NULL));
    CHECK_OK(hwa_trainer_evaluate(t, &loss1, &acc1));
    CHECK_MSG(loss1 < 0.5 * loss0, "loss %g -> %g", loss0, loss1);
    CHECK_MSG(acc1 >= 0.9, "accuracy %g -> %g", acc0, acc1);
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}

TEST(cnn_same_seed_same_bits_and_the_seed_moves_dropout) {
    hwa_dataset *d = toy_images();
    CHECK(d);
    char dir[] = "/tmp/hwa_test_cnn.XXXXXX";
    CHECK(mkdtemp(dir));
    char p[3][256];
    const uint64_t seeds[3] = {3, 3, 4};
    for (int k = 0; k < 3; k++) {
        hwa_train_config c = cnn_config(d, 1, seeds[k]);
        hwa_trainer *t = cnn_trainer(&c);
        CHECK_MSG(t, "trainer: %s", hwa_last_error());
        snprintf(p[k], sizeof p[k], "%s/e%d.safetensors", dir, k);
        hwa_status st = hwa_trainer_run(t, NULL);
        if (st == HWA_OK) st = hwa_trainer_export(t, p[k]);
        hwa_trainer_free(t);
        CHECK_OK(st);
    }
    CHECK_MSG(same_file(p[0], p[1]), "two runs with seed 3 differ");
    CHECK_MSG(!same_file(p[0], p[2]), "seeds 3 and 4 gave the same weights");
    for (int k = 0; k < 3; k++) unlink(p[k]);
    rmdir(dir);
    hwa_dataset_free(d);
}

TEST(cnn_resume_is_bit_exact_and_restores_batchnorm_statistics) {
    hwa_dataset *d = toy_images();
    CHECK(d);
    char dir[] = "/tmp/hwa_test_cnn.XXXXXX";
    CHECK(mkdtemp(dir));
    char straight[300], resumed[300], ck[300];
    snprintf(straight, sizeof straight, "%s/straight.safetensors", dir);
    snprintf(resumed, sizeof resumed, "%s/resumed.safetensors", dir);
    snprintf(ck, sizeof ck, "%s/ck", dir);
    /* three epochs in one go */
    hwa_train_config c = cnn_config(d, 3, 9);
    hwa_trainer *t = cnn_trainer(&c);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    CHECK_OK(hwa_trainer_run(t, NULL));
    double loss_a, acc_a;
    CHECK_OK(hwa_trainer_evaluate(t, &loss_a, &acc_a));
    CHECK_OK(hwa_trainer_export(t, straight));
    hwa_trainer_free(t);
    /* two epochs with checkpoints, then a new trainer resumes for the third */
    c = cnn_config(d, 2, 9);
    c.checkpoint_dir = ck;
    CHECK((t = cnn_trainer(&c)));
    CHECK_OK(hwa_trainer_run(t, NULL));
    hwa_trainer_free(t);
    c.epochs = 3;
    c.resume = true;
    CHECK((t = cnn_trainer(&c)));
    CHECK(hwa_trainer_resumed_from(t) != NULL);
    CHECK_INT_EQ(hwa_trainer_epoch(t), 2);
    CHECK_OK(hwa_trainer_run(t, NULL));
    double loss_b, acc_b;
    CHECK_OK(hwa_trainer_evaluate(t, &loss_b, &acc_b));
    CHECK_OK(hwa_trainer_export(t, resumed));
    hwa_trainer_free(t);
    CHECK_MSG(same_file(straight, resumed), "a resumed run differs from one that never stopped");
    CHECK_MSG(loss_a == loss_b && acc_a == acc_b, "evaluation %.17g/%g vs %.17g/%g", loss_a, acc_a, loss_b, acc_b);

    /* the running statistics were trained (no longer mean 0, variance 1)
     * and a checkpoint restores them: a trainer that loads the third
     * epoch's checkpoint evaluates exactly as the one that wrote it */
    float mean[64], var[64];
    CHECK(read_f32(straight, "bn2.running_mean", mean, 64));
    CHECK(read_f32(straight, "bn2.running_var", var, 64));
    int moved = 0;
    for (int i = 0; i < 64; i++) moved += mean[i] != 0.0f && var[i] != 1.0f;
    CHECK_MSG(moved > 32, "only %d of bn2's 64 channels have trained statistics", moved);
    char ck3[400];
    snprintf(ck3, sizeof ck3, "%s/ckpt-000003.safetensors", ck);
    c = cnn_config(d, 3, 9);
    CHECK((t = cnn_trainer(&c)));
    double loss_fresh, acc_fresh, loss_c, acc_c;
    CHECK_OK(hwa_trainer_evaluate(t, &loss_fresh, &acc_fresh));
    CHECK_OK(hwa_trainer_load_checkpoint(t, ck3));
    CHECK_OK(hwa_trainer_evaluate(t, &loss_c, &acc_c));
    CHECK_MSG(loss_c == loss_b, "after loading: %.17g, the writer evaluated %.17g", loss_c, loss_b);
    CHECK(loss_fresh != loss_c);
    hwa_trainer_free(t);

    /* an MLP cannot load the CNN's checkpoint: the model differs */
    hwa_train_config m = cnn_config(d, 3, 9);
    m.model = NULL;
    m.n_hidden = 1;
    m.hidden[0] = 8;
    CHECK((t = cnn_trainer(&m)));
    CHECK_STATUS(hwa_trainer_load_checkpoint(t, ck3), HWA_E_FORMAT);
    hwa_trainer_free(t);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    hwa_dataset_free(d);
}

TEST(cnn_has_no_mlp_layers_and_says_so) {
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = cnn_config(d, 1, 1);
    hwa_trainer *t = cnn_trainer(&c);
    CHECK_MSG(t, "trainer: %s", hwa_last_error());
    float w[4];
    CHECK_INT_EQ(hwa_trainer_n_layers(t), 0);
    CHECK_STATUS(hwa_trainer_get_weights(t, 0, w, NULL), HWA_E_UNSUPPORTED);
    CHECK(strstr(hwa_last_error(), "fmnist-cnn") != NULL);
    CHECK_STATUS(hwa_trainer_set_weights(t, 0, w, NULL), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_trainer_get_grad(t, 0, w), HWA_E_UNSUPPORTED);
    hwa_trainer_free(t);
    /* images of another size are refused, naming the model */
    float x[2 * 10] = {0};
    int32_t y[2] = {0, 1};
    hwa_dataset *small = NULL;
    CHECK_OK(hwa_dataset_from_arrays(x, y, 2, 10, 2, &small));
    c = cnn_config(small, 1, 1);
    c.batch = 2;
    CHECK(hwa_trainer_new(&c, &t) == HWA_E_INVALID);
    CHECK(strstr(hwa_last_error(), "fmnist-cnn") != NULL);
    hwa_dataset_free(small);
    c.train_set = c.test_set = d;
    c.model = "resnet";
    CHECK_STATUS(hwa_train_config_check(&c), HWA_E_INVALID);
    hwa_dataset_free(d);
}

TEST(cnn_memory_plan_counts_its_parameters_and_statistics) {
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = cnn_config(d, 1, 1);
    hwa_train_memory m;
    CHECK_OK(hwa_train_memory_plan(&c, &m));
    const int64_t params = 288 + 64 + 18432 + 128 + 3136 * 128 + 128 + 128 * C + C;
    CHECK_INT_EQ(m.params, (params + 2 * (32 + 64)) * 4);
    CHECK_INT_EQ(m.optim_state, 2 * params * 4); /* Adam: two moments, none for the statistics */
    CHECK(m.activations > 0);
    hwa_dataset_free(d);
}
