"""Session: one conversation (KV cache, sampler, media) over a Model."""
import codecs
import ctypes
import dataclasses
import enum
import os
import queue
import threading
import weakref
from array import array

from . import _capi, frames, live
from ._util import HandleLock, Trampoline, check, enc, int32_arg, need, progress_fn
from .errors import Status, VideoLLMError
from .model import Model, int32_array


class KVType(enum.IntEnum):
    """vllm_kv_type: KV cache storage. Q8_0 and Q4_0 need a head dimension
    that is a multiple of 32."""
    F32 = 0
    F16 = 1
    Q8_0 = 2   # blocks of 32 values: fp16 scale + int8 (8.5 bits)
    Q4_0 = 3   # blocks of 32 values: fp16 scale + 4-bit (4.5 bits)


class StopReason(enum.IntEnum):
    NONE = 0
    EOG = 1
    MAX_TOKENS = 2
    STRING = 3
    CONTEXT_FULL = 4
    CANCELLED = 5


@dataclasses.dataclass(frozen=True)
class Stats:
    n_ctx: int
    n_past: int
    n_prompt_tokens: int
    n_generated_tokens: int
    prompt_seconds: float
    generate_seconds: float
    last_stop: StopReason
    n_frames_seen: int
    n_frames_encoded: int
    n_visual_tokens: int
    decode_seconds: float
    encode_seconds: float
    media_prefill_seconds: float
    first_token_seconds: float
    peak_rss_bytes: int
    n_frames_dropped: int
    n_frames_evicted: int
    n_frames_deduped: int
    n_tokens_pruned: int
    n_media_text_tokens: int
    n_turns_evicted: int


@dataclasses.dataclass(frozen=True)
class OffloadStats:
    """Counters of the KV offload tier (see Session.set_offload)."""
    frames_offloaded: int
    frames_in_ram: int
    frames_in_file: int
    frames_dropped: int
    frames_resident: int
    frames_reloaded: int
    retrievals: int
    raw_bytes: int
    compressed_bytes: int
    ram_bytes: int
    file_bytes: int
    offload_seconds: float
    reload_seconds: float


@dataclasses.dataclass(frozen=True)
class Token:
    """One step of a generation: the token id (-1 for text released at the
    end, e.g. held back for a possible stop string) and its raw bytes."""
    id: int
    piece: bytes


# Keyword arguments of ask()/stream()/query() -> vllm_generate_params fields.
_GEN_FIELDS = ("max_tokens", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n",
               "frequency_penalty", "presence_penalty", "seed", "raw")


def _free_session(lib, box, model_handle):
    ptr, box[0] = box[0], None
    if ptr is not None:
        lib.vllm_session_free(ptr)
        model_handle.release(False)


class Session:
    """One conversation over `model`.

    Parameters: n_ctx (0 = enough for the default video sampling and the
    default answer, within the trained context; see vllm_session_params), n_threads (0 = one per
    CPU), kv_type (KVType.F32 / F16 (the default) / Q8_0 / Q4_0); frame compression, all off by
    default: compression (a preset name, "fast" or "off", applied first),
    dedup_threshold, prune_rate, prune_merge; system_prompt (a system turn
    before the first user turn, in the model's chat template; None = the
    model's default). Use as a context manager or
    call close(); it is also freed when garbage-collected. Calls on one
    session are serialised (the C API forbids overlapping them); cancel()
    may be called from any thread.

    Generation keyword arguments (ask, stream, stream_tokens, query):
    max_tokens, temperature, top_k, top_p, min_p, repeat_penalty,
    repeat_last_n, frequency_penalty, presence_penalty, seed, raw (prompt
    used verbatim, no chat template), stop (list of stop strings)."""

    def __init__(self, model, *, n_ctx=0, n_threads=0, kv_type=KVType.F16, compression=None, dedup_threshold=None,
                 prune_rate=None, prune_merge=None, system_prompt=None):
        if not isinstance(model, Model):
            raise TypeError("model must be a videollm.Model")
        lib = model._lib
        self._lib = lib
        self._model = model
        self._lock = HandleLock()
        # push_frame is [any thread] in the header (frames pushed during an
        # answer queue in the library): it only excludes close().
        self._frame_lock = threading.Lock()
        self._box = [None]
        self._watch_fns = {}   # watch id -> its C callback (kept alive while the watch is)
        self._keep = None      # the C callback of the armed generation
        self._generation = 0   # bumped by every query: stale stream() generators notice
        p = lib.vllm_session_default_params()
        p.n_ctx = int32_arg(n_ctx, "n_ctx")
        p.n_threads = int32_arg(n_threads, "n_threads")
        p.kv_type = int(kv_type)
        if compression is not None:
            check(lib, need(lib, "vllm_compression_preset")(enc(compression, "compression"), ctypes.byref(p), None))
        if dedup_threshold is not None:
            p.dedup_threshold = float(dedup_threshold)
        if prune_rate is not None:
            p.prune_rate = float(prune_rate)
        if prune_merge is not None:
            p.prune_merge = 1 if prune_merge else 0
        system_bytes = None  # kept alive until create has copied it
        if system_prompt is not None:
            system_bytes = enc(system_prompt, "system_prompt")
            p.system_prompt = system_bytes
        handle = model._handle
        mptr = model._ptr()
        handle.add_session()
        out = _capi.vllm_session_p()
        try:
            check(lib, lib.vllm_session_create(mptr, ctypes.byref(p), ctypes.byref(out)))
        except BaseException:
            handle.release(False)
            raise
        self._box[0] = out.value
        self._finalizer = weakref.finalize(self, _free_session, lib, self._box, handle)

    # ---- lifetime ----
    def close(self):
        """Free the session (idempotent). Waits for a call in progress on
        another thread to finish (cancel() it first to hurry it)."""
        with self._lock, self._frame_lock:
            self._finalizer()  # vllm_session_free detaches a source: no callback runs after it
            self._watch_fns.clear()

    @property
    def closed(self):
        return self._box[0] is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def model(self):
        return self._model

    def _ptr(self):
        p = self._box[0]
        if p is None:
            raise VideoLLMError(Status.ERR_STATE, "session is closed")
        return p

    def _check(self, st):
        return check(self._lib, st, self._box[0])

    # ---- state ----
    def reset(self):
        """Forget the context (KV cache) and any generation in progress."""
        with self._lock:
            self._generation += 1
            self._check(self._lib.vllm_session_reset(self._ptr()))

    def cancel(self):
        """Ask the running generation to stop (from any thread)."""
        p = self._box[0]
        if p is not None:
            self._lib.vllm_session_cancel(p)

    @property
    def last_error(self):
        p = self._box[0]
        return "" if p is None else (self._lib.vllm_session_last_error(p) or b"").decode("utf-8", "replace")

    def stats(self):
        """Stats of this session (all turns so far)."""
        s = _capi.vllm_session_stats()
        with self._lock:
            self._check(self._lib.vllm_session_get_stats(self._ptr(), ctypes.byref(s)))
        try:
            stop = StopReason(s.last_stop)
        except ValueError:
            stop = s.last_stop
        return Stats(s.n_ctx, s.n_past, s.n_prompt_tokens, s.n_generated_tokens, s.prompt_seconds,
                     s.generate_seconds, stop, s.n_frames_seen, s.n_frames_encoded, s.n_visual_tokens,
                     s.decode_seconds, s.encode_seconds, s.media_prefill_seconds, s.first_token_seconds,
                     s.peak_rss_bytes, s.n_frames_dropped, s.n_frames_evicted, s.n_frames_deduped, s.n_tokens_pruned,
                     s.n_media_text_tokens, s.n_turns_evicted)

    # ---- generation ----
    def _gen_params(self, gen, on_token=None):
        p = self._lib.vllm_generate_default_params()
        stop = gen.pop("stop", None)
        for k, v in gen.items():
            if k not in _GEN_FIELDS:
                raise TypeError("unknown generation parameter %r" % k)
            if k == "seed":
                if not 0 <= int(v) < 2**64:
                    raise VideoLLMError(Status.ERR_INVALID_ARG, "seed %d is not a uint64" % v)
                v = int(v)
            elif k == "raw":
                v = 1 if v else 0
            elif k in ("max_tokens", "top_k", "repeat_last_n"):
                v = int32_arg(v, k)
            else:
                v = float(v)
            setattr(p, k, v)
        keep = []
        if stop is not None:
            if isinstance(stop, (str, bytes)):
                stop = [stop]
            arr = (ctypes.c_char_p * max(1, len(stop)))(*[enc(s, "stop string") for s in stop])
            p.stop_strings = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            p.n_stop_strings = len(stop)
            keep.append(arr)
        if on_token is not None:
            p.on_token = on_token
        return p, keep

    def _query_locked(self, prompt, gen, on_token=None):
        p, keep = self._gen_params(dict(gen), on_token)
        self._generation += 1
        self._keep = on_token  # the library calls it from next_token too
        self._check(self._lib.vllm_session_query(self._ptr(), enc(prompt, "prompt"), ctypes.byref(p)))
        del keep

    def query(self, prompt, **gen):
        """Append `prompt` as a user turn and arm generation; then pull
        tokens with next_token(). Most code wants ask() or stream()."""
        with self._lock:
            self._query_locked(prompt, gen)

    def next_token(self):
        """The next Token of the armed generation, or None when it ended."""
        with self._lock:
            return self._next_locked()

    def _next_locked(self):
        tok = ctypes.c_int32()
        piece = ctypes.POINTER(ctypes.c_char)()
        n = ctypes.c_size_t()
        ptr = self._ptr()
        st = self._lib.vllm_session_next_token(ptr, ctypes.byref(tok), ctypes.byref(piece), ctypes.byref(n))
        self._check(st)
        data = ctypes.string_at(piece, n.value) if n.value else b""
        if st == Status.DONE:
            return Token(-1, data) if data else None
        return Token(tok.value, data)

    def _ended(self):
        # A generation stopped by a stop string returns VLLM_OK for its last
        # piece and is over: the stats say so (next_token would refuse).
        s = _capi.vllm_session_stats()
        self._check(self._lib.vllm_session_get_stats(self._ptr(), ctypes.byref(s)))
        return s.last_stop != StopReason.NONE

    def stream_tokens(self, prompt, **gen):
        """Generator of Token (id, raw bytes) for the answer to `prompt`."""
        with self._lock:
            self._query_locked(prompt, gen)
            mine = self._generation
        while True:
            with self._lock:
                if self._generation != mine:
                    raise VideoLLMError(Status.ERR_STATE, "this generation was superseded by a newer query or reset")
                t = self._next_locked()
                if t is None:
                    return
                ended = self._ended() if t.id >= 0 else True
            yield t
            if ended:
                return

    def stream(self, prompt, **gen):
        """Generator of text pieces (str) of the answer to `prompt`, pulled
        token by token. Concatenated they equal ask()'s result."""
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        for t in self.stream_tokens(prompt, **gen):
            text = dec.decode(t.piece)
            if text:
                yield text
        text = dec.decode(b"", True)
        if text:
            yield text

    def ask(self, prompt, on_token=None, **gen):
        """Generate the whole answer to `prompt` and return it as str.

        `on_token(token_id, text)` is called for every piece (token_id -1
        for text released at the end); returning a true value stops the
        generation early (ask returns the text so far). An exception raised
        by on_token cancels the generation and propagates from ask().
        on_token runs inside the library's per-token call: a push_frame()
        from another thread waits until it returns, so do not block in it
        waiting for such a thread (stream() has no such restriction)."""
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        parts = []
        tramp = Trampoline()
        stopped = [False]

        def each(token, piece):
            text = dec.decode(piece)
            parts.append(text)
            if on_token is not None and on_token(token, text):
                stopped[0] = True
                return 1
            return 0

        cb = _capi.TOKEN_FN(lambda _ud, token, piece, n: tramp.call(each, token, ctypes.string_at(piece, n)))
        with self._lock:
            p, keep = self._gen_params(dict(gen), cb)
            self._generation += 1
            self._keep = cb
            st = self._lib.vllm_session_generate(self._ptr(), enc(prompt, "prompt"), ctypes.byref(p))
            del keep
            tramp.reraise()
            if not (stopped[0] and st == Status.ERR_CANCELLED):
                self._check(st)
        parts.append(dec.decode(b"", True))
        return "".join(parts)

    # ---- media ----
    def push_frame(self, data, width, height, format, pts, stride=None):
        """Encode one video frame into the context.

        `data`: one buffer (bytes, bytearray, memoryview, array, NumPy
        array or anything with __array_interface__; read in place when
        contiguous) holding the planes one after the other, or a tuple of
        per-plane buffers. `format`: a PixelFormat. `stride`: bytes per row
        (of plane 0, or a tuple per plane); default tightly packed. `pts`:
        seconds, non-decreasing. The buffer is checked to hold every row the
        library will read. May be called from any thread, also while
        another thread is generating (the frame then enters the context
        after that answer)."""
        self._ptr()
        frame, keep = frames.build_frame(data, width, height, format, pts, stride)
        fn = need(self._lib, "vllm_session_push_frame")
        with self._frame_lock:
            self._check(fn(self._ptr(), ctypes.byref(frame)))
        del keep

    def _video_params(self, fps, max_frames, n_frames, start, end, progress, tramp, compression, io_timeout_s=0.0):
        p = need(self._lib, "vllm_video_default_params")()
        compression = dict(compression)
        preset = compression.pop("compression", None)
        if preset is not None:
            check(self._lib, need(self._lib, "vllm_compression_preset")(enc(preset, "compression"), None,
                                                                         ctypes.byref(p)))
        for k, v in compression.items():
            if k not in ("dedup_threshold", "prune_rate", "prune_merge", "max_visual_tokens"):
                raise TypeError("unknown video parameter %r" % k)
            setattr(p, k, float(v) if k in ("dedup_threshold", "prune_rate") else int32_arg(int(v), k))
        p.fps = float(fps)
        p.max_frames = int32_arg(max_frames, "max_frames")
        p.n_frames = int32_arg(n_frames, "n_frames")
        p.start = float(start)
        p.end = float(end)
        p.io_timeout_s = float(io_timeout_s)
        cb = progress_fn(progress, tramp)
        p.progress = cb
        return p, cb

    def push_video(self, path, *, fps=0.0, max_frames=0, n_frames=0, start=0.0, end=0.0, progress=None,
                   io_timeout_s=0.0, **compression):
        """Decode a video file or URL, sample frames and encode them into the
        context. 0 means the model family's default for fps/max_frames;
        n_frames > 0 takes exactly that many frames; end <= 0 = to the end.
        `progress(stage, fraction)` may return True (or raise) to cancel.
        `io_timeout_s`: seconds the source may send nothing before the call
        fails (0 = 30 s for network URLs, none for local files; < 0 = never);
        cancel() interrupts a waiting read.
        Compression for this video (0 = the session's setting):
        compression (preset name), dedup_threshold, prune_rate, prune_merge,
        max_visual_tokens."""
        self._ptr()
        fn = need(self._lib, "vllm_session_push_video")
        tramp = Trampoline()
        p, cb = self._video_params(fps, max_frames, n_frames, start, end, progress, tramp, compression, io_timeout_s)
        with self._lock:
            st = fn(self._ptr(), enc(os.fspath(path), "path"), ctypes.byref(p))
            tramp.reraise()
            self._check(st)

    def push_video_buffer(self, data, *, fps=0.0, max_frames=0, n_frames=0, start=0.0, end=0.0, progress=None,
                          **compression):
        """push_video() from an encoded video held in memory."""
        self._ptr()
        fn = need(self._lib, "vllm_session_push_video_buffer")
        addr, size, _, keep = frames.buffer_pointer(data)
        tramp = Trampoline()
        p, cb = self._video_params(fps, max_frames, n_frames, start, end, progress, tramp, compression)
        with self._lock:
            st = fn(self._ptr(), addr, size, ctypes.byref(p))
            tramp.reraise()
            self._check(st)
        del keep

    def push_image(self, path):
        """Decode a still image and encode it into the context."""
        self._ptr()
        fn = need(self._lib, "vllm_session_push_image")
        with self._lock:
            self._check(fn(self._ptr(), enc(os.fspath(path), "path")))

    # ---- snapshots ----
    def save(self, path):
        """Write the session's context to `path` (zstd-compressed snapshot)."""
        self._ptr()
        fn = need(self._lib, "vllm_session_save")
        with self._lock:
            self._check(fn(self._ptr(), enc(os.fspath(path), "path")))

    def load(self, path):
        """Replace the context with a snapshot saved from a session of the
        same model; on error the session is unchanged."""
        self._ptr()
        fn = need(self._lib, "vllm_session_load")
        with self._lock:
            self._generation += 1
            self._check(fn(self._ptr(), enc(os.fspath(path), "path")))

    # ---- experimental (VLLM_EXPERIMENTAL; may change in any release) ----
    def history(self):
        """Token id at every position of the context (-1 for visual tokens)."""
        self._ptr()
        fn = need(self._lib, "vllm_session_history")
        p = ctypes.POINTER(ctypes.c_int32)()
        n = ctypes.c_size_t()
        with self._lock:
            self._check(fn(self._ptr(), ctypes.byref(p), ctypes.byref(n)))
            return list(p[:n.value]) if n.value else []

    def set_offload(self, enabled=True, retrieve_top_k=None, max_ram_bytes=None, max_file_bytes=None,
                    spill_dir=None):
        """Turn the KV offload tier on (frames leaving a full context are
        compressed into RAM, then a spill file in `spill_dir`, instead of
        dropped; questions reload the most similar ones) or off. Unset
        arguments keep the library's defaults."""
        self._ptr()
        p = need(self._lib, "vllm_offload_default_params")()
        p.enabled = 1 if enabled else 0
        if retrieve_top_k is not None:
            p.retrieve_top_k = int(retrieve_top_k)
        if max_ram_bytes is not None:
            p.max_ram_bytes = int(max_ram_bytes)
        if max_file_bytes is not None:
            p.max_file_bytes = int(max_file_bytes)
        p.spill_dir = None if spill_dir is None else enc(os.fspath(spill_dir), "spill_dir")  # the library copies it
        fn = need(self._lib, "vllm_session_set_offload")
        with self._lock:
            self._check(fn(self._ptr(), ctypes.byref(p)))

    def recall(self, t0, t1):
        """Reload offloaded frames with time in [t0, t1) seconds; returns how many came back."""
        self._ptr()
        fn = need(self._lib, "vllm_session_recall")
        n = ctypes.c_int32()
        with self._lock:
            self._generation += 1
            self._check(fn(self._ptr(), float(t0), float(t1), ctypes.byref(n)))
        return n.value

    def offload_stats(self):
        """Counters of the offload tier."""
        self._ptr()
        fn = need(self._lib, "vllm_session_get_offload_stats")
        o = _capi.vllm_offload_stats()
        with self._lock:
            self._check(fn(self._ptr(), ctypes.byref(o)))
        return OffloadStats(*(getattr(o, f) for f, _ in _capi.vllm_offload_stats._fields_[1:]))

    def eval_tokens(self, tokens):
        """Evaluate token ids at the next positions without sampling."""
        self._ptr()
        fn = need(self._lib, "vllm_session_eval_tokens")
        ids = int32_array(tokens)
        with self._lock:
            self._generation += 1
            self._check(fn(self._ptr(), ids, len(ids)))

    def logits(self):
        """A copy of the logits after the last evaluated position
        (array('f') of n_vocab floats), or None."""
        fn = need(self._lib, "vllm_session_logits")
        n = self._model.info().n_vocab
        with self._lock:
            p = fn(self._ptr())
            if not p:
                return None
            out = array("f")
            out.frombytes(ctypes.string_at(p, 4 * n))
            return out


    # ---- live sources and watches (experimental) ----
    def attach_source(self, url, *, fps=0.0, reconnect=False, reconnect_max_delay_s=None, io_timeout_s=0.0,
                      queue_frames=None, input_format=None):
        """Read `url` (a network stream, "/dev/videoN", "-" for stdin,
        "pipe:N", a file) into the session on the library's own threads.
        Returns a LiveSource; use it as a context manager to detach on exit."""
        p = need(self._lib, "vllm_source_default_params")()
        p.fps = float(fps)
        p.reconnect = 1 if reconnect else 0
        if reconnect_max_delay_s is not None:
            p.reconnect_max_delay_s = float(reconnect_max_delay_s)
        p.io_timeout_s = float(io_timeout_s)
        if queue_frames is not None:
            p.queue_frames = int32_arg(queue_frames, "queue_frames")
        fmt = None if input_format is None else enc(input_format, "input_format")  # copied by the library
        p.input_format = fmt
        fn = need(self._lib, "vllm_session_attach_source")
        with self._frame_lock:  # [any thread]: only excludes close()
            self._check(fn(self._ptr(), enc(os.fspath(url), "url"), ctypes.byref(p)))
        return live.LiveSource(self, url)

    def detach_source(self):
        """Stop the attached source (no-op when none)."""
        fn = need(self._lib, "vllm_session_detach_source")
        with self._frame_lock:
            self._check(fn(self._ptr()))

    def source_stats(self):
        """live.SourceStats of the attached source (state NONE when none)."""
        fn = need(self._lib, "vllm_session_source_stats")
        s = _capi.vllm_source_stats()
        with self._frame_lock:
            self._check(fn(self._ptr(), ctypes.byref(s)))
        return live.source_stats_from_c(s)

    def watch(self, question, callback=None, *, every_s=None, change_threshold=None, yes_no=False,
              yes_threshold=None, max_tokens=None, notify_all=False):
        """A standing question, evaluated while a source feeds the session.
        Returns a live.Watch whose events() generator yields live.WatchEvent;
        `callback(event)`, if given, is called too (on the library's source
        thread; an exception in it is ignored; it must not call this
        session's methods — close() and detach_source() wait for that thread;
        consume events() on your own thread for that). Unset arguments keep
        the library's defaults (every 10 s, change threshold 0.1)."""
        p = need(self._lib, "vllm_watch_default_params")()
        if every_s is not None:
            p.every_s = float(every_s)
        if change_threshold is not None:
            p.change_threshold = float(change_threshold)
        p.yes_no = 1 if yes_no else 0
        if yes_threshold is not None:
            p.yes_threshold = float(yes_threshold)
        if max_tokens is not None:
            p.max_tokens = int32_arg(max_tokens, "max_tokens")
        p.notify_all = 1 if notify_all else 0
        events = queue.Queue()

        def on_event(_ud, ev):
            e = live.watch_event_from_c(ev.contents)
            events.put(e)
            if callback is not None:
                try:
                    callback(e)
                except Exception:  # noqa: BLE001 - a library thread cannot raise into the caller
                    pass

        cfn = _capi.WATCH_FN(on_event)
        wid = ctypes.c_int32()
        fn = need(self._lib, "vllm_session_watch")
        with self._frame_lock:
            self._check(fn(self._ptr(), enc(question, "question"), ctypes.byref(p), cfn, None, ctypes.byref(wid)))
            self._watch_fns[wid.value] = cfn
        return live.Watch(self, wid.value, events)

    def unwatch(self, watch_id):
        """Remove a watch by id (Watch.close() does this)."""
        fn = need(self._lib, "vllm_session_unwatch")
        with self._frame_lock:
            self._check(fn(self._ptr(), int32_arg(watch_id, "watch_id")))
            self._watch_fns.pop(watch_id, None)
