/* Internal entry points of the CPU backend for tests and benchmarks. */
#ifndef HWADAPT_CPU_BACKEND_H
#define HWADAPT_CPU_BACKEND_H

/* HWA_NUM_THREADS when set and valid, else the CPUs this process may use. */
int hwa__cpu_default_threads(void);

/* The CPUs of a core-set backend ("cpu:A-B"); 0 for the whole CPU or a
 * backend that is not the CPU's. */
typedef struct hwa_backend hwa_backend;
int hwa__cpu_backend_cores(const hwa_backend *be);

/* Tests: fn(ud) runs inside every compute of a CPU backend, once its
 * threads are bound and before its first node; NULL clears it. Not
 * thread-safe against compute. */
void hwa__cpu_set_compute_probe(void (*fn)(void *ud), void *ud);

/* Tests: run every node with its scalar reference kernel (the yardstick the
 * fast kernels are compared with). Not thread-safe against compute. */
#include <stdbool.h>
void hwa__cpu_set_reference_only(bool on);

/* Empties the matrix libraries' own caches of kernels and their scratch
 * (oneDNN's primitive cache; the backends' own caches go with their
 * contexts), so that the memory a later run takes is measured from a
 * clean start (hwadapt tune). Not thread-safe against compute. */
void hwa__cpu_drop_library_caches(void);

#endif
