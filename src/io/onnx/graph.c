/* The ONNX graph's structure: every value has one producer, every node input
 * names something, and the nodes are put in topological order (Kahn's
 * algorithm, keeping the file's order among nodes that are ready together). */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/onnx/onnx_internal.h"

typedef struct value_entry {
    const char *name;
    int producer; /* node index; -1: a graph input or initializer */
    int slot;     /* the output's position in its node */
} value_entry;

static int cmp_entry(const void *pa, const void *pb) {
    const value_entry *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    return (a->producer > b->producer) - (a->producer < b->producer);
}

/* The first entry named name (the graph input when there is one), or NULL. */
static const value_entry *find_entry(const value_entry *e, size_t n, const char *name) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(e[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && !strcmp(e[lo].name, name) ? &e[lo] : NULL;
}

const char *hwa__onnx_node_label(const hwa_onnx_node *n, int index, char *buf, size_t cap) {
    char qn[HWA__QUOTE_CAP], qo[HWA__QUOTE_CAP];
    snprintf(buf, cap, "node %d '%s' (%s)", index, hwa__io_quote(n->name, strlen(n->name), qn, sizeof qn),
             hwa__io_quote(n->op_type, strlen(n->op_type), qo, sizeof qo));
    return buf;
}

hwa_status hwa__onnx_sort_graph(hwa_onnx *m, const char *const *known, size_t n_known) {
    char lab[2 * HWA__QUOTE_CAP + 32], lab2[2 * HWA__QUOTE_CAP + 32], q[HWA__QUOTE_CAP];
    size_t nn = (size_t)m->n_nodes, n_entries = n_known, n_in = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!hwa__add_size(n_entries, (size_t)m->nodes[i].n_outputs, &n_entries) ||
            !hwa__add_size(n_in, (size_t)m->nodes[i].n_inputs, &n_in))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: too many node inputs or outputs", m->label);
    }
    hwa__onnx_arena tmp = {0}; /* scratch, freed on every return */
    value_entry *e = hwa__onnx_alloc_n(&tmp, n_entries, sizeof *e);
    int *indeg = hwa__onnx_alloc_n(&tmp, nn, sizeof *indeg);
    size_t *edge_start = hwa__onnx_alloc_n(&tmp, nn + 1, sizeof *edge_start);
    int *edges = hwa__onnx_alloc_n(&tmp, n_in, sizeof *edges);
    int *order = hwa__onnx_alloc_n(&tmp, nn, sizeof *order);
    int *src_of = hwa__onnx_alloc_n(&tmp, n_in, sizeof *src_of); /* each input's producer, flattened */
    hwa_onnx_node *sorted = hwa__onnx_alloc_n(&m->arena, nn, sizeof *sorted);
    hwa_status s = HWA_OK;
    if (!e || !indeg || !edge_start || !edges || !order || !src_of || !sorted) {
        s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_known; i++) e[k++] = (value_entry){known[i], -1, 0};
    for (size_t i = 0; i < nn; i++)
        for (int j = 0; j < m->nodes[i].n_outputs; j++)
            if (m->nodes[i].outputs[j][0]) e[k++] = (value_entry){m->nodes[i].outputs[j], (int)i, j};
    n_entries = k;
    qsort(e, n_entries, sizeof *e, cmp_entry);
    /* A graph input listed again as an initializer is fine (older exporters
     * do that); a node output may share its name with nothing. */
    for (size_t i = 1; i < n_entries; i++) {
        if (strcmp(e[i].name, e[i - 1].name) || e[i].producer < 0) continue;
        const hwa_onnx_node *n = &m->nodes[e[i].producer];
        hwa__io_quote(e[i].name, strlen(e[i].name), q, sizeof q);
        hwa__onnx_node_label(n, e[i].producer, lab, sizeof lab);
        if (e[i - 1].producer < 0)
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: %s: output '%s' is also a graph input or initializer", m->label,
                         lab, q);
        else
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: %s: output '%s' is already produced by %s", m->label, lab, q,
                         hwa__onnx_node_label(&m->nodes[e[i - 1].producer], e[i - 1].producer, lab2, sizeof lab2));
        goto done;
    }
    /* edges producer -> consumer, counted then filled (CSR) */
    size_t flat = 0;
    for (size_t i = 0; i < nn; i++) {
        const hwa_onnx_node *n = &m->nodes[i];
        for (int j = 0; j < n->n_inputs; j++, flat++) {
            src_of[flat] = -1;
            const char *in = n->inputs[j];
            if (!in[0]) continue; /* an omitted optional input */
            const value_entry *v = find_entry(e, n_entries, in);
            if (!v) {
                s = hwa__err(NULL, HWA_E_FORMAT,
                             "%s: %s: input '%s' names no graph input, initializer or node output", m->label,
                             hwa__onnx_node_label(n, (int)i, lab, sizeof lab),
                             hwa__io_quote(in, strlen(in), q, sizeof q));
                goto done;
            }
            src_of[flat] = v->producer;
            if (v->producer >= 0) {
                edge_start[v->producer + 1]++;
                indeg[i]++;
            }
        }
    }
    for (size_t i = 0; i < nn; i++) edge_start[i + 1] += edge_start[i];
    {
        size_t *fill = hwa__onnx_alloc_n(&tmp, nn, sizeof *fill);
        if (!fill) {
            s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label);
            goto done;
        }
        flat = 0;
        for (size_t i = 0; i < nn; i++)
            for (int j = 0; j < m->nodes[i].n_inputs; j++, flat++) {
                int p = src_of[flat];
                if (p >= 0) edges[edge_start[p] + fill[p]++] = (int)i;
            }
    }
    /* Kahn: a queue seeded in file order */
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < nn; i++)
        if (!indeg[i]) order[tail++] = (int)i;
    while (head < tail) {
        int u = order[head++];
        for (size_t x = edge_start[u]; x < edge_start[u + 1]; x++)
            if (--indeg[edges[x]] == 0) order[tail++] = edges[x];
    }
    if (tail < nn) {
        for (size_t i = 0; i < nn; i++)
            if (indeg[i]) {
                s = hwa__err(NULL, HWA_E_FORMAT, "%s: the graph has a cycle through %s", m->label,
                             hwa__onnx_node_label(&m->nodes[i], (int)i, lab, sizeof lab));
                goto done;
            }
    }
    for (int i = 0; i < m->n_outputs; i++) {
        const char *nm = m->outputs[i].name;
        if (!find_entry(e, n_entries, nm)) {
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: graph output '%s' is produced by no node, input or initializer",
                         m->label, hwa__io_quote(nm, strlen(nm), q, sizeof q));
            goto done;
        }
    }
    for (size_t i = 0; i < nn; i++) sorted[i] = m->nodes[order[i]];
    m->nodes = sorted;
done:
    hwa__onnx_arena_free(&tmp);
    return s;
}
