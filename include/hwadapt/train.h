/* hwadapt — training: datasets and loaders, learning-rate schedules,
 * optimizers, checkpoints and the training loop.
 *
 * Everything runs through compute graphs: the model's forward and backward
 * pass is one graph, and the optimizer is a second graph, built once per run,
 * whose update ops (SGD_UPDATE, ADAM_UPDATE) write the parameters in place on
 * the backend that holds them.
 *
 * Errors: every fallible function returns an hwa_status and records one line
 * readable with hwa_last_error() ("train: --batch 0 must be at least 1").
 * Nothing here aborts or exits on bad input or bad files.
 *
 * Threading: each object is used by one thread at a time; distinct objects
 * are independent.
 */
#ifndef HWADAPT_TRAIN_H
#define HWADAPT_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "graph.h"
#include "hw.h"
#include "sched.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- datasets -------------------------------------------------------------- */

/* A labelled dataset in memory: n samples of `features` f32 values each and
 * an i32 label in [0, n_classes). */
typedef struct hwa_dataset hwa_dataset;

/* The Debian package that installs Fashion-MNIST, and where. */
#define HWA_FMNIST_PACKAGE "dataset-fashion-mnist"
#define HWA_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
/* Mean and standard deviation of Fashion-MNIST's training pixels (scaled to
 * [0, 1]): the normalisation every loader of it uses. */
#define HWA_FMNIST_MEAN 0.2860f
#define HWA_FMNIST_STD 0.3530f

/* Loads an IDX image file ([n, rows, cols] or [n, features] bytes) and an IDX
 * label file ([n] bytes), gzipped or raw, through io.h's IDX reader. Pixels
 * become (byte / 255 - mean) / std; std must be > 0. The counts must agree,
 * every label must be below n_classes (1..256). *out: new, hwa_dataset_free;
 * NULL on error. Errors: HWA_E_NOTFOUND (a file is missing), HWA_E_FORMAT
 * (malformed or inconsistent files: the message names the file and field),
 * HWA_E_INVALID, HWA_E_NOMEM. */
hwa_status hwa_dataset_load_idx(const char *images_path, const char *labels_path, int n_classes, float mean,
                                float std, hwa_dataset **out);
/* Fashion-MNIST's training (train = true, 60,000 samples) or test set (10,000)
 * from dir (NULL: HWA_FMNIST_DIR), normalised with HWA_FMNIST_MEAN/STD.
 * A missing file is HWA_E_NOTFOUND with a message that names the Debian
 * package to install. */
hwa_status hwa_dataset_load_fmnist(const char *dir, bool train, hwa_dataset **out);
/* A dataset from caller arrays (copied): x [n, features], labels [n]. */
hwa_status hwa_dataset_from_arrays(const float *x, const int32_t *labels, int64_t n, int64_t features,
                                   int n_classes, hwa_dataset **out);
void hwa_dataset_free(hwa_dataset *d); /* NULL is a no-op */
int64_t hwa_dataset_n(const hwa_dataset *d);
int64_t hwa_dataset_features(const hwa_dataset *d);
int hwa_dataset_n_classes(const hwa_dataset *d);
/* Sample i's features (features floats) and label; NULL / -1 out of range.
 * The pointer belongs to d. */
const float *hwa_dataset_x(const hwa_dataset *d, int64_t i);
int32_t hwa_dataset_label(const hwa_dataset *d, int64_t i);
/* Keeps the first n samples (n >= 1; n above the count keeps all). */
hwa_status hwa_dataset_truncate(hwa_dataset *d, int64_t n);
/* Moves the last n_val samples (0 < n_val < count) into a new dataset *val:
 * the validation split, the same samples for every seed. */
hwa_status hwa_dataset_split(hwa_dataset *d, int64_t n_val, hwa_dataset **val);

/* ---- loaders: shuffling and batching --------------------------------------- */

/* Batches of a dataset in a seeded order. With shuffle, epoch e visits the
 * samples in a permutation that depends only on (seed, e): a run resumed at
 * epoch e sees the same batches as one that never stopped. The last partial
 * batch (count % batch samples) is dropped when drop_last, else it is the
 * last, smaller batch. The loader borrows the dataset, which must outlive it. */
typedef struct hwa_loader hwa_loader;
hwa_status hwa_loader_new(const hwa_dataset *d, int64_t batch, bool shuffle, bool drop_last, uint64_t seed,
                          hwa_loader **out);
void hwa_loader_free(hwa_loader *l); /* NULL is a no-op */
/* Sets the order of epoch e (0-based). */
hwa_status hwa_loader_set_epoch(hwa_loader *l, int64_t epoch);
int64_t hwa_loader_n_batches(const hwa_loader *l);
/* Copies batch i of the current epoch into x (rows * features floats) and
 * labels (rows values); *rows gets the batch's size. HWA_E_RANGE for a bad i. */
hwa_status hwa_loader_batch(const hwa_loader *l, int64_t i, float *x, int32_t *labels, int64_t *rows);
/* The dataset index of position k of the current epoch's order. */
int64_t hwa_loader_index(const hwa_loader *l, int64_t k);

/* ---- learning-rate schedules ------------------------------------------------- */

typedef enum hwa_sched_kind {
    HWA_SCHED_CONSTANT = 0, /* lr */
    HWA_SCHED_STEP,         /* lr * gamma^floor(t / step_size) (PyTorch StepLR) */
    HWA_SCHED_COSINE,       /* warm-up lr * (t+1) / warmup for t < warmup, then
                               min_lr + (lr - min_lr) * (1 + cos(pi * (t - warmup) /
                               (total - warmup))) / 2 (LinearLR then CosineAnnealingLR) */
    HWA_SCHED_ONECYCLE,     /* PyTorch OneCycleLR, cosine annealing, two phases:
                               lr / div_factor up to lr at step pct_start * total - 1,
                               then down to lr / div_factor / final_div_factor at
                               total - 1 (momentum is not cycled) */
    HWA_SCHED_COUNT
} hwa_sched_kind;

/* A schedule is a pure function of the step t (0-based count of optimizer
 * steps taken before this one): its whole state is its parameters and t.
 * Plain data; steps, not epochs (the trainer converts). */
typedef struct hwa_sched {
    hwa_sched_kind kind;
    double lr;               /* base (peak for one-cycle), > 0 */
    int64_t total_steps;     /* cosine, one-cycle: the run's length, >= 1 */
    int64_t step_size;       /* step: >= 1 */
    double gamma;            /* step: > 0 */
    int64_t warmup_steps;    /* cosine: 0 .. total_steps - 1 */
    double min_lr;           /* cosine: >= 0 */
    double pct_start;        /* one-cycle: in (0, 1) */
    double div_factor;       /* one-cycle: > 0 */
    double final_div_factor; /* one-cycle: > 0 */
} hwa_sched;

/* The defaults of kind for base rate lr and a run of total_steps steps:
 * step_size = total/3 (at least 1), gamma 0.1, warm-up 5% of the run, min_lr
 * 0, pct_start 0.3, div_factor 25, final_div_factor 1e4 (PyTorch's). */
hwa_sched hwa_sched_default(hwa_sched_kind kind, double lr, int64_t total_steps);
/* HWA_E_INVALID with a message naming the field when s is not usable. */
hwa_status hwa_sched_check(const hwa_sched *s);
/* The rate for step t (t >= 0; steps past the end keep the last rate). */
double hwa_sched_lr(const hwa_sched *s, int64_t t);
const char *hwa_sched_kind_name(hwa_sched_kind k); /* "constant", "step", "cosine", "onecycle" */
hwa_status hwa_sched_kind_from_name(const char *name, hwa_sched_kind *out);

/* ---- optimizers ---------------------------------------------------------------- */

typedef enum hwa_optim_kind {
    HWA_OPTIM_SGD = 0,  /* p -= lr * g */
    HWA_OPTIM_MOMENTUM, /* buf = mom * buf + g; p -= lr * buf (PyTorch SGD, dampening 0) */
    HWA_OPTIM_NESTEROV, /* the same with p -= lr * (g + mom * buf) */
    HWA_OPTIM_ADAM,     /* weight decay as L2: g += wd * p */
    HWA_OPTIM_ADAMW,    /* decoupled weight decay: p *= 1 - lr * wd */
    HWA_OPTIM_COUNT
} hwa_optim_kind;

typedef struct hwa_optim_config {
    hwa_optim_kind kind;
    float momentum;     /* momentum, Nesterov: in [0, 1) */
    float beta1, beta2; /* Adam(W): in [0, 1) */
    float eps;          /* Adam(W): > 0 */
    float weight_decay; /* >= 0 */
    float clip_norm;    /* global gradient-norm bound; 0: no clipping */
} hwa_optim_config;

/* PyTorch's defaults: momentum 0.9, betas 0.9/0.999, eps 1e-8, weight decay 0
 * (AdamW: 0.01), no clipping. */
hwa_optim_config hwa_optim_config_default(hwa_optim_kind kind);
hwa_status hwa_optim_config_check(const hwa_optim_config *c);
const char *hwa_optim_kind_name(hwa_optim_kind k); /* "sgd", "momentum", "nesterov", "adam", "adamw" */
hwa_status hwa_optim_kind_from_name(const char *name, hwa_optim_kind *out);

/* An optimizer over the parameters of train, a graph with a backward pass
 * that has been allocated on be (so that the gradients have storage). It
 * builds its own update graph in train's context and allocates its state
 * (zeroed) on be. *out: new, hwa_optim_free (the graph and tensors belong to
 * the context). */
typedef struct hwa_optim hwa_optim;
hwa_status hwa_optim_new(hwa_graph *train, hwa_backend *be, const hwa_optim_config *cfg, hwa_optim **out);
void hwa_optim_free(hwa_optim *o); /* NULL is a no-op */
/* One update of every parameter from its current gradient with rate lr
 * (> 0 and finite); counts a step. */
hwa_status hwa_optim_step(hwa_optim *o, float lr);
/* Runs o's update graph from now on through a placement over bes[0..n-1]
 * (described by devs, with opts; as hwa_placement_new) instead of on the
 * backend o was made for: for a training graph placed across devices, whose
 * gradients may live on any of them. The updates run where the parameters
 * live (they write them in place); a gradient that lives elsewhere is
 * copied in before them. Placing again replaces the previous placement;
 * after an error o has none and must be placed again before it steps. The
 * backends must outlive o. Errors: hwa_placement_new's and
 * hwa_placement_alloc's. hwa_optim_step then returns a device's error as
 * hwa_placement_compute does, before any parameter was written when that
 * device is not the parameters' (their updates come after every other node
 * of the graph). */
hwa_status hwa_optim_place(hwa_optim *o, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                           const hwa_place_opts *opts);
/* The placement hwa_optim_place made (owned by o), or NULL. */
const hwa_placement *hwa_optim_placement(const hwa_optim *o);
int64_t hwa_optim_steps(const hwa_optim *o);
void hwa_optim_set_steps(hwa_optim *o, int64_t steps);
/* The state of parameter i (hwa_graph_param order): slot 0 is the momentum
 * buffer (momentum, Nesterov) or the first moments (Adam), slot 1 the second
 * moments (Adam); each has the parameter's shape. NULL when there is none.
 * The tensors are views into the optimizer's storage. */
int hwa_optim_n_slots(const hwa_optim *o);
/* The state tensors an optimizer of kind k keeps per parameter, each of the
 * parameter's shape in f32: 0 (SGD), 1 (momentum, Nesterov: the momentum
 * buffer), 2 (Adam, AdamW: the two moments); 0 for an unknown kind. */
int hwa_optim_kind_slots(hwa_optim_kind k);
hwa_tensor *hwa_optim_state(const hwa_optim *o, int param, int slot);
/* Slot names in checkpoints: "momentum_buffer", "exp_avg", "exp_avg_sq". */
const char *hwa_optim_slot_name(const hwa_optim *o, int slot);

/* ---- data-parallel training over MPI ------------------------------------------------- */

/* A job of ranks started by an MPI launcher (mpirun -np N hwadapt ...).
 * MPI itself lives in a loadable module, libhwadapt_mpi.so, built where an
 * MPI implementation is installed and opened at run time: libhwadapt and
 * hwadapt never link MPI, and start on machines without it. */
typedef struct hwa_dist hwa_dist;

/* Whether an MPI launcher started this process: its environment names a
 * rank (Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK, MPICH's and
 * Slurm's PMI_SIZE). Thread-safe. */
bool hwa_dist_launched(void);

typedef struct hwa_dist_opts {
    /* How long one collective may wait for the other ranks before the one
     * that did not arrive is named and the call fails with HWA_E_DEVICE
     * (a rank that died or hangs); <= 0: HWA_DIST_TIMEOUT_S. */
    double timeout_s;
    /* The module's path; NULL: $HWA_MPI_MODULE, else libhwadapt_mpi.so
     * beside the running executable, else in ../lib/hwadapt/ from it, else
     * the dynamic loader's search path. */
    const char *module;
} hwa_dist_opts;
#define HWA_DIST_TIMEOUT_S 60.0

/* Opens the module, starts MPI and exchanges each rank's process id and
 * host (for messages that name a rank). Call once per process, on every
 * rank. *out: new, hwa_dist_free. Errors: HWA_E_NOTFOUND (no module: the
 * message says hwadapt was built without MPI, and which package builds it),
 * HWA_E_UNSUPPORTED (a module of another ABI, or a file that is not one),
 * HWA_E_DEVICE (MPI failed to start, or a rank did not arrive within the
 * timeout); *out is then NULL, and the caller exits with a non-zero status
 * (see hwa_dist_leave). */
hwa_status hwa_dist_init(const hwa_dist_opts *opts, hwa_dist **out);
/* Ends MPI after every rank got here (collective), and frees d. Only after
 * a run that succeeded on every rank: after an error, hwa_dist_leave.
 * NULL is a no-op. */
void hwa_dist_free(hwa_dist *d);
/* Frees d after an error on this rank without ending MPI (which would wait
 * for the other ranks). The caller then exits with a non-zero status: the
 * launcher stops the job's other ranks when one exits so (Open MPI's mpirun
 * does at once), and they would otherwise wait for this one until their
 * timeout. The library itself never ends the process. NULL is a no-op. */
void hwa_dist_leave(hwa_dist *d);
int hwa_dist_rank(const hwa_dist *d); /* 0 .. size-1; 0 for NULL */
int hwa_dist_size(const hwa_dist *d); /* 1 for NULL */
/* The MPI library ("Open MPI v4.1.4"). */
const char *hwa_dist_version(const hwa_dist *d);
/* Sums x[0..n) over every rank, in place on every rank (a collective,
 * under the timeout). */
hwa_status hwa_dist_allreduce_f64(hwa_dist *d, double *x, int64_t n);

/* ---- the trainer ------------------------------------------------------------------ */

#define HWA_TRAIN_MAX_HIDDEN 8

/* fmnist-cnn (hwa_train_config.model "fmnist-cnn"), PyTorch's layers with
 * their defaults (batchnorm eps 1e-5, momentum 0.1; kaiming-uniform
 * weights): 28x28 images, convolutions without bias (the batchnorm after
 * them has one). Batchnorm uses the batch's statistics in training and the
 * running ones at evaluation; checkpoints and exports hold those
 * (bn<k>.running_mean, bn<k>.running_var). Dropout is in training only, its
 * mask drawn from (seed, step, the slice's first row): deterministic runs
 * stay bitwise reproducible, and a resumed run draws the same masks.
 * Data-parallel slices normalize with their own rows' statistics (as
 * PyTorch's DistributedDataParallel without SyncBatchNorm), and each rank
 * keeps the running statistics of its own slices; rank 0's are saved. */
#define HWA_TRAIN_CNN_ARCH                                                                                          \
    "conv3x3 1->32 pad 1, batchnorm, relu, maxpool 2x2 -> conv3x3 32->64 pad 1, batchnorm, relu, maxpool 2x2 -> " \
    "fc 3136->128, relu, dropout 0.25 -> fc 128->10"

typedef enum hwa_activation {
    HWA_ACT_RELU = 0,
    HWA_ACT_GELU,
    HWA_ACT_TANH,
    HWA_ACT_SIGMOID,
    HWA_ACT_SILU,
    HWA_ACT_COUNT
} hwa_activation;
const char *hwa_activation_name(hwa_activation a);
hwa_status hwa_activation_from_name(const char *name, hwa_activation *out);
/* h through activation a (hwa_relu, hwa_gelu, ...; an unknown a is relu). */
hwa_tensor *hwa_activation_apply(hwa_ctx *ctx, hwa_activation a, hwa_tensor *h);

typedef struct hwa_train_config {
    const char *data_dir;      /* NULL: HWA_FMNIST_DIR */
    const char *device;        /* NULL: "cpu" */
    int64_t limit;             /* use the first `limit` training samples; 0: all */
    int64_t test_limit;        /* the same for the test set; 0: all */
    double val_fraction;       /* hold out this fraction of the training set, [0, 0.5] */
    /* The model: NULL, "fmnist-mlp" (or "mlp"): the MLP of n_hidden,
     * hidden and activation below; "fmnist-cnn" (or "cnn"): the built-in
     * convolutional net (HWA_TRAIN_CNN_ARCH; n_hidden, hidden and activation
     * are not used); a path ending in ".onnx": that ONNX model, which must
     * take one float input [N, features] or [N, 1, 28, 28] and give [N,
     * classes] logits (HWA_E_INVALID otherwise), its float initializers
     * trained, in f32 only (docs/train.md). Another name is HWA_E_INVALID.
     * Read by hwa_trainer_new and hwa_train_memory_plan only. */
    const char *model;
    int n_hidden;              /* 0 .. HWA_TRAIN_MAX_HIDDEN */
    int64_t hidden[HWA_TRAIN_MAX_HIDDEN];
    hwa_activation activation;
    int64_t batch;             /* >= 1 */
    int64_t epochs;            /* the total, counting epochs done before a resume */
    uint64_t seed;
    bool drop_last;            /* drop the last partial batch of each epoch */
    hwa_optim_config optim;
    hwa_sched sched;           /* step_size in epochs (converted to steps by the
                                  trainer); warmup_steps in steps (< 0: 5% of
                                  the run); total_steps is
                                  set by the trainer to epochs * batches */
    const char *checkpoint_dir;/* NULL: no checkpoints */
    int keep;                  /* checkpoints kept (>= 1) */
    bool resume;               /* continue from the newest valid checkpoint */
    /* The precision the model computes in: HWA_F32 (the default), HWA_BF16
     * or HWA_F16. In bf16/f16 the inputs, the matrix products, the bias adds
     * and the activations (forward and backward) run in that dtype with f32
     * accumulation, while the parameters, their gradients and the optimizer
     * state stay f32: each step casts the f32 weights to the dtype, and the
     * products' gradients are cast back to f32 before the update (mixed
     * precision with f32 master weights, as PyTorch's autocast). The logits
     * are cast to f32 before the softmax cross-entropy. Why f32 masters: a
     * bf16 parameter updated in place drops every update below half its
     * last digit (about 2^-9 of its value), so the small steps of a decayed
     * rate vanish, and the optimizer's update ops take f32 parameters. f16
     * has no loss scaling here: gradients below 2^-24 (6e-8) flush to zero.
     * Exports and checkpoints hold the f32 weights whatever the dtype. */
    hwa_dtype dtype;
    int threads;               /* CPU threads (hwa_backend_set_threads); 0: the backend's default */
    /* Device "auto" places the graphs across devices (sched.h). The
     * parameters, the data and the optimizer state live on the CPU, their
     * home; the training and evaluation graphs run through placements over
     * `devices`, and so does the optimizer's update graph (its updates on
     * the CPU, where the parameters are; gradients written elsewhere are
     * copied to them). The three fields below are for "auto" only. */
    const char *devices;       /* a comma list that includes cpu ("cpu,opencl:0"); NULL or "": every
                                  device the passport names (the CPU alone without one) */
    const hwa_passport *passport; /* the cost model's figures (read by hwa_trainer_new only); NULL:
                                  unknown, so the automatic choice keeps the CPU */
    const hwa_place_opts *place;  /* how the training and evaluation graphs are placed (read by
                                  hwa_trainer_new only; device indices count in `devices`' order);
                                  NULL: HWA_PLACE_AUTO. The optimizer's is always automatic. */
    bool fallback;             /* a device that fails a compute is left out, every graph is placed
                                  again without it (automatically), and the compute is repeated */
    /* Data the caller owns (borrowed: they must outlive the trainer), for
     * callers that make many trainers over the same samples (hwadapt tune).
     * When train_set is set the trainer loads nothing: it trains on
     * train_set, evaluates on test_set (required) and validates on val_set
     * (may be NULL); limit, test_limit and val_fraction must then be 0 (cut
     * the sets beforehand), and the sets' features and classes must agree. */
    const hwa_dataset *train_set, *val_set, *test_set;
    /* Data-parallel training (borrowed; NULL: this process alone). Every
     * rank makes a trainer with the same configuration (device and threads
     * may differ); batch stays the global batch, whose rows are split among
     * the ranks in order, so N ranks walk the same samples and take the same
     * steps as one process. Each rank's gradient, weighted by its share of
     * the batch, is summed over the ranks in buckets whose allreduce starts
     * while the backward pass still runs; every rank applies the same
     * update. Checkpoints are written by rank 0 only; every rank can resume
     * from them, whatever the number of ranks that wrote them. A rank that
     * dies or hangs fails the others' next collective after the dist's
     * timeout, with a message that names it. */
    hwa_dist *dist;
    /* A fixed reduction order: each global batch is cut into `shards`
     * slices (of rows in order, sizes differing by at most one), each
     * slice's gradient is computed alone, and the slices' weighted
     * gradients are added in slice order on every rank. The result is then
     * bitwise the same for any number of ranks that divides the work
     * (1 <= ranks <= shards), and for one process with the same shards;
     * each rank computes shards / ranks slices one after the other. 0: off
     * (one slice per rank, summed by MPI in its own order). At most batch. */
    int shards;
    /* The gradient buckets' size in bytes (0: 4 MiB): gradients smaller
     * than half of it are packed together and sent once the bucket fills. */
    int64_t bucket_bytes;
} hwa_train_config;

/* fmnist-mlp: hidden 1000, 1000, relu, batch 64, 10 epochs, seed 1, Adam with
 * lr 1e-3, a constant schedule, last partial batch kept, keep 3, f32, the
 * backend's default threads. */
hwa_train_config hwa_train_config_default(void);
/* The dtype named name (case-insensitive) if the trainer can compute in it:
 * "f32", "bf16" or "f16". HWA_E_UNSUPPORTED for any other name, with a
 * message that lists those three. */
hwa_status hwa_train_dtype_from_name(const char *name, hwa_dtype *out);
/* Checks cfg's fields as hwa_trainer_new does before it loads anything
 * (HWA_E_INVALID naming the field, HWA_E_UNSUPPORTED for a dtype the trainer
 * cannot compute in, listing those it can), so that a caller can tell a bad
 * option from a failure to run. */
hwa_status hwa_train_config_check(const hwa_train_config *cfg);

typedef struct hwa_epoch_stats {
    int64_t epoch;           /* 1-based */
    int64_t step;            /* optimizer steps taken so far */
    double train_loss;       /* mean over the epoch's batches (sample-weighted) */
    double test_loss, test_accuracy;
    double val_loss, val_accuracy;  /* NAN without a validation split */
    double lr;               /* the rate of the epoch's last step */
    double seconds;          /* training time of the epoch, evaluation excluded */
    double samples_per_s;
    int ranks;               /* data-parallel ranks (1 alone) */
    double comm_seconds;     /* of seconds: this rank's time starting, driving and waiting for its
                                collectives (gradients, losses, heartbeats) */
} hwa_epoch_stats;

/* Called after each batch (progress) and each epoch (stats), and when
 * --fallback left a failing device out (note: "--fallback: opencl:0: ...;
 * re-planned without opencl:0 as cpu:0"); each may be NULL. */
typedef struct hwa_train_callbacks {
    void (*batch)(void *ud, int64_t epoch, int64_t batch, int64_t n_batches, double loss);
    void (*epoch)(void *ud, const hwa_epoch_stats *stats);
    void *ud;
    void (*fallback)(void *ud, const char *note);
} hwa_train_callbacks;

typedef struct hwa_trainer hwa_trainer;
/* Loads the data, builds the model, graphs and optimizer, and (with resume)
 * restores the newest valid checkpoint of checkpoint_dir. Errors: every
 * invalid field (HWA_E_INVALID, named in the message), a missing dataset
 * (HWA_E_NOTFOUND naming the Debian package), a checkpoint of another model
 * or optimizer (HWA_E_FORMAT), HWA_E_NOMEM. */
hwa_status hwa_trainer_new(const hwa_train_config *cfg, hwa_trainer **out);
void hwa_trainer_free(hwa_trainer *t); /* NULL is a no-op */
/* Trains up to cfg->epochs in total, evaluating on the test set after each
 * epoch and writing a checkpoint when a directory was given. A non-finite
 * loss stops with HWA_E_RANGE before the parameters are touched; the last
 * checkpoint written stays the newest. */
hwa_status hwa_trainer_run(hwa_trainer *t, const hwa_train_callbacks *cb);
/* The epochs completed (restored ones included). */
int64_t hwa_trainer_epoch(const hwa_trainer *t);
/* Loss and accuracy of the model on the test set. */
hwa_status hwa_trainer_evaluate(hwa_trainer *t, double *loss, double *accuracy);
/* Writes the weights as safetensors: per layer i = 1..L (input side first)
 * "fc<i>.weight" F32 [out, in] (PyTorch's nn.Linear layout, y = x W^T + b)
 * and "fc<i>.bias" F32 [out]; __metadata__ holds "format" =
 * "hwadapt-mlp", "layers" ("784,1000,1000,10") and "activation". Atomic.
 * fmnist-cnn: PyTorch's state_dict names and shapes ("conv1.weight" [32,
 * 1, 3, 3], "bn1.weight", ..., "fc2.bias"), then "bn<k>.running_mean" and
 * "bn<k>.running_var" [C]; "format" = "hwadapt-fmnist-cnn", "model",
 * "layers" (HWA_TRAIN_CNN_ARCH). An ONNX model: the model file with its
 * trained initializers (hwa_onnx_save_initializers). */
hwa_status hwa_trainer_export(hwa_trainer *t, const char *path);
/* Writes a checkpoint to path (atomic): the export's tensors, then
 * "optim.<param>.<slot>" per optimizer state, and in __metadata__ the model,
 * the optimizer and its hyper-parameters, "step", "epoch", the schedule and
 * the RNG state ("seed", "shuffle" = "epoch-seeded"). */
hwa_status hwa_trainer_save_checkpoint(hwa_trainer *t, const char *path);
/* Restores a checkpoint written by a trainer with the same model shape,
 * activation and optimizer (HWA_E_FORMAT naming the difference otherwise). */
hwa_status hwa_trainer_load_checkpoint(hwa_trainer *t, const char *path);
/* The number of trainable values (weights and biases). */
int64_t hwa_trainer_n_params(const hwa_trainer *t);
/* The checkpoint a resume restored (owned by t), or NULL when training
 * started from scratch (no checkpoint, or no resume asked for). */
const char *hwa_trainer_resumed_from(const hwa_trainer *t);
/* Training samples per epoch (after --limit and the validation split), and
 * batches per epoch. */
int64_t hwa_trainer_train_samples(const hwa_trainer *t);
int64_t hwa_trainer_steps_per_epoch(const hwa_trainer *t);
/* The threads the trainer's backend computes with (>= 1): cfg->threads, or
 * the backend's default when that is 0. */
int hwa_trainer_threads(const hwa_trainer *t);
/* Device "auto": the training graph's placement (owned by t; it changes
 * when --fallback re-places), and the devices placed across now as a comma
 * list ("cpu:0,opencl:0"). NULL and "" on one device. */
const hwa_placement *hwa_trainer_placement(const hwa_trainer *t);
const char *hwa_trainer_devices(const hwa_trainer *t);
/* The last --fallback note ("" when no device failed). */
const char *hwa_trainer_fallback_note(const hwa_trainer *t);

/* ---- steps, for tuning --------------------------------------------------------------- */

/* One optimizer step on the next batch of the training order, at rate lr
 * (lr <= 0: the schedule's rate for this step); *loss (may be NULL) gets the
 * batch's loss. Steps walk the same seeded order as hwa_trainer_run, epoch
 * after epoch, without evaluating or writing checkpoints; a later
 * hwa_trainer_run starts at the next whole epoch (a partly walked epoch
 * counts as done). A non-finite loss is HWA_E_RANGE before any parameter is
 * touched (a learning-rate range test stops there). */
hwa_status hwa_trainer_step(hwa_trainer *t, double lr, double *loss);
/* Loss and accuracy of the model on d, which must have the training set's
 * features and classes (HWA_E_INVALID otherwise). */
hwa_status hwa_trainer_evaluate_on(hwa_trainer *t, const hwa_dataset *d, double *loss, double *accuracy);
/* The validation set (cfg.val_fraction's split or cfg.val_set), or NULL. */
const hwa_dataset *hwa_trainer_val_set(const hwa_trainer *t);
/* Runs every graph the trainer holds once, so that every buffer it planned
 * has been written: a training step on a full batch and one on the epoch's
 * partial batch when it has one (both update the parameters at the
 * schedule's first rate), then an evaluation of the test and validation
 * sets. For measuring the memory a configuration really takes. */
hwa_status hwa_trainer_exercise(hwa_trainer *t);
/* The most bytes the trainer's backend has held in buffers since it was
 * made (parameters, gradients, optimizer state, the graphs' arenas and
 * inputs): the allocator's statistics, on every device. */
int64_t hwa_trainer_device_peak_bytes(const hwa_trainer *t);

/* ---- weights, gradients and a step hook, for compression passes --------------------- */

/* The MLP's linear layers (cfg.n_hidden + 1; 0 for other models), and
 * layer l's weight matrix size [out, in] (nn.Linear's layout); 0 for a bad
 * l or a NULL t. The four functions below return HWA_E_UNSUPPORTED, naming
 * the model, for a model other than the MLP. */
int hwa_trainer_n_layers(const hwa_trainer *t);
int64_t hwa_trainer_layer_out(const hwa_trainer *t, int l);
int64_t hwa_trainer_layer_in(const hwa_trainer *t, int l);
/* Replaces layer l's weights by w [out * in] (row-major [out, in]) and its
 * bias by b [out], copied; either may be NULL (left as it is). The
 * optimizer's state is not touched: a retraining that starts from new
 * weights makes a new trainer. Errors: HWA_E_MISUSE (NULL t), HWA_E_RANGE
 * (l outside [0, n_layers)). */
hwa_status hwa_trainer_set_weights(hwa_trainer *t, int l, const float *w, const float *b);
/* Copies layer l's weights into w [out * in] and its bias into b [out];
 * either may be NULL. Errors as hwa_trainer_set_weights. */
hwa_status hwa_trainer_get_weights(const hwa_trainer *t, int l, float *w, float *b);
/* Copies into g [out * in] the gradient of the batch's mean loss with
 * respect to layer l's weights that the last optimizer step used (as the
 * backward pass computed it, summed over the ranks when data-parallel:
 * before weight decay and clipping, which the update applies without
 * changing it). Before the first step its content is unspecified. Errors
 * as hwa_trainer_set_weights. */
hwa_status hwa_trainer_get_grad(const hwa_trainer *t, int l, float *g);
/* Called after every optimizer update (hwa_trainer_run, hwa_trainer_step,
 * hwa_trainer_exercise), with the steps taken so far (1 after the first)
 * and the rate that update used; it may read and write the weights and
 * read the gradients above. A status other than HWA_OK stops the training
 * call, which returns it (the hook records its message). One hook per
 * trainer: setting one replaces the previous; fn NULL removes it. The hook
 * runs on the thread that trains. */
typedef hwa_status (*hwa_train_step_hook)(void *ud, hwa_trainer *t, int64_t step, double lr);
void hwa_trainer_set_step_hook(hwa_trainer *t, hwa_train_step_hook fn, void *ud);

/* ---- memory, planned before anything runs -------------------------------------------- */

/* What a trainer made from a configuration will hold, in bytes, from the
 * memory planner's dry run of its graphs; nothing is allocated. */
typedef struct hwa_train_memory {
    int64_t params;       /* weights and biases (f32), and batchnorm's running statistics */
    int64_t grads;        /* their gradients */
    int64_t optim_state;  /* the optimizer's moments / momentum buffers */
    int64_t activations;  /* the planned arenas of the training graphs (full and partial batch) and of
                             the evaluation graphs (1000 rows, and the last smaller batch) */
    int64_t inputs;       /* the graphs' input and label tensors */
    int64_t device;       /* what the backend holds: the five above */
    int64_t staging;      /* host buffers: one batch of inputs and labels, the evaluation logits */
    int64_t kernel_kept;  /* what the CPU's kernels keep beside the graphs: oneDNN's copies of the inputs
                             that are a product's second operand (the weights' gradients),
                             hwa_backend_plan_kept; 0 on other devices */
    int64_t data;         /* the datasets and the shuffled order the trainer loads (0 when borrowed:
                             only the order) */
    int64_t total;        /* device + staging + kernel_kept + data */
} hwa_train_memory;
/* Plans cfg (checked as hwa_trainer_new checks it) without loading or
 * allocating anything: the sets' sizes come from the borrowed sets, or are
 * Fashion-MNIST's (60,000 training and 10,000 test samples of 784 features,
 * 10 classes, after limit, test_limit and val_fraction). Device "auto" is
 * planned as one device holding everything. Errors: hwa_train_config_check's,
 * HWA_E_NOMEM. */
hwa_status hwa_train_memory_plan(const hwa_train_config *cfg, hwa_train_memory *out);

#ifdef __cplusplus
}
#endif
#endif
