/* bench_compression: what frame dedup, token pruning/merging and the
 * "fast" preset buy, and what they cost in output fidelity.
 *
 *   bench_compression -m TEXT.gguf --mmproj MMPROJ.gguf [--gen-video OUT.mp4] [--video F]...
 *                     [--quality] [-t N] [-n N]
 *
 * Speed (per video, baseline and preset in the same run, same process):
 * frames sampled / encoded / deduped, visual tokens prefilled, time to
 * first token measured from the start of push_video (decode + encode +
 * prefill + question) and total time including an N-token answer. The
 * encoder's own rate (s per frame from the baseline) is printed as the
 * limit the dedup saving is measured against.
 *
 * Quality proxy (--quality): greedy answer of the uncompressed run, then
 * every configuration is teacher-forced along that answer and its
 * next-token distribution compared at each answer position: top-1
 * agreement and KL(uncompressed || compressed) in nats. With
 * random-weight models this only shows how far each technique moves the
 * output distribution, not whether answers stay right.
 *
 * --gen-video writes a 2-minute static-heavy clip (320x240, 10 fps,
 * mpeg4): three still scenes with two 10-second moving segments. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "bench_common.h"
#include "vllm/videollm.h"

/* ---- the static-heavy test clip ---------------------------------------------- */

#define GW 320
#define GH 240
#define GFPS 10
#define GSECONDS 120

/* Scene at second t: still A (0-30 s), motion (30-40), still B (40-80),
 * motion (80-90), still C (90-120). Motion: an 80x80 bright block
 * crossing the frame over a still background. */
static void gen_paint(AVFrame *f, int i)
{
    const double t = (double)i / GFPS;
    const int scene = t < 30 ? 0 : t < 40 ? 1 : t < 80 ? 2 : t < 90 ? 3 : 4;
    const int bx = (scene == 1 || scene == 3) ? (int)((t - (scene == 1 ? 30 : 80)) / 10.0 * (GW - 80)) : -1000;
    for (int y = 0; y < GH; y++) {
        uint8_t *row = f->data[0] + (size_t)y * f->linesize[0];
        for (int x = 0; x < GW; x++) {
            int v;
            if (scene == 0 || scene == 1) v = 40 + (x / 20 + y / 20) % 2 * 120;       /* checkerboard */
            else if (scene == 2 || scene == 3) v = 30 + (x * 180) / GW;               /* ramp */
            else v = 60 + ((x - GW / 2) * (x - GW / 2) + (y - GH / 2) * (y - GH / 2)) / 300 % 150; /* rings */
            if (x >= bx && x < bx + 80 && y >= 80 && y < 160) v = 235;
            row[x] = (uint8_t)v;
        }
    }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < GH / 2; y++) memset(f->data[p] + (size_t)y * f->linesize[p], p == 1 ? 110 : 150, GW / 2);
}

static int gen_drain(AVCodecContext *enc, AVFormatContext *oc, AVStream *st, AVPacket *pkt)
{
    int ret;
    while ((ret = avcodec_receive_packet(enc, pkt)) >= 0) {
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        if (av_interleaved_write_frame(oc, pkt) < 0) return -1;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : -1;
}

static int gen_video(const char *path)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("mpeg4");
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = -1;
    if (!codec || !f || !pkt || avformat_alloc_output_context2(&oc, NULL, "mp4", path) < 0) goto out;
    AVStream *st = avformat_new_stream(oc, NULL);
    enc = avcodec_alloc_context3(codec);
    if (!st || !enc) goto out;
    enc->width = GW;
    enc->height = GH;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, GFPS};
    enc->framerate = (AVRational){GFPS, 1};
    enc->gop_size = 50;
    enc->bit_rate = 800000;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(enc, codec, NULL) < 0 || avcodec_parameters_from_context(st->codecpar, enc) < 0) goto out;
    st->time_base = enc->time_base;
    if (avio_open(&oc->pb, path, AVIO_FLAG_WRITE) < 0 || avformat_write_header(oc, NULL) < 0) goto out;
    f->format = enc->pix_fmt;
    f->width = GW;
    f->height = GH;
    if (av_frame_get_buffer(f, 0) < 0) goto out;
    for (int i = 0; i < GFPS * GSECONDS; i++) {
        if (av_frame_make_writable(f) < 0) goto out;
        gen_paint(f, i);
        f->pts = i;
        if (avcodec_send_frame(enc, f) < 0 || gen_drain(enc, oc, st, pkt) < 0) goto out;
    }
    if (avcodec_send_frame(enc, NULL) < 0 || gen_drain(enc, oc, st, pkt) < 0 || av_write_trailer(oc) < 0) goto out;
    rc = 0;
out:
    if (oc && oc->pb) avio_closep(&oc->pb);
    avformat_free_context(oc);
    avcodec_free_context(&enc);
    av_frame_free(&f);
    av_packet_free(&pkt);
    if (rc) fprintf(stderr, "bench_compression: cannot write %s\n", path);
    return rc;
}

/* ---- runs ---------------------------------------------------------------------- */

typedef struct config {
    const char *name;
    float dedup, rate;
    int merge, budget;
} config;

typedef struct result {
    vllm_session_stats st;
    double ttft, total;
    int ok;
} result;

static int n_threads = 2, n_gen = 16;
static int32_t n_vocab;

static vllm_session *run_prompt(vllm_model *m, const char *video, const config *c, result *r)
{
    memset(r, 0, sizeof *r);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = n_threads;
    sp.n_ctx = 8192;
    vllm_session *s = NULL;
    if (vllm_is_error(vllm_session_create(m, &sp, &s))) {
        fprintf(stderr, "session: %s\n", vllm_last_error());
        return NULL;
    }
    vllm_video_params vp = vllm_video_default_params();
    vp.dedup_threshold = c->dedup;
    vp.prune_rate = c->rate;
    vp.prune_merge = c->merge;
    vp.max_visual_tokens = c->budget;
    if (!strcmp(c->name, "preset")) vllm_compression_preset("fast", NULL, &vp);
    const double t0 = vl_bench_now();
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = n_gen;
    if (vllm_is_error(vllm_session_push_video(s, video, &vp)) ||
        vllm_is_error(vllm_session_query(s, "Describe what happens in this video.", &gp))) {
        fprintf(stderr, "%s: %s\n", c->name, vllm_session_last_error(s));
        vllm_session_free(s);
        return NULL;
    }
    r->ttft = vl_bench_now() - t0; /* the logits of the first answer token exist now */
    r->ok = 1;
    return s;
}

static void speed(vllm_model *m, const char *video, const config *cfgs, int n_cfg)
{
    result r[8];
    for (int i = 0; i < n_cfg; i++) {
        const double t0 = vl_bench_now();
        vllm_session *s = run_prompt(m, video, &cfgs[i], &r[i]);
        if (!s) continue;
        int32_t tok;
        vllm_status st = vllm_session_next_token(s, &tok, NULL, NULL);
        r[i].ttft = vl_bench_now() - t0;
        while (st == VLLM_OK) st = vllm_session_next_token(s, &tok, NULL, NULL);
        r[i].total = vl_bench_now() - t0;
        r[i].st.struct_size = sizeof r[i].st;
        vllm_session_get_stats(s, &r[i].st);
        vllm_session_free(s);
    }
    printf("\n%s\n", video);
    printf("  %-10s %7s %7s %7s %8s %8s %9s %9s %9s\n", "config", "sampled", "encoded", "deduped", "vis.tok", "pruned",
           "encode s", "TTFT s", "total s");
    for (int i = 0; i < n_cfg; i++) {
        if (!r[i].ok) continue;
        const vllm_session_stats *t = &r[i].st;
        printf("  %-10s %7lld %7lld %7lld %8lld %8lld %9.2f %9.2f %9.2f\n", cfgs[i].name, (long long)t->n_frames_seen,
               (long long)t->n_frames_encoded, (long long)t->n_frames_deduped, (long long)t->n_visual_tokens,
               (long long)t->n_tokens_pruned, t->encode_seconds, r[i].ttft, r[i].total);
    }
    if (r[0].ok && r[0].st.n_frames_encoded > 0)
        printf("  limit: encoder %.3f s/frame, media prefill %.0f visual tok/s (baseline)\n",
               r[0].st.encode_seconds / (double)r[0].st.n_frames_encoded,
               r[0].st.media_prefill_seconds > 0 ? (double)r[0].st.n_visual_tokens / r[0].st.media_prefill_seconds : 0.0);
    for (int i = 1; i < n_cfg; i++)
        if (r[0].ok && r[i].ok)
            printf("  %s: TTFT %.2fx lower, total %.2fx lower\n", cfgs[i].name, r[0].ttft / r[i].ttft, r[0].total / r[i].total);
}

/* log-softmax of n logits into out */
static void log_softmax(const float *l, int n, double *out)
{
    double mx = l[0], z = 0;
    for (int i = 1; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) z += exp(l[i] - mx);
    const double lz = mx + log(z);
    for (int i = 0; i < n; i++) out[i] = l[i] - lz;
}

static int argmax(const float *l, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

/* Logits at each of n_gen answer positions along `answer` (NULL: greedy,
 * filled in). Returns n_gen x n_vocab floats. */
static float *forced(vllm_model *m, const char *video, const config *c, int32_t *answer, int fill, result *r)
{
    vllm_session *s = run_prompt(m, video, c, r);
    if (!s) return NULL;
    float *all = malloc((size_t)n_gen * n_vocab * sizeof *all);
    for (int i = 0; i < n_gen && all; i++) {
        const float *l = vllm_session_logits(s);
        if (!l) break;
        memcpy(all + (size_t)i * n_vocab, l, (size_t)n_vocab * sizeof *all);
        if (fill) answer[i] = argmax(l, n_vocab);
        if (i + 1 < n_gen && vllm_is_error(vllm_session_eval_tokens(s, &answer[i], 1))) {
            fprintf(stderr, "%s: %s\n", c->name, vllm_session_last_error(s));
            free(all);
            all = NULL;
        }
    }
    r->st.struct_size = sizeof r->st;
    vllm_session_get_stats(s, &r->st);
    vllm_session_free(s);
    return all;
}

static void quality(vllm_model *m, const char *label, const char *video, const config *cfgs, int n_cfg)
{
    int32_t *answer = calloc((size_t)n_gen, sizeof *answer);
    double *pa = malloc((size_t)n_vocab * sizeof *pa), *pb = malloc((size_t)n_vocab * sizeof *pb);
    result r0;
    float *base = forced(m, video, &cfgs[0], answer, 1, &r0);
    if (!base || !answer || !pa || !pb) goto out;
    printf("\nquality proxy, %s, %s (%d answer positions; random weights: shows how far the output distribution moves, not accuracy)\n",
           label, video, n_gen);
    printf("  %-10s %8s %8s %10s %10s\n", "config", "vis.tok", "top1", "KL mean", "KL max");
    for (int c = 1; c < n_cfg; c++) {
        result r;
        float *x = forced(m, video, &cfgs[c], answer, 0, &r);
        if (!x) continue;
        int agree = 0;
        double kl_sum = 0, kl_max = 0;
        for (int i = 0; i < n_gen; i++) {
            const float *a = base + (size_t)i * n_vocab, *b = x + (size_t)i * n_vocab;
            agree += argmax(a, n_vocab) == argmax(b, n_vocab);
            log_softmax(a, n_vocab, pa);
            log_softmax(b, n_vocab, pb);
            double kl = 0;
            for (int v = 0; v < n_vocab; v++) kl += exp(pa[v]) * (pa[v] - pb[v]);
            kl_sum += kl;
            kl_max = kl > kl_max ? kl : kl_max;
        }
        printf("  %-10s %8lld %7.0f%% %10.4f %10.4f\n", cfgs[c].name, (long long)r.st.n_visual_tokens,
               100.0 * agree / n_gen, kl_sum / n_gen, kl_max);
        free(x);
    }
out:
    free(base);
    free(answer);
    free(pa);
    free(pb);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *mmproj = NULL, *videos[8];
    setvbuf(stdout, NULL, _IOLBF, 0); /* rows appear as each configuration finishes */
    int n_videos = 0, do_quality = 0, do_speed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) model = argv[++i];
        else if (!strcmp(a, "--mmproj") && v) mmproj = argv[++i];
        else if (!strcmp(a, "--video") && v && n_videos < 8) videos[n_videos++] = argv[++i];
        else if (!strcmp(a, "--gen-video") && v && n_videos < 8) {
            if (gen_video(argv[++i])) return 1;
            videos[n_videos++] = argv[i];
        } else if (!strcmp(a, "--quality")) do_quality = 1;
        else if (!strcmp(a, "--no-speed")) do_speed = 0;
        else if (!strcmp(a, "-t") && v) n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "-n") && v) n_gen = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_compression -m TEXT.gguf --mmproj MMPROJ.gguf [--gen-video OUT.mp4] [--video F]...\n"
                            "                         [--quality] [--no-speed] [-t N] [-n N]\n");
            return 2;
        }
    }
    if (!model || !mmproj || !n_videos || n_gen < 1) {
        fprintf(stderr, "bench_compression: need -m, --mmproj and at least one video\n");
        return 2;
    }
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    if (vllm_is_error(vllm_model_load(model, &mp, &m))) {
        fprintf(stderr, "bench_compression: %s\n", vllm_last_error());
        return 1;
    }
    vllm_model_info info = {.struct_size = sizeof info};
    vllm_model_get_info(m, &info);
    n_vocab = info.n_vocab;
    printf("model %s + %s: %d visual tokens per frame, %d threads, %d answer tokens\n", model, mmproj, info.tokens_per_frame,
           n_threads, n_gen);
    const config speed_cfgs[] = {{"baseline", 0, 0, 0, 0}, {"preset", 0, 0, 0, 0}};
    const config q_cfgs[] = {{"baseline", 0, 0, 0, 0},  {"dedup", 0.02f, 0, 0, 0},   {"prune0.5", 0, 0.5f, 0, 0},
                             {"merge0.5", 0, 0.5f, 1, 0}, {"prune0.75", 0, 0.75f, 0, 0}, {"merge0.75", 0, 0.75f, 1, 0},
                             {"preset", 0, 0, 0, 0}};
    for (int i = 0; i < n_videos && do_speed; i++) speed(m, videos[i], speed_cfgs, 2);
    for (int i = 0; i < n_videos && do_quality; i++)
        quality(m, model, videos[i], q_cfgs, (int)(sizeof q_cfgs / sizeof *q_cfgs));
    vllm_model_free(m);
    return 0;
}
