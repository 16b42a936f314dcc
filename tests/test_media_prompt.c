/* Visual tokens entering the text model, against llama.cpp.
 *
 * For every ref/{image,video}/<T>_ref_info.json in the fixture set, the
 * recorded chunk list (text chunks as token ids, image chunks as spans of
 * positions filled from the reference projected embeddings, in order) is
 * evaluated through the decoder; the logits after the last position must
 * match <T>_ref_last_logits.f32 and the greedy continuation the recorded
 * ids wherever the recorded top-1/top-2 gap exceeds twice the measured
 * error (teacher-forced, so one near-tie cannot derail later steps).
 *
 * The embeddings depend only on the mmproj and the media, so a run whose
 * JSON records none (e.g. the Q8_0 text model) uses those of the run with
 * the same mmproj and media that does. This checks the decoder side of
 * image/video input; the encoder's own parity is test_encoder. */
#define VLLM_EXPERIMENTAL
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "json.h"
#include "session/model.h"

static char fixtures[1024];

static float *load_f32(const char *path, size_t n)
{
    size_t len = 0;
    char *b = read_file_all(path, &len);
    if (b && len != n * sizeof(float)) {
        fprintf(stderr, "%s: %zu bytes, expected %zu floats\n", path, len, n);
        free(b);
        return NULL;
    }
    return (float *)b;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* The embeddings file of a sibling run with the same mmproj and media. */
static const char *sibling_embd(const char *dir, const json *info, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    const char *found = NULL;
    while (!found && (e = readdir(d))) {
        if (!strstr(e->d_name, "_info.json")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        json *o = json_load(p);
        const char *ef = json_str(json_get(o, "embd_file"), NULL);
        if (ef && !strcmp(json_str(json_get(o, "cfg"), ""), json_str(json_get(info, "cfg"), "?")) &&
            !strcmp(json_str(json_get(o, "mmproj"), ""), json_str(json_get(info, "mmproj"), "?")) &&
            !strcmp(json_str(json_get(o, "media"), ""), json_str(json_get(info, "media"), "?"))) {
            snprintf(out, cap, "%s", ef);
            found = out;
        }
        json_free(o);
    }
    closedir(d);
    return found;
}

static void run_case(const char *dir, const char *file)
{
    char path[2400], embd_name[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json *info = json_load(path);
    REQUIRE(info != NULL, "cannot parse %s", path);
    const char *model_name = json_str(json_get(info, "text_model"), NULL);
    const char *embd_file = json_str(json_get(info, "embd_file"), NULL);
    if (!embd_file) embd_file = sibling_embd(dir, info, embd_name, sizeof embd_name);
    const json *chunks = json_get(info, "chunks");
    const json *eshape = json_get(info, "embd_shape");
    if (!model_name || !embd_file || !chunks || !eshape) {
        printf("  %s: SKIPPED (no model, embeddings or chunk list)\n", file);
        json_free(info);
        return;
    }
    /* the set's model of the type the reference ran, found by pattern */
    if (!fx_find_as(fixtures, model_name, path, sizeof path)) {
        CHECK(0, "%s: the reference ran %s; the set has no model of that type", file, model_name);
        json_free(info);
        return;
    }
    vllm_model *m = NULL;
    if (vllm_model_load(path, NULL, &m) != VLLM_OK) {
        printf("  %s: SKIPPED (%s)\n", file, vllm_last_error());
        json_free(info);
        return;
    }
    const int V = m->llm->hp.n_vocab, E = m->llm->hp.n_embd;
    const size_t n_img = (size_t)json_num(json_at(eshape, 0), 0);
    CHECK((int)json_num(json_at(eshape, 1), 0) == E, "%s: embeddings are %d wide, model n_embd %d", file,
          (int)json_num(json_at(eshape, 1), 0), E);
    snprintf(path, sizeof path, "%s/%s", dir, embd_file);
    float *embd = load_f32(path, n_img * (size_t)E);
    snprintf(path, sizeof path, "%s/%s", dir, json_str(json_get(info, "last_logits_file"), ""));
    float *ref = load_f32(path, (size_t)V);
    REQUIRE(embd && ref, "%s: cannot read the embeddings or reference logits", file);

    const int n_ctx = (int)json_num(json_get(info, "n_ctx"), 4096);
    vl_llm_state *st = NULL;
    vl_pool *pool = vl_pool_create(2);
    REQUIRE(vl_llm_state_new(m->llm, n_ctx, VL_KV_F32, &st) == VLLM_OK, "%s", vllm_last_error());

    size_t used = 0;
    for (size_t c = 0; c < chunks->n; c++) {
        const json *ch = json_at(chunks, c);
        const int last = c + 1 == chunks->n;
        const int pos = (int)json_num(json_get(ch, "pos"), -1);
        CHECK(pos == vl_llm_state_n_past(st), "%s: chunk %zu at position %d, context at %d", file, c, pos,
              vl_llm_state_n_past(st));
        const int n = (int)json_num(json_get(ch, "n_tokens"), 0);
        vllm_status s;
        if (!strcmp(json_str(json_get(ch, "type"), ""), "text")) {
            const json *ids = json_get(ch, "token_ids");
            int32_t *t = malloc(sizeof *t * (size_t)(n + 1));
            for (int i = 0; i < n; i++) t[i] = (int32_t)json_num(json_at(ids, (size_t)i), -1);
            s = vl_llm_eval(m->llm, st, pool, t, NULL, n, last);
            free(t);
        } else {
            REQUIRE(used + (size_t)n <= n_img, "%s: chunks use more embeddings than the file has", file);
            s = vl_llm_eval(m->llm, st, pool, NULL, embd + used * (size_t)E, n, last);
            used += (size_t)n;
        }
        REQUIRE(s == VLLM_OK, "%s: chunk %zu: %s", file, c, vllm_last_error());
    }
    CHECK(used == n_img, "%s: %zu of %zu embeddings used", file, used, n_img);
    CHECK(vl_llm_state_n_past(st) == (int)json_num(json_get(info, "n_past_after_prompt"), -1), "%s: n_past %d", file,
          vl_llm_state_n_past(st));

    const float *lg = vl_llm_logits(st, NULL);
    double err = 0;
    for (int i = 0; i < V; i++) err = fmax(err, fabs((double)lg[i] - ref[i]));
    const double tol = strstr(file, "Q8_0") ? 5e-4 : 1e-4; /* see test_text_parity.c */
    printf("  %s: %d positions (%zu visual), last logits max |diff| = %.3g (tolerance %.g)\n", file,
           vl_llm_state_n_past(st), n_img, err, tol);
    CHECK(err <= tol, "%s: last logits max |diff| %.3g > %.g", file, err, tol);

    const json *gen = json_get(info, "generated_ids"), *gaps = json_get(info, "top1_minus_top2_logit_gap_per_step");
    size_t compared = 0, noise = 0;
    for (size_t i = 0; gen && i < gen->n; i++) {
        const int32_t want = (int32_t)json_num(json_at(gen, i), -1);
        const int got = argmax(vl_llm_logits(st, NULL), V);
        if (json_num(json_at(gaps, i), INFINITY) > 2 * err + 1e-6) {
            CHECK(got == want, "%s: step %zu: %d, llama.cpp %d", file, i, got, want);
            compared++;
        } else {
            noise++;
        }
        if (vl_tokenizer_is_eog(m->tok, want) || vl_llm_eval(m->llm, st, pool, &want, NULL, 1, 1) != VLLM_OK) break;
    }
    printf("  %s: greedy ids: %zu steps compared, %zu within noise\n", file, compared, noise);
    CHECK(compared > 0, "%s: nothing compared", file);

    vl_llm_state_free(st);
    vl_pool_free(pool);
    free(embd);
    free(ref);
    vllm_model_free(m);
    json_free(info);
}

TEST_MAIN_BEGIN
    snprintf(fixtures, sizeof fixtures, "%s", fx_set_dir());
    int ran = 0;
    const char *kinds[] = {"image", "video"};
    for (int k = 0; k < 2; k++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/ref/%s", fixtures, kinds[k]);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        char names[16][256];
        int n = 0;
        while ((e = readdir(d)) && n < 16) {
            size_t L = strlen(e->d_name);
            if (L > 14 && !strcmp(e->d_name + L - 14, "_ref_info.json")) snprintf(names[n++], 256, "%s", e->d_name);
        }
        closedir(d);
        for (int i = 0; i < n; i++, ran++) run_case(dir, names[i]);
    }
    REQUIRE(ran > 0, "no ref/{image,video}/*_ref_info.json under %s", fixtures);
TEST_MAIN_END
