/* What the compression passes share (prune.c, share.c, neurons.c,
 * int8.c): their checks, progress notes, retraining through the trainer,
 * and the float forward of one layer. Not a published API. */
#ifndef HWADAPT_COMPRESS_PASSES_INTERNAL_H
#define HWADAPT_COMPRESS_PASSES_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/compress.h"

/* qsort order of floats, ascending (NaN-free input). */
int hwa__cp_float_cmp(const void *a, const void *b);
/* A line to d->note, when there is one. */
void hwa__cp_note(const hwa_compress_data *d, const char *fmt, ...) HWA_PRINTF(2, 3);
/* Checks m (hwa_cmodel_validate) and d (a training set whose features and
 * classes are m's) for pass `pass`; with f32, every layer must hold f32
 * values (dense, or sparse unless dense_only). HWA_E_MISUSE, HWA_E_INVALID
 * or HWA_E_UNSUPPORTED naming the pass and the layer. */
hwa_status hwa__cp_check(const hwa_cmodel *m, const hwa_compress_data *d, const char *pass, bool f32,
                         bool dense_only);
/* A trainer for `epochs` epochs of retraining m on d: m's layer sizes and
 * activation, Adam at d->lr (0: the pass's default lr) with a constant rate, d->batch (0:
 * 64), d->seed, d->device, d->threads; the sets borrowed from d (tested
 * after each epoch on d->test, else d->val, else d->train); its weights and biases m's, decoded
 * to dense f32 (zeros where pruned). *out: hwa_trainer_free. */
hwa_status hwa__cp_trainer(const hwa_cmodel *m, const hwa_compress_data *d, int64_t epochs, double lr,
                           hwa_trainer **out);
/* The passes' default retraining rates (hwa_compress_data.lr 0), measured
 * on fmnist-mlp (compress.h). */
#define HWA__CP_LR_PRUNE 3e-4
#define HWA__CP_LR_NEURONS 1e-4
/* Runs t's `epochs` epochs (as made) with a note per epoch ("<what>: epoch
 * 1/2: loss 0.31, test 88.9%"), then copies the trained biases into m. */
hwa_status hwa__cp_retrain(hwa_trainer *t, hwa_cmodel *m, const hwa_compress_data *d, int64_t epochs,
                           const char *what);
/* Layer l of m on rows inputs x [rows, in] on be (made on ctx; what this
 * builds on ctx is released before it returns): y = x W^T + b, then the
 * model's activation unless l is the last layer (or `activate` is false),
 * into y [rows, out]. W is the layer decoded to dense f32. */
hwa_status hwa__cp_layer_forward(hwa_ctx *ctx, hwa_backend *be, const hwa_cmodel *m, int l, bool activate, const float *x,
                                 int64_t rows, float *y);

#endif
