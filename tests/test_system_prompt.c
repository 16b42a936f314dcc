/* vllm_session_params.system_prompt: a system turn before the first user
 * turn, token by token as the model's chat template writes it.
 *
 * Expected ids come from tokenizing the template text written out here
 * (SmolVLM2/Idefics3: "<|im_start|>System: S<end_of_utterance>\nUser: Q
 * <end_of_utterance>\nAssistant:"; ChatML: "<|im_start|>system\nS<|im_end|>
 * \n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n") and must
 * equal the session's history after the query: for a text turn, for the
 * first turn again after a reset, and (SmolVLM2) for a turn opened by
 * media. NULL and "" keep the default (no system turn). */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define SYS "You are a terse assistant. Answer in one word."

static vllm_session *new_session(vllm_model *m, const char *system)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.system_prompt = system;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

/* The first n ids of the history equal the ids of `text` (BOS added as the
 * vocabulary asks, control tokens parsed): 1 if so, else a message. */
static int history_starts_with(const vllm_model *m, vllm_session *s, const char *text, const char *what)
{
    int32_t want[4096];
    size_t nw = 0, nh = 0;
    REQUIRE(vllm_tokenize(m, text, strlen(text), VLLM_TOKENIZE_ADD_SPECIAL | VLLM_TOKENIZE_PARSE_SPECIAL, want, 4096, &nw)
                == VLLM_OK, "%s", vllm_last_error());
    const int32_t *have;
    vllm_session_history(s, &have, &nh);
    for (size_t i = 0; i < nw; i++)
        if (i >= nh || have[i] != want[i]) {
            fprintf(stderr, "%s: position %zu of %zu: history has %d, the template text %d\n", what, i, nw,
                    i < nh ? have[i] : -2, want[i]);
            return 0;
        }
    return 1;
}

static void text_turns(vllm_model *m, const char *with_system, const char *without)
{
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 2;
    vllm_session *s = new_session(m, SYS);
    CHECK(vllm_session_query(s, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(history_starts_with(m, s, with_system, "first turn"), "the first turn is not the template's system + user text");
    vllm_session_reset(s);
    CHECK(vllm_session_query(s, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(history_starts_with(m, s, with_system, "after reset"), "after a reset the system turn is not written again");
    vllm_session_free(s);
    const char *none[] = {NULL, ""};
    for (int i = 0; i < 2; i++) {
        s = new_session(m, none[i]);
        CHECK(vllm_session_query(s, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
        const int32_t *h;
        size_t nh, nw = 0;
        vllm_session_history(s, &h, &nh);
        vllm_tokenize(m, without, strlen(without), VLLM_TOKENIZE_ADD_SPECIAL | VLLM_TOKENIZE_PARSE_SPECIAL, NULL, 0, &nw);
        CHECK(history_starts_with(m, s, without, "no system prompt") && nh == nw,
              "system_prompt %s: not the default prompt (%zu positions, want %zu)", none[i] ? "\"\"" : "NULL", nh, nw);
        vllm_session_free(s);
    }
}

TEST_MAIN_BEGIN
    char tp[4400], mp[4400], qp[4400], qdir[4400];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());

    /* SmolVLM2 (Idefics3 template) */
    text_turns(m, "<|im_start|>System: " SYS "<end_of_utterance>\nUser: Hi<end_of_utterance>\nAssistant:",
               "<|im_start|>User: Hi<end_of_utterance>\nAssistant:");

    /* a turn opened by media: the system turn, then "User:" and the image */
    vllm_session *s = new_session(m, SYS);
    char image[4400];
    snprintf(image, sizeof image, "%s/test-1.jpeg", fx_media_dir());
    CHECK(vllm_session_push_image(s, image) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    CHECK(vllm_session_query(s, "What is it?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(history_starts_with(m, s, "<|im_start|>System: " SYS "<end_of_utterance>\nUser:<fake_token_around_image>",
                              "media turn"),
          "a media turn does not open with the system turn");
    vllm_session_free(s);
    vllm_model_free(m);

    /* ChatML (Qwen2.5-VL's text model) */
    snprintf(qdir, sizeof qdir, "%s/../tiny-qwen25vl", fx_media_dir());
    if (fx_find_model(qdir, "-text-F32.gguf", qp, sizeof qp)) {
        vllm_model_params qpar = vllm_model_default_params();
        REQUIRE(vllm_model_load(qp, &qpar, &m) == VLLM_OK, "%s", vllm_last_error());
        text_turns(m, "<|im_start|>system\n" SYS "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                   "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        vllm_model_free(m);
    } else {
        fprintf(stderr, "note: no tiny-qwen25vl set next to %s: ChatML not checked\n", fx_media_dir());
    }
TEST_MAIN_END
