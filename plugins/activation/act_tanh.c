/*
 * Hyperbolic tangent, as torch.nn.Tanh; f' = 1 - y^2 from the output, as
 * PyTorch's backward.
 */
#include "gradscope/activation.h"

/*
 * Float tanh that vectorizes (glibc's tanhf is a call per element and the
 * cost of deep tanh networks): Cephes's odd polynomial below |x| = 0.625,
 * 1 - 2/(exp(2|x|) + 1) above, both computed and one selected.  Within a
 * few ulp; saturates to +-1 and propagates NaN.
 */
static inline float tanh_f32(float x)
{
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = p * z * x + x;
    const float big = copysignf(1.0f - 2.0f / (gs_expf(2.0f * fabsf(x)) + 1.0f), x);
    return fabsf(x) > 0.625f ? big : small;
}

static inline double tanh_f64(double x) { return tanh(x); }

#define TANH(x) _Generic((x), float: tanh_f32, default: tanh_f64)(x)

GS_ELEMENTWISE_ACTIVATION(tanh_act, ,
                          TANH(x),
                          dy * (GS_C(1) - y * y))

/* torch.nn.init.calculate_gain("tanh") */
static double tanh_gain(const gs_value *p)
{
    (void)p;
    return 5.0 / 3.0;
}

static const gs_param_spec tanh_params[] = {{0}};

/* |f'| < 0.01 once |x| > 3 */
static const gs_activation_ops tanh_ops = GS_ACTIVATION_OPS(tanh_act, tanh_gain, 0.01);

static const gs_component tanh_components[] = {
    GS_ACTIVATION_COMPONENT("tanh", "hyperbolic tangent (torch.nn.Tanh)", tanh_params, tanh_ops),
};

static const gs_plugin_desc tanh_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_tanh",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Tanh activation",
    .n_components = 1,
    .components = tanh_components,
};

GS_PLUGIN_DEFINE(tanh_desc)
