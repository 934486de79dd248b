/* hwadapt generate MODEL [options]: runs a Llama-family language model. The
 * prompt and the generated text go to stdout alone; timings and memory go to
 * stderr. Exit 0 on success, 1 on an error (one line on stderr), 2 on a
 * usage error. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "load_note.h"
#include "config.h"
#include "device_check.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt generate MODEL [OPTIONS]\n\n"
            "Generates text with a Llama-family model (llama2.c checkpoint or GGUF).\n\n"
            "  --tokenizer FILE  llama2.c tokenizer file or GGUF (default: the GGUF model's own)\n"
            "  --prompt TEXT     text to continue (default: none)\n"
            "  --temperature T   T >= 0; 0 is greedy (default 1.0)\n"
            "  --top-p P         nucleus sampling, 0 < P <= 1 (default 0.9)\n"
            "  --top-k K         keep the K most likely tokens, 0 for all (default 0)\n"
            "  --seed S          random seed, S >= 0 (default: the time)\n"
            "  --steps N         positions to run, BOS and prompt included (default 256, at most the context)\n"
            "  --ctx N           KV cache positions (default: the model's maximum)\n"
            "  --threads N       threads, 1..4096 (default: HWA_NUM_THREADS, else the CPUs this process may\n"
            "                    use)\n"
            "  --dtype D         the matrices' dtype: f32, f16, bf16, or a block type (q8_0, q4_0, q4_1, q4_k,\n"
            "                    q6_k: quantized at load as `hwadapt quantize` does), converted once at load\n"
            "                    when the file's differs (default: the file's, mapped without copying)\n"
            "  --device SPEC     cpu (default) or opencl:N (hwadapt probe lists the devices); on opencl:N the\n"
            "                    weights are copied to the device and --threads has no effect; auto: each\n"
            "                    step's graph is placed across the devices by measured cost (weights and KV\n"
            "                    cache stay on the CPU; hwadapt plan explains the choices), and the first\n"
            "                    decode step's nodes are timed for the profile cache\n"
            "  --devices LIST    --device auto: the devices to place across (default: every device found)\n"
            "  --config FILE     device, dtype and threads from FILE's [generate] section, else its [all]\n"
            "                    (docs/settings.md); flags given here win (default: none)\n");
}

static int write_text(void *ud, const char *text, size_t len) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

typedef struct options {
    const char *model, *tokenizer, *prompt, *dtype, *device, *config, *devices;
    hwa_sampler_params sp;
    long steps, ctx, threads;
} options;

/* ca (may be NULL) says which arguments came from --config. */
static int parse_args(int argc, char **argv, const cli_args *ca, options *o) {
    static const char *const dtypes[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k", NULL};
    static const char *const valued[] = {"--tokenizer", "--prompt", "--device", "--devices", "--config",
                                         "--temperature", "--top-p", "--top-k", "--seed", "--steps", "--ctx",
                                         "--threads", "--dtype", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (a[0] != '-') {
            if (cli_positional("generate", &o->model, a, "MODEL")) return 2;
            continue;
        }
        if (!cli_word_in(a, valued)) return cli_unknown_option("generate", a);
        if (i + 1 >= argc) return cli_missing_value("generate", a, NULL);
        const char *from = cli_args_origin(ca, i);
        const char *val = argv[++i];
        int64_t n = 0;
        double d = 0;
        int rc = 0, k;
        if (!strcmp(a, "--tokenizer")) rc = cli_once("generate", a, &o->tokenizer, val);
        else if (!strcmp(a, "--prompt")) o->prompt = val;
        else if (!strcmp(a, "--device")) o->device = val;
        else if (!strcmp(a, "--devices")) o->devices = val;
        else if (!strcmp(a, "--config")) rc = cli_once("generate", a, &o->config, val);
        else if (!strcmp(a, "--temperature")) {
            if (!(rc = cli_num_opt("generate", a, val, from, "[0, inf)", &d))) o->sp.temperature = (float)d;
        } else if (!strcmp(a, "--top-p")) {
            if (!(rc = cli_num_opt("generate", a, val, from, "(0, 1]", &d))) o->sp.top_p = (float)d;
        } else if (!strcmp(a, "--top-k")) {
            if (!(rc = cli_int_opt("generate", a, val, from, 0, INT32_MAX, &n))) o->sp.top_k = (int32_t)n;
        } else if (!strcmp(a, "--seed")) {
            if (!(rc = cli_int_opt("generate", a, val, from, 0, INT64_MAX, &n))) o->sp.seed = (uint64_t)n;
        } else if (!strcmp(a, "--steps")) {
            if (!(rc = cli_int_opt("generate", a, val, from, 1, INT32_MAX, &n))) o->steps = (long)n;
        } else if (!strcmp(a, "--ctx")) {
            if (!(rc = cli_int_opt("generate", a, val, from, 1, INT32_MAX, &n))) o->ctx = (long)n;
        } else if (!strcmp(a, "--threads")) {
            if (!(rc = cli_int_opt("generate", a, val, from, 1, 4096, &n))) o->threads = (long)n;
        } else if (!(rc = cli_enum_opt("generate", a, val, from, dtypes, &k))) {
            o->dtype = val;
        }
        if (rc) return rc;
    }
    if (!o->model) return cli_missing_arg("generate", "MODEL", "a llama2.c checkpoint or a GGUF file");
    if (o->devices && (!o->device || strcmp(o->device, "auto")))
        return cli_usage_error("generate", "--devices", o->devices, "without --device auto; allowed: with --device auto");
    return 0;
}

/* What came from --config, for errors that may be about it ("" without). */
static char config_note[1200];

static int fail(const char *what) {
    fprintf(stderr, "hwadapt generate: %s%s%s\n", what ? what : "", hwa_last_error(), config_note);
    return 1;
}

static void options_default(options *o) {
    *o = (options){.sp = {.temperature = 1.0f, .top_p = 0.9f, .top_k = 0, .seed = 0}, .steps = 256};
    o->sp.seed = (uint64_t)time(NULL);
}

static int run(const options *o);

int cmd_generate(int argc, char **argv) {
    options o;
    options_default(&o);
    int rc = parse_args(argc, argv, NULL, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.config) return run(&o);
    /* Again, with the file's settings ahead of the command line's. */
    hwa_settings *cfg = cli_config_load("generate", o.config);
    if (!cfg) return 2;
    cli_args ca;
    rc = cli_config_args("generate", cfg, "generate", argc, argv, &ca);
    if (!rc) {
        options_default(&o);
        rc = parse_args(ca.argc, ca.argv, &ca, &o);
        cli_args_summary(&ca, config_note, sizeof config_note);
        rc = rc ? (rc == 1 ? 0 : rc) : run(&o);
    }
    cli_args_free(&ca);
    hwa_settings_free(cfg);
    return rc;
}

static int run(const options *op) {
    const options o = *op;
    int rc;
    hwa_llama *m = NULL;
    hwa_tokenizer *tok = NULL;
    hwa_sampler *s = NULL;
    const bool placed = o.device && !strcmp(o.device, "auto");
    hwa_passport *pp = NULL;
    char devices[256] = "";
    if (placed) {
        /* the cost model's figures (cached calibration; measured once when there is none) */
        pp = hwa_passport_probe(&(hwa_probe_opts){.calibrate = HWA_CALIBRATE_CACHED, .matmul_bench = hwa_bench_matmul_peak});
        if (o.devices) snprintf(devices, sizeof devices, "%s", o.devices);
        else hwa_place_device_list(pp, devices, sizeof devices);
    }
    const hwa_llama_params lp = {.device = placed ? "cpu" : o.device ? o.device : "cpu", .n_ctx = (int32_t)o.ctx,
                                 .n_threads = (int32_t)o.threads, .weight_dtype = o.dtype,
                                 .place_devices = placed ? devices : NULL, .passport = pp, .place_learn = placed};
    if (hwa_sampler_new(&o.sp, 1, &s)) { /* options first: no model needed to refuse them */
        hwa_passport_free(pp);
        return fail(NULL);
    }
    hwa_sampler_free(s);
    s = NULL;
    if ((rc = cli_device_check("generate", o.device, config_note))) {
        hwa_passport_free(pp);
        return rc;
    }
    if (hwa_llama_load(o.model, &lp, &m)) {
        hwa_passport_free(pp);
        return fail(NULL);
    }
    const hwa_llama_config *c = hwa_llama_get_config(m);
    hwa_status st;
    if (o.tokenizer) st = hwa_tokenizer_load(o.tokenizer, 0, &tok);
    else if (hwa_model_file_format(hwa_llama_file(m)) == HWA_FORMAT_GGUF)
        st = hwa_tokenizer_from_file(hwa_llama_file(m), &tok);
    else {
        fprintf(stderr, "hwadapt generate: %s is a llama2.c checkpoint: name its tokenizer with --tokenizer FILE\n",
                o.model);
        hwa_llama_free(m);
        hwa_passport_free(pp);
        return 2;
    }
    if (st == HWA_OK) st = hwa_sampler_new(&o.sp, c->vocab_size, &s);
    hwa_generate_stats gs;
    load_note ln;
    hwa_load_delta ld;
    load_note_begin(&ln);
    if (st == HWA_OK) st = hwa_generate(m, tok, s, o.prompt, (int32_t)o.steps, write_text, NULL, &gs);
    int ld_cpus = 0;
    const bool ld_known = st == HWA_OK && load_note_take(&ln, hwa_llama_n_threads(m), &ld, &ld_cpus);
    if (st == HWA_OK) {
        struct rusage ru;
        const double peak_mib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : 0.0;
        printf("\n");
        fflush(stdout);
        char conv[224] = "", where[280] = "mapped", runs[64];
        if (hwa_llama_n_fallback(m))
            snprintf(conv, sizeof conv, " (%s in the file; %s asked: %d matri%s whose rows are not whole %s blocks "
                     "took q8_0 or f16, as llama.cpp's quantizer does)", hwa_dtype_name(c->file_weight_dtype), o.dtype,
                     hwa_llama_n_fallback(m), hwa_llama_n_fallback(m) == 1 ? "x" : "ces", o.dtype);
        else if (c->file_weight_dtype != c->weight_dtype)
            snprintf(conv, sizeof conv, " (%s in the file)", hwa_dtype_name(c->file_weight_dtype));
        if (conv[0]) snprintf(where, sizeof where, "converted at load");
        /* The CPU maps the file's weights in place; a device holds a copy. */
        const bool on_cpu = !strcmp(lp.device, "cpu") || !strcmp(lp.device, "cpu:0");
        if (!on_cpu) snprintf(where, sizeof where, "%scopied to %s", conv[0] ? "converted and " : "", lp.device);
        if (on_cpu) snprintf(runs, sizeof runs, "threads %d", hwa_llama_n_threads(m));
        else snprintf(runs, sizeof runs, "device %s", lp.device);
        fprintf(stderr,
                "model: %s, dim %d, %d layers, %d/%d heads, vocab %d, %s weights%s, %s\n"
                "memory: weights %.1f MiB (%s), KV cache %.1f MiB (%d positions), peak resident %.1f MiB\n"
                "prompt: %d tokens, generated: %d tokens\n"
                "time to first token: %.3f s\n"
                "prefill: %.2f tokens/s, decode: %.2f tokens/s\n",
                o.model, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, hwa_dtype_name(c->weight_dtype),
                conv, runs, hwa_llama_weight_bytes(m) / 1048576.0, where, hwa_llama_kv_bytes(m) / 1048576.0,
                hwa_llama_n_ctx(m), peak_mib,
                gs.n_prompt, gs.n_generated, gs.ttft_s, gs.prefill_tok_s, gs.decode_tok_s);
        if (placed) {
            double est = NAN;
            const char *choice = hwa_llama_placement(m, &est);
            fprintf(stderr, "placement: across %s, the last step ran as %s; predicted %.3f ms of compute a step "
                            "(nodes timed at the first decode step), measured %.3f ms a decode step (placing each "
                            "step costs about a quarter of a millisecond more)\n",
                    devices, choice, est * 1e3, gs.decode_tok_s > 0 ? 1e3 / gs.decode_tok_s : NAN);
        }
        if (ld_known && isfinite(ld.others_share) && ld.contended)
            fprintf(stderr, "cpus: this process used %.0f%% of its %d thread(s); contended: %s\n", 100 * ld.self_share,
                    hwa_llama_n_threads(m), ld.why);
        else if (ld_known && isfinite(ld.others_share))
            fprintf(stderr, "cpus: this process used %.0f%% of its %d thread(s); other processes took %.0f%% of the %d CPUs\n",
                    100 * ld.self_share, hwa_llama_n_threads(m), 100 * ld.others_share, ld_cpus);
        else
            fprintf(stderr, "cpus: the run was too short (%.3f s) to tell other processes' share\n",
                    ld_known ? ld.wall_s : 0.0);
    }
    rc = st == HWA_OK ? 0 : fail(NULL);
    hwa_sampler_free(s);
    hwa_tokenizer_free(tok);
    hwa_llama_free(m);
    hwa_passport_free(pp);
    return rc;
}
