/* Internal entry points of the CPU backend for tests and benchmarks. */
#ifndef HWADAPT_CPU_BACKEND_H
#define HWADAPT_CPU_BACKEND_H

/* HWA_NUM_THREADS when set and valid, else the CPUs this process may use. */
int hwa__cpu_default_threads(void);

/* Tests: run every node with its scalar reference kernel (the yardstick the
 * fast kernels are compared with). Not thread-safe against compute. */
#include <stdbool.h>
void hwa__cpu_set_reference_only(bool on);

#endif
