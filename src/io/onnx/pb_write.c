/* Writing an ONNX model back with new initializer values (the trainer's
 * --export of an ONNX model): the source file's ModelProto unpacked again,
 * the named float initializers' data replaced by raw little-endian bytes,
 * everything else (nodes, attributes, metadata, other initializers) packed
 * as it was, and the file written atomically. */
#include <string.h>

#include "core/file.h"
#include "io/onnx/pb_internal.h"

hwa_status hwa_onnx_save_initializers(const hwa_onnx *m, const char *path, int n, const char *const *names,
                                      const float *const *values) {
    if (!m || !path || n < 0 || (n && (!names || !values)))
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_onnx_save_initializers: NULL argument");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: writing ONNX tensors needs a little-endian host", path);
#endif
    /* every name an inline float initializer of m, checked before reading */
    for (int i = 0; i < n; i++) {
        const hwa_onnx_array *a = hwa_onnx_find_initializer(m, names[i]);
        if (!a || a->type != HWA_ONNX_FLOAT || !values[i])
            return hwa__err(NULL, HWA_E_INVALID, "%s: '%s' is not a float initializer of the model (or has no values)",
                            path, names[i] ? names[i] : "(null)");
    }
    hwa__mapped_file src = {0};
    hwa_status st = hwa__map_file(hwa_onnx_path(m), &src);
    if (st) return st;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, src.size, src.data);
    hwa__unmap_file(&src);
    if (!mp || !mp->graph)
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: the model no longer reads as a ModelProto", hwa_onnx_path(m));
    /* The replaced fields point at the caller's values while packing; the
     * originals are put back before the message is freed. */
    typedef struct saved {
        Onnx__TensorProto *t;
        protobuf_c_boolean has_raw;
        ProtobufCBinaryData raw;
        size_t n_float;
        float *floats;
    } saved;
    saved *sv = st ? NULL : calloc((size_t)n + 1, sizeof *sv);
    if (!st && !sv) st = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    int n_sv = 0;
    for (int i = 0; !st && i < n; i++) {
        const hwa_onnx_array *a = hwa_onnx_find_initializer(m, names[i]);
        Onnx__TensorProto *t = NULL;
        for (size_t k = 0; k < mp->graph->n_initializer && !t; k++)
            if (!strcmp(HWA__PB_STR(mp->graph->initializer[k]->name), names[i])) t = mp->graph->initializer[k];
        if (!t) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: initializer '%s' is gone from the file", hwa_onnx_path(m), names[i]);
            break;
        }
        if (t->n_external_data || (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)) {
            st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: initializer '%s' keeps its data in an external file; writing "
                          "those back is not supported", path, names[i]);
            break;
        }
        sv[n_sv++] = (saved){t, t->has_raw_data, t->raw_data, t->n_float_data, t->float_data};
        t->has_raw_data = 1;
        t->raw_data.data = (uint8_t *)(uintptr_t)values[i];
        t->raw_data.len = (size_t)a->n * sizeof(float);
        t->n_float_data = 0;
        t->float_data = NULL;
    }
    struct {
        uint8_t *buf;
        size_t n;
    } p = {NULL, 0};
    if (!st) {
        p.n = onnx__model_proto__get_packed_size(mp);
        p.buf = malloc(p.n ? p.n : 1);
        if (!p.buf) st = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu bytes", path, p.n);
        else if (onnx__model_proto__pack(mp, p.buf) != p.n)
            st = hwa__err(NULL, HWA_E_INTERNAL, "%s: protobuf-c packed another size than it announced", path);
    }
    for (int i = 0; i < n_sv; i++) {
        sv[i].t->has_raw_data = sv[i].has_raw;
        sv[i].t->raw_data = sv[i].raw;
        sv[i].t->n_float_data = sv[i].n_float;
        sv[i].t->float_data = sv[i].floats;
    }
    free(sv);
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    if (!st) st = hwa__atomic_write_bytes(path, p.buf, p.n);
    free(p.buf);
    return st;
}
