use std::os::raw::{c_char, c_float, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use videollm_sys as sys;

use crate::error::{check, cstr, to_cstring, Error, Result};
use crate::session::{Session, SessionParams};

/// Arithmetic of the vision encoder (`VLLM_VISION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisionPrecision {
    /// BF16 linear layers where the CPU has AVX-512 BF16, else F32.
    Auto,
    F32,
    /// F32 with llama.cpp's fp16 roundings, for bit-level comparisons.
    Ggml,
    Bf16,
}

/// How to load a model; `ModelParams::default()` matches the C defaults.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// The vision projector (mmproj) GGUF; None for text only.
    pub mmproj: Option<PathBuf>,
    pub use_mmap: bool,
    /// Load only the tokenizer.
    pub vocab_only: bool,
    pub vision_precision: VisionPrecision,
    /// Reproduce llama.cpp number for number: its text-model quirks
    /// (qwen2vl RMSNorm epsilon 0, text positions (p,p,p,0)) and its whole
    /// media path (sampling, resize, layout and positions, merger GELU,
    /// chatml without a system prompt). False: the model's own rules.
    pub llamacpp_compat: bool,
    /// Bounds on the visual tokens per image or video frame of the
    /// dynamic-resolution families (Qwen2.5-VL, Qwen3-VL), as llama.cpp's
    /// `--image-min-tokens`/`--image-max-tokens`: 0 = the family's default,
    /// else 1..=`videollm_sys::VLLM_IMAGE_TOKENS_LIMIT`, min <= max.
    pub image_min_tokens: i32,
    pub image_max_tokens: i32,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            mmproj: None,
            use_mmap: true,
            vocab_only: false,
            vision_precision: VisionPrecision::Auto,
            llamacpp_compat: false,
            image_min_tokens: 0,
            image_max_tokens: 0,
        }
    }
}

/// `vllm_model_info` with owned strings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub architecture: String,
    pub name: String,
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
    pub has_vision: bool,
    pub tokens_per_frame: i32,
    pub image_size: i32,
    pub video_fps: f32,
    pub video_max_frames: i32,
    /// "smolvlm2", "qwen2.5-vl", "qwen3-vl"; None for a text-only load.
    pub family: Option<String>,
}

pub(crate) struct ModelInner {
    pub(crate) ptr: NonNull<sys::vllm_model>,
}

// The header: "Immutable weights and vocabulary. Safe to share between
// threads and sessions once loaded", and every model call is [any thread].
unsafe impl Send for ModelInner {}
unsafe impl Sync for ModelInner {}

impl Drop for ModelInner {
    fn drop(&mut self) {
        // Sessions hold an Arc to this, so none is left when it runs.
        unsafe { sys::vllm_model_free(self.ptr.as_ptr()) }
    }
}

/// A loaded model: weights and vocabulary. Cheap to clone (shared), `Send`
/// and `Sync`; sessions keep it alive, so it may be dropped before them.
#[derive(Clone)]
pub struct Model {
    pub(crate) inner: Arc<ModelInner>,
}

pub(crate) fn path_cstring(p: &Path) -> Result<std::ffi::CString> {
    to_cstring(p.as_os_str().as_bytes(), "path")
}

/// State of a Rust progress callback passed through C.
pub(crate) struct ProgressState<'a> {
    pub(crate) f: &'a mut dyn FnMut(&str, f32) -> bool,
    pub(crate) panic: Option<String>,
}

pub(crate) unsafe extern "C" fn progress_trampoline(ud: *mut c_void, stage: *const c_char, fraction: c_float) -> c_int {
    let st = &mut *(ud as *mut ProgressState);
    if st.panic.is_some() {
        return 1;
    }
    let stage = cstr(stage);
    match catch_unwind(AssertUnwindSafe(|| (st.f)(&stage, fraction))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(payload) => {
            st.panic = Some(panic_message(payload));
            1
        }
    }
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string payload)".to_string()
    };
    format!("callback panicked: {}", what)
}

impl Model {
    /// Load a llama.cpp-format GGUF text model (and its mmproj, if given).
    pub fn load(path: impl AsRef<Path>, params: &ModelParams) -> Result<Model> {
        Self::load_impl(path.as_ref(), params, None)
    }

    /// Like `load`, calling `progress(stage, fraction)`; returning false
    /// cancels (Err with ErrorKind::Cancelled), a panic cancels and gives
    /// ErrorKind::CallbackPanicked.
    pub fn load_with_progress(
        path: impl AsRef<Path>,
        params: &ModelParams,
        mut progress: impl FnMut(&str, f32) -> bool,
    ) -> Result<Model> {
        Self::load_impl(path.as_ref(), params, Some(&mut progress))
    }

    fn load_impl(path: &Path, params: &ModelParams, progress: Option<&mut dyn FnMut(&str, f32) -> bool>) -> Result<Model> {
        let cpath = path_cstring(path)?;
        let mmproj = match &params.mmproj {
            Some(p) => Some(path_cstring(p)?),
            None => None,
        };
        let mut p = unsafe { sys::vllm_model_default_params() };
        p.mmproj_path = mmproj.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        p.use_mmap = params.use_mmap as c_int;
        p.vocab_only = params.vocab_only as c_int;
        p.vision_precision = match params.vision_precision {
            VisionPrecision::Auto => sys::VLLM_VISION_AUTO,
            VisionPrecision::F32 => sys::VLLM_VISION_F32,
            VisionPrecision::Ggml => sys::VLLM_VISION_GGML,
            VisionPrecision::Bf16 => sys::VLLM_VISION_BF16,
        };
        p.llamacpp_compat = params.llamacpp_compat as c_int;
        p.image_min_tokens = params.image_min_tokens;
        p.image_max_tokens = params.image_max_tokens;
        let mut state = progress.map(|f| ProgressState { f, panic: None });
        if let Some(st) = state.as_mut() {
            p.progress = Some(progress_trampoline);
            p.progress_user_data = st as *mut ProgressState as *mut c_void;
        }
        let mut out: *mut sys::vllm_model = ptr::null_mut();
        let status = unsafe { sys::vllm_model_load(cpath.as_ptr(), &p, &mut out) };
        if let Some(msg) = state.and_then(|s| s.panic) {
            if !out.is_null() {
                unsafe { sys::vllm_model_free(out) };
            }
            return Err(Error::panicked(msg));
        }
        check(status, ptr::null())?;
        let ptr = NonNull::new(out).ok_or_else(|| Error::new(sys::VLLM_ERR_INTERNAL, "vllm_model_load gave no model"))?;
        Ok(Model { inner: Arc::new(ModelInner { ptr }) })
    }

    pub(crate) fn raw(&self) -> *mut sys::vllm_model {
        self.inner.ptr.as_ptr()
    }

    pub fn info(&self) -> Result<ModelInfo> {
        let mut i: sys::vllm_model_info = unsafe { std::mem::zeroed() };
        i.struct_size = std::mem::size_of::<sys::vllm_model_info>();
        check(unsafe { sys::vllm_model_get_info(self.raw(), &mut i) }, ptr::null())?;
        Ok(ModelInfo {
            architecture: unsafe { cstr(i.architecture) },
            name: unsafe { cstr(i.name) },
            n_vocab: i.n_vocab,
            n_ctx_train: i.n_ctx_train,
            n_embd: i.n_embd,
            n_layer: i.n_layer,
            n_head: i.n_head,
            n_head_kv: i.n_head_kv,
            n_params: i.n_params,
            weight_bytes: i.weight_bytes,
            token_bos: i.token_bos,
            token_eos: i.token_eos,
            has_vision: i.has_vision != 0,
            tokens_per_frame: i.tokens_per_frame,
            image_size: i.image_size,
            video_fps: i.video_fps,
            video_max_frames: i.video_max_frames,
            family: if i.family.is_null() { None } else { Some(unsafe { cstr(i.family) }) },
        })
    }

    /// Token ids of `text`.
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<i32>> {
        let flags = if add_special { sys::VLLM_TOKENIZE_ADD_SPECIAL } else { 0 }
            | if parse_special { sys::VLLM_TOKENIZE_PARSE_SPECIAL } else { 0 };
        let mut buf = vec![0i32; text.len() + 8];
        for _ in 0..2 {
            let mut n = 0usize;
            let st = unsafe {
                sys::vllm_tokenize(self.raw(), text.as_ptr() as *const c_char, text.len(), flags, buf.as_mut_ptr(), buf.len(), &mut n)
            };
            if st == sys::VLLM_ERR_BUFFER_TOO_SMALL && n > buf.len() {
                buf.resize(n, 0);
                continue;
            }
            check(st, ptr::null())?;
            buf.truncate(n);
            return Ok(buf);
        }
        Err(Error::new(sys::VLLM_ERR_INTERNAL, "vllm_tokenize asked for a larger buffer twice"))
    }

    /// Raw bytes of the text of `tokens`.
    pub fn detokenize_bytes(&self, tokens: &[i32], special: bool) -> Result<Vec<u8>> {
        let flags = if special { sys::VLLM_DETOKENIZE_SPECIAL } else { 0 };
        let mut buf = vec![0u8; 16 * tokens.len() + 16];
        for _ in 0..2 {
            let mut n = 0usize;
            let st = unsafe {
                sys::vllm_detokenize(self.raw(), tokens.as_ptr(), tokens.len(), flags, buf.as_mut_ptr() as *mut c_char, buf.len(), &mut n)
            };
            if st == sys::VLLM_ERR_BUFFER_TOO_SMALL && n > buf.len() {
                buf.resize(n, 0);
                continue;
            }
            check(st, ptr::null())?;
            buf.truncate(n);
            return Ok(buf);
        }
        Err(Error::new(sys::VLLM_ERR_INTERNAL, "vllm_detokenize asked for a larger buffer twice"))
    }

    /// Text of `tokens` (invalid UTF-8 replaced by U+FFFD).
    pub fn detokenize(&self, tokens: &[i32], special: bool) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.detokenize_bytes(tokens, special)?).into_owned())
    }

    /// True when `token` ends generation.
    pub fn is_eog(&self, token: i32) -> bool {
        unsafe { sys::vllm_token_is_eog(self.raw(), token) != 0 }
    }

    /// A new session over this model.
    pub fn session(&self, params: &SessionParams) -> Result<Session> {
        Session::new(self, params)
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("ptr", &self.inner.ptr).finish()
    }
}
