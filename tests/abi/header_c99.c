/* The public header compiles as C99 under -Wall -Wextra -pedantic -Werror. */
#include <vllm/videollm.h>

#include "header_check.h"

int main(void)
{
    int bad = header_check();
    if (bad) fprintf(stderr, "header_c99: %d checks failed\n", bad);
    return bad ? 1 : 0;
}
