/* Version queries; the rest of the public API lives in model.c/session.c. */
#include "vllm/videollm.h"

const char *vllm_version(void) { return VLLM_VERSION_STRING; }

unsigned vllm_version_number(void) { return VLLM_VERSION_NUMBER; }
