/* IDX: Fashion-MNIST raw and gzipped, and the header checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

TEST(idx_fashion_mnist_test_set_gz) {
    FILE *fp = fopen(FMNIST "t10k-images-idx3-ubyte.gz", "rb");
    if (!fp) SKIP_FOR("fmnist", "dataset-fashion-mnist not installed");
    fclose(fp);
    hwa_idx *x, *y;
    CHECK_OK(hwa_idx_load(FMNIST "t10k-images-idx3-ubyte.gz", &x));
    CHECK(hwa_idx_ndim(x) == 3 && hwa_idx_dim(x, 0) == 10000 && hwa_idx_dim(x, 1) == 28 && hwa_idx_dim(x, 2) == 28);
    CHECK_INT_EQ(hwa_idx_nbytes(x), 7840000);
    CHECK_OK(hwa_idx_load(FMNIST "t10k-labels-idx1-ubyte.gz", &y));
    CHECK(hwa_idx_ndim(y) == 1 && hwa_idx_dim(y, 0) == 10000);
    int counts[10] = {0};
    for (size_t i = 0; i < hwa_idx_nbytes(y); i++) {
        CHECK(hwa_idx_data(y)[i] < 10);
        counts[hwa_idx_data(y)[i]]++;
    }
    for (int c = 0; c < 10; c++) CHECK_INT_EQ(counts[c], 1000); /* the test set is balanced */
    hwa_idx_free(x);
    hwa_idx_free(y);
}

TEST(idx_raw_round_trip_and_trailing_bytes) {
    uint8_t b[12 + 6 + 1] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    hwa_idx *x;
    CHECK_OK(hwa_idx_load_mem(b, 18, "r.idx", &x));
    CHECK(hwa_idx_dim(x, 0) == 2 && hwa_idx_dim(x, 1) == 3 && hwa_idx_data(x)[5] == 6);
    hwa_idx_free(x);
    CHECK_STATUS(hwa_idx_load_mem(b, 19, "r.idx", &x), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "r.idx: data: the dims announce 6 bytes but the file holds 7 (trailing bytes)");
    for (size_t k = 0; k < 18; k++) CHECK(hwa_idx_load_mem(b, k, "r.idx", &x) != HWA_OK);
}
