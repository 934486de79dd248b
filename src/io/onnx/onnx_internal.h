/* Internals of the ONNX reader (src/io/onnx). Not a published API.
 *
 * A model owns everything it hands out through one arena (names, nodes,
 * attributes, converted tensor data), the unpacked protobuf message whose
 * strings and raw bytes the views point into, and the mappings of its
 * external data files. Only pb_*.c know protobuf-c; the rest works on the
 * converted views. */
#ifndef HWADAPT_IO_ONNX_INTERNAL_H
#define HWADAPT_IO_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hwadapt/onnx.h"
#include "core/file.h"
#include "core/internal.h"

/* ---- arena: zeroed, max-aligned blocks freed all at once ------------------ */

typedef struct hwa__onnx_block hwa__onnx_block;
typedef struct hwa__onnx_arena {
    hwa__onnx_block *head;
} hwa__onnx_arena;

/* n zeroed bytes (n may be 0: a valid unique pointer), or NULL when out of memory. */
void *hwa__onnx_alloc(hwa__onnx_arena *a, size_t n);
/* count * size zeroed bytes; NULL on overflow or when out of memory. */
void *hwa__onnx_alloc_n(hwa__onnx_arena *a, size_t count, size_t size);
/* A NUL-terminated copy of n bytes of s, or NULL when out of memory. */
char *hwa__onnx_strndup(hwa__onnx_arena *a, const char *s, size_t n);
void hwa__onnx_arena_free(hwa__onnx_arena *a);

/* ---- the model ------------------------------------------------------------- */

typedef struct hwa__onnx_map {
    char *path; /* realpath of the external data file */
    hwa__mapped_file map;
} hwa__onnx_map;

struct hwa_onnx {
    char *label;       /* the path or name messages use */
    char *dir;         /* external data's folder; NULL refuses external data */
    hwa__onnx_arena arena;
    void *pb;          /* the unpacked ModelProto the views point into */
    void (*pb_free)(void *pb);

    int64_t ir_version;
    int n_opsets;
    const char **opset_domain; /* "" for the default domain */
    int64_t *opset_version;
    const char *producer;

    int n_inputs, n_outputs, n_nodes, n_inits;
    hwa_onnx_value *inputs, *outputs;
    hwa_onnx_node *nodes;
    hwa_onnx_array *inits;
    size_t *init_by_name; /* initializer indices sorted by name */

    hwa__onnx_map *maps;
    int n_maps, cap_maps;
};

/* A model shell with label (and dir, may be NULL) copied; NULL when out of memory. */
hwa_onnx *hwa__onnx_new(const char *label, const char *dir);

/* The external data file at the relative path loc (inside m->dir), mapped
 * once per model; errors name what (the tensor). *out is valid until the
 * next call (the table may move); the mapping it describes until the model
 * is freed. */
hwa_status hwa__onnx_external_map(hwa_onnx *m, const char *what, const char *loc, const hwa__mapped_file **out);

/* Sorts the initializers by name into m->init_by_name; a duplicate is
 * HWA_E_FORMAT. */
hwa_status hwa__onnx_index_initializers(hwa_onnx *m);

/* "node 3 'conv1' (Conv)" into buf (names quoted safely); returns buf. */
const char *hwa__onnx_node_label(const hwa_onnx_node *n, int index, char *buf, size_t cap);

/* Checks the graph and puts m->nodes in topological order: every node input
 * names one of the n_known names (graph inputs and initializers) or an
 * earlier node's output; no name has two producers; there is no cycle; every
 * graph output is produced. HWA_E_FORMAT naming the node otherwise. */
hwa_status hwa__onnx_sort_graph(hwa_onnx *m, const char *const *known, size_t n_known);

/* A .npy file's bytes (size from outside) into a new array; errors name label. */
hwa_status hwa__npy_parse(const uint8_t *data, size_t size, const char *label, hwa_onnx_array **out);

#endif
