/* Who else uses the CPUs: samples of fixture trees (tests/fixtures/hw/load-*,
 * each a pair of snapshots a and b whose deltas are worked out by hand
 * below), missing and malformed files, and this machine's own /proc with a
 * second process that keeps a CPU busy. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *fixture(const char *name, char *buf, size_t cap) {
    const char *src = getenv("HWA_SOURCE_DIR");
    snprintf(buf, cap, "%s/tests/fixtures/hw/%s", src ? src : ".", name);
    return buf;
}

/* The fixtures count in jiffies of USER_HZ 100, the value every mainstream
 * Linux architecture has; the sampler divides by the running system's. */
static bool user_hz_is_100(void) { return sysconf(_SC_CLK_TCK) == 100; }

/* Samples fixture <name>/a and <name>/b for a test: false when the test is
 * skipped (the fixtures count jiffies of USER_HZ 100) or has failed. */
static bool fixture_pair(const char *name, hwa_load_sample *a, hwa_load_sample *b) {
    if (!user_hz_is_100()) {
        hwa_test_skip("USER_HZ is not 100");
        return false;
    }
    char rel[256], root[1024];
    hwa_load_sample *out[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        snprintf(rel, sizeof rel, "%s/%c", name, "ab"[i]);
        hwa_status st = hwa_load_sample_take(fixture(rel, root, sizeof root), out[i]);
        if (st != HWA_OK) {
            hwa_test_fail(__FILE__, __LINE__, "%s: %s: %s", rel, hwa_status_name(st), hwa_last_error());
            return false;
        }
    }
    return true;
}

/* A fresh directory below the test's temporary one. */
static const char *scratch(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", hwa_test_tmpdir(), name);
    mkdir(buf, 0755);
    return buf;
}

/* Writes text to dir + rel, creating the folders on the way. */
static void write_file(const char *dir, const char *rel, const char *text) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The figures an interval must have; NAN where a figure must be unknown. */
typedef struct want {
    double wall, self_cpu, self_share, others_cpus, others_share, steal_share, throttled, loadavg1;
    bool contended;
    const char *why; /* a phrase why must contain; "" for an empty why */
} want;

static bool same(double got, double w) { return isnan(w) ? isnan(got) : fabs(got - w) <= 1e-9; }

/* Checks every figure of d against w, naming each one that differs. */
static void check_delta(const hwa_load_delta *d, want w) {
    const struct { const char *name; double got, want; } f[] = {
        {"wall_s", d->wall_s, w.wall},
        {"self_cpu_s", d->self_cpu_s, w.self_cpu},
        {"self_share", d->self_share, w.self_share},
        {"others_cpus", d->others_cpus, w.others_cpus},
        {"others_share", d->others_share, w.others_share},
        {"steal_share", d->steal_share, w.steal_share},
        {"throttled_s", d->throttled_s, w.throttled},
        {"loadavg1", d->loadavg1, w.loadavg1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        CHECK_MSG(same(f[i].got, f[i].want), "%s is %.9g, expected %.9g", f[i].name, f[i].got, f[i].want);
    CHECK_MSG(d->contended == w.contended, "contended is %d; why \"%s\"", d->contended, d->why);
    if (!*w.why) CHECK_MSG(!d->why[0], "why is \"%s\", expected empty", d->why);
    else CHECK_STR_CONTAINS(d->why, w.why);
}

/* ---- fixture pairs ------------------------------------------------------------ */

TEST(idle_sample_reads_every_file) {
    hwa_load_sample a, b;
    if (!fixture_pair("load-idle", &a, &b)) return;
    CHECK_NEAR(a.wall_s, 1000.0, 1e-9); /* the fixture's /proc/uptime */
    CHECK_NEAR(a.self_cpu_s, 6.0, 1e-9); /* utime 500 + stime 100 jiffies */
    CHECK(a.have_stat);
    CHECK_INT_EQ(a.cpus_counted, 2); /* no status file: every cpuN line */
    /* busy = user 10000 + nice 50 + system 2000 + softirq 50 per CPU;
     * total adds idle 50000 and iowait 100. */
    CHECK_NEAR(a.busy_s, 2 * 121.00, 1e-9);
    CHECK_NEAR(a.total_s, 2 * 622.00, 1e-9);
    CHECK_NEAR(a.steal_s, 0.0, 0);
    CHECK_INT_EQ(a.procs_running, 2);
    CHECK_NEAR(a.loadavg1, 0.10, 1e-12);
    CHECK(a.have_cgroup);
    CHECK_INT_EQ(a.cgroup_version, 2);
    CHECK_NEAR(a.cgroup_usage_s, 6.0, 1e-9);
    CHECK_NEAR(a.cgroup_throttled_s, 0.0, 0);
    CHECK_INT_EQ(a.cgroup_nr_throttled, 0);
    CHECK_INT_EQ(b.procs_running, 1);
}

TEST(idle_interval_is_not_contended) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-idle", &a, &b)) return;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 1, 2, 0.10, &d));
    /* One second; this process ran 100 jiffies (1.0 s) on one thread; the CPUs
     * were busy 102 jiffies, so others took 0.02 s: 0.02 CPUs, 1% of two. */
    check_delta(&d, (want){.wall = 1.0, .self_cpu = 1.0, .self_share = 1.0, .others_cpus = 0.02,
                           .others_share = 0.01, .steal_share = 0, .throttled = 0, .loadavg1 = 0.15,
                           .contended = false, .why = ""});
}

TEST(others_holding_one_of_two_cpus_is_contended) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-busy", &a, &b)) return;
    /* Cpus_allowed_list 0-1: cpu2 and cpu3, busy as they are, are not ours. */
    CHECK_INT_EQ(a.cpus_counted, 2);
    CHECK_NEAR(a.busy_s, 700.0, 1e-9);  /* 2 x (30000 + 5000) jiffies */
    CHECK_NEAR(b.busy_s, 704.0, 1e-9);  /* 35200 + 35200 */
    CHECK_NEAR(a.total_s, 2300.0, 1e-9);
    CHECK_INT_EQ(a.procs_running, 3);   /* /proc/stat's procs_running */
    CHECK_INT_EQ(b.procs_running, 4);   /* none there: /proc/loadavg's 4/300 */
    CHECK(!a.have_cgroup);
    CHECK(isnan(a.cgroup_usage_s) && isnan(a.cgroup_throttled_s));
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.10, &d));
    /* Two seconds, two threads: this process got 2.0 s of the 4.0 s the two
     * CPUs were busy, so others held (4.0 - 2.0) / 2 = 1.0 CPU, half of two.
     * No cgroup files: throttling unknown. */
    check_delta(&d, (want){.wall = 2.0, .self_cpu = 2.0, .self_share = 0.5, .others_cpus = 1.0,
                           .others_share = 0.5, .steal_share = 0, .throttled = NAN, .loadavg1 = 3.5,
                           .contended = true, .why = "other processes took 50% of the 2 CPUs"});
}

TEST(threshold_decides_contended) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-busy", &a, &b)) return;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.6, &d)); /* 50% is below 60% */
    CHECK(!d.contended);
    CHECK_NEAR(d.others_share, 0.5, 1e-9);
    /* Others held 1.0 CPU: of a single CPU that is all of it. */
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 1, 0.10, &d));
    CHECK_NEAR(d.others_share, 1.0, 1e-9);
    CHECK_STR_CONTAINS(d.why, "took 100% of the 1 CPU");
}

TEST(quota_throttling_is_contended) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-throttled", &a, &b)) return;
    /* "0::/": the cgroup is the hierarchy's root, sys/fs/cgroup/cpu.stat. */
    CHECK(a.have_cgroup);
    CHECK_NEAR(a.cgroup_usage_s, 3.5, 1e-9);
    CHECK_NEAR(a.cgroup_throttled_s, 1.0, 1e-9);
    CHECK_INT_EQ(a.cgroup_nr_throttled, 10);
    CHECK_INT_EQ(b.cgroup_nr_throttled, 20);
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.10, &d));
    /* throttled_usec grew by 150000: 0.15 s of a 1 s interval, above 5%.
     * This process got 1.0 s of CPU on two threads, and the CPUs were busy
     * exactly as long as it ran: no others. */
    check_delta(&d, (want){.wall = 1.0, .self_cpu = 1.0, .self_share = 0.5, .others_cpus = 0,
                           .others_share = 0, .steal_share = 0, .throttled = 0.15, .loadavg1 = 1.0,
                           .contended = true, .why = "the cgroup's quota throttled 15% of the time"});
    CHECK_MSG(!strstr(d.why, "other processes"), "why is \"%s\"", d.why);
}

TEST(hypervisor_steal_is_contended_and_counts_as_others) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-steal", &a, &b)) return;
    CHECK_NEAR(a.steal_s, 10.0, 1e-9); /* 500 + 500 jiffies */
    CHECK(isnan(a.loadavg1));           /* no /proc/loadavg */
    CHECK(!a.have_cgroup);
    CHECK_OK(hwa_load_delta_compute(&a, &b, 1, 2, 0.10, &d));
    /* cpu1's steal grew by 40 jiffies in one second: 0.4 s of 2 CPU-seconds.
     * Steal is busy time this process did not get, so others count it too. */
    check_delta(&d, (want){.wall = 1.0, .self_cpu = 1.0, .self_share = 1.0, .others_cpus = 0.4,
                           .others_share = 0.2, .steal_share = 0.2, .throttled = NAN, .loadavg1 = NAN,
                           .contended = true, .why = "the hypervisor stole 20%"});
    CHECK_STR_CONTAINS(d.why, "other processes took 20% of the 2 CPUs");
}

TEST(cgroup_v1_cpuacct_and_cpu_stat) {
    char root[1024];
    hwa_load_sample s;
    CHECK_OK(hwa_load_sample_take(fixture("load-v1", root, sizeof root), &s));
    /* "3:cpu,cpuacct:/job" with both in one mount; the unified "0::/job" has
     * no files there. */
    CHECK(s.have_cgroup);
    CHECK_INT_EQ(s.cgroup_version, 1);
    CHECK_NEAR(s.cgroup_usage_s, 2.5, 1e-9);     /* 2500000000 ns */
    CHECK_NEAR(s.cgroup_throttled_s, 0.3, 1e-9); /* 300000000 ns */
    CHECK_INT_EQ(s.cgroup_nr_throttled, 7);
    CHECK(!s.have_stat); /* no /proc/stat */
    CHECK_INT_EQ(s.cpus_counted, 0);
}

/* ---- missing and malformed files -------------------------------------------------- */

TEST(missing_files_leave_figures_unknown) {
    char root[1024];
    hwa_load_sample s;
    CHECK_OK(hwa_load_sample_take(scratch("empty", root, sizeof root), &s));
    CHECK(!s.have_stat);
    CHECK(!s.have_cgroup);
    CHECK_INT_EQ(s.cgroup_version, 0);
    CHECK(isnan(s.self_cpu_s) && isnan(s.busy_s) && isnan(s.total_s) && isnan(s.steal_s));
    CHECK(isnan(s.cgroup_usage_s) && isnan(s.cgroup_throttled_s) && isnan(s.loadavg1));
    CHECK_INT_EQ(s.cgroup_nr_throttled, -1);
    CHECK_INT_EQ(s.procs_running, -1);
    CHECK(isfinite(s.wall_s)); /* no /proc/uptime: the monotonic clock */
    /* An interval of unknowns is unknown, and not contended. */
    hwa_load_sample t = s;
    t.wall_s += 1.0;
    hwa_load_delta d;
    CHECK_OK(hwa_load_delta_compute(&s, &t, 1, 2, 0.10, &d));
    CHECK(isnan(d.self_cpu_s) && isnan(d.self_share) && isnan(d.others_cpus) && isnan(d.others_share));
    CHECK(isnan(d.steal_share) && isnan(d.throttled_s) && isnan(d.loadavg1));
    CHECK(!d.contended);
}

TEST(only_proc_stat_gives_stat_figures_alone) {
    char root[1024];
    hwa_load_sample s;
    scratch("statonly", root, sizeof root);
    write_file(root, "/proc/stat", "cpu  3 0 1 10\ncpu0 3 0 1 10\n"); /* a 2.6.0-era line: 4 columns */
    CHECK_OK(hwa_load_sample_take(root, &s));
    CHECK(s.have_stat);
    CHECK_INT_EQ(s.cpus_counted, 1);
    CHECK_NEAR(s.busy_s * (double)sysconf(_SC_CLK_TCK), 4.0, 1e-9);
    CHECK_NEAR(s.total_s * (double)sysconf(_SC_CLK_TCK), 14.0, 1e-9);
    CHECK_NEAR(s.steal_s, 0.0, 0);
    CHECK(isnan(s.self_cpu_s) && isnan(s.loadavg1) && !s.have_cgroup);
    CHECK_INT_EQ(s.procs_running, -1);
}

/* A file that exists but cannot be parsed: written to its own root (with
 * cgroup as that root's /proc/self/cgroup when set), it must give
 * HWA_E_FORMAT with a message that contains `named`. */
typedef struct bad_file {
    const char *dir, *rel, *text, *named, *cgroup;
} bad_file;

static void check_format_errors(const bad_file *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char root[1024];
        hwa_load_sample s;
        scratch(cases[i].dir, root, sizeof root);
        write_file(root, cases[i].rel, cases[i].text);
        if (cases[i].cgroup) write_file(root, "/proc/self/cgroup", cases[i].cgroup);
        hwa_status st = hwa_load_sample_take(root, &s);
        CHECK_MSG(st == HWA_E_FORMAT, "%s: %s returned %s (%s), expected HWA_E_FORMAT", cases[i].dir, cases[i].rel,
                  hwa_status_name(st), hwa_last_error());
        CHECK_STR_CONTAINS(hwa_last_error(), cases[i].named);
    }
}

/* Each file that a sample reads, malformed in the ways the parsers check. */
TEST(malformed_files_are_format_errors_naming_the_file) {
    static const bad_file cases[] = {
        {"bad-stat-col", "/proc/stat", "cpu  1 2 3 4\ncpu0 1 2 x 4\n", "/proc/stat: cpu0 column 3", NULL},
        {"bad-stat-short", "/proc/stat", "cpu0 1 2\n", "/proc/stat: 'cpu0' has 2 columns", NULL},
        {"bad-stat-neg", "/proc/stat", "cpu0 1 2 -3 4\n", "/proc/stat: cpu0 column 3", NULL},
        {"bad-stat-huge", "/proc/stat", "cpu0 1 2 99999999999999999999 4\n", "/proc/stat: cpu0 column 3", NULL},
        {"bad-stat-sum", "/proc/stat", "cpu0 9223372036854775807 1 0 0\n",
         "/proc/stat: the counters of 'cpu0' overflow", NULL},
        {"bad-stat-name", "/proc/stat", "cpu0x 1 2 3 4\n", "/proc/stat: a cpuN line's N", NULL},
        {"bad-stat-nocpu", "/proc/stat", "intr 1 2\nctxt 5\n", "/proc/stat: no cpuN lines", NULL},
        {"bad-stat-running", "/proc/stat", "cpu0 1 2 3 4\nprocs_running many\n", "/proc/stat: procs_running", NULL},
        {"bad-load-num", "/proc/loadavg", "high 0.2 0.3 1/2 3\n", "/proc/loadavg: 'high'", NULL},
        {"bad-load-short", "/proc/loadavg", "0.1 0.2\n", "/proc/loadavg: 2 fields", NULL},
        {"bad-load-slash", "/proc/loadavg", "0.1 0.2 0.3 12 3\n", "/proc/loadavg: '12' is not", NULL},
        {"bad-self-paren", "/proc/self/stat", "42 hwadapt R 1 2 3\n", "/proc/self/stat: no ')'", NULL},
        {"bad-self-short", "/proc/self/stat", "42 (hwadapt) R 1 2 3\n", "/proc/self/stat: 4 fields", NULL},
        {"bad-self-utime", "/proc/self/stat", "42 (hwadapt) R 1 42 42 0 -1 0 0 0 0 0 ten 5 0 0\n",
         "/proc/self/stat: utime", NULL},
        {"bad-status", "/proc/self/status", "Name:\thw\nCpus_allowed_list:\t0-x\n", "/proc/self/status: CPU list",
         NULL},
        {"bad-cg-line", "/proc/self/cgroup", "garbage\n", "/proc/self/cgroup: malformed line", NULL},
        {"bad-cg-v2", "/sys/fs/cgroup/job/cpu.stat", "usage_usec 12\nthrottled_usec lots\nnr_throttled 1\n",
         "/sys/fs/cgroup/job/cpu.stat: throttled_usec", "0::/job\n"},
        {"bad-cg-v2-two", "/sys/fs/cgroup/job/cpu.stat", "usage_usec 12 13\n",
         "/sys/fs/cgroup/job/cpu.stat: usage_usec: expected one number", "0::/job\n"},
        {"bad-cg-nousage", "/sys/fs/cgroup/cpu.stat", "nr_periods 0\n", "/sys/fs/cgroup/cpu.stat: no usage_usec",
         "0::/\n"},
        {"bad-cg-v1-usage", "/sys/fs/cgroup/cpuacct/cpuacct.usage", "12 34\n",
         "/sys/fs/cgroup/cpuacct/cpuacct.usage", "2:cpuacct:/\n"},
        {"bad-cg-v1-stat", "/sys/fs/cgroup/cpu/cpu.stat", "nr_periods 5\nnr_throttled 1\n",
         "/sys/fs/cgroup/cpu/cpu.stat: no throttled_time", "3:cpu:/\n"},
    };
    check_format_errors(cases, sizeof cases / sizeof cases[0]);
}

/* ---- the interval's arguments ---------------------------------------------------- */

TEST(b_before_a_and_bad_arguments_are_invalid) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-idle", &a, &b)) return;
    CHECK_STATUS(hwa_load_delta_compute(&b, &a, 1, 2, 0.10, &d), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "not after");
    CHECK_STATUS(hwa_load_delta_compute(NULL, &b, 1, 2, 0.10, &d), HWA_E_INVALID);
    CHECK_STATUS(hwa_load_delta_compute(&a, NULL, 1, 2, 0.10, &d), HWA_E_INVALID);
    CHECK_STATUS(hwa_load_delta_compute(&a, &b, 1, 2, 0.10, NULL), HWA_E_INVALID);
    CHECK_STATUS(hwa_load_delta_compute(&a, &b, 1, 2, -0.1, &d), HWA_E_INVALID);
    CHECK_STATUS(hwa_load_delta_compute(&a, &b, 1, 2, NAN, &d), HWA_E_INVALID);
    CHECK_STATUS(hwa_load_sample_take(NULL, NULL), HWA_E_INVALID);
    static char long_root[5000];
    memset(long_root, 'x', sizeof long_root - 1);
    long_root[0] = '/';
    CHECK_STATUS(hwa_load_sample_take(long_root, &a), HWA_E_INVALID);
}

TEST(no_threads_or_cpus_gives_unknown_shares) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-busy", &a, &b)) return;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 0, 0, 0.10, &d));
    CHECK(isnan(d.self_share) && isnan(d.others_share) && isnan(d.steal_share));
    CHECK_NEAR(d.others_cpus, 1.0, 1e-9); /* needs no CPU count */
    CHECK(!d.contended);
    /* The same instant twice: no time, no shares. */
    CHECK_OK(hwa_load_delta_compute(&a, &a, 1, 2, 0.10, &d));
    CHECK_NEAR(d.wall_s, 0.0, 0);
    CHECK(isnan(d.self_share) && isnan(d.others_cpus));
    CHECK(!d.contended);
}

TEST(short_interval_is_too_coarse_for_others) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-busy", &a, &b)) return;
    b.wall_s = a.wall_s + 0.04; /* under 50 ms: a few jiffies say little */
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.10, &d));
    CHECK(isnan(d.others_cpus) && isnan(d.others_share) && isnan(d.steal_share));
    CHECK(!d.contended);
}

TEST(different_cpu_counts_make_stat_figures_unknown) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-busy", &a, &b)) return;
    b.cpus_counted = 3; /* a CPU came online, or the affinity mask changed */
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.10, &d));
    CHECK(isnan(d.others_cpus) && isnan(d.steal_share));
    CHECK_NEAR(d.self_share, 0.5, 1e-9);
}

TEST(counters_that_go_backwards_count_as_no_change) {
    hwa_load_sample a, b;
    hwa_load_delta d;
    if (!fixture_pair("load-throttled", &a, &b)) return;
    b.cgroup_throttled_s = a.cgroup_throttled_s - 0.5;
    b.busy_s = a.busy_s - 1.0;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 2, 2, 0.10, &d));
    CHECK_NEAR(d.throttled_s, 0.0, 0);
    CHECK_NEAR(d.others_cpus, 0.0, 0);
    CHECK(!d.contended);
}

/* ---- this machine --------------------------------------------------------------- */

/* Spins for about seconds of this thread's wall time. */
static double spin(double seconds) {
    volatile double x = 1.0;
    double end = now_s() + seconds;
    while (now_s() < end)
        for (int i = 0; i < 10000; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

TEST(real_sample_is_sane_and_self_cpu_grows) {
    hwa_load_sample a, b;
    CHECK_OK(hwa_load_sample_take(NULL, &a));
#ifdef __linux__
    CHECK(a.have_stat);
#endif
    CHECK(isfinite(a.wall_s) && a.wall_s >= 0);
    CHECK(isfinite(a.self_cpu_s) && a.self_cpu_s >= 0);
    if (a.have_stat) {
        CHECK(a.cpus_counted >= 1);
        CHECK(isfinite(a.busy_s) && a.busy_s >= 0);
        CHECK(isfinite(a.total_s) && a.total_s >= a.busy_s);
        CHECK(isfinite(a.steal_s) && a.steal_s >= 0 && a.steal_s <= a.busy_s);
    }
    CHECK(isnan(a.loadavg1) || a.loadavg1 >= 0);
    CHECK(a.procs_running >= -1);
    if (a.have_cgroup) {
        CHECK(isnan(a.cgroup_usage_s) || a.cgroup_usage_s >= 0);
        CHECK(isnan(a.cgroup_throttled_s) || a.cgroup_throttled_s >= 0);
        CHECK(a.cgroup_nr_throttled >= -1);
    }
    spin(0.05);
    CHECK_OK(hwa_load_sample_take("", &b));
    CHECK_MSG(b.self_cpu_s > a.self_cpu_s, "self_cpu_s %.6f -> %.6f", a.self_cpu_s, b.self_cpu_s);
    CHECK(b.wall_s > a.wall_s);
    hwa_load_delta d;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 1, a.cpus_counted > 0 ? a.cpus_counted : 1, 0.10, &d));
    CHECK(d.self_cpu_s > 0 && d.self_share > 0);
    CHECK(isnan(d.others_cpus) || d.others_cpus >= 0);
    CHECK(isnan(d.others_share) || (d.others_share >= 0 && d.others_share <= 1));
}

/* A child process that spins while this one sleeps: the CPU time the child
 * got (its rusage, from wait4) is busy time on the CPUs this process may use
 * that is not this process's, so "others" must hold at least that much. The
 * check compares CPU-seconds with CPU-seconds, not with the clock, so a busy
 * machine (more others) or a tight quota (a slower child) cannot fail it. */
TEST(a_busy_child_counts_as_others) {
    hwa_load_sample a, b;
    CHECK_OK(hwa_load_sample_take(NULL, &a));
    if (!a.have_stat) SKIP("no /proc/stat");
    pid_t pid = fork();
    CHECK_MSG(pid >= 0, "fork failed");
    if (pid == 0) {
        spin(0.3);
        _exit(0);
    }
    struct rusage ru;
    int wst = 0;
    CHECK_MSG(wait4(pid, &wst, 0, &ru) == pid && WIFEXITED(wst), "wait4 failed");
    CHECK_OK(hwa_load_sample_take(NULL, &b));
    double child_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                     (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    if (b.busy_s == a.busy_s) SKIP("/proc/stat does not count this machine's CPU time");
    hwa_load_delta d;
    CHECK_OK(hwa_load_delta_compute(&a, &b, 1, a.cpus_counted, 0.10, &d));
    CHECK_MSG(child_s > 0.05, "the child got only %.3f s of CPU", child_s);
    /* Slack: a jiffy at each end on each counted CPU. */
    double slack = 2.0 * a.cpus_counted / (double)sysconf(_SC_CLK_TCK);
    CHECK_MSG(d.others_cpus * d.wall_s >= child_s - slack,
              "others %.3f CPUs x %.3f s = %.3f CPU-s, but the child alone ran %.3f s (slack %.3f)", d.others_cpus,
              d.wall_s, d.others_cpus * d.wall_s, child_s, slack);
}
