/*
 * SDK helpers for activation plugins.
 *
 * An element-wise activation is two expressions.  GS_ELEMENTWISE_ACTIVATION
 * expands them into the four kernels of gs_activation_ops (float and double,
 * forward and backward) as plain loops the compiler can vectorize: no call
 * through a pointer per element.
 *
 *   GS_ELEMENTWISE_ACTIVATION(prefix, SETUP, FWD, BWD)
 *
 *   SETUP  statements run once per call before the loop, typically reading
 *          parameters from c->p (c is the const gs_act_call *); may be empty.
 *          A variable used by only one of FWD and BWD needs a (void) cast.
 *   FWD    the output y as an expression of x.
 *   BWD    dL/dx as an expression of x, y (the forward output) and dy.
 *
 * Each expression is compiled twice, with T = float and T = double.  This
 * header includes <tgmath.h>, so exp, tanh, erf... resolve to expf, tanhf,
 * erff when their argument is a float; write constants as GS_C(v) so the
 * float kernels compute in float instead of promoting to double.
 * gs_sigmoid(x) is a logistic function of either type that is safe in
 * both tails; gs_tanh(x) a tanh of either type whose float form
 * vectorizes; gs_expf(x) a float exp that vectorizes, gs_erfcf(x) a float
 * erfc that does (gs_erfc_exp_f32 also gives exp(-x^2)).
 *
 * Leaky ReLU, for example:
 *
 *   GS_ELEMENTWISE_ACTIVATION(leaky, const T s = GS_C(c->p[0].f);,
 *                             (x > 0 ? x : GS_C(0)) + s * (x > 0 ? GS_C(0) : x),
 *                             (x > 0 ? dy : GS_C(0)) + s * (x > 0 ? GS_C(0) : dy))
 *   static const gs_activation_ops leaky_ops = GS_ACTIVATION_OPS(leaky, leaky_gain, 0);
 *
 * defines leaky_forward_f32, leaky_forward_f64, leaky_backward_f32 and
 * leaky_backward_f64, and an ops table using them.  GS_ACTIVATION_COMPONENT
 * fills a gs_component entry for the descriptor.
 *
 * An activation with a learnable parameter a per channel (or one shared by
 * the layer) is three expressions:
 *
 *   GS_PARAM_ACTIVATION(prefix, SETUP, FWD, BWD, DA)
 *
 *   FWD    y from x and a
 *   BWD    dL/dx from x, y, dy and a
 *   DA     this element's part of dL/da from x, y, dy and a
 *
 * where a is the element's parameter: theta[0] when the layer shares one
 * (n_params returned 1), else theta[channel], the channel found from the
 * call's layout (images are channel-major, sequences channel-innermost).
 * GS_PARAM_ACTIVATION_OPS names the parameter tensor and its count and
 * initial values.  A learnable swish, y = x sigmoid(beta x):
 *
 *   GS_PARAM_ACTIVATION(swish, , x * gs_sigmoid(a * x),
 *                       dy * (gs_sigmoid(a * x) + a * x * gs_sigmoid(a * x) *
 *                                                     (1 - gs_sigmoid(a * x))),
 *                       dy * x * x * gs_sigmoid(a * x) * (1 - gs_sigmoid(a * x)))
 *   static const gs_activation_ops swish_ops =
 *       GS_PARAM_ACTIVATION_OPS(swish, NULL, 0, swish_n_params, swish_init, "beta");
 *
 * The arms of ?: above select values and the arithmetic happens outside
 * them: unless built with -fno-trapping-math, GCC keeps arithmetic inside
 * an arm as a branch, and a branch stops the loop from vectorizing.
 */
#ifndef GRADSCOPE_ACTIVATION_H
#define GRADSCOPE_ACTIVATION_H

#include <stdint.h>
#include <tgmath.h>
#include "gradscope/plugin.h"

/*
 * GCC's -O2 cost model does not vectorize loops of unknown length; "omp
 * simd" asks for it where OpenMP is on (gradscope builds plugins with it).
 * Iterations are independent even when dx aliases dy: each reads its own
 * element before writing it.
 */
#if defined(_OPENMP)
#define GS_SIMD _Pragma("omp simd")
#else
#define GS_SIMD
#endif

/* A constant in the kernel's element type T. */
#define GS_C(v) ((T)(v))

/*
 * exp for float kernels that the compiler can vectorize: glibc's expf is a
 * call per element, 3-5x slower in these loops.  Cody-Waite reduction by
 * ln 2, Cephes's degree-6 polynomial, and 2^n applied as two factors so
 * that results down to the subnormal range come out right; within 1 ulp
 * of the correctly rounded value, exp(-inf) = 0, exp(+inf) = +inf and
 * NaN propagates.  Vectorizes with -fno-trapping-math (GCC otherwise keeps
 * the clamps as branches).
 */
static inline float gs_expf(float x)
{
    /* NaN fails both comparisons and lands on -104: no undefined
       float-to-int conversion below; it is put back at the end. */
    float xc = x > -104.0f ? x : -104.0f;
    xc = xc < 89.5f ? xc : 89.5f;
    const float big = 12582912.0f; /* 1.5*2^23: adding it rounds to an integer */
    const float n = (xc * 1.44269504088896341f + big) - big;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t k = (int32_t)n, k1 = k / 2, k2 = k - k1; /* each in [-75, 65] */
    union { int32_t i; float f; } s1 = {.i = (k1 + 127) * (1 << 23)},
                                  s2 = {.i = (k2 + 127) * (1 << 23)};
    const float e = p * s1.f * s2.f;
    return x != x ? x : e;
}

/* The logistic function 1/(1 + exp(-x)) in the type of x, from exp(-|x|)
   so that neither tail overflows or loses its small values. */
static inline float gs_sigmoid_f32_(float x)
{
    const float e = gs_expf(-fabsf(x));
    const float r = 1.0f / (1.0f + e);
    return x >= 0 ? r : e * r;
}

static inline double gs_sigmoid_f64_(double x)
{
    const double e = exp(-fabs(x));
    const double r = 1.0 / (1.0 + e);
    return x >= 0 ? r : e * r;
}

#define gs_sigmoid(x) _Generic((x), float: gs_sigmoid_f32_, default: gs_sigmoid_f64_)(x)

/* tanh in the type of x.  In float a form that vectorizes (glibc's tanhf
   is a call per element and the cost of deep tanh networks): Cephes's odd
   polynomial below |x| = 0.625, 1 - 2/(exp(2|x|) + 1) above, both
   computed and one selected; within a few ulp, saturates to +-1 and
   propagates NaN.  In double, libm's tanh. */
static inline float gs_tanh_f32_(float x)
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

static inline double gs_tanh_f64_(double x) { return tanh(x); }

#define gs_tanh(x) _Generic((x), float: gs_tanh_f32_, default: gs_tanh_f64_)(x)

/*
 * The polynomials below are Horner chains of fma(), one rounding per step
 * whatever the processor: the x86-64-v3 and -v4 clones compile it to one
 * instruction, about half the work of a multiply and an add (GELU's cost
 * on narrow networks, issue 25).  The baseline copy gives the same bits
 * through the C library's fma, a call per step and about 4x slower than
 * before; it runs only on processors without FMA and in builds without
 * the clones (sanitizers, clang).
 */

/*
 * exp(-a^2) for a >= 0 in double arithmetic, as code that vectorizes:
 * reduction by ln 2 as in gs_expf, a degree-7 polynomial and 2^n from the
 * bits of the rounding sum.  Relative error below 1e-10; 0 past a = 12
 * (where it is below 2^-207), and for a NaN.
 */
static inline double gs_exp_msq_f64_(double a0)
{
    const double a = a0 < 12.0 ? a0 : 12.0; /* NaN too: no NaN in the bit tricks */
    /* n = round(-a^2/ln 2) is in the low bits of t; r2 = -a^2 - n ln 2 in
       two parts, the first exact (n has 8 bits, ln2_hi 32). */
    const double s = -(a * a);
    const double shift = 6755399441055744.0; /* 1.5*2^52: adding it rounds to an integer */
    const double t = s * 1.4426950408889634 + shift;
    const double n = t - shift;
    const double r2 = fma(n, -1.90821492927058770002e-10, fma(n, -6.93147180369123816490e-01, s));
    double e = 1.9907583409582743e-4;
    e = fma(e, r2, 1.394859027394682e-3);
    e = fma(e, r2, 8.3332835172552147e-3);
    e = fma(e, r2, 4.1666218139909533e-2);
    e = fma(e, r2, 1.6666666786388221e-1);
    e = fma(e, r2, 5.0000001077938017e-1);
    e = fma(e, r2, 9.9999999999550448e-1);
    e = fma(e, r2, 9.9999999995952948e-1);
    union { double d; uint64_t u; } two_n = {.d = t};
    two_n.u = (two_n.u + 1023) << 52; /* n's low 12 bits make the exponent */
    return a0 <= 12.0 ? e * two_n.d : 0.0;
}

/*
 * erfc(z) to the accuracy a float result needs, as code that vectorizes
 * (glibc's erfcf is a call per element), and exp(-z^2) beside it in
 * *exp_mz2.  In double arithmetic, without branches: with a = |z| clamped
 * to 12, q = (a - 2)/(a + 2) and a degree-10 polynomial P fitted to
 * exp(a^2) erfc(a) (a + 2), erfc(a) = exp(-a^2) P(q)/(a + 2), exp by
 * gs_exp_msq_f64_; erfc(-a) = 2 - erfc(a).  Relative error below 1e-8 of
 * both results, exp(-z^2) = 0 past |z| = 12 (below 2^-207), NaN
 * propagates.  Taking z in double lets a caller pass a product it does
 * not want rounded to float first (GELU's x/sqrt(2)).
 */
static inline double gs_erfc_exp_f32(double z, double *exp_mz2)
{
    const double a0 = fabs(z);
    const double a = a0 < 12.0 ? a0 : 12.0;
    const double r = 1.0 / (a + 2.0);
    const double q = fma(-4.0, r, 1.0); /* (a - 2)/(a + 2), in [-1, 5/7] */
    double p = 7.0563964773198216e-05;
    p = fma(p, q, 5.1692231318381542e-05);
    p = fma(p, q, -0.000588260633209347);
    p = fma(p, q, -0.00083494808299012277);
    p = fma(p, q, 0.0030581812215520793);
    p = fma(p, q, 0.0064760692819872158);
    p = fma(p, q, -0.021504421841630154);
    p = fma(p, q, -0.036441692103582016);
    p = fma(p, q, 0.27947164905430966);
    p = fma(p, q, -0.68716070446190369);
    p = fma(p, q, 1.0215827104835502);
    const double e = gs_exp_msq_f64_(a0);
    *exp_mz2 = e;
    const double c = e * p * r;
    return z != z ? z : z < 0 ? 2.0 - c : c;
}

/* erfc of a float: gs_erfc_exp_f32 rounded once.  Measured against double
   erfc over all 2^32 floats: within 0.61 ulp (0.6001 at x = 4.9155), also
   where the result is subnormal (ulp 2^-149); 0 from x = 10.0542 on
   (erfcf: 10.0547), 2 from -3.8325 down; erfc(+-inf) = 0, 2. */
static inline float gs_erfcf(float x)
{
    double e;
    return (float)gs_erfc_exp_f32(x, &e);
}

/*
 * Arrays of at least GS_ACT_PARALLEL_MIN elements are cut into chunks of
 * GS_ACT_GRAIN for the host's threads (element-wise work: the cut changes
 * no result); shorter ones run on the calling thread.
 */
#define GS_ACT_PARALLEL_MIN ((size_t)1 << 17)
#define GS_ACT_GRAIN ((size_t)1 << 15)

static inline void gs_act_run_(const gs_act_call *c, size_t n,
                               void (*range)(void *job, size_t begin, size_t end), void *job)
{
    if (n >= GS_ACT_PARALLEL_MIN && c->host && c->host->threads && c->host->parallel_for &&
        c->host->threads() > 1)
        c->host->parallel_for(n, GS_ACT_GRAIN, range, job);
    else
        range(job, 0, n);
}

#define GS_ACT_KERNELS_(prefix, T_, sfx, SETUP, FWD, BWD)                       \
    typedef struct {                                                            \
        const gs_act_call *c;                                                   \
        const T_ *x, *y, *dy;                                                   \
        T_ *out;                                                                \
    } prefix##_job_##sfx;                                                       \
    GS_KERNEL_CLONES                                                            \
    static void prefix##_fwd_range_##sfx(void *job_, size_t b_, size_t e_)      \
    {                                                                           \
        typedef T_ T;                                                           \
        const prefix##_job_##sfx *j_ = job_;                                    \
        const gs_act_call *c = j_->c;                                           \
        const T_ *xs_ = j_->x;                                                  \
        T_ *ys_ = j_->out;                                                      \
        (void)c;                                                                \
        SETUP                                                                   \
        GS_SIMD                                                                 \
        for (size_t i_ = b_; i_ < e_; i_++) {                                   \
            const T x = xs_[i_];                                                \
            ys_[i_] = (T)(FWD);                                                 \
        }                                                                       \
    }                                                                           \
    GS_KERNEL_CLONES                                                            \
    static void prefix##_bwd_range_##sfx(void *job_, size_t b_, size_t e_)      \
    {                                                                           \
        typedef T_ T;                                                           \
        const prefix##_job_##sfx *j_ = job_;                                    \
        const gs_act_call *c = j_->c;                                           \
        const T_ *xs_ = j_->x, *ys_ = j_->y, *dys_ = j_->dy;                    \
        T_ *dxs_ = j_->out;                                                     \
        (void)c;                                                                \
        SETUP                                                                   \
        GS_SIMD                                                                 \
        for (size_t i_ = b_; i_ < e_; i_++) {                                   \
            const T x = xs_[i_], y = ys_[i_], dy = dys_[i_];                    \
            (void)x;                                                            \
            (void)y;                                                            \
            dxs_[i_] = (T)(BWD);                                                \
        }                                                                       \
    }                                                                           \
    static void prefix##_forward_##sfx(const gs_act_call *c, const T_ *xs_, T_ *ys_) \
    {                                                                           \
        prefix##_job_##sfx j_ = {.c = c, .x = xs_, .out = ys_};                 \
        gs_act_run_(c, gs_act_numel(c), prefix##_fwd_range_##sfx, &j_); \
    }                                                                           \
    static void prefix##_backward_##sfx(const gs_act_call *c, const T_ *xs_,     \
                                        const T_ *ys_, const T_ *dys_, T_ *dxs_, \
                                        T_ *dtheta_)                            \
    {                                                                           \
        (void)dtheta_;                                                          \
        prefix##_job_##sfx j_ = {.c = c, .x = xs_, .y = ys_, .dy = dys_, .out = dxs_}; \
        gs_act_run_(c, gs_act_numel(c), prefix##_bwd_range_##sfx, &j_); \
    }

/* The four kernels prefix_{forward,backward}_{f32,f64}; see above. */
#define GS_ELEMENTWISE_ACTIVATION(prefix, SETUP, FWD, BWD)                      \
    GS_ACT_KERNELS_(prefix, float, f32, SETUP, FWD, BWD)                        \
    GS_ACT_KERNELS_(prefix, double, f64, SETUP, FWD, BWD)

/* Initializer of a gs_activation_ops without learnable parameters.  GAIN is
   a double (*)(const gs_value *) or NULL (gain 1). */
#define GS_ACTIVATION_OPS(prefix, GAIN, THRESHOLD)                              \
    {                                                                           \
        .size = sizeof(gs_activation_ops), .forward_f32 = prefix##_forward_f32,  \
        .backward_f32 = prefix##_backward_f32, .forward_f64 = prefix##_forward_f64, \
        .backward_f64 = prefix##_backward_f64, .gain = (GAIN),                  \
        .saturation_threshold = (THRESHOLD)                                     \
    }

/*
 * The kernels of GS_PARAM_ACTIVATION, on the calling thread (the parameter
 * gradients are sums over the batch).  Three loop shapes: a shared a (one
 * flat loop), channels innermost (vectors and sequences: rows of C
 * elements, vectorized across channels) and channel-major images (a run of
 * H*W elements per a).  dL/da is summed in double over a run or a shared
 * layer before it touches dtheta.
 */
#define GS_PARAM_KERNELS_(prefix, T_, sfx, SETUP, FWD, BWD, DA)                 \
    GS_KERNEL_CLONES                                                            \
    static void prefix##_forward_##sfx(const gs_act_call *c, const T_ *xs_, T_ *ys_) \
    {                                                                           \
        typedef T_ T;                                                           \
        const T_ *th_ = c->theta;                                               \
        const size_t C_ = c->channels, S_ = c->positions, N_ = gs_act_numel(c); \
        SETUP                                                                   \
        if (c->n_theta == 1) {                                                  \
            const T a = th_[0];                                                 \
            GS_SIMD                                                             \
            for (size_t k_ = 0; k_ < N_; k_++) {                                \
                const T x = xs_[k_];                                            \
                ys_[k_] = (T)(FWD);                                             \
            }                                                                   \
        } else if (c->layout == GS_LAYOUT_IMAGE && S_ > 1) {                    \
            for (size_t r_ = 0; r_ < N_ / S_; r_++) {                           \
                const T a = th_[r_ % C_];                                       \
                GS_SIMD                                                         \
                for (size_t k_ = r_ * S_; k_ < (r_ + 1) * S_; k_++) {           \
                    const T x = xs_[k_];                                        \
                    ys_[k_] = (T)(FWD);                                         \
                }                                                               \
            }                                                                   \
        } else {                                                                \
            for (size_t r_ = 0; r_ < N_ / C_; r_++) {                           \
                const T_ *xr_ = xs_ + r_ * C_;                                  \
                T_ *yr_ = ys_ + r_ * C_;                                        \
                GS_SIMD                                                         \
                for (size_t ch_ = 0; ch_ < C_; ch_++) {                         \
                    const T a = th_[ch_], x = xr_[ch_];                         \
                    yr_[ch_] = (T)(FWD);                                        \
                }                                                               \
            }                                                                   \
        }                                                                       \
    }                                                                           \
    GS_KERNEL_CLONES                                                            \
    static void prefix##_backward_##sfx(const gs_act_call *c, const T_ *xs_,     \
                                        const T_ *ys_, const T_ *dys_, T_ *dxs_, \
                                        T_ *dth_)                               \
    {                                                                           \
        typedef T_ T;                                                           \
        const T_ *th_ = c->theta;                                               \
        const size_t C_ = c->channels, S_ = c->positions, N_ = gs_act_numel(c); \
        SETUP                                                                   \
        if (c->n_theta == 1 || (c->layout == GS_LAYOUT_IMAGE && S_ > 1)) {      \
            const size_t run_ = c->n_theta == 1 ? N_ : S_;                      \
            for (size_t r_ = 0; run_ && r_ < N_ / run_; r_++) {                 \
                const size_t j_ = c->n_theta == 1 ? 0 : r_ % C_;                \
                const T a = th_[j_];                                            \
                double acc_ = 0;                                                \
                for (size_t k_ = r_ * run_; k_ < (r_ + 1) * run_; k_++) {       \
                    const T x = xs_[k_], y = ys_[k_], dy = dys_[k_];            \
                    (void)y;                                                    \
                    acc_ += (double)(DA);                                       \
                    dxs_[k_] = (T)(BWD);                                        \
                }                                                               \
                if (dth_)                                                       \
                    dth_[j_] += (T)acc_;                                        \
            }                                                                   \
        } else {                                                                \
            for (size_t r_ = 0; r_ < N_ / C_; r_++) {                           \
                const size_t o_ = r_ * C_;                                      \
                if (dth_) {                                                     \
                    GS_SIMD                                                     \
                    for (size_t ch_ = 0; ch_ < C_; ch_++) {                     \
                        const T a = th_[ch_], x = xs_[o_ + ch_], y = ys_[o_ + ch_], \
                                dy = dys_[o_ + ch_];                            \
                        (void)y;                                                \
                        dth_[ch_] += (T)(DA);                                   \
                    }                                                           \
                }                                                               \
                GS_SIMD                                                         \
                for (size_t ch_ = 0; ch_ < C_; ch_++) {                         \
                    const T a = th_[ch_], x = xs_[o_ + ch_], y = ys_[o_ + ch_], \
                            dy = dys_[o_ + ch_];                                \
                    (void)y;                                                    \
                    dxs_[o_ + ch_] = (T)(BWD);                                  \
                }                                                               \
            }                                                                   \
        }                                                                       \
    }

/* The four kernels prefix_{forward,backward}_{f32,f64} of an activation
   with a learnable parameter a; see above. */
#define GS_PARAM_ACTIVATION(prefix, SETUP, FWD, BWD, DA)                        \
    GS_PARAM_KERNELS_(prefix, float, f32, SETUP, FWD, BWD, DA)                  \
    GS_PARAM_KERNELS_(prefix, double, f64, SETUP, FWD, BWD, DA)

/* Initializer of its gs_activation_ops.  N_PARAMS returns 1 (shared) or
   `channels`; INIT fills the initial values; NAME names the tensor. */
#define GS_PARAM_ACTIVATION_OPS(prefix, GAIN, THRESHOLD, N_PARAMS, INIT, NAME)  \
    {                                                                           \
        .size = sizeof(gs_activation_ops), .forward_f32 = prefix##_forward_f32,  \
        .backward_f32 = prefix##_backward_f32, .forward_f64 = prefix##_forward_f64, \
        .backward_f64 = prefix##_backward_f64, .gain = (GAIN),                  \
        .n_params = (N_PARAMS), .init_params = (INIT), .param_name = (NAME),    \
        .saturation_threshold = (THRESHOLD)                                     \
    }

/* Initializer of a gs_component entry of kind activation. */
#define GS_ACTIVATION_COMPONENT(NAME, DOC, PARAMS, OPS)                         \
    {                                                                           \
        .size = sizeof(gs_component), .kind = GS_KIND_ACTIVATION, .name = (NAME), \
        .doc = (DOC), .params = (PARAMS), .ops = &(OPS)                         \
    }

#endif /* GRADSCOPE_ACTIVATION_H */
