/* Building the sentences of notes and recommendations. Internal to src/bench. */
#ifndef HWADAPT_BENCH_TEXT_H
#define HWADAPT_BENCH_TEXT_H

#include "core/internal.h"

/* Appends the formatted text to the NUL-terminated string in buf (capacity
 * cap), after sep when buf is not empty; what does not fit is cut off. */
void hwa__bench_catf(char *buf, size_t cap, const char *sep, const char *fmt, ...) HWA_PRINTF(4, 5);

#endif
