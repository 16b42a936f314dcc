/* Named compression presets for the public parameter structs. The "fast"
 * values are the ones bench/bench_compression.c measures: dedup at 0.02
 * (mean change of ~5 luma levels on a 32x32 grid) drops still stretches
 * of a video before the encoder, and pruning half of each later frame's
 * tokens halves prefill; pruning was preferred to merging because it is
 * cheaper and scored no worse on the quality proxy. */
#include <string.h>

#include "core/error.h"
#include "vllm/videollm.h"

#define FAST_DEDUP 0.02f
#define FAST_PRUNE 0.5f

/* Fields exist in the caller's struct only if its struct_size covers them. */
#define HAS(p, T, f) ((p)->struct_size >= offsetof(T, f) + sizeof((p)->f))

vllm_status vllm_compression_preset(const char *name, vllm_session_params *session, vllm_video_params *video)
{
    if (!name) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_compression_preset: name is NULL");
    int fast;
    if (!strcmp(name, "fast")) fast = 1;
    else if (!strcmp(name, "off")) fast = 0;
    else return vl_error(VLLM_ERR_INVALID_ARG, "vllm_compression_preset: unknown preset \"%s\" (fast, off)", name);
    if (session && (!HAS(session, vllm_session_params, prune_merge) || session->struct_size > 4096))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_compression_preset: vllm_session_params.struct_size = %zu lacks the compression fields",
                        session->struct_size);
    if (video && (!HAS(video, vllm_video_params, max_visual_tokens) || video->struct_size > 4096))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_compression_preset: vllm_video_params.struct_size = %zu lacks the compression fields",
                        video->struct_size);
    if (session) {
        session->dedup_threshold = fast ? FAST_DEDUP : 0;
        session->prune_rate = fast ? FAST_PRUNE : 0;
        session->prune_merge = 0;
    }
    if (video) {
        video->dedup_threshold = fast ? FAST_DEDUP : 0;
        video->prune_rate = fast ? FAST_PRUNE : 0;
        video->prune_merge = 0;
    }
    return VLLM_OK;
}
