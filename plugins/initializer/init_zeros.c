/* All zeros, as torch.nn.init.zeros_ (the usual bias initializer). */
#include "gradscope/plugin.h"

static int zeros_fill(const gs_init_call *c, double *out)
{
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    for (size_t k = 0; k < n; k++)
        out[k] = 0.0;
    return 0;
}

static const gs_param_spec zeros_params[] = {{0}};

static const gs_initializer_ops zeros_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = zeros_fill,
};

static const gs_component zeros_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "zeros",
    .doc = "all zeros (torch.nn.init.zeros_)",
    .params = zeros_params,
    .ops = &zeros_ops,
}};

static const gs_plugin_desc zeros_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_zeros",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Zero initializer",
    .n_components = 1,
    .components = zeros_components,
};

GS_PLUGIN_DEFINE(zeros_desc)
