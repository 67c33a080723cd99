/*
 * transition: the layer between two dense blocks (Huang et al. 2017),
 * [norm ->] act -> dense from C to floor(theta C) units.  It applies the
 * activation first because a dense block outputs raw features; with
 * compression theta < 1 it keeps the concatenated width from growing.
 *
 * On an image (C, H, W), as the paper's DenseNet-BC and torchvision:
 * [norm ->] act -> 1x1 convolution without bias to floor(theta C)
 * channels -> average pooling with kernel and stride `pool` (2: H and W
 * halve, floored as AvgPool2d; 0: no pooling).
 */
#include "layer_util.h"

enum { P_COMPRESSION, P_ACTIVATION, P_INIT, P_NORM, P_POOL };

static const gs_param_spec params[] = {
    [P_COMPRESSION] = {.name = "compression", .type = GS_P_FLOAT, .def.f = 0.5, .min = 0.0,
                       .max = 1.0, .doc = "theta in (0, 1]: output width floor(theta C)"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation before the dense"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "he",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "weight initializer"},
    [P_NORM] = BLK_NORM_PARAM("normalization before the activation"),
    [P_POOL] = {.name = "pool", .type = GS_P_INT, .def.i = 2, .min = 0, .max = 1 << 10,
                .doc = "images: average pooling kernel and stride after the conv (0: none); "
                       "vectors: 2 or 0, nothing to pool"},
    {0},
};

static int transition_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    gs_chain *c = h->zalloc(sizeof *c);
    h->set_state(m, c);
    int image = in->layout == GS_LAYOUT_IMAGE;
    int64_t pool = p[P_POOL].i;
    char got[96];
    if (image && blk_need_image(h, "transition", in) < 0)
        return -1;
    if (!image && pool != 2 && pool != 0) {
        h->error("transition: pool = %lld needs an image input; got %s", (long long)pool,
                 blk_shape_str(in, got, sizeof got));
        return -1;
    }
    size_t width = image ? in->dims[0] : gs_shape_numel(in);
    /* The small epsilon keeps theta C = 3 from flooring to 2 through rounding. */
    size_t units = (size_t)floor(p[P_COMPRESSION].f * (double)width + 1e-9);
    if (units == 0) {
        h->error("compression %g of %zu %s leaves no %s", p[P_COMPRESSION].f, width,
                 image ? "channels" : "inputs", image ? "channels" : "units");
        return -1;
    }
    if (image && pool > 0 && ((size_t)pool > in->dims[1] || (size_t)pool > in->dims[2])) {
        h->error("transition: %lldx%lld pooling needs H, W >= %lld; got %s", (long long)pool,
                 (long long)pool, (long long)pool, blk_shape_str(in, got, sizeof got));
        return -1;
    }
    gs_chain_init(h, c, 4, in);
    if (strcmp(p[P_NORM].s, "none") != 0 && gs_chain_add_norm(h, m, c, "norm", p[P_NORM].s) < 0)
        return -1;
    if (gs_chain_add(h, m, c, "act", p[P_ACTIVATION].ref) < 0)
        return -1;
    if (!image) {
        if (gs_chain_add_dense(h, m, c, "fc", units, p[P_INIT].ref, NULL) < 0)
            return -1;
        *out = c->shape;
        return 0;
    }
    gs_ref *conv = h->ref_new(m, GS_KIND_LAYER, "conv2d");
    if (!conv || h->ref_set_int(conv, "channels", (int64_t)units) < 0 ||
        h->ref_set_int(conv, "kernel", 1) < 0 || h->ref_set_bool(conv, "bias", 0) < 0 ||
        h->ref_set_ref(conv, "init", p[P_INIT].ref) < 0 || gs_chain_add(h, m, c, "conv", conv) < 0)
        return -1;
    if (pool > 0) {
        gs_ref *avg = h->ref_new(m, GS_KIND_LAYER, "avgpool");
        if (!avg || h->ref_set_int(avg, "kernel", pool) < 0 ||
            h->ref_set_int(avg, "stride", pool) < 0 || gs_chain_add(h, m, c, "pool", avg) < 0)
            return -1;
    }
    *out = c->shape;
    return 0;
}

static void transition_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    const gs_host *h = gs_host_of(m);
    gs_chain_forward(h, h->get_state(m), x, y, training);
}

static void transition_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                                const gs_tensor *dy, gs_tensor *dx)
{
    const gs_host *h = gs_host_of(m);
    gs_chain_backward(h, m, h->get_state(m), x, y, dy, dx);
}

static void transition_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    gs_chain *c = h->get_state(m);
    if (!c)
        return;
    if (c->st)
        gs_chain_free(h, c);
    h->free(c);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = transition_build,
    .forward = transition_forward,
    .backward = transition_backward,
    .destroy = transition_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "transition",
    .doc = "DenseNet transition: [norm ->] act -> dense to floor(compression * C) units; on "
           "images a 1x1 conv to floor(compression * C) channels, then pool x pool avgpool",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "transition",
    .version = "1.0",
    .license = "MIT",
    .description = "DenseNet transition layer (Huang et al. 2017)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
