/* PJRT plugins (OpenXLA's C plugin ABI, pjrt_c_api.h): finding one, opening
 * it with dlopen, checking its API version, and the one client per plugin
 * that the probe and the pjrt backend share. Not a published API.
 *
 * Built only where CMake found pjrt_c_api.h (HWA_HAVE_PJRT); elsewhere the
 * probe reports the runtime as absent and "pjrt:N" says why. */
#ifndef HWADAPT_HW_PJRT_API_H
#define HWADAPT_HW_PJRT_API_H

#include <stddef.h>

#include "core/internal.h"

/* Why this build has no PJRT support (HWA_HAVE_PJRT unset). */
#define HWA__PJRT_NOT_BUILT \
    "this build has no PJRT support: pjrt_c_api.h not found (scripts/install-deps.sh installs it)"

/* The plugin to open: $HWA_PJRT_PLUGIN when set (whether or not it exists,
 * so that its error names it), else the first that exists of the known
 * places (hwadapt's cache folder, the folder the build found the header in,
 * Python site-packages: libtpu/libtpu.so, jax_plugins/x/y.so,
 * xla_plugins/x/y.so). false with *why saying where it looked when none. */
bool hwa__pjrt_plugin_path(char *buf, size_t cap, char *why, size_t why_cap);

#if HWA_HAVE_PJRT
#include "pjrt_c_api.h"

/* One opened plugin and its client, kept for the life of the process (a
 * plugin is never unloaded, and a TPU admits one client per process). */
typedef struct hwa__pjrt {
    char path[512];
    const PJRT_Api *api;
    PJRT_Client *client;
    PJRT_Device *const *devs; /* addressable devices */
    int n_devs;
    char platform[64];        /* PJRT_Client_PlatformName: "cpu", "tpu", "cuda" */
    int api_major, api_minor; /* the plugin's */
} hwa__pjrt;

/* Whether the plugin's PJRT_Api has slot fn (its struct is long enough and
 * the pointer set): a plugin older than our header lacks the newest. */
#define HWA__PJRT_HAS(api, fn) \
    (offsetof(PJRT_Api, fn) + sizeof(void *) <= (api)->struct_size && (api)->fn != NULL)

/* The plugin at path, opened, initialised and with a client, from the
 * process-wide table (opened on first use; thread-safe). HWA_E_NOTFOUND
 * (no such file, or no GetPjrtApi), HWA_E_UNSUPPORTED (another major
 * version), HWA_E_DEVICE (the plugin's initialisation or client creation
 * failed, with its message); each message names the path. Failures are
 * not remembered: the next call tries again. */
hwa_status hwa__pjrt_open(hwa_ctx *ctx, const char *path, hwa__pjrt **out);

/* HWA_OK when e is NULL; else reads e's message, destroys e and records
 * HWA_E_DEVICE "<what>: <message>" (HWA_E_NOMEM when the plugin says
 * RESOURCE_EXHAUSTED). */
hwa_status hwa__pjrt_check(hwa_ctx *ctx, const hwa__pjrt *p, PJRT_Error *e, const char *what);
/* Awaits and destroys ev (NULL: nothing to wait for). */
hwa_status hwa__pjrt_await(hwa_ctx *ctx, const hwa__pjrt *p, PJRT_Event *ev, const char *what);
#endif

#endif
