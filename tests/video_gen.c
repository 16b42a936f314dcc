/* Synthetic test clips through libavcodec/libavformat (see video_gen.h). */
#include "video_gen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>

int vg_have_encoder(const char *name) { return avcodec_find_encoder_by_name(name) != NULL; }

/* Per-pixel noise in -GRAIN..GRAIN that changes every frame (a cheap integer hash:
 * no state, the same clip on every run). */
#define GRAIN 2
static int grain(int x, int y, int i)
{
    uint32_t k = (uint32_t)x * 0x9E3779B1u ^ (uint32_t)y * 0x85EBCA77u ^ (uint32_t)i * 0xC2B2AE3Du;
    k ^= k >> 15;
    k *= 0x2C1B3C6Du;
    k ^= k >> 12;
    return (int)(k % (2u * GRAIN + 1u)) - GRAIN;
}

/* VG_CAMERA: what a camera clip asks of a decoder. A textured background
 * panning 3 px per frame (diagonal stripes, a gradient, a checker of
 * 48-pixel tiles with their own brightness), a bright disc crossing the
 * picture, drifting colour gradients in chroma, and grain on every sample
 * that changes each frame (as `noise=alls=3:allf=t` adds): nothing is a
 * skipped macroblock, and at crf 23 it codes at a few Mbit/s in 1080p. */
static void paint_camera(AVFrame *f, int i)
{
    int w = f->width, h = f->height;
    int pan = 3 * i, cx = (7 * i) % (w + 200) - 100, cy = h / 2 + (int)(h / 4 * sin(i * 0.05)), r = h / 8;
    for (int y = 0; y < h; y++) {
        uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = 0; x < w; x++) {
            int u = x + pan, tile = ((u / 48) * 31 + (y / 48) * 17) % 64;
            /* stripes that zoom slowly: motion no vector predicts exactly */
            int zoom = (((x - w / 2) * (1024 + 3 * i) / 1024 + ((y - h / 2) * (1024 + 3 * i) / 1024) / 3) >> 2) & 15;
            int v = 40 + (y * 60) / h + tile + ((u + y) & 31) + ((u / 48 + y / 48) & 1) * 40 + zoom;
            int dx = x - cx, dy = y - cy;
            if (dx * dx + dy * dy < r * r) v = 200 + ((dx ^ dy) & 15);
            v += grain(x, y, i);
            row[x] = (uint8_t)(v < 16 ? 16 : v > 235 ? 235 : v);
        }
    }
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < ch; y++) {
            uint8_t *row = f->data[p] + (size_t)y * f->linesize[p];
            for (int x = 0; x < cw; x++) {
                int v = p == 1 ? 128 + ((x + i) % cw) * 64 / cw - 32 : 128 + ((y + 2 * i) % ch) * 64 / ch - 32;
                row[x] = (uint8_t)(v + grain(x, y, i + 7919 * p) / 2);
            }
        }
}

static void paint(AVFrame *f, int i, int pattern)
{
    if (pattern == VG_CAMERA) {
        paint_camera(f, i);
        return;
    }
    int w = f->width, h = f->height;
    for (int y = 0; y < h; y++) {
        uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = 0; x < w; x++) {
            int v = 16;
            switch (pattern) {
            case VG_ID: v = x < w / 2 ? 16 + 13 * (i % 16) : 16 + 13 * ((i / 16) % 16); break;
            case VG_CORNER: v = (x < w / 2 && y < h / 2) ? 235 : 16; break;
            case VG_STATIC: v = 60 + (x * 7 + y * 3) % 120; break;
            case VG_MOTION: {
                int sx = (i * 2) % (w > 8 ? w - 8 : 1);
                v = (x >= sx && x < sx + 8 && y >= h / 2 - 4 && y < h / 2 + 4) ? 235 : 100;
                break;
            }
            }
            row[x] = (uint8_t)v;
        }
    }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (h + 1) / 2; y++) memset(f->data[p] + (size_t)y * f->linesize[p], 128, (size_t)(w + 1) / 2);
}

static int drain(AVCodecContext *enc, AVFormatContext *oc, AVStream *st, AVPacket *pkt)
{
    int ret;
    while ((ret = avcodec_receive_packet(enc, pkt)) >= 0) {
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        if (av_interleaved_write_frame(oc, pkt) < 0) return -1;
    }
    return (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) ? 0 : -1;
}

int vg_write(const vg_params *p, char *err, size_t errlen)
{
    const char *codec_name = p->codec ? p->codec : "mpeg4";
    const AVCodec *codec = avcodec_find_encoder_by_name(codec_name);
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *f = NULL;
    AVPacket *pkt = NULL;
    AVDictionary *mux_opts = NULL;
    int rc = -1;
    if (!codec) {
        snprintf(err, errlen, "no %s encoder", codec_name);
        return -1;
    }
    if (avformat_alloc_output_context2(&oc, NULL, p->format ? p->format : "mp4", p->path) < 0 || !oc) {
        snprintf(err, errlen, "no muxer for %s", p->path);
        return -1;
    }
    AVStream *st = avformat_new_stream(oc, NULL);
    enc = avcodec_alloc_context3(codec);
    f = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!st || !enc || !f || !pkt) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    enc->width = p->width;
    enc->height = p->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->framerate = (AVRational){p->fps_num, p->fps_den};
    enc->time_base = p->pts_ms ? (AVRational){1, 1000} : (AVRational){p->fps_den, p->fps_num};
    enc->gop_size = p->gop > 0 ? p->gop : 12;
    enc->max_b_frames = p->b_frames;
    enc->thread_count = p->threads > 0 ? p->threads : 1;
    if (!strcmp(codec_name, "libx264")) {
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
        char crf[16];
        snprintf(crf, sizeof crf, "%d", p->crf > 0 ? p->crf : 20);
        av_opt_set(enc->priv_data, "crf", crf, 0);
    } else {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 2;
    }
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(enc, codec, NULL) < 0) {
        snprintf(err, errlen, "cannot open %s for %dx%d", codec_name, p->width, p->height);
        goto done;
    }
    avcodec_parameters_from_context(st->codecpar, enc);
    st->time_base = enc->time_base;
    st->avg_frame_rate = enc->framerate;
    if (p->rotation_ccw) {
        uint8_t *sd = av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (!sd) goto done;
        av_display_rotation_set((int32_t *)sd, p->rotation_ccw);
    }
    if (p->faststart) av_dict_set(&mux_opts, "movflags", "faststart", 0);
    if (avio_open(&oc->pb, p->path, AVIO_FLAG_WRITE) < 0) {
        snprintf(err, errlen, "cannot write %s", p->path);
        goto done;
    }
    if (avformat_write_header(oc, &mux_opts) < 0) {
        snprintf(err, errlen, "cannot write the header of %s", p->path);
        goto done;
    }
    f->format = enc->pix_fmt;
    f->width = p->width;
    f->height = p->height;
    if (av_frame_get_buffer(f, 0) < 0) goto done;
    for (int i = 0; i < p->n_frames; i++) {
        if (av_frame_make_writable(f) < 0) goto done;
        paint(f, i, p->pattern);
        f->pts = p->pts_ms ? p->pts_ms[i] : i;
        if (avcodec_send_frame(enc, f) < 0 || drain(enc, oc, st, pkt) < 0) {
            snprintf(err, errlen, "encoding frame %d failed", i);
            goto done;
        }
    }
    if (avcodec_send_frame(enc, NULL) < 0 || drain(enc, oc, st, pkt) < 0) goto done;
    if (av_write_trailer(oc) < 0) goto done;
    rc = 0;
done:
    if (rc && err[0] == 0) snprintf(err, errlen, "writing %s failed", p->path);
    av_dict_free(&mux_opts);
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
    if (oc && oc->pb) avio_closep(&oc->pb);
    avformat_free_context(oc);
    return rc;
}

int vg_write_png(const char *path, int width, int height, char *err, size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = -1;
    snprintf(err, errlen, "png encoding failed");
    if (!enc || !f || !pkt) goto done;
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_RGB24;
    enc->time_base = (AVRational){1, 25};
    f->format = AV_PIX_FMT_RGB24;
    f->width = width;
    f->height = height;
    if (avcodec_open2(enc, codec, NULL) < 0 || av_frame_get_buffer(f, 0) < 0) goto done;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint8_t *p = f->data[0] + (size_t)y * f->linesize[0] + 3 * x;
            p[0] = (uint8_t)(4 * x);
            p[1] = (uint8_t)(5 * y);
            p[2] = 128;
        }
    if (avcodec_send_frame(enc, f) < 0 || avcodec_receive_packet(enc, pkt) < 0) goto done;
    FILE *out = fopen(path, "wb");
    if (!out) {
        snprintf(err, errlen, "cannot write %s", path);
        goto done;
    }
    int ok = fwrite(pkt->data, 1, (size_t)pkt->size, out) == (size_t)pkt->size;
    if (fclose(out) != 0 || !ok) goto done;
    rc = 0;
    err[0] = 0;
done:
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
    return rc;
}

static double mean_r(const uint8_t *rgb, int stride, int x0, int x1, int y0, int y1)
{
    double s = 0;
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++, n++) s += rgb[(size_t)y * stride + 3 * x];
    return n ? s / n : 0;
}

int vg_identify(const uint8_t *rgb, int width, int height, int stride)
{
    int y0 = height / 4, y1 = height - height / 4;
    if (y1 <= y0) y1 = y0 + 1;
    double l = mean_r(rgb, stride, width / 8, width / 2 - width / 8, y0, y1);
    double r = mean_r(rgb, stride, width / 2 + width / 8, width - width / 8, y0, y1);
    /* full-range RGB from limited-range luma: Y = R·219/255 + 16 */
    int lo = (int)lround((l * 219.0 / 255.0) / 13.0), hi = (int)lround((r * 219.0 / 255.0) / 13.0);
    if (lo < 0) lo = 0;
    if (lo > 15) lo = 15;
    if (hi < 0) hi = 0;
    if (hi > 15) hi = 15;
    return hi * 16 + lo;
}
