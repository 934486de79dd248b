/* Threads of a CPU compute under contention (see cpu_load.c). */
#ifndef HWADAPT_CPU_LOAD_H
#define HWADAPT_CPU_LOAD_H

#include <stdint.h>

/* The threads a compute asked for `requested` uses now: fewer when other
 * processes keep CPUs busy (looked at about every 100 ms), at least 1.
 * Thread-safe; a clock read per call and a few /proc reads per interval. */
int hwa__cpu_threads_now(int requested);

/* Computes that asked for more than one thread since the process started,
 * and how many of them got fewer. Thread-safe. */
void hwa__cpu_threads_cut_stats(uint64_t *computes, uint64_t *cut);

#endif
