/* libFuzzer target: settings files, INI and JSON. Whatever a file sets must
 * read back through every section's fallbacks and be accepted again by
 * hwa_settings_set (a file and a caller share one validation). */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const sections[] = {"all", "train", "generate", "bench", "bench linear1000", "bench w"};
    static const char *const keys[] = {"device", "dtype", "threads", "batch", "epochs", "optimizer",
                                       "lr", "momentum", "weight_decay", "schedule", "step_epochs", "gamma"};
    hwa_settings *s = hwa_settings_parse(data, size, "fuzz");
    if (!s) return 0;
    hwa_settings *copy = hwa_settings_new();
    if (!copy) __builtin_trap();
    char where[64];
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *v = hwa_settings_get(s, sections[i], keys[k]);
            if (!v) continue;
            hwa__fuzz_sink += strlen(v);
            if (!hwa_settings_where(s, sections[i], keys[k], where, sizeof where)) __builtin_trap();
            if (hwa_settings_set(copy, sections[i], keys[k], v) != HWA_OK) __builtin_trap();
            const char *w = hwa_settings_get(copy, sections[i], keys[k]);
            if (!w || strcmp(v, w)) __builtin_trap();
        }
    hwa_settings_free(copy);
    hwa_settings_free(s);
    return 0;
}
