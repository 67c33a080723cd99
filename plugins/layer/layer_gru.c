/*
 * gru: gated recurrent unit layer as torch.nn.GRU, gates r, z, n in that
 * order (weight_ih of shape (3H, C)):
 *   r = sigmoid(x W_irᵀ + b_ir + h U_hrᵀ + b_hr), z likewise,
 *   n = tanh(x W_inᵀ + b_in + r (h U_hnᵀ + b_hn)),
 *   h_t = (1 - z) n + z h_{t-1},  h_0 = 0.
 * The implementation, shared with rnn and lstm, is in rnn_util.h.
 */
#include "rnn_util.h"

static const gs_param_spec params[] = {
    RNN_COMMON_PARAMS,
    [P_EXTRA] = {0},
};

static int build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return rnn_build(m, p, in, out, CELL_GRU);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = build,
    .forward = rnn_forward,
    .backward = rnn_backward,
    .destroy = rnn_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "gru",
    .doc = "GRU layer (torch.nn.GRU, gates r, z, n): sequence (T, C) -> (H) or (T, H)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "gru",
    .version = "1.0",
    .license = "MIT",
    .description = "gated recurrent unit layer",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
