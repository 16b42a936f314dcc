/* Atomic file replacement (see atomic_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"

/* The target with symlinks resolved (a missing file: the path as given). */
static char *resolve_target(const char *path, struct stat *st, int *exists)
{
    *exists = stat(path, st) == 0;
    if (*exists) {
        struct stat lst;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) return realpath(path, NULL);
    }
    return strdup(path);
}

/* "<dir>/.<name>.tmp-XXXXXX": in the target's directory, so the rename
 * stays within one file system; hidden, so a crash leaves no file that
 * looks like a finished one. Created with O_EXCL (mkstemp's guarantee)
 * and mode 0666 so the umask applies as for any new file. */
static int create_temp(const char *target, char **out)
{
    static atomic_uint counter;
    const char *slash = strrchr(target, '/');
    const size_t dir_len = slash ? (size_t)(slash - target + 1) : 0;
    const char *name = slash ? slash + 1 : target;
    const size_t len = strlen(target) + 32;
    char *tmp = malloc(len);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const unsigned tag = (unsigned)((uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)getpid() << 8 ^
                                        atomic_fetch_add(&counter, 1) * 40503u) & 0xffffffu;
        snprintf(tmp, len, "%.*s.%s.tmp-%06x", (int)dir_len, target, name, tag);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *out = tmp;
            return fd;
        }
        if (errno != EEXIST) break;
    }
    free(tmp);
    return -1;
}

static void release(vl_atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->f = NULL;
}

vllm_status vl_atomic_file_open(vl_atomic_file *af, const char *path, const char *what)
{
    memset(af, 0, sizeof *af);
    af->what = what;
    struct stat st;
    int exists;
    af->path = resolve_target(path, &st, &exists);
    if (!af->path) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    if (exists && !S_ISREG(st.st_mode)) {
        release(af);
        return vl_error(VLLM_ERR_INVALID_ARG, "%s: not a regular file (%s): refusing to write %s over it", path,
                        S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket",
                        what);
    }
    int fd = create_temp(af->path, &af->tmp_path);
    if (fd < 0) {
        const int e = errno;
        release(af);
        return vl_error(VLLM_ERR_IO, "%s: cannot create a temporary file for %s next to it (%s)", path, what, strerror(e));
    }
    if (exists) (void)fchmod(fd, st.st_mode & 07777); /* a replaced file keeps its permissions */
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        vl_atomic_file_abort(af);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    return VLLM_OK;
}

void vl_atomic_file_abort(vl_atomic_file *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

/* Make the rename itself durable (best effort: not every file system can). */
static void sync_directory(const char *target)
{
    const char *slash = strrchr(target, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == target) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - target), target);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

vllm_status vl_atomic_file_commit(vl_atomic_file *af)
{
    int e = 0;
    const char *step = "writing";
    if (fflush(af->f) != 0 || ferror(af->f)) e = errno ? errno : EIO;
    else if (step = "syncing", fsync(fileno(af->f)) != 0) e = errno;
    const int close_failed = fclose(af->f) != 0;
    af->f = NULL;
    if (!e && close_failed) e = errno ? errno : EIO, step = "closing";
    if (!e && rename(af->tmp_path, af->path) != 0) e = errno, step = "renaming";
    if (e) {
        vllm_status st = vl_error(VLLM_ERR_IO, "%s: %s %s failed (%s); the file was not changed", af->path, step, af->what,
                                  strerror(e));
        vl_atomic_file_abort(af);
        return st;
    }
    sync_directory(af->path);
    release(af);
    return VLLM_OK;
}
