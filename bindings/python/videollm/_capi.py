"""Raw ctypes view of include/vllm/videollm.h: structs, enums, prototypes.

Nothing here is friendly; the classes in model.py and session.py are. The
structs mirror the header field for field (same order, same C types), and
each instance's ``struct_size`` is set from ``ctypes.sizeof`` so the library
reads exactly the fields this copy of the header knows about.
"""
import ctypes
import ctypes.util
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double,
                    c_float, c_int, c_int32, c_int64, c_size_t, c_uint,
                    c_uint64, c_uint8, c_void_p)

# ---- enums (plain ints on the C side: enums are `int`-sized) -------------
c_enum = c_int

# ---- callbacks -----------------------------------------------------------
LOG_FN = CFUNCTYPE(None, c_void_p, c_enum, c_char_p)
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_float)
# The piece is raw bytes with a length, not NUL-terminated: take a pointer.
TOKEN_FN = CFUNCTYPE(c_int, c_void_p, c_int32, POINTER(c_char), c_size_t)


# ---- structs ---------------------------------------------------------------
class SizedStructure(Structure):
    """A header struct whose first field is `struct_size`."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.struct_size = ctypes.sizeof(self)


class vllm_model_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("mmproj_path", c_char_p),
                ("use_mmap", c_int),
                ("vocab_only", c_int),
                ("progress", PROGRESS_FN),
                ("progress_user_data", c_void_p),
                ("vision_precision", c_int),
                ("llamacpp_compat", c_int),
                ("image_min_tokens", c_int32),
                ("image_max_tokens", c_int32)]


class vllm_model_info(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("architecture", c_char_p),
                ("name", c_char_p),
                ("n_vocab", c_int32),
                ("n_ctx_train", c_int32),
                ("n_embd", c_int32),
                ("n_layer", c_int32),
                ("n_head", c_int32),
                ("n_head_kv", c_int32),
                ("n_params", c_uint64),
                ("weight_bytes", c_uint64),
                ("token_bos", c_int32),
                ("token_eos", c_int32),
                ("has_vision", c_int32),
                ("tokens_per_frame", c_int32),
                ("image_size", c_int32),
                ("video_fps", c_float),
                ("video_max_frames", c_int32),
                ("family", c_char_p)]


class vllm_session_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("n_ctx", c_int32),
                ("n_threads", c_int32),
                ("kv_type", c_enum),
                ("dedup_threshold", c_float),
                ("prune_rate", c_float),
                ("prune_merge", c_int32),
                ("system_prompt", c_char_p)]


class vllm_generate_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("max_tokens", c_int32),
                ("temperature", c_float),
                ("top_k", c_int32),
                ("top_p", c_float),
                ("min_p", c_float),
                ("repeat_penalty", c_float),
                ("repeat_last_n", c_int32),
                ("frequency_penalty", c_float),
                ("presence_penalty", c_float),
                ("seed", c_uint64),
                ("stop_strings", POINTER(c_char_p)),
                ("n_stop_strings", c_size_t),
                ("raw", c_int),
                ("on_token", TOKEN_FN),
                ("user_data", c_void_p)]


class vllm_session_stats(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("n_ctx", c_int32),
                ("n_past", c_int32),
                ("n_prompt_tokens", c_int64),
                ("n_generated_tokens", c_int64),
                ("prompt_seconds", c_double),
                ("generate_seconds", c_double),
                ("last_stop", c_enum),
                ("n_frames_seen", c_int64),
                ("n_frames_encoded", c_int64),
                ("n_visual_tokens", c_int64),
                ("decode_seconds", c_double),
                ("encode_seconds", c_double),
                ("media_prefill_seconds", c_double),
                ("first_token_seconds", c_double),
                ("peak_rss_bytes", c_int64),
                ("n_frames_dropped", c_int64),
                ("n_frames_evicted", c_int64),
                ("n_frames_deduped", c_int64),
                ("n_tokens_pruned", c_int64),
                ("n_media_text_tokens", c_int64),
                ("n_turns_evicted", c_int64)]


class vllm_frame(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("format", c_enum),
                ("width", c_int32),
                ("height", c_int32),
                ("planes", c_void_p * 3),
                ("strides", c_int32 * 3),
                ("pts", c_double)]


class vllm_video_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("fps", c_float),
                ("max_frames", c_int32),
                ("n_frames", c_int32),
                ("start", c_double),
                ("end", c_double),
                ("progress", PROGRESS_FN),
                ("progress_user_data", c_void_p),
                ("dedup_threshold", c_float),
                ("prune_rate", c_float),
                ("prune_merge", c_int32),
                ("max_visual_tokens", c_int32),
                ("io_timeout_s", c_double)]


class vllm_offload_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("enabled", c_int32),
                ("retrieve_top_k", c_int32),
                ("max_ram_bytes", c_int64),
                ("max_file_bytes", c_int64),
                ("spill_dir", c_char_p)]


class vllm_offload_stats(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("frames_offloaded", c_int64),
                ("frames_in_ram", c_int64),
                ("frames_in_file", c_int64),
                ("frames_dropped", c_int64),
                ("frames_resident", c_int64),
                ("frames_reloaded", c_int64),
                ("retrievals", c_int64),
                ("raw_bytes", c_int64),
                ("compressed_bytes", c_int64),
                ("ram_bytes", c_int64),
                ("file_bytes", c_int64),
                ("offload_seconds", c_double),
                ("reload_seconds", c_double)]


class vllm_source_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("fps", c_float),
                ("reconnect", c_int32),
                ("reconnect_max_delay_s", c_double),
                ("io_timeout_s", c_double),
                ("queue_frames", c_int32),
                ("input_format", c_char_p)]


SOURCE_MESSAGE_MAX = 256


class vllm_source_stats(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("state", c_enum),
                ("message", c_char * SOURCE_MESSAGE_MAX),
                ("stream_seconds", c_double),
                ("ingested_seconds", c_double),
                ("wall_seconds", c_double),
                ("lag_seconds", c_double),
                ("max_lag_seconds", c_double),
                ("frames_read", c_int64),
                ("frames_sampled", c_int64),
                ("frames_kept", c_int64),
                ("frames_deduped", c_int64),
                ("frames_dropped", c_int64),
                ("frames_queued", c_int64),
                ("frames_failed", c_int64),
                ("reconnects", c_int64)]


class vllm_watch_event(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("watch_id", c_int32),
                ("trigger", c_enum),
                ("stream_seconds", c_double),
                ("answer", c_char_p),
                ("yes_probability", c_float),
                ("change", c_float),
                ("changed", c_int32),
                ("eval_seconds", c_double),
                ("evaluations", c_int64)]


WATCH_FN = CFUNCTYPE(None, c_void_p, POINTER(vllm_watch_event))


class vllm_watch_params(SizedStructure):
    _fields_ = [("struct_size", c_size_t),
                ("every_s", c_double),
                ("change_threshold", c_float),
                ("yes_no", c_int32),
                ("yes_threshold", c_float),
                ("max_tokens", c_int32),
                ("notify_all", c_int32)]


vllm_model_p = c_void_p
vllm_session_p = c_void_p
status = c_int

# name: (restype, argtypes). Every function of the header, experimental
# ones included; a symbol the loaded library lacks is reported when used.
PROTOTYPES = {
    "vllm_version": (c_char_p, []),
    "vllm_version_number": (c_uint, []),
    "vllm_status_string": (c_char_p, [status]),
    "vllm_last_error": (c_char_p, []),
    "vllm_set_log_callback": (None, [LOG_FN, c_void_p, c_enum]),
    "vllm_model_default_params": (vllm_model_params, []),
    "vllm_model_load": (status, [c_char_p, POINTER(vllm_model_params), POINTER(vllm_model_p)]),
    "vllm_model_free": (None, [vllm_model_p]),
    "vllm_model_get_info": (status, [vllm_model_p, POINTER(vllm_model_info)]),
    "vllm_tokenize": (status, [vllm_model_p, c_char_p, c_size_t, c_uint, POINTER(c_int32), c_size_t,
                               POINTER(c_size_t)]),
    "vllm_detokenize": (status, [vllm_model_p, POINTER(c_int32), c_size_t, c_uint, POINTER(c_char), c_size_t,
                                 POINTER(c_size_t)]),
    "vllm_token_is_eog": (c_int, [vllm_model_p, c_int32]),
    "vllm_session_default_params": (vllm_session_params, []),
    "vllm_session_create": (status, [vllm_model_p, POINTER(vllm_session_params), POINTER(vllm_session_p)]),
    "vllm_session_free": (None, [vllm_session_p]),
    "vllm_session_reset": (status, [vllm_session_p]),
    "vllm_session_last_error": (c_char_p, [vllm_session_p]),
    "vllm_session_cancel": (None, [vllm_session_p]),
    "vllm_generate_default_params": (vllm_generate_params, []),
    "vllm_session_query": (status, [vllm_session_p, c_char_p, POINTER(vllm_generate_params)]),
    "vllm_session_next_token": (status, [vllm_session_p, POINTER(c_int32), POINTER(POINTER(c_char)),
                                         POINTER(c_size_t)]),
    "vllm_session_generate": (status, [vllm_session_p, c_char_p, POINTER(vllm_generate_params)]),
    "vllm_session_get_stats": (status, [vllm_session_p, POINTER(vllm_session_stats)]),
    "vllm_session_push_frame": (status, [vllm_session_p, POINTER(vllm_frame)]),
    "vllm_video_default_params": (vllm_video_params, []),
    "vllm_session_push_video": (status, [vllm_session_p, c_char_p, POINTER(vllm_video_params)]),
    "vllm_session_push_video_buffer": (status, [vllm_session_p, c_void_p, c_size_t, POINTER(vllm_video_params)]),
    "vllm_session_push_image": (status, [vllm_session_p, c_char_p]),
    "vllm_compression_preset": (status, [c_char_p, POINTER(vllm_session_params), POINTER(vllm_video_params)]),
    "vllm_session_save": (status, [vllm_session_p, c_char_p]),
    "vllm_session_load": (status, [vllm_session_p, c_char_p]),
    # experimental (VLLM_EXPERIMENTAL): may change in any release
    "vllm_session_eval_tokens": (status, [vllm_session_p, POINTER(c_int32), c_size_t]),
    "vllm_session_logits": (POINTER(c_float), [vllm_session_p]),
    "vllm_session_history": (status, [vllm_session_p, POINTER(POINTER(c_int32)), POINTER(c_size_t)]),
    "vllm_offload_default_params": (vllm_offload_params, []),
    "vllm_session_set_offload": (status, [vllm_session_p, POINTER(vllm_offload_params)]),
    "vllm_session_recall": (status, [vllm_session_p, c_double, c_double, POINTER(c_int32)]),
    "vllm_session_get_offload_stats": (status, [vllm_session_p, POINTER(vllm_offload_stats)]),
    "vllm_source_default_params": (vllm_source_params, []),
    "vllm_session_attach_source": (status, [vllm_session_p, c_char_p, POINTER(vllm_source_params)]),
    "vllm_session_detach_source": (status, [vllm_session_p]),
    "vllm_session_source_stats": (status, [vllm_session_p, POINTER(vllm_source_stats)]),
    "vllm_watch_default_params": (vllm_watch_params, []),
    "vllm_session_watch": (status, [vllm_session_p, c_char_p, POINTER(vllm_watch_params), WATCH_FN, c_void_p,
                                    POINTER(c_int32)]),
    "vllm_session_unwatch": (status, [vllm_session_p, c_int32]),
}


class Library:
    """A loaded libvideollm with prototypes attached.

    Attribute access returns the prototyped C function; a function this
    build of the library does not export raises AttributeError naming it
    (the caller turns that into VideoLLMError(VLLM_ERR_UNSUPPORTED))."""

    def __init__(self, path):
        self.path = path
        self._dll = ctypes.CDLL(path)
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(self._dll, name)
            except AttributeError:
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def has(self, name):
        return name in self.__dict__


_lock = threading.Lock()
_library = None


def _candidates(path):
    if path is not None:
        yield os.fspath(path)
        return
    env = os.environ.get("VIDEOLLM_LIBRARY")
    if env:
        yield env
        return
    found = ctypes.util.find_library("videollm")
    if found:
        yield found
    yield "libvideollm.so.1"


def load_library(path=None):
    """Load libvideollm (once per process) and return it.

    Lookup order: `path`, then $VIDEOLLM_LIBRARY, then the system loader
    (ctypes.util.find_library('videollm'), then 'libvideollm.so.1').
    Calling it again with a different explicit path raises, because one
    process can only sensibly use one copy of the library."""
    global _library
    with _lock:
        if _library is not None:
            if path is not None and os.fspath(path) != _library.path:
                raise RuntimeError("libvideollm is already loaded from %r" % _library.path)
            return _library
        errors = []
        for cand in _candidates(path):
            try:
                _library = Library(cand)
                return _library
            except OSError as e:
                errors.append("%s: %s" % (cand, e))
        raise OSError("cannot load libvideollm (set VIDEOLLM_LIBRARY to its path): " + "; ".join(errors))
