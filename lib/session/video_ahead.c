#include "video_ahead.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct vl_ahead {
    vl_ahead_cfg cfg;
    vl_compress dedup;      /* the producer's copy: settings and the last kept signature */
    vl_ahead_item items[VL_AHEAD_SLOTS];
    uint8_t *u8[VL_AHEAD_SLOTS];
    int head, count;        /* items ready, the oldest at head (under mu) */
    int taken;              /* the consumer holds items[head] (under mu) */
    int stop, finished;     /* under mu */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
};

int vl_ahead_enabled(void)
{
    const char *e = getenv("VIDEOLLM_VIDEO_PIPELINE");
    return !(e && !strcmp(e, "0"));
}

static void keep_message(vl_ahead_item *it) { snprintf(it->msg, sizeof it->msg, "%s", vl_error_message()); }

/* Sample, sign and preprocess one frame into slot k. */
static void produce(vl_ahead *a, int k)
{
    vl_ahead_item *it = &a->items[k];
    const vllm_model *m = a->cfg.m;
    memset(it, 0, sizeof *it);
    vl_rgb_frame fr;
    it->st = vl_video_sample_next(a->cfg.vid, &fr);
    if (it->st != VLLM_OK) {
        if (vllm_is_error(it->st)) keep_message(it);
        return;
    }
    it->pts = fr.pts;
    it->index = fr.index;
    if (a->dedup.set.dedup_threshold > 0) {
        it->dedup_st = vl_frame_sig_compute(fr.rgb, fr.width, fr.height, (size_t)fr.stride, &it->sig);
        if (vllm_is_error(it->dedup_st)) {
            keep_message(it);
            return;
        }
        vl_compress_dedup_sig(&a->dedup, &it->sig, &it->dup);
    }
    if (it->dup) return;
    const vl_rgb8 img = {fr.rgb, fr.width, fr.height, (size_t)fr.stride};
    it->prep_st = m->family->preprocess_frame(m, &img, a->cfg.w, a->cfg.h, a->u8[k]);
    if (vllm_is_error(it->prep_st)) keep_message(it);
    else it->u8 = a->u8[k];
}

static void *producer(void *arg)
{
    vl_ahead *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->stop && a->count == VL_AHEAD_SLOTS) pthread_cond_wait(&a->space, &a->mu);
        const int stop = a->stop, k = (a->head + a->count) % VL_AHEAD_SLOTS;
        pthread_mutex_unlock(&a->mu);
        if (stop) break;
        produce(a, k); /* slot k is neither ready nor held: the producer's alone */
        pthread_mutex_lock(&a->mu);
        a->count++;
        const int last = a->items[k].st != VLLM_OK;
        if (last) a->finished = 1;
        pthread_cond_signal(&a->ready);
        pthread_mutex_unlock(&a->mu);
        if (last) break;
    }
    return NULL;
}

vllm_status vl_ahead_start(const vl_ahead_cfg *cfg, vl_ahead **out)
{
    *out = NULL;
    vl_ahead *a = calloc(1, sizeof *a);
    if (!a) return vl_error(VLLM_ERR_NOMEM, "out of memory for the video's frame queue");
    a->cfg = *cfg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->ready, NULL);
    pthread_cond_init(&a->space, NULL);
    a->dedup.set = cfg->dedup->set;
    a->dedup.has_sig = cfg->dedup->has_sig;
    a->dedup.last_sig = cfg->dedup->last_sig;
    const size_t bytes = (size_t)3 * cfg->w * cfg->h;
    const int slots = cfg->threaded ? VL_AHEAD_SLOTS : 1;
    for (int k = 0; k < slots; k++)
        if (!(a->u8[k] = malloc(bytes))) {
            vl_ahead_stop(a);
            return vl_error(VLLM_ERR_NOMEM, "out of memory for %d queued %dx%d frames", slots, cfg->w, cfg->h);
        }
    a->threaded = cfg->threaded && pthread_create(&a->thread, NULL, producer, a) == 0;
    if (cfg->threaded && !a->threaded) VL_LOG_INFO("video: no decoding thread; frames are decoded in line");
    *out = a;
    return VLLM_OK;
}

vl_ahead_item *vl_ahead_next(vl_ahead *a)
{
    if (!a->threaded) { /* in line: the same code on this thread, one slot */
        produce(a, 0);
        return &a->items[0];
    }
    pthread_mutex_lock(&a->mu);
    if (a->taken) { /* the previous item's slot is free again */
        a->head = (a->head + 1) % VL_AHEAD_SLOTS;
        a->count--;
        a->taken = 0;
        pthread_cond_signal(&a->space);
    }
    while (!a->count) pthread_cond_wait(&a->ready, &a->mu);
    a->taken = 1;
    vl_ahead_item *it = &a->items[a->head];
    pthread_mutex_unlock(&a->mu);
    return it;
}

vllm_status vl_ahead_raise(const vl_ahead_item *it, vllm_status st)
{
    return vllm_is_error(st) ? vl_error(st, "%s", it->msg) : st;
}

void vl_ahead_stop(vl_ahead *a)
{
    if (!a) return;
    if (a->threaded) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        const int finished = a->finished;
        pthread_cond_signal(&a->space);
        pthread_mutex_unlock(&a->mu);
        if (!finished) vl_video_cancel(a->cfg.vid); /* a read in progress returns at once */
        pthread_join(a->thread, NULL);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->ready);
    pthread_cond_destroy(&a->space);
    for (int k = 0; k < VL_AHEAD_SLOTS; k++) free(a->u8[k]);
    free(a);
}
