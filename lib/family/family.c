/* The registry of model families (see family.h): the first entry whose
 * match() takes the model's projector and text architecture runs it. */
#include "family.h"

#include <stdio.h>
#include <stdlib.h>

extern const vl_family vl_family_smolvlm2, vl_family_qwen25vl, vl_family_qwen3vl;

static const vl_family *const families[] = {&vl_family_smolvlm2, &vl_family_qwen25vl, &vl_family_qwen3vl};

const vl_family *vl_family_find(const char *projector, const char *text_arch)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (families[i]->match(projector, text_arch)) return families[i];
    return NULL;
}

void vl_video_plan_free(vl_video_plan *p)
{
    free(p->indices);
    p->indices = NULL;
    p->sampling.indices = NULL;
}

void vl_family_put(char *buf, size_t cap, size_t *len, const char *text)
{
    const int n = snprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, "%s", text);
    if (n > 0) *len += (size_t)n;
}
