/* hwadapt — settings files: the device, precision, threads and batch that
 * `hwadapt train`, `generate` and `bench` take with --config FILE, and the
 * training hyper-parameters that `hwadapt train` takes; the main job and
 * `hwadapt tune` write them after measuring what runs best.
 *
 * The format (docs/settings.md), INI-like and line-based:
 *
 *     # the main job's choice for this machine
 *     [all]
 *     threads = 2
 *     [bench linear1000]
 *     dtype = bf16
 *
 * Sections: [all] (device, dtype, threads), [train] (device, dtype, threads,
 * batch, and epochs, optimizer, lr, momentum, weight_decay, schedule,
 * step_epochs, gamma), [generate] (device, dtype, threads), [bench] and
 * [bench WORKLOAD] (device, dtype, threads, batch). A lookup in
 * [bench linear1000] falls back to [bench], then to [all]; one in [train]
 * to [all]: the most specific section that sets the key wins. `#` starts a
 * comment that runs to the end of the line; blank lines are ignored; spaces
 * and tabs around names, `=` and values are ignored. Values: dtype f32, f16
 * or bf16; threads 1..4096; batch 1..2^31-1; device a spec such as "cpu" or
 * "cuda:0" (letters, then optionally ':' and a number); epochs and
 * step_epochs 1..1000000; optimizer sgd, momentum, nesterov, adam or adamw;
 * schedule constant, step, cosine or onecycle; lr and gamma a decimal number
 * > 0, momentum one in [0, 1), weight_decay one >= 0 (both as a float
 * holds them). Names are matched in any case and kept lower-case.
 *
 * The JSON form, which `hwadapt tune` writes: a file whose first byte other
 * than a blank or a line end is '{' is one JSON object whose keys are the
 * sections ("all", "train", "bench linear1000", ...), each an object of the
 * same keys; strings for device, dtype, optimizer and schedule, JSON
 * integers for the whole numbers, JSON numbers for the others. The keys
 * "hwadapt" (the string "tune"), "version" (the integer 1) and "tune" (an
 * object) are checked and otherwise ignored. Errors name the file and the
 * JSON path ("tuned.json: train.lr: expected a number > 0, got \"fast\"")
 * or, for syntax, the line and column ("tuned.json:3:9: ..."). A build
 * without jansson refuses such a file with HWA_E_UNSUPPORTED.
 *
 * Files come from outside and are validated completely when loaded: at most
 * HWA_SETTINGS_MAX_BYTES bytes and HWA_SETTINGS_MAX_LINES lines of at most
 * HWA_SETTINGS_MAX_LINE bytes, no NUL or other control bytes, every section
 * and key known (the message lists the known ones), every value valid, no
 * key twice in a section and no section twice. Every error names the file
 * and line ("cfg.ini:3: ...") or, in JSON, the path. A JSON file must also
 * fit the INI limits once saved (hwa_settings_save writes INI).
 *
 * Errors: functions that return hwa_status record a one-line message
 * readable with hwa_last_error(); those that return a pointer return NULL
 * and record it likewise. Nothing here aborts or exits.
 *
 * Threading: an hwa_settings is used by one thread at a time; the read-only
 * calls (get, where, save) may run from several threads at once.
 */
#ifndef HWADAPT_SETTINGS_H
#define HWADAPT_SETTINGS_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HWA_SETTINGS_MAX_BYTES 65536 /* a file's size */
#define HWA_SETTINGS_MAX_LINES 4096  /* its lines */
#define HWA_SETTINGS_MAX_LINE 1024   /* a line's bytes, the newline excluded */

typedef struct hwa_settings hwa_settings;

/* An empty set of settings. NULL when out of memory. Free with
 * hwa_settings_free. */
hwa_settings *hwa_settings_new(void);
/* Reads and validates the file at path, INI or JSON. NULL on error:
 * HWA_E_NOTFOUND or HWA_E_IO (the file), HWA_E_RANGE (too large, too many or
 * too long lines, or JSON that would not fit an INI file), HWA_E_FORMAT (the
 * message names path:line or path: json.path and what is wrong),
 * HWA_E_UNSUPPORTED (JSON in a build without jansson), HWA_E_NOMEM. */
hwa_settings *hwa_settings_load(const char *path);
/* The same over n bytes in memory (copied as needed; data may be freed
 * after the call); label names them in messages (NULL: "<memory>"). */
hwa_settings *hwa_settings_parse(const void *data, size_t n, const char *label);
void hwa_settings_free(hwa_settings *s); /* NULL is a no-op */

/* The value of key in section, falling back as described above
 * ([bench WORKLOAD] -> [bench] -> [all]; [train] -> [all]), or NULL when no
 * section on the way sets it (also for NULL arguments or an unknown key; no
 * error is recorded). section is a name as written between the brackets,
 * "bench linear1000" say; a workload that no section could name (a path
 * with blanks) finds [bench] and [all]. The string belongs to s and stays
 * valid until the key is set again or s is freed. */
const char *hwa_settings_get(const hwa_settings *s, const char *section, const char *key);
/* Where the value that hwa_settings_get returns was set, for messages:
 * "cfg.ini:3" (the file's label and line), "tuned.json:train.lr" (a JSON
 * file's label and the value's section and key) or "[section]" when it was
 * set by hwa_settings_set, written to buf (cap bytes, truncated, NUL-terminated).
 * Returns buf, or NULL when get would return NULL. */
const char *hwa_settings_where(const hwa_settings *s, const char *section, const char *key, char *buf, size_t cap);

/* Sets key in section to value, replacing what was there, or with value
 * NULL removes it. The section, the key and the value are checked as a
 * file's are: HWA_E_INVALID with a message naming what is wrong and what is
 * known, HWA_E_MISUSE for NULL s, section or key, HWA_E_RANGE when more than
 * HWA_SETTINGS_MAX_LINES lines would be needed to save s, HWA_E_NOMEM. */
hwa_status hwa_settings_set(hwa_settings *s, const char *section, const char *key, const char *value);

/* Writes s to path atomically in the INI form, whichever form it was read
 * from (a temporary file in the same directory, fsynced and renamed over
 * path): a header comment, then each section that holds a key, in the order
 * the sections were first read or set, with its keys in the order they were
 * first set. What it writes loads back to the same values. Errors:
 * HWA_E_MISUSE, HWA_E_IO (naming the path). */
hwa_status hwa_settings_save(const hwa_settings *s, const char *path);

#ifdef __cplusplus
}
#endif
#endif
