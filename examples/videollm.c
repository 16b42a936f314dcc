/* videollm: the command-line front end of libvideollm.
 *
 *   videollm <command> [options]
 *
 * Each command lives in its own file (cli_<command>.c) and is listed in
 * the table below; add a row (and the file to examples/meson.build) to
 * add a command. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vllm/videollm.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cli_info, "describe a GGUF file: metadata, hyper-parameters, tokenizer, tensors"},
    {"tokenize", cli_tokenize, "print the token ids of a text"},
    {"ask", cli_ask, "ask about a video, image or live frames (or plain text); the answer streams"},
    {"chat", cli_chat, "several questions, one per input line, over the same video/images"},
    {"frames", cli_frames, "decode and sample a video's frames (index, time; optional PNGs)"},
    {"watch", cli_watch, "standing questions over a live stream: a line per changed answer"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: videollm <command> [options]   (libvideollm %s)\n\ncommands:\n", vllm_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'videollm <command> --help' or 'videollm help <command>' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") && argc > 2) { /* `videollm help ask` = `videollm ask --help` */
        char *help_argv[] = {argv[2], "--help", NULL};
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) return commands[i].run(2, help_argv);
        fprintf(stderr, "videollm help: unknown command '%s'\nTry 'videollm --help'.\n", argv[2]);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("videollm %s\n", vllm_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "videollm: unknown command '%s'\nTry 'videollm --help'.\n", argv[1]);
    return 2;
}
