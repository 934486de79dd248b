/* The hardware passport: parsing on fixture trees (tests/fixtures/hw), this
 * machine against /proc, runtimes that are absent, power meters with a
 * counter wrap, calibration and its cache. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "hw/hw_internal.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

static const char *fixture(const char *name, char *buf, size_t cap) {
    const char *src = getenv("HWA_SOURCE_DIR");
    snprintf(buf, cap, "%s/tests/fixtures/hw/%s", src ? src : ".", name);
    return buf;
}

/* An empty directory: where no accelerator library can be found. */
static const char *empty_dir(void) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/nolibs", hwa_test_tmpdir());
    mkdir(dir, 0755);
    return dir;
}

static hwa_probe_opts fixture_opts(const char *root) {
    hwa_probe_opts o = {0};
    o.sysroot = root;
    o.opencl_lib = o.cuda_lib = o.nvml_lib = o.pjrt_plugin = empty_dir();
    o.calibrate = HWA_CALIBRATE_NONE;
    return o;
}

/* A writable copy of a fixture tree. */
static const char *copy_fixture(const char *name, const char *as, char *buf, size_t cap) {
    char src[1024], cmd[4200];
    fixture(name, src, sizeof src);
    snprintf(buf, cap, "%s/%s", hwa_test_tmpdir(), as);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", buf, src, buf);
    return system(cmd) == 0 ? buf : NULL;
}

static void write_file(const char *dir, const char *rel, const char *text) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static bool has(const hwa_passport *p, const char *flag) { return hwa_passport_has_feature(p, flag); }

/* ---- fixture trees ------------------------------------------------------------- */

TEST(container_limits_come_from_cgroup_v2_ancestors) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("container", root, sizeof root));
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_cpu_info *c = hwa_passport_cpu(p);
    CHECK_INT_EQ(c->cgroup_version, 2);
    CHECK_INT_EQ(c->cgroup_memory_max_bytes, INT64_C(2) << 30); /* parent's memory.max; the job's is "max" */
    CHECK_NEAR(c->cgroup_cpu_limit, 1.5, 1e-12);                 /* "150000 100000" */
    CHECK_INT_EQ(c->affinity_cpus, 3);
    CHECK(!strcmp(c->affinity_list, "0-2"));
    /* The CPU device's memory is what the container may use. */
    CHECK_INT_EQ(hwa_passport_device(p, 0)->memory_bytes, INT64_C(2) << 30);
    hwa_passport_free(p);
}

TEST(container_topology_caches_memory_and_identity) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("container", root, sizeof root));
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_cpu_info *c = hwa_passport_cpu(p);
    CHECK(!strcmp(c->arch, "x86_64"));
    CHECK(!strcmp(c->vendor, "GenuineIntel"));
    CHECK_STR_CONTAINS(c->model_name, "Gold 6230");
    CHECK_INT_EQ(c->family, 6);
    CHECK_INT_EQ(c->model, 85);
    CHECK_INT_EQ(c->stepping, 7);
    CHECK_INT_EQ(c->logical_cpus, 4);
    CHECK_INT_EQ(c->physical_cores, 2);
    CHECK_INT_EQ(c->sockets, 1);
    CHECK_INT_EQ(c->numa_nodes, 1);
    CHECK_INT_EQ(c->n_caches, 4);
    CHECK_INT_EQ(c->caches[0].level, 1);
    CHECK(!strcmp(c->caches[0].type, "data"));
    CHECK_INT_EQ(c->caches[0].size_bytes, 32 * 1024);
    CHECK_INT_EQ(c->caches[0].instances, 2);
    CHECK_INT_EQ(c->caches[0].shared_by, 2);
    CHECK_INT_EQ(c->caches[3].level, 3);
    CHECK_INT_EQ(c->caches[3].size_bytes, 28160 * 1024);
    CHECK_INT_EQ(c->caches[3].instances, 1);
    CHECK_INT_EQ(c->mem_total_bytes, INT64_C(65842380) * 1024);
    CHECK_INT_EQ(c->mem_available_bytes, INT64_C(61234560) * 1024);
    /* ISA features only, with /proc/cpuinfo's names; no "fpu" or "hypervisor". */
    CHECK(has(p, "avx512f") && has(p, "avx512_vnni") && has(p, "sse4_2") && has(p, "fma"));
    CHECK(!has(p, "fpu") && !has(p, "hypervisor") && !has(p, "avx512_bf16") && !has(p, "amx_tile"));
    hwa_passport_free(p);
}

TEST(arm_cpuinfo_gives_identity_and_features) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("arm", root, sizeof root));
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_cpu_info *c = hwa_passport_cpu(p);
    CHECK(!strcmp(c->arch, "aarch64"));
    CHECK(!strcmp(c->vendor, "ARM"));
    CHECK(!strcmp(c->model_name, "ARM Neoverse-N1"));
    CHECK_INT_EQ(c->model, 0xd0c);
    CHECK_INT_EQ(c->logical_cpus, 4); /* no sysfs: counted from cpuinfo */
    CHECK(has(p, "fp") && has(p, "asimd") && has(p, "asimddp") && has(p, "sve") && has(p, "fphp"));
    CHECK(!has(p, "avx2"));
    CHECK(hwa_passport_device(p, 0)->fp16);
    CHECK_INT_EQ(c->cgroup_version, 0);
    CHECK_INT_EQ(c->cgroup_memory_max_bytes, -1);
    hwa_passport_free(p);
}

TEST(missing_cpuinfo_under_a_sysroot_is_an_error) {
    hwa_probe_opts o = fixture_opts(empty_dir());
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK(p == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "proc/cpuinfo");
}

TEST(malformed_cpu_max_is_a_format_error) {
    char root[1024];
    CHECK(copy_fixture("container", "bad-cpu-max", root, sizeof root));
    write_file(root, "/sys/fs/cgroup/cpu.max", "lots 100000\n");
    hwa_probe_opts o = fixture_opts(root);
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK(p == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "cpu.max");
}

TEST(malformed_memory_max_is_a_format_error) {
    char root[1024];
    CHECK(copy_fixture("container", "bad-memory-max", root, sizeof root));
    write_file(root, "/sys/fs/cgroup/memory.max", "2G\n");
    hwa_probe_opts o = fixture_opts(root);
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK(p == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "memory.max");
}

TEST(cpulist_parser) {
    int n = -1;
    uint64_t bits[2] = {0};
    CHECK_OK(hwa__parse_cpulist("0-3,8,10-11\n", &n, bits, 2));
    CHECK_INT_EQ(n, 7);
    CHECK_INT_EQ(bits[0], 0xd0f);
    char buf[64];
    hwa__format_cpulist(bits, 2, buf, sizeof buf);
    CHECK(!strcmp(buf, "0-3,8,10-11"));
    CHECK_OK(hwa__parse_cpulist("", &n, NULL, 0));
    CHECK_INT_EQ(n, 0);
    CHECK_STATUS(hwa__parse_cpulist("3-1", &n, NULL, 0), HWA_E_FORMAT);
    CHECK_STATUS(hwa__parse_cpulist("1,,2", &n, NULL, 0), HWA_E_FORMAT);
    CHECK_STATUS(hwa__parse_cpulist("x", &n, NULL, 0), HWA_E_FORMAT);
    CHECK_STATUS(hwa__parse_cpulist("99999999", &n, NULL, 0), HWA_E_FORMAT);
}

/* ---- power meters --------------------------------------------------------------- */

TEST(rapl_domains_are_listed) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("rapl", root, sizeof root));
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    CHECK_INT_EQ(hwa_passport_meter_count(p), 4);
    const char *want[4][2] = {{"rapl:package-0", "package"}, {"rapl:package-0/core", "core"},
                              {"rapl:package-0/dram", "dram"}, {"rapl:package-1", "package"}};
    for (int i = 0; i < 4; i++) {
        const hwa_meter_info *m = hwa_passport_meter(p, i);
        CHECK_MSG(!strcmp(m->name, want[i][0]), "meter %d is %s, expected %s", i, m->name, want[i][0]);
        CHECK(!strcmp(m->domain, want[i][1]));
        CHECK(!strcmp(m->kind, "rapl"));
    }
    hwa_passport_free(p);
}

TEST(rapl_counter_wrap_is_accounted_for) {
    char root[1024];
    CHECK(copy_fixture("rapl", "rapl-wrap", root, sizeof root));
    hwa_probe_opts o = fixture_opts(root);
    const char *e = "/sys/class/powercap/intel-rapl:0:1/energy_uj"; /* dram: range 65712999613 uJ */
    write_file(root, e, "65712000000\n");
    hwa_meter *m = hwa_meter_open("rapl:package-0/dram", &o);
    CHECK_MSG(m, "open failed: %s", hwa_last_error());
    double j = -1;
    write_file(root, e, "65712500000\n");
    CHECK_OK(hwa_meter_read_joules(m, &j));
    CHECK_NEAR(j, 0.5, 1e-9);
    /* The counter wraps: 499613 uJ to the top, then 1500000 after zero. */
    write_file(root, e, "1500000\n");
    CHECK_OK(hwa_meter_read_joules(m, &j));
    CHECK_NEAR(j, 0.5 + (65712999613.0 - 65712500000.0 + 1500000.0) / 1e6, 1e-9);
    write_file(root, e, "garbage\n");
    CHECK_STATUS(hwa_meter_read_joules(m, &j), HWA_E_FORMAT);
    hwa_meter_close(m);
}

TEST(meter_names_that_do_not_exist) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("rapl", root, sizeof root));
    CHECK(hwa_meter_open("rapl:package-7", &o) == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "no such RAPL domain");
    CHECK(hwa_meter_open("watts", &o) == NULL);
    CHECK(hwa_meter_open("nvml:0", &o) == NULL); /* the NVML library is in an empty dir */
    hwa_meter_close(NULL);
}

/* ---- this machine ---------------------------------------------------------------- */

static hwa_passport *probe_here(void) {
    hwa_probe_opts o = {0};
    o.sysroot = "";
    o.calibrate = HWA_CALIBRATE_NONE;
    return hwa_passport_probe(&o);
}

TEST(total_memory_matches_proc_meminfo_within_1pct) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) SKIP("no /proc/meminfo");
    long long kb = -1;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
    fclose(f);
    CHECK(kb > 0);
    hwa_passport *p = probe_here();
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    double ours = (double)hwa_passport_cpu(p)->mem_total_bytes, theirs = (double)kb * 1024;
    hwa_passport_free(p);
    CHECK_NEAR(ours / theirs, 1.0, 0.01);
}

/* The cpuid-based features against the kernel's flags, both ways, for every
 * x86 feature the passport knows. */
TEST(features_match_proc_cpuinfo_flags) {
#if !defined(__x86_64__)
    SKIP("not x86-64: cpuid is not used");
#else
    char *text = NULL;
    if (hwa__read_file_alloc("", "/proc/cpuinfo", &text, NULL) != HWA_OK) SKIP("no /proc/cpuinfo");
    char *flags = strstr(text, "\nflags");
    CHECK(flags);
    flags = strchr(flags, ':') + 1;
    *strchr(flags, '\n') = '\0';
    hwa_passport *p = probe_here();
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const char *names[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                           "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"};
    int checked = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char word[64];
        snprintf(word, sizeof word, " %s ", names[i]);
        char padded[8192];
        snprintf(padded, sizeof padded, " %s ", flags);
        bool kernel = strstr(padded, word) != NULL;
        if (!strncmp(names[i], "amx", 3) && kernel && !hwa_passport_cpu(p)->amx_permitted) continue;
        if (kernel != has(p, names[i])) {
            hwa_passport_free(p);
            free(text);
            CHECK_MSG(false, "%s: /proc/cpuinfo %s it, the passport %s", names[i], kernel ? "lists" : "lacks",
                      kernel ? "does not" : "does");
        }
        checked++;
    }
    /* Everything the passport lists, the kernel lists too. */
    for (int i = 0; i < hwa_passport_cpu(p)->n_features; i++) {
        char word[64], padded[8192];
        snprintf(word, sizeof word, " %s ", hwa_passport_cpu(p)->features[i]);
        snprintf(padded, sizeof padded, " %s ", flags);
        if (!strstr(padded, word)) {
            hwa_test_fail(__FILE__, __LINE__, "%s is not in /proc/cpuinfo", hwa_passport_cpu(p)->features[i]);
            break;
        }
    }
    printf("  %d features compared, %d listed\n", checked, hwa_passport_cpu(p)->n_features);
    hwa_passport_free(p);
    free(text);
#endif
}

TEST(opencl_device_is_found_when_the_loader_is_present) {
    void *h = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) SKIP_FOR("opencl", "libOpenCL.so.1 is not installed");
    dlclose(h);
    hwa_passport *p = probe_here();
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_runtime_info *rt = hwa_passport_runtime(p, 0);
    CHECK(!strcmp(rt->name, "opencl") && rt->loaded);
    int found = 0;
    for (int i = 0; i < hwa_passport_device_count(p); i++) {
        const hwa_device_info *d = hwa_passport_device(p, i);
        if (d->kind != HWA_HW_OPENCL) continue;
        char want[32];
        snprintf(want, sizeof want, "opencl:%d", found++);
        CHECK(!strcmp(d->id, want));
        CHECK(d->name[0] && d->compute_units > 0 && d->memory_bytes > 0 && d->max_alloc_bytes > 0);
        printf("  %s: %s (%s), %d CUs\n", d->id, d->name, d->platform, d->compute_units);
    }
    CHECK_INT_EQ(found, rt->n_devices);
    hwa_passport_free(p);
    if (found == 0) SKIP_FOR("opencl", "the OpenCL loader has no platform (is pocl-opencl-icd installed?)");
}

TEST(absent_accelerator_libraries_mean_none_found) {
    hwa_probe_opts o = {0};
    o.sysroot = "";
    o.opencl_lib = o.cuda_lib = o.nvml_lib = o.pjrt_plugin = empty_dir();
    o.calibrate = HWA_CALIBRATE_NONE;
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    CHECK_INT_EQ(hwa_passport_device_count(p), 1);
    CHECK(!strcmp(hwa_passport_device(p, 0)->id, "cpu"));
    /* opencl, cuda, nvml and pjrt, from the paths given; and the cuda
     * backend module, found as the library finds it (whose devices come
     * from the real driver, not from o.cuda_lib) */
    CHECK_INT_EQ(hwa_passport_runtime_count(p), 5);
    int from_paths = 0;
    for (int i = 0; i < hwa_passport_runtime_count(p); i++) {
        const hwa_runtime_info *r = hwa_passport_runtime(p, i);
        if (!strcmp(r->name, "hwadapt_cuda")) {
            CHECK(r->library[0] && (r->n_devices > 0 || r->note[0]));
            continue;
        }
        from_paths++;
        CHECK(!r->loaded && r->n_devices == 0 && r->note[0]);
        CHECK_STR_CONTAINS(r->library, empty_dir());
    }
    CHECK_INT_EQ(from_paths, 4);
    hwa_passport_free(p);
}

/* ---- calibration ------------------------------------------------------------------- */

TEST(bandwidth_on_small_arrays) {
    hwa_bandwidth b;
    CHECK_OK(hwa_calibrate_bandwidth(INT64_C(8) << 20, 2, &b));
    CHECK(b.read_gbs > 0 && b.copy_gbs > 0 && b.triad_gbs > 0);
    CHECK_INT_EQ(b.array_bytes, INT64_C(8) << 20);
    CHECK_STATUS(hwa_calibrate_bandwidth(-1, 2, &b), HWA_E_INVALID);
    CHECK_STATUS(hwa_calibrate_bandwidth(1 << 20, 0, &b), HWA_E_INVALID);
    CHECK_STATUS(hwa_calibrate_bandwidth(100, 1, &b), HWA_E_INVALID);
}

TEST(fma_peak_is_positive_and_i32_is_unsupported) {
    double g = 0;
    CHECK_OK(hwa_calibrate_fma_peak(HWA_F32, 0.05, &g));
    CHECK(g > 0); /* a rate, not a speed claim: timings are never asserted */
    CHECK_STATUS(hwa_calibrate_fma_peak(HWA_I32, 0.05, &g), HWA_E_UNSUPPORTED);
    CHECK_STATUS(hwa_calibrate_fma_peak(HWA_F32, 0, &g), HWA_E_INVALID);
}

/* The AMX loops compute what the tile products define: each of the six sum
 * tiles gets n times C[m][n] = sum over k of A[m][k] B[k / w][n][k % w]
 * (w = 2 bf16 or 4 int8 values per B element), A and B filled as the loops
 * fill them. */
TEST(amx_peak_loops_compute_the_tile_products) {
    if (!hwa__amx_usable(false) || !hwa__amx_usable(true)) SKIP_FOR("amx", "no usable AMX bf16 and int8 here");
    const int64_t n = 100;
    double ops = 0, want = 0;
    const double got = hwa__fma_loop_bf16_amx(n, &ops);
    for (int m = 0; m < 16; m++)
        for (int c = 0; c < 16; c++)
            for (int k = 0; k < 32; k++) {
                const int ia = m * 32 + k, ib = (k / 2) * 32 + 2 * c + k % 2;
                want += (double)(ia % 13 - 6) / 64.0 * (double)(ib % 7 - 3) / 64.0;
            }
    CHECK_NEAR(got, 6.0 * n * want, 1e-9);
    CHECK_NEAR(ops, 6.0 * n * 16 * 16 * 32 * 2, 0);

    uint64_t iw = 0;
    const double gi = hwa__fma_loop_i8_amx(n, &ops);
    for (int m = 0; m < 16; m++)
        for (int c = 0; c < 16; c++) {
            int32_t one = 0;
            for (int k = 0; k < 64; k++) {
                const int ia = m * 64 + k, ib = (k / 4) * 64 + 4 * c + k % 4;
                one += (ia % 11 - 5) * (ib % 5 - 2);
            }
            iw += 6 * (uint64_t)(uint32_t)(n * one);
        }
    CHECK_NEAR(gi, (double)iw, 0);
    CHECK_NEAR(ops, 6.0 * n * 16 * 16 * 64 * 2, 0);
}

typedef struct fake_bench {
    int calls;
} fake_bench;

#ifdef HWA_HAVE_JANSSON /* the cache tests below need the JSON reader */
static hwa_status fake_matmul(void *ud, hwa_dtype dt, double budget_s, double *gflops) {
    ((fake_bench *)ud)->calls++;
    if (dt == HWA_F32) *gflops = 100;
    else if (dt == HWA_BF16) *gflops = 200;
    else return HWA_E_UNSUPPORTED;
    return budget_s > 0 ? HWA_OK : HWA_E_INVALID;
}

/* The ARM fixture says 64 MiB are available: bandwidth arrays stay small. */
static hwa_probe_opts cache_opts(const char *root, const char *cache, fake_bench *fb) {
    hwa_probe_opts o = fixture_opts(root);
    o.cache_dir = cache;
    o.calibrate = HWA_CALIBRATE_CACHED;
    o.matmul_bench = fake_matmul;
    o.matmul_bench_ud = fb;
    return o;
}
#endif

TEST(calibration_is_cached_per_fingerprint) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson: no cache");
#else
    char root[1024], cache[1024], path[2048];
    fixture("arm", root, sizeof root);
    snprintf(cache, sizeof cache, "%s/cache/a/b", hwa_test_tmpdir());
    fake_bench fb = {0};
    hwa_probe_opts o = cache_opts(root, cache, &fb);

    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_device_info *d = hwa_passport_device(p, 0);
    CHECK_INT_EQ(fb.calls, 3);
    CHECK(!d->calibration_cached);
    CHECK_NEAR(d->peak_gflops[HWA_F32], 100, 0);
    CHECK_NEAR(d->peak_gflops[HWA_BF16], 200, 0);
    CHECK_NEAR(d->peak_gflops[HWA_I8], 0, 0);
    CHECK(!strcmp(d->peak_method, "matmul"));
    /* The FMA loops still run, as a separate figure. */
    CHECK(d->fma_peak_gflops[HWA_F32] > 0);
    double fma = d->fma_peak_gflops[HWA_F32];
    CHECK(d->bandwidth.triad_gbs > 0 && d->bandwidth.array_bytes <= (8 << 20));
    double triad = d->bandwidth.triad_gbs;
    snprintf(path, sizeof path, "%s/" HWA__CALIBRATION_FILE_FMT, cache, hwa_passport_fingerprint(p), "matmul",
             HWA__CALIBRATION_VERSION);
    hwa_passport_free(p);
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0, "no cache file %s", path);

    /* Reused: no measurement, the same figures. */
    p = hwa_passport_probe(&o);
    CHECK(p);
    d = hwa_passport_device(p, 0);
    CHECK_INT_EQ(fb.calls, 3);
    CHECK(d->calibration_cached);
    CHECK_NEAR(d->peak_gflops[HWA_F32], 100, 0);
    CHECK_NEAR(d->fma_peak_gflops[HWA_F32], fma, 1e-9 * fma);
    CHECK_NEAR(d->bandwidth.triad_gbs, triad, 1e-9 * triad);
    hwa_passport_free(p);

    /* --recalibrate measures again. */
    o.calibrate = HWA_CALIBRATE_FORCE;
    p = hwa_passport_probe(&o);
    CHECK(p && !hwa_passport_device(p, 0)->calibration_cached);
    CHECK_INT_EQ(fb.calls, 6);
    hwa_passport_free(p);

    /* Another machine (another fingerprint) does not reuse it. */
    char other[1024];
    o.calibrate = HWA_CALIBRATE_CACHED;
    o.sysroot = fixture("rapl", other, sizeof other);
    p = hwa_passport_probe(&o);
    CHECK(p && !hwa_passport_device(p, 0)->calibration_cached);
    CHECK_INT_EQ(fb.calls, 9);
    hwa_passport_free(p);
#endif
}

TEST(a_corrupt_cache_is_ignored_with_a_warning) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson: no cache");
#else
    char root[1024], cache[1024], path[2048];
    fixture("arm", root, sizeof root);
    snprintf(cache, sizeof cache, "%s/cache-corrupt", hwa_test_tmpdir());
    fake_bench fb = {0};
    hwa_probe_opts o = cache_opts(root, cache, &fb);
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    snprintf(path, sizeof path, "%s/" HWA__CALIBRATION_FILE_FMT, cache, hwa_passport_fingerprint(p), "matmul",
             HWA__CALIBRATION_VERSION);
    hwa_passport_free(p);

    const char *bad[] = {"{\"version\": 2, \"fingerprint\": ", "[]", "",
                         "{\"version\":2,\"fingerprint\":\"x\",\"method\":\"matmul\",\"peak_gflops\":{},"
                         "\"fma_peak_gflops\":{},\"bandwidth_gbs\":{\"read\":1,\"copy\":1,\"triad\":-5},"
                         "\"array_bytes\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        CHECK(f);
        fputs(bad[i], f);
        fclose(f);
        int before = fb.calls;
        p = hwa_passport_probe(&o);
        CHECK_MSG(p, "probe failed on corrupt cache %zu: %s", i, hwa_last_error());
        bool stale = i == 3; /* valid JSON for another fingerprint: silently replaced */
        if (!stale) {
            CHECK_MSG(hwa_passport_warning_count(p) == 1, "case %zu: %d warnings", i, hwa_passport_warning_count(p));
            CHECK_STR_CONTAINS(hwa_passport_warning(p, 0), "corrupt calibration cache");
        }
        CHECK_INT_EQ(fb.calls, before + 3);
        CHECK_NEAR(hwa_passport_device(p, 0)->peak_gflops[HWA_F32], 100, 0);
        hwa_passport_free(p);
    }
    /* The last probe rewrote a good file. */
    p = hwa_passport_probe(&o);
    CHECK(p && hwa_passport_device(p, 0)->calibration_cached && hwa_passport_warning_count(p) == 0);
    hwa_passport_free(p);
#endif
}

TEST(a_cache_of_another_method_is_not_reused) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson: no cache");
#else
    char root[1024], cache[1024];
    fixture("arm", root, sizeof root);
    snprintf(cache, sizeof cache, "%s/cache-method", hwa_test_tmpdir());
    fake_bench fb = {0};
    hwa_probe_opts o = cache_opts(root, cache, &fb);
    /* An FMA-loop calibration, as every cache before the matmul benchmark. */
    o.matmul_bench = NULL;
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    CHECK(!strcmp(hwa_passport_device(p, 0)->peak_method, "fma-loop"));
    CHECK_NEAR(hwa_passport_device(p, 0)->peak_gflops[HWA_F32], hwa_passport_device(p, 0)->fma_peak_gflops[HWA_F32], 0);
    hwa_passport_free(p);
    /* The matmul method does not read it: it measures. */
    o.matmul_bench = fake_matmul;
    p = hwa_passport_probe(&o);
    CHECK(p && !hwa_passport_device(p, 0)->calibration_cached);
    CHECK_INT_EQ(fb.calls, 3);
    CHECK(!strcmp(hwa_passport_device(p, 0)->peak_method, "matmul"));
    CHECK_NEAR(hwa_passport_device(p, 0)->peak_gflops[HWA_F32], 100, 0);
    hwa_passport_free(p);
    /* A cache of the old format (version 1, no method in the name) is not read. */
    p = hwa_passport_probe(&o);
    CHECK(p && hwa_passport_device(p, 0)->calibration_cached);
    char old[2048];
    snprintf(old, sizeof old, "%s/calibration-%s.json", cache, hwa_passport_fingerprint(p));
    hwa_passport_free(p);
    write_file(old, "", "{\"version\":1}");
    o.calibrate = HWA_CALIBRATE_CACHED;
    p = hwa_passport_probe(&o);
    CHECK(p && hwa_passport_device(p, 0)->calibration_cached && hwa_passport_warning_count(p) == 0);
    hwa_passport_free(p);
#endif
}

static hwa_status failing_matmul(void *ud, hwa_dtype dt, double budget_s, double *gflops) {
    (void)ud, (void)budget_s;
    if (dt == HWA_F32) {
        *gflops = 50;
        return HWA_OK;
    }
    return hwa__err(NULL, HWA_E_DEVICE, "matmul peak: %s product is wrong", hwa_dtype_name(dt));
}

TEST(a_failing_matmul_benchmark_is_a_warning_not_a_failed_probe) {
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("arm", root, sizeof root));
    o.calibrate = HWA_CALIBRATE_FORCE;
    o.cache_dir = hwa_test_tmpdir();
    o.matmul_bench = failing_matmul;
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe failed: %s", hwa_last_error());
    const hwa_device_info *d = hwa_passport_device(p, 0);
    CHECK_NEAR(d->peak_gflops[HWA_F32], 50, 0);
    CHECK_NEAR(d->peak_gflops[HWA_BF16], 0, 0);
    bool warned = false;
    for (int i = 0; i < hwa_passport_warning_count(p); i++)
        warned |= strstr(hwa_passport_warning(p, i), "bf16 matmul peak not measured: matmul peak: bf16 product is wrong") != NULL;
    CHECK(warned);
    hwa_passport_free(p);
}

/* ---- JSON -------------------------------------------------------------------------- */

TEST(json_has_the_documented_fields) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson");
#else
    char root[1024];
    hwa_probe_opts o = fixture_opts(fixture("container", root, sizeof root));
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK(p);
    char *s = NULL;
    CHECK_OK(hwa_passport_to_json(p, &s));
    hwa_passport_free(p);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    free(s);
    CHECK_MSG(j, "JSON does not parse: %s", err.text);
    json_t *cpu = json_object_get(j, "cpu"), *devs = json_object_get(j, "devices");
    CHECK(json_is_array(json_object_get(cpu, "features")));
    CHECK(json_array_size(json_object_get(cpu, "features")) > 10);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(cpu, "cgroup"), "memory_max_bytes")), INT64_C(2) << 30);
    CHECK(json_is_array(devs) && json_array_size(devs) == 1);
    json_t *d0 = json_array_get(devs, 0);
    CHECK(!strcmp(json_string_value(json_object_get(d0, "id")), "cpu"));
    CHECK(!strcmp(json_string_value(json_object_get(d0, "kind")), "cpu"));
    CHECK(json_is_integer(json_object_get(d0, "memory_bytes")));
    CHECK(json_is_object(json_object_get(d0, "peak_gflops")));
    CHECK(json_is_null(json_object_get(d0, "bandwidth_gbs"))); /* not calibrated */
    CHECK(json_is_array(json_object_get(j, "power_meters")));
    json_decref(j);
    CHECK_STATUS(hwa_passport_to_json(NULL, &s), HWA_E_MISUSE);
#endif
}

TEST(accessors_tolerate_null_and_out_of_range) {
    CHECK(hwa_passport_cpu(NULL) == NULL);
    CHECK_INT_EQ(hwa_passport_device_count(NULL), 0);
    CHECK(hwa_passport_device(NULL, 0) == NULL);
    CHECK(!hwa_passport_has_feature(NULL, "avx"));
    hwa_passport_free(NULL);
    hwa_probe_opts o = fixture_opts("/nonexistent");
    o.calibrate = (hwa_calibrate_mode)7;
    CHECK(hwa_passport_probe(&o) == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "calibrate mode");
}
