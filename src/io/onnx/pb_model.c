/* ModelProto -> the model view: unpacking (bounded depth and memory), the
 * model's header fields, graph inputs and outputs, nodes and attributes,
 * then the graph checks (graph.c). Also the standalone TensorProto file. */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/onnx/pb_internal.h"

/* Deeper nesting than this is refused before protobuf-c, which recurses
 * once per level, sees it: real models nest subgraphs a few levels deep. */
#define HWA__ONNX_MAX_DEPTH 100
/* The newest IR version this reader knows (ONNX 1.16: 10), with headroom. */
#define HWA__ONNX_MAX_IR 11

/* ---- unpacking ------------------------------------------------------------- */

typedef struct pb_alloc_state {
    size_t used, cap;
    bool refused; /* a request past cap was refused */
} pb_alloc_state;

typedef struct pb_holder {
    ProtobufCAllocator alloc;
    pb_alloc_state st;
    ProtobufCMessage *msg;
} pb_holder;

/* Every block carries its size in front (one max_align_t, keeping alignment). */
static void *pb_alloc(void *ud, size_t n) {
    pb_alloc_state *st = ud;
    size_t total, used;
    if (!hwa__add_size(n, sizeof(max_align_t), &total) || !hwa__add_size(st->used, total, &used) ||
        used > st->cap) {
        st->refused = true;
        return NULL;
    }
    max_align_t *p = malloc(total);
    if (!p) return NULL;
    *(size_t *)p = total;
    st->used = used;
    return p + 1;
}

static void pb_dealloc(void *ud, void *ptr) {
    if (!ptr) return;
    pb_alloc_state *st = ud;
    max_align_t *p = (max_align_t *)ptr - 1;
    st->used -= *(size_t *)p;
    free(p);
}

static bool read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* false only when messages nest deeper than the limit; malformed wire data
 * is left for protobuf-c to reject. */
static bool depth_ok(const uint8_t *p, size_t n, const ProtobufCMessageDescriptor *d, int depth) {
    if (depth > HWA__ONNX_MAX_DEPTH) return false;
    size_t pos = 0;
    while (pos < n) {
        uint64_t key, len;
        if (!read_varint(p, n, &pos, &key)) return true;
        switch (key & 7) {
        case 0:
            if (!read_varint(p, n, &pos, &len)) return true;
            break;
        case 1: if (n - pos < 8) return true; pos += 8; break;
        case 5: if (n - pos < 4) return true; pos += 4; break;
        case 2: {
            if (!read_varint(p, n, &pos, &len) || len > n - pos) return true;
            const ProtobufCFieldDescriptor *fd =
                key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
                !depth_ok(p + pos, (size_t)len, fd->descriptor, depth + 1))
                return false;
            pos += (size_t)len;
            break;
        }
        default: return true;
        }
    }
    return true;
}

hwa_status hwa__onnx_pb_unpack(const ProtobufCMessageDescriptor *d, const void *data, size_t size,
                               const char *label, void **out) {
    *out = NULL;
    if (!depth_ok(data, size, d, 0))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: messages nest deeper than %d levels", label, HWA__ONNX_MAX_DEPTH);
    pb_holder *h = calloc(1, sizeof *h);
    if (!h) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", label);
    /* Tensor bytes unpack 1:1; the bound is for messages, whose structs are
     * far larger than their few bytes of wire. */
    size_t cap;
    if (!hwa__mul_size(size, 24, &cap) || !hwa__add_size(cap, (size_t)64 << 20, &cap)) cap = SIZE_MAX;
    h->st.cap = cap;
    h->alloc = (ProtobufCAllocator){pb_alloc, pb_dealloc, &h->st};
    h->msg = protobuf_c_message_unpack(d, &h->alloc, size, data);
    if (!h->msg) {
        bool over = h->st.refused;
        free(h);
        if (over)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: its %s unpacks to more than %zu bytes of messages", label,
                            d->name, cap);
        return hwa__err(NULL, HWA_E_FORMAT, "%s: not a valid %s (truncated or malformed protobuf)", label, d->name);
    }
    *out = h;
    return HWA_OK;
}

void hwa__onnx_pb_free(void *pb) {
    pb_holder *h = pb;
    if (!h) return;
    protobuf_c_message_free_unpacked(h->msg, &h->alloc);
    free(h);
}

static void *pb_msg(void *pb) { return ((pb_holder *)pb)->msg; }

/* ---- conversion ------------------------------------------------------------ */

static hwa_status nomem(const hwa_onnx *m) { return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", m->label); }

static hwa_status convert_value(hwa_onnx *m, const Onnx__ValueInfoProto *v, const char *role, hwa_onnx_value *out) {
    char q[HWA__QUOTE_CAP];
    out->name = HWA__PB_STR(v->name);
    out->type = HWA_ONNX_UNDEFINED;
    out->ndim = -1;
    if (!out->name[0]) return hwa__err(NULL, HWA_E_FORMAT, "%s: a graph %s without a name", m->label, role);
    hwa__io_quote(out->name, strlen(out->name), q, sizeof q);
    /* sequences, maps and optionals stay undeclared: the mapper refuses them */
    if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type)
        return HWA_OK;
    const Onnx__TypeProto__Tensor *tt = v->type->tensor_type;
    if (tt->has_elem_type) out->type = tt->elem_type;
    if (!tt->shape) return HWA_OK;
    if (tt->shape->n_dim > HWA_ONNX_MAX_DIMS)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: graph %s '%s': %zu dimensions (at most %d)", m->label, role, q,
                        tt->shape->n_dim, HWA_ONNX_MAX_DIMS);
    out->ndim = (int)tt->shape->n_dim;
    for (int i = 0; i < out->ndim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        out->dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return hwa__err(NULL, HWA_E_FORMAT, "%s: graph %s '%s': dimension %d is %lld", m->label, role, q, i,
                                (long long)d->dim_value);
            out->dims[i] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
                   d->dim_param[0]) {
            out->dim_param[i] = d->dim_param;
        }
    }
    return HWA_OK;
}

/* An attribute's kind: its type field, or (older files) the field it fills. */
static int attr_kind(const Onnx__AttributeProto *a) {
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) return (int)a->type;
    if (a->has_f) return HWA_ONNX_ATTR_FLOAT;
    if (a->has_i) return HWA_ONNX_ATTR_INT;
    if (a->has_s) return HWA_ONNX_ATTR_STRING;
    if (a->t) return HWA_ONNX_ATTR_TENSOR;
    if (a->g) return HWA_ONNX_ATTR_GRAPH;
    if (a->n_floats) return HWA_ONNX_ATTR_FLOATS;
    if (a->n_ints) return HWA_ONNX_ATTR_INTS;
    if (a->n_strings) return HWA_ONNX_ATTR_STRINGS;
    return HWA_ONNX_ATTR_UNDEFINED;
}

/* A Constant's value_float(s) / value_int(s) as an array in attr->t, so that
 * the mapper reads every Constant the same way. */
static hwa_status constant_array(hwa_onnx *m, hwa_onnx_attr *at) {
    hwa_onnx_array *a = hwa__onnx_alloc(&m->arena, sizeof *a);
    if (!a) return nomem(m);
    a->name = "";
    if (at->kind == HWA_ONNX_ATTR_FLOAT || at->kind == HWA_ONNX_ATTR_INT) {
        a->n = 1;
        a->type = at->kind == HWA_ONNX_ATTR_FLOAT ? HWA_ONNX_FLOAT : HWA_ONNX_INT64;
        a->data = at->kind == HWA_ONNX_ATTR_FLOAT ? (const void *)&at->f : (const void *)&at->i;
    } else {
        a->ndim = 1;
        a->n = a->dims[0] = at->n;
        a->type = at->kind == HWA_ONNX_ATTR_FLOATS ? HWA_ONNX_FLOAT : HWA_ONNX_INT64;
        a->data = !at->n ? NULL : at->kind == HWA_ONNX_ATTR_FLOATS ? (const void *)at->floats : (const void *)at->ints;
    }
    at->t = a;
    return HWA_OK;
}

static hwa_status convert_attr(hwa_onnx *m, const Onnx__AttributeProto *a, const char *node_lab, bool constant,
                               hwa_onnx_attr *out) {
    char what[3 * HWA__QUOTE_CAP + 64], q[HWA__QUOTE_CAP];
    out->name = HWA__PB_STR(a->name);
    hwa__io_quote(out->name, strlen(out->name), q, sizeof q);
    snprintf(what, sizeof what, "%s: attribute '%s'", node_lab, q);
    if (!out->name[0]) return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: no name", m->label, what);
    if (a->ref_attr_name && a->ref_attr_name[0])
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %s: a reference to a function's attribute", m->label, what);
    out->kind = attr_kind(a);
    switch (out->kind) {
    case HWA_ONNX_ATTR_FLOAT: out->f = a->f; break;
    case HWA_ONNX_ATTR_INT: out->i = a->i; break;
    case HWA_ONNX_ATTR_STRING:
        /* bytes on the wire: add the terminator the header promises */
        out->s = hwa__onnx_strndup(&m->arena, (const char *)a->s.data, a->s.len);
        if (!out->s) return nomem(m);
        out->s_len = a->s.len;
        break;
    case HWA_ONNX_ATTR_TENSOR: {
        if (!a->t) return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: a tensor attribute without a tensor", m->label, what);
        hwa_onnx_array *t = hwa__onnx_alloc(&m->arena, sizeof *t);
        if (!t) return nomem(m);
        hwa_status s = hwa__onnx_tensor_convert(m, a->t, what, t);
        if (s != HWA_OK) return s;
        out->t = t;
        break;
    }
    case HWA_ONNX_ATTR_FLOATS:
        out->n = (int64_t)a->n_floats;
        out->floats = a->floats;
        break;
    case HWA_ONNX_ATTR_INTS:
        out->n = (int64_t)a->n_ints;
        out->ints = a->ints;
        break;
    case HWA_ONNX_ATTR_STRINGS: {
        char **v = hwa__onnx_alloc_n(&m->arena, a->n_strings, sizeof *v);
        if (!v) return nomem(m);
        for (size_t i = 0; i < a->n_strings; i++)
            if (!(v[i] = hwa__onnx_strndup(&m->arena, (const char *)a->strings[i].data, a->strings[i].len)))
                return nomem(m);
        out->n = (int64_t)a->n_strings;
        out->strings = (const char *const *)v;
        break;
    }
    default: break; /* graphs, sparse tensors, type protos: the kind only */
    }
    if (constant && (out->kind == HWA_ONNX_ATTR_FLOAT || out->kind == HWA_ONNX_ATTR_INT ||
                     out->kind == HWA_ONNX_ATTR_FLOATS || out->kind == HWA_ONNX_ATTR_INTS) &&
        !strncmp(out->name, "value_", 6))
        return constant_array(m, out);
    return HWA_OK;
}

static hwa_status convert_node(hwa_onnx *m, const Onnx__NodeProto *p, int index, hwa_onnx_node *out) {
    char lab[2 * HWA__QUOTE_CAP + 32];
    out->name = HWA__PB_STR(p->name);
    out->op_type = HWA__PB_STR(p->op_type);
    out->domain = HWA__PB_STR(p->domain);
    if (!strcmp(out->domain, "ai.onnx")) out->domain = "";
    hwa__onnx_node_label(out, index, lab, sizeof lab);
    if (!out->op_type[0]) return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: no op_type", m->label, lab);
    if (p->n_input > INT_MAX || p->n_output > INT_MAX || p->n_attribute > INT_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: too many inputs, outputs or attributes", m->label, lab);
    const char **in = hwa__onnx_alloc_n(&m->arena, p->n_input, sizeof *in);
    const char **outs = hwa__onnx_alloc_n(&m->arena, p->n_output, sizeof *outs);
    hwa_onnx_attr *at = hwa__onnx_alloc_n(&m->arena, p->n_attribute, sizeof *at);
    if (!in || !outs || !at) return nomem(m);
    for (size_t i = 0; i < p->n_input; i++) in[i] = HWA__PB_STR(p->input[i]);
    for (size_t i = 0; i < p->n_output; i++) outs[i] = HWA__PB_STR(p->output[i]);
    out->n_inputs = (int)p->n_input;
    out->n_outputs = (int)p->n_output;
    out->inputs = in;
    out->outputs = outs;
    bool constant = !out->domain[0] && !strcmp(out->op_type, "Constant");
    for (size_t i = 0; i < p->n_attribute; i++) {
        hwa_status s = convert_attr(m, p->attribute[i], lab, constant, &at[i]);
        if (s != HWA_OK) return s;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(at[j].name, at[i].name)) {
                char q[HWA__QUOTE_CAP];
                return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: attribute '%s' appears twice", m->label, lab,
                                hwa__io_quote(at[i].name, strlen(at[i].name), q, sizeof q));
            }
    }
    out->n_attrs = (int)p->n_attribute;
    out->attrs = at;
    return HWA_OK;
}

static hwa_status convert_opsets(hwa_onnx *m, const Onnx__ModelProto *mp) {
    if (mp->n_opset_import > 1024) return hwa__err(NULL, HWA_E_FORMAT, "%s: %zu opset imports", m->label, mp->n_opset_import);
    m->opset_domain = hwa__onnx_alloc_n(&m->arena, mp->n_opset_import, sizeof *m->opset_domain);
    m->opset_version = hwa__onnx_alloc_n(&m->arena, mp->n_opset_import, sizeof *m->opset_version);
    if (!m->opset_domain || !m->opset_version) return nomem(m);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = HWA__PB_STR(mp->opset_import[i]->domain);
        if (!strcmp(d, "ai.onnx")) d = "";
        char q[HWA__QUOTE_CAP];
        hwa__io_quote(d, strlen(d), q, sizeof q);
        int64_t v = mp->opset_import[i]->has_version ? mp->opset_import[i]->version : -1;
        if (v < 1) return hwa__err(NULL, HWA_E_FORMAT, "%s: opset import of domain '%s' without a version", m->label, q);
        if (hwa_onnx_opset(m, d) >= 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: domain '%s' is imported twice", m->label, q);
        if (!d[0] && v > HWA_ONNX_MAX_OPSET)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: opset %lld from the future: hwadapt reads up to %d", m->label,
                            (long long)v, HWA_ONNX_MAX_OPSET);
        m->opset_domain[m->n_opsets] = d;
        m->opset_version[m->n_opsets++] = v;
    }
    return HWA_OK;
}

static hwa_status convert_model(hwa_onnx *m, const Onnx__ModelProto *mp) {
    if (!mp->has_ir_version || mp->ir_version < 1)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: no IR version (not an ONNX model?)", m->label);
    if (mp->ir_version > HWA__ONNX_MAX_IR)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: IR version %lld from the future: hwadapt reads up to %d",
                        m->label, (long long)mp->ir_version, HWA__ONNX_MAX_IR);
    m->ir_version = mp->ir_version;
    hwa_status s = convert_opsets(m, mp);
    if (s != HWA_OK) return s;
    /* IR 3 made opset_import required; before it, opset 1 was implied */
    if (!m->n_opsets && m->ir_version >= 3)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: IR version %lld without an opset import", m->label,
                        (long long)m->ir_version);
    if (mp->n_functions)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %zu model-local functions (not read)", m->label,
                        mp->n_functions);
    const char *pn = HWA__PB_STR(mp->producer_name), *pv = HWA__PB_STR(mp->producer_version);
    size_t pl = strlen(pn) + strlen(pv) + 2;
    char *prod = hwa__onnx_alloc(&m->arena, pl);
    if (!prod) return nomem(m);
    snprintf(prod, pl, "%s%s%s", pn, pn[0] && pv[0] ? " " : "", pv);
    m->producer = prod;

    const Onnx__GraphProto *g = mp->graph;
    if (!g) return hwa__err(NULL, HWA_E_FORMAT, "%s: no graph", m->label);
    if (g->n_sparse_initializer)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %zu sparse initializers (not read)", m->label,
                        g->n_sparse_initializer);
    if (g->n_node > INT_MAX || g->n_initializer > INT_MAX || g->n_input > INT_MAX || g->n_output > INT_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: too many nodes, initializers, inputs or outputs", m->label);

    m->n_inits = (int)g->n_initializer;
    m->inits = hwa__onnx_alloc_n(&m->arena, g->n_initializer, sizeof *m->inits);
    if (!m->inits) return nomem(m);
    for (size_t i = 0; i < g->n_initializer; i++) {
        char what[HWA__QUOTE_CAP + 32], q[HWA__QUOTE_CAP];
        const char *nm = HWA__PB_STR(g->initializer[i]->name);
        snprintf(what, sizeof what, "initializer '%s'", hwa__io_quote(nm, strlen(nm), q, sizeof q));
        if (!nm[0]) return hwa__err(NULL, HWA_E_FORMAT, "%s: initializer %zu without a name", m->label, i);
        if ((s = hwa__onnx_tensor_convert(m, g->initializer[i], what, &m->inits[i])) != HWA_OK) return s;
    }
    if ((s = hwa__onnx_index_initializers(m)) != HWA_OK) return s;

    /* graph inputs, then initializers: the names a node input may use */
    size_t n_known = g->n_input + g->n_initializer;
    const char **known = hwa__onnx_alloc_n(&m->arena, n_known, sizeof *known);
    m->inputs = hwa__onnx_alloc_n(&m->arena, g->n_input, sizeof *m->inputs);
    m->outputs = hwa__onnx_alloc_n(&m->arena, g->n_output, sizeof *m->outputs);
    m->nodes = hwa__onnx_alloc_n(&m->arena, g->n_node, sizeof *m->nodes);
    if (!known || !m->inputs || !m->outputs || !m->nodes) return nomem(m);
    for (size_t i = 0; i < g->n_input; i++) {
        hwa_onnx_value v = {0};
        if ((s = convert_value(m, g->input[i], "input", &v)) != HWA_OK) return s;
        known[i] = v.name;
        /* an input an initializer gives a value is a weight, not the model's input */
        if (!hwa_onnx_find_initializer(m, v.name)) m->inputs[m->n_inputs++] = v;
    }
    {
        size_t *idx = hwa__onnx_alloc_n(&m->arena, g->n_input, sizeof *idx);
        if (!idx) return nomem(m);
        for (size_t i = 0; i < g->n_input; i++) idx[i] = i;
        size_t dup = hwa__io_sort_names(idx, g->n_input, known);
        if (dup < g->n_input) {
            char q[HWA__QUOTE_CAP];
            const char *nm = known[idx[dup]];
            return hwa__err(NULL, HWA_E_FORMAT, "%s: graph input '%s' is declared twice", m->label,
                            hwa__io_quote(nm, strlen(nm), q, sizeof q));
        }
    }
    for (size_t i = 0; i < g->n_initializer; i++) known[g->n_input + i] = m->inits[i].name;
    for (size_t i = 0; i < g->n_output; i++)
        if ((s = convert_value(m, g->output[i], "output", &m->outputs[i])) != HWA_OK) return s;
    m->n_outputs = (int)g->n_output;
    for (size_t i = 0; i < g->n_node; i++)
        if ((s = convert_node(m, g->node[i], (int)i, &m->nodes[i])) != HWA_OK) return s;
    m->n_nodes = (int)g->n_node;
    return hwa__onnx_sort_graph(m, known, n_known);
}

/* ---- loading --------------------------------------------------------------- */

hwa_status hwa_onnx_load_memory(const void *data, size_t size, const char *dir, const char *name, hwa_onnx **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_load_memory: out is NULL");
    *out = NULL;
    if (!data && size) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_load_memory: data is NULL");
    hwa_onnx *m = hwa__onnx_new(name ? name : "<memory>", dir);
    if (!m) return hwa__err(NULL, HWA_E_NOMEM, "ONNX model: out of memory");
    hwa_status s = hwa__onnx_pb_unpack(&onnx__model_proto__descriptor, data ? data : "", size, m->label, &m->pb);
    if (s == HWA_OK) {
        m->pb_free = hwa__onnx_pb_free;
        s = convert_model(m, pb_msg(m->pb));
    }
    if (s != HWA_OK) {
        hwa_onnx_free(m);
        return s;
    }
    hwa_clear_error();
    *out = m;
    return HWA_OK;
}

/* Maps the file at path, and writes its folder ("." for a bare name) into
 * dir. Every failure is HWA_E_IO. */
static hwa_status map_in_dir(const char *path, hwa__mapped_file *f, char *dir, size_t cap) {
    if (hwa__map_file(path, f) != HWA_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", hwa_last_error());
        return hwa__err(NULL, HWA_E_IO, "%s", why);
    }
    snprintf(dir, cap, "%s", path);
    char *d = dirname(dir);
    if (d != dir) memmove(dir, d, strlen(d) + 1);
    return HWA_OK;
}

hwa_status hwa_onnx_load(const char *path, hwa_onnx **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_load: out is NULL");
    *out = NULL;
    if (!path) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_load: path is NULL");
    hwa__mapped_file f;
    char dir[PATH_MAX];
    hwa_status ms = map_in_dir(path, &f, dir, sizeof dir);
    if (ms != HWA_OK) return ms;
    hwa_status s = hwa_onnx_load_memory(f.data, f.size, dir, path, out);
    hwa__unmap_file(&f);
    return s;
}

hwa_status hwa_onnx_array_load_pb(const char *path, hwa_onnx_array **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_array_load_pb: out is NULL");
    *out = NULL;
    if (!path) return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_array_load_pb: path is NULL");
    hwa__mapped_file f;
    char dir[PATH_MAX];
    hwa_status ms = map_in_dir(path, &f, dir, sizeof dir);
    if (ms != HWA_OK) return ms;
    hwa_onnx *m = hwa__onnx_new(path, dir);
    hwa_status s = m ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    if (s == HWA_OK)
        s = hwa__onnx_pb_unpack(&onnx__tensor_proto__descriptor, f.data ? f.data : "", f.size, path, &m->pb);
    if (s == HWA_OK) {
        m->pb_free = hwa__onnx_pb_free;
        hwa_onnx_array view;
        s = hwa__onnx_tensor_convert(m, pb_msg(m->pb), "tensor", &view);
        if (s == HWA_OK) s = hwa_onnx_array_new(view.name, view.type, view.ndim, view.dims, view.data, out);
    }
    hwa_onnx_free(m);
    hwa__unmap_file(&f);
    if (s == HWA_OK) hwa_clear_error();
    return s;
}
