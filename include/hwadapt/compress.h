/* hwadapt — model compression: pruning, weight sharing, Huffman coding,
 * int8 quantization and structured pruning of trained MLPs, the compressed
 * model file, and running a compressed model.
 *
 * A compressed model (hwa_cmodel) is plain data: per layer the weight
 * matrix [out, in] (nn.Linear's layout, y = x W^T + b) in one of these
 * forms, and the f32 bias:
 *   - dense f32 values (every weight);
 *   - sparse: the kept weights' positions in compressed rows (row_ptr, col)
 *     and their values;
 *   - shared (dense or sparse): each kept weight is an index into a
 *     per-layer codebook of at most 2^bits f32 centroids;
 *   - int8 (dense): int8 values with a scale per output channel, and how
 *     the layer's input activations are quantized (static, from
 *     calibration, or dynamic per row).
 * Each compression method is a pass that rewrites an hwa_cmodel; the file
 * format (docs/formats.md) stores one, entropy-coded when asked.
 *
 * Errors: every fallible function returns an hwa_status and records one line
 * readable with hwa_last_error(). Nothing here aborts or exits on bad input
 * or bad files. Threading: each object is used by one thread at a time.
 */
#ifndef HWADAPT_COMPRESS_H
#define HWADAPT_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "graph.h"
#include "status.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HWA_CMODEL_MAX_LAYERS (HWA_TRAIN_MAX_HIDDEN + 1)
#define HWA_CMODEL_MAX_BITS 8

/* How an int8 layer's input activations become u8 (hwa_qlinear). */
typedef enum hwa_cm_act {
    HWA_CM_ACT_DYNAMIC = 0, /* per row, from the row's range, at every run */
    HWA_CM_ACT_STATIC = 1   /* act_scale and act_zero, fixed by calibration */
} hwa_cm_act;

/* One linear layer. Arrays are owned by the hwa_cmodel (malloc'd; freed by
 * hwa_cmodel_free). Exactly one value form is set: values (f32), codes with
 * codebook (shared), or q with q_scale (int8). */
typedef struct hwa_cm_layer {
    int64_t out, in;       /* the weight matrix is [out, in] */
    /* positions */
    bool sparse;           /* false: every weight is stored, row-major [out, in] */
    int64_t nnz;           /* stored weights (out * in when dense) */
    int32_t *row_ptr;      /* sparse: [out + 1], row_ptr[0] = 0, non-decreasing, row_ptr[out] = nnz */
    int32_t *col;          /* sparse: [nnz], strictly increasing within a row, each < in */
    /* values, one form of three */
    float *values;         /* f32: [nnz] */
    int bits;              /* shared: 1..HWA_CMODEL_MAX_BITS (0: not shared) */
    int n_codes;           /* shared: 1 .. 2^bits centroids */
    float *codebook;       /* shared: [n_codes] */
    uint8_t *codes;        /* shared: [nnz], each < n_codes */
    int8_t *q;             /* int8 (dense only): [out * in], each in [-127, 127] */
    float *q_scale;        /* int8: [out], > 0: weight = q * q_scale[row] */
    hwa_cm_act act;        /* int8: the input activations' quantization */
    float act_scale;       /* int8, static: > 0 */
    int act_zero;          /* int8, static: 0..255 */
    float *bias;           /* [out] */
} hwa_cm_layer;

typedef struct hwa_cmodel {
    int n_layers;                  /* 1 .. HWA_CMODEL_MAX_LAYERS */
    hwa_activation activation;     /* between layers (none after the last) */
    bool huffman;                  /* the file Huffman-codes the shared codes and the sparse column gaps */
    hwa_cm_layer layer[HWA_CMODEL_MAX_LAYERS];
} hwa_cmodel;

/* ---- the model: made, checked, copied, freed ------------------------------ */

/* A dense f32 model from an MLP's safetensors export or checkpoint (the
 * layout hwa_trainer_export writes: fc<i>.weight [out, in], fc<i>.bias
 * [out], F32; __metadata__ "activation", default relu). Consecutive layers'
 * sizes must chain. *out: new, hwa_cmodel_free. Errors: HWA_E_NOTFOUND,
 * HWA_E_FORMAT (naming the tensor), HWA_E_NOMEM. */
hwa_status hwa_cmodel_load_mlp(const char *path, hwa_cmodel **out);
/* Checks every invariant above (sizes chain, counts and indices in range,
 * exactly one value form, finite values): HWA_E_FORMAT naming the layer and
 * the field. Readers and writers call it. */
hwa_status hwa_cmodel_validate(const hwa_cmodel *m);
hwa_status hwa_cmodel_clone(const hwa_cmodel *m, hwa_cmodel **out);
void hwa_cmodel_free(hwa_cmodel *m); /* NULL is a no-op */
/* Layer l's weights decoded to dense f32 w [out * in] (zeros where pruned,
 * centroids where shared, q * scale where int8). */
hwa_status hwa_cmodel_dense(const hwa_cmodel *m, int l, float *w);
/* Replaces layer l's weights by dense f32 values w [out * in] (copied): the
 * layer becomes dense f32 (positions and other forms dropped). */
hwa_status hwa_cmodel_set_dense(hwa_cmodel *m, int l, const float *w);
/* The parameters m holds: its stored (not pruned) weights plus its biases. */
int64_t hwa_cmodel_n_weights(const hwa_cmodel *m);

/* ---- the file ------------------------------------------------------------------- */

/* The file's bytes (docs/formats.md), everything included: what
 * hwa_cmodel_write writes. *buf: malloc'd, the caller frees it. */
hwa_status hwa_cmodel_encode(const hwa_cmodel *m, uint8_t **buf, size_t *n);
/* The size in bytes hwa_cmodel_write would write. */
hwa_status hwa_cmodel_size(const hwa_cmodel *m, int64_t *bytes);
/* The bytes of layer l's record in that file (its share of the size; the
 * file adds a 12-byte header and a 4-byte checksum), for listings. */
hwa_status hwa_cmodel_layer_size(const hwa_cmodel *m, int l, int64_t *bytes);
/* Writes m to path atomically (a temporary file renamed over it). */
hwa_status hwa_cmodel_write(const hwa_cmodel *m, const char *path);
/* Reads and validates a file (name: for messages). A truncated file, a
 * code past the codebook, a Huffman table that is not prefix-free or
 * incomplete, sparse columns past a row's end: HWA_E_FORMAT with the field
 * and offset. *out: new, hwa_cmodel_free. */
hwa_status hwa_cmodel_decode(const uint8_t *buf, size_t n, const char *name, hwa_cmodel **out);
hwa_status hwa_cmodel_read(const char *path, hwa_cmodel **out);
/* Whether the first bytes of a file are this format's magic. */
bool hwa_cmodel_is_file(const char *path);

/* ---- running a compressed model ----------------------------------------------- */

/* The form a layer's product runs in. */
typedef enum hwa_cm_form {
    HWA_CM_FORM_AUTO = 0, /* the fastest that the device runs, measured at the net's rows (below) */
    HWA_CM_FORM_DENSE,    /* decoded to dense f32: hwa_matmul */
    HWA_CM_FORM_SPARSE,   /* compressed rows: hwa_spmm (sparse layers only) */
    HWA_CM_FORM_INT8      /* hwa_qlinear (int8 layers only) */
} hwa_cm_form;
const char *hwa_cm_form_name(hwa_cm_form f); /* "auto", "dense", "sparse", "int8" */

/* A compressed model's forward graph for a batch of `rows` inputs on be:
 * per layer a product in a form the device runs, a bias add and the
 * activation, ending in the logits [rows, classes]. With HWA_CM_FORM_AUTO
 * each sparse layer times its sparse and its dense product at `rows` on be
 * and keeps the faster (so the chosen kernel is never slower than dense, as
 * measured); an int8 layer runs hwa_qlinear where be supports it, else
 * dense f32. A forced form a layer does not have, or be does not run, is
 * HWA_E_UNSUPPORTED. The net copies what it needs of m, and runs on a
 * backend of its own on be's device (hwa_cm_net_backend). *out: new,
 * hwa_cm_net_free. */
typedef struct hwa_cm_net hwa_cm_net;
hwa_status hwa_cm_net_new(const hwa_cmodel *m, hwa_backend *be, int64_t rows, hwa_cm_form form, hwa_cm_net **out);
void hwa_cm_net_free(hwa_cm_net *n); /* NULL is a no-op */
/* Runs the net on x [rows, in] (rows as made); logits [rows, classes]. */
hwa_status hwa_cm_net_run(hwa_cm_net *n, const float *x, float *logits);
/* Layer l's form and why ("sparse: 41 us against 118 us dense at 64 rows",
 * "dense: opencl:0 has no int8 product"), and the kernel that ran it last
 * (hwa_backend_kernel_name; "" before a run). Owned by n. */
int hwa_cm_net_n_layers(const hwa_cm_net *n);
hwa_cm_form hwa_cm_net_form(const hwa_cm_net *n, int l);
const char *hwa_cm_net_reason(const hwa_cm_net *n, int l);
const char *hwa_cm_net_kernel(const hwa_cm_net *n, int l);
/* The graph, its input [rows, in] and its logits, for the benchmark
 * harness (owned by n). */
hwa_graph *hwa_cm_net_graph(const hwa_cm_net *n);
/* The backend the net runs on: its own, made on be's device with be's
 * threads (tensors live in their backend's context). */
hwa_backend *hwa_cm_net_backend(const hwa_cm_net *n);
hwa_tensor *hwa_cm_net_input(const hwa_cm_net *n);
hwa_tensor *hwa_cm_net_logits(const hwa_cm_net *n);
/* Times nets[0..n-1], each on the input its last hwa_cm_net_run set: one
 * warm-up run each, then `reps` rounds (>= 1) that visit every net in turn,
 * a visit running it back to back for at least min_visit_s (at least once);
 * seconds[i] gets the median over the rounds of net i's time per run. The
 * nets may live on different backends. */
hwa_status hwa_cm_nets_time(hwa_cm_net *const *nets, int n, int reps, double min_visit_s, double *seconds);
/* Mean cross-entropy and accuracy (a fraction) of m on d, in batches of up
 * to 1000 rows on be, each layer in the AUTO form. d's features and classes
 * must match m (HWA_E_INVALID otherwise). */
hwa_status hwa_cmodel_evaluate(const hwa_cmodel *m, hwa_backend *be, const hwa_dataset *d, double *loss,
                               double *accuracy);
/* The same with every layer in `form` (hwa_cm_net_new's rules). With net
 * not NULL, *net gets the net of the first batch (its forms, reasons and
 * kernels, as it last ran), which the caller frees; NULL on error. */
hwa_status hwa_cmodel_evaluate_form(const hwa_cmodel *m, hwa_backend *be, const hwa_dataset *d, hwa_cm_form form,
                                    double *loss, double *accuracy, hwa_cm_net **net);

/* ---- the passes ------------------------------------------------------------------ */

/* What the passes train and measure on (borrowed). */
typedef struct hwa_compress_data {
    const hwa_dataset *train;  /* retraining and calibration */
    const hwa_dataset *val;    /* the accuracy gate of int8 (--max-drop); NULL: test */
    const hwa_dataset *test;   /* the accuracy the report gives */
    const char *device;        /* where retraining and evaluation run; NULL: "cpu" */
    int threads;               /* 0: the backend's default */
    uint64_t seed;             /* retraining's shuffles */
    int64_t batch;             /* retraining batch (0: 64) */
    double lr;                 /* retraining rate, Adam, constant (0: 3e-4 for prune and share, 1e-4 for
                                  neurons: the rates that lost least on fmnist-mlp; see below) */
    /* progress, may be NULL: a line per retraining epoch and per gate step */
    void (*note)(void *ud, const char *line);
    void *ud;
} hwa_compress_data;

/* Magnitude pruning to a target sparsity with retraining: `iterations`
 * rounds, round r removing the smallest-magnitude weights until the
 * sparsity reaches target * r / iterations (per layer, or over all layers
 * with one threshold when global), then retraining `retrain_epochs` epochs
 * with the pruned weights held at zero (re-applied after every update).
 * Each layer's count is exact: round(sparsity * out * in) removed, ties in
 * magnitude to the lower layer and position. A layer already sparse keeps
 * its missing weights missing. The layers become sparse f32; the mask, not
 * the value, says what is kept (a kept weight that is 0.0 stays stored).
 *
 * Measured on fmnist-mlp (784-1000-1000-10 trained by `hwadapt train
 * --epochs 10 --seed 1`: 90.21% on the Fashion-MNIST test set):
 *   layer_sparsity 0.94, 0.94, 0.8 (the 10x1000 output layer is 0.6% of the
 *   weights but suffers most), 3 or 4 iterations of 2 epochs at lr 3e-4,
 *   then share 5 bits with 2 epochs, Huffman-coded: 89.83% (3 rounds) and
 *   89.95% (4 rounds), files of 137,738 and 138,685 bytes: 52.2x and 51.8x
 *   smaller than f32 at 0.38 and 0.26 points lost.
 *   sparsity 0.92 in every layer, 3 rounds of 2 epochs at lr 1e-4, share 5
 *   bits 2 epochs: 88.88% (1.33 points lost), 42.3x: too much of fc3 and
 *   too slow a rate; the 0.94, 0.94, 0.8 schedule of 4 rounds at lr 1e-4
 *   lost 1.02 points after pruning alone, against 0.32 at 3e-4. */
typedef struct hwa_prune_opts {
    double sparsity;                          /* target fraction removed, [0, 1) */
    double layer_sparsity[HWA_CMODEL_MAX_LAYERS]; /* per layer, used where > 0 (per-layer mode) */
    bool global;                              /* one magnitude threshold for every layer */
    int iterations;                           /* >= 1 (0: 3) */
    int64_t retrain_epochs;                   /* per round, >= 0 */
} hwa_prune_opts;
hwa_status hwa_compress_prune(hwa_cmodel *m, const hwa_prune_opts *o, const hwa_compress_data *d);

/* Weight sharing: per layer, k-means of the stored (kept) weights into 2^bits
 * centroids initialised linearly over [min, max], then `retrain_epochs`
 * epochs fine-tuning the centroids by the summed gradients of their weights
 * (the codes fixed; pruned weights stay pruned). Lloyd's iterations on the
 * sorted weights until no assignment changes (at most 300), deterministic;
 * centroids no weight takes are dropped (n_codes may be below 2^bits). The
 * centroids are updated after each step by Adam (betas 0.9, 0.999) at the
 * step's rate on the sum of their weights' gradients: a centroid's summed
 * gradient grows with its population (a few weights to ~10^5), which one
 * SGD rate cannot serve; Adam's step is about the rate for every centroid.
 * Biases train as usual. */
typedef struct hwa_share_opts {
    int bits[HWA_CMODEL_MAX_LAYERS];          /* per layer, 1..8 (0: bits[0]; bits[0] 0: 5) */
    int64_t retrain_epochs;                   /* >= 0 */
} hwa_share_opts;
hwa_status hwa_compress_share(hwa_cmodel *m, const hwa_share_opts *o, const hwa_compress_data *d);

/* Structured pruning: keeps the fraction `keep` of each hidden layer's units
 * (round(keep * units), at least 1: those whose incoming row and outgoing
 * column together have the largest L2 norm, ties to the lower index, kept
 * in their order; every choice from the model as given), removes the
 * others' rows, biases and columns, and retrains: a smaller dense model.
 * Needs dense f32 layers. */
/* Measured on fmnist-mlp: keep 0.5 (784-500-500-10) retrained at lr 1e-4
 * loses 0.14 points after 3 epochs and 0.04 after 5 (90.07%, 90.17%); at
 * 3e-4 it loses 0.53 and 0.69, at 1e-3 1.38 (3 epochs). */
typedef struct hwa_neuron_opts {
    double keep;                              /* (0, 1] */
    int64_t retrain_epochs;                   /* >= 0 */
} hwa_neuron_opts;
hwa_status hwa_compress_neurons(hwa_cmodel *m, const hwa_neuron_opts *o, const hwa_compress_data *d);

/* Post-training int8: weights per output channel (symmetric, [-127, 127],
 * scale max|w| / 127), activations static (calibrated on the first `calib`
 * training samples, run through the float layers, by min-max, percentile
 * or entropy: a range [lo, hi] holding 0, scale (hi - lo) / 255, zero point
 * round(-lo / scale); src/compress/int8.c says how each method finds the
 * range) or dynamic. With max_drop >= 0 each layer is first measured alone
 * in int8 (layer_drop), then the layers whose quantization costs the most
 * accuracy on the validation set go back to f32, one at a time, until the
 * drop is within max_drop (a fraction: 0.01 is one point). With rep and no
 * gate, val_float and val_int8 are still measured (layer_drop NaN). Needs
 * dense f32 layers. */
/* Measured on fmnist-mlp (300 calibration samples; the whole test set
 * through hwa_cmodel_evaluate, QLINEAR on AMX here): min-max 90.22%,
 * percentile 99.99 90.22%, entropy 90.24%, dynamic 90.23%, against 90.21%
 * in f32; the gate at max_drop 0.002 reverts nothing. */
typedef enum hwa_calib_method {
    HWA_CALIB_MINMAX = 0,
    HWA_CALIB_PERCENTILE,
    HWA_CALIB_ENTROPY,
    HWA_CALIB_DYNAMIC
} hwa_calib_method;
const char *hwa_calib_method_name(hwa_calib_method c); /* "minmax", "percentile", "entropy", "dynamic" */
hwa_status hwa_calib_method_from_name(const char *name, hwa_calib_method *out);
typedef struct hwa_int8_opts {
    hwa_calib_method method;
    int64_t calib;             /* calibration samples (0: 300) */
    double percentile;         /* HWA_CALIB_PERCENTILE: 0 < p <= 100 (0: 99.99) */
    double max_drop;           /* < 0: no gate */
} hwa_int8_opts;
typedef struct hwa_int8_report {
    double val_float, val_int8;                 /* validation accuracy before, and after the gate */
    bool kept_float[HWA_CMODEL_MAX_LAYERS];     /* layers the gate reverted */
    double layer_drop[HWA_CMODEL_MAX_LAYERS];   /* accuracy lost with layer l alone in int8 */
} hwa_int8_report;
hwa_status hwa_compress_int8(hwa_cmodel *m, const hwa_int8_opts *o, const hwa_compress_data *d,
                             hwa_int8_report *rep);

#ifdef __cplusplus
}
#endif
#endif
