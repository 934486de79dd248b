/* Internal to src/compress: the bit streams and canonical Huffman codes of
 * the compressed-model file, and the layer helpers the model and the file
 * share. Not a published API. */
#ifndef HWADAPT_COMPRESS_INTERNAL_H
#define HWADAPT_COMPRESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "hwadapt/compress.h"

/* ---- bits: written and read most significant bit first ------------------- */

typedef struct hwa__bitw {
    uint8_t *buf;
    size_t cap, bytes; /* whole bytes written */
    uint64_t acc;      /* pending bits, the oldest highest */
    int nacc;          /* 0..63 */
    bool nomem;        /* an allocation failed: everything after is dropped */
} hwa__bitw;
/* Appends the low `width` bits of v (width 0..32). */
void hwa__bitw_put(hwa__bitw *w, uint32_t v, int width);
/* Appends n bytes (fast when on a byte boundary). */
void hwa__bitw_bytes(hwa__bitw *w, const void *src, size_t n);
/* Pads with zero bits to a whole byte; HWA_E_NOMEM if any put failed. */
hwa_status hwa__bitw_finish(hwa__bitw *w);
void hwa__bitw_free(hwa__bitw *w);

typedef struct hwa__bitr {
    const uint8_t *buf;
    uint64_t nbits, pos; /* in bits */
} hwa__bitr;
/* The next `width` bits (0..32); false, reading nothing, past the end. */
bool hwa__bitr_get(hwa__bitr *r, int width, uint32_t *v);
/* Bits needed to write any value in [0, v] (0 for v == 0). */
int hwa__bit_width(uint64_t v);

/* ---- canonical Huffman codes ----------------------------------------------- */

/* Longest code: lengths are stored in 4 bits. */
#define HWA_HUFF_MAX_LEN 15
/* Largest alphabet (the sparse gaps' 256 symbols, codebooks' up to 256). */
#define HWA_HUFF_MAX_SYMS 256

/* Code lengths (0: unused, else 1..max_len) of an optimal prefix code for
 * symbols 0..n-1 with counts[s] occurrences, limited to max_len bits.
 * Deterministic: the tree merges the two lightest nodes, ties going to the
 * lower id (leaves are ids 0..n-1, merged nodes n, n+1, ... in order); when
 * the tree is deeper than max_len, the length counts are lowered as in JPEG
 * (ITU T.81 annex K.3); then the lengths are given out shortest first to
 * symbols by decreasing count, ties to the lower symbol. One used symbol
 * gets length 1; none, all zeros. tests/reference/huffman_lengths.py is the
 * independent reference. Errors: HWA_E_INVALID (n out of range, max_len
 * too small for the used symbols). */
hwa_status hwa__huff_lengths(const uint64_t *counts, int n, int max_len, uint8_t *len);

/* A code ready to write or read. */
typedef struct hwa__huff {
    int n;                                   /* symbols */
    uint8_t len[HWA_HUFF_MAX_SYMS];
    uint32_t code[HWA_HUFF_MAX_SYMS];        /* canonical codes, len[s] bits */
    int count[HWA_HUFF_MAX_LEN + 1];         /* codes of each length */
    uint16_t sorted[HWA_HUFF_MAX_SYMS];      /* used symbols by (length, symbol) */
    int n_used;
} hwa__huff;
/* Canonical codes from lengths, checked: every length <= HWA_HUFF_MAX_LEN,
 * and the code complete and prefix-free (Kraft sum exactly 1), except that
 * one used symbol of length 1 is allowed (its code is the bit 0) and no
 * used symbol at all. HWA_E_FORMAT "Huffman table: ..." otherwise (what
 * the caller prefixes with the field and offset). */
hwa_status hwa__huff_build(hwa__huff *h, const uint8_t *len, int n);
void hwa__huff_put(hwa__bitw *w, const hwa__huff *h, int sym);
/* The next symbol; HWA_E_FORMAT when the stream ends mid-code or holds a
 * code no symbol has (a one-symbol code given a 1 bit). */
hwa_status hwa__huff_get(hwa__bitr *r, const hwa__huff *h, int *sym);

/* ---- layers ---------------------------------------------------------------- */

/* Frees a layer's arrays and zeroes it. */
void hwa__cm_layer_clear(hwa_cm_layer *L);
/* CRC-32 (IEEE 802.3, the zlib/PNG one) of n bytes. */
uint32_t hwa__crc32(const uint8_t *p, size_t n);

#endif
