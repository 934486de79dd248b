/* A language model's text input, shared by the commands that run a model
 * over a text file (perplexity, imatrix): the file read whole, its
 * tokenizer opened, the text tokenized. */
#ifndef HWADAPT_TOOLS_LM_TEXT_H
#define HWADAPT_TOOLS_LM_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "hwadapt/hwadapt.h"

/* The options every such command takes: --text, --tokenizer, --dtype,
 * --ctx, --chunks, --threads. */
typedef struct cli_lm_opts {
    const char *text, *tokenizer, *dtype;
    long ctx, chunks, threads;
    long ctx_min;          /* the smallest --ctx the command accepts */
} cli_lm_opts;
/* The dtypes --dtype takes, as a list and as the help writes it. */
extern const char *const cli_lm_dtype_names[];
extern const char *const cli_lm_dtypes;
/* Option a with value v (i.e. argv[i+1], already known to be there) when it
 * is one of the above: *matched true and the exit status of a usage error
 * (0 when fine); *matched false otherwise. */
int cli_lm_opt(const char *cmd, const char *a, const char *v, cli_lm_opts *o, bool *matched);

/* The whole file, NUL-terminated; NULL after printing why ("hwadapt CMD: ..."). */
char *cli_read_text(const char *cmd, const char *path);
/* The tokenizer file tokp (NULL: m's GGUF own) into *out. Returns 0, or the
 * exit status after printing why (2: a llama2.c model with no --tokenizer). */
int cli_model_tokenizer(const char *cmd, const char *model, const hwa_llama *m, const char *tokp, hwa_tokenizer **out);
/* The token each chunk starts with: tok's BOS when its vocabulary asks for
 * one, else -1 (none), as hwa_llama_perplexity and hwa_llama_imatrix take it. */
int32_t cli_chunk_bos(const hwa_tokenizer *tok);
/* The text tokenized a line at a time, or whole for byte-level BPE (whose
 * newlines are tokens), without BOS; NULL after printing why. */
int32_t *cli_tokenize(const char *cmd, const hwa_tokenizer *tok, char *text, int64_t *n_out);

#endif
