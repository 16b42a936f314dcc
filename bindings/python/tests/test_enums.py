"""Every enum and constant group of the header is mirrored in Python with
the same names and values. Names come from the preprocessed header (enum
bodies of `cc -E`, macros of `cc -E -dM`), values from a C program
compiled against it, so a value added to or changed in
include/vllm/videollm.h without updating the binding fails here."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from common import ROOT, setUpModule  # noqa: F401
import videollm
from videollm import live as _live
from videollm import model as _model

HEADER = os.path.join(ROOT, "include", "vllm", "videollm.h")

# C enum type -> (enumerator prefix, Python enum)
ENUMS = {
    "vllm_status": ("VLLM_", videollm.Status),
    "vllm_log_level": ("VLLM_LOG_", videollm.LogLevel),
    "vllm_kv_type": ("VLLM_KV_", videollm.KVType),
    "vllm_stop_reason": ("VLLM_STOP_", videollm.StopReason),
    "vllm_pixel_format": ("VLLM_PIXFMT_", videollm.PixelFormat),
    "vllm_source_state": ("VLLM_SOURCE_", videollm.SourceState),
    "vllm_watch_trigger": ("VLLM_WATCH_", videollm.WatchTrigger),
}
# groups of #define constants -> {suffix: value} on the Python side
MACROS = {
    "VLLM_VISION_": {m.name: int(m) for m in videollm.VisionPrecision},
    "VLLM_TOKENIZE_": {"ADD_SPECIAL": _model.TOKENIZE_ADD_SPECIAL, "PARSE_SPECIAL": _model.TOKENIZE_PARSE_SPECIAL},
    "VLLM_DETOKENIZE_": {"SPECIAL": _model.DETOKENIZE_SPECIAL},
    "VLLM_IMAGE_TOKENS_": {"LIMIT": _model.IMAGE_TOKENS_LIMIT},
    "VLLM_SOURCE_MESSAGE_": {"MAX": _live.SOURCE_MESSAGE_MAX},
}
# macros that are not values a caller passes (the version is checked in test_layout)
NOT_CONSTANTS = {"VLLM_API", "VLLM_VIDEOLLM_H", "VLLM_EXPERIMENTAL", "VLLM_VERSION_MAJOR", "VLLM_VERSION_MINOR",
                 "VLLM_VERSION_PATCH", "VLLM_VERSION_NUMBER", "VLLM_VERSION_STRING"}


def compiler():
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def header_constants(cc):
    """({enum type: [enumerator names]}, [macro names]) of the header."""
    inc = ["-I", os.path.join(ROOT, "include"), "-DVLLM_EXPERIMENTAL"]
    pre = subprocess.run([cc, "-E", "-P"] + inc + [HEADER], stdout=subprocess.PIPE, check=True).stdout.decode()
    enums = {}
    for body, name in re.findall(r"\benum\s+\w*\s*\{([^}]*)\}\s*(\w+)\s*;", pre):
        enums[name] = [item.split("=")[0].strip() for item in body.split(",") if item.strip()]
    macros = subprocess.run([cc, "-E", "-dM"] + inc + [HEADER], stdout=subprocess.PIPE, check=True).stdout.decode()
    names = re.findall(r"^#define\s+(VLLM_\w+)\b(?!\()", macros, re.M)
    return enums, sorted(set(names) - NOT_CONSTANTS)


def values_of(cc, names):
    """{name: value} as the C compiler evaluates each one."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "values.c")
        with open(src, "w") as f:
            f.write("#define VLLM_EXPERIMENTAL\n#include <stdio.h>\n#include \"vllm/videollm.h\"\nint main(void)\n{\n")
            for n in names:
                f.write('    printf("%%s %%lld\\n", "%s", (long long)(%s));\n' % (n, n))
            f.write("    return 0;\n}\n")
        exe = os.path.join(d, "values")
        subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), src, "-o", exe], check=True)
        out = subprocess.run([exe], stdout=subprocess.PIPE, check=True).stdout.decode()
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


class EnumTest(unittest.TestCase):
    def setUp(self):
        self.cc = compiler()
        if not self.cc:
            self.skipTest("no C compiler")

    def test_every_enum_matches_the_header(self):
        enums, _ = header_constants(self.cc)
        self.assertEqual(sorted(enums), sorted(ENUMS), "enum types of the header vs. the ones bound")
        values = values_of(self.cc, [n for names in enums.values() for n in names])
        for c_name, enumerators in enums.items():
            prefix, py = ENUMS[c_name]
            want = {n[len(prefix):]: values[n] for n in enumerators}
            got = {m.name: int(m) for m in py}
            self.assertEqual(got, want, "%s vs. %s" % (c_name, py.__name__))

    def test_every_constant_group_matches_the_header(self):
        _, macros = header_constants(self.cc)
        values = values_of(self.cc, macros)
        seen = set()
        for prefix, got in MACROS.items():
            mine = [m for m in macros if m.startswith(prefix)]
            seen.update(mine)
            self.assertEqual(got, {m[len(prefix):]: values[m] for m in mine}, prefix + "*")
        self.assertEqual(sorted(set(macros) - seen), [], "header constants without a Python counterpart")


if __name__ == "__main__":
    unittest.main()
