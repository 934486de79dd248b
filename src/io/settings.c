/* Settings files (include/hwadapt/settings.h, docs/settings.md): parsers of
 * the INI and the JSON form that validate every byte of a file from
 * outside, lookups with the section fallbacks, and an atomic writer whose
 * output parses back. */
#include "hwadapt/settings.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/checked.h"
#include "io/io_internal.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

/* ---- what is known ----------------------------------------------------- */

/* The keys, in the order messages list them: the commands' own, then those
 * only [train] holds (train's hyper-parameters). */
enum {
    K_DEVICE, K_DTYPE, K_THREADS, K_BATCH,
    K_EPOCHS, K_OPTIMIZER, K_LR, K_MOMENTUM, K_WEIGHT_DECAY, K_SCHEDULE, K_STEP_EPOCHS, K_GAMMA,
    N_KEYS
};
#define KB(k) (1u << (k))
#define TRAIN_KEYS                                                                                         \
    (KB(K_EPOCHS) | KB(K_OPTIMIZER) | KB(K_LR) | KB(K_MOMENTUM) | KB(K_WEIGHT_DECAY) | KB(K_SCHEDULE) | \
     KB(K_STEP_EPOCHS) | KB(K_GAMMA))

typedef enum value_type {
    V_DEVICE, /* a device spec */
    V_NAME,   /* one of a list of names, any case, kept lower-case */
    V_WHOLE,  /* a whole number in [lo, hi] */
    V_NUMBER, /* a finite decimal number that number_ok accepts */
} value_type;

#define STR_(x) #x
#define STR(x) STR_(x)
#define DEVICE_MAX 32
#define THREADS_MAX 4096
#define BATCH_MAX 2147483647
#define EPOCHS_MAX 1000000

/* The names train.h's hwa_optim_kind_from_name and hwa_sched_kind_from_name
 * take: io depends on core only, so they are repeated here, and must match
 * train.h's (tests/test_io_settings.c checks that they do). */
static const char *const dtype_names[] = {"f32", "f16", "bf16", NULL};
static const char *const optim_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", "onecycle", NULL};

/* The ranges of the trainer's numbers (the number is finite): those
 * hwadapt train's flags and hwa_train_config_check accept, so that what a
 * file holds, train takes. momentum and weight decay are kept in single
 * precision, where the value must stay in range too. */
static bool positive(double x) { return x > 0; }
static bool below_one(double x) { return x >= 0 && x < 1 && (float)x < 1.0f; }
static bool float_nonneg(double x) { return x >= 0 && x <= FLT_MAX; }

typedef struct key_spec {
    const char *name;
    value_type type;
    const char *what;          /* what a value must be, for messages */
    const char *const *names;  /* V_NAME: the names, NULL-terminated */
    long long lo, hi;          /* V_WHOLE */
    bool (*number_ok)(double); /* V_NUMBER */
} key_spec;

#define WHOLE(n, max) {.name = n, .type = V_WHOLE, .what = "a whole number from 1 to " STR(max), .lo = 1, .hi = max}
#define NAMES(n, list, w) {.name = n, .type = V_NAME, .what = w, .names = list}
#define NUMBER(n, ok, w) {.name = n, .type = V_NUMBER, .what = w, .number_ok = ok}
static const key_spec keys[N_KEYS] = {
    [K_DEVICE] = {.name = "device", .type = V_DEVICE,
                  .what = "a device spec (cpu, cpu:0, cuda:0, ...: at most " STR(DEVICE_MAX)
                          " letters, digits and _, then optionally ':' and a number)"},
    [K_DTYPE] = NAMES("dtype", dtype_names, "one of f32, f16, bf16"),
    [K_THREADS] = WHOLE("threads", THREADS_MAX),
    [K_BATCH] = WHOLE("batch", BATCH_MAX),
    [K_EPOCHS] = WHOLE("epochs", EPOCHS_MAX),
    [K_OPTIMIZER] = NAMES("optimizer", optim_names, "one of sgd, momentum, nesterov, adam, adamw"),
    [K_LR] = NUMBER("lr", positive, "a number > 0"),
    [K_MOMENTUM] = NUMBER("momentum", below_one, "a number in [0, 1)"),
    [K_WEIGHT_DECAY] = NUMBER("weight_decay", float_nonneg, "a number >= 0 (at most about 3.4e38, a float's range)"),
    [K_SCHEDULE] = NAMES("schedule", sched_names, "one of constant, step, cosine, onecycle"),
    [K_STEP_EPOCHS] = WHOLE("step_epochs", EPOCHS_MAX),
    [K_GAMMA] = NUMBER("gamma", positive, "a number > 0"),
};
#undef WHOLE
#undef NAMES
#undef NUMBER

typedef struct section_kind {
    const char *name;
    bool sub;       /* may name a workload: [bench WORKLOAD] */
    unsigned keys;  /* KB() of the keys it may set */
} section_kind;

#define COMMON_KEYS (KB(K_DEVICE) | KB(K_DTYPE) | KB(K_THREADS))
static const section_kind kinds[] = {
    {"all", false, COMMON_KEYS},
    {"train", false, COMMON_KEYS | KB(K_BATCH) | TRAIN_KEYS},
    {"generate", false, COMMON_KEYS},
    {"bench", true, COMMON_KEYS | KB(K_BATCH)},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))
#define KNOWN_SECTIONS "[all], [train], [generate], [bench], [bench WORKLOAD]"
#define KNOWN_JSON "all, train, generate, bench, \"bench WORKLOAD\", and hwadapt, version, tune"

/* ---- the object ---------------------------------------------------------- */

typedef struct sec_rec {
    char *name;     /* normalised: "bench linear1000" */
    int kind;       /* index into kinds */
    int line;       /* where it was read; 0 when made by hwa_settings_set */
} sec_rec;

typedef struct entry {
    int section;
    int key;
    char *value;
    int line;       /* the INI file's line; 0 when read from JSON or set by hwa_settings_set */
    bool json;      /* read from a JSON file: where it was is "FILE:section.key" */
} entry;

struct hwa_settings {
    char *label;    /* for messages: the path, "<memory>" or "" */
    sec_rec *sections;
    int n_sections, cap_sections;
    entry *entries;
    int n_entries, cap_entries;
};

/* Grows *arr (of *cap elements of size elem) to hold one more than n. */
static bool grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return true;
    const int want = *cap ? *cap * 2 : 8;
    size_t bytes;
    if (want <= *cap || !hwa__mul_size((size_t)want, elem, &bytes)) return false;
    void *p = realloc(*arr, bytes);
    if (!p) return false;
    *arr = p;
    *cap = want;
    return true;
}

hwa_settings *hwa_settings_new(void) {
    hwa_settings *s = calloc(1, sizeof *s);
    if (s) s->label = hwa__io_strndup("", 0);
    if (!s || !s->label) {
        free(s);
        hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
        return NULL;
    }
    return s;
}

void hwa_settings_free(hwa_settings *s) {
    if (!s) return;
    for (int i = 0; i < s->n_sections; i++) free(s->sections[i].name);
    for (int i = 0; i < s->n_entries; i++) free(s->entries[i].value);
    free(s->sections);
    free(s->entries);
    free(s->label);
    free(s);
}

/* ---- names and values ------------------------------------------------------ */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

/* [*p, *p + *n) without the blanks at either end. */
static void trim(const char **p, size_t *n) {
    while (*n && is_blank(**p)) (*p)++, (*n)--;
    while (*n && is_blank((*p)[*n - 1])) (*n)--;
}

static bool eq_n(const char *a, size_t n, const char *b) { return strlen(b) == n && !memcmp(a, b, n); }

static int key_index(const char *k, size_t n) {
    for (int i = 0; i < N_KEYS; i++)
        if (eq_n(k, n, keys[i].name)) return i;
    return -1;
}

/* A workload as bench names it: a built-in name or a model file's path,
 * without blanks or the characters the format uses. */
static bool workload_ok(const char *w, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++) {
        const char c = w[i];
        if (!(is_lower(c) || is_digit(c) || (c >= 'A' && c <= 'Z') || (c && strchr("._/+-:~", c)))) return false;
    }
    return true;
}

/* A section name as written between the brackets (json: as a JSON key): its
 * kind, and the span of its workload (*sub_n 0 when none). Writes "why" on
 * failure, in the words of the INI or the JSON form. */
static bool section_parse(const char *p, size_t n, bool json, int *kind, const char **sub, size_t *sub_n, char *why,
                          size_t cap) {
    trim(&p, &n);
    size_t w = 0;
    while (w < n && !is_blank(p[w])) w++;
    const char *rest = p + w;
    size_t rest_n = n - w;
    trim(&rest, &rest_n);
    char q[64];
    snprintf(q, sizeof q, "%.*s", (int)(w < 40 ? w : 40), p);
    for (int k = 0; k < N_KINDS; k++) {
        if (!eq_n(p, w, kinds[k].name)) continue;
        if (rest_n && !kinds[k].sub) {
            if (json)
                snprintf(why, cap, "%s takes no workload name after it; known sections: " KNOWN_JSON, kinds[k].name);
            else snprintf(why, cap, "[%s] takes no name after it; known sections: " KNOWN_SECTIONS, kinds[k].name);
            return false;
        }
        if (rest_n && !workload_ok(rest, rest_n)) { /* a JSON key may hold any byte: quoted */
            char qw[HWA__QUOTE_CAP];
            snprintf(why, cap, "%s'%s' is not one workload name (letters, digits and ._/+-:~, no blanks)",
                     json ? "" : "[bench WORKLOAD]: ", hwa__io_quote(rest, rest_n, qw, sizeof qw));
            return false;
        }
        *kind = k;
        *sub = rest;
        *sub_n = rest_n;
        return true;
    }
    if (json) snprintf(why, cap, "unknown section; known: " KNOWN_JSON);
    else snprintf(why, cap, "unknown section [%s%s]; known: " KNOWN_SECTIONS, q, w > 40 ? "..." : "");
    return false;
}

/* The normalised name: "kind" or "kind workload". */
static char *section_name(int kind, const char *sub, size_t sub_n) {
    const size_t kn = strlen(kinds[kind].name);
    size_t n = kn;
    if (sub_n && (!hwa__add_size(n, sub_n, &n) || !hwa__add_size(n, 1, &n))) return NULL;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, kinds[kind].name, kn);
    if (sub_n) {
        s[kn] = ' ';
        memcpy(s + kn + 1, sub, sub_n);
    }
    s[n] = '\0';
    return s;
}

/* The keys of a section kind, listed: "device, dtype, threads". */
#define KNOWN_CAP 160
static void known_keys(unsigned mask, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int k = 0; k < N_KEYS; k++)
        if (mask & KB(k))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "", keys[k].name);
}

/* A whole number of at most 10 digits in [lo, hi]; no sign, no blanks. */
static bool whole(const char *v, size_t n, long long lo, long long hi) {
    if (!n || n > 10) return false;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(v[i])) return false;
        x = x * 10 + (v[i] - '0'); /* 10 digits stay far below LLONG_MAX */
    }
    return x >= lo && x <= hi;
}

static bool device_ok(const char *v, size_t n) {
    size_t i = 0;
    if (!n || n > DEVICE_MAX || !is_lower(v[0])) return false;
    while (i < n && (is_lower(v[i]) || is_digit(v[i]) || v[i] == '_')) i++;
    if (i == n) return true;
    if (v[i++] != ':' || i == n) return false;
    while (i < n && is_digit(v[i])) i++;
    return i == n;
}

/* A decimal number as people write it, in at most 64 characters: an
 * optional sign, digits with an optional fraction (one digit at least), an
 * optional exponent; no blanks, hex, inf or nan. *x gets its value when
 * strtod reads all of it without overflow or underflow, as train's flags
 * read theirs. */
static bool number(const char *v, size_t n, double *x) {
    char buf[65];
    size_t i = 0, digits = 0;
    if (!n || n >= sizeof buf) return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (buf[i] == '+' || buf[i] == '-') i++;
    for (; is_digit(buf[i]); i++) digits++;
    if (buf[i] == '.')
        for (i++; is_digit(buf[i]); i++) digits++;
    if (!digits) return false;
    if (buf[i] == 'e' || buf[i] == 'E') {
        i++;
        if (buf[i] == '+' || buf[i] == '-') i++;
        if (!is_digit(buf[i])) return false;
        while (is_digit(buf[i])) i++;
    }
    if (i != n) return false;
    char *end;
    errno = 0;
    const double d = strtod(buf, &end);
    if (errno || end != buf + n || !isfinite(d)) return false;
    *x = d;
    return true;
}

/* Whether v is a valid value for key; if so *canon is the spelling to keep
 * (names are kept lower-case, as the commands print them), or NULL to keep
 * v as it is. */
static bool value_ok(int key, const char *v, size_t n, const char **canon) {
    const key_spec *ks = &keys[key];
    double x;
    *canon = NULL;
    switch (ks->type) {
    case V_NAME:
        for (int i = 0; ks->names[i]; i++)
            if (n == strlen(ks->names[i]) && !strncasecmp(v, ks->names[i], n)) {
                *canon = ks->names[i];
                return true;
            }
        return false;
    case V_WHOLE: return whole(v, n, ks->lo, ks->hi);
    case V_NUMBER: return number(v, n, &x) && ks->number_ok(x);
    default: return device_ok(v, n);
    }
}

/* Why v is not a value for key: "threads '0' must be a whole number from 1
 * to 4096", "dtype 'q8_0' is not one of f32, f16, bf16". */
static void value_why(int key, const char *v, size_t n, char *why, size_t cap) {
    const key_spec *ks = &keys[key];
    char q[HWA__QUOTE_CAP];
    const bool is_not = ks->type == V_NAME || ks->type == V_DEVICE;
    snprintf(why, cap, "%s '%s' %s %s", ks->name, hwa__io_quote(v, n, q, sizeof q), is_not ? "is not" : "must be",
             ks->what);
}

/* ---- lookups --------------------------------------------------------------- */

static int find_section(const hwa_settings *s, const char *name) {
    for (int i = 0; i < s->n_sections; i++)
        if (!strcmp(s->sections[i].name, name)) return i;
    return -1;
}

static int find_entry(const hwa_settings *s, int section, int key) {
    for (int i = 0; i < s->n_entries; i++)
        if (s->entries[i].section == section && s->entries[i].key == key) return i;
    return -1;
}

/* The entry get would return: the key in section, else in its kind's plain
 * section ([bench] for [bench WORKLOAD]), else in [all]; -1 when none. */
static int lookup(const hwa_settings *s, const char *section, const char *key) {
    if (!s || !section || !key) return -1;
    const int k = key_index(key, strlen(key));
    int kind;
    const char *sub;
    size_t sub_n;
    char why[256];
    if (k < 0) return -1;
    if (!section_parse(section, strlen(section), false, &kind, &sub, &sub_n, why, sizeof why)) {
        /* A workload no file could name (a path with blanks, say) has no
         * section of its own, but [bench] and [all] still apply to it. */
        const char *p = section;
        while (is_blank(*p)) p++;
        size_t w = 0;
        while (p[w] && !is_blank(p[w])) w++;
        if (!section_parse(p, w, false, &kind, &sub, &sub_n, why, sizeof why) || !kinds[kind].sub) return -1;
    }
    char *full = section_name(kind, sub, sub_n);
    if (!full) return -1;
    const char *chain[3] = {full, kinds[kind].name, "all"};
    int found = -1;
    for (int i = 0; i < 3 && found < 0; i++) {
        const int sec = find_section(s, chain[i]);
        if (sec >= 0) found = find_entry(s, sec, k);
    }
    free(full);
    return found;
}

const char *hwa_settings_get(const hwa_settings *s, const char *section, const char *key) {
    const int e = lookup(s, section, key);
    return e < 0 ? NULL : s->entries[e].value;
}

const char *hwa_settings_where(const hwa_settings *s, const char *section, const char *key, char *buf, size_t cap) {
    const int e = lookup(s, section, key);
    if (e < 0 || !buf || !cap) return NULL;
    const entry *en = &s->entries[e];
    if (en->line) snprintf(buf, cap, "%s:%d", s->label, en->line);
    else if (en->json) snprintf(buf, cap, "%s:%s.%s", s->label, s->sections[en->section].name, keys[en->key].name);
    else snprintf(buf, cap, "[%s]", s->sections[en->section].name);
    return buf;
}

/* ---- changes ------------------------------------------------------------- */

static int add_section(hwa_settings *s, int kind, const char *sub, size_t sub_n, int line) {
    if (!grow((void **)&s->sections, &s->cap_sections, s->n_sections, sizeof *s->sections)) return -1;
    char *name = section_name(kind, sub, sub_n);
    if (!name) return -1;
    s->sections[s->n_sections] = (sec_rec){.name = name, .kind = kind, .line = line};
    return s->n_sections++;
}

/* line: the INI file's; 0 for JSON (json true) or hwa_settings_set. */
static bool add_entry(hwa_settings *s, int sec, int key, const char *v, size_t n, int line, bool json) {
    if (!grow((void **)&s->entries, &s->cap_entries, s->n_entries, sizeof *s->entries)) return false;
    char *value = hwa__io_strndup(v, n);
    if (!value) return false;
    s->entries[s->n_entries++] = (entry){.section = sec, .key = key, .value = value, .line = line, .json = json};
    return true;
}

/* ---- writing ---------------------------------------------------------------- */

#define HEADER "# hwadapt settings: see docs/settings.md. Explicit command-line flags win over these.\n"

/* Renders s as a file into buf (cap bytes; buf may be NULL with cap 0) and
 * returns the bytes it needs, the NUL excluded; *lines gets the line count. */
static size_t render(const hwa_settings *s, char *buf, size_t cap, size_t *lines) {
    size_t n = 0;
    *lines = 0;
#define PUT(...)                                                                      \
    do {                                                                              \
        int k_ = snprintf(buf && n < cap ? buf + n : NULL, buf && n < cap ? cap - n : 0, __VA_ARGS__); \
        n += k_ > 0 ? (size_t)k_ : 0;                                                 \
        (*lines)++;                                                                   \
    } while (0)
    PUT(HEADER);
    for (int sec = 0; sec < s->n_sections; sec++) {
        bool opened = false;
        for (int i = 0; i < s->n_entries; i++) {
            const entry *e = &s->entries[i];
            if (e->section != sec) continue;
            if (!opened) {
                PUT("\n");
                PUT("[%s]\n", s->sections[sec].name);
            }
            opened = true;
            PUT("%s = %s\n", keys[e->key].name, e->value);
        }
    }
#undef PUT
    return n;
}

hwa_status hwa_settings_save(const hwa_settings *s, const char *path) {
    if (!s || !path) return hwa__err(NULL, HWA_E_MISUSE, "settings: NULL settings or path");
    size_t lines, n = render(s, NULL, 0, &lines), cap;
    if (!hwa__add_size(n, 1, &cap)) return hwa__err(NULL, HWA_E_OVERFLOW, "settings: too large");
    char *buf = malloc(cap);
    if (!buf) return hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
    render(s, buf, cap, &lines);
    hwa_status st = hwa__atomic_write_bytes(path, buf, n);
    free(buf);
    return st;
}

hwa_status hwa_settings_set(hwa_settings *s, const char *section, const char *key, const char *value) {
    if (!s || !section || !key) return hwa__err(NULL, HWA_E_MISUSE, "settings: NULL settings, section or key");
    char why[512];
    int kind;
    const char *sub;
    size_t sub_n;
    if (strlen(section) > HWA_SETTINGS_MAX_LINE - 2 ||
        !section_parse(section, strlen(section), false, &kind, &sub, &sub_n, why, sizeof why)) {
        if (strlen(section) > HWA_SETTINGS_MAX_LINE - 2)
            snprintf(why, sizeof why, "a section name of %zu bytes does not fit a line of %d", strlen(section),
                     HWA_SETTINGS_MAX_LINE);
        return hwa__err(NULL, HWA_E_INVALID, "settings: %s", why);
    }
    const int k = key_index(key, strlen(key));
    if (k < 0 || !(kinds[kind].keys & KB(k))) {
        char known[KNOWN_CAP];
        known_keys(kinds[kind].keys, known, sizeof known);
        return hwa__err(NULL, HWA_E_INVALID, "settings: unknown key '%.60s' in [%s]; known there: %s", key,
                        kinds[kind].name, known);
    }
    const char *canon = NULL;
    if (value && !value_ok(k, value, strlen(value), &canon)) {
        value_why(k, value, strlen(value), why, sizeof why);
        return hwa__err(NULL, HWA_E_INVALID, "settings: %s", why);
    }
    if (canon) value = canon;

    char *name = section_name(kind, sub, sub_n);
    if (!name) return hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
    int sec = find_section(s, name);
    free(name);
    const int e = sec < 0 ? -1 : find_entry(s, sec, k);
    if (!value) { /* removal; the section stays, and save skips empty sections */
        if (e >= 0) {
            free(s->entries[e].value);
            memmove(&s->entries[e], &s->entries[e + 1], (size_t)(s->n_entries - e - 1) * sizeof *s->entries);
            s->n_entries--;
        }
        return HWA_OK;
    }
    if (sec < 0 && (sec = add_section(s, kind, sub, sub_n, 0)) < 0)
        return hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
    entry old = {0};
    if (e >= 0) {
        char *v = hwa__io_strndup(value, strlen(value));
        if (!v) return hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
        old = s->entries[e];
        s->entries[e] = (entry){.section = sec, .key = k, .value = v};
    } else if (!add_entry(s, sec, k, value, strlen(value), 0, false)) {
        return hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
    }
    /* What save writes must load back: undo a change that would not fit. */
    size_t lines, bytes = render(s, NULL, 0, &lines);
    if (bytes > HWA_SETTINGS_MAX_BYTES || lines > HWA_SETTINGS_MAX_LINES) {
        const int i = e >= 0 ? e : --s->n_entries;
        free(s->entries[i].value);
        if (e >= 0) s->entries[e] = old;
        return hwa__err(NULL, HWA_E_RANGE, "settings: saving would take %zu bytes in %zu lines; a file holds at most "
                        "%d bytes and %d lines", bytes, lines, HWA_SETTINGS_MAX_BYTES, HWA_SETTINGS_MAX_LINES);
    }
    free(old.value);
    return HWA_OK;
}

/* ---- reading ---------------------------------------------------------------- */

/* One line (without its newline) into s; *cur is the current section. */
static hwa_status parse_line(hwa_settings *s, const char *p, size_t n, int line, int *cur) {
    const char *L = s->label;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)p[i];
        if (c == 0) return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: NUL byte at column %zu", L, line, i + 1);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: control byte 0x%02x at column %zu", L, line, c, i + 1);
    }
    const char *hash = memchr(p, '#', n);
    if (hash) n = (size_t)(hash - p);
    trim(&p, &n);
    if (!n) return HWA_OK;
    char why[512];
    if (p[0] == '[') {
        if (p[n - 1] != ']')
            return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: a section line must end with ']'", L, line);
        int kind;
        const char *sub;
        size_t sub_n;
        if (!section_parse(p + 1, n - 2, false, &kind, &sub, &sub_n, why, sizeof why))
            return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: %s", L, line, why);
        char *name = section_name(kind, sub, sub_n);
        if (!name) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
        const int prev = find_section(s, name);
        free(name);
        if (prev >= 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: section [%s] appears twice (first at line %d)", L, line,
                            s->sections[prev].name, s->sections[prev].line);
        if ((*cur = add_section(s, kind, sub, sub_n, line)) < 0)
            return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
        return HWA_OK;
    }
    const char *eq = memchr(p, '=', n);
    if (!eq) return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: expected '[section]' or 'key = value'", L, line);
    const char *k = p, *v = eq + 1;
    size_t kn = (size_t)(eq - p), vn = n - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    if (*cur < 0)
        return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: '%.*s' comes before any [section]; known sections: " KNOWN_SECTIONS,
                        L, line, (int)(kn < 40 ? kn : 40), k);
    const sec_rec *sec = &s->sections[*cur];
    const int key = key_index(k, kn);
    if (key < 0 || !(kinds[sec->kind].keys & KB(key))) {
        char known[KNOWN_CAP];
        known_keys(kinds[sec->kind].keys, known, sizeof known);
        return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: unknown key '%.*s' in [%s]; known there: %s", L, line,
                        (int)(kn < 40 ? kn : 40), k, sec->name, known);
    }
    const int dup = find_entry(s, *cur, key);
    if (dup >= 0)
        return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: key '%s' set twice in [%s] (first at line %d)", L, line,
                        keys[key].name, sec->name, s->entries[dup].line);
    const char *canon;
    if (!value_ok(key, v, vn, &canon)) {
        value_why(key, v, vn, why, sizeof why);
        return hwa__err(NULL, HWA_E_FORMAT, "%s:%d: %s", L, line, why);
    }
    if (!add_entry(s, *cur, key, canon ? canon : v, canon ? strlen(canon) : vn, line, false))
        return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    return HWA_OK;
}

/* The INI form, line by line. */
static hwa_status read_ini(hwa_settings *s, const char *p, size_t n) {
    const char *end = p + n, *L = s->label;
    int line = 0, cur = -1;
    hwa_status st = HWA_OK;
    while (st == HWA_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (++line > HWA_SETTINGS_MAX_LINES)
            return hwa__err(NULL, HWA_E_RANGE, "%s:%d: more than %d lines", L, line, HWA_SETTINGS_MAX_LINES);
        if (len && p[len - 1] == '\r') len--; /* CRLF files */
        if (len > HWA_SETTINGS_MAX_LINE)
            st = hwa__err(NULL, HWA_E_RANGE, "%s:%d: a line of %zu bytes; at most %d", L, line, len,
                          HWA_SETTINGS_MAX_LINE);
        else st = parse_line(s, p, len, line, &cur);
        p = nl ? nl + 1 : end;
    }
    return st;
}

/* ---- reading JSON ------------------------------------------------------------ */

#ifdef HWA_HAVE_JANSSON
/* The shortest of %.15g, %.16g and %.17g that reads back as x: 0.1, not
 * 0.10000000000000001. */
static void real_text(double x, char *buf, size_t cap) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* A JSON value as it appears in messages: compact, ASCII, at most about 48
 * bytes ("fast" in quotes, 256.5, true, {"a": ...). */
static const char *json_shown(const json_t *v, char *buf, size_t cap) {
    if (json_is_real(v)) { /* 1.0 stays 1.0: "expected 1, got 1" would puzzle */
        real_text(json_real_value(v), buf, cap);
        if (!strpbrk(buf, ".e")) snprintf(buf + strlen(buf), cap - strlen(buf), ".0");
        return buf;
    }
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    snprintf(buf, cap, "%.48s%s", d ? d : "?", d && strlen(d) > 48 ? "..." : "");
    free(d);
    return buf;
}

/* The value of key at JSON path "sec.name" into section index sec: a string
 * for device and the names, a JSON integer for the whole numbers, any JSON
 * number for the others, then the INI form's validation of its text. */
static hwa_status json_value(hwa_settings *s, int sec, const char *path, int key, const json_t *v) {
    const key_spec *ks = &keys[key];
    char text[64], shown[64];
    const char *t = text;
    size_t n;
    if ((ks->type == V_NAME || ks->type == V_DEVICE) && json_is_string(v)) {
        t = json_string_value(v);
        n = json_string_length(v);
    } else if ((ks->type == V_WHOLE || ks->type == V_NUMBER) && json_is_integer(v)) {
        n = (size_t)snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (ks->type == V_NUMBER && json_is_real(v)) {
        real_text(json_real_value(v), text, sizeof text);
        n = strlen(text);
    } else {
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: expected %s, got %s", s->label, path, ks->what,
                        json_shown(v, shown, sizeof shown));
    }
    const char *canon;
    if (!value_ok(key, t, n, &canon))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: expected %s, got %s", s->label, path, ks->what,
                        t == text ? text : json_shown(v, shown, sizeof shown));
    if (!add_entry(s, sec, key, canon ? canon : t, canon ? strlen(canon) : n, 0, true))
        return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", s->label);
    return HWA_OK;
}

/* One section's object, under the top-level key name. */
static hwa_status json_section(hwa_settings *s, const char *name, json_t *obj) {
    const char *L = s->label;
    char q[HWA__QUOTE_CAP], why[512], shown[64];
    const char *qn = hwa__io_quote(name, strlen(name), q, sizeof q);
    int kind;
    const char *sub;
    size_t sub_n;
    if (!section_parse(name, strlen(name), true, &kind, &sub, &sub_n, why, sizeof why))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %s", L, qn, why);
    if (!json_is_object(obj))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: expected an object of settings, got %s", L, qn,
                        json_shown(obj, shown, sizeof shown));
    char *norm = section_name(kind, sub, sub_n);
    if (!norm) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    const int prev = find_section(s, norm);
    free(norm);
    if (prev >= 0) /* "bench  a" after "bench a": the same section */
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: the section \"%s\" appears twice", L, qn, s->sections[prev].name);
    const int sec = add_section(s, kind, sub, sub_n, 0);
    if (sec < 0) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char path[2 * HWA__QUOTE_CAP], qk[HWA__QUOTE_CAP];
        snprintf(path, sizeof path, "%s.%s", qn, hwa__io_quote(k, strlen(k), qk, sizeof qk));
        const int key = key_index(k, strlen(k));
        if (key < 0 || !(kinds[kind].keys & KB(key))) {
            char known[KNOWN_CAP];
            known_keys(kinds[kind].keys, known, sizeof known);
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: unknown key (known in %s: %s)", L, path, kinds[kind].name,
                            known);
        }
        const hwa_status st = json_value(s, sec, path, key, v);
        if (st) return st;
    }
    return HWA_OK;
}

/* The JSON form (docs/settings.md): an object of sections, and the keys the
 * tuner writes beside them ("hwadapt": "tune", "version": 1, "tune": its
 * measurements), checked and otherwise not read. */
static hwa_status read_json(hwa_settings *s, const char *p, size_t n) {
    const char *L = s->label;
    json_error_t je;
    json_t *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        for (char *c = je.text; *c; c++) /* one line, whatever the bytes near the error */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
        return hwa__err(NULL, json_error_code(&je) == json_error_out_of_memory ? HWA_E_NOMEM : HWA_E_FORMAT,
                        "%s:%d:%d: %s", L, je.line, je.column, je.text);
    }
    hwa_status st = HWA_OK;
    char shown[64];
    const char *k;
    json_t *v;
    if (!json_is_object(root))
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: expected an object, got %s", L, json_shown(root, shown, sizeof shown));
    else
        json_object_foreach(root, k, v) {
            if (!strcmp(k, "hwadapt")) {
                if (!json_is_string(v) || strcmp(json_string_value(v), "tune"))
                    st = hwa__err(NULL, HWA_E_FORMAT, "%s: hwadapt: expected \"tune\", got %s", L,
                                  json_shown(v, shown, sizeof shown));
            } else if (!strcmp(k, "version")) {
                if (!json_is_integer(v) || json_integer_value(v) != 1)
                    st = hwa__err(NULL, HWA_E_FORMAT, "%s: version: expected 1 (the version this hwadapt reads), "
                                  "got %s", L, json_shown(v, shown, sizeof shown));
            } else if (!strcmp(k, "tune")) {
                if (!json_is_object(v))
                    st = hwa__err(NULL, HWA_E_FORMAT, "%s: tune: expected an object (the tuner's measurements), got %s",
                                  L, json_shown(v, shown, sizeof shown));
            } else {
                st = json_section(s, k, v);
            }
            if (st) break;
        }
    json_decref(root);
    return st;
}
#else
static hwa_status read_json(hwa_settings *s, const char *p, size_t n) {
    (void)p, (void)n;
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: a JSON settings file needs hwadapt built with jansson, which this "
                    "build lacks; write it in the INI form (docs/settings.md)", s->label);
}
#endif

hwa_settings *hwa_settings_parse(const void *data, size_t n, const char *label) {
    if (!data && n) {
        hwa__err(NULL, HWA_E_MISUSE, "settings: NULL data");
        return NULL;
    }
    if (!label) label = "<memory>";
    if (n > HWA_SETTINGS_MAX_BYTES) {
        hwa__err(NULL, HWA_E_RANGE, "%s: %zu bytes; a settings file holds at most %d", label, n,
                 HWA_SETTINGS_MAX_BYTES);
        return NULL;
    }
    hwa_settings *s = hwa_settings_new();
    if (!s) return NULL;
    free(s->label);
    if (!(s->label = hwa__io_strndup(label, strlen(label)))) {
        hwa_settings_free(s);
        hwa__err(NULL, HWA_E_NOMEM, "settings: out of memory");
        return NULL;
    }
    const char *p = data;
    size_t i = 0;
    while (i < n && (is_blank(p[i]) || p[i] == '\r' || p[i] == '\n')) i++;
    const bool json = i < n && p[i] == '{';
    hwa_status st = json ? read_json(s, p, n) : read_ini(s, p, n);
    if (st == HWA_OK && json) {
        /* What save writes must load back, as set ensures: a JSON file of
         * many short sections could need more lines than an INI file holds. */
        size_t lines, bytes = render(s, NULL, 0, &lines);
        if (bytes > HWA_SETTINGS_MAX_BYTES || lines > HWA_SETTINGS_MAX_LINES)
            st = hwa__err(NULL, HWA_E_RANGE, "%s: these settings would take %zu bytes in %zu lines as an INI file; "
                          "a file holds at most %d bytes and %d lines", label, bytes, lines, HWA_SETTINGS_MAX_BYTES,
                          HWA_SETTINGS_MAX_LINES);
    }
    if (st != HWA_OK) {
        hwa_settings_free(s);
        return NULL;
    }
    return s;
}

hwa_settings *hwa_settings_load(const char *path) {
    if (!path) {
        hwa__err(NULL, HWA_E_MISUSE, "settings: NULL path");
        return NULL;
    }
    hwa__mapped_file m;
    if (hwa__map_file(path, &m) != HWA_OK) return NULL;
    hwa_settings *s = hwa_settings_parse(m.data, m.size, path);
    hwa__unmap_file(&m);
    return s;
}
