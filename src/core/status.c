/* Status codes, names, messages and the per-thread / per-context last error. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

const char *hwa_status_name(hwa_status s) {
    switch (s) {
#define HWA__STATUS_NAME(name, value, msg) case HWA_##name: return "HWA_" #name;
        HWA_STATUS_MAP(HWA__STATUS_NAME)
#undef HWA__STATUS_NAME
    }
    return "HWA_E_UNKNOWN";
}

const char *hwa_status_str(hwa_status s) {
    switch (s) {
#define HWA__STATUS_STR(name, value, msg) case HWA_##name: return msg;
        HWA_STATUS_MAP(HWA__STATUS_STR)
#undef HWA__STATUS_STR
    }
    return "unknown status";
}

static _Thread_local char tls_errmsg[512];

const char *hwa_last_error(void) { return tls_errmsg; }

void hwa_clear_error(void) { tls_errmsg[0] = '\0'; }

hwa_status hwa__verr(hwa_ctx *ctx, hwa_status s, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    memcpy(tls_errmsg, msg, sizeof msg);
    if (ctx) {
        ctx->last_status = s;
        memcpy(ctx->errmsg, msg, sizeof msg);
    }
    return s;
}

hwa_status hwa__err(hwa_ctx *ctx, hwa_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hwa__verr(ctx, s, fmt, ap);
    va_end(ap);
    return s;
}

const char *hwa_ctx_last_error(const hwa_ctx *ctx) { return ctx ? ctx->errmsg : ""; }

hwa_status hwa_ctx_last_status(const hwa_ctx *ctx) { return ctx ? ctx->last_status : HWA_E_MISUSE; }

void hwa__assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "hwadapt: internal invariant violated: %s (%s:%d)\n", cond, file, line);
    abort(); /* HWA_ASSERT failed: an internal invariant, never caller or file input */
}
