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
    hwa_tensor *params[16];
    int n_params;
    bool train;
    int def_index;            /* which built-in workload */
    hwa_dtype dtype;          /* what it computes in (training: its f32 parameters cast to it) */
    int optim;                /* training: the hwa_optim_kind of the update, or HWA__OPTIM_NONE */
    float lr;                 /* ... its rate */
    struct hwa_optim *opt;    /* the update, on the backend that holds the parameters; NULL without one */
    double flops_per_query;   /* matmuls 2*M*N*K, every other node one per output element, the update's */
    double bytes_per_query;   /* compulsory traffic: leaves read once, outputs written once, the update's */
    int64_t planned_bytes;    /* arena + persistent gradients + the optimizer's state */
    hwa_tensor *heaviest;     /* the node with the most counted operations */
    char kernel[64];          /* the backend's kernel for it, read after the first query's graph ran
                                 (before an optimizer's compute makes the backend forget it); "" before */
    /* A model file (hwa__model_build); the fields above it leaves NULL but
     * the counts. */
    struct hwa_llama *llama;
    int32_t *tokens;          /* decode: tokens[0] seeds the ids; prefill: the n_tokens ids */
    int32_t n_tokens;         /* per query */
    int32_t vocab;
    bool prefill;             /* a query is reset + eval of n_tokens; else one decode step */
    int32_t sequences;        /* > 0: a query is one decode step of n_tokens sequences in one batch */
    int32_t *seqs;            /* [sequences]: 0 .. sequences - 1 */
    float *logits;            /* [vocab] of the query's last token */
    /* A compressed model file (hwa_cmodel, compress.h): its net, whose
     * graph, logits and backend are g, out and be above (owned by the
     * net). */
    struct hwa_cm_net *cnet;
    /* An ONNX model file (hwa__onnx_workload_build): the model and its net,
     * whose graph, first output and backend are g, out and be above. */
    struct hwa_onnx *onnx;
    struct hwa_onnx_net *onet;
    /* Placed across devices (hwa__workload_place): the schedule and the
     * backends it made besides be. */
    hwa_placement *pl;
    hwa_backend *place_be[HWA_PLACE_MAX_DEVICES];
    int n_place_be;
    int64_t place_base_used[HWA_PLACE_MAX_DEVICES]; /* each device's bytes held before the schedule's
                                                       (and besides the optimizer's) */
    /* The devices placed across, for the optimizer's placement (again after
     * a fallback, without the devices left out). */
    hwa_backend *place_bes[HWA_PLACE_MAX_DEVICES];
    hwa_place_device place_devs[HWA_PLACE_MAX_DEVICES];
    bool place_out[HWA_PLACE_MAX_DEVICES];
    int n_place;
    hwa_place_opts place_opts; /* the optimizer's: automatic, with the schedule's margin and profile */
    bool fallback;            /* re-plan without a device that fails in a query */
    char fallback_note[256];  /* what happened when one did */
    /* Split by batch (hwa__workload_split_batch): one replica per device,
     * each on its share of the rows; this workload holds the parameters and
     * the data, and gathered the replicas' outputs. */
    struct hwa__workload *reps;
    int n_reps;
    int64_t *shares;
    float *gathered;
} hwa__workload;

/* w->flops_per_query: every node's of w->g (hwa__sched_node_flops), and
 * w->heaviest, the node with the most. */
void hwa__workload_count_flops(hwa__workload *w);

/* No update: a training step's forward and backward pass alone (a batch
 * split's replicas, whose gradients the workload that holds them sums and
 * applies; an f32 reference, whose output is the first query's loss). */
#define HWA__OPTIM_NONE (-1)

/* Builds workload `index` (hwa_bench_workload_*) on device spec in dtype t.
 * Inputs and weights come from a generator seeded with `seed` in f32 and are
 * converted to t, so every dtype sees the same values. A training workload
 * keeps f32 parameters, cast to t inside the graph (the backward pass brings
 * their gradients back to f32: the trainer's mixed precision), and updates
 * them with an hwa_optim of kind `optim` (hwa_optim_kind, with PyTorch's
 * defaults; w->lr is 1e-3 for Adam and AdamW, 0.01 for the SGD family) on
 * the backend that holds them, or with none (HWA__OPTIM_NONE); a forward
 * workload ignores optim. spec NULL builds the graph alone: no backend,
 * nothing allocated, no optimizer, the counts still the update's (for
 * hwadapt plan). */
hwa_status hwa__workload_build(int index, const char *spec, hwa_dtype t, int64_t batch, int threads, uint64_t seed,
                               int optim, hwa__workload *w);
/* A Llama model file as the workload: batch 1 is one decode step per query,
 * batch N > 1 a prefill of N tokens, or with sequences one decode step of
 * N sequences in one batch; t must be the file's weight dtype.
 * hwa__model_dtype opens the file to read that dtype (and to check it). */
hwa_status hwa__model_build(const char *path, const char *spec, hwa_dtype t, int64_t batch, bool sequences,
                            int threads, uint64_t seed, hwa__workload *w);
hwa_status hwa__model_dtype(const char *path, const char *spec, hwa_dtype *t);
/* A compressed model file (compress.h) as the workload: a query is its
 * forward pass on `batch` rows of inputs, each layer in the form the device
 * runs fastest (hwa_cm_net). Its dtype is f32. */
hwa_status hwa__cmodel_build(const char *path, const char *spec, int64_t batch, int threads, uint64_t seed,
                             hwa__workload *w);
/* An ONNX model file (a name ending in .onnx) as the workload: a query is
 * its forward pass with every symbolic dimension set to batch, on random
 * inputs of the declared types; its dtype is f32. spec NULL builds the graph
 * alone (nothing allocated, for hwadapt plan). */
bool hwa__is_onnx_file(const char *path);
hwa_status hwa__onnx_workload_build(const char *path, const char *spec, int64_t batch, int threads, uint64_t seed,
                                    hwa__workload *w);
hwa_status hwa__model_run(hwa__workload *w);
/* The logits of w's first query (its model fresh from path, as after
 * hwa__model_build) recomputed from a fresh model of the same file on the
 * CPU with every node by its scalar reference kernel: ref gets w->vocab
 * values. Switches the CPU backend's process-wide reference mode on for that
 * one query. */
hwa_status hwa__model_reference_logits(const char *path, const hwa__workload *w, int threads, float *ref);

/* One query: the forward pass, or for training a step (zero gradients,
 * forward, backward, the optimizer's update). */
hwa_status hwa__workload_run(hwa__workload *w);
/* Elements of the output; copies them (as f32) into dst[0..n-1]. */
int64_t hwa__workload_out_n(const hwa__workload *w);
hwa_status hwa__workload_output(const hwa__workload *w, float *dst, int64_t n);
void hwa__workload_free(hwa__workload *w);

/* Places w's graph (built on "cpu", which holds its data) over the devices
 * of the comma list `devices` ("cpu,opencl:0"; "cpu" is w's own backend),
 * described from passport p, with options o; allocates unless w was built
 * without a device (spec NULL), in which case nothing is allocated and the
 * plan is a dry run. Later runs go through the schedule; a training
 * workload's optimizer is placed over the same devices (hwa_optim_place:
 * its updates run on the CPU, where the parameters are, the gradients
 * copied to them from wherever the schedule wrote them). */
hwa_status hwa__workload_place(hwa__workload *w, const char *devices, const hwa_place_opts *o, const hwa_passport *p);
/* The same on backends of w's context described by devs (tests give their
 * own figures). */
hwa_status hwa__workload_place_with(hwa__workload *w, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                                    const hwa_place_opts *o);
/* Splits w (built on "cpu", a built-in workload) by batch over the devices
 * of `devices`: shares[k] rows on device k (NULL: proportional to each
 * device's estimated throughput for the whole batch, measured where the
 * profile cache has the node shapes). Forward: outputs gathered in row
 * order. Training: each replica computes its share's gradients, which are
 * summed (weighted by share, as the loss is a mean) before one update of
 * w's parameters by w's optimizer, the parameters then copied to every
 * replica before the next step (the replicas have no optimizer). */
hwa_status hwa__workload_split_batch(hwa__workload *w, const char *devices, const int64_t *shares,
                                     const hwa_passport *p);
/* One query of a batch-split workload (hwa__workload_run calls it). */
hwa_status hwa__workload_run_split(hwa__workload *w);
/* One compute through w's schedule; with w->fallback, a device's failure
 * re-plans without it (fallback_note says so; the optimizer is placed again
 * without it too) and computes again. */
hwa_status hwa__workload_compute_placed(hwa__workload *w);

#endif
