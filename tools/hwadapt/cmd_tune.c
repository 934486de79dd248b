/* hwadapt tune — the batch size, learning rate and optimizer for a model on
 * a device, through libhwadapt's tuner (include/hwadapt/tune.h): options
 * in, a summary and the settings file out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "device_check.h"
#include "hwadapt/hwadapt.h"
#include "hwadapt/tune.h"

static void usage(void) {
    printf("usage: hwadapt tune [--model fmnist-mlp] [OPTIONS]\n"
           "       hwadapt tune WORKLOAD [--inference --p99-ms B] [OPTIONS]\n\n"
           "Finds the batch size that fits the device's memory (from the memory planner's dry run, confirmed by\n"
           "one real step whose memory is measured), the throughput or latency curve up to it, and for\n"
           "training the learning rate (a range test per optimizer) and the optimizer with its rate (successive\n"
           "halving on the validation loss). fmnist-mlp's result is a settings file that\n"
           "`hwadapt train --config FILE` takes (flags given there still win); a workload's, one that\n"
           "`hwadapt bench --config FILE` takes. Workloads: linear1000, mlp1000 (inference), mlp1000-train\n"
           "(training on synthetic inputs and labels: batch and learning rate only).\n\n"
           "  --model fmnist-mlp    the model trained on Fashion-MNIST (the default target)\n"
           "  --device SPEC         cpu (default) or opencl:N (hwadapt probe lists them)\n"
           "  --budget S            seconds the whole search may take (default 120), or Nsteps: training steps\n"
           "  --inference           tune a workload's forward pass (linear1000, mlp1000; default: training)\n"
           "  --p99-ms B            inference: the largest batch whose p99 latency stays at or under B ms,\n"
           "                        B > 0 (default: no bound, the highest throughput)\n"
           "  --memory SIZE         the memory to fit (like 512M, 2G; default: the device's, its HWA_MEM_LIMIT\n"
           "                        cap or what it has available)\n"
           "  --margin F            share of that memory kept free, 0..0.9 (default 0.10)\n"
           "  --max-batch N         the largest batch considered (default 8192 for training, 65536 for\n"
           "                        inference)\n"
           "  --measure N           only plan batch N, run it once and compare the plan with the memory it\n"
           "                        took (default: off, the whole search)\n"
           "  --optimizers LIST     the optimizers compared (default momentum,adam,adamw)\n"
           "  --threads N           CPU threads, 1..4096 (default: HWA_NUM_THREADS, else the CPUs this\n"
           "                        process may use)\n"
           "  --data DIR            Fashion-MNIST's IDX files (default %s)\n"
           "  --val-fraction F      the training samples held out to compare the trials, 0 < F <= 0.5\n"
           "                        (default 0.1)\n"
           "  --seed N              weights and shuffles (default 1)\n"
           "  -o FILE               write the settings and every measurement there (JSON, atomic; default:\n"
           "                        none)\n"
           "  --json                print that JSON on stdout instead of the summary (default: the summary)\n"
           "  --quiet               no progress lines on stderr (default: progress lines)\n",
           HWA_FMNIST_DIR);
}

typedef struct targs {
    const char *model, *workload, *device, *out, *data, *optims;
    double budget_s, p99_ms, margin, val_fraction;
    int64_t budget_steps, memory, max_batch, seed, threads, measure;
    bool inference, json, quiet;
} targs;

static bool parse_budget(const char *v, targs *t) {
    const size_t n = strlen(v);
    if (n > 5 && !strcmp(v + n - 5, "steps")) {
        char num[32];
        if (n - 5 >= sizeof num) return false;
        memcpy(num, v, n - 5);
        num[n - 5] = '\0';
        t->budget_s = 0;
        return cli_parse_int(num, 1, INT64_MAX / 2, &t->budget_steps);
    }
    t->budget_steps = 0;
    return cli_parse_num(v, 1e-9, 1e9, &t->budget_s);
}

/* One option with its value v; 0 or 2 after printing why. */
static int parse_value(const char *a, const char *v, targs *t) {
    static const char *const models[] = {"fmnist-mlp", NULL};
    int k;
    if (!strcmp(a, "--model")) {
        if (cli_enum_opt("tune", a, v, NULL, models, &k)) return 2;
        t->model = v;
    } else if (!strcmp(a, "--device")) t->device = v;
    else if (!strcmp(a, "-o")) return cli_once("tune", a, &t->out, v);
    else if (!strcmp(a, "--data")) t->data = v;
    else if (!strcmp(a, "--optimizers")) t->optims = v;
    else if (!strcmp(a, "--budget")) {
        if (!parse_budget(v, t))
            return cli_usage_error("tune", a, v, "not a budget; allowed: seconds > 0 (120) or a step count (2000steps)");
    } else if (!strcmp(a, "--p99-ms")) return cli_num_opt("tune", a, v, NULL, "(0, inf)", &t->p99_ms);
    else if (!strcmp(a, "--margin")) return cli_num_opt("tune", a, v, NULL, "[0, 0.9]", &t->margin);
    else if (!strcmp(a, "--val-fraction")) return cli_num_opt("tune", a, v, NULL, "(0, 0.5]", &t->val_fraction);
    else if (!strcmp(a, "--memory")) {
        if (!cli_parse_size(v, &t->memory)) return cli_usage_error("tune", a, v, "not a size; allowed: a size like 512M or 2G");
    } else if (!strcmp(a, "--measure")) return cli_int_opt("tune", a, v, NULL, 1, (int64_t)1 << 40, &t->measure);
    else if (!strcmp(a, "--max-batch")) return cli_int_opt("tune", a, v, NULL, 1, (int64_t)1 << 40, &t->max_batch);
    else if (!strcmp(a, "--seed")) return cli_int_opt("tune", a, v, NULL, 0, INT64_MAX / 2, &t->seed);
    else if (!strcmp(a, "--threads")) return cli_int_opt("tune", a, v, NULL, 1, 4096, &t->threads);
    else return cli_unknown_option("tune", a);
    return 0;
}

/* 0, 2 on a usage error (printed), -1 after --help. */
static int parse(int argc, char **argv, targs *t) {
    static const char *const valued[] = {"--model", "--device", "-o", "--data", "--optimizers", "--budget", "--p99-ms",
                                         "--margin", "--val-fraction", "--memory", "--measure", "--max-batch", "--seed",
                                         "--threads", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return -1;
        }
        if (a[0] != '-') rc = cli_positional("tune", &t->workload, a, "WORKLOAD (or --model fmnist-mlp)");
        else if (!strcmp(a, "--inference")) t->inference = true;
        else if (!strcmp(a, "--json")) t->json = true;
        else if (!strcmp(a, "--quiet")) t->quiet = true;
        else if (!cli_word_in(a, valued)) return cli_unknown_option("tune", a);
        else if (!v) return cli_missing_value("tune", a, NULL);
        else rc = parse_value(a, argv[++i], t);
        if (rc) return rc;
    }
    if (t->model && t->workload)
        return cli_usage_error("tune", "--model", t->model, "conflicts with WORKLOAD %s; allowed: one target",
                               t->workload);
    int index = -1;
    if (t->workload && hwa_bench_workload_find(t->workload, &index))
        return cli_usage_error("tune", "WORKLOAD", t->workload, "%s", hwa_last_error());
    const bool train_wl = t->workload && hwa_bench_workload_trains(index);
    if (t->inference && (!t->workload || train_wl))
        return cli_usage_error("tune", "--inference", NULL, "is for a forward workload; allowed: linear1000, mlp1000");
    if (t->p99_ms > 0 && (!t->workload || train_wl))
        return cli_usage_error("tune", "--p99-ms", NULL, "bounds an inference workload's latency; allowed: with "
                               "linear1000 or mlp1000 and --inference");
    if (t->workload && (t->data || t->val_fraction > 0 || t->optims))
        return cli_usage_error("tune", t->data ? "--data" : t->optims ? "--optimizers" : "--val-fraction", NULL,
                               "applies to --model fmnist-mlp only; allowed: without a WORKLOAD");
    if (t->measure && (t->optims || t->p99_ms > 0))
        return cli_conflict("tune", "--measure", t->optims ? "--optimizers" : "--p99-ms");
    return 0;
}

static void progress(void *ud, const char *msg) {
    (void)ud;
    fprintf(stderr, "hwadapt tune: %s\n", msg);
}

static double mib(int64_t b) { return (double)b / 1048576.0; }

static void summary(const targs *t, const hwa_tune_report *r) {
    const hwa_tune_batch_result *b = &r->batch;
    printf("tune %s on %s (%s)\n", r->target, r->device,
           r->synthetic ? (r->training ? "synthetic inputs and labels" : "synthetic inputs") : "Fashion-MNIST");
    printf("memory: %.1f MiB to fit (%s, less the margin); the largest batch whose plan fits: %lld (%.1f MiB",
           mib(b->avail_bytes), b->capped ? "HWA_MEM_LIMIT" : t->memory ? "--memory" : "what the device has",
           (long long)b->max_fit, mib(b->max_fit_bytes));
    if (b->next_bytes >= 0) printf("; %lld would take %.1f MiB", (long long)b->max_fit + 1, mib(b->next_bytes));
    printf(")\n");
    if (b->workspace_base_bytes > 0 || b->workspace_per_sample > 0)
        printf("  the plans include what the kernels keep beside the graph: %.1f MiB + %.0f bytes a sample "
               "(measured at batches %lld and %lld)\n",
               mib(b->workspace_base_bytes), b->workspace_per_sample, (long long)b->calib_batch,
               (long long)b->calib_batch2);
    for (int i = 0; i < b->n_backoffs; i++)
        printf("  backed off: batch %lld could not be allocated (%s)\n", (long long)b->backoffs[i].batch,
               b->backoffs[i].why);
    if (b->confirmed_batch) {
        printf("confirmed: batch %lld planned %.1f MiB, measured ", (long long)b->confirmed_batch,
               mib(b->predicted_bytes));
        if (b->measured_bytes >= 0)
            printf("%.1f MiB (%s, %+.1f%%)\n", mib(b->measured_bytes), b->measured_how,
                   100.0 * ((double)b->predicted_bytes / (double)b->measured_bytes - 1.0));
        else printf("unknown (the process's peak resident set cannot be reset here)\n");
    }
    if (b->n_points) {
        printf("curve:");
        for (int i = 0; i < b->n_points; i++) {
            printf(" %lld: %.0f/s", (long long)b->points[i].batch, b->points[i].samples_per_s);
            if (!r->training) printf(" p99 %.3g ms", b->points[i].p99_ms);
            printf(i + 1 < b->n_points ? "," : "\n");
        }
        if (b->curve_cut) printf("  (the budget stopped the curve at batch %lld)\n", (long long)b->points[b->n_points - 1].batch);
    }
    printf("batch %lld: %s\n", (long long)b->batch, b->why);
    if (r->n_lr) {
        printf("learning rate (range test%s):", r->synthetic ? " on the synthetic batch" : "");
        for (int k = 0; k < r->n_lr; k++)
            printf("%s %s %.3g (minimum at %.3g, steepest at %.3g)", k ? "," : "", hwa_optim_kind_name(r->lr_optim[k]),
                   r->lr[k]->suggestion, r->lr[k]->lr_at_min, r->lr[k]->lr_steepest);
        printf("\n");
    }
    if (r->searched) {
        const hwa_tune_trial *w = &r->search.trials[r->search.best];
        printf("search: %d trials, %d rungs in %.0f s; best %s at lr %.3g (validation loss %.4f, accuracy %.2f%% "
               "after %lld steps)\n",
               r->search.n, r->search.rungs, r->search.seconds, hwa_optim_kind_name(w->optim), w->lr, w->val_loss,
               100.0 * w->val_accuracy, (long long)w->steps);
        printf("recommended: hwadapt train --device %s --batch %lld --epochs %lld --optimizer %s --lr %.3g "
               "--schedule %s\n  (%s",
               r->device, (long long)b->batch, (long long)r->epochs, hwa_optim_kind_name(r->optim), r->lr_value,
               hwa_sched_kind_name(r->schedule), r->why_epochs);
        if (isfinite(r->tuned_run_s)) printf("; these %lld take about %.0f s", (long long)r->epochs, r->tuned_run_s);
        printf(")\n");
    }
    printf("tuned in %.1f s", r->seconds);
    if (t->out)
        printf("; wrote %s: hwadapt %s --config %s", t->out, r->training && !r->synthetic ? "train" : "bench", t->out);
    printf("\n");
}

/* --measure N: the plan of batch N against the memory one run of it took. */
static hwa_status measure_only(const hwa_tune_target *tg, int64_t batch, bool json) {
    hwa_tune_memory_check m;
    hwa_status st = hwa_tune_memory_check_run(tg, batch, &m);
    if (st) {
        fprintf(stderr, "hwadapt tune: %s\n", hwa_last_error());
        return st;
    }
    const double err = m.measured_bytes > 0 ? 100.0 * ((double)m.predicted_bytes / (double)m.measured_bytes - 1.0) : NAN;
    if (json)
        printf("{\"batch\": %lld, \"predicted_bytes\": %lld, \"measured_bytes\": %lld, \"workspace_bytes\": %lld, "
               "\"device_peak_bytes\": %lld, \"measured_how\": \"%s\"}\n",
               (long long)batch, (long long)m.predicted_bytes, (long long)m.measured_bytes,
               (long long)m.workspace_bytes, (long long)m.device_peak_bytes, m.measured_how);
    else
        printf("batch %lld: planned %.1f MiB (%.1f MiB of it the kernels' workspace, measured at batches %lld and "
               "%lld), measured %.1f MiB (%s): %+.1f%%\n",
               (long long)batch, mib(m.predicted_bytes), mib(m.workspace_bytes), (long long)m.calib_batch,
               (long long)m.calib_batch2,
               mib(m.measured_bytes), m.measured_how, err);
    return HWA_OK;
}

/* Fashion-MNIST once: the training set less its last val_fraction (the
 * trials' validation set), and the test set. */
static int load(const targs *t, hwa_dataset **train, hwa_dataset **val, hwa_dataset **test) {
    hwa_status st = hwa_dataset_load_fmnist(t->data, true, train);
    if (st == HWA_OK) st = hwa_dataset_load_fmnist(t->data, false, test);
    if (st == HWA_OK) {
        const double f = t->val_fraction > 0 ? t->val_fraction : 0.1;
        int64_t n_val = (int64_t)floor(f * (double)hwa_dataset_n(*train));
        st = hwa_dataset_split(*train, n_val > 0 ? n_val : 1, val);
    }
    if (st) fprintf(stderr, "hwadapt tune: %s\n", hwa_last_error());
    return st ? 1 : 0;
}

static int parse_optims(const char *list, hwa_tune_job *j) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (j->n_optims == 4) return cli_usage_error("tune", "--optimizers", list, "too many; allowed: at most 4");
        if (hwa_optim_kind_from_name(tok, &j->optims[j->n_optims]))
            return cli_usage_error("tune", "--optimizers", list, "%s", hwa_last_error());
        j->n_optims++;
    }
    return j->n_optims ? 0 : cli_usage_error("tune", "--optimizers", list, "an empty list; allowed: sgd, momentum, "
                                             "nesterov, adam, adamw");
}

int cmd_tune(int argc, char **argv) {
    targs t = {.budget_s = 120, .seed = 1};
    int rc = parse(argc, argv, &t);
    if (rc) return rc < 0 ? 0 : rc;
    if (t.out && cli_output_file("tune", "-o", t.out)) return 2;
    if ((rc = cli_device_check("tune", t.device, ""))) return rc;
    if (t.device && !strcmp(t.device, "auto"))
        return cli_usage_error("tune", "--device", t.device, "tune measures one device at a time; allowed: cpu, opencl:N");
    hwa_tune_job j = {.budget_s = t.budget_s, .budget_steps = t.budget_steps};
    j.batch = (hwa_tune_batch_opts){.mem_bytes = t.memory, .margin = t.margin, .max_batch = t.max_batch,
                                    .confirm = true, .curve = true, .p99_ms = t.p99_ms};
    if (t.optims && (rc = parse_optims(t.optims, &j))) return rc;
    /* on stderr: with --json only when someone watches it */
    if (!t.quiet && (!t.json || isatty(STDERR_FILENO))) j.progress = progress;
    hwa_dataset *train = NULL, *val = NULL, *test = NULL;
    hwa_train_config cfg = hwa_train_config_default();
    if (t.workload) {
        j.target = (hwa_tune_target){.workload = t.workload, .device = t.device, .threads = (int)t.threads};
    } else {
        if ((rc = load(&t, &train, &val, &test))) return rc;
        cfg.device = t.device;
        cfg.seed = (uint64_t)t.seed;
        cfg.threads = (int)t.threads;
        cfg.train_set = train;
        cfg.val_set = val;
        cfg.test_set = test;
        j.target = (hwa_tune_target){.train = &cfg};
    }
    hwa_tune_report *r = NULL;
    hwa_status st;
    if (t.measure) {
        st = measure_only(&j.target, t.measure, t.json);
        hwa_dataset_free(train);
        hwa_dataset_free(val);
        hwa_dataset_free(test);
        return st ? 1 : 0;
    }
    st = hwa_tune_run(&j, &r);
    if (st) fprintf(stderr, "hwadapt tune: %s\n", hwa_last_error());
    if (st == HWA_OK && t.out && (st = hwa_tune_report_save(r, t.out)))
        fprintf(stderr, "hwadapt tune: %s\n", hwa_last_error());
    if (st == HWA_OK) {
        if (t.json) hwa_tune_report_write(r, stdout);
        else summary(&t, r);
    }
    hwa_tune_report_free(r);
    hwa_dataset_free(train);
    hwa_dataset_free(val);
    hwa_dataset_free(test);
    return st ? 1 : 0;
}
