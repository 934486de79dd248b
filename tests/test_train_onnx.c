/* Training an ONNX model (tests/onnx/train/, written by
 * tests/reference/gen_train_onnx.py): its float initializers train, the
 * export is the model with the trained values (read back by the reader, it
 * evaluates exactly as the trainer did), an image-shaped input works, and a
 * model that does not give ten logits is refused. On synthetic images, so
 * no dataset is needed. */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "hwadapt/onnx.h"

#define N 80
#define C 10
#define F 784

static hwa_dataset *toy_images(void) {
    float *x = calloc((size_t)N * F, sizeof *x);
    int32_t y[N];
    if (!x) return NULL;
    uint32_t s = 4242u;
    for (int i = 0; i < N * F; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 0.2f;
    }
    for (int i = 0; i < N; i++) { /* class c: rows 2c+1 .. 2c+3 bright */
        y[i] = i % C;
        for (int r = 2 * y[i] + 1; r < 2 * y[i] + 4; r++)
            for (int q = 4; q < 24; q++) x[(size_t)i * F + (size_t)r * 28 + (size_t)q] = 1.0f;
    }
    hwa_dataset *d = NULL;
    hwa_status st = hwa_dataset_from_arrays(x, y, N, F, C, &d);
    free(x);
    return st == HWA_OK ? d : NULL;
}

static hwa_train_config onnx_config(const hwa_dataset *d, const char *model, int64_t epochs) {
    hwa_train_config c = hwa_train_config_default();
    c.model = model;
    c.train_set = c.test_set = d;
    c.batch = 16;
    c.epochs = epochs;
    c.threads = 1;
    c.sched = hwa_sched_default(HWA_SCHED_CONSTANT, 1e-2, 1);
    return c;
}

/* Whether the reader reads the fixtures: HWA_E_UNSUPPORTED in a build
 * without it (the tests skip), HWA_OK, or the error (they fail). */
static hwa_status reader(void) {
    hwa_onnx *m = NULL;
    hwa_status st = hwa_onnx_load("tests/onnx/train/mlp16.onnx", &m);
    hwa_onnx_free(m);
    return st;
}
#define NEED_READER()                                                                  \
    do {                                                                               \
        if (reader() == HWA_E_UNSUPPORTED) SKIP("this build has no ONNX reader (protobuf-c)"); \
        CHECK_OK(reader());                                                            \
    } while (0)

TEST(onnx_mlp_trains_and_exports_its_trained_initializers) {
    NEED_READER();
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = onnx_config(d, "tests/onnx/train/mlp16.onnx", 8);
    hwa_trainer *t = NULL;
    CHECK_OK(hwa_trainer_new(&c, &t));
    CHECK_INT_EQ(hwa_trainer_n_params(t), 784 * 16 + 16 + 16 * 10 + 10);
    double l0, a0, l1, a1;
    CHECK_OK(hwa_trainer_evaluate(t, &l0, &a0));
    CHECK_OK(hwa_trainer_run(t, NULL));
    CHECK_OK(hwa_trainer_evaluate(t, &l1, &a1));
    CHECK_MSG(l1 < 0.5 * l0 && a1 > 0.8, "loss %g -> %g, accuracy %g -> %g", l0, l1, a0, a1);
    char dir[] = "/tmp/hwa_test_train_onnx.XXXXXX";
    CHECK(mkdtemp(dir));
    char out[256];
    snprintf(out, sizeof out, "%s/trained.onnx", dir);
    CHECK_OK(hwa_trainer_export(t, out));
    /* every initializer of the file holds the trainer's values */
    hwa_onnx *m = NULL, *orig = NULL;
    CHECK_OK(hwa_onnx_load(out, &m));
    CHECK_OK(hwa_onnx_load("tests/onnx/train/mlp16.onnx", &orig));
    CHECK_INT_EQ(hwa_onnx_n_nodes(m), hwa_onnx_n_nodes(orig));
    int floats = 0;
    for (int i = 0; i < hwa_onnx_n_initializers(orig); i++) {
        const hwa_onnx_array *o = hwa_onnx_initializer(orig, i), *a = hwa_onnx_find_initializer(m, o->name);
        CHECK_MSG(a && a->type == o->type && a->n == o->n, "initializer '%s'", o->name);
        if (o->type != HWA_ONNX_FLOAT) continue;
        floats++;
        CHECK_MSG(memcmp(a->data, o->data, (size_t)a->n * 4) != 0, "'%s' did not change", o->name);
    }
    CHECK_INT_EQ(floats, 4);
    /* a trainer of the exported model evaluates as the one that trained it */
    hwa_train_config c2 = onnx_config(d, out, 1);
    hwa_trainer *t2 = NULL;
    CHECK_OK(hwa_trainer_new(&c2, &t2));
    double l2, a2;
    CHECK_OK(hwa_trainer_evaluate(t2, &l2, &a2));
    CHECK_MSG(l2 == l1 && a2 == a1, "re-read: %.17g/%g, trained %.17g/%g", l2, a2, l1, a1);
    hwa_trainer_free(t2);
    hwa_onnx_free(m);
    hwa_onnx_free(orig);
    /* the MLP's per-layer access is not an ONNX model's */
    float w[4];
    CHECK_STATUS(hwa_trainer_get_weights(t, 0, w, NULL), HWA_E_UNSUPPORTED);
    hwa_trainer_free(t);
    unlink(out);
    rmdir(dir);
    hwa_dataset_free(d);
}

TEST(onnx_image_input_trains) {
    NEED_READER();
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = onnx_config(d, "tests/onnx/train/conv4.onnx", 6);
    hwa_trainer *t = NULL;
    CHECK_OK(hwa_trainer_new(&c, &t));
    CHECK_INT_EQ(hwa_trainer_n_params(t), 4 * 9 + 4 + 4 * 13 * 13 * 10 + 10);
    double l0, a0, l1, a1;
    CHECK_OK(hwa_trainer_evaluate(t, &l0, &a0));
    CHECK_OK(hwa_trainer_run(t, NULL));
    CHECK_OK(hwa_trainer_evaluate(t, &l1, &a1));
    CHECK_MSG(l1 < 0.5 * l0, "loss %g -> %g, accuracy %g -> %g", l0, l1, a0, a1);
    hwa_trainer_free(t);
    hwa_dataset_free(d);
}

TEST(onnx_model_without_ten_logits_or_in_bf16_is_refused) {
    NEED_READER();
    hwa_dataset *d = toy_images();
    CHECK(d);
    hwa_train_config c = onnx_config(d, "tests/onnx/train/wrong.onnx", 1);
    hwa_trainer *t = NULL;
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_INVALID);
    CHECK(strstr(hwa_last_error(), "[N, 10]") != NULL);
    c = onnx_config(d, "tests/onnx/train/mlp16.onnx", 1);
    c.dtype = HWA_BF16;
    CHECK_STATUS(hwa_trainer_new(&c, &t), HWA_E_UNSUPPORTED);
    c = onnx_config(d, "tests/onnx/train/missing.onnx", 1);
    CHECK(hwa_trainer_new(&c, &t) != HWA_OK);
    CHECK(t == NULL);
    hwa_dataset_free(d);
}
