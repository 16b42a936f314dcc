/* RGB24 pixels to a PNG file through libavcodec's PNG encoder, written
 * atomically (cli_write_file, through the library's atomic_file). */
#include <libavcodec/avcodec.h>

#include "cli.h"

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
    rc = cli_write_file(path, pkt->data, (size_t)pkt->size, "the PNG");
done:
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&ctx);
    return rc;
}
