/* Tuning targets behind one interface: a trainer configuration or a
 * built-in bench workload, at a given batch. Not a published API. */
#ifndef HWADAPT_TUNE_INTERNAL_H
#define HWADAPT_TUNE_INTERNAL_H

#include "bench/workload.h"
#include "core/internal.h"
#include "hwadapt/tune.h"

/* One built instance of a target at one batch. */
typedef struct hwa__tune_inst {
    hwa_trainer *tr;       /* the trainer's target */
    hwa__workload w;       /* the workload's (w.ctx non-NULL) */
    int64_t batch;
    double lr;             /* a query's rate: > 0 the rate, else the trainer's schedule / workload default */
    double last_loss;      /* the last query's loss (training); NAN otherwise */
} hwa__tune_inst;

/* Checks target (exactly one of train and workload; a known workload). */
hwa_status hwa__tune_check(const hwa_tune_target *target);
/* The device spec the target runs on ("cpu" when none is named). */
const char *hwa__tune_device(const hwa_tune_target *target);
bool hwa__tune_is_training(const hwa_tune_target *target);
/* Whether it runs on the CPU ("cpu", "cpu:N", a core set): the process's
 * memory is then the device's. */
bool hwa__tune_on_cpu(const hwa_tune_target *target);
/* The largest batch that makes sense: the training set's size, the
 * workload's 2^20. */
int64_t hwa__tune_batch_cap(const hwa_tune_target *target);
/* The plan of target at batch: *run what the process holds while it runs
 * (the trainer: hwa_train_memory.total), *transient the peak of building
 * it (0 when below run), *device the device's part of run. */
hwa_status hwa__tune_plan(const hwa_tune_target *target, int64_t batch, int64_t *run, int64_t *transient,
                          int64_t *device);
/* Builds target at batch into *in (zeroed first); cfg_edit (may be NULL)
 * is applied to a copy of the trainer's configuration first. */
hwa_status hwa__tune_open(const hwa_tune_target *target, int64_t batch, const hwa_optim_config *optim, double lr,
                          hwa__tune_inst *in);
/* One query: a training step (its loss in in->last_loss) or an inference. */
hwa_status hwa__tune_query(hwa__tune_inst *in);
void hwa__tune_close(hwa__tune_inst *in);
/* The first rung of a successive halving over n_trials trials (keeping
 * 1/eta of each rung) that spreads `steps` training steps over every rung:
 * at least a quarter of an epoch. target is a trainer's. */
int64_t hwa__tune_first_rung(const hwa_tune_target *target, int n_trials, int eta, double steps);

#endif
