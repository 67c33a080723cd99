/*
 * Mean-field theory beside measurement (Poole et al. 2016, Schoenholz et al.
 * 2017).  For a stack of equal-width dense layers with weight variance
 * sigma_w^2/n and bias variance sigma_b^2, the pre-activation variance
 * converges to the fixed point q* of q = sigma_w^2 E[phi(sqrt(q) z)^2] +
 * sigma_b^2, and each layer multiplies the squared back-propagated gradient
 * norm by chi = sigma_w^2 E[phi'(sqrt(q*) z)^2], z ~ N(0, 1).  The
 * expectations are computed with the activation plugin's own double
 * kernels; sigma_w^2 and sigma_b^2 are measured on the initialized weights,
 * so any initializer works.  A stack of conv2d layers that keep their
 * image's shape is covered too (stack_weight).
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/theory.h"
#include "engine/spectral.h"
#include "base/util.h"
#include "engine/model.h"
#include "kernels/kernels.h"
#include "rundir/csv.h"
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

/* The layers a stack can be made of.  A convolution whose output has its
   input's shape (C, H, W) is, channel-wise, a dense layer of fan-in C k k
   (Xiao et al. 2018): with weights i.i.d. of variance sigma_w^2 / (C k k)
   each output position's pre-activation is a sum over C k k inputs, and the
   mean over positions of the variance and of the back-propagated squared
   gradient follow the dense recursions (exactly with circular padding; the
   zero padding at the borders takes a little variance off). */
enum { STACK_NONE, STACK_DENSE, STACK_CONV };
static const char *const stack_names[] = {"", "dense", "conv2d"};

static int stack_kind(const gs_model *m, size_t layer)
{
    const char *type = gs_module_type(m->layers[layer]);
    return !strcmp(type, "dense") ? STACK_DENSE : !strcmp(type, "conv2d") ? STACK_CONV : STACK_NONE;
}

/* Whether a conv2d layer maps its input image, at least k x k, to one of
   the same shape, with a weight (C, C, k, k): stride 1, padding (k - 1) / 2.
   (On an image smaller than the kernel most taps read padding, and a
   stride can keep a 1 x 1 image's shape: the fan-in is not C k k.) */
static int keeps_shape(const gs_module *mod, const gs_tensor *w)
{
    const gs_shape *in = &mod->in, *out = &mod->out;
    return in->layout == GS_LAYOUT_IMAGE && out->layout == GS_LAYOUT_IMAGE && in->ndim == 3 &&
           out->ndim == 3 && in->dims[0] == out->dims[0] && in->dims[1] == out->dims[1] &&
           in->dims[2] == out->dims[2] && w->ndim == 4 && w->dims[0] == w->dims[1] &&
           w->dims[1] == in->dims[0] && in->dims[1] >= w->dims[2] && in->dims[2] >= w->dims[3];
}

/* Layer `layer`'s weight when it can be part of a stack: a dense layer with
   a square weight, or a conv2d layer that keeps its input's shape; else
   NULL.  *bias: its bias or NULL. */
static const gs_param_rec *stack_weight(const gs_model *m, size_t layer, const gs_param_rec **bias)
{
    int kind = stack_kind(m, layer);
    *bias = NULL;
    if (kind == STACK_NONE)
        return NULL;
    const gs_param_rec *w = NULL;
    for (size_t i = 0; i < m->n_params; i++) {
        const gs_param_rec *p = m->params[i];
        if (p->layer != (int)layer)
            continue;
        if (!strcmp(p->local_name, "weight"))
            w = p;
        else if (!strcmp(p->local_name, "bias"))
            *bias = p;
    }
    if (!w)
        return NULL;
    const gs_tensor *v = &w->pub.value;
    if (kind == STACK_DENSE)
        return v->ndim == 2 && v->dims[0] == v->dims[1] ? w : NULL;
    return keeps_shape(m->layers[layer], v) ? w : NULL;
}

static const char *act_name(const gs_module *a) { return a ? a->info->component->name : "identity"; }

/* Why layer e cannot follow layer l in a stack (l a stack layer): NULL when
   it can - the same kind, weight shape, activation, and bias or none (one
   sigma_b^2 serves the stack). */
static const char *unlike(const gs_model *m, size_t l, size_t e)
{
    const gs_param_rec *b, *w = stack_weight(m, l, &b), *b2, *w2 = stack_weight(m, e, &b2);
    if (!w2 || stack_kind(m, e) != stack_kind(m, l))
        return "layer";
    const gs_tensor *v = &w->pub.value, *v2 = &w2->pub.value;
    for (int d = 0; d < v->ndim; d++)
        if (v->dims[d] != v2->dims[d])
            return v->ndim == 4 ? (v->dims[0] != v2->dims[0] ? "channels" : "kernel") : "width";
    if (!b2 != !b)
        return "bias";
    if (strcmp(act_name(activation_of(m, l)), act_name(activation_of(m, e))))
        return "activation";
    return NULL;
}

/* The longest run of alike stack layers, its last layer one before the end
   of the model (the measured factors need the layer after each one); 0 if
   there is no such run of two or more. */
static size_t find_stack(const gs_model *m, size_t *first)
{
    size_t best_first = 0, best_len = 0;
    for (size_t l = 0; l < m->n_layers;) {
        const gs_param_rec *b;
        if (!stack_weight(m, l, &b)) {
            l++;
            continue;
        }
        size_t e = l + 1;
        while (e < m->n_layers && !unlike(m, l, e))
            e++;
        if (e - l > best_len)
            best_first = l, best_len = e - l;
        l = e;
    }
    size_t last = best_first + best_len - 1;
    if (last + 1 >= m->n_layers && best_len)
        last--;
    if (best_len < 2 || last <= best_first)
        return 0;
    *first = best_first;
    return last - best_first + 1;
}

/* "(C x H x W)" of an image shape, "(n)" otherwise, into buf. */
static const char *shape_str(const gs_shape *s, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < s->ndim && used < len; d++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", d ? "x" : "", s->dims[d]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
    return buf;
}

/* Why mean-field theory does not apply to a model of convolutions (no
   stack find_stack accepts): the obstacle met first among the conv2d layers
   that keep their input's shape, or, when none does, the first conv2d
   layer's shapes.  No commas: it is a CSV cell. */
static void why_not(const gs_model *m, char *note, size_t len)
{
    char a[64], b[64];
    long first_conv = -1;
    for (size_t l = 0; l < m->n_layers; l++) {
        if (stack_kind(m, l) != STACK_CONV)
            continue;
        if (first_conv < 0)
            first_conv = (long)l;
        const gs_param_rec *bias;
        if (!stack_weight(m, l, &bias))
            continue;
        if (l + 1 >= m->n_layers) {
            snprintf(note, len, "layer %zu (conv2d) ends the model: no layer after it to measure "
                     "chi by", l);
            return;
        }
        const char *why = unlike(m, l, l + 1);
        if (!why) /* a run of two that ends the model */
            continue;
        if (!strcmp(why, "layer"))
            snprintf(note, len, "layer %zu (conv2d) is followed by layer %zu (%s): the theory "
                     "needs two or more conv2d layers in a row that keep the image's shape",
                     l, l + 1, gs_module_type(m->layers[l + 1]));
        else
            snprintf(note, len, "layers %zu and %zu (conv2d) differ in %s: the theory needs "
                     "a stack of alike layers", l, l + 1, why);
        return;
    }
    if (first_conv < 0) {
        snprintf(note, len, "no conv2d layer at the top level of the model: the theory "
                 "covers stacks of plain conv2d or dense layers; not blocks such as resnet "
                 "or densenet");
        return;
    }
    const gs_module *c = m->layers[first_conv];
    snprintf(note, len, "no conv2d layer keeps its input's shape (layer %ld maps %s to %s): "
             "the theory needs stride 1; padding (kernel - 1) / 2; as many output channels "
             "as input channels and images no smaller than the kernel",
             first_conv, shape_str(&c->in, a, sizeof a),
             shape_str(&c->out, b, sizeof b));
}

void gs_theory_compute(const gs_model *m, const double *ig, const gs_comm *comm, gs_theory *t)
{
    memset(t, 0, sizeof *t);
    size_t best_first = 0, len = find_stack(m, &best_first);
    if (!len)
        return;
    size_t last = best_first + len - 1;
    double sw = 0, nw = 0, sb = 0, nb = 0;
    for (size_t l = best_first; l <= last; l++) {
        const gs_param_rec *b, *w = stack_weight(m, l, &b);
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

/* Whether any layer's input or output is an image. */
static int has_images(const gs_model *m)
{
    for (size_t l = 0; l < m->n_layers; l++)
        if (m->layers[l]->in.layout == GS_LAYOUT_IMAGE ||
            m->layers[l]->out.layout == GS_LAYOUT_IMAGE)
            return 1;
    return 0;
}

/* v as "%.17g" writes it into buf[32], "" for a value the row lacks */
static const char *num17(char buf[32], double v)
{
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

void gs_theory_log_init(gs_csv *log, const gs_model *m, const gs_theory *t)
{
    const char *cell[GS_THEORY_NCOLS];
    char num[GS_THEORY_NCOLS][32], note[512];
    for (size_t k = 0; k < GS_THEORY_NCOLS; k++)
        cell[k] = "";
    cell[GS_THEORY_STEP] = "0";
    /* stack and note follow from the architecture alone, so a resumed run
       that rewrites the row (from an older checkpoint) writes the same */
    if (t->valid) {
        gs_format_u64(num[0], t->first);
        gs_format_u64(num[1], t->last);
        cell[GS_THEORY_FIRST_LAYER] = num[0];
        cell[GS_THEORY_LAST_LAYER] = num[1];
        cell[GS_THEORY_ACTIVATION] = t->activation;
        const double v[] = {t->sigma_w2,      t->sigma_b2,     t->q_star, t->chi_predicted,
                            t->chi_measured, t->q_in, t->chi_path};
        for (size_t k = 0; k < sizeof v / sizeof *v; k++)
            cell[GS_THEORY_SIGMA_W2 + k] = num17(num[2 + k], v[k]);
        cell[GS_THEORY_STACK] = stack_names[stack_kind(m, t->first)];
    } else if (has_images(m)) {
        why_not(m, note, sizeof note);
        for (char *c = note; *c; c++) /* a log's cells are never quoted */
            if (*c == ',' || *c == '"' || *c == '\n')
                *c = ';';
        cell[GS_THEORY_NOTE] = note;
    } else {
        return;
    }
    gs_csv_cells(log, cell, GS_THEORY_NCOLS);
}

/* The gate blocks of weight_hh, in PyTorch's order; NULL for a layer that
   is not recurrent. */
static const char *const *gate_names(const char *type, size_t *g)
{
    static const char *const rnn[] = {""}, *const lstm[] = {"i", "f", "g", "o"},
                             *const gru[] = {"r", "z", "n"};
    if (!strcmp(type, "rnn"))
        return *g = 1, rnn;
    if (!strcmp(type, "lstm"))
        return *g = 4, lstm;
    if (!strcmp(type, "gru"))
        return *g = 3, gru;
    return NULL;
}

/* Job j < n: block j's rho; j >= n: block j - n's sigma_max (the long
   jobs first, so that each thread starts with one). */
typedef struct {
    const gs_model *m;
    gs_spectral *out;
    size_t n;
} spectral_jobs;

static void spectral_job(void *arg, size_t j0, size_t j1)
{
    const spectral_jobs *s = arg;
    for (size_t j = j0; j < j1; j++) {
        gs_spectral *e = &s->out[j % s->n];
        const gs_tensor *w = &s->m->params[e->param]->pub.value;
        size_t H = w->dims[1], off = e->gate * H * H;
        double *blk = gs_xmalloc(H * H * sizeof *blk);
        for (size_t k = 0; k < H * H; k++)
            blk[k] = w->dtype == GS_F64 ? ((const double *)w->data)[off + k]
                                        : ((const float *)w->data)[off + k];
        if (j < s->n) /* the kernels' instruction set: GRADSCOPE_ISA switches all */
            e->rho = gs_spectral_radius_isa(blk, H, gs_isa_name());
        else
            e->sigma_max = gs_sigma_max_isa(blk, H, H, gs_isa_name());
        free(blk);
    }
}

size_t gs_theory_spectral(const gs_model *m, gs_spectral **out, size_t *cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        const gs_param_rec *p = m->params[i];
        size_t G;
        const char *const *gates = gate_names(gs_module_type(m->layers[p->layer]), &G);
        const char *name = p->local_name;
        const gs_tensor *w = &p->pub.value;
        if (!gates || strncmp(name, "weight_hh_l", 11) != 0 || strchr(name, '.') ||
            w->ndim != 2 || w->dims[0] != G * w->dims[1])
            continue;
        for (size_t g = 0; g < G; g++, n++) {
            if (n == *cap) {
                *cap = *cap ? 2 * *cap : 8;
                *out = gs_xrealloc(*out, *cap * sizeof **out);
            }
            gs_spectral *e = &(*out)[n];
            e->layer = p->layer;
            e->param = i;
            e->gate = g;
            snprintf(e->weight, sizeof e->weight, "%s%s%s", name, G > 1 ? "." : "", gates[g]);
        }
    }
    /* every block's two numbers are independent jobs, each in a fixed
       order: the same bits at any thread count */
    spectral_jobs s = {m, *out, n};
    if (n)
        gs_parallel_jobs(2 * n, spectral_job, &s);
    return n;
}

void gs_theory_log_spectral(gs_csv *log, const gs_spectral *s, size_t n, uint64_t step)
{
    char st[32], layer[32], rho[32], sig[32];
    gs_format_u64(st, step);
    for (size_t b = 0; b < n; b++) {
        const char *cell[GS_THEORY_NCOLS];
        for (size_t k = 0; k < GS_THEORY_NCOLS; k++)
            cell[k] = "";
        gs_format_u64(layer, s[b].layer);
        cell[GS_THEORY_FIRST_LAYER] = cell[GS_THEORY_LAST_LAYER] = layer;
        cell[GS_THEORY_STACK] = GS_THEORY_STACK_RECURRENT;
        cell[GS_THEORY_STEP] = st;
        cell[GS_THEORY_WEIGHT] = s[b].weight;
        cell[GS_THEORY_RHO] = num17(rho, s[b].rho);
        cell[GS_THEORY_SIGMA_MAX] = num17(sig, s[b].sigma_max);
        gs_csv_cells(log, cell, GS_THEORY_NCOLS);
    }
}
