/* Internals shared by the Llama model (llama.c) and its importance-matrix
 * collection (imatrix.c). Not a published API. */
#ifndef HWADAPT_NN_INTERNAL_H
#define HWADAPT_NN_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/nn.h"

/* The reductions added to one forward graph: per matrix product whose
 * weight is one of the model's matrices, the column sums of its input's
 * squares ([1, in]) and the rows they cover. */
typedef struct hwa__imx_tap {
    char name[64];       /* the weight's GGUF name */
    hwa_tensor *sum2;
    int64_t rows;
} hwa__imx_tap;

typedef struct hwa__imx_taps {
    hwa__imx_tap *t;
    int n, cap;
} hwa__imx_taps;

/* The GGUF name of w when it is one of m's layer matrices or its own
 * (untied) classifier, into buf; false otherwise. */
bool hwa__llama_matrix_name(const hwa_llama *m, const hwa_tensor *w, char *buf, size_t cap);
/* Adds a tap per such product to g (built forward, not yet computed) as
 * extra outputs. */
hwa_status hwa__imatrix_extend(const hwa_llama *m, hwa_graph *g, hwa__imx_taps *taps);
/* After the graph ran: the taps' sums into im. */
hwa_status hwa__imatrix_gather(hwa_imatrix *im, const hwa__imx_taps *taps);
void hwa__imatrix_taps_free(hwa__imx_taps *taps);

#endif
