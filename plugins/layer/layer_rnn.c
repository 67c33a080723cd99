/*
 * rnn: Elman recurrent layer, h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
 * with act tanh or relu, as torch.nn.RNN (nonlinearity), or identity (a linear
 * RNN, not a torch option).  Input (T, C),
 * output (H) or (T, H); h_0 = 0.  The implementation, shared with lstm and
 * gru, is in rnn_util.h; docs/reference/recurrent.md has the equations.
 */
#include "rnn_util.h"

static const gs_param_spec params[] = {
    RNN_COMMON_PARAMS,
    [P_EXTRA] = {.name = "activation", .type = GS_P_STRING, .def.s = "tanh",
                 .choices = "tanh|relu|identity", .min = GS_ANY,
                 .doc = "tanh or relu (PyTorch's nonlinearity); relu with identity "
                        "recurrent_init is Le et al.'s IRNN; identity (not a PyTorch "
                        "option) makes a linear RNN, for studying the recurrent "
                        "Jacobian alone"},
    {0},
};

static int build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    return rnn_build(m, p, in, out, CELL_RNN);
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
    .name = "rnn",
    .doc = "Elman recurrent layer (torch.nn.RNN): sequence (T, C) -> (H) or (T, H)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "rnn",
    .version = "1.0",
    .license = "MIT",
    .description = "Elman recurrent layer, tanh, relu or identity (linear)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
