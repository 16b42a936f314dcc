"""Shared set-up for the binding tests.

Environment:
  VIDEOLLM_LIBRARY    the libvideollm.so.1 under test (required)
  VIDEOLLM_TEST_DATA  tests/data (default: found from this file)
  VIDEOLLM_CLI        the `videollm` CLI (default: <library dir>/examples/videollm)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..")))

import videollm  # noqa: E402

DATA = os.environ.get("VIDEOLLM_TEST_DATA") or os.path.join(ROOT, "tests", "data")
TINY = os.path.join(DATA, "tiny-smolvlm2")
TEXT_MODEL = os.path.join(TINY, "models", "tiny-smolvlm2-main-text-F32.gguf")
MMPROJ = os.path.join(TINY, "models", "tiny-smolvlm2-main-mmproj-F32.gguf")
VIDEO = os.path.join(DATA, "media", "test-3.mp4")
IMAGE = os.path.join(DATA, "media", "test-1.jpeg")


def library_path():
    p = os.environ.get("VIDEOLLM_LIBRARY")
    if not p:
        raise unittest.SkipTest("set VIDEOLLM_LIBRARY to the libvideollm.so.1 under test")
    return p


def cli_path():
    p = os.environ.get("VIDEOLLM_CLI")
    if not p:
        p = os.path.join(os.path.dirname(os.path.abspath(library_path())), "examples", "videollm")
    if not os.access(p, os.X_OK):
        raise unittest.SkipTest("videollm CLI not found (set VIDEOLLM_CLI)")
    return p


def cli_ask(prompt, n, seed, temp, raw=True, extra=()):
    """(text bytes, ids) printed by `videollm ask --print-ids`."""
    cmd = [cli_path(), "ask", "-m", TEXT_MODEL, "-p", prompt, "-n", str(n), "--seed", str(seed), "--temp", str(temp),
           "-t", "1", "--print-ids"] + (["--raw"] if raw else []) + list(extra)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    # stdout: the streamed text, "\n", the ids on one line, "\n"
    assert out.endswith(b"\n")
    text, ids = out[:-1].rsplit(b"\n", 1)
    return text, [int(x) for x in ids.split()]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def c_layout():
    """{name: size/offset} from bindings/layout.c compiled against the
    header, or None when no C compiler is available."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "layout")
        subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), os.path.join(ROOT, "bindings", "layout.c"),
                        "-o", exe], check=True)
        out = subprocess.run([exe], stdout=subprocess.PIPE, check=True).stdout.decode()
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def setUpModule():
    videollm.load_library(library_path())
