#include "live_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int lh_have_ffmpeg(void)
{
    return system("ffmpeg -hide_banner -version >/dev/null 2>&1") == 0;
}

int lh_free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t n = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

pid_t lh_ffmpeg(int stdout_fd, const char *const *args)
{
    const char *argv[64] = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"};
    int n = 5;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(stdout_fd >= 0 ? stdout_fd : null, 1);
        dup2(null, 0);
        /* close every other descriptor: a pipe's write end must not stay
         * open in the child, or the reader never sees the end */
        for (int fd = 3; fd < 1024; fd++) close(fd);
        execvp("ffmpeg", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

void lh_stop(pid_t pid, int sig)
{
    if (pid <= 0) return;
    kill(pid, sig);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        lh_nap(0.01);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int lh_tcp_listening(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned lport = 0, state = 0;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 && (int)lport == port && state == 0x0A)
            found = 1;
    }
    fclose(f);
    return found;
}

double lh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void lh_nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int lh_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int lh_wait_source(vllm_session *s, lh_pred pred, const void *arg, double timeout, vllm_source_stats *out)
{
    const double t0 = lh_now();
    for (;;) {
        vllm_source_stats st = {.struct_size = sizeof st};
        vllm_session_source_stats(s, &st);
        if (out) *out = st;
        if (pred(&st, arg)) return 1;
        if (lh_now() - t0 > timeout) return 0;
        lh_nap(0.01);
    }
}
