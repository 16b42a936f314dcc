//! The safe wrapper against independent references: the C CLI (same prompt
//! and seed: same text bytes and token ids) and llama.cpp's greedy output
//! on the fixture; callbacks (panic -> cancellation + error), cancellation
//! from another thread, errors with the library's messages, media.
use std::ops::ControlFlow;
use std::thread;

use videollm::sys;

use videollm::{
    ErrorKind, Frame, GenerateParams, KvType, Model, ModelParams, OffloadParams, PixelFormat, Session, SessionParams, StopReason,
    VideoParams,
};

mod common;

fn model() -> Model {
    Model::load(common::text_model(), &ModelParams::default()).expect("load the fixture model")
}

fn one_thread() -> SessionParams {
    SessionParams { n_threads: 1, ..Default::default() }
}

fn sampled(n: i32, seed: u64, raw: bool) -> GenerateParams {
    GenerateParams { max_tokens: n, seed, temperature: 0.8, raw, ..Default::default() }
}

#[test]
fn thread_safety_markers() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Model>();
    send::<Session>();
    send_sync::<videollm::Canceller>();
    send_sync::<videollm::FramePusher>();
    send_sync::<videollm::Error>();
    // Session is not Sync: see the compile_fail doc test on Session.
}

#[test]
fn tokens_match_the_cli() {
    let cli = match common::cli() {
        Some(c) => c,
        None => {
            eprintln!("videollm CLI not found (set VIDEOLLM_CLI): comparison not run");
            return;
        }
    };
    let m = model();
    for (i, prompt) in ["Hello world", "Once upon a time, in a land far away", "Ünïcödé ✓ sea"].iter().enumerate() {
        for &raw in &[true, false] {
            let seed = 11 + 17 * i as u64;
            let (text, ids) = common::cli_ask(&cli, prompt, 16, seed, 0.8, raw, &[]);
            let mut s = m.session(&one_thread()).unwrap();
            let toks: Vec<_> = s.tokens(prompt, &sampled(16, seed, raw)).unwrap().collect::<Result<_, _>>().unwrap();
            let got_ids: Vec<i32> = toks.iter().map(|t| t.id).filter(|&id| id >= 0).collect();
            assert_eq!(got_ids, ids, "{:?} raw={}", prompt, raw);
            assert_eq!(toks.iter().flat_map(|t| t.piece.clone()).collect::<Vec<u8>>(), text);
            assert_eq!(s.stats().unwrap().last_stop, StopReason::MaxTokens);

            s.reset().unwrap();
            let answer = s.ask(prompt, &sampled(16, seed, raw)).unwrap();
            assert_eq!(answer, String::from_utf8_lossy(&text));

            s.reset().unwrap();
            let mut cb_ids = Vec::new();
            let mut cb_text = Vec::new();
            s.generate(prompt, &sampled(16, seed, raw), |id, piece| {
                if id >= 0 {
                    cb_ids.push(id);
                }
                cb_text.extend_from_slice(piece);
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(cb_ids, ids);
            assert_eq!(cb_text, text);
        }
    }
}

#[test]
fn greedy_matches_llamacpp_reference() {
    let json = std::fs::read_to_string(common::data().join("tiny-smolvlm2/ref/text/F32_ref_gen.json")).unwrap();
    let prompt = common::json_str(&json, "prompt");
    let m = model();
    assert_eq!(m.tokenize(&prompt, false, false).unwrap(), common::json_ints(&json, "prompt_ids"));
    // llama.cpp's reference ran with an f32 KV cache (the library's default is f16)
    let mut s = m.session(&SessionParams { kv_type: KvType::F32, ..one_thread() }).unwrap();
    let p = GenerateParams { max_tokens: 16, temperature: 0.0, raw: true, ..Default::default() };
    let ids: Vec<i32> = s.tokens(&prompt, &p).unwrap().map(|t| t.unwrap().id).collect();
    assert_eq!(ids, common::json_ints(&json, "generated_ids"));
    assert_eq!(m.detokenize(&ids, false).unwrap(), common::json_str(&json, "generated_text"));
}

#[test]
fn panic_in_callback_cancels_and_is_an_error() {
    let m = model();
    let mut s = m.session(&one_thread()).unwrap();
    let mut calls = 0;
    let err = s
        .generate("Hello world", &sampled(16, 1, true), |_, _| {
            calls += 1;
            if calls == 3 {
                panic!("boom at three");
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CallbackPanicked);
    assert!(err.message().contains("boom at three"), "{}", err);
    assert_eq!(calls, 3);
    let st = s.stats().unwrap();
    assert_eq!(st.last_stop, StopReason::Cancelled);
    assert_eq!(st.n_generated_tokens, 3);
    // the library still holds the old callback pointer: pulling is refused
    assert_eq!(s.next_token().unwrap_err().kind(), ErrorKind::State);
    // and the session goes on
    assert!(!s.ask("Hello", &sampled(2, 1, true)).unwrap().is_empty());
}

#[test]
fn break_stops_without_error() {
    let m = model();
    let mut s = m.session(&one_thread()).unwrap();
    let full = s.ask("Hello world", &sampled(8, 4, true)).unwrap();
    s.reset().unwrap();
    let mut got = Vec::new();
    s.generate("Hello world", &sampled(8, 4, true), |_, piece| {
        got.extend_from_slice(piece);
        if got.len() > 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    let part = String::from_utf8(got).unwrap();
    assert!(full.starts_with(&part) && part.len() < full.len(), "{:?} / {:?}", part, full);
}

#[test]
fn stop_string_ends_the_iterator() {
    let m = model();
    let mut s = m.session(&one_thread()).unwrap();
    let full = s.ask("Hello world", &sampled(16, 42, true)).unwrap();
    let word = full.split_whitespace().nth(4).expect("five words").to_string();
    s.reset().unwrap();
    let p = GenerateParams { stop: vec![word.clone()], ..sampled(16, 42, true) };
    let text = s.ask("Hello world", &p).unwrap();
    assert_eq!(text, &full[..full.find(&word).unwrap()]);
    assert_eq!(s.stats().unwrap().last_stop, StopReason::StopString);
}

#[test]
fn cancel_from_another_thread() {
    let m = model();
    let mut s = m.session(&one_thread()).unwrap();
    let c = s.canceller();
    let mut n = 0;
    let err = s
        .generate("Hello", &GenerateParams { max_tokens: -1, raw: true, ..Default::default() }, |_, _| {
            n += 1;
            if n == 1 {
                let c = c.clone();
                thread::spawn(move || c.cancel()).join().unwrap();
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(n, 1);
    drop(s);
    c.cancel(); // after the session is gone: a no-op
}

#[test]
fn sessions_on_threads_share_a_model() {
    let m = model();
    let want = m.session(&one_thread()).unwrap().ask("Hello", &sampled(8, 5, true)).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || m.session(&one_thread()).unwrap().ask("Hello", &sampled(8, 5, true)).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
    // a session moves to another thread and outlives its Model value
    let mut s = m.session(&one_thread()).unwrap();
    drop(m);
    let got = thread::spawn(move || s.ask("Hello", &sampled(8, 5, true)).unwrap()).join().unwrap();
    assert_eq!(got, want);
}

#[test]
fn errors_carry_the_library_message() {
    let e = Model::load("/nonexistent/model.gguf", &ModelParams::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains("/nonexistent/model.gguf"), "{}", e);
    assert!(e.to_string().contains("VLLM_ERR_IO"), "{}", e);

    let m = model();
    let e = m.session(&SessionParams { n_threads: -1, ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("n_threads"), "{}", e);

    let mut s = m.session(&one_thread()).unwrap();
    let e = s.next_token().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
    assert_eq!(s.last_error(), e.message());
    assert_eq!(s.ask("a\0b", &GenerateParams::default()).unwrap_err().kind(), ErrorKind::InvalidArg);
    let p = GenerateParams { stop: vec![String::new()], ..Default::default() };
    assert_eq!(s.ask("x", &p).unwrap_err().kind(), ErrorKind::InvalidArg);
    let mut small = m.session(&SessionParams { n_ctx: 8, n_threads: 1, ..Default::default() }).unwrap();
    let e = small.ask(&"word ".repeat(50), &GenerateParams { raw: true, ..Default::default() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContextFull);

    // the image token bounds are checked by the library, naming the field
    for (min, max, named) in [(-1, 0, "image_min_tokens (--image-min-tokens) = -1"),
                              (0, sys::VLLM_IMAGE_TOKENS_LIMIT + 1, "image_max_tokens (--image-max-tokens) = 16385"),
                              (300, 200, "image_min_tokens = 300 is above")] {
        let p = ModelParams { image_min_tokens: min, image_max_tokens: max, ..Default::default() };
        let e = Model::load(common::text_model(), &p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArg);
        assert!(e.message().contains(named), "{}", e);
    }

    // text-only model: media refused by the library
    let rgb = [0u8; 12];
    let f = Frame::new(PixelFormat::Rgb24, 2, 2, &rgb, 0.0).unwrap();
    assert_eq!(s.push_frame(&f).unwrap_err().kind(), ErrorKind::State);
}

#[test]
fn frame_arguments_are_checked() {
    let buf = vec![0u8; 10 * 10 * 3];
    let e = Frame::new(PixelFormat::Rgb24, 10, 10, &buf[..299], 0.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("needs 300 bytes"), "{}", e);
    assert!(Frame::new(PixelFormat::Rgba, 10, 10, &buf, 0.0).is_err());
    assert!(Frame::new(PixelFormat::Nv12, 10, 10, &buf[..149], 0.0).is_err());
    assert!(Frame::new(PixelFormat::Nv12, 10, 10, &buf[..150], 0.0).is_ok());
    assert!(Frame::new(PixelFormat::Rgb24, 0, 10, &buf, 0.0).is_err());
    assert!(Frame::new(PixelFormat::Rgb24, 16385, 1, &vec![0u8; 16385 * 3], 0.0).is_err());
    let e = Frame::with_planes(PixelFormat::Rgb24, 10, 10, &[(&buf, 29)], 0.0).unwrap_err();
    assert!(e.message().contains("stride"), "{}", e);
    assert!(Frame::with_planes(PixelFormat::Yuv420p, 10, 10, &[(&buf[..100], 10)], 0.0).is_err());
    assert!(Frame::with_planes(PixelFormat::Yuv420p, 9, 9, &[(&buf[..81], 9), (&buf[..25], 5), (&buf[..24], 5)], 0.0)
        .is_err());
    assert!(Frame::with_planes(PixelFormat::Yuv420p, 9, 9, &[(&buf[..81], 9), (&buf[..25], 5), (&buf[..25], 5)], 0.0)
        .is_ok());
}

fn vision_model() -> Model {
    let p = ModelParams { mmproj: Some(common::mmproj()), ..Default::default() };
    Model::load(common::text_model(), &p).expect("load fixture model + mmproj")
}

#[test]
fn family_is_named_by_the_mmproj() {
    assert_eq!(vision_model().info().unwrap().family.as_deref(), Some("smolvlm2"));
    assert_eq!(model().info().unwrap().family, None);
    for (set, family) in [("tiny-qwen25vl", "qwen2.5-vl"), ("tiny-qwen3vl", "qwen3-vl")] {
        let dir = common::data().join(set).join("models");
        let p = ModelParams { mmproj: Some(dir.join(format!("{}-main-mmproj-F32.gguf", set))), ..Default::default() };
        let m = Model::load(dir.join(format!("{}-main-text-F32.gguf", set)), &p).expect("load the tiny pair");
        assert_eq!(m.info().unwrap().family.as_deref(), Some(family), "{}", set);
    }
}

fn logits_after(m: &Model, push: impl FnOnce(&mut Session)) -> Vec<f32> {
    let mut s = m.session(&one_thread()).unwrap();
    push(&mut s);
    s.query("What is it?", &GenerateParams { max_tokens: 1, ..Default::default() }).unwrap();
    s.logits().unwrap().expect("logits")
}

#[test]
fn same_picture_any_layout() {
    let m = vision_model();
    let (w, h) = (37u32, 29u32);
    let rgb: Vec<u8> = (0..(w * h * 3) as usize).map(|i| ((i * 7 + (i / 111) * 13) % 256) as u8).collect();
    let bgra: Vec<u8> = rgb.chunks(3).flat_map(|p| vec![p[2], p[1], p[0], 0x42]).collect();
    let pitch = 3 * w as usize + 5;
    let mut padded = vec![0xEEu8; pitch * h as usize];
    for r in 0..h as usize {
        padded[r * pitch..r * pitch + 3 * w as usize].copy_from_slice(&rgb[r * 3 * w as usize..(r + 1) * 3 * w as usize]);
    }
    let a = logits_after(&m, |s| s.push_frame(&Frame::new(PixelFormat::Rgb24, w, h, &rgb, 0.0).unwrap()).unwrap());
    let b = logits_after(&m, |s| s.push_frame(&Frame::new(PixelFormat::Bgra, w, h, &bgra, 0.0).unwrap()).unwrap());
    let c = logits_after(&m, |s| {
        s.push_frame(&Frame::with_planes(PixelFormat::Rgb24, w, h, &[(&padded, pitch)], 0.0).unwrap()).unwrap()
    });
    assert_eq!(a, b);
    assert_eq!(a, c);
    let mut other = rgb.clone();
    other[0] ^= 0xff;
    other[500] ^= 0xff;
    let d = logits_after(&m, |s| s.push_frame(&Frame::new(PixelFormat::Rgb24, w, h, &other, 0.0).unwrap()).unwrap());
    assert_ne!(a, d);
}

#[test]
fn video_matches_the_cli() {
    let cli = match common::cli() {
        Some(c) => c,
        None => {
            eprintln!("videollm CLI not found (set VIDEOLLM_CLI): comparison not run");
            return;
        }
    };
    let m = vision_model();
    let mmproj = common::mmproj();
    let video = common::video();
    let (text, ids) = common::cli_ask(
        &cli,
        "Describe this video.",
        12,
        5,
        0.8,
        false,
        &["--mmproj", mmproj.to_str().unwrap(), "--video", video.to_str().unwrap(), "--n-frames", "3"],
    );
    let mut s = m.session(&one_thread()).unwrap();
    s.push_video(&video, &VideoParams { n_frames: 3, ..Default::default() }).unwrap();
    assert_eq!(s.stats().unwrap().n_frames_encoded, 3);
    let toks: Vec<_> = s.tokens("Describe this video.", &sampled(12, 5, false)).unwrap().map(|t| t.unwrap()).collect();
    assert_eq!(toks.iter().map(|t| t.id).filter(|&i| i >= 0).collect::<Vec<_>>(), ids);
    assert_eq!(toks.iter().flat_map(|t| t.piece.clone()).collect::<Vec<u8>>(), text);
}

#[test]
fn video_progress_panic_and_buffer() {
    let m = vision_model();
    let mut s = m.session(&one_thread()).unwrap();
    let e = s
        .push_video_with_progress(common::video(), &VideoParams { n_frames: 4, ..Default::default() }, |stage, _| {
            assert_eq!(stage, "video");
            panic!("stop the video")
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
    assert!(s.stats().unwrap().n_frames_encoded < 4);
    let data = std::fs::read(common::video()).unwrap();
    let a = logits_after(&m, |s| s.push_video(common::video(), &VideoParams { n_frames: 2, ..Default::default() }).unwrap());
    let b = logits_after(&m, |s| s.push_video_buffer(&data, &VideoParams { n_frames: 2, ..Default::default() }).unwrap());
    assert_eq!(a, b);
    let e = s.push_video("/nonexistent/clip.mp4", &VideoParams::default()).unwrap_err();
    assert!(e.message().contains("/nonexistent/clip.mp4"), "{}", e);
}

#[test]
fn snapshot_and_history() {
    let m = vision_model();
    let dir = std::env::temp_dir().join(format!("videollm-rs-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.vllm");
    let mut a = m.session(&one_thread()).unwrap();
    a.push_frame(&Frame::new(PixelFormat::Rgb24, 8, 6, &[7u8; 144], 0.0).unwrap()).unwrap();
    assert_eq!(a.history().unwrap().iter().filter(|&&t| t == -1).count() as i32, m.info().unwrap().tokens_per_frame);
    a.ask("Hello", &sampled(4, 1, false)).unwrap();
    a.save(&path).unwrap();
    let hist = a.history().unwrap();
    let want = a.ask("And then?", &sampled(8, 2, false)).unwrap();
    let mut b = m.session(&one_thread()).unwrap();
    b.load(&path).unwrap();
    assert_eq!(b.history().unwrap(), hist);
    assert_eq!(b.ask("And then?", &sampled(8, 2, false)).unwrap(), want);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(SessionParams::with_compression("bogus").unwrap_err().kind(), ErrorKind::InvalidArg);
    assert!(SessionParams::with_compression("fast").unwrap().prune_rate > 0.0);
}

#[test]
fn frames_pushed_from_another_thread_during_an_answer() {
    let m = vision_model();
    let tpf = m.info().unwrap().tokens_per_frame as usize;
    let mut s = m.session(&one_thread()).unwrap();
    let pusher = s.frame_pusher();
    let n = 5;
    let mut pieces = 0;
    for t in s.tokens("Hello", &sampled(6, 3, true)).unwrap() {
        t.unwrap();
        pieces += 1;
        if pieces == 1 {
            let p = pusher.clone();
            thread::spawn(move || {
                for i in 0..n {
                    let rgb = vec![(i * 40) as u8; 16 * 12 * 3];
                    p.push_frame(&Frame::new(PixelFormat::Rgb24, 16, 12, &rgb, i as f64 * 0.5).unwrap()).unwrap();
                }
            })
            .join()
            .unwrap();
        }
    }
    assert!(pieces >= 2);
    s.ask("What now?", &sampled(2, 3, true)).unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.n_frames_seen, n as i64);
    assert_eq!(st.n_frames_encoded + st.n_frames_dropped, n as i64);
    assert_eq!(s.history().unwrap().iter().filter(|&&t| t == -1).count(), st.n_frames_encoded as usize * tpf);
    drop(s);
    let rgb = [0u8; 12];
    let e = pusher.push_frame(&Frame::new(PixelFormat::Rgb24, 2, 2, &rgb, 9.0).unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
}

#[test]
fn offload_and_recall() {
    let m = vision_model();
    let mut s = m.session(&SessionParams { n_ctx: 256, n_threads: 1, ..Default::default() }).unwrap();
    assert_eq!(s.recall(0.0, 10.0).unwrap_err().kind(), ErrorKind::State); // offload is off
    s.set_offload(&OffloadParams { enabled: true, retrieve_top_k: 1, ..Default::default() }).unwrap();
    for i in 0..40u32 {
        let px: Vec<u8> = (0..144u32).map(|k| ((i * 37 + k) & 255) as u8).collect();
        s.push_frame(&Frame::new(PixelFormat::Rgb24, 8, 6, &px, i as f64).unwrap()).unwrap();
    }
    let o = s.offload_stats().unwrap();
    assert!(o.frames_offloaded > 0);
    assert_eq!(o.frames_offloaded, s.stats().unwrap().n_frames_evicted);
    assert_eq!(s.recall(1.0, 3.0).unwrap(), 2);
    s.ask("What came first?", &GenerateParams { max_tokens: 2, ..Default::default() }).unwrap();
    let o = s.offload_stats().unwrap();
    assert_eq!(o.retrievals, 1);
    assert!(o.frames_reloaded >= 2);
    assert_eq!(s.recall(5.0, 1.0).unwrap_err().kind(), ErrorKind::InvalidArg);
}

/// A live source (a guard that detaches when dropped) and a watch's events
/// on a channel, over a generated clip the ffmpeg CLI writes into a pipe:
/// static, a scene change at 4 s, static, sampled at 2 fps.
#[test]
fn live_source_and_watch_events() {
    use std::os::unix::io::AsRawFd;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    use videollm::{SourceParams, SourceState, WatchParams, WatchTrigger};

    let clip = "color=c=0x404040:s=64x48:r=4:d=4[a];color=c=0xd0d0d0:s=64x48:r=4:d=4[b];[a][b]concat=n=2:v=1:a=0[out0]";
    let mut ff = match Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", clip, "-c:v", "mpeg2video", "-f", "mpegts", "-"])
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("no ffmpeg program ({}): live source test skipped", e);
            return;
        }
    };
    let out = ff.stdout.take().unwrap();
    let params = ModelParams { mmproj: Some(common::mmproj()), ..Default::default() };
    let model = Model::load(common::text_model(), &params).unwrap();
    let session = model.session(&SessionParams { n_threads: 1, n_ctx: 4096, ..Default::default() }).unwrap();
    let wp = WatchParams { every_s: 0.0, change_threshold: 0.1, yes_no: true, notify_all: true, ..Default::default() };
    let watch = session.watch("Did the scene change?", &wp).unwrap();
    let source = session
        .attach_source(&format!("pipe:{}", out.as_raw_fd()), &SourceParams { fps: 2.0, ..Default::default() })
        .unwrap();
    let t0 = Instant::now();
    let mut st = source.stats().unwrap();
    while !st.finished() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
        st = source.stats().unwrap();
    }
    assert_eq!(st.state, SourceState::Ended, "{}", st.message);
    assert_eq!(st.frames_sampled, 16);
    let events: Vec<_> = watch.events(Duration::from_millis(500)).collect();
    drop(source);
    assert_eq!(session.source_stats().unwrap().state, SourceState::None, "dropping the guard detaches");
    assert_eq!(events.len(), 2, "{:?}", events);
    assert_eq!((events[0].trigger, events[0].stream_seconds), (WatchTrigger::First, 0.0));
    assert_eq!(events[1].trigger, WatchTrigger::Change);
    assert!(events[1].stream_seconds >= 4.0 && events[1].stream_seconds <= 4.5, "{:?}", events[1]);
    assert!(events.iter().all(|e| (e.answer == "yes" || e.answer == "no") && (0.0..=1.0).contains(&e.yes_probability)));
    drop(watch);
    drop(session);
    let _ = ff.wait();
    drop(out);
    // bad parameters name the field
    let s2 = model.session(&one_thread()).unwrap();
    let e = s2.watch("Q?", &WatchParams { every_s: 0.0, change_threshold: 0.0, ..Default::default() }).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("every_s"), "{}", e.message());
}
