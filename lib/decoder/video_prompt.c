#include "video_prompt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *ones[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                             "seventeen", "eighteen", "nineteen"};
static const char *tens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

/* Append to buf at *at, never past cap (keeps counting the length). */
static void put(char *buf, size_t cap, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at < cap) {
        size_t room = cap - *at - 1;
        memcpy(buf + *at, s, n < room ? n : room);
        buf[*at + (n < room ? n : room)] = '\0';
    }
    *at += n;
}

/* 0 < n < 1000 */
static void hundreds(long n, char *buf, size_t cap, size_t *at)
{
    if (n >= 100) {
        put(buf, cap, at, ones[n / 100]);
        put(buf, cap, at, " hundred");
        n %= 100;
        if (n) put(buf, cap, at, " and ");
    }
    if (n >= 20) {
        put(buf, cap, at, tens[n / 10]);
        if (n % 10) {
            put(buf, cap, at, "-");
            put(buf, cap, at, ones[n % 10]);
        }
    } else if (n > 0) {
        put(buf, cap, at, ones[n]);
    }
}

size_t vl_number_words(long n, char *buf, size_t cap)
{
    size_t at = 0;
    if (cap) buf[0] = '\0';
    if (n < 0 || n >= 1000000000L) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%ld", n);
        put(buf, cap, &at, tmp);
        return at;
    }
    if (n == 0) {
        put(buf, cap, &at, ones[0]);
        return at;
    }
    static const char *scale[] = {" million", " thousand", ""};
    static const long unit[] = {1000000L, 1000L, 1L};
    int first = 1;
    for (int i = 0; i < 3; i++) {
        long part = n / unit[i];
        n %= unit[i];
        if (!part) continue;
        if (!first) {
            /* num2words joins a final group below 100 with " and " */
            put(buf, cap, &at, (i == 2 && part < 100) ? " and " : ", ");
        }
        hundreds(part, buf, cap, &at);
        put(buf, cap, &at, scale[i]);
        first = 0;
    }
    return at;
}

size_t vl_video_intro(int n_frames, double duration, char *buf, size_t cap)
{
    char words[128];
    vl_number_words(n_frames, words, sizeof words);
    long s = duration > 0 && duration < 1e9 ? (long)duration : 0;
    int n = snprintf(buf, cap, "You are provided the following series of %s frames from a %ld:%02ld:%02ld [H:MM:SS] video.\n",
                     words, s / 3600, (s / 60) % 60, s % 60);
    return n < 0 ? 0 : (size_t)n;
}

size_t vl_video_frame_label(double seconds, char *buf, size_t cap)
{
    if (!(seconds >= 0) || seconds > 1e9) seconds = 0;
    long m = (long)floor(seconds / 60.0);
    long s = (long)fmod(seconds, 60.0);
    int n = snprintf(buf, cap, "\nFrame from %02ld:%02ld:", m, s);
    return n < 0 ? 0 : (size_t)n;
}
