/* An endless live stream in a small context: the oldest frames are
 * evicted and the rest shifted down with their keys re-rotated. Checked
 * against a fresh session given only the frames that survived: the
 * contexts are identical token for token. (Their logits differ: the kept
 * frames' deeper-layer states were computed while the evicted frames were
 * still there — inherent to shifting a context; the re-rotation itself is
 * checked exactly in test_kv_shift.) Memory stays flat. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 64
#define H 48

static vllm_status push(vllm_session *s, int i, uint8_t *rgb)
{
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)((p * 7 + i * 29 + (p / (W * 3)) * i) & 255);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i * 1.0};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

TEST_MAIN_BEGIN
    char tp[4400], mp[4400];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);

    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 256;
    vllm_session *a = NULL, *b = NULL;
    REQUIRE(vllm_session_create(m, &sp, &a) == VLLM_OK, "%s", vllm_last_error());
    sp.n_ctx = 1024;
    REQUIRE(vllm_session_create(m, &sp, &b) == VLLM_OK, "%s", vllm_last_error());

    uint8_t *rgb = malloc(W * H * 3);
    const int n_frames = 120; /* ~20 positions each: several times the window */
    for (int i = 0; i < n_frames; i++) CHECK(push(a, i, rgb) == VLLM_OK, "frame %d: %s", i, vllm_session_last_error(a));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(a, &st);
    const int kept = (int)(st.n_frames_encoded - st.n_frames_evicted);
    printf("stream of %d frames in a %d-position window: %lld evicted, %d kept, %d positions used\n", n_frames, st.n_ctx,
           (long long)st.n_frames_evicted, kept, st.n_past);
    CHECK(st.n_frames_evicted > 0 && st.n_past <= st.n_ctx, "no eviction or overflow");
    CHECK(st.n_past <= st.n_ctx - st.n_ctx / 4 + 32, "reserve not kept: %d of %d", st.n_past, st.n_ctx);

    /* B gets only the survivors (the newest `kept` frames) */
    for (int i = n_frames - kept; i < n_frames; i++) CHECK(push(b, i, rgb) == VLLM_OK, "B frame %d", i);
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    CHECK(vllm_session_query(a, "What moved?", &gp) == VLLM_OK, "%s", vllm_session_last_error(a));
    CHECK(vllm_session_query(b, "What moved?", &gp) == VLLM_OK, "%s", vllm_session_last_error(b));
    const int32_t *ha, *hb;
    size_t na, nb;
    vllm_session_history(a, &ha, &na);
    vllm_session_history(b, &hb, &nb);
    CHECK(na == nb && !memcmp(ha, hb, na * sizeof *ha), "contexts differ: %zu vs %zu positions", na, nb);
    const float *la = vllm_session_logits(a);
    int finite = la != NULL;
    for (int i = 0; la && i < mi.n_vocab; i++) finite &= isfinite(la[i]);
    CHECK(finite, "logits after eviction are not finite");

    /* memory: the window, not the stream, sets the size */
    vllm_session_get_stats(a, &st);
    for (int i = n_frames; i < n_frames + 200; i++) push(a, i, rgb);
    vllm_session_stats st2 = {.struct_size = sizeof st2};
    vllm_session_get_stats(a, &st2);
    CHECK(st2.n_past <= st2.n_ctx, "context overflow");
    printf("200 more frames: peak RSS %.1f -> %.1f MiB\n", st.peak_rss_bytes / 1048576.0, st2.peak_rss_bytes / 1048576.0);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's quarantine keeps freed blocks resident: RSS says nothing here */
    printf("(RSS bound not checked under AddressSanitizer)\n");
#else
    CHECK(st2.peak_rss_bytes < st.peak_rss_bytes + (8 << 20), "memory grew by %.1f MiB",
          (st2.peak_rss_bytes - st.peak_rss_bytes) / 1048576.0);
#endif
    free(rgb);
    vllm_session_free(a);
    vllm_session_free(b);
    vllm_model_free(m);
TEST_MAIN_END
