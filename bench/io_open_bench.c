/* Helper of bench/io_open_1gb.sh.
 *   io_open_bench write PATH   writes 1,000 F32 tensors of [512,512] (1 GiB)
 *   io_open_bench open PATH    validates first (count, coverage), then times
 *                              21 validation-only opens; prints the median,
 *                              min, max and the peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hwadapt/hwadapt.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    if (!strcmp(argv[1], "write")) {
        size_t n = 512 * 512;
        float *buf = malloc(n * sizeof *buf);
        for (size_t i = 0; i < n; i++) buf[i] = (float)i;
        hwa_st_writer *w = hwa_st_writer_new();
        int64_t shape[2] = {512, 512};
        for (int i = 0; i < 1000; i++) {
            char name[64];
            snprintf(name, sizeof name, "model.layers.%d.weight", i);
            if (hwa_st_writer_add(w, name, HWA_FDT_F32, 2, shape, buf, n * sizeof *buf) != HWA_OK) goto fail;
        }
        if (hwa_st_writer_set_meta(w, "format", "pt") != HWA_OK || hwa_st_writer_write(w, argv[2]) != HWA_OK) goto fail;
        hwa_st_writer_free(w);
        free(buf);
        return 0;
    fail:
        fprintf(stderr, "%s\n", hwa_last_error());
        return 1;
    }
    hwa_model_file *f;
    if (hwa_model_file_open(argv[2], HWA_FORMAT_UNKNOWN, &f) != HWA_OK) {
        fprintf(stderr, "%s\n", hwa_last_error());
        return 1;
    }
    size_t size;
    hwa_model_file_bytes(f, &size);
    const hwa_file_tensor *last = hwa_model_file_tensor(f, hwa_model_file_n_tensors(f) - 1);
    if (hwa_model_file_n_tensors(f) != 1000 || last->offset + last->nbytes != size) {
        fprintf(stderr, "validation failed: %zu tensors\n", hwa_model_file_n_tensors(f));
        return 1;
    }
    hwa_model_file_free(f);
    double t[21];
    for (int i = 0; i < 21; i++) {
        double t0 = now_ms();
        hwa_model_file_open(argv[2], HWA_FORMAT_UNKNOWN, &f);
        t[i] = now_ms() - t0;
        hwa_model_file_free(f);
    }
    qsort(t, 21, sizeof t[0], cmp_d);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("open+validate %zu bytes, 1000 tensors: median %.2f ms (min %.2f, max %.2f) over 21 runs; "
           "peak RSS %.1f MiB (%.3f%% of the file)\n",
           size, t[10], t[0], t[20], ru.ru_maxrss / 1024.0, 100.0 * ru.ru_maxrss * 1024.0 / (double)size);
    return t[10] <= 50.0 ? 0 : 3;
}
