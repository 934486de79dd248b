/* Overflow-checked size arithmetic for every size that comes from outside
 * (a caller, a file). Each returns false, leaving *out untouched, when the
 * exact result does not fit. */
#ifndef HWADAPT_CORE_CHECKED_H
#define HWADAPT_CORE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool hwa__add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool hwa__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool hwa__add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool hwa__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool hwa__add_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool hwa__mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
/* Rounds x up to a multiple of the power of two align. */
static inline bool hwa__align_up(size_t x, size_t align, size_t *out) {
    size_t t;
    if (!hwa__add_size(x, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

#endif
