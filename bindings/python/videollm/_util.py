"""Helpers shared by Model and Session: status checks, callback trampolines,
per-handle locking."""
import threading

from . import _capi
from .errors import Status, VideoLLMError


def check(lib, st, session_ptr=None):
    """Raise VideoLLMError for an error status, with the library's message
    (the session's own copy when a session is involved)."""
    if st >= 0:
        return st
    # The thread's message is the newest (this thread just made the call);
    # the session's copy is the fallback.
    msg = lib.vllm_last_error()
    if not msg and session_ptr is not None:
        msg = lib.vllm_session_last_error(session_ptr)
    raise VideoLLMError(st, (msg or b"").decode("utf-8", "replace"))


def need(lib, name):
    """The C function `name`, or VideoLLMError(ERR_UNSUPPORTED) when the
    loaded library is older than this binding and lacks it."""
    fn = getattr(lib, name, None)
    if fn is None:
        raise VideoLLMError(Status.ERR_UNSUPPORTED, "the loaded library (%s) has no %s" % (lib.path, name))
    return fn


def int32_arg(v, what):
    """An int argument that must fit a C int32_t: ctypes would silently
    wrap a larger one into a different, possibly valid, value. The
    library checks the range."""
    v = v.__index__()
    if not -2**31 <= v < 2**31:
        raise VideoLLMError(Status.ERR_INVALID_ARG, "%s = %d does not fit in int32" % (what, v))
    return v


def enc(s, what):
    """str or bytes to NUL-terminated bytes; embedded NULs are an error."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    elif not isinstance(s, (bytes, bytearray)):
        raise TypeError("%s must be str or bytes, not %s" % (what, type(s).__name__))
    s = bytes(s)
    if b"\0" in s:
        raise VideoLLMError(Status.ERR_INVALID_ARG, "%s contains a NUL character" % what)
    return s


class Trampoline:
    """Wraps a Python callable for C. An exception raised by the callable is
    kept (the C side sees "stop", so the operation is cancelled cleanly) and
    re-raised by reraise() once the C call has returned."""

    def __init__(self):
        self.exc = None

    def call(self, fn, *args):
        if self.exc is not None:
            return 1
        try:
            return 1 if fn(*args) else 0
        except BaseException as e:  # KeyboardInterrupt too: cancel, then re-raise
            self.exc = e
            return 1

    def reraise(self):
        if self.exc is not None:
            e, self.exc = self.exc, None
            raise e


def progress_fn(progress, tramp):
    """A C vllm_progress_fn for a Python `progress(stage, fraction)`;
    a true return value or an exception cancels."""
    if progress is None:
        return _capi.PROGRESS_FN()
    return _capi.PROGRESS_FN(lambda _ud, stage, frac: tramp.call(
        progress, (stage or b"").decode("utf-8", "replace"), float(frac)))


class HandleLock:
    """Serialises calls on one handle ([per session] in the header). A call
    made from inside one of the handle's own callbacks is refused instead of
    deadlocking."""

    def __init__(self):
        self._lock = threading.Lock()
        self._owner = None

    def __enter__(self):
        me = threading.get_ident()
        if self._owner == me:
            raise VideoLLMError(Status.ERR_STATE, "session is busy: it cannot be used from its own callback")
        self._lock.acquire()
        self._owner = me
        return self

    def __exit__(self, *exc):
        self._owner = None
        self._lock.release()
        return False
