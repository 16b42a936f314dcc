/* An endless pushed stream with questions in between runs in a bounded
 * window: old question-and-answer turns leave the context too (oldest
 * first, whole turns, after the frames before them), with offload off and
 * on. 1,200 frames, a question every 20 frames, a 512-position window. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 32
#define H 32
#define N_FRAMES 1200
#define EVERY 20

static vllm_status push(vllm_session *s, int i, uint8_t *rgb)
{
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)((p * 7 + i * 29 + (p / (W * 3)) * i) & 255);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i * 0.5};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

/* Occurrences of the token sequence q[0..nq) in h[0..n). */
static int count_seq(const int32_t *h, size_t n, const int32_t *q, size_t nq)
{
    int c = 0;
    for (size_t i = 0; i + nq <= n; i++) c += !memcmp(h + i, q, nq * sizeof *q);
    return c;
}

static void run(vllm_model *m, int offload)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 512;
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    if (offload) {
        vllm_offload_params op = vllm_offload_default_params();
        op.enabled = 1;
        op.max_ram_bytes = 1 << 20;
        REQUIRE(vllm_session_set_offload(s, &op) == VLLM_OK, "%s", vllm_session_last_error(s));
    }
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 8;
    uint8_t *rgb = malloc(W * H * 3);
    int32_t anchor[4] = {0};
    const char *question = "What changed in the last frames?";
    int32_t qtok[32];
    size_t nq = 0;
    REQUIRE(vllm_tokenize(m, question, strlen(question), 0, qtok, 32, &nq) == VLLM_OK && nq > 3, "question tokens %zu", nq);
    int failures = 0, n_questions = 0;
    vllm_session_stats st = {.struct_size = sizeof st};
    for (int i = 0; i < N_FRAMES && failures < 3; i++) {
        vllm_status r = push(s, i, rgb);
        if (r != VLLM_OK) {
            failures++;
            CHECK(0, "offload %d: frame %d: %s", offload, i, vllm_session_last_error(s));
        }
        if (i == 0) {
            const int32_t *h;
            size_t n;
            vllm_session_history(s, &h, &n);
            memcpy(anchor, h, sizeof anchor);
        }
        if ((i + 1) % EVERY == 0) {
            r = vllm_session_generate(s, question, &gp);
            n_questions++;
            if (r != VLLM_OK) {
                failures++;
                CHECK(0, "offload %d: question %d after frame %d: %s", offload, n_questions, i, vllm_session_last_error(s));
            }
            vllm_session_get_stats(s, &st);
            if (st.n_past > st.n_ctx) {
                failures++;
                CHECK(0, "context overflow %d > %d", st.n_past, st.n_ctx);
            }
        }
    }
    vllm_session_get_stats(s, &st);
    const int32_t *h;
    size_t n;
    vllm_session_history(s, &h, &n);
    const int in_context = count_seq(h, n, qtok + 1, nq - 1); /* its first word may join what precedes it */
    printf("offload %d: %lld frames seen, %lld evicted, %d questions asked, %d still in the %zu-position context\n", offload,
           (long long)st.n_frames_seen, (long long)st.n_frames_evicted, n_questions, in_context, n);
    CHECK(st.n_frames_seen == N_FRAMES && n_questions == N_FRAMES / EVERY, "offload %d: the stream stopped early", offload);
    CHECK(in_context >= 1 && in_context < 10, "offload %d: %d questions in the context (old turns were not evicted)",
          offload, in_context);
    CHECK(n >= 4 && !memcmp(h, anchor, sizeof anchor), "offload %d: the conversation's opening tokens were evicted",
          offload);
    CHECK(st.n_frames_evicted <= st.n_frames_seen, "offload %d: %lld frames evicted of %lld seen", offload,
          (long long)st.n_frames_evicted, (long long)st.n_frames_seen);
    /* a snapshot keeps the turns evictable: the restored stream goes on */
    if (!offload) {
        char snap[] = "/tmp/videollm-turns-XXXXXX";
        int fd = mkstemp(snap);
        REQUIRE(fd >= 0, "mkstemp");
        close(fd);
        vllm_session *r = NULL;
        REQUIRE(vllm_session_create(m, &sp, &r) == VLLM_OK, "%s", vllm_last_error());
        CHECK(vllm_session_save(s, snap) == VLLM_OK && vllm_session_load(r, snap) == VLLM_OK, "snapshot: %s / %s",
              vllm_session_last_error(s), vllm_session_last_error(r));
        remove(snap);
        for (int i = N_FRAMES; i < N_FRAMES + 10 * EVERY && failures < 3; i++) {
            if (push(r, i, rgb) != VLLM_OK) failures++;
            if ((i + 1) % EVERY == 0 && vllm_session_generate(r, question, &gp) != VLLM_OK) failures++;
        }
        CHECK(failures == 0, "restored stream: %s", vllm_session_last_error(r));
        vllm_session_history(r, &h, &n);
        CHECK(count_seq(h, n, qtok + 1, nq - 1) < 10, "restored stream keeps every turn");
        vllm_session_free(r);
    }
    free(rgb);
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    char tp[1024], mp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    run(m, 0);
    run(m, 1);
    vllm_model_free(m);
TEST_MAIN_END
