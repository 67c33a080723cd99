/*
 * Mean-field theory beside measurement (Poole et al. 2016, Schoenholz et al.
 * 2017).  For a stack of equal-width dense layers with weight variance
 * sigma_w^2/n and bias variance sigma_b^2, the pre-activation variance
 * converges to the fixed point q* of q = sigma_w^2 E[phi(sqrt(q) z)^2] +
 * sigma_b^2, and each layer multiplies the squared back-propagated gradient
 * norm by chi = sigma_w^2 E[phi'(sqrt(q*) z)^2], z ~ N(0, 1).  The
 * expectations are computed with the activation plugin's own double
 * kernels; sigma_w^2 and sigma_b^2 are measured on the initialized weights,
 * so any initializer works.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/theory.h"
#include "base/util.h"
#include "engine/model.h"
#include "kernels/kernels.h"
#include "rundir/format.h"
#include "rundir/rundir.h"

/* Each side of z = 0 by Simpson's rule on its own, [-Z_MAX, 0] and
   [0, Z_MAX], so that a kink at 0 (the ReLU family, SELU) costs no
   accuracy: the two nodes at 0 take the one-sided limits of f and f'. */
enum { HALF = 4000, GRID = 2 * (HALF + 1) };
#define Z_MAX 10.0
/* where the one-sided limits at 0 are taken: a normal number in float too */
#define Z_KINK 1e-30
/* below this variance the fixed point is taken to be 0 */
#define Q_ZERO 1e-20
typedef struct act_eval {
    const gs_activation_ops *ops;
    gs_act_call call;
    double *theta;
    float *theta_f; /* for an activation without double kernels */
    double z[GRID], w[GRID], h[GRID], y[GRID], d[GRID], ones[GRID];
} act_eval;

/* f and f' through the float kernels, for activations that have no double ones. */
static void eval_f32(act_eval *a)
{
    float *buf = gs_xmalloc(4 * GRID * sizeof *buf);
    float *h = buf, *y = buf + GRID, *ones = buf + 2 * GRID, *d = buf + 3 * GRID;
    for (size_t i = 0; i < GRID; i++)
        h[i] = (float)a->h[i], ones[i] = 1.0f;
    gs_act_call c = a->call;
    c.theta = c.theta ? a->theta_f : NULL;
    a->ops->forward_f32(&c, h, y);
    a->ops->backward_f32(&c, h, y, ones, d, NULL);
    for (size_t i = 0; i < GRID; i++)
        a->y[i] = y[i], a->d[i] = d[i];
    free(buf);
}

/* E[f(sqrt(q) z)^2] and E[f'(sqrt(q) z)^2], z ~ N(0, 1). */
static void moments(act_eval *a, double q, double *e_phi2, double *e_dphi2)
{
    double s = sqrt(q > 0 ? q : 0);
    for (size_t i = 0; i < GRID; i++)
        a->h[i] = s * a->z[i];
    a->h[HALF] = -Z_KINK;
    a->h[HALF + 1] = Z_KINK;
    if (a->ops && !a->ops->forward_f64) {
        eval_f32(a);
    } else if (a->ops) {
        a->ops->forward_f64(&a->call, a->h, a->y);
        a->ops->backward_f64(&a->call, a->h, a->y, a->ones, a->d, NULL);
    } else {
        memcpy(a->y, a->h, sizeof a->y);
        for (size_t i = 0; i < GRID; i++)
            a->d[i] = 1.0;
    }
    double p = 0, dp = 0;
    for (size_t i = 0; i < GRID; i++) {
        p += a->w[i] * a->y[i] * a->y[i];
        dp += a->w[i] * a->d[i] * a->d[i];
    }
    *e_phi2 = p;
    *e_dphi2 = dp;
}

/* q -> sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2, minus q */
static double excess(act_eval *a, double q, double sw2, double sb2)
{
    double ep, edp;
    moments(a, q, &ep, &edp);
    return sw2 * ep + sb2 - q;
}

/*
 * The fixed point q* the variance reaches from q = 1: iterated while that
 * converges fast, then, where the map only creeps (tanh with sigma_w^2
 * just above 1, whose q* is small and approached at a rate near 1), the
 * root of excess() bracketed by powers of 100 on that side and bisected on
 * a log scale.  0 when the variance dies out (no positive root below),
 * INFINITY when it grows without bound (none up to 1e12).
 */
static double fixed_point(act_eval *a, double sw2, double sb2)
{
    double q = 1.0;
    for (int it = 0; it < 200; it++) {
        double next = excess(a, q, sw2, sb2) + q;
        if (!isfinite(next) || next > 1e12)
            return INFINITY;
        if (next < Q_ZERO)
            return 0.0;
        int done = fabs(next - q) <= 1e-13 * q;
        q = next;
        if (done)
            return q;
    }
    double e = excess(a, q, sw2, sb2);
    if (e == 0.0)
        return q;
    /* the root lies on the side the map moves towards */
    double lo = q, hi = q, step = e > 0 ? 100.0 : 0.01;
    for (;;) {
        double next = lo * step;
        if (next > 1e12)
            return INFINITY;
        if (next < Q_ZERO)
            return 0.0;
        double en = excess(a, next, sw2, sb2);
        if (!isfinite(en))
            return INFINITY;
        if ((en > 0) != (e > 0)) {
            lo = e > 0 ? q : next;
            hi = e > 0 ? next : q;
            break;
        }
        q = next;
        e = en;
        lo = hi = q;
    }
    /* excess(lo) > 0 > excess(hi) */
    while (hi / lo - 1 > 1e-14) {
        double mid = sqrt(lo * hi);
        if (mid <= lo || mid >= hi)
            break;
        if (excess(a, mid, sw2, sb2) > 0)
            lo = mid;
        else
            hi = mid;
    }
    return sqrt(lo * hi);
}

static gs_module *activation_of(const gs_model *m, size_t layer)
{
    for (size_t i = 0; i < m->n_modules; i++) {
        gs_module *mod = m->modules[i];
        if (mod->layer == (int)layer && mod->is_activation && strcmp(mod->path, "act") == 0)
            return mod;
    }
    return NULL;
}

/* The square weight of a plain dense layer, or NULL. */
static const gs_param_rec *square_weight(const gs_model *m, size_t layer, const gs_param_rec **bias)
{
    if (strcmp(gs_module_type(m->layers[layer]), "dense") != 0)
        return NULL;
    const gs_param_rec *w = NULL;
    *bias = NULL;
    for (size_t i = 0; i < m->n_params; i++) {
        const gs_param_rec *p = m->params[i];
        if (p->layer != (int)layer)
            continue;
        if (!strcmp(p->local_name, "weight"))
            w = p;
        else if (!strcmp(p->local_name, "bias"))
            *bias = p;
    }
    if (!w || w->pub.value.ndim != 2 || w->pub.value.dims[0] != w->pub.value.dims[1])
        return NULL;
    return w;
}

static const char *act_name(const gs_module *a) { return a ? a->info->component->name : "identity"; }

void gs_theory_compute(const gs_model *m, const double *ig, const gs_comm *comm, gs_theory *t)
{
    memset(t, 0, sizeof *t);
    /* the longest run of square dense layers of one width and activation */
    size_t best_first = 0, best_len = 0;
    for (size_t l = 0; l < m->n_layers;) {
        const gs_param_rec *b, *w = square_weight(m, l, &b);
        if (!w) {
            l++;
            continue;
        }
        size_t width = w->pub.value.dims[0];
        const char *name = act_name(activation_of(m, l));
        size_t e = l + 1;
        while (e < m->n_layers) {
            const gs_param_rec *b2, *w2 = square_weight(m, e, &b2);
            /* one sigma_b^2 serves the stack: its layers all have a bias or none has */
            if (!w2 || w2->pub.value.dims[0] != width || !b2 != !b ||
                strcmp(act_name(activation_of(m, e)), name))
                break;
            e++;
        }
        if (e - l > best_len)
            best_first = l, best_len = e - l;
        l = e;
    }
    /* measured factors need the layer after each one */
    size_t last = best_first + best_len - 1;
    if (last + 1 >= m->n_layers && best_len)
        last--;
    if (best_len < 2 || last <= best_first)
        return;
    double sw = 0, nw = 0, sb = 0, nb = 0;
    for (size_t l = best_first; l <= last; l++) {
        const gs_param_rec *b, *w = square_weight(m, l, &b);
        const float *v = w->pub.value.data;
        for (size_t i = 0; i < w->numel; i++)
            sw += (double)v[i] * v[i];
        nw += (double)w->numel / (double)w->pub.fan_in;
        if (b) {
            const float *bv = b->pub.value.data;
            for (size_t i = 0; i < b->numel; i++)
                sb += (double)bv[i] * bv[i];
            nb += (double)b->numel;
        }
    }
    act_eval *a = gs_xcalloc(1, sizeof *a);
    const gs_module *act = activation_of(m, best_first);
    if (act) {
        a->ops = act->info->component->ops;
        size_t nt = act->theta ? act->theta->numel : 0;
        a->theta = gs_xcalloc(nt + 1, sizeof(double));
        a->theta_f = gs_xcalloc(nt + 1, sizeof(float));
        for (size_t i = 0; i < nt; i++)
            a->theta[i] = a->theta_f[i] = ((const float *)act->theta->pub.value.data)[i];
        a->call = (gs_act_call){.host = gs_host_table(), .p = act->ref->values, .n = GRID,
                                .channels = 1, .positions = 1, .theta = nt ? a->theta : NULL,
                                .n_theta = nt};
    }
    double hz = Z_MAX / HALF;
    for (size_t i = 0; i <= HALF; i++) {
        /* Simpson: 1 4 2 4 ... 2 4 1, times h/3 */
        double simpson = (i == 0 || i == HALF ? 1.0 : i % 2 ? 4.0 : 2.0) * hz / 3;
        double z = hz * (double)i, w = simpson * exp(-0.5 * z * z) / sqrt(2 * M_PI);
        /* left side from -Z_MAX up to 0, right side from 0 up */
        a->z[HALF - i] = -z;
        a->z[HALF + 1 + i] = z;
        a->w[HALF - i] = a->w[HALF + 1 + i] = w;
    }
    for (size_t i = 0; i < GRID; i++)
        a->ones[i] = 1.0;
    t->sigma_w2 = sw / nw;
    t->sigma_b2 = nb ? sb / nb : 0.0;
    double ep, edp;
    t->q_star = fixed_point(a, t->sigma_w2, t->sigma_b2);
    /* chi where the variance settles: at q*, at its limit 0 from above, or
       (no finite fixed point) far out, where the ReLU family's chi no longer
       depends on q */
    moments(a, t->q_star == 0 ? Q_ZERO : isinf(t->q_star) ? 1e12 : t->q_star, &ep, &edp);
    t->chi_predicted = t->sigma_w2 * edp;
    /* The same recursion from the variance this network's stack really
       receives (its input at initialization), layer by layer. */
    const gs_tensor *x = &m->acts[best_first];
    double in[2] = {gs_sumsq(x->dtype, gs_tensor_numel(x), x->data), (double)gs_tensor_numel(x)};
    if (comm && gs_dp_sum_f64(comm, in, 2) < 0)
        in[0] = NAN; /* the exchange failed: no path to predict */
    t->q_in = t->sigma_w2 * in[0] / (in[1] > 0 ? in[1] : 1) + t->sigma_b2;
    double qp = t->q_in, log_chi = 0;
    for (size_t l = best_first; l <= last; l++) {
        moments(a, qp, &ep, &edp);
        log_chi += log(t->sigma_w2 * edp);
        qp = t->sigma_w2 * ep + t->sigma_b2;
    }
    t->chi_path = exp(log_chi / (double)(last - best_first + 1));
    double log_sum = 0;
    size_t count = 0;
    for (size_t l = best_first; l <= last; l++)
        if (ig[l] > 0 && ig[l + 1] > 0 && isfinite(ig[l]) && isfinite(ig[l + 1])) {
            log_sum += 2 * log(ig[l] / ig[l + 1]);
            count++;
        }
    t->chi_measured = count ? exp(log_sum / (double)count) : NAN;
    t->first = best_first;
    t->last = last;
    snprintf(t->activation, sizeof t->activation, "%s", act_name(act));
    t->valid = 1;
    free(a->theta);
    free(a->theta_f);
    free(a);
}

int gs_theory_write(const char *dir, const gs_theory *t, gs_error *err)
{
    gs_memfile mf;
    gs_memfile_open(&mf);
    FILE *f = mf.f;
    gs_format_write_header(f, &gs_theory_format, 0);
    if (t->valid)
        fprintf(f, "%zu,%zu,%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", t->first, t->last,
                t->activation, t->sigma_w2, t->sigma_b2, t->q_star, t->chi_predicted,
                t->chi_measured, t->q_in, t->chi_path);
    return gs_memfile_commit(&mf, dir, gs_theory_format.file, err);
}
