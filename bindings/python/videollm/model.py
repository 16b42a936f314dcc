"""Model: loaded weights and vocabulary, shareable between sessions/threads."""
import ctypes
import dataclasses
import enum
import threading
import typing
import weakref

from . import _capi
from ._util import Trampoline, check, enc, int32_arg, progress_fn
from .errors import Status, VideoLLMError

TOKENIZE_ADD_SPECIAL = 1
TOKENIZE_PARSE_SPECIAL = 2
DETOKENIZE_SPECIAL = 1
IMAGE_TOKENS_LIMIT = 16384  # VLLM_IMAGE_TOKENS_LIMIT: the largest image_min/max_tokens


class VisionPrecision(enum.IntEnum):
    """VLLM_VISION_*: arithmetic of the vision encoder."""
    AUTO = 0   # BF16 linear layers where the CPU has AVX-512 BF16, else F32
    F32 = 1
    GGML = 2   # f32 with llama.cpp's fp16 roundings (bit-level comparisons)
    BF16 = 3


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    architecture: str
    name: str
    n_vocab: int
    n_ctx_train: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_params: int
    weight_bytes: int
    token_bos: int
    token_eos: int
    has_vision: bool
    tokens_per_frame: int
    image_size: int
    video_fps: float
    video_max_frames: int
    family: typing.Optional[str]  # "smolvlm2", "qwen2.5-vl", "qwen3-vl"; None for a text-only load


class _ModelHandle:
    """Owns the vllm_model pointer. The C model must outlive its sessions, so
    it is freed only when the Model is closed (or collected) AND every
    session made from it is gone, whatever order Python finalizes them in."""

    def __init__(self, lib, ptr):
        self.lib = lib
        self.ptr = ptr
        self.owner = True
        self.sessions = 0
        self.lock = threading.Lock()

    def add_session(self):
        with self.lock:
            if not self.owner or self.ptr is None:
                raise VideoLLMError(Status.ERR_STATE, "model is closed")
            self.sessions += 1

    def release(self, owner):
        with self.lock:
            if owner:
                self.owner = False
            else:
                self.sessions -= 1
            if not self.owner and self.sessions == 0 and self.ptr is not None:
                ptr, self.ptr = self.ptr, None
                self.lib.vllm_model_free(ptr)


class Model:
    """A GGUF text model, optionally with its vision projector (mmproj).

    Use as a context manager or call close(); it is also freed when
    garbage-collected. Sessions keep the weights alive: closing the Model
    makes it unusable for new calls, the memory goes with its last session.
    Thread-safe: share one Model between threads and sessions.

    llamacpp_compat reproduces llama.cpp number for number (its text-model
    quirks and its whole media path); the default follows the model's own
    rules. image_min_tokens / image_max_tokens bound the visual tokens per
    image or video frame of the dynamic-resolution families (Qwen2.5-VL,
    Qwen3-VL): 0 = the family's default, else 1..IMAGE_TOKENS_LIMIT."""

    def __init__(self, path, mmproj=None, *, use_mmap=True, vocab_only=False, progress=None,
                 vision_precision=VisionPrecision.AUTO, llamacpp_compat=False, image_min_tokens=0,
                 image_max_tokens=0, library=None):
        lib = _capi.load_library(library)
        self._lib = lib
        self._handle = None
        p = lib.vllm_model_default_params()
        mm = enc(mmproj, "mmproj") if mmproj is not None else None
        p.mmproj_path = mm
        p.use_mmap = 1 if use_mmap else 0
        p.vocab_only = 1 if vocab_only else 0
        p.vision_precision = int(vision_precision)
        p.llamacpp_compat = 1 if llamacpp_compat else 0
        p.image_min_tokens = int32_arg(image_min_tokens, "image_min_tokens")
        p.image_max_tokens = int32_arg(image_max_tokens, "image_max_tokens")
        tramp = Trampoline()
        cb = progress_fn(progress, tramp)
        p.progress = cb
        out = _capi.vllm_model_p()
        st = lib.vllm_model_load(enc(_fspath(path), "path"), ctypes.byref(p), ctypes.byref(out))
        tramp.reraise()
        check(lib, st)
        self._handle = _ModelHandle(lib, out.value)
        self._finalizer = weakref.finalize(self, self._handle.release, True)
        self._info = None

    # ---- lifetime ----
    def close(self):
        """Release the model (idempotent)."""
        if self._handle is not None:
            self._finalizer()

    @property
    def closed(self):
        return self._handle is None or not self._handle.owner

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _ptr(self):
        h = self._handle
        if h is None or not h.owner or h.ptr is None:
            raise VideoLLMError(Status.ERR_STATE, "model is closed")
        return h.ptr

    # ---- queries ----
    def info(self):
        """ModelInfo (architecture, sizes, special tokens, has_vision)."""
        if self._info is None:
            i = _capi.vllm_model_info()
            check(self._lib, self._lib.vllm_model_get_info(self._ptr(), ctypes.byref(i)))
            self._info = ModelInfo(
                architecture=(i.architecture or b"").decode("utf-8", "replace"),
                name=(i.name or b"").decode("utf-8", "replace"),
                n_vocab=i.n_vocab, n_ctx_train=i.n_ctx_train, n_embd=i.n_embd, n_layer=i.n_layer,
                n_head=i.n_head, n_head_kv=i.n_head_kv, n_params=i.n_params, weight_bytes=i.weight_bytes,
                token_bos=i.token_bos, token_eos=i.token_eos, has_vision=bool(i.has_vision),
                tokens_per_frame=i.tokens_per_frame, image_size=i.image_size, video_fps=i.video_fps,
                video_max_frames=i.video_max_frames,
                family=i.family.decode("utf-8", "replace") if i.family else None)
        return self._info

    def tokenize(self, text, add_special=True, parse_special=False):
        """Token ids of `text` (str or bytes)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        flags = (TOKENIZE_ADD_SPECIAL if add_special else 0) | (TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        ptr = self._ptr()
        cap = len(data) + 8
        n = ctypes.c_size_t()
        for _ in range(2):
            buf = (ctypes.c_int32 * cap)()
            st = self._lib.vllm_tokenize(ptr, data, len(data), flags, buf, cap, ctypes.byref(n))
            if st == Status.ERR_BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            check(self._lib, st)
            return list(buf[:n.value])
        raise VideoLLMError(Status.ERR_INTERNAL, "vllm_tokenize asked for a larger buffer twice")

    def detokenize_bytes(self, tokens, special=False):
        """Raw bytes of the text of `tokens`."""
        ids = int32_array(tokens)
        ptr = self._ptr()
        cap = 16 * len(tokens) + 16
        n = ctypes.c_size_t()
        for _ in range(2):
            buf = ctypes.create_string_buffer(cap)
            st = self._lib.vllm_detokenize(ptr, ids, len(tokens), DETOKENIZE_SPECIAL if special else 0,
                                           buf, cap, ctypes.byref(n))
            if st == Status.ERR_BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            check(self._lib, st)
            return buf.raw[:n.value]
        raise VideoLLMError(Status.ERR_INTERNAL, "vllm_detokenize asked for a larger buffer twice")

    def detokenize(self, tokens, special=False):
        """Text of `tokens` (invalid UTF-8 replaced by U+FFFD)."""
        return self.detokenize_bytes(tokens, special).decode("utf-8", "replace")

    def is_eog(self, token):
        """True when `token` ends generation."""
        return bool(self._lib.vllm_token_is_eog(self._ptr(), int(token)))

    def session(self, **params):
        """A new Session over this model (see Session for the parameters)."""
        from .session import Session
        return Session(self, **params)


def int32_array(tokens):
    """A C int32_t array of token ids; ids outside int32 are refused
    (ctypes would silently wrap them)."""
    tokens = [t.__index__() for t in tokens]
    for t in tokens:
        if not -2**31 <= t < 2**31:
            raise VideoLLMError(Status.ERR_INVALID_ARG, "token id %d does not fit in int32" % t)
    return (ctypes.c_int32 * len(tokens))(*tokens)


def _fspath(p):
    import os
    return os.fspath(p)
