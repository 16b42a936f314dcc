#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VL_ERROR_CAP 1024

static _Thread_local char tls_message[VL_ERROR_CAP];

vllm_status vl_error(vllm_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    return status;
}

vllm_status vl_error_prefix(vllm_status status, const char *fmt, ...)
{
    char prefix[VL_ERROR_CAP];
    char old[VL_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_message, sizeof old);
    if (old[0])
        snprintf(tls_message, sizeof tls_message, "%s: %s", prefix, old);
    else
        snprintf(tls_message, sizeof tls_message, "%s", prefix);
    return status;
}

const char *vl_error_message(void) { return tls_message; }

void vl_error_clear(void) { tls_message[0] = '\0'; }

const char *vllm_last_error(void) { return tls_message; }

const char *vllm_status_string(vllm_status status)
{
    switch (status) {
    case VLLM_OK: return "VLLM_OK: success";
    case VLLM_DONE: return "VLLM_DONE: finished";
    case VLLM_ERR_INVALID_ARG: return "VLLM_ERR_INVALID_ARG: invalid argument";
    case VLLM_ERR_IO: return "VLLM_ERR_IO: input/output error";
    case VLLM_ERR_FORMAT: return "VLLM_ERR_FORMAT: malformed input";
    case VLLM_ERR_UNSUPPORTED: return "VLLM_ERR_UNSUPPORTED: not supported";
    case VLLM_ERR_NOMEM: return "VLLM_ERR_NOMEM: out of memory";
    case VLLM_ERR_CONTEXT_FULL: return "VLLM_ERR_CONTEXT_FULL: context window full";
    case VLLM_ERR_CANCELLED: return "VLLM_ERR_CANCELLED: cancelled";
    case VLLM_ERR_DECODE: return "VLLM_ERR_DECODE: media decoding failed";
    case VLLM_ERR_BUFFER_TOO_SMALL: return "VLLM_ERR_BUFFER_TOO_SMALL: output buffer too small";
    case VLLM_ERR_STATE: return "VLLM_ERR_STATE: invalid in the current state";
    case VLLM_ERR_INTERNAL: return "VLLM_ERR_INTERNAL: internal error";
    }
    return "VLLM_ERR_UNKNOWN: unknown status code";
}
