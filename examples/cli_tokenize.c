/* videollm tokenize -m MODEL.gguf [--no-bos] [--parse-special] (-f FILE | -p TEXT)
 * Prints the token ids of the text, space-separated, on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vllm/videollm.h"

static void usage(void)
{
    printf("usage: videollm tokenize -m MODEL.gguf [--no-bos] [--parse-special] (-f FILE | -p TEXT)\n"
           "  -m, --model FILE     model GGUF (only its vocabulary is loaded)\n"
           "  -p, --prompt TEXT    the text\n"
           "  -f, --file FILE      read the text from FILE\n"
           "  --no-bos             do not add BOS/EOS\n"
           "  --parse-special      match control tokens written in the text\n");
}

int cli_tokenize(int argc, char **argv)
{
    const char *model_path = NULL, *file = NULL, *text = NULL;
    unsigned flags = VLLM_TOKENIZE_ADD_SPECIAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int takes_value = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "-f") || !strcmp(a, "--file") ||
                                !strcmp(a, "-p") || !strcmp(a, "--prompt");
        if (takes_value && i + 1 >= argc) return cli_usage_error("tokenize", "%s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = argv[++i];
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) text = argv[++i];
        else if (!strcmp(a, "--no-bos")) flags &= ~VLLM_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(a, "--parse-special")) flags |= VLLM_TOKENIZE_PARSE_SPECIAL;
        else if (a[0] == '-') return cli_usage_error("tokenize", "unknown option '%s'", a);
        else return cli_usage_error("tokenize", "unexpected argument '%s' (the text goes after -p)", a);
    }
    if (!model_path) return cli_usage_error("tokenize", "no model: give -m MODEL.gguf");
    if (!file == !text) return cli_usage_error("tokenize", "give the text with -p TEXT or -f FILE (one of them)");
    size_t len = 0;
    char *owned = NULL;
    if (file) {
        owned = cli_read_file(file, &len);
        if (!owned) {
            fprintf(stderr, "videollm tokenize: cannot read %s\n", file);
            return 1;
        }
        text = owned;
    } else {
        len = strlen(text);
    }

    vllm_model_params mp = vllm_model_default_params();
    mp.vocab_only = 1;
    vllm_model *model = NULL;
    vllm_status st = vllm_model_load(model_path, &mp, &model);
    if (vllm_is_error(st)) {
        fprintf(stderr, "videollm tokenize: %s\n", vllm_last_error());
        free(owned);
        return 1;
    }
    size_t n = 0;
    st = vllm_tokenize(model, text, len, flags, NULL, 0, &n);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids && (st == VLLM_OK || st == VLLM_ERR_BUFFER_TOO_SMALL)) st = vllm_tokenize(model, text, len, flags, ids, n, &n);
    if (vllm_is_error(st) || !ids) {
        fprintf(stderr, "videollm tokenize: %s\n", ids ? vllm_last_error() : "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    free(owned);
    vllm_model_free(model);
    return vllm_is_error(st) ? 1 : 0;
}
