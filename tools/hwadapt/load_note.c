/* See load_note.h. */
#include "load_note.h"

#include <math.h>
#include <string.h>

#include "core/json_write.h"

void load_note_begin(load_note *l) { l->have = hwa_load_sample_take(NULL, &l->at) == HWA_OK; }

bool load_note_take(load_note *l, int threads, hwa_load_delta *d, int *cpus) {
    hwa_load_sample now;
    if (hwa_load_sample_take(NULL, &now) != HWA_OK) {
        l->have = false;
        return false;
    }
    const bool ok = l->have && hwa_load_delta_compute(&l->at, &now, threads, now.cpus_counted, 0.10, d) == HWA_OK;
    if (cpus) *cpus = now.cpus_counted;
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
    fprintf(f, "\"contended\":%s,\"why\":", d->contended ? "true" : "false");
    hwa__json_write_str(f, d->why, strlen(d->why));
    fputs("}", f);
}
