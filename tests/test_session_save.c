/* vllm_session_save replaces a file atomically: a save that fails (here a
 * file-size limit, as `ulimit -f` or a full disk would) leaves the old
 * snapshot byte-identical and no stray file in the directory; a path that
 * is not a regular file (a FIFO, a directory) is refused and left alone. */
#define VLLM_EXPERIMENTAL
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*n + 1);
    if (b && fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

/* Names in dir, space-separated, sorted as readdir gives them (few). */
static int count_entries(const char *dir, char *names, size_t cap)
{
    DIR *d = opendir(dir);
    int n = 0;
    names[0] = '\0';
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        strncat(names, e->d_name, cap - strlen(names) - 2);
        strcat(names, " ");
    }
    if (d) closedir(d);
    return n;
}

static void fill(vllm_session *s, int n)
{
    int32_t ids[200];
    for (int i = 0; i < n; i++) ids[i] = 40 + (i * 7) % 200;
    REQUIRE(vllm_session_eval_tokens(s, ids, (size_t)n) == VLLM_OK, "%s", vllm_session_last_error(s));
}

/* Run save in a child (a limit or a blocking open must not take the test
 * down); returns the status it got, or 99 if it was killed / timed out. */
static int save_in_child(vllm_session *s, const char *path, long fsize_limit, int load)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a save that blocks (old code opening a FIFO) ends here */
        if (fsize_limit > 0) {
            signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
            struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(98);
        }
        vllm_status st = load ? vllm_session_load(s, path) : vllm_session_save(s, path);
        if (vllm_is_error(st)) fprintf(stderr, "child %s: %s\n", load ? "load" : "save", vllm_session_last_error(s));
        _exit(st == VLLM_OK ? 0 : -st);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 99;
}

TEST_MAIN_BEGIN
    char tp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, NULL, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 512;
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());

    char dir[] = "/tmp/videollm-save-XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char snap[1100], fifo[1100], sub[1100], names[4096];
    snprintf(snap, sizeof snap, "%s/good.snap", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(sub, sizeof sub, "%s/subdir", dir);

    /* a good snapshot, then a bigger context saved over it under a limit */
    fill(s, 60);
    REQUIRE(vllm_session_save(s, snap) == VLLM_OK, "%s", vllm_session_last_error(s));
    long n_old = 0;
    char *old = slurp(snap, &n_old);
    REQUIRE(old && n_old > 1000, "snapshot of %ld bytes", n_old);
    CHECK(count_entries(dir, names, sizeof names) == 1, "after a good save the directory holds: %s", names);
    fill(s, 150);
    int got = save_in_child(s, snap, n_old / 2, 0);
    CHECK(got == -VLLM_ERR_IO, "save over the limit: child status %d (want %d = VLLM_ERR_IO)", got, -VLLM_ERR_IO);
    long n_now = 0;
    char *now = slurp(snap, &n_now);
    CHECK(now && n_now == n_old && !memcmp(now, old, (size_t)n_old), "the old snapshot changed: %ld bytes, was %ld",
          now ? n_now : -1, n_old);
    CHECK(count_entries(dir, names, sizeof names) == 1, "stray files after a failed save: %s", names);
    free(now);

    /* the old snapshot still loads; without the limit the new one replaces it */
    vllm_session *r = NULL;
    REQUIRE(vllm_session_create(m, &sp, &r) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_load(r, snap) == VLLM_OK, "the old snapshot no longer loads: %s", vllm_session_last_error(r));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(r, &st);
    CHECK(st.n_past == 60, "old snapshot holds %d positions", st.n_past);
    chmod(snap, 0640);
    CHECK(vllm_session_save(s, snap) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(vllm_session_load(r, snap) == VLLM_OK, "%s", vllm_session_last_error(r));
    vllm_session_get_stats(r, &st);
    CHECK(st.n_past == 210, "new snapshot holds %d positions", st.n_past);
    struct stat sb;
    CHECK(stat(snap, &sb) == 0 && (sb.st_mode & 0777) == 0640, "a replaced file keeps its mode: %o", sb.st_mode & 0777);
    CHECK(count_entries(dir, names, sizeof names) == 1, "stray files after a good save: %s", names);

    /* a FIFO (like a device node, not created by the library) is refused, not opened or removed */
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
    got = save_in_child(s, fifo, 0, 0);
    CHECK(got == -VLLM_ERR_INVALID_ARG, "save to a FIFO: child status %d (99 = blocked)", got);
    CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode), "the FIFO was removed or replaced");
    got = save_in_child(r, fifo, 0, 1);
    CHECK(got == -VLLM_ERR_INVALID_ARG, "load from a FIFO: child status %d (99 = blocked)", got);
    /* so is a directory */
    REQUIRE(mkdir(sub, 0700) == 0, "mkdir");
    CHECK(vllm_session_save(s, sub) == VLLM_ERR_INVALID_ARG, "save to a directory: %s", vllm_session_last_error(s));
    CHECK(strstr(vllm_session_last_error(s), "not a regular file"), "message: %s", vllm_session_last_error(s));
    CHECK(lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory was removed");
    CHECK(count_entries(dir, names, sizeof names) == 3, "stray files: %s", names);
    /* an unwritable directory: a clear error, the old file untouched */
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such-dir/x.snap", dir);
    CHECK(vllm_session_save(s, missing) == VLLM_ERR_IO && strstr(vllm_session_last_error(s), "no-such-dir"), "%s",
          vllm_session_last_error(s));

    remove(snap);
    remove(fifo);
    rmdir(sub);
    rmdir(dir);
    free(old);
    vllm_session_free(r);
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
