/* Byte-level BPE (GGUF tokenizer.ggml.model "gpt2"), internal to the
 * tokenizer: src/nn/tokenizer.c owns the public hwa_tokenizer and hands
 * byte-level vocabularies to src/nn/tokenizer_bpe.c. */
#ifndef HWA_NN_TOKENIZER_BPE_H
#define HWA_NN_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "hwadapt/io.h"
#include "hwadapt/status.h"

/* Token kinds, numbered as GGUF's tokenizer.ggml.token_type. */
enum { HWA__TOK_NORMAL = 1, HWA__TOK_UNKNOWN = 2, HWA__TOK_CONTROL = 3, HWA__TOK_USER = 4, HWA__TOK_UNUSED = 5,
       HWA__TOK_BYTE = 6 };

/* The pre-tokenizer splits, by tokenizer.ggml.pre (hwa__bpe_pre_from_name). */
typedef enum hwa__bpe_pre {
    HWA__PRE_GPT2,   /* GPT-2's regex */
    HWA__PRE_LLAMA3, /* Llama 3's: case-insensitive contractions, digits in threes, newlines kept with what precedes */
    HWA__PRE_QWEN2,  /* Llama 3's with single digits */
    HWA__PRE_SMOLLM, /* every digit alone, then GPT-2's regex */
} hwa__bpe_pre;

/* The split for a tokenizer.ggml.pre name; HWA_E_UNSUPPORTED with a message
 * listing the known names otherwise (label prefixes it). */
hwa_status hwa__bpe_pre_from_name(const char *name, const char *label, hwa__bpe_pre *out);
/* The byte length of the first piece of s[0..len) (len > 0) under pre: at
 * least 1, at most len. Bytes that are not UTF-8 count as one character of
 * no class (neither letter, number nor space). */
size_t hwa__bpe_split(hwa__bpe_pre pre, const char *s, size_t len);

typedef struct hwa__bpe hwa__bpe;

/* The vocabulary (tokenizer.ggml.tokens, token_type), merges
 * (tokenizer.ggml.merges) and split (tokenizer.ggml.pre; GPT-2's when absent)
 * of GGUF file f, validated: normal tokens must be byte-level text, every
 * merge two tokens whose concatenation is a token. Errors: HWA_E_FORMAT,
 * HWA_E_UNSUPPORTED (an unknown pre), HWA_E_NOMEM. */
hwa_status hwa__bpe_from_file(const hwa_model_file *f, hwa__bpe **out);
void hwa__bpe_free(hwa__bpe *b);
int32_t hwa__bpe_size(const hwa__bpe *b);
/* Appends the ids of text[0..len) to ids at *k (room for len more). */
hwa_status hwa__bpe_encode(const hwa__bpe *b, const char *text, size_t len, int32_t *ids, size_t *k);
/* The bytes token id stands for (id in range); *len gets their count. */
const char *hwa__bpe_piece(const hwa__bpe *b, int32_t id, size_t *len);

#endif
