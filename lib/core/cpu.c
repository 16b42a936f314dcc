#include "cpu.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"

#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

#if defined(__aarch64__) && defined(__linux__) /* glibc and Android's bionic both have getauxval */
#include <asm/hwcap.h>
#include <sys/auxv.h>

/* The kernel's bits (arch/arm64/include/uapi/asm/hwcap.h); older headers
 * may lack the newer ones. */
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif

static void detect_aarch64(vl_cpu_features *f)
{
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->neon = (hw & HWCAP_ASIMD) != 0;
    f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
    f->i8mm = (hw2 & HWCAP2_I8MM) != 0;
    f->bf16 = (hw2 & HWCAP2_BF16) != 0;
}
#endif

static vl_cpu_features features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 6) == 6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!avx || !ymm_ok) return;
    features.fma = fma;
    features.f16c = f16c;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    features.avx2 = (b >> 5) & 1;
    if (zmm_ok) {
        features.avx512f = (b >> 16) & 1;
        features.avx512bw = (b >> 30) & 1;
        features.avx512vl = (b >> 31) & 1;
        features.avx512vnni = (c >> 11) & 1;
        unsigned a1 = 0, b1, c1, d1;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) features.avx512bf16 = (a1 >> 5) & 1;
    }
#endif
#if defined(__aarch64__) && defined(__linux__)
    detect_aarch64(&features);
#endif
    const char *cap = getenv("VIDEOLLM_CPU");
    if (cap && strcmp(cap, "scalar") == 0) memset(&features, 0, sizeof features);
    if (cap && strcmp(cap, "avx2") == 0) {
        features.avx512f = features.avx512bw = features.avx512vl = 0;
        features.avx512vnni = features.avx512bf16 = 0;
    }
    if (cap && strcmp(cap, "neon") == 0) features.fp16 = features.dotprod = features.i8mm = features.bf16 = 0;
}

const vl_cpu_features *vl_cpu(void)
{
    pthread_once(&once, detect);
    return &features;
}

/* ---- performance cores ------------------------------------------------------ */

/* The number in a one-line sysfs file; -1 when missing or unreadable. */
static long read_sysfs_long(const char *dir, const char *cpu, const char *file)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s/%s", dir, cpu, file) >= (int)sizeof path) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static int is_cpu_entry(const char *name)
{
    if (strncmp(name, "cpu", 3) || !name[3]) return 0;
    for (const char *p = name + 3; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

#define MAX_SYSFS_CPUS 4096

int vl_cpu_performance_cores_in(const char *cpu_dir)
{
    DIR *d = cpu_dir ? opendir(cpu_dir) : NULL;
    if (!d) return 0;
    long *score = malloc(MAX_SYSFS_CPUS * sizeof *score);
    int n = 0, unknown = 0;
    struct dirent *e;
    while (score && (e = readdir(d)) != NULL && n < MAX_SYSFS_CPUS) {
        if (!is_cpu_entry(e->d_name)) continue;
        if (read_sysfs_long(cpu_dir, e->d_name, "online") == 0) continue; /* cpu0 often has no "online": on */
        long s = read_sysfs_long(cpu_dir, e->d_name, "cpu_capacity");
        if (s <= 0) s = read_sysfs_long(cpu_dir, e->d_name, "cpufreq/cpuinfo_max_freq");
        if (s <= 0) unknown = 1;
        score[n++] = s;
    }
    closedir(d);
    int count = 0;
    if (score && n > 0 && !unknown) {
        long lo = score[0], hi = score[0];
        for (int i = 1; i < n; i++) {
            if (score[i] < lo) lo = score[i];
            if (score[i] > hi) hi = score[i];
        }
        if ((double)lo >= 0.8 * (double)hi) {
            count = n;
        } else {
            const double efficiency_top = (double)lo + 0.25 * (double)(hi - lo);
            for (int i = 0; i < n; i++) count += (double)score[i] > efficiency_top;
        }
    }
    free(score);
    return count;
}

static int default_threads;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void detect_default_threads(void)
{
    const int online = vl_cpu_count();
    int perf = 0;
#if defined(__APPLE__)
    int n = 0;
    size_t len = sizeof n;
    if (sysctlbyname("hw.perflevel0.physicalcpu", &n, &len, NULL, 0) == 0 && n > 0) perf = n;
#elif defined(__linux__)
    perf = vl_cpu_performance_cores_in("/sys/devices/system/cpu");
#endif
    default_threads = perf > 0 && perf < online ? perf : online;
}

int vl_cpu_default_threads(void)
{
    pthread_once(&threads_once, detect_default_threads);
    return default_threads;
}
