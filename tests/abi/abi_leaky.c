/* A library built without the version script or hidden visibility: its
 * exports (a non-vllm_ name, no VIDEOLLM_1.0 node, no SONAME) must make
 * check_symbols.sh fail. */
int vllm_leaky_api(void);
int leaky_internal_helper(void);

int vllm_leaky_api(void) { return 1; }
int leaky_internal_helper(void) { return 2; }
