/*
 * Glorot & Bengio's (2010) normalized initialization, variance
 * gain^2 * 2/(fan_in + fan_out), as torch.nn.init.xavier_normal_ and
 * xavier_uniform_ (bound gain*sqrt(6/(fan_in + fan_out))).  With auto_gain
 * the gain is the one recommended by the activation after the layer.
 */
#include <math.h>
#include <string.h>
#include "gradscope/plugin.h"

enum { P_DISTRIBUTION, P_GAIN, P_AUTO_GAIN };

static int xavier_fill(const gs_init_call *c, double *out)
{
    const double fans = (double)c->fan_in + (double)c->fan_out;
    if (fans == 0) {
        c->host->error("xavier: fan_in + fan_out is 0");
        return -1;
    }
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double gain = c->p[P_AUTO_GAIN].b ? c->activation_gain : c->p[P_GAIN].f;
    const double std = gain * sqrt(2.0 / fans);
    if (strcmp(c->p[P_DISTRIBUTION].s, "uniform") == 0) {
        const double bound = sqrt(3.0) * std; /* = gain*sqrt(6/(fan_in + fan_out)) */
        for (size_t k = 0; k < n; k++)
            out[k] = bound * (2.0 * c->host->rng_uniform(c->rng) - 1.0);
    } else {
        for (size_t k = 0; k < n; k++)
            out[k] = std * c->host->rng_normal(c->rng);
    }
    return 0;
}

static const gs_param_spec xavier_params[] = {
    {.name = "distribution", .type = GS_P_STRING, .def = {.s = "normal"},
     .choices = "normal|uniform", .doc = "xavier_normal_ or xavier_uniform_ (default normal)"},
    {.name = "gain", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "scale factor (torch default 1); ignored when auto_gain is set"},
    {.name = "auto_gain", .type = GS_P_BOOL, .def = {.b = 0},
     .doc = "use the following activation's recommended gain instead of gain"},
    {0}};

static const gs_initializer_ops xavier_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = xavier_fill,
};

static const gs_component xavier_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "xavier",
    .doc = "Glorot/Xavier init, variance gain^2*2/(fan_in + fan_out) (torch xavier_*_)",
    .params = xavier_params,
    .ops = &xavier_ops,
}};

static const gs_plugin_desc xavier_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_xavier",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Xavier/Glorot initializer",
    .n_components = 1,
    .components = xavier_components,
};

GS_PLUGIN_DEFINE(xavier_desc)
