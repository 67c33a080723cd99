/* Independent U(a, b) draws, as torch.nn.init.uniform_. */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_A, P_B };

static int uniform_fill(const gs_init_call *c, double *out)
{
    const double a = c->p[P_A].f, b = c->p[P_B].f;
    if (a > b) {
        c->host->error("uniform: a (%g) must not exceed b (%g)", a, b);
        return -1;
    }
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    for (size_t k = 0; k < n; k++)
        out[k] = a + (b - a) * c->host->rng_uniform(c->rng);
    return 0;
}

static const gs_param_spec uniform_params[] = {
    {.name = "a", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = GS_ANY,
     .doc = "lower bound (torch default 0)"},
    {.name = "b", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = GS_ANY,
     .doc = "upper bound, at least a (torch default 1)"},
    {0}};

static const gs_initializer_ops uniform_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = uniform_fill,
};

static const gs_component uniform_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "uniform",
    .doc = "uniform U(a, b) (torch.nn.init.uniform_)",
    .params = uniform_params,
    .ops = &uniform_ops,
}};

static const gs_plugin_desc uniform_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_uniform",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Uniform initializer",
    .n_components = 1,
    .components = uniform_components,
};

GS_PLUGIN_DEFINE(uniform_desc)
