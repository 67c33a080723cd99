/*
 * dense: y = act(x W^T + b), W of shape (units, in_features).
 * Inputs of any shape are flattened per example; with per_step = true a
 * sequence (T, C) is mapped step by step instead, (T, C) -> (T, units), as
 * torch's nn.Linear on the last axis, so that a recurrent layer returning
 * every step feeds a per-step output.  Flattening stays the default
 * because blocks (resnet, the chains of layer.h) build dense children on
 * sequences and count on it.  The pre-activation is
 * kept for the backward pass; with the identity activation it is y itself.
 * Its gradient lives only during backward, in the host's scratch memory,
 * which all layers share.
 */
#include <string.h>
#include <gradscope/plugin.h>

enum { P_UNITS, P_ACTIVATION, P_INIT, P_BIAS, P_BIAS_INIT, P_PER_STEP };

static const gs_param_spec params[] = {
    [P_UNITS] = {.name = "units", .type = GS_P_INT, .flags = GS_REQUIRED, .min = 1,
                 .max = 1 << 20, .doc = "output width"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "identity",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation applied to x W^T + b"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "standard",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "weight initializer (default U(+-1/sqrt(fan_in)), as nn.Linear)"},
    [P_BIAS] = {.name = "bias", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY, .doc = "learn a bias"},
    [P_BIAS_INIT] = {.name = "bias_init", .type = GS_P_COMPONENT, .def.s = "zeros",
                     .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY, .doc = "bias initializer"},
    [P_PER_STEP] = {.name = "per_step", .type = GS_P_BOOL, .def.b = 0, .min = GS_ANY,
                    .doc = "on a sequence (T, C): the same map at every step, output (T, units) "
                           "(false: the sequence flattened)"},
    {0},
};

typedef struct dense {
    const gs_host *host;
    size_t in, units;
    size_t steps; /* rows per example: T for a sequence, else 1 */
    gs_param *w, *b;
    gs_module *act;   /* NULL for identity */
    gs_tensor *h;     /* pre-activation */
} dense;

static int dense_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *host = gs_host_of(m);
    dense *d = host->zalloc(sizeof *d);
    host->set_state(m, d);
    d->host = host;
    int seq = p[P_PER_STEP].b;
    if (seq && (in->layout != GS_LAYOUT_SEQUENCE || in->ndim != 2)) {
        host->error("dense: per_step = true needs a sequence input (T, C); got %s with %zu "
                    "values",
                    in->layout == GS_LAYOUT_IMAGE ? "an image" : "a vector", gs_shape_numel(in));
        return -1;
    }
    d->steps = seq ? in->dims[0] : 1;
    d->in = seq ? in->dims[1] : gs_shape_numel(in);
    d->units = (size_t)p[P_UNITS].i;
    size_t wdims[2] = {d->units, d->in};
    d->w = host->add_param(m, "weight", 2, wdims, GS_ROLE_WEIGHT, d->in, d->units,
                           p[P_INIT].ref, p[P_ACTIVATION].ref);
    if (!d->w)
        return -1;
    if (p[P_BIAS].b) {
        size_t bdims[1] = {d->units};
        d->b = host->add_param(m, "bias", 1, bdims, GS_ROLE_BIAS, d->in, d->units,
                               p[P_BIAS_INIT].ref, NULL);
        if (!d->b)
            return -1;
    }
    *out = (gs_shape){.ndim = 1, .dims = {d->units}};
    if (seq)
        *out = (gs_shape){.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {d->steps, d->units}};
    if (strcmp(host->ref_name(p[P_ACTIVATION].ref), "identity") != 0) {
        d->h = host->add_buffer(m, "pre", out);
        gs_shape act_out;
        d->act = host->add_child(m, "act", p[P_ACTIVATION].ref, out, &act_out);
        if (!d->h || !d->act)
            return -1;
    }
    return 0;
}

static void dense_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    dense *d = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0] * d->steps;
    gs_tensor *h = d->act ? d->h : y;
    d->host->gemm(x->dtype, 0, 1, n, d->units, d->in, 1.0, x->data, d->in, d->w->value.data,
                  d->in, 0.0, h->data, d->units);
    if (d->b)
        d->host->add_row_vector(x->dtype, n, d->units, d->b->value.data, h->data);
    if (d->act)
        d->host->forward(d->act, h, y, training);
}

static void dense_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                           const gs_tensor *dy, gs_tensor *dx)
{
    dense *d = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0] * d->steps;
    const gs_tensor *dh = dy;
    gs_tensor dpre;
    if (d->act) {
        dpre = *d->h;
        dpre.data = d->host->scratch_get(m, gs_tensor_bytes(d->h));
        d->host->backward(d->act, d->h, y, dy, &dpre);
        dh = &dpre;
    }
    /* dW += dh^T x ; db += column sums of dh ; dx = dh W */
    d->host->gemm(x->dtype, 1, 0, d->units, d->in, n, 1.0, dh->data, d->units, x->data, d->in,
                  1.0, d->w->grad.data, d->in);
    if (d->b)
        d->host->sum_rows(x->dtype, n, d->units, dh->data, d->b->grad.data);
    if (dx)
        d->host->gemm(x->dtype, 0, 0, n, d->in, d->units, 1.0, dh->data, d->units,
                      d->w->value.data, d->in, 0.0, dx->data, d->in);
    if (d->act)
        d->host->scratch_put(m, dpre.data);
}

static void dense_destroy(gs_module *m)
{
    const gs_host *host = gs_host_of(m);
    host->free(host->get_state(m));
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = dense_build,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "dense",
    .doc = "fully connected layer y = act(x W^T + b)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "dense",
    .version = "1.0",
    .license = "MIT",
    .description = "fully connected layer",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
