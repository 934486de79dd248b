/* Datasets and loaders: IDX validation, normalisation, the seeded shuffle
 * and the batching policy. */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

/* Writes bytes to a fresh temporary file; returns its path (static buffer per slot). */
static const char *tmp_file(int slot, const void *data, size_t n) {
    static char paths[4][64];
    snprintf(paths[slot], sizeof paths[slot], "/tmp/hwa_test_data_%d_%d.idx", (int)getpid(), slot);
    FILE *f = fopen(paths[slot], "wb");
    if (!f) return NULL;
    fwrite(data, 1, n, f);
    fclose(f);
    return paths[slot];
}

/* An IDX file of n images of 2x2 bytes (values 0, 51, 102, 255) and labels i % 3. */
static void make_idx(int n, uint8_t *img, size_t *img_n, uint8_t *lab, size_t *lab_n) {
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, 2, 0, 0, 0, 2};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    const uint8_t px[4] = {0, 51, 102, 255};
    for (int i = 0; i < n; i++) {
        memcpy(img + 16 + 4 * i, px, 4);
        img[16 + 4 * i] = (uint8_t)i;
        lab[8 + i] = (uint8_t)(i % 3);
    }
    *img_n = 16 + 4 * (size_t)n;
    *lab_n = 8 + (size_t)n;
}

TEST(idx_dataset_loads_and_normalises) {
    uint8_t img[16 + 40], lab[8 + 10];
    size_t in, ln;
    make_idx(10, img, &in, lab, &ln);
    const char *ip = tmp_file(0, img, in), *lp = tmp_file(1, lab, ln);
    hwa_dataset *d = NULL;
    CHECK_OK(hwa_dataset_load_idx(ip, lp, 3, 0.5f, 0.25f, &d));
    CHECK_INT_EQ(hwa_dataset_n(d), 10);
    CHECK_INT_EQ(hwa_dataset_features(d), 4);
    const float *x = hwa_dataset_x(d, 0);
    CHECK_NEAR(x[1], (51.0 / 255.0 - 0.5) / 0.25, 1e-6);
    CHECK_NEAR(x[3], (1.0 - 0.5) / 0.25, 1e-6);
    CHECK_INT_EQ(hwa_dataset_label(d, 5), 2);
    hwa_dataset_free(d);
    unlink(ip);
    unlink(lp);
}

TEST(idx_dataset_rejects_truncated_mismatched_and_bad_labels) {
    uint8_t img[16 + 40], lab[8 + 10];
    size_t in, ln;
    make_idx(10, img, &in, lab, &ln);
    hwa_dataset *d = NULL;
    const char *ip = tmp_file(0, img, in - 3), *lp = tmp_file(1, lab, ln);
    CHECK_STATUS(hwa_dataset_load_idx(ip, lp, 3, 0, 1, &d), HWA_E_FORMAT); /* truncated images */
    CHECK(d == NULL);
    ip = tmp_file(0, img, in);
    lp = tmp_file(1, lab, ln - 1);
    CHECK_STATUS(hwa_dataset_load_idx(ip, lp, 3, 0, 1, &d), HWA_E_FORMAT); /* truncated labels */
    lab[7] = 9; /* 9 labels for 10 images */
    lp = tmp_file(1, lab, ln - 1);
    CHECK_STATUS(hwa_dataset_load_idx(ip, lp, 3, 0, 1, &d), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "9 labels for 10 images");
    make_idx(10, img, &in, lab, &ln);
    lp = tmp_file(1, lab, ln);
    CHECK_STATUS(hwa_dataset_load_idx(ip, lp, 2, 0, 1, &d), HWA_E_FORMAT); /* label 2 with 2 classes */
    CHECK_STR_CONTAINS(hwa_last_error(), "label 2");
    img[2] = 0x0d; /* float IDX: not bytes */
    ip = tmp_file(0, img, in);
    CHECK(hwa_dataset_load_idx(ip, lp, 3, 0, 1, &d) != HWA_OK);
    CHECK_STATUS(hwa_dataset_load_idx(ip, lp, 3, 0, 0, &d), HWA_E_INVALID); /* std 0 */
    unlink(ip);
    unlink(lp);
}

TEST(missing_fashion_mnist_names_the_debian_package) {
    hwa_dataset *d = NULL;
    CHECK_STATUS(hwa_dataset_load_fmnist("/nonexistent/dir", true, &d), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), HWA_FMNIST_PACKAGE);
    CHECK(d == NULL);
}

static hwa_dataset *counting_dataset(int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)n);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)i;
        y[i] = (int32_t)(i % 10);
    }
    hwa_dataset *d = NULL;
    hwa_dataset_from_arrays(x, y, n, 1, 10, &d);
    free(x);
    free(y);
    return d;
}

TEST(shuffle_is_a_permutation_determined_by_seed_and_epoch) {
    hwa_dataset *d = counting_dataset(100);
    CHECK(d);
    hwa_loader *a = NULL, *b = NULL;
    CHECK_OK(hwa_loader_new(d, 10, true, false, 7, &a));
    CHECK_OK(hwa_loader_new(d, 10, true, false, 7, &b));
    CHECK_OK(hwa_loader_set_epoch(a, 3));
    CHECK_OK(hwa_loader_set_epoch(b, 2));
    CHECK_OK(hwa_loader_set_epoch(b, 3)); /* the order depends on the epoch only, not the history */
    int seen[100] = {0}, moved = 0;
    for (int k = 0; k < 100; k++) {
        CHECK_INT_EQ(hwa_loader_index(a, k), hwa_loader_index(b, k));
        seen[hwa_loader_index(a, k)]++;
        moved += hwa_loader_index(a, k) != k;
    }
    for (int k = 0; k < 100; k++) CHECK_INT_EQ(seen[k], 1);
    CHECK(moved > 50);
    CHECK_OK(hwa_loader_set_epoch(b, 4));
    int same = 0;
    for (int k = 0; k < 100; k++) same += hwa_loader_index(a, k) == hwa_loader_index(b, k);
    CHECK(same < 20); /* another epoch, another order */
    hwa_loader_free(a);
    hwa_loader_free(b);
    hwa_dataset_free(d);
}

TEST(shuffle_leaves_a_sample_in_place_as_often_as_a_uniform_permutation_does) {
    /* A uniform permutation of 4 has a fixed point with probability
     * 1 - 3/8 = 0.625: about 250 of 400 epochs (sd 10). A shuffle that
     * always moves every sample (Sattolo's cycle) would give 0. */
    hwa_dataset *d = counting_dataset(4);
    CHECK(d);
    hwa_loader *l = NULL;
    CHECK_OK(hwa_loader_new(d, 4, true, false, 11, &l));
    int with_fixed = 0;
    for (int e = 0; e < 400; e++) {
        CHECK_OK(hwa_loader_set_epoch(l, e));
        bool fixed = false;
        for (int k = 0; k < 4; k++) fixed |= hwa_loader_index(l, k) == k;
        with_fixed += fixed;
    }
    CHECK_MSG(with_fixed > 200 && with_fixed < 300, "%d of 400 epochs left a sample in place; a uniform shuffle: ~250",
              with_fixed);
    hwa_loader_free(l);
    hwa_dataset_free(d);
}

TEST(last_partial_batch_is_kept_or_dropped) {
    hwa_dataset *d = counting_dataset(25);
    hwa_loader *keep = NULL, *drop = NULL;
    CHECK_OK(hwa_loader_new(d, 10, false, false, 0, &keep));
    CHECK_OK(hwa_loader_new(d, 10, false, true, 0, &drop));
    CHECK_INT_EQ(hwa_loader_n_batches(keep), 3);
    CHECK_INT_EQ(hwa_loader_n_batches(drop), 2);
    float x[10];
    int32_t y[10];
    int64_t rows;
    CHECK_OK(hwa_loader_batch(keep, 2, x, y, &rows));
    CHECK_INT_EQ(rows, 5);
    CHECK_NEAR(x[0], 20, 0);
    CHECK_INT_EQ(y[4], 4);
    CHECK_STATUS(hwa_loader_batch(drop, 2, x, y, &rows), HWA_E_RANGE);
    hwa_loader *l = NULL;
    CHECK_STATUS(hwa_loader_new(d, 0, true, false, 0, &l), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "batch size 0");
    hwa_loader_free(keep);
    hwa_loader_free(drop);
    hwa_dataset_free(d);
}

TEST(validation_split_takes_the_last_samples) {
    hwa_dataset *d = counting_dataset(20), *v = NULL;
    CHECK_OK(hwa_dataset_split(d, 5, &v));
    CHECK_INT_EQ(hwa_dataset_n(d), 15);
    CHECK_INT_EQ(hwa_dataset_n(v), 5);
    CHECK_NEAR(hwa_dataset_x(v, 0)[0], 15, 0);
    hwa_dataset *none = NULL;
    CHECK_STATUS(hwa_dataset_split(d, 15, &none), HWA_E_INVALID);
    CHECK(none == NULL);
    hwa_dataset_free(v);
    hwa_dataset_free(d);
}

TEST(real_fashion_mnist_has_the_documented_shape) {
    hwa_dataset *d = NULL;
    if (access(HWA_FMNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        hwa_test_skip("Fashion-MNIST is not installed (Debian package " HWA_FMNIST_PACKAGE ")");
        return;
    }
    CHECK_OK(hwa_dataset_load_fmnist(NULL, false, &d));
    CHECK_INT_EQ(hwa_dataset_n(d), 10000);
    CHECK_INT_EQ(hwa_dataset_features(d), 784);
    int counts[10] = {0};
    for (int64_t i = 0; i < 10000; i++) counts[hwa_dataset_label(d, i)]++;
    for (int c = 0; c < 10; c++) CHECK_INT_EQ(counts[c], 1000);
    hwa_dataset_free(d);
}
