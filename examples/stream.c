/* stream: a live source pushes frames from its own thread while the main
 * thread asks questions about what has arrived so far.
 *   stream MODEL.gguf MMPROJ.gguf [SECONDS]
 * The "camera" is synthetic: a bright square moving across a dark RGB24
 * frame, 2 frames per second of stream time. vllm_session_push_frame is
 * [any thread]: frames pushed while an answer is being generated wait in
 * the session's queue and enter the context before the next question. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vllm/videollm.h>

enum { W = 160, H = 120, FPS = 2 };

typedef struct camera {
    vllm_session *session;
    int n_frames;
    vllm_status status;
} camera;

static void draw(uint8_t *rgb, int i)
{
    memset(rgb, 16, (size_t)W * H * 3);
    const int x0 = (i * 12) % (W - 32), y0 = H / 2 - 16;
    for (int y = y0; y < y0 + 32; y++)
        for (int x = x0; x < x0 + 32; x++) {
            uint8_t *p = rgb + ((size_t)y * W + x) * 3;
            p[0] = 240, p[1] = 200, p[2] = 40;
        }
}

static void *camera_thread(void *arg)
{
    camera *cam = arg;
    uint8_t *rgb = malloc((size_t)W * H * 3);
    cam->status = rgb ? VLLM_OK : VLLM_ERR_NOMEM;
    for (int i = 0; rgb && i < cam->n_frames && cam->status == VLLM_OK; i++) {
        draw(rgb, i);
        vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H};
        f.planes[0] = rgb;
        f.strides[0] = W * 3;
        f.pts = (double)i / FPS;
        cam->status = vllm_session_push_frame(cam->session, &f); /* pixels are copied/encoded now */
        if (vllm_is_error(cam->status)) fprintf(stderr, "camera: %s\n", vllm_last_error());
    }
    free(rgb);
    return NULL;
}

static int print_piece(void *user_data, int32_t token, const char *piece, size_t len)
{
    (void)user_data;
    (void)token;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf [SECONDS]\n", argv[0]);
        return 2;
    }
    const int seconds = argc > 3 ? atoi(argv[3]) : 4;
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = argv[2];
    vllm_model *model = NULL;
    vllm_session *session = NULL;
    if (vllm_model_load(argv[1], &mp, &model) != VLLM_OK || vllm_session_create(model, NULL, &session) != VLLM_OK) {
        fprintf(stderr, "stream: %s\n", vllm_last_error());
        vllm_model_free(model);
        return 1;
    }
    camera cam = {.session = session, .n_frames = seconds * FPS};
    pthread_t tid;
    if (pthread_create(&tid, NULL, camera_thread, &cam) != 0) {
        fprintf(stderr, "stream: cannot start the camera thread\n");
        return 1;
    }
    /* Ask while frames keep coming, then once more after the last one. */
    static const char *questions[] = {"What do you see so far?", "Where is the square now?"};
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 32;
    gp.on_token = print_piece;
    vllm_status st = VLLM_OK;
    for (int q = 0; q < 2 && !vllm_is_error(st); q++) {
        if (q == 1) pthread_join(tid, NULL);
        printf("Q: %s\nA:", questions[q]);
        st = vllm_session_generate(session, questions[q], &gp);
        printf("\n");
    }
    if (vllm_is_error(st)) {
        fprintf(stderr, "stream: %s\n", vllm_session_last_error(session));
        pthread_join(tid, NULL); /* only reached if the first answer failed */
    }
    vllm_session_stats stats = {.struct_size = sizeof stats};
    vllm_session_get_stats(session, &stats);
    printf("frames pushed %lld, encoded %lld, dropped %lld; %d context positions\n", (long long)stats.n_frames_seen,
           (long long)stats.n_frames_encoded, (long long)stats.n_frames_dropped, stats.n_past);
    vllm_session_free(session);
    vllm_model_free(model);
    return vllm_is_error(st) || vllm_is_error(cam.status) ? 1 : 0;
}
