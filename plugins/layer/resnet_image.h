/*
 * The pieces of the resnet block that images need beyond the vector form
 * (included by layer_resnet.c only): convolution stages of a chain, the
 * projection shortcut as a chain of its own (1x1 convolution with the
 * block's stride, then the block's norm), and the parameter-free shortcut
 * of option A, which the vector form uses too with H = W = 1.
 */
#ifndef RESNET_IMAGE_H
#define RESNET_IMAGE_H

#include "layer_util.h"

/* A conv2d child: k x k, padding k / 2 (the size-preserving padding of the
   3x3 and 1x1 convolutions of a ResNet), `act` fused (NULL: identity). */
static inline int rn_add_conv(const gs_host *h, gs_module *m, gs_chain *c, const char *name,
                              size_t channels, size_t k, size_t stride, int bias,
                              const gs_ref *init, const gs_ref *act)
{
    gs_ref *r = h->ref_new(m, GS_KIND_LAYER, "conv2d");
    if (!r || h->ref_set_int(r, "channels", (int64_t)channels) < 0 ||
        h->ref_set_int(r, "kernel", (int64_t)k) < 0 ||
        h->ref_set_int(r, "stride", (int64_t)stride) < 0 ||
        h->ref_set_int(r, "padding", (int64_t)(k / 2)) < 0 ||
        h->ref_set_bool(r, "bias", bias) < 0 || h->ref_set_ref(r, "init", init) < 0 ||
        (act && h->ref_set_ref(r, "activation", act) < 0))
        return -1;
    return gs_chain_add(h, m, c, name, r);
}

/* Option B where the shapes differ: s(x) = norm(conv1x1_stride(x)), the
   convolution without bias when a norm follows (torchvision's downsample). */
static inline int rn_projection_chain(const gs_host *h, gs_module *m, gs_chain *c,
                                      const gs_shape *in, size_t units, size_t stride,
                                      const char *norm_kind, const gs_ref *init)
{
    int norm = strcmp(norm_kind, "none") != 0;
    gs_chain_init(h, c, 2, in);
    if (rn_add_conv(h, m, c, "projection", units, 1, stride, !norm, init, NULL) < 0)
        return -1;
    return norm ? gs_chain_add_norm(h, m, c, "projection_norm", norm_kind) : 0;
}

/* Option A: s(x)[c, r, q] = x[c, r stride, q stride] for c < C, 0 for the
   channels C..oc-1 the output has beyond the input's (appended last). */
typedef struct rn_pad {
    size_t c, h, w;    /* input */
    size_t oc, ho, wo; /* output */
    size_t s;          /* stride */
} rn_pad;

/* y += scale s(x) over n examples. */
static inline void rn_pad_add(gs_dtype dt, size_t n, const rn_pad *p, double scale,
                              const void *x, void *y)
{
    GS_WITH_TYPE(dt, T, {
        const T a = (T)scale;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < p->c; c++) {
                const T *xp = (const T *)x + (i * p->c + c) * p->h * p->w;
                T *yp = (T *)y + (i * p->oc + c) * p->ho * p->wo;
                for (size_t r = 0; r < p->ho; r++)
                    for (size_t q = 0; q < p->wo; q++)
                        yp[r * p->wo + q] += a * xp[r * p->s * p->w + q * p->s];
            }
    });
}

/* dx += scale (ds s'): the gradient lands on the positions the stride keeps. */
static inline void rn_pad_backward(gs_dtype dt, size_t n, const rn_pad *p, double scale,
                                   const void *ds, void *dx)
{
    GS_WITH_TYPE(dt, T, {
        const T a = (T)scale;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < p->c; c++) {
                const T *gp = (const T *)ds + (i * p->oc + c) * p->ho * p->wo;
                T *xp = (T *)dx + (i * p->c + c) * p->h * p->w;
                for (size_t r = 0; r < p->ho; r++)
                    for (size_t q = 0; q < p->wo; q++)
                        xp[r * p->s * p->w + q * p->s] += a * gp[r * p->wo + q];
            }
    });
}

/* ||ds restricted to the channels the shortcut carries||, in a fixed order. */
static inline double rn_pad_norm(gs_dtype dt, size_t n, const rn_pad *p, const void *ds)
{
    size_t per = p->c * p->ho * p->wo, es = gs_dtype_size(dt);
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        double v = gs_norm2(dt, per, (const char *)ds + i * p->oc * p->ho * p->wo * es);
        sq += v * v;
    }
    return sqrt(sq);
}

#endif
