/* The trainer's state, shared by loop.c (model, graphs, training) and
 * checkpoint.c (export, checkpoints, resume). Not a published API. */
#ifndef HWADAPT_TRAIN_INTERNAL_H
#define HWADAPT_TRAIN_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/train.h"

#define HWA_TRAIN_MAX_LAYERS (HWA_TRAIN_MAX_HIDDEN + 1)

/* One graph over a fixed number of rows: training (forward, backward) or
 * evaluation (forward only). */
typedef struct hwa__batch_graph {
    int64_t rows;        /* 0: not built */
    hwa_graph *g;
    hwa_tensor *x;       /* [rows, features] */
    hwa_tensor *y;       /* i32 [rows] */
    hwa_tensor *logits;  /* [rows, classes] */
    hwa_tensor *loss;    /* [1] */
    hwa_tensor *share;   /* data-parallel training graphs: [1], the slice's share of its batch's rows,
                            by which the loss (and so every gradient) is multiplied; else NULL */
    hwa_placement *pl;   /* device "auto": its placement */
} hwa__batch_graph;

struct hwa_trainer {
    hwa_train_config cfg;
    char device[64];
    char data_dir[4096];
    char ckpt_dir[4096];
    char resumed_from[4352];
    hwa_dataset *train, *val, *test;
    hwa_loader *loader;
    hwa_ctx *ctx;
    hwa_backend *be;
    int n_layers;
    int64_t dims[HWA_TRAIN_MAX_LAYERS + 1]; /* features, hidden..., classes */
    hwa_tensor *w[HWA_TRAIN_MAX_LAYERS];    /* [dims[i+1], dims[i]]: nn.Linear's [out, in] */
    hwa_tensor *b[HWA_TRAIN_MAX_LAYERS];    /* [dims[i+1]] */
    hwa__batch_graph train_full, train_rest, eval_full, eval_rest;
    hwa_ctx_mark eval_rest_mark;            /* what to release before rebuilding eval_rest */
    hwa_optim *opt;
    hwa_sched sched;                        /* in steps */
    int64_t epoch;                          /* completed */
    float *xbuf;                            /* host staging: [max rows, features] */
    int32_t *ybuf;
    float *logits_buf;
    /* device "auto": the devices the graphs are placed across, be (the
     * home: parameters, data, optimizer state) among them */
    bool placed;
    int n_dev;
    hwa_backend *dev_be[HWA_PLACE_MAX_DEVICES];
    hwa_place_device dev[HWA_PLACE_MAX_DEVICES];
    bool dev_made[HWA_PLACE_MAX_DEVICES];   /* made for the list (freed with t), not be */
    hwa_place_opts place;                   /* the training and evaluation graphs' */
    char dev_list[HWA_PLACE_MAX_DEVICES * 32];
    char fallback_note[400];
    const hwa_train_callbacks *cb;          /* hwa_trainer_run's, while it runs */
    bool borrowed;                          /* train, val and test are cfg's, not ours to free */
    int64_t cursor;                         /* hwa_trainer_step: the next batch of epoch `epoch` */
    /* data-parallel (parallel.c): each global batch is cut into `units`
     * slices of rows, this rank computing [u0, u1); units == 1 is the plain
     * path of one process */
    hwa_dist *dist;
    int units, u0, u1;
    hwa__batch_graph unit_g[2];             /* the training graphs of row counts beyond train_full's
                                               and train_rest's (several slices per rank) */
    struct hwa__dp *dp;
    double comm_s;                          /* this epoch's time in collectives */
    hwa_train_step_hook hook;               /* hwa_trainer_set_step_hook's, or NULL */
    void *hook_ud;
};

/* ---- data-parallel (parallel.c) ---- */
#define HWA__DP_MAX_GRAPHS 4 /* train_full, train_rest, unit_g[0..1] */
/* Checks cfg's data-parallel fields against the job (ranks, batch, the
 * training set's n samples) and sets t->dist, units, u0, u1. */
hwa_status hwa__train_dp_setup(hwa_trainer *t, int64_t n_train);
/* Builds the training graphs of this rank's slices' row counts (in
 * train_full, train_rest, unit_g), before the leaves are allocated. */
hwa_status hwa__train_dp_graphs(hwa_trainer *t);
/* After the graphs were allocated or placed: their gradient buckets and
 * the staging those need. */
hwa_status hwa__train_dp_prepare(hwa_trainer *t);
/* The gradients of batch i of the current epoch (rows in *rows), summed
 * over the ranks into the parameters' gradients, and its loss into *loss
 * (*finite: every slice's loss was finite); the optimizer step is the
 * caller's. */
hwa_status hwa__train_dp_step(hwa_trainer *t, int64_t i, double *loss, bool *finite, int64_t *rows);
/* After an epoch: fails when the ranks' parameters differ (compared by
 * hash); when the ranks compute on different devices, whose updates round
 * differently, gives every rank rank 0's parameters and optimizer state
 * instead. */
hwa_status hwa__train_dp_check(hwa_trainer *t);
void hwa__train_dp_free(hwa_trainer *t);

/* The communication module's collectives (dist.c), each failing with a
 * message when the job is broken. Requests are module handles, NULL once
 * complete. */
hwa_status hwa__dist_beat(hwa_dist *d, const char *where);
hwa_status hwa__dist_allreduce_start(hwa_dist *d, void *buf, int64_t n, bool f64, void **req);
hwa_status hwa__dist_allgather_start(hwa_dist *d, const void *send, void *recv, int64_t bytes, void **req);
hwa_status hwa__dist_progress(hwa_dist *d, void **reqs, int n, int *pending);
hwa_status hwa__dist_wait(hwa_dist *d, void **reqs, int n, const char *what);

/* The layer sizes (t->n_layers, t->dims: features, cfg's hidden sizes,
 * classes) and the parameters (t->w, t->b, named and marked trainable) on
 * t->ctx; and the graph of rows samples: training (forward and backward) or
 * evaluation (forward). Used by the trainer and by the memory plan, which
 * builds the same graphs without a backend. */
hwa_status hwa__train_make_params(hwa_trainer *t, int64_t features, int64_t classes);
hwa_status hwa__train_build_batch_graph(hwa_trainer *t, int64_t rows, bool train, hwa__batch_graph *bg);
/* bg's inputs from rows first .. first + bg->rows of the staged batch
 * (t->xbuf, t->ybuf). */
hwa_status hwa__train_set_inputs(hwa_trainer *t, hwa__batch_graph *bg, int64_t first);
/* The evaluation batch: 1000 rows, or every sample of the larger of the
 * test and validation sets when they hold fewer. */
int64_t hwa__train_eval_rows(int64_t n_test, int64_t n_val);

/* The index of name in names[0..n-1] (case-insensitive), or -1. */
int hwa__train_name_index(const char *const *names, int n, const char *name);

/* The layer sizes as "784,1000,1000,10". */
void hwa__train_layers_str(const hwa_trainer *t, char *buf, size_t cap);
/* Parameter i in export order (fc1.weight, fc1.bias, fc2.weight, ...), its
 * name written to name; 2 * n_layers of them. */
hwa_tensor *hwa__train_param(const hwa_trainer *t, int i, char *name, size_t cap);
/* Restores the newest valid checkpoint of t->ckpt_dir (checkpoint.c). */
hwa_status hwa__train_resume(hwa_trainer *t);
/* Saves epoch's checkpoint into t->ckpt_dir and deletes all but the newest
 * cfg.keep (checkpoint.c). */
hwa_status hwa__train_checkpoint_epoch(hwa_trainer *t);

/* Device "auto" (place.c). Opens cfg->devices around t->be. */
hwa_status hwa__train_open_devices(hwa_trainer *t, const hwa_train_config *cfg);
/* Places bg's graph (bg->pl, allocated), and the optimizer's graph (after
 * the training graphs: it reads their gradients). */
hwa_status hwa__train_place(hwa_trainer *t, hwa__batch_graph *bg);
hwa_status hwa__train_place_optim(hwa_trainer *t);
/* Frees every placement, then the backends made for the list. */
void hwa__train_close_devices(hwa_trainer *t);
/* One run of bg's graph: on t->be, or through its placement (re-placing
 * without a failing device with cfg.fallback). */
hwa_status hwa__train_compute(hwa_trainer *t, hwa__batch_graph *bg);
/* One optimizer step, likewise, then the step hook. */
hwa_status hwa__train_optim_step(hwa_trainer *t, float lr);
/* Frees o's placement (optim.c): o must be placed again before it steps. */
void hwa__optim_unplace(hwa_optim *o);

#endif
