/* Model and mmproj paths that are not what they should be get a clear
 * error, never a hang or a misleading message:
 *  - non-regular files (FIFO, socket, directory, character device) are
 *    refused before open() can block on them (a FIFO without a writer
 *    blocks in open(); an alarm turns such a hang into a failure);
 *  - an mmproj given as the text model, or a text model as the mmproj,
 *    is named as such (not "tokenizer: missing key ...");
 * usage: test_model_files PATH-TO-videollm-gen-model */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "vllm/videollm.h"

static char dir[] = "/tmp/videollm-mfiles-XXXXXX";
static char text_model[1024], mmproj[1024];

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: loading a model path blocked for 10 s (open() on a FIFO?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

/* Load `path` as the text model, or as the mmproj of the fixture text
 * model; the error must come back within the alarm and name `want`. */
static void refused(const char *path, int as_mmproj, const char *want, const char *what)
{
    vllm_model_params p = vllm_model_default_params();
    if (as_mmproj) p.mmproj_path = path;
    vllm_model *m = NULL;
    alarm(10);
    vllm_status st = vllm_model_load(as_mmproj ? text_model : path, &p, &m);
    alarm(0);
    CHECK(st != VLLM_OK && !m, "%s as %s: loaded", what, as_mmproj ? "mmproj" : "model");
    const char *msg = vllm_last_error();
    CHECK(strstr(msg, path) && strstr(msg, want), "%s as %s: message \"%s\" should name the path and say \"%s\"",
          what, as_mmproj ? "mmproj" : "model", msg, want);
    vllm_model_free(m);
}

static void test_non_regular(void)
{
    char fifo[1100], sock[1100];
    snprintf(fifo, sizeof fifo, "%s/model.fifo", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
    snprintf(sock, sizeof sock, "%s/model.sock", dir);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    REQUIRE(sfd >= 0 && bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0, "unix socket");
    for (int as_mmproj = 0; as_mmproj < 2; as_mmproj++) {
        refused(fifo, as_mmproj, "FIFO", "a FIFO");
        refused(sock, as_mmproj, "socket", "a socket");
        refused(dir, as_mmproj, "directory", "a directory");
        refused("/dev/zero", as_mmproj, "character device", "/dev/zero");
    }
    close(sfd);
    unlink(sock);
    unlink(fifo);
}

static void test_swapped_roles(void)
{
    refused(mmproj, 0, "is a vision projector (mmproj", "the mmproj");
    CHECK(strstr(vllm_last_error(), "--mmproj") != NULL, "the message says where an mmproj goes: %s", vllm_last_error());
    refused(text_model, 1, "is a text model", "the text model");
    CHECK(strstr(vllm_last_error(), "-m") != NULL, "the message says where a text model goes: %s", vllm_last_error());
    /* the right way round still loads */
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mmproj;
    vllm_model *m = NULL;
    CHECK(vllm_model_load(text_model, &p, &m) == VLLM_OK, "fixture pair: %s", vllm_last_error());
    vllm_model_free(m);
}

TEST_MAIN_BEGIN
    REQUIRE(argc > 1, "usage: test_model_files PATH-TO-videollm-gen-model");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    signal(SIGALRM, on_alarm);
    const char *data = getenv("VIDEOLLM_TEST_DATA") ? getenv("VIDEOLLM_TEST_DATA") : "tests/data";
    snprintf(text_model, sizeof text_model, "%s/tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf", data);
    snprintf(mmproj, sizeof mmproj, "%s/tiny-smolvlm2/models/tiny-smolvlm2-main-mmproj-F32.gguf", data);
    test_non_regular();
    test_swapped_roles();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
TEST_MAIN_END
