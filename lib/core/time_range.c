#include <stdio.h>

#include "core/time_range.h"

const char *vl_format_time_range(char *buf, size_t n, double start, double end)
{
    if (end <= 0) snprintf(buf, n, "%g s to the end", start);
    else snprintf(buf, n, "[%g s, %g s)", start, end);
    return buf;
}
