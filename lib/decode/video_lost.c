/* Frame numbering across frames the decoder never produces (see vl_lost in
 * video_internal.h for why and when they are counted). */
#include <string.h>

#include "video_internal.h"

void vl_lost_forget_(vl_lost *l) { l->n = 0; }

void vl_lost_new_pass_(vl_lost *l)
{
    l->n = 0;
    l->damaged = 0;
    l->frames = 0;
}

void vl_lost_damage_(vl_lost *l) { l->damaged = 1; }

/* Drop the oldest `k` entries; they are lost frames if damage was seen. */
static int64_t drop_oldest(vl_lost *l, int k)
{
    memmove(l->pts, l->pts + k, (size_t)(l->n - k) * sizeof l->pts[0]);
    l->n -= k;
    if (!l->damaged) return 0;
    l->frames += k;
    return k;
}

int64_t vl_lost_sent_(vl_lost *l, const AVPacket *pkt)
{
    /* no timestamp: nothing to match; a packet the container marks for
     * dropping (edit lists) yields no frame by design */
    if (pkt->pts == AV_NOPTS_VALUE || (pkt->flags & AV_PKT_FLAG_DISCARD)) return 0;
    /* full: the oldest has waited longer than any decoder delay */
    int64_t lost = l->n == VL_LOST_PENDING ? drop_oldest(l, 1) : 0;
    int i = l->n;
    while (i > 0 && l->pts[i - 1] > pkt->pts) {
        l->pts[i] = l->pts[i - 1];
        i--;
    }
    l->pts[i] = pkt->pts;
    l->n++;
    return lost;
}

int64_t vl_lost_frame_out_(vl_lost *l, int64_t ts)
{
    if (ts == AV_NOPTS_VALUE) return 0;
    int before = 0;
    while (before < l->n && l->pts[before] < ts) before++;
    if (before < l->n && l->pts[before] == ts) { /* the frame's own packet */
        memmove(l->pts + before, l->pts + before + 1, (size_t)(l->n - before - 1) * sizeof l->pts[0]);
        l->n--;
    }
    return before ? drop_oldest(l, before) : 0;
}
