/* hwadapt — ONNX models: the reader (a validated, read-only view of a
 * ModelProto), host arrays (initializers, test data, .npy files), and the
 * mapping of a model's graph onto hwadapt's graph ops.
 *
 * The reader follows io.h's rules: a file from outside is hostile until
 * validated, every failure is a status plus one line readable with
 * hwa_last_error() ("<file>: <what>: <why>"), nothing aborts. A model that
 * hwa_onnx_load returns has passed every structural check: each node's
 * inputs name a graph input, an initializer or an earlier node's output;
 * the nodes are in topological order (a cycle is an error naming a node on
 * it); every tensor's data holds exactly its shape's bytes; external data
 * lies inside the model's folder; the default domain's opset is one this
 * reader knows. Whether hwadapt can *run* the ops is the mapper's question
 * (hwa_onnx_net_new), not the reader's.
 *
 * Threading: a model may be read from several threads at once; loading and
 * freeing are the caller's to serialise.
 */
#ifndef HWADAPT_ONNX_H
#define HWADAPT_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum hwa_onnx_type {
    HWA_ONNX_UNDEFINED = 0,
    HWA_ONNX_FLOAT = 1,
    HWA_ONNX_UINT8 = 2,
    HWA_ONNX_INT8 = 3,
    HWA_ONNX_UINT16 = 4,
    HWA_ONNX_INT16 = 5,
    HWA_ONNX_INT32 = 6,
    HWA_ONNX_INT64 = 7,
    HWA_ONNX_STRING = 8,
    HWA_ONNX_BOOL = 9,
    HWA_ONNX_FLOAT16 = 10,
    HWA_ONNX_DOUBLE = 11,
    HWA_ONNX_UINT32 = 12,
    HWA_ONNX_UINT64 = 13,
    HWA_ONNX_COMPLEX64 = 14,
    HWA_ONNX_COMPLEX128 = 15,
    HWA_ONNX_BFLOAT16 = 16
} hwa_onnx_type;

/* "float", "int64", "bool", ... as ONNX spells them; "?" for another value. */
const char *hwa_onnx_type_name(int type);
/* Bytes per element; 0 for string, complex and unknown types (which no
 * hwa_onnx_array holds). */
size_t hwa_onnx_type_size(int type);

/* Most dimensions of an ONNX tensor this reader accepts. */
#define HWA_ONNX_MAX_DIMS 8
/* The newest opset of the default domain the reader accepts. */
#define HWA_ONNX_MAX_OPSET 21

/* A dense host array: an initializer, a Constant's value, a test's .pb
 * file, a .npy file. Data is packed, row-major, little-endian, n elements
 * of hwa_onnx_type_size(type) bytes (bool: one byte, 0 or 1). An array
 * that belongs to a model lives as long as the model; one returned by a
 * *_load function is the caller's to free with hwa_onnx_array_free. */
typedef struct hwa_onnx_array {
    const char *name;           /* "" when unnamed */
    int type;                   /* hwa_onnx_type */
    int ndim;                   /* 0 (a scalar) .. HWA_ONNX_MAX_DIMS */
    int64_t dims[HWA_ONNX_MAX_DIMS];
    int64_t n;                  /* the product of dims (1 for a scalar; may be 0) */
    const void *data;           /* n * type size bytes; NULL when n == 0 */
} hwa_onnx_array;

/* A graph input or output as the file declares it. */
typedef struct hwa_onnx_value {
    const char *name;
    int type;                   /* hwa_onnx_type; HWA_ONNX_UNDEFINED when not declared */
    int ndim;                   /* -1: rank not declared */
    int64_t dims[HWA_ONNX_MAX_DIMS];       /* -1: not fixed */
    const char *dim_param[HWA_ONNX_MAX_DIMS]; /* a symbolic dimension's name ("batch"), or NULL */
} hwa_onnx_value;

/* Attribute kinds, numbered as ONNX's AttributeProto.AttributeType. */
typedef enum hwa_onnx_attr_kind {
    HWA_ONNX_ATTR_UNDEFINED = 0,
    HWA_ONNX_ATTR_FLOAT = 1,
    HWA_ONNX_ATTR_INT = 2,
    HWA_ONNX_ATTR_STRING = 3,
    HWA_ONNX_ATTR_TENSOR = 4,
    HWA_ONNX_ATTR_GRAPH = 5,
    HWA_ONNX_ATTR_FLOATS = 6,
    HWA_ONNX_ATTR_INTS = 7,
    HWA_ONNX_ATTR_STRINGS = 8,
    HWA_ONNX_ATTR_TENSORS = 9,
    HWA_ONNX_ATTR_GRAPHS = 10,
    HWA_ONNX_ATTR_SPARSE_TENSOR = 11,
    HWA_ONNX_ATTR_SPARSE_TENSORS = 12,
    HWA_ONNX_ATTR_TYPE_PROTO = 13,
    HWA_ONNX_ATTR_TYPE_PROTOS = 14
} hwa_onnx_attr_kind;

typedef struct hwa_onnx_attr {
    const char *name;
    int kind;                   /* hwa_onnx_attr_kind */
    float f;                    /* FLOAT */
    int64_t i;                  /* INT */
    const char *s;              /* STRING: s_len bytes (not necessarily terminated by the file;
                                   the reader adds a terminator) */
    size_t s_len;
    const hwa_onnx_array *t;    /* TENSOR (validated like an initializer) */
    int64_t n;                  /* FLOATS, INTS, STRINGS: the count */
    const float *floats;
    const int64_t *ints;
    const char *const *strings;
} hwa_onnx_attr;

typedef struct hwa_onnx_node {
    const char *name;           /* "" when the file gives none */
    const char *op_type;
    const char *domain;         /* "" for the default domain ("ai.onnx" is mapped to "") */
    int n_inputs, n_outputs;
    const char *const *inputs;  /* "" for an omitted optional input */
    const char *const *outputs;
    int n_attrs;
    const hwa_onnx_attr *attrs;
} hwa_onnx_node;

typedef struct hwa_onnx hwa_onnx;

/* Opens and validates an ONNX model. External data is looked up relative to
 * the file's folder. Errors: HWA_E_IO (cannot read), HWA_E_FORMAT (not a
 * ModelProto, a truncated or inconsistent field, a cycle, a node input that
 * names nothing, tensor data shorter or longer than its shape, external
 * data outside the folder or past its file's end), HWA_E_UNSUPPORTED (an
 * opset newer than HWA_ONNX_MAX_OPSET, sparse initializers, string
 * initializers, model-local functions), HWA_E_NOMEM. */
hwa_status hwa_onnx_load(const char *path, hwa_onnx **out);
/* The same from memory (copied where needed; data need not outlive the
 * call). dir: the folder external data is relative to; NULL refuses
 * external data (HWA_E_FORMAT). name: how messages call the model. */
hwa_status hwa_onnx_load_memory(const void *data, size_t size, const char *dir, const char *name, hwa_onnx **out);
void hwa_onnx_free(hwa_onnx *m); /* NULL is a no-op */

/* The model's path or name, as given to the loader. */
const char *hwa_onnx_path(const hwa_onnx *m);
int64_t hwa_onnx_ir_version(const hwa_onnx *m);
/* The opset imported for domain ("" or "ai.onnx": the default), or -1. */
int64_t hwa_onnx_opset(const hwa_onnx *m, const char *domain);
/* The opset imports, in file order: domain ("" for the default) and version
 * of import i (0 <= i < hwa_onnx_n_opsets), or NULL for another i. */
int hwa_onnx_n_opsets(const hwa_onnx *m);
const char *hwa_onnx_opset_at(const hwa_onnx *m, int i, int64_t *version);
/* "pytorch 1.13.1" (producer name and version), "" when absent. */
const char *hwa_onnx_producer(const hwa_onnx *m);

/* The model's inputs: graph inputs that no initializer gives a value. */
int hwa_onnx_n_inputs(const hwa_onnx *m);
const hwa_onnx_value *hwa_onnx_input(const hwa_onnx *m, int i);
int hwa_onnx_n_outputs(const hwa_onnx *m);
const hwa_onnx_value *hwa_onnx_output(const hwa_onnx *m, int i);
/* The nodes, in topological order (each node's inputs come before it). */
int hwa_onnx_n_nodes(const hwa_onnx *m);
const hwa_onnx_node *hwa_onnx_node_at(const hwa_onnx *m, int i);
int hwa_onnx_n_initializers(const hwa_onnx *m);
const hwa_onnx_array *hwa_onnx_initializer(const hwa_onnx *m, int i);
/* The initializer named name, or NULL. */
const hwa_onnx_array *hwa_onnx_find_initializer(const hwa_onnx *m, const char *name);
/* The attribute named name of node n, or NULL. */
const hwa_onnx_attr *hwa_onnx_node_attr(const hwa_onnx_node *n, const char *name);

/* A serialized TensorProto (the test data's input_0.pb, output_0.pb), with
 * the same checks as an initializer. */
hwa_status hwa_onnx_array_load_pb(const char *path, hwa_onnx_array **out);
/* A .npy file (versions 1-3; little-endian or byte-order-free dtypes: f2,
 * f4, f8, i1, u1, i2, u2, i4, u4, i8, u8, b1; C order). */
hwa_status hwa_npy_load(const char *path, hwa_onnx_array **out);
/* Writes a as a version 1 .npy file (atomic: a temporary file renamed). */
hwa_status hwa_npy_save(const char *path, const hwa_onnx_array *a);
/* A new array owning a copy of data (may be NULL: zeros). */
hwa_status hwa_onnx_array_new(const char *name, int type, int ndim, const int64_t *dims, const void *data,
                              hwa_onnx_array **out);
void hwa_onnx_array_free(hwa_onnx_array *a); /* NULL is a no-op */

/* ---- mapping onto graph ops (the importer) -----------------------------
 *
 * A net maps a model's graph onto hwadapt's graph ops in a context the
 * caller owns. hwa_onnx_net_new checks every node once (op types,
 * attribute values that need no shapes) and makes a leaf tensor per float
 * initializer; hwa_onnx_net_build instantiates the graph for concrete input
 * shapes, as many times as the caller wants, every instantiation sharing
 * those leaves (so parameters trained through one are the ones the others
 * read).
 *
 * Values known when a build runs — initializers, Constant, Shape of a
 * tensor whose shape is known, and every op whose inputs are all known —
 * are computed on the host (integers exactly, in int64), so the shape
 * arithmetic that exporters emit (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape) leaves no node in the graph. The rest become graph ops.
 *
 * Element types in the graph: float, double, float16, bfloat16 and bool
 * values are f32 tensors (bool as 0.0 / 1.0); integer values are i32
 * tensors. Each value keeps its ONNX type and shape beside its tensor, so
 * that inputs are set and outputs read in the types the model declares.
 * A rank-0 ONNX value is a [1] tensor; ranks above 4 (HWA_MAX_DIMS) cannot
 * be graph tensors (HWA_E_UNSUPPORTED naming the node) but may be known
 * values.
 *
 * Usage:
 *     hwa_onnx_net_new(model, ctx, NULL, &net);
 *     hwa_onnx_net_build(net, NULL, 4, &in, &out);   // symbolic dims = 4
 *     hwa_graph *g = hwa_graph_new(ctx);
 *     for each output k with out[k].t: hwa_graph_build_forward(g, out[k].t);
 *     hwa_ctx_alloc_leaves(ctx, be); hwa_onnx_net_load_params(net);
 *     hwa_onnx_io_set(&in[0], array); hwa_graph_compute(g, be);
 *     hwa_onnx_io_get(&out[0], &result);
 *
 * Threading: as the context's (one thread at a time). */

typedef struct hwa_onnx_net hwa_onnx_net;

typedef struct hwa_onnx_net_opts {
    bool trainable;   /* float initializers become trainable parameters (hwa_tensor_set_param) */
} hwa_onnx_net_opts;

/* Maps model onto ctx. model and ctx must outlive the net. opts may be NULL
 * (inference: no parameters). Errors: HWA_E_UNSUPPORTED listing every
 * unsupported op of the model at once ("unsupported ops: Resize x2,
 * com.microsoft/FusedConv x1"), or the first node with an attribute value
 * the mapping cannot honour ("node 'conv1' (Conv): auto_pad VALID_X ..."),
 * HWA_E_NOMEM, HWA_E_MISUSE for NULL arguments. The message is on ctx and
 * on the thread (hwa_last_error). */
hwa_status hwa_onnx_net_new(const hwa_onnx *model, hwa_ctx *ctx, const hwa_onnx_net_opts *opts,
                            hwa_onnx_net **out);
/* Frees the net's own memory; the tensors it made belong to the context.
 * NULL is a no-op. */
void hwa_onnx_net_free(hwa_onnx_net *net);

/* The concrete shape of one model input (ndim 0..HWA_ONNX_MAX_DIMS). */
typedef struct hwa_onnx_shape {
    int ndim;
    int64_t dims[HWA_ONNX_MAX_DIMS];
} hwa_onnx_shape;

/* One input or output of a build: its ONNX name, type and shape, and the
 * graph tensor that holds it. Owned by the net. */
typedef struct hwa_onnx_io {
    const char *name;
    int type;                         /* hwa_onnx_type: declared, else inferred */
    int ndim;                         /* the ONNX rank (0 for a scalar, whose tensor is [1]) */
    int64_t dims[HWA_ONNX_MAX_DIMS];
    hwa_tensor *t;                    /* inputs: a leaf (f32 or i32); outputs: the node (or a leaf
                                         when the output is known at build time, or an input).
                                         NULL for an empty value (a dim of 0: it holds no data, so
                                         it is known when built; set and get still take arrays)
                                         and for an input fixed when built */
    const hwa_onnx_array *fixed;      /* inputs: the value fixed when built (owned by the net), or
                                         NULL */
} hwa_onnx_io;

/* Instantiates the graph. shapes: hwa_onnx_n_inputs(model) shapes, or NULL
 * to take the declared ones with every symbolic or unknown dimension set
 * to batch (batch is ignored when shapes are given; it must be >= 1 when
 * some dimension needs it). A given shape must agree with the declared
 * rank and fixed dimensions. *inputs and *outputs receive arrays of
 * hwa_onnx_n_inputs / hwa_onnx_n_outputs entries owned by the net (valid
 * until it is freed). New leaves (the inputs, constants made for this
 * build) have no data: call hwa_ctx_alloc_leaves and then
 * hwa_onnx_net_load_params before computing. Errors: HWA_E_INVALID (a
 * shape that does not fit the declaration, a missing batch),
 * HWA_E_UNSUPPORTED (naming the node: a rank above 4, a step other than 1,
 * an integer op at run time...), HWA_E_SHAPE, HWA_E_NOMEM. After an error
 * the context may hold tensors of the failed build; the net stays usable. */
hwa_status hwa_onnx_net_build(hwa_onnx_net *net, const hwa_onnx_shape *shapes, int64_t batch,
                              hwa_onnx_io **inputs, hwa_onnx_io **outputs);

/* hwa_onnx_net_build with some inputs fixed when the graph is built:
 * fixed holds hwa_onnx_n_inputs(model) entries (or is NULL); a non-NULL
 * fixed[i] is input i's value (copied; its shape replaces shapes[i]),
 * known to the importer like an initializer, so that ops which need their
 * inputs known (a Reshape's shape, a Slice's starts) take it from there.
 * Its io has no tensor; hwa_onnx_io_set accepts that same value only
 * (HWA_E_INVALID otherwise: another value needs another build). The
 * value's type must be the declared one (HWA_E_DTYPE). */
hwa_status hwa_onnx_net_build_fixed(hwa_onnx_net *net, const hwa_onnx_shape *shapes, int64_t batch,
                                    const hwa_onnx_array *const *fixed, hwa_onnx_io **inputs,
                                    hwa_onnx_io **outputs);

/* Writes initializers and build-time constants into their leaves, each
 * leaf once (later calls write only leaves made since, so trained
 * parameters are not reset). Leaves must have data (hwa_ctx_alloc_leaves);
 * HWA_E_MISUSE names the first that has none. */
hwa_status hwa_onnx_net_load_params(hwa_onnx_net *net);

/* Sets a build's input from a host array of the same shape (an input
 * fixed when built: the same value). Conversions:
 * float, double, float16, bfloat16 and bool to an f32 tensor; any integer
 * type to an i32 tensor, each value checked to fit (HWA_E_RANGE naming the
 * first that does not). Another pairing is HWA_E_DTYPE ("input 'ids' is
 * int64; got float"); a shape mismatch HWA_E_SHAPE. */
hwa_status hwa_onnx_io_set(const hwa_onnx_io *in, const hwa_onnx_array *a);
/* Reads a build's output (after a compute) as a new array of the io's type
 * and shape, the caller's to free with hwa_onnx_array_free: floats
 * converted from f32, bools as value != 0, integers from the i32 (or f32)
 * tensor. HWA_E_NOMEM, or the backend's read error. */
hwa_status hwa_onnx_io_get(const hwa_onnx_io *out, hwa_onnx_array **a);

#ifdef __cplusplus
}
#endif

#endif
