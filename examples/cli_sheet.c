/* videollm frames --video FILE --sheet OUT.png [--fast] [--dedup [T]] [--prune-rate Q] [--mmproj MMPROJ.gguf]
 *                 [--fps F] [--max-frames N] [--n-frames N] [--start S] [--end E] [--cols N]
 *
 * A contact sheet of the sampled frames, to see what compression does:
 * each frame as a square thumbnail (stretched to the encoder's square
 * input, as the model sees it) with its "MM:SS" time; frames dedup drops
 * are dimmed, framed in red and crossed; with --mmproj, each kept frame
 * is encoded and the token-grid cells pruning removes are shaded (dark
 * with a hatch), on the encoder's (S/patch/scale)^2 grid (8x8 for
 * SmolVLM2-256M). It runs the library's own compression functions
 * (lib/compression) in the same order as a session does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "cli.h"
#include "compression/compress.h"
#include "core/error.h"
#include "core/gguf.h"
#include "core/threadpool.h"
#include "decode/video.h"
#include "encoder/encoder.h"
#include "encoder/preprocess.h"

#define THUMB 128
#define BAND 16
#define PAD 4

/* 3x5 digits and ':' (rows top to bottom, 3 bits each, MSB = left) */
static const uint8_t FONT[11][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 2, 0, 2, 0},
};

typedef struct sheet {
    uint8_t *px;
    int w, h;
} sheet;

static void put(sheet *s, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    if (x < 0 || y < 0 || x >= s->w || y >= s->h) return;
    uint8_t *p = s->px + ((size_t)y * s->w + x) * 3;
    p[0] = r, p[1] = g, p[2] = b;
}

static void text(sheet *s, int x, int y, const char *t, int scale)
{
    for (; *t; t++, x += 4 * scale) {
        const int g = *t == ':' ? 10 : *t >= '0' && *t <= '9' ? *t - '0' : -1;
        if (g < 0) continue;
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (FONT[g][r] >> (2 - c) & 1)
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++) put(s, x + c * scale + dx, y + r * scale + dy, 255, 255, 255);
    }
}

/* Box-sample a frame into a THUMB x THUMB square at (x0, y0). */
static void thumb(sheet *s, int x0, int y0, const vl_rgb_frame *f)
{
    for (int y = 0; y < THUMB; y++) {
        const int sy0 = (int)((int64_t)y * f->height / THUMB), sy1 = (int)((int64_t)(y + 1) * f->height / THUMB);
        for (int x = 0; x < THUMB; x++) {
            const int sx0 = (int)((int64_t)x * f->width / THUMB), sx1 = (int)((int64_t)(x + 1) * f->width / THUMB);
            unsigned acc[3] = {0, 0, 0}, n = 0;
            for (int yy = sy0; yy < (sy1 > sy0 ? sy1 : sy0 + 1); yy++)
                for (int xx = sx0; xx < (sx1 > sx0 ? sx1 : sx0 + 1); xx++, n++)
                    for (int k = 0; k < 3; k++) acc[k] += f->rgb[(size_t)yy * f->stride + (size_t)xx * 3 + k];
            put(s, x0 + x, y0 + y, (uint8_t)(acc[0] / n), (uint8_t)(acc[1] / n), (uint8_t)(acc[2] / n));
        }
    }
}

/* Darken (factor /4) the pixels of a rectangle, hatched every 4th diagonal. */
static void shade(sheet *s, int x0, int y0, int w, int h, int hatch)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            uint8_t *p = s->px + ((size_t)y * s->w + x) * 3;
            if (hatch && (x + y) % 6 == 0) p[0] = p[1] = p[2] = 90;
            else p[0] /= 4, p[1] /= 4, p[2] /= 4;
        }
}

static void dropped(sheet *s, int x0, int y0)
{
    shade(s, x0, y0, THUMB, THUMB, 0);
    for (int i = 0; i < THUMB; i++)
        for (int t = -1; t <= 1; t++) {
            put(s, x0 + i + t, y0 + i, 230, 30, 30);
            put(s, x0 + THUMB - 1 - i + t, y0 + i, 230, 30, 30);
        }
    for (int i = -3; i < THUMB + 3; i++)
        for (int t = 1; t <= 3; t++) {
            put(s, x0 + i, y0 - t, 230, 30, 30);
            put(s, x0 + i, y0 + THUMB - 1 + t, 230, 30, 30);
            put(s, x0 - t, y0 + i, 230, 30, 30);
            put(s, x0 + THUMB - 1 + t, y0 + i, 230, 30, 30);
        }
}

int cli_sheet_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sheet")) return 1;
    return 0;
}

/* One sampled frame's record: its time, whether dedup dropped it, and
 * which token cells survived pruning (bit per cell; all set if none). */
typedef struct rec {
    double pts;
    int dropped;
    uint8_t *kept; /* grid*grid flags */
} rec;

int cli_sheet(int argc, char **argv)
{
    const char *video = NULL, *out = NULL, *mmproj = NULL;
    vl_sampling sp = vl_sampling_default();
    vl_compress c;
    memset(&c, 0, sizeof c);
    int32_t cols = 8;
    const char *cmd = "frames --sheet";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--fast")) {
            vllm_video_params f = vllm_video_default_params();
            vllm_compression_preset("fast", NULL, &f);
            c.set.dedup_threshold = f.dedup_threshold;
            c.set.prune_rate = f.prune_rate;
            continue;
        }
        if (!strcmp(a, "--dedup")) { /* the threshold is optional */
            if (cli_is_number(v)) bad = cli_parse_float(cmd, a, argv[++i], 0, 1, &c.set.dedup_threshold);
            else c.set.dedup_threshold = 0.02f;
            if (bad) return cli_usage_hint(cmd);
            continue;
        }
        if (a[0] != '-') return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (!v) return cli_usage_error(cmd, "%s needs a value", a);
        i++;
        if (!strcmp(a, "--video")) video = v;
        else if (!strcmp(a, "--sheet")) out = v;
        else if (!strcmp(a, "--mmproj")) mmproj = v;
        else if (!strcmp(a, "--prune-rate")) bad = cli_parse_float(cmd, a, v, 0, 0.999, &c.set.prune_rate);
        else if (!strcmp(a, "--fps")) bad = cli_parse_double(cmd, a, v, 0.001, 1000, &sp.fps);
        else if (!strcmp(a, "--max-frames")) bad = cli_parse_i32(cmd, a, v, 0, 1 << 20, &sp.max_frames);
        else if (!strcmp(a, "--n-frames")) bad = cli_parse_i32(cmd, a, v, 1, 1 << 20, &sp.n_frames), sp.policy = VL_SAMPLE_UNIFORM;
        else if (!strcmp(a, "--start")) bad = cli_parse_double(cmd, a, v, 0, 1e9, &sp.start);
        else if (!strcmp(a, "--end")) bad = cli_parse_double(cmd, a, v, 0, 1e9, &sp.end);
        else if (!strcmp(a, "--cols")) bad = cli_parse_i32(cmd, a, v, 1, 64, &cols);
        else return cli_usage_error(cmd, "unknown option '%s'", a);
        if (bad) return cli_usage_hint(cmd);
    }
    if (!video || !out) return cli_usage_error(cmd, "need --video FILE and --sheet OUT.png");
    if (sp.end > 0 && sp.end <= sp.start)
        return cli_usage_error(cmd, "--end %g is not after --start %g (leave --end out to read to the end)", sp.end, sp.start);
    if (vllm_is_error(vl_compress_check(&c.set, "sheet"))) {
        fprintf(stderr, "videollm %s: %s\n", cmd, vl_error_message());
        return 2;
    }
    vl_gguf *g = NULL;
    vl_vision *vis = NULL;
    vl_pool *pool = NULL;
    vl_video *vid = NULL;
    rec *recs = NULL;
    int n = 0, cap = 0, rc = 1, grid = 0, S = 0, T = 0, E = 0;
    uint8_t *tile = NULL;
    float *pix = NULL, *embd = NULL;
    sheet sh = {0};
    uint8_t **thumbs = NULL;
    if (mmproj) {
        if (vllm_is_error(vl_gguf_open(mmproj, 1, &g)) || vllm_is_error(vl_vision_load_ex(g, VL_VISION_BF16, &vis))) goto fail;
        pool = vl_pool_create(0);
        S = vl_vision_image_size(vis), T = vl_vision_tokens_per_tile(vis), E = vl_vision_n_embd_out(vis);
        for (grid = 1; grid * grid < T; grid++) {}
        tile = malloc((size_t)3 * S * S);
        pix = malloc((size_t)3 * S * S * sizeof *pix);
        embd = malloc((size_t)T * E * sizeof *embd);
        if (!pool || !tile || !pix || !embd || grid * grid != T) {
            fprintf(stderr, "frames --sheet: cannot set up the encoder\n");
            goto done;
        }
    } else if (c.set.prune_rate > 0) {
        fprintf(stderr, "frames --sheet: pruned token cells are only shaded with --mmproj (the encoder decides them)\n");
    }
    if (vllm_is_error(vl_video_open(video, &vid)) || vllm_is_error(vl_video_sample_begin(vid, &sp))) goto fail;
    vl_rgb_frame f;
    vllm_status st;
    /* one pass: decide each frame and keep its thumbnail */
    while ((st = vl_video_sample_next(vid, &f)) == VLLM_OK) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            rec *r = realloc(recs, (size_t)cap * sizeof *r);
            uint8_t **t = realloc(thumbs, (size_t)cap * sizeof *t);
            if (r) recs = r;
            if (t) thumbs = t;
            if (!r || !t) goto fail;
        }
        rec *r = &recs[n];
        memset(r, 0, sizeof *r);
        thumbs[n] = NULL;
        r->pts = f.pts;
        int dup = 0;
        if (vllm_is_error(vl_compress_dedup(&c, f.rgb, f.width, f.height, (size_t)f.stride, &dup))) goto fail;
        r->dropped = dup;
        if (!dup && vis) {
            vl_rgb8 img = {f.rgb, f.width, f.height, (size_t)f.stride};
            float mean[3], sd[3];
            vl_vision_norm(vis, mean, sd);
            int kept_n = 0;
            if (vllm_is_error(vl_preprocess_video_frame(&img, S, 0, tile))) goto fail;
            vl_normalize_planar(tile, 1, S, mean, sd, pix);
            if (vllm_is_error(vl_vision_encode(vis, pool, pix, 1, embd)) ||
                vllm_is_error(vl_compress_tokens(&c, embd, T, E, &kept_n)))
                goto fail;
            r->kept = calloc((size_t)T, 1);
            if (!r->kept) goto fail;
            for (int k = 0; k < c.n_kept; k++) r->kept[c.kept[k]] = 1;
        }
        /* the thumbnail is rendered later; keep a small copy now (frames are reused by the iterator) */
        sheet one = {malloc((size_t)THUMB * THUMB * 3), THUMB, THUMB};
        if (!one.px) {
            free(r->kept);
            goto fail;
        }
        thumb(&one, 0, 0, &f);
        thumbs[n++] = one.px;
        if (r->kept) fprintf(stderr, "%.3f s kept, %d of %d tokens\n", f.pts, c.n_kept, T);
        else fprintf(stderr, "%.3f s %s\n", f.pts, dup ? "dropped (dedup)" : "kept");
    }
    if (vllm_is_error(st)) goto fail;
    {
        const int rows = (n + cols - 1) / cols, cw = THUMB + 2 * PAD, ch = THUMB + BAND + 2 * PAD;
        sh.w = cols * cw;
        sh.h = (rows ? rows : 1) * ch;
        sh.px = calloc((size_t)sh.w * sh.h, 3);
        if (!sh.px) goto fail;
        int n_drop = 0, n_pruned = 0;
        for (int i = 0; i < n; i++) {
            const int x0 = (i % cols) * cw + PAD, y0 = (i / cols) * ch + PAD;
            for (int y = 0; y < THUMB; y++)
                memcpy(sh.px + ((size_t)(y0 + y) * sh.w + x0) * 3, thumbs[i] + (size_t)y * THUMB * 3, THUMB * 3);
            if (recs[i].dropped) {
                dropped(&sh, x0, y0);
                n_drop++;
            } else if (recs[i].kept) {
                const int cell = THUMB / grid;
                for (int k = 0; k < T; k++)
                    if (!recs[i].kept[k]) {
                        shade(&sh, x0 + (k % grid) * cell, y0 + (k / grid) * cell, cell, cell, 1);
                        n_pruned++;
                    }
            }
            char lab[32];
            const int secs = (int)recs[i].pts;
            snprintf(lab, sizeof lab, "%02d:%02d", secs / 60 % 100, secs % 60);
            text(&sh, x0 + 2, y0 + THUMB + 3, lab, 2);
        }
        if (cli_write_png(out, sh.px, sh.w, sh.h, sh.w * 3) != 0) {
            fprintf(stderr, "frames --sheet: cannot write %s\n", out);
            goto done;
        }
        printf("%s: %d frames, %d dropped by dedup, %d token cells pruned%s\n", out, n, n_drop, n_pruned,
               vis ? "" : " (no --mmproj: pruning not shown)");
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "frames --sheet: %s\n", vl_error_message());
done:
    for (int i = 0; i < n; i++) {
        free(recs[i].kept);
        free(thumbs[i]);
    }
    free(thumbs);
    free(recs);
    free(sh.px);
    free(tile);
    free(pix);
    free(embd);
    vl_video_close(vid);
    vl_pool_free(pool);
    vl_vision_free(vis);
    vl_gguf_close(g);
    vl_compress_free(&c);
    return rc;
}
