#!/usr/bin/env python3
"""Live stream: a thread pushes synthetic camera frames while the main
thread asks questions about what has arrived so far.

    stream.py MODEL.gguf MMPROJ.gguf [SECONDS]

push_frame() may be called from any thread, also during an answer: frames
pushed meanwhile queue in the library and enter the context before the
next question. Frames are bytes here; a NumPy uint8 array of shape
(height, width, 3) works the same way (and is read in place)."""
import sys
import threading

import videollm

W, H, FPS = 160, 120, 2


def frame(i):
    """RGB24 bytes: a bright square moving across a dark frame."""
    rgb = bytearray(b"\x10" * (W * H * 3))
    x0, y0 = (i * 12) % (W - 32), H // 2 - 16
    for y in range(y0, y0 + 32):
        row = (y * W + x0) * 3
        rgb[row:row + 32 * 3] = b"\xf0\xc8\x28" * 32
    return rgb


def camera(session, n_frames, errors):
    try:
        for i in range(n_frames):
            session.push_frame(frame(i), W, H, videollm.PixelFormat.RGB24, pts=i / FPS)
    except videollm.VideoLLMError as e:
        errors.append(e)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    with videollm.Model(sys.argv[1], mmproj=sys.argv[2]) as model, model.session() as session:
        errors = []
        cam = threading.Thread(target=camera, args=(session, seconds * FPS, errors))
        cam.start()
        for q, question in enumerate(["What do you see so far?", "Where is the square now?"]):
            if q == 1:
                cam.join()  # the second question sees every frame
            print("Q:", question)
            print("A:", end="")
            for piece in session.stream(question, max_tokens=32):
                print(piece, end="", flush=True)
            print()
        cam.join()
        if errors:
            sys.exit("stream.py: camera: %s" % errors[0])
        st = session.stats()
        print("frames pushed %d, encoded %d, dropped %d; %d context positions"
              % (st.n_frames_seen, st.n_frames_encoded, st.n_frames_dropped, st.n_past))


if __name__ == "__main__":
    main()
