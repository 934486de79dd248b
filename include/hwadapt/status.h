/* hwadapt — status codes and error messages.
 *
 * Every fallible function returns an hwa_status: 0 is success, negative values
 * are errors. Codes, names and messages come from one X-macro table, so the
 * three can never disagree.
 *
 * The detailed message of the last error ("matmul: shapes [3,4] and [5,6] do
 * not match") is kept per context (hwa_ctx_last_error, in tensor.h) and per
 * thread (hwa_last_error below). Never in a process-wide global.
 */
#ifndef HWADAPT_STATUS_H
#define HWADAPT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
#define HWA_STATUS_MAP(X)                                                       \
    X(OK,          0,   "success")                                              \
    X(E_INVALID,   -1,  "invalid argument")                                     \
    X(E_MISUSE,    -2,  "API misuse")                                           \
    X(E_NOMEM,     -3,  "out of memory")                                        \
    X(E_SHAPE,     -4,  "shapes do not fit")                                    \
    X(E_DTYPE,     -5,  "unsupported data type")                                \
    X(E_RANGE,     -6,  "value out of range")                                   \
    X(E_OVERFLOW,  -7,  "size arithmetic overflows")                            \
    X(E_IO,        -8,  "input/output error")                                   \
    X(E_FORMAT,    -9,  "malformed file or data")                               \
    X(E_UNSUPPORTED, -10, "not supported")                                      \
    X(E_NOTFOUND,  -11, "not found")                                            \
    X(E_DEVICE,    -12, "device error")                                         \
    X(E_INTERNAL,  -13, "internal error")

typedef enum hwa_status {
#define HWA__STATUS_ENUM(name, value, msg) HWA_##name = value,
    HWA_STATUS_MAP(HWA__STATUS_ENUM)
#undef HWA__STATUS_ENUM
} hwa_status;

/* "HWA_E_NOMEM" for HWA_E_NOMEM; "HWA_E_UNKNOWN" for a value outside the table.
 * Static strings; thread-safe. */
const char *hwa_status_name(hwa_status s);

/* The generic one-line message of a code ("out of memory"). Static; thread-safe. */
const char *hwa_status_str(hwa_status s);

/* The detailed message of the last error recorded on this thread by any
 * hwadapt function, or "" when none has been. The string belongs to the
 * thread and stays valid until the next hwadapt call on that thread. */
const char *hwa_last_error(void);

/* Forget this thread's last error. */
void hwa_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
