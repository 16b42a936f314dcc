"""Status codes and the exception every failing call raises."""
import enum


class Status(enum.IntEnum):
    """vllm_status from the header."""
    OK = 0
    DONE = 1
    ERR_INVALID_ARG = -1
    ERR_IO = -2
    ERR_FORMAT = -3
    ERR_UNSUPPORTED = -4
    ERR_NOMEM = -5
    ERR_CONTEXT_FULL = -6
    ERR_CANCELLED = -7
    ERR_DECODE = -8
    ERR_BUFFER_TOO_SMALL = -9
    ERR_STATE = -10
    ERR_INTERNAL = -11


class VideoLLMError(Exception):
    """A libvideollm call failed.

    `status` is the Status (or the raw int if this library is newer than
    the binding), `message` the library's detailed message. Calls that get
    a bad argument raise the InvalidArgumentError subclass, which is also a
    ValueError, so `except ValueError` works the Python way."""

    def __new__(cls, status, message=""):
        if cls is VideoLLMError and int(status) == Status.ERR_INVALID_ARG:
            cls = InvalidArgumentError
        return super().__new__(cls, status, message)

    def __init__(self, status, message=""):
        try:
            status = Status(int(status))
        except ValueError:
            status = int(status)
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self):
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        return "%s: %s" % (name, self.message) if self.message else name


class InvalidArgumentError(VideoLLMError, ValueError):
    """Status.ERR_INVALID_ARG: an argument was NULL, out of range or malformed."""
