#!/usr/bin/env python3
"""Ask a question about a video (or, without one, just a question).

    ask.py MODEL.gguf [--mmproj MMPROJ.gguf --video CLIP.mp4] "question"

Needs the `videollm` package (pip install --no-build-isolation bindings/python,
or PYTHONPATH=bindings/python) and libvideollm.so.1 (installed, or
VIDEOLLM_LIBRARY=build/libvideollm.so.1)."""
import argparse
import sys

import videollm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("question")
    ap.add_argument("--mmproj")
    ap.add_argument("--video")
    ap.add_argument("--n-frames", type=int, default=0, help="frames to sample (0: the model's rule)")
    ap.add_argument("-n", "--max-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temp", type=float, default=0.0)
    a = ap.parse_args()
    try:
        with videollm.Model(a.model, mmproj=a.mmproj) as model, model.session() as session:
            if a.video:
                session.push_video(a.video, n_frames=a.n_frames)
            for piece in session.stream(a.question, max_tokens=a.max_tokens, seed=a.seed, temperature=a.temp):
                print(piece, end="", flush=True)
            print()
            st = session.stats()
            print("(%d frames encoded, %d prompt + %d generated tokens)"
                  % (st.n_frames_encoded, st.n_prompt_tokens, st.n_generated_tokens), file=sys.stderr)
    except videollm.VideoLLMError as e:
        sys.exit("ask.py: %s" % e)


if __name__ == "__main__":
    main()
