/* The subcommands of the hwadapt command. Each lives in cmd_<name>.c and
 * returns the process exit status; argv[0] is the subcommand's name. */
#ifndef HWADAPT_TOOLS_COMMANDS_H
#define HWADAPT_TOOLS_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_eval(int argc, char **argv);
/* hwadapt run MODEL.onnx (cmd_run_onnx.c): cmd_run hands it a first argument ending in .onnx. */
int cmd_run_onnx(int argc, char **argv);
void cmd_run_onnx_usage(void);

#endif
