/* CPU identity and features from /proc/cpuinfo: the source on ARM (with
 * getauxval), and on any architecture under a sysroot, where the cpuid
 * instruction would describe the real machine rather than the fixture.
 * Only the first processor's block is read; the kernel prints the same
 * identity for every CPU of a homogeneous system. */
#include <ctype.h>
#include <string.h>

#include "hw/hw_internal.h"

typedef struct cpuinfo_fields {
    char vendor_id[64], model_name[128], flags_line[8192], features_line[4096];
    char family[16], model[16], stepping[16];
    char implementer[16], part[16], variant[16], revision[16];
    int processors;
} cpuinfo_fields;

static void take(char *dst, size_t cap, const char *v) {
    if (!dst[0]) hwa__strlcpy(dst, v, cap);
}

static void parse_fields(char *text, cpuinfo_fields *f) {
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *key = hwa__strtrim(line), *v = hwa__strtrim(colon + 1);
        if (!strcmp(key, "processor")) f->processors++;
        else if (!strcmp(key, "vendor_id")) take(f->vendor_id, sizeof f->vendor_id, v);
        else if (!strcmp(key, "model name")) take(f->model_name, sizeof f->model_name, v);
        else if (!strcmp(key, "flags")) take(f->flags_line, sizeof f->flags_line, v);
        else if (!strcmp(key, "Features")) take(f->features_line, sizeof f->features_line, v);
        else if (!strcmp(key, "cpu family")) take(f->family, sizeof f->family, v);
        else if (!strcmp(key, "model")) take(f->model, sizeof f->model, v);
        else if (!strcmp(key, "stepping")) take(f->stepping, sizeof f->stepping, v);
        else if (!strcmp(key, "CPU implementer")) take(f->implementer, sizeof f->implementer, v);
        else if (!strcmp(key, "CPU part")) take(f->part, sizeof f->part, v);
        else if (!strcmp(key, "CPU variant")) take(f->variant, sizeof f->variant, v);
        else if (!strcmp(key, "CPU revision")) take(f->revision, sizeof f->revision, v);
    }
}

/* A decimal or 0x-hex field; -1 when absent. */
static hwa_status int_field(const char *s, const char *what, int *out) {
    *out = -1;
    if (!*s) return HWA_OK;
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (end == s || *end || v > 0xffffff)
        return hwa__err(NULL, HWA_E_FORMAT, "/proc/cpuinfo: %s '%.20s' is not a number", what, s);
    *out = (int)v;
    return HWA_OK;
}

static bool has_word(const char *line, const char *w) {
    size_t n = strlen(w);
    for (const char *q = strstr(line, w); q; q = strstr(q + 1, w))
        if ((q == line || q[-1] == ' ' || q[-1] == '\t') && (q[n] == '\0' || q[n] == ' ' || q[n] == '\t')) return true;
    return false;
}

static hwa_status add_words(hwa_passport *p, char *line, bool x86) {
    char *save = NULL;
    for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        for (const char *c = w; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-'))
                return hwa__err(NULL, HWA_E_FORMAT, "/proc/cpuinfo: feature '%.40s' is malformed", w);
        if (x86 && !hwa__x86_feature_known(w)) continue;
        hwa_status st = hwa__passport_add_feature(p, w);
        if (st != HWA_OK) return st;
    }
    return HWA_OK;
}

hwa_status hwa__cpu_from_cpuinfo(hwa_passport *p, const char *root) {
    char *text;
    hwa_status st = hwa__read_file_alloc(root, "/proc/cpuinfo", &text, NULL);
    if (st != HWA_OK) return st;
    cpuinfo_fields *f = calloc(1, sizeof *f);
    if (!f) {
        free(text);
        return hwa__err(NULL, HWA_E_NOMEM, "/proc/cpuinfo: out of memory");
    }
    parse_fields(text, f);
    free(text);
    hwa_cpu_info *cpu = &p->cpu;
    if (f->flags_line[0]) { /* x86 */
        bool lm = has_word(f->flags_line, "lm");
        hwa__strlcpy(cpu->arch, lm ? "x86_64" : "i686", sizeof cpu->arch);
        hwa__strlcpy(cpu->vendor, f->vendor_id, sizeof cpu->vendor);
        hwa__strlcpy(cpu->model_name, f->model_name, sizeof cpu->model_name);
        if ((st = int_field(f->family, "cpu family", &cpu->family)) == HWA_OK &&
            (st = int_field(f->model, "model", &cpu->model)) == HWA_OK &&
            (st = int_field(f->stepping, "stepping", &cpu->stepping)) == HWA_OK)
            st = add_words(p, f->flags_line, true);
    } else if (f->features_line[0] || f->implementer[0]) { /* ARM */
        int impl = -1;
        st = int_field(f->implementer, "CPU implementer", &impl);
        if (st == HWA_OK) st = int_field(f->part, "CPU part", &cpu->model);
        if (st == HWA_OK) st = int_field(f->variant, "CPU variant", &cpu->family);
        if (st == HWA_OK) st = int_field(f->revision, "CPU revision", &cpu->stepping);
        if (st == HWA_OK) {
            bool v8 = has_word(f->features_line, "asimd") || has_word(f->features_line, "fp");
            hwa__strlcpy(cpu->arch, v8 ? "aarch64" : "arm", sizeof cpu->arch);
            const char *vn = impl >= 0 ? hwa__arm_implementer_name((unsigned)impl) : NULL;
            if (vn) hwa__strlcpy(cpu->vendor, vn, sizeof cpu->vendor);
            else if (impl >= 0) snprintf(cpu->vendor, sizeof cpu->vendor, "implementer 0x%02x", (unsigned)impl);
            if (f->model_name[0]) hwa__strlcpy(cpu->model_name, f->model_name, sizeof cpu->model_name);
            else if (cpu->model >= 0 && impl >= 0 && hwa__arm_part_name((unsigned)impl, (unsigned)cpu->model))
                snprintf(cpu->model_name, sizeof cpu->model_name, "%s %s", vn, hwa__arm_part_name((unsigned)impl, (unsigned)cpu->model));
            else if (cpu->model >= 0)
                snprintf(cpu->model_name, sizeof cpu->model_name, "%s part 0x%03x", vn ? vn : "ARM", (unsigned)cpu->model);
            st = add_words(p, f->features_line, false);
        }
    } else {
        st = hwa__err(NULL, HWA_E_FORMAT, "%s/proc/cpuinfo: neither x86 'flags' nor ARM 'Features' found", root);
    }
    if (st == HWA_OK && cpu->logical_cpus == 0) cpu->logical_cpus = f->processors;
    free(f);
    return st;
}
