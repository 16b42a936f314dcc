"""Live sources and standing questions (experimental C API): a session reads
a stream by itself (Session.attach_source) and questions stay open while it
runs (Session.watch)."""
import dataclasses
import enum
import queue


class SourceState(enum.IntEnum):
    """vllm_source_state."""
    NONE = 0
    CONNECTING = 1
    READING = 2
    RECONNECTING = 3
    ENDED = 4
    FAILED = 5


class WatchTrigger(enum.IntEnum):
    """vllm_watch_trigger: why a watch was evaluated."""
    FIRST = 0
    PERIOD = 1
    CHANGE = 2


SOURCE_MESSAGE_MAX = 256


@dataclasses.dataclass(frozen=True)
class SourceStats:
    state: SourceState
    message: str
    stream_seconds: float
    ingested_seconds: float
    wall_seconds: float
    lag_seconds: float
    max_lag_seconds: float
    frames_read: int
    frames_sampled: int
    frames_kept: int
    frames_deduped: int
    frames_dropped: int
    frames_queued: int
    frames_failed: int
    reconnects: int

    @property
    def finished(self):
        """The source ended or failed (it stays attached until detached)."""
        return self.state in (SourceState.ENDED, SourceState.FAILED)


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    watch_id: int
    trigger: WatchTrigger
    stream_seconds: float
    answer: str
    yes_probability: float
    change: float
    changed: bool
    eval_seconds: float
    evaluations: int


def source_stats_from_c(s):
    try:
        state = SourceState(s.state)
    except ValueError:
        state = s.state
    return SourceStats(state, s.message.decode("utf-8", "replace"), s.stream_seconds, s.ingested_seconds,
                       s.wall_seconds, s.lag_seconds, s.max_lag_seconds, s.frames_read, s.frames_sampled,
                       s.frames_kept, s.frames_deduped, s.frames_dropped, s.frames_queued, s.frames_failed,
                       s.reconnects)


def watch_event_from_c(e):
    try:
        trigger = WatchTrigger(e.trigger)
    except ValueError:
        trigger = e.trigger
    return WatchEvent(e.watch_id, trigger, e.stream_seconds, (e.answer or b"").decode("utf-8", "replace"),
                      e.yes_probability, e.change, bool(e.changed), e.eval_seconds, e.evaluations)


class LiveSource:
    """An attached source (Session.attach_source). As a context manager it
    detaches on exit."""

    def __init__(self, session, url):
        self._session = session
        self.url = url

    def stats(self):
        return self._session.source_stats()

    def detach(self):
        self._session.detach_source()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._session.closed:
            self.detach()
        return False


class Watch:
    """A standing question (Session.watch). events() yields WatchEvents as
    the library reports them (on its source thread; they are queued here),
    until the watch is closed or `timeout` seconds pass without one.
    Closing (or the context manager's exit) removes the watch."""

    def __init__(self, session, watch_id, events):
        self._session = session
        self.id = watch_id
        self._events = events
        self._closed = False

    def events(self, timeout=None):
        while not self._closed:
            try:
                ev = self._events.get(timeout=timeout)
            except queue.Empty:
                return
            if ev is None:  # closed
                return
            yield ev

    def close(self):
        if not self._closed:
            self._closed = True
            if not self._session.closed:
                self._session.unwatch(self.id)
            self._events.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
