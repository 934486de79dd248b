/* The HTML report's inputs, read and validated (html_load.c) into plain
 * structs that the writer (html.c, html_charts.c) draws from. Every number
 * is finite or NAN (unknown, or a value the input could not have had,
 * dropped with a note); every string is NUL-terminated and may be cut. */
#ifndef HWADAPT_BENCH_HTML_H
#define HWADAPT_BENCH_HTML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/internal.h"

#define HWA__HR_MAX_PEAKS 8
#define HWA__HR_MAX_DEVS 16
#define HWA__HR_MAX_REPS 32

typedef struct hwa__hr_peak {
    char dtype[16];
    double gflops;
} hwa__hr_peak;

typedef struct hwa__hr_device {
    char id[64], name[160], kind[32], type[32], peak_method[32];
    int64_t memory_bytes;                 /* -1 unknown */
    hwa__hr_peak peaks[HWA__HR_MAX_PEAKS]; /* calibrated, per precision */
    int n_peaks;
    double bandwidth_gbs;                 /* triad; NAN unknown */
} hwa__hr_device;

typedef struct hwa__hr_passport {
    char source[320];                     /* the file it came from */
    char fingerprint[32], cpu[160], arch[32], vendor[64];
    int logical_cpus, physical_cores, sockets; /* -1 unknown */
    int64_t memory_bytes;                 /* -1 unknown */
    char features[1536];                  /* space-separated */
    char meters[320];                     /* "rapl:package-0, ...", "" none */
    hwa__hr_device devs[HWA__HR_MAX_DEVS];
    int n_devs;
} hwa__hr_passport;

typedef struct hwa__hr_row {
    char workload[64], device[64], dtype[16], scenario[16], optimizer[16];
    int64_t batch;                        /* -1 unknown */
    int threads;                          /* -1 unknown or meaningless (threads_apply false) */
    bool skipped;
    double sps, gflops, gbps, pct;
    double lat_ms[5];                     /* p50, p90, p99, max, mean */
    double reps[HWA__HR_MAX_REPS];
    int n_reps;
    double speedup, lo, hi;
    int baseline_row;                     /* -1 none */
    char note[512];
} hwa__hr_row;

typedef struct hwa__hr_rec {
    char workload[64], verdict[16], command[256], c_call[256], text[768];
    int row;                              /* -1 when out of range */
    double speedup, lo, hi;
} hwa__hr_rec;

typedef struct hwa__hr_bench {
    char source[320], created[40], command_line[512], version[32];
    char cpu[160], isa[256], devices[160], power_meter[160], calibration[160];
    int logical_cpus;
    int64_t memory_bytes;
    double peak_f32, memory_gbps;         /* the machine summary's; NAN unknown */
    hwa__hr_row *rows;
    int n_rows;
    hwa__hr_rec *recs;
    int n_recs;
    int passport;                         /* the passport inside it: index into the doc's; -1 none */
} hwa__hr_bench;

typedef struct hwa__hr_epoch {
    double epoch, train_loss, test_loss, val_loss, test_acc, val_acc, seconds, sps;
} hwa__hr_epoch;

typedef struct hwa__hr_train {
    char source[320], device[64], dtype[16];
    hwa__hr_epoch *ep;
    int n, cap;
} hwa__hr_train;

typedef struct hwa__hr_doc {
    hwa__hr_passport *pps;
    int n_pps;
    hwa__hr_bench *benches;
    int n_benches;
    hwa__hr_train *trains;
    int n_trains;
    char *notes;                          /* what was dropped, one line each; NULL none */
    size_t notes_len;
    char inputs[2048];                    /* "file (kind), ..." */
} hwa__hr_doc;

/* Reads the file at path, finds its kind from its content (a bench report,
 * a passport or a training log) and appends it to doc. HWA_E_IO when it
 * cannot be read, HWA_E_FORMAT (naming the file, and the line of a
 * training log) when it is not one of the three, HWA_E_UNSUPPORTED in a
 * build without jansson, HWA_E_NOMEM. */
hwa_status hwa__hr_load(hwa__hr_doc *doc, const char *path);
void hwa__hr_free(hwa__hr_doc *doc);
/* Appends a line to doc's notes (printf-like). */
void hwa__hr_note(hwa__hr_doc *doc, const char *fmt, ...) HWA_PRINTF(2, 3);

/* The page (html.c), and its chart sections (html_charts.c). */
hwa_status hwa__hr_write(const hwa__hr_doc *doc, const char *title, FILE *f);
void hwa__hr_rooflines(const hwa__hr_doc *doc, const hwa__hr_bench *b, FILE *f);
void hwa__hr_latency(const hwa__hr_bench *b, FILE *f);
void hwa__hr_sweeps(const hwa__hr_bench *b, FILE *f);
void hwa__hr_training(const hwa__hr_doc *doc, FILE *f);
/* A one-line note where a chart has no data. */
void hwa__hr_skip(FILE *f, const char *fmt, ...) HWA_PRINTF(2, 3);
/* What tells rows apart, for labels: the fields of r that `fields` (a set
 * of HWA__HR_F_*) names, "linear1000 · cpu · f32 · batch 64 · 2 threads". */
enum {
    HWA__HR_F_WORKLOAD = 1, HWA__HR_F_DEVICE = 2, HWA__HR_F_DTYPE = 4, HWA__HR_F_BATCH = 8, HWA__HR_F_THREADS = 16,
    HWA__HR_F_SCENARIO = 32, HWA__HR_F_ALL = 63
};
void hwa__hr_row_label(const hwa__hr_row *r, unsigned fields, char *buf, size_t cap);

#endif
