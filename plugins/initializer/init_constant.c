/* Every element the same value, as torch.nn.init.constant_. */
#include "gradscope/plugin.h"

enum { P_VALUE };

static int constant_fill(const gs_init_call *c, double *out)
{
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double v = c->p[P_VALUE].f;
    for (size_t k = 0; k < n; k++)
        out[k] = v;
    return 0;
}

static const gs_param_spec constant_params[] = {
    {.name = "value", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = GS_ANY,
     .doc = "the value of every element"},
    {0}};

static const gs_initializer_ops constant_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = constant_fill,
};

static const gs_component constant_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "constant",
    .doc = "every element equal to value (torch.nn.init.constant_)",
    .params = constant_params,
    .ops = &constant_ops,
}};

static const gs_plugin_desc constant_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_constant",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Constant initializer",
    .n_components = 1,
    .components = constant_components,
};

GS_PLUGIN_DEFINE(constant_desc)
