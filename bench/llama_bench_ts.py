#!/usr/bin/env python3
"""Reads `llama-bench -o json` on stdin (one test: -p N -n 0 or -p 0 -n N)
and prints its mean tokens per second (avg_ts), for the bench scripts'
side-by-side lines. Exits 1 with a message when there is not exactly one
test in the output."""
import json
import sys

runs = json.load(sys.stdin)
if not isinstance(runs, list) or len(runs) != 1 or 'avg_ts' not in runs[0]:
    print('llama_bench_ts.py: expected one llama-bench test with avg_ts, got %r' % (runs,)[:300], file=sys.stderr)
    sys.exit(1)
print('%.2f' % float(runs[0]['avg_ts']))
