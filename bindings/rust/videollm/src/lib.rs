//! Safe Rust interface to libvideollm (video LLMs on the CPU, in process),
//! a thin layer over the C header `include/vllm/videollm.h`.
//!
//! ```no_run
//! use videollm::{GenerateParams, Model, ModelParams, SessionParams, VideoParams};
//!
//! let params = ModelParams { mmproj: Some("mmproj.gguf".into()), ..Default::default() };
//! let model = Model::load("model.gguf", &params)?;
//! let mut session = model.session(&SessionParams::default())?;
//! session.push_video("clip.mp4", &VideoParams::default())?;
//! for token in session.tokens("What happens in this video?", &GenerateParams::default())? {
//!     print!("{}", String::from_utf8_lossy(&token?.piece));
//! }
//! # Ok::<(), videollm::Error>(())
//! ```
//!
//! Thread safety follows the header: a `Model` is `Send + Sync` and may be
//! shared (clone it: clones share the weights); a `Session` is `Send` but
//! not `Sync`, and its generation can be stopped from another thread with
//! a `Canceller`.

mod error;
mod frame;
mod live;
mod model;
mod session;

pub use error::{Error, ErrorKind, Result};
pub use frame::{Frame, PixelFormat, MAX_DIM};
pub use live::{Source, SourceParams, SourceState, SourceStats, Watch, WatchEvent, WatchParams, WatchTrigger};
pub use model::{Model, ModelInfo, ModelParams, VisionPrecision};
pub use session::{
    Canceller, FramePusher, GenerateParams, KvType, OffloadParams, OffloadStats, Session, SessionParams, Stats, StopReason,
    Token, Tokens, VideoParams,
};
pub use videollm_sys as sys;

/// Version string of the loaded library ("0.1.0").
pub fn version() -> String {
    unsafe { error::cstr(sys::vllm_version()) }
}

/// VLLM_VERSION_NUMBER of the loaded library.
pub fn version_number() -> u32 {
    unsafe { sys::vllm_version_number() }
}
