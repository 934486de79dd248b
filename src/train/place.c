/* Device "auto": the trainer's graphs placed across devices. The parameters,
 * the data and the optimizer state stay on the home backend (t->be, the
 * CPU); each training and evaluation graph runs through its own placement
 * over the device list, and the optimizer's update graph through one over
 * the same list, so that every tensor a graph reads from another device is
 * copied, never read in place by a backend that does not own it. Gradients
 * live where the training graph first writes them. With cfg.fallback a
 * device that fails is dropped from the list and every graph placed again
 * without it; the compute that failed is repeated, which is safe: a
 * training or evaluation graph writes nothing that outlives it but its
 * gradients (overwritten), and an optimizer step fails on another device
 * before any update (the updates run on the home, after every other node). */
#include <string.h>

#include "train/train_internal.h"

/* The list as "cpu:0,opencl:0". */
static void list_devices(hwa_trainer *t) {
    t->dev_list[0] = '\0';
    for (int k = 0; k < t->n_dev; k++)
        snprintf(t->dev_list + strlen(t->dev_list), sizeof t->dev_list - strlen(t->dev_list), "%s%s", k ? "," : "",
                 t->dev[k].id);
}

hwa_status hwa__train_open_devices(hwa_trainer *t, const hwa_train_config *cfg) {
    hwa_status st = hwa_place_devices_open(t->ctx, cfg->devices, cfg->passport, t->be, t->dev_be, t->dev, t->dev_made,
                                           &t->n_dev);
    if (st) return hwa__err(NULL, st, "train: --devices %s: %s", cfg->devices && *cfg->devices ? cfg->devices : "(every device)",
                            hwa_last_error());
    t->placed = true;
    list_devices(t);
    bool home = false;
    for (int k = 0; k < t->n_dev; k++) home |= t->dev_be[k] == t->be;
    if (!home)
        return hwa__err(NULL, HWA_E_INVALID, "train: --devices %s must include cpu, which holds the parameters and the data",
                        cfg->devices);
    t->place = cfg->place ? *cfg->place : (hwa_place_opts){0};
    t->place.assign = NULL; /* one assignment cannot fit every graph */
    if (t->place.mode == HWA_PLACE_GIVEN)
        return hwa__err(NULL, HWA_E_INVALID, "train: a given node assignment cannot place every graph of the trainer");
    return HWA_OK;
}

/* The placement of graph g over the list with opts, allocated. */
static hwa_status place_graph(hwa_trainer *t, hwa_graph *g, const hwa_place_opts *opts, hwa_placement **pl) {
    hwa_status st = hwa_placement_new(g, t->dev_be, t->dev, t->n_dev, opts, pl);
    if (st == HWA_OK && (st = hwa_placement_alloc(*pl))) {
        hwa_placement_free(*pl);
        *pl = NULL;
    }
    if (st) return hwa__err(NULL, st, "train: placing across %s: %s", t->dev_list, hwa_ctx_last_error(t->ctx));
    return HWA_OK;
}

#define N_GRAPHS 6
static hwa__batch_graph *graph_k(hwa_trainer *t, int k) {
    hwa__batch_graph *bgs[N_GRAPHS] = {&t->train_full, &t->train_rest, &t->unit_g[0], &t->unit_g[1],
                                       &t->eval_full, &t->eval_rest};
    return bgs[k];
}

hwa_status hwa__train_place(hwa_trainer *t, hwa__batch_graph *bg) {
    hwa_placement_free(bg->pl);
    bg->pl = NULL;
    return bg->g ? place_graph(t, bg->g, &t->place, &bg->pl) : HWA_OK;
}

hwa_status hwa__train_place_optim(hwa_trainer *t) {
    /* automatic: its updates run where the parameters are in any case */
    hwa_place_opts o = {.mem_margin = t->place.mem_margin, .profile_path = t->place.profile_path};
    hwa_status st = hwa_optim_place(t->opt, t->dev_be, t->dev, t->n_dev, &o);
    if (st) return hwa__err(NULL, st, "train: placing the optimizer across %s: %s", t->dev_list, hwa_ctx_last_error(t->ctx));
    return HWA_OK;
}

/* Every graph built, the training graphs first: the gradients the others
 * read live where those write them. */
static hwa_status place_all(hwa_trainer *t) {
    hwa_status st = HWA_OK;
    for (int k = 0; k < N_GRAPHS && st == HWA_OK; k++) st = hwa__train_place(t, graph_k(t, k));
    return st ? st : hwa__train_place_optim(t);
}

/* Frees every placement, the optimizer's first (it reads the gradients the
 * training graphs' placements hold). */
static void unplace(hwa_trainer *t) {
    if (t->opt) hwa__optim_unplace(t->opt);
    for (int k = N_GRAPHS - 1; k >= 0; k--) {
        hwa_placement_free(graph_k(t, k)->pl);
        graph_k(t, k)->pl = NULL;
    }
}

void hwa__train_close_devices(hwa_trainer *t) {
    unplace(t);
    for (int k = 0; k < t->n_dev; k++)
        if (t->dev_made[k]) hwa_backend_free(t->dev_be[k]);
    t->n_dev = 0;
}

/* After a placed compute failed with st on device `bad` (-1: none to
 * blame): with cfg.fallback and a device other than the home, drops it,
 * places every graph again and returns HWA_OK; else st. */
static hwa_status fall_back(hwa_trainer *t, int bad, hwa_status st) {
    if (!t->cfg.fallback || bad < 0 || bad >= t->n_dev || t->dev_be[bad] == t->be) return st;
    char why[200], id[32];
    snprintf(why, sizeof why, "%s", hwa_last_error());
    snprintf(id, sizeof id, "%s", t->dev[bad].id);
    unplace(t);
    hwa_backend *gone = t->dev_made[bad] ? t->dev_be[bad] : NULL;
    for (int k = bad; k + 1 < t->n_dev; k++) {
        t->dev_be[k] = t->dev_be[k + 1];
        t->dev[k] = t->dev[k + 1];
        t->dev_made[k] = t->dev_made[k + 1];
    }
    t->n_dev--;
    list_devices(t);
    /* device indices and layer stages named the old list: the choice is the scheduler's now */
    t->place.mode = HWA_PLACE_AUTO;
    t->place.device = 0;
    t->place.split = 0;
    hwa_status st2 = place_all(t);
    hwa_backend_free(gone); /* after every placement that held its buffers is gone */
    if (st2) return st2;
    snprintf(t->fallback_note, sizeof t->fallback_note, "--fallback: %s; re-planned without %s as %s", why, id,
             hwa_placement_choice(hwa_trainer_placement(t)));
    if (t->cb && t->cb->fallback) t->cb->fallback(t->cb->ud, t->fallback_note);
    return HWA_OK;
}

hwa_status hwa__train_compute(hwa_trainer *t, hwa__batch_graph *bg) {
    if (!t->placed) return hwa_graph_compute(bg->g, t->be);
    for (;;) {
        hwa_status st = hwa_placement_compute(bg->pl);
        if (st == HWA_OK) return HWA_OK;
        if ((st = fall_back(t, hwa_placement_failed_device(bg->pl), st))) return st;
    }
}

hwa_status hwa__train_optim_step(hwa_trainer *t, float lr) {
    hwa_status st;
    for (;;) {
        st = hwa_optim_step(t->opt, lr);
        if (st == HWA_OK || !t->placed) break;
        if ((st = fall_back(t, hwa_placement_failed_device(hwa_optim_placement(t->opt)), st))) return st;
    }
    if (st == HWA_OK && t->hook) st = t->hook(t->hook_ud, t, hwa_optim_steps(t->opt), (double)lr);
    return st;
}

const hwa_placement *hwa_trainer_placement(const hwa_trainer *t) {
    if (!t || !t->placed) return NULL;
    return t->train_full.pl ? t->train_full.pl : t->train_rest.pl;
}

const char *hwa_trainer_devices(const hwa_trainer *t) { return t && t->placed ? t->dev_list : ""; }
const char *hwa_trainer_fallback_note(const hwa_trainer *t) { return t ? t->fallback_note : ""; }
