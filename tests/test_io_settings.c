/* Settings files (include/hwadapt/settings.h): a round trip through save and
 * load, the section fallbacks, train's own keys, the JSON form, and each
 * error a file or a caller can cause, with the message it gives. */
#include <stdlib.h>

#include "harness.h"

static hwa_settings *parse(const char *text) { return hwa_settings_parse(text, strlen(text), "cfg.ini"); }
static hwa_settings *parse_json(const char *text) { return hwa_settings_parse(text, strlen(text), "tuned.json"); }

/* Parsing text, named label, fails with a one-line message containing msg. */
static void refuse(const char *label, const char *text, const char *msg) {
    hwa_clear_error();
    hwa_settings *s = hwa_settings_parse(text, strlen(text), label);
    hwa_settings_free(s);
    CHECK_MSG(!s, "accepted: \"%s\"", text);
    CHECK_MSG(strstr(hwa_last_error(), msg), "\"%s\": message \"%s\" lacks \"%s\"", text, hwa_last_error(), msg);
    CHECK_MSG(!strchr(hwa_last_error(), '\n'), "message spans lines: %s", hwa_last_error());
}

#define REFUSE_AS(label, text, msg)                                                    \
    do {                                                                               \
        refuse(label, text, msg);                                                      \
        if (hwa_test_failed_now()) return;                                             \
    } while (0)
#define REFUSE(text, msg) REFUSE_AS("cfg.ini", text, msg)
#define REFUSE_JSON(text, msg) REFUSE_AS("tuned.json", text, msg)

TEST(a_file_with_comments_blanks_and_crlf_reads_every_value) {
    hwa_settings *s = parse("# chosen by the main job\r\n"
                            "\n"
                            "[all]   # everything\n"
                            "  device=cpu\n"
                            "threads\t=  2\n"
                            "dtype = BF16\n"
                            "[ bench   linear1000 ]\n"
                            "batch = 64\n"
                            "[train]\n"
                            "dtype = f16");
    CHECK_MSG(s, "%s", hwa_last_error());
    CHECK_STR_CONTAINS(hwa_settings_get(s, "all", "device"), "cpu");
    CHECK(!strcmp(hwa_settings_get(s, "all", "threads"), "2"));
    CHECK_MSG(!strcmp(hwa_settings_get(s, "all", "dtype"), "bf16"), "dtype names are kept lower-case");
    CHECK(!strcmp(hwa_settings_get(s, "bench linear1000", "batch"), "64"));
    CHECK(!strcmp(hwa_settings_get(s, "train", "dtype"), "f16"));
    hwa_settings_free(s);
}

TEST(lookups_fall_back_from_the_workload_to_bench_to_all) {
    hwa_settings *s = parse("[all]\nthreads = 1\ndtype = f32\ndevice = cpu\n"
                            "[bench]\ndtype = f16\nbatch = 8\n"
                            "[bench linear1000]\ndtype = bf16\n"
                            "[generate]\nthreads = 3\n");
    CHECK_MSG(s, "%s", hwa_last_error());
    /* The most specific section that sets the key wins. */
    CHECK(!strcmp(hwa_settings_get(s, "bench linear1000", "dtype"), "bf16"));
    CHECK(!strcmp(hwa_settings_get(s, "bench mlp1000", "dtype"), "f16"));
    CHECK(!strcmp(hwa_settings_get(s, "bench", "dtype"), "f16"));
    CHECK(!strcmp(hwa_settings_get(s, "bench linear1000", "batch"), "8"));
    CHECK(!strcmp(hwa_settings_get(s, "bench linear1000", "threads"), "1"));
    CHECK(!strcmp(hwa_settings_get(s, "bench my model.gguf", "dtype"), "f16")); /* no section can name it */
    CHECK(!strcmp(hwa_settings_get(s, "train", "dtype"), "f32"));
    CHECK(!strcmp(hwa_settings_get(s, "generate", "threads"), "3"));
    CHECK(!strcmp(hwa_settings_get(s, "generate", "device"), "cpu"));
    /* Nothing sets it, or nothing may: NULL, no error. */
    CHECK(!hwa_settings_get(s, "train", "batch"));
    CHECK(!hwa_settings_get(s, "train", "colour"));
    CHECK(!hwa_settings_get(s, "nowhere", "dtype"));
    CHECK(!hwa_settings_get(NULL, "all", "dtype"));
    char where[64];
    CHECK(!strcmp(hwa_settings_where(s, "bench linear1000", "dtype", where, sizeof where), "cfg.ini:9"));
    CHECK(!strcmp(hwa_settings_where(s, "bench linear1000", "threads", where, sizeof where), "cfg.ini:2"));
    CHECK(!hwa_settings_where(s, "train", "batch", where, sizeof where));
    hwa_settings_free(s);
}

TEST(what_is_set_and_saved_loads_back_the_same) {
    hwa_settings *s = hwa_settings_new();
    CHECK(s);
    CHECK_OK(hwa_settings_set(s, "all", "threads", "2"));
    CHECK_OK(hwa_settings_set(s, "bench linear1000", "dtype", "BF16"));
    CHECK_OK(hwa_settings_set(s, "bench linear1000", "batch", "64"));
    CHECK_OK(hwa_settings_set(s, "train", "dtype", "f16"));
    CHECK_OK(hwa_settings_set(s, "all", "threads", "1"));     /* replaces */
    CHECK_OK(hwa_settings_set(s, "generate", "device", "cpu"));
    CHECK_OK(hwa_settings_set(s, "generate", "device", NULL)); /* removes; [generate] is left empty */
    char where[64];
    CHECK(!strcmp(hwa_settings_where(s, "bench linear1000", "dtype", where, sizeof where), "[bench linear1000]"));
    char path[512];
    snprintf(path, sizeof path, "%s/settings.ini", hwa_test_tmpdir());
    CHECK_OK(hwa_settings_save(s, path));
    hwa_settings *t = hwa_settings_load(path);
    CHECK_MSG(t, "%s", hwa_last_error());
    const char *const sections[] = {"all", "train", "generate", "bench", "bench linear1000", "bench mlp1000"};
    const char *const keys[] = {"device", "dtype", "threads", "batch"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *a = hwa_settings_get(s, sections[i], keys[k]), *b = hwa_settings_get(t, sections[i], keys[k]);
            CHECK_MSG((!a && !b) || (a && b && !strcmp(a, b)), "[%s] %s: set '%s', loaded '%s'", sections[i], keys[k],
                      a ? a : "(none)", b ? b : "(none)");
        }
    CHECK(!strcmp(hwa_settings_get(t, "bench linear1000", "dtype"), "bf16"));
    CHECK(!strcmp(hwa_settings_get(t, "bench linear1000", "threads"), "1"));
    CHECK(!hwa_settings_get(t, "generate", "device"));
    /* The file itself: the header, then the sections that hold keys, in order. */
    FILE *f = fopen(path, "rb");
    CHECK(f);
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *body = strchr(text, '\n');
    CHECK(text[0] == '#' && body);
    CHECK_MSG(!strcmp(body + 1, "\n[all]\nthreads = 1\n\n[bench linear1000]\ndtype = bf16\nbatch = 64\n\n"
                                "[train]\ndtype = f16\n"),
              "saved:\n%s", text);
    hwa_settings_free(t);
    hwa_settings_free(s);
}

TEST(each_error_in_a_file_names_the_file_and_line) {
    REFUSE("[all]\nthreads = 1\n[colour]\n",
           "cfg.ini:3: unknown section [colour]; known: [all], [train], [generate], [bench], [bench WORKLOAD]");
    REFUSE("[train]\nspeed = 3\n",
           "cfg.ini:2: unknown key 'speed' in [train]; known there: device, dtype, threads, batch, epochs, optimizer, "
           "lr, momentum, weight_decay, schedule, step_epochs, gamma");
    REFUSE("[all]\nbatch = 3\n", "cfg.ini:2: unknown key 'batch' in [all]; known there: device, dtype, threads");
    REFUSE("[all]\nthreads = 1\nthreads = 2\n",
           "cfg.ini:3: key 'threads' set twice in [all] (first at line 2)");
    REFUSE("[train]\n[all]\n[train]\n", "cfg.ini:3: section [train] appears twice (first at line 1)");
    REFUSE("threads = 1\n", "cfg.ini:1: 'threads' comes before any [section]");
    REFUSE("[all]\nthreads 1\n", "cfg.ini:2: expected '[section]' or 'key = value'");
    REFUSE("[all\n", "cfg.ini:1: a section line must end with ']'");
    REFUSE("[train linear1000]\n", "cfg.ini:1: [train] takes no name after it");
    REFUSE("[bench two names]\n", "cfg.ini:1: [bench WORKLOAD]: 'two names' is not one workload name");
    REFUSE("[all]\ndtype = q8_0\n", "cfg.ini:2: dtype 'q8_0' is not one of f32, f16, bf16");
    REFUSE("[all]\nthreads = 0\n", "cfg.ini:2: threads '0' must be a whole number from 1 to 4096");
    REFUSE("[all]\nthreads = -1\n", "threads '-1' must be a whole number");
    REFUSE("[all]\nthreads = 99999999999999999999\n", "threads '99999999999999999999' must be");
    REFUSE("[train]\nbatch = 2147483648\n", "cfg.ini:2: batch '2147483648' must be a whole number");
    REFUSE("[all]\ndevice = cuda:\n", "cfg.ini:2: device 'cuda:' is not a device spec");
    REFUSE("[all]\ndevice =\n", "cfg.ini:2: device '' is not a device spec");
    REFUSE("[all]\ndevice = cpu\x01\n", "cfg.ini:2: control byte 0x01 at column 13");
    hwa_clear_error();
    const char nul[] = "[all]\nthreads = 1\0\n";
    CHECK(!hwa_settings_parse(nul, sizeof nul - 1, "cfg.ini"));
    CHECK_STR_CONTAINS(hwa_last_error(), "cfg.ini:2: NUL byte at column 12");
}

TEST(a_file_too_large_or_with_too_many_or_too_long_lines_is_refused) {
    char *big = malloc(HWA_SETTINGS_MAX_BYTES + 2);
    CHECK(big);
    memset(big, '\n', HWA_SETTINGS_MAX_BYTES + 1);
    hwa_clear_error();
    CHECK(!hwa_settings_parse(big, HWA_SETTINGS_MAX_BYTES + 1, "cfg.ini"));
    CHECK_STR_CONTAINS(hwa_last_error(), "cfg.ini: 65537 bytes; a settings file holds at most 65536");
    CHECK(!hwa_settings_parse(big, HWA_SETTINGS_MAX_LINES + 1, "cfg.ini"));
    CHECK_STR_CONTAINS(hwa_last_error(), "cfg.ini:4097: more than 4096 lines");
    hwa_settings *s = hwa_settings_parse(big, HWA_SETTINGS_MAX_LINES, "cfg.ini"); /* blank lines only: empty */
    CHECK_MSG(s, "%s", hwa_last_error());
    hwa_settings_free(s);
    memset(big, '#', HWA_SETTINGS_MAX_LINE + 1);
    CHECK(!hwa_settings_parse(big, HWA_SETTINGS_MAX_LINE + 1, "cfg.ini"));
    CHECK_STR_CONTAINS(hwa_last_error(), "cfg.ini:1: a line of 1025 bytes; at most 1024");
    s = hwa_settings_parse(big, HWA_SETTINGS_MAX_LINE, "cfg.ini"); /* a comment of the longest length */
    CHECK_MSG(s, "%s", hwa_last_error());
    hwa_settings_free(s);
    free(big);
}

TEST(a_missing_file_is_not_found_and_an_empty_one_is_empty) {
    char path[512];
    snprintf(path, sizeof path, "%s/none.ini", hwa_test_tmpdir());
    hwa_clear_error();
    CHECK(!hwa_settings_load(path));
    CHECK_STR_CONTAINS(hwa_last_error(), "none.ini: No such file or directory");
    snprintf(path, sizeof path, "%s/empty.ini", hwa_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fclose(f);
    hwa_settings *s = hwa_settings_load(path);
    CHECK_MSG(s, "%s", hwa_last_error());
    CHECK(!hwa_settings_get(s, "all", "threads"));
    hwa_settings_free(s);
    CHECK(!hwa_settings_load(NULL));
}

TEST(set_checks_sections_keys_and_values_as_a_file_would) {
    hwa_settings *s = hwa_settings_new();
    CHECK(s);
    CHECK_STATUS(hwa_settings_set(s, "colour", "dtype", "f32"), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "unknown section [colour]");
    CHECK_STATUS(hwa_settings_set(s, "generate", "batch", "1"), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "unknown key 'batch' in [generate]; known there: device, dtype, threads");
    CHECK_STATUS(hwa_settings_set(s, "all", "threads", "two"), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "threads 'two' must be a whole number from 1 to 4096");
    CHECK_STATUS(hwa_settings_set(s, "bench a b", "dtype", "f32"), HWA_E_INVALID);
    CHECK_STATUS(hwa_settings_set(NULL, "all", "dtype", "f32"), HWA_E_MISUSE);
    CHECK_STATUS(hwa_settings_set(s, "all", NULL, "f32"), HWA_E_MISUSE);
    CHECK_STATUS(hwa_settings_save(s, NULL), HWA_E_MISUSE);
    /* Sections until a save would outgrow what a load accepts. */
    hwa_status st = HWA_OK;
    char name[64];
    int n = 0;
    for (; n < 100000 && st == HWA_OK; n++) {
        snprintf(name, sizeof name, "bench w%d", n);
        st = hwa_settings_set(s, name, "batch", "1");
    }
    CHECK_STATUS(st, HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "a file holds at most 65536 bytes and 4096 lines");
    char path[512];
    snprintf(path, sizeof path, "%s/full.ini", hwa_test_tmpdir());
    CHECK_OK(hwa_settings_save(s, path));
    hwa_settings *t = hwa_settings_load(path);
    CHECK_MSG(t, "the fullest file set accepts does not load: %s", hwa_last_error());
    CHECK(!strcmp(hwa_settings_get(t, "bench w0", "batch"), "1"));
    printf("  %d workload sections fit one file\n", n - 1);
    hwa_settings_free(t);
    hwa_settings_free(s);
}

/* ---- train's keys ----------------------------------------------------------- */

TEST(train_keys_are_read_in_train_and_names_kept_lower_case) {
    hwa_settings *s = parse("[train]\n"
                            "epochs = 12\n"
                            "optimizer = AdamW\n"
                            "lr = 3e-4\n"
                            "momentum = 0.9\n"
                            "weight_decay = 0\n"
                            "schedule = Cosine\n"
                            "step_epochs = 1000000\n"
                            "gamma = .5\n");
    CHECK_MSG(s, "%s", hwa_last_error());
    const char *const want[][2] = {{"epochs", "12"},       {"optimizer", "adamw"},   {"lr", "3e-4"},
                                   {"momentum", "0.9"},    {"weight_decay", "0"},    {"schedule", "cosine"},
                                   {"step_epochs", "1000000"}, {"gamma", ".5"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *v = hwa_settings_get(s, "train", want[i][0]);
        CHECK_MSG(v && !strcmp(v, want[i][1]), "%s: '%s', want '%s'", want[i][0], v ? v : "(none)", want[i][1]);
        CHECK_MSG(!hwa_settings_get(s, "bench", want[i][0]), "%s reaches [bench]", want[i][0]);
    }
    char where[64];
    CHECK(!strcmp(hwa_settings_where(s, "train", "gamma", where, sizeof where), "cfg.ini:9"));
    hwa_settings_free(s);
}

TEST(numbers_take_decimal_forms_that_train_reads) {
    /* Forms strtod reads, as train's flags do: signs, a bare fraction or
     * point, exponents in either case. */
    const char *const ok[] = {"1", "0.001", "1e-3", "1E-3", "5e+2", ".5", "2.", "+0.25", "1e300", "00.1"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[64];
        snprintf(text, sizeof text, "[train]\nlr = %s\n", ok[i]);
        hwa_settings *s = parse(text);
        CHECK_MSG(s, "lr = %s: %s", ok[i], hwa_last_error());
        CHECK(!strcmp(hwa_settings_get(s, "train", "lr"), ok[i]));
        hwa_settings_free(s);
    }
}

TEST(each_train_key_refuses_what_train_would) {
    REFUSE("[train]\nepochs = 0\n", "cfg.ini:2: epochs '0' must be a whole number from 1 to 1000000");
    REFUSE("[train]\nepochs = 1000001\n", "epochs '1000001' must be a whole number from 1 to 1000000");
    REFUSE("[train]\nepochs = 2.5\n", "epochs '2.5' must be");
    REFUSE("[train]\nepochs = -1\n", "epochs '-1' must be");
    REFUSE("[train]\nstep_epochs = 0\n", "step_epochs '0' must be a whole number from 1 to 1000000");
    REFUSE("[train]\noptimizer = rmsprop\n",
           "cfg.ini:2: optimizer 'rmsprop' is not one of sgd, momentum, nesterov, adam, adamw");
    REFUSE("[train]\nschedule = linear\n", "schedule 'linear' is not one of constant, step, cosine, onecycle");
    REFUSE("[train]\nlr = 0\n", "cfg.ini:2: lr '0' must be a number > 0");
    REFUSE("[train]\nlr = -0.1\n", "lr '-0.1' must be a number > 0");
    REFUSE("[train]\nlr = fast\n", "lr 'fast' must be a number > 0");
    REFUSE("[train]\nlr =\n", "lr '' must be a number > 0");
    REFUSE("[train]\nlr = inf\n", "lr 'inf' must be");
    REFUSE("[train]\nlr = nan\n", "lr 'nan' must be");
    REFUSE("[train]\nlr = 0x10\n", "lr '0x10' must be");
    REFUSE("[train]\nlr = 1e999\n", "lr '1e999' must be");  /* overflows */
    REFUSE("[train]\nlr = 1e-400\n", "lr '1e-400' must be"); /* underflows: train's flag refuses it too */
    REFUSE("[train]\nlr = 1e\n", "lr '1e' must be");
    REFUSE("[train]\nlr = .\n", "lr '.' must be");
    REFUSE("[train]\nlr = 1 e-3\n", "lr '1 e-3' must be");
    REFUSE("[train]\nmomentum = 1\n", "momentum '1' must be a number in [0, 1)");
    REFUSE("[train]\nmomentum = -0.1\n", "momentum '-0.1' must be a number in [0, 1)");
    /* Below 1 as a double, but 1 as the float the optimizer keeps. */
    REFUSE("[train]\nmomentum = 0.99999999999\n", "momentum '0.99999999999' must be a number in [0, 1)");
    REFUSE("[train]\nweight_decay = -1\n", "weight_decay '-1' must be a number >= 0");
    REFUSE("[train]\nweight_decay = 1e39\n", "weight_decay '1e39' must be a number >= 0 (at most about 3.4e38");
    REFUSE("[train]\ngamma = 0\n", "gamma '0' must be a number > 0");
}

TEST(train_keys_belong_to_train_alone) {
    REFUSE("[all]\nepochs = 3\n", "cfg.ini:2: unknown key 'epochs' in [all]; known there: device, dtype, threads");
    REFUSE("[bench]\nlr = 0.1\n", "unknown key 'lr' in [bench]; known there: device, dtype, threads, batch");
    REFUSE("[bench linear1000]\noptimizer = sgd\n", "unknown key 'optimizer' in [bench linear1000]");
    REFUSE("[generate]\nschedule = step\n", "unknown key 'schedule' in [generate]");
    hwa_settings *s = hwa_settings_new();
    CHECK(s);
    CHECK_STATUS(hwa_settings_set(s, "all", "gamma", "0.5"), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "unknown key 'gamma' in [all]");
    CHECK_STATUS(hwa_settings_set(s, "train", "momentum", "1"), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "momentum '1' must be a number in [0, 1)");
    CHECK_OK(hwa_settings_set(s, "train", "optimizer", "SGD"));
    CHECK(!strcmp(hwa_settings_get(s, "train", "optimizer"), "sgd"));
    hwa_settings_free(s);
}

static const char *optim_name(int k) { return hwa_optim_kind_name((hwa_optim_kind)k); }
static const char *sched_name(int k) { return hwa_sched_kind_name((hwa_sched_kind)k); }

/* [train] key takes each of train's n names, name(0) .. name(n - 1), and
 * its refusal of another lists those and no more. */
static void takes_trains_names(const char *key, int n, const char *(*name)(int)) {
    hwa_settings *s = hwa_settings_new();
    CHECK(s);
    char list[256] = "";
    for (int k = 0; k < n; k++) {
        CHECK_MSG(hwa_settings_set(s, "train", key, name(k)) == HWA_OK, "%s: %s", name(k), hwa_last_error());
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "is not one of ", name(k));
    }
    const hwa_status st = hwa_settings_set(s, "train", key, "none");
    hwa_settings_free(s);
    CHECK_INT_EQ(st, HWA_E_INVALID);
    const char *at = strstr(hwa_last_error(), list);
    CHECK_MSG(at && !strcmp(at, list), "\"%s\" does not end with \"%s\"", hwa_last_error(), list);
}

/* settings.c keeps its own lists of train's names (io may not depend on
 * train): they must be train's. */
TEST(the_optimizer_and_schedule_names_are_trains) {
    takes_trains_names("optimizer", HWA_OPTIM_COUNT, optim_name);
    if (hwa_test_failed_now()) return;
    takes_trains_names("schedule", HWA_SCHED_COUNT, sched_name);
}

/* ---- the JSON form -------------------------------------------------------------- */

#ifdef HWA_HAVE_JANSSON
#define NEED_JANSSON() ((void)0)
#else
#define NEED_JANSSON() SKIP_FOR("jansson", "hwadapt is built without jansson")
#endif

static const char tuned[] =
    "\n  {\"hwadapt\": \"tune\", \"version\": 1,\n"
    "   \"tune\": {\"batch\": [{\"batch\": 32, \"ms\": 1.5}], \"lr\": {\"range\": [1e-5, 1]}},\n"
    "   \"all\": {\"threads\": 2, \"device\": \"cpu\"},\n"
    "   \"train\": {\"dtype\": \"BF16\", \"batch\": 256, \"epochs\": 3, \"optimizer\": \"SGD\",\n"
    "             \"lr\": 0.1, \"momentum\": 0.5, \"weight_decay\": 1e-5, \"schedule\": \"step\",\n"
    "             \"step_epochs\": 2, \"gamma\": 1},\n"
    "   \"bench linear1000\": {\"batch\": 8}}\n";

TEST(a_json_file_sets_the_same_keys_as_an_ini_file) {
    NEED_JANSSON();
    hwa_settings *s = parse_json(tuned);
    CHECK_MSG(s, "%s", hwa_last_error());
    /* Numbers as text that reads back: 0.1 (not 0.10000000000000001), 1e-05,
     * an integer as an integer; names lower-case. */
    const char *const want[][3] = {{"train", "dtype", "bf16"},      {"train", "batch", "256"},
                                   {"train", "epochs", "3"},        {"train", "optimizer", "sgd"},
                                   {"train", "lr", "0.1"},          {"train", "momentum", "0.5"},
                                   {"train", "weight_decay", "1e-05"}, {"train", "schedule", "step"},
                                   {"train", "step_epochs", "2"},   {"train", "gamma", "1"},
                                   {"train", "threads", "2"},       {"bench linear1000", "batch", "8"},
                                   {"bench linear1000", "device", "cpu"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *v = hwa_settings_get(s, want[i][0], want[i][1]);
        CHECK_MSG(v && !strcmp(v, want[i][2]), "[%s] %s: '%s', want '%s'", want[i][0], want[i][1], v ? v : "(none)",
                  want[i][2]);
    }
    char where[64];
    CHECK(!strcmp(hwa_settings_where(s, "train", "lr", where, sizeof where), "tuned.json:train.lr"));
    CHECK(!strcmp(hwa_settings_where(s, "train", "threads", where, sizeof where), "tuned.json:all.threads"));
    CHECK(!strcmp(hwa_settings_where(s, "bench linear1000", "batch", where, sizeof where),
                  "tuned.json:bench linear1000.batch"));
    /* Set over a value from the file: where says so. */
    CHECK_OK(hwa_settings_set(s, "train", "lr", "0.2"));
    CHECK(!strcmp(hwa_settings_where(s, "train", "lr", where, sizeof where), "[train]"));
    hwa_settings_free(s);
}

TEST(a_json_file_saves_as_ini_that_loads_back_the_same) {
    NEED_JANSSON();
    hwa_settings *s = parse_json(tuned);
    CHECK_MSG(s, "%s", hwa_last_error());
    char path[512];
    snprintf(path, sizeof path, "%s/tuned.ini", hwa_test_tmpdir());
    CHECK_OK(hwa_settings_save(s, path));
    hwa_settings *t = hwa_settings_load(path);
    CHECK_MSG(t, "%s", hwa_last_error());
    const char *const sections[] = {"all", "train", "generate", "bench", "bench linear1000"};
    const char *const keys[] = {"device", "dtype", "threads", "batch", "epochs", "optimizer",
                                "lr", "momentum", "weight_decay", "schedule", "step_epochs", "gamma"};
    int n = 0;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *a = hwa_settings_get(s, sections[i], keys[k]), *b = hwa_settings_get(t, sections[i], keys[k]);
            CHECK_MSG((!a && !b) || (a && b && !strcmp(a, b)), "[%s] %s: read '%s', loaded '%s'", sections[i],
                      keys[k], a ? a : "(none)", b ? b : "(none)");
            n += a != NULL;
        }
    CHECK_INT_EQ(n, 12 + 2 + 2 + 2 + 3); /* train: its 10 and [all]'s 2; all; generate and bench: [all]'s; bench
                                           linear1000: its batch and [all]'s 2 */
    char where[64];
    CHECK_STR_CONTAINS(hwa_settings_where(t, "train", "lr", where, sizeof where), "tuned.ini:");
    hwa_settings_free(t);
    hwa_settings_free(s);
}

TEST(an_empty_json_object_or_empty_sections_set_nothing) {
    NEED_JANSSON();
    const char *const texts[] = {"{}", " \r\n\t{ }\n", "{\"train\": {}, \"bench w\": {}}", "{\"hwadapt\": \"tune\"}",
                                 "{\"version\": 1, \"tune\": {}}"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        hwa_settings *s = parse_json(texts[i]);
        CHECK_MSG(s, "%s: %s", texts[i], hwa_last_error());
        CHECK(!hwa_settings_get(s, "train", "dtype"));
        CHECK(!hwa_settings_get(s, "bench w", "batch"));
        hwa_settings_free(s);
    }
}

TEST(each_ill_typed_json_value_names_its_path) {
    NEED_JANSSON();
    REFUSE_JSON("{\"train\": {\"lr\": \"fast\"}}", "tuned.json: train.lr: expected a number > 0, got \"fast\"");
    REFUSE_JSON("{\"train\": {\"lr\": \"0.1\"}}", "train.lr: expected a number > 0, got \"0.1\"");
    REFUSE_JSON("{\"train\": {\"lr\": 0}}", "train.lr: expected a number > 0, got 0");
    REFUSE_JSON("{\"train\": {\"lr\": -0.5}}", "train.lr: expected a number > 0, got -0.5");
    REFUSE_JSON("{\"train\": {\"lr\": 1e-320}}", "train.lr: expected a number > 0, got 9.9998" /* underflows */);
    REFUSE_JSON("{\"train\": {\"batch\": 256.5}}", "tuned.json: train.batch: expected a whole number from 1 to "
                                                   "2147483647, got 256.5");
    REFUSE_JSON("{\"train\": {\"batch\": 256.0}}",
                "train.batch: expected a whole number from 1 to 2147483647, got 256.0");
    REFUSE_JSON("{\"train\": {\"batch\": \"256\"}}",
                "train.batch: expected a whole number from 1 to 2147483647, got \"256\"");
    REFUSE_JSON("{\"train\": {\"batch\": true}}",
                "train.batch: expected a whole number from 1 to 2147483647, got true");
    REFUSE_JSON("{\"train\": {\"batch\": null}}", "got null");
    REFUSE_JSON("{\"train\": {\"batch\": 0}}", "train.batch: expected a whole number from 1 to 2147483647, got 0");
    REFUSE_JSON("{\"train\": {\"batch\": 2147483648}}", "got 2147483648");
    REFUSE_JSON("{\"train\": {\"epochs\": -3}}", "train.epochs: expected a whole number from 1 to 1000000, got -3");
    REFUSE_JSON("{\"train\": {\"epochs\": 1e3}}",
                "train.epochs: expected a whole number from 1 to 1000000, got 1000.0");
    REFUSE_JSON("{\"all\": {\"threads\": [2]}}", "all.threads: expected a whole number from 1 to 4096, got [2]");
    REFUSE_JSON("{\"all\": {\"dtype\": 16}}", "all.dtype: expected one of f32, f16, bf16, got 16");
    REFUSE_JSON("{\"all\": {\"dtype\": \"q8_0\"}}", "all.dtype: expected one of f32, f16, bf16, got \"q8_0\"");
    REFUSE_JSON("{\"all\": {\"device\": {\"id\": 0}}}", "all.device: expected a device spec");
    REFUSE_JSON("{\"all\": {\"device\": \"cpu\\n\"}}", "got \"cpu\\n\"");
    REFUSE_JSON("{\"train\": {\"optimizer\": \"rmsprop\"}}",
                "train.optimizer: expected one of sgd, momentum, nesterov, adam, adamw, got \"rmsprop\"");
    REFUSE_JSON("{\"train\": {\"schedule\": false}}", "train.schedule: expected one of constant, step, cosine, "
                                                      "onecycle, got false");
    REFUSE_JSON("{\"train\": {\"momentum\": 1}}", "train.momentum: expected a number in [0, 1), got 1");
    REFUSE_JSON("{\"train\": {\"weight_decay\": -1e-9}}", "train.weight_decay: expected a number >= 0");
    REFUSE_JSON("{\"train\": {\"gamma\": 0.0}}", "train.gamma: expected a number > 0, got 0");
    REFUSE_JSON("{\"train\": {\"step_epochs\": 0}}", "train.step_epochs: expected a whole number from 1 to 1000000");
    /* A long string is cut short in the message. */
    REFUSE_JSON("{\"all\": {\"dtype\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
                
                "got \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...");
}

TEST(unknown_json_keys_and_sections_and_wrong_nesting_are_refused) {
    NEED_JANSSON();
    REFUSE_JSON("{\"train\": {\"batchsize\": 256}}",
                "tuned.json: train.batchsize: unknown key (known in train: device, dtype, threads, batch, epochs, "
                "optimizer, lr, momentum, weight_decay, schedule, step_epochs, gamma)");
    REFUSE_JSON("{\"all\": {\"epochs\": 3}}",
                "tuned.json: all.epochs: unknown key (known in all: device, dtype, threads)");
    REFUSE_JSON("{\"bench linear1000\": {\"lr\": 0.1}}", "bench linear1000.lr: unknown key (known in bench: device, "
                                                         "dtype, threads, batch)");
    REFUSE_JSON("{\"foo\": {}}", "tuned.json: foo: unknown section; known: all, train, generate, bench, \"bench "
                                 "WORKLOAD\", and hwadapt, version, tune");
    REFUSE_JSON("{\"[train]\": {}}", "tuned.json: [train]: unknown section");
    REFUSE_JSON("{\"train x\": {}}", "tuned.json: train x: train takes no workload name after it");
    REFUSE_JSON("{\"bench a\\nb\": {}}", "tuned.json: bench a\\x0ab: 'a\\x0ab' is not one workload name");
    REFUSE_JSON("{\"train\": {\"lr\\u0001\": 1}}", "tuned.json: train.lr\\x01: unknown key");
    REFUSE_JSON("{\"train\": 3}", "tuned.json: train: expected an object of settings, got 3");
    REFUSE_JSON("{\"train\": [{\"lr\": 0.1}]}",
                "tuned.json: train: expected an object of settings, got [{\"lr\":0.1}]");
    REFUSE_JSON("{\"train\": {\"lr\": {\"value\": 0.1}}}", "train.lr: expected a number > 0, got {\"value\":0.1}");
    REFUSE_JSON("{\"bench a\": {}, \"bench  a\": {}}", "tuned.json: bench  a: the section \"bench a\" appears twice");
}

TEST(the_tuners_own_json_keys_are_checked) {
    NEED_JANSSON();
    REFUSE_JSON("{\"hwadapt\": \"main\"}", "tuned.json: hwadapt: expected \"tune\", got \"main\"");
    REFUSE_JSON("{\"hwadapt\": 1}", "tuned.json: hwadapt: expected \"tune\", got 1");
    REFUSE_JSON("{\"version\": 2}", "tuned.json: version: expected 1 (the version this hwadapt reads), got 2");
    REFUSE_JSON("{\"version\": 1.0}", "version: expected 1 (the version this hwadapt reads), got 1.0");
    REFUSE_JSON("{\"version\": \"1\"}", "version: expected 1 (the version this hwadapt reads), got \"1\"");
    REFUSE_JSON("{\"tune\": [1, 2]}", "tuned.json: tune: expected an object (the tuner's measurements), got [1,2]");
}

TEST(json_syntax_errors_name_the_line_and_column) {
    NEED_JANSSON();
    REFUSE_JSON("{\"train\": {\"lr\": }}", "tuned.json:1:18: unexpected token near '}'");
    REFUSE_JSON("{\n\"train\": {\"lr\": 0.1,\n\"lr\": 0.2}}", "tuned.json:3:4: duplicate object key near '\"lr\"'");
    REFUSE_JSON("{\"train\": {}, \"train\": {}}", "duplicate object key");
    REFUSE_JSON("{\"train\": {}} trailing", "end of file expected");
    REFUSE_JSON("{\"train\": {\"device\": \"cpu\\u0000\"}}", "\\u0000 is not allowed");
    REFUSE_JSON("{\"train\": {\"batch\": 99999999999999999999}}", "too big integer");
    REFUSE_JSON("{\"train\": {\"device\": \"cpu\xff\"}}", "unable to decode byte 0xff");
    REFUSE_JSON("{\"tune\": [[[[", "expected near end of file");
    /* Deeper than jansson's limit: refused, not a stack overflow. */
    static char deep[8200];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"tune\": ");
    while (n < sizeof deep - 1) deep[n++] = '[';
    deep[n] = '\0';
    REFUSE_JSON(deep, "maximum parsing depth");
}

TEST(a_json_file_keeps_the_ini_limits) {
    NEED_JANSSON();
    /* Too many bytes, as for INI. */
    char *big = malloc(HWA_SETTINGS_MAX_BYTES + 2);
    CHECK(big);
    memset(big, ' ', HWA_SETTINGS_MAX_BYTES + 1);
    big[0] = '{';
    big[HWA_SETTINGS_MAX_BYTES] = '}';
    hwa_clear_error();
    CHECK(!hwa_settings_parse(big, HWA_SETTINGS_MAX_BYTES + 1, "tuned.json"));
    CHECK_STR_CONTAINS(hwa_last_error(), "tuned.json: 65537 bytes; a settings file holds at most 65536");
    /* Short sections, more than an INI file of 4096 lines could hold once
     * saved: refused, since save writes INI. */
    size_t n = (size_t)snprintf(big, HWA_SETTINGS_MAX_BYTES, "{");
    for (int i = 0; n + 40 < HWA_SETTINGS_MAX_BYTES; i++)
        n += (size_t)snprintf(big + n, HWA_SETTINGS_MAX_BYTES - n, "%s\"bench w%d\":{\"batch\":1}", i ? "," : "", i);
    n += (size_t)snprintf(big + n, HWA_SETTINGS_MAX_BYTES - n, "}");
    hwa_clear_error();
    hwa_settings *s = hwa_settings_parse(big, n, "tuned.json");
    CHECK_MSG(!s, "%zu bytes of sections were accepted", n);
    CHECK_STR_CONTAINS(hwa_last_error(), "as an INI file; a file holds at most 65536 bytes and 4096 lines");
    free(big);
}

#ifndef HWA_HAVE_JANSSON
TEST(a_json_file_without_jansson_is_unsupported) {
    hwa_clear_error();
    CHECK(!parse_json("{\"train\": {\"lr\": 0.1}}"));
    CHECK_STR_CONTAINS(hwa_last_error(), "tuned.json: a JSON settings file needs hwadapt built with jansson");
}
#endif
