/* The ONNX reader: models built here with protobuf-c's generated structs
 * (one good model, then every hostile variant of it), the typed tensor
 * fields of each kind, external data, every model and TensorProto file of
 * ONNX's own node tests (libonnx-testdata), and .npy files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hwadapt/onnx.h"

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

#ifdef HWA_HAVE_ONNX_READER
#include "onnx.pb-c.h"

/* ---- building models ------------------------------------------------------- */

/* A good model, as plain structs the tests then spoil:
 *   inputs  X: float [batch, 4]
 *   weights W: float [4, 3] (raw_data), B: float [3] (float_data)
 *   nodes (deliberately out of order): Add(Y0, B) -> Y; MatMul(X, W) -> Y0;
 *          Constant -> C (value_floats, unused); Relu(Y) -> Z (attributes of each kind)
 *   outputs Y, Z: float [batch, 3] */
typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, op2, *ops[2];
    Onnx__NodeProto nodes[4], *np[4];
    char *in_add[2], *out_add[1], *in_mm[2], *out_mm[1], *out_c[1], *in_relu[1], *out_relu[1];
    Onnx__AttributeProto a_c, *ap_c[1], a_relu[5], *ap_relu[5];
    float c_vals[3];
    int64_t ints[3];
    ProtobufCBinaryData strs[2];
    Onnx__TensorProto w, b, *inits[2], at;
    float w_data[12], b_data[3];
    int64_t w_dims[2], b_dims[1];
    Onnx__ValueInfoProto x, y, z, *inputs[1], *outputs[2];
    Onnx__TypeProto xt, yt, zt;
    Onnx__TypeProto__Tensor xtt, ytt, ztt;
    Onnx__TensorShapeProto xs, ys;
    Onnx__TensorShapeProto__Dimension xd[2], *xdp[2], yd[2], *ydp[2];
} mb;

static void value_info(Onnx__ValueInfoProto *v, Onnx__TypeProto *t, Onnx__TypeProto__Tensor *tt,
                       Onnx__TensorShapeProto *s, const char *name) {
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    v->name = (char *)name;
    v->type = t;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = HWA_ONNX_FLOAT;
    tt->shape = s;
}

static void shape2(Onnx__TensorShapeProto *s, Onnx__TensorShapeProto__Dimension *d,
                   Onnx__TensorShapeProto__Dimension **dp, int64_t second) {
    onnx__tensor_shape_proto__init(s);
    for (int i = 0; i < 2; i++) {
        onnx__tensor_shape_proto__dimension__init(&d[i]);
        dp[i] = &d[i];
    }
    d[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d[0].dim_param = "batch";
    d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d[1].dim_value = second;
    s->n_dim = 2;
    s->dim = dp;
}

static void node(Onnx__NodeProto *n, const char *name, const char *op, char **in, size_t nin, char **out,
                 size_t nout) {
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->input = in;
    n->n_input = nin;
    n->output = out;
    n->n_output = nout;
}

static void tensor_f32(Onnx__TensorProto *t, const char *name, int64_t *dims, size_t ndim) {
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = HWA_ONNX_FLOAT;
    t->dims = dims;
    t->n_dims = ndim;
}

static void mb_init(mb *b) {
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.producer_name = "hwadapt-test";
    b->m.producer_version = "1.0";
    onnx__operator_set_id_proto__init(&b->op);
    b->op.domain = "";
    b->op.has_version = 1;
    b->op.version = 17;
    onnx__operator_set_id_proto__init(&b->op2);
    b->op2.domain = "com.example";
    b->op2.has_version = 1;
    b->op2.version = 2;
    b->ops[0] = &b->op;
    b->ops[1] = &b->op2;
    b->m.opset_import = b->ops;
    b->m.n_opset_import = 2;
    b->m.graph = &b->g;

    b->in_add[0] = "Y0", b->in_add[1] = "B", b->out_add[0] = "Y";
    b->in_mm[0] = "X", b->in_mm[1] = "W", b->out_mm[0] = "Y0";
    b->out_c[0] = "C";
    b->in_relu[0] = "Y", b->out_relu[0] = "Z";
    node(&b->nodes[0], "add", "Add", b->in_add, 2, b->out_add, 1);
    node(&b->nodes[1], "mm", "MatMul", b->in_mm, 2, b->out_mm, 1);
    node(&b->nodes[2], "const", "Constant", NULL, 0, b->out_c, 1);
    node(&b->nodes[3], "relu", "Relu", b->in_relu, 1, b->out_relu, 1);
    b->nodes[1].domain = "ai.onnx";
    for (int i = 0; i < 4; i++) b->np[i] = &b->nodes[i];
    b->g.node = b->np;
    b->g.n_node = 4;

    Onnx__AttributeProto *a = &b->a_c;
    onnx__attribute_proto__init(a);
    a->name = "value_floats";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    b->c_vals[0] = 1.5f, b->c_vals[1] = -2.f, b->c_vals[2] = 0.25f;
    a->floats = b->c_vals;
    a->n_floats = 3;
    b->ap_c[0] = a;
    b->nodes[2].attribute = b->ap_c;
    b->nodes[2].n_attribute = 1;

    /* Relu's attributes, one of each kind the reader converts; "alpha" has no
     * type field, as old files write it */
    for (int i = 0; i < 5; i++) {
        onnx__attribute_proto__init(&b->a_relu[i]);
        b->ap_relu[i] = &b->a_relu[i];
    }
    b->a_relu[0].name = "alpha";
    b->a_relu[0].has_f = 1;
    b->a_relu[0].f = 0.5f;
    b->a_relu[1].name = "axis";
    b->a_relu[1].has_type = 1, b->a_relu[1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    b->a_relu[1].has_i = 1, b->a_relu[1].i = -3;
    b->a_relu[2].name = "mode";
    b->a_relu[2].has_type = 1, b->a_relu[2].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    b->a_relu[2].has_s = 1, b->a_relu[2].s = (ProtobufCBinaryData){3, (uint8_t *)"abcdef"};
    b->a_relu[3].name = "perm";
    b->a_relu[3].has_type = 1, b->a_relu[3].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    b->ints[0] = 2, b->ints[1] = 0, b->ints[2] = 1;
    b->a_relu[3].ints = b->ints, b->a_relu[3].n_ints = 3;
    b->a_relu[4].name = "t";
    b->a_relu[4].has_type = 1, b->a_relu[4].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    tensor_f32(&b->at, "", b->b_dims, 1);
    b->at.float_data = b->b_data, b->at.n_float_data = 3;
    b->a_relu[4].t = &b->at;
    b->nodes[3].attribute = b->ap_relu;
    b->nodes[3].n_attribute = 5;

    for (int i = 0; i < 12; i++) b->w_data[i] = (float)i * 0.5f - 1.f;
    b->b_data[0] = 1.f, b->b_data[1] = 2.f, b->b_data[2] = 3.f;
    b->w_dims[0] = 4, b->w_dims[1] = 3, b->b_dims[0] = 3;
    tensor_f32(&b->w, "W", b->w_dims, 2);
    b->w.has_raw_data = 1;
    b->w.raw_data = (ProtobufCBinaryData){sizeof b->w_data, (uint8_t *)b->w_data};
    tensor_f32(&b->b, "B", b->b_dims, 1);
    b->b.float_data = b->b_data, b->b.n_float_data = 3;
    b->inits[0] = &b->w, b->inits[1] = &b->b;
    b->g.initializer = b->inits;
    b->g.n_initializer = 2;

    shape2(&b->xs, b->xd, b->xdp, 4);
    shape2(&b->ys, b->yd, b->ydp, 3);
    value_info(&b->x, &b->xt, &b->xtt, &b->xs, "X");
    value_info(&b->y, &b->yt, &b->ytt, &b->ys, "Y");
    value_info(&b->z, &b->zt, &b->ztt, &b->ys, "Z");
    b->inputs[0] = &b->x;
    b->outputs[0] = &b->y, b->outputs[1] = &b->z;
    b->g.input = b->inputs, b->g.n_input = 1;
    b->g.output = b->outputs, b->g.n_output = 2;
}

/* The packed bytes of a message (malloc'd; *n their count). */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *n) {
    *n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*n ? *n : 1);
    if (buf) protobuf_c_message_pack(msg, buf);
    return buf;
}

/* Loads the model from memory (dir: for external data); the status. */
static hwa_status load_mb(mb *b, const char *dir, hwa_onnx **out) {
    size_t n;
    uint8_t *buf = pack(&b->m.base, &n);
    hwa_status s = hwa_onnx_load_memory(buf, n, dir, "test.onnx", out);
    free(buf);
    return s;
}

/* Expects the model to be refused with status want and a message holding msg. */
#define CHECK_REFUSED(b, dir, want, msg)                                             \
    do {                                                                             \
        hwa_onnx *m_ = NULL;                                                         \
        CHECK_STATUS(load_mb((b), (dir), &m_), (want));                              \
        CHECK(m_ == NULL);                                                           \
        CHECK_STR_CONTAINS(hwa_last_error(), (msg));                                 \
    } while (0)

/* ---- the good model -------------------------------------------------------- */

TEST(onnx_good_model_reads_back) {
    mb b;
    mb_init(&b);
    hwa_onnx *m;
    CHECK_OK(load_mb(&b, NULL, &m));
    CHECK_STR_CONTAINS(hwa_onnx_path(m), "test.onnx");
    CHECK_INT_EQ(hwa_onnx_ir_version(m), 8);
    CHECK_INT_EQ(hwa_onnx_opset(m, ""), 17);
    CHECK_INT_EQ(hwa_onnx_opset(m, "ai.onnx"), 17);
    CHECK_INT_EQ(hwa_onnx_opset(m, "com.example"), 2);
    CHECK_INT_EQ(hwa_onnx_opset(m, "com.other"), -1);
    int64_t ver = 0;
    CHECK_INT_EQ(hwa_onnx_n_opsets(m), 2);
    CHECK(!strcmp(hwa_onnx_opset_at(m, 1, &ver), "com.example") && ver == 2);
    CHECK(hwa_onnx_opset_at(m, 2, &ver) == NULL);
    CHECK(!strcmp(hwa_onnx_producer(m), "hwadapt-test 1.0"));

    CHECK_INT_EQ(hwa_onnx_n_inputs(m), 1);
    const hwa_onnx_value *x = hwa_onnx_input(m, 0);
    CHECK(!strcmp(x->name, "X") && x->type == HWA_ONNX_FLOAT && x->ndim == 2);
    CHECK(x->dims[0] == -1 && x->dim_param[0] && !strcmp(x->dim_param[0], "batch"));
    CHECK(x->dims[1] == 4 && x->dim_param[1] == NULL);
    CHECK(hwa_onnx_input(m, 1) == NULL);
    CHECK_INT_EQ(hwa_onnx_n_outputs(m), 2);
    CHECK(!strcmp(hwa_onnx_output(m, 1)->name, "Z") && hwa_onnx_output(m, 1)->dims[1] == 3);

    /* topological order: MatMul before Add before Relu */
    CHECK_INT_EQ(hwa_onnx_n_nodes(m), 4);
    int pos_mm = -1, pos_add = -1, pos_relu = -1;
    for (int i = 0; i < 4; i++) {
        const char *op = hwa_onnx_node_at(m, i)->op_type;
        if (!strcmp(op, "MatMul")) pos_mm = i;
        if (!strcmp(op, "Add")) pos_add = i;
        if (!strcmp(op, "Relu")) pos_relu = i;
    }
    CHECK(pos_mm >= 0 && pos_mm < pos_add && pos_add < pos_relu);
    const hwa_onnx_node *mm = hwa_onnx_node_at(m, pos_mm);
    CHECK(!strcmp(mm->domain, "") && !strcmp(mm->name, "mm") && mm->n_inputs == 2);
    CHECK(!strcmp(mm->inputs[0], "X") && !strcmp(mm->inputs[1], "W") && !strcmp(mm->outputs[0], "Y0"));

    const hwa_onnx_node *relu = hwa_onnx_node_at(m, pos_relu);
    const hwa_onnx_attr *a = hwa_onnx_node_attr(relu, "alpha");
    CHECK(a && a->kind == HWA_ONNX_ATTR_FLOAT && a->f == 0.5f);
    a = hwa_onnx_node_attr(relu, "axis");
    CHECK(a && a->kind == HWA_ONNX_ATTR_INT && a->i == -3);
    a = hwa_onnx_node_attr(relu, "mode");
    CHECK(a && a->kind == HWA_ONNX_ATTR_STRING && a->s_len == 3 && !strcmp(a->s, "abc"));
    a = hwa_onnx_node_attr(relu, "perm");
    CHECK(a && a->kind == HWA_ONNX_ATTR_INTS && a->n == 3 && a->ints[0] == 2 && a->ints[2] == 1);
    a = hwa_onnx_node_attr(relu, "t");
    CHECK(a && a->kind == HWA_ONNX_ATTR_TENSOR && a->t && a->t->n == 3 && ((const float *)a->t->data)[2] == 3.f);
    CHECK(hwa_onnx_node_attr(relu, "nothing") == NULL);

    for (int i = 0; i < 4; i++) {
        const hwa_onnx_node *n = hwa_onnx_node_at(m, i);
        if (strcmp(n->op_type, "Constant")) continue;
        a = hwa_onnx_node_attr(n, "value_floats");
        CHECK(a && a->kind == HWA_ONNX_ATTR_FLOATS && a->n == 3 && a->floats[1] == -2.f);
        /* a Constant's value as an array, like a `value` tensor */
        CHECK(a->t && a->t->type == HWA_ONNX_FLOAT && a->t->ndim == 1 && a->t->dims[0] == 3);
        CHECK(((const float *)a->t->data)[2] == 0.25f);
    }

    CHECK_INT_EQ(hwa_onnx_n_initializers(m), 2);
    const hwa_onnx_array *w = hwa_onnx_find_initializer(m, "W");
    CHECK(w && w->type == HWA_ONNX_FLOAT && w->ndim == 2 && w->dims[0] == 4 && w->dims[1] == 3 && w->n == 12);
    CHECK(!memcmp(w->data, b.w_data, sizeof b.w_data));
    const hwa_onnx_array *bias = hwa_onnx_find_initializer(m, "B");
    CHECK(bias && bias->n == 3 && ((const float *)bias->data)[1] == 2.f);
    CHECK(hwa_onnx_find_initializer(m, "X") == NULL);
    hwa_onnx_free(m);
    hwa_onnx_free(NULL);
}

TEST(onnx_graph_input_given_by_an_initializer_is_not_a_model_input) {
    mb b;
    mb_init(&b);
    Onnx__ValueInfoProto wv;
    Onnx__TypeProto wt;
    Onnx__TypeProto__Tensor wtt;
    value_info(&wv, &wt, &wtt, NULL, "W");
    Onnx__ValueInfoProto *ins[2] = {&b.x, &wv};
    b.g.input = ins, b.g.n_input = 2;
    hwa_onnx *m;
    CHECK_OK(load_mb(&b, NULL, &m));
    CHECK_INT_EQ(hwa_onnx_n_inputs(m), 1);
    CHECK(!strcmp(hwa_onnx_input(m, 0)->name, "X"));
    hwa_onnx_free(m);
}

/* ---- hostile models -------------------------------------------------------- */

TEST(onnx_truncated_file_refused_at_every_length) {
    mb b;
    mb_init(&b);
    /* protobuf-c packs fields by number and opset_import (8) comes last: with
     * one import, every prefix lacks it or ends inside a field (a cut after a
     * first import would be a valid smaller model) */
    b.m.n_opset_import = 1;
    size_t n;
    uint8_t *buf = pack(&b.m.base, &n);
    CHECK(buf);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* its own allocation: ASan sees a read past it */
        memcpy(cut, buf, len);
        hwa_onnx *m = NULL;
        hwa_status s = hwa_onnx_load_memory(cut, len, NULL, "cut.onnx", &m);
        free(cut);
        if (s == HWA_OK) {
            hwa_onnx_free(m);
            free(buf);
            CHECK_MSG(0, "a model cut to %zu of %zu bytes was accepted", len, n);
        }
        CHECK(m == NULL && s == HWA_E_FORMAT && !strchr(hwa_last_error(), '\n'));
        refused++;
    }
    free(buf);
    CHECK_INT_EQ(refused, (long long)n);
}

TEST(onnx_not_protobuf_refused) {
    hwa_onnx *m;
    CHECK_STATUS(hwa_onnx_load_memory("\xff\xff\xff\xff", 4, NULL, "junk", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "junk: not a valid onnx.ModelProto");
    CHECK_STATUS(hwa_onnx_load("/nonexistent/model.onnx", &m), HWA_E_IO);
    CHECK(m == NULL);
}

TEST(onnx_tensor_data_shorter_or_longer_than_its_shape) {
    mb b;
    mb_init(&b);
    b.w.raw_data.len -= 1;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "initializer 'W': raw_data holds 47 bytes, the shape needs 48");
    b.w.raw_data.len += 2;
    float more[13] = {0};
    b.w.raw_data.data = (uint8_t *)more;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "raw_data holds 49 bytes");
    mb_init(&b);
    b.b.n_float_data = 2;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "initializer 'B': float_data holds 2 values, the shape needs 3");
    mb_init(&b);
    int64_t huge[2] = {INT64_MAX / 2, 4};
    b.w.dims = huge;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "element count overflows");
    mb_init(&b);
    int64_t neg[2] = {-1, 3};
    b.w.dims = neg;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "dimension 0 is -1");
    mb_init(&b);
    b.w.float_data = b.b_data, b.w.n_float_data = 3; /* raw_data and float_data both */
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "more than one of raw_data, float_data");
    mb_init(&b);
    b.b.int64_data = b.ints, b.b.n_int64_data = 3;
    b.b.n_float_data = 0;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "a float tensor with values in int64_data");
}

TEST(onnx_node_input_naming_nothing_refused) {
    mb b;
    mb_init(&b);
    b.in_add[1] = "Bogus";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT,
                  "test.onnx: node 0 'add' (Add): input 'Bogus' names no graph input, initializer or node output");
    mb_init(&b);
    b.outputs[1]->name = "Nowhere";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "graph output 'Nowhere' is produced by no node");
}

TEST(onnx_optional_input_left_empty_is_fine) {
    mb b;
    mb_init(&b);
    char *in[3] = {"Y0", "B", ""};
    b.nodes[0].input = in, b.nodes[0].n_input = 3;
    hwa_onnx *m;
    CHECK_OK(load_mb(&b, NULL, &m));
    hwa_onnx_free(m);
}

TEST(onnx_cycle_refused_naming_a_node) {
    mb b;
    mb_init(&b);
    b.in_mm[0] = "Y"; /* MatMul(Y, W) -> Y0, Add(Y0, B) -> Y */
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "test.onnx: the graph has a cycle through node 0 'add' (Add)");
    mb_init(&b);
    b.in_relu[0] = "Z"; /* a node feeding itself */
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "cycle through node 3 'relu' (Relu)");
}

TEST(onnx_duplicate_producers_refused) {
    mb b;
    mb_init(&b);
    b.out_relu[0] = "Y";
    b.outputs[1]->name = "Y";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "output 'Y' is already produced by node");
    mb_init(&b);
    b.out_c[0] = "W";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "node 2 'const' (Constant): output 'W' is also a graph input or initializer");
    mb_init(&b);
    b.b.name = "W";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "initializer 'W': the name appears twice");
    mb_init(&b);
    Onnx__ValueInfoProto *twice[2] = {&b.x, &b.x};
    b.g.input = twice, b.g.n_input = 2;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "graph input 'X' is declared twice");
}

TEST(onnx_opset_from_the_future_refused) {
    mb b;
    mb_init(&b);
    b.op.version = HWA_ONNX_MAX_OPSET + 1;
    CHECK_REFUSED(&b, NULL, HWA_E_UNSUPPORTED, "test.onnx: opset 22 from the future: hwadapt reads up to 21");
    b.op.version = HWA_ONNX_MAX_OPSET;
    hwa_onnx *m;
    CHECK_OK(load_mb(&b, NULL, &m));
    hwa_onnx_free(m);
    /* another domain's opset is not the default domain's */
    mb_init(&b);
    b.op2.version = 99;
    CHECK_OK(load_mb(&b, NULL, &m));
    hwa_onnx_free(m);
    b.op2.domain = "ai.onnx"; /* the default domain twice */
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "domain '' is imported twice");
}

TEST(onnx_model_header_checks) {
    mb b;
    mb_init(&b);
    b.m.has_ir_version = 0;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "no IR version");
    b.m.has_ir_version = 1, b.m.ir_version = 99;
    CHECK_REFUSED(&b, NULL, HWA_E_UNSUPPORTED, "IR version 99 from the future");
    mb_init(&b);
    b.m.n_opset_import = 0;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "without an opset import");
    mb_init(&b);
    b.m.graph = NULL;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "no graph");
    mb_init(&b);
    b.nodes[1].op_type = NULL;
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "node 1 'mm' (): no op_type");
    mb_init(&b);
    b.a_relu[1].name = "alpha";
    CHECK_REFUSED(&b, NULL, HWA_E_FORMAT, "attribute 'alpha' appears twice");
    mb_init(&b);
    b.b.data_type = HWA_ONNX_STRING;
    CHECK_REFUSED(&b, NULL, HWA_E_UNSUPPORTED, "initializer 'B': element type 8 (string) is not read");
    mb_init(&b);
    Onnx__SparseTensorProto sp = ONNX__SPARSE_TENSOR_PROTO__INIT, *spp[1] = {&sp};
    b.g.sparse_initializer = spp, b.g.n_sparse_initializer = 1;
    CHECK_REFUSED(&b, NULL, HWA_E_UNSUPPORTED, "sparse initializers");
}

TEST(onnx_deep_nesting_refused_before_unpacking) {
    /* 200 levels of graph -> node -> attribute -> graph ... as raw wire bytes:
     * field 7 (graph) of ModelProto, field 1 (node) of GraphProto, field 5
     * (attribute) of NodeProto, field 6 (g) of AttributeProto */
    enum { LEVELS = 200 };
    static const uint8_t tags[4] = {(7 << 3) | 2, (1 << 3) | 2, (5 << 3) | 2, (6 << 3) | 2};
    size_t cap = LEVELS * 4 * 6;
    uint8_t *out = malloc(cap);
    /* written inside out: each level wraps what follows in tag + length */
    size_t len = 0;
    uint8_t *end = out + cap;
    for (int lvl = LEVELS * 4 - 1; lvl >= 0; lvl--) {
        uint8_t hdr[6];
        int h = 0;
        hdr[h++] = tags[lvl == 0 ? 0 : 1 + (lvl - 1) % 3];
        size_t v = len;
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        memcpy(end - len - (size_t)h, hdr, (size_t)h);
        len += (size_t)h;
    }
    hwa_onnx *m;
    hwa_status s = hwa_onnx_load_memory(end - len, len, NULL, "deep.onnx", &m);
    free(out);
    CHECK_INT_EQ(s, HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "nest deeper than");
}

TEST(onnx_unpacking_bounded_by_the_file_size) {
    /* 2M empty nodes: 2 bytes of wire each, over 100 bytes each unpacked */
    enum { NODES = 2 * 1000 * 1000 };
    size_t graph = 2 * (size_t)NODES, n = 0;
    uint8_t *buf = malloc(graph + 32);
    CHECK(buf);
    buf[n++] = 0x08, buf[n++] = 8;   /* ir_version 8 */
    buf[n++] = (7 << 3) | 2;          /* graph, then its length as a varint */
    for (size_t v = graph; v; v >>= 7) buf[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    for (size_t i = 0; i < NODES; i++) buf[n++] = (1 << 3) | 2, buf[n++] = 0;
    hwa_onnx *m;
    hwa_status s = hwa_onnx_load_memory(buf, n, NULL, "many.onnx", &m);
    free(buf);
    CHECK_INT_EQ(s, HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "many.onnx: its onnx.ModelProto unpacks to more than");
}

/* ---- typed data of each kind ----------------------------------------------- */

/* An initializer "T" of type type and n elements, values in field f. */
static hwa_status load_typed(int type, Onnx__TensorProto *t, hwa_onnx **m) {
    mb b;
    mb_init(&b);
    t->name = "T";
    t->has_data_type = 1;
    t->data_type = type;
    Onnx__TensorProto *inits[3] = {&b.w, &b.b, t};
    b.g.initializer = inits, b.g.n_initializer = 3;
    return load_mb(&b, NULL, m);
}

TEST(onnx_typed_fields_of_each_kind_packed_to_the_type) {
    int64_t dims[1] = {3};
    struct {
        int type;
        int32_t in[3];
        uint8_t want[12];
        size_t es;
    } i32[] = {
        {HWA_ONNX_INT8, {-1, 127, -128}, {0xff, 0x7f, 0x80}, 1},
        {HWA_ONNX_UINT8, {0, 255, 7}, {0, 0xff, 7}, 1},
        {HWA_ONNX_BOOL, {1, 0, 1}, {1, 0, 1}, 1},
        {HWA_ONNX_INT16, {-2, 300, 0}, {0xfe, 0xff, 0x2c, 0x01, 0, 0}, 2},
        {HWA_ONNX_UINT16, {65535, 1, 2}, {0xff, 0xff, 1, 0, 2, 0}, 2},
        {HWA_ONNX_FLOAT16, {0x3c00, 0xc000, 0}, {0x00, 0x3c, 0x00, 0xc0, 0, 0}, 2},
        {HWA_ONNX_BFLOAT16, {0x3f80, 0x4000, 0}, {0x80, 0x3f, 0x00, 0x40, 0, 0}, 2},
        {HWA_ONNX_INT32, {-1, 2, 3}, {0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 3, 0, 0, 0}, 4},
    };
    for (size_t k = 0; k < sizeof i32 / sizeof i32[0]; k++) {
        Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
        t.dims = dims, t.n_dims = 1;
        t.int32_data = i32[k].in, t.n_int32_data = 3;
        hwa_onnx *m;
        CHECK_OK(load_typed(i32[k].type, &t, &m));
        const hwa_onnx_array *a = hwa_onnx_find_initializer(m, "T");
        int same = a && a->type == i32[k].type && a->n == 3 && !memcmp(a->data, i32[k].want, 3 * i32[k].es);
        hwa_onnx_free(m);
        CHECK_MSG(same, "int32_data packed wrong for %s", hwa_onnx_type_name(i32[k].type));
    }
    /* out of the narrow type's range */
    int32_t bad[3] = {0, 128, 0};
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.dims = dims, t.n_dims = 1;
    t.int32_data = bad, t.n_int32_data = 3;
    hwa_onnx *m;
    CHECK_STATUS(load_typed(HWA_ONNX_INT8, &t, &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "int32_data[1] = 128 is out of range for int8");
    bad[1] = 2;
    CHECK_STATUS(load_typed(HWA_ONNX_BOOL, &t, &m), HWA_E_FORMAT);

    int64_t i64[3] = {-5, INT64_MAX, 0};
    t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t.dims = dims, t.n_dims = 1;
    t.int64_data = i64, t.n_int64_data = 3;
    CHECK_OK(load_typed(HWA_ONNX_INT64, &t, &m));
    CHECK(!memcmp(hwa_onnx_find_initializer(m, "T")->data, i64, sizeof i64));
    hwa_onnx_free(m);

    double f64[3] = {0.5, -1e300, 3};
    t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t.dims = dims, t.n_dims = 1;
    t.double_data = f64, t.n_double_data = 3;
    CHECK_OK(load_typed(HWA_ONNX_DOUBLE, &t, &m));
    CHECK(!memcmp(hwa_onnx_find_initializer(m, "T")->data, f64, sizeof f64));
    hwa_onnx_free(m);

    uint64_t u64[3] = {UINT64_MAX, 1, 0};
    t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t.dims = dims, t.n_dims = 1;
    t.uint64_data = u64, t.n_uint64_data = 3;
    CHECK_OK(load_typed(HWA_ONNX_UINT64, &t, &m));
    CHECK(!memcmp(hwa_onnx_find_initializer(m, "T")->data, u64, sizeof u64));
    hwa_onnx_free(m);
    CHECK_STATUS(load_typed(HWA_ONNX_UINT32, &t, &m), HWA_E_FORMAT); /* UINT64_MAX does not fit */
    u64[0] = 4000000000u;
    CHECK_OK(load_typed(HWA_ONNX_UINT32, &t, &m));
    const uint32_t *u32 = hwa_onnx_find_initializer(m, "T")->data;
    CHECK(u32[0] == 4000000000u && u32[1] == 1 && u32[2] == 0);
    hwa_onnx_free(m);

    /* a scalar (no dims: one element) and an empty tensor (no data) */
    float one = 7.f;
    t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t.float_data = &one, t.n_float_data = 1;
    CHECK_OK(load_typed(HWA_ONNX_FLOAT, &t, &m));
    const hwa_onnx_array *sc = hwa_onnx_find_initializer(m, "T");
    CHECK(sc->ndim == 0 && sc->n == 1 && *(const float *)sc->data == 7.f);
    hwa_onnx_free(m);
    int64_t zero[2] = {0, 5};
    t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    t.dims = zero, t.n_dims = 2;
    CHECK_OK(load_typed(HWA_ONNX_FLOAT, &t, &m));
    const hwa_onnx_array *em = hwa_onnx_find_initializer(m, "T");
    CHECK(em->n == 0 && em->data == NULL && em->dims[1] == 5);
    hwa_onnx_free(m);
}

/* ---- external data --------------------------------------------------------- */

/* W moved to an external file; entries location/offset/length as given (NULL: absent). */
static hwa_status load_external(const char *dir, const char *loc, const char *offset, const char *length,
                                hwa_onnx **m) {
    mb b;
    mb_init(&b);
    Onnx__StringStringEntryProto e[3], *ep[3];
    const char *keys[3] = {"location", "offset", "length"}, *vals[3] = {loc, offset, length};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        onnx__string_string_entry_proto__init(&e[n]);
        e[n].key = (char *)keys[i];
        e[n].value = (char *)vals[i];
        ep[n] = &e[n];
        n++;
    }
    b.w.has_raw_data = 0;
    b.w.has_data_location = 1;
    b.w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    b.w.external_data = ep, b.w.n_external_data = n;
    return load_mb(&b, dir, m);
}

TEST(onnx_external_data) {
    const char *tmp = hwa_test_tmpdir();
    char dir[512], path[600], outside[600], link[600];
    snprintf(dir, sizeof dir, "%s/ext", tmp);
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    mb b;
    mb_init(&b);
    uint8_t blob[16 + sizeof b.w_data];
    memset(blob, 0xee, 16);
    memcpy(blob + 16, b.w_data, sizeof b.w_data);
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    CHECK(write_file(path, blob, sizeof blob) == 0);
    snprintf(outside, sizeof outside, "%s/outside.bin", tmp);
    CHECK(write_file(outside, blob, sizeof blob) == 0);

    hwa_onnx *m;
    CHECK_OK(load_external(dir, "weights.bin", "16", "48", &m));
    const hwa_onnx_array *w = hwa_onnx_find_initializer(m, "W");
    CHECK(w && !memcmp(w->data, b.w_data, sizeof b.w_data));
    hwa_onnx_free(m);
    CHECK_OK(load_external(dir, "./weights.bin", "16", NULL, &m)); /* no length: the shape's */
    hwa_onnx_free(m);
    /* an offset that is not a multiple of the element size: still read */
    CHECK_STATUS(load_external(dir, "weights.bin", "15", "48", &m), HWA_OK);
    hwa_onnx_free(m);

    CHECK_STATUS(load_external(dir, "../outside.bin", "16", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "initializer 'W': external data location '../outside.bin' leaves the model's folder");
    CHECK_STATUS(load_external(dir, outside, "16", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "is not a relative path");
    snprintf(link, sizeof link, "%s/link.bin", dir);
    CHECK(symlink(outside, link) == 0 || errno == EEXIST);
    CHECK_STATUS(load_external(dir, "link.bin", "16", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "resolves outside the model's folder");
    /* a sibling folder whose name starts with the model folder's is not inside it */
    char sibling[600], sib_file[700], sib_link[700];
    snprintf(sibling, sizeof sibling, "%s/ext_other", tmp);
    CHECK(mkdir(sibling, 0755) == 0 || errno == EEXIST);
    snprintf(sib_file, sizeof sib_file, "%s/w.bin", sibling);
    CHECK(write_file(sib_file, blob, sizeof blob) == 0);
    snprintf(sib_link, sizeof sib_link, "%s/sibling.bin", dir);
    CHECK(symlink(sib_file, sib_link) == 0 || errno == EEXIST);
    CHECK_STATUS(load_external(dir, "sibling.bin", "16", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "resolves outside the model's folder");
    CHECK_STATUS(load_external(dir, "weights.bin", "17", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "runs past its file's end (64 bytes)");
    CHECK_STATUS(load_external(dir, "weights.bin", "18446744073709551615", "48", &m), HWA_E_FORMAT);
    CHECK_STATUS(load_external(dir, "weights.bin", "0", "44", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "external data length 44, but the shape needs 48 bytes");
    CHECK_STATUS(load_external(dir, "weights.bin", "1x", "48", &m), HWA_E_FORMAT);
    CHECK_STATUS(load_external(dir, NULL, "0", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "external data without a location");
    CHECK_STATUS(load_external(dir, "missing.bin", "0", "48", &m), HWA_E_IO);
    CHECK_STATUS(load_external(NULL, "weights.bin", "16", "48", &m), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "read from memory");

    /* from a file: relative to the model's folder */
    size_t n;
    mb_init(&b);
    Onnx__StringStringEntryProto e = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *ep[1] = {&e};
    e.key = "location", e.value = "weights.bin";
    Onnx__StringStringEntryProto e2 = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *ep2[2] = {&e, &e2};
    e2.key = "offset", e2.value = "16";
    (void)ep;
    b.w.has_raw_data = 0;
    b.w.has_data_location = 1;
    b.w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    b.w.external_data = ep2, b.w.n_external_data = 2;
    uint8_t *buf = pack(&b.m.base, &n);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    CHECK(write_file(path, buf, n) == 0);
    free(buf);
    CHECK_OK(hwa_onnx_load(path, &m));
    CHECK(!memcmp(hwa_onnx_find_initializer(m, "W")->data, b.w_data, sizeof b.w_data));
    hwa_onnx_free(m);
}

/* ---- standalone TensorProto files ------------------------------------------ */

TEST(onnx_tensor_pb_file) {
    mb b;
    mb_init(&b);
    size_t n;
    uint8_t *buf = pack(&b.w.base, &n);
    char path[600];
    snprintf(path, sizeof path, "%s/w.pb", hwa_test_tmpdir());
    CHECK(write_file(path, buf, n) == 0);
    hwa_onnx_array *a;
    CHECK_OK(hwa_onnx_array_load_pb(path, &a));
    CHECK(!strcmp(a->name, "W") && a->ndim == 2 && a->n == 12 && !memcmp(a->data, b.w_data, sizeof b.w_data));
    hwa_onnx_array_free(a);
    CHECK(write_file(path, buf, n - 3) == 0);
    CHECK_STATUS(hwa_onnx_array_load_pb(path, &a), HWA_E_FORMAT);
    CHECK(a == NULL);
    free(buf);
    hwa_onnx_array_free(NULL);
}

/* ---- ONNX's own node tests ------------------------------------------------- */

#define TESTDATA "/usr/share/libonnx-testdata/data/node"

/* Loads every input_N.pb / output_N.pb of one test case folder, checking
 * them against the model's declared values; counts into *ok / *skipped. */
static int check_case_data(const char *casedir, const hwa_onnx *m, int *ok, int *skipped) {
    char sub[1100], path[1400];
    int failures = 0;
    for (int set = 0; set < 8; set++) {
        snprintf(sub, sizeof sub, "%s/test_data_set_%d", casedir, set);
        DIR *d = opendir(sub);
        if (!d) break;
        struct dirent *de;
        while ((de = readdir(d))) {
            int idx;
            char kind[8];
            if (sscanf(de->d_name, "%7[a-z]_%d.pb", kind, &idx) != 2) continue;
            bool in = !strcmp(kind, "input");
            const hwa_onnx_value *v = in ? hwa_onnx_input(m, idx) : hwa_onnx_output(m, idx);
            snprintf(path, sizeof path, "%s/%s", sub, de->d_name);
            /* sequences, maps and optionals are other messages than TensorProto */
            if (!v || v->type == HWA_ONNX_UNDEFINED) {
                (*skipped)++;
                continue;
            }
            hwa_onnx_array *a;
            hwa_status s = hwa_onnx_array_load_pb(path, &a);
            if (v->type == HWA_ONNX_STRING || v->type == HWA_ONNX_COMPLEX64 || v->type == HWA_ONNX_COMPLEX128) {
                if (s != HWA_E_UNSUPPORTED) {
                    printf("  %s: a %s tensor gave %s\n", path, hwa_onnx_type_name(v->type), hwa_status_name(s));
                    failures++;
                } else (*skipped)++;
            } else if (s != HWA_OK) {
                printf("  %s: %s\n", path, hwa_last_error());
                failures++;
            } else if (a->type != v->type && !(a->type == HWA_ONNX_UINT16 && v->type == HWA_ONNX_BFLOAT16)) {
                /* (ONNX 1.12 stored its bfloat16 test tensors as uint16; ranks
                 * differ in some CastLike cases: neither is compared further) */
                printf("  %s: %s, the model declares %s\n", path, hwa_onnx_type_name(a->type),
                       hwa_onnx_type_name(v->type));
                failures++;
            } else (*ok)++;
            hwa_onnx_array_free(a);
        }
        closedir(d);
    }
    return failures;
}

TEST(onnx_every_node_test_model_and_tensor_loads) {
    DIR *d = opendir(TESTDATA);
    if (!d) SKIP_FOR("onnx", "%s is absent (Debian libonnx-testdata)", TESTDATA);
    struct dirent *de;
    int models = 0, unsupported = 0, failures = 0, tensors = 0, skipped = 0;
    char path[1100], casedir[512];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(casedir, sizeof casedir, "%s/%s", TESTDATA, de->d_name);
        snprintf(path, sizeof path, "%s/model.onnx", casedir);
        if (access(path, R_OK) != 0) continue;
        hwa_onnx *m;
        hwa_status s = hwa_onnx_load(path, &m);
        if (s == HWA_E_UNSUPPORTED) {
            printf("  unsupported: %s\n", hwa_last_error());
            unsupported++;
            continue;
        }
        if (s != HWA_OK) {
            printf("  FAILED: %s\n", hwa_last_error());
            failures++;
            continue;
        }
        models++;
        failures += check_case_data(casedir, m, &tensors, &skipped);
        hwa_onnx_free(m);
    }
    closedir(d);
    printf("  %d models read, %d unsupported; %d tensor files read, %d not TensorProto or not read (string, "
           "sequence, optional)\n",
           models, unsupported, tensors, skipped);
    CHECK_INT_EQ(failures, 0);
    CHECK(models > 500 && tensors > 1000);
}

#else /* no ONNX reader in this build */

TEST(onnx_reader_absent_says_so) {
    hwa_onnx *m;
    CHECK_STATUS(hwa_onnx_load("x.onnx", &m), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "without the ONNX reader");
}

#endif

/* ---- .npy ------------------------------------------------------------------- */

TEST(npy_round_trip_each_type) {
    static const int types[] = {HWA_ONNX_FLOAT16, HWA_ONNX_FLOAT, HWA_ONNX_DOUBLE, HWA_ONNX_INT8, HWA_ONNX_UINT8,
                                HWA_ONNX_INT16,   HWA_ONNX_UINT16, HWA_ONNX_INT32, HWA_ONNX_UINT32, HWA_ONNX_INT64,
                                HWA_ONNX_UINT64,  HWA_ONNX_BOOL};
    char path[600];
    snprintf(path, sizeof path, "%s/a.npy", hwa_test_tmpdir());
    uint8_t bytes[2 * 3 * 5 * 8];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 29 + 3);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        if (types[k] == HWA_ONNX_BOOL)
            for (size_t i = 0; i < sizeof bytes; i++) bytes[i] &= 1;
        int64_t dims[3] = {2, 3, 5};
        for (int ndim = 0; ndim <= 3; ndim++) {
            hwa_onnx_array *a, *r;
            CHECK_OK(hwa_onnx_array_new("x", types[k], ndim, dims, bytes, &a));
            hwa_status s = hwa_npy_save(path, a);
            if (s == HWA_OK) s = hwa_npy_load(path, &r);
            if (s != HWA_OK) hwa_onnx_array_free(a);
            CHECK_OK(s);
            bool same = r->type == a->type && r->ndim == ndim && r->n == a->n &&
                        !memcmp(r->dims, a->dims, (size_t)ndim * sizeof dims[0]) &&
                        !memcmp(r->data, a->data, (size_t)a->n * hwa_onnx_type_size(a->type));
            hwa_onnx_array_free(a);
            hwa_onnx_array_free(r);
            CHECK_MSG(same, "%s with %d dimensions changed on the way", hwa_onnx_type_name(types[k]), ndim);
        }
    }
    /* NumPy's exact bytes for np.save(np.arange(3, dtype='<i2')) */
    static const char numpy_i2[] = "\x93NUMPY\x01\x00v\x00{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }";
    hwa_onnx_array *a;
    int64_t three = 3;
    int16_t v[3] = {0, 1, 2};
    CHECK_OK(hwa_onnx_array_new("", HWA_ONNX_INT16, 1, &three, v, &a));
    CHECK_OK(hwa_npy_save(path, a));
    hwa_onnx_array_free(a);
    FILE *f = fopen(path, "rb");
    char got[128 + 6];
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK_INT_EQ(n, 128 + 6);
    CHECK(!memcmp(got, numpy_i2, sizeof numpy_i2 - 1) && got[127] == '\n' && got[126] == ' ');
    CHECK(!memcmp(got + 128, v, 6));
    int64_t d1 = 1;
    CHECK_OK(hwa_onnx_array_new("", HWA_ONNX_BFLOAT16, 1, &d1, NULL, &a));
    CHECK_STATUS(hwa_npy_save(path, a), HWA_E_UNSUPPORTED);
    hwa_onnx_array_free(a);
}

/* A .npy file: version 1 magic, the header text, then n data bytes. */
static hwa_status npy_with(const char *header, size_t n_data, hwa_onnx_array **out) {
    char path[600];
    snprintf(path, sizeof path, "%s/h.npy", hwa_test_tmpdir());
    size_t hl = strlen(header);
    uint8_t *buf = calloc(1, 10 + hl + n_data);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hl & 0xff), buf[9] = (uint8_t)(hl >> 8);
    memcpy(buf + 10, header, hl);
    int w = write_file(path, buf, 10 + hl + n_data);
    free(buf);
    if (w) return HWA_E_IO;
    return hwa_npy_load(path, out);
}

TEST(npy_hostile_headers_refused) {
    struct {
        const char *header;
        size_t data;
        hwa_status want;
        const char *msg;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, HWA_OK, ""},
        {"{\"descr\": \"|u1\", \"shape\": (), \"fortran_order\": False}\n", 1, HWA_OK, ""},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, HWA_E_FORMAT, "data holds 7 bytes, the shape needs 8"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, HWA_E_FORMAT, "data holds 9 bytes"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, HWA_E_UNSUPPORTED, "big-endian"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, HWA_E_UNSUPPORTED, "dtype '<c8' is not read"},
        {"{'descr': '', 'fortran_order': False, 'shape': (2,), }", 16, HWA_E_UNSUPPORTED, "dtype '' is not read"},
        {"{'descr': '<f', 'fortran_order': False, 'shape': (2,), }", 16, HWA_E_UNSUPPORTED, "dtype '<f' is not read"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, HWA_E_UNSUPPORTED, "Fortran-order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, HWA_E_FORMAT, "not a count"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, HWA_E_UNSUPPORTED, "more than 8 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4, HWA_E_FORMAT, "not a count"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 8, HWA_E_FORMAT, "overflows"},
        {"{'descr': '<f4', 'shape': (2,), }", 8, HWA_E_FORMAT, "lacks fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, HWA_E_FORMAT, "unexpected or repeated key 'extra'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, HWA_E_FORMAT, "repeated key 'descr'"},
        {"{'descr': '<f4", 8, HWA_E_FORMAT, "descr is not a string"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8, HWA_E_UNSUPPORTED, "dtype '<f4, ' is not read"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 2), }", 8, HWA_E_FORMAT, "shape tuple is malformed"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8, HWA_E_FORMAT, "text after the dict"},
        {"{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2, HWA_OK, ""},
        {"", 0, HWA_E_FORMAT, "not a dict"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hwa_onnx_array *a = NULL;
        hwa_status s = npy_with(cases[k].header, cases[k].data, &a);
        hwa_onnx_array_free(a);
        CHECK_MSG(s == cases[k].want, "case %zu (%s): %s, expected %s (%s)", k, cases[k].header, hwa_status_name(s),
                  hwa_status_name(cases[k].want), hwa_last_error());
        if (s != HWA_OK) CHECK_STR_CONTAINS(hwa_last_error(), cases[k].msg);
    }
    /* a bool byte other than 0 or 1 */
    char path[600];
    snprintf(path, sizeof path, "%s/b.npy", hwa_test_tmpdir());
    static const char hdr[] = "\x93NUMPY\x01\x00\x3b\x00{'descr': '|b1', 'fortran_order': False, 'shape': (1,), } \n\x02";
    CHECK(write_file(path, hdr, sizeof hdr - 1) == 0);
    hwa_onnx_array *a;
    CHECK_STATUS(hwa_npy_load(path, &a), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "bool element 0 is 2");
    /* truncated files, a header length past the end, other versions */
    CHECK(write_file(path, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK_STATUS(hwa_npy_load(path, &a), HWA_E_FORMAT);
    CHECK(write_file(path, "\x93NUMPY\x01\x00\xff\xff{}", 12) == 0);
    CHECK_STATUS(hwa_npy_load(path, &a), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "truncated header");
    CHECK(write_file(path, "\x93NUMPY\x04\x00\x02\x00{}", 12) == 0);
    CHECK_STATUS(hwa_npy_load(path, &a), HWA_E_UNSUPPORTED);
    CHECK(write_file(path, "\x93NUMPZ\x01\x00\x02\x00{}", 12) == 0);
    CHECK_STATUS(hwa_npy_load(path, &a), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "not a .npy file");
}
