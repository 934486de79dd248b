/* The built-in workloads as graphs: build one for a device, dtype, batch and
 * thread count, run a query, read its output. Internal to src/bench. */
#ifndef HWADAPT_BENCH_WORKLOAD_H
#define HWADAPT_BENCH_WORKLOAD_H

#include "core/internal.h"

typedef struct hwa__workload {
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_graph *g;
    hwa_tensor *out;          /* forward: the model's output; training: the loss */
    hwa_tensor *params[8];
    int n_params;
    bool train;
    float lr;
    float *scratch;           /* SGD scratch for f16/bf16 parameters the host cannot address */
    int64_t scratch_n;
    struct hwa_optim *opt;    /* SGD on the device, for f32 parameters the host cannot address */
    double flops_per_query;   /* matmuls 2*M*N*K, every other node one per output element */
    double bytes_per_query;   /* compulsory traffic: leaves read once, outputs written once */
    int64_t planned_bytes;    /* arena + persistent gradients */
    hwa_tensor *heaviest;     /* the node with the most counted operations */
    /* A model file (hwa__model_build); the fields above it leaves NULL but
     * the counts. */
    struct hwa_llama *llama;
    int32_t *tokens;          /* decode: tokens[0] seeds the ids; prefill: the n_tokens ids */
    int32_t n_tokens;         /* per query */
    int32_t vocab;
    bool prefill;             /* a query is reset + eval of n_tokens; else one decode step */
    float *logits;            /* [vocab] of the query's last token */
} hwa__workload;

/* Builds workload `index` (hwa_bench_workload_*) on device spec in dtype t.
 * Inputs and weights come from a generator seeded with `seed` in f32 and are
 * converted to t, so every dtype sees the same values. */
hwa_status hwa__workload_build(int index, const char *spec, hwa_dtype t, int64_t batch, int threads, uint64_t seed,
                               hwa__workload *w);
/* A Llama model file as the workload: batch 1 is one decode step per query,
 * batch N > 1 a prefill of N tokens; t must be the file's weight dtype.
 * hwa__model_dtype opens the file to read that dtype (and to check it). */
hwa_status hwa__model_build(const char *path, const char *spec, hwa_dtype t, int64_t batch, int threads, uint64_t seed,
                            hwa__workload *w);
hwa_status hwa__model_dtype(const char *path, const char *spec, hwa_dtype *t);
hwa_status hwa__model_run(hwa__workload *w);
/* The logits of w's first query (its model fresh from path, as after
 * hwa__model_build) recomputed from a fresh model of the same file on the
 * CPU with every node by its scalar reference kernel: ref gets w->vocab
 * values. Switches the CPU backend's process-wide reference mode on for that
 * one query. */
hwa_status hwa__model_reference_logits(const char *path, const hwa__workload *w, int threads, float *ref);

/* One query: the forward pass, or for training a step (zero gradients,
 * forward, backward, SGD update). */
hwa_status hwa__workload_run(hwa__workload *w);
/* Elements of the output; copies them (as f32) into dst[0..n-1]. */
int64_t hwa__workload_out_n(const hwa__workload *w);
hwa_status hwa__workload_output(const hwa__workload *w, float *dst, int64_t n);
void hwa__workload_free(hwa__workload *w);

#endif
