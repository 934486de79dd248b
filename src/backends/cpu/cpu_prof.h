/* HWA_PROFILE=1: the CPU backend times every node it runs and, when the
 * backend is freed, prints to stderr the total time per (op, kernel) pair,
 * slowest first. A debugging aid; off (and free of cost) by default. */
#ifndef HWADAPT_CPU_PROF_H
#define HWADAPT_CPU_PROF_H

#include "core/internal.h"

typedef struct hwa__cpu_prof hwa__cpu_prof;

/* NULL when HWA_PROFILE is unset or "0" (or out of memory). */
hwa__cpu_prof *hwa__cpu_prof_new(hwa_ctx *ctx);
/* Prints the table (if anything was timed) and frees; NULL is a no-op. */
void hwa__cpu_prof_free(hwa__cpu_prof *p);
double hwa__cpu_prof_now(void);
/* Adds secs to node's row: its op, the kernel that ran, and how many nodes
 * it took (fused ones included). */
void hwa__cpu_prof_add(hwa__cpu_prof *p, const hwa_tensor *node, const char *kernel, int used, double secs);

#endif
