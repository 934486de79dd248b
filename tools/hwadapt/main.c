/* hwadapt — the command. Dispatches to one cmd_<name>.c per subcommand;
 * with no subcommand it runs the main job. */
#include <stdio.h>
#include <string.h>

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
    {"train", cmd_train, "train a model (fmnist-mlp on Fashion-MNIST); checkpoints, resume, export"},
};

static void usage(FILE *f) {
    fprintf(f, "hwadapt %s — adapts AI models to the hardware at hand\n\n", HWA_VERSION_STRING);
    fprintf(f, "usage: hwadapt [COMMAND] [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'hwadapt COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
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
    fprintf(stderr, "hwadapt: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
