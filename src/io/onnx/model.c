/* The ONNX model view: its arena, accessors, external data mappings, and
 * standalone host arrays. Nothing here knows protobuf (pb_*.c convert). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/onnx/onnx_internal.h"

/* ---- arena ----------------------------------------------------------------- */

struct hwa__onnx_block {
    hwa__onnx_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define HWA__ONNX_BLOCK (64u * 1024u)

void *hwa__onnx_alloc(hwa__onnx_arena *a, size_t n) {
    size_t need;
    if (!hwa__align_up(n ? n : 1, sizeof(max_align_t), &need)) return NULL;
    hwa__onnx_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        /* large requests get a block of their own, behind the current one, so
         * that the current block's free tail stays usable */
        size_t cap = need > HWA__ONNX_BLOCK / 4 ? need : HWA__ONNX_BLOCK, total;
        if (!hwa__add_size(sizeof *b, cap, &total)) return NULL;
        hwa__onnx_block *nb = malloc(total);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && cap == need) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

void *hwa__onnx_alloc_n(hwa__onnx_arena *a, size_t count, size_t size) {
    size_t n;
    if (!hwa__mul_size(count, size, &n)) return NULL;
    return hwa__onnx_alloc(a, n);
}

char *hwa__onnx_strndup(hwa__onnx_arena *a, const char *s, size_t n) {
    size_t n1;
    if (!hwa__add_size(n, 1, &n1)) return NULL;
    char *d = hwa__onnx_alloc(a, n1);
    if (d && n) memcpy(d, s, n);
    return d;
}

void hwa__onnx_arena_free(hwa__onnx_arena *a) {
    hwa__onnx_block *b = a->head;
    while (b) {
        hwa__onnx_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- types ----------------------------------------------------------------- */

const char *hwa_onnx_type_name(int type) {
    switch (type) {
    case HWA_ONNX_UNDEFINED: return "undefined";
    case HWA_ONNX_FLOAT: return "float";
    case HWA_ONNX_UINT8: return "uint8";
    case HWA_ONNX_INT8: return "int8";
    case HWA_ONNX_UINT16: return "uint16";
    case HWA_ONNX_INT16: return "int16";
    case HWA_ONNX_INT32: return "int32";
    case HWA_ONNX_INT64: return "int64";
    case HWA_ONNX_STRING: return "string";
    case HWA_ONNX_BOOL: return "bool";
    case HWA_ONNX_FLOAT16: return "float16";
    case HWA_ONNX_DOUBLE: return "double";
    case HWA_ONNX_UINT32: return "uint32";
    case HWA_ONNX_UINT64: return "uint64";
    case HWA_ONNX_COMPLEX64: return "complex64";
    case HWA_ONNX_COMPLEX128: return "complex128";
    case HWA_ONNX_BFLOAT16: return "bfloat16";
    default: return "?";
    }
}

size_t hwa_onnx_type_size(int type) {
    switch (type) {
    case HWA_ONNX_UINT8: case HWA_ONNX_INT8: case HWA_ONNX_BOOL: return 1;
    case HWA_ONNX_UINT16: case HWA_ONNX_INT16: case HWA_ONNX_FLOAT16: case HWA_ONNX_BFLOAT16: return 2;
    case HWA_ONNX_FLOAT: case HWA_ONNX_INT32: case HWA_ONNX_UINT32: return 4;
    case HWA_ONNX_INT64: case HWA_ONNX_DOUBLE: case HWA_ONNX_UINT64: return 8;
    default: return 0;
    }
}

/* ---- standalone arrays ----------------------------------------------------- */

hwa_status hwa_onnx_array_new(const char *name, int type, int ndim, const int64_t *dims, const void *data,
                              hwa_onnx_array **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_array_new: out is NULL");
    *out = NULL;
    size_t es = hwa_onnx_type_size(type);
    if (!es) return hwa__err(NULL, HWA_E_INVALID, "array: element type %d (%s) has no fixed size", type,
                             hwa_onnx_type_name(type));
    if (ndim < 0 || ndim > HWA_ONNX_MAX_DIMS || (ndim && !dims))
        return hwa__err(NULL, HWA_E_INVALID, "array: %d dimensions (0..%d)", ndim, HWA_ONNX_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || !hwa__mul_i64(n, dims[i], &n))
            return hwa__err(NULL, HWA_E_INVALID, "array: dimension %d is %lld, or the element count overflows", i,
                            (long long)dims[i]);
    }
    if (!name) name = "";
    size_t bytes, name_len = strlen(name), head, total;
    if ((uint64_t)n > SIZE_MAX || !hwa__mul_size((size_t)n, es, &bytes) ||
        !hwa__align_up(sizeof(hwa_onnx_array) + name_len + 1, sizeof(max_align_t), &head) ||
        !hwa__add_size(head, bytes, &total))
        return hwa__err(NULL, HWA_E_INVALID, "array: %lld elements of %zu bytes overflow", (long long)n, es);
    /* one block: the struct, its name, then the data (max-aligned) */
    hwa_onnx_array *a = calloc(1, total);
    if (!a) return hwa__err(NULL, HWA_E_NOMEM, "array: out of memory (%zu bytes)", total);
    char *nm = (char *)(a + 1);
    memcpy(nm, name, name_len + 1);
    a->name = nm;
    a->type = type;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->dims[i] = dims[i];
    a->n = n;
    if (bytes) {
        void *d = (char *)a + head;
        if (data) memcpy(d, data, bytes);
        a->data = d;
    }
    *out = a;
    return HWA_OK;
}

void hwa_onnx_array_free(hwa_onnx_array *a) { free(a); }

/* ---- the model ------------------------------------------------------------- */

hwa_onnx *hwa__onnx_new(const char *label, const char *dir) {
    hwa_onnx *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->label = hwa__io_strndup(label, strlen(label));
    m->dir = dir ? hwa__io_strndup(dir, strlen(dir)) : NULL;
    if (!m->label || (dir && !m->dir)) {
        hwa_onnx_free(m);
        return NULL;
    }
    m->producer = "";
    return m;
}

void hwa_onnx_free(hwa_onnx *m) {
    if (!m) return;
    if (m->pb && m->pb_free) m->pb_free(m->pb);
    for (int i = 0; i < m->n_maps; i++) {
        hwa__unmap_file(&m->maps[i].map);
        free(m->maps[i].path);
    }
    free(m->maps);
    hwa__onnx_arena_free(&m->arena);
    free(m->label);
    free(m->dir);
    free(m);
}

const char *hwa_onnx_path(const hwa_onnx *m) { return m ? m->label : NULL; }
int64_t hwa_onnx_ir_version(const hwa_onnx *m) { return m ? m->ir_version : 0; }
const char *hwa_onnx_producer(const hwa_onnx *m) { return m ? m->producer : ""; }

int64_t hwa_onnx_opset(const hwa_onnx *m, const char *domain) {
    if (!m) return -1;
    if (!domain || !strcmp(domain, "ai.onnx")) domain = "";
    for (int i = 0; i < m->n_opsets; i++)
        if (!strcmp(m->opset_domain[i], domain)) return m->opset_version[i];
    return -1;
}

int hwa_onnx_n_opsets(const hwa_onnx *m) { return m ? m->n_opsets : 0; }
const char *hwa_onnx_opset_at(const hwa_onnx *m, int i, int64_t *version) {
    if (!m || i < 0 || i >= m->n_opsets) return NULL;
    if (version) *version = m->opset_version[i];
    return m->opset_domain[i];
}

int hwa_onnx_n_inputs(const hwa_onnx *m) { return m ? m->n_inputs : 0; }
const hwa_onnx_value *hwa_onnx_input(const hwa_onnx *m, int i) {
    return m && i >= 0 && i < m->n_inputs ? &m->inputs[i] : NULL;
}
int hwa_onnx_n_outputs(const hwa_onnx *m) { return m ? m->n_outputs : 0; }
const hwa_onnx_value *hwa_onnx_output(const hwa_onnx *m, int i) {
    return m && i >= 0 && i < m->n_outputs ? &m->outputs[i] : NULL;
}
int hwa_onnx_n_nodes(const hwa_onnx *m) { return m ? m->n_nodes : 0; }
const hwa_onnx_node *hwa_onnx_node_at(const hwa_onnx *m, int i) {
    return m && i >= 0 && i < m->n_nodes ? &m->nodes[i] : NULL;
}
int hwa_onnx_n_initializers(const hwa_onnx *m) { return m ? m->n_inits : 0; }
const hwa_onnx_array *hwa_onnx_initializer(const hwa_onnx *m, int i) {
    return m && i >= 0 && i < m->n_inits ? &m->inits[i] : NULL;
}

const hwa_onnx_array *hwa_onnx_find_initializer(const hwa_onnx *m, const char *name) {
    if (!m || !name || !m->init_by_name) return NULL;
    size_t lo = 0, hi = (size_t)m->n_inits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const hwa_onnx_array *a = &m->inits[m->init_by_name[mid]];
        int c = strcmp(a->name, name);
        if (!c) return a;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const hwa_onnx_attr *hwa_onnx_node_attr(const hwa_onnx_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

hwa_status hwa__onnx_index_initializers(hwa_onnx *m) {
    size_t n = (size_t)m->n_inits;
    const char **names = hwa__onnx_alloc_n(&m->arena, n, sizeof *names);
    m->init_by_name = hwa__onnx_alloc_n(&m->arena, n, sizeof *m->init_by_name);
    if (!names || !m->init_by_name) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label);
    for (size_t i = 0; i < n; i++) {
        names[i] = m->inits[i].name;
        m->init_by_name[i] = i;
    }
    size_t dup = hwa__io_sort_names(m->init_by_name, n, names);
    if (dup < n) {
        char q[HWA__QUOTE_CAP];
        const char *nm = names[m->init_by_name[dup]];
        return hwa__err(NULL, HWA_E_FORMAT, "%s: initializer '%s': the name appears twice", m->label,
                        hwa__io_quote(nm, strlen(nm), q, sizeof q));
    }
    return HWA_OK;
}

/* ---- external data --------------------------------------------------------- */

hwa_status hwa__onnx_external_map(hwa_onnx *m, const char *what, const char *loc, const hwa__mapped_file **out) {
    char q[HWA__QUOTE_CAP];
    hwa__io_quote(loc, strlen(loc), q, sizeof q);
    if (!m->dir)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data '%s' but the model was read from memory",
                        m->label, what, q);
    if (!loc[0] || loc[0] == '/')
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data location '%s' is not a relative path",
                        m->label, what, q);
    /* no ".." component, wherever it is */
    for (const char *p = loc; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data location '%s' leaves the model's folder",
                            m->label, what, q);
        p += len;
        while (*p == '/') p++;
    }
    char dir_real[PATH_MAX], joined[PATH_MAX * 2], real[PATH_MAX];
    if (!realpath(m->dir, dir_real))
        return hwa__err(NULL, HWA_E_IO, "%s: %s: cannot resolve the model's folder %s", m->label, what, m->dir);
    snprintf(joined, sizeof joined, "%s/%s", dir_real, loc);
    if (!realpath(joined, real))
        return hwa__err(NULL, HWA_E_IO, "%s: %s: external data '%s' cannot be opened", m->label, what, q);
    /* a symbolic link inside the folder may still point out of it */
    size_t dl = strlen(dir_real);
    if (strncmp(real, dir_real, dl) != 0 || (real[dl] != '/' && strcmp(dir_real, "/") != 0))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data '%s' resolves outside the model's folder",
                        m->label, what, q);
    for (int i = 0; i < m->n_maps; i++)
        if (!strcmp(m->maps[i].path, real)) {
            *out = &m->maps[i].map;
            return HWA_OK;
        }
    if (m->n_maps == m->cap_maps) {
        int cap = m->cap_maps ? m->cap_maps * 2 : 4;
        hwa__onnx_map *nm = realloc(m->maps, (size_t)cap * sizeof *nm);
        if (!nm) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label);
        m->maps = nm;
        m->cap_maps = cap;
    }
    hwa__onnx_map *e = &m->maps[m->n_maps];
    memset(e, 0, sizeof *e);
    e->path = hwa__io_strndup(real, strlen(real));
    if (!e->path) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label);
    if (hwa__map_file(real, &e->map) != HWA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", hwa_last_error());
        free(e->path);
        return hwa__err(NULL, HWA_E_IO, "%s: %s: external data '%s': %s", m->label, what, q, why);
    }
    m->n_maps++;
    *out = &e->map;
    return HWA_OK;
}
