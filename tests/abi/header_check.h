/* Shared body of the header compile checks (header_c99.c, header_c11.c,
 * header_cxx17.cpp). The including file includes <vllm/videollm.h> first, so
 * the header is proven self-contained, then this file, which touches every
 * public type and macro so that a construct the language standard rejects
 * (or warns about under -Wall -Wextra -pedantic -Werror) fails the build.
 * It calls only the version queries, which exist in every build, so the
 * link against libvideollm.so proves the declarations reach the exported
 * symbols (for C++, that they have C linkage). Returns the number of wrong
 * facts. */
#include <stdio.h>
#include <string.h>

static int header_check(void)
{
    int bad = 0;
    char expect[32];

    /* The three version macros, the number and the string must agree. */
    snprintf(expect, sizeof expect, "%d.%d.%d", VLLM_VERSION_MAJOR, VLLM_VERSION_MINOR,
             VLLM_VERSION_PATCH);
    if (strcmp(expect, VLLM_VERSION_STRING) != 0) bad++;
    if (VLLM_VERSION_NUMBER !=
        VLLM_VERSION_MAJOR * 10000 + VLLM_VERSION_MINOR * 100 + VLLM_VERSION_PATCH)
        bad++;
    /* The loaded library is the one this header describes. */
    if (strcmp(vllm_version(), VLLM_VERSION_STRING) != 0) bad++;
    if (vllm_version_number() != VLLM_VERSION_NUMBER) bad++;
#ifdef VLLM_EXPECTED_VERSION
    /* The build passes the meson project version: header and build agree. */
    if (strcmp(VLLM_EXPECTED_VERSION, VLLM_VERSION_STRING) != 0) bad++;
#endif

    /* Success codes are not errors, every error code is. */
    if (vllm_is_error(VLLM_OK) || vllm_is_error(VLLM_DONE)) bad++;
    if (!vllm_is_error(VLLM_ERR_INVALID_ARG) || !vllm_is_error(VLLM_ERR_INTERNAL)) bad++;

    {
        vllm_model_params mp;
        vllm_model_info mi;
        vllm_session_params sp;
        vllm_generate_params gp;
        vllm_session_stats st;
        vllm_log_fn log_fn = 0;
        vllm_progress_fn progress_fn = 0;
        vllm_token_fn token_fn = 0;
        vllm_model *model = 0;
        vllm_session *session = 0;
        vllm_log_level level = VLLM_LOG_DEBUG;
        vllm_kv_type kv = VLLM_KV_F16;
        vllm_stop_reason stop = VLLM_STOP_CANCELLED;
        unsigned flags = VLLM_TOKENIZE_ADD_SPECIAL | VLLM_TOKENIZE_PARSE_SPECIAL |
                         VLLM_DETOKENIZE_SPECIAL;
        vllm_frame frame;
        vllm_video_params vp;
        static const uint8_t pixels[3] = {1, 2, 3};

        memset(&frame, 0, sizeof frame);
        memset(&vp, 0, sizeof vp);
        frame.struct_size = sizeof frame;
        frame.format = VLLM_PIXFMT_YUV420P;
        frame.width = frame.height = 1;
        frame.planes[0] = pixels;
        frame.strides[0] = 3;
        frame.pts = 0.5;
        vp.struct_size = sizeof vp;
        vp.progress = progress_fn;
        if (frame.format != VLLM_PIXFMT_YUV420P || frame.planes[0][2] != 3 || vp.struct_size == 0) bad++;

        memset(&mp, 0, sizeof mp);
        memset(&mi, 0, sizeof mi);
        memset(&sp, 0, sizeof sp);
        memset(&gp, 0, sizeof gp);
        memset(&st, 0, sizeof st);
        mp.struct_size = sizeof mp;
        mi.struct_size = sizeof mi;
        sp.struct_size = sizeof sp;
        gp.struct_size = sizeof gp;
        st.struct_size = sizeof st;
        sp.kv_type = kv;
        st.last_stop = stop;
        mp.progress = progress_fn;
        gp.on_token = token_fn;
        if (log_fn || model || session || level != VLLM_LOG_DEBUG || flags != 3u) bad++;
        if (sp.kv_type != VLLM_KV_F16 || st.last_stop != VLLM_STOP_CANCELLED) bad++;
        if (mp.struct_size == 0 || mi.struct_size == 0 || gp.struct_size == 0) bad++;
    }
    return bad;
}
