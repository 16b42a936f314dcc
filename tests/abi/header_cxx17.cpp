// The public header compiles as C++17 under -Wall -Wextra -pedantic -Werror
// and gives the functions C linkage: this program links against the C
// library, which would fail on mangled names without the extern "C" block.
#include <vllm/videollm.h>

#include <cstddef>
#include <type_traits>

#include "header_check.h"

static_assert(std::is_standard_layout<vllm_session_params>::value, "params must be C layout");
static_assert(offsetof(vllm_generate_params, struct_size) == 0, "struct_size must be first");

int main()
{
    int bad = header_check();
    if (bad) fprintf(stderr, "header_cxx17: %d checks failed\n", bad);
    return bad ? 1 : 0;
}
