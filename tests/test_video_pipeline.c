/* Videos decode ahead of the encoder on a thread of their own
 * (lib/session/video_ahead.h). The same clip through the pipelined and
 * the forced in-line path (VIDEOLLM_VIDEO_PIPELINE=0) gives the same
 * context, logits, answer tokens and frame counts, with dedup on or off;
 * a decode error mid-file and a cancel mid-pipeline end both ways with
 * the same status and message, leave the context as it was, and leave no
 * thread behind. The decoding thread is seen to run (more threads during
 * a pipelined push than an in-line one). */
#define VLLM_EXPERIMENTAL
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "fixture_set.h"
#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

static vllm_model *model;
static char tmpdir[256];

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct run_ctl {
    vllm_session *s;
    int cancel_at;       /* progress step at which to cancel (0 = never) */
    int by_callback;     /* 1: the callback returns non-zero; 0: vllm_session_cancel */
    int steps, max_threads;
} run_ctl;

static int on_progress(void *user, const char *stage, float f)
{
    (void)stage, (void)f;
    run_ctl *c = user;
    const int t = threads_now();
    if (t > c->max_threads) c->max_threads = t;
    if (++c->steps == c->cancel_at) {
        if (c->by_callback) return 1;
        vllm_session_cancel(c->s);
    }
    return 0;
}

/* What one push (and a short answer after it) left. */
typedef struct outcome {
    vllm_status st;
    char msg[1024];
    int32_t *hist;
    size_t n_hist;
    int32_t tokens[4];
    int n_tokens;
    float *logits;
    vllm_session_stats stats;
    int threads_before, threads_after, max_threads;
} outcome;

static void run(const char *clip, int pipelined, float dedup, int cancel_at, int by_callback, outcome *o)
{
    memset(o, 0, sizeof *o);
    setenv("VIDEOLLM_VIDEO_PIPELINE", pipelined ? "1" : "0", 1);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.n_threads = 2;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(model, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    REQUIRE(vllm_session_generate(s, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(s)); /* a context before */
    run_ctl c = {s, cancel_at, by_callback, 0, 0};
    vllm_video_params vp = vllm_video_default_params();
    vp.progress = on_progress;
    vp.progress_user_data = &c;
    vp.dedup_threshold = dedup;
    o->threads_before = threads_now();
    o->st = vllm_session_push_video(s, clip, &vp);
    o->threads_after = threads_now();
    o->max_threads = c.max_threads;
    snprintf(o->msg, sizeof o->msg, "%s", vllm_session_last_error(s));
    const int32_t *h;
    vllm_session_history(s, &h, &o->n_hist);
    o->hist = malloc((o->n_hist + 1) * sizeof *h);
    memcpy(o->hist, h, o->n_hist * sizeof *h);
    o->stats.struct_size = sizeof o->stats;
    vllm_session_get_stats(s, &o->stats);
    if (o->st == VLLM_OK) {
        gp.max_tokens = 4;
        REQUIRE(vllm_session_query(s, "What happens?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
        vllm_model_info mi = {.struct_size = sizeof mi};
        vllm_model_get_info(model, &mi);
        o->logits = malloc((size_t)mi.n_vocab * sizeof *o->logits);
        memcpy(o->logits, vllm_session_logits(s), (size_t)mi.n_vocab * sizeof *o->logits);
        int32_t t;
        while (o->n_tokens < 4 && vllm_session_next_token(s, &t, NULL, NULL) == VLLM_OK) o->tokens[o->n_tokens++] = t;
    }
    vllm_session_free(s);
}

static void same(const char *what, const outcome *a, const outcome *b, int n_vocab)
{
    CHECK(a->st == b->st && !strcmp(a->msg, b->msg), "%s: pipelined %s '%s', in line %s '%s'", what,
          vllm_status_string(a->st), a->msg, vllm_status_string(b->st), b->msg);
    CHECK(a->n_hist == b->n_hist && !memcmp(a->hist, b->hist, a->n_hist * sizeof *a->hist),
          "%s: the contexts differ (%zu vs %zu positions)", what, a->n_hist, b->n_hist);
    CHECK(a->stats.n_frames_seen == b->stats.n_frames_seen && a->stats.n_frames_encoded == b->stats.n_frames_encoded &&
              a->stats.n_frames_deduped == b->stats.n_frames_deduped && a->stats.n_visual_tokens == b->stats.n_visual_tokens,
          "%s: frames seen %lld/%lld, encoded %lld/%lld, deduped %lld/%lld", what, (long long)a->stats.n_frames_seen,
          (long long)b->stats.n_frames_seen, (long long)a->stats.n_frames_encoded, (long long)b->stats.n_frames_encoded,
          (long long)a->stats.n_frames_deduped, (long long)b->stats.n_frames_deduped);
    CHECK(!a->logits == !b->logits && (!a->logits || !memcmp(a->logits, b->logits, (size_t)n_vocab * sizeof *a->logits)),
          "%s: the logits after the question differ", what);
    CHECK(a->n_tokens == b->n_tokens && !memcmp(a->tokens, b->tokens, sizeof a->tokens), "%s: the answers differ", what);
    CHECK(a->threads_after == a->threads_before && b->threads_after == b->threads_before,
          "%s: threads before/after the push: pipelined %d/%d, in line %d/%d", what, a->threads_before, a->threads_after,
          b->threads_before, b->threads_after);
}

static void release(outcome *o)
{
    free(o->hist);
    free(o->logits);
}

/* Overwrite the packets of frames [from, n) (25 fps) with 0xff. */
static void damage_tail(const char *path, int from)
{
    AVFormatContext *fmt = NULL;
    REQUIRE(avformat_open_input(&fmt, path, NULL, NULL) == 0 && avformat_find_stream_info(fmt, NULL) >= 0, "open %s", path);
    const AVStream *st = fmt->streams[0];
    const int64_t step = av_rescale_q(1, (AVRational){1, 25}, st->time_base);
    AVPacket *pkt = av_packet_alloc();
    FILE *f = fopen(path, "r+b");
    REQUIRE(pkt && f, "damage %s", path);
    int done = 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        if ((pkt->pts - st->start_time) / step >= from && pkt->pos > 0 && fseek(f, pkt->pos, SEEK_SET) == 0) {
            for (int b = 0; b < pkt->size; b++) fputc(0xff, f);
            done++;
        }
        av_packet_unref(pkt);
    }
    REQUIRE(done > 64, "only %d packets damaged", done);
    fclose(f);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
}

static void make_clip(const char *path, int pattern, int n_frames, int gop)
{
    char err[256];
    vg_params p = {.path = path, .codec = "mpeg4", .width = 96, .height = 64, .n_frames = n_frames, .fps_num = 25,
                   .fps_den = 1, .gop = gop, .pattern = pattern};
    REQUIRE(vg_write(&p, err, sizeof err) == 0, "%s", err);
}

TEST_MAIN_BEGIN
char tp[1024], mp[1024];
fx_require_model("-text-F32.gguf", tp, sizeof tp);
fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
vllm_model_params p = vllm_model_default_params();
p.mmproj_path = mp;
p.vision_precision = VLLM_VISION_F32;
REQUIRE(vllm_model_load(tp, &p, &model) == VLLM_OK, "%s", vllm_last_error());
vllm_model_info mi = {.struct_size = sizeof mi};
vllm_model_get_info(model, &mi);
snprintf(tmpdir, sizeof tmpdir, "/tmp/vl_pipe_XXXXXX");
REQUIRE(mkdtemp(tmpdir), "mkdtemp");
char clip[512], broken[512];
snprintf(clip, sizeof clip, "%s/motion.mp4", tmpdir);
snprintf(broken, sizeof broken, "%s/broken.mp4", tmpdir);
make_clip(clip, VG_MOTION, 250, 25);        /* 10 s: 10 frames sampled at 1 fps */
make_clip(broken, VG_MOTION, 300, 300);     /* one key frame: the damaged tail is decoded packet by packet */
damage_tail(broken, 125);

outcome a, b;
run(clip, 1, 0, 0, 0, &a);
run(clip, 0, 0, 0, 0, &b);
CHECK(a.st == VLLM_OK && a.stats.n_frames_encoded >= 8, "pipelined: %s, %lld frames", a.msg, (long long)a.stats.n_frames_encoded);
same("plain", &a, &b, mi.n_vocab);
CHECK(a.max_threads > b.max_threads, "no decoding thread seen: %d threads during the pipelined push, %d in line",
      a.max_threads, b.max_threads);
release(&a), release(&b);

run(clip, 1, 0.02f, 0, 0, &a); /* the square moves little: most frames are near-duplicates */
run(clip, 0, 0.02f, 0, 0, &b);
CHECK(a.stats.n_frames_deduped > 0, "dedup dropped no frame");
same("dedup", &a, &b, mi.n_vocab);
release(&a), release(&b);

run(broken, 1, 0, 0, 0, &a);
run(broken, 0, 0, 0, 0, &b);
CHECK(a.st == VLLM_ERR_DECODE && a.stats.n_frames_seen >= 2, "damaged tail: %s '%s' after %lld frames",
      vllm_status_string(a.st), a.msg, (long long)a.stats.n_frames_seen);
same("decode error", &a, &b, mi.n_vocab);
release(&a), release(&b);

for (int by_callback = 0; by_callback < 2; by_callback++) {
    run(clip, 1, 0, 4, by_callback, &a);
    run(clip, 0, 0, 4, by_callback, &b);
    CHECK(a.st == VLLM_ERR_CANCELLED && a.stats.n_frames_seen == 4, "cancel at frame 4 (%s): %s after %lld frames",
          by_callback ? "callback" : "vllm_session_cancel", vllm_status_string(a.st), (long long)a.stats.n_frames_seen);
    same(by_callback ? "cancel by the progress callback" : "vllm_session_cancel", &a, &b, mi.n_vocab);
    release(&a), release(&b);
}
unlink(clip);
unlink(broken);
rmdir(tmpdir);
vllm_model_free(model);
TEST_MAIN_END
