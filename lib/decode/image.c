#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "decode/av_log.h"
#include "decode/codec_policy.h"

typedef struct {
    const uint8_t *data;
    size_t size, pos;
} membuf;

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    membuf *m = opaque;
    size_t left = m->size - m->pos;
    if (left == 0) return AVERROR_EOF;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    membuf *m = opaque;
    if (whence & AVSEEK_SIZE) return (int64_t)m->size;
    int64_t base = (whence & 3) == SEEK_CUR ? (int64_t)m->pos : (whence & 3) == SEEK_END ? (int64_t)m->size : 0;
    int64_t p = base + off;
    if (p < 0 || p > (int64_t)m->size) return AVERROR(EINVAL);
    m->pos = (size_t)p;
    return p;
}

static const char *averr(int e, char *buf, size_t n)
{
    av_strerror(e, buf, n);
    return buf;
}

/* JPEG decoders output the deprecated full-range yuvj formats; map them to
 * the plain ones and tell swscale the range explicitly. */
static enum AVPixelFormat dejpeg(enum AVPixelFormat f, int *full)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

static vllm_status convert(const AVFrame *fr, int alpha_mode, vl_image *out)
{
    const int w = fr->width, h = fr->height;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)fr->format);
    if (!desc) return vl_error(VLLM_ERR_DECODE, "image: decoder produced an unknown pixel format %d", fr->format);
    int has_alpha = (desc->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    int full = (fr->color_range == AVCOL_RANGE_JPEG);
    enum AVPixelFormat src = dejpeg((enum AVPixelFormat)fr->format, &full);
    enum AVPixelFormat dst = has_alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    struct SwsContext *sws = sws_getContext(w, h, src, w, h, dst,
                                            SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP,
                                            NULL, NULL, NULL);
    if (!sws)
        return vl_error(VLLM_ERR_UNSUPPORTED, "image: cannot convert pixel format %s to RGB", desc->name);
    int *inv, *tab, srange, drange, bri, con, sat;
    if (sws_getColorspaceDetails(sws, &inv, &srange, &tab, &drange, &bri, &con, &sat) >= 0) {
        const int *coefs = sws_getCoefficients(fr->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601);
        sws_setColorspaceDetails(sws, coefs, full, tab, 1, bri, con, sat);
    }
    size_t px = (size_t)w * h;
    uint8_t *buf = malloc(px * (has_alpha ? 4 : 3));
    uint8_t *rgb = has_alpha ? malloc(px * 3) : buf;
    if (!buf || !rgb) {
        free(buf);
        if (rgb != buf) free(rgb);
        sws_freeContext(sws);
        return vl_error(VLLM_ERR_NOMEM, "image: out of memory for %dx%d", w, h);
    }
    uint8_t *dst_planes[4] = {buf, NULL, NULL, NULL};
    int dst_stride[4] = {w * (has_alpha ? 4 : 3), 0, 0, 0};
    sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, h, dst_planes, dst_stride);
    sws_freeContext(sws);
    if (has_alpha) {
        for (size_t i = 0; i < px; i++) {
            const uint8_t *s = buf + 4 * i;
            for (int c = 0; c < 3; c++) {
                if (alpha_mode == VL_IMAGE_ALPHA_WHITE) /* over white, rounded */
                    rgb[3 * i + c] = (uint8_t)((s[c] * s[3] + 255 * (255 - s[3]) + 127) / 255);
                else
                    rgb[3 * i + c] = s[c];
            }
        }
        free(buf);
    }
    out->data = rgb;
    out->width = w;
    out->height = h;
    out->stride = (size_t)w * 3;
    return VLLM_OK;
}

vllm_status vl_image_decode(const void *data, size_t size, int alpha_mode, vl_image *out)
{
    vl_av_log_install(); /* libav's lines through vllm_set_log_callback */
    memset(out, 0, sizeof *out);
    if (!data || size == 0) return vl_error(VLLM_ERR_DECODE, "image: empty input");
    char eb[128];
    membuf mb = {data, size, 0};
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *fr = NULL;
    vllm_status st = VLLM_OK;
    int got = 0, ret;
    const size_t io_size = 65536;
    uint8_t *io_buf = av_malloc(io_size);
    AVIOContext *io = io_buf ? avio_alloc_context(io_buf, (int)io_size, 0, &mb, mem_read, NULL, mem_seek) : NULL;
    fmt = avformat_alloc_context();
    if (!io || !fmt) {
        if (!io) av_free(io_buf);
        st = vl_error(VLLM_ERR_NOMEM, "image: out of memory");
        goto done;
    }
    fmt->pb = io;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    if ((ret = avformat_open_input(&fmt, NULL, NULL, NULL)) < 0) {
        fmt = NULL; /* freed by avformat_open_input on failure */
        st = vl_error(VLLM_ERR_DECODE, "image: not a recognized image (%s)", averr(ret, eb, sizeof eb));
        goto done;
    }
    int si = -1;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            si = (int)i;
            break;
        }
    if (si < 0) {
        st = vl_error(VLLM_ERR_DECODE, "image: no picture in the input (format %s)", fmt->iformat->name);
        goto done;
    }
    const AVCodecParameters *par = fmt->streams[si]->codecpar;
    if ((long long)par->width * par->height > VL_IMAGE_MAX_PIXELS) {
        st = vl_error(VLLM_ERR_UNSUPPORTED, "image: %dx%d exceeds the limit of %lld pixels", par->width, par->height,
                      VL_IMAGE_MAX_PIXELS);
        goto done;
    }
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        st = vl_error(VLLM_ERR_UNSUPPORTED, "image: no decoder for %s", avcodec_get_name(par->codec_id));
        goto done;
    }
    if (vllm_is_error(st = vl_decoder_allowed(codec, "image"))) goto done;
    dec = avcodec_alloc_context3(codec);
    if (!dec || avcodec_parameters_to_context(dec, par) < 0) {
        st = vl_error(VLLM_ERR_NOMEM, "image: out of memory");
        goto done;
    }
    dec->max_pixels = VL_IMAGE_MAX_PIXELS; /* checked by the decoder before it allocates */
    dec->err_recognition |= AV_EF_EXPLODE;
    dec->thread_count = 1;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0) {
        st = vl_error(VLLM_ERR_DECODE, "image: cannot open the %s decoder (%s)", codec->name, averr(ret, eb, sizeof eb));
        goto done;
    }
    pkt = av_packet_alloc();
    fr = av_frame_alloc();
    if (!pkt || !fr) {
        st = vl_error(VLLM_ERR_NOMEM, "image: out of memory");
        goto done;
    }
    int last_err = 0;
    while (!got) {
        ret = av_read_frame(fmt, pkt);
        if (ret < 0) {
            avcodec_send_packet(dec, NULL); /* drain */
        } else if (pkt->stream_index != si) {
            av_packet_unref(pkt);
            continue;
        } else {
            int s = avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
            if (s < 0 && s != AVERROR(EAGAIN)) last_err = s;
        }
        int r = avcodec_receive_frame(dec, fr);
        if (r == 0) {
            got = 1;
        } else if (r != AVERROR(EAGAIN) || ret < 0) {
            if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) last_err = r;
            if (ret < 0) break;
        }
    }
    if (!got) {
        if (last_err == AVERROR(EINVAL) || last_err == AVERROR(ENOMEM))
            st = vl_error(VLLM_ERR_UNSUPPORTED, "image: the %s decoder refused the picture (%s; larger than %lld pixels?)",
                          codec->name, averr(last_err, eb, sizeof eb), VL_IMAGE_MAX_PIXELS);
        else
            st = vl_error(VLLM_ERR_DECODE, "image: corrupt or truncated %s data (%s)", codec->name,
                          last_err ? averr(last_err, eb, sizeof eb) : "no picture decoded");
        goto done;
    }
    if (fr->width < 1 || fr->height < 1 || (long long)fr->width * fr->height > VL_IMAGE_MAX_PIXELS) {
        st = vl_error(VLLM_ERR_UNSUPPORTED, "image: decoded size %dx%d outside 1..%lld pixels", fr->width, fr->height,
                      VL_IMAGE_MAX_PIXELS);
        goto done;
    }
    if (fr->decode_error_flags || (fr->flags & AV_FRAME_FLAG_CORRUPT)) {
        st = vl_error(VLLM_ERR_DECODE, "image: corrupt %s data (decoder flagged the picture)", codec->name);
        goto done;
    }
    st = convert(fr, alpha_mode, out);
done:
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    if (io) {
        av_freep(&io->buffer);
        avio_context_free(&io);
    }
    return st;
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a named pipe (FIFO)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

vllm_status vl_image_load_ex(const char *path, int alpha_mode, vl_image *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return vl_error(VLLM_ERR_INVALID_ARG, "image: no path");
    /* Only regular files: before opening, since opening a FIFO blocks until
     * a writer comes, and a directory or a device has no meaningful size. */
    struct stat sb;
    if (stat(path, &sb) != 0) return vl_error(VLLM_ERR_IO, "image: cannot open '%s' (%s)", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return vl_error(VLLM_ERR_IO, "image: '%s' is %s, not an image file", path, file_kind(sb.st_mode));
    FILE *f = fopen(path, "rb");
    if (!f) return vl_error(VLLM_ERR_IO, "image: cannot open '%s' (%s)", path, strerror(errno));
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return vl_error(VLLM_ERR_IO, "image: cannot read '%s'", path);
    }
    if ((long long)n > VL_IMAGE_MAX_FILE_BYTES) {
        fclose(f);
        return vl_error(VLLM_ERR_UNSUPPORTED, "image: '%s' is %ld bytes, above the %lld-byte limit", path, n,
                        VL_IMAGE_MAX_FILE_BYTES);
    }
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return vl_error(VLLM_ERR_NOMEM, "image: out of memory reading '%s'", path);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(buf);
        return vl_error(VLLM_ERR_IO, "image: short read on '%s'", path);
    }
    vllm_status st = vl_image_decode(buf, (size_t)n, alpha_mode, out);
    free(buf);
    if (vllm_is_error(st)) vl_error_prefix(st, "%s", path);
    return st;
}

vllm_status vl_image_load(const char *path, vl_image *out) { return vl_image_load_ex(path, VL_IMAGE_ALPHA_DROP, out); }

void vl_image_free(vl_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}
