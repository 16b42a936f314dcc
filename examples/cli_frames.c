/* videollm frames --video FILE [--fps F] [--max-frames N] [--n-frames N]
 *                 [--policy fps|uniform|ffmpeg|keyframes|all] [--start S] [--end E]
 *                 [--size WxH] [--filter bicubic|bilinear|lanczos|area|point] [--out DIR]
 *
 * Prints the video's facts and one line per kept frame, `index pts_seconds`
 * (stdout), and with --out writes each frame as DIR/frame_NNNNN.png through
 * libavcodec's PNG encoder. Uses the internal decode module directly (the
 * public API samples videos only inside a session). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>

#include "cli.h"
#include "core/error.h"
#include "decode/video.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: videollm frames --video FILE [options]\n"
               "  --policy P       fps (SmolVLM2 rule, default) | uniform | ffmpeg (-vf fps=F) | keyframes | all\n"
               "  --fps F          frames per second for fps/ffmpeg (default 1)\n"
               "  --max-frames N   cap (fps rule default 64; others: no cap)\n"
               "  --n-frames N     frames for --policy uniform (implies it when no policy is given)\n"
               "  --start S --end E  time range in seconds, [S, E)\n"
               "  --size WxH       output size (default: the native size)\n"
               "  --filter F       bicubic (default) | bilinear | lanczos | area | point\n"
               "  --out DIR        write frame_NNNNN.png files there\n"
               "  --sheet OUT.png  contact sheet marking dedup drops and pruned token cells\n"
               "                   (--fast | --dedup [T] --prune-rate Q; --mmproj M to shade tokens)\n");
}

int cli_frames(int argc, char **argv)
{
    const char *video = NULL, *out = NULL, *policy = NULL;
    vl_sampling s = vl_sampling_default();
    int max_set = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
    if (cli_sheet_wanted(argc, argv)) return cli_sheet(argc, argv); /* contact sheet: cli_sheet.c */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') return cli_usage_error("frames", "unexpected argument '%s'", a);
        static const char *const known[] = {"--video", "--out", "--policy", "--fps", "--max-frames", "--n-frames",
                                            "--start", "--end", "--size", "--filter"};
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) is_known |= !strcmp(a, known[k]);
        if (!is_known) return cli_usage_error("frames", "unknown option '%s'", a);
        if (!val) return cli_usage_error("frames", "%s needs a value", a);
        i++;
        int bad = 0;
        if (!strcmp(a, "--video")) video = val;
        else if (!strcmp(a, "--out")) out = val;
        else if (!strcmp(a, "--policy")) policy = val;
        else if (!strcmp(a, "--fps")) bad = cli_parse_double("frames", a, val, 0.001, 1000, &s.fps);
        else if (!strcmp(a, "--max-frames")) bad = cli_parse_i32("frames", a, val, 0, 1 << 20, &s.max_frames), max_set = 1;
        else if (!strcmp(a, "--n-frames")) bad = cli_parse_i32("frames", a, val, 0, 1 << 20, &s.n_frames);
        else if (!strcmp(a, "--start")) bad = cli_parse_double("frames", a, val, 0, 1e9, &s.start);
        else if (!strcmp(a, "--end")) bad = cli_parse_double("frames", a, val, 0, 1e9, &s.end);
        else if (!strcmp(a, "--size")) {
            char *x = strchr(val, 'x'), w[16];
            if (!x || x == val || (size_t)(x - val) >= sizeof w)
                return cli_usage_error("frames", "--size: '%s' is not WxH", val);
            memcpy(w, val, (size_t)(x - val));
            w[x - val] = '\0';
            char wlabel[64], hlabel[64];
            snprintf(wlabel, sizeof wlabel, "--size %.40s: width", val);
            snprintf(hlabel, sizeof hlabel, "--size %.40s: height", val);
            bad = cli_parse_i32("frames", wlabel, w, 1, 16384, &s.out_width) ||
                  cli_parse_i32("frames", hlabel, x + 1, 1, 16384, &s.out_height);
        } else if (!strcmp(a, "--filter")) {
            static const char *names[] = {"bicubic", "bilinear", "lanczos", "area", "point"};
            int k = -1;
            for (int j = 0; j < 5; j++)
                if (!strcmp(val, names[j])) k = j;
            if (k < 0) return cli_usage_error("frames", "--filter: unknown filter '%s'", val);
            s.scale_filter = k;
        } else {
            return cli_usage_error("frames", "unknown option '%s'", a);
        }
        if (bad) return cli_usage_hint("frames");
    }
    if (!video) return cli_usage_error("frames", "no video: give --video FILE");
    if (s.end > 0 && s.end <= s.start)
        return cli_usage_error("frames", "--end %g is not after --start %g (leave --end out to read to the end)", s.end,
                               s.start);
    if (!policy) policy = s.n_frames > 0 ? "uniform" : "fps";
    if (!strcmp(policy, "fps")) s.policy = VL_SAMPLE_FPS;
    else if (!strcmp(policy, "uniform")) s.policy = VL_SAMPLE_UNIFORM;
    else if (!strcmp(policy, "ffmpeg")) s.policy = VL_SAMPLE_FFMPEG_FPS;
    else if (!strcmp(policy, "keyframes")) s.policy = VL_SAMPLE_KEYFRAMES;
    else if (!strcmp(policy, "all")) s.policy = VL_SAMPLE_ALL;
    else return cli_usage_error("frames", "--policy: unknown policy '%s'", policy);
    if (s.policy != VL_SAMPLE_FPS && !max_set) s.max_frames = 0;
    if (out && mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "videollm frames: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    vl_video *v = NULL;
    vllm_status st = vl_video_open(video, &v);
    if (st != VLLM_OK) {
        fprintf(stderr, "videollm frames: %s\n", vl_error_message());
        return 1;
    }
    const vl_video_info *in = vl_video_get_info(v);
    fprintf(stderr, "# %s: %s %dx%d (coded %dx%d, rotation %d), %.4f fps, %.3f s, %lld frames, start %.4f s%s\n",
            video, in->codec, in->width, in->height, in->coded_width, in->coded_height, in->rotation, in->fps,
            in->duration, (long long)in->n_frames_est, in->start_time, in->cfr ? "" : ", variable frame rate");
    st = vl_video_sample_begin(v, &s);
    int rc = 0;
    if (st == VLLM_OK) {
        vl_rgb_frame f;
        int64_t n = 0;
        while ((st = vl_video_sample_next(v, &f)) == VLLM_OK) {
            printf("%lld %.6f\n", (long long)f.index, f.pts);
            if (out) {
                char path[4096];
                snprintf(path, sizeof path, "%s/frame_%05lld.png", out, (long long)n);
                if (cli_write_png(path, f.rgb, f.width, f.height, f.stride) != 0) {
                    fprintf(stderr, "videollm frames: cannot write %s\n", path);
                    rc = 1;
                    break;
                }
            }
            n++;
        }
    }
    if (vllm_is_error(st)) {
        fprintf(stderr, "videollm frames: %s\n", vl_error_message());
        rc = 1;
    }
    vl_video_close(v);
    return rc;
}
