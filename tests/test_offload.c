/* The KV offload tier: a live stream in a small context offloads its
 * oldest frames compressed instead of losing them; recalling a time range
 * or asking a question brings frames back in time order. Checked against
 * a fresh session given exactly the frames that should be in context:
 * identical token for token (so labels, markers and order are right).
 * Then the RAM cap (spill file, drop), errors, and flat memory. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compression/kv_offload.h"
#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 64
#define H 48

static uint8_t rgb[W * H * 3];

static vllm_status push(vllm_session *s, int i)
{
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)((p * 7 + i * 29 + (p / (W * 3)) * i) & 255);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i * 1.0};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

static vllm_offload_stats ostats(vllm_session *s)
{
    vllm_offload_stats o = {.struct_size = sizeof o};
    CHECK(vllm_session_get_offload_stats(s, &o) == VLLM_OK, "offload stats: %s", vllm_last_error());
    return o;
}

static vllm_session_stats sstats(vllm_session *s)
{
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    return st;
}

/* A fresh, large session given frames `ids` (in order) must hold exactly
 * the same context as `a`. */
static int same_context(vllm_model *m, vllm_session *a, const int *ids, int n, vllm_kv_type kv)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 2048;
    sp.kv_type = kv;
    vllm_session *b = NULL;
    REQUIRE(vllm_session_create(m, &sp, &b) == VLLM_OK, "%s", vllm_last_error());
    for (int i = 0; i < n; i++) REQUIRE(push(b, ids[i]) == VLLM_OK, "%s", vllm_session_last_error(b));
    const int32_t *ha, *hb;
    size_t na, nb;
    vllm_session_history(a, &ha, &na);
    vllm_session_history(b, &hb, &nb);
    int same = na == nb && !memcmp(ha, hb, na * sizeof *ha);
    if (!same) fprintf(stderr, "contexts differ: %zu vs %zu positions\n", na, nb);
    vllm_session_free(b);
    return same;
}

static void store_units(void)
{
    /* round trip through RAM and the spill file, element sizes 1/2/4 */
    for (int es = 1; es <= 4; es *= 2) {
        vl_kv_store st;
        vl_kv_store_settings set = {.max_ram_bytes = 5000, .spill_dir = "/tmp", .elem_size = es};
        REQUIRE(vl_kv_store_init(&st, &set, 2) == VLLM_OK, "%s", vllm_last_error());
        uint8_t raw[4][4001], back[4001];
        int32_t hist[3] = {1, -1, 2};
        float km[2] = {0.5f, -1};
        for (int b = 0; b < 4; b++) {
            uint32_t x = 2463534242u + (uint32_t)b;
            for (int i = 0; i < 4001; i++) { /* random low bytes, a near-constant top byte (like float exponents) */
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                raw[b][i] = es > 1 && i % es == es - 1 ? (uint8_t)(60 + b) : (uint8_t)x;
            }
            int32_t id;
            CHECK(vl_kv_store_put(&st, raw[b], 4001, b, 3, 10 * b, hist, km, &id) == VLLM_OK && id == b, "put %d", b);
        }
        CHECK(st.c.blocks_spilled > 0 && st.c.ram_bytes <= 5000 && st.c.file_bytes > 0,
              "es %d: %lld spilled, %lld in RAM", es, (long long)st.c.blocks_spilled, (long long)st.c.ram_bytes);
        for (int b = 0; b < 4; b++) {
            memset(back, 0, sizeof back);
            CHECK(vl_kv_store_get(&st, b, back) == VLLM_OK && !memcmp(back, raw[b], 4001), "es %d block %d (%s)", es, b,
                  st.b[b].tier == VL_KV_IN_FILE ? "file" : "RAM");
        }
        vl_kv_store_free(&st);
    }
    /* no spill directory: the oldest are dropped, and say so */
    vl_kv_store st;
    vl_kv_store_settings set = {.max_ram_bytes = 100, .elem_size = 1};
    REQUIRE(vl_kv_store_init(&st, &set, 0) == VLLM_OK, "init");
    uint8_t raw[1000], back[1000];
    for (int i = 0; i < 1000; i++) raw[i] = (uint8_t)((i * 2654435761u) >> 24);
    int32_t id, h = 0;
    CHECK(vl_kv_store_put(&st, raw, sizeof raw, 0, 1, 0, &h, NULL, &id) == VLLM_OK, "put");
    CHECK(st.c.blocks_dropped == 1 && vl_kv_store_get(&st, id, back) == VLLM_ERR_STATE, "over the cap: not dropped");
    CHECK(vl_kv_store_get(&st, 7, back) == VLLM_ERR_INVALID_ARG, "unknown block accepted");
    vl_kv_store_free(&st);
    vl_kv_store_settings bad = {.max_ram_bytes = 0, .elem_size = 1};
    CHECK(vl_kv_store_init(&st, &bad, 0) == VLLM_ERR_INVALID_ARG, "zero RAM cap accepted");
    vl_kv_store_settings nodir = {.max_ram_bytes = 1, .spill_dir = "/nonexistent/dir", .elem_size = 1};
    REQUIRE(vl_kv_store_init(&st, &nodir, 0) == VLLM_OK, "init");
    CHECK(vl_kv_store_put(&st, raw, sizeof raw, 0, 1, 0, &h, NULL, &id) == VLLM_OK && st.c.blocks_dropped == 1,
          "an unusable spill directory must drop, not fail the stream");
    vl_kv_store_free(&st);
}

/* Frames resident in `s` after a recall of `recalled` frames: the
 * recalled ones, then the newest (encoded - evicted - recalled + reloads). */
static int resident_list(vllm_session *s, const int *recalled, int n_recalled, int n_pushed, int *out)
{
    vllm_session_stats st = sstats(s);
    vllm_offload_stats o = ostats(s);
    const int resident = (int)(st.n_frames_encoded - st.n_frames_evicted + o.frames_reloaded);
    int n = 0;
    for (int i = 0; i < n_recalled; i++) out[n++] = recalled[i];
    for (int i = n_pushed - (resident - n_recalled); i < n_pushed; i++) out[n++] = i;
    return n;
}

static void stream_and_recall(vllm_model *m, vllm_kv_type kv)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 256;
    sp.kv_type = kv;
    vllm_session *a = NULL;
    REQUIRE(vllm_session_create(m, &sp, &a) == VLLM_OK, "%s", vllm_last_error());
    vllm_offload_params op = vllm_offload_default_params();
    op.enabled = 1;
    op.retrieve_top_k = 0;
    REQUIRE(vllm_session_set_offload(a, &op) == VLLM_OK, "%s", vllm_session_last_error(a));
    const int n = 60;
    for (int i = 0; i < n; i++) REQUIRE(push(a, i) == VLLM_OK, "frame %d: %s", i, vllm_session_last_error(a));
    vllm_session_stats st = sstats(a);
    vllm_offload_stats o = ostats(a);
    printf("%s KV: %d frames in a %d-position window: %lld offloaded (%.1f KiB -> %.1f KiB)\n", kv ? "f16" : "f32", n,
           st.n_ctx, (long long)o.frames_offloaded, o.raw_bytes / 1024.0, o.compressed_bytes / 1024.0);
    CHECK(st.n_frames_evicted > 20 && o.frames_offloaded == st.n_frames_evicted && o.frames_in_ram == o.frames_offloaded,
          "%lld evicted, %lld offloaded", (long long)st.n_frames_evicted, (long long)o.frames_offloaded);
    CHECK(o.compressed_bytes > 0 && o.compressed_bytes < o.raw_bytes, "compression %lld -> %lld", (long long)o.raw_bytes,
          (long long)o.compressed_bytes);

    /* recall seconds [2, 5): frames 2, 3, 4 come back before the newest */
    int32_t got = -1;
    CHECK(vllm_session_recall(a, 2.0, 5.0, &got) == VLLM_OK && got == 3, "recall: %d (%s)", got,
          vllm_session_last_error(a));
    int list[256];
    const int recalled[3] = {2, 3, 4};
    int k = resident_list(a, recalled, 3, n, list);
    CHECK(same_context(m, a, list, k, kv), "context after recall is not frames 2,3,4 + the newest %d", k - 3);
    o = ostats(a);
    CHECK(o.frames_reloaded == 3 && o.frames_resident == 3, "reloaded %lld, resident %lld", (long long)o.frames_reloaded,
          (long long)o.frames_resident);

    /* the stream goes on: recalled frames wait for the question ... */
    for (int i = n; i < n + 8; i++) REQUIRE(push(a, i) == VLLM_OK, "frame %d", i);
    o = ostats(a);
    CHECK(o.frames_resident == 3, "recalled frames evicted before the question: %lld left", (long long)o.frames_resident);
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 2;
    CHECK(vllm_session_generate(a, "What happened at seconds 2 to 4?", &gp) == VLLM_OK, "%s", vllm_session_last_error(a));
    /* ... then, being the oldest, leave first, without being compressed
     * again, and without counting again in n_frames_evicted (each frame
     * counts once: the count never exceeds the frames seen) */
    o = ostats(a);
    const int64_t before = o.frames_offloaded, evicted_before = sstats(a).n_frames_evicted;
    for (int i = n + 8; i < n + 16; i++) REQUIRE(push(a, i) == VLLM_OK, "frame %d", i);
    o = ostats(a);
    const int64_t evicted = sstats(a).n_frames_evicted - evicted_before;
    CHECK(o.frames_resident == 0 && evicted >= 1 && o.frames_offloaded == before + evicted,
          "after more frames: %lld resident, %lld evicted, %lld offloaded (%lld before)", (long long)o.frames_resident,
          (long long)evicted, (long long)o.frames_offloaded, (long long)before);

    /* a question: the top-2 stored frames by similarity come back first */
    op.retrieve_top_k = 2;
    REQUIRE(vllm_session_set_offload(a, &op) == VLLM_OK, "%s", vllm_session_last_error(a)); /* empties the store */
    o = ostats(a);
    CHECK(o.frames_offloaded == 0, "changing the settings keeps %lld stale frames", (long long)o.frames_offloaded);
    for (int i = n + 16; i < n + 48; i++) REQUIRE(push(a, i) == VLLM_OK, "frame %d", i);
    CHECK(vllm_session_generate(a, "What happened at the start?", &gp) == VLLM_OK, "%s", vllm_session_last_error(a));
    o = ostats(a);
    printf("question: %lld retrieval, %lld frames reloaded of %lld stored\n", (long long)o.retrievals,
           (long long)o.frames_reloaded, (long long)o.frames_offloaded);
    CHECK(o.retrievals == 1 && o.frames_reloaded == 2 && o.frames_resident == 2, "retrieval %lld, reloaded %lld",
          (long long)o.retrievals, (long long)o.frames_reloaded);
    const float *lg = vllm_session_logits(a);
    CHECK(lg && isfinite(lg[0]), "logits after retrieval");

    /* a snapshot does not carry the store; loading empties it */
    char path[] = "/tmp/videollm-offload-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp");
    CHECK(vllm_session_save(a, path) == VLLM_OK, "%s", vllm_session_last_error(a));
    CHECK(vllm_session_load(a, path) == VLLM_OK, "%s", vllm_session_last_error(a));
    remove(path);
    o = ostats(a);
    CHECK(o.frames_offloaded == 0 && vllm_session_recall(a, 0, 1000, &got) == VLLM_OK && got == 0,
          "store after load: %lld frames, recall %d", (long long)o.frames_offloaded, got);
    vllm_session_free(a);
}

static void caps_and_memory(vllm_model *m)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 256;
    vllm_session *a = NULL;
    REQUIRE(vllm_session_create(m, &sp, &a) == VLLM_OK, "%s", vllm_last_error());
    vllm_offload_params op = vllm_offload_default_params();
    op.enabled = 1;
    op.retrieve_top_k = 0;
    op.max_ram_bytes = 64 << 10;
    op.spill_dir = "/tmp";
    REQUIRE(vllm_session_set_offload(a, &op) == VLLM_OK, "%s", vllm_session_last_error(a));
    for (int i = 0; i < 80; i++) REQUIRE(push(a, i) == VLLM_OK, "frame %d", i);
    vllm_offload_stats o = ostats(a);
    CHECK(o.frames_in_file > 0 && o.ram_bytes <= op.max_ram_bytes && o.file_bytes > 0,
          "spill: %lld in file, %lld B in RAM", (long long)o.frames_in_file, (long long)o.ram_bytes);
    /* frame 1 lives in the spill file now; it comes back exactly */
    int32_t got = 0;
    CHECK(vllm_session_recall(a, 1.0, 2.0, &got) == VLLM_OK && got == 1, "recall from file: %d", got);
    int list[256];
    const int one[1] = {1};
    int k = resident_list(a, one, 1, 80, list);
    CHECK(same_context(m, a, list, k, VLLM_KV_F32), "context after a reload from the spill file");
    vllm_session_free(a);

    /* no file: past the RAM cap frames are dropped and memory stays flat */
    REQUIRE(vllm_session_create(m, &sp, &a) == VLLM_OK, "%s", vllm_last_error());
    op.spill_dir = NULL;
    op.max_ram_bytes = 256 << 10;
    REQUIRE(vllm_session_set_offload(a, &op) == VLLM_OK, "%s", vllm_session_last_error(a));
    for (int i = 0; i < 100; i++) push(a, i);
    vllm_session_stats st = sstats(a);
    for (int i = 100; i < 500; i++) push(a, i);
    vllm_session_stats st2 = sstats(a);
    o = ostats(a);
    printf("RAM cap %lld KiB, no file: %lld frames stored, %lld dropped, %lld B in RAM; peak RSS %.1f -> %.1f MiB\n",
           (long long)op.max_ram_bytes >> 10, (long long)o.frames_offloaded, (long long)o.frames_dropped,
           (long long)o.ram_bytes, st.peak_rss_bytes / 1048576.0, st2.peak_rss_bytes / 1048576.0);
    CHECK(o.frames_dropped > 0 && o.ram_bytes <= op.max_ram_bytes, "cap not enforced");
    CHECK(vllm_session_recall(a, 0.0, 3.0, &got) == VLLM_OK && got == 0, "dropped frames came back: %d", got);
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(st2.peak_rss_bytes < st.peak_rss_bytes + (8 << 20), "memory grew by %.1f MiB",
          (st2.peak_rss_bytes - st.peak_rss_bytes) / 1048576.0);
#endif
    vllm_session_free(a);
}

static void errors(vllm_model *m)
{
    vllm_session *a = NULL;
    REQUIRE(vllm_session_create(m, NULL, &a) == VLLM_OK, "%s", vllm_last_error());
    int32_t got = 5;
    CHECK(vllm_session_recall(a, 0, 10, &got) == VLLM_ERR_STATE && got == 0, "recall with offload off");
    CHECK(strstr(vllm_session_last_error(a), "offload is off") != NULL, "message: %s", vllm_session_last_error(a));
    CHECK(vllm_session_set_offload(a, NULL) == VLLM_ERR_INVALID_ARG, "NULL params");
    vllm_offload_params op = vllm_offload_default_params();
    op.struct_size = 4;
    CHECK(vllm_session_set_offload(a, &op) == VLLM_ERR_INVALID_ARG, "struct_size 4");
    op = vllm_offload_default_params();
    op.enabled = 1;
    op.max_ram_bytes = 0;
    CHECK(vllm_session_set_offload(a, &op) == VLLM_ERR_INVALID_ARG, "zero RAM cap");
    op.max_ram_bytes = 1 << 20;
    op.retrieve_top_k = -1;
    CHECK(vllm_session_set_offload(a, &op) == VLLM_ERR_INVALID_ARG, "negative top-k");
    op.retrieve_top_k = 1;
    CHECK(vllm_session_set_offload(a, &op) == VLLM_OK, "%s", vllm_session_last_error(a));
    CHECK(vllm_session_recall(a, 5, 1, &got) == VLLM_ERR_INVALID_ARG, "reversed range");
    CHECK(vllm_session_recall(NULL, 0, 1, NULL) == VLLM_ERR_INVALID_ARG, "NULL session");
    vllm_offload_stats o = {.struct_size = 3};
    CHECK(vllm_session_get_offload_stats(a, &o) == VLLM_ERR_INVALID_ARG, "stats struct_size 3");
    CHECK(vllm_session_get_offload_stats(a, NULL) == VLLM_ERR_INVALID_ARG, "stats NULL");
    /* a question with nothing stored is an ordinary question */
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    CHECK(vllm_session_generate(a, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(a));
    o = ostats(a);
    CHECK(o.retrievals == 0, "retrieval without stored frames");
    vllm_session_free(a);
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
    store_units();
    stream_and_recall(m, VLLM_KV_F32);
    stream_and_recall(m, VLLM_KV_F16);
    caps_and_memory(m);
    errors(m);
    vllm_model_free(m);
TEST_MAIN_END
