/* A row of block weights against up to HWA_QROWS_MAX 8-bit activation rows
 * (each weight block widened once for all of them), with AVX2: every
 * weight block widened to 32 int8 in a register (nibbles split with a shift
 * and a mask, Q6_K's top bits merged in), multiplied by the activations'
 * block with maddubs (|w| times a with w's sign moved onto a; pairs summed
 * to int16, at most 2 * 128 * 127 < 2^15) and madd with ones (to int32),
 * then scaled in f32 and accumulated with an FMA per block; one horizontal
 * sum per row. The same sums as the scalar row (mm_quant.c), in another
 * order of the f32 additions. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "backends/cpu/matmul/mm_quant.h"

static inline __m256i dot8(__m256i w, __m256i a) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16f(const uint8_t *p) { return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); }

/* 16 bytes of nibbles: low nibbles (values 0-15) then high (16-31). */
static inline __m256i nibbles(const uint8_t *q) {
    const __m128i b = _mm_loadu_si128((const __m128i *)q);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(15));
}

void hwa__qrows_avx2(hwa_dtype t, const uint8_t *w, int64_t K, int M, const int8_t *const *qas, const float *const *das,
                     const int32_t *const *sas, float *out) {
    __m256 accs[HWA_QROWS_MAX];
    float extras[HWA_QROWS_MAX]; /* the mins' terms, per block */
    for (int m = 0; m < M; m++) accs[m] = _mm256_setzero_ps(), extras[m] = 0.0f;
#define ROWS for (int m = 0; m < M; m++)
#define acc accs[m]
#define extra extras[m]
#define qa qas[m]
#define da das[m]
#define sa sas[m]
    const __m256i eight = _mm256_set1_epi8(8), k32 = _mm256_set1_epi8(32), m4 = _mm256_set1_epi8(15);
    switch (t) {
    case HWA_Q8_0:
        for (int64_t b = 0; b < K / 32; b++, w += 34) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w + 2));
            const float dw = f16f(w);
            ROWS {
                const __m256i d = dot8(q, _mm256_loadu_si256((const __m256i *)(qa + 32 * b)));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * da[b]), acc);
            }
        }
        break;
    case HWA_Q4_0:
        for (int64_t b = 0; b < K / 32; b++, w += 18) {
            const __m256i q = _mm256_sub_epi8(nibbles(w + 2), eight);
            const float dw = f16f(w);
            ROWS {
                const __m256i d = dot8(q, _mm256_loadu_si256((const __m256i *)(qa + 32 * b)));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * da[b]), acc);
            }
        }
        break;
    case HWA_Q4_1:
        for (int64_t b = 0; b < K / 32; b++, w += 20) {
            const __m256i q = nibbles(w + 4);
            const float dw = f16f(w), mw = f16f(w + 2);
            ROWS {
                const __m256i d = dot8(q, _mm256_loadu_si256((const __m256i *)(qa + 32 * b)));
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * da[b]), acc);
                extra += mw * da[b] * (float)sa[b];
            }
        }
        break;
    case HWA_Q4_K:
        for (int64_t kb = 0; kb < K / 256; kb++, w += 144) {
            const float d = f16f(w), dmin = f16f(w + 2);
            const uint8_t *sc = w + 4, *q = w + 16;
            for (int c = 0; c < 4; c++) {
                const __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                const __m256i lo = _mm256_and_si256(bytes, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
                for (int h = 0; h < 2; h++) {
                    const int j = 2 * c + h;
                    int s6, m6;
                    hwa__q4k_scale_min(j, sc, &s6, &m6);
                    const int64_t b = kb * 8 + j;
                    const float ds = d * (float)s6, dm = dmin * (float)m6;
                    ROWS {
                        const __m256i dd = dot8(h ? hi : lo, _mm256_loadu_si256((const __m256i *)(qa + 32 * b)));
                        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dd), _mm256_set1_ps(ds * da[b]), acc);
                        extra -= dm * da[b] * (float)sa[b];
                    }
                }
            }
        }
        break;
    case HWA_Q6_K:
        for (int64_t kb = 0; kb < K / 256; kb++, w += 210) {
            const int8_t *sc = (const int8_t *)(w + 192);
            const float d = f16f(w + 208);
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = w + 64 * h, *qh = w + 128 + 32 * h;
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
                const __m256i m2 = _mm256_set1_epi8(3);
                __m256i v[4];
                v[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
                v[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
                v[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
                v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
                for (int g = 0; g < 4; g++) {
                    const int64_t b = kb * 8 + 4 * h + g;
                    const __m256i q = _mm256_sub_epi8(v[g], k32);
                    /* lanes 0-3 sum values 0-15 (scale 2j), lanes 4-7 values 16-31 (scale 2j + 1) */
                    const int j = 4 * h + g;
                    const float s0 = (float)sc[2 * j] * d, s1 = (float)sc[2 * j + 1] * d;
                    const __m256 sv = _mm256_set_ps(s1, s1, s1, s1, s0, s0, s0, s0);
                    ROWS {
                        const __m256i dd = dot8(q, _mm256_loadu_si256((const __m256i *)(qa + 32 * b)));
                        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dd), _mm256_mul_ps(sv, _mm256_set1_ps(da[b])), acc);
                    }
                }
            }
        }
        break;
    default:
        break;
    }
    ROWS out[m] = hsum(acc) + extra;
#undef ROWS
#undef acc
#undef extra
#undef qa
#undef da
#undef sa
}
#endif
