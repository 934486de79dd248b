/* IDX (MNIST, Fashion-MNIST): big-endian header, u8 data, raw or gzipped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

#ifdef HWA_HAVE_ZLIB
#include <zlib.h>
#endif

#define IDX_MAX_DIMS 4
/* Deflate cannot expand a stream by more than about 1032:1. */
#define DEFLATE_MAX_RATIO 1032u

struct hwa_idx {
    int ndim;
    int64_t dims[IDX_MAX_DIMS];
    uint8_t *data;
    size_t nbytes;
};

void hwa_idx_free(hwa_idx *x) {
    if (!x) return;
    free(x->data);
    free(x);
}
int hwa_idx_ndim(const hwa_idx *x) { return x ? x->ndim : 0; }
int64_t hwa_idx_dim(const hwa_idx *x, int d) { return x && d >= 0 && d < x->ndim ? x->dims[d] : 0; }
const uint8_t *hwa_idx_data(const hwa_idx *x) { return x ? x->data : NULL; }
size_t hwa_idx_nbytes(const hwa_idx *x) { return x ? x->nbytes : 0; }

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Validates the header in hdr (have bytes of it) and fills x; *hdr_len gets
 * its length and *data_len the data size it announces. */
static hwa_status parse_header(const uint8_t *hdr, size_t have, const char *L, hwa_idx *x, size_t *hdr_len,
                               size_t *data_len) {
    if (have < 4) return hwa__err(NULL, HWA_E_FORMAT, "%s: magic: truncated (%zu bytes)", L, have);
    if (hdr[0] || hdr[1])
        return hwa__err(NULL, HWA_E_FORMAT, "%s: magic: first two bytes are 0x%02x%02x, not zero", L, hdr[0], hdr[1]);
    if (hdr[2] != 0x08)
        return hwa__err(NULL, HWA_E_DTYPE, "%s: magic: unsupported IDX type 0x%02x (only 0x08, unsigned bytes)", L, hdr[2]);
    if (hdr[3] < 1 || hdr[3] > IDX_MAX_DIMS)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: magic: %u dimensions (1 to %d allowed)", L, hdr[3], IDX_MAX_DIMS);
    x->ndim = hdr[3];
    *hdr_len = 4 + 4 * (size_t)x->ndim;
    if (have < *hdr_len) return hwa__err(NULL, HWA_E_FORMAT, "%s: dims: truncated header", L);
    size_t n = 1;
    for (int d = 0; d < x->ndim; d++) {
        uint32_t e = be32(hdr + 4 + 4 * d);
        if (e == 0) return hwa__err(NULL, HWA_E_FORMAT, "%s: dims[%d]: zero", L, d);
        x->dims[d] = e;
        if (!hwa__mul_size(n, e, &n)) return hwa__err(NULL, HWA_E_OVERFLOW, "%s: dims: the data size overflows", L);
    }
    *data_len = n;
    return HWA_OK;
}

static hwa_status load_raw(const uint8_t *b, size_t n, const char *L, hwa_idx *x) {
    size_t hl = 0, dl = 0;
    hwa_status s = parse_header(b, n, L, x, &hl, &dl);
    if (s != HWA_OK) return s;
    if (dl != n - hl)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: data: the dims announce %zu bytes but the file holds %zu%s", L, dl, n - hl,
                        dl > n - hl ? " (truncated)" : " (trailing bytes)");
    x->data = malloc(dl);
    if (!x->data) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu bytes", L, dl);
    memcpy(x->data, b + hl, dl);
    x->nbytes = dl;
    return HWA_OK;
}

#ifdef HWA_HAVE_ZLIB
/* Inflates into dst[0..cap) and reports how much came out and whether the
 * stream ended; stops early when cap is reached. */
static hwa_status inflate_some(z_stream *z, uint8_t *dst, size_t cap, const char *L, size_t *got, bool *ended) {
    *got = 0;
    *ended = false;
    while (*got < cap) {
        size_t chunk = cap - *got > (1u << 30) ? (1u << 30) : cap - *got;
        z->next_out = dst + *got;
        z->avail_out = (uInt)chunk;
        int r = inflate(z, Z_NO_FLUSH);
        *got += chunk - z->avail_out;
        if (r == Z_STREAM_END) {
            *ended = true;
            return HWA_OK;
        }
        if (r == Z_BUF_ERROR && z->avail_in == 0) return HWA_OK; /* input exhausted: truncated */
        if (r != Z_OK && r != Z_BUF_ERROR)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: gzip: %s", L, z->msg ? z->msg : "corrupt stream");
    }
    return HWA_OK;
}

static hwa_status load_gz(const uint8_t *b, size_t n, const char *L, hwa_idx *x) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return hwa__err(NULL, HWA_E_NOMEM, "%s: gzip: cannot start zlib", L);
    size_t left = n;
    z.next_in = (Bytef *)(uintptr_t)b;
    z.avail_in = (uInt)(left > UINT32_MAX ? UINT32_MAX : left);
    /* Files above 4 GiB compressed are far beyond IDX's uses: refuse. */
    hwa_status s = n > UINT32_MAX ? hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: gzip: over 4 GiB", L) : HWA_OK;
    uint8_t hdr[4 + 4 * IDX_MAX_DIMS];
    size_t got = 0, hl = 0, dl = 0;
    bool ended = false;
    if (s == HWA_OK) s = inflate_some(&z, hdr, 4, L, &got, &ended);
    if (s == HWA_OK && got == 4 && hdr[3] >= 1 && hdr[3] <= IDX_MAX_DIMS && !ended) {
        size_t more;
        s = inflate_some(&z, hdr + 4, 4 * (size_t)hdr[3], L, &more, &ended);
        got += more;
    }
    if (s == HWA_OK) s = parse_header(hdr, got, L, x, &hl, &dl);
    if (s == HWA_OK && dl / DEFLATE_MAX_RATIO > n)
        s = hwa__err(NULL, HWA_E_FORMAT, "%s: dims: announce %zu bytes, more than %zu gzip bytes can hold", L, dl, n);
    if (s == HWA_OK && !(x->data = malloc(dl ? dl : 1)))
        s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu bytes", L, dl);
    if (s == HWA_OK && !ended) s = inflate_some(&z, x->data, dl, L, &got, &ended);
    else if (s == HWA_OK) got = 0;
    if (s == HWA_OK && got < dl)
        s = hwa__err(NULL, HWA_E_FORMAT, "%s: data: the dims announce %zu bytes but the stream holds %zu (truncated)", L,
                     dl, got);
    if (s == HWA_OK && !ended) { /* there must be nothing after the data */
        uint8_t extra;
        size_t e;
        s = inflate_some(&z, &extra, 1, L, &e, &ended);
        if (s == HWA_OK && e)
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: data: trailing bytes after the %zu the dims announce", L, dl);
        else if (s == HWA_OK && !ended)
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: gzip: the stream is truncated", L);
    }
    if (s == HWA_OK && z.avail_in)
        s = hwa__err(NULL, HWA_E_FORMAT, "%s: gzip: %u bytes after the end of the stream", L, z.avail_in);
    inflateEnd(&z);
    x->nbytes = dl;
    return s;
}
#else
static hwa_status load_gz(const uint8_t *b, size_t n, const char *L, hwa_idx *x) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: gzip needs zlib, which this build lacks", L);
}
#endif

hwa_status hwa_idx_load_mem(const void *data, size_t n, const char *label, hwa_idx **out) {
    if (out) *out = NULL;
    if (!out || (!data && n)) return hwa__err(NULL, HWA_E_MISUSE, "idx: NULL argument");
    const char *L = label ? label : "<memory>";
    hwa_idx *x = calloc(1, sizeof *x);
    if (!x) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    const uint8_t *b = data;
    hwa_status s = n >= 2 && b[0] == 0x1f && b[1] == 0x8b ? load_gz(b, n, L, x) : load_raw(b, n, L, x);
    if (s != HWA_OK) {
        hwa_idx_free(x);
        return s;
    }
    *out = x;
    return HWA_OK;
}

hwa_status hwa_idx_load(const char *path, hwa_idx **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "idx: NULL argument");
    hwa__mapped_file m;
    hwa_status s = hwa__map_file(path, &m);
    if (s != HWA_OK) return s;
    s = hwa_idx_load_mem(m.data, m.size, path, out);
    hwa__unmap_file(&m);
    return s;
}
