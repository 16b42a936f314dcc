use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;

use videollm_sys as sys;

/// What went wrong, from the library's `vllm_status` (plus the one error
/// only the binding can raise: a panicking callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidArg,
    Io,
    Format,
    Unsupported,
    NoMem,
    ContextFull,
    Cancelled,
    Decode,
    BufferTooSmall,
    State,
    Internal,
    /// A Rust callback panicked; the operation was cancelled.
    CallbackPanicked,
    /// A status this binding does not know (a newer library).
    Other(i32),
}

impl ErrorKind {
    pub fn from_status(status: i32) -> ErrorKind {
        match status {
            sys::VLLM_ERR_INVALID_ARG => ErrorKind::InvalidArg,
            sys::VLLM_ERR_IO => ErrorKind::Io,
            sys::VLLM_ERR_FORMAT => ErrorKind::Format,
            sys::VLLM_ERR_UNSUPPORTED => ErrorKind::Unsupported,
            sys::VLLM_ERR_NOMEM => ErrorKind::NoMem,
            sys::VLLM_ERR_CONTEXT_FULL => ErrorKind::ContextFull,
            sys::VLLM_ERR_CANCELLED => ErrorKind::Cancelled,
            sys::VLLM_ERR_DECODE => ErrorKind::Decode,
            sys::VLLM_ERR_BUFFER_TOO_SMALL => ErrorKind::BufferTooSmall,
            sys::VLLM_ERR_STATE => ErrorKind::State,
            sys::VLLM_ERR_INTERNAL => ErrorKind::Internal,
            other => ErrorKind::Other(other),
        }
    }
}

/// A failed call: the library's status and its detailed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    status: i32,
    message: String,
}

impl Error {
    pub fn new(status: i32, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::from_status(status), status, message: message.into() }
    }

    pub(crate) fn panicked(message: String) -> Error {
        Error { kind: ErrorKind::CallbackPanicked, status: sys::VLLM_ERR_CANCELLED, message }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(sys::VLLM_ERR_INVALID_ARG, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The raw `vllm_status` (negative).
    pub fn status(&self) -> i32 {
        self.status
    }
    /// The library's message (which file, key, offset, token...).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = unsafe { cstr(sys::vllm_status_string(self.status)) };
        if self.message.is_empty() {
            write!(f, "{}", name)
        } else {
            write!(f, "{} ({})", self.message, name)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Owned copy of a C string (NULL gives "").
pub(crate) unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Ok for success statuses, else an Error with the calling thread's message
/// (or the session's copy of it).
pub(crate) fn check(status: i32, session: *const sys::vllm_session) -> Result<i32> {
    if !sys::vllm_is_error(status) {
        return Ok(status);
    }
    let mut msg = unsafe { cstr(sys::vllm_last_error()) };
    if msg.is_empty() && !session.is_null() {
        msg = unsafe { cstr(sys::vllm_session_last_error(session)) };
    }
    Err(Error::new(status, msg))
}

/// A C string for the library, refusing interior NULs.
pub(crate) fn to_cstring(s: &[u8], what: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| Error::invalid(format!("{} contains a NUL byte", what)))
}
