//! The #[repr(C)] declarations match the header: sizes and offsets against
//! the C compiler's view (bindings/layout.c), struct_size against the
//! library's *_default_params().
use std::collections::HashMap;
use std::mem::{size_of, MaybeUninit};
use std::process::Command;

use videollm::sys;

mod common;

fn c_layout() -> Option<HashMap<String, usize>> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let dir = std::env::temp_dir().join(format!("videollm-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("layout");
    let root = common::root();
    let status = Command::new(&cc)
        .arg("-std=c11")
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("bindings/layout.c"))
        .arg("-o")
        .arg(&exe)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{} failed on bindings/layout.c: {}", cc, s),
        Err(e) => {
            eprintln!("no C compiler ({}: {}): layout comparison skipped", cc, e);
            return None;
        }
    }
    let out = Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| {
                let mut it = l.split_whitespace();
                (it.next().unwrap().to_string(), it.next().unwrap().parse().unwrap())
            })
            .collect(),
    )
}

/// Byte offset of a field without offset_of! (Rust 1.63).
macro_rules! offset {
    ($t:ty, $f:ident) => {{
        let u = MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        (unsafe { std::ptr::addr_of!((*base).$f) } as usize) - (base as usize)
    }};
}

macro_rules! check_struct {
    ($c:expr, $t:ident, [$($f:ident),* $(,)?]) => {{
        let c = $c;
        let name = stringify!($t);
        assert_eq!(size_of::<sys::$t>(), c[name], "sizeof {}", name);
        let mut ours = Vec::new();
        $(
            let key = format!("{}.{}", name, stringify!($f));
            assert_eq!(offset!(sys::$t, $f), c[&key], "offsetof {}", key);
            ours.push(stringify!($f).to_string());
        )*
        // no C field left out
        let mut theirs: Vec<String> = c.keys().filter_map(|k| k.strip_prefix(&format!("{}.", name)).map(String::from)).collect();
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs, "fields of {}", name);
    }};
}

#[test]
fn structs_match_the_c_compiler() {
    let c = match c_layout() {
        Some(c) => c,
        None => return,
    };
    check_struct!(&c, vllm_model_params, [struct_size, mmproj_path, use_mmap, vocab_only, progress, progress_user_data,
                                         vision_precision, llamacpp_compat, image_min_tokens, image_max_tokens]);
    check_struct!(&c, vllm_model_info, [struct_size, architecture, name, n_vocab, n_ctx_train, n_embd, n_layer, n_head,
                                       n_head_kv, n_params, weight_bytes, token_bos, token_eos, has_vision,
                                       tokens_per_frame, image_size, video_fps, video_max_frames, family]);
    check_struct!(&c, vllm_session_params, [struct_size, n_ctx, n_threads, kv_type, dedup_threshold, prune_rate,
                                            prune_merge, system_prompt]);
    check_struct!(&c, vllm_generate_params, [struct_size, max_tokens, temperature, top_k, top_p, min_p, repeat_penalty,
                                            repeat_last_n, frequency_penalty, presence_penalty, seed, stop_strings,
                                            n_stop_strings, raw, on_token, user_data]);
    check_struct!(&c, vllm_session_stats, [struct_size, n_ctx, n_past, n_prompt_tokens, n_generated_tokens,
                                          prompt_seconds, generate_seconds, last_stop, n_frames_seen, n_frames_encoded,
                                          n_visual_tokens, decode_seconds, encode_seconds, media_prefill_seconds,
                                          first_token_seconds, peak_rss_bytes, n_frames_dropped, n_frames_evicted, n_frames_deduped,
                                          n_tokens_pruned, n_media_text_tokens, n_turns_evicted]);
    check_struct!(&c, vllm_frame, [struct_size, format, width, height, planes, strides, pts]);
    check_struct!(&c, vllm_video_params, [struct_size, fps, max_frames, n_frames, start, end, progress,
                                         progress_user_data, dedup_threshold, prune_rate, prune_merge,
                                         max_visual_tokens, io_timeout_s]);
    check_struct!(&c, vllm_offload_params, [struct_size, enabled, retrieve_top_k, max_ram_bytes, max_file_bytes,
                                            spill_dir]);
    check_struct!(&c, vllm_offload_stats, [struct_size, frames_offloaded, frames_in_ram, frames_in_file,
                                           frames_dropped, frames_resident, frames_reloaded, retrievals, raw_bytes,
                                           compressed_bytes, ram_bytes, file_bytes, offload_seconds, reload_seconds]);
    check_struct!(&c, vllm_source_params, [struct_size, fps, reconnect, reconnect_max_delay_s, io_timeout_s,
                                           queue_frames, input_format]);
    check_struct!(&c, vllm_source_stats, [struct_size, state, message, stream_seconds, ingested_seconds, wall_seconds,
                                          lag_seconds, max_lag_seconds, frames_read, frames_sampled, frames_kept,
                                          frames_deduped, frames_dropped, frames_queued, frames_failed, reconnects]);
    check_struct!(&c, vllm_watch_event, [struct_size, watch_id, trigger, stream_seconds, answer, yes_probability,
                                         change, changed, eval_seconds, evaluations]);
    check_struct!(&c, vllm_watch_params, [struct_size, every_s, change_threshold, yes_no, yes_threshold, max_tokens,
                                          notify_all]);
    for e in ["vllm_status", "vllm_pixel_format", "vllm_kv_type", "vllm_stop_reason", "vllm_source_state",
              "vllm_watch_trigger"] {
        assert_eq!(c[e], size_of::<std::os::raw::c_int>(), "{}", e);
    }
}

#[test]
fn struct_size_matches_the_library() {
    unsafe {
        assert_eq!(sys::vllm_model_default_params().struct_size, size_of::<sys::vllm_model_params>());
        assert_eq!(sys::vllm_session_default_params().struct_size, size_of::<sys::vllm_session_params>());
        assert_eq!(sys::vllm_generate_default_params().struct_size, size_of::<sys::vllm_generate_params>());
        assert_eq!(sys::vllm_video_default_params().struct_size, size_of::<sys::vllm_video_params>());
        assert_eq!(sys::vllm_offload_default_params().struct_size, size_of::<sys::vllm_offload_params>());
        assert_eq!(sys::vllm_source_default_params().struct_size, size_of::<sys::vllm_source_params>());
        assert_eq!(sys::vllm_watch_default_params().struct_size, size_of::<sys::vllm_watch_params>());
    }
}

#[test]
fn every_header_function_is_declared() {
    let header = std::fs::read_to_string(common::root().join("include/vllm/videollm.h")).unwrap();
    let sys_src = include_str!("../../videollm-sys/src/lib.rs");
    let mut n = 0;
    for decl in header.split("VLLM_API").skip(1) {
        let head = &decl[..decl.find('(').unwrap()];
        // the `#define VLLM_API ...` lines have no vllm_ name before '('
        let name = match head.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("vllm_")).last() {
            Some(n) => n,
            None => continue,
        };
        n += 1;
        assert!(sys_src.contains(&format!("pub fn {}(", name)), "{} is not declared in videollm-sys", name);
    }
    assert!(n > 30, "only {} declarations found", n);
}

#[test]
fn version() {
    assert_eq!(videollm::version(), "0.1.0");
    assert_eq!(videollm::version_number(), sys::VLLM_VERSION_NUMBER);
}
