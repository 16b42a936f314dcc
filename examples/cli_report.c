/* What `ask` and `chat` report after an answer: the --stats lines (stderr)
 * and the --json object (stdout). All JSON is built with jansson, so the
 * output is valid JSON whatever bytes the model produced. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"
#include "cli_ask.h"

static json_t *stats_json(const vllm_session_stats *st)
{
    const double ms_frame = st->n_frames_encoded ? 1000.0 * st->encode_seconds / (double)st->n_frames_encoded : 0.0;
    const double tps = st->generate_seconds > 0 ? (double)st->n_generated_tokens / st->generate_seconds : 0.0;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:f, s:f, s:f, s:f, s:I, s:f, s:I, s:f, s:f, s:f, s:I}",
                     "frames_seen", (json_int_t)st->n_frames_seen, "frames_encoded", (json_int_t)st->n_frames_encoded,
                     "frames_deduped", (json_int_t)st->n_frames_deduped, "frames_dropped", (json_int_t)st->n_frames_dropped,
                     "visual_tokens", (json_int_t)st->n_visual_tokens, "tokens_pruned", (json_int_t)st->n_tokens_pruned,
                     "n_past", (int)st->n_past, "n_ctx", (int)st->n_ctx, "decode_s", st->decode_seconds, "encode_s",
                     st->encode_seconds, "encode_ms_per_frame", ms_frame, "media_prefill_s", st->media_prefill_seconds,
                     "prompt_tokens", (json_int_t)st->n_prompt_tokens, "prompt_s", st->prompt_seconds,
                     "generated_tokens", (json_int_t)st->n_generated_tokens, "generate_s", st->generate_seconds,
                     "tokens_per_s", tps, "first_token_s", st->first_token_seconds, "peak_rss_bytes",
                     (json_int_t)st->peak_rss_bytes);
}

int cli_report_json(FILE *f, const cli_answer *a, const vllm_session_stats *st)
{
    size_t len = 0;
    char *text = cli_utf8_sanitize(a->text ? a->text : "", a->len, &len);
    json_t *ids = json_array(), *root = NULL;
    int rc = -1;
    if (!text || !ids) goto out;
    for (size_t i = 0; i < a->n; i++)
        if (json_array_append_new(ids, json_integer(a->ids[i]))) goto out;
    root = json_pack("{s:s%, s:O, s:o}", "answer", text, len, "tokens", ids, "stats", stats_json(st));
    if (!root) goto out;
    /* compact, one object per line (chat prints one per question) */
    if (json_dumpf(root, f, JSON_COMPACT | JSON_REAL_PRECISION(6)) == 0 && fputc('\n', f) != EOF) rc = 0;
out:
    if (rc) fprintf(stderr, "videollm: cannot write the JSON answer\n");
    json_decref(root);
    json_decref(ids);
    free(text);
    return rc;
}

void cli_report_stats(FILE *f, const vllm_session_stats *st)
{
    const double ms_frame = st->n_frames_encoded ? 1000.0 * st->encode_seconds / (double)st->n_frames_encoded : 0.0;
    const double tps = st->generate_seconds > 0 ? (double)st->n_generated_tokens / st->generate_seconds : 0.0;
    fprintf(f,
            "videollm: frames: %lld seen, %lld encoded, %lld deduped, %lld dropped; visual tokens %lld (%lld pruned); context %d of %d\n"
            "videollm: decode %.3f s, encode %.3f s (%.1f ms/frame), media prefill %.3f s\n"
            "videollm: text prompt %lld tokens in %.3f s; generated %lld tokens in %.3f s (%.1f tok/s)\n"
            "videollm: time to first token %.3f s after the question; peak RSS %.1f MiB\n",
            (long long)st->n_frames_seen, (long long)st->n_frames_encoded, (long long)st->n_frames_deduped,
            (long long)st->n_frames_dropped, (long long)st->n_visual_tokens, (long long)st->n_tokens_pruned, st->n_past,
            st->n_ctx, st->decode_seconds, st->encode_seconds, ms_frame, st->media_prefill_seconds,
            (long long)st->n_prompt_tokens, st->prompt_seconds, (long long)st->n_generated_tokens, st->generate_seconds,
            tps, st->first_token_seconds, (double)st->peak_rss_bytes / 1048576.0);
}
