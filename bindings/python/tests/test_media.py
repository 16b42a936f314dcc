"""Media through the binding: frame arguments are checked before the
library reads any pointer; every way of passing the same picture (packed
formats, padded strides, per-plane buffers, array-interface objects) gives
the library the same pixels, checked on the model's logits; video and image
answers equal the C CLI's for the same seed."""
import ctypes
import os
import threading
import unittest

from common import DATA, IMAGE, MMPROJ, TEXT_MODEL, VIDEO, cli_ask, setUpModule  # noqa: F401
import videollm
from videollm import InvalidArgumentError, PixelFormat, Status, VideoLLMError
from videollm.frames import buffer_pointer, build_frame

try:
    import numpy
except ImportError:  # not installed here: the NumPy path is exercised through ArrayLike
    numpy = None


class ArrayLike:
    """The NumPy array interface over a bytearray, rows `pitch` bytes apart
    (what a cropped or row-aligned NumPy array looks like)."""

    def __init__(self, buf, shape, pitch):
        self.buf = buf
        self._c = (ctypes.c_char * len(buf)).from_buffer(buf)
        inner = [1]
        for d in reversed(shape[1:]):
            inner.insert(0, inner[0] * d)
        strides = (pitch,) + tuple(inner[1:]) if len(shape) > 1 else None
        self.__array_interface__ = {"shape": shape, "typestr": "|u1", "strides": strides,
                                    "data": (ctypes.addressof(self._c), False), "version": 3}


def picture(w, h, seed=0):
    """RGB24 bytes of a deterministic test pattern."""
    return bytes((x * 7 + y * 13 + c * 71 + seed * 31 + (x * y) % 17) % 256
                 for y in range(h) for x in range(w) for c in range(3))


def to_yuv420(rgb, w, h):
    """(Y, U, V) planes (BT.601-ish; exact values do not matter, only that
    NV12 and YUV420P carry the same samples)."""
    px = [rgb[i:i + 3] for i in range(0, len(rgb), 3)]
    y = bytes(min(255, (66 * r + 129 * g + 25 * b + 128 >> 8) + 16) for r, g, b in px)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    u = bytearray(cw * ch)
    v = bytearray(cw * ch)
    for j in range(ch):
        for i in range(cw):
            r, g, b = px[min(2 * j, h - 1) * w + min(2 * i, w - 1)]
            u[j * cw + i] = max(0, min(255, (-38 * r - 74 * g + 112 * b + 128 >> 8) + 128))
            v[j * cw + i] = max(0, min(255, (112 * r - 94 * g - 18 * b + 128 >> 8) + 128))
    return y, bytes(u), bytes(v)


def pad_rows(data, row, rows, pitch, fill=0xAB):
    out = bytearray()
    for r in range(rows):
        out += data[r * row:(r + 1) * row] + bytes([fill]) * (pitch - row)
    return out


class FrameArgumentTest(unittest.TestCase):
    """Checks made by the binding itself, before any C call."""

    def test_short_buffer(self):
        with self.assertRaises(InvalidArgumentError) as cm:
            build_frame(b"\0" * (10 * 10 * 3 - 1), 10, 10, PixelFormat.RGB24, 0.0)
        self.assertIn("need 300 bytes", cm.exception.message)
        with self.assertRaises(InvalidArgumentError):  # RGBA needs 4 bytes a pixel
            build_frame(b"\0" * 300, 10, 10, PixelFormat.RGBA, 0.0)
        with self.assertRaises(InvalidArgumentError) as cm:  # NV12: chroma plane short
            build_frame(b"\0" * (100 + 49), 10, 10, PixelFormat.NV12, 0.0)
        self.assertIn("plane 1", cm.exception.message)
        with self.assertRaises(InvalidArgumentError):  # padded stride but unpadded data
            build_frame(b"\0" * 300, 10, 10, PixelFormat.RGB24, 0.0, stride=32)
        with self.assertRaises(InvalidArgumentError) as cm:
            build_frame((b"\0" * 100, b"\0" * 25, b"\0" * 24), 10, 10, PixelFormat.YUV420P, 0.0)
        self.assertIn("plane 2", cm.exception.message)

    def test_exact_sizes_accepted(self):
        for fmt, n in ((PixelFormat.RGB24, 300), (PixelFormat.RGBA, 400), (PixelFormat.BGRA, 400),
                       (PixelFormat.NV12, 150), (PixelFormat.YUV420P, 150)):
            f, _ = build_frame(bytes(n), 10, 10, fmt, 1.5)
            self.assertEqual((f.format, f.width, f.height, f.pts), (int(fmt), 10, 10, 1.5))
        # odd sizes: chroma is ceil(w/2) x ceil(h/2)
        f, _ = build_frame(bytes(5 * 3 + 2 * 3 * 2), 5, 3, PixelFormat.YUV420P, 0)
        self.assertEqual(list(f.strides), [5, 3, 3])
        self.assertEqual([f.planes[i] - f.planes[0] for i in range(3)], [0, 15, 21])
        f, _ = build_frame(bytes(5 * 3 + 6 * 2), 5, 3, PixelFormat.NV12, 0)
        self.assertEqual(list(f.strides)[:2], [5, 6])
        self.assertEqual(f.planes[1] - f.planes[0], 15)
        self.assertIsNone(f.planes[2])

    def test_bad_format_and_sizes(self):
        for fmt in (5, -1, "RGB", None):
            with self.assertRaises(InvalidArgumentError) as cm:
                build_frame(bytes(300), 10, 10, fmt, 0.0)
            self.assertIn("pixel format", cm.exception.message)
        for w, h in ((0, 10), (10, 0), (-1, 10), (16385, 1)):
            with self.assertRaises(InvalidArgumentError):
                build_frame(bytes(300), w, h, PixelFormat.RGB24, 0.0)
        with self.assertRaises(InvalidArgumentError) as cm:
            build_frame(bytes(300), 10, 10, PixelFormat.RGB24, 0.0, stride=29)
        self.assertIn("stride", cm.exception.message)
        with self.assertRaises(InvalidArgumentError):
            build_frame((bytes(100),), 10, 10, PixelFormat.NV12, 0.0)  # one plane of two
        with self.assertRaises(TypeError):
            build_frame("not bytes", 1, 1, PixelFormat.RGB24, 0.0)
        with self.assertRaises(InvalidArgumentError):  # not uint8
            a = ArrayLike(bytearray(12), (1, 1, 3), 3)
            a.__array_interface__["typestr"] = "<f4"
            build_frame(a, 1, 1, PixelFormat.RGB24, 0.0)

    def test_buffers_are_used_in_place(self):
        ba = bytearray(b"abcdef")
        addr, n, _, keep = buffer_pointer(ba)
        self.assertEqual(n, 6)
        ctypes.memmove(addr, b"X", 1)  # writes land in the caller's buffer: no copy
        self.assertEqual(ba[0:1], b"X")
        mv = memoryview(ba)[2:]
        addr2, n2, _, keep2 = buffer_pointer(mv)
        self.assertEqual((addr2 - addr, n2), (2, 4))
        b = b"immutable"
        addr3, n3, _, _ = buffer_pointer(b)
        self.assertEqual(ctypes.string_at(addr3, n3), b)
        arr = ArrayLike(bytearray(4 * 16), (4, 2, 3), 16)  # 4 rows of 6 bytes, pitch 16
        addr4, n4, pitch, _ = buffer_pointer(arr)
        self.assertEqual((addr4, n4, pitch), (arr.__array_interface__["data"][0], 3 * 16 + 6, 16))

    @unittest.skipIf(numpy is None, "NumPy is not installed")
    def test_numpy(self):
        a = numpy.zeros((10, 12, 3), numpy.uint8)
        f, _ = build_frame(a[:, :10], 10, 10, PixelFormat.RGB24, 0.0)
        self.assertEqual(f.strides[0], 36)
        self.assertEqual(f.planes[0], a.ctypes.data)


class MediaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = videollm.Model(TEXT_MODEL, mmproj=MMPROJ)
        cls.text_model = videollm.Model(TEXT_MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()
        cls.text_model.close()

    def logits_after(self, push):
        """Logits after pushing media with `push(session)` and a question."""
        with self.model.session(n_threads=1) as s:
            push(s)
            s.query("What is it?", max_tokens=1)
            st = s.stats()
            return s.logits(), st

    def test_family(self):
        self.assertEqual(self.model.info().family, "smolvlm2")
        self.assertIsNone(self.text_model.info().family)
        for tiny, family in (("tiny-qwen25vl", "qwen2.5-vl"), ("tiny-qwen3vl", "qwen3-vl")):
            models = os.path.join(DATA, tiny, "models")
            with videollm.Model(os.path.join(models, tiny + "-main-text-F32.gguf"),
                                mmproj=os.path.join(models, tiny + "-main-mmproj-F32.gguf")) as m:
                self.assertEqual(m.info().family, family)

    def test_text_only_model_refuses_media(self):
        with self.text_model.session(n_threads=1) as s:
            for call in (lambda: s.push_frame(bytes(12), 2, 2, PixelFormat.RGB24, 0.0),
                         lambda: s.push_video(VIDEO), lambda: s.push_image(IMAGE)):
                with self.assertRaises(VideoLLMError) as cm:
                    call()
                self.assertEqual(cm.exception.status, Status.ERR_STATE)
                self.assertTrue(cm.exception.message)

    def test_same_picture_every_layout(self):
        w, h = 37, 29
        rgb = picture(w, h)
        rgba = bytearray()
        bgra = bytearray()
        for i in range(0, len(rgb), 3):
            r, g, b = rgb[i:i + 3]
            rgba += bytes([r, g, b, (i * 5) % 256])   # alpha must be ignored
            bgra += bytes([b, g, r, 255 - (i % 256)])
        ref, st = self.logits_after(lambda s: s.push_frame(rgb, w, h, PixelFormat.RGB24, 0.0))
        self.assertEqual((st.n_frames_encoded, st.n_visual_tokens), (1, self.model.info().tokens_per_frame))
        variants = {
            "rgba": lambda s: s.push_frame(rgba, w, h, PixelFormat.RGBA, 0.0),
            "bgra": lambda s: s.push_frame(memoryview(bgra), w, h, PixelFormat.BGRA, 0.0),
            "padded stride": lambda s: s.push_frame(pad_rows(rgb, 3 * w, h, 3 * w + 9), w, h, PixelFormat.RGB24, 0.0,
                                                    stride=3 * w + 9),
            "array rows": lambda s: s.push_frame(ArrayLike(pad_rows(rgb, 3 * w, h, 128), (h, w, 3), 128), w, h,
                                                 PixelFormat.RGB24, 0.0),
            "tuple": lambda s: s.push_frame((bytes(rgb),), w, h, PixelFormat.RGB24, 0.0),
        }
        for name, push in variants.items():
            got, _ = self.logits_after(push)
            self.assertEqual(list(got), list(ref), name)
        # and a different picture does change the logits (the test can fail)
        other, _ = self.logits_after(lambda s: s.push_frame(picture(w, h, seed=1), w, h, PixelFormat.RGB24, 0.0))
        self.assertNotEqual(list(other), list(ref))

    def test_nv12_equals_yuv420p(self):
        w, h = 37, 29
        y, u, v = to_yuv420(picture(w, h), w, h)
        cw, ch = (w + 1) // 2, (h + 1) // 2
        uv = bytes(b for pair in zip(u, v) for b in pair)
        ref, _ = self.logits_after(lambda s: s.push_frame(y + u + v, w, h, PixelFormat.YUV420P, 0.0))
        variants = {
            "nv12": lambda s: s.push_frame(y + uv, w, h, PixelFormat.NV12, 0.0),
            "nv12 planes": lambda s: s.push_frame((y, uv), w, h, PixelFormat.NV12, 0.0),
            "yuv planes padded": lambda s: s.push_frame(
                (pad_rows(y, w, h, 64), pad_rows(u, cw, ch, 32), pad_rows(v, cw, ch, 40)), w, h,
                PixelFormat.YUV420P, 0.0, stride=(64, 32, 40)),
            "nv12 padded single buffer": lambda s: s.push_frame(
                pad_rows(y, w, h, 48) + pad_rows(uv, 2 * cw, ch, 48), w, h, PixelFormat.NV12, 0.0, stride=48),
        }
        for name, push in variants.items():
            got, _ = self.logits_after(push)
            self.assertEqual(list(got), list(ref), name)
        other, _ = self.logits_after(lambda s: s.push_frame(y + v + u, w, h, PixelFormat.YUV420P, 0.0))
        self.assertNotEqual(list(other), list(ref))

    def test_library_checks_reach_python(self):
        with self.model.session(n_threads=1) as s:
            s.push_frame(bytes(12), 2, 2, PixelFormat.RGB24, 1.0)
            with self.assertRaises(InvalidArgumentError) as cm:
                s.push_frame(bytes(12), 2, 2, PixelFormat.RGB24, float("nan"))
            self.assertIn("pts", cm.exception.message)
            with self.assertRaises(VideoLLMError) as cm:
                s.push_video("/nonexistent/clip.mp4")
            self.assertIn("/nonexistent/clip.mp4", cm.exception.message)
            with self.assertRaises(VideoLLMError) as cm:
                s.push_video_buffer(b"definitely not a video" * 20)
            self.assertTrue(cm.exception.message)
            self.assertEqual(s.stats().n_frames_encoded, 1)

    def test_video_matches_cli(self):
        for extra, kw in (((), {}), (("--n-frames", "3"), {"n_frames": 3})):
            text, ids = cli_ask("Describe this video.", 12, 5, 0.8, raw=False,
                                extra=("--mmproj", MMPROJ, "--video", VIDEO) + extra)
            with self.model.session(n_threads=1) as s:
                s.push_video(VIDEO, **kw)
                toks = list(s.stream_tokens("Describe this video.", max_tokens=12, seed=5, temperature=0.8))
            self.assertEqual([t.id for t in toks if t.id >= 0], ids, extra)
            self.assertEqual(b"".join(t.piece for t in toks), text)

    def test_video_buffer_equals_file(self):
        with open(VIDEO, "rb") as f:
            data = f.read()
        a, sa = self.logits_after(lambda s: s.push_video(VIDEO, n_frames=2))
        b, sb = self.logits_after(lambda s: s.push_video_buffer(data, n_frames=2))
        self.assertEqual(sa.n_frames_encoded, 2)
        self.assertEqual(sb.n_frames_encoded, 2)
        self.assertEqual(list(a), list(b))

    def test_video_progress_exception_cancels(self):
        class Stop(Exception):
            pass

        seen = []

        def progress(stage, fraction):
            seen.append((stage, fraction))
            raise Stop()

        with self.model.session(n_threads=1) as s:
            with self.assertRaises(Stop):
                s.push_video(VIDEO, n_frames=4, progress=progress)
            self.assertEqual(len(seen), 1)
            self.assertEqual(seen[0][0], "video")
            self.assertLess(s.stats().n_frames_encoded, 4)
            # still usable
            self.assertTrue(s.ask("Hi", max_tokens=2) is not None)

    def test_image_matches_cli(self):
        text, ids = cli_ask("Describe this image.", 12, 9, 0.8, raw=False, extra=("--mmproj", MMPROJ, "--image", IMAGE))
        got = []
        with self.model.session(n_threads=1) as s:
            s.push_image(IMAGE)
            answer = s.ask("Describe this image.", max_tokens=12, seed=9, temperature=0.8,
                           on_token=lambda t, p: got.append(t))
        self.assertEqual(answer.encode(), text.decode("utf-8", "replace").encode())
        self.assertEqual([t for t in got if t >= 0], ids)

if __name__ == "__main__":
    unittest.main()


class LiveStreamTest(unittest.TestCase):
    def test_push_frames_while_answering(self):
        """A camera thread pushes frames between the tokens of a streamed
        answer: the binding does not serialise push_frame behind the
        generation, the answer goes on, and the frames join the context
        before the next turn."""
        with videollm.Model(TEXT_MODEL, mmproj=MMPROJ) as model, model.session(n_threads=1) as s:
            n = 6
            errors = []

            def camera():
                try:
                    for i in range(n):
                        s.push_frame(picture(16, 12, seed=i), 16, 12, PixelFormat.RGB24, i * 0.5)
                except BaseException as e:
                    errors.append(e)

            pieces = []
            past_before = None
            for piece in s.stream("Hello", max_tokens=6, raw=True):
                pieces.append(piece)
                if len(pieces) == 1:
                    past_before = s.stats().n_past
                    t = threading.Thread(target=camera)
                    t.start()
                    t.join(60)  # all frames pushed while this answer is in progress
                    self.assertFalse(t.is_alive())
            self.assertEqual(errors, [])
            self.assertGreaterEqual(len(pieces), 2)
            st = s.stats()
            self.assertEqual(st.n_generated_tokens, 6)
            # the queued frames entered as the answer ended (all encoded; dropped ones never enter)
            self.assertEqual(st.n_frames_seen, n)
            self.assertEqual(st.n_frames_encoded, n)
            kept = st.n_frames_encoded - st.n_frames_dropped
            self.assertEqual(s.history().count(-1), kept * model.info().tokens_per_frame)
            s.ask("What now?", max_tokens=2)
            self.assertEqual(s.history().count(-1), kept * model.info().tokens_per_frame)


class LiveSourceTest(unittest.TestCase):
    """A live source as a context manager and watch events from a generator,
    on a generated clip the ffmpeg CLI writes into a pipe: static, a scene
    change at 4 s, static (sampled at 2 fps)."""
    CLIP = "color=c=0x404040:s=64x48:r=4:d=4[a];color=c=0xd0d0d0:s=64x48:r=4:d=4[b];[a][b]concat=n=2:v=1:a=0[out0]"

    @classmethod
    def setUpClass(cls):
        import shutil
        if not shutil.which("ffmpeg"):
            raise unittest.SkipTest("no ffmpeg program")
        cls.model = videollm.Model(TEXT_MODEL, mmproj=MMPROJ)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_watch_events_and_context_manager(self):
        import subprocess
        import time
        r, w = os.pipe()
        ff = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", self.CLIP,
                               "-c:v", "mpeg2video", "-f", "mpegts", "-"], stdout=w)
        os.close(w)
        seen = []
        try:
            with videollm.Session(self.model, n_threads=1, n_ctx=4096) as s:
                watch = s.watch("Did the scene change?", callback=seen.append, every_s=0, change_threshold=0.1,
                                yes_no=True, notify_all=True)
                with watch, s.attach_source("pipe:%d" % r, fps=2) as src:
                    deadline = time.monotonic() + 60
                    while not src.stats().finished and time.monotonic() < deadline:
                        time.sleep(0.02)
                    st = src.stats()
                    self.assertEqual(st.state, videollm.SourceState.ENDED, st.message)
                    self.assertEqual(st.frames_sampled, 16)
                    events = list(watch.events(timeout=0.5))
                # the context manager detached the source
                self.assertEqual(s.source_stats().state, videollm.SourceState.NONE)
                with self.assertRaises(VideoLLMError):
                    s.unwatch(watch.id)  # closed with the with-block
        finally:
            ff.wait(timeout=30)
            os.close(r)
        got = [(e.trigger, e.stream_seconds) for e in events]
        self.assertEqual(len(events), 2, got)
        self.assertEqual(got[0], (videollm.WatchTrigger.FIRST, 0.0))
        self.assertEqual(got[1][0], videollm.WatchTrigger.CHANGE)
        self.assertTrue(4.0 <= got[1][1] <= 4.5, got)
        self.assertTrue(all(e.answer in ("yes", "no") and 0 <= e.yes_probability <= 1 for e in events))
        self.assertEqual([e.stream_seconds for e in seen], [e.stream_seconds for e in events])

    def test_bad_arguments(self):
        with videollm.Session(self.model, n_threads=1) as s:
            with self.assertRaises(InvalidArgumentError):
                s.attach_source("udp://127.0.0.1:9", fps=-1)
            with self.assertRaises(InvalidArgumentError):
                s.watch("Q?", every_s=0, change_threshold=0)
            self.assertEqual(s.source_stats().state, videollm.SourceState.NONE)
