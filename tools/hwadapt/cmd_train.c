/* hwadapt train — trains fmnist-mlp on Fashion-MNIST through libhwadapt's
 * trainer: options in, progress and one line per epoch out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "hwadapt/hwadapt.h"

static void usage(void) {
    printf("usage: hwadapt train [--model fmnist-mlp] [OPTIONS]\n\n"
           "Trains an MLP (fmnist-mlp: 784 -> 1000 relu -> 1000 relu -> 10, softmax cross-entropy) on\n"
           "Fashion-MNIST (Debian package %s, in %s), evaluating on the test set after each epoch.\n\n"
           "model and data:\n"
           "  --hidden N,N,...      hidden layer sizes (default 1000,1000; 'none' for a linear model)\n"
           "  --activation NAME     relu (default), gelu, tanh, sigmoid, silu\n"
           "  --data DIR            the IDX files' directory (default %s)\n"
           "  --limit N             train on the first N samples only; --test-limit N likewise\n"
           "  --val-fraction F      hold out the last fraction F of the training set for validation\n"
           "  --device SPEC         cpu (default)\n"
           "training:\n"
           "  --epochs N            total epochs, counting those done before --resume (default 10)\n"
           "  --batch N             batch size (default 64); the last partial batch of an epoch is kept\n"
           "  --drop-last           ... or dropped\n"
           "  --seed N              weights and shuffles; same seed, machine and threads: same bits (default 1)\n"
           "  --optimizer NAME      sgd, momentum, nesterov, adam (default), adamw\n"
           "  --lr X                learning rate (default 1e-3 for adam/adamw, 0.01 otherwise)\n"
           "  --momentum X --beta1 X --beta2 X --eps X --weight-decay X\n"
           "  --clip X              clip gradients to global norm X (default 0: off)\n"
           "  --schedule NAME       constant, step (default), cosine (linear warm-up), onecycle\n"
           "  --step-epochs N --gamma X     step: multiply by X every N epochs (default 3, 0.5)\n"
           "  --warmup-steps N --min-lr X   cosine (default 5%% of the run, 0)\n"
           "  --pct-start X         onecycle (default 0.3)\n"
           "checkpoints and output:\n"
           "  --checkpoint-dir D    save D/ckpt-<epoch>.safetensors after each epoch (atomic)\n"
           "  --keep K              keep the newest K checkpoints (default 3)\n"
           "  --resume              continue from the newest valid checkpoint in D\n"
           "  --export FILE         write the trained weights as safetensors: fc<i>.weight [out,in],\n"
           "                        fc<i>.bias [out], F32 (PyTorch nn.Linear layout)\n"
           "  --json                one JSON object per epoch on stdout: epoch, train_loss, test_loss,\n"
           "                        test_accuracy, seconds, samples_per_s (and step, lr, val_*)\n"
           "  --quiet               no progress bar\n",
           HWA_FMNIST_PACKAGE, HWA_FMNIST_DIR, HWA_FMNIST_DIR);
}

typedef struct ui {
    bool json, bar;
    int64_t epochs;
} ui;

static void on_batch(void *ud, int64_t epoch, int64_t batch, int64_t n_batches, double loss) {
    const ui *u = ud;
    if (!u->bar || (batch % 8 && batch != n_batches)) return;
    const int width = 30, done = (int)(width * batch / n_batches);
    fprintf(stderr, "\repoch %lld/%lld [%.*s%*s] %lld/%lld loss %.4f", (long long)epoch, (long long)u->epochs, done,
            "##############################", width - done, "", (long long)batch, (long long)n_batches, loss);
    if (batch == n_batches) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void on_epoch(void *ud, const hwa_epoch_stats *s) {
    const ui *u = ud;
    if (u->json) {
        printf("{\"epoch\":%lld,\"step\":%lld,\"train_loss\":%.6f,\"test_loss\":%.6f,\"test_accuracy\":%.4f,"
               "\"seconds\":%.3f,\"samples_per_s\":%.1f,\"lr\":%.6g",
               (long long)s->epoch, (long long)s->step, s->train_loss, s->test_loss, s->test_accuracy, s->seconds,
               s->samples_per_s, s->lr);
        if (!isnan(s->val_loss)) printf(",\"val_loss\":%.6f,\"val_accuracy\":%.4f", s->val_loss, s->val_accuracy);
        printf("}\n");
    } else {
        printf("epoch %lld/%lld  train_loss %.4f  test_loss %.4f  test_accuracy %.2f%%", (long long)s->epoch,
               (long long)u->epochs, s->train_loss, s->test_loss, 100.0 * s->test_accuracy);
        if (!isnan(s->val_loss)) printf("  val_accuracy %.2f%%", 100.0 * s->val_accuracy);
        printf("  %.2f s  %.0f samples/s\n", s->seconds, s->samples_per_s);
    }
    fflush(stdout);
}

static bool parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_hidden(const char *s, hwa_train_config *c) {
    c->n_hidden = 0;
    if (!strcmp(s, "none")) return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_hidden == HWA_TRAIN_MAX_HIDDEN || !parse_int(tok, 1, 1 << 20, &c->hidden[c->n_hidden])) return false;
        c->n_hidden++;
    }
    return c->n_hidden > 0;
}

static int bad(const char *opt, const char *v, const char *why) {
    fprintf(stderr, "hwadapt train: %s%s%s: %s (see hwadapt train --help)\n", opt, v ? " " : "", v ? v : "", why);
    return 2;
}

int cmd_train(int argc, char **argv) {
    hwa_train_config c = hwa_train_config_default();
    const char *export_path = NULL, *optim = "adam", *sched = "step";
    double lr = -1, d;
    int64_t n;
    bool json = false, quiet = false, have_warmup = false;
    double momentum = NAN, beta1 = NAN, beta2 = NAN, eps = NAN, wd = NAN, clip = 0, gamma = 0.5, min_lr = 0, pct = 0.3;
    int64_t step_epochs = 3, warmup = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        }
        bool flag = true;
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--quiet")) quiet = true;
        else if (!strcmp(a, "--resume")) c.resume = true;
        else if (!strcmp(a, "--drop-last")) c.drop_last = true;
        else flag = false;
        if (flag) continue;
        if (!v) return bad(a, NULL, "unknown option or missing value");
        i++;
        if (!strcmp(a, "--model")) {
            if (strcmp(v, "fmnist-mlp")) return bad(a, v, "unknown model (fmnist-mlp)");
        } else if (!strcmp(a, "--data")) c.data_dir = v;
        else if (!strcmp(a, "--device")) c.device = v;
        else if (!strcmp(a, "--checkpoint-dir")) c.checkpoint_dir = v;
        else if (!strcmp(a, "--export")) export_path = v;
        else if (!strcmp(a, "--optimizer")) optim = v;
        else if (!strcmp(a, "--schedule")) sched = v;
        else if (!strcmp(a, "--hidden")) {
            if (!parse_hidden(v, &c)) return bad(a, v, "expected sizes like 1000,1000 (1 to 8 of them) or 'none'");
        } else if (!strcmp(a, "--activation")) {
            if (hwa_activation_from_name(v, &c.activation)) return bad(a, v, hwa_last_error());
        } else if (!strcmp(a, "--lr")) {
            if (!parse_num(v, 0, 1e6, &lr) || !(lr > 0)) return bad(a, v, "the learning rate must be a number > 0");
        } else if (!strcmp(a, "--epochs") || !strcmp(a, "--batch") || !strcmp(a, "--keep") || !strcmp(a, "--limit") ||
                   !strcmp(a, "--test-limit") || !strcmp(a, "--step-epochs") || !strcmp(a, "--warmup-steps") ||
                   !strcmp(a, "--seed")) {
            const bool may_be_zero = !strcmp(a, "--limit") || !strcmp(a, "--test-limit") ||
                                     !strcmp(a, "--warmup-steps") || !strcmp(a, "--seed");
            if (!parse_int(v, may_be_zero ? 0 : 1, INT64_MAX / 2, &n))
                return bad(a, v, may_be_zero ? "expected an integer >= 0" : "expected an integer >= 1");
            if (!strcmp(a, "--epochs")) c.epochs = n;
            else if (!strcmp(a, "--batch")) c.batch = n;
            else if (!strcmp(a, "--keep")) c.keep = n > 1000000 ? 1000000 : (int)n;
            else if (!strcmp(a, "--limit")) c.limit = n;
            else if (!strcmp(a, "--test-limit")) c.test_limit = n;
            else if (!strcmp(a, "--step-epochs")) step_epochs = n;
            else if (!strcmp(a, "--seed")) c.seed = (uint64_t)n;
            else {
                warmup = n;
                have_warmup = true;
            }
        } else if (!strcmp(a, "--val-fraction")) {
            if (!parse_num(v, 0, 0.5, &c.val_fraction)) return bad(a, v, "expected a fraction in [0, 0.5]");
        } else if (!strcmp(a, "--momentum") || !strcmp(a, "--beta1") || !strcmp(a, "--beta2") || !strcmp(a, "--eps") ||
                   !strcmp(a, "--weight-decay") || !strcmp(a, "--clip") || !strcmp(a, "--gamma") ||
                   !strcmp(a, "--min-lr") || !strcmp(a, "--pct-start")) {
            if (!parse_num(v, 0, 1e9, &d)) return bad(a, v, "expected a number >= 0");
            double *dst = !strcmp(a, "--momentum") ? &momentum : !strcmp(a, "--beta1") ? &beta1
                          : !strcmp(a, "--beta2") ? &beta2 : !strcmp(a, "--eps") ? &eps
                          : !strcmp(a, "--weight-decay") ? &wd : !strcmp(a, "--clip") ? &clip
                          : !strcmp(a, "--gamma") ? &gamma : !strcmp(a, "--min-lr") ? &min_lr : &pct;
            *dst = d;
        } else {
            return bad(a, v, "unknown option");
        }
    }
    hwa_optim_kind ok;
    hwa_sched_kind sk;
    if (hwa_optim_kind_from_name(optim, &ok)) return bad("--optimizer", optim, hwa_last_error());
    if (hwa_sched_kind_from_name(sched, &sk)) return bad("--schedule", sched, hwa_last_error());
    c.optim = hwa_optim_config_default(ok);
    if (!isnan(momentum)) c.optim.momentum = (float)momentum;
    if (!isnan(beta1)) c.optim.beta1 = (float)beta1;
    if (!isnan(beta2)) c.optim.beta2 = (float)beta2;
    if (!isnan(eps)) c.optim.eps = (float)eps;
    if (!isnan(wd)) c.optim.weight_decay = (float)wd;
    c.optim.clip_norm = (float)clip;
    if (lr < 0) lr = ok == HWA_OPTIM_ADAM || ok == HWA_OPTIM_ADAMW ? 1e-3 : 0.01;
    c.sched = hwa_sched_default(sk, lr, 1);
    c.sched.step_size = step_epochs;
    c.sched.gamma = gamma;
    c.sched.min_lr = min_lr;
    c.sched.pct_start = pct;
    c.sched.warmup_steps = have_warmup ? warmup : -1;

    hwa_trainer *t = NULL;
    hwa_status st = hwa_trainer_new(&c, &t);
    if (st) {
        fprintf(stderr, "hwadapt train: %s\n", hwa_last_error());
        return 1;
    }
    const char *from = hwa_trainer_resumed_from(t);
    if (c.resume)
        fprintf(stderr, "hwadapt train: %s%s (epoch %lld of %lld done)\n", from ? "resumed from " : "no checkpoint in ",
                from ? from : c.checkpoint_dir, (long long)hwa_trainer_epoch(t), (long long)c.epochs);
    ui u = {.json = json, .bar = !quiet && isatty(2), .epochs = c.epochs};
    hwa_train_callbacks cb = {.batch = on_batch, .epoch = on_epoch, .ud = &u};
    st = hwa_trainer_run(t, &cb);
    if (st == HWA_OK && export_path) st = hwa_trainer_export(t, export_path);
    if (st) fprintf(stderr, "hwadapt train: %s\n", hwa_last_error());
    hwa_trainer_free(t);
    return st ? 1 : 0;
}
