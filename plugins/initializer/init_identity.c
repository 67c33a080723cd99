/*
 * Identity initialization scaled by a gain: torch.nn.init.eye_ times gain.
 * Ones on the main diagonal of the rows x cols matrix (rows = dims[0]),
 * zeros elsewhere, so a non-square matrix gets min(rows, cols) ones.  With
 * a relu rnn this is Le, Jaitly & Hinton's (2015) IRNN: the recurrence
 * starts as the identity, which passes gradients back unchanged.
 */
#include "gradscope/plugin.h"

enum { P_GAIN };

static int identity_fill(const gs_init_call *c, double *out)
{
    if (c->ndim != 2) {
        c->host->error("identity: needs a 2-dimensional tensor, got %d dimensions", c->ndim);
        return -1;
    }
    const size_t rows = c->dims[0], cols = c->dims[1];
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            out[i * cols + j] = i == j ? c->p[P_GAIN].f : 0.0;
    return 0;
}

static const gs_param_spec identity_params[] = {
    {.name = "gain", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = GS_ANY,
     .doc = "value of the diagonal (IRNN: 1; Le et al. also use 0.01 for large models)"},
    {0}};

static const gs_initializer_ops identity_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = identity_fill,
};

static const gs_component identity_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "identity",
    .doc = "identity matrix scaled by gain (torch.nn.init.eye_ * gain; IRNN)",
    .params = identity_params,
    .ops = &identity_ops,
}};

static const gs_plugin_desc identity_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_identity",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Identity initializer",
    .n_components = 1,
    .components = identity_components,
};

GS_PLUGIN_DEFINE(identity_desc)
