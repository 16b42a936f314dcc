"""The ctypes structs match the header: field offsets and sizes against the
C compiler's view (bindings/layout.c), and struct_size against what the
library's *_default_params() report."""
import ctypes
import unittest

from common import c_layout, setUpModule  # noqa: F401
import videollm
from videollm import _capi

STRUCTS = ["vllm_model_params", "vllm_model_info", "vllm_session_params", "vllm_generate_params",
           "vllm_session_stats", "vllm_frame", "vllm_video_params", "vllm_offload_params", "vllm_offload_stats",
           "vllm_source_params", "vllm_source_stats", "vllm_watch_event", "vllm_watch_params"]


class LayoutTest(unittest.TestCase):
    def test_offsets_and_sizes_match_the_c_compiler(self):
        c = c_layout()
        if c is None:
            self.skipTest("no C compiler")
        for name in STRUCTS:
            cls = getattr(_capi, name)
            self.assertEqual(ctypes.sizeof(cls), c[name], name)
            for field, _ in cls._fields_:
                self.assertEqual(getattr(cls, field).offset, c["%s.%s" % (name, field)], "%s.%s" % (name, field))
            # every C field is mirrored (none missing at the end either)
            c_fields = {k.split(".", 1)[1] for k in c if k.startswith(name + ".")}
            self.assertEqual(c_fields, {f for f, _ in cls._fields_}, name)
        for enum_name in ("vllm_status", "vllm_pixel_format", "vllm_kv_type", "vllm_stop_reason", "vllm_source_state",
                          "vllm_watch_trigger"):
            self.assertEqual(c[enum_name], ctypes.sizeof(_capi.c_enum), enum_name)

    def test_struct_size_matches_default_params(self):
        lib = videollm.load_library()
        for fn, cls in (("vllm_model_default_params", _capi.vllm_model_params),
                        ("vllm_session_default_params", _capi.vllm_session_params),
                        ("vllm_generate_default_params", _capi.vllm_generate_params),
                        ("vllm_video_default_params", _capi.vllm_video_params),
                        ("vllm_source_default_params", _capi.vllm_source_params),
                        ("vllm_watch_default_params", _capi.vllm_watch_params)):
            if not lib.has(fn):
                # Only tolerated for the media calls, which a library older
                # than the binding may lack; the text API must be complete.
                self.assertIn(fn, ("vllm_video_default_params", "vllm_source_default_params",
                                   "vllm_watch_default_params"), "library lacks " + fn)
                continue
            self.assertEqual(getattr(lib, fn)().struct_size, ctypes.sizeof(cls), fn)
        # A new ctypes struct carries its own size (what the library reads).
        for name in STRUCTS:
            cls = getattr(_capi, name)
            self.assertEqual(cls().struct_size, ctypes.sizeof(cls), name)

    def test_every_header_function_is_bound(self):
        import os
        import re
        from common import ROOT
        with open(os.path.join(ROOT, "include", "vllm", "videollm.h")) as f:
            header = f.read()
        names = set(re.findall(r"VLLM_API\b[^;]*?\b(vllm_\w+)\s*\(", header))
        self.assertGreater(len(names), 30)
        self.assertEqual(sorted(names - set(_capi.PROTOTYPES)), [])
        self.assertEqual(sorted(set(_capi.PROTOTYPES) - names), [])

    def test_version(self):
        self.assertEqual(videollm.version(), "0.1.0")
        self.assertEqual(videollm.version_number(), 100)
        self.assertTrue(videollm.status_string(videollm.Status.ERR_FORMAT).startswith("VLLM_ERR_FORMAT"))


if __name__ == "__main__":
    unittest.main()
