/* A program written the way an outside user would: it knows libvideollm
 * only through `pkg-config --cflags --libs videollm` and the installed
 * <vllm/videollm.h>. install_check.sh builds and runs it against a
 * `meson install`ed prefix:  consumer [TEXT_MODEL.gguf]
 * It exits non-zero if the library it loaded disagrees with the header it
 * was compiled against, if a missing file is not reported as an error with
 * a message, or if the given model does not load and tokenize. */
#include <vllm/videollm.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *status = vllm_status_string(VLLM_ERR_FORMAT);
    printf("libvideollm %s (header %s); VLLM_ERR_FORMAT = \"%s\"\n", vllm_version(),
           VLLM_VERSION_STRING, status ? status : "(null)");
    if (strcmp(vllm_version(), VLLM_VERSION_STRING) != 0) return 1;
    if (vllm_version_number() != VLLM_VERSION_NUMBER) return 1;
    if (status == NULL || status[0] == '\0') return 1;

    vllm_model *model = NULL;
    vllm_status st = vllm_model_load("/nonexistent/model.gguf", NULL, &model);
    printf("missing file: %s: %s\n", vllm_status_string(st), vllm_last_error());
    if (!vllm_is_error(st) || model != NULL || vllm_last_error()[0] == '\0') return 1;

    if (argc > 1) {
        vllm_model_info info;
        int32_t ids[64];
        size_t n = 0;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        st = vllm_model_load(argv[1], NULL, &model);
        if (st == VLLM_OK) st = vllm_model_get_info(model, &info);
        if (st == VLLM_OK) st = vllm_tokenize(model, "Hello world", 11, 0, ids, 64, &n);
        if (st != VLLM_OK) {
            fprintf(stderr, "consumer: %s: %s\n", argv[1], vllm_last_error());
            vllm_model_free(model);
            return 1;
        }
        printf("%s: %s, %d layers, vocabulary %d; \"Hello world\" -> %zu tokens\n", argv[1],
               info.architecture, info.n_layer, info.n_vocab, n);
        vllm_model_free(model);
        if (n == 0) return 1;
    }
    return 0;
}
