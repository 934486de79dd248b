/* The ONNX importer's internals, shared by onnx_net.c (the net, builds,
 * inputs and outputs), onnx_host.c (values known at build time, computed
 * on the host) and onnx_ops.c (the op table: checks and graph mapping).
 * Not a published API. */
#ifndef HWADAPT_NN_ONNX_NET_INTERNAL_H
#define HWADAPT_NN_ONNX_NET_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/onnx.h"

/* One ONNX value during a build: its ONNX type and shape, and where it
 * lives — a host array (known at build time), a graph tensor, or both (a
 * known value some op needed as a tensor). */
typedef struct hwa__oval {
    int type;                          /* hwa_onnx_type */
    int ndim;                          /* ONNX rank, 0..HWA_ONNX_MAX_DIMS */
    int64_t dims[HWA_ONNX_MAX_DIMS];
    const hwa_onnx_array *host;        /* known value (the model's or the net's), or NULL */
    hwa_tensor *t;                     /* graph tensor, or NULL until one is needed */
    bool ready;                        /* produced (by an input, an initializer or a node) */
    int id;                            /* index in the net's value table */
} hwa__oval;

/* A leaf that load_params fills from a host array. */
typedef struct hwa__onnx_leaf {
    hwa_tensor *t;
    const hwa_onnx_array *a;
    bool loaded;
} hwa__onnx_leaf;

struct hwa_onnx_net {
    const hwa_onnx *m;
    hwa_ctx *ctx;
    hwa_onnx_net_opts opts;
    int64_t opset;                     /* the default domain's */

    /* every value name of the graph, interned: inputs, initializers, node outputs */
    int n_vals;
    const char **names;
    uint32_t *hash_slots;              /* open addressing: value id + 1, 0 empty */
    uint32_t hash_cap;
    int *node_in;                      /* per node, its inputs' ids (-1 omitted) at node_in_at[i] */
    int *node_out;
    int *node_in_at, *node_out_at;
    const hwa_onnx_array **init;       /* per value id: its initializer, or NULL */
    hwa_tensor **init_leaf;            /* per value id: the initializer's leaf once made */

    hwa__oval *vals;                   /* the current build's values (n_vals) */

    hwa__onnx_leaf *leaves;            /* pending and loaded constant leaves */
    int n_leaves, cap_leaves;
    hwa_onnx_array **owned;            /* arrays the net computed */
    int n_owned, cap_owned;
    hwa_onnx_io **ios;                 /* io arrays handed out by builds */
    int n_ios, cap_ios;
};

/* The most inputs and outputs a node may have (a Concat of many pieces, a
 * Split into many parts). */
#define HWA__ONNX_MAX_IN 64
#define HWA__ONNX_MAX_OUT 16

/* One node being mapped. */
typedef struct hwa__onnx_op {
    hwa_onnx_net *net;
    hwa_ctx *ctx;
    const hwa_onnx_node *node;
    int index;                         /* node index */
    int n_in, n_out;
    hwa__oval *in[HWA__ONNX_MAX_IN];                 /* NULL for an omitted (or missing) optional input */
    hwa__oval *out[HWA__ONNX_MAX_OUT];
} hwa__onnx_op;

/* An op of the table. check (may be NULL) looks at attributes before any
 * shape is known (net_new); map computes the outputs: on the host when the
 * op has a host form and every input is known, else as graph ops. */
typedef struct hwa__onnx_opdef {
    const char *name;
    hwa_status (*check)(hwa_onnx_net *net, const hwa_onnx_node *n);
    hwa_status (*map)(hwa__onnx_op *o);
} hwa__onnx_opdef;

/* The op named op_type in the default domain, or NULL. */
const hwa__onnx_opdef *hwa__onnx_find_op(const char *op_type);

/* ---- helpers (onnx_net.c) ------------------------------------------------ */

/* Records an error naming node n: "node 'name' (Op): <message>". */
hwa_status hwa__onnx_node_err(hwa_ctx *ctx, const hwa_onnx_node *n, hwa_status s, const char *fmt, ...)
    HWA_PRINTF(4, 5);
/* The graph dtype of an ONNX type: f32 for floats and bool, i32 for integers;
 * false for types no tensor holds (strings, complex). */
bool hwa__onnx_graph_dtype(int type, hwa_dtype *out);
bool hwa__onnx_is_int(int type);
bool hwa__onnx_is_float(int type);
/* A new array the net owns (freed with the net). */
hwa_status hwa__onnx_host_new(hwa_onnx_net *net, int type, int ndim, const int64_t *dims, hwa_onnx_array **out);
/* The graph tensor of v: made from its known value (a constant leaf filled
 * by load_params) when it has none. Errors name node n. */
hwa_status hwa__onnx_tensor(hwa__onnx_op *o, hwa__oval *v, hwa_tensor **out);
/* Sets output k to tensor t of ONNX type `type`; the ONNX shape is t's
 * (rank ndim: 0 keeps a [1] tensor as a scalar). */
hwa_status hwa__onnx_set_out(hwa__onnx_op *o, int k, hwa_tensor *t, int type, int ndim);
/* Sets output k to the known array a (owned by the net or the model). */
void hwa__onnx_set_known(hwa__onnx_op *o, int k, const hwa_onnx_array *a);
/* The error recorded by a builder that returned NULL, with the node named. */
hwa_status hwa__onnx_builder_err(hwa__onnx_op *o);
/* A constant leaf holding a (the net's or the model's array; filled by
 * load_params). */
hwa_status hwa__onnx_const(hwa__onnx_op *o, const hwa_onnx_array *a, hwa_tensor **out);
/* A [1] f32 constant leaf holding v (filled by load_params). */
hwa_status hwa__onnx_scalar(hwa__onnx_op *o, float v, hwa_tensor **out);

/* The product of dims[lo..hi) in *n; false when it overflows (a hostile
 * shape: extents of 0 elsewhere do not make a product of the rest safe). */
bool hwa__onnx_numel(const int64_t *dims, int lo, int hi, int64_t *n);

/* Element access on host arrays of any numeric type. */
double hwa__onnx_get_f(const hwa_onnx_array *a, int64_t i);
int64_t hwa__onnx_get_i(const hwa_onnx_array *a, int64_t i);
void hwa__onnx_put_f(hwa_onnx_array *a, int64_t i, double v);
void hwa__onnx_put_i(hwa_onnx_array *a, int64_t i, int64_t v);

/* ---- host evaluation (onnx_host.c) ---------------------------------------- */

/* numpy's broadcast of two shapes; false when they do not broadcast. */
bool hwa__onnx_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);
/* Elementwise binary op on known values with broadcasting; fn is an ONNX
 * op name (Add, Sub, Mul, Div, Pow, Max, Min, Mod, Equal, Less, Greater,
 * LessOrEqual, GreaterOrEqual, And, Or, Xor). */
hwa_status hwa__onnx_host_binary(hwa__onnx_op *o, const char *fn);
/* Unary op by ONNX name (Neg, Abs, Not, Sqrt, Reciprocal, Floor, Ceil,
 * Relu, Exp, Log, Sign, Identity). */
hwa_status hwa__onnx_host_unary(hwa__onnx_op *o, const char *fn);
/* out = a with dims permuted (perm[i]: the input dim of output dim i). */
hwa_status hwa__onnx_host_transpose(hwa_onnx_net *net, const hwa_onnx_array *a, const int *perm,
                                    hwa_onnx_array **out);
/* A reshaped copy (any type). */
hwa_status hwa__onnx_host_reshape(hwa_onnx_net *net, const hwa_onnx_array *a, int ndim, const int64_t *dims,
                                  hwa_onnx_array **out);
/* Converted copy. */
hwa_status hwa__onnx_host_cast(hwa_onnx_net *net, const hwa_onnx_array *a, int type, hwa_onnx_array **out);
/* Elements [starts[d], starts[d] + lens[d]) of every dim d. */
hwa_status hwa__onnx_host_slice(hwa_onnx_net *net, const hwa_onnx_array *a, const int64_t *starts,
                                const int64_t *lens, hwa_onnx_array **out);
/* Concat of n arrays of one type along axis. */
hwa_status hwa__onnx_host_concat(hwa_onnx_net *net, const hwa_onnx_array *const *a, int n, int axis,
                                 hwa_onnx_array **out);
/* Gather along axis (indices already checked to be in range, negatives
 * resolved by the caller through hwa__onnx_get_i). */
hwa_status hwa__onnx_host_gather(hwa__onnx_op *o, const hwa_onnx_array *data, const hwa_onnx_array *idx, int axis,
                                 hwa_onnx_array **out);
/* a broadcast to shape (numpy rules). */
hwa_status hwa__onnx_host_expand(hwa_onnx_net *net, const hwa_onnx_array *a, int ndim, const int64_t *dims,
                                 hwa_onnx_array **out);
/* cond ? x : y with broadcasting. */
hwa_status hwa__onnx_host_where(hwa__onnx_op *o, const hwa_onnx_array *c, const hwa_onnx_array *x,
                                const hwa_onnx_array *y, hwa_onnx_array **out);

#endif
