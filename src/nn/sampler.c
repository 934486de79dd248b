/* Next-token sampling: greedy, or softmax with a temperature, restricted to
 * the top k and then to the smallest set whose probability reaches top_p,
 * drawn with a seeded xorshift generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "hwadapt/nn.h"

typedef struct cand {
    float p;
    int32_t id;
} cand;

struct hwa_sampler {
    hwa_sampler_params p;
    int32_t n;
    uint64_t state;
    cand *c; /* [n] */
};

/* SplitMix64 spreads the seed so that nearby seeds give unrelated streams
 * and the state is never zero. */
static uint64_t seed_state(uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;
}

/* xorshift64*: a uniform float in [0, 1). */
static float next_uniform(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (float)((x * 0x2545f4914f6cdd1dull) >> 40) * (1.0f / 16777216.0f);
}

hwa_status hwa_sampler_new(const hwa_sampler_params *params, int32_t vocab_size, hwa_sampler **out) {
    if (out) *out = NULL;
    if (!params || !out) return hwa__err(NULL, HWA_E_MISUSE, "sampler: NULL params or out");
    if (vocab_size <= 0) return hwa__err(NULL, HWA_E_RANGE, "sampler: vocabulary size %d must be positive", vocab_size);
    if (!(params->temperature >= 0.0f) || !isfinite(params->temperature))
        return hwa__err(NULL, HWA_E_RANGE, "sampler: temperature %g must be finite and >= 0", params->temperature);
    if (!(params->top_p > 0.0f && params->top_p <= 1.0f))
        return hwa__err(NULL, HWA_E_RANGE, "sampler: top-p %g must be in (0, 1]", params->top_p);
    if (params->top_k < 0) return hwa__err(NULL, HWA_E_RANGE, "sampler: top-k %d must be >= 0", params->top_k);
    hwa_sampler *s = calloc(1, sizeof *s);
    if (s) s->c = malloc((size_t)vocab_size * sizeof *s->c);
    if (!s || !s->c) {
        free(s);
        return hwa__err(NULL, HWA_E_NOMEM, "sampler: out of memory for %d candidates", vocab_size);
    }
    s->p = *params;
    s->n = vocab_size;
    s->state = seed_state(params->seed);
    *out = s;
    return HWA_OK;
}

void hwa_sampler_free(hwa_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s);
}

static int by_prob_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

hwa_status hwa_sampler_sample(hwa_sampler *s, const float *logits, int32_t *token) {
    if (!s || !logits || !token) return hwa__err(NULL, HWA_E_MISUSE, "sampler: NULL argument");
    int32_t best = 0;
    for (int32_t i = 1; i < s->n; i++)
        if (logits[i] > logits[best]) best = i;
    if (s->p.temperature == 0.0f || !isfinite(logits[best])) {
        *token = best;
        return HWA_OK;
    }
    /* Softmax of logits / T, shifted by the maximum. */
    double sum = 0.0;
    for (int32_t i = 0; i < s->n; i++) {
        const float p = expf((logits[i] - logits[best]) / s->p.temperature);
        s->c[i] = (cand){p, i};
        sum += p;
    }
    int32_t n = s->n;
    if ((s->p.top_k > 0 && s->p.top_k < n) || s->p.top_p < 1.0f) {
        if (s->p.top_k == 0 && n > 1) {
            /* Top-p alone: a token below (1 - top_p) / (n - 1) of the mass
             * cannot be in the nucleus (all such tokens together hold less
             * than 1 - top_p), so only the rest needs sorting. */
            const double cut = (1.0 - s->p.top_p) * sum / (n - 1);
            int32_t kept = 0;
            for (int32_t i = 0; i < n; i++)
                if (s->c[i].p >= cut) s->c[kept++] = s->c[i];
            n = kept; /* the most likely token always passes */
        }
        qsort(s->c, (size_t)n, sizeof *s->c, by_prob_desc);
        if (s->p.top_k > 0 && s->p.top_k < n) {
            n = s->p.top_k;
            sum = 0.0;
            for (int32_t i = 0; i < n; i++) sum += s->c[i].p;
        }
        if (s->p.top_p < 1.0f) {
            double acc = 0.0;
            int32_t keep = n;
            for (int32_t i = 0; i < n; i++) {
                acc += s->c[i].p;
                if (acc >= s->p.top_p * sum) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
            sum = acc < sum ? acc : sum;
        }
    }
    const double r = (double)next_uniform(&s->state) * sum;
    double acc = 0.0;
    for (int32_t i = 0; i < n; i++) {
        acc += s->c[i].p;
        if (r < acc) {
            *token = s->c[i].id;
            return HWA_OK;
        }
    }
    *token = s->c[n - 1].id; /* rounding left r at the very top */
    return HWA_OK;
}
