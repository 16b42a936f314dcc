"""Generation through the binding equals the C CLI's for the same prompt and
seed (text bytes and token ids), and llama.cpp's reference for greedy
decoding; callbacks, stop strings, cancellation and stats behave."""
import os
import threading
import unittest

from common import TEXT_MODEL, TINY, cli_ask, load_json, setUpModule  # noqa: F401
import videollm
from videollm import KVType, Status, StopReason, VideoLLMError

PROMPTS = ["Hello world", "Once upon a time, in a land far away", "Describe the sea. Ünïcödé ✓"]


class GenerationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = videollm.Model(TEXT_MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def session(self, **kw):
        return self.model.session(n_threads=1, **kw)

    def f32_session(self):
        """llama.cpp's references were computed with an f32 KV cache (the library's default is f16)."""
        return self.session(kv_type=KVType.F32)

    def test_stream_matches_cli(self):
        for i, prompt in enumerate(PROMPTS):
            for raw in (True, False):
                seed = 7 + 31 * i
                text, ids = cli_ask(prompt, 16, seed, 0.8, raw=raw)
                with self.session() as s:
                    pieces = list(s.stream(prompt, max_tokens=16, seed=seed, temperature=0.8, raw=raw))
                    self.assertTrue(all(isinstance(p, str) for p in pieces))
                    self.assertEqual("".join(pieces).encode(), text.decode("utf-8", "replace").encode(),
                                     (prompt, raw))
                    s.reset()
                    toks = list(s.stream_tokens(prompt, max_tokens=16, seed=seed, temperature=0.8, raw=raw))
                    self.assertEqual([t.id for t in toks if t.id >= 0], ids, (prompt, raw))
                    self.assertEqual(b"".join(t.piece for t in toks), text)
                    s.reset()
                    got = []
                    answer = s.ask(prompt, on_token=lambda t, p: got.append(t), max_tokens=16, seed=seed,
                                   temperature=0.8, raw=raw)
                    self.assertEqual(answer, text.decode("utf-8", "replace"))
                    self.assertEqual([t for t in got if t >= 0], ids)
                    self.assertEqual(s.stats().last_stop, StopReason.MAX_TOKENS)

    def test_greedy_matches_llamacpp_reference(self):
        ref = load_json(os.path.join(TINY, "ref", "text", "F32_ref_gen.json"))
        self.assertEqual(self.model.tokenize(ref["prompt"], add_special=False), ref["prompt_ids"])
        with self.f32_session() as s:
            toks = [t.id for t in s.stream_tokens(ref["prompt"], raw=True, max_tokens=ref["n_predict"],
                                                  temperature=0)]
        self.assertEqual(toks, ref["generated_ids"])
        self.assertEqual(self.model.detokenize(toks), bytes.fromhex(ref["generated_text_hex"]).decode())

    def test_experimental_logits_match_llamacpp(self):
        ref = load_json(os.path.join(TINY, "ref", "text", "F32_ref_gen.json"))
        from array import array
        want = array("f")
        with open(os.path.join(TINY, "ref", "text", ref["first_step_logits_file"]), "rb") as f:
            want.frombytes(f.read())
        with self.f32_session() as s:
            self.assertIsNone(s.logits())
            s.eval_tokens(ref["prompt_ids"])
            got = s.logits()
        self.assertEqual(len(got), self.model.info().n_vocab)
        self.assertEqual(len(got), len(want))
        worst = max(abs(a - b) for a, b in zip(got, want))
        self.assertLess(worst, 1e-3)

    def test_multi_turn_keeps_context(self):
        with self.session() as s:
            a1 = s.ask("Hello", max_tokens=4, seed=1)
            st1 = s.stats()
            s.ask("Again", max_tokens=4, seed=1)
            st2 = s.stats()
        self.assertIsInstance(a1, str)
        self.assertGreater(st2.n_past, st1.n_past)
        self.assertEqual(st2.n_generated_tokens, st1.n_generated_tokens + 4)
        self.assertGreater(st1.n_prompt_tokens, 0)
        self.assertEqual(st1.n_ctx, 2048)  # min(train ctx 2048, 4096)

    def test_system_prompt_is_the_templates_system_turn(self):
        # SmolVLM2's template: "<|im_start|>System: S<end_of_utterance>\n" before the first user turn
        with self.model.session(n_threads=1, system_prompt="Be brief.") as s:
            got = s.ask("Hello", max_tokens=6)
        with self.session() as s:
            want = s.ask("<|im_start|>System: Be brief.<end_of_utterance>\nUser: Hello<end_of_utterance>\nAssistant:",
                         max_tokens=6, raw=True)
        with self.session() as s:
            plain = s.ask("Hello", max_tokens=6)
        self.assertEqual(got, want)
        self.assertNotEqual(got, plain)

    def test_stop_string_ends_stream(self):
        text, _ = cli_ask("Hello world", 16, 42, 0.8)
        # stop at the 5th word of the CLI's unconstrained answer
        words = text.decode().split()
        self.assertGreater(len(words), 5)
        stop = words[4]
        with self.session() as s:
            out = "".join(s.stream("Hello world", raw=True, max_tokens=16, seed=42, temperature=0.8, stop=[stop]))
            self.assertEqual(out, text.decode()[:text.decode().index(stop)])
            self.assertEqual(s.stats().last_stop, StopReason.STRING)
            s.reset()
            self.assertEqual(s.ask("Hello world", raw=True, max_tokens=16, seed=42, temperature=0.8, stop=stop), out)

    def test_callback_exception_cancels_and_propagates(self):
        class Boom(Exception):
            pass

        seen = []

        def cb(token, text):
            seen.append(token)
            if len(seen) == 3:
                raise Boom("from the callback")

        with self.session() as s:
            with self.assertRaises(Boom) as cm:
                s.ask("Hello world", on_token=cb, max_tokens=16, raw=True)
            self.assertEqual(str(cm.exception), "from the callback")
            self.assertEqual(len(seen), 3)  # not called again after raising
            st = s.stats()
            self.assertEqual(st.last_stop, StopReason.CANCELLED)
            self.assertEqual(st.n_generated_tokens, 3)
            # the session is still usable
            self.assertTrue(s.ask("Hello world", max_tokens=2, raw=True))

    def test_callback_true_stops_without_error(self):
        with self.session() as s:
            full = s.ask("Hello world", max_tokens=8, raw=True)
            s.reset()
            n = [0]

            def cb(token, text):
                n[0] += 1
                return n[0] == 2

            part = s.ask("Hello world", on_token=cb, max_tokens=8, raw=True)
            self.assertEqual(n[0], 2)
            self.assertTrue(full.startswith(part))
            self.assertLess(len(part), len(full))

    def test_cancel_from_another_thread(self):
        with self.session() as s:
            fired = []

            def cb(token, text):
                if not fired:  # cancel from another thread, once it has surely happened go on
                    t = threading.Thread(target=s.cancel)
                    t.start()
                    t.join()
                    fired.append(token)
                return False

            with self.assertRaises(VideoLLMError) as cm:
                s.ask("Hello", on_token=cb, max_tokens=-1, raw=True)
            self.assertEqual(cm.exception.status, Status.ERR_CANCELLED)
            self.assertIn("cancel", cm.exception.message)
            self.assertEqual(s.stats().last_stop, StopReason.CANCELLED)
            self.assertEqual(s.stats().n_generated_tokens, 1)

    def test_next_token_pull(self):
        with self.session() as s:
            s.query("Hello world", raw=True, max_tokens=3, seed=42, temperature=0.8)
            toks = []
            while True:
                t = s.next_token()
                if t is None:
                    break
                toks.append(t.id)
            _, ids = cli_ask("Hello world", 3, 42, 0.8)
            self.assertEqual(toks, ids)

    def test_tokenize_roundtrip_and_eog(self):
        m = self.model
        info = m.info()
        self.assertEqual(info.architecture, "llama")
        self.assertFalse(info.has_vision)
        ids = m.tokenize("Hello world")
        self.assertEqual(m.detokenize(ids), "Hello world")
        self.assertEqual(m.tokenize(b"Hello world"), ids)
        self.assertTrue(m.is_eog(info.token_eos))
        self.assertFalse(m.is_eog(ids[0]))
        long_text = "word " * 500  # longer than the first buffer guess per token
        self.assertEqual(m.detokenize(m.tokenize(long_text, add_special=False)), long_text)
        special = m.tokenize("<|im_start|>", add_special=False, parse_special=True)
        self.assertEqual(len(special), 1)
        self.assertEqual(m.detokenize(special), "")
        self.assertEqual(m.detokenize(special, special=True), "<|im_start|>")


if __name__ == "__main__":
    unittest.main()
