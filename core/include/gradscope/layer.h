/*
 * SDK helpers for layer plugins (architecture blocks): typed loops, norms,
 * column copies, scalar parameters and chains of child modules run through
 * the host.  Everything is static inline and reaches the core only through
 * the host table, so a plugin using it stays one self-contained .so.
 *
 * A block built from children, for example [norm ->] act -> dense:
 *
 *   gs_chain *c = h->zalloc(sizeof *c);
 *   gs_chain_init(h, c, 3, in);
 *   if (gs_chain_add_norm(h, m, c, "norm", "batchnorm") < 0 ||
 *       gs_chain_add(h, m, c, "act", p[P_ACTIVATION].ref) < 0 ||
 *       gs_chain_add_dense(h, m, c, "fc", units, p[P_INIT].ref, NULL) < 0)
 *       return -1;
 *   *out = c->shape;
 *
 * and forward/backward are gs_chain_forward and gs_chain_backward.
 */
#ifndef GRADSCOPE_LAYER_H
#define GRADSCOPE_LAYER_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gradscope/plugin.h"

/*
 * Expands `body` once with T = float and once with T = double and runs the
 * copy matching `dt`, so typed loops are written once and still vectorize.
 */
#define GS_WITH_TYPE(dt, T, ...)                                                             \
    do {                                                                                     \
        if ((dt) == GS_F32) {                                                                \
            typedef float T;                                                                 \
            __VA_ARGS__                                                                      \
        } else {                                                                             \
            typedef double T;                                                                \
            __VA_ARGS__                                                                      \
        }                                                                                    \
    } while (0)

/*
 * Euclidean norm of n elements, accumulated in double in a fixed order (the
 * same at any thread count): eight partial sums, independent additions the
 * compiler keeps in vector registers where one running sum waits on each
 * addition (path norms are taken on every monitored step).
 */
static inline double gs_norm2(gs_dtype dt, size_t n, const void *x)
{
    double acc[8] = {0};
    size_t i = 0;
    GS_WITH_TYPE(dt, T, {
        const T *v = x;
        for (; i + 8 <= n; i += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += (double)v[i + l] * (double)v[i + l];
        for (int l = 0; i < n; i++, l++)
            acc[l] += (double)v[i] * (double)v[i];
    });
    return sqrt(((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])));
}

/* dst[r*dld + j] (+)= src[r*sld + j] for j < cols: moves column blocks of
   row-major batches (the concatenations of a dense block). */
static inline void gs_copy_cols(gs_dtype dt, size_t rows, size_t cols, const void *src,
                                size_t sld, void *dst, size_t dld, int accumulate)
{
    size_t es = gs_dtype_size(dt);
    if (!accumulate) {
        for (size_t r = 0; r < rows; r++)
            memcpy((char *)dst + r * dld * es, (const char *)src + r * sld * es, cols * es);
        return;
    }
    GS_WITH_TYPE(dt, T, {
        for (size_t r = 0; r < rows; r++) {
            const T *s = (const T *)src + r * sld;
            T *d = (T *)dst + r * dld;
            for (size_t j = 0; j < cols; j++)
                d[j] += s[j];
        }
    });
}

/*
 * A learnable scalar of role `role` starting at `init`: a block's gain
 * (GS_ROLE_GAIN, never weight-decayed), a learned temperature...  NULL
 * after the host's error.
 */
static inline gs_param *gs_add_scalar(gs_module *m, const char *name, gs_role role, double init)
{
    const gs_host *h = gs_host_of(m);
    gs_ref *r = h->ref_new(m, GS_KIND_INITIALIZER, "constant");
    if (!r || h->ref_set_float(r, "value", init) < 0)
        return NULL;
    size_t dims[1] = {1};
    return h->add_param(m, name, 1, dims, role, 1, 1, r, NULL);
}

/* ------------------------------------------------------------------ */
/* A chain of child modules run in sequence                            */
/* ------------------------------------------------------------------ */

/*
 * The intermediate outputs live in host buffers; the chain's final output
 * and its gradient belong to the caller, which can then place them where
 * the block needs them (a concatenation, a sum).
 */
typedef struct gs_chain_stage {
    gs_module *mod;
    gs_tensor *y; /* its output (NULL for the last stage, which writes the chain's) */
} gs_chain_stage;

typedef struct gs_chain {
    gs_chain_stage *st;
    size_t n, cap;
    gs_shape shape; /* output shape so far, layout included */
} gs_chain;

static inline void gs_chain_init(const gs_host *h, gs_chain *c, size_t cap, const gs_shape *in)
{
    c->st = h->zalloc(cap * sizeof *c->st);
    c->n = 0;
    c->cap = cap;
    c->shape = *in;
}

static inline void gs_chain_free(const gs_host *h, gs_chain *c) { h->free(c->st); }

/* Appends a child built from `spec`; 0, or -1 with the host's error set. */
static inline int gs_chain_add(const gs_host *h, gs_module *m, gs_chain *c, const char *name,
                               const gs_ref *spec)
{
    if (c->n == c->cap) {
        h->error("stage '%s' exceeds the %zu reserved", name, c->cap);
        return -1;
    }
    if (c->n > 0) {
        /* The previous stage is no longer last: give it an output buffer. */
        gs_chain_stage *prev = &c->st[c->n - 1];
        char buf[64];
        snprintf(buf, sizeof buf, "%s.in", name);
        prev->y = h->add_buffer(m, buf, &c->shape);
        if (!prev->y)
            return -1;
    }
    gs_shape out;
    gs_module *child = h->add_child(m, name, spec, &c->shape, &out);
    if (!child)
        return -1;
    c->st[c->n++] = (gs_chain_stage){.mod = child};
    c->shape = out;
    return 0;
}

/* A dense child of `units` outputs with initializer `init` and (fused)
   activation `act` (NULL: identity).  It flattens a sequence (per_step =
   false), as the blocks' dense layers always have. */
static inline int gs_chain_add_dense(const gs_host *h, gs_module *m, gs_chain *c,
                                     const char *name, size_t units, const gs_ref *init,
                                     const gs_ref *act)
{
    gs_ref *r = h->ref_new(m, GS_KIND_LAYER, "dense");
    if (!r || h->ref_set_int(r, "units", (int64_t)units) < 0 ||
        h->ref_set_bool(r, "per_step", 0) < 0 ||
        h->ref_set_ref(r, "init", init) < 0 || (act && h->ref_set_ref(r, "activation", act) < 0))
        return -1;
    return gs_chain_add(h, m, c, name, r);
}

/* Choices for a block's `norm` parameter that gs_chain_add_norm accepts. */
#define GS_NORM_CHOICES "none|batchnorm|layernorm"

/* A normalization child with its defaults: "batchnorm" or "layernorm". */
static inline int gs_chain_add_norm(const gs_host *h, gs_module *m, gs_chain *c,
                                    const char *name, const char *kind)
{
    gs_ref *r = h->ref_new(m, GS_KIND_LAYER, kind);
    return r ? gs_chain_add(h, m, c, name, r) : -1;
}

/* y = chain(x); the last stage writes into y. */
static inline void gs_chain_forward(const gs_host *h, const gs_chain *c, const gs_tensor *x,
                                    gs_tensor *y, int training)
{
    for (size_t k = 0; k < c->n; k++)
        h->forward(c->st[k].mod, k ? c->st[k - 1].y : x, k + 1 < c->n ? c->st[k].y : y,
                   training);
}

/*
 * Backward from dy = dL/dy; dx may be NULL (parameter gradients only).
 * The gradients between stages live only here: two arrays of the host's
 * scratch memory (of module m), taken in turn.
 */
static inline void gs_chain_backward(const gs_host *h, gs_module *m, const gs_chain *c,
                                     const gs_tensor *x, const gs_tensor *y,
                                     const gs_tensor *dy, gs_tensor *dx)
{
    size_t bytes = 0;
    for (size_t k = 0; k + 1 < c->n; k++)
        bytes = gs_tensor_bytes(c->st[k].y) > bytes ? gs_tensor_bytes(c->st[k].y) : bytes;
    size_t bufs = c->n > 2 ? 2 : c->n > 0 ? c->n - 1 : 0; /* 0: no stage gradients */
    void *buf[2] = {NULL, NULL};
    for (size_t b = 0; b < bufs; b++)
        buf[b] = h->scratch_get(m, bytes);
    /* dL/d(output of stage k - 1) is written by stage k into array k % bufs */
    gs_tensor grad[2];
    for (size_t k = c->n; k-- > 0;) {
        int last = k + 1 == c->n;
        gs_tensor *din = dx;
        if (k) {
            din = &grad[k % bufs];
            *din = *c->st[k - 1].y;
            din->data = buf[k % bufs];
        }
        h->backward(c->st[k].mod, k ? c->st[k - 1].y : x, last ? y : c->st[k].y,
                    last ? dy : &grad[(k + 1) % bufs], din);
    }
    for (size_t b = bufs; b-- > 0;)
        h->scratch_put(m, buf[b]);
}

#endif
