/* What `ask` and `chat` report after an answer: the --stats lines (stderr)
 * and the --json object (stdout).
 *
 * Rules: every second of `ask` is accounted to a named stage (load,
 * decode, encode, media prefill, prompt, generate; "other" is the measured
 * remainder, so the stages add up to the wall time); a count and the time
 * next to it describe the same work (media: session totals; the question:
 * the difference around that question, so chat never mixes cumulative
 * counts with one question's time); why generation stopped is always said.
 * All JSON is built with jansson, so the output is valid JSON whatever
 * bytes the model produced. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"
#include "cli_ask.h"

static const char *stop_name(vllm_stop_reason r)
{
    switch (r) {
    case VLLM_STOP_EOG: return "eos";
    case VLLM_STOP_MAX_TOKENS: return "max_tokens";
    case VLLM_STOP_STRING: return "stop_string";
    case VLLM_STOP_CONTEXT_FULL: return "context_full";
    case VLLM_STOP_CANCELLED: return "cancelled";
    default: return "none";
    }
}

/* The figures of the last question (difference of the stats around it). */
typedef struct question_figures {
    int64_t prompt_tokens, generated_tokens;
    double prompt_s, generate_s, other_s; /* other: the rest of the question's wall time */
} question_figures;

static question_figures question(const cli_run_report *r)
{
    question_figures q;
    q.prompt_tokens = r->after.n_prompt_tokens - r->before.n_prompt_tokens;
    q.generated_tokens = r->after.n_generated_tokens - r->before.n_generated_tokens;
    q.prompt_s = r->after.prompt_seconds - r->before.prompt_seconds;
    q.generate_s = r->after.generate_seconds - r->before.generate_seconds;
    q.other_s = r->answer_s - q.prompt_s - q.generate_s;
    return q;
}

/* The media stages of the whole run so far (from the session's totals). */
static double media_seconds(const vllm_session_stats *st)
{
    return st->decode_seconds + st->encode_seconds + st->media_prefill_seconds;
}

/* ask: the remainder of the wall time after the named stages. */
static double ask_other_seconds(const cli_run_report *r)
{
    const question_figures q = question(r);
    return r->wall_s - r->load_s - media_seconds(&r->after) - q.prompt_s - q.generate_s;
}

/* ---- --json ---------------------------------------------------------------- */

static json_t *stats_json(const cli_ask_options *o, const cli_run_report *r)
{
    const vllm_session_stats *st = &r->after;
    const question_figures q = question(r);
    const double ms_frame = st->n_frames_encoded ? 1000.0 * st->encode_seconds / (double)st->n_frames_encoded : 0.0;
    const double tps = q.generate_s > 0 ? (double)q.generated_tokens / q.generate_s : 0.0;
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:I, s:f, s:f, s:f, s:f,"
        " s:I}",
        "frames_seen", (json_int_t)st->n_frames_seen, "frames_encoded", (json_int_t)st->n_frames_encoded,
        "frames_deduped", (json_int_t)st->n_frames_deduped, "frames_dropped", (json_int_t)st->n_frames_dropped,
        "frames_evicted", (json_int_t)st->n_frames_evicted, "visual_tokens", (json_int_t)st->n_visual_tokens,
        "tokens_pruned", (json_int_t)st->n_tokens_pruned, "n_past", (int)st->n_past, "n_ctx", (int)st->n_ctx,
        "load_s", r->load_s, "decode_s", st->decode_seconds, "encode_s", st->encode_seconds, "encode_ms_per_frame",
        ms_frame, "media_prefill_s", st->media_prefill_seconds, "prompt_tokens", (json_int_t)q.prompt_tokens,
        "prompt_s", q.prompt_s, "generated_tokens", (json_int_t)q.generated_tokens, "generate_s", q.generate_s,
        "tokens_per_s", tps, "first_token_s", st->first_token_seconds, "answer_s", r->answer_s, "peak_rss_bytes",
        (json_int_t)st->peak_rss_bytes);
    if (!j) return NULL;
    int bad = 0;
    if (r->chat) {
        bad |= json_object_set_new(j, "question", json_integer(r->question));
        bad |= json_object_set_new(j, "other_s", json_real(q.other_s)); /* of this question */
    } else {
        bad |= json_object_set_new(j, "wall_s", json_real(r->wall_s));
        bad |= json_object_set_new(j, "other_s", json_real(ask_other_seconds(r)));
    }
    bad |= json_object_set_new(j, "seed", json_integer((json_int_t)o->gp.seed));
    bad |= json_object_set_new(j, "seed_from_clock", json_boolean(o->gp.temperature > 0 && !o->seed_given));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int cli_report_json(FILE *f, const cli_answer *a, const cli_ask_options *o, const cli_run_report *r)
{
    size_t len = 0;
    char *text = cli_utf8_sanitize(a->text ? a->text : "", a->len, &len);
    json_t *ids = json_array(), *root = NULL;
    int rc = -1;
    if (!text || !ids) goto out;
    for (size_t i = 0; i < a->n; i++)
        if (json_array_append_new(ids, json_integer(a->ids[i]))) goto out;
    root = json_pack("{s:s%, s:O, s:s, s:o}", "answer", text, len, "tokens", ids, "stop",
                     stop_name(r->after.last_stop), "stats", stats_json(o, r));
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

/* ---- --stats ---------------------------------------------------------------- */

/* "12.345 ms" below a second (sub-millisecond times stay visible), else "1.234 s". */
static const char *dur(char buf[32], double s)
{
    if (s < 1.0 && s > -1.0) snprintf(buf, 32, "%.3f ms", s * 1e3);
    else snprintf(buf, 32, "%.3f s", s);
    return buf;
}

static void stop_line(FILE *f, const cli_ask_options *o, const vllm_session_stats *st)
{
    switch (st->last_stop) {
    case VLLM_STOP_EOG: fprintf(f, "videollm: stopped: end of answer (eos)\n"); break;
    case VLLM_STOP_MAX_TOKENS: fprintf(f, "videollm: stopped: max tokens (-n %d): the answer may be cut\n", o->gp.max_tokens); break;
    case VLLM_STOP_STRING: fprintf(f, "videollm: stopped: a --stop string was generated\n"); break;
    case VLLM_STOP_CONTEXT_FULL:
        fprintf(f, "videollm: stopped: context full (%d of %d positions): the answer is cut; raise -c or shorten the media\n",
                st->n_past, st->n_ctx);
        break;
    case VLLM_STOP_CANCELLED: fprintf(f, "videollm: stopped: cancelled\n"); break;
    default: fprintf(f, "videollm: stopped: -\n"); break;
    }
}

void cli_report_media(FILE *f, const cli_run_report *r)
{
    const vllm_session_stats *st = r->chat ? &r->media : &r->after;
    char b[4][32];
    fprintf(f, "videollm: media: %lld frames seen, %lld encoded, %lld deduped, %lld dropped, %lld evicted; "
               "%lld visual tokens (%lld pruned)\n",
            (long long)st->n_frames_seen, (long long)st->n_frames_encoded, (long long)st->n_frames_deduped,
            (long long)st->n_frames_dropped, (long long)st->n_frames_evicted, (long long)st->n_visual_tokens,
            (long long)st->n_tokens_pruned);
    if (r->chat)
        fprintf(f, "videollm: load %s, decode %s, encode %s, media prefill %s\n", dur(b[0], r->load_s),
                dur(b[1], st->decode_seconds), dur(b[2], st->encode_seconds), dur(b[3], st->media_prefill_seconds));
}

void cli_report_stats(FILE *f, const cli_ask_options *o, const cli_run_report *r)
{
    const vllm_session_stats *st = &r->after;
    const question_figures q = question(r);
    const double tps = q.generate_s > 0 ? (double)q.generated_tokens / q.generate_s : 0.0;
    char b[9][32];
    stop_line(f, o, st);
    if (!r->chat) cli_report_media(f, r);
    char label[32] = "question:";
    if (r->chat) snprintf(label, sizeof label, "question %d:", r->question);
    fprintf(f, "videollm: %s prompt %lld tokens in %s; generated %lld tokens in %s (%.1f tok/s); first token after %s\n",
            label, (long long)q.prompt_tokens, dur(b[0], q.prompt_s), (long long)q.generated_tokens, dur(b[1], q.generate_s),
            tps, dur(b[2], st->first_token_seconds));
    if (r->chat)
        fprintf(f, "videollm: question %d took %s = prompt %s + generate %s + other %s\n", r->question,
                dur(b[0], r->answer_s), dur(b[1], q.prompt_s), dur(b[2], q.generate_s), dur(b[3], q.other_s));
    else
        fprintf(f, "videollm: wall %s = load %s + decode %s + encode %s + media prefill %s + prompt %s + generate %s + other %s\n",
                dur(b[0], r->wall_s), dur(b[1], r->load_s), dur(b[2], st->decode_seconds), dur(b[3], st->encode_seconds),
                dur(b[4], st->media_prefill_seconds), dur(b[5], q.prompt_s), dur(b[6], q.generate_s),
                dur(b[7], ask_other_seconds(r)));
    if (o->gp.temperature > 0)
        fprintf(f, "videollm: context %d of %d positions; peak RSS %.1f MiB; seed %llu%s\n", st->n_past, st->n_ctx,
                (double)st->peak_rss_bytes / 1048576.0, (unsigned long long)o->gp.seed,
                o->seed_given ? "" : " (from the clock; --seed repeats this answer)");
    else
        fprintf(f, "videollm: context %d of %d positions; peak RSS %.1f MiB; greedy (no seed used)\n", st->n_past,
                st->n_ctx, (double)st->peak_rss_bytes / 1048576.0);
}
