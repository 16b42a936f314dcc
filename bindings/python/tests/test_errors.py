"""Failures raise VideoLLMError carrying the library's status and message;
misuse of closed handles and bad arguments raise cleanly instead of
crashing."""
import gc
import os
import tempfile
import threading
import unittest

from common import TEXT_MODEL, setUpModule  # noqa: F401
import videollm
from videollm import InvalidArgumentError, Status, VideoLLMError


class ErrorTest(unittest.TestCase):
    def test_missing_file(self):
        with self.assertRaises(VideoLLMError) as cm:
            videollm.Model("/nonexistent/model.gguf")
        self.assertEqual(cm.exception.status, Status.ERR_IO)
        self.assertIn("/nonexistent/model.gguf", cm.exception.message)
        self.assertIn("ERR_IO", str(cm.exception))

    def test_not_a_gguf(self):
        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            f.write(b"this is not a GGUF file at all" * 10)
            f.flush()
            with self.assertRaises(VideoLLMError) as cm:
                videollm.Model(f.name)
        self.assertEqual(cm.exception.status, Status.ERR_FORMAT)
        self.assertTrue(cm.exception.message)

    def test_bad_mmproj(self):
        with self.assertRaises(VideoLLMError) as cm:
            videollm.Model(TEXT_MODEL, mmproj="/nonexistent/mmproj.gguf")
        self.assertIn("/nonexistent/mmproj.gguf", cm.exception.message)

    def test_image_token_bounds_come_from_the_library(self):
        for kw, named in (({"image_min_tokens": -1}, "image_min_tokens (--image-min-tokens) = -1"),
                          ({"image_max_tokens": 16385}, "image_max_tokens (--image-max-tokens) = 16385"),
                          ({"image_min_tokens": 300, "image_max_tokens": 200}, "image_min_tokens = 300 is above")):
            with self.assertRaises(InvalidArgumentError) as cm:
                videollm.Model(TEXT_MODEL, **kw)
            self.assertIn(named, cm.exception.message)
        with self.assertRaises(InvalidArgumentError) as cm:
            videollm.Model(TEXT_MODEL, image_max_tokens=2**32 + 64)  # would wrap to 64 in ctypes
        self.assertIn("does not fit in int32", cm.exception.message)
        with videollm.Model(TEXT_MODEL, image_min_tokens=1, image_max_tokens=videollm.model.IMAGE_TOKENS_LIMIT):
            pass

    def test_progress_exception_cancels_load(self):
        calls = []

        def progress(stage, fraction):
            calls.append((stage, fraction))
            raise KeyError("stop loading")

        with self.assertRaises(KeyError):
            videollm.Model(TEXT_MODEL, progress=progress)
        if not calls:
            self.skipTest("the library reported no load progress")
        self.assertIsInstance(calls[0][0], str)

    def test_session_argument_errors_come_from_the_library(self):
        with videollm.Model(TEXT_MODEL) as m:
            with self.assertRaises(InvalidArgumentError) as cm:
                m.session(n_threads=-1)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertIn("n_threads", cm.exception.message)
            with self.assertRaises(InvalidArgumentError) as cm:
                m.session(kv_type=7)
            self.assertIn("kv_type", cm.exception.message)
            with m.session(n_threads=1) as s:
                with self.assertRaises(VideoLLMError) as cm:
                    s.next_token()  # nothing armed
                self.assertEqual(cm.exception.status, Status.ERR_STATE)
                self.assertIn("vllm_session_query", cm.exception.message)
                self.assertEqual(s.last_error, cm.exception.message)
                with self.assertRaises(InvalidArgumentError):
                    s.ask("x", stop=[""])  # the library refuses empty stop strings
                with self.assertRaises(TypeError):
                    s.ask("x", temprature=0.5)  # misspelt parameter
                with self.assertRaises(InvalidArgumentError):
                    s.ask("a\0b")
                with self.assertRaises(InvalidArgumentError):
                    s.ask("x", max_tokens=2**40)
                with self.assertRaises(InvalidArgumentError):
                    m.detokenize([2**40])
                with self.assertRaises(InvalidArgumentError):
                    s.eval_tokens([1, 10**6])  # id outside the vocabulary
                # still usable after all that
                self.assertTrue(s.ask("Hello", max_tokens=2, raw=True))

    def test_context_full(self):
        with videollm.Model(TEXT_MODEL) as m, m.session(n_ctx=8, n_threads=1) as s:
            with self.assertRaises(VideoLLMError) as cm:
                s.ask("word " * 50, raw=True)
            self.assertEqual(cm.exception.status, Status.ERR_CONTEXT_FULL)
            self.assertTrue(cm.exception.message)

    def test_closed_session_and_model(self):
        m = videollm.Model(TEXT_MODEL)
        s = m.session(n_threads=1)
        gen = s.stream("Hello", max_tokens=8, raw=True)
        next(gen)
        s.close()
        s.close()  # idempotent
        self.assertTrue(s.closed)
        for call in (lambda: s.ask("x"), s.reset, s.stats, lambda: next(gen), lambda: s.push_image("x.png"),
                     lambda: s.push_frame(b"\0" * 3, 1, 1, videollm.PixelFormat.RGB24, 0.0)):
            with self.assertRaises(VideoLLMError) as cm:
                call()
            self.assertEqual(cm.exception.status, Status.ERR_STATE)
        s.cancel()  # harmless on a closed session
        m.close()
        self.assertTrue(m.closed)
        for call in (m.info, lambda: m.tokenize("x"), m.session):
            with self.assertRaises(VideoLLMError) as cm:
                call()
            self.assertEqual(cm.exception.status, Status.ERR_STATE)

    def test_model_outlives_its_sessions(self):
        # Closing (or dropping) the Model first must not free weights a live
        # session still uses.
        m = videollm.Model(TEXT_MODEL)
        s = m.session(n_threads=1)
        m.close()
        a = s.ask("Hello", max_tokens=4, raw=True, seed=3)
        s.close()
        with videollm.Model(TEXT_MODEL) as m2, m2.session(n_threads=1) as s2:
            self.assertEqual(s2.ask("Hello", max_tokens=4, raw=True, seed=3), a)
        # garbage collection in any order, cycles included
        for _ in range(3):
            m = videollm.Model(TEXT_MODEL)
            s = m.session(n_threads=1)
            s.cycle = s
            m.cycle = (m, s)
            del m, s
            gc.collect()

    def test_superseded_stream(self):
        with videollm.Model(TEXT_MODEL) as m, m.session(n_threads=1) as s:
            gen = s.stream("Hello", max_tokens=8, raw=True)
            next(gen)
            s.ask("Other", max_tokens=2, raw=True)
            with self.assertRaises(VideoLLMError) as cm:
                next(gen)
            self.assertEqual(cm.exception.status, Status.ERR_STATE)

    def test_reentrant_call_from_callback_refused(self):
        with videollm.Model(TEXT_MODEL) as m, m.session(n_threads=1) as s:
            with self.assertRaises(VideoLLMError) as cm:
                s.ask("Hello", on_token=lambda t, p: s.stats(), max_tokens=4, raw=True)
            self.assertEqual(cm.exception.status, Status.ERR_STATE)
            self.assertIn("own callback", cm.exception.message)

    def test_concurrent_sessions_share_a_model(self):
        with videollm.Model(TEXT_MODEL) as m:
            with m.session(n_threads=1) as s:
                want = s.ask("Hello", max_tokens=8, raw=True, seed=5, temperature=0.8)
            out = [None] * 4
            errors = []

            def run(i):
                try:
                    with m.session(n_threads=1) as s:
                        out[i] = s.ask("Hello", max_tokens=8, raw=True, seed=5, temperature=0.8)
                except BaseException as e:
                    errors.append(e)

            ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(out, [want] * 4)

    def test_log_callback(self):
        lines = []
        videollm.set_log_callback(lambda level, msg: lines.append((level, msg)), videollm.LogLevel.DEBUG)
        try:
            with self.assertRaises(VideoLLMError):
                videollm.Model("/nonexistent/model.gguf")
            with videollm.Model(TEXT_MODEL):
                pass
        finally:
            videollm.set_log_callback(None)
        if not lines:
            self.skipTest("the library logged nothing for a load")
        self.assertTrue(all(isinstance(msg, str) and isinstance(level, int) for level, msg in lines))


if __name__ == "__main__":
    unittest.main()
