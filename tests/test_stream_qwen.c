/* Live frames on a Qwen-VL family (frames paired into temporal patches)
 * pushed from another thread while an answer is generated: every push
 * returns OK, pairs encoded during the answer enter the context when it
 * ends, the odd last frame waits for its partner and is encoded alone
 * when the next question arrives, and nothing is lost: 9 frames pushed =
 * 9 frames encoded in 5 blocks (<|vision_start|> ... <|vision_end|>).
 * Built also under ThreadSanitizer. */
#define VLLM_EXPERIMENTAL
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 64
#define H 64

typedef struct shared {
    vllm_session *s;
    atomic_int failed, answering, during; /* during: pushes that returned while the answer ran */
    vllm_status answer;
} shared;

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static vllm_status push(vllm_session *s, int i)
{
    static _Thread_local uint8_t rgb[W * H * 3];
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)((p * 13 + i * 71) & 255);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i * 0.5};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

static int on_token(void *user, int32_t token, const char *piece, size_t len)
{
    (void)user, (void)token, (void)piece, (void)len;
    nap_ms(2); /* leave the pusher time to push during the answer */
    return 0;
}

static void *answer(void *p)
{
    shared *sh = p;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 200;
    gp.on_token = on_token;
    atomic_store(&sh->answering, 1);
    sh->answer = vllm_session_generate(sh->s, "What do you see?", &gp);
    atomic_store(&sh->answering, 0);
    return NULL;
}

static void *pusher(void *p)
{
    shared *sh = p;
    while (!atomic_load(&sh->answering)) nap_ms(1);
    for (int i = 2; i < 9; i++) {
        if (push(sh->s, i) != VLLM_OK) atomic_fetch_add(&sh->failed, 1);
        if (atomic_load(&sh->answering)) atomic_fetch_add(&sh->during, 1);
        nap_ms(5);
    }
    return NULL;
}

/* Visual blocks: the marker followed by visual rows (-1); a generated
 * marker token (random weights) is not one. */
static int count(const int32_t *h, size_t n, int32_t id)
{
    int c = 0;
    for (size_t i = 0; i + 1 < n; i++) c += h[i] == id && h[i + 1] == -1;
    return c;
}

TEST_MAIN_BEGIN
    static const char *const qwen25[] = {"tiny-qwen25vl"};
    char sets[FX_MAX_SETS][FX_SET_PATH], tp[1400], mp[1400];
    fx_sets(qwen25, 1, sets);
    const char *set = sets[0];
    if (!fx_find_model(set, "-text-F32.gguf", tp, sizeof tp) || !fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp))
        TEST_SKIP("no text + mmproj model in %s", set);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    int32_t vs = -1;
    size_t nv = 0;
    if (vllm_tokenize(m, "<|vision_start|>", 16, VLLM_TOKENIZE_PARSE_SPECIAL, &vs, 1, &nv) != VLLM_OK || nv != 1) {
        vllm_model_free(m);
        TEST_SKIP("%s is not a Qwen-VL set (no <|vision_start|> token)", set);
    }
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(push(s, 0) == VLLM_OK && push(s, 1) == VLLM_OK, "%s", vllm_session_last_error(s));

    shared sh = {.s = s};
    pthread_t ta, tb;
    REQUIRE(pthread_create(&ta, NULL, answer, &sh) == 0 && pthread_create(&tb, NULL, pusher, &sh) == 0, "threads");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    printf("%d of 7 pushes returned during the answer\n", atomic_load(&sh.during));
    CHECK(atomic_load(&sh.during) >= 1, "%d pushes returned during the answer: the busy path was not exercised",
          atomic_load(&sh.during));
    CHECK(sh.answer == VLLM_OK && atomic_load(&sh.failed) == 0, "answer %d, %d pushes failed: %s", sh.answer,
          atomic_load(&sh.failed), vllm_session_last_error(s));

    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    REQUIRE(vllm_session_generate(s, "And now?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    const int32_t *hist;
    size_t n;
    vllm_session_history(s, &hist, &n);
    const int blocks = count(hist, n, vs);
    printf("9 frames pushed: %lld seen, %lld encoded, %lld dropped, %d blocks in the context\n", (long long)st.n_frames_seen,
           (long long)st.n_frames_encoded, (long long)st.n_frames_dropped, blocks);
    CHECK(st.n_frames_seen == 9 && st.n_frames_encoded == 9 && st.n_frames_dropped == 0, "frames seen/encoded/dropped");
    CHECK(blocks == 5, "%d vision blocks, expected 4 pairs + the lone last frame", blocks);
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
