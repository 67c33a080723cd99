/*
 * layernorm: y = (x - mean) / sqrt(var + eps) * gamma + beta with the mean
 * and biased variance of each example over all its features, as
 * torch.nn.LayerNorm(normalized_shape = the per-example shape) (Ba et al.
 * 2016).  gamma and beta have the per-example shape: on an image (C, H, W)
 * that is nn.LayerNorm([C, H, W]), over all C*H*W values of an example,
 * not per channel.  It behaves the same in training and evaluation.
 */
#include <gradscope/layer.h>

enum { P_EPS, P_AFFINE };

static const gs_param_spec params[] = {
    [P_EPS] = {.name = "eps", .type = GS_P_FLOAT, .def.f = 1e-5, .min = 0.0, .max = 1.0,
               .doc = "added to the variance before the square root"},
    [P_AFFINE] = {.name = "elementwise_affine", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                  .doc = "learn gamma (init 1) and beta (init 0) per feature"},
    {0},
};

typedef struct ln {
    size_t d;
    double eps;
    gs_param *gamma, *beta; /* NULL without affine */
    gs_tensor *xhat, *invstd;
} ln;

static int ln_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    ln *l = h->zalloc(sizeof *l);
    h->set_state(m, l);
    l->d = gs_shape_numel(in);
    l->eps = p[P_EPS].f;
    if (p[P_AFFINE].b) {
        gs_ref *one = h->ref_new(m, GS_KIND_INITIALIZER, "constant");
        if (!one || h->ref_set_float(one, "value", 1.0) < 0)
            return -1;
        l->gamma = h->add_param(m, "weight", in->ndim, in->dims, GS_ROLE_NORM, 0, 0, one, NULL);
        l->beta = h->add_param(m, "bias", in->ndim, in->dims, GS_ROLE_NORM, 0, 0, NULL, NULL);
        if (!l->gamma || !l->beta)
            return -1;
    }
    gs_shape one = {.ndim = 1, .dims = {1}};
    l->xhat = h->add_buffer(m, "xhat", in);
    l->invstd = h->add_buffer(m, "invstd", &one);
    *out = *in;
    return l->xhat && l->invstd ? 0 : -1;
}

static void ln_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    ln *l = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0], D = l->d;
    (void)training;
    GS_WITH_TYPE(x->dtype, T, {
        const T *g = l->gamma ? l->gamma->value.data : NULL;
        const T *b = l->beta ? l->beta->value.data : NULL;
        T *is = l->invstd->data;
        for (size_t e = 0; e < n; e++) {
            const T *xv = (const T *)x->data + e * D;
            T *xh = (T *)l->xhat->data + e * D, *yv = (T *)y->data + e * D;
            double s = 0, s2 = 0;
            for (size_t j = 0; j < D; j++)
                s += xv[j];
            double mean = s / (double)D;
            for (size_t j = 0; j < D; j++) {
                double c = (double)xv[j] - mean;
                s2 += c * c;
            }
            double inv = 1.0 / sqrt(s2 / (double)D + l->eps);
            is[e] = (T)inv;
            for (size_t j = 0; j < D; j++) {
                xh[j] = (T)(((double)xv[j] - mean) * inv);
                yv[j] = g ? xh[j] * g[j] + b[j] : xh[j];
            }
        }
    });
}

/* dx = invstd / D (D dxhat - sum(dxhat) - xhat sum(dxhat xhat)), dxhat = gamma dy,
   over the D features of each example. */
static void ln_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                        const gs_tensor *dy, gs_tensor *dx)
{
    ln *l = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0], D = l->d;
    (void)y;
    GS_WITH_TYPE(x->dtype, T, {
        const T *gm = l->gamma ? l->gamma->value.data : NULL;
        const T *is = l->invstd->data;
        for (size_t e = 0; e < n; e++) {
            const T *g = (const T *)dy->data + e * D, *xh = (const T *)l->xhat->data + e * D;
            if (l->gamma) {
                T *dg = l->gamma->grad.data, *db = l->beta->grad.data;
                for (size_t j = 0; j < D; j++) {
                    dg[j] += g[j] * xh[j];
                    db[j] += g[j];
                }
            }
            if (!dx)
                continue;
            double s1 = 0, s2 = 0;
            for (size_t j = 0; j < D; j++) {
                double gh = gm ? (double)g[j] * gm[j] : (double)g[j];
                s1 += gh;
                s2 += gh * xh[j];
            }
            double m1 = s1 / (double)D, m2 = s2 / (double)D, inv = is[e];
            T *d = (T *)dx->data + e * D;
            for (size_t j = 0; j < D; j++) {
                double gh = gm ? (double)g[j] * gm[j] : (double)g[j];
                d[j] = (T)(inv * (gh - m1 - xh[j] * m2));
            }
        }
    });
}

static void ln_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    h->free(h->get_state(m));
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = ln_build,
    .forward = ln_forward,
    .backward = ln_backward,
    .destroy = ln_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "layernorm",
    .doc = "layer normalization over each example's features (torch.nn.LayerNorm)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "layernorm",
    .version = "1.0",
    .license = "MIT",
    .description = "layer normalization (Ba et al. 2016)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
