/* The HTML report's inputs, read and validated (html_load.c) into plain
 * structs that the writer (html.c, html_charts.c) draws from. Every number
 * is finite or NAN (unknown, or a value the input could not have had,
 * dropped with a note); every string is NUL-terminated and may be cut. */
#ifndef HWADAPT_BENCH_HTML_H
#define HWADAPT_BENCH_HTML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/svg.h"
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

/* A placement plan (hwadapt plan --json, docs/plan.schema.json):
 * hwadapt.plan/1, or with --measure hwadapt.plan-measure/1. Bytes -1 and
 * times NAN are unknown. */
#define HWA__HR_PLAN_NODES 30 /* nodes kept for the table; the rest are counted */

typedef struct hwa__hr_pdev {
    char id[64], name[160];
    bool excluded, mem_capped;
    int nodes;
    double est_s;
    int64_t need, arena, grads, shadow, leaves, avail, mem;
} hwa__hr_pdev;

typedef struct hwa__hr_palt {
    char placement[96], why[200];
    bool chosen, fits;
    double est_s;
} hwa__hr_palt;

typedef struct hwa__hr_pnode {
    int index;
    char op[24], name[64], dtype[16], shape[48], device[64], source[16], reason[16], why[200];
    double est_s;
} hwa__hr_pnode;

typedef struct hwa__hr_pmeas {
    char placement[96];
    double before_s, after_s, measured_s;
    bool is_auto, best;
} hwa__hr_pmeas;

typedef struct hwa__hr_plan {
    char source[320];
    bool measure;                         /* hwadapt.plan-measure/1 */
    /* hwadapt.plan/1 */
    char mode[16], placement[96];
    double est_s, copy_s, copy_bytes_run, copy_bytes_once;
    hwa__hr_pdev devs[HWA__HR_MAX_DEVS];
    int n_devs;
    hwa__hr_palt *alts;
    int n_alts;
    hwa__hr_pnode nodes[HWA__HR_PLAN_NODES];
    int n_nodes, nodes_total;
    /* hwadapt.plan-measure/1 */
    char workload[64], devices[160], auto_before[96], auto_after[96];
    int64_t batch;
    int reps;
    hwa__hr_pmeas *meas;
    int n_meas;
    double auto_measured_s, auto_vs_best;
} hwa__hr_plan;

/* A tune result (hwadapt tune --json or -o, docs/tune.md). */
typedef struct hwa__hr_tpoint {
    int64_t batch;
    double planned, sps, p50_ms, p99_ms;  /* planned: bytes */
} hwa__hr_tpoint;

typedef struct hwa__hr_tlr {
    char optimizer[16];
    double suggestion, lr_at_min, lr_steepest;
    bool diverged;
    double (*pts)[3];                     /* rate, loss, smoothed loss */
    int n;
} hwa__hr_tlr;

typedef struct hwa__hr_trial {
    char optimizer[16];
    double lr, val_loss, val_acc;
    int64_t steps, rung;
} hwa__hr_trial;

#define HWA__HR_MAX_LR 8

typedef struct hwa__hr_tune {
    char source[320], target[64], device[64], why[200], settings[200];
    bool training, synthetic, capped, has_memory, searched, has_rec;
    double seconds;
    int64_t chosen, avail, max_fit, max_fit_bytes, next_bytes, confirmed, predicted, measured;
    char measured_how[48];
    hwa__hr_tpoint curve[HWA__AXIS_MAX_TICKS];
    int n_curve;
    hwa__hr_tlr lr[HWA__HR_MAX_LR];
    int n_lr;
    hwa__hr_trial *trials;
    int n_trials, best, rungs;
    char rec_optimizer[16], rec_schedule[16], why_epochs[200];
    double rec_lr;
    int64_t rec_epochs;
} hwa__hr_tune;

typedef struct hwa__hr_doc {
    hwa__hr_passport *pps;
    int n_pps;
    hwa__hr_bench *benches;
    int n_benches;
    hwa__hr_train *trains;
    int n_trains;
    hwa__hr_plan *plans;
    int n_plans;
    hwa__hr_tune *tunes;
    int n_tunes;
    char *notes;                          /* what was dropped, one line each; NULL none */
    size_t notes_len;
    char inputs[2048];                    /* "file (kind), ..." */
} hwa__hr_doc;

/* Reads the file at path, finds its kind from its content (a bench report,
 * a passport, a training log, a placement plan or a tune result) and
 * appends it to doc. HWA_E_IO when it cannot be read, HWA_E_FORMAT (naming
 * the file, and the line of a training log) when it is none of them,
 * HWA_E_UNSUPPORTED for a schema version this build does not read or a
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
/* The placement plans' and tune results' sections (html_plan.c, html_tune.c). */
void hwa__hr_plan_section(const hwa__hr_plan *p, int idx, FILE *f);
void hwa__hr_tune_section(const hwa__hr_tune *t, int idx, FILE *f);

/* Shared by the sections: a table row "key | value" (empty value: n/a);
 * bytes in readable units (negative: n/a); snprintf and strcat that may
 * cut, never overrun; the index of s in names[0..*n), appended when new
 * (at most cap); a value axis for data in [lo, hi] (lo > 0), logarithmic
 * when they span more than a factor of 20, else linear from zero. */
void hwa__hr_kv_row(FILE *f, const char *key, const char *value);
void hwa__hr_fmt_bytes(char *buf, size_t cap, int64_t b);
void hwa__hr_put(char *buf, size_t cap, const char *fmt, ...) HWA_PRINTF(3, 4);
void hwa__hr_cat(char *buf, size_t cap, const char *fmt, ...) HWA_PRINTF(3, 4);
int hwa__hr_intern(const char **names, int *n, int cap, const char *s);
/* A series of a chart: the double at byte offset off of a record (an
 * epoch, a tune's batch point), times scale. */
typedef struct hwa__hr_series {
    const char *name;
    size_t off;
    double scale;
} hwa__hr_series;
double hwa__hr_series_value(const void *rec, const hwa__hr_series *s);
void hwa__hr_value_axis(hwa__axis *a, double lo, double hi, hwa__unit u, const char *label);
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
