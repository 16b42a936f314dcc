/* Performance-core counting (vl_cpu_performance_cores_in) on fake sysfs
 * CPU trees built here, so the big.LITTLE / hybrid cases run on any
 * machine: phone layouts by cpu_capacity, Intel hybrid by max frequency,
 * Turbo Boost Max's favoured cores (one kind of core), offline CPUs,
 * unreadable scores and a missing directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "harness.h"

static char root[256];
static int tree_no;

static void write_file(const char *path, long v)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot create %s", path);
    fprintf(f, "%ld\n", v);
    fclose(f);
}

/* A tree of n cpus: score[i] written to `file` ("cpu_capacity" or
 * "cpufreq/cpuinfo_max_freq"; score < 0 writes nothing), online[i] == 0
 * marks cpu i offline (cpu0 gets no "online" file, as in Linux). Also the
 * non-cpu entries a real tree has. */
static const char *make_tree(int n, const long *score, const char *file, const int *online)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/t%d", root, tree_no++);
    REQUIRE(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    char p[1024];
    snprintf(p, sizeof p, "%s/cpufreq", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/online", dir);
    write_file(p, 0);
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/cpu%d", dir, i);
        REQUIRE(mkdir(p, 0700) == 0, "mkdir %s", p);
        snprintf(p, sizeof p, "%s/cpu%d/cpufreq", dir, i);
        mkdir(p, 0700);
        if (i > 0) {
            snprintf(p, sizeof p, "%s/cpu%d/online", dir, i);
            write_file(p, online ? online[i] : 1);
        }
        if (score[i] >= 0) {
            snprintf(p, sizeof p, "%s/cpu%d/%s", dir, i, file);
            write_file(p, score[i]);
        }
    }
    return dir;
}

static void expect(const char *what, int n, const long *score, const char *file, const int *online, int want)
{
    int got = vl_cpu_performance_cores_in(make_tree(n, score, file, online));
    CHECK(got == want, "%s: %d performance cores, expected %d", what, got, want);
}

TEST_MAIN_BEGIN
    snprintf(root, sizeof root, "/tmp/vl_test_cpu_cores_XXXXXX");
    REQUIRE(mkdtemp(root), "mkdtemp");
    const char *cap = "cpu_capacity", *freq = "cpufreq/cpuinfo_max_freq";

    const long little_big[8] = {446, 446, 446, 446, 1024, 1024, 1024, 1024};
    expect("4 little + 4 big (capacity)", 8, little_big, cap, NULL, 4);
    const long three_tier[8] = {1024, 871, 871, 871, 325, 325, 325, 325};
    expect("1 prime + 3 mid + 4 little", 8, three_tier, cap, NULL, 4);
    const long two_six[8] = {1024, 1024, 160, 160, 160, 160, 160, 160};
    expect("2 big + 6 little", 8, two_six, cap, NULL, 2);
    const long same[6] = {1024, 1024, 1024, 1024, 1024, 1024};
    expect("one kind of core", 6, same, cap, NULL, 6);
    /* Intel hybrid: 4 P cores with SMT (8 logical) at 4.7 GHz, 8 E cores at 3.6 GHz */
    const long hybrid[16] = {4700000, 4700000, 4700000, 4700000, 4700000, 4700000, 4700000, 4700000,
                             3600000, 3600000, 3600000, 3600000, 3600000, 3600000, 3600000, 3600000};
    expect("hybrid by max frequency", 16, hybrid, freq, NULL, 8);
    const long favoured[8] = {3900000, 3700000, 3700000, 3900000, 3700000, 3700000, 3700000, 3700000};
    expect("favoured cores are one kind", 8, favoured, freq, NULL, 8);
    const int big_offline[8] = {1, 1, 1, 1, 1, 0, 0, 1};
    expect("offline big cores", 8, little_big, cap, big_offline, 2);
    const long unreadable[4] = {1024, 1024, -1, 1024};
    expect("a core without a score", 4, unreadable, cap, NULL, 0);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/absent", root);
    CHECK(vl_cpu_performance_cores_in(missing) == 0, "missing directory");
    CHECK(vl_cpu_performance_cores_in(NULL) == 0, "NULL directory");

    /* On this machine: the default is a sane count within the online CPUs. */
    int dflt = vl_cpu_default_threads(), online = vl_cpu_count();
    fprintf(stderr, "this machine: %d online CPUs, default threads %d, sysfs performance cores %d\n", online, dflt,
            vl_cpu_performance_cores_in("/sys/devices/system/cpu"));
    CHECK(dflt >= 1 && dflt <= online, "default threads %d of %d online", dflt, online);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
TEST_MAIN_END
