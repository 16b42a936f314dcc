/* A program written the way an outside user would: it knows libvideollm
 * only through `pkg-config --cflags --libs videollm` and the installed
 * <vllm/videollm.h>. install_check.sh builds and runs it against a
 * `meson install`ed prefix. It exits non-zero if the library it loaded
 * disagrees with the header it was compiled against. */
#include <vllm/videollm.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *status = vllm_status_string(VLLM_ERR_FORMAT);
    printf("libvideollm %s (header %s); VLLM_ERR_FORMAT = \"%s\"\n", vllm_version(),
           VLLM_VERSION_STRING, status ? status : "(null)");
    if (strcmp(vllm_version(), VLLM_VERSION_STRING) != 0) return 1;
    if (vllm_version_number() != VLLM_VERSION_NUMBER) return 1;
    if (status == NULL || status[0] == '\0') return 1;
    return 0;
}
