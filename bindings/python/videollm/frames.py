"""Raw frames for Session.push_frame: pixel formats, plane layout, and
pointers into Python buffers without copying.

The C library reads `height` rows of each plane through raw pointers and
cannot know how big the caller's buffer is, so everything it will read is
checked here first: a short buffer raises instead of reading past its end."""
import ctypes
import enum

from . import _capi
from .errors import Status, VideoLLMError

MAX_DIM = 16384  # the header's bound on width and height


class PixelFormat(enum.IntEnum):
    RGB24 = 0    # packed R,G,B
    RGBA = 1     # packed R,G,B,A (alpha ignored)
    BGRA = 2     # packed B,G,R,A (alpha ignored)
    NV12 = 3     # Y plane, then interleaved U,V at half resolution
    YUV420P = 4  # Y, U, V planes; chroma at half resolution


def _bad(msg):
    return VideoLLMError(Status.ERR_INVALID_ARG, msg)


def plane_shapes(fmt, width, height):
    """[(row_bytes, rows)] of each plane of a width x height frame."""
    cw, ch = (width + 1) // 2, (height + 1) // 2
    if fmt == PixelFormat.RGB24:
        return [(3 * width, height)]
    if fmt in (PixelFormat.RGBA, PixelFormat.BGRA):
        return [(4 * width, height)]
    if fmt == PixelFormat.NV12:
        return [(width, height), (2 * cw, ch)]
    return [(width, height), (cw, ch), (cw, ch)]


def buffer_pointer(obj):
    """(address, nbytes, row_stride_hint, keepalive) of a buffer's bytes.

    bytes, writable buffers (bytearray, array, writable memoryview) and
    objects with __array_interface__ (NumPy arrays, C-contiguous or with
    padded rows) are used in place; other read-only buffers are copied.
    row_stride_hint is the row pitch of a 2-D/3-D array, else None."""
    ai = getattr(obj, "__array_interface__", None)
    if ai is not None:
        return _array_interface_pointer(obj, ai)
    if isinstance(obj, bytes):
        return ctypes.cast(ctypes.c_char_p(obj), ctypes.c_void_p).value, len(obj), None, obj
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError("frame data must be a bytes-like object or an array, not %s" % type(obj).__name__) from None
    if not mv.c_contiguous:
        raise _bad("frame data must be C-contiguous (or pass an array with padded rows and its stride)")
    mv = mv.cast("B")
    n = mv.nbytes
    if n == 0:
        return None, 0, None, mv
    if mv.readonly:
        copy = bytes(mv)  # ctypes can only point into writable buffers
        return ctypes.cast(ctypes.c_char_p(copy), ctypes.c_void_p).value, n, None, copy
    arr = (ctypes.c_char * n).from_buffer(mv)
    return ctypes.addressof(arr), n, None, (mv, arr)


def _array_interface_pointer(obj, ai):
    typestr = ai.get("typestr", "")
    if typestr not in ("|u1", "<u1", ">u1", "|i1", "|b1"):
        raise _bad("frame arrays must hold uint8 samples (dtype %r)" % typestr)
    shape = tuple(ai["shape"])
    strides = ai.get("strides")
    addr = ai["data"][0] if isinstance(ai.get("data"), tuple) else None
    if addr is None:
        # data given as a buffer object: fall back to the buffer protocol
        return buffer_pointer(memoryview(obj))
    if any(d == 0 for d in shape):
        return addr, 0, None, obj
    if strides is None:  # C-contiguous
        n = 1
        for d in shape:
            n *= d
        return addr, n, (n // shape[0] if len(shape) >= 2 else None), obj
    # Rows may be padded (a crop or an aligned allocation); inside a row
    # the samples must be contiguous.
    if len(shape) < 2 or any(s < 0 for s in strides):
        raise _bad("frame array must be C-contiguous, or rows of contiguous samples")
    inner = 1
    for d, s in zip(reversed(shape[1:]), reversed(strides[1:])):
        if s != inner:
            raise _bad("frame array rows must be contiguous (strides %r)" % (strides,))
        inner *= d
    row = strides[0]
    if row < inner:
        raise _bad("frame array rows overlap (strides %r)" % (strides,))
    return addr, row * (shape[0] - 1) + inner, row, obj


def build_frame(data, width, height, fmt, pts, stride=None):
    """A filled vllm_frame and the objects that must stay alive while the
    library reads it."""
    try:
        fmt = PixelFormat(fmt)
    except (ValueError, TypeError):
        raise _bad("unknown pixel format %r (use videollm.PixelFormat)" % (fmt,)) from None
    width, height = int(width), int(height)
    if not (1 <= width <= MAX_DIM and 1 <= height <= MAX_DIM):
        raise _bad("frame size %dx%d is outside 1..%d" % (width, height, MAX_DIM))
    shapes = plane_shapes(fmt, width, height)
    f = _capi.vllm_frame()
    f.format = int(fmt)
    f.width = width
    f.height = height
    f.pts = float(pts)
    keep = []

    if isinstance(data, (tuple, list)):  # one buffer per plane
        if len(data) != len(shapes):
            raise _bad("%s has %d planes, %d buffers given" % (fmt.name, len(shapes), len(data)))
        if stride is not None and not isinstance(stride, (tuple, list)):
            raise _bad("with one buffer per plane, stride must be a tuple (one per plane)")
        for i, ((row, rows), buf) in enumerate(zip(shapes, data)):
            addr, n, hint, k = buffer_pointer(buf)
            keep.append(k)
            s = int(stride[i]) if stride is not None else (hint or row)
            _check_plane(fmt, i, s, row, rows, n)
            f.planes[i] = addr
            f.strides[i] = s
        return f, keep

    addr, n, hint, k = buffer_pointer(data)
    keep.append(k)
    if isinstance(stride, (tuple, list)):
        raise _bad("a single buffer takes one stride (of plane 0)")
    s0 = int(stride) if stride is not None else (hint or shapes[0][0])
    # Planes follow each other; chroma rows are as wide as the luma stride
    # (NV12) or half of it (YUV420P), the usual single-buffer layouts.
    strides = [s0]
    if fmt == PixelFormat.NV12:
        strides.append(max(s0, shapes[1][0]) if stride is None else s0)
    elif fmt == PixelFormat.YUV420P:
        c = (s0 + 1) // 2 if stride is not None else shapes[1][0]
        strides += [c, c]
    offset = 0
    for i, ((row, rows), s) in enumerate(zip(shapes, strides)):
        last = i == len(shapes) - 1
        avail = n - offset if n > offset else 0
        _check_plane(fmt, i, s, row, rows, avail, whole_rows=not last)
        f.planes[i] = addr + offset
        f.strides[i] = s
        offset += s * rows
    return f, keep


def _check_plane(fmt, i, stride, row, rows, avail, whole_rows=False):
    if stride < row or stride > 2**31 - 1:
        raise _bad("%s plane %d: stride %d is less than the row's %d bytes" % (fmt.name, i, stride, row))
    need = stride * rows if whole_rows else stride * (rows - 1) + row
    if avail < need:
        raise _bad("%s plane %d: %d rows of %d bytes with stride %d need %d bytes, the buffer has %d"
                   % (fmt.name, i, rows, row, stride, need, avail))
