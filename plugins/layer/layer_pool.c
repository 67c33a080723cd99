/*
 * Pooling of (C, H, W) images, per channel, as torch.nn.MaxPool2d,
 * AvgPool2d and AdaptiveAvgPool2d(1) with square kernel, stride and
 * padding given as single ints (ceil_mode false, dilation 1):
 *
 *   maxpool         y = max over the window; padding counts as -inf.  Ties
 *                   go to the first maximum in row-major order of the
 *                   window, and a NaN wins, as PyTorch's kernel.
 *   avgpool         y = sum over the window / k^2: padded zeros count
 *                   (count_include_pad = true, PyTorch's default).
 *   global_avgpool  y_c = mean of channel c, a vector (C).
 *
 * Ho = floor((H + 2 padding - k) / stride) + 1; stride 0 (the default)
 * means stride = kernel, as PyTorch's stride=None.  Padding is at most k/2
 * (PyTorch's limit).  Nothing is kept between forward and backward: the
 * max-pool's winners are found again from x.  Examples run in parallel;
 * each writes only its own output and input gradient.
 */
#include <string.h>
#include "layer_util.h"

enum { P_KERNEL, P_STRIDE, P_PADDING };

static const gs_param_spec pool_params[] = {
    [P_KERNEL] = {.name = "kernel", .type = GS_P_INT, .flags = GS_REQUIRED, .min = 1,
                  .max = 1 << 10, .doc = "window height and width"},
    [P_STRIDE] = {.name = "stride", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 10,
                  .doc = "step between windows (0: the kernel)"},
    [P_PADDING] = {.name = "padding", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 9,
                   .doc = "padding on every side, at most kernel/2"},
    {0},
};

static const gs_param_spec no_params[] = {{0}};

typedef enum { MAX, AVG, GLOBAL } pool_kind;

typedef struct pool {
    const gs_host *host;
    pool_kind kind;
    size_t c, h, w, ho, wo, k, s, pad;
} pool;

static int pool_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out,
                      pool_kind kind, const char *name)
{
    const gs_host *host = gs_host_of(m);
    pool *d = host->zalloc(sizeof *d);
    host->set_state(m, d);
    d->host = host;
    d->kind = kind;
    if (blk_need_image(host, name, in) < 0)
        return -1;
    d->c = in->dims[0];
    d->h = in->dims[1];
    d->w = in->dims[2];
    if (kind == GLOBAL) {
        *out = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {d->c}};
        return 0;
    }
    d->k = (size_t)p[P_KERNEL].i;
    d->s = p[P_STRIDE].i ? (size_t)p[P_STRIDE].i : d->k;
    d->pad = (size_t)p[P_PADDING].i;
    char got[96];
    if (2 * d->pad > d->k) {
        host->error("%s: padding %zu is more than half the kernel %zu", name, d->pad, d->k);
        return -1;
    }
    size_t ph = d->h + 2 * d->pad, pw = d->w + 2 * d->pad;
    if (d->k > ph || d->k > pw) {
        host->error("%s: kernel %zux%zu is larger than the input %s padded to %zux%zu "
                    "(padding %zu)",
                    name, d->k, d->k, blk_shape_str(in, got, sizeof got), ph, pw, d->pad);
        return -1;
    }
    d->ho = (ph - d->k) / d->s + 1;
    d->wo = (pw - d->k) / d->s + 1;
    *out = (gs_shape){.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {d->c, d->ho, d->wo}};
    return 0;
}

static int maxpool_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return pool_build(m, p, in, out, MAX, "maxpool");
}

static int avgpool_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return pool_build(m, p, in, out, AVG, "avgpool");
}

static int global_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return pool_build(m, p, in, out, GLOBAL, "global_avgpool");
}

typedef struct job {
    const pool *d;
    gs_dtype dt;
    const void *x, *dy;
    void *y, *dx;
} job;

/* The window of output (r, q): rows [y0, y1), columns [x0, x1) of the
   input, clipped to it. */
typedef struct window {
    size_t y0, y1, x0, x1;
} window;

static window window_at(const pool *d, size_t r, size_t q)
{
    long y0 = (long)(r * d->s) - (long)d->pad, x0 = (long)(q * d->s) - (long)d->pad;
    long y1 = y0 + (long)d->k, x1 = x0 + (long)d->k;
    return (window){.y0 = y0 < 0 ? 0 : (size_t)y0, .x0 = x0 < 0 ? 0 : (size_t)x0,
                    .y1 = y1 > (long)d->h ? d->h : (size_t)y1,
                    .x1 = x1 > (long)d->w ? d->w : (size_t)x1};
}

/* Offset within the plane of the window's maximum: the first in row-major
   order, a NaN taking over as in PyTorch's `val > max || isnan(val)`.
   Padding takes no part (-inf never wins over a real value, and a window
   always holds one since pad <= k/2). */
#define ARGMAX(T, plane, d, win, best)                                                       \
    do {                                                                                     \
        T top_ = (T)-INFINITY;                                                               \
        (best) = (win).y0 * (d)->w + (win).x0;                                               \
        for (size_t y_ = (win).y0; y_ < (win).y1; y_++)                                      \
            for (size_t x_ = (win).x0; x_ < (win).x1; x_++) {                                \
                T v_ = (plane)[y_ * (d)->w + x_];                                            \
                if (v_ > top_ || isnan(v_)) {                                                \
                    top_ = v_;                                                               \
                    (best) = y_ * (d)->w + x_;                                               \
                }                                                                            \
            }                                                                                \
    } while (0)

static void forward_examples(void *arg, size_t e0, size_t e1)
{
    const job *j = arg;
    const pool *d = j->d;
    size_t HW = d->h * d->w, P = d->ho * d->wo;
    GS_WITH_TYPE(j->dt, T, {
        for (size_t e = e0; e < e1; e++)
            for (size_t c = 0; c < d->c; c++) {
                const T *x = (const T *)j->x + (e * d->c + c) * HW;
                if (d->kind == GLOBAL) {
                    double s = 0;
                    for (size_t i = 0; i < HW; i++)
                        s += x[i];
                    ((T *)j->y)[e * d->c + c] = (T)(s / (double)HW);
                    continue;
                }
                T *y = (T *)j->y + (e * d->c + c) * P;
                for (size_t r = 0; r < d->ho; r++)
                    for (size_t q = 0; q < d->wo; q++) {
                        window win = window_at(d, r, q);
                        if (d->kind == MAX) {
                            size_t best;
                            ARGMAX(T, x, d, win, best);
                            y[r * d->wo + q] = x[best];
                        } else {
                            double s = 0;
                            for (size_t yy = win.y0; yy < win.y1; yy++)
                                for (size_t xx = win.x0; xx < win.x1; xx++)
                                    s += x[yy * d->w + xx];
                            y[r * d->wo + q] = (T)(s / (double)(d->k * d->k));
                        }
                    }
            }
    });
}

static void backward_examples(void *arg, size_t e0, size_t e1)
{
    const job *j = arg;
    const pool *d = j->d;
    size_t HW = d->h * d->w, P = d->ho * d->wo;
    GS_WITH_TYPE(j->dt, T, {
        for (size_t e = e0; e < e1; e++)
            for (size_t c = 0; c < d->c; c++) {
                const T *x = (const T *)j->x + (e * d->c + c) * HW;
                T *dx = (T *)j->dx + (e * d->c + c) * HW;
                if (d->kind == GLOBAL) {
                    T g = (T)((double)((const T *)j->dy)[e * d->c + c] / (double)HW);
                    for (size_t i = 0; i < HW; i++)
                        dx[i] = g;
                    continue;
                }
                const T *dy = (const T *)j->dy + (e * d->c + c) * P;
                memset(dx, 0, HW * sizeof(T));
                for (size_t r = 0; r < d->ho; r++)
                    for (size_t q = 0; q < d->wo; q++) {
                        window win = window_at(d, r, q);
                        T g = dy[r * d->wo + q];
                        if (d->kind == MAX) {
                            size_t best;
                            ARGMAX(T, x, d, win, best);
                            dx[best] += g;
                        } else {
                            g = (T)((double)g / (double)(d->k * d->k));
                            for (size_t yy = win.y0; yy < win.y1; yy++)
                                for (size_t xx = win.x0; xx < win.x1; xx++)
                                    dx[yy * d->w + xx] += g;
                        }
                    }
            }
    });
}

/* Examples per chunk of the parallel loops: enough work per chunk to pay
   for handing it out. */
static size_t grain_of(const pool *d)
{
    size_t per = d->c * d->h * d->w;
    return per >= 4096 ? 1 : 4096 / (per ? per : 1);
}

static void pool_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    const pool *d = gs_host_of(m)->get_state(m);
    (void)training;
    job j = {.d = d, .dt = x->dtype, .x = x->data, .y = y->data};
    d->host->parallel_for(x->dims[0], grain_of(d), forward_examples, &j);
}

static void pool_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                          const gs_tensor *dy, gs_tensor *dx)
{
    const pool *d = gs_host_of(m)->get_state(m);
    (void)y;
    if (!dx)
        return;
    job j = {.d = d, .dt = x->dtype, .x = x->data, .dy = dy->data, .dx = dx->data};
    d->host->parallel_for(x->dims[0], grain_of(d), backward_examples, &j);
}

static void pool_destroy(gs_module *m)
{
    const gs_host *host = gs_host_of(m);
    host->free(host->get_state(m));
}

#define POOL_OPS(NAME, BUILD)                                                                \
    static const gs_layer_ops NAME = {                                                       \
        .size = sizeof(gs_layer_ops),                                                        \
        .build = BUILD,                                                                      \
        .forward = pool_forward,                                                             \
        .backward = pool_backward,                                                           \
        .destroy = pool_destroy,                                                             \
        .supports_f64 = 1,                                                                   \
    }

POOL_OPS(max_ops, maxpool_build);
POOL_OPS(avg_ops, avgpool_build);
POOL_OPS(global_ops, global_build);

static const gs_component components[] = {
    {
        .size = sizeof(gs_component),
        .kind = GS_KIND_LAYER,
        .name = "maxpool",
        .doc = "max over k x k windows of each channel (torch.nn.MaxPool2d)",
        .params = pool_params,
        .ops = &max_ops,
    },
    {
        .size = sizeof(gs_component),
        .kind = GS_KIND_LAYER,
        .name = "avgpool",
        .doc = "mean over k x k windows of each channel, padding counted (torch.nn.AvgPool2d)",
        .params = pool_params,
        .ops = &avg_ops,
    },
    {
        .size = sizeof(gs_component),
        .kind = GS_KIND_LAYER,
        .name = "global_avgpool",
        .doc = "mean of each channel: image (C, H, W) to vector (C) "
               "(torch.nn.AdaptiveAvgPool2d(1) then flatten)",
        .params = no_params,
        .ops = &global_ops,
    },
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "pool",
    .version = "1.0",
    .license = "MIT",
    .description = "max, average and global average pooling of images",
    .n_components = 3,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
