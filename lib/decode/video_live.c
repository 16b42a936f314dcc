/* Live reading: the decoder's frames one after the other, for sources that
 * may never end (network streams, cameras, pipes). Unlike the sampling
 * iterator (video_sample.c) there is no plan, no frame count, no seeking:
 * the caller decides causally, by presentation time, which frames it
 * keeps, and only those are converted. The read loop is FFmpeg's
 * demux_decode example: take frames while the decoder has them, else feed
 * it the next packet of the video stream. */
#include <errno.h>
#include <pthread.h>

#ifdef VL_HAVE_AVDEVICE
#include <libavdevice/avdevice.h>
#endif

#include <libavutil/error.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "video_internal.h"

#define NONBLOCK_NAP_US 5000 /* a device with no frame ready: poll again after this */

/* A failed av_read_frame: a cancel or inactivity timeout says so, the end
 * of the stream is VLLM_DONE for the caller (after the decoder drains),
 * anything else is an I/O error naming the source. */
static vllm_status read_error(const vl_video *v, int ret)
{
    VL_TRY(vl_video_io_status_(v));
    char eb[128];
    av_strerror(ret, eb, sizeof eb);
    return vl_error(VLLM_ERR_IO, "video: reading '%s' failed (%s)", v->url ? v->url : "<memory>", eb);
}

static vllm_status feed_packet(vl_video *v)
{
    for (;;) {
        vl_video_io_arm_(v);
        int ret = av_read_frame(v->fmt, v->pkt);
        if (ret == AVERROR(EAGAIN)) { /* nonblocking device: nothing ready yet */
            VL_TRY(vl_video_io_status_(v));
            av_usleep(NONBLOCK_NAP_US);
            continue;
        }
        if (ret == AVERROR_EOF) {
            VL_TRY(vl_video_io_status_(v)); /* an interrupted read can look like the end */
            v->demux_eof = 1;
            avcodec_send_packet(v->dec, NULL); /* drain the frames in flight */
            return VLLM_OK;
        }
        if (ret < 0) return read_error(v, ret);
        if (v->pkt->stream_index != v->sidx) {
            av_packet_unref(v->pkt);
            continue;
        }
        v->stats.packets_read++;
        ret = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            /* live streams lose packets (UDP): skip, as the ffmpeg CLI does */
            v->stats.bad_packets++;
            continue;
        }
        return VLLM_OK;
    }
}

vllm_status vl_video_live_read(vl_video *v, double *pts)
{
    if (!v || !pts) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL argument");
    for (;;) {
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == 0) {
            v->stats.frames_decoded++;
            int64_t ts = v->frame->best_effort_timestamp;
            *pts = ts == AV_NOPTS_VALUE ? -1.0 : (double)ts * v->tb;
            return VLLM_OK;
        }
        if (ret == AVERROR_EOF) return VLLM_DONE;
        if (ret != AVERROR(EAGAIN)) v->stats.bad_packets++; /* a broken frame: carry on with the next packet */
        if (v->demux_eof) return VLLM_DONE;
        VL_TRY(feed_packet(v));
    }
}

vllm_status vl_video_live_convert(vl_video *v, vl_rgb_frame *out)
{
    if (!v || !out) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL argument");
    const AVFrame *f = v->frame;
    const int swap = v->info.rotation == 90 || v->info.rotation == 270;
    const int w = swap ? f->height : f->width, h = swap ? f->width : f->height;
    VL_TRY(vl_rgb_convert(&v->conv, f, w, h, v->info.rotation, VL_SCALE_BICUBIC, &out->rgb, &out->stride));
    out->width = w;
    out->height = h;
    out->pts = -1;
    out->index = v->stats.frames_decoded - 1;
    v->stats.frames_converted++;
    return VLLM_OK;
}

void vl_video_live_forget_eof(vl_video *v)
{
    if (!v) return;
    if (v->fmt && v->fmt->pb) v->fmt->pb->eof_reached = 0;
    v->demux_eof = 0;
}

static void register_devices(void)
{
#ifdef VL_HAVE_AVDEVICE
    avdevice_register_all();
#endif
}

int vl_video_input_format_available(const char *name)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_devices);
    return name && av_find_input_format(name) != NULL;
}
