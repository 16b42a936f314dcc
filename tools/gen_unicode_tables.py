#!/usr/bin/env python3
"""Generate lib/decoder/unicode_tables.c: the codepoint classes the tokenizer's
pre-tokenizer needs, from the Unicode Character Database.

Usage:  python3 tools/gen_unicode_tables.py [UnicodeData.txt] > lib/decoder/unicode_tables.c

Source of truth: UnicodeData.txt (Debian package `unicode-data` installs it as
/usr/share/unicode/UnicodeData.txt). Without that file the script falls back to
Python's own `unicodedata` module (its Unicode version is printed in the
header either way). Python 3 standard library only. The generated file is
committed, so builds never run this script.

What is classified, and why this way: llama.cpp's pre-tokenizer regexes use
\\p{L}, \\p{N}, \\p{P}, \\p{M}, \\p{S} and \\s. llama.cpp gives every codepoint
exactly one category flag from its UnicodeData General_Category (Cn, i.e.
unassigned, is "undefined"; Cc/Cf/Co/Cs are "control"; Z* "separator"), adds a
separate whitespace bit for the Unicode White_Space property, and lowercases
with the simple lowercase mapping of UnicodeData field 13. We reproduce those
definitions so that text splits exactly as it does there.

Also emitted: the two non-\\p character classes of the deepseek-llm
pre-tokenizer, transcribed from its regex literals into codepoint ranges.
"""
import re
import sys
import unicodedata

MAX_CP = 0x110000

F_UNDEFINED = 0x0001
F_NUMBER = 0x0002
F_LETTER = 0x0004
F_SEPARATOR = 0x0008
F_MARK = 0x0010
F_PUNCT = 0x0020
F_SYMBOL = 0x0040
F_CONTROL = 0x0080
F_WHITESPACE = 0x0100

CAT_FLAG = {
    "Cn": F_UNDEFINED, "Cc": F_CONTROL, "Cf": F_CONTROL, "Co": F_CONTROL, "Cs": F_CONTROL,
    "Ll": F_LETTER, "Lm": F_LETTER, "Lo": F_LETTER, "Lt": F_LETTER, "Lu": F_LETTER,
    "Mc": F_MARK, "Me": F_MARK, "Mn": F_MARK,
    "Nd": F_NUMBER, "Nl": F_NUMBER, "No": F_NUMBER,
    "Pc": F_PUNCT, "Pd": F_PUNCT, "Pe": F_PUNCT, "Pf": F_PUNCT, "Pi": F_PUNCT, "Po": F_PUNCT, "Ps": F_PUNCT,
    "Sc": F_SYMBOL, "Sk": F_SYMBOL, "Sm": F_SYMBOL, "So": F_SYMBOL,
    "Zl": F_SEPARATOR, "Zp": F_SEPARATOR, "Zs": F_SEPARATOR,
}

# Unicode White_Space property (PropList.txt); stable since Unicode 6.3.
WHITESPACE = list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + \
    [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]

# deepseek-llm pre-tokenizer character classes (regex literals of llama.cpp's
# LLAMA_VOCAB_PRE_TYPE_DEEPSEEK_LLM, without the brackets and quantifiers).
# Codepoints that NFC normalisation would rewrite (Greek Extended and
# letterlike singletons such as U+1FD3, U+2126 KELVIN..OHM) are written as
# escapes so that no editor or copy step can silently change them.
DEEPSEEK_LLM_LETTERS = (
    "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"
)
DEEPSEEK_LLM_PUNCT = "!-/:-~！-／：-～\u2018-\u201f\u3000-。"


def class_ranges(spec):
    """Parse the inside of a regex bracket expression made of literal
    characters and a-b ranges into sorted, merged (first, last) pairs."""
    out = []
    i = 0
    while i < len(spec):
        a = ord(spec[i])
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.append((a, ord(spec[i + 2])))
            i += 3
        else:
            out.append((a, a))
            i += 1
    out.sort()
    merged = []
    for a, b in out:
        assert a <= b
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def categories_from_file(path):
    cats = ["Cn"] * MAX_CP
    lower = {}
    first = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            if len(fields) < 15:
                continue
            cp = int(fields[0], 16)
            name, cat = fields[1], fields[2]
            if name.endswith(", First>"):
                first = cp
                continue
            if name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    cats[c] = cat
                first = None
                continue
            cats[cp] = cat
            if fields[13]:
                lower[cp] = int(fields[13], 16)
    return cats, lower


def categories_from_python():
    cats = [unicodedata.category(chr(c)) for c in range(MAX_CP)]
    lower = {}
    for c in range(MAX_CP):
        if cats[c] in ("Cs",):
            continue
        lo = chr(c).lower()
        # simple mapping only: one-codepoint results
        if len(lo) == 1 and ord(lo) != c:
            lower[c] = ord(lo)
    return cats, lower


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode/UnicodeData.txt"
    try:
        cats, lower = categories_from_file(path)
        source = path
        version = "unknown"
        try:
            with open(path.rsplit("/", 1)[0] + "/ReadMe.txt", encoding="utf-8") as f:
                m = re.search(r"Unicode(\d+\.\d+\.\d+)", f.read())
                if m:
                    version = "Unicode " + m.group(1)
        except OSError:
            pass
    except OSError:
        cats, lower = categories_from_python()
        source = "python unicodedata"
        version = unicodedata.unidata_version

    flags = [CAT_FLAG[c] for c in cats]
    for c in WHITESPACE:
        flags[c] |= F_WHITESPACE

    ranges = [(0, flags[0])]
    for c in range(1, MAX_CP):
        if flags[c] != ranges[-1][1]:
            ranges.append((c, flags[c]))

    w = sys.stdout.write
    w("/* GENERATED by tools/gen_unicode_tables.py -- do not edit.\n")
    w(" * Source: %s (%s). */\n" % (source, version))
    w('#include "unicode.h"\n\n')
    w("/* Codepoint class ranges: range i covers [start[i], start[i+1]) (the last\n")
    w(" * one runs to 0x10FFFF); flags are VL_CPT_* bits. */\n")
    w("const uint32_t vl_ucd_range_start[] = {\n")
    for i in range(0, len(ranges), 8):
        w("    " + ", ".join("0x%06X" % r[0] for r in ranges[i:i + 8]) + ",\n")
    w("};\n")
    w("const uint16_t vl_ucd_range_flags[] = {\n")
    for i in range(0, len(ranges), 12):
        w("    " + ", ".join("0x%04X" % r[1] for r in ranges[i:i + 12]) + ",\n")
    w("};\n")
    w("const size_t vl_ucd_n_ranges = %d;\n\n" % len(ranges))

    pairs = sorted(lower.items())
    w("/* Simple lowercase mapping (UnicodeData field 13), sorted by codepoint. */\n")
    w("const uint32_t vl_ucd_lower[][2] = {\n")
    for i in range(0, len(pairs), 4):
        w("    " + " ".join("{0x%06X, 0x%06X}," % p for p in pairs[i:i + 4]) + "\n")
    w("};\n")
    w("const size_t vl_ucd_n_lower = %d;\n\n" % len(pairs))

    for name, spec in (("deepseek_llm_letters", DEEPSEEK_LLM_LETTERS), ("deepseek_llm_punct", DEEPSEEK_LLM_PUNCT)):
        rs = class_ranges(spec)
        w("const uint32_t vl_class_%s[][2] = {\n" % name)
        for i in range(0, len(rs), 4):
            w("    " + " ".join("{0x%06X, 0x%06X}," % r for r in rs[i:i + 4]) + "\n")
        w("};\n")
        w("const size_t vl_class_%s_n = %d;\n\n" % (name, len(rs)))


if __name__ == "__main__":
    main()
