/* hwadapt — tuning: the batch size that fits a device's memory (and a
 * latency bound), the learning rate, and the optimizer.
 *
 * A tuning target is a model trained by the trainer (train.h: fmnist-mlp and
 * its variants, on data the caller loads once) or one of the built-in bench
 * workloads (bench.h: linear1000, mlp1000 and mlp1000-train, whose inputs
 * and labels are synthetic). Unlike a finder that doubles the batch until an
 * allocation fails, the batch search asks the memory planner's dry run what
 * each batch will hold, so nothing runs until the chosen batch is confirmed
 * by one real step, whose memory is measured.
 *
 * Errors: every fallible function returns an hwa_status and records one
 * line readable with hwa_last_error(). Nothing here aborts or exits; an
 * allocation that fails while confirming a batch is reported in the result
 * and the search backs off.
 *
 * Threading: a call uses the calling thread and the backends it makes; two
 * calls may not run at once in one process (they measure the process's
 * resident memory).
 */
#ifndef HWADAPT_TUNE_H
#define HWADAPT_TUNE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is tuned: exactly one of train (a trainer configuration whose data
 * is borrowed: cfg.train_set, test_set, and val_set for the searches that
 * validate) and workload (a built-in bench workload's name). */
typedef struct hwa_tune_target {
    const hwa_train_config *train;
    const char *workload;
    const char *device;   /* the workload's device ("cpu", "opencl:0"); the trainer's is train->device */
    int threads;          /* the workload's CPU threads; 0: the backend's default */
    int64_t batch;        /* the workload's batch for the range test; 0: its default (the trainer's is train->batch) */
} hwa_tune_target;

/* ---- batch size ------------------------------------------------------------ */

#define HWA_TUNE_MAX_POINTS 32
#define HWA_TUNE_MAX_BACKOFFS 8

typedef struct hwa_tune_batch_opts {
    int64_t mem_bytes;     /* the memory to fit; 0: the device's (its HWA_MEM_LIMIT cap, else what the
                              passport says it has: the host's available memory for the CPU) */
    double margin;         /* share of mem_bytes kept free, [0, 0.9]; 0: 0.10 */
    int64_t max_batch;     /* the largest batch considered; 0: 8192 for training (a larger batch leaves
                              Fashion-MNIST's 60,000 samples fewer than 8 steps an epoch), 65536 for
                              inference; never more than the training set */
    bool confirm;          /* build the chosen batch, run every graph once and measure its memory */
    /* The throughput curve: powers of two from min_batch (0: 1 for inference, 8 for training) up to
     * the largest batch that fits, each measured for about point_s seconds (0: 0.3); a point whose
     * one query would take over point_s * 4 ends the curve. curve false: no curve. */
    bool curve;
    int64_t min_batch;
    double point_s;
    double curve_budget_s; /* > 0: the curve stops growing before its visits would pass this */
    /* Inference: the largest batch whose measured p99 latency (a query is one batch, run back to
     * back) stays at or under p99_ms; 0: no bound. */
    double p99_ms;
} hwa_tune_batch_opts;

typedef struct hwa_tune_point {
    int64_t batch;
    int64_t predicted_bytes;  /* the plan's total for this batch */
    double samples_per_s;     /* NAN: not measured */
    double p50_ms, p99_ms;    /* a query's latency; NAN: not measured */
} hwa_tune_point;

typedef struct hwa_tune_backoff {
    int64_t batch;            /* the batch whose confirmation failed */
    char why[200];            /* its error */
} hwa_tune_backoff;

typedef struct hwa_tune_batch_result {
    int64_t avail_bytes;      /* mem_bytes less the margin: what a batch's plan must fit */
    bool capped;              /* mem_bytes came from HWA_MEM_LIMIT */
    /* The kernels' workspace, added to every plan. The graphs' memory is planned; what the
     * kernels keep outside the graph (oneDNN's weights reordered into its own layout, its scratch
     * for large products) is not in it, so it is measured: what runs at calib_batch and
     * calib_batch2 (8 and 512, or the cap) held beyond their plans, fitted by a line,
     * workspace_base_bytes + workspace_per_sample * batch. workspace_bytes: at confirmed_batch. */
    int64_t calib_batch, calib_batch2;
    int64_t workspace_base_bytes;
    double workspace_per_sample;
    int64_t workspace_bytes;
    int64_t max_fit;          /* the largest batch whose plan fits (0: none, not even 1) */
    int64_t max_fit_bytes;    /* its planned bytes; and the next batch up's, which does not fit */
    int64_t next_bytes;       /* -1 when max_fit is max_batch (the cap, not memory, stopped it). After
                                 a back-off, max_fit is the batch confirmed and next_bytes the plan of
                                 the last one whose allocation failed */
    /* The confirmation of the chosen batch (the memory column of bench/tune.sh): what the plan
     * predicted against what the process really held, the resident set's growth on the CPU
     * (Linux's peak RSS, reset before the run), the allocator's peak elsewhere. -1: unknown. */
    int64_t confirmed_batch;  /* 0: not confirmed */
    int64_t predicted_bytes;
    int64_t measured_bytes;
    int64_t device_peak_bytes;/* the backend's own statistics (buffers only) */
    const char *measured_how; /* "peak RSS growth" or "allocator peak" */
    int n_backoffs;           /* confirmations that failed before one passed */
    hwa_tune_backoff backoffs[HWA_TUNE_MAX_BACKOFFS];
    int n_points;
    hwa_tune_point points[HWA_TUNE_MAX_POINTS];
    bool curve_cut;           /* the curve budget stopped it below the confirmed batch */
    /* The choice: inference with a bound, the largest batch meeting it (0: even batch 1 misses
     * it); inference without one, the batch of the best throughput; training, the smallest batch
     * that reaches 80 % of the best measured throughput (past it a larger batch buys little
     * speed and costs accuracy per epoch); without a curve, max_fit. */
    int64_t batch;
    char why[200];
} hwa_tune_batch_result;

/* Finds, for target on its device: the largest batch that fits (a binary
 * search over the plan, nothing allocated), the throughput curve and the
 * batch chosen from it, and the confirmation (with backing off: after a
 * failed confirmation, half the batch, at most HWA_TUNE_MAX_BACKOFFS
 * times). Errors: a bad target
 * or option (HWA_E_INVALID, HWA_E_NOTFOUND for an unknown workload or
 * device), HWA_E_NOMEM when not even batch 1 fits, a query's error while
 * measuring the curve. */
hwa_status hwa_tune_batch(const hwa_tune_target *target, const hwa_tune_batch_opts *opts,
                          hwa_tune_batch_result *out);

/* The memory one batch of target will hold, planned (bytes): the total the
 * process holds and the part the device holds. */
hwa_status hwa_tune_predict(const hwa_tune_target *target, int64_t batch, int64_t *total, int64_t *device);
/* Builds target at batch, runs every graph once, and measures: *measured
 * the peak resident-set growth (the CPU) or the allocator's peak (other
 * devices), *device_peak the backend's allocator peak; -1 when unknown. */
hwa_status hwa_tune_measure(const hwa_tune_target *target, int64_t batch, int64_t *measured, int64_t *device_peak);

/* The plan of one batch (with the kernels' workspace, measured as
 * hwa_tune_batch measures it) against the memory one run of it takes. */
typedef struct hwa_tune_memory_check {
    int64_t predicted_bytes, measured_bytes, device_peak_bytes; /* -1: unknown */
    int64_t workspace_bytes, calib_batch, calib_batch2;
    const char *measured_how;
} hwa_tune_memory_check;
hwa_status hwa_tune_memory_check_run(const hwa_tune_target *target, int64_t batch, hwa_tune_memory_check *out);

/* ---- learning rate ------------------------------------------------------------ */

#define HWA_TUNE_MAX_LR_STEPS 1000

typedef struct hwa_tune_lr_opts {
    double lr_min, lr_max;    /* the range; 0: 1e-6 and 10 */
    int steps;                /* 0: 200; at most HWA_TUNE_MAX_LR_STEPS */
    double beta;              /* the loss's exponential smoothing; 0: 0.98 */
    double diverge;           /* stop when the smoothed loss passes this times its minimum; 0: 4 */
} hwa_tune_lr_opts;

typedef struct hwa_tune_lr_result {
    int n;                    /* steps taken */
    double lr[HWA_TUNE_MAX_LR_STEPS];
    double loss[HWA_TUNE_MAX_LR_STEPS];     /* each step's loss (NAN for a non-finite one) */
    double smoothed[HWA_TUNE_MAX_LR_STEPS]; /* bias-corrected exponential average */
    bool diverged;            /* stopped by the divergence rule or a non-finite loss */
    double lr_at_min;         /* the rate at the smoothed loss's minimum */
    double lr_steepest;       /* the rate where the smoothed loss falls fastest per log of the rate */
    double suggestion;        /* the rule of docs/tune.md */
} hwa_tune_lr_result;

/* The range test on target's training (its optimizer and batch: the
 * trainer's cfg, or the workload's defaults): a fresh model, one step per
 * rate, the rates spaced evenly in log from lr_min to lr_max. */
hwa_status hwa_tune_lr_range(const hwa_tune_target *target, const hwa_tune_lr_opts *opts, hwa_tune_lr_result *out);

/* ---- optimizer and rate together ------------------------------------------------ */

#define HWA_TUNE_MAX_TRIALS 16

typedef struct hwa_tune_trial {
    hwa_optim_kind optim;
    double lr;
    int64_t steps;            /* trained so far */
    double val_loss, val_accuracy; /* at its last rung; NAN before */
    int rung;                 /* the last rung it reached (0-based) */
} hwa_tune_trial;

typedef struct hwa_tune_search_opts {
    int n_optims;             /* the optimizers to try, with the range test's suggestion for each */
    hwa_optim_kind optims[4];
    double suggested[4];
    double spread;            /* rates tried: suggested / spread, suggested, suggested * spread; 0: 3 */
    int64_t rung_steps;       /* steps of the first rung; each next rung trains the survivors eta times
                                 longer in total; 0: a quarter of an epoch */
    int eta;                  /* keep the best 1/eta of each rung; 0: 3 */
    double budget_s;          /* stop promoting when the next rung would pass this; 0: no limit */
    int64_t budget_steps;     /* ... or these training steps over all trials; 0: no limit */
} hwa_tune_search_opts;

typedef struct hwa_tune_search_result {
    int n;
    hwa_tune_trial trials[HWA_TUNE_MAX_TRIALS];
    int best;                 /* index of the winner: the lowest validation loss at the highest rung */
    int rungs;
    double seconds;
} hwa_tune_search_result;

/* Successive halving over optimizer x rate trials of target's training
 * (the trainer with a validation set). Errors: HWA_E_INVALID (no
 * validation set, no optimizer, a suggestion <= 0), a trainer's error. */
hwa_status hwa_tune_search(const hwa_tune_target *target, const hwa_tune_search_opts *opts,
                           hwa_tune_search_result *out);

/* ---- the whole job (hwadapt tune) ------------------------------------------------ */

typedef struct hwa_tune_job {
    hwa_tune_target target;   /* a trainer's configuration with a validation set, or a workload */
    double budget_s;          /* > 0: the time the job may take, shared among its phases (about
                                 15 % the batch, 25 % the range tests, the rest the search) */
    int64_t budget_steps;     /* > 0 instead: the training steps the range tests and the search may
                                 take in all (the batch phase is not counted) */
    hwa_tune_batch_opts batch;
    int n_optims;             /* the optimizers tried; 0: momentum, adam, adamw */
    hwa_optim_kind optims[4];
    int64_t default_batch;    /* the recipe the tuned one must not be slower than: its batch and
                                 epochs (0: 64 and 10) */
    int64_t default_epochs;
    void (*progress)(void *ud, const char *msg); /* one line per phase; may be NULL */
    void *progress_ud;
} hwa_tune_job;

typedef struct hwa_tune_report {
    char target[64];          /* "fmnist-mlp", "mlp1000" */
    char device[32];
    bool training, synthetic; /* synthetic: a workload's generated inputs and labels */
    hwa_tune_batch_result batch;
    int n_lr;
    hwa_optim_kind lr_optim[4];
    hwa_tune_lr_result *lr[4];
    bool searched;
    hwa_tune_search_result search;
    /* the recommendation */
    hwa_optim_kind optim;
    double lr_value;
    int64_t epochs;
    hwa_sched_kind schedule;  /* cosine over the epochs, after a 5 % warm-up */
    /* the time rule: the default recipe's run time and the tuned one's, estimated from the measured
     * throughput (evaluation included); NAN when not estimated */
    double default_run_s, tuned_run_s;
    char why_epochs[200];
    double seconds;           /* the job's own time */
} hwa_tune_report;

/* Runs the job: the batch (hwa_tune_batch), for training the range test of
 * each optimizer at that batch and, for a trainer, the search among them
 * (hwa_tune_search); then the recommendation: the winner's optimizer and
 * rate, and as many epochs (with the default step schedule scaled to them)
 * as fit in the time the default recipe takes on this device. *out: new,
 * hwa_tune_report_free. Errors: the phases'. */
hwa_status hwa_tune_run(const hwa_tune_job *job, hwa_tune_report **out);
void hwa_tune_report_free(hwa_tune_report *r); /* NULL is a no-op */
/* The report as JSON (docs/tune.md): {"hwadapt": "tune", "version": 1, "train" or "bench WORKLOAD":
 * the settings hwadapt train / bench take with --config, "tune": the measurements}. */
hwa_status hwa_tune_report_write(const hwa_tune_report *r, FILE *f);
/* The same into a file, atomically. */
hwa_status hwa_tune_report_save(const hwa_tune_report *r, const char *path);

#ifdef __cplusplus
}
#endif
#endif
