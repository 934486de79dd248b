/* Helpers shared by the ONNX op mapping files (onnx_ops.c, onnx_ops_elt.c,
 * onnx_ops_nn.c, onnx_ops_loss.c). Not a published API. */
#ifndef HWADAPT_NN_ONNX_OPS_INTERNAL_H
#define HWADAPT_NN_ONNX_OPS_INTERNAL_H

#include "nn/onnx/onnx_net_internal.h"

/* Each file's table, ended by an entry with a NULL name. */
extern const hwa__onnx_opdef hwa__onnx_elt_ops[];
extern const hwa__onnx_opdef hwa__onnx_nn_ops[];
extern const hwa__onnx_opdef hwa__onnx_loss_ops[];

/* Attribute values, def when absent (or of another kind). */
int64_t hwa__onnx_attr_i(const hwa_onnx_node *n, const char *name, int64_t def);
float hwa__onnx_attr_f(const hwa_onnx_node *n, const char *name, float def);
const char *hwa__onnx_attr_s(const hwa_onnx_node *n, const char *name, const char *def);
const hwa_onnx_attr *hwa__onnx_attr_ints(const hwa_onnx_node *n, const char *name);

/* Whether every input given is known at build time. */
bool hwa__onnx_all_known(const hwa__onnx_op *o);
/* Input k's graph tensor (a constant leaf when it is known). */
hwa_status hwa__onnx_in_tensor(hwa__onnx_op *o, int k, hwa_tensor **t);
/* Input k's integer values, which must be known (HWA_E_UNSUPPORTED naming
 * the input otherwise); at most max of them. */
hwa_status hwa__onnx_in_ints(hwa__onnx_op *o, int k, const char *what, int64_t *v, int max, int *n);
/* axis in [-rank, rank) as a dim index. */
hwa_status hwa__onnx_axis(hwa__onnx_op *o, int64_t axis, int rank, int *out);
/* t broadcast to ONNX shape ndim/dims (t's rank must already be ndim or it
 * must be a [1] scalar). */
hwa_status hwa__onnx_expand(hwa__onnx_op *o, hwa_tensor *t, int ndim, const int64_t *dims, hwa_tensor **out);
/* t (made contiguous if needed) reshaped to ONNX shape ndim/dims. */
hwa_status hwa__onnx_reshape(hwa__onnx_op *o, hwa_tensor *t, int ndim, const int64_t *dims, hwa_tensor **out);

/* The i-th op name over every table (for docs and tests), NULL past the end. */
const char *hwa__onnx_op_name(int i);

#endif
