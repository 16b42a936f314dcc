/* The public header compiles as C11 under -Wall -Wextra -pedantic -Werror,
 * and the layout rules the ABI relies on hold: every extensible struct
 * starts with its size_t struct_size. */
#include <vllm/videollm.h>

#include <stddef.h>

#include "header_check.h"

#define STRUCT_SIZE_FIRST(T)                                                  \
    _Static_assert(offsetof(T, struct_size) == 0, #T ": struct_size must be first"); \
    _Static_assert(sizeof(((T *)0)->struct_size) == sizeof(size_t), #T ": struct_size must be size_t")

STRUCT_SIZE_FIRST(vllm_model_params);
STRUCT_SIZE_FIRST(vllm_model_info);
STRUCT_SIZE_FIRST(vllm_session_params);
STRUCT_SIZE_FIRST(vllm_generate_params);
STRUCT_SIZE_FIRST(vllm_session_stats);
STRUCT_SIZE_FIRST(vllm_frame);
STRUCT_SIZE_FIRST(vllm_video_params);

int main(void)
{
    int bad = header_check();
    if (bad) fprintf(stderr, "header_c11: %d checks failed\n", bad);
    return bad ? 1 : 0;
}
