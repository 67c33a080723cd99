/*
 * What the stock blocks share beyond the SDK's <gradscope/layer.h>: the
 * `norm` parameter of resnet, densenet and transition, one definition so
 * that the three accept the same values and document them alike.
 */
#ifndef BLK_LAYER_UTIL_H
#define BLK_LAYER_UTIL_H

#include <gradscope/layer.h>

#define BLK_NORM_PARAM(DOC)                                                                  \
    {                                                                                        \
        .name = "norm", .type = GS_P_STRING, .def.s = "none", .choices = GS_NORM_CHOICES,    \
        .min = GS_ANY, .doc = (DOC)                                                          \
    }

/* "an image (C, H, W) = (3, 28, 28)": a per-example shape as the error
   messages of the image layers name it (the recurrent layers' wording). */
static inline const char *blk_shape_str(const gs_shape *s, char *buf, size_t len)
{
    switch (s->layout) {
    case GS_LAYOUT_SEQUENCE:
        snprintf(buf, len, "a sequence (T, C) = (%zu, %zu)", s->dims[0], s->dims[1]);
        break;
    case GS_LAYOUT_IMAGE:
        snprintf(buf, len, "an image (C, H, W) = (%zu, %zu, %zu)", s->dims[0], s->dims[1],
                 s->dims[2]);
        break;
    default: snprintf(buf, len, "a vector (C) = (%zu)", gs_shape_numel(s)); break;
    }
    return buf;
}

/* Refuses an input that is not a non-empty image, naming the layer and the
   shape it got; 0 or -1 after host->error. */
static inline int blk_need_image(const gs_host *h, const char *layer, const gs_shape *in)
{
    char got[96];
    if (in->layout != GS_LAYOUT_IMAGE || in->ndim != 3) {
        h->error("%s: needs an image input (C, H, W); got %s", layer,
                 blk_shape_str(in, got, sizeof got));
        return -1;
    }
    if (gs_shape_numel(in) == 0) {
        h->error("%s: empty image input: %s", layer, blk_shape_str(in, got, sizeof got));
        return -1;
    }
    return 0;
}

#endif
