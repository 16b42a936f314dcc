/* Error discipline inside the library.
 *
 * A failing internal function records a human message with vl_error() and
 * returns the status; callers propagate the status unchanged (the deepest
 * message is the most precise one, so it is never overwritten on the way
 * up unless a caller adds context with vl_error_prefix()). The message is
 * thread-local and surfaces through vllm_last_error(). */
#ifndef VL_CORE_ERROR_H
#define VL_CORE_ERROR_H

#include "vllm/videollm.h"

#if defined(__GNUC__)
#  define VL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define VL_PRINTF(a, b)
#endif

/* Record a message for `status` on this thread and return `status`. */
vllm_status vl_error(vllm_status status, const char *fmt, ...) VL_PRINTF(2, 3);

/* Prepend "<context>: " to the current thread's message; returns `status`. */
vllm_status vl_error_prefix(vllm_status status, const char *fmt, ...) VL_PRINTF(2, 3);

/* The current thread's message ("" if none). */
const char *vl_error_message(void);

/* Clear the current thread's message. */
void vl_error_clear(void);

/* Propagate an error status from an expression. */
#define VL_TRY(expr)                                                     \
    do {                                                                 \
        vllm_status vl_try_status_ = (expr);                             \
        if (vllm_is_error(vl_try_status_)) return vl_try_status_;        \
    } while (0)

#endif
