/* Progress on stderr while long work runs: a line redrawn in place with the
 * step, the time left and what runs now. Only on a terminal and without
 * --quiet; nothing at all otherwise, so logs and pipes stay clean. */
#ifndef HWADAPT_TOOLS_PROGRESS_H
#define HWADAPT_TOOLS_PROGRESS_H

#include <stdbool.h>

typedef struct cli_progress {
    bool on;          /* stderr is a terminal and --quiet was not given */
    double t0;        /* when the work started (hwa_bench_clock_now) */
    double deadline;  /* when the work must end (a time budget); 0: none */
} cli_progress;

/* Starts the clock; on = !quiet && stderr is a terminal. */
void cli_progress_start(cli_progress *p, bool quiet);
/* "[3/24] ~12 s left  MSG", cut to the terminal's width: the time left from
 * the deadline when there is one, else from the pace of the steps done. */
void cli_progress_step(cli_progress *p, int done, int total, const char *msg);
/* For hwa_probe_opts.progress (ud: a cli_progress): "calibrating: WHAT",
 * with the time spent so far (a calibration has no count of steps). */
void cli_progress_probe(void *ud, const char *what);
/* Erases the line (before normal output goes to the terminal). */
void cli_progress_clear(const cli_progress *p);
/* "12 s", "3 min 20 s", "1 h 05 min": a duration for a person. */
void cli_duration(char *buf, int cap, double seconds);

#endif
