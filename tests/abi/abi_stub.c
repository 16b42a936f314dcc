/* A tiny stand-in for libvideollm used by abi_break.sh: it defines a few
 * public functions against a (possibly deliberately patched) copy of
 * include/vllm/videollm.h so the ABI check can be shown to catch a broken
 * struct or signature without touching the real library. The function
 * bodies are irrelevant; only the types abidw records matter. */
#include "vllm/videollm.h"

#include <string.h>

VLLM_API unsigned vllm_version_number(void) { return VLLM_VERSION_NUMBER; }

VLLM_API vllm_session_params vllm_session_default_params(void)
{
    vllm_session_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    return p;
}

#ifndef ABI_STUB_DROP_FUNCTION
VLLM_API vllm_status vllm_session_create(vllm_model *model, const vllm_session_params *params,
                                         vllm_session **out_session)
{
    (void)model;
    (void)params;
    *out_session = NULL;
    return VLLM_ERR_UNSUPPORTED;
}
#endif

#ifdef VLLM_EXPERIMENTAL
VLLM_API const float *vllm_session_logits(const vllm_session *session)
{
    (void)session;
    return NULL;
}
#endif

#ifdef ABI_STUB_ADD_FUNCTION
VLLM_API int vllm_abi_stub_added(int x);
VLLM_API int vllm_abi_stub_added(int x) { return x + 1; }
#endif
