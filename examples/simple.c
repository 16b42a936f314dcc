/* simple: ask one question about a video file, streaming the answer.
 *   simple MODEL.gguf MMPROJ.gguf VIDEO "question"
 * Uses only the public header; build: cc simple.c $(pkg-config --cflags --libs videollm) */
#include <stdio.h>
#include <vllm/videollm.h>

static int print_piece(void *user_data, int32_t token, const char *piece, size_t len)
{
    (void)user_data;
    (void)token;
    fwrite(piece, 1, len, stdout); /* raw bytes: a UTF-8 character may span two pieces */
    fflush(stdout);
    return 0; /* non-zero would stop the answer */
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf VIDEO QUESTION\n", argv[0]);
        return 2;
    }
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = argv[2];
    vllm_model *model = NULL;
    vllm_session *session = NULL;
    vllm_status st = vllm_model_load(argv[1], &mp, &model);
    if (st == VLLM_OK) st = vllm_session_create(model, NULL, &session);
    if (st != VLLM_OK) {
        fprintf(stderr, "simple: %s\n", vllm_last_error());
        vllm_model_free(model);
        return 1;
    }
    st = vllm_session_push_video(session, argv[3], NULL); /* the model family's frame sampling */
    if (!vllm_is_error(st)) {
        vllm_generate_params gp = vllm_generate_default_params();
        gp.max_tokens = 128;
        gp.on_token = print_piece;
        st = vllm_session_generate(session, argv[4], &gp);
        printf("\n");
    }
    if (vllm_is_error(st)) fprintf(stderr, "simple: %s\n", vllm_session_last_error(session));
    vllm_session_free(session);
    vllm_model_free(model);
    return vllm_is_error(st) ? 1 : 0;
}
