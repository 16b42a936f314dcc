#!/usr/bin/env python3
"""Checks on `videollm ask/chat --json` output for tests/test_cli_ask.sh.

usage: cli_json_check.py CHECK FILE [ARGS...]
  stop FILE REASON        every answer says it stopped for REASON
  stages FILE             ask: load+decode+encode+media prefill+prompt+generate+other
                          add up to wall_s, and other_s is not negative
  per_question FILE       chat: each answer's generated_tokens equals its own token
                          count and prompt_s/generate_s add up within answer_s
  seed FILE               prints the seed and the token ids of the answer
Exits 1 with a message when the check fails."""
import json
import sys


def answers(path):
    with open(path, 'rb') as f:
        return [json.loads(line.decode('utf-8')) for line in f if line.strip()]


def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)


check, path = sys.argv[1], sys.argv[2]
objs = answers(path)
if not objs:
    fail('no JSON answer in ' + path)
if check == 'stop':
    for o in objs:
        if o.get('stop') != sys.argv[3]:
            fail('stop is %r, want %r' % (o.get('stop'), sys.argv[3]))
        if 'frames_evicted' not in o['stats']:
            fail('no frames_evicted in the stats')
elif check == 'stages':
    s = objs[0]['stats']
    parts = ['load_s', 'decode_s', 'encode_s', 'media_prefill_s', 'prompt_s', 'generate_s', 'other_s']
    total = sum(s[k] for k in parts)
    if abs(total - s['wall_s']) > 1e-4 * max(1.0, s['wall_s']) + 2e-6 * len(parts):
        fail('stages add up to %.6f s, wall is %.6f s (%s)' % (total, s['wall_s'], {k: s[k] for k in parts}))
    if s['other_s'] < 0:
        fail('other_s %.6f is negative: stages overlap' % s['other_s'])
elif check == 'per_question':
    for i, o in enumerate(objs):
        s = o['stats']
        if s['generated_tokens'] != len(o['tokens']):
            fail('answer %d: generated_tokens %d but %d tokens' % (i + 1, s['generated_tokens'], len(o['tokens'])))
        if s.get('question') != i + 1:
            fail('answer %d: question number %r' % (i + 1, s.get('question')))
        if s['prompt_s'] + s['generate_s'] > s['answer_s'] + 1e-5:
            fail('answer %d: prompt + generate exceed the answer time' % (i + 1))
elif check == 'seed':
    print(objs[0]['stats']['seed'], ' '.join(str(t) for t in objs[0]['tokens']))
else:
    fail('unknown check ' + check)
