/* Energy from sampled power, for a device that reports its power draw but
 * keeps no energy counter (NVIDIA GPUs before Volta): a thread reads the
 * sensor every period and integrates the samples by the trapezoid rule.
 * Between the last sample and a read, the last sample's power is assumed,
 * so a read is current to the instant it is made. */
#include <pthread.h>
#include <time.h>

#include "hw/hw_internal.h"

struct hwa__sampler {
    hwa__power_sensor read;
    void *ud;
    long period_ns;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    double joules;   /* integrated up to last_t */
    double last_w;   /* the last sample, watts */
    double last_t;   /* its time, seconds (CLOCK_MONOTONIC) */
    hwa_status err;  /* the sensor's first failure: every read returns it */
    char msg[256];
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *sample_loop(void *arg) {
    hwa__sampler *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += s->period_ns;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {
        }
        if (s->stop) break;
        pthread_mutex_unlock(&s->mu);
        double w = 0;
        const hwa_status st = s->read(s->ud, &w); /* outside the lock: a sensor may be slow */
        const double t = now_s();
        pthread_mutex_lock(&s->mu);
        if (st != HWA_OK || !(w >= 0)) {
            s->err = st != HWA_OK ? st : HWA_E_FORMAT;
            snprintf(s->msg, sizeof s->msg, "power sensor: %s", st != HWA_OK ? hwa_last_error() : "a negative or NaN reading");
            break;
        }
        s->joules += 0.5 * (w + s->last_w) * (t - s->last_t);
        s->last_w = w;
        s->last_t = t;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

hwa__sampler *hwa__sampler_start(hwa__power_sensor read, void *ud, double period_s) {
    if (!read || !(period_s >= 1e-3 && period_s <= 10)) {
        hwa__err(NULL, HWA_E_MISUSE, "power sampler: no sensor, or a period outside 1 ms..10 s");
        return NULL;
    }
    double w = 0;
    hwa_status st = read(ud, &w); /* the first sample: the sensor must work now */
    if (st != HWA_OK) return NULL;
    if (!(w >= 0)) {
        hwa__err(NULL, HWA_E_FORMAT, "power sensor: a negative or NaN reading");
        return NULL;
    }
    hwa__sampler *s = calloc(1, sizeof *s);
    if (!s) {
        hwa__err(NULL, HWA_E_NOMEM, "power sampler: out of memory");
        return NULL;
    }
    s->read = read;
    s->ud = ud;
    s->period_ns = (long)(period_s * 1e9);
    s->last_w = w;
    s->last_t = now_s();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, sample_loop, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        hwa__err(NULL, HWA_E_NOMEM, "power sampler: cannot start its thread");
        return NULL;
    }
    return s;
}

hwa_status hwa__sampler_joules(hwa__sampler *s, double *joules) {
    if (!s || !joules) return hwa__err(NULL, HWA_E_MISUSE, "power sampler: NULL argument");
    pthread_mutex_lock(&s->mu);
    const hwa_status err = s->err;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", s->msg);
    if (err == HWA_OK) *joules = s->joules + s->last_w * (now_s() - s->last_t);
    pthread_mutex_unlock(&s->mu);
    return err == HWA_OK ? HWA_OK : hwa__err(NULL, err, "%s", msg);
}

void hwa__sampler_stop(hwa__sampler *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
