/*
 * GELU, as torch.nn.GELU: exact x*Phi(x) with the normal CDF through erfc,
 * or with approximate = "tanh" the form of Hendrycks & Gimpel,
 * 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))).  The two forms get
 * separate kernels so the choice is made once per call, not per element.
 */
#include <string.h>
#include "gradscope/activation.h"

enum { P_APPROXIMATE };

#define INV_SQRT2 0.70710678118654752440      /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794   /* 1/sqrt(2*pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588 /* sqrt(2/pi) */
#define KAPPA 0.044715

/*
 * Phi(x) = erfc(-x/sqrt 2)/2 through erfc, which keeps its relative
 * accuracy far below zero where 1 + erf(x/sqrt 2) cancels; f' = Phi(x) +
 * x*phi(x).  In float, the forward is gs_erfc_exp_f32 (vectorizes, no slow
 * path for tiny arguments) on x/sqrt(2) formed in double, rounded to float
 * once.  The backward takes Phi(x) = y/x from the forward's output instead
 * of a second erfc, which halves its cost (GELU's share of a narrow
 * network, issue 25): y is within 0.61 ulp of x*Phi(x), so Phi comes with
 * a relative error below 7.3e-8, against 1e-8 from erfc; below |x| = 2^-9,
 * where y = x/2 may have lost bits (subnormal x) and 0/0 waits at x = 0,
 * Phi(x) = 1/2 + x/sqrt(2 pi) (off by less than 1e-9).  Only phi's
 * exp(-x^2/2) is computed (gs_exp_msq_f64_), and the sum is rounded once.
 * In double (the finite-difference checker's path), libm.
 */
static inline float gelu_exact_f32(float x)
{
    double e;
    const double c = gs_erfc_exp_f32(x * -INV_SQRT2, &e);
    return (float)(0.5 * x * c);
}

static inline float gelu_exact_grad_f32(float x, float y, float dy)
{
    const double xd = x, ax = fabs(xd);
    const double cdf = ax < 0x1p-9 ? 0.5 + xd * INV_SQRT_2PI : (double)y / xd;
    const double e = gs_exp_msq_f64_(ax * INV_SQRT2);
    return (float)(dy * (cdf + xd * INV_SQRT_2PI * e));
}

static inline double gelu_exact_f64(double x) { return 0.5 * x * erfc(-x * INV_SQRT2); }

static inline double gelu_exact_grad_f64(double x, double y, double dy)
{
    (void)y;
    return dy * (0.5 * erfc(-x * INV_SQRT2) + x * INV_SQRT_2PI * exp(-0.5 * x * x));
}

#define GELU_EXACT(x) _Generic((x), float: gelu_exact_f32, default: gelu_exact_f64)(x)
#define GELU_EXACT_GRAD(x, y, dy)                                               \
    _Generic((x), float: gelu_exact_grad_f32, default: gelu_exact_grad_f64)(x, y, dy)

GS_ELEMENTWISE_ACTIVATION(gelu_exact, , GELU_EXACT(x), GELU_EXACT_GRAD(x, y, dy))

/* sech(u)^2 = 1 - tanh(u)^2 without the cancellation near |tanh| = 1 */
static inline float sech2_f32(float u)
{
    const float e = gs_expf(-2.0f * fabsf(u));
    const float d = 1.0f + e;
    return 4.0f * e / (d * d);
}

static inline double sech2_f64(double u)
{
    const double e = exp(-2.0 * fabs(u));
    const double d = 1.0 + e;
    return 4.0 * e / (d * d);
}

#define SECH2(u) _Generic((u), float: sech2_f32, default: sech2_f64)(u)

/* With u = sqrt(2/pi)*(x + 0.044715*x^3): 0.5*(1 + tanh(u)) = sigmoid(2u),
   again free of cancellation; f' = sigmoid(2u) + 0.5*x*sech(u)^2*du/dx. */
#define GELU_U(x) (GS_C(SQRT_2_OVER_PI) * ((x) + GS_C(KAPPA) * (x) * (x) * (x)))

GS_ELEMENTWISE_ACTIVATION(gelu_tanh, ,
                          x * gs_sigmoid(GS_C(2) * GELU_U(x)),
                          dy * (gs_sigmoid(GS_C(2) * GELU_U(x)) +
                                GS_C(0.5) * x * SECH2(GELU_U(x)) * GS_C(SQRT_2_OVER_PI) *
                                    (GS_C(1) + GS_C(3 * KAPPA) * x * x)))

static int use_tanh(const gs_act_call *c)
{
    return strcmp(c->p[P_APPROXIMATE].s, "tanh") == 0;
}

static void gelu_forward_f32(const gs_act_call *c, const float *x, float *y)
{
    (use_tanh(c) ? gelu_tanh_forward_f32 : gelu_exact_forward_f32)(c, x, y);
}

static void gelu_forward_f64(const gs_act_call *c, const double *x, double *y)
{
    (use_tanh(c) ? gelu_tanh_forward_f64 : gelu_exact_forward_f64)(c, x, y);
}

static void gelu_backward_f32(const gs_act_call *c, const float *x, const float *y,
                              const float *dy, float *dx, float *dtheta)
{
    (use_tanh(c) ? gelu_tanh_backward_f32 : gelu_exact_backward_f32)(c, x, y, dy, dx, dtheta);
}

static void gelu_backward_f64(const gs_act_call *c, const double *x, const double *y,
                              const double *dy, double *dx, double *dtheta)
{
    (use_tanh(c) ? gelu_tanh_backward_f64 : gelu_exact_backward_f64)(c, x, y, dy, dx, dtheta);
}

static const gs_param_spec gelu_params[] = {
    {.name = "approximate", .type = GS_P_STRING, .def = {.s = "none"}, .choices = "none|tanh",
     .doc = "\"none\": exact erf form; \"tanh\": tanh approximation (torch default none)"},
    {0}};

static const gs_activation_ops gelu_ops = GS_ACTIVATION_OPS(gelu, NULL, 0.0);

static const gs_component gelu_components[] = {
    GS_ACTIVATION_COMPONENT("gelu", "Gaussian error linear unit x*Phi(x) (torch.nn.GELU)",
                            gelu_params, gelu_ops),
};

static const gs_plugin_desc gelu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_gelu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "GELU activation, exact or tanh approximation",
    .n_components = 1,
    .components = gelu_components,
};

GS_PLUGIN_DEFINE(gelu_desc)
