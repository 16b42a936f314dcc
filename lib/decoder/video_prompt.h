/* The text around video frames in SmolVLM2's prompt, as transformers'
 * SmolVLMProcessor writes it (processing_smolvlm.py with the constants of
 * video_processing_smolvlm.py, transformers 4.5x/main, 2025):
 *
 *   "You are provided the following series of {N in words} frames from a
 *    {H:MM:SS} [H:MM:SS] video.\n"
 *   per frame: "\nFrame from {MM:SS}:" + image markers + visual tokens
 *   after the last frame: "\n\n"
 *
 * N in words follows num2words (English): "sixty-four", "one hundred and
 * twenty-eight". The duration is Python's str(timedelta(seconds=int(d))).
 * Timestamps are int(t // 60), int(t % 60), each printed with %02d. */
#ifndef VL_DECODER_VIDEO_PROMPT_H
#define VL_DECODER_VIDEO_PROMPT_H

#include <stddef.h>

#define VL_VIDEO_OUTRO "\n\n"

/* English words for 0 <= n < 10^9 (num2words' "en" style). Returns the
 * length written (snprintf semantics). */
size_t vl_number_words(long n, char *buf, size_t cap);

/* The intro line for n_frames frames of a video lasting `duration` s. */
size_t vl_video_intro(int n_frames, double duration, char *buf, size_t cap);

/* "\nFrame from MM:SS:" for a frame at `seconds`. */
size_t vl_video_frame_label(double seconds, char *buf, size_t cap);

#endif
