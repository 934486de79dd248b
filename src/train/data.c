/* Datasets in memory (normalised f32 features, i32 labels) and loaders that
 * visit them in seeded batches. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "hwadapt/train.h"

struct hwa_dataset {
    int64_t n, features;
    int n_classes;
    float *x;       /* [n, features] */
    int32_t *y;     /* [n] */
};

void hwa_dataset_free(hwa_dataset *d) {
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

/* An empty dataset of n samples of `features` values. */
static hwa_status dataset_alloc(int64_t n, int64_t features, int n_classes, hwa_dataset **out) {
    *out = NULL;
    int64_t total;
    if (n < 1 || features < 1 || !hwa__mul_i64(n, features, &total) || (uint64_t)total > SIZE_MAX / sizeof(float))
        return hwa__err(NULL, HWA_E_OVERFLOW, "dataset: %lld samples of %lld features do not fit in memory",
                        (long long)n, (long long)features);
    hwa_dataset *d = calloc(1, sizeof *d);
    if (d) {
        d->x = malloc((size_t)total * sizeof(float));
        d->y = malloc((size_t)n * sizeof(int32_t));
    }
    if (!d || !d->x || !d->y) {
        hwa_dataset_free(d);
        return hwa__err(NULL, HWA_E_NOMEM, "dataset: out of memory for %lld samples", (long long)n);
    }
    d->n = n;
    d->features = features;
    d->n_classes = n_classes;
    *out = d;
    return HWA_OK;
}

hwa_status hwa_dataset_from_arrays(const float *x, const int32_t *labels, int64_t n, int64_t features,
                                   int n_classes, hwa_dataset **out) {
    if (out) *out = NULL;
    if (!x || !labels || !out) return hwa__err(NULL, HWA_E_MISUSE, "dataset: NULL argument");
    if (n_classes < 1 || n_classes > 65536)
        return hwa__err(NULL, HWA_E_INVALID, "dataset: %d classes (1 to 65536)", n_classes);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return hwa__err(NULL, HWA_E_RANGE, "dataset: label %d of sample %lld is outside [0, %d)", (int)labels[i],
                            (long long)i, n_classes);
    hwa_dataset *d;
    hwa_status st = dataset_alloc(n, features, n_classes, &d);
    if (st) return st;
    memcpy(d->x, x, (size_t)(n * features) * sizeof(float));
    memcpy(d->y, labels, (size_t)n * sizeof(int32_t));
    *out = d;
    return HWA_OK;
}

hwa_status hwa_dataset_load_idx(const char *images_path, const char *labels_path, int n_classes, float mean,
                                float std, hwa_dataset **out) {
    if (out) *out = NULL;
    if (!images_path || !labels_path || !out) return hwa__err(NULL, HWA_E_MISUSE, "dataset: NULL argument");
    if (!(std > 0.0f) || !isfinite(std) || !isfinite(mean))
        return hwa__err(NULL, HWA_E_INVALID, "dataset: normalisation mean %g, std %g (std must be > 0)", mean, std);
    if (n_classes < 1 || n_classes > 256)
        return hwa__err(NULL, HWA_E_INVALID, "dataset: %d classes (1 to 256 for byte labels)", n_classes);
    hwa_idx *img = NULL, *lab = NULL;
    hwa_dataset *d = NULL;
    hwa_status st = hwa_idx_load(images_path, &img);
    if (st == HWA_OK) st = hwa_idx_load(labels_path, &lab);
    if (st) goto done;
    if (hwa_idx_ndim(img) < 2) {
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: dims: images need at least 2 dimensions ([n, features...]), got %d",
                      images_path, hwa_idx_ndim(img));
        goto done;
    }
    if (hwa_idx_ndim(lab) != 1) {
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: dims: labels need 1 dimension, got %d", labels_path, hwa_idx_ndim(lab));
        goto done;
    }
    const int64_t n = hwa_idx_dim(img, 0);
    int64_t features = 1;
    for (int k = 1; k < hwa_idx_ndim(img); k++)
        if (!hwa__mul_i64(features, hwa_idx_dim(img, k), &features)) features = -1;
    if (n != hwa_idx_dim(lab, 0)) {
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: dims: %lld labels for %lld images in %s", labels_path,
                      (long long)hwa_idx_dim(lab, 0), (long long)n, images_path);
        goto done;
    }
    if (n < 1 || features < 1) {
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: dims: an empty dataset (%lld samples)", images_path, (long long)n);
        goto done;
    }
    if ((st = dataset_alloc(n, features, n_classes, &d))) goto done;
    const uint8_t *px = hwa_idx_data(img), *lb = hwa_idx_data(lab);
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    for (int64_t i = 0; i < n * features; i++) d->x[i] = lut[px[i]];
    for (int64_t i = 0; i < n; i++) {
        if (lb[i] >= n_classes) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: data: label %d of sample %lld is not below %d classes", labels_path,
                          lb[i], (long long)i, n_classes);
            goto done;
        }
        d->y[i] = lb[i];
    }
    *out = d;
    d = NULL;
done:
    hwa_dataset_free(d);
    hwa_idx_free(img);
    hwa_idx_free(lab);
    return st;
}

hwa_status hwa_dataset_load_fmnist(const char *dir, bool train, hwa_dataset **out) {
    if (out) *out = NULL;
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "dataset: NULL argument");
    if (!dir) dir = HWA_FMNIST_DIR;
    const char *stem = train ? "train" : "t10k";
    char img[4096], lab[4096];
    int a = snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    int b = snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    if (a < 0 || b < 0 || (size_t)a >= sizeof img || (size_t)b >= sizeof lab)
        return hwa__err(NULL, HWA_E_INVALID, "dataset: directory name too long");
    const char *missing = access(img, R_OK) != 0 ? img : access(lab, R_OK) != 0 ? lab : NULL;
    if (missing)
        return hwa__err(NULL, HWA_E_NOTFOUND,
                        "Fashion-MNIST: cannot read %s; install the Debian package %s "
                        "(apt-get install %s, files in %s) or pass --data DIR",
                        missing, HWA_FMNIST_PACKAGE, HWA_FMNIST_PACKAGE, HWA_FMNIST_DIR);
    hwa_status st = hwa_dataset_load_idx(img, lab, 10, HWA_FMNIST_MEAN, HWA_FMNIST_STD, out);
    if (st == HWA_OK && hwa_dataset_features(*out) != 784) {
        const long long f = (long long)hwa_dataset_features(*out);
        hwa_dataset_free(*out);
        *out = NULL;
        return hwa__err(NULL, HWA_E_FORMAT, "%s: dims: Fashion-MNIST images are 28x28, not %lld pixels", img, f);
    }
    return st;
}

int64_t hwa_dataset_n(const hwa_dataset *d) { return d ? d->n : 0; }
int64_t hwa_dataset_features(const hwa_dataset *d) { return d ? d->features : 0; }
int hwa_dataset_n_classes(const hwa_dataset *d) { return d ? d->n_classes : 0; }

const float *hwa_dataset_x(const hwa_dataset *d, int64_t i) {
    return d && i >= 0 && i < d->n ? d->x + i * d->features : NULL;
}

int32_t hwa_dataset_label(const hwa_dataset *d, int64_t i) { return d && i >= 0 && i < d->n ? d->y[i] : -1; }

hwa_status hwa_dataset_truncate(hwa_dataset *d, int64_t n) {
    if (!d) return hwa__err(NULL, HWA_E_MISUSE, "dataset: NULL dataset");
    if (n < 1) return hwa__err(NULL, HWA_E_INVALID, "dataset: cannot keep %lld samples (at least 1)", (long long)n);
    if (n < d->n) d->n = n;
    return HWA_OK;
}

hwa_status hwa_dataset_split(hwa_dataset *d, int64_t n_val, hwa_dataset **val) {
    if (val) *val = NULL;
    if (!d || !val) return hwa__err(NULL, HWA_E_MISUSE, "dataset: NULL argument");
    if (n_val < 1 || n_val >= d->n)
        return hwa__err(NULL, HWA_E_INVALID, "dataset: a validation split of %lld of %lld samples leaves none on one side",
                        (long long)n_val, (long long)d->n);
    const int64_t first = d->n - n_val;
    hwa_status st = hwa_dataset_from_arrays(d->x + first * d->features, d->y + first, n_val, d->features,
                                            d->n_classes, val);
    if (st == HWA_OK) d->n = first;
    return st;
}

/* ---- loaders ----------------------------------------------------------- */

struct hwa_loader {
    const hwa_dataset *d;
    int64_t batch;
    bool shuffle, drop_last;
    uint64_t seed;
    int64_t *order; /* [n] */
};

hwa_status hwa_loader_new(const hwa_dataset *d, int64_t batch, bool shuffle, bool drop_last, uint64_t seed,
                          hwa_loader **out) {
    if (out) *out = NULL;
    if (!d || !out) return hwa__err(NULL, HWA_E_MISUSE, "loader: NULL argument");
    if (batch < 1) return hwa__err(NULL, HWA_E_INVALID, "loader: batch size %lld must be at least 1", (long long)batch);
    if (drop_last && batch > d->n)
        return hwa__err(NULL, HWA_E_INVALID, "loader: batch size %lld exceeds the %lld samples (with the last partial "
                        "batch dropped nothing would remain)", (long long)batch, (long long)d->n);
    hwa_loader *l = calloc(1, sizeof *l);
    if (l) l->order = malloc((size_t)d->n * sizeof *l->order);
    if (!l || !l->order) {
        hwa_loader_free(l);
        return hwa__err(NULL, HWA_E_NOMEM, "loader: out of memory");
    }
    l->d = d;
    l->batch = batch;
    l->shuffle = shuffle;
    l->drop_last = drop_last;
    l->seed = seed;
    *out = l;
    return hwa_loader_set_epoch(l, 0);
}

void hwa_loader_free(hwa_loader *l) {
    if (!l) return;
    free(l->order);
    free(l);
}

/* splitmix64: the seed and epoch are mixed so that every epoch's stream is
 * independent of the others. */
static uint64_t mix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias. */
static uint64_t below(uint64_t *s, uint64_t bound) {
    const uint64_t lim = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = mix64(s);
    while (r >= lim);
    return r % bound;
}

hwa_status hwa_loader_set_epoch(hwa_loader *l, int64_t epoch) {
    if (!l) return hwa__err(NULL, HWA_E_MISUSE, "loader: NULL loader");
    if (epoch < 0) return hwa__err(NULL, HWA_E_INVALID, "loader: epoch %lld", (long long)epoch);
    const int64_t n = l->d->n;
    for (int64_t i = 0; i < n; i++) l->order[i] = i;
    if (!l->shuffle) return HWA_OK;
    uint64_t s = l->seed;
    uint64_t e = (uint64_t)epoch;
    s = mix64(&s) ^ mix64(&e);
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)below(&s, (uint64_t)i + 1);
        int64_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
    return HWA_OK;
}

int64_t hwa_loader_n_batches(const hwa_loader *l) {
    if (!l) return 0;
    return l->drop_last ? l->d->n / l->batch : (l->d->n + l->batch - 1) / l->batch;
}

int64_t hwa_loader_index(const hwa_loader *l, int64_t k) {
    return l && k >= 0 && k < l->d->n ? l->order[k] : -1;
}

hwa_status hwa_loader_batch(const hwa_loader *l, int64_t i, float *x, int32_t *labels, int64_t *rows) {
    if (!l || !x || !labels || !rows) return hwa__err(NULL, HWA_E_MISUSE, "loader: NULL argument");
    if (i < 0 || i >= hwa_loader_n_batches(l))
        return hwa__err(NULL, HWA_E_RANGE, "loader: batch %lld of %lld", (long long)i,
                        (long long)hwa_loader_n_batches(l));
    const int64_t start = i * l->batch, end = start + l->batch < l->d->n ? start + l->batch : l->d->n;
    const size_t row_bytes = (size_t)l->d->features * sizeof(float);
    for (int64_t k = start; k < end; k++) {
        const int64_t s = l->order[k];
        memcpy(x + (k - start) * l->d->features, l->d->x + s * l->d->features, row_bytes);
        labels[k - start] = l->d->y[s];
    }
    *rows = end - start;
    return HWA_OK;
}
