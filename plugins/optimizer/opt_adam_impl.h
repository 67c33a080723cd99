/*
 * The Adam update shared by opt_adam.c (L2 decay folded into the gradient)
 * and opt_adamw.c (decoupled decay), as torch.optim.Adam / AdamW.
 */
#ifndef GS_OPT_ADAM_IMPL_H
#define GS_OPT_ADAM_IMPL_H

#include <math.h>
#include "gradscope/plugin.h"

enum { ADAM_P_LR, ADAM_P_BETAS, ADAM_P_EPS, ADAM_P_WEIGHT_DECAY, ADAM_P_AMSGRAD };

/* torch requires 0 <= beta < 1; bounds are inclusive, and this one still
   reads as less than 1 in range errors printed with %g. */
#define ADAM_BETA_MAX 0.999999

static const double adam_default_betas[2] = {0.9, 0.999};

/* Schema shared by both; only the default weight decay differs. */
#define ADAM_PARAMS(WD_DEFAULT, WD_DOC)                                            \
    {.name = "lr", .type = GS_P_FLOAT, .def = {.f = 1e-3}, .min = 0.0, .max = HUGE_VAL, \
     .doc = "base learning rate"},                                                 \
    {.name = "betas", .type = GS_P_FLOATS, .def = {.list = {adam_default_betas, 2}},  \
     .min = 0.0, .max = ADAM_BETA_MAX, .len = 2,                                   \
     .doc = "decay rates (beta1, beta2) of the first and second moment averages"}, \
    {.name = "eps", .type = GS_P_FLOAT, .def = {.f = 1e-8}, .min = 0.0, .max = HUGE_VAL, \
     .doc = "added to the bias-corrected root of the second moment"},              \
    {.name = "weight_decay", .type = GS_P_FLOAT, .def = {.f = WD_DEFAULT}, .min = 0.0, \
     .max = HUGE_VAL, .doc = WD_DOC},                                              \
    {.name = "amsgrad", .type = GS_P_BOOL, .def = {.b = 0},                        \
     .doc = "normalise by the running maximum of the second moment (AMSGrad)"},    \
    {0}

/* State: slot 0 first moment, slot 1 second moment, slot 2 its running
   maximum when amsgrad is on. */
static size_t adam_state_slots(const gs_value *p)
{
    return p[ADAM_P_AMSGRAD].b ? 3 : 2;
}

static inline __attribute__((always_inline)) void
adam_loop(size_t n, float *restrict theta, const float *restrict grad,
          float *restrict m, float *restrict v, float *restrict vmax, float b1, float b2,
          float a1, float a2, float l2, float step_size, float inv_sqrt_bc2, float eps,
          const int amsgrad)
{
    /* omp simd: at -O2 gcc's cheap cost model would leave this scalar. */
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i] + l2 * theta[i];
        m[i] = b1 * m[i] + a1 * g;
        v[i] = b2 * v[i] + a2 * g * g;
        float second = v[i];
        if (amsgrad) {
            vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
            second = vmax[i];
        }
        theta[i] -= step_size * m[i] / (sqrtf(second) * inv_sqrt_bc2 + eps);
    }
}

/*
 * The loop compiled for AVX-512, AVX2 and the x86-64 baseline, the loader
 * picking the widest the processor runs: its square root and division are
 * the step's cost, and the baseline does them four lanes at a time (on
 * mnist-mlp, a 270k-parameter network, Adam was 11% of a step's time).
 * Every operation is correctly rounded and none is fused
 * (-ffp-contract=off), so every copy gives the same bits.
 */
#define ADAM_LOOP_ARGS                                                                    \
    size_t n, float *restrict theta, const float *restrict grad, float *restrict m,       \
        float *restrict v, float *restrict vmax, float b1, float b2, float a1, float a2,  \
        float l2, float step_size, float inv_sqrt_bc2, float eps

GS_KERNEL_CLONES static void adam_plain(ADAM_LOOP_ARGS)
{
    adam_loop(n, theta, grad, m, v, vmax, b1, b2, a1, a2, l2, step_size, inv_sqrt_bc2, eps, 0);
}

GS_KERNEL_CLONES static void adam_ams(ADAM_LOOP_ARGS)
{
    adam_loop(n, theta, grad, m, v, vmax, b1, b2, a1, a2, l2, step_size, inv_sqrt_bc2, eps, 1);
}

GS_KERNEL_CLONES static void adam_scale(size_t n, float *restrict theta, float keep)
{
    #pragma omp simd
    for (size_t i = 0; i < n; i++)
        theta[i] *= keep;
}

/* decoupled: AdamW's theta *= 1 - lr*wd before the step; else wd is L2. */
static inline void adam_update(const gs_opt_call *c, size_t n, float *theta,
                               const float *grad, float *state, int decoupled)
{
    const double b1 = c->p[ADAM_P_BETAS].list.v[0];
    const double b2 = c->p[ADAM_P_BETAS].list.v[1];
    const double t = (double)c->t;
    /* 1 - beta and the bias corrections once per call, in double from the
       configured betas: 1 - (float)beta2 is off by 6.8e-4 relative at
       beta2 = 0.99999 (torch, too, takes 1 - beta in double). */
    const float a1 = (float)(1.0 - b1), a2 = (float)(1.0 - b2);
    const float step_size = (float)(c->lr / (1.0 - pow(b1, t)));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
    const float eps = (float)c->p[ADAM_P_EPS].f;
    float l2 = (float)c->weight_decay;

    if (decoupled) {
        adam_scale(n, theta, (float)(1.0 - c->lr * c->weight_decay));
        l2 = 0.0f;
    }
    float *m = state, *v = state + c->stride;
    if (c->p[ADAM_P_AMSGRAD].b)
        adam_ams(n, theta, grad, m, v, state + 2 * c->stride, (float)b1, (float)b2, a1, a2, l2,
                 step_size, inv_sqrt_bc2, eps);
    else
        adam_plain(n, theta, grad, m, v, NULL, (float)b1, (float)b2, a1, a2, l2, step_size,
                   inv_sqrt_bc2, eps);
}

#endif /* GS_OPT_ADAM_IMPL_H */
