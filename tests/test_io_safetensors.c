/* safetensors: round trips for every dtype, the real GPT-2 file, truncation at
 * every byte, and the validation rules (the regression corpus has the rest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Reading and writing safetensors needs jansson (the header is JSON): a build
 * without it refuses both with HWA_E_UNSUPPORTED (tested last) and skips the
 * tests that need them. */
#ifdef HWA_HAVE_JANSSON
#define NEEDS_JSON() ((void)0)
#else
#define NEEDS_JSON() SKIP_FOR("jansson", "this build lacks jansson")
#endif

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(len ? (size_t)len : 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* A small file holding one tensor of every dtype, a scalar and an empty one. */
static hwa_status write_sample(const char *path, uint8_t *bytes, size_t cap) {
    for (size_t i = 0; i < cap; i++) bytes[i] = (uint8_t)(i * 37 + 11);
    hwa_st_writer *w = hwa_st_writer_new();
    if (!w) return HWA_E_NOMEM;
    size_t off = 0;
    hwa_status s = HWA_OK;
    for (int t = HWA_FDT_F64; t <= HWA_FDT_BOOL && s == HWA_OK; t++) {
        char name[32];
        snprintf(name, sizeof name, "t_%s", hwa_file_dtype_name((hwa_file_dtype)t));
        int64_t shape[2] = {2, 3 + t};
        size_t esz = (t == HWA_FDT_F64 || t == HWA_FDT_I64) ? 8 : (t == HWA_FDT_F32 || t == HWA_FDT_I32) ? 4
                   : (t == HWA_FDT_F16 || t == HWA_FDT_BF16 || t == HWA_FDT_I16) ? 2 : 1;
        size_t nb = 2 * (size_t)(3 + t) * esz;
        if (t == HWA_FDT_BOOL)
            for (size_t i = 0; i < nb; i++) bytes[off + i] &= 1;
        s = hwa_st_writer_add(w, name, (hwa_file_dtype)t, 2, shape, bytes + off, nb);
        off += nb;
    }
    int64_t empty[2] = {0, 5};
    if (s == HWA_OK) s = hwa_st_writer_add(w, "scalar", HWA_FDT_F32, 0, NULL, bytes + off, 4);
    if (s == HWA_OK) s = hwa_st_writer_add(w, "empty", HWA_FDT_F32, 2, empty, NULL, 0);
    if (s == HWA_OK) s = hwa_st_writer_set_meta(w, "format", "pt");
    if (s == HWA_OK) s = hwa_st_writer_set_meta(w, "step", "1200");
    if (s == HWA_OK) s = hwa_st_writer_write(w, path);
    hwa_st_writer_free(w);
    return s;
}

TEST(safetensors_round_trip_every_dtype) {
    NEEDS_JSON();
    char path[512];
    uint8_t bytes[4096];
    snprintf(path, sizeof path, "%s/all.safetensors", hwa_test_tmpdir());
    CHECK_OK(write_sample(path, bytes, sizeof bytes));
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(path, HWA_FORMAT_UNKNOWN, &f));
    CHECK_INT_EQ(hwa_model_file_format(f), HWA_FORMAT_SAFETENSORS);
    CHECK_INT_EQ(hwa_model_file_n_tensors(f), 12);
    size_t off = 0;
    for (int t = HWA_FDT_F64; t <= HWA_FDT_BOOL; t++) {
        char name[32];
        snprintf(name, sizeof name, "t_%s", hwa_file_dtype_name((hwa_file_dtype)t));
        const hwa_file_tensor *x = hwa_model_file_find(f, name);
        CHECK_MSG(x != NULL, "tensor %s missing", name);
        CHECK_INT_EQ(x->file_dtype, t);
        CHECK_INT_EQ(x->ndim, 2);
        CHECK_INT_EQ(x->shape[0], 2);
        CHECK_INT_EQ(x->shape[1], 3 + t);
        CHECK(memcmp(x->data, bytes + off, x->nbytes) == 0);
        off += x->nbytes;
    }
    const hwa_file_tensor *sc = hwa_model_file_find(f, "scalar"), *em = hwa_model_file_find(f, "empty");
    CHECK(sc && sc->ndim == 0 && sc->nbytes == 4 && !memcmp(sc->data, bytes + off, 4));
    CHECK(em && em->nbytes == 0 && em->shape[0] == 0 && em->shape[1] == 5);
    CHECK(hwa_model_file_find(f, "t_F32")->has_dtype && hwa_model_file_find(f, "t_F32")->dtype == HWA_F32);
    CHECK(!hwa_model_file_find(f, "t_F64")->has_dtype);
    CHECK_INT_EQ(hwa_model_file_n_meta(f), 2);
    CHECK(!strcmp(hwa_model_file_meta_get(f, "step"), "1200"));
    /* The header is padded with spaces to a multiple of 8. */
    size_t n;
    const uint8_t *b = hwa_model_file_bytes(f, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    CHECK_INT_EQ(hl % 8, 0);
    CHECK(b[8 + hl - 1] == '}' || b[8 + hl - 1] == ' ');
    hwa_model_file_free(f);
}

TEST(safetensors_truncation_at_every_byte_is_rejected) {
    NEEDS_JSON();
    char path[512];
    uint8_t bytes[4096];
    snprintf(path, sizeof path, "%s/trunc.safetensors", hwa_test_tmpdir());
    CHECK_OK(write_sample(path, bytes, sizeof bytes));
    size_t n;
    char *all = read_all(path, &n);
    CHECK(all != NULL);
    for (size_t k = 0; k < n; k++) {
        hwa_model_file *f;
        hwa_status s = hwa_model_file_open_mem(all, k, "cut", HWA_FORMAT_SAFETENSORS, &f);
        if (s == HWA_OK) {
            free(all);
            hwa_model_file_free(f);
            CHECK_MSG(0, "a file cut to %zu of %zu bytes was accepted", k, n);
        }
        CHECK_MSG(strncmp(hwa_last_error(), "cut: ", 5) == 0, "message does not name the file: %s", hwa_last_error());
    }
    free(all);
}

TEST(safetensors_gpt2_loads_all_64_tensors) {
    NEEDS_JSON();
    char p[512];
    NEED_DATA("tiny-random-gpt2/model.safetensors", p);
    hwa_model_file *f;
    CHECK_OK(hwa_model_file_open(p, HWA_FORMAT_UNKNOWN, &f));
    CHECK_INT_EQ(hwa_model_file_n_tensors(f), 64);
    const hwa_file_tensor *w = hwa_model_file_find(f, "transformer.h.0.attn.c_attn.weight");
    CHECK(w && w->file_dtype == HWA_FDT_F32 && w->ndim == 2 && w->shape[0] == 32 && w->shape[1] == 96);
    const hwa_file_tensor *wte = hwa_model_file_find(f, "transformer.wte.weight");
    CHECK(wte && wte->shape[0] == 1000 && wte->shape[1] == 32);
    hwa_model_file_free(f);
}

static hwa_status open_header(const char *json, size_t data_len, hwa_model_file **f) {
    static char buf[16384];
    size_t n = strlen(json);
    for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    memset(buf + 8 + n, 0, data_len);
    return hwa_model_file_open_mem(buf, 8 + n + data_len, "m.safetensors", HWA_FORMAT_SAFETENSORS, f);
}

TEST(safetensors_rejects_overlapping_tensors_naming_them) {
    NEEDS_JSON();
    hwa_model_file *f;
    CHECK_STATUS(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, &f),
                 HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "m.safetensors: tensor 'b'");
    CHECK_STR_CONTAINS(hwa_last_error(), "overlaps");
}

TEST(safetensors_rejects_a_span_other_than_shape_times_dtype_size) {
    NEEDS_JSON();
    hwa_model_file *f;
    /* 12 bytes for two f32: the tensors tile the data section, but the span
     * is not what the shape holds (longer, then shorter) */
    CHECK_STATUS(open_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, &f), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "m.safetensors: tensor 'w': data_offsets span 12 bytes but shape x dtype size is 8");
    CHECK_STATUS(open_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, &f), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "data_offsets span 4 bytes but shape x dtype size is 8");
}

TEST(safetensors_rejects_tensor_past_data_section_with_sizes) {
    NEEDS_JSON();
    hwa_model_file *f;
    CHECK_STATUS(open_header("{\"w\":{\"dtype\":\"U8\",\"shape\":[1048576],\"data_offsets\":[0,1048576]}}", 4096, &f),
                 HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "m.safetensors: tensor 'w': ends at byte 1048576 but the data section has 4096");
}

TEST(safetensors_accepts_space_padding_and_empty_header) {
    NEEDS_JSON();
    hwa_model_file *f;
    CHECK_OK(open_header("{}      ", 0, &f));
    CHECK_INT_EQ(hwa_model_file_n_tensors(f), 0);
    hwa_model_file_free(f);
}

TEST(safetensors_names_with_control_bytes_stay_on_one_line) {
    NEEDS_JSON();
    hwa_model_file *f;
    CHECK_STATUS(open_header("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &f), HWA_E_DTYPE);
    CHECK(strchr(hwa_last_error(), '\n') == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "a\\x0ab");
}

TEST(safetensors_writer_rejects_duplicates_and_size_mismatch) {
    NEEDS_JSON();
    hwa_st_writer *w = hwa_st_writer_new();
    float x[4] = {0};
    int64_t sh[1] = {4};
    CHECK_OK(hwa_st_writer_add(w, "x", HWA_FDT_F32, 1, sh, x, sizeof x));
    CHECK_STATUS(hwa_st_writer_add(w, "x", HWA_FDT_F32, 1, sh, x, sizeof x), HWA_E_INVALID);
    CHECK_STATUS(hwa_st_writer_add(w, "y", HWA_FDT_F32, 1, sh, x, 12), HWA_E_INVALID);
    CHECK_STATUS(hwa_st_writer_add(w, "z", HWA_FDT_Q8_0, 1, sh, x, 16), HWA_E_DTYPE);
    hwa_st_writer_free(w);
}

#ifndef HWA_HAVE_JANSSON
TEST(safetensors_without_jansson_is_a_clear_refusal) {
    hwa_model_file *f = NULL;
    CHECK_STATUS(open_header("{}      ", 0, &f), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "jansson");
    CHECK(hwa_st_writer_new() == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "jansson");
}
#endif
