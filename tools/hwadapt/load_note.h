/* What the commands say about other processes' use of the CPUs during a
 * run (the library's hwa_load_* figures): a JSON member and a sentence. */
#ifndef HWADAPT_TOOLS_LOAD_NOTE_H
#define HWADAPT_TOOLS_LOAD_NOTE_H

#include <stdbool.h>
#include <stdio.h>

#include "hwadapt/hwadapt.h"

typedef struct load_note {
    hwa_load_sample at; /* the start of the current interval */
    bool have;
} load_note;

/* Starts an interval (a failed sample leaves the interval unknown). */
void load_note_begin(load_note *l);
/* Ends the interval begun last and starts the next one; false when the
 * figures are unknown. threads: the run's thread count. The shares are over
 * the CPUs the samples counted (this process's affinity mask), d->cpus'
 * count in *cpus when cpus is not NULL. */
bool load_note_take(load_note *l, int threads, hwa_load_delta *d, int *cpus);
/* ,"load":{...} (self_cpu_share, others_cpus, others_share, throttled_s,
 * contended, why), or ,"load":null when unknown. */
void load_note_json(FILE *f, const hwa_load_delta *d, bool known);

#endif
