/* MPI_Allreduce (MPI_FLOAT, MPI_SUM) latency and bandwidth, independent of
 * libhwadapt: the figures bench/mpi.sh fits the alpha-beta model to.
 * Built by bench/mpi.sh with `mpicc -O2` and run under mpirun.
 *
 * For each message size from --min-bytes to --max-bytes (times --factor at
 * each step):
 *   1. validate: every rank fills its send buffer with values whose sum over
 *      the ranks is known exactly in float, runs one MPI_Allreduce and checks
 *      every element, plus a sentinel just past the end of the receive
 *      buffer; the ranks agree on the error count before anything is timed;
 *   2. warm up (--warmup calls), then pick how many calls one repetition
 *      makes (small messages are too quick to time one call at a time: enough
 *      calls that a repetition lasts about --rep-us), and how many
 *      repetitions fit the size's budget (--size-seconds, at least 5);
 *   3. time: each repetition starts after a barrier, each rank times its own
 *      calls, and the repetition's time per call is the slowest rank's
 *      (an allreduce is done when every rank has the result);
 *   4. check the result once more, then rank 0 prints one JSON line:
 *      {"bytes":..,"median_us":..,"p10_us":..,"p90_us":..,"ranks":..,"reps":..,"iters":..}
 * Before the sizes, rank 0 prints one line naming each rank's host
 * ({"ranks":..,"hosts":[..]}), so a caller can check where the ranks ran.
 * Exits 1 when a result is wrong, 2 on bad arguments. */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct options {
    size_t min_bytes, max_bytes; /* multiples of sizeof(float) */
    size_t factor;               /* >= 2 */
    int reps, warmup;            /* timed repetitions (at most), warm-up calls */
    double rep_us;               /* target length of one repetition */
    double size_seconds;         /* timing budget per size (reps shrink, never below 5) */
} options;

enum { MIN_REPS = 5, MAX_ITERS = 100000, GUARD = 16 };
static const float SENTINEL = -12345.0f;

static int parse_size(const char *s, size_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    size_t mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024, end++;
    else if (*end == 'M' || *end == 'm') mul = 1024 * 1024, end++;
    if (end == s || *end != '\0' || v == 0 || v > SIZE_MAX / mul) return -1;
    *out = (size_t)v * mul;
    return 0;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.min_bytes = 4, .max_bytes = 64u << 20, .factor = 4, .reps = 21, .warmup = 5,
                   .rep_us = 2000.0, .size_seconds = 2.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--min-bytes")) { if (parse_size(v, &o->min_bytes)) return -1; }
        else if (!strcmp(a, "--max-bytes")) { if (parse_size(v, &o->max_bytes)) return -1; }
        else if (!strcmp(a, "--factor")) { if (parse_size(v, &o->factor) || o->factor < 2) return -1; }
        else if (!strcmp(a, "--reps")) { o->reps = atoi(v); if (o->reps < MIN_REPS) return -1; }
        else if (!strcmp(a, "--warmup")) { o->warmup = atoi(v); if (o->warmup < 0) return -1; }
        else if (!strcmp(a, "--rep-us")) { o->rep_us = atof(v); if (!(o->rep_us > 0)) return -1; }
        else if (!strcmp(a, "--size-seconds")) { o->size_seconds = atof(v); if (!(o->size_seconds > 0)) return -1; }
        else return -1;
    }
    if (o->min_bytes % sizeof(float) || o->max_bytes % sizeof(float) || o->min_bytes > o->max_bytes) return -1;
    /* MPI counts are int. */
    if (o->max_bytes / sizeof(float) > (size_t)INT32_MAX) return -1;
    return 0;
}

/* Rank r sends r + 1 + (i mod 7) at element i, so the sum over p ranks is
 * p(p+1)/2 + p(i mod 7): small integers, exact in float. */
static void fill(float *send, float *recv, size_t count, int rank) {
    for (size_t i = 0; i < count; i++) {
        send[i] = (float)(rank + 1 + (int)(i % 7));
        recv[i] = NAN;
    }
    for (size_t i = count; i < count + GUARD; i++) recv[i] = SENTINEL;
}

/* Counts the wrong elements of recv and the overwritten sentinels after it. */
static long check(const float *recv, size_t count, int ranks) {
    long bad = 0;
    const float base = (float)ranks * (float)(ranks + 1) / 2.0f;
    for (size_t i = 0; i < count; i++)
        if (recv[i] != base + (float)ranks * (float)(i % 7)) bad++;
    for (size_t i = count; i < count + GUARD; i++)
        if (recv[i] != SENTINEL) bad++;
    return bad;
}

/* All ranks agree on the total error count; rank 0 reports it. */
static int agree_valid(long bad, size_t bytes, const char *when, int rank) {
    long total = 0;
    MPI_Allreduce(&bad, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (total && rank == 0)
        fprintf(stderr, "mpi_allreduce: %zu bytes: %ld wrong elements or sentinels %s\n", bytes, total, when);
    return total == 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) by linear interpolation between order statistics. */
static double quantile(const double *v, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

/* Seconds per call of `iters` back-to-back allreduces on this rank. */
static double time_calls(const float *send, float *recv, int count, int iters) {
    double t0 = MPI_Wtime();
    for (int k = 0; k < iters; k++) MPI_Allreduce(send, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return (MPI_Wtime() - t0) / iters;
}

static void print_hosts(int rank, int ranks) {
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *all = rank == 0 ? calloc((size_t)ranks, MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank != 0) return;
    printf("{\"ranks\":%d,\"hosts\":[", ranks);
    for (int r = 0; r < ranks; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        printf("%s\"", r ? "," : "");
        for (; *h; h++) /* host names need no escaping, but never emit broken JSON */
            putchar(*h == '"' || *h == '\\' || (unsigned char)*h < 0x20 ? '?' : *h);
        putchar('"');
    }
    printf("]}\n");
    fflush(stdout);
    free(all);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    options o;
    if (parse_args(argc, argv, &o)) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi_allreduce [--min-bytes N] [--max-bytes N] [--factor F] [--reps R>=5]\n"
                            "                     [--warmup W] [--rep-us US] [--size-seconds S]\n"
                            "  sizes are multiples of 4 bytes; K and M suffixes are binary\n");
        MPI_Finalize();
        return 2;
    }

    size_t max_count = o.max_bytes / sizeof(float);
    float *send = malloc(max_count * sizeof(float));
    float *recv = malloc((max_count + GUARD) * sizeof(float));
    double *samples = malloc((size_t)o.reps * sizeof(double));
    int ok = send && recv && samples, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (!all_ok) {
        if (rank == 0) fprintf(stderr, "mpi_allreduce: out of memory for %zu-byte buffers\n", o.max_bytes);
        MPI_Finalize();
        return 1;
    }

    print_hosts(rank, ranks);
    int rc = 0;
    for (size_t bytes = o.min_bytes; bytes <= o.max_bytes; bytes *= o.factor) {
        int count = (int)(bytes / sizeof(float));

        fill(send, recv, (size_t)count, rank);
        MPI_Allreduce(send, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (!agree_valid(check(recv, (size_t)count, ranks), bytes, "before timing", rank)) { rc = 1; break; }

        for (int k = 0; k < o.warmup; k++) MPI_Allreduce(send, recv, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);

        /* Calibrate on the slowest rank's time per call: the best of three
         * tries of three calls (one try delayed by another process must not
         * shrink the repetitions). Rank 0 decides and every rank follows, so
         * all make the same calls. */
        double t_call = HUGE_VAL, t_max = 0;
        for (int k = 0; k < 3; k++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t = time_calls(send, recv, count, 3);
            if (t < t_call) t_call = t;
        }
        MPI_Reduce(&t_call, &t_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        int plan[2] = {1, o.reps}; /* iters per repetition, repetitions */
        if (rank == 0) {
            double per_call_us = t_max * 1e6 > 1e-3 ? t_max * 1e6 : 1e-3;
            double iters = ceil(o.rep_us / per_call_us);
            plan[0] = iters < 1 ? 1 : iters > MAX_ITERS ? MAX_ITERS : (int)iters;
            double fit = o.size_seconds / (plan[0] * per_call_us * 1e-6);
            if (fit < o.reps) plan[1] = fit < MIN_REPS ? MIN_REPS : (int)fit;
        }
        MPI_Bcast(plan, 2, MPI_INT, 0, MPI_COMM_WORLD);

        for (int r = 0; r < plan[1]; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t = time_calls(send, recv, count, plan[0]);
            MPI_Reduce(&t, &samples[r], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        }
        if (!agree_valid(check(recv, (size_t)count, ranks), bytes, "after timing", rank)) { rc = 1; break; }

        if (rank == 0) {
            qsort(samples, (size_t)plan[1], sizeof(double), cmp_double);
            printf("{\"bytes\":%zu,\"median_us\":%.3f,\"p10_us\":%.3f,\"p90_us\":%.3f,\"ranks\":%d,\"reps\":%d,\"iters\":%d}\n",
                   bytes, quantile(samples, plan[1], 0.5) * 1e6, quantile(samples, plan[1], 0.1) * 1e6,
                   quantile(samples, plan[1], 0.9) * 1e6, ranks, plan[1], plan[0]);
            fflush(stdout);
        }
        if (bytes > o.max_bytes / o.factor) break; /* the next size would overflow or pass the end */
    }

    free(send);
    free(recv);
    free(samples);
    MPI_Finalize();
    return rc;
}
