/* hwadapt train — trains fmnist-mlp, fmnist-cnn or an ONNX model on
 * Fashion-MNIST through libhwadapt's trainer: options in, progress and one
 * line per epoch out. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "core/json_write.h"
#include "core/text.h"
#include "load_note.h"
#include "progress.h"
#include "device_check.h"
#include "hwadapt/hwadapt.h"
#include "place_mode.h"

static void usage(void) {
    printf("usage: hwadapt train [--model fmnist-mlp|fmnist-cnn|MODEL.onnx] [OPTIONS]\n\n"
           "Trains a model on Fashion-MNIST (Debian package %s,\n"
           "in %s) with a softmax cross-entropy loss, evaluating on the test set\n"
           "after each epoch.\n\n"
           "model and data:\n"
           "  --model NAME          fmnist-mlp (default): 784 -> 1000 relu -> 1000 relu -> 10;\n"
           "                        fmnist-cnn: conv3x3 1->32, batchnorm, relu, maxpool2 -> conv3x3\n"
           "                        32->64, batchnorm, relu, maxpool2 -> fc 3136->128, relu, dropout\n"
           "                        0.25 -> fc 128->10 (batchnorm's running statistics at evaluation);\n"
           "                        MODEL.onnx: an ONNX model taking float [N,784] or [N,1,28,28] and\n"
           "                        giving [N,10] logits, its float initializers trained\n"
           "  --hidden N,N,...      fmnist-mlp: hidden layer sizes (default 1000,1000; 'none': linear)\n"
           "  --activation NAME     fmnist-mlp: relu (default), gelu, tanh, sigmoid, silu\n"
           "  --data DIR            the IDX files' directory (default %s)\n"
           "  --limit N             train on the first N samples only (default 0: all)\n"
           "  --test-limit N        evaluate on the first N test samples only (default 0: all)\n"
           "  --val-fraction F      hold out the last fraction F, 0..0.5, of the training set for\n"
           "                        validation (default 0)\n"
           "  --device SPEC         cpu (default), opencl:N (hwadapt probe lists the devices), or auto: the\n"
           "                        scheduler places the graphs across --devices by the passport's calibrated\n"
           "                        figures (weights, data and optimizer state stay on the CPU; the line\n"
           "                        'placed across' says where; hwadapt plan fmnist-mlp-train says why)\n"
           "  --devices LIST        auto: the devices to place across, cpu among them (default: every device\n"
           "                        found)\n"
           "  --mode MODE           auto: how the training and evaluation graphs are placed: auto (default,\n"
           "                        the lowest estimate), layers (two stages: the first device of --devices,\n"
           "                        then the second) or single:DEVICE; the optimizer's is always auto\n"
           "  --split F             auto, layers: the share of the nodes in the first stage, 0 < F < 1\n"
           "                        (default: balanced)\n"
           "  --fallback            auto: a device that fails is left out, the graphs re-planned without it\n"
           "                        and the step repeated (said on stderr; HWA_FAULT_DEVICE=SPEC fails\n"
           "                        SPEC's first compute, for tests; default: the run fails)\n"
           "  --dtype NAME          f32 (default), bf16 or f16: the products and activations' precision;\n"
           "                        weights, gradients and optimizer state stay f32 (mixed precision)\n"
           "  --threads N           CPU threads (default: HWA_NUM_THREADS, else the CPUs this process may use;\n"
           "                        no effect on opencl:N, whose driver spreads the work)\n"
           "  --config FILE         device, dtype, threads, batch, epochs, optimizer, lr, momentum,\n"
           "                        weight_decay, schedule, step_epochs and gamma from FILE's [train]\n"
           "                        section, else its [all]; INI, or the JSON hwadapt tune writes\n"
           "                        (docs/settings.md); flags given here win (default: none)\n"
           "training:\n"
           "  --epochs N            total epochs, counting those done before --resume (default 10)\n"
           "  --batch N             batch size (default 64); the last partial batch of an epoch is kept\n"
           "  --drop-last           ... or dropped (default: kept)\n"
           "  --seed N              weights and shuffles; same seed, machine and threads: same bits (default 1)\n"
           "  --optimizer NAME      sgd, momentum, nesterov, adam (default), adamw\n"
           "  --lr X                learning rate (default 1e-3 for adam/adamw, 0.01 otherwise)\n"
           "  --momentum X          momentum, nesterov: 0 <= X < 1 (default 0.9)\n"
           "  --beta1 X             adam, adamw (default 0.9)\n"
           "  --beta2 X             adam, adamw (default 0.999)\n"
           "  --eps X               adam, adamw (default 1e-8)\n"
           "  --weight-decay X      X >= 0 (default 0; adamw 0.01)\n"
           "  --clip X              clip gradients to global norm X (default 0: off)\n"
           "  --schedule NAME       constant, step (default), cosine (linear warm-up), onecycle\n"
           "  --step-epochs N       step: multiply the rate by --gamma every N epochs (default 3)\n"
           "  --gamma X             step: the factor, X > 0 (default 0.5)\n"
           "  --warmup-steps N      cosine: linear warm-up steps (default 5%% of the run)\n"
           "  --min-lr X            cosine: the final rate (default 0)\n"
           "  --pct-start X         onecycle (default 0.3)\n"
           "checkpoints and output:\n"
           "  --checkpoint-dir D    save D/ckpt-<epoch>.safetensors after each epoch (atomic; default: none)\n"
           "  --keep K              keep the newest K checkpoints (default 3)\n"
           "  --resume              continue from the newest valid checkpoint in D (default: start anew)\n"
           "  --export FILE         write the trained weights as safetensors: fc<i>.weight [out,in],\n"
           "                        fc<i>.bias [out], F32 (PyTorch nn.Linear layout; default: none);\n"
           "                        fmnist-cnn: PyTorch's state_dict names (conv1.weight, bn1.running_mean,\n"
           "                        ...); an ONNX model: the model with its trained initializers (.onnx)\n"
           "  --json                one JSON object per epoch on stdout: epoch, train_loss, test_loss,\n"
           "                        test_accuracy, seconds, samples_per_s, dtype, threads (null on opencl:N),\n"
           "                        device (and step, lr, ranks, comm_seconds, val_*); without it a header\n"
           "                        line names the model and configuration\n"
           "  --quiet               no progress bar (default: one on a terminal); with --json, no summary\n"
           "                        on stderr either\n"
           "  --profile             the CPU backend's time per (op, shape, kernel) on stderr (the same as\n"
           "                        HWA_PROFILE=1; default: off)\n"
           "data-parallel, under mpirun (mpirun -np N hwadapt train ...; docs/train.md, docs/scaling.md):\n"
           "                        each rank computes its share of every global batch (--batch stays the\n"
           "                        global batch: N ranks take the same steps as one process), gradients are\n"
           "                        summed while the backward pass runs, rank 0 prints and writes files\n"
           "  --rank-devices LIST   rank r trains on the (r mod length)-th device of LIST (cpu,opencl:0);\n"
           "                        default: --device on every rank (the two conflict)\n"
           "  --shards K            a fixed reduction order: each batch cut into K slices whose gradients\n"
           "                        are added in slice order, bitwise the same for 1 to K ranks (K >= ranks;\n"
           "                        1..65536; default: none)\n"
           "  --bucket-mb X         gradient bucket size in MiB (default 4)\n"
           "  --dist-timeout S      a rank that has not reached (or has gone silent at) an exchange of\n"
           "                        gradients within S s is named and the job stopped (default 60)\n",
           HWA_FMNIST_PACKAGE, HWA_FMNIST_DIR, HWA_FMNIST_DIR);
}

typedef struct ui {
    bool json, bar;
    int64_t epochs;
    const char *dtype, *device;
    const hwa_trainer *tr;  /* for where auto placed the graphs (a --fallback may change it) */
    int threads;            /* 0: the device has no thread setting (opencl:N) */
    load_note load;         /* other processes' use of the CPUs, epoch by epoch */
    double t0;              /* the first batch's time, for the time left */
    int64_t first_epoch;    /* the first epoch this run trains (a resumed run starts later); 0 until then */
    int64_t epochs_run, best_epoch;
    double best_accuracy, last_accuracy, seconds;
} ui;

static void on_batch(void *ud, int64_t epoch, int64_t batch, int64_t n_batches, double loss) {
    ui *u = ud;
    if (!u->first_epoch) {
        u->first_epoch = epoch;
        u->t0 = hwa_bench_clock_now();
    }
    if (!u->bar || (batch % 8 && batch != n_batches)) return;
    const int width = 30, done = (int)(width * batch / n_batches);
    /* the time left from the pace of the batches this run has trained */
    const int64_t total = (u->epochs - u->first_epoch + 1) * n_batches, did = (epoch - u->first_epoch) * n_batches + batch;
    const double spent = hwa_bench_clock_now() - u->t0;
    char left[32] = "?";
    if (did > 0 && spent > 0) cli_duration(left, sizeof left, spent / (double)did * (double)(total - did));
    fprintf(stderr, "\r\033[Kepoch %lld/%lld [%.*s%*s] %lld/%lld loss %.4f, ~%s left", (long long)epoch,
            (long long)u->epochs, done, "##############################", width - done, "", (long long)batch,
            (long long)n_batches, loss, left);
    if (batch == n_batches) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void on_epoch(void *ud, const hwa_epoch_stats *s) {
    ui *u = ud;
    u->epochs_run++;
    u->seconds += s->seconds;
    u->last_accuracy = s->test_accuracy;
    if (!u->best_epoch || s->test_accuracy > u->best_accuracy) {
        u->best_accuracy = s->test_accuracy;
        u->best_epoch = s->epoch;
    }
    hwa_load_delta d;
    const bool known = load_note_take(&u->load, u->threads ? u->threads : 1, &d, NULL);
    if (u->json) {
        /* a diverged loss is NaN or infinite: null, as JSON has no such number */
        printf("{\"epoch\":%lld,\"step\":%lld,\"train_loss\":", (long long)s->epoch, (long long)s->step);
        hwa__json_write_num(stdout, s->train_loss);
        printf(",\"test_loss\":");
        hwa__json_write_num(stdout, s->test_loss);
        printf(",\"test_accuracy\":%.4f,\"seconds\":%.3f,\"samples_per_s\":%.1f,\"lr\":%.6g,\"ranks\":%d,"
               "\"comm_seconds\":%.3f,\"dtype\":\"%s\",\"threads\":",
               s->test_accuracy, s->seconds, s->samples_per_s, s->lr, s->ranks, s->comm_seconds, u->dtype);
        if (u->threads) printf("%d", u->threads);
        else printf("null");
        printf(",\"device\":\"%s\"", u->device);
        const hwa_placement *pl = hwa_trainer_placement(u->tr);
        if (pl) printf(",\"placement\":\"%s\"", hwa_placement_choice(pl));
        if (!isnan(s->val_loss)) {
            printf(",\"val_loss\":");
            hwa__json_write_num(stdout, s->val_loss);
            printf(",\"val_accuracy\":%.4f", s->val_accuracy);
        }
        load_note_json(stdout, &d, known);
        printf("}\n");
    } else {
        printf("epoch %lld/%lld  train_loss %.4f  test_loss %.4f  test_accuracy %.2f%%", (long long)s->epoch,
               (long long)u->epochs, s->train_loss, s->test_loss, 100.0 * s->test_accuracy);
        if (!isnan(s->val_loss)) printf("  val_accuracy %.2f%%", 100.0 * s->val_accuracy);
        printf("  %.2f s  %.0f samples/s", s->seconds, s->samples_per_s);
        if (s->ranks > 1) printf("  %d ranks, %.0f%% communicating", s->ranks, 100.0 * s->comm_seconds / s->seconds);
        if (known && d.contended) printf("  [contended: %s]", d.why);
        printf("\n");
    }
    fflush(stdout);
}

static bool parse_hidden(const char *s, hwa_train_config *c) {
    c->n_hidden = 0;
    if (!strcmp(s, "none")) return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_hidden == HWA_TRAIN_MAX_HIDDEN || !cli_parse_int(tok, 1, 1 << 20, &c->hidden[c->n_hidden])) return false;
        c->n_hidden++;
    }
    return c->n_hidden > 0;
}

/* Under mpirun, this process's rank from the launcher's environment (0
 * alone): usage errors, the same on every rank, are printed by rank 0. */
static int env_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

static int bad(const char *opt, const char *v, const char *origin, const char *why) {
    if (env_rank() != 0) return 2;
    return cli_usage_error_from("train", opt, v, origin, "%s", why);
}

/* Everything the command line sets. */
typedef struct targs {
    hwa_train_config c;
    const char *export_path, *optim, *sched, *config, *mode, *rank_devices, *device_flag;
    const char *mlp_option; /* --hidden or --activation when given: fmnist-mlp's only */
    double dist_timeout;    /* --dist-timeout; 0: the library's */
    hwa_place_opts place;   /* --mode and --split, completed once the device list is known */
    double lr, momentum, beta1, beta2, eps, wd, clip, gamma, min_lr, pct;
    int64_t step_epochs, warmup;
    int optim_at, sched_at; /* argv index of the --optimizer and --schedule that set them, for cli_args_origin */
    bool json, quiet, have_warmup;
} targs;

static void targs_default(targs *t) {
    *t = (targs){.c = hwa_train_config_default(), .optim = "adam", .sched = "step", .lr = -1, .momentum = NAN,
                 .beta1 = NAN, .beta2 = NAN, .eps = NAN, .wd = NAN, .clip = 0, .gamma = 0.5, .min_lr = 0,
                 .pct = 0.3, .step_epochs = 3};
}

/* The options that take a value. */
static const char *const valued[] = {
    "--model", "--data", "--device", "--devices", "--mode", "--split", "--config", "--rank-devices", "--shards",
    "--bucket-mb", "--dist-timeout", "--checkpoint-dir", "--export", "--optimizer", "--schedule", "--dtype", "--hidden",
    "--activation", "--lr", "--momentum", "--weight-decay", "--gamma", "--threads", "--epochs", "--batch", "--keep",
    "--limit", "--test-limit", "--step-epochs", "--warmup-steps", "--seed", "--val-fraction", "--beta1", "--beta2",
    "--eps", "--clip", "--min-lr", "--pct-start", NULL};

/* Option a (argv[i]) with its value v; 0 or 2 after printing why. */
static int parse_value(targs *t, const char *a, const char *v, const char *from, int i) {
    static const char *const models[] = {"fmnist-mlp", "fmnist-cnn", NULL};
    hwa_train_config *c = &t->c;
    double d;
    int64_t n;
    if (!strcmp(a, "--model")) {
        const size_t len = strlen(v);
        if (!cli_word_in(v, models) && !(len > 5 && !strcmp(v + len - 5, ".onnx")))
            return bad(a, v, from, "unknown model; allowed: fmnist-mlp, fmnist-cnn, a file ending in .onnx");
        c->model = v;
    } else if (!strcmp(a, "--data")) c->data_dir = v;
    else if (!strcmp(a, "--device")) {
        c->device = v;
        if (!from[0]) t->device_flag = v; /* given on the command line, not by --config */
    } else if (!strcmp(a, "--devices")) c->devices = v;
    else if (!strcmp(a, "--mode")) t->mode = v;
    else if (!strcmp(a, "--split")) {
        if (!cli_parse_num(v, 0, 1, &t->place.split) || !(t->place.split > 0 && t->place.split < 1))
            return bad(a, v, from, "out of range; allowed: (0, 1)");
    } else if (!strcmp(a, "--config")) {
        if (t->config && strcmp(t->config, v)) return bad(a, v, from, "given twice; allowed: one");
        t->config = v;
    } else if (!strcmp(a, "--rank-devices")) t->rank_devices = v;
    else if (!strcmp(a, "--shards")) {
        if (!cli_parse_int(v, 1, 65536, &n)) return bad(a, v, from, "not an integer in range; allowed: 1..65536");
        c->shards = (int)n;
    } else if (!strcmp(a, "--bucket-mb")) {
        if (!cli_parse_num(v, 0, 65536, &d) || !(d * 1048576.0 >= 4))
            return bad(a, v, from, "out of range; allowed: a size in MiB above 0, at most 65536");
        c->bucket_bytes = (int64_t)(d * 1048576.0);
    } else if (!strcmp(a, "--dist-timeout")) {
        if (!cli_parse_num(v, 1, 86400, &t->dist_timeout)) return bad(a, v, from, "out of range; allowed: [1, 86400]");
    } else if (!strcmp(a, "--checkpoint-dir")) {
        if (c->checkpoint_dir && strcmp(c->checkpoint_dir, v)) return bad(a, v, from, "given twice; allowed: one");
        c->checkpoint_dir = v;
    } else if (!strcmp(a, "--export")) {
        if (t->export_path && strcmp(t->export_path, v)) return bad(a, v, from, "given twice; allowed: one");
        t->export_path = v;
    } else if (!strcmp(a, "--optimizer")) {
        t->optim = v;
        t->optim_at = i;
    } else if (!strcmp(a, "--schedule")) {
        t->sched = v;
        t->sched_at = i;
    } else if (!strcmp(a, "--dtype")) {
        if (hwa_train_dtype_from_name(v, &c->dtype)) return bad(a, v, from, hwa_last_error());
    } else if (!strcmp(a, "--hidden")) {
        if (!parse_hidden(v, c)) return bad(a, v, from, "not hidden sizes; allowed: 1 to 8 sizes like 1000,1000, or none");
        t->mlp_option = a;
    } else if (!strcmp(a, "--activation")) {
        if (hwa_activation_from_name(v, &c->activation)) return bad(a, v, from, hwa_last_error());
        t->mlp_option = a;
    } else if (!strcmp(a, "--lr")) {
        /* --lr, --momentum, --weight-decay and --gamma take what a settings
         * file's lr, momentum, weight_decay and gamma take (src/io/settings.c):
         * what the trainer accepts, in the precision it keeps. */
        if (!cli_parse_num(v, 0, DBL_MAX, &t->lr) || !(t->lr > 0))
            return bad(a, v, from, "the learning rate is out of range; allowed: > 0");
    } else if (!strcmp(a, "--momentum")) {
        if (!cli_parse_num(v, 0, 1, &t->momentum) || !((float)t->momentum < 1.0f))
            return bad(a, v, from, "out of range; allowed: [0, 1)");
    } else if (!strcmp(a, "--weight-decay")) {
        if (!cli_parse_num(v, 0, FLT_MAX, &t->wd)) return bad(a, v, from, "out of range; allowed: [0, 3.4e38]");
    } else if (!strcmp(a, "--gamma")) {
        if (!cli_parse_num(v, 0, DBL_MAX, &t->gamma) || !(t->gamma > 0)) return bad(a, v, from, "out of range; allowed: > 0");
    } else if (!strcmp(a, "--threads")) {
        if (!cli_parse_int(v, 1, 4096, &n)) return bad(a, v, from, "not an integer in range; allowed: 1..4096");
        c->threads = (int)n;
    } else if (!strcmp(a, "--epochs") || !strcmp(a, "--batch") || !strcmp(a, "--keep") || !strcmp(a, "--limit") ||
               !strcmp(a, "--test-limit") || !strcmp(a, "--step-epochs") || !strcmp(a, "--warmup-steps") ||
               !strcmp(a, "--seed")) {
        const bool may_be_zero = !strcmp(a, "--limit") || !strcmp(a, "--test-limit") || !strcmp(a, "--warmup-steps") ||
                                 !strcmp(a, "--seed");
        if (!cli_parse_int(v, may_be_zero ? 0 : 1, INT64_MAX / 2, &n))
            return bad(a, v, from, may_be_zero ? "not an integer in range; allowed: an integer >= 0"
                                               : "not an integer in range; allowed: an integer >= 1");
        if (!strcmp(a, "--epochs")) c->epochs = n;
        else if (!strcmp(a, "--batch")) c->batch = n;
        else if (!strcmp(a, "--keep")) c->keep = n > 1000000 ? 1000000 : (int)n;
        else if (!strcmp(a, "--limit")) c->limit = n;
        else if (!strcmp(a, "--test-limit")) c->test_limit = n;
        else if (!strcmp(a, "--step-epochs")) t->step_epochs = n;
        else if (!strcmp(a, "--seed")) c->seed = (uint64_t)n;
        else {
            t->warmup = n;
            t->have_warmup = true;
        }
    } else if (!strcmp(a, "--val-fraction")) {
        if (!cli_parse_num(v, 0, 0.5, &c->val_fraction)) return bad(a, v, from, "out of range; allowed: [0, 0.5]");
    } else {
        /* --beta1, --beta2, --eps, --clip, --min-lr, --pct-start */
        if (!cli_parse_num(v, 0, 1e9, &d)) return bad(a, v, from, "out of range; allowed: [0, 1e9]");
        double *dst = !strcmp(a, "--beta1") ? &t->beta1 : !strcmp(a, "--beta2") ? &t->beta2
                      : !strcmp(a, "--eps") ? &t->eps : !strcmp(a, "--clip") ? &t->clip
                      : !strcmp(a, "--min-lr") ? &t->min_lr : &t->pct;
        *dst = d;
    }
    return 0;
}

/* Parses argv into *t; ca (may be NULL) says which arguments came from
 * --config. 0, 2 on a usage error (printed), -1 after --help. */
static int parse(int argc, char **argv, const cli_args *ca, targs *t) {
    hwa_train_config *c = &t->c;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return -1;
        }
        if (!strcmp(a, "--json")) t->json = true;
        else if (!strcmp(a, "--fallback")) c->fallback = true;
        else if (!strcmp(a, "--quiet")) t->quiet = true;
        else if (!strcmp(a, "--profile")) setenv("HWA_PROFILE", "1", 1); /* read when a CPU backend starts */
        else if (!strcmp(a, "--resume")) c->resume = true;
        else if (!strcmp(a, "--drop-last")) c->drop_last = true;
        else if (a[0] != '-') return bad(a, NULL, "", "extra argument; allowed: options only");
        else if (!cli_word_in(a, valued)) return bad(a, NULL, "", "unknown option");
        else if (!v) return bad(a, NULL, "", "missing its value");
        else {
            rc = parse_value(t, a, v, cli_args_origin(ca, i), i);
            i++;
        }
        if (rc) return rc;
    }
    if (t->rank_devices && t->device_flag) return env_rank() ? 2 : cli_conflict("train", "--rank-devices", "--device");
    return 0;
}

/* The optimizer and schedule from their names and numbers; ca as parse's. */
static int finish(targs *t, const cli_args *ca) {
    hwa_train_config *c = &t->c;
    hwa_optim_kind ok;
    hwa_sched_kind sk;
    if (t->mlp_option && c->model && strcmp(c->model, "fmnist-mlp"))
        return cli_usage_error("train", t->mlp_option, NULL, "conflicts with --model %s (an fmnist-mlp option)",
                               c->model);
    if (hwa_optim_kind_from_name(t->optim, &ok))
        return bad("--optimizer", t->optim, cli_args_origin(ca, t->optim_at), hwa_last_error());
    if (hwa_sched_kind_from_name(t->sched, &sk))
        return bad("--schedule", t->sched, cli_args_origin(ca, t->sched_at), hwa_last_error());
    c->optim = hwa_optim_config_default(ok);
    if (!isnan(t->momentum)) c->optim.momentum = (float)t->momentum;
    if (!isnan(t->beta1)) c->optim.beta1 = (float)t->beta1;
    if (!isnan(t->beta2)) c->optim.beta2 = (float)t->beta2;
    if (!isnan(t->eps)) c->optim.eps = (float)t->eps;
    if (!isnan(t->wd)) c->optim.weight_decay = (float)t->wd;
    c->optim.clip_norm = (float)t->clip;
    if (t->lr < 0) t->lr = ok == HWA_OPTIM_ADAM || ok == HWA_OPTIM_ADAMW ? 1e-3 : 0.01;
    c->sched = hwa_sched_default(sk, t->lr, 1);
    c->sched.step_size = t->step_epochs;
    c->sched.gamma = t->gamma;
    c->sched.min_lr = t->min_lr;
    c->sched.pct_start = t->pct;
    c->sched.warmup_steps = t->have_warmup ? t->warmup : -1;
    if (t->mode || t->place.split > 0) c->place = &t->place;
    return 0;
}

/* Whether the device has threads to set: the CPU does; opencl:N's driver
 * spreads its own work. */
static bool device_has_threads(const char *device) {
    return !device || !strcmp(device, "cpu") || !strcmp(device, "cpu:0") || !strcmp(device, "auto");
}

/* The human output's first line: what is trained, where, and how. */
static void print_summary(FILE *f, const ui *u, const struct targs *t);

static void print_header(const hwa_train_config *c, const hwa_trainer *tr) {
    char threads[48] = "- (the device's driver spreads the work)";
    if (device_has_threads(c->device)) snprintf(threads, sizeof threads, "%d", hwa_trainer_threads(tr));
    char hidden[160] = "none";
    for (int i = 0, off = 0; i < c->n_hidden && off < (int)sizeof hidden; i++)
        off += snprintf(hidden + off, sizeof hidden - (size_t)off, i ? ",%lld" : "%lld", (long long)c->hidden[i]);
    char ranks[160] = "";
    if (c->dist)
        snprintf(ranks, sizeof ranks, ", %d ranks (%s)%s", hwa_dist_size(c->dist), hwa_dist_version(c->dist),
                 c->shards ? ", fixed reduction order" : "");
    if (c->shards) snprintf(ranks + strlen(ranks), sizeof ranks - strlen(ranks), ", %d shards", c->shards);
    /* what was built, then how it trains, then the ranks: lines a log can grep */
    if (!c->model || !strcmp(c->model, "fmnist-mlp"))
        printf("model fmnist-mlp (hidden %s, %s, %lld parameters), device %s, dtype %s\n", hidden,
               hwa_activation_name(c->activation), (long long)hwa_trainer_n_params(tr), c->device ? c->device : "cpu",
               hwa_dtype_name(c->dtype));
    else
        printf("model %s (%lld parameters), device %s, dtype %s\n", c->model, (long long)hwa_trainer_n_params(tr),
               c->device ? c->device : "cpu", hwa_dtype_name(c->dtype));
    printf("  threads %s, optimizer %s, batch %lld, %lld training samples\n", threads,
           hwa_optim_kind_name(c->optim.kind), (long long)c->batch, (long long)hwa_trainer_train_samples(tr));
    if (ranks[0]) {
        fputs("  ", stdout);
        hwa__text_wrap(stdout, ranks + 2, 2, 2, 100); /* ranks starts with ", " */
    }
    fflush(stdout);
}

/* "placed across cpu:0,opencl:0: cpu:0 (...); estimate per step: cpu:0 1.20 ms, opencl:0 0 ms" */
static void print_placement(FILE *f, const hwa_trainer *tr) {
    const hwa_placement *pl = hwa_trainer_placement(tr);
    if (!pl) return;
    fprintf(f, "placed across %s: %s (hwadapt plan fmnist-mlp-train says why); estimate per step:",
            hwa_trainer_devices(tr), hwa_placement_choice(pl));
    for (int d = 0; d < hwa_placement_device_count(pl); d++) {
        const double s = hwa_placement_device_estimate_s(pl, d);
        fprintf(f, "%s %s ", d ? "," : "", hwa_placement_device_info(pl, d)->id);
        if (isfinite(s)) fprintf(f, "%.3g ms", 1e3 * s);
        else fprintf(f, "unknown");
    }
    fprintf(f, "\n");
    fflush(f);
}

static void on_fallback(void *ud, const char *msg) {
    (void)ud;
    fprintf(stderr, "hwadapt train: %s\n", msg);
}

/* Device auto: the passport that gives the cost model its figures
 * (calibrated once per machine, cached after). */
static hwa_passport *auto_passport(const hwa_train_config *c) {
    if (!c->device || strcmp(c->device, "auto")) return NULL;
    hwa_passport *pp = hwa_passport_probe(&(hwa_probe_opts){.calibrate = HWA_CALIBRATE_CACHED,
                                                            .matmul_bench = hwa_bench_matmul_peak});
    if (!pp)
        fprintf(stderr, "hwadapt train: no passport (%s); every cost is unknown, so device auto keeps the CPU "
                "unless --mode says otherwise\n", hwa_last_error());
    return pp;
}

/* Under mpirun: mpirun ends the other ranks with SIGTERM when one fails. */
static void on_term(int sig) {
    static const char m[] = "hwadapt train: stopped by a signal (under mpirun: another rank ended, and mpirun's "
                            "message names it)\n";
    if (write(2, m, sizeof m - 1) < 0) { /* nothing more to do */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* After an error on this rank: leaves MPI without waiting for the others;
 * the non-zero exit makes mpirun stop them (they would otherwise wait for
 * this rank until their timeout). */
static int job_failed(hwa_dist *d) {
    hwa_dist_leave(d);
    return 1;
}

/* note: what came from --config, for errors that may be about it. */
static int train(targs *t, const char *note) {
    hwa_train_config *c = &t->c;
    hwa_trainer *tr = NULL;
    hwa_dist *dist = NULL;
    if (hwa_dist_launched()) {
        if (hwa_dist_init(&(hwa_dist_opts){.timeout_s = t->dist_timeout}, &dist)) {
            fprintf(stderr, "hwadapt train: %s\n", hwa_last_error());
            return 1;
        }
        signal(SIGTERM, on_term);
        c->dist = dist;
    }
    const int rank = hwa_dist_rank(dist);
    hwa_passport *pp = auto_passport(c);
    c->passport = pp;
    char all[256];
    hwa_place_device_list(pp, all, sizeof all);
    if (c->place && cli_place_mode("train", t->mode ? t->mode : "auto", t->place.split,
                                   c->devices && *c->devices ? c->devices : all, &t->place)) {
        hwa_passport_free(pp);
        return dist ? job_failed(dist) : 2;
    }
    hwa_status st = hwa_trainer_new(c, &tr);
    hwa_passport_free(pp);
    c->passport = NULL;
    if (st) {
        fprintf(stderr, "hwadapt train: %s%s\n", hwa_last_error(), note);
        return dist ? job_failed(dist) : 1;
    }
    const char *from = hwa_trainer_resumed_from(tr);
    if (c->resume && rank == 0)
        fprintf(stderr, "hwadapt train: %s%s (epoch %lld of %lld done)\n", from ? "resumed from " : "no checkpoint in ",
                from ? from : c->checkpoint_dir, (long long)hwa_trainer_epoch(tr), (long long)c->epochs);
    ui u = {.json = t->json, .bar = !t->quiet && isatty(2), .epochs = c->epochs, .dtype = hwa_dtype_name(c->dtype),
            .device = c->device ? c->device : "cpu", .tr = tr,
            .threads = device_has_threads(c->device) ? hwa_trainer_threads(tr) : 0};
    if (!t->json && rank == 0) print_header(c, tr);
    if (rank == 0) print_placement(t->json ? stderr : stdout, tr);
    /* rank 0 speaks for the job */
    hwa_train_callbacks cb = {.batch = rank ? NULL : on_batch, .epoch = rank ? NULL : on_epoch, .ud = &u,
                              .fallback = on_fallback};
    load_note_begin(&u.load);
    st = hwa_trainer_run(tr, &cb);
    if (st == HWA_OK && t->export_path && rank == 0) st = hwa_trainer_export(tr, t->export_path);
    if (st) fprintf(stderr, "hwadapt train: %s\n", hwa_last_error());
    else if (rank == 0 && !(t->json && t->quiet)) print_summary(t->json ? stderr : stdout, &u, t);
    hwa_trainer_free(tr);
    if (st && dist) return job_failed(dist);
    hwa_dist_free(dist);
    return st ? 1 : 0;
}

/* The one-screen summary at exit: what ran, the best epoch, files written. */
static void print_summary(FILE *f, const ui *u, const targs *t) {
    char took[32];
    cli_duration(took, sizeof took, u->seconds);
    if (!u->epochs_run) {
        fprintf(f, "\nsummary      nothing to train: %lld of %lld epochs were done already\n",
                (long long)u->epochs, (long long)u->epochs);
        return;
    }
    fprintf(f, "\nsummary      %lld epoch(s), %s on %s in %s: test accuracy %.2f%% (best %.2f%%, epoch %lld)\n",
            (long long)u->epochs_run, took, u->device, u->dtype, 100.0 * u->last_accuracy, 100.0 * u->best_accuracy,
            (long long)u->best_epoch);
    if (t->export_path) fprintf(f, "weights      %s\n", t->export_path);
    if (t->c.checkpoint_dir) fprintf(f, "checkpoints  %s\n", t->c.checkpoint_dir);
}

int cmd_train(int argc, char **argv) {
    targs t;
    targs_default(&t);
    int rc = parse(argc, argv, NULL, &t);
    if (rc) return rc < 0 ? 0 : rc;
    hwa_settings *s = NULL;
    cli_args ca = {0};
    if (t.config) {
        /* Again, with the file's settings ahead of the command line's. */
        if (!(s = cli_config_load("train", t.config))) return 2;
        rc = cli_config_args("train", s, "train", argc, argv, &ca);
        if (!rc) {
            targs_default(&t);
            rc = parse(ca.argc, ca.argv, &ca, &t);
        }
    }
    if (!rc) rc = finish(&t, s ? &ca : NULL);
    char note[1200];
    cli_args_summary(&ca, note, sizeof note);
    if (!rc && hwa_train_config_check(&t.c)) {
        const char *why = hwa_last_error();
        rc = cli_usage_error("train", NULL, NULL, "%s%s", strncmp(why, "train: ", 7) ? why : why + 7, note);
    }
    char rank_dev[64];
    if (!rc && t.rank_devices) {
        /* rank r's item of the list, r from the launcher's environment */
        int k = 0, want = env_rank();
        const char *p = t.rank_devices;
        for (const char *q = p; *q; q++) k += *q == ',';
        want %= k + 1;
        for (; want > 0; want--) p = strchr(p, ',') + 1;
        snprintf(rank_dev, sizeof rank_dev, "%.*s", (int)strcspn(p, ","), p);
        t.c.device = rank_dev;
        if (!hwa_dist_launched()) rc = bad("--rank-devices", t.rank_devices, "", "needs mpirun (one device per rank)");
    }
    /* The files the run will write, checked before it trains: a bad path
     * found after the last epoch would lose the trained model. */
    if (!rc && t.export_path && cli_output_file("train", "--export", t.export_path)) rc = 2;
    if (!rc && t.c.checkpoint_dir && cli_output_dir("train", "--checkpoint-dir", t.c.checkpoint_dir)) rc = 2;
    if (!rc) rc = cli_device_check("train", t.c.device, note);
    if (!rc) rc = cli_device_list_check("train", t.c.devices, note);
    if (!rc) rc = train(&t, note);
    cli_args_free(&ca);
    hwa_settings_free(s);
    return rc < 0 ? 0 : rc;
}
