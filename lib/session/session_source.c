/* Live sources: a session reads a stream that may never end by itself.
 *
 * Two threads per attached source, so reading never waits for encoding:
 *  - the reader opens the source (libavformat; pipes through a polled
 *    read so a detach never waits on a blocking read()), decodes every
 *    frame, keeps the first frame of each 1/fps slot of stream time
 *    (causal sampling by presentation time), converts only those to RGB,
 *    computes the frame-change signal on the dedup stage's 32x32 luma grid
 *    and puts them in a bounded queue; it reconnects with back-off when
 *    allowed, and reports ENDED / FAILED otherwise;
 *  - the ingester takes frames out of the queue and hands each to
 *    vllm_session_push_frame() — the host's own path (dedup, encoding,
 *    prefill, eviction/offload, the answer queue while an answer is being
 *    generated) — then lets the standing questions look at the new
 *    context (session_watch.c).
 * A full queue drops its oldest frame (live sources: the newest frames
 * matter) or, for files and pipes, makes the reader wait (they have no
 * clock of their own to fall behind). Both threads poll one stop flag,
 * which libavformat's interrupt callback reads too (video_io.c).
 *
 * A regular file is followed while it grows (a recording still being
 * written): at its end the reader waits, looking again every
 * FILE_POLL_S, and the file ends only when it has not grown for the
 * source's io_timeout_s (FILE_IDLE_DEFAULT_S by default; < 0 follows it
 * until detached).
 *
 * Stream time: seconds from the first frame, plus a base so that it
 * continues after frames the session already holds and across
 * reconnections (a reconnected stream's clock restarts; the wall time
 * spent away is added), and past clock jumps inside one stream. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>

#include "compression/frame_sig.h"
#include "core/log.h"
#include "decode/video.h"
#include "session_internal.h"

#define SOURCE_MAX_FPS 120.0f
#define SOURCE_DEFAULT_QUEUE 8
#define SOURCE_MAX_QUEUE 256
#define SOURCE_NET_TIMEOUT_S 10.0
#define SOURCE_FIRST_DELAY_S 0.25
#define SOURCE_JUMP_BACK_S 1.0   /* a clock going back further than this is a new clock */
#define SOURCE_JUMP_AHEAD_S 60.0 /* ... and so is one leaping ahead further than this */
#define PIPE_POLL_MS 100         /* how often a pipe read looks at the stop flag */
#define FILE_POLL_S 0.1          /* how often a file at its end is looked at again */
#define FILE_IDLE_DEFAULT_S 2.0  /* a file that has not grown for this long has ended */


typedef struct src_frame {
    uint8_t *rgb; /* owned by the queue until taken */
    int32_t width, height, stride;
    double pts;    /* stream time */
    double t_read; /* wall clock when read */
    float change;  /* frame-change signal against the previous sampled frame */
} src_frame;

typedef enum src_kind { SRC_URL = 0, SRC_PIPE = 1, SRC_DEVICE = 2, SRC_FILE = 3 } src_kind;

struct vl_source {
    vllm_session *s;
    char *url, *input_format;
    src_kind kind;
    int fd;            /* SRC_PIPE; SRC_FILE while open (-1 otherwise) */
    vllm_source_params p;
    float fps;
    int drop_when_full;
    atomic_int stop;
    pthread_t reader, ingester;
    int reader_started, ingester_started;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;  /* queue changed, or stop */
    src_frame *ring;
    int head, len, cap;
    int in_flight; /* taken from the ring, being pushed: counted as queued until its outcome is */
    int reader_done;
    vllm_source_state final_state;
    char final_message[VLLM_SOURCE_MESSAGE_MAX];
    vllm_source_stats st;
    double t_attach;

    /* reader only */
    double base;           /* stream time of the first frame of the current clock */
    double clock0;         /* source pts of that frame; NAN before the first frame of a connection */
    double last_src_pts;   /* the previous frame's source pts */
    double last_stream;    /* the previous frame's stream time; -1 before any */
    double last_read_wall;
    int64_t next_slot;     /* sampling: the first frame of slot >= this is kept */
    double source_fps;     /* the stream's nominal rate, for frames without timestamps */
    vl_frame_sig prev_sig;
    int has_sig;
    double eof_since;      /* SRC_FILE: wall clock when the reads reached the end; 0 while data comes */
    int64_t file_bytes;    /* SRC_FILE: bytes read since it was opened */
    int opening;           /* SRC_FILE: being probed (the end is reported at once, see file_read) */
};

static void set_message(char *dst, const char *fmt, ...) VL_PRINTF(2, 3);
static void set_message(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, VLLM_SOURCE_MESSAGE_MAX, fmt, ap);
    va_end(ap);
}

static void set_state(vl_source *src, vllm_source_state state, const char *message)
{
    pthread_mutex_lock(&src->mu);
    src->st.state = state;
    set_message(src->st.message, "%s", message ? message : "");
    pthread_mutex_unlock(&src->mu);
}

/* ---- opening --------------------------------------------------------------- */

/* A pipe read that looks at the stop flag every PIPE_POLL_MS, so a
 * detach never waits for a writer that sends nothing. */
static int pipe_read(void *opaque, uint8_t *buf, int size)
{
    vl_source *src = opaque;
    double waited = 0;
    for (;;) {
        if (atomic_load(&src->stop)) return AVERROR_EXIT;
        struct pollfd pfd = {.fd = src->fd, .events = POLLIN};
        int r = poll(&pfd, 1, PIPE_POLL_MS);
        if (r < 0 && errno != EINTR) return AVERROR(errno);
        if (r <= 0) {
            waited += PIPE_POLL_MS / 1000.0;
            if (src->p.io_timeout_s > 0 && waited >= src->p.io_timeout_s) return AVERROR(ETIMEDOUT);
            continue;
        }
        ssize_t n = read(src->fd, buf, (size_t)size);
        if (n > 0) return (int)n;
        if (n == 0) return AVERROR_EOF;
        if (errno != EINTR && errno != EAGAIN) return AVERROR(errno);
    }
}

/* Nap up to `seconds` or until stopped; 1 when stopped. */
static int nap(vl_source *src, double seconds);

/* A file read that follows the file as it grows: at the end, look again
 * every FILE_POLL_S (watching the stop flag) until the file has been idle
 * for the source's io_timeout_s. */
static int file_read(void *opaque, uint8_t *buf, int size)
{
    vl_source *src = opaque;
    const double idle = src->p.io_timeout_s == 0 ? FILE_IDLE_DEFAULT_S : src->p.io_timeout_s;
    for (;;) {
        if (atomic_load(&src->stop)) return AVERROR_EXIT;
        ssize_t n = read(src->fd, buf, (size_t)size);
        if (n > 0) {
            src->eof_since = 0;
            src->file_bytes += n;
            return (int)n;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            return AVERROR(errno);
        }
        /* Probing reads as much as libavformat's probe size and analysis
         * duration allow; on a growing file it would wait for that much
         * stream. It gets the bytes there are, like a finished file, and
         * open_source forgets the end after it. */
        if (src->opening && src->file_bytes > 0) return AVERROR_EOF;
        const double now = vl_now_seconds();
        if (src->eof_since == 0) src->eof_since = now;
        if (idle >= 0 && now - src->eof_since >= idle) return AVERROR_EOF;
        if (nap(src, FILE_POLL_S)) return AVERROR_EXIT;
    }
}

static int64_t file_seek(void *opaque, int64_t offset, int whence)
{
    vl_source *src = opaque;
    /* A growing file has no size yet. Telling libavformat one would make it
     * read the last timestamps near the end to estimate a duration (and
     * wait there for growth) before the first frame. */
    if (whence & AVSEEK_SIZE) return AVERROR(ENOSYS);
    off_t r = lseek(src->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

/* 1 when `url` names a regular file on disk (not a device, pattern or
 * lavfi graph: those go to libavformat as they are). */
static int is_regular_file(const char *url)
{
    struct stat sb;
    return stat(url, &sb) == 0 && S_ISREG(sb.st_mode);
}

static vllm_status open_source(vl_source *src, vl_video **v)
{
    vl_video_open_opts o = {.cancel = &src->stop, .io_timeout_s = src->p.io_timeout_s,
                            .input_format = src->input_format, .nonblock = src->kind == SRC_DEVICE,
                            .timeout_name = "vllm_source_params.io_timeout_s"};
    if (o.io_timeout_s == 0)
        o.io_timeout_s = src->kind == SRC_URL || src->kind == SRC_DEVICE ? SOURCE_NET_TIMEOUT_S : -1.0;
    vllm_status st;
    if (src->kind == SRC_PIPE) {
        const vl_video_reader r = {.read = pipe_read, .opaque = src};
        st = vl_video_open_reader(&r, src->url, &o, v);
    } else if (src->kind == SRC_FILE && is_regular_file(src->url)) {
        src->fd = open(src->url, O_RDONLY | O_CLOEXEC);
        if (src->fd < 0) return vl_error(VLLM_ERR_IO, "live source '%s': cannot open it (%s)", src->url, strerror(errno));
        src->eof_since = 0;
        src->file_bytes = 0;
        o.io_timeout_s = -1; /* file_read applies io_timeout_s itself: to growth, ending the file cleanly */
        const vl_video_reader r = {.read = file_read, .seek = file_seek, .opaque = src};
        src->opening = 1;
        st = vl_video_open_reader(&r, src->url, &o, v);
        src->opening = 0;
        if (!vllm_is_error(st)) vl_video_live_forget_eof(*v);
    } else {
        st = vl_video_open_ex(src->url, &o, v);
    }
    /* one decoder thread: low latency, and the cores are the encoder's */
    if (!vllm_is_error(st)) st = vl_video_set_threads(*v, 1);
    if (!vllm_is_error(st)) {
        const vl_video_info *in = vl_video_get_info(*v);
        src->source_fps = in->fps > 0 ? in->fps : 25.0;
    }
    return st;
}

/* ---- reading and sampling ----------------------------------------------------- */

/* Stream time of a frame with source timestamp `pts` (-1 if none). */
static double stream_time(vl_source *src, double pts)
{
    const double step = 1.0 / src->source_fps;
    if (pts < 0) /* no timestamp: one frame period after the previous frame */
        return src->last_stream < 0 ? src->base : src->last_stream + step;
    if (isnan(src->clock0) || pts < src->last_src_pts - SOURCE_JUMP_BACK_S ||
        pts > src->last_src_pts + SOURCE_JUMP_AHEAD_S) { /* a new clock starts here */
        if (!isnan(src->clock0) && src->last_stream >= 0) src->base = src->last_stream + step;
        src->clock0 = pts;
    }
    src->last_src_pts = pts;
    double t = src->base + (pts - src->clock0);
    return t < src->last_stream ? src->last_stream : t; /* never backwards (push_frame needs that) */
}

/* Put a sampled frame in the queue (the queue owns f->rgb from here). */
static void enqueue(vl_source *src, src_frame *f)
{
    pthread_mutex_lock(&src->mu);
    while (!src->drop_when_full && src->len == src->cap && !atomic_load(&src->stop))
        pthread_cond_wait(&src->cv, &src->mu);
    if (atomic_load(&src->stop)) {
        pthread_mutex_unlock(&src->mu);
        free(f->rgb);
        return;
    }
    if (src->len == src->cap) { /* full: the oldest waiting frame goes */
        free(src->ring[src->head].rgb);
        src->head = (src->head + 1) % src->cap;
        src->len--;
        src->st.frames_dropped++;
    }
    src->ring[(src->head + src->len) % src->cap] = *f;
    src->len++;
    src->st.frames_sampled++;
    pthread_cond_broadcast(&src->cv);
    pthread_mutex_unlock(&src->mu);
}

/* A converted frame into a sampled queue entry: a copy of the pixels and
 * the change signal against the previous sampled frame. */
static vllm_status take_frame(vl_source *src, const vl_rgb_frame *rgb, double t)
{
    src_frame f = {.width = rgb->width, .height = rgb->height, .stride = rgb->width * 3, .pts = t,
                   .t_read = vl_now_seconds()};
    vl_frame_sig sig;
    VL_TRY(vl_frame_sig_compute(rgb->rgb, rgb->width, rgb->height, (size_t)rgb->stride, &sig));
    f.change = src->has_sig ? vl_frame_sig_distance(&src->prev_sig, &sig) : 0.0f;
    src->prev_sig = sig;
    src->has_sig = 1;
    f.rgb = malloc((size_t)f.stride * f.height);
    if (!f.rgb) return vl_error(VLLM_ERR_NOMEM, "live source: out of memory for a %dx%d frame", f.width, f.height);
    for (int y = 0; y < f.height; y++)
        memcpy(f.rgb + (size_t)y * f.stride, rgb->rgb + (size_t)y * rgb->stride, (size_t)f.stride);
    enqueue(src, &f);
    return VLLM_OK;
}

/* Read until the stream ends (VLLM_DONE), fails or is stopped. *frames
 * counts the frames read on this connection. */
static vllm_status read_loop(vl_source *src, vl_video *v, int64_t *frames)
{
    for (;;) {
        double pts = -1;
        vllm_status st = vl_video_live_read(v, &pts);
        if (st != VLLM_OK) return st;
        (*frames)++;
        const double t = stream_time(src, pts);
        src->last_stream = t;
        src->last_read_wall = vl_now_seconds();
        pthread_mutex_lock(&src->mu);
        src->st.frames_read++;
        src->st.stream_seconds = t;
        pthread_mutex_unlock(&src->mu);
        const int64_t slot = (int64_t)floor(t * src->fps + 1e-6);
        if (slot < src->next_slot) continue;
        src->next_slot = slot + 1;
        vl_rgb_frame rgb;
        VL_TRY(vl_video_live_convert(v, &rgb));
        VL_TRY(take_frame(src, &rgb, t));
    }
}

static int nap(vl_source *src, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    const double end = (double)until.tv_sec + 1e-9 * until.tv_nsec + seconds;
    until.tv_sec = (time_t)end;
    until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&src->mu);
    while (!atomic_load(&src->stop))
        if (pthread_cond_timedwait(&src->cv, &src->mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&src->mu);
    return atomic_load(&src->stop);
}

static void *reader_main(void *arg)
{
    vl_source *src = arg;
    double delay = SOURCE_FIRST_DELAY_S;
    vllm_source_state end = VLLM_SOURCE_ENDED;
    char msg[VLLM_SOURCE_MESSAGE_MAX] = "";
    const int may_reconnect = src->p.reconnect && (src->kind == SRC_URL || src->kind == SRC_DEVICE);
    for (;;) {
        vl_video *v = NULL;
        int64_t frames = 0;
        vllm_status st = open_source(src, &v);
        if (!vllm_is_error(st)) {
            set_state(src, VLLM_SOURCE_READING, NULL);
            src->clock0 = NAN;
            if (src->last_stream >= 0) /* a reconnection: the time away counts */
                src->base = src->last_stream + fmax(vl_now_seconds() - src->last_read_wall, 1.0 / src->fps);
            st = read_loop(src, v, &frames);
        }
        vl_video_close(v);
        if (src->kind == SRC_FILE && src->fd >= 0) {
            close(src->fd);
            src->fd = -1;
        }
        if (atomic_load(&src->stop)) break;
        if (st == VLLM_DONE) set_message(msg, "'%s' ended after %.3f s of stream time", src->url, fmax(src->last_stream, 0));
        else set_message(msg, "%s", vl_error_message());
        if (!may_reconnect) {
            end = st == VLLM_DONE ? VLLM_SOURCE_ENDED : VLLM_SOURCE_FAILED;
            break;
        }
        if (frames > 0) delay = SOURCE_FIRST_DELAY_S; /* it worked for a while: start the back-off afresh */
        char rmsg[VLLM_SOURCE_MESSAGE_MAX];
        set_message(rmsg, "reconnecting in %.2f s: %s", delay, msg);
        set_state(src, VLLM_SOURCE_RECONNECTING, rmsg);
        vl_log(VLLM_LOG_INFO, "live source: %s", rmsg);
        if (nap(src, delay)) break;
        delay = fmin(delay * 2, src->p.reconnect_max_delay_s);
        pthread_mutex_lock(&src->mu);
        src->st.reconnects++;
        pthread_mutex_unlock(&src->mu);
    }
    pthread_mutex_lock(&src->mu);
    src->reader_done = 1;
    src->final_state = end;
    set_message(src->final_message, "%s", msg);
    pthread_cond_broadcast(&src->cv);
    pthread_mutex_unlock(&src->mu);
    return NULL;
}

/* ---- ingestion ------------------------------------------------------------------- */

static void counters(vllm_session *s, int64_t *deduped, int64_t *dropped)
{
    vl_session_lock(s);
    *deduped = s->stats.n_frames_deduped;
    *dropped = s->stats.n_frames_dropped;
    vl_session_unlock(s);
}

static void ingest(vl_source *src, const src_frame *f)
{
    vllm_session *s = src->s;
    vllm_frame fr = {.struct_size = sizeof fr, .format = VLLM_PIXFMT_RGB24, .width = f->width, .height = f->height,
                     .pts = f->pts};
    fr.planes[0] = f->rgb;
    fr.strides[0] = f->stride;
    int64_t d0, x0, d1, x1;
    counters(s, &d0, &x0);
    const vllm_status st = vllm_session_push_frame(s, &fr);
    counters(s, &d1, &x1);
    const double lag = vl_now_seconds() - f->t_read;
    pthread_mutex_lock(&src->mu);
    if (vllm_is_error(st)) {
        src->st.frames_failed++;
        set_message(src->st.message, "frame at %.3f s refused: %s", f->pts, vl_error_message());
    } else if (d1 > d0) {
        src->st.frames_deduped++;
    } else {
        src->st.frames_kept++;
    }
    src->st.frames_dropped += x1 - x0; /* the session's answer queue overflowed */
    src->in_flight = 0;
    src->st.ingested_seconds = f->pts;
    src->st.lag_seconds = lag;
    if (lag > src->st.max_lag_seconds) src->st.max_lag_seconds = lag;
    pthread_mutex_unlock(&src->mu);
}

static void *ingester_main(void *arg)
{
    vl_source *src = arg;
    for (;;) {
        pthread_mutex_lock(&src->mu);
        while (!atomic_load(&src->stop) && !src->len && !src->reader_done) pthread_cond_wait(&src->cv, &src->mu);
        if (atomic_load(&src->stop) || (!src->len && src->reader_done)) {
            if (!atomic_load(&src->stop)) { /* every frame read is in: now the end is visible */
                src->st.state = src->final_state;
                set_message(src->st.message, "%s", src->final_message);
            }
            pthread_mutex_unlock(&src->mu);
            return NULL;
        }
        src_frame f = src->ring[src->head];
        src->ring[src->head].rgb = NULL;
        src->head = (src->head + 1) % src->cap;
        src->len--;
        src->in_flight = 1;
        pthread_cond_broadcast(&src->cv); /* room for a waiting reader */
        pthread_mutex_unlock(&src->mu);
        ingest(src, &f);
        free(f.rgb);
        vl_session_watch_tick(src->s, f.pts, f.change, &src->stop);
    }
}

/* ---- public calls ---------------------------------------------------------------- */

vllm_source_params vllm_source_default_params(void)
{
    vllm_source_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.reconnect_max_delay_s = 8.0;
    p.queue_frames = SOURCE_DEFAULT_QUEUE;
    return p;
}

static vllm_status check_params(const vllm_source_params *in, vllm_source_params *p)
{
    *p = vllm_source_default_params();
    if (in) {
        if (in->struct_size < offsetof(vllm_source_params, queue_frames) + sizeof in->queue_frames ||
            in->struct_size > 4096)
            return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.struct_size = %zu is not valid (start from "
                                                  "vllm_source_default_params())", in->struct_size);
        memcpy(p, in, in->struct_size < sizeof *p ? in->struct_size : sizeof *p);
        p->struct_size = sizeof *p;
    }
    if (!(p->fps >= 0 && p->fps <= SOURCE_MAX_FPS))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.fps = %g is outside 0..%g (0 = the model's)",
                        p->fps, SOURCE_MAX_FPS);
    if (p->reconnect != 0 && p->reconnect != 1)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.reconnect = %d is not 0 or 1", p->reconnect);
    if (!(p->reconnect_max_delay_s >= 0.05 && p->reconnect_max_delay_s <= 3600))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.reconnect_max_delay_s = %g is outside 0.05..3600",
                        p->reconnect_max_delay_s);
    if (!(p->io_timeout_s <= 1e6) || isnan(p->io_timeout_s))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.io_timeout_s = %g is above 1e6", p->io_timeout_s);
    if (p->queue_frames < 1 || p->queue_frames > SOURCE_MAX_QUEUE)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_params.queue_frames = %d is outside 1..%d",
                        p->queue_frames, SOURCE_MAX_QUEUE);
    return VLLM_OK;
}

/* What kind of source `url` names, and for pipes their descriptor. */
static vllm_status classify(vl_source *src, const char *url)
{
    if (!strcmp(url, "-") || !strcmp(url, "pipe:")) {
        src->kind = SRC_PIPE;
        src->fd = 0;
    } else if (!strncmp(url, "pipe:", 5)) {
        char *end = NULL;
        errno = 0;
        long fd = strtol(url + 5, &end, 10);
        if (errno || end == url + 5 || *end || fd < 0 || fd > 1 << 20)
            return vl_error(VLLM_ERR_INVALID_ARG, "live source '%s': 'pipe:' must be followed by a file descriptor number",
                            url);
        src->kind = SRC_PIPE;
        src->fd = (int)fd;
    } else if (!strncmp(url, "/dev/video", 10) || (src->input_format && !strcmp(src->input_format, "v4l2"))) {
        src->kind = SRC_DEVICE;
        if (!src->input_format && !(src->input_format = strdup("v4l2")))
            return vl_error(VLLM_ERR_NOMEM, "out of memory");
    } else {
        src->kind = vl_video_is_network_url(url) ? SRC_URL : SRC_FILE;
    }
    if (src->input_format && !vl_video_input_format_available(src->input_format))
        return vl_error(VLLM_ERR_UNSUPPORTED, "live source '%s': input format '%s' is not available in this build%s", url,
                        src->input_format,
                        src->kind == SRC_DEVICE ? " (cameras need libavdevice at build time)" : "");
    return VLLM_OK;
}

static void source_free(vl_source *src)
{
    if (!src) return;
    if (src->ring)
        for (int i = 0; i < src->len; i++) free(src->ring[(src->head + i) % src->cap].rgb);
    free(src->ring);
    free(src->url);
    free(src->input_format);
    pthread_cond_destroy(&src->cv);
    pthread_mutex_destroy(&src->mu);
    free(src);
}

/* Stop the threads (they notice within one frame's ingestion or one
 * poll of the input) and free everything. */
static void source_stop(vl_source *src)
{
    atomic_store(&src->stop, 1);
    pthread_mutex_lock(&src->mu);
    pthread_cond_broadcast(&src->cv);
    pthread_mutex_unlock(&src->mu);
    if (src->reader_started) pthread_join(src->reader, NULL);
    if (src->ingester_started) pthread_join(src->ingester, NULL);
    source_free(src);
}

static vllm_status source_new(vllm_session *s, const char *url, const vllm_source_params *p, vl_source **out)
{
    vl_source *src = calloc(1, sizeof *src);
    if (!src) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&src->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&src->cv, &ca); /* CLOCK_REALTIME: nap() computes its deadline on it */
    pthread_condattr_destroy(&ca);
    atomic_init(&src->stop, 0);
    src->s = s;
    src->p = *p;
    src->last_stream = -1;
    src->next_slot = INT64_MIN;
    src->source_fps = 25.0;
    src->fd = -1;
    src->url = strdup(url);
    src->input_format = p->input_format ? strdup(p->input_format) : NULL;
    src->cap = p->queue_frames;
    src->ring = calloc((size_t)src->cap, sizeof *src->ring);
    src->p.input_format = NULL; /* the copy above is used */
    vllm_status st = !src->url || !src->ring || (p->input_format && !src->input_format)
                         ? vl_error(VLLM_ERR_NOMEM, "out of memory")
                         : classify(src, url);
    if (vllm_is_error(st)) {
        source_free(src);
        return st;
    }
    src->drop_when_full = src->kind == SRC_URL || src->kind == SRC_DEVICE;
    *out = src;
    return VLLM_OK;
}

vllm_status vllm_session_attach_source(vllm_session *s, const char *url, const vllm_source_params *params)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_attach_source: session is NULL");
    if (!url || !*url) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_attach_source: url is NULL or empty");
    if (!s->model->vision)
        return vl_error(VLLM_ERR_STATE, "vllm_session_attach_source: this model was loaded without an mmproj: it "
                                        "cannot take frames");
    vllm_source_params p;
    VL_TRY(check_params(params, &p));
    float fps = p.fps;
    if (fps == 0) {
        vllm_model_info info = {.struct_size = sizeof info};
        VL_TRY(vllm_model_get_info(s->model, &info));
        fps = info.video_fps > 0 ? info.video_fps : 1.0f;
    }
    /* the session lock before live_mu, not under it: a frame being encoded
     * holds it, and source stats (live_mu) must not wait for that */
    vl_session_lock(s);
    const double after_pts = s->last_push_pts;
    vl_session_unlock(s);
    pthread_mutex_lock(&s->live_mu);
    if (s->source) {
        pthread_mutex_unlock(&s->live_mu);
        return vl_error(VLLM_ERR_STATE, "vllm_session_attach_source: a source ('%s') is attached; detach it first",
                        s->source->url);
    }
    vl_source *src = NULL;
    vllm_status st = source_new(s, url, &p, &src);
    if (vllm_is_error(st)) {
        pthread_mutex_unlock(&s->live_mu);
        return st;
    }
    src->fps = fps;
    src->base = after_pts >= 0 ? after_pts + 1.0 / fps : 0.0; /* after the frames already there */
    src->t_attach = vl_now_seconds();
    src->st.state = VLLM_SOURCE_CONNECTING;
    src->reader_started = pthread_create(&src->reader, NULL, reader_main, src) == 0;
    src->ingester_started = src->reader_started && pthread_create(&src->ingester, NULL, ingester_main, src) == 0;
    if (!src->ingester_started) {
        source_stop(src);
        pthread_mutex_unlock(&s->live_mu);
        return vl_error(VLLM_ERR_NOMEM, "vllm_session_attach_source: cannot start the source's threads");
    }
    s->source = src;
    pthread_mutex_unlock(&s->live_mu);
    return VLLM_OK;
}

vllm_status vllm_session_detach_source(vllm_session *s)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_detach_source: session is NULL");
    pthread_mutex_lock(&s->live_mu);
    vl_source *src = s->source;
    if (src && pthread_equal(pthread_self(), src->ingester)) {
        pthread_mutex_unlock(&s->live_mu);
        return vl_error(VLLM_ERR_STATE, "vllm_session_detach_source: called from a watch callback, on the source's own "
                                        "thread (it cannot wait for itself); detach from another thread");
    }
    s->source = NULL;
    pthread_mutex_unlock(&s->live_mu);
    if (src) source_stop(src);
    return VLLM_OK;
}

vllm_status vllm_session_source_stats(vllm_session *s, vllm_source_stats *out)
{
    if (!s || !out) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_source_stats: NULL argument");
    if (out->struct_size < sizeof(size_t) || out->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_source_stats.struct_size = %zu is not valid", out->struct_size);
    vllm_source_stats full;
    memset(&full, 0, sizeof full);
    pthread_mutex_lock(&s->live_mu);
    vl_source *src = s->source;
    if (src) {
        pthread_mutex_lock(&src->mu);
        full = src->st;
        const double now = vl_now_seconds();
        full.wall_seconds = now - src->t_attach;
        full.frames_queued = src->len + src->in_flight;
        if (src->len) full.lag_seconds = now - src->ring[src->head].t_read;
        pthread_mutex_unlock(&src->mu);
    }
    pthread_mutex_unlock(&s->live_mu);
    full.struct_size = out->struct_size;
    memcpy(out, &full, out->struct_size < sizeof full ? out->struct_size : sizeof full);
    return VLLM_OK;
}

void vl_session_live_init(vllm_session *s)
{
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE); /* a watch callback may unwatch */
    pthread_mutex_init(&s->watch_mu, &attr);
    pthread_mutexattr_destroy(&attr);
}

void vl_session_live_free(vllm_session *s)
{
    vllm_session_detach_source(s);
    vl_session_watches_free(s);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_mutex_destroy(&s->live_mu);
}
