/* hwadapt — the command. Dispatches to one cmd_<name>.c per subcommand;
 * with no subcommand, or options alone (hwadapt --budget 15), it runs the
 * main job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"run", cmd_run, "the main job on the built-in default (also: hwadapt with no subcommand)"},
    {"bench", cmd_bench, "benchmark workloads: MLPerf scenarios, sweeps, table/JSON/CSV/Markdown"},
    {"probe", cmd_probe, "the hardware passport: every device and what it can do"},
    {"inspect", cmd_inspect, "list what is in a model file"},
    {"generate", cmd_generate, "run a language model (llama2.c checkpoints, GGUF)"},
    {"quantize", cmd_quantize, "write a GGUF model with its matrices in q8_0, q4_0, q4_1, q4_k, q6_k, f16 or bf16"},
    {"imatrix", cmd_imatrix, "an importance matrix for quantize --imatrix: a model run over a text"},
    {"perplexity", cmd_perplexity, "a language model's perplexity over a text; KL divergence and top-1 vs a reference"},
    {"plan", cmd_plan, "where each node of a workload would run, at what cost and memory, and why"},
    {"train", cmd_train, "train a model (fmnist-mlp on Fashion-MNIST); checkpoints, resume, export"},
    {"report", cmd_report, "one self-contained HTML page from bench reports, passports and training logs"},
    {"compress", cmd_compress, "prune, share, Huffman-code or int8-quantize a trained MLP, stage by stage"},
    {"eval", cmd_eval, "accuracy of a model (compressed, or an MLP's export) on Fashion-MNIST's test set"},
    {"tune", cmd_tune, "batch size to memory and latency, learning rate, optimizer; a settings file for train"},
};

static void usage(FILE *f) {
    fprintf(f, "hwadapt %s — adapts AI models to the hardware at hand\n\n", HWA_VERSION_STRING);
    fprintf(f, "usage: hwadapt [COMMAND] [OPTIONS]   (no COMMAND: run)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'hwadapt COMMAND --help' describes a command's options.\n");
}

/* libgomp (oneDNN's threads) reads its wait policy once, when it loads,
 * before main: by default an idle thread spins about 300,000 times before
 * it sleeps, which on cores shared with another busy process takes the
 * CPU from the very thread it waits for (linear1000 measured 8 ms instead
 * of 0.3 ms). So when the user has set neither OMP_WAIT_POLICY nor
 * GOMP_SPINCOUNT, the command sets a short spin and runs itself again;
 * HWA_OMP_REEXEC=0 turns this off. The value is the one bench/contention.sh
 * chose (docs/threads.md). */
#define HWA_GOMP_SPINCOUNT "10000"

static void exec_with_omp_wait_policy(char **argv) {
    const char *off = getenv("HWA_OMP_REEXEC");
    if ((off && (!strcmp(off, "0") || !strcmp(off, "done"))) || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    /* "done" marks the run that this one starts (and tells `hwadapt run`
     * who set the spin) */
    if (setenv("GOMP_SPINCOUNT", HWA_GOMP_SPINCOUNT, 1) || setenv("HWA_OMP_REEXEC", "done", 1)) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's default */
    unsetenv("GOMP_SPINCOUNT");
    unsetenv("HWA_OMP_REEXEC");
}

int main(int argc, char **argv) {
    exec_with_omp_wait_policy(argv);
    if (argc < 2) return cmd_run(1, (char *[]){"run", NULL});
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hwadapt %s\n", HWA_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    /* hwadapt --budget 15: options of the main job (argv[0] stands for "run") */
    if (argv[1][0] == '-') {
        argv[0] = "run";
        return cmd_run(argc, argv);
    }
    char names[256] = "";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", commands[i].name);
    return cli_usage_error("", "COMMAND", argv[1], "unknown command; allowed: %s", names);
}
