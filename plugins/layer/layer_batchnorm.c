/*
 * batchnorm: y = (x - mean) / sqrt(var + eps) * gamma + beta per feature,
 * as torch.nn.BatchNorm1d/2d (Ioffe & Szegedy 2015).  Vectors (C) are
 * normalized per feature over the batch, images (C, H, W) per channel over
 * N*H*W, sequences (T, C) per channel over N*T (BatchNorm1d on (N, C, T)):
 * the input's layout says where the channel axis is.  Training uses the batch mean and biased variance and updates
 * running = (1 - momentum) running + momentum batch, with the unbiased
 * variance for running_var; evaluation uses the running statistics.
 *
 * The running statistics are model buffers (GS_ROLE_BUFFER): checkpointed
 * with the weights, stored in the model's precision like PyTorch's, never
 * touched by the optimizer.  Batch statistics are accumulated in double.
 *
 * Memory: the layer keeps no input-sized array of its own.  Backward
 * recomputes xhat from its input x (which the caller keeps for backward
 * anyway) and the mean and invstd of the last forward, with forward's
 * arithmetic, so the gradients have the bits a stored xhat gave.
 *
 * Speed without changing a bit: each channel's sums run in the order of
 * the plain loop (example by example, position by position), but CB
 * channels' sums advance together, so that the additions of one chain
 * overlap the others' instead of waiting for each other; channel blocks
 * run in parallel and the element-wise passes in parallel over examples.
 */
#include <gradscope/layer.h>

/* Vectorizes the element-wise loops, which -O2 leaves scalar; element by
   element, so the results are the same bits. */
#ifdef _OPENMP
#define SIMD _Pragma("omp simd")
#else
#define SIMD
#endif

enum { P_EPS, P_MOMENTUM, P_AFFINE, P_WEIGHT_INIT };

static const gs_param_spec params[] = {
    [P_EPS] = {.name = "eps", .type = GS_P_FLOAT, .def.f = 1e-5, .min = 0.0, .max = 1.0,
               .doc = "added to the variance before the square root"},
    [P_MOMENTUM] = {.name = "momentum", .type = GS_P_FLOAT, .def.f = 0.1, .min = 0.0, .max = 1.0,
                    .doc = "weight of the batch statistics in the running averages"},
    [P_AFFINE] = {.name = "affine", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                  .doc = "learn gamma (init 1) and beta (init 0)"},
    [P_WEIGHT_INIT] = {.name = "weight_init", .type = GS_P_FLOAT, .def.f = 1.0, .min = GS_ANY,
                       .doc = "initial value of gamma (0: a residual branch starts as zero)"},
    {0},
};

/* Channels whose sums advance together: enough independent additions in
   flight to hide the latency of one. */
enum { CB = 8 };

typedef struct bn {
    const gs_host *host;
    size_t c, inner;     /* channels and positions per channel of one example */
    size_t cs, ps;       /* value (c, j) of an example at c*cs + j*ps */
    double eps, momentum;
    gs_param *gamma, *beta; /* NULL without affine */
    gs_param *run_mean, *run_var;
    double *mean, *invstd; /* used by the last forward */
    double *s1, *s2;       /* per-channel sums */
    int training; /* mode of the last forward */
} bn;

static int bn_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    bn *b = h->zalloc(sizeof *b);
    h->set_state(m, b);
    b->host = h;
    gs_axes ax = gs_shape_axes(in);
    b->c = ax.channels;
    b->inner = ax.positions;
    b->cs = ax.cstride;
    b->ps = ax.pstride;
    b->eps = p[P_EPS].f;
    b->momentum = p[P_MOMENTUM].f;
    double *block = h->zalloc(4 * b->c * sizeof *block);
    b->mean = block;
    b->invstd = block + b->c;
    b->s1 = block + 2 * b->c;
    b->s2 = block + 3 * b->c;
    size_t dims[1] = {b->c};
    gs_ref *one = h->ref_new(m, GS_KIND_INITIALIZER, "constant");
    if (!one || h->ref_set_float(one, "value", 1.0) < 0)
        return -1;
    b->run_mean = h->add_param(m, "running_mean", 1, dims, GS_ROLE_BUFFER, 0, 0, NULL, NULL);
    b->run_var = h->add_param(m, "running_var", 1, dims, GS_ROLE_BUFFER, 0, 0, one, NULL);
    if (!b->run_mean || !b->run_var)
        return -1;
    if (p[P_AFFINE].b) {
        gs_ref *g0 = h->ref_new(m, GS_KIND_INITIALIZER, "constant");
        if (!g0 || h->ref_set_float(g0, "value", p[P_WEIGHT_INIT].f) < 0)
            return -1;
        b->gamma = h->add_param(m, "weight", 1, dims, GS_ROLE_NORM, 0, 0, g0, NULL);
        b->beta = h->add_param(m, "bias", 1, dims, GS_ROLE_NORM, 0, 0, NULL, NULL);
        if (!b->gamma || !b->beta)
            return -1;
    }
    *out = *in;
    return 0;
}

enum { PASS_MEAN, PASS_VAR, PASS_GRAD };

/* Items per chunk of a parallel loop whose items hold `per` values each:
   enough work per chunk to pay for handing it out. */
static size_t grain(size_t per) { return per >= 4096 ? 1 : 4096 / (per ? per : 1); }

typedef struct job {
    bn *b;
    gs_dtype dt;
    size_t n;
    const void *x, *dy;
    void *y, *dx;
    int pass;
} job;

/*
 * xhat = (x - mean) invstd in the input's type, with mean and invstd
 * rounded to it: normalize()'s expression, so that backward recomputes the
 * very bits forward had instead of keeping an input-sized copy of them.
 */
#define XHAT(x, mu, is) (((x) - (mu)) * (is))

/* The sums of sums() over NCB channels at once: CB (a constant, so that
   the sums live in registers) or the remainder. */
#define SUMS(NCB)                                                                            \
    for (size_t e = 0; e < jb->n; e++) {                                                     \
        size_t base = e * C * I + c0 * cs;                                                   \
        if (jb->pass == PASS_MEAN) {                                                         \
            for (size_t i = 0; i < I; i++)                                                   \
                _Pragma("GCC unroll 8") for (size_t c = 0; c < (NCB); c++)                   \
                    s1[c] += xv[base + c * cs + i * ps];                                     \
        } else if (jb->pass == PASS_VAR) {                                                   \
            for (size_t i = 0; i < I; i++)                                                   \
                _Pragma("GCC unroll 8") for (size_t c = 0; c < (NCB); c++) {                 \
                    double d = (double)xv[base + c * cs + i * ps] - mu[c];                   \
                    s2[c] += d * d;                                                          \
                }                                                                            \
        } else {                                                                             \
            for (size_t i = 0; i < I; i++)                                                   \
                _Pragma("GCC unroll 8") for (size_t c = 0; c < (NCB); c++) {                 \
                    size_t o = base + c * cs + i * ps;                                       \
                    s1[c] += gv[o];                                                          \
                    s2[c] += (double)gv[o] * XHAT(xv[o], tmu[c], tis[c]);                    \
                }                                                                            \
        }                                                                                    \
    }

/*
 * Channel blocks [k0, k1) of CB channels: PASS_MEAN sets s1 = sum x and
 * mean = s1 / count; PASS_VAR s2 = sum (x - mean)^2; PASS_GRAD s1 = sum dy,
 * s2 = sum dy xhat, xhat recomputed from x.  Each sum in example, then
 * position order, one channel per accumulator.
 */
static void sums(void *arg, size_t k0, size_t k1)
{
    const job *jb = arg;
    bn *b = jb->b;
    size_t C = b->c, I = b->inner, cs = b->cs, ps = b->ps;
    GS_WITH_TYPE(jb->dt, T, {
        const T *xv = jb->x, *gv = jb->dy;
        for (size_t c0 = k0 * CB; c0 < k1 * CB && c0 < C; c0 += CB) {
            size_t nc = C - c0 < CB ? C - c0 : CB;
            double s1[CB] = {0}, s2[CB] = {0}, mu[CB] = {0};
            T tmu[CB] = {0}, tis[CB] = {0};
            if (jb->pass == PASS_VAR)
                for (size_t c = 0; c < nc; c++)
                    mu[c] = b->mean[c0 + c];
            if (jb->pass == PASS_GRAD)
                for (size_t c = 0; c < nc; c++) {
                    tmu[c] = (T)b->mean[c0 + c];
                    tis[c] = (T)b->invstd[c0 + c];
                }
            if (nc == CB) {
                SUMS(CB)
            } else {
                SUMS(nc)
            }
            for (size_t c = 0; c < nc; c++) {
                if (jb->pass != PASS_VAR)
                    b->s1[c0 + c] = s1[c];
                if (jb->pass != PASS_MEAN)
                    b->s2[c0 + c] = s2[c];
                if (jb->pass == PASS_MEAN)
                    b->mean[c0 + c] = s1[c] / ((double)(jb->n * I));
            }
        }
    });
}

/* mean and invstd from the batch, and the running averages updated. */
static void batch_stats(bn *b, gs_dtype dt, size_t n, const void *x)
{
    size_t C = b->c;
    double count = (double)(n * b->inner);
    job j = {.b = b, .dt = dt, .n = n, .x = x, .pass = PASS_MEAN};
    b->host->parallel_for((C + CB - 1) / CB, grain(CB * n * b->inner), sums, &j);
    /* two passes: the one-pass formula cancels badly for large means */
    j.pass = PASS_VAR;
    b->host->parallel_for((C + CB - 1) / CB, grain(CB * n * b->inner), sums, &j);
    double mom = b->momentum;
    GS_WITH_TYPE(dt, T, {
        T *rm = b->run_mean->value.data, *rv = b->run_var->value.data;
        for (size_t c = 0; c < C; c++) {
            double var = b->s2[c] / count;
            b->invstd[c] = 1.0 / sqrt(var + b->eps);
            double unbiased = count > 1 ? b->s2[c] / (count - 1) : var;
            rm[c] = (T)((1 - mom) * rm[c] + mom * b->mean[c]);
            rv[c] = (T)((1 - mom) * rv[c] + mom * unbiased);
        }
    });
}

/* Examples [e0, e1): y = xhat gamma + beta. */
static void normalize(void *arg, size_t e0, size_t e1)
{
    const job *jb = arg;
    const bn *b = jb->b;
    size_t C = b->c, I = b->inner, cs = b->cs, ps = b->ps;
    GS_WITH_TYPE(jb->dt, T, {
        const T *xv = jb->x;
        T *yv = jb->y;
        const T *g = b->gamma ? b->gamma->value.data : NULL;
        const T *be = b->beta ? b->beta->value.data : NULL;
        for (size_t e = e0; e < e1; e++)
            for (size_t c = 0; c < C; c++) {
                size_t off = e * C * I + c * cs;
                T mu = (T)b->mean[c], is = (T)b->invstd[c];
                T gc = g ? g[c] : (T)1, bc = be ? be[c] : (T)0;
                if (ps == 1) {
                    const T *xr = xv + off;
                    T *yr = yv + off;
                    SIMD for (size_t i = 0; i < I; i++) {
                        T v = XHAT(xr[i], mu, is);
                        yr[i] = v * gc + bc;
                    }
                } else {
                    for (size_t i = 0; i < I; i++) {
                        T v = XHAT(xv[off + i * ps], mu, is);
                        yv[off + i * ps] = v * gc + bc;
                    }
                }
            }
    });
}

/* Examples [e0, e1) of dx from s1 = sum dy and s2 = sum dy xhat. */
static void input_grad(void *arg, size_t e0, size_t e1)
{
    const job *jb = arg;
    const bn *b = jb->b;
    size_t C = b->c, I = b->inner, cs = b->cs, ps = b->ps;
    double count = (double)(jb->n * I);
    GS_WITH_TYPE(jb->dt, T, {
        const T *g = jb->dy, *xv = jb->x;
        const T *gm = b->gamma ? b->gamma->value.data : NULL;
        T *d = jb->dx;
        for (size_t e = e0; e < e1; e++)
            for (size_t c = 0; c < C; c++) {
                size_t off = e * C * I + c * cs;
                double k = (gm ? (double)gm[c] : 1.0) * b->invstd[c];
                T mu = (T)b->mean[c], is = (T)b->invstd[c];
                if (b->training && ps == 1) {
                    double mdy = b->s1[c] / count, mdyx = b->s2[c] / count;
                    const T *gr = g + off, *xr = xv + off;
                    T *dr = d + off;
                    SIMD for (size_t i = 0; i < I; i++) {
                        T v = XHAT(xr[i], mu, is);
                        dr[i] = (T)(k * (gr[i] - mdy - v * mdyx));
                    }
                } else if (b->training) {
                    double mdy = b->s1[c] / count, mdyx = b->s2[c] / count;
                    for (size_t i = 0; i < I; i++) {
                        size_t o = off + i * ps;
                        T v = XHAT(xv[o], mu, is);
                        d[o] = (T)(k * (g[o] - mdy - v * mdyx));
                    }
                } else {
                    for (size_t i = 0; i < I; i++)
                        d[off + i * ps] = (T)(k * g[off + i * ps]);
                }
            }
    });
}

static void bn_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    bn *b = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0], C = b->c;
    b->training = training;
    if (training) {
        batch_stats(b, x->dtype, n, x->data);
    } else {
        GS_WITH_TYPE(x->dtype, T, {
            const T *rm = b->run_mean->value.data, *rv = b->run_var->value.data;
            for (size_t c = 0; c < C; c++) {
                b->mean[c] = rm[c];
                b->invstd[c] = 1.0 / sqrt((double)rv[c] + b->eps);
            }
        });
    }
    job j = {.b = b, .dt = x->dtype, .x = x->data, .y = y->data};
    b->host->parallel_for(n, grain(b->c * b->inner), normalize, &j);
}

/*
 * With batch statistics the mean and variance depend on every x, so
 *   dx = gamma invstd / M (M dy - sum(dy) - xhat sum(dy xhat))
 * over the M = N*H*W values of a channel; with running statistics they
 * are constants and dx = gamma invstd dy.
 */
static void bn_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                        const gs_tensor *dy, gs_tensor *dx)
{
    bn *b = gs_host_of(m)->get_state(m);
    size_t n = x->dims[0], C = b->c;
    (void)y;
    job j = {.b = b, .dt = x->dtype, .n = n, .x = x->data, .dy = dy->data,
             .dx = dx ? dx->data : NULL, .pass = PASS_GRAD};
    b->host->parallel_for((C + CB - 1) / CB, grain(CB * n * b->inner), sums, &j);
    GS_WITH_TYPE(x->dtype, T, {
        if (b->gamma) {
            T *dg = b->gamma->grad.data, *db = b->beta->grad.data;
            for (size_t c = 0; c < C; c++) {
                dg[c] += (T)b->s2[c];
                db[c] += (T)b->s1[c];
            }
        }
    });
    if (dx)
        b->host->parallel_for(n, grain(b->c * b->inner), input_grad, &j);
}

static void bn_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    bn *b = h->get_state(m);
    if (!b)
        return;
    h->free(b->mean);
    h->free(b);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = bn_build,
    .forward = bn_forward,
    .backward = bn_backward,
    .destroy = bn_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "batchnorm",
    .doc = "batch normalization per feature or channel of any layout (torch.nn.BatchNorm1d/2d)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "batchnorm",
    .version = "1.0",
    .license = "MIT",
    .description = "batch normalization (Ioffe & Szegedy 2015)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
