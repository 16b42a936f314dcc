//! Live sources and standing questions (experimental C API): a session reads
//! a stream by itself (`Session::attach_source`, a guard that detaches when
//! dropped) and questions stay open while it runs (`Session::watch`, a
//! channel of `WatchEvent`s).
use std::os::raw::c_void;
use std::ptr;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use videollm_sys as sys;

use crate::error::{check, cstr, to_cstring, Error, Result};
use crate::session::{Session, SharedPtr};

/// How a source is read (vllm_source_params); `Default` is the library's.
#[derive(Debug, Clone)]
pub struct SourceParams {
    /// Frames sampled per second of stream time; 0 = the model's.
    pub fps: f32,
    /// Reopen a network source or device that drops, with back-off.
    pub reconnect: bool,
    pub reconnect_max_delay_s: f64,
    /// Seconds without data before the source counts as lost (0 = default).
    pub io_timeout_s: f64,
    pub queue_frames: i32,
    /// libavformat input format ("v4l2", "mpegts"); None = probe.
    pub input_format: Option<String>,
}

impl Default for SourceParams {
    fn default() -> Self {
        let d = unsafe { sys::vllm_source_default_params() };
        SourceParams {
            fps: d.fps,
            reconnect: d.reconnect != 0,
            reconnect_max_delay_s: d.reconnect_max_delay_s,
            io_timeout_s: d.io_timeout_s,
            queue_frames: d.queue_frames,
            input_format: None,
        }
    }
}

/// vllm_source_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    None,
    Connecting,
    Reading,
    Reconnecting,
    Ended,
    Failed,
}

impl SourceState {
    fn from_raw(v: sys::vllm_source_state) -> SourceState {
        match v {
            sys::VLLM_SOURCE_CONNECTING => SourceState::Connecting,
            sys::VLLM_SOURCE_READING => SourceState::Reading,
            sys::VLLM_SOURCE_RECONNECTING => SourceState::Reconnecting,
            sys::VLLM_SOURCE_ENDED => SourceState::Ended,
            sys::VLLM_SOURCE_FAILED => SourceState::Failed,
            _ => SourceState::None,
        }
    }
}

/// vllm_source_stats.
#[derive(Debug, Clone)]
pub struct SourceStats {
    pub state: SourceState,
    pub message: String,
    pub stream_seconds: f64,
    pub ingested_seconds: f64,
    pub wall_seconds: f64,
    pub lag_seconds: f64,
    pub max_lag_seconds: f64,
    pub frames_read: i64,
    pub frames_sampled: i64,
    pub frames_kept: i64,
    pub frames_deduped: i64,
    pub frames_dropped: i64,
    pub frames_queued: i64,
    pub frames_failed: i64,
    pub reconnects: i64,
}

impl SourceStats {
    /// The source ended or failed (it stays attached until detached).
    pub fn finished(&self) -> bool {
        matches!(self.state, SourceState::Ended | SourceState::Failed)
    }
}

pub(crate) fn source_stats(p: *mut sys::vllm_session) -> Result<SourceStats> {
    let mut s: sys::vllm_source_stats = unsafe { std::mem::zeroed() };
    s.struct_size = std::mem::size_of::<sys::vllm_source_stats>();
    check(unsafe { sys::vllm_session_source_stats(p, &mut s) }, p)?;
    Ok(SourceStats {
        state: SourceState::from_raw(s.state),
        message: unsafe { cstr(s.message.as_ptr()) },
        stream_seconds: s.stream_seconds,
        ingested_seconds: s.ingested_seconds,
        wall_seconds: s.wall_seconds,
        lag_seconds: s.lag_seconds,
        max_lag_seconds: s.max_lag_seconds,
        frames_read: s.frames_read,
        frames_sampled: s.frames_sampled,
        frames_kept: s.frames_kept,
        frames_deduped: s.frames_deduped,
        frames_dropped: s.frames_dropped,
        frames_queued: s.frames_queued,
        frames_failed: s.frames_failed,
        reconnects: s.reconnects,
    })
}

pub(crate) fn attach(p: *mut sys::vllm_session, url: &str, params: &SourceParams) -> Result<()> {
    let url = to_cstring(url.as_bytes(), "url")?;
    let fmt = match &params.input_format {
        Some(f) => Some(to_cstring(f.as_bytes(), "input_format")?),
        None => None,
    };
    let mut raw = unsafe { sys::vllm_source_default_params() };
    raw.fps = params.fps;
    raw.reconnect = params.reconnect as i32;
    raw.reconnect_max_delay_s = params.reconnect_max_delay_s;
    raw.io_timeout_s = params.io_timeout_s;
    raw.queue_frames = params.queue_frames;
    raw.input_format = fmt.as_ref().map_or(ptr::null(), |f| f.as_ptr()); // copied by the library
    check(unsafe { sys::vllm_session_attach_source(p, url.as_ptr(), &raw) }, p)?;
    Ok(())
}

/// An attached source: detached when dropped (or by `detach`). Usable from
/// any thread; it outlives nothing (after the session is dropped its calls
/// fail with ErrorKind::State).
pub struct Source(pub(crate) Arc<SharedPtr>);

impl Source {
    pub fn stats(&self) -> Result<SourceStats> {
        self.0.with(source_stats).unwrap_or_else(|| Err(Error::new(sys::VLLM_ERR_STATE, "the session was dropped")))
    }

    pub fn detach(&self) -> Result<()> {
        match self.0.with(|p| check(unsafe { sys::vllm_session_detach_source(p) }, p)) {
            Some(r) => r.map(|_| ()),
            None => Ok(()), // freeing the session detached it
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

/// How a watch is evaluated (vllm_watch_params); `Default` is the library's.
#[derive(Debug, Clone)]
pub struct WatchParams {
    pub every_s: f64,
    pub change_threshold: f32,
    pub yes_no: bool,
    pub yes_threshold: f32,
    pub max_tokens: i32,
    pub notify_all: bool,
}

impl Default for WatchParams {
    fn default() -> Self {
        let d = unsafe { sys::vllm_watch_default_params() };
        WatchParams {
            every_s: d.every_s,
            change_threshold: d.change_threshold,
            yes_no: d.yes_no != 0,
            yes_threshold: d.yes_threshold,
            max_tokens: d.max_tokens,
            notify_all: d.notify_all != 0,
        }
    }
}

/// vllm_watch_trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchTrigger {
    First,
    Period,
    Change,
}

/// One evaluation of a watch (vllm_watch_event).
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub watch_id: i32,
    pub trigger: WatchTrigger,
    pub stream_seconds: f64,
    pub answer: String,
    /// yes/no watches: P(yes); -1 for text watches.
    pub yes_probability: f32,
    pub change: f32,
    pub changed: bool,
    pub eval_seconds: f64,
    pub evaluations: i64,
}

// The callback's user data: the sending half, behind a mutex because the
// library calls it on its source thread.
type EventSink = Mutex<Sender<WatchEvent>>;

unsafe extern "C" fn watch_trampoline(ud: *mut c_void, ev: *const sys::vllm_watch_event) {
    let sink = &*(ud as *const EventSink);
    let e = &*ev;
    let event = WatchEvent {
        watch_id: e.watch_id,
        trigger: match e.trigger {
            sys::VLLM_WATCH_PERIOD => WatchTrigger::Period,
            sys::VLLM_WATCH_CHANGE => WatchTrigger::Change,
            _ => WatchTrigger::First,
        },
        stream_seconds: e.stream_seconds,
        answer: cstr(e.answer),
        yes_probability: e.yes_probability,
        change: e.change,
        changed: e.changed != 0,
        eval_seconds: e.eval_seconds,
        evaluations: e.evaluations,
    };
    if let Ok(tx) = sink.lock() {
        let _ = tx.send(event); // a receiver that went away just misses it
    }
}

/// A standing question: its events arrive on a channel (`recv_timeout`,
/// `events`). Dropping it removes the watch; it does not borrow the session,
/// so the session stays usable (ask questions meanwhile).
pub struct Watch {
    shared: Arc<SharedPtr>,
    id: i32,
    rx: Receiver<WatchEvent>,
    sink: *mut EventSink,
}

// The sink is only touched by the library's thread (through the mutex) and
// freed in drop after the library let go of it.
unsafe impl Send for Watch {}

impl Watch {
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The next event, waiting at most `timeout`; None when none came.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<WatchEvent> {
        match self.rx.recv_timeout(timeout) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Events as they come, until none came for `idle`.
    pub fn events(&self, idle: Duration) -> impl Iterator<Item = WatchEvent> + '_ {
        std::iter::from_fn(move || self.recv_timeout(idle))
    }

    /// The receiving half, for select-style use.
    pub fn receiver(&self) -> &Receiver<WatchEvent> {
        &self.rx
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // After unwatch returns the library never calls back again; if the
        // session was freed first, freeing it removed the watch.
        self.shared.with(|p| unsafe { sys::vllm_session_unwatch(p, self.id) });
        drop(unsafe { Box::from_raw(self.sink) });
    }
}

pub(crate) fn watch(shared: &Arc<SharedPtr>, p: *mut sys::vllm_session, question: &str, params: &WatchParams) -> Result<Watch> {
    let q = to_cstring(question.as_bytes(), "question")?;
    let mut raw = unsafe { sys::vllm_watch_default_params() };
    raw.every_s = params.every_s;
    raw.change_threshold = params.change_threshold;
    raw.yes_no = params.yes_no as i32;
    raw.yes_threshold = params.yes_threshold;
    raw.max_tokens = params.max_tokens;
    raw.notify_all = params.notify_all as i32;
    let (tx, rx) = channel();
    let sink = Box::into_raw(Box::new(Mutex::new(tx)));
    let mut id = 0i32;
    let st = unsafe { sys::vllm_session_watch(p, q.as_ptr(), &raw, Some(watch_trampoline), sink as *mut c_void, &mut id) };
    if let Err(e) = check(st, p) {
        drop(unsafe { Box::from_raw(sink) });
        return Err(e);
    }
    Ok(Watch { shared: shared.clone(), id, rx, sink })
}

impl Session {
    /// Read `url` (network stream, "/dev/videoN", "-" for stdin, "pipe:N",
    /// a file) into this session on the library's threads. The returned
    /// guard detaches it when dropped.
    pub fn attach_source(&self, url: &str, params: &SourceParams) -> Result<Source> {
        attach(self.raw_ptr(), url, params)?;
        Ok(Source(self.shared_ptr()))
    }

    /// The attached source's statistics (state None when none is attached).
    pub fn source_stats(&self) -> Result<SourceStats> {
        source_stats(self.raw_ptr())
    }

    /// A standing question evaluated while a source feeds the session.
    pub fn watch(&self, question: &str, params: &WatchParams) -> Result<Watch> {
        watch(&self.shared_ptr(), self.raw_ptr(), question, params)
    }
}
