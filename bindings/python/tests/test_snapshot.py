"""Snapshots, context history and compression settings through the binding."""
import os
import tempfile
import unittest

from common import MMPROJ, TEXT_MODEL, VIDEO, setUpModule  # noqa: F401
import videollm
from videollm import InvalidArgumentError, PixelFormat, VideoLLMError


class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = videollm.Model(TEXT_MODEL, mmproj=MMPROJ)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_save_load_continues_identically(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.vllm")
            with self.model.session(n_threads=1) as a:
                a.push_frame(bytes(range(48)) * 3, 8, 6, PixelFormat.RGB24, 0.0)
                a.ask("Hello", max_tokens=4, seed=1, temperature=0.8)
                a.save(path)
                hist = a.history()
                want = a.ask("And then?", max_tokens=8, seed=2, temperature=0.8)
            with self.model.session(n_threads=1) as b:
                b.load(path)
                self.assertEqual(b.history(), hist)
                self.assertEqual(b.ask("And then?", max_tokens=8, seed=2, temperature=0.8), want)
                with self.assertRaises(VideoLLMError) as cm:
                    b.load(os.path.join(d, "missing.vllm"))
                self.assertIn("missing.vllm", cm.exception.message)
                self.assertEqual(b.history()[:len(hist)], hist)  # unchanged by the failed load

    def test_history(self):
        tpf = self.model.info().tokens_per_frame
        with self.model.session(n_threads=1) as s:
            self.assertEqual(s.history(), [])
            s.ask("Hello", raw=True, max_tokens=3)
            ids = self.model.tokenize("Hello")
            h = s.history()
            self.assertEqual(h[:len(ids)], ids)
            s.reset()
            s.push_frame(bytes(8 * 6 * 3), 8, 6, PixelFormat.RGB24, 0.0)
            self.assertEqual(s.history().count(-1), tpf)

    def test_compression_settings(self):
        with self.assertRaises(InvalidArgumentError) as cm:
            self.model.session(compression="no-such-preset")
        self.assertIn("no-such-preset", cm.exception.message)
        with self.model.session(n_threads=1) as plain, self.model.session(n_threads=1, compression="fast") as fast:
            plain.push_video(VIDEO, n_frames=4)
            fast.push_video(VIDEO, n_frames=4)
            p, f = plain.stats(), fast.stats()
            self.assertEqual((p.n_frames_deduped, p.n_tokens_pruned), (0, 0))
            self.assertGreater(f.n_tokens_pruned, 0)
            self.assertLess(f.n_visual_tokens, p.n_visual_tokens)
        with self.model.session(n_threads=1) as s:
            s.push_video(VIDEO, n_frames=4, prune_rate=0.5)
            self.assertGreater(s.stats().n_tokens_pruned, 0)
            with self.assertRaises(TypeError):
                s.push_video(VIDEO, n_frames=1, prune_rat=0.5)


class OffloadTest(unittest.TestCase):
    """The KV offload tier through the binding: a stream longer than the
    context is offloaded, a time range comes back, errors are exceptions."""

    @classmethod
    def setUpClass(cls):
        cls.model = videollm.Model(TEXT_MODEL, mmproj=MMPROJ)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_offload_and_recall(self):
        with self.model.session(n_ctx=256, n_threads=1) as s:
            with self.assertRaises(VideoLLMError):
                s.recall(0, 10)  # offload is off
            s.set_offload(retrieve_top_k=1, max_ram_bytes=1 << 20)
            for i in range(40):
                px = bytes((i * 37 + k) & 255 for k in range(8 * 6 * 3))
                s.push_frame(px, 8, 6, PixelFormat.RGB24, float(i))
            o = s.offload_stats()
            st = s.stats()
            self.assertGreater(o.frames_offloaded, 0)
            self.assertEqual(o.frames_offloaded, st.n_frames_evicted)
            self.assertEqual(s.recall(1.0, 3.0), 2)
            s.ask("What came first?", max_tokens=2)
            o = s.offload_stats()
            self.assertEqual(o.retrievals, 1)
            self.assertGreaterEqual(o.frames_reloaded, 2)
            with self.assertRaises(InvalidArgumentError):
                s.recall(5, 1)
            s.set_offload(False)
            self.assertEqual(s.offload_stats().frames_offloaded, 0)


if __name__ == "__main__":
    unittest.main()
