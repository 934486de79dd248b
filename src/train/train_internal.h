/* The trainer's state, shared by loop.c (model, graphs, training) and
 * checkpoint.c (export, checkpoints, resume). Not a published API. */
#ifndef HWADAPT_TRAIN_INTERNAL_H
#define HWADAPT_TRAIN_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/train.h"

#define HWA_TRAIN_MAX_LAYERS (HWA_TRAIN_MAX_HIDDEN + 1)
/* The most parameters and saved buffers a trainer's model may have. */
#define HWA__TRAIN_MAX_PARAMS 256
#define HWA__TRAIN_MAX_BUFFERS 64
/* The most metadata entries that describe a model in its files. */
#define HWA__TRAIN_MAX_META 4

/* One graph over a fixed number of rows: training (forward, backward) or
 * evaluation (forward only). */
typedef struct hwa__batch_graph {
    int64_t rows;        /* 0: not built */
    hwa_graph *g;
    hwa_tensor *x;       /* [rows, features] */
    hwa_tensor *y;       /* i32 [rows] */
    hwa_tensor *logits;  /* [rows, classes] */
    hwa_tensor *loss;    /* [1] */
    hwa_tensor *seed;    /* training graphs of a model with dropout: i32 [2], the step's mask seed,
                            set with the inputs; else NULL */
    hwa_tensor *share;   /* data-parallel training graphs: [1], the slice's share of its batch's rows,
                            by which the loss (and so every gradient) is multiplied; else NULL */
    hwa_placement *pl;   /* device "auto": its placement */
} hwa__batch_graph;

/* A model the trainer trains: what makes its parameters, initializes them,
 * builds its logits, and exports it (model.c: the MLP; model_cnn.c:
 * fmnist-cnn; model_onnx.c: an ONNX file). The trainer owns the rest: the
 * data, the loss, the backward pass, the optimizer, checkpoints, placement
 * and data-parallel training all go through hwa__train_build_batch_graph. */
typedef struct hwa__train_model {
    const char *name;          /* "fmnist-mlp", "fmnist-cnn", "onnx" (for messages) */
    const char *export_format; /* an export's __metadata__ "format" */
    /* The parameters (hwa__train_add_param, in export order), the buffers
     * and the metadata (hwa__train_add_meta) on t->ctx for t->features
     * inputs and t->classes outputs; no values yet. */
    hwa_status (*make)(hwa_trainer *t);
    /* The parameters' and buffers' first values, after they were allocated,
     * from the context's seeded generator. */
    hwa_status (*init)(hwa_trainer *t);
    /* The logits [rows, classes] of x [rows, features] (both in
     * cfg.dtype); train: the training form (batch statistics, dropout with
     * bg->seed made here). NULL with the context's error recorded. */
    hwa_tensor *(*logits)(hwa_trainer *t, hwa_tensor *x, bool train, hwa__batch_graph *bg);
    /* Writes the model to path; NULL: the safetensors export of checkpoint.c. */
    hwa_status (*export_to)(hwa_trainer *t, const char *path);
    /* Frees t->model_state; may be NULL. */
    void (*free_state)(hwa_trainer *t);
    /* logits makes bg->x itself (an ONNX build's input leaf: [rows,
     * features] or another shape of the same bytes); else the trainer makes
     * it [rows, features]. */
    bool own_input;
    /* After a graph was built once the trainer had allocated its leaves
     * (an evaluation's last, smaller batch) and its inputs were allocated:
     * storage and values for the leaves the build made. NULL: none needed. */
    hwa_status (*prepare)(hwa_trainer *t);
} hwa__train_model;

/* A saved non-trainable tensor: elements [offset, offset + n) of t (a
 * persistent leaf), saved as a 1-D F32 tensor under name. */
typedef struct hwa__train_buffer {
    hwa_tensor *t;
    int64_t offset, n;
    char name[HWA_MAX_NAME];
} hwa__train_buffer;

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
    const hwa__train_model *model;
    char model_name[4096];                  /* cfg.model ("" for the MLP) */
    void *model_state;                      /* the model's own (ONNX: the file and its mapping) */
    int64_t features, classes;              /* the model's inputs per sample and logits */
    int n_params;
    hwa_tensor *params[HWA__TRAIN_MAX_PARAMS]; /* f32, named, trainable; export order */
    int n_buffers;
    hwa__train_buffer buffers[HWA__TRAIN_MAX_BUFFERS]; /* saved after the parameters */
    int n_meta;                             /* what describes the model in exports and checkpoints; a */
    char meta_key[HWA__TRAIN_MAX_META][32]; /* checkpoint whose values differ is another model's */
    char meta_val[HWA__TRAIN_MAX_META][256];
    /* the MLP's layers (n_layers 0 for other models) */
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

/* ---- models (model.c) ---- */
/* Chooses t->model from cfg.model (copied to t->model_name): NULL, "",
 * "mlp" or "fmnist-mlp", "fmnist-cnn", or a path ending in ".onnx".
 * HWA_E_INVALID naming the choices otherwise. */
hwa_status hwa__train_model_select(hwa_trainer *t, const char *model);
/* The model cfg.model names, or NULL when it names none. */
const hwa__train_model *hwa__train_model_find(const char *model);
/* p in the compute dtype dt: p itself, else a cast through which the
 * backward pass brings the gradient back to p's dtype. */
hwa_tensor *hwa__train_in_dtype(hwa_ctx *ctx, hwa_tensor *p, hwa_dtype dt);
/* The model's name for messages: "fmnist-mlp", "fmnist-cnn" or the .onnx path. */
const char *hwa__train_model_label(const hwa_trainer *t);
/* Registers p (f32, on t->ctx) as the next trainable parameter under name. */
hwa_status hwa__train_add_param(hwa_trainer *t, hwa_tensor *p, const char *name);
/* Registers elements [offset, offset + n) of the persistent leaf b as a saved buffer. */
hwa_status hwa__train_add_buffer(hwa_trainer *t, hwa_tensor *b, int64_t offset, int64_t n, const char *name);
/* Adds a metadata entry that describes the model. */
hwa_status hwa__train_add_meta(hwa_trainer *t, const char *key, const char *value);
/* The mask seed of a dropout at optimizer step `step` for the slice of rows
 * starting at `first` of its batch: a pure function of (cfg.seed, step,
 * first), so a resumed run draws the same masks. */
void hwa__train_dropout_seed(const hwa_trainer *t, int64_t step, int64_t first, int32_t out[2]);
/* The built-in models (model_cnn.c, model_onnx.c). */
extern const hwa__train_model hwa__train_model_mlp, hwa__train_model_cnn, hwa__train_model_onnx;

/* The model's parameters, buffers and metadata (t->model->make, after
 * t->features and t->classes are set) on t->ctx; and the graph of rows
 * samples: training (forward and backward) or evaluation (forward). Used by
 * the trainer and by the memory plan, which builds the same graphs without
 * a backend. */
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

/* Parameter i in export order (the MLP's fc1.weight, fc1.bias, fc2.weight,
 * ...), its name written to name; t->n_params of them. */
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
