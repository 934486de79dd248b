/* An ONNX model file as a benchmark workload: the importer's graph
 * (hwa_onnx_net, nn/onnx) built with every symbolic dimension set to the
 * batch, on random inputs of the declared types — floats uniform in
 * [-1, 2), integers and bools 1 (a valid id, mask and segment in the
 * models that take them). A query is one forward pass; its output is the
 * model's first. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bench/bench_device.h"
#include "bench/workload.h"
#include "hwadapt/onnx.h"
#include "sched/sched_internal.h"

bool hwa__is_onnx_file(const char *path) {
    const size_t n = strlen(path);
    return n > 5 && !strcasecmp(path + n - 5, ".onnx");
}

/* Input io filled as the header says. */
static hwa_status fill_input(const hwa_onnx_io *io, hwa_bench_rng *r) {
    const int type = hwa_onnx_type_size(io->type) && io->type != HWA_ONNX_FLOAT16 && io->type != HWA_ONNX_BFLOAT16
                         ? io->type
                         : HWA_ONNX_FLOAT;
    hwa_onnx_array *a = NULL;
    hwa_status st = hwa_onnx_array_new(io->name, type, io->ndim, io->dims, NULL, &a);
    if (st) return st;
    for (int64_t i = 0; i < a->n; i++) {
        if (type == HWA_ONNX_FLOAT) ((float *)a->data)[i] = (float)(-1.0 + 3.0 * hwa_bench_rng_uniform(r));
        else if (type == HWA_ONNX_DOUBLE) ((double *)a->data)[i] = -1.0 + 3.0 * hwa_bench_rng_uniform(r);
        else memset((uint8_t *)a->data + (size_t)i * hwa_onnx_type_size(type), 0, hwa_onnx_type_size(type)),
             *((uint8_t *)a->data + (size_t)i * hwa_onnx_type_size(type)) = 1; /* 1, little-endian */
    }
    st = hwa_onnx_io_set(io, a);
    hwa_onnx_array_free(a);
    return st;
}

hwa_status hwa__onnx_workload_build(const char *path, const char *spec, int64_t batch, int threads, uint64_t seed,
                                    hwa__workload *w) {
    memset(w, 0, sizeof *w);
    if (batch < 1) return hwa__err(NULL, HWA_E_RANGE, "batch must be >= 1 (got %lld)", (long long)batch);
    hwa_status st = hwa_onnx_load(path, &w->onnx);
    if (st) return st;
    hwa_ctx_params cp = {.allocator = NULL, .seed = seed};
    hwa_onnx_io *in = NULL, *out = NULL;
    if (!(w->ctx = hwa_ctx_new(&cp))) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory");
    if (!st && spec && !(w->be = hwa_backend_new(w->ctx, spec))) st = hwa_ctx_last_status(w->ctx);
    if (!st && w->be) st = hwa__bdev_set_threads(w->be, threads);
    if (!st) st = hwa_onnx_net_new(w->onnx, w->ctx, NULL, &w->onet);
    if (!st) st = hwa_onnx_net_build(w->onet, NULL, batch, &in, &out);
    if (!st && hwa_onnx_n_outputs(w->onnx) < 1) st = hwa__err(w->ctx, HWA_E_FORMAT, "the model has no output");
    if (!st && !(w->g = hwa_graph_new(w->ctx))) st = hwa_ctx_last_status(w->ctx);
    for (int i = 0; !st && i < hwa_onnx_n_outputs(w->onnx); i++)
        if (out[i].t) st = hwa_graph_build_forward(w->g, out[i].t); /* an empty output has none */
    if (!st && !out[0].t) st = hwa__err(w->ctx, HWA_E_UNSUPPORTED, "the first output is empty: nothing to measure");
    if (!st) {
        w->out = out[0].t;
        w->dtype = HWA_F32;
        hwa__workload_count_flops(w);
        /* the weights read once, the inputs and outputs once */
        double bytes = 0;
        for (int i = 0; i < hwa_onnx_n_initializers(w->onnx); i++) {
            const hwa_onnx_array *a = hwa_onnx_initializer(w->onnx, i);
            bytes += (double)a->n * (double)hwa_onnx_type_size(a->type);
        }
        for (int i = 0; i < hwa_onnx_n_inputs(w->onnx); i++) bytes += in[i].t ? (double)hwa_tensor_nbytes(in[i].t) : 0;
        for (int i = 0; i < hwa_onnx_n_outputs(w->onnx); i++) bytes += out[i].t ? (double)hwa_tensor_nbytes(out[i].t) : 0;
        w->bytes_per_query = bytes;
        hwa_plan_stats ps;
        if (!hwa_graph_plan(w->g, HWA_PLAN_REUSE, &ps)) w->planned_bytes = (int64_t)ps.arena_bytes;
    }
    if (!st && w->be) st = hwa_ctx_alloc_leaves(w->ctx, w->be);
    if (!st && w->be) st = hwa_onnx_net_load_params(w->onet);
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, seed);
    for (int i = 0; !st && w->be && i < hwa_onnx_n_inputs(w->onnx); i++) st = fill_input(&in[i], &r);
    if (st) {
        /* one message that names the file once */
        const char *msg = w->ctx && hwa_ctx_last_error(w->ctx)[0] ? hwa_ctx_last_error(w->ctx) : hwa_last_error();
        char buf[600];
        snprintf(buf, sizeof buf, "%s", msg);
        if (strncmp(buf, path, strlen(path))) hwa__err(NULL, st, "%s: %s", path, buf);
        else hwa__err(NULL, st, "%s", buf);
        hwa__workload_free(w);
    }
    return st;
}
