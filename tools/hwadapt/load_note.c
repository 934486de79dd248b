/* See load_note.h. */
#include "load_note.h"

#include <math.h>
#include <sched.h>

int load_note_cpus(void) {
    cpu_set_t set;
    const int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return n > 0 ? n : 1;
}

void load_note_begin(load_note *l) { l->have = hwa_load_sample_take(NULL, &l->at) == HWA_OK; }

bool load_note_take(load_note *l, int threads, hwa_load_delta *d) {
    hwa_load_sample now;
    if (hwa_load_sample_take(NULL, &now) != HWA_OK) {
        l->have = false;
        return false;
    }
    const bool ok =
        l->have && hwa_load_delta_compute(&l->at, &now, threads, load_note_cpus(), 0.10, d) == HWA_OK;
    l->at = now;
    l->have = true;
    return ok;
}

static void num(FILE *f, const char *key, double v, bool comma) {
    if (isfinite(v)) fprintf(f, "\"%s\":%.4g%s", key, v, comma ? "," : "");
    else fprintf(f, "\"%s\":null%s", key, comma ? "," : "");
}

void load_note_json(FILE *f, const hwa_load_delta *d, bool known) {
    if (!known) {
        fputs(",\"load\":null", f);
        return;
    }
    fputs(",\"load\":{", f);
    num(f, "self_cpu_share", d->self_share, true);
    num(f, "others_cpus", d->others_cpus, true);
    num(f, "others_share", d->others_share, true);
    num(f, "throttled_s", d->throttled_s, true);
    fprintf(f, "\"contended\":%s,\"why\":\"", d->contended ? "true" : "false");
    for (const char *c = d->why; *c; c++) /* the library's sentences: plain ASCII */
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if ((unsigned char)*c >= 0x20) fputc(*c, f);
    fputs("\"}", f);
}
