/*
 * flatten: an image (C, H, W) or a sequence (T, C) becomes a vector of its
 * C*H*W (T*C) values in memory order, as torch.flatten(x, 1) on an NCHW
 * batch.  The values are copied unchanged; only the layout changes, so
 * that the layers after it (batch norm, PReLU) see features, not channels.
 * A vector input is refused: flattening it would do nothing, and a model
 * that has one where an image was meant is better stopped.
 */
#include <string.h>
#include "layer_util.h"

static const gs_param_spec params[] = {{0}};

static int flatten_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    (void)p;
    if (in->layout == GS_LAYOUT_VECTOR) {
        char got[96];
        h->error("flatten: needs an image (C, H, W) or a sequence (T, C); got %s",
                 blk_shape_str(in, got, sizeof got));
        return -1;
    }
    *out = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {gs_shape_numel(in)}};
    return 0;
}

static void flatten_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    (void)m;
    (void)training;
    if (y->data != x->data)
        memcpy(y->data, x->data, gs_tensor_bytes(x));
}

static void flatten_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                             const gs_tensor *dy, gs_tensor *dx)
{
    (void)m;
    (void)y;
    if (dx && dx->data != dy->data)
        memcpy(dx->data, dy->data, gs_tensor_bytes(x));
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = flatten_build,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "flatten",
    .doc = "image (C, H, W) or sequence (T, C) to a vector of its values (torch.flatten)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "flatten",
    .version = "1.0",
    .license = "MIT",
    .description = "image or sequence to vector",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
