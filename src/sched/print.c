/* What a plan says, for people (hwa_placement_print) and programs
 * (hwa_placement_write_json; docs/plan.md has the schema). */
#include <math.h>
#include <string.h>

#include "core/json_write.h"
#include "sched/sched_internal.h"

static const char *mode_name(hwa_place_mode m) {
    return m == HWA_PLACE_SINGLE ? "single" : m == HWA_PLACE_LAYERS ? "layers" : m == HWA_PLACE_GIVEN ? "given" : "auto";
}

/* The device other than d with the lowest cost for node i, or -1. */
static int runner_up(const hwa_placement *s, int i, int d) {
    int best = -1;
    for (int e = 0; e < s->n_dev; e++) {
        if (e == d || s->excluded[e]) continue;
        if (best < 0 || s->cost[(size_t)i * s->n_dev + e] < s->cost[(size_t)i * s->n_dev + best]) best = e;
    }
    return best;
}

/* "measurement" only when both devices' times for node i were measured. */
static const char *how(const hwa_placement *s, int i, int d, int e) {
    return s->measured[(size_t)i * s->n_dev + d] && s->measured[(size_t)i * s->n_dev + e] ? "measurement" : "estimate";
}

/* The sentence behind node i's reason code. */
static void reason_text(const hwa_placement *s, int i, char *buf, size_t cap) {
    const hwa_tensor *t = s->g->nodes[i];
    const int d = s->where[i];
    if (d < 0) {
        snprintf(buf, cap, "a view: computes nothing");
        return;
    }
    const double *c = &s->cost[(size_t)i * s->n_dev];
    const int r = runner_up(s, i, d);
    switch ((hwa__reason)s->reason[i]) {
    case HWA__R_ONLY: snprintf(buf, cap, "%s is the only device of the plan", s->dev[d].id); break;
    case HWA__R_SINGLE: snprintf(buf, cap, "the whole graph was asked on %s", s->dev[d].id); break;
    case HWA__R_STAGE: {
        const hwa__cand *k = &s->cand[s->chosen];
        snprintf(buf, cap, "stage %d of the layer split (cut at node %d)", i < k->cut ? 1 : 2, k->cut);
        break;
    }
    case HWA__R_INPLACE:
        if (t->view_src->name[0]) snprintf(buf, cap, "writes '%s' in place, which lives on %s", t->view_src->name, s->dev[d].id);
        else snprintf(buf, cap, "writes its input in place, which lives on %s", s->dev[d].id);
        break;
    case HWA__R_LACKS: {
        int want = -1;
        for (int e = 0; e < s->n_dev; e++)
            if (!strcmp(s->cand[s->chosen].what, s->dev[e].id)) want = e;
        const char *why = want >= 0 ? hwa__backend_unsupported_reason(s->be[want], t) : NULL;
        snprintf(buf, cap, "%s lacks %s (%s)%s%s", want >= 0 ? s->dev[want].id : "the preferred device",
                 hwa__op_name(t->op), hwa_dtype_name(t->dtype), why ? ": " : "", why ? why : "");
        break;
    }
    case HWA__R_FASTER:
        if (r < 0) snprintf(buf, cap, "%s is the only device left", s->dev[d].id);
        else if (!isfinite(c[r]) && !hwa_backend_supports(s->be[r], t))
            snprintf(buf, cap, "%s lacks %s", s->dev[r].id, hwa__op_name(t->op));
        else if (!isfinite(c[r])) snprintf(buf, cap, "%s has no calibrated figures", s->dev[r].id);
        else snprintf(buf, cap, "%s %.1fx faster than %s by %s", s->dev[d].id, c[d] > 0 ? c[r] / c[d] : INFINITY,
                      s->dev[r].id, how(s, i, d, r));
        break;
    case HWA__R_FOLLOWS:
        if (r >= 0 && isfinite(c[r]) && c[r] < c[d])
            snprintf(buf, cap, "follows its inputs: %s would be %.1fx faster by %s, less than the copies cost",
                     s->dev[r].id, c[r] > 0 ? c[d] / c[r] : INFINITY, how(s, i, d, r));
        else snprintf(buf, cap, "follows its inputs and weights on %s", s->dev[d].id);
        break;
    default: snprintf(buf, cap, "?"); break;
    }
}

const char *hwa_placement_node_reason(const hwa_placement *s, int i, char *buf, size_t cap) {
    if (!s || i < 0 || i >= s->n || !buf || cap == 0) return "";
    reason_text(s, i, buf, cap);
    return s->where[i] < 0 ? "view" : hwa__reason_code((hwa__reason)s->reason[i]);
}

static const char *fmt_time(double sec, char *buf, size_t cap) {
    if (!isfinite(sec)) snprintf(buf, cap, "n/a");
    else if (sec < 1e-3) snprintf(buf, cap, "%.1f us", sec * 1e6);
    else if (sec < 1) snprintf(buf, cap, "%.3f ms", sec * 1e3);
    else snprintf(buf, cap, "%.3f s", sec);
    return buf;
}

static const char *fmt_mib(int64_t b, char *buf, size_t cap) {
    if (b < 0) snprintf(buf, cap, "unknown");
    else snprintf(buf, cap, "%.1f MiB", (double)b / 1048576.0);
    return buf;
}

static int nodes_on(const hwa_placement *s, int d) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->where[i] == d;
    return n;
}

hwa_status hwa_placement_print(const hwa_placement *s, FILE *f, bool per_node) {
    if (!s || !f) return hwa__err(NULL, HWA_E_MISUSE, "hwa_placement_print: NULL argument");
    const hwa__cand *c = &s->cand[s->chosen];
    char a[32], b[32], e[32];
    fprintf(f, "placement: %s (%s), estimated %s a run\n", s->choice, mode_name(s->o.mode), fmt_time(c->est_s, a, sizeof a));
    fprintf(f, "copies: %.1f KiB a run (%s), %.1f KiB once (weights and inputs that do not change)\n",
            c->copy_bytes / 1024.0, fmt_time(c->copy_s, b, sizeof b), c->once_bytes / 1024.0);
    const double margin = s->o.mem_margin > 0 ? s->o.mem_margin : 0.10;
    fprintf(f, "devices (memory kept free: %.0f%%):\n", margin * 100);
    for (int d = 0; d < s->n_dev; d++) {
        const hwa_place_device *dv = &s->dev[d];
        fprintf(f, "  %-10s %3d nodes  %10s  needs %s of %s%s%s\n", dv->id, nodes_on(s, d),
                fmt_time(c->dev_s[d], a, sizeof a), fmt_mib(c->need[d], b, sizeof b),
                fmt_mib(hwa_placement_device_avail_bytes(s, d), e, sizeof e), dv->mem_capped ? " (capped by HWA_MEM_LIMIT)" : "",
                s->excluded[d] ? "  [excluded after a failure]" : "");
    }
    if (s->n_cand > 1) {
        fprintf(f, "alternatives:\n");
        for (int k = 0; k < s->n_cand; k++) {
            if (k == s->chosen) continue;
            fprintf(f, "  %-44s %10s  rejected: %s\n", s->cand[k].what, fmt_time(s->cand[k].est_s, a, sizeof a),
                    s->cand[k].why_not);
        }
    }
    if (!per_node) return HWA_OK;
    fprintf(f, "nodes:\n  %4s  %-18s %-18s %-10s %10s  %-8s  %s\n", "#", "op", "shape", "device", "estimate", "source",
            "reason");
    for (int i = 0; i < s->n; i++) {
        const hwa_tensor *t = s->g->nodes[i];
        if (s->where[i] < 0) continue;
        char sh[64], why[256];
        reason_text(s, i, why, sizeof why);
        const int d = s->where[i];
        fprintf(f, "  %4d  %-18s %-18s %-10s %10s  %-8s  %s: %s\n", i, hwa__op_name(t->op),
                hwa__shape_fmt(t, sh, sizeof sh), s->dev[d].id,
                fmt_time(s->cost[(size_t)i * s->n_dev + d], a, sizeof a),
                s->measured[(size_t)i * s->n_dev + d] ? "measured" : "roofline", hwa__reason_code((hwa__reason)s->reason[i]),
                why);
    }
    return HWA_OK;
}

hwa_status hwa_placement_write_json(const hwa_placement *s, FILE *f) {
    if (!s || !f) return hwa__err(NULL, HWA_E_MISUSE, "hwa_placement_write_json: NULL argument");
    const hwa__cand *c = &s->cand[s->chosen];
    fprintf(f, "{\"schema\": \"hwadapt.plan/1\", \"mode\": \"%s\", \"placement\": ", mode_name(s->o.mode));
    hwa__json_write_cstr(f, s->choice);
    fprintf(f, ", \"estimate_s\": ");
    hwa__json_write_num(f, c->est_s);
    fprintf(f, ", \"copy_s_per_run\": ");
    hwa__json_write_num(f, c->copy_s);
    fprintf(f, ", \"copy_bytes_per_run\": %.0f, \"copy_bytes_once\": %.0f, \"mem_margin\": %.3g,\n \"devices\": [",
            c->copy_bytes, c->once_bytes, s->o.mem_margin > 0 ? s->o.mem_margin : 0.10);
    for (int d = 0; d < s->n_dev; d++) {
        const hwa_place_device *dv = &s->dev[d];
        fprintf(f, "%s\n  {\"id\": ", d ? "," : "");
        hwa__json_write_cstr(f, dv->id);
        fprintf(f, ", \"name\": ");
        hwa__json_write_cstr(f, dv->name);
        fprintf(f, ", \"excluded\": %s, \"nodes\": %d, \"estimate_s\": ", s->excluded[d] ? "true" : "false",
                nodes_on(s, d));
        hwa__json_write_num(f, c->dev_s[d]);
        fprintf(f, ", \"need_bytes\": %lld, \"arena_bytes\": %lld, \"gradient_bytes\": %lld, \"shadow_bytes\": %lld, "
                   "\"leaf_bytes\": %lld, \"avail_bytes\": ",
                (long long)c->need[d], (long long)c->arena[d], (long long)c->grads[d], (long long)c->shadow[d],
                (long long)c->leaves[d]);
        const int64_t av = hwa_placement_device_avail_bytes(s, d);
        if (av >= 0) fprintf(f, "%lld", (long long)av);
        else fputs("null", f);
        fprintf(f, ", \"mem_bytes\": ");
        if (dv->mem_bytes >= 0) fprintf(f, "%lld", (long long)dv->mem_bytes);
        else fputs("null", f);
        fprintf(f, ", \"mem_capped\": %s, \"peak_gflops_f32\": ", dv->mem_capped ? "true" : "false");
        hwa__json_write_num(f, dv->peak_gflops[HWA_F32] > 0 ? dv->peak_gflops[HWA_F32] : NAN);
        fprintf(f, ", \"mem_gbs\": ");
        hwa__json_write_num(f, dv->mem_gbs > 0 ? dv->mem_gbs : NAN);
        fprintf(f, ", \"h2d_gbs\": ");
        hwa__json_write_num(f, dv->host_memory ? NAN : dv->h2d_gbs);
        fprintf(f, ", \"d2h_gbs\": ");
        hwa__json_write_num(f, dv->host_memory ? NAN : dv->d2h_gbs);
        fprintf(f, ", \"launch_us\": ");
        hwa__json_write_num(f, dv->launch_us > 0 ? dv->launch_us : NAN);
        fprintf(f, ", \"host_memory\": %s}", dv->host_memory ? "true" : "false");
    }
    fprintf(f, "],\n \"alternatives\": [");
    for (int k = 0; k < s->n_cand; k++) {
        fprintf(f, "%s\n  {\"placement\": ", k ? "," : "");
        hwa__json_write_cstr(f, s->cand[k].what);
        fprintf(f, ", \"chosen\": %s, \"fits\": %s, \"estimate_s\": ", k == s->chosen ? "true" : "false",
                s->cand[k].fits ? "true" : "false");
        hwa__json_write_num(f, s->cand[k].est_s);
        fprintf(f, ", \"why\": ");
        hwa__json_write_cstr(f, k == s->chosen ? "the lowest estimate that fits" : s->cand[k].why_not);
        fprintf(f, ", \"need_bytes\": {");
        for (int d = 0; d < s->n_dev; d++) {
            fprintf(f, "%s", d ? ", " : "");
            hwa__json_write_cstr(f, s->dev[d].id);
            fprintf(f, ": %lld", (long long)s->cand[k].need[d]);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "],\n \"nodes\": [");
    bool first = true;
    for (int i = 0; i < s->n; i++) {
        const hwa_tensor *t = s->g->nodes[i];
        const int d = s->where[i];
        if (d < 0) continue;
        char why[256];
        reason_text(s, i, why, sizeof why);
        fprintf(f, "%s\n  {\"index\": %d, \"op\": \"%s\", \"name\": ", first ? "" : ",", i, hwa__op_name(t->op));
        first = false;
        hwa__json_write_cstr(f, t->name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", hwa_dtype_name(t->dtype));
        for (int k = 0; k < t->ndim; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)t->shape[k]);
        fprintf(f, "], \"device\": ");
        hwa__json_write_cstr(f, s->dev[d].id);
        fprintf(f, ", \"estimate_s\": ");
        hwa__json_write_num(f, s->cost[(size_t)i * s->n_dev + d]);
        fprintf(f, ", \"source\": \"%s\", \"reason\": \"%s\", \"why\": ",
                s->measured[(size_t)i * s->n_dev + d] ? "measured" : "roofline",
                hwa__reason_code((hwa__reason)s->reason[i]));
        hwa__json_write_cstr(f, why);
        fprintf(f, ", \"flops\": %.0f, \"bytes\": %.0f, \"costs\": {", s->flops[i], s->bytes[i]);
        for (int e = 0; e < s->n_dev; e++) {
            fprintf(f, "%s", e ? ", " : "");
            hwa__json_write_cstr(f, s->dev[e].id);
            fprintf(f, ": ");
            hwa__json_write_num(f, s->cost[(size_t)i * s->n_dev + e]);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "]}\n");
    return ferror(f) ? hwa__err(s->ctx, HWA_E_IO, "plan: writing the JSON failed") : HWA_OK;
}
