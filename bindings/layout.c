/* Prints the layout of every public struct as the C compiler sees it:
 *   <struct> <size>
 *   <struct>.<field> <offset>
 * The Python and Rust binding tests compile and run it and compare with
 * their own declarations, so a field added, moved or retyped in
 * include/vllm/videollm.h without updating a binding fails a test. */
#include <stddef.h>
#include <stdio.h>

#define VLLM_EXPERIMENTAL /* its structs too */
#include "vllm/videollm.h"

#define S(T) printf(#T " %zu\n", sizeof(T))
#define F(T, f) printf(#T "." #f " %zu\n", offsetof(T, f))

int main(void)
{
    S(vllm_model_params);
    F(vllm_model_params, struct_size); F(vllm_model_params, mmproj_path); F(vllm_model_params, use_mmap);
    F(vllm_model_params, vocab_only); F(vllm_model_params, progress); F(vllm_model_params, progress_user_data);
    F(vllm_model_params, vision_precision); F(vllm_model_params, llamacpp_compat);
    F(vllm_model_params, image_min_tokens); F(vllm_model_params, image_max_tokens);

    S(vllm_model_info);
    F(vllm_model_info, struct_size); F(vllm_model_info, architecture); F(vllm_model_info, name);
    F(vllm_model_info, n_vocab); F(vllm_model_info, n_ctx_train); F(vllm_model_info, n_embd);
    F(vllm_model_info, n_layer); F(vllm_model_info, n_head); F(vllm_model_info, n_head_kv);
    F(vllm_model_info, n_params); F(vllm_model_info, weight_bytes); F(vllm_model_info, token_bos);
    F(vllm_model_info, token_eos); F(vllm_model_info, has_vision); F(vllm_model_info, tokens_per_frame);
    F(vllm_model_info, image_size); F(vllm_model_info, video_fps); F(vllm_model_info, video_max_frames);
    F(vllm_model_info, family);

    S(vllm_session_params);
    F(vllm_session_params, struct_size); F(vllm_session_params, n_ctx); F(vllm_session_params, n_threads);
    F(vllm_session_params, kv_type); F(vllm_session_params, dedup_threshold); F(vllm_session_params, prune_rate);
    F(vllm_session_params, prune_merge); F(vllm_session_params, system_prompt);

    S(vllm_generate_params);
    F(vllm_generate_params, struct_size); F(vllm_generate_params, max_tokens); F(vllm_generate_params, temperature);
    F(vllm_generate_params, top_k); F(vllm_generate_params, top_p); F(vllm_generate_params, min_p);
    F(vllm_generate_params, repeat_penalty); F(vllm_generate_params, repeat_last_n);
    F(vllm_generate_params, frequency_penalty); F(vllm_generate_params, presence_penalty);
    F(vllm_generate_params, seed); F(vllm_generate_params, stop_strings); F(vllm_generate_params, n_stop_strings);
    F(vllm_generate_params, raw); F(vllm_generate_params, on_token); F(vllm_generate_params, user_data);

    S(vllm_session_stats);
    F(vllm_session_stats, struct_size); F(vllm_session_stats, n_ctx); F(vllm_session_stats, n_past);
    F(vllm_session_stats, n_prompt_tokens); F(vllm_session_stats, n_generated_tokens);
    F(vllm_session_stats, prompt_seconds); F(vllm_session_stats, generate_seconds); F(vllm_session_stats, last_stop);
    F(vllm_session_stats, n_frames_seen); F(vllm_session_stats, n_frames_encoded); F(vllm_session_stats, n_visual_tokens);
    F(vllm_session_stats, decode_seconds); F(vllm_session_stats, encode_seconds);
    F(vllm_session_stats, media_prefill_seconds); F(vllm_session_stats, first_token_seconds);
    F(vllm_session_stats, peak_rss_bytes); F(vllm_session_stats, n_frames_dropped); F(vllm_session_stats, n_frames_evicted);
    F(vllm_session_stats, n_frames_deduped); F(vllm_session_stats, n_tokens_pruned);
    F(vllm_session_stats, n_media_text_tokens); F(vllm_session_stats, n_turns_evicted);

    S(vllm_frame);
    F(vllm_frame, struct_size); F(vllm_frame, format); F(vllm_frame, width); F(vllm_frame, height);
    F(vllm_frame, planes); F(vllm_frame, strides); F(vllm_frame, pts);

    S(vllm_video_params);
    F(vllm_video_params, struct_size); F(vllm_video_params, fps); F(vllm_video_params, max_frames);
    F(vllm_video_params, n_frames); F(vllm_video_params, start); F(vllm_video_params, end);
    F(vllm_video_params, progress); F(vllm_video_params, progress_user_data);
    F(vllm_video_params, dedup_threshold); F(vllm_video_params, prune_rate); F(vllm_video_params, prune_merge);
    F(vllm_video_params, max_visual_tokens); F(vllm_video_params, io_timeout_s);

    S(vllm_offload_params);
    F(vllm_offload_params, struct_size); F(vllm_offload_params, enabled); F(vllm_offload_params, retrieve_top_k);
    F(vllm_offload_params, max_ram_bytes); F(vllm_offload_params, max_file_bytes); F(vllm_offload_params, spill_dir);

    S(vllm_offload_stats);
    F(vllm_offload_stats, struct_size); F(vllm_offload_stats, frames_offloaded); F(vllm_offload_stats, frames_in_ram);
    F(vllm_offload_stats, frames_in_file); F(vllm_offload_stats, frames_dropped); F(vllm_offload_stats, frames_resident);
    F(vllm_offload_stats, frames_reloaded); F(vllm_offload_stats, retrievals); F(vllm_offload_stats, raw_bytes);
    F(vllm_offload_stats, compressed_bytes); F(vllm_offload_stats, ram_bytes); F(vllm_offload_stats, file_bytes);
    F(vllm_offload_stats, offload_seconds); F(vllm_offload_stats, reload_seconds);

    S(vllm_source_params);
    F(vllm_source_params, struct_size); F(vllm_source_params, fps); F(vllm_source_params, reconnect);
    F(vllm_source_params, reconnect_max_delay_s); F(vllm_source_params, io_timeout_s);
    F(vllm_source_params, queue_frames); F(vllm_source_params, input_format);

    S(vllm_source_stats);
    F(vllm_source_stats, struct_size); F(vllm_source_stats, state); F(vllm_source_stats, message);
    F(vllm_source_stats, stream_seconds); F(vllm_source_stats, ingested_seconds); F(vllm_source_stats, wall_seconds);
    F(vllm_source_stats, lag_seconds); F(vllm_source_stats, max_lag_seconds); F(vllm_source_stats, frames_read);
    F(vllm_source_stats, frames_sampled); F(vllm_source_stats, frames_kept); F(vllm_source_stats, frames_deduped);
    F(vllm_source_stats, frames_dropped); F(vllm_source_stats, frames_queued); F(vllm_source_stats, frames_failed);
    F(vllm_source_stats, reconnects);

    S(vllm_watch_event);
    F(vllm_watch_event, struct_size); F(vllm_watch_event, watch_id); F(vllm_watch_event, trigger);
    F(vllm_watch_event, stream_seconds); F(vllm_watch_event, answer); F(vllm_watch_event, yes_probability);
    F(vllm_watch_event, change); F(vllm_watch_event, changed); F(vllm_watch_event, eval_seconds);
    F(vllm_watch_event, evaluations);

    S(vllm_watch_params);
    F(vllm_watch_params, struct_size); F(vllm_watch_params, every_s); F(vllm_watch_params, change_threshold);
    F(vllm_watch_params, yes_no); F(vllm_watch_params, yes_threshold); F(vllm_watch_params, max_tokens);
    F(vllm_watch_params, notify_all);

    /* enums are passed as their underlying type */
    printf("vllm_status %zu\nvllm_pixel_format %zu\nvllm_kv_type %zu\nvllm_stop_reason %zu\n", sizeof(vllm_status),
           sizeof(vllm_pixel_format), sizeof(vllm_kv_type), sizeof(vllm_stop_reason));
    printf("vllm_source_state %zu\nvllm_watch_trigger %zu\n", sizeof(vllm_source_state), sizeof(vllm_watch_trigger));
    return 0;
}
