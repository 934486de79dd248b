/* Progress lines on stderr (see progress.h). */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hwadapt/hwadapt.h"

void cli_progress_start(cli_progress *p, bool quiet) {
    *p = (cli_progress){.on = !quiet && isatty(STDERR_FILENO), .t0 = hwa_bench_clock_now()};
}

void cli_duration(char *buf, int cap, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, (size_t)cap, "?");
    else if (s < 60) snprintf(buf, (size_t)cap, "%.0f s", ceil(s));
    else if (s < 3600) snprintf(buf, (size_t)cap, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, (size_t)cap, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static int term_width(void) {
    struct winsize w;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col >= 20) return w.ws_col;
    return 100;
}

/* Redraws the progress line: one terminal line (cut to its width), so
 * that the next \r replaces it. */
static void draw(const char *line) {
    fprintf(stderr, "\r\033[K%.*s", term_width() - 1, line);
    fflush(stderr);
}

void cli_progress_step(cli_progress *p, int done, int total, const char *msg) {
    if (!p->on) return;
    const double now = hwa_bench_clock_now(), spent = now - p->t0;
    double left = NAN;
    if (p->deadline > 0) left = p->deadline - now;
    else if (done > 0 && total > done) left = spent / done * (total - done);
    char eta[32] = "", line[512];
    if (isfinite(left)) {
        char d[24];
        cli_duration(d, sizeof d, left > 0 ? left : 0);
        snprintf(eta, sizeof eta, " ~%s left", d);
    }
    snprintf(line, sizeof line, "[%d/%d]%s  %s", done < total ? done + 1 : total, total, eta, msg ? msg : "");
    draw(line);
}

void cli_progress_probe(void *ud, const char *what) {
    cli_progress *p = ud;
    if (!p->on) return;
    char spent[24], line[256];
    cli_duration(spent, sizeof spent, hwa_bench_clock_now() - p->t0);
    snprintf(line, sizeof line, "calibrating (once per machine, then cached; %s so far): %s", spent, what);
    draw(line);
}

void cli_progress_clear(const cli_progress *p) {
    if (!p->on) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
