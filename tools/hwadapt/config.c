/* --config FILE: settings as flags ahead of the command line's own. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each key of a settings file and the flag it stands for; train_only: a
 * key only [train] may hold, passed to train alone. */
static const struct {
    const char *key, *flag;
    bool train_only;
} keys[CLI_CONFIG_KEYS] = {
    {"device", "--device", false},
    {"dtype", "--dtype", false},
    {"threads", "--threads", false},
    {"batch", "--batch", false},
    {"epochs", "--epochs", true},
    {"optimizer", "--optimizer", true},
    {"lr", "--lr", true},
    {"momentum", "--momentum", true},
    {"weight_decay", "--weight-decay", true},
    {"schedule", "--schedule", true},
    {"step_epochs", "--step-epochs", true},
    {"gamma", "--gamma", true},
};

hwa_settings *cli_config_load(const char *cmd, const char *path) {
    hwa_settings *s = hwa_settings_load(path);
    if (!s) fprintf(stderr, "hwadapt %s: --config: %s\n", cmd, hwa_last_error());
    return s;
}

int cli_config_args(const char *cmd, const hwa_settings *s, const char *section, int argc, char **argv,
                    cli_args *out) {
    *out = (cli_args){0};
    out->argv = calloc((size_t)argc + 2 * CLI_CONFIG_KEYS + 1, sizeof *out->argv);
    if (!out->argv) {
        fprintf(stderr, "hwadapt %s: out of memory\n", cmd);
        return 1;
    }
    int n = 0;
    out->argv[n++] = argv[0];
    const bool train = !strcmp(section, "train");
    for (int k = 0; k < CLI_CONFIG_KEYS; k++) {
        const char *v = keys[k].train_only && !train ? NULL : hwa_settings_get(s, section, keys[k].key);
        if (!v) continue;
        hwa_settings_where(s, section, keys[k].key, out->where[(n - 1) / 2], sizeof out->where[0]);
        out->argv[n++] = (char *)keys[k].flag;
        out->argv[n++] = (char *)v;
    }
    out->n_file = n - 1;
    for (int i = 1; i < argc; i++) out->argv[n++] = argv[i];
    out->argc = n;
    return 0;
}

void cli_args_free(cli_args *a) {
    if (a) free(a->argv);
}

const char *cli_args_origin(const cli_args *a, int i) {
    static _Thread_local char buf[300];
    if (!a || i < 1 || i > a->n_file) return "";
    snprintf(buf, sizeof buf, " (from %s)", a->where[(i - 1) / 2]);
    return buf;
}

bool cli_config_same(const hwa_settings *s, const char *section_a, const char *section_b) {
    for (int k = 0; k < CLI_CONFIG_KEYS; k++) {
        const char *a = hwa_settings_get(s, section_a, keys[k].key), *b = hwa_settings_get(s, section_b, keys[k].key);
        if ((a == NULL) != (b == NULL) || (a && strcmp(a, b))) return false;
    }
    return true;
}

const char *cli_args_summary(const cli_args *a, char *buf, size_t cap) {
    size_t off = 0;
    if (!cap) return buf;
    buf[0] = '\0';
    for (int i = 1; a && i + 1 <= a->n_file && off < cap; i += 2) {
        int k = snprintf(buf + off, cap - off, "%s%s %s at %s", i == 1 ? " (from --config: " : ", ", a->argv[i],
                         a->argv[i + 1], a->where[(i - 1) / 2]);
        if (k < 0) break;
        off += (size_t)k;
    }
    if (buf[0] && off + 1 < cap) snprintf(buf + off, cap - off, ")");
    return buf;
}
