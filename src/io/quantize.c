/* hwadapt quantize's work: a GGUF file rewritten with its matrices in a
 * block type (or f16, bf16, f32), its metadata copied, general.file_type
 * set; a llama2.c or Hugging Face safetensors llama model written as the
 * GGUF llama model it is (convert.c), in the same way. Each matrix goes through f32 a row-chunk at a time and is encoded
 * as ggml's reference quantizers do (hwa_convert_from_f32); rows that are
 * not whole blocks of the type fall back as llama.cpp's quantizer does
 * (hwa_dtype_for_rows). */
#include <string.h>

#include "core/internal.h"
#include "io/convert.h"

/* llama.cpp's file-type codes for a model whose matrices are mostly t. */
static uint32_t file_type_of(hwa_dtype t) {
    switch (t) {
    case HWA_F32: return 0;
    case HWA_F16: return 1;
    case HWA_Q4_0: return 2;
    case HWA_Q4_1: return 3;
    case HWA_Q8_0: return 7;
    case HWA_Q4_K: return 14; /* MOSTLY_Q4_K_S: every matrix in Q4_K */
    case HWA_Q6_K: return 18;
    case HWA_BF16: return 32;
    default: return 0;
    }
}

/* Copies key-value i of f into w. */
static hwa_status copy_kv(const hwa_model_file *f, size_t i, hwa_gguf_writer *w) {
    const char *key = hwa_gguf_kv_key(f, i);
    const hwa_gguf_type t = hwa_gguf_kv_type(f, i);
    hwa_status st;
    switch (t) {
    case HWA_GGUF_STRING: {
        const char *s;
        size_t len;
        if ((st = hwa_gguf_get_str(f, key, &s, &len))) return st;
        if (strlen(s) != len)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "quantize: metadata '%s' holds a NUL byte, which is not copied", key);
        return hwa_gguf_writer_add_str(w, key, s);
    }
    case HWA_GGUF_ARRAY: {
        hwa_gguf_type et;
        uint64_t n;
        if ((st = hwa_gguf_get_arr_info(f, key, &et, &n))) return st;
        if (et == HWA_GGUF_ARRAY)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "quantize: metadata '%s' is an array of arrays, which is not copied",
                            key);
        if (et == HWA_GGUF_STRING) {
            const char **ptrs = calloc(n ? n : 1, sizeof *ptrs);
            size_t *lens = calloc(n ? n : 1, sizeof *lens);
            char **copies = calloc(n ? n : 1, sizeof *copies);
            st = ptrs && lens && copies ? hwa_gguf_get_arr_strs(f, key, ptrs, lens, n)
                                        : hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
            for (uint64_t k = 0; !st && k < n; k++) {
                if (memchr(ptrs[k], 0, lens[k])) {
                    st = hwa__err(NULL, HWA_E_UNSUPPORTED, "quantize: metadata '%s' [%llu] holds a NUL byte", key,
                                  (unsigned long long)k);
                    break;
                }
                if (!(copies[k] = malloc(lens[k] + 1))) st = hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
                else memcpy(copies[k], ptrs[k], lens[k]), copies[k][lens[k]] = '\0';
            }
            if (!st) st = hwa_gguf_writer_add_arr_strs(w, key, (const char *const *)copies, n);
            for (uint64_t k = 0; copies && k < n; k++) free(copies[k]);
            free(copies);
            free(ptrs);
            free(lens);
            return st;
        }
        static const size_t esize[HWA_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        void *buf = malloc(n ? n * esize[et] : 1);
        if (!buf) return hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
        st = hwa_gguf_get_arr(f, key, et, buf, n);
        if (!st) st = hwa_gguf_writer_add_arr(w, key, et, buf, n);
        free(buf);
        return st;
    }
    case HWA_GGUF_F32: case HWA_GGUF_F64: {
        double d;
        if ((st = hwa_gguf_get_float(f, key, &d))) return st;
        const float x = (float)d; /* an f32 value widened and narrowed: exact */
        return t == HWA_GGUF_F32 ? hwa_gguf_writer_add_scalar(w, key, t, &x) : hwa_gguf_writer_add_scalar(w, key, t, &d);
    }
    case HWA_GGUF_BOOL: {
        bool b;
        if ((st = hwa_gguf_get_bool(f, key, &b))) return st;
        return hwa_gguf_writer_add_scalar(w, key, t, &b);
    }
    case HWA_GGUF_U64: {
        uint64_t u;
        if ((st = hwa_gguf_get_u64(f, key, &u))) return st;
        return hwa_gguf_writer_add_scalar(w, key, t, &u);
    }
    default: {
        int64_t v;
        if ((st = hwa_gguf_get_int(f, key, &v))) return st;
        union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; int64_t i64; } x;
        switch (t) { /* the integer in its own width, whatever the host's byte order */
        case HWA_GGUF_U8: x.u8 = (uint8_t)v; break;
        case HWA_GGUF_I8: x.i8 = (int8_t)v; break;
        case HWA_GGUF_U16: x.u16 = (uint16_t)v; break;
        case HWA_GGUF_I16: x.i16 = (int16_t)v; break;
        case HWA_GGUF_U32: x.u32 = (uint32_t)v; break;
        case HWA_GGUF_I32: x.i32 = (int32_t)v; break;
        default: x.i64 = v; break;
        }
        return hwa_gguf_writer_add_scalar(w, key, t, &x);
    }
    }
}

/* The type tensor ft takes. */
static hwa_dtype target_of(const hwa_file_tensor *ft, const hwa_quantize_opts *o, hwa_dtype *asked) {
    for (int k = 0; k < o->n_overrides; k++) {
        const char *eq = strchr(o->overrides[k], '=');
        if (eq && (size_t)(eq - o->overrides[k]) == strlen(ft->name) &&
            !strncmp(o->overrides[k], ft->name, (size_t)(eq - o->overrides[k]))) {
            hwa_dtype_from_name(eq + 1, asked); /* checked by the caller */
            return hwa_dtype_for_rows(*asked, ft->shape[ft->ndim - 1]);
        }
    }
    if (ft->ndim != 2) return *asked = ft->dtype; /* norms, biases: as they are */
    if (o->keep_output_f16 && !strcmp(ft->name, "output.weight")) return *asked = HWA_F16;
    *asked = o->type;
    return hwa_dtype_for_rows(o->type, ft->shape[1]);
}

hwa_status hwa_gguf_quantize(const char *in, const char *out, const hwa_quantize_opts *o, hwa_quantize_stats *stats) {
    if (!in || !out || !o) return hwa__err(NULL, HWA_E_MISUSE, "quantize: NULL argument");
    if (!hwa_dtype_is_float(o->type) && !hwa_dtype_is_quantized(o->type))
        return hwa__err(NULL, HWA_E_INVALID, "quantize: --type %s: expected f32, f16, bf16, q8_0, q4_0, q4_1, q4_k or q6_k",
                        hwa_dtype_name(o->type));
    for (int k = 0; k < o->n_overrides; k++) {
        const char *eq = strchr(o->overrides[k], '=');
        hwa_dtype t;
        if (!eq || eq == o->overrides[k] || hwa_dtype_from_name(eq + 1, &t) ||
            (!hwa_dtype_is_float(t) && !hwa_dtype_is_quantized(t)))
            return hwa__err(NULL, HWA_E_INVALID, "quantize: override '%s': expected TENSOR=TYPE with a float or block type",
                            o->overrides[k]);
    }
    hwa_quantize_stats s;
    memset(&s, 0, sizeof s);
    hwa_model_file *f = NULL;
    hwa_status st = hwa_model_file_open(in, HWA_FORMAT_UNKNOWN, &f);
    if (st) return st;
    /* the tensors under their GGUF names: a GGUF's own, or a llama2.c /
     * safetensors model's as convert.c lays them out */
    const bool gguf = hwa_model_file_format(f) == HWA_FORMAT_GGUF;
    hwa__llama_src src = {0};
    if (gguf && o->tokenizer)
        st = hwa__err(NULL, HWA_E_INVALID, "quantize: %s is a GGUF model, which carries its own tokenizer (a tokenizer "
                      "file goes with llama2.c and safetensors input)", in);
    else if (!gguf)
        st = hwa__llama_src_open(in, f, o->tokenizer, &src);
    if (st) {
        hwa_model_file_free(f);
        return st;
    }
    const hwa_file_tensor *tensors = gguf ? f->tensors : src.t;
    const size_t nt = gguf ? hwa_model_file_n_tensors(f) : src.n;
    for (int k = 0; !st && k < o->n_overrides; k++) {
        const size_t len = (size_t)(strchr(o->overrides[k], '=') - o->overrides[k]);
        bool found = false;
        for (size_t i = 0; i < nt && !found; i++)
            found = strlen(tensors[i].name) == len && !strncmp(tensors[i].name, o->overrides[k], len);
        if (!found)
            st = hwa__err(NULL, HWA_E_NOTFOUND, "quantize: override '%s': %s has no tensor '%.*s'", o->overrides[k], in,
                          (int)len, o->overrides[k]);
    }
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, (uint32_t)hwa_gguf_alignment(f));
    void **bufs = calloc(nt ? nt : 1, sizeof *bufs);
    if (!st && (!w || !bufs)) st = hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
    const uint32_t ftype = file_type_of(o->type);
    if (!st && !gguf) st = hwa__llama_src_meta(&src, w);
    for (size_t i = 0; !st && gguf && i < hwa_gguf_n_kv(f); i++) {
        const char *key = hwa_gguf_kv_key(f, i);
        if (!strcmp(key, "general.alignment")) continue; /* the writer records it */
        if (!strcmp(key, "general.file_type")) st = hwa_gguf_writer_add_scalar(w, key, HWA_GGUF_U32, &ftype);
        else st = copy_kv(f, i, w);
    }
    if (!st && (!gguf || hwa_gguf_find_key(f, "general.file_type") < 0))
        st = hwa_gguf_writer_add_scalar(w, "general.file_type", HWA_GGUF_U32, &ftype);
    enum { CHUNK = 1 << 16 };
    float *tmp = malloc(CHUNK * sizeof *tmp);
    if (!st && !tmp) st = hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
    for (size_t i = 0; !st && i < nt; i++) {
        const hwa_file_tensor *ft = &tensors[i];
        if (!ft->has_dtype) {
            st = hwa__err(NULL, HWA_E_UNSUPPORTED, "quantize: tensor '%s' has type %s, which hwadapt does not read", ft->name,
                          hwa_file_dtype_name(ft->file_dtype));
            break;
        }
        hwa_dtype asked;
        const hwa_dtype to = target_of(ft, o, &asked);
        const int64_t row = ft->shape[ft->ndim - 1], rows = ft->nelements / row;
        size_t row_out, nbytes;
        if ((st = hwa_dtype_row_bytes(to, row, &row_out))) break;
        if (!hwa__mul_size(row_out, (size_t)rows, &nbytes)) {
            st = hwa__err(NULL, HWA_E_OVERFLOW, "quantize: tensor '%s' is too large", ft->name);
            break;
        }
        s.n_tensors++;
        s.bytes_in += ft->nbytes;
        s.bytes_out += nbytes;
        if (to == ft->dtype) {
            s.n_kept++;
            st = hwa_gguf_writer_add_tensor(w, ft->name, to, ft->ndim, ft->shape, ft->data, ft->nbytes);
            continue;
        }
        if (to != asked) s.n_fallback++;
        if (hwa_dtype_is_quantized(to)) s.n_quantized++;
        float *imp = NULL; /* the importance of the row's columns, when the imatrix has them */
        if (o->imatrix && hwa_dtype_is_quantized(to)) {
            if (!(imp = malloc((size_t)row * sizeof *imp))) {
                st = hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory");
                break;
            }
            st = hwa_imatrix_importance(o->imatrix, ft->name, row, imp);
            if (st == HWA_E_NOTFOUND) {
                st = HWA_OK, s.n_unweighted++;
                free(imp), imp = NULL;
            } else if (st) {
                char why[256];
                snprintf(why, sizeof why, "%s", hwa_last_error());
                free(imp);
                st = hwa__err(NULL, st, "quantize: %s (is the imatrix this model's?)", why);
                break;
            } else {
                s.n_weighted++;
            }
        }
        if (!(bufs[i] = malloc(nbytes ? nbytes : 1))) {
            free(imp);
            st = hwa__err(NULL, HWA_E_NOMEM, "quantize: out of memory for '%s' (%zu bytes)", ft->name, nbytes);
            break;
        }
        /* whole rows through f32, as many as fit the chunk */
        size_t row_in;
        if ((st = hwa_dtype_row_bytes(ft->dtype, row, &row_in))) {
            free(imp);
            break;
        }
        const int64_t per = row <= CHUNK ? CHUNK / row : 0;
        for (int64_t r = 0; !st && r < rows;) {
            const int64_t k = per ? (rows - r < per ? rows - r : per) : 1;
            if (!per) { /* a row longer than the chunk: in pieces of whole blocks of both types */
                st = hwa__err(NULL, HWA_E_UNSUPPORTED, "quantize: tensor '%s' has rows of %lld values (at most %d)",
                              ft->name, (long long)row, CHUNK);
                break;
            }
            st = hwa_convert_to_f32(ft->dtype, (const char *)ft->data + (size_t)r * row_in, tmp, k * row);
            if (!st) st = hwa_convert_from_f32_weighted(to, (char *)bufs[i] + (size_t)r * row_out, tmp, k * row, row, imp);
            r += k;
        }
        free(imp);
        if (!st) st = hwa_gguf_writer_add_tensor(w, ft->name, to, ft->ndim, ft->shape, bufs[i], nbytes);
    }
    if (!st && o->imatrix && s.n_quantized > 0 && !s.n_weighted)
        st = hwa__err(NULL, HWA_E_NOTFOUND, "quantize: the imatrix has an entry for none of %s's matrices (is it "
                      "this model's?)", in);
    if (!st) st = hwa_gguf_writer_write(w, out);
    free(tmp);
    for (size_t i = 0; bufs && i < nt; i++) free(bufs[i]);
    free(bufs);
    hwa_gguf_writer_free(w);
    hwa__llama_src_free(&src);
    hwa_model_file_free(f);
    if (!st && stats) *stats = s;
    return st;
}
