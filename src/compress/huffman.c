/* Bit streams and canonical Huffman codes (length-limited) for the
 * compressed-model file: the shared weights' codes and the sparse layers'
 * column gaps. */
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"

/* ---- bits ------------------------------------------------------------------ */

/* Room for n more bytes; false (and nomem set) when out of memory. */
static bool bitw_room(hwa__bitw *w, size_t n) {
    if (w->nomem) return false;
    if (w->cap - w->bytes >= n) return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->bytes < n)
        if (!hwa__mul_size(cap, 2, &cap)) return !(w->nomem = true);
    uint8_t *p = realloc(w->buf, cap);
    if (!p) return !(w->nomem = true);
    w->buf = p;
    w->cap = cap;
    return true;
}

static void bitw_byte(hwa__bitw *w, uint8_t b) {
    if (bitw_room(w, 1)) w->buf[w->bytes++] = b;
}

void hwa__bitw_bytes(hwa__bitw *w, const void *src, size_t n) {
    if (w->nacc) { /* not on a byte boundary: bit by bit */
        for (size_t i = 0; i < n; i++) hwa__bitw_put(w, ((const uint8_t *)src)[i], 8);
    } else if (n && bitw_room(w, n)) {
        memcpy(w->buf + w->bytes, src, n);
        w->bytes += n;
    }
}

void hwa__bitw_put(hwa__bitw *w, uint32_t v, int width) {
    if (width <= 0) return;
    uint64_t mask = (width >= 32) ? 0xFFFFFFFFu : ((1u << width) - 1);
    w->acc = (w->acc << width) | (v & mask);
    w->nacc += width;
    while (w->nacc >= 8) {
        w->nacc -= 8;
        bitw_byte(w, (uint8_t)(w->acc >> w->nacc));
    }
    w->acc &= (1ull << w->nacc) - 1;
}

hwa_status hwa__bitw_finish(hwa__bitw *w) {
    if (w->nacc) hwa__bitw_put(w, 0, 8 - w->nacc);
    return w->nomem ? hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory for a bit stream") : HWA_OK;
}

void hwa__bitw_free(hwa__bitw *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

bool hwa__bitr_get(hwa__bitr *r, int width, uint32_t *v) {
    if (width < 0 || width > 32 || r->nbits - r->pos < (uint64_t)width) return false;
    uint64_t x = 0;
    for (int i = 0; i < width; i++, r->pos++) x = (x << 1) | ((r->buf[r->pos >> 3] >> (7 - (r->pos & 7))) & 1u);
    *v = (uint32_t)x;
    return true;
}

int hwa__bit_width(uint64_t v) {
    int b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

/* ---- code lengths ------------------------------------------------------------ */

/* Sorts the used symbols in the order lengths are handed out: by
 * decreasing count, ties to the lower symbol (insertion sort, stable; the
 * symbols come in increasing order). */
static void sort_by_count(int *used, int n, const uint64_t *counts) {
    for (int i = 1; i < n; i++) {
        int s = used[i], j = i;
        for (; j > 0 && counts[used[j - 1]] < counts[s]; j--) used[j] = used[j - 1];
        used[j] = s;
    }
}

hwa_status hwa__huff_lengths(const uint64_t *counts, int n, int max_len, uint8_t *len) {
    if (n < 1 || n > HWA_HUFF_MAX_SYMS || max_len < 1 || max_len > HWA_HUFF_MAX_LEN)
        return hwa__err(NULL, HWA_E_INVALID, "Huffman: %d symbols, limit %d bits: out of range", n, max_len);
    int used[HWA_HUFF_MAX_SYMS], n_used = 0;
    memset(len, 0, (size_t)n);
    for (int s = 0; s < n; s++)
        if (counts[s]) used[n_used++] = s;
    if (n_used > (1 << max_len))
        return hwa__err(NULL, HWA_E_INVALID, "Huffman: %d symbols do not fit in %d-bit codes", n_used, max_len);
    if (n_used <= 1) {
        if (n_used) len[used[0]] = 1;
        return HWA_OK;
    }
    /* the tree: ids 0..n-1 leaves, n.. merged nodes; O(n^2) is plenty for 256 */
    uint64_t weight[2 * HWA_HUFF_MAX_SYMS];
    int parent[2 * HWA_HUFF_MAX_SYMS];
    bool live[2 * HWA_HUFF_MAX_SYMS];
    int n_nodes = n;
    for (int s = 0; s < n; s++) {
        weight[s] = counts[s];
        live[s] = counts[s] != 0;
        parent[s] = -1;
    }
    for (int k = 0; k < n_used - 1; k++) {
        int a = -1, b = -1;
        for (int i = 0; i < n_nodes; i++) {
            if (!live[i]) continue;
            if (a < 0 || weight[i] < weight[a]) {
                b = a;
                a = i;
            } else if (b < 0 || weight[i] < weight[b]) {
                b = i;
            }
        }
        live[a] = live[b] = false;
        weight[n_nodes] = weight[a] + weight[b]; /* counts are sizes of arrays: no overflow */
        parent[a] = parent[b] = n_nodes;
        parent[n_nodes] = -1;
        live[n_nodes] = true;
        n_nodes++;
    }
    int depth[2 * HWA_HUFF_MAX_SYMS];
    int bl[2 * HWA_HUFF_MAX_SYMS] = {0}, max_depth = 0;
    for (int i = n_nodes - 1; i >= 0; i--) depth[i] = parent[i] < 0 ? 0 : depth[parent[i]] + 1;
    for (int k = 0; k < n_used; k++) {
        int d = depth[used[k]];
        bl[d]++;
        if (d > max_depth) max_depth = d;
    }
    /* lower the deepest levels until none is below max_len (ITU T.81 K.3):
     * two leaves at depth i move up, one beside a leaf at j < i - 1 whose
     * place becomes an inner node; the Kraft sum stays 1 */
    for (int i = max_depth; i > max_len; i--) {
        while (bl[i] > 0) {
            int j = i - 2;
            while (j > 0 && bl[j] == 0) j--;
            if (j <= 0) return hwa__err(NULL, HWA_E_INTERNAL, "Huffman: cannot limit the code lengths");
            bl[i] -= 2;
            bl[i - 1] += 1;
            bl[j + 1] += 2;
            bl[j] -= 1;
        }
    }
    sort_by_count(used, n_used, counts);
    int k = 0;
    for (int l = 1; l <= max_len; l++)
        for (int c = 0; c < bl[l]; c++) len[used[k++]] = (uint8_t)l;
    return HWA_OK;
}

/* ---- canonical codes ------------------------------------------------------------ */

hwa_status hwa__huff_build(hwa__huff *h, const uint8_t *len, int n) {
    if (n < 1 || n > HWA_HUFF_MAX_SYMS) return hwa__err(NULL, HWA_E_INVALID, "Huffman table: %d symbols", n);
    memset(h, 0, sizeof *h);
    h->n = n;
    for (int s = 0; s < n; s++) {
        if (len[s] > HWA_HUFF_MAX_LEN)
            return hwa__err(NULL, HWA_E_FORMAT, "Huffman table: symbol %d has length %d, above %d", s, len[s],
                            HWA_HUFF_MAX_LEN);
        h->len[s] = len[s];
        if (len[s]) {
            h->count[len[s]]++;
            h->n_used++;
        }
    }
    uint32_t kraft = 0; /* in units of 2^-15; at most 256 << 14, no overflow */
    for (int l = 1; l <= HWA_HUFF_MAX_LEN; l++) kraft += (uint32_t)h->count[l] << (HWA_HUFF_MAX_LEN - l);
    if (h->n_used == 1) {
        if (h->count[1] != 1)
            return hwa__err(NULL, HWA_E_FORMAT, "Huffman table: its one symbol must have length 1");
    } else if (kraft > (1u << HWA_HUFF_MAX_LEN)) {
        return hwa__err(NULL, HWA_E_FORMAT, "Huffman table: code lengths not prefix-free (Kraft sum %u/32768 > 1)",
                        kraft);
    } else if (h->n_used > 1 && kraft < (1u << HWA_HUFF_MAX_LEN)) {
        return hwa__err(NULL, HWA_E_FORMAT, "Huffman table: code lengths incomplete (Kraft sum %u/32768 < 1)", kraft);
    }
    uint32_t next[HWA_HUFF_MAX_LEN + 2], code = 0;
    for (int l = 1; l <= HWA_HUFF_MAX_LEN; l++) {
        code = (code + (uint32_t)h->count[l - 1]) << 1;
        next[l] = code;
    }
    int k = 0;
    for (int l = 1; l <= HWA_HUFF_MAX_LEN; l++)
        for (int s = 0; s < n; s++)
            if (h->len[s] == l) {
                h->code[s] = next[l]++;
                h->sorted[k++] = (uint16_t)s;
            }
    return HWA_OK;
}

void hwa__huff_put(hwa__bitw *w, const hwa__huff *h, int sym) { hwa__bitw_put(w, h->code[sym], h->len[sym]); }

hwa_status hwa__huff_get(hwa__bitr *r, const hwa__huff *h, int *sym) {
    if (h->n_used == 0) return hwa__err(NULL, HWA_E_FORMAT, "Huffman code: a symbol read from an empty table");
    uint32_t code = 0, first = 0, bit;
    int index = 0;
    for (int l = 1; l <= HWA_HUFF_MAX_LEN; l++) {
        if (!hwa__bitr_get(r, 1, &bit)) return hwa__err(NULL, HWA_E_FORMAT, "Huffman code: the stream ends mid-code");
        code |= bit;
        uint32_t c = (uint32_t)h->count[l];
        if (code - first < c) {
            *sym = h->sorted[index + (int)(code - first)];
            return HWA_OK;
        }
        if (h->n_used == 1) break; /* the one code is 0 */
        index += (int)c;
        first = (first + c) << 1;
        code <<= 1;
    }
    return hwa__err(NULL, HWA_E_FORMAT, "Huffman code: a code that no symbol has");
}
