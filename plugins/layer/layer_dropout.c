/*
 * dropout: inverted dropout as torch.nn.Dropout (Srivastava et al. 2014).
 * In training each value is kept with probability 1 - p and scaled by
 * 1/(1 - p), so the expected output equals the input and evaluation is the
 * identity.  The mask comes from the module's own seeded stream and is kept
 * for the backward pass.  Values of any layout are dropped one by one: on
 * an image that is nn.Dropout, not the channel-wise nn.Dropout2d.
 */
#include <gradscope/layer.h>

enum { P_P };

static const gs_param_spec params[] = {
    [P_P] = {.name = "p", .type = GS_P_FLOAT, .def.f = 0.5, .min = 0.0, .max = 1.0,
             .doc = "probability of zeroing a value, in [0, 1)"},
    {0},
};

typedef struct dropout {
    double p;
    gs_tensor *mask; /* 0 or 1/(1-p) per value */
    int training;    /* mode of the last forward */
} dropout;

static int dropout_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    dropout *d = h->zalloc(sizeof *d);
    h->set_state(m, d);
    d->p = p[P_P].f;
    if (!(d->p < 1.0)) {
        h->error("p = %g drops everything; it must be below 1", d->p);
        return -1;
    }
    d->mask = h->add_buffer(m, "mask", in);
    *out = *in;
    return d->mask ? 0 : -1;
}

static void dropout_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    const gs_host *h = gs_host_of(m);
    dropout *d = h->get_state(m);
    size_t n = gs_tensor_numel(x);
    d->training = training && d->p > 0;
    if (!d->training) {
        if (y->data != x->data)
            memcpy(y->data, x->data, n * gs_dtype_size(x->dtype));
        return;
    }
    gs_rng *rng = h->rng(m);
    double keep = 1.0 - d->p, scale = 1.0 / keep;
    int bulk = x->dtype == GS_F32;
    if (bulk) /* the draws land in the mask, which the loop below turns into 0 or scale */
        h->rng_uniform_fill(rng, n, d->mask->data);
    GS_WITH_TYPE(x->dtype, T, {
        T *mk = d->mask->data, *yv = y->data;
        const T *xv = x->data;
        if (bulk)
            for (size_t i = 0; i < n; i++)
                mk[i] = mk[i] < (T)keep ? (T)scale : (T)0;
        else
            for (size_t i = 0; i < n; i++)
                mk[i] = h->rng_uniform(rng) < keep ? (T)scale : (T)0;
        for (size_t i = 0; i < n; i++)
            yv[i] = xv[i] * mk[i];
    });
}

static void dropout_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                             const gs_tensor *dy, gs_tensor *dx)
{
    dropout *d = gs_host_of(m)->get_state(m);
    size_t n = gs_tensor_numel(x);
    (void)y;
    if (!dx)
        return;
    if (!d->training) {
        if (dx->data != dy->data)
            memcpy(dx->data, dy->data, n * gs_dtype_size(x->dtype));
        return;
    }
    GS_WITH_TYPE(x->dtype, T, {
        const T *mk = d->mask->data, *g = dy->data;
        T *o = dx->data;
        for (size_t i = 0; i < n; i++)
            o[i] = g[i] * mk[i];
    });
}

static void dropout_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    h->free(h->get_state(m));
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = dropout_build,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = dropout_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "dropout",
    .doc = "inverted dropout: zero with probability p, scale the rest by 1/(1-p)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "dropout",
    .version = "1.0",
    .license = "MIT",
    .description = "inverted dropout",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
