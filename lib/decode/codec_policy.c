/* The decoder deny-list (see codec_policy.h). */
#include "decode/codec_policy.h"

#include <string.h>

static const char *const refused[] = {
    "libjxl", /* libjxl 0.7: SEGV on damaged headers (fuzz_video) */
};

vllm_status vl_decoder_allowed(const AVCodec *codec, const char *what)
{
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (codec && codec->name && !strcmp(codec->name, refused[i]))
            return vl_error(VLLM_ERR_UNSUPPORTED,
                            "%s: the %s decoder is not used: it is known to crash on damaged input", what,
                            codec->name);
    return VLLM_OK;
}

vllm_status vl_streams_allowed(const AVFormatContext *fmt, const char *what)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        VL_TRY(vl_decoder_allowed(avcodec_find_decoder(fmt->streams[i]->codecpar->codec_id), what));
    return VLLM_OK;
}
