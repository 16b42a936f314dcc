use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::{Arc, RwLock};

use videollm_sys as sys;

use crate::error::{check, cstr, to_cstring, Error, Result};
use crate::frame::Frame;
use crate::model::{panic_message, path_cstring, progress_trampoline, Model, ProgressState};

/// KV cache storage. `Q8_0` and `Q4_0` need a head dimension that is a
/// multiple of 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvType {
    F32,
    F16,
    /// Blocks of 32 values: fp16 scale + int8 (8.5 bits).
    Q8_0,
    /// Blocks of 32 values: fp16 scale + 4-bit (4.5 bits).
    Q4_0,
}

/// Session parameters; the defaults match `vllm_session_default_params()`.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Context window in tokens; 0 = enough for the default video sampling and
    /// the default answer, within the training context (see vllm_session_params).
    pub n_ctx: i32,
    /// Worker threads; 0 = one per performance core (all online CPUs unless big.LITTLE/hybrid).
    pub n_threads: i32,
    pub kv_type: KvType,
    /// Skip frames whose 32x32 luma differs from the last kept frame's by
    /// less than this mean fraction of full scale; 0 = off.
    pub dedup_threshold: f32,
    /// Drop this fraction of each frame's visual tokens; 0 = off.
    pub prune_rate: f32,
    /// Merge dropped tokens into their most similar kept token.
    pub prune_merge: bool,
    /// A system turn before the first user turn, in the model's chat
    /// template; None (or "") = the model's default (none for SmolVLM2).
    pub system_prompt: Option<String>,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            n_ctx: 0,
            n_threads: 0,
            kv_type: KvType::F16,
            dedup_threshold: 0.0,
            prune_rate: 0.0,
            prune_merge: false,
            system_prompt: None,
        }
    }
}

impl SessionParams {
    /// Defaults with a named compression preset applied ("fast", "off").
    pub fn with_compression(name: &str) -> Result<SessionParams> {
        let cname = to_cstring(name.as_bytes(), "preset name")?;
        let mut p = unsafe { sys::vllm_session_default_params() };
        check(unsafe { sys::vllm_compression_preset(cname.as_ptr(), &mut p, ptr::null_mut()) }, ptr::null())?;
        Ok(SessionParams {
            dedup_threshold: p.dedup_threshold,
            prune_rate: p.prune_rate,
            prune_merge: p.prune_merge != 0,
            ..SessionParams::default()
        })
    }
}

/// Generation parameters; `default()` takes the library's defaults
/// (`vllm_generate_default_params()`: 256 tokens, greedy, chat template).
#[derive(Debug, Clone)]
pub struct GenerateParams {
    /// Upper bound on generated tokens; negative = until end of generation.
    pub max_tokens: i32,
    /// <= 0: greedy.
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub repeat_last_n: i32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub seed: u64,
    /// Generation stops when one of these is produced (it is not returned).
    pub stop: Vec<String>,
    /// Use the prompt verbatim, without the chat template.
    pub raw: bool,
}

impl Default for GenerateParams {
    fn default() -> Self {
        let p = unsafe { sys::vllm_generate_default_params() };
        GenerateParams {
            max_tokens: p.max_tokens,
            temperature: p.temperature,
            top_k: p.top_k,
            top_p: p.top_p,
            min_p: p.min_p,
            repeat_penalty: p.repeat_penalty,
            repeat_last_n: p.repeat_last_n,
            frequency_penalty: p.frequency_penalty,
            presence_penalty: p.presence_penalty,
            seed: p.seed,
            stop: Vec::new(),
            raw: p.raw != 0,
        }
    }
}

/// Frame sampling of `push_video`; zeros mean the model family's defaults.
#[derive(Debug, Clone, Default)]
pub struct VideoParams {
    /// Frames sampled per second; 0 = the model family's default.
    pub fps: f32,
    /// Cap on sampled frames; 0 = the model family's default.
    pub max_frames: i32,
    /// > 0: exactly this many frames, uniformly spread (overrides fps).
    pub n_frames: i32,
    /// Seconds; `end` <= 0 means to the end.
    pub start: f64,
    pub end: f64,
    /// Compression for this video; 0 = the session's setting.
    pub dedup_threshold: f32,
    pub prune_rate: f32,
    pub prune_merge: bool,
    /// > 0: budget of visual tokens for this video.
    pub max_visual_tokens: i32,
    /// Seconds the source may send nothing before `push_video` fails with
    /// an I/O error naming the URL; 0 = 30 s for network URLs, none for
    /// local files; < 0 = never. A cancel interrupts a waiting read.
    pub io_timeout_s: f64,
}

/// One generated token and its raw bytes (`id` is -1 for text released
/// only at the end, e.g. held back while it could begin a stop string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i32,
    pub piece: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    None,
    Eog,
    MaxTokens,
    StopString,
    ContextFull,
    Cancelled,
    Other(i32),
}

impl StopReason {
    fn from_raw(v: c_int) -> StopReason {
        match v {
            sys::VLLM_STOP_NONE => StopReason::None,
            sys::VLLM_STOP_EOG => StopReason::Eog,
            sys::VLLM_STOP_MAX_TOKENS => StopReason::MaxTokens,
            sys::VLLM_STOP_STRING => StopReason::StopString,
            sys::VLLM_STOP_CONTEXT_FULL => StopReason::ContextFull,
            sys::VLLM_STOP_CANCELLED => StopReason::Cancelled,
            other => StopReason::Other(other),
        }
    }
}

/// `vllm_session_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub n_ctx: i32,
    pub n_past: i32,
    pub n_prompt_tokens: i64,
    pub n_generated_tokens: i64,
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    pub last_stop: StopReason,
    pub n_frames_seen: i64,
    pub n_frames_encoded: i64,
    pub n_visual_tokens: i64,
    pub decode_seconds: f64,
    pub encode_seconds: f64,
    pub media_prefill_seconds: f64,
    pub first_token_seconds: f64,
    pub peak_rss_bytes: i64,
    pub n_frames_dropped: i64,
    /// Pushed frames that left a full context (oldest first), each counted once.
    pub n_frames_evicted: i64,
    pub n_frames_deduped: i64,
    pub n_tokens_pruned: i64,
    /// Text positions evaluated with media (labels, markers, intro).
    pub n_media_text_tokens: i64,
    /// Finished question-and-answer turns that left the context.
    pub n_turns_evicted: i64,
}

/// Settings of the KV offload tier (`vllm_offload_params`; experimental).
#[derive(Debug, Clone, PartialEq)]
pub struct OffloadParams {
    /// Offload frames leaving a full context instead of dropping them.
    pub enabled: bool,
    /// Frames reloaded per question by similarity to it.
    pub retrieve_top_k: i32,
    /// Compressed frames kept in memory.
    pub max_ram_bytes: i64,
    /// Spill file cap; 0 = none.
    pub max_file_bytes: i64,
    /// Spill file directory; None = drop past the RAM cap.
    pub spill_dir: Option<std::path::PathBuf>,
}

impl Default for OffloadParams {
    fn default() -> Self {
        let d = unsafe { sys::vllm_offload_default_params() };
        OffloadParams {
            enabled: d.enabled != 0,
            retrieve_top_k: d.retrieve_top_k,
            max_ram_bytes: d.max_ram_bytes,
            max_file_bytes: d.max_file_bytes,
            spill_dir: None,
        }
    }
}

/// `vllm_offload_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct OffloadStats {
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
    pub offload_seconds: f64,
    pub reload_seconds: f64,
}

/// The session pointer as seen by other threads (Canceller, FramePusher):
/// cleared under the write lock before the session is freed, so a late
/// call never touches freed memory; the [any thread] calls themselves run
/// under read locks, concurrently.
pub(crate) struct SharedPtr {
    ptr: RwLock<*mut sys::vllm_session>,
}
// Only [any thread] functions are called through it, under the lock.
unsafe impl Send for SharedPtr {}
unsafe impl Sync for SharedPtr {}

impl SharedPtr {
    pub(crate) fn with<T>(&self, f: impl FnOnce(*mut sys::vllm_session) -> T) -> Option<T> {
        let p = self.ptr.read().unwrap_or_else(|e| e.into_inner());
        if p.is_null() {
            None
        } else {
            Some(f(*p))
        }
    }
}

/// Cancels a session's running (or next) generation from any thread.
#[derive(Clone)]
pub struct Canceller(Arc<SharedPtr>);

impl Canceller {
    /// Ask the generation to stop; it then fails with ErrorKind::Cancelled.
    /// Does nothing once the session is dropped.
    pub fn cancel(&self) {
        self.0.with(|p| unsafe { sys::vllm_session_cancel(p) });
    }
}

/// Pushes frames into a session from any thread, also while the session
/// is generating an answer (the header makes vllm_session_push_frame
/// [any thread]: frames pushed during an answer queue until it is done).
#[derive(Clone)]
pub struct FramePusher(Arc<SharedPtr>);

impl FramePusher {
    /// As `Session::push_frame`; Err(State) once the session is dropped.
    pub fn push_frame(&self, frame: &Frame<'_>) -> Result<()> {
        let f = frame.to_raw();
        match self.0.with(|p| check(unsafe { sys::vllm_session_push_frame(p, &f) }, ptr::null())) {
            Some(r) => r.map(|_| ()),
            None => Err(Error::new(sys::VLLM_ERR_STATE, "the session was dropped")),
        }
    }
}

/// One conversation (KV cache, sampler, media) over a Model.
///
/// `Send` (it may move to another thread) but not `Sync`: the header
/// forbids overlapping calls on one session, which `&mut self` enforces.
/// Use `canceller()` to stop a generation from another thread.
///
/// ```compile_fail
/// fn needs_sync<T: Sync>() {}
/// needs_sync::<videollm::Session>();
/// ```
pub struct Session {
    ptr: NonNull<sys::vllm_session>,
    shared: Arc<SharedPtr>,
    model: Model,
    // The library may still hold the on_token pointer of an earlier
    // generate() call (its user_data is gone): next_token() is refused
    // until a new query replaces it.
    stale_callback: bool,
    _not_sync: PhantomData<Cell<()>>,
}

unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        let mut p = self.shared.ptr.write().unwrap_or_else(|e| e.into_inner());
        *p = ptr::null_mut();
        unsafe { sys::vllm_session_free(self.ptr.as_ptr()) }
    }
}

/// Owned C copies of a GenerateParams (stop strings included) that stay
/// valid while the C call reads them.
struct CParams {
    raw: sys::vllm_generate_params,
    _stops: Vec<std::ffi::CString>,
    _stop_ptrs: Vec<*const c_char>,
}

fn c_params(p: &GenerateParams) -> Result<CParams> {
    let mut raw = unsafe { sys::vllm_generate_default_params() };
    raw.max_tokens = p.max_tokens;
    raw.temperature = p.temperature;
    raw.top_k = p.top_k;
    raw.top_p = p.top_p;
    raw.min_p = p.min_p;
    raw.repeat_penalty = p.repeat_penalty;
    raw.repeat_last_n = p.repeat_last_n;
    raw.frequency_penalty = p.frequency_penalty;
    raw.presence_penalty = p.presence_penalty;
    raw.seed = p.seed;
    raw.raw = p.raw as c_int;
    let stops = p.stop.iter().map(|s| to_cstring(s.as_bytes(), "stop string")).collect::<Result<Vec<_>>>()?;
    let stop_ptrs: Vec<*const c_char> = stops.iter().map(|s| s.as_ptr()).collect();
    if !stop_ptrs.is_empty() {
        raw.stop_strings = stop_ptrs.as_ptr();
        raw.n_stop_strings = stop_ptrs.len();
    }
    Ok(CParams { raw, _stops: stops, _stop_ptrs: stop_ptrs })
}

struct TokenState<'a> {
    f: &'a mut dyn FnMut(i32, &[u8]) -> ControlFlow<()>,
    panic: Option<String>,
    stopped: bool,
}

unsafe extern "C" fn token_trampoline(ud: *mut c_void, token: i32, piece: *const c_char, len: usize) -> c_int {
    let st = &mut *(ud as *mut TokenState);
    if st.panic.is_some() || st.stopped {
        return 1;
    }
    let bytes: &[u8] = if len == 0 { &[] } else { std::slice::from_raw_parts(piece as *const u8, len) };
    match catch_unwind(AssertUnwindSafe(|| (st.f)(token, bytes))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => {
            st.stopped = true;
            1
        }
        Err(payload) => {
            st.panic = Some(panic_message(payload));
            1
        }
    }
}

impl Session {
    pub(crate) fn new(model: &Model, params: &SessionParams) -> Result<Session> {
        let mut p = unsafe { sys::vllm_session_default_params() };
        p.n_ctx = params.n_ctx;
        p.n_threads = params.n_threads;
        p.kv_type = match params.kv_type {
            KvType::F32 => sys::VLLM_KV_F32,
            KvType::F16 => sys::VLLM_KV_F16,
            KvType::Q8_0 => sys::VLLM_KV_Q8_0,
            KvType::Q4_0 => sys::VLLM_KV_Q4_0,
        };
        p.dedup_threshold = params.dedup_threshold;
        p.prune_rate = params.prune_rate;
        p.prune_merge = params.prune_merge as i32;
        // lives until create has copied it
        let system = match &params.system_prompt {
            Some(s) => Some(to_cstring(s.as_bytes(), "system_prompt")?),
            None => None,
        };
        p.system_prompt = system.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let mut out: *mut sys::vllm_session = ptr::null_mut();
        check(unsafe { sys::vllm_session_create(model.raw(), &p, &mut out) }, ptr::null())?;
        let ptr = NonNull::new(out).ok_or_else(|| Error::new(sys::VLLM_ERR_INTERNAL, "vllm_session_create gave no session"))?;
        Ok(Session {
            ptr,
            shared: Arc::new(SharedPtr { ptr: RwLock::new(out) }),
            model: model.clone(),
            stale_callback: false,
            _not_sync: PhantomData,
        })
    }

    fn raw(&self) -> *mut sys::vllm_session {
        self.ptr.as_ptr()
    }

    pub(crate) fn raw_ptr(&self) -> *mut sys::vllm_session {
        self.ptr.as_ptr()
    }

    pub(crate) fn shared_ptr(&self) -> Arc<SharedPtr> {
        self.shared.clone()
    }

    fn check(&self, status: c_int) -> Result<c_int> {
        check(status, self.raw())
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// A handle that cancels this session's generation from any thread.
    pub fn canceller(&self) -> Canceller {
        Canceller(self.shared.clone())
    }

    /// A handle that pushes frames from any thread (see FramePusher).
    pub fn frame_pusher(&self) -> FramePusher {
        FramePusher(self.shared.clone())
    }

    /// The last error message raised on this session, or "".
    pub fn last_error(&self) -> String {
        unsafe { cstr(sys::vllm_session_last_error(self.raw())) }
    }

    /// Forget the context and any generation in progress.
    pub fn reset(&mut self) -> Result<()> {
        self.check(unsafe { sys::vllm_session_reset(self.raw()) })?;
        self.stale_callback = false;
        Ok(())
    }

    pub fn stats(&self) -> Result<Stats> {
        let mut s: sys::vllm_session_stats = unsafe { std::mem::zeroed() };
        s.struct_size = std::mem::size_of::<sys::vllm_session_stats>();
        self.check(unsafe { sys::vllm_session_get_stats(self.raw(), &mut s) })?;
        Ok(Stats {
            n_ctx: s.n_ctx,
            n_past: s.n_past,
            n_prompt_tokens: s.n_prompt_tokens,
            n_generated_tokens: s.n_generated_tokens,
            prompt_seconds: s.prompt_seconds,
            generate_seconds: s.generate_seconds,
            last_stop: StopReason::from_raw(s.last_stop),
            n_frames_seen: s.n_frames_seen,
            n_frames_encoded: s.n_frames_encoded,
            n_visual_tokens: s.n_visual_tokens,
            decode_seconds: s.decode_seconds,
            encode_seconds: s.encode_seconds,
            media_prefill_seconds: s.media_prefill_seconds,
            first_token_seconds: s.first_token_seconds,
            peak_rss_bytes: s.peak_rss_bytes,
            n_frames_dropped: s.n_frames_dropped,
            n_frames_evicted: s.n_frames_evicted,
            n_frames_deduped: s.n_frames_deduped,
            n_tokens_pruned: s.n_tokens_pruned,
            n_media_text_tokens: s.n_media_text_tokens,
            n_turns_evicted: s.n_turns_evicted,
        })
    }

    // ---- generation ----

    /// Append `prompt` as a user turn and arm generation; pull the answer
    /// with `next_token()` (or use `tokens()` / `ask()`).
    pub fn query(&mut self, prompt: &str, params: &GenerateParams) -> Result<()> {
        let cprompt = to_cstring(prompt.as_bytes(), "prompt")?;
        let cp = c_params(params)?;
        self.stale_callback = false;
        self.check(unsafe { sys::vllm_session_query(self.raw(), cprompt.as_ptr(), &cp.raw) })?;
        Ok(())
    }

    /// The next token of the armed generation; None once it has ended.
    pub fn next_token(&mut self) -> Result<Option<Token>> {
        if self.stale_callback {
            return Err(Error::new(sys::VLLM_ERR_STATE, "no generation in progress (call query first)"));
        }
        let mut id: i32 = -1;
        let mut piece: *const c_char = ptr::null();
        let mut len: usize = 0;
        let st = self.check(unsafe { sys::vllm_session_next_token(self.raw(), &mut id, &mut piece, &mut len) })?;
        let bytes = if len == 0 || piece.is_null() {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(piece as *const u8, len) }.to_vec()
        };
        if st == sys::VLLM_DONE {
            return Ok(if bytes.is_empty() { None } else { Some(Token { id: -1, piece: bytes }) });
        }
        Ok(Some(Token { id, piece: bytes }))
    }

    /// An iterator over the tokens of the answer to `prompt`.
    pub fn tokens(&mut self, prompt: &str, params: &GenerateParams) -> Result<Tokens<'_>> {
        self.query(prompt, params)?;
        Ok(Tokens { session: self, done: false })
    }

    /// The whole answer to `prompt` (invalid UTF-8 replaced by U+FFFD).
    pub fn ask(&mut self, prompt: &str, params: &GenerateParams) -> Result<String> {
        let mut bytes = Vec::new();
        for t in self.tokens(prompt, params)? {
            bytes.extend_from_slice(&t?.piece);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Generate the answer to `prompt`, calling `on_token(id, piece)` for
    /// each piece on this thread (`vllm_session_generate`). Returning
    /// `ControlFlow::Break(())` stops early and is not an error; a panic in
    /// the callback cancels the generation and is returned as
    /// `ErrorKind::CallbackPanicked`.
    pub fn generate<F>(&mut self, prompt: &str, params: &GenerateParams, mut on_token: F) -> Result<()>
    where
        F: FnMut(i32, &[u8]) -> ControlFlow<()>,
    {
        let cprompt = to_cstring(prompt.as_bytes(), "prompt")?;
        let mut cp = c_params(params)?;
        let mut state = TokenState { f: &mut on_token, panic: None, stopped: false };
        cp.raw.on_token = Some(token_trampoline);
        cp.raw.user_data = &mut state as *mut TokenState as *mut c_void;
        self.stale_callback = true;
        let st = unsafe { sys::vllm_session_generate(self.raw(), cprompt.as_ptr(), &cp.raw) };
        if let Some(msg) = state.panic.take() {
            return Err(Error::panicked(msg));
        }
        if state.stopped && st == sys::VLLM_ERR_CANCELLED {
            return Ok(());
        }
        self.check(st)?;
        Ok(())
    }

    // ---- media ----

    /// Encode one raw video frame into the context.
    pub fn push_frame(&mut self, frame: &Frame<'_>) -> Result<()> {
        let f = frame.to_raw();
        self.check(unsafe { sys::vllm_session_push_frame(self.raw(), &f) })?;
        Ok(())
    }

    fn video_params(params: &VideoParams) -> sys::vllm_video_params {
        let mut p = unsafe { sys::vllm_video_default_params() };
        p.fps = params.fps;
        p.max_frames = params.max_frames;
        p.n_frames = params.n_frames;
        p.start = params.start;
        p.end = params.end;
        p.dedup_threshold = params.dedup_threshold;
        p.prune_rate = params.prune_rate;
        p.prune_merge = params.prune_merge as i32;
        p.max_visual_tokens = params.max_visual_tokens;
        p.io_timeout_s = params.io_timeout_s;
        p
    }

    /// Decode a video file (or URL), sample frames and encode them.
    pub fn push_video(&mut self, path: impl AsRef<Path>, params: &VideoParams) -> Result<()> {
        let cpath = path_cstring(path.as_ref())?;
        let p = Self::video_params(params);
        self.check(unsafe { sys::vllm_session_push_video(self.raw(), cpath.as_ptr(), &p) })?;
        Ok(())
    }

    /// `push_video` with `progress(stage, fraction)`; returning false
    /// cancels, a panic cancels and gives ErrorKind::CallbackPanicked.
    pub fn push_video_with_progress(
        &mut self,
        path: impl AsRef<Path>,
        params: &VideoParams,
        mut progress: impl FnMut(&str, f32) -> bool,
    ) -> Result<()> {
        let cpath = path_cstring(path.as_ref())?;
        let mut p = Self::video_params(params);
        let mut state = ProgressState { f: &mut progress, panic: None };
        p.progress = Some(progress_trampoline);
        p.progress_user_data = &mut state as *mut ProgressState as *mut c_void;
        let st = unsafe { sys::vllm_session_push_video(self.raw(), cpath.as_ptr(), &p) };
        if let Some(msg) = state.panic.take() {
            return Err(Error::panicked(msg));
        }
        self.check(st)?;
        Ok(())
    }

    /// `push_video` from an encoded video in memory.
    pub fn push_video_buffer(&mut self, data: &[u8], params: &VideoParams) -> Result<()> {
        let p = Self::video_params(params);
        self.check(unsafe { sys::vllm_session_push_video_buffer(self.raw(), data.as_ptr() as *const c_void, data.len(), &p) })?;
        Ok(())
    }

    /// Decode a still image and encode it into the context.
    pub fn push_image(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let cpath = path_cstring(path.as_ref())?;
        self.check(unsafe { sys::vllm_session_push_image(self.raw(), cpath.as_ptr()) })?;
        Ok(())
    }

    // ---- snapshots ----

    /// Write the session's context to `path` (zstd-compressed snapshot).
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let cpath = path_cstring(path.as_ref())?;
        self.check(unsafe { sys::vllm_session_save(self.raw(), cpath.as_ptr()) })?;
        Ok(())
    }

    /// Replace the context with a snapshot of a session of the same model;
    /// on error the session is unchanged.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let cpath = path_cstring(path.as_ref())?;
        self.check(unsafe { sys::vllm_session_load(self.raw(), cpath.as_ptr()) })?;
        Ok(())
    }

    // ---- experimental (VLLM_EXPERIMENTAL; may change in any release) ----

    /// Token id at every position of the context (-1 for visual tokens).
    pub fn history(&self) -> Result<Vec<i32>> {
        let mut p: *const i32 = ptr::null();
        let mut n = 0usize;
        self.check(unsafe { sys::vllm_session_history(self.raw(), &mut p, &mut n) })?;
        if n == 0 || p.is_null() {
            return Ok(Vec::new());
        }
        Ok(unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
    }

    /// Turn the KV offload tier on or off, or change its caps.
    pub fn set_offload(&mut self, params: &OffloadParams) -> Result<()> {
        let dir = match &params.spill_dir {
            Some(d) => Some(path_cstring(d)?),
            None => None,
        };
        let mut p = unsafe { sys::vllm_offload_default_params() };
        p.enabled = params.enabled as i32;
        p.retrieve_top_k = params.retrieve_top_k;
        p.max_ram_bytes = params.max_ram_bytes;
        p.max_file_bytes = params.max_file_bytes;
        p.spill_dir = dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()); // copied by the library
        self.check(unsafe { sys::vllm_session_set_offload(self.raw(), &p) })?;
        Ok(())
    }

    /// Reload offloaded frames whose time is in [t0, t1) seconds; returns
    /// how many came back.
    pub fn recall(&mut self, t0: f64, t1: f64) -> Result<i32> {
        self.stale_callback = false;
        let mut n = 0i32;
        self.check(unsafe { sys::vllm_session_recall(self.raw(), t0, t1, &mut n) })?;
        Ok(n)
    }

    /// Counters of the offload tier.
    pub fn offload_stats(&self) -> Result<OffloadStats> {
        let mut o: sys::vllm_offload_stats = unsafe { std::mem::zeroed() };
        o.struct_size = std::mem::size_of::<sys::vllm_offload_stats>();
        self.check(unsafe { sys::vllm_session_get_offload_stats(self.raw(), &mut o) })?;
        Ok(OffloadStats {
            frames_offloaded: o.frames_offloaded,
            frames_in_ram: o.frames_in_ram,
            frames_in_file: o.frames_in_file,
            frames_dropped: o.frames_dropped,
            frames_resident: o.frames_resident,
            frames_reloaded: o.frames_reloaded,
            retrievals: o.retrievals,
            raw_bytes: o.raw_bytes,
            compressed_bytes: o.compressed_bytes,
            ram_bytes: o.ram_bytes,
            file_bytes: o.file_bytes,
            offload_seconds: o.offload_seconds,
            reload_seconds: o.reload_seconds,
        })
    }

    /// Evaluate token ids at the next positions without sampling.
    pub fn eval_tokens(&mut self, tokens: &[i32]) -> Result<()> {
        self.stale_callback = false; // the C call disarms any generation
        self.check(unsafe { sys::vllm_session_eval_tokens(self.raw(), tokens.as_ptr(), tokens.len()) })?;
        Ok(())
    }

    /// A copy of the logits after the last evaluated position.
    pub fn logits(&self) -> Result<Option<Vec<f32>>> {
        let n = self.model.info()?.n_vocab as usize;
        let p = unsafe { sys::vllm_session_logits(self.raw()) };
        if p.is_null() {
            return Ok(None);
        }
        Ok(Some(unsafe { std::slice::from_raw_parts(p, n) }.to_vec()))
    }
}

/// Iterator over the tokens of one generation (see `Session::tokens`).
pub struct Tokens<'s> {
    session: &'s mut Session,
    done: bool,
}

impl<'s> Iterator for Tokens<'s> {
    type Item = Result<Token>;

    fn next(&mut self) -> Option<Result<Token>> {
        if self.done {
            return None;
        }
        match self.session.next_token() {
            Ok(Some(t)) => {
                // A stop string ends the generation on a VLLM_OK step; the
                // stats say so (asking for one more token would be refused).
                if t.id < 0 || self.session.stats().map(|s| s.last_stop != StopReason::None).unwrap_or(true) {
                    self.done = true;
                }
                Some(Ok(t))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("ptr", &self.ptr).finish()
    }
}
