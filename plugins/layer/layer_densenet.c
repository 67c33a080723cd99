/*
 * densenet: a dense block (Huang et al. 2017), on vectors or on images.
 *
 * Layer i (1..L) sees the concatenation of the block input and every
 * earlier layer's output, [x, h_1, ..., h_{i-1}] of width C + (i-1)k, and
 * adds k features through [norm -> act -> dense(k)], or with a bottleneck
 * of b units (DenseNet-B) [norm -> act -> dense(b) -> norm -> act -> dense(k)].
 * The block outputs [x, h_1, ..., h_L], width C + Lk, so every layer has a
 * direct path to the block output and to the loss.
 *
 * On an image (C, H, W) the widths count channels and each dense becomes a
 * convolution without bias, as in the paper and torchvision: 3x3 with
 * padding 1 to k channels, the bottleneck 1x1 to b channels; H and W stay.
 * In (N, C, H, W) memory an example's channel blocks are contiguous, so
 * the concatenations are the vector form's column copies with every
 * column widened to an H W plane.
 *
 * Memory (the shared concatenation of Pleiss et al. 2017): every layer's
 * input [x, h_1, ..., h_{i-1}] is the leading C + (i-1)k columns of the
 * block output, which stays as it is until backward.  So the layers share
 * one concatenation buffer, filled for each layer in forward and filled
 * again, by the same copy, for its backward: the block keeps the widest
 * input once instead of every layer's (quadratic in L, as a naive
 * DenseNet).  The other intermediate arrays of the layers are kept.
 */
#include "layer_util.h"

enum { P_LAYERS, P_GROWTH, P_BOTTLENECK, P_ACTIVATION, P_INIT, P_NORM };

static const gs_param_spec params[] = {
    [P_LAYERS] = {.name = "layers", .type = GS_P_INT, .def.i = 4, .min = 1, .max = 256,
                  .doc = "layers L in the block"},
    [P_GROWTH] = {.name = "growth", .type = GS_P_INT, .def.i = 12, .min = 1, .max = 1 << 16,
                  .doc = "growth rate k: features (channels on images) each layer adds"},
    [P_BOTTLENECK] = {.name = "bottleneck", .type = GS_P_INT, .def.i = 0, .min = 0,
                      .max = 1 << 16,
                      .doc = "units (1x1 conv channels on images) of a bottleneck before "
                             "each layer; 0: none"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation before each dense"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "he",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "initializer of every weight"},
    [P_NORM] = BLK_NORM_PARAM("normalization before each activation"),
    {0},
};

typedef struct dlayer {
    size_t width;      /* C + (i-1)k */
    gs_chain c;
    gs_tensor *h;      /* output */
} dlayer;

typedef struct densenet {
    const gs_host *host;
    size_t c0, k, n_layers, width;
    size_t plane;      /* H W on images, 1 on vectors */
    gs_shape img;      /* the input image; layout VECTOR (zeroed) on vectors */
    dlayer *ly;
    gs_tensor *cat;    /* the shared input of layers 2..L, as wide as layer L's */
} densenet;

/* A bias-free square convolution child with `padding` and (fused)
   activation `act` (NULL: identity): a dense block's dense on images. */
static int add_conv(const gs_host *h, gs_module *m, gs_chain *c, const char *name,
                    size_t channels, int kernel, const gs_ref *init, const gs_ref *act)
{
    gs_ref *r = h->ref_new(m, GS_KIND_LAYER, "conv2d");
    if (!r || h->ref_set_int(r, "channels", (int64_t)channels) < 0 ||
        h->ref_set_int(r, "kernel", kernel) < 0 || h->ref_set_int(r, "padding", kernel / 2) < 0 ||
        h->ref_set_bool(r, "bias", 0) < 0 || h->ref_set_ref(r, "init", init) < 0 ||
        (act && h->ref_set_ref(r, "activation", act) < 0))
        return -1;
    return gs_chain_add(h, m, c, name, r);
}

/* The dense of a layer: a dense on vectors, a convolution on images. */
static int add_linear(densenet *d, gs_module *m, gs_chain *c, const char *name, size_t units,
                      int kernel, const gs_ref *init, const gs_ref *act)
{
    if (d->img.layout == GS_LAYOUT_IMAGE)
        return add_conv(d->host, m, c, name, units, kernel, init, act);
    return gs_chain_add_dense(d->host, m, c, name, units, init, act);
}

/* A per-example shape of `width` features: (width) or (width, H, W). */
static gs_shape widths(const densenet *d, size_t width)
{
    if (d->img.layout != GS_LAYOUT_IMAGE)
        return (gs_shape){.ndim = 1, .dims = {width}};
    gs_shape s = d->img;
    s.dims[0] = width;
    return s;
}

static int build_layer(densenet *d, gs_module *m, const gs_value *p, size_t i, dlayer *l)
{
    const gs_host *h = d->host;
    const gs_ref *act = p[P_ACTIVATION].ref, *init = p[P_INIT].ref;
    int norm = strcmp(p[P_NORM].s, "none") != 0;
    size_t b = (size_t)p[P_BOTTLENECK].i;
    gs_shape in = widths(d, l->width), out = widths(d, d->k);
    char name[48];
    gs_chain_init(h, &l->c, 6, &in);
    if (norm) {
        snprintf(name, sizeof name, "l%zu.norm", i);
        if (gs_chain_add_norm(h, m, &l->c, name, p[P_NORM].s) < 0)
            return -1;
    }
    snprintf(name, sizeof name, "l%zu.act", i);
    if (gs_chain_add(h, m, &l->c, name, act) < 0)
        return -1;
    if (b) {
        /* Without a norm in between, the second activation is fused. */
        snprintf(name, sizeof name, "l%zu.bottleneck", i);
        if (add_linear(d, m, &l->c, name, b, 1, init, norm ? NULL : act) < 0)
            return -1;
        if (norm) {
            snprintf(name, sizeof name, "l%zu.norm2", i);
            if (gs_chain_add_norm(h, m, &l->c, name, p[P_NORM].s) < 0)
                return -1;
            snprintf(name, sizeof name, "l%zu.act2", i);
            if (gs_chain_add(h, m, &l->c, name, act) < 0)
                return -1;
        }
    }
    snprintf(name, sizeof name, d->img.layout == GS_LAYOUT_IMAGE ? "l%zu.conv" : "l%zu.fc", i);
    if (add_linear(d, m, &l->c, name, d->k, 3, init, NULL) < 0)
        return -1;
    snprintf(name, sizeof name, "l%zu.out", i);
    l->h = h->add_buffer(m, name, &out);
    return l->h ? 0 : -1;
}

static int densenet_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    densenet *d = h->zalloc(sizeof *d);
    h->set_state(m, d);
    d->host = h;
    d->plane = 1;
    if (in->layout == GS_LAYOUT_IMAGE) {
        if (blk_need_image(h, "densenet", in) < 0)
            return -1;
        d->img = *in;
        d->c0 = in->dims[0];
        d->plane = in->dims[1] * in->dims[2];
    } else {
        d->c0 = gs_shape_numel(in);
    }
    d->k = (size_t)p[P_GROWTH].i;
    d->n_layers = (size_t)p[P_LAYERS].i;
    d->width = d->c0 + d->n_layers * d->k;
    d->ly = h->zalloc(d->n_layers * sizeof *d->ly);
    for (size_t i = 0; i < d->n_layers; i++) {
        d->ly[i].width = d->c0 + i * d->k;
        if (build_layer(d, m, p, i + 1, &d->ly[i]) < 0)
            return -1;
    }
    if (d->n_layers > 1) {
        gs_shape cat = widths(d, d->ly[d->n_layers - 1].width);
        d->cat = h->add_buffer(m, "concat", &cat);
        if (!d->cat)
            return -1;
    }
    *out = widths(d, d->width);
    return 0;
}

/* Layer i's input: x for layer 1, else the shared buffer filled with the
   leading columns of y (lw of w per example), shaped as that input. */
static const gs_tensor *layer_input(const densenet *d, size_t i, const gs_tensor *x,
                                    const gs_tensor *y, gs_tensor *view)
{
    if (i == 0)
        return x;
    size_t n = x->dims[0], S = d->plane, lw = d->ly[i].width * S, w = d->width * S;
    gs_copy_cols(x->dtype, n, lw, y->data, w, d->cat->data, lw, 0);
    *view = *d->cat;
    view->dims[1] = d->ly[i].width;
    return view;
}

static void densenet_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    densenet *d = gs_host_of(m)->get_state(m);
    gs_dtype dt = x->dtype;
    /* columns of an example's row: features, or channel planes of S values */
    size_t n = x->dims[0], S = d->plane, w = d->width * S, c0 = d->c0 * S, k = d->k * S;
    gs_copy_cols(dt, n, c0, x->data, c0, y->data, w, 0);
    for (size_t i = 0; i < d->n_layers; i++) {
        dlayer *l = &d->ly[i];
        size_t lw = l->width * S;
        gs_tensor view;
        const gs_tensor *in = layer_input(d, i, x, y, &view);
        gs_chain_forward(d->host, &l->c, in, l->h, training);
        char *slot = (char *)y->data + lw * gs_dtype_size(dt);
        gs_copy_cols(dt, n, k, l->h->data, k, slot, w, 0);
    }
}

static void densenet_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                              const gs_tensor *dy, gs_tensor *dx)
{
    densenet *d = gs_host_of(m)->get_state(m);
    const gs_host *h = d->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0], S = d->plane, w = d->width * S, k = d->k * S, es = gs_dtype_size(dt);
    int monitoring = h->monitoring(m);
    /* Backward-only arrays, from the host's scratch memory: g = dL/d(output),
       accumulating the layers' input gradients; one layer's dL/d(its output)
       and dL/d(its input), reused by every layer in turn. */
    char *g = h->scratch_get(m, n * w * es);
    gs_tensor dh = *d->ly[0].h;
    dh.data = h->scratch_get(m, n * k * es);
    void *din_data = h->scratch_get(m, n * (w - k) * es);
    memcpy(g, dy->data, n * w * es);
    /* In reverse, so h_i's slot of g already holds what later layers sent it. */
    for (size_t i = d->n_layers; i-- > 0;) {
        dlayer *l = &d->ly[i];
        size_t lw = l->width * S;
        gs_copy_cols(dt, n, k, g + lw * es, w, dh.data, k, 0);
        if (monitoring) {
            char key[48];
            snprintf(key, sizeof key, "layer%zu_grad_norm", i + 1);
            h->record(m, key, gs_norm2(dt, n * k, dh.data));
        }
        int need_din = i > 0 || dx;
        gs_tensor view;
        const gs_tensor *in = layer_input(d, i, x, y, &view);
        gs_tensor din = *in;
        din.data = din_data;
        gs_chain_backward(h, m, &l->c, in, l->h, &dh, need_din ? &din : NULL);
        if (need_din)
            gs_copy_cols(dt, n, lw, din_data, lw, g, w, 1);
    }
    if (dx)
        gs_copy_cols(dt, n, d->c0 * S, g, w, dx->data, d->c0 * S, 0);
    h->scratch_put(m, din_data);
    h->scratch_put(m, dh.data);
    h->scratch_put(m, g);
}

static void densenet_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    densenet *d = h->get_state(m);
    if (!d)
        return;
    for (size_t i = 0; d->ly && i < d->n_layers; i++)
        if (d->ly[i].c.st)
            gs_chain_free(h, &d->ly[i].c);
    h->free(d->ly);
    h->free(d);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = densenet_build,
    .forward = densenet_forward,
    .backward = densenet_backward,
    .destroy = densenet_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "densenet",
    .doc = "dense block: layer i sees [x, h_1..h_{i-1}]; output [x, h_1..h_L], width (or "
           "channels, on images) C + Lk",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "densenet",
    .version = "1.0",
    .license = "MIT",
    .description = "dense block (Huang et al. 2017)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
