/* The public session API on the tiny fixture model: determinism across
 * runs and thread counts, the pull and callback styles agreeing, stop
 * strings, max_tokens, cancellation, context limits, and argument errors. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define MAXGEN 64

typedef struct run {
    int32_t ids[MAXGEN + 1];
    int n;
    char text[8192];
    size_t len;
} run;

static int collect(void *user, int32_t token, const char *piece, size_t len)
{
    run *r = user;
    if (token >= 0 && r->n < MAXGEN + 1) r->ids[r->n++] = token;
    if (r->len + len < sizeof r->text) {
        memcpy(r->text + r->len, piece, len);
        r->len += len;
    }
    return 0;
}

static vllm_status generate(vllm_model *m, int threads, float temp, uint64_t seed, run *r)
{
    memset(r, 0, sizeof *r);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = threads;
    sp.n_ctx = 256;
    vllm_session *s = NULL;
    vllm_status st = vllm_session_create(m, &sp, &s);
    if (st != VLLM_OK) return st;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = MAXGEN;
    gp.temperature = temp;
    gp.seed = seed;
    gp.top_k = 0;
    gp.top_p = 1.0f;
    gp.min_p = 0.0f;
    gp.on_token = collect;
    gp.user_data = r;
    st = vllm_session_generate(s, "Once upon a time", &gp);
    vllm_session_free(s);
    return st;
}

static int cancel_after_3(void *user, int32_t token, const char *piece, size_t len)
{
    (void)token, (void)piece, (void)len;
    return ++*(int *)user >= 3;
}

TEST_MAIN_BEGIN
    char path[4400];
    fx_require_model("-text-F32.gguf", path, sizeof path);
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(path, NULL, &m) == VLLM_OK, "%s", vllm_last_error());

    /* determinism: same seed -> same tokens, on 1 and 2 threads */
    run a, b, c, d;
    CHECK(generate(m, 1, 0.8f, 1234, &a) == VLLM_OK, "%s", vllm_last_error());
    CHECK(generate(m, 1, 0.8f, 1234, &b) == VLLM_OK, "%s", vllm_last_error());
    CHECK(generate(m, 2, 0.8f, 1234, &c) == VLLM_OK, "%s", vllm_last_error());
    CHECK(generate(m, 2, 0.8f, 99, &d) == VLLM_OK, "%s", vllm_last_error());
    CHECK(a.n > 0, "nothing generated");
    CHECK(a.n == b.n && !memcmp(a.ids, b.ids, (size_t)a.n * 4), "two runs with seed 1234 differ");
    CHECK(a.n == c.n && !memcmp(a.ids, c.ids, (size_t)a.n * 4), "1 thread and 2 threads differ");
    CHECK(a.len == c.len && !memcmp(a.text, c.text, a.len), "streamed text differs across thread counts");
    CHECK(a.n != d.n || memcmp(a.ids, d.ids, (size_t)a.n * 4), "seeds 1234 and 99 gave the same %d tokens", a.n);
    printf("seeded sampling: %d tokens, identical across runs and thread counts\n", a.n);

    /* pull style gives what the callback saw; detokenize agrees with the pieces */
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 12;
    run cb = {0};
    gp.on_token = collect;
    gp.user_data = &cb;
    CHECK(vllm_session_query(s, "Once upon a time", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    int32_t pulled[32];
    int np = 0;
    char text[1024];
    size_t tl = 0;
    vllm_status st;
    int32_t tok;
    const char *piece;
    size_t plen;
    while ((st = vllm_session_next_token(s, &tok, &piece, &plen)) == VLLM_OK) {
        if (np < 32) pulled[np++] = tok;
        if (tl + plen < sizeof text) memcpy(text + tl, piece, plen), tl += plen;
    }
    if (st == VLLM_DONE && plen && tl + plen < sizeof text) memcpy(text + tl, piece, plen), tl += plen;
    CHECK(st == VLLM_DONE, "generation ended with %s", vllm_status_string(st));
    CHECK(np == 12 && cb.n == 12 && !memcmp(pulled, cb.ids, 48), "pull %d vs callback %d tokens", np, cb.n);
    CHECK(tl == cb.len && !memcmp(text, cb.text, tl), "pulled text differs from streamed text");
    char detok[1024];
    size_t dl = 0;
    CHECK(vllm_detokenize(m, pulled, (size_t)np, 0, detok, sizeof detok, &dl) == VLLM_OK, "%s", vllm_last_error());
    CHECK(dl == tl && !memcmp(detok, text, tl), "streamed pieces (%zu bytes) != detokenized ids (%zu bytes)", tl, dl);
    vllm_session_stats stats = {.struct_size = sizeof stats};
    CHECK(vllm_session_get_stats(s, &stats) == VLLM_OK, "stats");
    CHECK(stats.last_stop == VLLM_STOP_MAX_TOKENS, "stop reason %d", (int)stats.last_stop);
    CHECK(vllm_session_next_token(s, NULL, NULL, NULL) == VLLM_ERR_STATE, "next_token after the end must be a state error");

    /* a second turn keeps the context: positions only grow */
    int32_t past = stats.n_past;
    gp.max_tokens = 4;
    gp.on_token = NULL;
    CHECK(vllm_session_generate(s, "And then?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(vllm_session_get_stats(s, &stats) == VLLM_OK && stats.n_past > past, "second turn did not extend the context");

    /* stop string: generation ends at the first occurrence, text before it is kept */
    if (tl > 4) {
        char stop[8];
        memcpy(stop, text + tl / 2, 2);
        stop[2] = '\0';
        const char *stops[] = {stop};
        vllm_session_reset(s);
        run r = {0};
        gp.max_tokens = 12;
        gp.stop_strings = stops;
        gp.n_stop_strings = 1;
        gp.on_token = collect;
        gp.user_data = &r;
        CHECK(vllm_session_generate(s, "Once upon a time", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
        const char *first = strstr(text, stop);
        size_t expect = first ? (size_t)(first - text) : tl;
        CHECK(r.len == expect && !memcmp(r.text, text, expect), "stop string '%s': got %zu bytes, want %zu", stop, r.len, expect);
        CHECK(vllm_session_get_stats(s, &stats) == VLLM_OK && stats.last_stop == VLLM_STOP_STRING, "stop reason %d", (int)stats.last_stop);
        /* pull style: the call after the stop string reports the end */
        gp.on_token = NULL;
        vllm_session_reset(s);
        CHECK(vllm_session_query(s, "Once upon a time", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
        int pulls = 0;
        while ((st = vllm_session_next_token(s, NULL, NULL, NULL)) == VLLM_OK) pulls++;
        CHECK(st == VLLM_DONE && pulls > 0 && pulls < 12, "after a stop string: %s after %d tokens", vllm_status_string(st), pulls);
        gp.stop_strings = NULL;
        gp.n_stop_strings = 0;
    }

    /* cancellation from the callback */
    int calls = 0;
    gp.on_token = cancel_after_3;
    gp.user_data = &calls;
    gp.max_tokens = 20;
    vllm_session_reset(s);
    CHECK(vllm_session_generate(s, "Once upon a time", &gp) == VLLM_ERR_CANCELLED, "callback cancel not honoured");
    CHECK(calls == 3, "callback called %d times after asking to stop at 3", calls);
    vllm_session_cancel(s);
    gp.on_token = NULL;
    CHECK(vllm_session_generate(s, "x", &gp) == VLLM_OK, "a new query must clear an old cancel request: %s", vllm_session_last_error(s));
    vllm_session_free(s);

    /* context limits: a prompt that cannot fit is an error and changes nothing */
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 8;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_query(s, "Once upon a time there was a very long prompt", NULL) == VLLM_ERR_CONTEXT_FULL,
          "overlong prompt: %s", vllm_session_last_error(s));
    CHECK(strstr(vllm_session_last_error(s), "context") != NULL, "message: %s", vllm_session_last_error(s));
    CHECK(vllm_session_get_stats(s, &stats) == VLLM_OK && stats.n_past == 0, "failed prompt left %d positions", stats.n_past);
    gp = vllm_generate_default_params();
    gp.max_tokens = 100;
    gp.raw = 1;
    CHECK(vllm_session_generate(s, "Once", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(vllm_session_get_stats(s, &stats) == VLLM_OK && stats.last_stop == VLLM_STOP_CONTEXT_FULL,
          "generation past the window must stop with CONTEXT_FULL, got %d", (int)stats.last_stop);
    vllm_session_free(s);

    /* the default KV cache is f16 (as llama.cpp's): half the memory and read traffic of f32 */
    CHECK(vllm_session_default_params().kv_type == VLLM_KV_F16, "default kv_type %d",
          (int)vllm_session_default_params().kv_type);

    /* argument errors */
    CHECK(vllm_session_create(NULL, NULL, &s) == VLLM_ERR_INVALID_ARG, "NULL model");
    CHECK(vllm_session_create(m, NULL, NULL) == VLLM_ERR_INVALID_ARG, "NULL out");
    sp = vllm_session_default_params();
    sp.struct_size = 3;
    CHECK(vllm_session_create(m, &sp, &s) == VLLM_ERR_INVALID_ARG && s == NULL, "bad struct_size");
    sp = vllm_session_default_params();
    sp.kv_type = (vllm_kv_type)7;
    CHECK(vllm_session_create(m, &sp, &s) == VLLM_ERR_INVALID_ARG, "bad kv_type");
    CHECK(vllm_session_query(NULL, "x", NULL) == VLLM_ERR_INVALID_ARG, "NULL session");
    CHECK(vllm_session_next_token(NULL, NULL, NULL, NULL) == VLLM_ERR_INVALID_ARG, "NULL session");
    int32_t bad = 999999;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_query(s, NULL, NULL) == VLLM_ERR_INVALID_ARG, "NULL prompt");
    CHECK(vllm_session_eval_tokens(s, &bad, 1) == VLLM_ERR_INVALID_ARG, "out-of-vocabulary id accepted");
    CHECK(strstr(vllm_session_last_error(s), "999999") != NULL, "message names the id: %s", vllm_session_last_error(s));
    char small[2];
    size_t n;
    int32_t ids[3] = {46, 1198, 2402};
    CHECK(vllm_detokenize(m, ids, 3, 0, small, sizeof small, &n) == VLLM_ERR_BUFFER_TOO_SMALL && n > 2, "detokenize size");
    CHECK(vllm_tokenize(m, "Once upon", 9, 0, NULL, 0, &n) == VLLM_ERR_BUFFER_TOO_SMALL && n == 3, "tokenize size query gave %zu", n); /* O|nce| upon */
    vllm_session_free(s);

    vllm_model *bad_model = NULL;
    CHECK(vllm_model_load("/nonexistent/model.gguf", NULL, &bad_model) == VLLM_ERR_IO && bad_model == NULL, "missing file");
    CHECK(strstr(vllm_last_error(), "/nonexistent/model.gguf") != NULL, "message names the file: %s", vllm_last_error());
    CHECK(vllm_model_load(NULL, NULL, &bad_model) == VLLM_ERR_INVALID_ARG, "NULL path");
    vllm_model_free(m);
    vllm_session_free(NULL);
    vllm_model_free(NULL);
TEST_MAIN_END
