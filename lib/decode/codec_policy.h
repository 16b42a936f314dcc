/* Which libavcodec decoders the library lets loose on untrusted input.
 * Some of libavcodec's wrappers around external libraries crash on
 * damaged data in the versions Debian ships: fuzz_video found libjxl 0.7
 * (through FFmpeg 5.1's `libjxl` decoder) dereferencing a bad pointer in
 * JxlDecoderSetPreferredColorProfile on a 17-byte input. Such decoders
 * are refused with VLLM_ERR_UNSUPPORTED naming them, before they see a
 * byte (stream probing included), for videos and stills alike. */
#ifndef VL_DECODE_CODEC_POLICY_H
#define VL_DECODE_CODEC_POLICY_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "core/error.h"

/* VLLM_OK, or VLLM_ERR_UNSUPPORTED with a message naming the decoder and
 * `what` (the input, for the message). */
vllm_status vl_decoder_allowed(const AVCodec *codec, const char *what);

/* The same for the default decoder of every stream the demuxer found, to
 * be checked before avformat_find_stream_info(), which decodes frames of
 * its own while probing. */
vllm_status vl_streams_allowed(const AVFormatContext *fmt, const char *what);

#endif
