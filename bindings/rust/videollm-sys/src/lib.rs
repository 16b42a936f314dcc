//! Raw declarations of `include/vllm/videollm.h`, one for one.
//!
//! Structs are `#[repr(C)]` with the header's field order and C types;
//! enums are plain `c_int` aliases with constants (a C enum value the
//! binding does not know must not be undefined behaviour in Rust). Use the
//! `videollm` crate for a safe interface. The functions of the header's
//! `VLLM_EXPERIMENTAL` section are at the end; they may change in any
//! release of the library.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_double, c_float, c_int, c_uint, c_void};

pub const VLLM_VERSION_MAJOR: c_uint = 0;
pub const VLLM_VERSION_MINOR: c_uint = 1;
pub const VLLM_VERSION_PATCH: c_uint = 0;
pub const VLLM_VERSION_NUMBER: c_uint = VLLM_VERSION_MAJOR * 10000 + VLLM_VERSION_MINOR * 100 + VLLM_VERSION_PATCH;

// ---- status codes ----
pub type vllm_status = c_int;
pub const VLLM_OK: vllm_status = 0;
pub const VLLM_DONE: vllm_status = 1;
pub const VLLM_ERR_INVALID_ARG: vllm_status = -1;
pub const VLLM_ERR_IO: vllm_status = -2;
pub const VLLM_ERR_FORMAT: vllm_status = -3;
pub const VLLM_ERR_UNSUPPORTED: vllm_status = -4;
pub const VLLM_ERR_NOMEM: vllm_status = -5;
pub const VLLM_ERR_CONTEXT_FULL: vllm_status = -6;
pub const VLLM_ERR_CANCELLED: vllm_status = -7;
pub const VLLM_ERR_DECODE: vllm_status = -8;
pub const VLLM_ERR_BUFFER_TOO_SMALL: vllm_status = -9;
pub const VLLM_ERR_STATE: vllm_status = -10;
pub const VLLM_ERR_INTERNAL: vllm_status = -11;

/// `vllm_is_error()` is `static inline` in the header, so it is not a symbol.
#[inline]
pub fn vllm_is_error(s: vllm_status) -> bool {
    s < 0
}

// ---- logging ----
pub type vllm_log_level = c_int;
pub const VLLM_LOG_ERROR: vllm_log_level = 0;
pub const VLLM_LOG_WARN: vllm_log_level = 1;
pub const VLLM_LOG_INFO: vllm_log_level = 2;
pub const VLLM_LOG_DEBUG: vllm_log_level = 3;

pub type vllm_log_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, level: vllm_log_level, message: *const c_char)>;
pub type vllm_progress_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, stage: *const c_char, fraction: c_float) -> c_int>;
pub type vllm_token_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, token: i32, piece: *const c_char, piece_len: usize) -> c_int>;

// ---- opaque handles ----
#[repr(C)]
pub struct vllm_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct vllm_session {
    _private: [u8; 0],
}

// ---- models ----
pub const VLLM_VISION_AUTO: c_int = 0;
pub const VLLM_VISION_F32: c_int = 1;
pub const VLLM_VISION_GGML: c_int = 2;
pub const VLLM_VISION_BF16: c_int = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_model_params {
    pub struct_size: usize,
    pub mmproj_path: *const c_char,
    pub use_mmap: c_int,
    pub vocab_only: c_int,
    pub progress: vllm_progress_fn,
    pub progress_user_data: *mut c_void,
    pub vision_precision: c_int,
    pub llamacpp_compat: c_int,
    pub image_min_tokens: i32,
    pub image_max_tokens: i32,
}

/// The largest `image_min_tokens` / `image_max_tokens` accepted.
pub const VLLM_IMAGE_TOKENS_LIMIT: i32 = 16384;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_model_info {
    pub struct_size: usize,
    pub architecture: *const c_char,
    pub name: *const c_char,
    pub n_vocab: i32,
    pub n_ctx_train: i32,
    pub n_embd: i32,
    pub n_layer: i32,
    pub n_head: i32,
    pub n_head_kv: i32,
    pub n_params: u64,
    pub weight_bytes: u64,
    pub token_bos: i32,
    pub token_eos: i32,
    pub has_vision: i32,
    pub tokens_per_frame: i32,
    pub image_size: i32,
    pub video_fps: c_float,
    pub video_max_frames: i32,
    pub family: *const c_char,
}

pub const VLLM_TOKENIZE_ADD_SPECIAL: c_uint = 1;
pub const VLLM_TOKENIZE_PARSE_SPECIAL: c_uint = 2;
pub const VLLM_DETOKENIZE_SPECIAL: c_uint = 1;

// ---- sessions ----
pub type vllm_kv_type = c_int;
pub const VLLM_KV_F32: vllm_kv_type = 0;
pub const VLLM_KV_F16: vllm_kv_type = 1;
pub const VLLM_KV_Q8_0: vllm_kv_type = 2;
pub const VLLM_KV_Q4_0: vllm_kv_type = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_session_params {
    pub struct_size: usize,
    pub n_ctx: i32,
    pub n_threads: i32,
    pub kv_type: vllm_kv_type,
    pub dedup_threshold: c_float,
    pub prune_rate: c_float,
    pub prune_merge: i32,
    pub system_prompt: *const c_char,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_generate_params {
    pub struct_size: usize,
    pub max_tokens: i32,
    pub temperature: c_float,
    pub top_k: i32,
    pub top_p: c_float,
    pub min_p: c_float,
    pub repeat_penalty: c_float,
    pub repeat_last_n: i32,
    pub frequency_penalty: c_float,
    pub presence_penalty: c_float,
    pub seed: u64,
    pub stop_strings: *const *const c_char,
    pub n_stop_strings: usize,
    pub raw: c_int,
    pub on_token: vllm_token_fn,
    pub user_data: *mut c_void,
}

pub type vllm_stop_reason = c_int;
pub const VLLM_STOP_NONE: vllm_stop_reason = 0;
pub const VLLM_STOP_EOG: vllm_stop_reason = 1;
pub const VLLM_STOP_MAX_TOKENS: vllm_stop_reason = 2;
pub const VLLM_STOP_STRING: vllm_stop_reason = 3;
pub const VLLM_STOP_CONTEXT_FULL: vllm_stop_reason = 4;
pub const VLLM_STOP_CANCELLED: vllm_stop_reason = 5;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_session_stats {
    pub struct_size: usize,
    pub n_ctx: i32,
    pub n_past: i32,
    pub n_prompt_tokens: i64,
    pub n_generated_tokens: i64,
    pub prompt_seconds: c_double,
    pub generate_seconds: c_double,
    pub last_stop: vllm_stop_reason,
    pub n_frames_seen: i64,
    pub n_frames_encoded: i64,
    pub n_visual_tokens: i64,
    pub decode_seconds: c_double,
    pub encode_seconds: c_double,
    pub media_prefill_seconds: c_double,
    pub first_token_seconds: c_double,
    pub peak_rss_bytes: i64,
    pub n_frames_dropped: i64,
    pub n_frames_evicted: i64,
    pub n_frames_deduped: i64,
    pub n_tokens_pruned: i64,
    pub n_media_text_tokens: i64,
    pub n_turns_evicted: i64,
}

// ---- KV offload tier (experimental) ----
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_offload_params {
    pub struct_size: usize,
    pub enabled: i32,
    pub retrieve_top_k: i32,
    pub max_ram_bytes: i64,
    pub max_file_bytes: i64,
    pub spill_dir: *const c_char,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_offload_stats {
    pub struct_size: usize,
    pub frames_offloaded: i64,
    pub frames_in_ram: i64,
    pub frames_in_file: i64,
    pub frames_dropped: i64,
    pub frames_resident: i64,
    pub frames_reloaded: i64,
    pub retrievals: i64,
    pub raw_bytes: i64,
    pub compressed_bytes: i64,
    pub ram_bytes: i64,
    pub file_bytes: i64,
    pub offload_seconds: c_double,
    pub reload_seconds: c_double,
}

// ---- live sources and watches (experimental) ----
pub type vllm_source_state = c_int;
pub const VLLM_SOURCE_NONE: vllm_source_state = 0;
pub const VLLM_SOURCE_CONNECTING: vllm_source_state = 1;
pub const VLLM_SOURCE_READING: vllm_source_state = 2;
pub const VLLM_SOURCE_RECONNECTING: vllm_source_state = 3;
pub const VLLM_SOURCE_ENDED: vllm_source_state = 4;
pub const VLLM_SOURCE_FAILED: vllm_source_state = 5;

pub const VLLM_SOURCE_MESSAGE_MAX: usize = 256;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_source_params {
    pub struct_size: usize,
    pub fps: c_float,
    pub reconnect: i32,
    pub reconnect_max_delay_s: c_double,
    pub io_timeout_s: c_double,
    pub queue_frames: i32,
    pub input_format: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct vllm_source_stats {
    pub struct_size: usize,
    pub state: vllm_source_state,
    pub message: [c_char; VLLM_SOURCE_MESSAGE_MAX],
    pub stream_seconds: c_double,
    pub ingested_seconds: c_double,
    pub wall_seconds: c_double,
    pub lag_seconds: c_double,
    pub max_lag_seconds: c_double,
    pub frames_read: i64,
    pub frames_sampled: i64,
    pub frames_kept: i64,
    pub frames_deduped: i64,
    pub frames_dropped: i64,
    pub frames_queued: i64,
    pub frames_failed: i64,
    pub reconnects: i64,
}

pub type vllm_watch_trigger = c_int;
pub const VLLM_WATCH_FIRST: vllm_watch_trigger = 0;
pub const VLLM_WATCH_PERIOD: vllm_watch_trigger = 1;
pub const VLLM_WATCH_CHANGE: vllm_watch_trigger = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_watch_event {
    pub struct_size: usize,
    pub watch_id: i32,
    pub trigger: vllm_watch_trigger,
    pub stream_seconds: c_double,
    pub answer: *const c_char,
    pub yes_probability: c_float,
    pub change: c_float,
    pub changed: i32,
    pub eval_seconds: c_double,
    pub evaluations: i64,
}

pub type vllm_watch_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const vllm_watch_event)>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_watch_params {
    pub struct_size: usize,
    pub every_s: c_double,
    pub change_threshold: c_float,
    pub yes_no: i32,
    pub yes_threshold: c_float,
    pub max_tokens: i32,
    pub notify_all: i32,
}

// ---- media ----
pub type vllm_pixel_format = c_int;
pub const VLLM_PIXFMT_RGB24: vllm_pixel_format = 0;
pub const VLLM_PIXFMT_RGBA: vllm_pixel_format = 1;
pub const VLLM_PIXFMT_BGRA: vllm_pixel_format = 2;
pub const VLLM_PIXFMT_NV12: vllm_pixel_format = 3;
pub const VLLM_PIXFMT_YUV420P: vllm_pixel_format = 4;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_frame {
    pub struct_size: usize,
    pub format: vllm_pixel_format,
    pub width: i32,
    pub height: i32,
    pub planes: [*const u8; 3],
    pub strides: [i32; 3],
    pub pts: c_double,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vllm_video_params {
    pub struct_size: usize,
    pub fps: c_float,
    pub max_frames: i32,
    pub n_frames: i32,
    pub start: c_double,
    pub end: c_double,
    pub progress: vllm_progress_fn,
    pub progress_user_data: *mut c_void,
    pub dedup_threshold: c_float,
    pub prune_rate: c_float,
    pub prune_merge: i32,
    pub max_visual_tokens: i32,
    pub io_timeout_s: c_double,
}

extern "C" {
    pub fn vllm_version() -> *const c_char;
    pub fn vllm_version_number() -> c_uint;
    pub fn vllm_status_string(status: vllm_status) -> *const c_char;
    pub fn vllm_last_error() -> *const c_char;
    pub fn vllm_set_log_callback(f: vllm_log_fn, user_data: *mut c_void, max_level: vllm_log_level);

    pub fn vllm_model_default_params() -> vllm_model_params;
    pub fn vllm_model_load(path: *const c_char, params: *const vllm_model_params, out_model: *mut *mut vllm_model)
        -> vllm_status;
    pub fn vllm_model_free(model: *mut vllm_model);
    pub fn vllm_model_get_info(model: *const vllm_model, info: *mut vllm_model_info) -> vllm_status;

    pub fn vllm_tokenize(
        model: *const vllm_model,
        text: *const c_char,
        len: usize,
        flags: c_uint,
        tokens: *mut i32,
        capacity: usize,
        n_tokens: *mut usize,
    ) -> vllm_status;
    pub fn vllm_detokenize(
        model: *const vllm_model,
        tokens: *const i32,
        n: usize,
        flags: c_uint,
        buf: *mut c_char,
        capacity: usize,
        len: *mut usize,
    ) -> vllm_status;
    pub fn vllm_token_is_eog(model: *const vllm_model, token: i32) -> c_int;

    pub fn vllm_session_default_params() -> vllm_session_params;
    pub fn vllm_session_create(
        model: *mut vllm_model,
        params: *const vllm_session_params,
        out_session: *mut *mut vllm_session,
    ) -> vllm_status;
    pub fn vllm_session_free(session: *mut vllm_session);
    pub fn vllm_session_reset(session: *mut vllm_session) -> vllm_status;
    pub fn vllm_session_last_error(session: *const vllm_session) -> *const c_char;
    pub fn vllm_session_cancel(session: *mut vllm_session);

    pub fn vllm_generate_default_params() -> vllm_generate_params;
    pub fn vllm_session_query(session: *mut vllm_session, prompt: *const c_char, params: *const vllm_generate_params)
        -> vllm_status;
    pub fn vllm_session_next_token(
        session: *mut vllm_session,
        token: *mut i32,
        piece: *mut *const c_char,
        piece_len: *mut usize,
    ) -> vllm_status;
    pub fn vllm_session_generate(
        session: *mut vllm_session,
        prompt: *const c_char,
        params: *const vllm_generate_params,
    ) -> vllm_status;
    pub fn vllm_session_get_stats(session: *const vllm_session, stats: *mut vllm_session_stats) -> vllm_status;

    pub fn vllm_session_push_frame(session: *mut vllm_session, frame: *const vllm_frame) -> vllm_status;
    pub fn vllm_video_default_params() -> vllm_video_params;
    pub fn vllm_session_push_video(
        session: *mut vllm_session,
        path_or_url: *const c_char,
        params: *const vllm_video_params,
    ) -> vllm_status;
    pub fn vllm_session_push_video_buffer(
        session: *mut vllm_session,
        data: *const c_void,
        size: usize,
        params: *const vllm_video_params,
    ) -> vllm_status;
    pub fn vllm_session_push_image(session: *mut vllm_session, path: *const c_char) -> vllm_status;
    pub fn vllm_compression_preset(
        name: *const c_char,
        session: *mut vllm_session_params,
        video: *mut vllm_video_params,
    ) -> vllm_status;

    pub fn vllm_session_save(session: *mut vllm_session, path: *const c_char) -> vllm_status;
    pub fn vllm_session_load(session: *mut vllm_session, path: *const c_char) -> vllm_status;

    // ---- experimental (VLLM_EXPERIMENTAL): may change in any release ----
    pub fn vllm_session_eval_tokens(session: *mut vllm_session, tokens: *const i32, n: usize) -> vllm_status;
    pub fn vllm_session_logits(session: *const vllm_session) -> *const c_float;
    pub fn vllm_session_history(session: *const vllm_session, tokens: *mut *const i32, n: *mut usize) -> vllm_status;
    pub fn vllm_offload_default_params() -> vllm_offload_params;
    pub fn vllm_session_set_offload(session: *mut vllm_session, params: *const vllm_offload_params) -> vllm_status;
    pub fn vllm_session_recall(session: *mut vllm_session, t0: c_double, t1: c_double, n_reloaded: *mut i32)
        -> vllm_status;
    pub fn vllm_session_get_offload_stats(session: *const vllm_session, stats: *mut vllm_offload_stats) -> vllm_status;
    pub fn vllm_source_default_params() -> vllm_source_params;
    pub fn vllm_session_attach_source(
        session: *mut vllm_session,
        url: *const c_char,
        params: *const vllm_source_params,
    ) -> vllm_status;
    pub fn vllm_session_detach_source(session: *mut vllm_session) -> vllm_status;
    pub fn vllm_session_source_stats(session: *mut vllm_session, stats: *mut vllm_source_stats) -> vllm_status;
    pub fn vllm_watch_default_params() -> vllm_watch_params;
    pub fn vllm_session_watch(
        session: *mut vllm_session,
        question: *const c_char,
        params: *const vllm_watch_params,
        callback: vllm_watch_fn,
        user_data: *mut c_void,
        watch_id: *mut i32,
    ) -> vllm_status;
    pub fn vllm_session_unwatch(session: *mut vllm_session, watch_id: i32) -> vllm_status;
}
