/* Helpers shared by the subcommands. */
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>

#include "cli.h"

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int cli_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride)
{
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *ctx = c ? avcodec_alloc_context3(c) : NULL;
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = -1;
    if (!ctx || !fr || !pkt) goto done;
    ctx->width = width;
    ctx->height = height;
    ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){1, 1};
    if (avcodec_open2(ctx, c, NULL) < 0) goto done;
    fr->format = AV_PIX_FMT_RGB24;
    fr->width = width;
    fr->height = height;
    fr->data[0] = (uint8_t *)rgb; /* read only by the encoder */
    fr->linesize[0] = stride;
    if (avcodec_send_frame(ctx, fr) < 0 || avcodec_receive_packet(ctx, pkt) < 0) goto done;
    FILE *o = fopen(path, "wb");
    if (!o) goto done;
    rc = fwrite(pkt->data, 1, (size_t)pkt->size, o) == (size_t)pkt->size ? 0 : -1;
    if (fclose(o) != 0) rc = -1;
done:
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&ctx);
    return rc;
}
