/* Independent N(mean, std^2) draws, as torch.nn.init.normal_. */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_MEAN, P_STD };

static int normal_fill(const gs_init_call *c, double *out)
{
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double mean = c->p[P_MEAN].f, std = c->p[P_STD].f;
    for (size_t k = 0; k < n; k++)
        out[k] = mean + std * c->host->rng_normal(c->rng);
    return 0;
}

static const gs_param_spec normal_params[] = {
    {.name = "mean", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = GS_ANY,
     .doc = "mean of the distribution (torch default 0)"},
    {.name = "std", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "standard deviation (torch default 1)"},
    {0}};

static const gs_initializer_ops normal_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = normal_fill,
};

static const gs_component normal_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "normal",
    .doc = "normal N(mean, std^2) (torch.nn.init.normal_)",
    .params = normal_params,
    .ops = &normal_ops,
}};

static const gs_plugin_desc normal_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_normal",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Normal initializer",
    .n_components = 1,
    .components = normal_components,
};

GS_PLUGIN_DEFINE(normal_desc)
