/* Helpers for the live-source tests: real loopback sources made by the
 * ffmpeg CLI (a child process), free ports, bounded waits, thread counts. */
#ifndef VL_TESTS_LIVE_HELPERS_H
#define VL_TESTS_LIVE_HELPERS_H

#include <sys/types.h>

#ifndef VLLM_EXPERIMENTAL
#define VLLM_EXPERIMENTAL
#endif
#include "vllm/videollm.h"

/* 1 when an `ffmpeg` program is on PATH. */
int lh_have_ffmpeg(void);

/* A port on 127.0.0.1 that was free a moment ago (bound to port 0, then
 * released); type is SOCK_DGRAM or SOCK_STREAM. */
int lh_free_port(int type);

/* Start `ffmpeg -hide_banner -loglevel error -nostdin <args...>` (NULL
 * terminated). stdout_fd >= 0: the child's stdout (else /dev/null).
 * Returns the pid (exits the test on failure). */
pid_t lh_ffmpeg(int stdout_fd, const char *const *args);

/* Send `sig` and reap the child (waits at most 5 s, then SIGKILL). */
void lh_stop(pid_t pid, int sig);

/* 1 once something listens on TCP 127.0.0.1:port (read from /proc/net/tcp,
 * without connecting: ffmpeg -listen 1 serves a single client). */
int lh_tcp_listening(int port);

double lh_now(void);
void lh_nap(double seconds);

/* Threads of this process now (/proc/self/task). */
int lh_threads(void);

/* Poll the source's stats every 10 ms until pred(stats, arg) holds or
 * `timeout` seconds pass; 1 if it held. *out gets the last stats. */
typedef int (*lh_pred)(const vllm_source_stats *st, const void *arg);
int lh_wait_source(vllm_session *s, lh_pred pred, const void *arg, double timeout, vllm_source_stats *out);

#endif
