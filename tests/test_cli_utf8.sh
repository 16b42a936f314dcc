#!/bin/sh
# The CLI's UTF-8 sanitizer (--json answer text) against Python's decoder
# with errors='replace' (which replaces each maximal invalid subpart with
# one U+FFFD, the Unicode recommendation the sanitizer follows): fixed edge
# cases (overlongs, surrogates, above U+10FFFF, a character cut at the end,
# stray continuation bytes) and 20,000 random byte strings biased to
# UTF-8 lead/continuation bytes.
# usage: test_cli_utf8.sh PATH-TO-cli_utf8_filter
set -u
exec python3 - "$1" <<'PY'
import random, struct, subprocess, sys

cases = [b'', b'plain ascii', 'h\u00e9llo \u4e16\u754c \U0001F600'.encode(), b'\xc3', b'\xe4\xb8', b'\xf0\x9f\x98',
         b'\xc0\xaf', b'\xe0\x80\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\xf5\x80', b'\x80\x80abc', b'\xff\xfe',
         b'a\xe4\xb8b', b'\xf0\x9f\x98\x80\xf0\x9f', b'\x00nul\x00', b'\xe1\x80\xe1\x80\x80']
rng = random.Random(12)
alphabet = [0x41, 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
            0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff]
for _ in range(20000):
    cases.append(bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
                       for _ in range(rng.randrange(1, 12))))
data = b''.join(struct.pack('<I', len(c)) + c for c in cases)
out = subprocess.run([sys.argv[1]], input=data, stdout=subprocess.PIPE, check=True).stdout
pos, bad = 0, 0
for c in cases:
    (n,) = struct.unpack_from('<I', out, pos)
    got = out[pos + 4:pos + 4 + n]
    pos += 4 + n
    want = c.decode('utf-8', 'replace').encode('utf-8')
    if got != want:
        bad += 1
        if bad <= 5:
            print('FAIL: %r -> %r, want %r' % (c, got, want))
if pos != len(out):
    print('FAIL: trailing output')
    bad += 1
print('%d cases, %d wrong' % (len(cases), bad))
sys.exit(1 if bad else 0)
PY
