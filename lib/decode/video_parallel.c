/* GOP-parallel decoding for sparse sampling plans.
 *
 * When a plan's targets sit in different GOPs, each GOP can be decoded on
 * its own: seek to its keyframe, decode up to the target. One decoder with
 * frame threads must drain its pipeline at every seek, so it gains little
 * there; instead each worker thread owns a whole demuxer + single-threaded
 * decoder (a second vl_video on the same source) and serves every W-th GOP
 * of the plan, running the ordinary seeking iterator over its share.
 *
 * The caller sees the plan's frames in order: the coordinator takes target
 * k from the worker that owns it. Each worker copies its converted frames
 * into a ring of VL_PAR_AHEAD slots, so it can decode its next target while
 * the caller still holds or has not yet asked for the last one (targets
 * cost different amounts: without slack a worker done early would wait
 * for the other one's slow target). Bounded memory: W decoders and
 * W·VL_PAR_AHEAD frames. Exactness: a worker must deliver exactly its targets (same
 * source index, same number of output slots); anything else — an early
 * end, a frame past its target, a grid the ffmpeg-fps plan cannot trust, a
 * decode error — stops the workers and the caller's own iterator resumes
 * sequentially from the first frame not yet delivered, so the result is
 * the sequential path's in every case. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/threadpool.h"
#include "video_internal.h"

/* Results a worker may have ready ahead of the caller (the one the caller
 * holds included). */
#define VL_PAR_AHEAD 2

typedef struct par_slot {
    vllm_status st;
    vl_rgb_frame fr;     /* fr.rgb points into buf */
    uint8_t *buf;
    size_t cap;
} par_slot;

typedef struct par_worker {
    vl_video *v;
    pthread_t thread;
    int started;
    /* hand-off, under vl_par.mutex */
    par_slot slot[VL_PAR_AHEAD];
    int head, count;     /* results not yet released by the coordinator, oldest at head */
    int finished;        /* the worker's iteration ended (its last result has st != VLLM_OK) */
    vl_video_stats stats; /* snapshot at the last hand-off */
    int truncated;
    struct vl_par *par;
} par_worker;

struct vl_par {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int stop;
    int n;
    par_worker w[VL_PAR_MAX_WORKERS];
    uint8_t *owner;      /* plan entry -> worker */
    int64_t pos;         /* next plan entry to deliver */
    int64_t slots_left;  /* output slots still due for plan[pos] (ffmpeg-fps duplicates) */
    int held;            /* worker whose frame the caller holds, or -1 */
    vl_video_stats base; /* main iterator's counters before the workers started */
};

static void *worker_main(void *arg)
{
    par_worker *w = arg;
    vl_par *p = w->par;
    pthread_mutex_lock(&p->mutex);
    for (;;) {
        while (!p->stop && w->count == VL_PAR_AHEAD) pthread_cond_wait(&p->cond, &p->mutex);
        if (p->stop) break;
        /* the tail slot is free: only this thread touches it until it is counted */
        par_slot *sl = &w->slot[(w->head + w->count) % VL_PAR_AHEAD];
        pthread_mutex_unlock(&p->mutex);
        vl_rgb_frame fr = {0};
        vllm_status st = vl_video_sample_next(w->v, &fr);
        if (st == VLLM_OK) { /* the iterator's buffer is reused by its next frame: keep a copy */
            size_t bytes = (size_t)fr.stride * (size_t)fr.height;
            if (sl->cap < bytes) {
                uint8_t *nb = realloc(sl->buf, bytes);
                if (!nb) st = vl_error(VLLM_ERR_NOMEM, "video: out of memory for a %zu-byte frame", bytes);
                else {
                    sl->buf = nb;
                    sl->cap = bytes;
                }
            }
            if (st == VLLM_OK) {
                memcpy(sl->buf, fr.rgb, bytes);
                fr.rgb = sl->buf;
            }
        }
        pthread_mutex_lock(&p->mutex);
        sl->fr = fr;
        sl->st = st;
        w->count++;
        w->stats = w->v->stats;
        w->truncated = w->v->truncated;
        if (st != VLLM_OK) w->finished = 1;
        pthread_cond_broadcast(&p->cond);
        if (w->finished) break;
    }
    pthread_mutex_unlock(&p->mutex);
    return NULL;
}

static void stats_add(vl_video_stats *sum, const vl_video_stats *w)
{
    sum->packets_read += w->packets_read;
    sum->frames_decoded += w->frames_decoded;
    sum->frames_converted += w->frames_converted;
    sum->seeks += w->seeks;
    sum->bad_packets += w->bad_packets;
    sum->drains += w->drains;
}

/* Stop and free the workers; their counters are added to the main ones. */
void vl_par_stop(vl_video *v)
{
    vl_par *p = v->par;
    if (!p) return;
    pthread_mutex_lock(&p->mutex);
    p->stop = 1;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].v) atomic_store(&p->w[i].v->cancel, 1);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mutex);
    vl_video_stats sum = p->base;
    for (int i = 0; i < p->n; i++) {
        par_worker *w = &p->w[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            sum.workers++;
        }
        if (w->v) {
            stats_add(&sum, &w->v->stats);
            vl_video_close(w->v);
        }
        for (int k = 0; k < VL_PAR_AHEAD; k++) free(w->slot[k].buf);
    }
    v->stats = sum;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mutex);
    free(p->owner);
    free(p);
    v->par = NULL;
}

static vl_video *open_worker(vl_video *v)
{
    vl_video *w = NULL;
    /* the caller's cancel flag and stall timeout bound the worker's reads too */
    vl_video_open_opts o = {.cancel = v->ext_cancel, .io_timeout_s = v->io_timeout > 0.0 ? v->io_timeout : -1.0};
    vllm_status st = v->url ? vl_video_open_ex(v->url, &o, &w) : vl_video_open_memory_ex(v->mem.data, v->mem.size, &o, &w);
    if (st != VLLM_OK) return NULL;
    if (vl_video_set_threads(w, 1) != VLLM_OK || w->info.coded_width != v->info.coded_width ||
        w->info.coded_height != v->info.coded_height || w->n_index_frames != v->n_index_frames) {
        vl_video_close(w);
        return NULL;
    }
    w->parent = v;
    w->packet_budget = v->packet_budget; /* each worker bounded like the caller's iterator */
    return w;
}

/* Keyframe group of each plan entry, from the container index. The nominal
 * grid is close enough here: a target put in the neighbouring GOP's group
 * costs time, never correctness (each worker finds its frames itself). */
static int64_t group_of(const vl_video *v, int64_t index)
{
    int64_t ts = v->start_pts + (int64_t)llround((double)index / v->rate / v->tb);
    return av_index_search_timestamp(v->st, ts, AVSEEK_FLAG_BACKWARD);
}

/* Start workers if the plan spans enough GOPs to share; otherwise leave
 * the main iterator alone. Failures here are not errors: the sequential
 * path serves the plan. */
void vl_par_try_start(vl_video *v)
{
    int n = v->threads > 0 ? v->threads : vl_cpu_count();
    if (n > VL_PAR_MAX_WORKERS) n = VL_PAR_MAX_WORKERS;
    if (n < 2 || v->plan_n < 2 || !(v->rate > 0.0)) return;
    if (v->url && strstr(v->url, "://") && strncmp(v->url, "file:", 5)) return; /* one connection per URL */

    /* sub first holds each entry's group ordinal (0, 1, ...) */
    int64_t *sub = malloc((size_t)v->plan_n * sizeof *sub);
    if (!sub) return;
    int64_t groups = 0, last = -2;
    for (int64_t k = 0; k < v->plan_n; k++) {
        int64_t g = group_of(v, v->plan[k]);
        if (g != last) groups++;
        last = g;
        sub[k] = groups - 1;
    }
    if (groups < 2) {
        free(sub);
        return;
    }
    if (groups < n) n = (int)groups;

    vl_par *p = calloc(1, sizeof *p);
    int64_t *sub_count = v->plan_count ? malloc((size_t)v->plan_n * sizeof *sub_count) : NULL;
    if (p) p->owner = malloc((size_t)v->plan_n);
    if (!p || !p->owner || (v->plan_count && !sub_count)) {
        if (p) free(p->owner);
        free(p);
        free(sub);
        free(sub_count);
        return;
    }
    for (int64_t k = 0; k < v->plan_n; k++) p->owner[k] = (uint8_t)(sub[k] % n);
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->n = n;
    p->held = -1;
    p->base = v->stats;
    v->par = p;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        par_worker *w = &p->w[i];
        w->par = p;
        w->v = open_worker(v);
        if (!w->v) {
            ok = 0;
            break;
        }
        int64_t m = 0;
        for (int64_t k = 0; k < v->plan_n; k++)
            if (p->owner[k] == i) {
                sub[m] = v->plan[k];
                if (sub_count) sub_count[m] = v->plan_count[k];
                m++;
            }
        if (vl_video_sample_begin_sub(w->v, &v->s, sub, sub_count, m, v->grid_step) != VLLM_OK) ok = 0;
    }
    free(sub);
    free(sub_count);
    for (int i = 0; i < n && ok; i++) {
        par_worker *w = &p->w[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) ok = 0;
        else w->started = 1;
    }
    if (!ok) {
        VL_LOG_DEBUG("video: parallel decoding unavailable; decoding on one thread");
        vl_par_stop(v);
        return;
    }
    VL_LOG_DEBUG("video: %lld planned frames in %lld GOPs over %d decoder threads", (long long)v->plan_n,
                 (long long)groups, n);
}

static void sum_stats(vl_video *v)
{
    vl_par *p = v->par;
    vl_video_stats s = p->base;
    for (int i = 0; i < p->n; i++) {
        stats_add(&s, &p->w[i].stats);
        if (p->w[i].truncated) v->truncated = 1;
    }
    s.workers = p->n;
    v->stats = s;
}

vllm_status vl_par_next(vl_video *v, vl_rgb_frame *out, int64_t *resume_pos)
{
    vl_par *p = v->par;
    *resume_pos = -1;
    pthread_mutex_lock(&p->mutex);
    if (p->held >= 0) { /* the caller is done with the previous frame */
        par_worker *h = &p->w[p->held];
        h->head = (h->head + 1) % VL_PAR_AHEAD;
        h->count--;
        p->held = -1;
        pthread_cond_broadcast(&p->cond);
    }
    if (p->pos >= v->plan_n) {
        pthread_mutex_unlock(&p->mutex);
        return VLLM_DONE;
    }
    par_worker *w = &p->w[p->owner[p->pos]];
    while (w->count == 0) pthread_cond_wait(&p->cond, &p->mutex);
    vllm_status st = w->slot[w->head].st;
    vl_rgb_frame fr = w->slot[w->head].fr;
    sum_stats(v);
    int64_t want = v->plan[p->pos];
    if (st == VLLM_OK && fr.index == want) {
        if (p->slots_left == 0) p->slots_left = v->plan_count ? v->plan_count[p->pos] : 1;
        if (--p->slots_left == 0) p->pos++;
        p->held = (int)(w - p->w);
        pthread_mutex_unlock(&p->mutex);
        *out = fr;
        v->yielded++;
        return VLLM_OK;
    }
    pthread_mutex_unlock(&p->mutex);
    VL_TRY(vl_video_io_status_(v));
    /* anything but the expected frame: the sequential path takes over at
     * the first frame not delivered */
    VL_LOG_DEBUG("video: a decoder thread gave %s for planned frame %lld; continuing on one thread",
                 st == VLLM_OK ? "another frame" : vllm_status_string(st), (long long)want);
    *resume_pos = p->pos;
    return VLLM_OK;
}
