"""Python bindings for libvideollm (video LLMs on the CPU), over its C ABI
with ctypes.

    import videollm
    with videollm.Model("model.gguf", mmproj="mmproj.gguf") as model, model.session() as s:
        s.push_video("clip.mp4")
        for piece in s.stream("What happens in this video?", max_tokens=128):
            print(piece, end="", flush=True)

The library is found through load_library(path), else $VIDEOLLM_LIBRARY,
else the system loader (libvideollm.so.1).
"""
from ._capi import load_library
from .errors import InvalidArgumentError, Status, VideoLLMError
from .frames import PixelFormat
from .model import Model, ModelInfo, VisionPrecision
from .live import LiveSource, SourceState, SourceStats, Watch, WatchEvent, WatchTrigger
from .session import KVType, OffloadStats, Session, Stats, StopReason, Token

__all__ = ["load_library", "Model", "ModelInfo", "Session", "Stats", "OffloadStats", "StopReason", "Token", "KVType",
           "PixelFormat", "VisionPrecision", "Status", "VideoLLMError", "InvalidArgumentError", "version", "version_number",
           "status_string", "set_log_callback", "LogLevel", "LiveSource", "SourceState", "SourceStats", "Watch",
           "WatchEvent", "WatchTrigger"]

import ctypes as _ctypes
import enum as _enum

from . import _capi


def version():
    """Version string of the loaded library ("0.1.0")."""
    return load_library().vllm_version().decode()


def version_number():
    """VLLM_VERSION_NUMBER of the loaded library (major*10000+minor*100+patch)."""
    return int(load_library().vllm_version_number())


def status_string(status):
    """The library's static name of a status code."""
    return load_library().vllm_status_string(int(status)).decode("utf-8", "replace")


class LogLevel(_enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


_log_keep = None


def set_log_callback(fn, max_level=LogLevel.WARN):
    """Route library log lines to fn(level: LogLevel, message: str); None
    restores the default (warnings and errors to stderr). fn may be called
    from library worker threads; exceptions it raises are reported by
    Python and otherwise ignored."""
    global _log_keep
    lib = load_library()
    if fn is None:
        lib.vllm_set_log_callback(_capi.LOG_FN(), None, int(max_level))
        _log_keep = None
        return

    def tramp(_ud, level, msg):
        try:
            level = LogLevel(level)
        except ValueError:
            pass
        fn(level, (msg or b"").decode("utf-8", "replace"))

    cb = _capi.LOG_FN(tramp)
    lib.vllm_set_log_callback(cb, None, int(max_level))
    _log_keep = cb  # the library holds the pointer until the next call
