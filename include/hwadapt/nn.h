/* hwadapt — built-in architectures: Llama-family language models, their
 * tokenizer, token sampling and a generation loop.
 *
 * A Llama model is built from the graph's ops (graph.h) each time it runs:
 * token embedding, n_layers of [RMSNorm -> attention with rotary position
 * embedding and grouped KV heads -> residual -> RMSNorm -> SwiGLU feed-forward
 * -> residual], a final RMSNorm and the classifier (tied to the embedding or
 * not). Weights stay in the memory-mapped model file (zero copy); the KV cache
 * holds n_ctx positions per layer.
 *
 * Errors: every fallible function returns an hwa_status and records a
 * one-line message readable with hwa_last_error(). Nothing here aborts or
 * exits on bad input.
 *
 * Threading: an hwa_llama, hwa_sampler or hwa_tokenizer is used by one
 * thread at a time; a tokenizer is read-only after loading, so encode/decode
 * may run from several threads at once.
 */
#ifndef HWADAPT_NN_H
#define HWADAPT_NN_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"
#include "io.h"
#include "sched.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Llama models ------------------------------------------------------- */

/* Hyper-parameters of a Llama-family model (plain data). */
typedef struct hwa_llama_config {
    int32_t dim;          /* model width */
    int32_t hidden_dim;   /* feed-forward width */
    int32_t n_layers;
    int32_t n_heads;      /* query heads; head size = dim / n_heads */
    int32_t n_kv_heads;   /* key/value heads (divides n_heads) */
    int32_t vocab_size;
    int32_t seq_len;      /* the longest context the model was made for */
    float rope_theta;     /* 10000 unless the file says otherwise */
    float norm_eps;       /* RMSNorm epsilon, 1e-5 unless the file says otherwise */
    bool shared_classifier; /* the classifier is the token embedding */
    hwa_dtype weight_dtype; /* of the matrices as loaded: f32, f16 or bf16 */
    hwa_dtype file_weight_dtype; /* of the matrices in the file; differs from
                                    weight_dtype when they were converted at load */
} hwa_llama_config;

typedef struct hwa_llama_params {
    const char *device;   /* backend spec; NULL: "cpu" (zero-copy weights need the CPU) */
    int32_t n_ctx;        /* KV cache positions; 0: the model's seq_len */
    int32_t n_threads;    /* 0: the backend's default */
    /* The matrices' dtype (the token embedding, the classifier and every
     * projection; norm weights stay as the file has them): NULL or "" keeps
     * the file's and maps it without copying; "f32", "f16" or "bf16"
     * (case-insensitive), when it differs from the file's, converts each
     * matrix once at load into memory the model owns (rounding to nearest
     * even, through f32). The products then run on that dtype's kernels with
     * f32 activations and accumulation. */
    const char *weight_dtype;
    /* Placement across devices: NULL runs everything on `device`. A comma
     * list ("cpu,opencl:0") places each step's graph across those devices
     * (`device`, which holds the weights and the KV cache, must be among
     * them and addresses host memory: the CPU), by the cost model with the
     * passport's figures (NULL: unknown, so auto keeps the CPU) and the
     * options in place (mode, split; a layer split, say). Weights read on
     * another device are copied there once and kept; the KV cache, written
     * in place where it lives, is copied each step to a device that reads
     * it. hwa_llama_placement says where the last step ran. */
    const char *place_devices;
    const hwa_passport *passport;
    hwa_place_opts place;
    /* Time the nodes of the first one-token step's placement (each node
     * alone, on its device) for the profile cache, so that later plans of
     * this model use measured times. */
    bool place_learn;
    /* Sequences decoded side by side, each with its own positions and KV
     * cache (hwa_llama_eval_seq, hwa_llama_eval_batch): 0 or 1 for one, at
     * most HWA_LLAMA_MAX_SEQ. The cache takes n_seq times n_ctx positions.
     * More than one needs a device that runs the cache ops (the CPU) and no
     * place_devices. */
    int32_t n_seq;
    /* Build every step's graph afresh with its position fixed in it, as
     * before decode graphs were reused (for comparisons; backends without
     * the cache ops, and placement across devices, always do). */
    bool rebuild_graphs;
} hwa_llama_params;

#define HWA_LLAMA_MAX_SEQ 256

typedef struct hwa_llama hwa_llama;

/* Opens a llama2.c checkpoint or a GGUF file (general.architecture "llama")
 * at path, validates every tensor's dtype and shape against the config, and
 * binds the weights to the mapping without copying them. params may be NULL
 * (defaults). *out: new, freed with hwa_llama_free; NULL on error.
 * Errors: HWA_E_MISUSE (NULL path/out), the file's errors (hwa_model_file_open),
 * HWA_E_UNSUPPORTED (another architecture, a weight dtype other than
 * f32/f16/bf16 in the file, a params->weight_dtype the products cannot run
 * in: the message lists f32, f16, bf16; partial rotary embedding),
 * HWA_E_INVALID (a weight_dtype that names no dtype), HWA_E_FORMAT (missing
 * tensors, wrong shapes, inconsistent hyper-parameters), HWA_E_RANGE
 * (n_ctx < 0, n_seq outside 0..HWA_LLAMA_MAX_SEQ), HWA_E_UNSUPPORTED (n_seq
 * > 1 on a device without the cache ops, or with place_devices or
 * rebuild_graphs), HWA_E_NOMEM. */
hwa_status hwa_llama_load(const char *path, const hwa_llama_params *params, hwa_llama **out);
void hwa_llama_free(hwa_llama *m); /* NULL is a no-op */

/* The config (owned by m). */
const hwa_llama_config *hwa_llama_get_config(const hwa_llama *m);
/* The open model file (owned by m), for its tokenizer metadata. */
const hwa_model_file *hwa_llama_file(const hwa_llama *m);
int32_t hwa_llama_n_ctx(const hwa_llama *m);  /* KV cache capacity in positions */
int32_t hwa_llama_pos(const hwa_llama *m);    /* positions filled so far */
size_t hwa_llama_weight_bytes(const hwa_llama *m); /* weights read by a forward pass (mapped or converted) */
int hwa_llama_n_threads(const hwa_llama *m);       /* the threads its backend computes with (>= 1) */
size_t hwa_llama_kv_bytes(const hwa_llama *m);     /* the KV cache, allocated */

/* How many matrices weight_dtype could not hold (rows not whole blocks of
 * it) and took hwa_dtype_for_rows's type instead. */
int hwa_llama_n_fallback(const hwa_llama *m);
/* Forgets the cached positions of every sequence (the next eval starts at
 * position 0). */
void hwa_llama_reset(hwa_llama *m);
int32_t hwa_llama_n_seq(const hwa_llama *m); /* sequences it was loaded for (>= 1) */
/* Positions filled in sequence seq's cache (0 for a seq out of range), and
 * forgetting them (a no-op for a seq out of range). hwa_llama_pos is
 * sequence 0's. */
int32_t hwa_llama_seq_pos(const hwa_llama *m, int32_t seq);
void hwa_llama_seq_reset(hwa_llama *m, int32_t seq);
/* Where the last eval's graph ran when placed across devices ("cpu:0",
 * "layers cpu:0 | opencl:0 at node 61", "mixed"), and its estimate in
 * seconds (*est_s may be NULL); "" before the first eval or without
 * place_devices. Owned by m, valid until the next eval. */
const char *hwa_llama_placement(const hwa_llama *m, double *est_s);
/* The plan of one step of n_tokens tokens from position 0 (1: a decode
 * step's shape at the start; more: a prefill) across the devices m was
 * loaded with (place_devices), printed (per_node: a line per node) or as
 * JSON (docs/plan.md) to f. Places nothing on a device: the step's token
 * ids are the only memory it takes (a few bytes on the CPU). HWA_E_MISUSE
 * without place_devices; HWA_E_NOMEM when no placement fits. */
hwa_status hwa_llama_plan(hwa_llama *m, int32_t n_tokens, FILE *f, bool json, bool per_node);

/* Runs n tokens at positions pos .. pos+n-1 in one batched pass, appending
 * their keys and values to the cache. logits receives the next-token logits:
 * [vocab_size] of the last token, or with all_logits [n, vocab_size], one row
 * per token. logits may be NULL (only fills the cache).
 * Errors: HWA_E_MISUSE (NULL m, n <= 0, tokens NULL), HWA_E_RANGE (the cache
 * would overflow n_ctx, a token id outside the vocabulary), HWA_E_NOMEM.
 * On error the cache position is unchanged. */
hwa_status hwa_llama_eval(hwa_llama *m, const int32_t *tokens, int32_t n, bool all_logits, float *logits);
/* hwa_llama_eval on sequence seq (0 .. n_seq - 1; HWA_E_RANGE outside). */
hwa_status hwa_llama_eval_seq(hwa_llama *m, int32_t seq, const int32_t *tokens, int32_t n, bool all_logits,
                              float *logits);
/* One decode step of n sequences in one batch: tokens[s] goes to sequence
 * seqs[s] at that sequence's next position; every weight multiplies all n
 * rows in one product. logits (may be NULL) receives [n, vocab_size], row s
 * sequence seqs[s]'s next-token logits: what hwa_llama_eval_seq of that
 * token alone gives, bit for bit where the products compute each row as
 * they do alone (oneDNN's and hwadapt's own); OpenBLAS's round a product of
 * several rows otherwise (about 1e-6 relative in f32; more once a block
 * type rounds the activations downstream). The graph of a step of n
 * sequences is built once and reused.
 * Errors: HWA_E_MISUSE (NULL m, seqs or tokens, n <= 0), HWA_E_RANGE (n
 * above n_seq, a sequence out of range or whose context is full, a token
 * outside the vocabulary), HWA_E_INVALID (a sequence listed twice),
 * HWA_E_NOMEM. On error no position moves. */
hwa_status hwa_llama_eval_batch(hwa_llama *m, int32_t n, const int32_t *seqs, const int32_t *tokens, float *logits);

/* ---- importance matrix ------------------------------------------------------- */

/* Collection mode: while im is set (NULL stops), every hwa_llama_eval adds
 * to im, for each layer matrix (and an untied classifier) by its GGUF name,
 * the column sums of the squares of the activations that meet it and their
 * row count. The sums are extra outputs of the eval's own graph. im is
 * borrowed until collection stops. */
hwa_status hwa_llama_collect_imatrix(hwa_llama *m, hwa_imatrix *im);
/* llama.cpp's imatrix over tokens[0..n): chunks of ctx tokens (at most
 * max_chunks when > 0), each from position 0 with its first token replaced
 * by bos (when >= 0), every position counted, into im; *n_chunks (may be
 * NULL) gets the chunks run. Resets m's cache. Errors: HWA_E_RANGE (ctx
 * outside 1 .. n_ctx, fewer than ctx tokens), eval's. */
hwa_status hwa_llama_imatrix(hwa_llama *m, const int32_t *tokens, int64_t n, int32_t ctx, int32_t bos,
                             int32_t max_chunks, hwa_imatrix *im, int32_t *n_chunks);

/* ---- perplexity ------------------------------------------------------------ */

typedef struct hwa_perplexity_result {
    int32_t n_chunks;
    int64_t n_scored;     /* predictions scored */
    double nll;           /* their mean negative log-likelihood, nats */
    double ppl, ppl_se;   /* exp(nll), and its standard error (delta method) */
    /* against a reference model; NAN without one */
    double ref_ppl;
    double kl_mean, kl_p99, kl_max; /* KL(reference || model) per prediction, nats */
    double top1;          /* share of predictions whose most likely token is the reference's */
} hwa_perplexity_result;

/* The perplexity of m over tokens[0..n), as llama.cpp's perplexity tool
 * measures it: chunks of ctx tokens (at most max_chunks when > 0), each
 * one's first token replaced by bos (when >= 0), run from position 0 in one
 * batched pass; the predictions of the tokens at ctx/2 + 1 .. ctx - 1 of
 * each chunk scored. With ref (NULL for none; the same vocabulary), the
 * same chunks through ref too: its perplexity, the KL divergence of m's
 * next-token distributions from ref's, and top-1 agreement. Resets both
 * models' caches. Errors: HWA_E_RANGE (ctx outside 4 .. n_ctx, fewer than
 * ctx tokens), HWA_E_INVALID (a reference that does not fit), eval's. */
hwa_status hwa_llama_perplexity(hwa_llama *m, hwa_llama *ref, const int32_t *tokens, int64_t n, int32_t ctx,
                                int32_t bos, int32_t max_chunks, hwa_perplexity_result *out);

/* ---- tokenizer: SentencePiece-style and byte-level BPE ----------------------- */

/* Two kinds of vocabulary behind one type (docs/formats.md):
 * - SentencePiece-style BPE (llama2.c tokenizer files, GGUF
 *   tokenizer.ggml.model "llama"): a dummy-prefix space, merges by score,
 *   byte tokens <0xNN> for characters without a token.
 * - byte-level BPE (GGUF tokenizer.ggml.model "gpt2": GPT-2, SmolLM2,
 *   Llama 3, Qwen2): special tokens (control and user-defined) written in
 *   the text are matched whole first; the rest is split by the pre-tokenizer
 *   tokenizer.ggml.pre names (gpt2/default, llama3/llama-bpe, qwen2, smollm;
 *   another name is HWA_E_UNSUPPORTED), then each piece's bytes are merged by
 *   tokenizer.ggml.merges' ranks, as Hugging Face tokenizers does. */
typedef struct hwa_tokenizer hwa_tokenizer;

/* From a llama2.c tokenizer file (n_tokens as in hwa_vocab_load_llama2c: the
 * model's vocab_size, or 0 for all) or from the metadata of a GGUF file at
 * path (tokenizer.ggml.model "llama" or "gpt2"; n_tokens, when > 0, must
 * equal its count). *out: new, hwa_tokenizer_free. Errors: the file's,
 * HWA_E_FORMAT (for byte-level vocabularies also: a normal token that is not
 * byte-level text, a merge that is not two tokens joining into a token),
 * HWA_E_UNSUPPORTED (another tokenizer model or pre-tokenizer), HWA_E_NOMEM. */
hwa_status hwa_tokenizer_load(const char *path, int32_t n_tokens, hwa_tokenizer **out);
/* From an open GGUF model file (borrowed; the tokenizer copies what it
 * keeps). */
hwa_status hwa_tokenizer_from_file(const hwa_model_file *f, hwa_tokenizer **out);
void hwa_tokenizer_free(hwa_tokenizer *t); /* NULL is a no-op */

int32_t hwa_tokenizer_size(const hwa_tokenizer *t);
int32_t hwa_tokenizer_bos(const hwa_tokenizer *t);
int32_t hwa_tokenizer_eos(const hwa_tokenizer *t);
/* Whether text should start with BOS (tokenizer.ggml.add_bos_token; when the
 * file does not say: true for SentencePiece-style vocabularies, false for
 * byte-level ones); false without a BOS token. */
bool hwa_tokenizer_add_bos(const hwa_tokenizer *t);
/* "llama" (SentencePiece-style) or "gpt2" (byte-level); "" for NULL. */
const char *hwa_tokenizer_model(const hwa_tokenizer *t);

/* Encodes UTF-8 text: BOS when bos, a leading space (the dummy prefix) when
 * text is not empty and the vocabulary wants one, each character as its
 * token or, without one, as byte tokens <0xNN>, then pairs merged greedily by
 * the highest score, then EOS when eos (byte-level vocabularies: BOS, the
 * text as the comment above says, EOS). At most cap ids are written; *n gets
 * the count. Errors: HWA_E_MISUSE (NULL arguments), HWA_E_RANGE (more than
 * cap tokens: *n holds the count needed), HWA_E_NOTFOUND (a byte with no
 * token and no byte fallback), HWA_E_NOMEM. */
hwa_status hwa_tokenizer_encode(const hwa_tokenizer *t, const char *text, bool bos, bool eos, int32_t *ids,
                                int32_t cap, int32_t *n);
/* The bytes of token id as text follows token prev (-1: none): byte tokens
 * give their byte, control tokens (BOS, EOS, unknown) give "", and the
 * leading space of the first piece after BOS (or at the start) is dropped.
 * Byte-level vocabularies: the bytes the token stands for (a piece may end
 * inside a UTF-8 character that the next completes), special tokens their
 * text ("<|im_end|>"), whatever prev is. Points into t; *len gets the length
 * (the piece may hold a NUL byte). NULL for an id out of range. */
const char *hwa_tokenizer_piece(const hwa_tokenizer *t, int32_t prev, int32_t id, size_t *len);
/* Decodes n ids into buf (NUL-terminated, at most cap bytes with the NUL);
 * *len gets the text's length. HWA_E_RANGE for an id out of range or when buf
 * is too small (*len then holds the length needed). */
hwa_status hwa_tokenizer_decode(const hwa_tokenizer *t, const int32_t *ids, int32_t n, char *buf, size_t cap,
                                size_t *len);

/* ---- sampling ------------------------------------------------------------ */

typedef struct hwa_sampler_params {
    float temperature; /* 0: greedy (argmax); > 0 divides the logits */
    float top_p;       /* nucleus sampling in (0, 1]; 1: off */
    int32_t top_k;     /* keep the k most likely; 0: off */
    uint64_t seed;     /* the generator's seed; equal seeds give equal samples */
} hwa_sampler_params;

typedef struct hwa_sampler hwa_sampler;

/* Checks params (temperature >= 0 and finite, top_p in (0, 1], top_k >= 0:
 * HWA_E_RANGE with a message naming the parameter otherwise) and creates a
 * sampler for vocab_size logits. *out: new, hwa_sampler_free. */
hwa_status hwa_sampler_new(const hwa_sampler_params *params, int32_t vocab_size, hwa_sampler **out);
void hwa_sampler_free(hwa_sampler *s); /* NULL is a no-op */
/* Picks the next token from vocab_size logits (not modified). */
hwa_status hwa_sampler_sample(hwa_sampler *s, const float *logits, int32_t *token);

/* ---- generation ------------------------------------------------------------ */

typedef struct hwa_generate_stats {
    int32_t n_prompt;       /* prompt tokens, BOS included */
    int32_t n_generated;    /* tokens sampled (the stopping EOS/BOS excluded) */
    double ttft_s;          /* from the start to the first sampled token */
    double prefill_s;       /* the batched pass over the prompt */
    double decode_s;        /* every single-token step after it */
    double prefill_tok_s;   /* n_prompt / prefill_s */
    double decode_tok_s;    /* decode steps / decode_s (0 when there were none) */
} hwa_generate_stats;

/* Receives text as it is produced: len bytes (not NUL-terminated). A
 * non-zero return stops the generation early (not an error). */
typedef int (*hwa_text_fn)(void *ud, const char *text, size_t len);

/* Generates text from prompt (may be NULL or ""): resets m, encodes the
 * prompt (after BOS when hwa_tokenizer_add_bos says so or the prompt is
 * empty), runs the prompt in one batched pass, then samples one token per
 * step until EOS or BOS is sampled or `steps` positions have run (the BOS
 * position counts, as in llama2.c's run: at most steps - n_prompt + 1 tokens
 * are sampled). steps <= 0 or above n_ctx means n_ctx. The prompt's text and
 * then each sampled token's text go to emit. stats may be NULL.
 * Errors: HWA_E_MISUSE, HWA_E_RANGE (the prompt does not fit n_ctx; the
 * tokenizer's size differs from the model's vocabulary), and those of eval
 * and sampling. */
hwa_status hwa_generate(hwa_llama *m, const hwa_tokenizer *tok, hwa_sampler *s, const char *prompt, int32_t steps,
                        hwa_text_fn emit, void *ud, hwa_generate_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
