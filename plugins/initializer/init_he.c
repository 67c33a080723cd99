/*
 * He et al. (2015) initialization for rectifiers, std = gain/sqrt(fan) with
 * gain = sqrt(2/(1 + s^2)) for negative slope s, as
 * torch.nn.init.kaiming_normal_ and kaiming_uniform_ (bound sqrt(3)*std).
 * Registered as "he" and "kaiming".
 */
#include <math.h>
#include <string.h>
#include "gradscope/plugin.h"

enum { P_DISTRIBUTION, P_MODE, P_NONLINEARITY, P_NEGATIVE_SLOPE };

static int he_fill(const gs_init_call *c, double *out)
{
    const char *nl = c->p[P_NONLINEARITY].s;
    const int use_fan_out = strcmp(c->p[P_MODE].s, "fan_out") == 0;
    const size_t fan = use_fan_out ? c->fan_out : c->fan_in;
    if (fan == 0) {
        c->host->error("he: %s is 0", use_fan_out ? "fan_out" : "fan_in");
        return -1;
    }
    double gain = sqrt(2.0); /* relu */
    if (strcmp(nl, "leaky_relu") == 0) {
        const double s = c->p[P_NEGATIVE_SLOPE].f;
        gain = sqrt(2.0 / (1.0 + s * s));
    } else if (strcmp(nl, "auto") == 0) {
        /* calculate_gain of the activation that follows: sqrt(2/(1+s^2)) for
           the ReLU family (PReLU with its initial slope), 5/3 for tanh... */
        gain = c->activation_gain;
    }
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double std = gain / sqrt((double)fan);
    if (strcmp(c->p[P_DISTRIBUTION].s, "uniform") == 0) {
        const double bound = sqrt(3.0) * std;
        for (size_t k = 0; k < n; k++)
            out[k] = bound * (2.0 * c->host->rng_uniform(c->rng) - 1.0);
    } else {
        for (size_t k = 0; k < n; k++)
            out[k] = std * c->host->rng_normal(c->rng);
    }
    return 0;
}

static const gs_param_spec he_params[] = {
    {.name = "distribution", .type = GS_P_STRING, .def = {.s = "normal"},
     .choices = "normal|uniform", .doc = "kaiming_normal_ or kaiming_uniform_ (default normal)"},
    {.name = "mode", .type = GS_P_STRING, .def = {.s = "fan_in"}, .choices = "fan_in|fan_out",
     .doc = "preserve the forward (fan_in) or backward (fan_out) variance"},
    {.name = "nonlinearity", .type = GS_P_STRING, .def = {.s = "relu"},
     .choices = "relu|leaky_relu|auto",
     .doc = "relu: sqrt 2; leaky_relu: sqrt(2/(1+s^2)); auto: the next activation's "
            "calculate_gain (3/4 for selu, which wants lecun instead)"},
    {.name = "negative_slope", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = GS_ANY,
     .doc = "slope s used with nonlinearity = \"leaky_relu\" (torch's a, default 0)"},
    {0}};

static const gs_initializer_ops he_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = he_fill,
};

static const gs_component he_components[] = {
    {
        .size = sizeof(gs_component),
        .kind = GS_KIND_INITIALIZER,
        .name = "he",
        .doc = "He/Kaiming init for rectifiers, std gain/sqrt(fan) (torch kaiming_*_)",
        .params = he_params,
        .ops = &he_ops,
    },
    {
        .size = sizeof(gs_component),
        .kind = GS_KIND_INITIALIZER,
        .name = "kaiming",
        .doc = "another name of he",
        .params = he_params,
        .ops = &he_ops,
    },
};

static const gs_plugin_desc he_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_he",
    .version = "1.0.0",
    .license = "MIT",
    .description = "He/Kaiming initializer",
    .n_components = 2,
    .components = he_components,
};

GS_PLUGIN_DEFINE(he_desc)
