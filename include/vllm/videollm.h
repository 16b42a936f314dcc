/*
 * libvideollm — video large language models on the CPU, in process.
 *
 * This is the only public header. Everything in the "stable" section keeps
 * its ABI for the whole libvideollm.so.1 series: functions are only ever
 * added, and parameter structs only grow at their end (each starts with
 * `struct_size`, filled in by the matching vllm_*_default_params()).
 * The "experimental" section at the bottom may change between minor
 * releases; it is only visible when VLLM_EXPERIMENTAL is defined.
 *
 * Conventions
 *  - Every fallible call returns a vllm_status. VLLM_OK (0) and VLLM_DONE (1)
 *    are successes; every error is negative (test with vllm_is_error()).
 *  - After an error, vllm_last_error() gives a human message for the calling
 *    thread (which file, which key, which byte offset). Session calls also
 *    keep the message in the session: vllm_session_last_error().
 *  - Strings are UTF-8 and NUL-terminated unless a length is passed.
 *  - Nothing the caller passes in is modified unless it is an output
 *    parameter; nothing is kept after the call returns unless documented.
 *
 * Thread-safety is documented on every function:
 *  [any thread]   may be called concurrently from any number of threads.
 *  [per session]  calls on one session must not overlap; different sessions
 *                 may be used concurrently, also when sharing one model.
 *                 An overlapping call from a second thread is refused at
 *                 once with VLLM_ERR_STATE (message in vllm_last_error();
 *                 the session's own message stays the running call's).
 */
#ifndef VLLM_VIDEOLLM_H
#define VLLM_VIDEOLLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VLLM_BUILDING_LIBRARY) && defined(__GNUC__)
#  define VLLM_API __attribute__((visibility("default")))
#else
#  define VLLM_API
#endif

/* ======================================================================
 *  Stable API
 * ====================================================================== */

/* ---- version ---------------------------------------------------------- */

#define VLLM_VERSION_MAJOR 0
#define VLLM_VERSION_MINOR 1
#define VLLM_VERSION_PATCH 0
#define VLLM_VERSION_NUMBER \
    (VLLM_VERSION_MAJOR * 10000 + VLLM_VERSION_MINOR * 100 + VLLM_VERSION_PATCH)
#define VLLM_VERSION_STRING "0.1.0"

/* The version of the library actually loaded ("0.1.0"). [any thread] */
VLLM_API const char *vllm_version(void);
/* VLLM_VERSION_NUMBER of the loaded library. [any thread] */
VLLM_API unsigned vllm_version_number(void);

/* ---- status codes ------------------------------------------------------ */

typedef enum vllm_status {
    VLLM_OK = 0,                    /* success */
    VLLM_DONE = 1,                  /* success: nothing more (generation ended) */
    VLLM_ERR_INVALID_ARG = -1,      /* NULL or out-of-range argument */
    VLLM_ERR_IO = -2,               /* file could not be opened/read/written */
    VLLM_ERR_FORMAT = -3,           /* malformed or self-contradictory input */
    VLLM_ERR_UNSUPPORTED = -4,      /* valid input this build cannot handle */
    VLLM_ERR_NOMEM = -5,            /* allocation failed or would be absurd */
    VLLM_ERR_CONTEXT_FULL = -6,     /* the session's context window is full */
    VLLM_ERR_CANCELLED = -7,        /* stopped by a callback or vllm_session_cancel */
    VLLM_ERR_DECODE = -8,           /* media could not be decoded */
    VLLM_ERR_BUFFER_TOO_SMALL = -9, /* output buffer too small; size reported */
    VLLM_ERR_STATE = -10,           /* call not valid in the handle's current state */
    VLLM_ERR_INTERNAL = -11         /* a bug: please report it */
} vllm_status;

/* Non-zero when `s` is an error (negative). [any thread] */
static inline int vllm_is_error(vllm_status s) { return (int)s < 0; }

/* Static name of a status ("VLLM_ERR_FORMAT: malformed input").
 * Unknown values give a generic string, never NULL. [any thread] */
VLLM_API const char *vllm_status_string(vllm_status status);

/* The detailed message of the last error raised on the calling thread,
 * or "" if none. Valid until the next failing call on this thread.
 * [any thread; the message is thread-local] */
VLLM_API const char *vllm_last_error(void);

/* ---- logging ----------------------------------------------------------- */

typedef enum vllm_log_level {
    VLLM_LOG_ERROR = 0,
    VLLM_LOG_WARN = 1,
    VLLM_LOG_INFO = 2,
    VLLM_LOG_DEBUG = 3
} vllm_log_level;

/* Receives every log line the library emits (without a trailing newline).
 * May be called from library worker threads. */
typedef void (*vllm_log_fn)(void *user_data, vllm_log_level level, const char *message);

/* Route library logging to `fn` (NULL restores the default: warnings and
 * errors to stderr). Messages above `max_level` are not produced at all.
 * FFmpeg's own messages come the same way ("libav <component>: ..."):
 * the library installs av_log_set_callback() once, before it first uses
 * FFmpeg (this replaces a callback the host set for FFmpeg before); FFmpeg
 * errors arrive as VLLM_LOG_WARN, its warnings as VLLM_LOG_INFO, its info
 * as VLLM_LOG_DEBUG, at most 10 lines a second (the rest are counted in a
 * "suppressed" line); av_log_set_level() still filters them first.
 * Damaged media is reported once per damaged spot (time in seconds), the
 * first 16 spots of a video one by one, then as a count.
 * [any thread; takes effect for subsequent messages] */
VLLM_API void vllm_set_log_callback(vllm_log_fn fn, void *user_data, vllm_log_level max_level);

/* ---- progress and cancellation ------------------------------------------ */

/* Called during long operations with a fraction in [0,1] and a short static
 * stage name ("load", "prefill", ...). Return non-zero to cancel: the
 * operation then fails with VLLM_ERR_CANCELLED and leaves the handle as it
 * was before the call. Called on the thread that made the call. */
typedef int (*vllm_progress_fn)(void *user_data, const char *stage, float fraction);

/* ---- models ------------------------------------------------------------- */

/* Immutable weights and vocabulary. Safe to share between threads and
 * sessions once loaded. */
typedef struct vllm_model vllm_model;

typedef struct vllm_model_params {
    size_t struct_size;          /* = sizeof(vllm_model_params) */
    const char *mmproj_path;     /* vision projector GGUF, or NULL for text only */
    int use_mmap;                /* 1 (default): map the file, 0: read into memory */
    int vocab_only;              /* 1: load only the tokenizer (no weights) */
    vllm_progress_fn progress;   /* optional, may be NULL */
    void *progress_user_data;
    int vision_precision;        /* VLLM_VISION_* (default AUTO) */
    int llamacpp_compat;         /* 1: reproduce llama.cpp (libllama + libmtmd) number for
                                    number, for side-by-side checks; 0 (default): the
                                    model's own rules (its reference processor and code).
                                    Covers the text model's numerical quirks (qwen2vl:
                                    RMSNorm epsilon 0; Qwen-VL text positions (p,p,p,0))
                                    and the whole media path: frame sampling, resize and
                                    padding, prompt layout and positions, the merger's
                                    GELU, and the chat template (llama.cpp's chatml adds
                                    no default system prompt) */
    /* Bounds on the visual tokens of one image or video frame for the
     * dynamic-resolution families (Qwen2.5-VL, Qwen3-VL), as llama.cpp's
     * --image-min-tokens / --image-max-tokens: the picture is resized so
     * its token count lies within them. 0 (default) = the family's own
     * bound; otherwise 1..VLLM_IMAGE_TOKENS_LIMIT, and min <= max when both
     * are set. Fixed-size families (SmolVLM2) ignore them. */
    int32_t image_min_tokens;
    int32_t image_max_tokens;
} vllm_model_params;

/* Largest image_min_tokens / image_max_tokens accepted (16384: Qwen2.5-VL's
 * max_pixels 12845056 / 28^2, and Qwen3-VL's 16777216 / 32^2). */
#define VLLM_IMAGE_TOKENS_LIMIT 16384

#define VLLM_VISION_AUTO 0       /* BF16 linear layers where the CPU has AVX-512 BF16, else F32 */
#define VLLM_VISION_F32 1        /* f32 throughout */
#define VLLM_VISION_GGML 2       /* f32 with llama.cpp's fp16 roundings (bit-level comparisons) */
#define VLLM_VISION_BF16 3       /* BF16 linear layers (slow scalar fallback without AVX-512 BF16) */

/* Defaults: no mmproj, mmap on, full model, no progress callback,
 * vision precision AUTO, the model's own rules (llamacpp_compat 0), the
 * family's image token bounds (0, 0). [any thread] */
VLLM_API vllm_model_params vllm_model_default_params(void);

/* Load a llama.cpp-format GGUF text model (and optionally its mmproj).
 * `params` may be NULL for defaults. On success *out_model owns the model;
 * on failure *out_model is NULL and vllm_last_error() says why.
 * [any thread] */
VLLM_API vllm_status vllm_model_load(const char *path, const vllm_model_params *params,
                                     vllm_model **out_model);

/* Release a model. All sessions created from it must be freed first.
 * NULL is a no-op. [not concurrently with any other use of this model] */
VLLM_API void vllm_model_free(vllm_model *model);

typedef struct vllm_model_info {
    size_t struct_size;          /* caller sets = sizeof(vllm_model_info) */
    const char *architecture;    /* "llama", "qwen2", ... (owned by the model) */
    const char *name;            /* general.name or "" (owned by the model) */
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    uint64_t n_params;           /* number of weights */
    uint64_t weight_bytes;       /* bytes of weight data */
    int32_t token_bos;           /* -1 when the vocabulary has none */
    int32_t token_eos;           /* -1 when the vocabulary has none */
    int32_t has_vision;          /* 1 when an mmproj was loaded */
    int32_t tokens_per_frame;    /* visual tokens per video frame at the default frame size;
                                    0 if it varies with the frame size, or without vision */
    int32_t image_size;          /* encoder input side in pixels (0 without vision) */
    float video_fps;             /* default frame sampling rate of the model family */
    int32_t video_max_frames;    /* default cap on sampled frames */
    const char *family;          /* the model family, named by the mmproj: "smolvlm2",
                                    "qwen2.5-vl", "qwen3-vl"; NULL without vision (text only)
                                    (owned by the model) */
} vllm_model_info;

/* Fill `info` (whose struct_size the caller sets; fields beyond it are not
 * written). [any thread] */
VLLM_API vllm_status vllm_model_get_info(const vllm_model *model, vllm_model_info *info);

/* ---- tokens ------------------------------------------------------------- */

#define VLLM_TOKENIZE_ADD_SPECIAL   1u  /* add BOS/EOS as the vocabulary asks */
#define VLLM_TOKENIZE_PARSE_SPECIAL 2u  /* match control tokens written in the text */

/* Tokenize `len` bytes of `text`. Writes at most `capacity` ids to `tokens`
 * and the full count to *n_tokens. If the ids do not fit, nothing useful is
 * in `tokens` and VLLM_ERR_BUFFER_TOO_SMALL is returned with *n_tokens set
 * to the size needed (pass tokens=NULL, capacity=0 to ask). [any thread] */
VLLM_API vllm_status vllm_tokenize(const vllm_model *model, const char *text, size_t len,
                                   unsigned flags, int32_t *tokens, size_t capacity,
                                   size_t *n_tokens);

#define VLLM_DETOKENIZE_SPECIAL 1u  /* render control tokens as their text */

/* Bytes of the text of `n` tokens, concatenated, written to `buf` (not
 * NUL-terminated); *len receives the byte count. Same buffer protocol as
 * vllm_tokenize. Bytes are raw: a multi-byte UTF-8 character may be split
 * across two calls. [any thread] */
VLLM_API vllm_status vllm_detokenize(const vllm_model *model, const int32_t *tokens, size_t n,
                                     unsigned flags, char *buf, size_t capacity, size_t *len);

/* Non-zero when `token` ends generation (EOS, EOT, <|im_end|>, ...). [any thread] */
VLLM_API int vllm_token_is_eog(const vllm_model *model, int32_t token);

/* ---- sessions ----------------------------------------------------------- */

/* One conversation: its KV cache, sampler and generation state. */
typedef struct vllm_session vllm_session;

typedef enum vllm_kv_type {
    VLLM_KV_F32 = 0,
    VLLM_KV_F16 = 1,
    VLLM_KV_Q8_0 = 2,  /* blocks of 32 values: fp16 scale + int8 (8.5 bits); head_dim % 32 == 0 */
    VLLM_KV_Q4_0 = 3   /* blocks of 32 values: fp16 scale + 4-bit (4.5 bits); head_dim % 32 == 0 */
} vllm_kv_type;

typedef struct vllm_session_params {
    size_t struct_size;          /* = sizeof(vllm_session_params) */
    int32_t n_ctx;               /* context window in tokens; 0 = the default: with an mmproj,
                                    enough for the default video sampling (video_max_frames
                                    frames of visual tokens, labels and markers, the intro)
                                    plus 512 positions for the question and the default
                                    256-token answer, rounded up to 256, at least
                                    min(train ctx, 4096), at most the trained context;
                                    text only: min(train ctx, 4096). When the context cannot
                                    hold a video sampled with default max_frames/n_frames,
                                    fewer frames are sampled, uniformly, with a warning */
    int32_t n_threads;           /* worker threads; 0 = one per performance core (all online
                                    CPUs unless big.LITTLE/hybrid: then the big ones) */
    vllm_kv_type kv_type;        /* KV cache storage (default VLLM_KV_F16, as llama.cpp) */
    /* Compression of frames pushed or sampled into this session (videos may
     * override per call, see vllm_video_params). All off by default: they
     * change what the model sees. vllm_compression_preset() turns on the
     * recommended combination. */
    float dedup_threshold;       /* skip a frame whose 32x32 luma differs from the last kept
                                    frame's by less than this mean fraction of full scale
                                    (0 = off; 0.02 ~ 5 luma levels) */
    float prune_rate;            /* q in [0,1): drop this fraction of each frame's visual tokens,
                                    keeping those most changed since the previous kept frame
                                    (the first frame is kept whole); 0 = off */
    int32_t prune_merge;         /* 1: average each dropped token into the most similar kept
                                    token of its frame instead of discarding it */
    const char *system_prompt;   /* NULL or "" = the model's default (none for SmolVLM2 and
                                    the chatml models); else a system turn written before the
                                    conversation's first user turn, as the model's chat template
                                    does (SmolVLM2: "<|im_start|>System: ...<end_of_utterance>\n";
                                    chatml: "<|im_start|>system\n...<|im_end|>\n"). Copied at
                                    create; written again after vllm_session_reset; it stays when
                                    old frames are evicted; raw prompts (generate raw) skip it.
                                    At most 1 MiB */
} vllm_session_params;

/* Defaults as documented on each field. [any thread] */
VLLM_API vllm_session_params vllm_session_default_params(void);

/* Create a session over `model` (which must outlive it). `params` may be
 * NULL. [any thread] */
VLLM_API vllm_status vllm_session_create(vllm_model *model, const vllm_session_params *params,
                                         vllm_session **out_session);

/* NULL is a no-op. [per session] */
VLLM_API void vllm_session_free(vllm_session *session);

/* Forget the context (KV cache) and any generation in progress. [per session] */
VLLM_API vllm_status vllm_session_reset(vllm_session *session);

/* The last error message raised by a call on this session, or "".
 * [per session] */
VLLM_API const char *vllm_session_last_error(const vllm_session *session);

/* Ask the running or next generation on this session to stop as soon as
 * possible (it returns VLLM_ERR_CANCELLED); a running push_video stops too,
 * also while it waits for data from a stalled source. The request is cleared when the
 * next query starts. [any thread] */
VLLM_API void vllm_session_cancel(vllm_session *session);

/* ---- generation --------------------------------------------------------- */

/* Receives each generated token and its text piece (raw bytes, not
 * NUL-terminated; may be an incomplete UTF-8 sequence, completed by the
 * next piece). Return non-zero to stop: the generation ends with
 * VLLM_ERR_CANCELLED. Called on the generating thread. */
typedef int (*vllm_token_fn)(void *user_data, int32_t token, const char *piece, size_t piece_len);

typedef struct vllm_generate_params {
    size_t struct_size;          /* = sizeof(vllm_generate_params) */
    int32_t max_tokens;          /* upper bound on generated tokens; <0 = until EOG/ctx full */
    float temperature;           /* <= 0: greedy (argmax) */
    int32_t top_k;               /* <= 0: off */
    float top_p;                 /* >= 1: off */
    float min_p;                 /* <= 0: off */
    float repeat_penalty;        /* 1: off (llama.cpp semantics) */
    int32_t repeat_last_n;       /* window for the three penalties */
    float frequency_penalty;     /* 0: off */
    float presence_penalty;      /* 0: off */
    uint64_t seed;               /* same seed, same output */
    const char *const *stop_strings; /* optional list of stop strings */
    size_t n_stop_strings;
    int raw;                     /* 1: prompt is used verbatim, no chat template */
    vllm_token_fn on_token;      /* optional streaming callback */
    void *user_data;
} vllm_generate_params;

/* Defaults: 256 tokens, greedy, no penalties, seed 0, chat template on. [any thread] */
VLLM_API vllm_generate_params vllm_generate_default_params(void);

/* Append `prompt` as a user turn (formatted with the model's chat template
 * unless params->raw) to the session's context, evaluate it, and arm the
 * sampler; then pull tokens with vllm_session_next_token(). The context
 * from earlier turns is kept. `params` may be NULL. Copies what it needs
 * from `params` (stop strings included). [per session] */
VLLM_API vllm_status vllm_session_query(vllm_session *session, const char *prompt,
                                        const vllm_generate_params *params);

/* Produce the next token of the armed generation. On VLLM_OK, *token and
 * the piece (valid until the next call on the session) are set; on
 * VLLM_DONE the generation has ended (EOG, stop string, max_tokens) and
 * *token is -1. Any of the output pointers may be NULL. Calls
 * params->on_token as well, if set. [per session] */
VLLM_API vllm_status vllm_session_next_token(vllm_session *session, int32_t *token,
                                             const char **piece, size_t *piece_len);

/* vllm_session_query() followed by vllm_session_next_token() until the
 * generation ends. Returns VLLM_OK when it ended normally. [per session] */
VLLM_API vllm_status vllm_session_generate(vllm_session *session, const char *prompt,
                                           const vllm_generate_params *params);

typedef enum vllm_stop_reason {
    VLLM_STOP_NONE = 0,          /* no generation has ended yet */
    VLLM_STOP_EOG = 1,           /* end-of-generation token */
    VLLM_STOP_MAX_TOKENS = 2,
    VLLM_STOP_STRING = 3,        /* a stop string was produced */
    VLLM_STOP_CONTEXT_FULL = 4,
    VLLM_STOP_CANCELLED = 5
} vllm_stop_reason;

/* What a session has done since it was created (a reset or load does not
 * clear the counters). Counts and times of the same stage describe the
 * same work:
 *   question   n_prompt_tokens / prompt_seconds
 *   answer     n_generated_tokens / generate_seconds
 *   media      decode_seconds; n_frames_encoded / encode_seconds;
 *              n_visual_tokens + n_media_text_tokens / media_prefill_seconds
 * Wall time of a call on one thread splits into these stages; encoding of
 * frames pushed during an answer runs on the pushing thread and overlaps
 * with generate_seconds. Every frame seen is either deduped or encoded
 * (a pushed frame may be in flight between the two for a moment); of the
 * encoded ones, n_frames_dropped never entered the context. */
typedef struct vllm_session_stats {
    size_t struct_size;          /* caller sets = sizeof(vllm_session_stats) */
    int32_t n_ctx;               /* context window (positions) */
    int32_t n_past;              /* positions used in the KV cache now */
    int64_t n_prompt_tokens;     /* positions evaluated by query()/eval_tokens(): the question with its
                                    chat-template text (and the text of a media turn it closes) and
                                    the previous answer's final token; not media positions */
    int64_t n_generated_tokens;  /* tokens sampled, all answers (EOG tokens included) */
    double prompt_seconds;       /* wall time of query()/eval_tokens() up to the first sample: tokenizing,
                                    making room, offload retrieval, evaluating n_prompt_tokens */
    double generate_seconds;     /* wall time in next_token()/generate() sampling and evaluating
                                    generated tokens (not the token callbacks) */
    vllm_stop_reason last_stop;  /* why the last generation ended */
    int64_t n_frames_seen;       /* frames offered: pushed and accepted, or sampled from videos */
    int64_t n_frames_encoded;    /* frames and still-image tiles through the vision encoder */
    int64_t n_visual_tokens;     /* visual-token positions evaluated (after pruning) */
    double decode_seconds;       /* opening, demuxing, decoding, sampling, converting and resizing media
                                    (a video's frames are decoded ahead of the encoder on a thread of
                                    their own: the time the call waited for them) */
    double encode_seconds;       /* vision encoder, for the n_frames_encoded frames and tiles */
    double media_prefill_seconds;/* evaluating media positions into the context: n_visual_tokens and
                                    n_media_text_tokens (labels, markers, video intro, turn openings) */
    double first_token_seconds;  /* last query only: from its start to its first sampled token */
    int64_t peak_rss_bytes;      /* process peak resident memory so far */
    int64_t n_frames_dropped;    /* encoded during an answer, then dropped because the queue was full */
    int64_t n_frames_evicted;    /* pushed frames that left the context to make room, each counted
                                    once (a frame reloaded by offload and evicted again is not
                                    counted again): never more than n_frames_seen */
    int64_t n_frames_deduped;    /* sampled/pushed frames skipped as near-duplicates (not encoded) */
    int64_t n_tokens_pruned;     /* visual tokens removed (pruned or merged) before prefill */
    int64_t n_media_text_tokens; /* text positions evaluated with media (see media_prefill_seconds) */
    int64_t n_turns_evicted;     /* finished question-and-answer turns that left the context */
} vllm_session_stats;

/* [any thread] Never waits for the session's lock: another thread gets
 * the numbers as they were when the session's last call (or step of one:
 * a token, a pushed frame) released it, so while a frame is being
 * encoded or a prompt evaluated it sees the state from before that step;
 * a callback running under the lock (progress, tokens) sees them as they
 * are now. */
VLLM_API vllm_status vllm_session_get_stats(const vllm_session *session, vllm_session_stats *stats);

/* ---- media: frames, videos, images -------------------------------------
 *
 * Media pushed into a session is encoded into visual tokens and evaluated
 * into the context right away (so encoding happens before the question is
 * known), inside the user turn that the next vllm_session_query() closes
 * with its prompt. Each frame is laid out as the model family expects
 * (SmolVLM2: "Frame from MM:SS:" + image markers + visual tokens). Pixels
 * are not kept after the call returns. Requires a model loaded with an
 * mmproj (VLLM_ERR_STATE otherwise). */

typedef enum vllm_pixel_format {
    VLLM_PIXFMT_RGB24 = 0,   /* packed R,G,B bytes; plane 0 */
    VLLM_PIXFMT_RGBA = 1,    /* packed R,G,B,A; alpha ignored */
    VLLM_PIXFMT_BGRA = 2,    /* packed B,G,R,A; alpha ignored */
    VLLM_PIXFMT_NV12 = 3,    /* plane 0: Y; plane 1: interleaved U,V at half resolution */
    VLLM_PIXFMT_YUV420P = 4  /* planes 0,1,2: Y, U, V; chroma at half resolution */
} vllm_pixel_format;

typedef struct vllm_frame {
    size_t struct_size;          /* = sizeof(vllm_frame) */
    vllm_pixel_format format;
    int32_t width, height;       /* 1..16384 each */
    const uint8_t *planes[3];    /* unused planes NULL */
    int32_t strides[3];          /* bytes per row of each plane (>= the row's width) */
    double pts;                  /* presentation time in seconds, non-decreasing */
} vllm_frame;

/* Encode one video frame (for live streams) and append it to the context.
 * May be called from another thread while an answer is being generated
 * on the session: the frame is then encoded at once on the calling thread
 * (the call waits at most for the token being evaluated, plus the
 * encoding) and its visual tokens queue (16 frames; when full, the oldest
 * waiting frame is dropped and counted in n_frames_dropped) until the
 * answer is done; they enter the context on the generating thread as the
 * answer ends (before its last vllm_session_next_token() or
 * vllm_session_generate() returns), or at the next turn if it was
 * cancelled.
 * Memory stays bounded for an endless stream: when the context window
 * (less a reserve of min(512, n_ctx/4) positions for the question and
 * answer) is full, the oldest evictable pieces leave it whole and the
 * rest of the context shifts down (keys re-rotated to their new
 * positions). Evictable are the pushed frames (n_frames_evicted counts
 * them) and finished question-and-answer turns asked during the stream,
 * oldest first by position: a turn leaves after the frames it was asked
 * about, the next frame or question ends it (it reaches up to there:
 * media pushed with push_video/push_image after a question leaves with
 * that turn), and the turn being answered never leaves. A question makes
 * room for itself and its answer (up to the reserve) the same way. The
 * conversation's first turn (the template's opening) always stays. With
 * offload on, evicted frames are stored; evicted turns are dropped.
 * [any thread] */
VLLM_API vllm_status vllm_session_push_frame(vllm_session *session, const vllm_frame *frame);

typedef struct vllm_video_params {
    size_t struct_size;          /* = sizeof(vllm_video_params) */
    float fps;                   /* frames sampled per second; 0 = the model family's default */
    int32_t max_frames;          /* cap on sampled frames; 0 = the model family's default,
                                    lowered to what fits in the free context less the
                                    reserve of min(512, n_ctx/4) positions for the question
                                    and answer (with a warning) */
    int32_t n_frames;            /* > 0: exactly this many frames, uniformly spread (overrides fps) */
    double start, end;           /* seconds; end <= 0 means to the end */
    vllm_progress_fn progress;   /* optional; stage "video", fraction of frames done */
    void *progress_user_data;
    /* Compression for this video; 0 in a field = the session's setting
     * (vllm_session_params, off by default). */
    float dedup_threshold;       /* as vllm_session_params.dedup_threshold */
    float prune_rate;            /* as vllm_session_params.prune_rate */
    int32_t prune_merge;         /* as vllm_session_params.prune_merge */
    int32_t max_visual_tokens;   /* > 0: budget for this video's visual tokens; first fewer frames
                                    (down to 16), then harsher pruning. 0 = no budget */
    double io_timeout_s;         /* seconds the source may send nothing before push_video gives up
                                    with VLLM_ERR_IO naming the URL (an inactivity timeout: any data
                                    restarts it). 0 = default: 30 s for network URLs (any scheme but
                                    file:, pipe:, fd:), none for local files, pipes and buffers;
                                    > 0 applies to every source; < 0 = wait forever. At most 1e6.
                                    vllm_session_cancel() interrupts a waiting read at any time. */
} vllm_video_params;

/* Defaults: the model family's sampling, whole video. [any thread] */
VLLM_API vllm_video_params vllm_video_default_params(void);

/* Apply a named compression preset to either or both structs (NULL to
 * skip one; struct_size must be set): "fast" = frame dedup (0.02) +
 * pruning half of each frame's visual tokens; "off" = everything off.
 * Other fields are left alone. VLLM_ERR_INVALID_ARG for an unknown name.
 * [any thread] */
VLLM_API vllm_status vllm_compression_preset(const char *name, vllm_session_params *session,
                                             vllm_video_params *video);

/* Decode `path_or_url` (anything libavformat opens) in process, sample
 * frames and encode them one by one; they enter the context once all
 * are known, so the prompt's intro names the frames actually given (a
 * damaged clip may deliver fewer than planned, dedup keeps fewer). Memory
 * is bounded by the context: decoding stops with VLLM_ERR_CONTEXT_FULL as
 * soon as the frames so far cannot fit.
 * `params` may be NULL. On any error (a clip that fails after some
 * frames went in, a cancel, a full context) the session is as before the
 * call: the positions the video took are removed, an open media turn has
 * its earlier content only, and a generation in progress stays ended.
 * What remains: the statistics count the work done (frames seen, encode
 * and decode time), and the [compression] reference frame is reset, so
 * the next pushed frame is kept whole. [per session] */
VLLM_API vllm_status vllm_session_push_video(vllm_session *session, const char *path_or_url,
                                             const vllm_video_params *params);

/* Same, from `size` bytes of an encoded video in memory (not kept). */
VLLM_API vllm_status vllm_session_push_video_buffer(vllm_session *session, const void *data, size_t size,
                                                    const vllm_video_params *params);

/* Decode a still image (PNG, JPEG, ... through libavcodec) and append it
 * with the model's still-image layout (tiles + overview for SmolVLM2).
 * On any error the session is as before the call, as for push_video
 * (no tile of a failed image stays in the context). [per session] */
VLLM_API vllm_status vllm_session_push_image(vllm_session *session, const char *path);

/* ---- snapshots ------------------------------------------------------------ */

/* Write the session's context (token history, KV cache of the used
 * positions, an open media turn) to `path` as one zstd-compressed file.
 * A generation in progress is not saved: the snapshot continues with a
 * new query. [per session] */
VLLM_API vllm_status vllm_session_save(vllm_session *session, const char *path);

/* Replace the session's context with a snapshot taken by
 * vllm_session_save() on a session of the same model (and mmproj) and KV
 * type whose context window is large enough. On any error (other model,
 * truncated or corrupt file) the session is unchanged. [per session] */
VLLM_API vllm_status vllm_session_load(vllm_session *session, const char *path);

/* ======================================================================
 *  Experimental API: may change in any release. Define VLLM_EXPERIMENTAL
 *  before including this header to use it.
 * ====================================================================== */
#ifdef VLLM_EXPERIMENTAL

/* Evaluate `n` token ids at the next positions without sampling.
 * [per session] */
VLLM_API vllm_status vllm_session_eval_tokens(vllm_session *session, const int32_t *tokens, size_t n);

/* The logits after the last evaluated position (n_vocab floats), valid
 * until the next call on the session; NULL if nothing was evaluated.
 * [per session] */
VLLM_API const float *vllm_session_logits(const vllm_session *session);

/* The token id at every position of the context (n = positions used);
 * visual-token positions are -1. Valid until the next call on the
 * session. [per session] */
VLLM_API vllm_status vllm_session_history(const vllm_session *session, const int32_t **tokens, size_t *n);

/* ---- KV offload tier ------------------------------------------------------
 *
 * A live stream outgrows any context window. By default the oldest pushed
 * frames are then evicted for good. With offload on, each evicted frame's
 * KV rows are compressed (byte planes + zstd) into a store — in RAM up to
 * a cap, then in an anonymous spill file, then dropped — and can come
 * back: every question first reloads the stored frames most similar to
 * it (mean un-rotated query of the question against each frame's mean
 * key, on a few layers: ReKV-style retrieval), and the host can recall a
 * time range explicitly. Reloaded frames take their place in time order
 * (keys re-rotated to their new positions), evicting the oldest frames
 * not reloaded if the context is short. Offloaded frames are not part of
 * a snapshot; a reset or load empties the store. */
typedef struct vllm_offload_params {
    size_t struct_size;          /* = sizeof(vllm_offload_params) */
    int32_t enabled;             /* 1: offload instead of evicting (default 0) */
    int32_t retrieve_top_k;      /* frames reloaded per question by similarity; 0 = none (default 4) */
    int64_t max_ram_bytes;       /* compressed frames kept in memory (default 256 MiB) */
    int64_t max_file_bytes;      /* spill file cap; 0 = no cap (default 0) */
    const char *spill_dir;       /* spill file directory (copied); NULL = no file: drop past the RAM cap */
} vllm_offload_params;

/* Defaults as documented on each field (offload off). [any thread] */
VLLM_API vllm_offload_params vllm_offload_default_params(void);

/* Turn the offload tier on or off (off empties the store), or change its
 * caps. [per session] */
VLLM_API vllm_status vllm_session_set_offload(vllm_session *session, const vllm_offload_params *params);

/* Reload the offloaded frames whose time is in [t0, t1) seconds, oldest
 * first, as many as fit beside the reserve kept for a question; they stay
 * in the context at least until the next question has been answered
 * (retrieval and frames pushed meanwhile evict others). *n_reloaded (may
 * be NULL) gets how many. Frames dropped by the caps cannot come back.
 * [per session] */
VLLM_API vllm_status vllm_session_recall(vllm_session *session, double t0, double t1, int32_t *n_reloaded);

typedef struct vllm_offload_stats {
    size_t struct_size;          /* caller sets = sizeof(vllm_offload_stats) */
    int64_t frames_offloaded;    /* frames compressed into the store (each once) */
    int64_t frames_in_ram, frames_in_file, frames_dropped; /* where stored frames are now */
    int64_t frames_resident;     /* stored frames currently back in the context */
    int64_t frames_reloaded;     /* reloads into the context, all time */
    int64_t retrievals;          /* questions that searched the store */
    int64_t raw_bytes, compressed_bytes; /* all offloads: KV rows before/after compression */
    int64_t ram_bytes, file_bytes;       /* held now */
    double offload_seconds, reload_seconds;
} vllm_offload_stats;

/* [any thread] (waits for the session's lock: at most one token during
 * an answer, a whole call for media ingestion) */
VLLM_API vllm_status vllm_session_get_offload_stats(const vllm_session *session, vllm_offload_stats *stats);

/* ---- live sources -----------------------------------------------------------
 *
 * A session can read a source that may never end by itself: a network
 * stream (RTSP, RTMP, HTTP(S) and HLS, UDP/SRT MPEG-TS, ... anything
 * libavformat opens), a V4L2 camera ("/dev/video0", when the library was
 * built with libavdevice), a pipe ("-" for stdin, "pipe:N" for file
 * descriptor N) or a file. Two threads owned by the session do the work:
 * a reader demuxes and decodes, samples frames causally by presentation
 * time (the first frame of every 1/fps slot of stream time) and puts them
 * in a bounded queue; an ingester takes them out and hands each to
 * vllm_session_push_frame() on the session — the same path as a host's
 * frames: dedup, encoding, prefill, eviction/offload keep memory bounded.
 * While an answer is generated, frames are encoded at once and wait in the
 * session's answer queue (see vllm_session_push_frame), entering the
 * context right after it. When the reader's queue is full (ingestion
 * slower than the source), the oldest waiting frame is dropped and counted.
 * Timestamps in the prompt are stream time: seconds from the source's
 * first frame (continuing after the session's last pushed frame, and
 * across reconnections, see vllm_source_stats.stream_seconds). */

typedef enum vllm_source_state {
    VLLM_SOURCE_NONE = 0,         /* nothing attached */
    VLLM_SOURCE_CONNECTING = 1,   /* opening the source (first time) */
    VLLM_SOURCE_READING = 2,      /* reading frames */
    VLLM_SOURCE_RECONNECTING = 3, /* lost; waiting (back-off) to open it again */
    VLLM_SOURCE_ENDED = 4,        /* the source ended (end of stream) and every frame read was ingested */
    VLLM_SOURCE_FAILED = 5        /* could not be read any more; message says why */
} vllm_source_state;

typedef struct vllm_source_params {
    size_t struct_size;          /* = sizeof(vllm_source_params) */
    float fps;                   /* frames sampled per second of stream time; 0 = the model
                                    family's video fps (vllm_model_info.video_fps); at most 120 */
    int32_t reconnect;           /* 1: when a network source or device ends or fails, open it
                                    again after a back-off delay (0.25 s, doubling up to
                                    reconnect_max_delay_s) until it works or is detached;
                                    0 (default): ENDED / FAILED. Files and pipes never reconnect */
    double reconnect_max_delay_s;/* longest back-off delay (default 8 s; 0.05 .. 3600) */
    double io_timeout_s;         /* seconds without data before the source counts as lost:
                                    0 = default (10 s for network URLs and devices, none for
                                    pipes), < 0 = wait forever, at most 1e6. A regular file is
                                    followed while it grows (a recording being written): it
                                    ENDS once it has not grown for this long (0 = 2 s;
                                    < 0 = follow it until detached) */
    int32_t queue_frames;        /* sampled frames waiting for ingestion (default 8; 1..256) */
    const char *input_format;    /* libavformat input format name ("v4l2", "mpegts", ...),
                                    NULL = probe (copied); "/dev/video*" implies "v4l2" */
} vllm_source_params;

/* Defaults as documented on each field. [any thread] */
VLLM_API vllm_source_params vllm_source_default_params(void);

/* Start reading `url` into the session in the background (see above).
 * Returns once the threads run; opening happens on the reader thread
 * (watch vllm_session_source_stats for READING / FAILED). One source per
 * session: VLLM_ERR_STATE when one is attached (detach it first; a source
 * that ENDED or FAILED is still attached until detached). Requires a
 * model with an mmproj. [any thread; attach/detach/stats are serialized] */
VLLM_API vllm_status vllm_session_attach_source(vllm_session *session, const char *url,
                                                const vllm_source_params *params);

/* Stop the source's threads and forget it: returns promptly, also while
 * the reader waits for data (libavformat's interrupt callback, and a poll
 * on pipes), after the frame being encoded (and a watch evaluation in
 * progress) has finished; frames still queued are dropped (not counted as
 * dropped). VLLM_OK also when nothing is attached. Must not be called from
 * a watch callback (VLLM_ERR_STATE). vllm_session_free() detaches too.
 * [any thread] */
VLLM_API vllm_status vllm_session_detach_source(vllm_session *session);

#define VLLM_SOURCE_MESSAGE_MAX 256

typedef struct vllm_source_stats {
    size_t struct_size;          /* caller sets = sizeof(vllm_source_stats) */
    vllm_source_state state;
    char message[VLLM_SOURCE_MESSAGE_MAX]; /* why it ended / failed / reconnects; "" if nothing to say */
    double stream_seconds;       /* stream time of the newest frame read from the source */
    double ingested_seconds;     /* stream time of the newest frame handed to the session */
    double wall_seconds;         /* wall time since attach */
    double lag_seconds;          /* wall time the oldest frame still queued has waited, else the
                                    last ingested frame's wait from being read to being in the
                                    session (queue + encoding) */
    double max_lag_seconds;      /* largest per-frame wait so far */
    int64_t frames_read;         /* frames decoded from the source */
    int64_t frames_sampled;      /* chosen by the fps rule (put in the queue) */
    int64_t frames_kept;         /* handed to the session and not deduped (encoded) */
    int64_t frames_deduped;      /* handed to the session and skipped as near-duplicates */
    int64_t frames_dropped;      /* sampled but lost: the reader's queue was full, or the session's
                                    answer queue dropped them (vllm_session_stats.n_frames_dropped) */
    int64_t frames_queued;       /* sampled, waiting for ingestion or being ingested now */
    int64_t frames_failed;       /* handed to the session, refused with an error (message says) */
    int64_t reconnects;          /* times the source was opened again */
} vllm_source_stats;

/* The attached source's state and counters (state NONE, zeros, when none
 * is attached). [any thread] */
VLLM_API vllm_status vllm_session_source_stats(vllm_session *session, vllm_source_stats *stats);

/* ---- standing questions (watches) ------------------------------------------
 *
 * A watch is a question that stays open while a source feeds the session.
 * It is evaluated on the source's ingester thread, right after a frame
 * entered the context: when `every_s` seconds of stream time have passed
 * since its last evaluation, and/or when the frame-change signal (the
 * mean luma change between two consecutive sampled frames, on the 32x32
 * grid frame dedup uses, in [0, 1]) reaches `change_threshold`. The first
 * frame after the watch is added evaluates it too. An evaluation asks the
 * question against the current context without disturbing it: the
 * question (closing an open media turn as a query would) is evaluated after
 * the context, the answer read, and the KV cache rolled back to where it
 * was (the last logits are not kept). It waits while the host is in a call
 * on the session or generates an answer, and while a frame waits for its
 * temporal partner (Qwen-VL), then runs. Making room for the question may
 * evict the oldest frames, as a query would.
 * Cost per evaluation: one prefill of the question's tokens (with the chat
 * template, typically 20-60) plus, for text answers, up to max_tokens
 * decoding steps; a yes/no watch decodes nothing. Ingestion of the next
 * frame waits for it (frames keep queueing on the reader). bench/run_live.sh
 * measures it.
 * Limitation: only frames of an attached source (vllm_session_attach_source)
 * trigger watches. Frames the host pushes itself (vllm_session_push_frame,
 * push_video) do not: evaluating there would run a prefill on the host's
 * push call, and there is no session thread of its own to hand it to yet.
 * A host feeding frames itself can feed them through a pipe source
 * ("pipe:FD") instead, or ask its question with vllm_session_query. */

typedef enum vllm_watch_trigger {
    VLLM_WATCH_FIRST = 0,   /* first evaluation after the watch was added */
    VLLM_WATCH_PERIOD = 1,  /* every_s of stream time passed */
    VLLM_WATCH_CHANGE = 2   /* the frame-change signal reached change_threshold */
} vllm_watch_trigger;

typedef struct vllm_watch_event {
    size_t struct_size;          /* = sizeof(vllm_watch_event) */
    int32_t watch_id;
    vllm_watch_trigger trigger;
    double stream_seconds;       /* stream time of the newest frame in the context */
    const char *answer;          /* NUL-terminated UTF-8, valid during the callback: the
                                    generated text (trimmed), or "yes" / "no" */
    float yes_probability;       /* yes/no watches: P(yes) / (P(yes) + P(no)) over the
                                    vocabulary's yes/no tokens; -1 for text watches */
    float change;                /* the frame-change signal of the newest frame */
    int32_t changed;             /* 1: the answer differs from the previous evaluation's
                                    (always 1 on the first) */
    double eval_seconds;         /* wall time of this evaluation */
    int64_t evaluations;         /* this watch's evaluations so far, this one included */
} vllm_watch_event;

/* Called on the source's ingester thread, outside the session lock. May
 * call vllm_session_unwatch, the stats calls, and vllm_session_cancel;
 * must not detach the source. */
typedef void (*vllm_watch_fn)(void *user_data, const vllm_watch_event *event);

typedef struct vllm_watch_params {
    size_t struct_size;          /* = sizeof(vllm_watch_params) */
    double every_s;              /* evaluate every this many seconds of stream time
                                    (default 10; 0 = only on change; at most 1e6) */
    float change_threshold;      /* evaluate when the frame-change signal reaches this
                                    (default 0.1; 0 = off; at most 1) */
    int32_t yes_no;              /* 1: answer "yes"/"no" from the probability of the yes token
                                    (nothing is decoded); 0 (default): generate text */
    float yes_threshold;         /* yes_no: "yes" when P(yes) >= this (default 0.5; 0..1) */
    int32_t max_tokens;          /* text answers: tokens generated per evaluation (default 32; 1..1024) */
    int32_t notify_all;          /* 1: call back after every evaluation (event.changed tells);
                                    0 (default): only when the answer changed */
} vllm_watch_params;

/* Defaults as documented on each field. [any thread] */
VLLM_API vllm_watch_params vllm_watch_default_params(void);

/* Add a standing question (copied). *watch_id (> 0) names it for
 * vllm_session_unwatch. Several watches may be active; they are evaluated
 * in the order they were added. VLLM_ERR_UNSUPPORTED for a yes/no watch
 * when the vocabulary has no single "yes"/"no" token. [any thread] */
VLLM_API vllm_status vllm_session_watch(vllm_session *session, const char *question,
                                        const vllm_watch_params *params, vllm_watch_fn callback,
                                        void *user_data, int32_t *watch_id);

/* Remove a watch: once this returns, its callback is not called again
 * (an evaluation in progress finishes first, unless called from that
 * watch's own callback). VLLM_ERR_INVALID_ARG for an unknown id.
 * [any thread] */
VLLM_API vllm_status vllm_session_unwatch(vllm_session *session, int32_t watch_id);

#endif /* VLLM_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif /* VLLM_VIDEOLLM_H */
