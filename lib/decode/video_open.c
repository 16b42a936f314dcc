/* Opening a video: demuxer (file, URL or memory), best video stream,
 * threaded decoder, and the facts the sampler needs (vl_video_info). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/display.h>
#include <libavutil/error.h>

#include "core/log.h"
#include "decode/av_log.h"
#include "decode/codec_policy.h"
#include "video_internal.h"

#define MEM_IO_BUF 65536

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    vl_mem_io *m = opaque;
    if (m->pos >= m->size) return AVERROR_EOF;
    size_t k = m->size - m->pos;
    if (k > (size_t)n) k = (size_t)n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    vl_mem_io *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->size; break;
    default: return AVERROR(EINVAL);
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0 || (uint64_t)(base + off) > m->size)
        return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

static const char *av_msg(int e, char *buf, size_t n)
{
    av_strerror(e, buf, n);
    return buf;
}

/* Clockwise rotation ffmpeg's autorotate would apply, snapped to 0/90/180/270. */
static int stream_rotation(const AVStream *st)
{
    size_t size = 0;
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!m || size < 9 * sizeof(int32_t)) return 0;
    double theta = -av_display_rotation_get((const int32_t *)m);
    if (!isfinite(theta)) return 0;
    theta -= 360.0 * floor(theta / 360.0 + 0.9 / 360.0);
    int r = (int)lrint(theta / 90.0) * 90;
    return ((r % 360) + 360) % 360;
}

/* A single picture: libavformat's image demuxers (image2 for a file named
 * like an image, "<codec>_pipe" for one found by probing the bytes). */
static int is_still_image(const AVFormatContext *fmt)
{
    const char *name = fmt->iformat ? fmt->iformat->name : "";
    size_t n = strlen(name);
    return !strcmp(name, "image2") || (n > 5 && !strcmp(name + n - 5, "_pipe"));
}

static void fill_info(vl_video *v)
{
    AVStream *st = v->st;
    const AVCodecParameters *par = st->codecpar;
    vl_video_info *in = &v->info;
    v->tb = av_q2d(st->time_base);
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = st->r_frame_rate;
    in->fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0.0;
    if (!(in->fps > 0.0 && in->fps < 10000.0)) in->fps = 0.0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        in->duration = (double)st->duration * v->tb;
    else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
        in->duration = (double)v->fmt->duration / AV_TIME_BASE;
    if (!(in->duration > 0.0 && in->duration < 1e9)) in->duration = 0.0;
    if (st->nb_frames > 0)
        in->n_frames_est = st->nb_frames;
    else if (in->duration > 0.0 && in->fps > 0.0)
        in->n_frames_est = llround(in->duration * in->fps);
    if (in->n_frames_est <= 0 && is_still_image(v->fmt)) {
        /* A PNG (png_pipe) reports neither duration nor frame count: it is
         * a one-frame video shown for one frame period (image2's default
         * 25 fps), as the JPEG image2 path already reports it. */
        if (!(in->fps > 0.0)) in->fps = 25.0;
        in->n_frames_est = 1;
        in->duration = 1.0 / in->fps;
    }
    v->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    in->start_time = (double)v->start_pts * v->tb;
    v->file_shift = v->fmt->start_time != AV_NOPTS_VALUE
                        ? av_rescale_q(v->fmt->start_time, AV_TIME_BASE_Q, st->time_base) : 0;
    snprintf(in->codec, sizeof in->codec, "%s", avcodec_get_name(par->codec_id));
    in->coded_width = par->width;
    in->coded_height = par->height;
    in->rotation = stream_rotation(st);

    /* Display size: the sample aspect ratio widens (or narrows) the width. */
    AVRational sar = st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio : par->sample_aspect_ratio;
    int64_t dw = par->width, dh = par->height;
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den) {
        dw = llround((double)par->width * sar.num / sar.den);
        if (dw < 1) dw = 1;
        if (dw > VL_VIDEO_MAX_SIDE) dw = VL_VIDEO_MAX_SIDE;
    }
    if (in->rotation == 90 || in->rotation == 270) {
        int64_t t = dw;
        dw = dh;
        dh = t;
    }
    in->width = (int32_t)dw;
    in->height = (int32_t)dh;

    /* Constant frame rate (index <-> time is linear) when the frame count
     * matches duration times the nominal rate. The average rate can be a
     * little off for such streams (test-3.mp4: 240 frames, r_frame_rate 24,
     * avg_frame_rate 23.88 because the stream duration includes a trailing
     * gap), so it is not used for this. */
    int n_entries = avformat_index_get_entries_count(st);
    for (int i = 0; i < n_entries; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (!e || (e->flags & AVINDEX_DISCARD_FRAME)) continue;
        v->n_index_frames++;
        if (e->flags & AVINDEX_KEYFRAME) v->n_index_keyframes++;
    }
    double r = st->r_frame_rate.num > 0 && st->r_frame_rate.den > 0 ? av_q2d(st->r_frame_rate) : 0.0;
    v->rate = r > 0.0 && r < 10000.0 ? r : in->fps;
    in->cfr = v->rate > 0.0 && in->fps > 0.0 && fabs(v->rate - in->fps) <= 0.05 * v->rate && in->duration > 0.0 &&
              in->n_frames_est > 0 &&
              fabs((double)in->n_frames_est - in->duration * v->rate) <= 2.0 + 0.002 * (double)in->n_frames_est;
}

/* (Re)create the decoder; threads = 0 means one per core. */
static vllm_status open_decoder(vl_video *v, int threads)
{
    char eb[128];
    avcodec_free_context(&v->dec);
    v->dec = avcodec_alloc_context3(v->codec);
    if (!v->dec) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    int ret = avcodec_parameters_to_context(v->dec, v->st->codecpar);
    if (ret < 0) return vl_error(VLLM_ERR_FORMAT, "video: bad codec parameters");
    v->dec->pkt_timebase = v->st->time_base;
    v->dec->thread_count = threads;
    v->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    v->dec->max_pixels = VL_VIDEO_MAX_PIXELS;
    ret = avcodec_open2(v->dec, v->codec, NULL);
    if (ret < 0)
        return vl_error(VLLM_ERR_UNSUPPORTED, "video: cannot open the %s decoder (%s)", v->codec->name,
                        av_msg(ret, eb, sizeof eb));
    return VLLM_OK;
}

static vllm_status open_common(vl_video *v, const char *url)
{
    char eb[128];
    const char *what = url ? url : "<memory>";
    vl_video_io_arm_(v);
    const AVInputFormat *ifmt = NULL;
    if (v->input_format && !(ifmt = av_find_input_format(v->input_format)))
        return vl_error(VLLM_ERR_UNSUPPORTED, "video: input format '%s' for '%s' is not available in this FFmpeg build",
                        v->input_format, what);
    int ret = avformat_open_input(&v->fmt, url ? url : "", ifmt, NULL);
    if (ret < 0) {
        v->fmt = NULL; /* freed by avformat_open_input */
        VL_TRY(vl_video_io_status_(v));
        if (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EISDIR) || ret == AVERROR(EIO))
            return vl_error(VLLM_ERR_IO, "video: cannot open '%s' (%s)", what, av_msg(ret, eb, sizeof eb));
        return vl_error(VLLM_ERR_FORMAT, "video: '%s' is not a readable media file (%s)", what,
                        av_msg(ret, eb, sizeof eb));
    }
    VL_TRY(vl_streams_allowed(v->fmt, what)); /* probing below runs decoders */
    vl_video_io_arm_(v);
    ret = avformat_find_stream_info(v->fmt, NULL);
    VL_TRY(vl_video_io_status_(v)); /* probing stops early, without an error, when interrupted */
    if (ret < 0)
        return vl_error(VLLM_ERR_FORMAT, "video: cannot read stream parameters of '%s' (%s)", what,
                        av_msg(ret, eb, sizeof eb));
    const AVCodec *codec = NULL;
    ret = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret == AVERROR_STREAM_NOT_FOUND)
        return vl_error(VLLM_ERR_UNSUPPORTED, "video: '%s' has no video stream (format %s)", what,
                        v->fmt->iformat->name);
    if (ret == AVERROR_DECODER_NOT_FOUND || (ret >= 0 && !codec)) {
        int si = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        return vl_error(VLLM_ERR_UNSUPPORTED, "video: no decoder for the %s video stream of '%s'",
                        si >= 0 ? avcodec_get_name(v->fmt->streams[si]->codecpar->codec_id) : "?", what);
    }
    if (ret < 0)
        return vl_error(VLLM_ERR_FORMAT, "video: cannot select a video stream in '%s' (%s)", what,
                        av_msg(ret, eb, sizeof eb));
    VL_TRY(vl_decoder_allowed(codec, what));
    v->sidx = ret;
    v->st = v->fmt->streams[ret];
    v->codec = codec;
    const AVCodecParameters *par = v->st->codecpar;
    if (par->width <= 0 || par->height <= 0 || par->width > VL_VIDEO_MAX_SIDE || par->height > VL_VIDEO_MAX_SIDE ||
        (int64_t)par->width * par->height > VL_VIDEO_MAX_PIXELS)
        return vl_error(VLLM_ERR_UNSUPPORTED, "video: '%s' has frame size %dx%d, outside 1..%d per side and %lld pixels",
                        what, par->width, par->height, VL_VIDEO_MAX_SIDE, (long long)VL_VIDEO_MAX_PIXELS);
    /* Other streams are never read into packets we keep. */
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != v->sidx) v->fmt->streams[i]->discard = AVDISCARD_ALL;

    VL_TRY(open_decoder(v, 0));
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    v->held = av_frame_alloc();
    if (!v->pkt || !v->frame || !v->held) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    fill_info(v);
    return VLLM_OK;
}

static vl_video *alloc_video(void)
{
    /* libav's log level is process-global and belongs to the host; it is
     * left alone. Its lines go through vllm_set_log_callback (av_log.h). */
    vl_av_log_install();
    vl_video *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->fmt = avformat_alloc_context();
    if (!v->fmt) {
        free(v);
        return NULL;
    }
    vl_video_warn_init_(v);
    v->last_pkt_ts = AV_NOPTS_VALUE;
    v->sidx = -1;
    atomic_init(&v->cancel, 0);
    return v;
}

vllm_status vl_video_open(const char *path_or_url, vl_video **out)
{
    return vl_video_open_ex(path_or_url, NULL, out);
}

vllm_status vl_video_open_ex(const char *path_or_url, const vl_video_open_opts *opts, vl_video **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL output handle");
    *out = NULL;
    if (!path_or_url || !*path_or_url) return vl_error(VLLM_ERR_INVALID_ARG, "video: empty path");
    vl_video *v = alloc_video();
    if (!v) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    v->url = strdup(path_or_url);
    if (!v->url) {
        vl_video_close(v);
        return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    }
    vl_video_io_setup_(v, opts, path_or_url);
    if (opts && opts->nonblock) v->fmt->flags |= AVFMT_FLAG_NONBLOCK;
    v->input_format = opts ? opts->input_format : NULL;
    vllm_status st = open_common(v, path_or_url);
    if (vllm_is_error(st)) {
        vl_video_close(v);
        return st;
    }
    *out = v;
    return VLLM_OK;
}

vllm_status vl_video_open_memory(const void *data, size_t size, vl_video **out)
{
    return vl_video_open_memory_ex(data, size, NULL, out);
}

/* Opens `v` over custom I/O: libavformat pulls bytes through `read`/`seek`
 * (memory, or a caller's reader that polls its own stop flag); the
 * interrupt callback still carries the cancel flag. Frees `v` on error. */
static vllm_status open_custom_io(vl_video *v, const vl_video_reader *r, const char *label,
                                  const vl_video_open_opts *opts, vl_video **out)
{
    uint8_t *buf = av_malloc(MEM_IO_BUF);
    if (buf) v->avio = avio_alloc_context(buf, MEM_IO_BUF, 0, r->opaque, r->read, NULL, r->seek);
    if (!v->avio) {
        av_free(buf);
        vl_video_close(v);
        return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    }
    v->fmt->pb = v->avio;
    v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    vl_video_io_setup_(v, opts, NULL);
    v->input_format = opts ? opts->input_format : NULL;
    vllm_status st = open_common(v, label);
    if (vllm_is_error(st)) {
        vl_video_close(v);
        return st;
    }
    *out = v;
    return VLLM_OK;
}

vllm_status vl_video_open_memory_ex(const void *data, size_t size, const vl_video_open_opts *opts, vl_video **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL output handle");
    *out = NULL;
    if (!data || size == 0) return vl_error(VLLM_ERR_FORMAT, "video: empty input buffer");
    vl_video *v = alloc_video();
    if (!v) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    v->mem = (vl_mem_io){.data = data, .size = size};
    const vl_video_reader r = {mem_read, mem_seek, &v->mem};
    return open_custom_io(v, &r, NULL, opts, out);
}

vllm_status vl_video_open_reader(const vl_video_reader *r, const char *label, const vl_video_open_opts *opts,
                                 vl_video **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL output handle");
    *out = NULL;
    if (!r || !r->read || !label) return vl_error(VLLM_ERR_INVALID_ARG, "video: no read callback");
    vl_video *v = alloc_video();
    if (!v) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    if (!(v->url = strdup(label))) {
        vl_video_close(v);
        return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    }
    return open_custom_io(v, r, label, opts, out);
}

void vl_video_close(vl_video *v)
{
    if (!v) return;
    vl_par_stop(v);
    vl_video_warn_close_(v); /* says how many damaged spots were not listed */
    vl_av_log_flush();
    free(v->url);
    free(v->plan);
    free(v->times);
    free(v->plan_count);
    vl_rgb_conv_free(&v->conv);
    av_frame_free(&v->frame);
    av_frame_free(&v->held);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt); /* also frees an unopened context */
    if (v->avio) {
        av_freep(&v->avio->buffer);
        avio_context_free(&v->avio);
    }
    free(v);
}

const vl_video_info *vl_video_get_info(const vl_video *v) { return v ? &v->info : NULL; }

int vl_video_truncated(const vl_video *v) { return v ? v->truncated : 0; }

void vl_video_cancel(vl_video *v)
{
    if (v) atomic_store(&v->cancel, 1);
}

void vl_video_get_stats(const vl_video *v, vl_video_stats *st)
{
    if (v && st) *st = v->stats;
}

void vl_video_set_decode_mode(vl_video *v, int mode)
{
    if (v) v->mode = mode;
}

void vl_video_set_packet_budget(vl_video *v, int64_t max_packets)
{
    if (v) v->packet_budget = max_packets > 0 ? max_packets : 0;
}

vllm_status vl_video_set_threads(vl_video *v, int threads)
{
    if (!v || threads < 0) return vl_error(VLLM_ERR_INVALID_ARG, "video: bad thread count");
    if (v->active || v->stats.packets_read > 0)
        return vl_error(VLLM_ERR_STATE, "video: threads can only be set before decoding starts");
    v->threads = threads;
    return open_decoder(v, threads);
}
