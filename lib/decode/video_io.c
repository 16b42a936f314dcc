/* Bounded waiting on the input: libavformat's interrupt callback, polled by
 * its protocols (tcp, http, ...) while they wait for data, stops a read when
 * the caller cancels or when the source has sent nothing for io_timeout
 * seconds. The timeout is an inactivity timeout: it restarts at every call
 * into libavformat (vl_video_io_arm_) and whenever the input position moved
 * since the last poll, so a slow but steady stream never times out and the
 * time the caller spends between reads (encoding frames) never counts. */
#include <stdio.h>
#include <string.h>

#include <libavutil/time.h>

#include "core/log.h"
#include "video_internal.h"

/* Anything libavformat would reach over a network: a URL scheme other
 * than the local ones. A plain path (no "scheme:" prefix) is local. */
int vl_video_is_network_url(const char *url)
{
    if (!url) return 0;
    size_t n = strcspn(url, ":/");
    if (n < 2 || url[n] != ':') return 0; /* "C:" would be a drive letter elsewhere */
    static const char *const local[] = {"file", "pipe", "fd"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        if (strlen(local[i]) == n && !strncmp(url, local[i], n)) return 0;
    return 1;
}

static int cancel_requested(const vl_video *v)
{
    return atomic_load(&v->cancel) || (v->ext_cancel && atomic_load(v->ext_cancel)) ||
           (v->parent && atomic_load(&v->parent->cancel));
}

void vl_video_io_arm_(vl_video *v)
{
    if (v->io_timeout > 0.0) v->io_deadline = av_gettime_relative() + (int64_t)(v->io_timeout * 1e6);
}

static int io_interrupt(void *opaque)
{
    vl_video *v = opaque;
    if (cancel_requested(v)) return 1;
    if (!(v->io_timeout > 0.0)) return 0;
    if (v->io_timed_out) return 1; /* a stalled source stays stalled for this handle */
    int64_t now = av_gettime_relative();
    int64_t pos = v->fmt && v->fmt->pb ? v->fmt->pb->pos : -1;
    if (pos != v->io_pos_seen) { /* data arrived since the last poll */
        v->io_pos_seen = pos;
        v->io_deadline = now + (int64_t)(v->io_timeout * 1e6);
        return 0;
    }
    if (now < v->io_deadline) return 0;
    v->io_timed_out = 1;
    return 1;
}

void vl_video_io_setup_(vl_video *v, const vl_video_open_opts *o, const char *url)
{
    double t = o ? o->io_timeout_s : 0.0;
    if (t == 0.0) t = vl_video_is_network_url(url) ? VL_VIDEO_NET_TIMEOUT_S : -1.0;
    v->io_timeout = t > 0.0 ? t : 0.0;
    v->timeout_name = o ? o->timeout_name : NULL;
    v->ext_cancel = o ? o->cancel : NULL;
    v->io_pos_seen = -1;
    v->fmt->interrupt_callback = (AVIOInterruptCB){.callback = io_interrupt, .opaque = v};
    vl_video_io_arm_(v);
}

vllm_status vl_video_io_status_(const vl_video *v)
{
    if (cancel_requested(v)) return vl_error(VLLM_ERR_CANCELLED, "video: cancelled");
    if (v->io_timed_out)
        return vl_error(VLLM_ERR_IO, "video: '%s' timed out: no data for %g s (%s)", v->url ? v->url : "<memory>",
                        v->io_timeout, v->timeout_name ? v->timeout_name : "vllm_video_params.io_timeout_s");
    return VLLM_OK;
}
