/*
 * lstm: long short-term memory layer as torch.nn.LSTM, gates i, f, g, o in
 * that order (weight_ih of shape (4H, C)):
 *   i, f, o = sigmoid(x W_*ᵀ + b_i* + h_{t-1} U_*ᵀ + b_h*), g = tanh(...)
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t),  h_0 = c_0 = 0.
 * `forget_bias` is added to the forget slice of bias_ih after its init.
 * The implementation, shared with rnn and gru, is in rnn_util.h.
 */
#include "rnn_util.h"

static const gs_param_spec params[] = {
    RNN_COMMON_PARAMS,
    [P_EXTRA] = {.name = "forget_bias", .type = GS_P_FLOAT, .def.f = 0.0, .min = -100,
                 .max = 100, .doc = "added to bias_ih's forget gate slice after init (0 as "
                                    "PyTorch; 1 as Jozefowicz et al.)"},
    {0},
};

static int build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return rnn_build(m, p, in, out, CELL_LSTM);
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
    .name = "lstm",
    .doc = "LSTM layer (torch.nn.LSTM, gates i, f, g, o): sequence (T, C) -> (H) or (T, H)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "lstm",
    .version = "1.0",
    .license = "MIT",
    .description = "long short-term memory layer",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
