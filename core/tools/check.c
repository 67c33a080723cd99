/*
 * gradscope check-plugin: independent checks of any component.
 *
 * Differentiable components (activations, losses, layers) are run in double
 * precision and their backward compared with central finite differences of
 * their own forward; their float kernels are compared with the double ones.
 * Double-precision kernels are optional (ABI 2.0): a component without them
 * is differenced in float32 at the looser tolerance of tools/gradcheck.h,
 * and the check says so.  Activations are checked on image-like (channel-
 * major) and sequence (channel-innermost) layouts, so that per-channel
 * parameters must follow the layout; per-step losses also on a masked
 * sequence.  Evaluation points stay away from kinks, where finite
 * differences of a piecewise function are meaningless.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "base/util.h"
#include "engine/model.h"
#include "tools/gradcheck.h"
#include "engine/optstep.h"
#include "plugin/registry.h"
#include "plugin/schema.h"

#define FD_TOL GS_FD_TOL_F64
#define F32_TOL 2e-3 /* float kernels against double ones */
/* Floor of the relative errors of the float32-only checks: their
   differences carry about 1e-5 of rounding noise. */
#define F32_TINY 1e-3

/* The detail's note on a component checked in float32 only. */
static const char f32_note[] = " (no float64 kernels: checked in float32, tolerance 1e-2)";


typedef struct check_state {
    double max_err;
    char detail[512];
    int ok;
} check_state;

static double rel_err(double a, double b)
{
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) / (scale > 1e-4 ? scale : 1e-4);
}

static void note(check_state *s, double err, double tol, const char *what)
{
    if (!(err <= tol) && s->ok) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail, "%s: relative error %.3e exceeds %.0e%s", what,
                 err, tol, tol == GS_FD_TOL_F32 ? " (float32 check)" : "");
    }
    if (err > s->max_err || isnan(err))
        s->max_err = err;
}

/* Points in [-2.5, 2.5] at least 0.1 away from 0, where most kinks live. */
static void kink_free_points(gs_rng *r, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = 0.1 + 2.4 * gs_rng_uniform01(r);
        x[i] = gs_rng_uniform01(r) < 0.5 ? -v : v;
    }
}

/* The precision an activation or loss is differenced in. */
typedef struct fd_prec {
    int f64;
    double tol, tiny;
} fd_prec;

static fd_prec precision(int has_f64)
{
    return has_f64 ? (fd_prec){1, FD_TOL, 1e-4} : (fd_prec){0, GS_FD_TOL_F32, F32_TINY};
}

static double fd_step(const fd_prec *pr, double v)
{
    return pr->f64 ? 1e-6 * (fabs(v) > 1 ? fabs(v) : 1)
                   : GS_FD_STEP_F32 * (fabs(v) > 1 ? fabs(v) : 1);
}

static double rel_err_floor(double a, double b, double tiny)
{
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) / (scale > tiny ? scale : tiny);
}

enum { ACT_N = 4, ACT_C = 3, ACT_S = 2, ACT_E = ACT_N * ACT_C * ACT_S };

/* An activation's forward in the chosen precision, on doubles either way. */
static void act_forward(const gs_activation_ops *ops, const fd_prec *pr, gs_act_call *c,
                        const double *theta, size_t nt, const double *x, double *y)
{
    if (pr->f64) {
        c->theta = nt ? theta : NULL;
        ops->forward_f64(c, x, y);
        return;
    }
    float xf[ACT_E], yf[ACT_E], tf[ACT_C * ACT_S + 1];
    for (size_t i = 0; i < ACT_E; i++)
        xf[i] = (float)x[i];
    for (size_t k = 0; k < nt; k++)
        tf[k] = (float)theta[k];
    c->theta = nt ? tf : NULL;
    ops->forward_f32(c, xf, yf);
    c->theta = NULL;
    for (size_t i = 0; i < ACT_E; i++)
        y[i] = yf[i];
}

static void act_backward(const gs_activation_ops *ops, const fd_prec *pr, gs_act_call *c,
                         const double *theta, size_t nt, const double *x, const double *y,
                         const double *dy, double *dx, double *dtheta)
{
    if (pr->f64) {
        c->theta = nt ? theta : NULL;
        ops->backward_f64(c, x, y, dy, dx, nt ? dtheta : NULL);
        return;
    }
    float xf[ACT_E], yf[ACT_E], dyf[ACT_E], dxf[ACT_E], tf[ACT_C * ACT_S + 1],
        dtf[ACT_C * ACT_S + 1] = {0};
    for (size_t i = 0; i < ACT_E; i++)
        xf[i] = (float)x[i], yf[i] = (float)y[i], dyf[i] = (float)dy[i];
    for (size_t k = 0; k < nt; k++)
        tf[k] = (float)theta[k];
    c->theta = nt ? tf : NULL;
    ops->backward_f32(c, xf, yf, dyf, dxf, nt ? dtf : NULL);
    c->theta = NULL;
    for (size_t i = 0; i < ACT_E; i++)
        dx[i] = dxf[i];
    for (size_t k = 0; k < nt; k++)
        dtheta[k] = dtf[k];
}

/* dL/dx and dL/dtheta against finite differences in one layout. */
static void check_activation_layout(const gs_ref *ref, gs_rng *rng, check_state *s,
                                    const fd_prec *pr, gs_layout layout, size_t *nt_out,
                                    double *theta_out, double *x_out, double *dy_out)
{
    const gs_activation_ops *ops = ref->info->component->ops;
    double x[ACT_E], y[ACT_E], dy[ACT_E], dx[ACT_E], xp[ACT_E], yp[ACT_E];
    kink_free_points(rng, x, ACT_E);
    for (size_t i = 0; i < ACT_E; i++)
        dy[i] = gs_rng_gauss(rng);
    size_t nt = ops->n_params ? ops->n_params(ref->values, ACT_C) : 0;
    if (nt > ACT_C * ACT_S) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail, "n_params gives %zu for %d channels", nt, ACT_C);
        return;
    }
    double theta[ACT_C * ACT_S + 1] = {0}, dtheta[ACT_C * ACT_S + 1] = {0};
    if (nt) {
        ops->init_params(ref->values, nt, theta);
        for (size_t i = 0; i < nt; i++)
            theta[i] += 0.1 * gs_rng_gauss(rng); /* away from the default, to see each one */
    }
    gs_act_call c = {.host = gs_host_table(), .p = ref->values, .n = ACT_N, .layout = layout,
                     .channels = ACT_C, .positions = ACT_S, .n_theta = nt};
    act_forward(ops, pr, &c, theta, nt, x, y);
    act_backward(ops, pr, &c, theta, nt, x, y, dy, dx, dtheta);
    const char *lname = layout == GS_LAYOUT_SEQUENCE ? "sequence" : "image";
    char what[96];
    for (size_t i = 0; i < ACT_E; i++) {
        double h = fd_step(pr, x[i]);
        memcpy(xp, x, sizeof xp);
        xp[i] = x[i] + h;
        act_forward(ops, pr, &c, theta, nt, xp, yp);
        double up = yp[i] * dy[i];
        xp[i] = x[i] - h;
        act_forward(ops, pr, &c, theta, nt, xp, yp);
        double down = yp[i] * dy[i];
        snprintf(what, sizeof what, "dL/dx vs finite differences (%s layout)", lname);
        note(s, rel_err_floor((up - down) / (2 * h), dx[i], pr->tiny), pr->tol, what);
    }
    for (size_t k = 0; k < nt; k++) {
        double keep = theta[k], h = fd_step(pr, keep), lp = 0, lm = 0;
        theta[k] = keep + h;
        act_forward(ops, pr, &c, theta, nt, x, yp);
        for (size_t i = 0; i < ACT_E; i++)
            lp += yp[i] * dy[i];
        theta[k] = keep - h;
        act_forward(ops, pr, &c, theta, nt, x, yp);
        for (size_t i = 0; i < ACT_E; i++)
            lm += yp[i] * dy[i];
        theta[k] = keep;
        snprintf(what, sizeof what, "dL/d%s vs finite differences (%s layout)",
                 ops->param_name, lname);
        note(s, rel_err_floor((lp - lm) / (2 * h), dtheta[k], pr->tiny), pr->tol, what);
    }
    *nt_out = nt;
    memcpy(theta_out, theta, sizeof theta);
    memcpy(x_out, x, sizeof x);
    memcpy(dy_out, dy, sizeof dy);
}

static void check_activation(const gs_ref *ref, gs_rng *rng, check_state *s)
{
    const gs_activation_ops *ops = ref->info->component->ops;
    fd_prec pr = precision(ops->forward_f64 != NULL);
    double theta[ACT_C * ACT_S + 1], x[ACT_E], dy[ACT_E];
    size_t nt = 0;
    check_activation_layout(ref, rng, s, &pr, GS_LAYOUT_SEQUENCE, &nt, theta, x, dy);
    if (s->ok)
        check_activation_layout(ref, rng, s, &pr, GS_LAYOUT_IMAGE, &nt, theta, x, dy);
    if (s->ok && pr.f64) {
        /* float kernels against double ones, on the image layout's point */
        gs_act_call c = {.host = gs_host_table(), .p = ref->values, .n = ACT_N,
                         .layout = GS_LAYOUT_IMAGE, .channels = ACT_C, .positions = ACT_S,
                         .n_theta = nt};
        double y[ACT_E], dx[ACT_E], dtheta[ACT_C * ACT_S + 1] = {0};
        double yf[ACT_E], dxf[ACT_E], dthf[ACT_C * ACT_S + 1] = {0};
        fd_prec single = precision(0);
        act_forward(ops, &pr, &c, theta, nt, x, y);
        act_backward(ops, &pr, &c, theta, nt, x, y, dy, dx, dtheta);
        act_forward(ops, &single, &c, theta, nt, x, yf);
        act_backward(ops, &single, &c, theta, nt, x, yf, dy, dxf, dthf);
        for (size_t i = 0; i < ACT_E; i++) {
            note(s, rel_err(yf[i], y[i]), F32_TOL, "float forward vs double");
            note(s, rel_err(dxf[i], dx[i]), F32_TOL, "float backward vs double");
        }
        for (size_t k = 0; k < nt; k++)
            note(s, rel_err(dthf[k], dtheta[k]), F32_TOL, "float dtheta vs double");
    }
    double gain = ops->gain ? ops->gain(ref->values) : 1.0;
    if (!(gain > 0 && isfinite(gain)) && s->ok) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail, "gain %g is not a positive number", gain);
    }
    if (s->ok)
        snprintf(s->detail, sizeof s->detail, "gain %.6g, %zu learnable per 3 channels%s", gain,
                 nt, pr.f64 ? "" : f32_note);
}

enum { LOSS_N = 4, LOSS_W = 5, LOSS_E = LOSS_N * LOSS_W };

static double loss_eval(const gs_loss_ops *ops, const fd_prec *pr, gs_loss_call *c,
                        const double *targets, const double *out, double *d)
{
    if (pr->f64) {
        c->targets = ops->needs_labels ? NULL : targets;
        return ops->eval_f64(c, out, d);
    }
    float of[LOSS_E], df[LOSS_E], tf[LOSS_E];
    for (size_t i = 0; i < LOSS_E; i++)
        of[i] = (float)out[i], tf[i] = (float)targets[i];
    c->targets = ops->needs_labels ? NULL : tf;
    double loss = ops->eval_f32(c, of, d ? df : NULL);
    c->targets = NULL;
    for (size_t i = 0; d && i < LOSS_E; i++)
        d[i] = df[i];
    return loss;
}

/* The gradient against finite differences of the loss, for the call as set up. */
static double check_loss_call(const gs_loss_ops *ops, const fd_prec *pr, gs_loss_call *c,
                              const double *targets, double *out, double *d, check_state *s,
                              const char *what)
{
    double loss = loss_eval(ops, pr, c, targets, out, d);
    for (size_t i = 0; i < LOSS_E; i++) {
        double keep = out[i], h = fd_step(pr, keep);
        out[i] = keep + h;
        double up = loss_eval(ops, pr, c, targets, out, NULL);
        out[i] = keep - h;
        double down = loss_eval(ops, pr, c, targets, out, NULL);
        out[i] = keep;
        note(s, rel_err_floor((up - down) / (2 * h), d[i], pr->tiny), pr->tol, what);
    }
    return loss;
}

static void check_loss(const gs_ref *ref, gs_rng *rng, check_state *s)
{
    const gs_loss_ops *ops = ref->info->component->ops;
    fd_prec pr = precision(ops->eval_f64 != NULL);
    double out[LOSS_E], d[LOSS_E], targets[LOSS_E];
    int32_t labels[LOSS_N];
    for (size_t i = 0; i < LOSS_E; i++) {
        out[i] = 2 * gs_rng_gauss(rng);
        targets[i] = gs_rng_uniform01(rng);
    }
    for (size_t i = 0; i < LOSS_N; i++)
        labels[i] = (int32_t)gs_rng_below(rng, LOSS_W);
    gs_loss_call c = {.host = gs_host_table(), .p = ref->values, .n = LOSS_N, .width = LOSS_W,
                      .labels = ops->needs_labels ? labels : NULL, .steps = 1};
    double loss = check_loss_call(ops, &pr, &c, targets, out, d, s,
                                  "dL/dout vs finite differences");
    if (pr.f64) {
        double df[LOSS_E];
        fd_prec single = precision(0);
        double lf = loss_eval(ops, &single, &c, targets, out, df);
        note(s, rel_err(lf, loss), F32_TOL, "float loss vs double");
        for (size_t i = 0; i < LOSS_E; i++)
            note(s, rel_err(df[i], d[i]), F32_TOL, "float gradient vs double");
    }
    if (ops->per_step && s->ok) {
        /* The same outputs as 2 examples of 2 steps, one step padded: it
           must get no gradient, and the rest must match the differences. */
        static const uint8_t mask[LOSS_N] = {1, 1, 0, 1};
        gs_loss_call q = c;
        q.n = LOSS_N / 2;
        q.steps = 2;
        q.mask = mask;
        check_loss_call(ops, &pr, &q, targets, out, d, s,
                        "masked sequence dL/dout vs finite differences");
        for (size_t j = 0; j < LOSS_W && s->ok; j++)
            if (d[2 * LOSS_W + j] != 0) {
                s->ok = 0;
                snprintf(s->detail, sizeof s->detail,
                         "a padded step (mask 0) has gradient %g at output %zu", d[2 * LOSS_W + j],
                         j);
            }
    }
    if (s->ok)
        snprintf(s->detail, sizeof s->detail, "loss %.6g on a random batch%s%s", loss,
                 ops->per_step ? ", masked steps ok" : "", pr.f64 ? "" : f32_note);
}

/* Fills required parameters with small valid values so a block can be built. */
static gs_ref *ref_for_check(const gs_registry *reg, const gs_component_info *ci, char *why,
                             size_t n)
{
    const gs_param_spec *schema = ci->component->params;
    size_t len = gs_schema_len(schema);
    gs_ref *r = gs_xcalloc(1, sizeof *r);
    r->reg = reg;
    r->info = ci;
    r->n = len;
    r->values = gs_xcalloc(len + 1, sizeof *r->values);
    gs_error err;
    if (gs_params_defaults(reg, schema, r->values, &r->pool, ci->component->name, &err) < 0) {
        snprintf(why, n, "%.480s", err.msg); /* why holds 512 */
        gs_ref_free(r);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        const gs_param_spec *p = &schema[i];
        if (!(p->flags & GS_REQUIRED))
            continue;
        double lo = p->min <= p->max ? p->min : -1e300, hi = p->min <= p->max ? p->max : 1e300;
        switch (p->type) {
        case GS_P_INT: r->values[i].i = (int64_t)fmin(fmax(3, lo), hi); break;
        case GS_P_FLOAT: r->values[i].f = fmin(fmax(0.5, lo), hi); break;
        case GS_P_BOOL: r->values[i].b = 0; break;
        default:
            snprintf(why, n, "required parameter '%s' has no value to check with", p->name);
            gs_ref_free(r);
            return NULL;
        }
    }
    return r;
}

/* Inputs a layer is checked on, each it builds with: a vector of 5, a
   sequence of 4 steps of 5, an image of 2 channels of 5 x 5.  A block with
   an image form beside its vector one (resnet, densenet) is checked in both. */
static const gs_shape layer_inputs[] = {
    {.ndim = 1, .dims = {5}},
    {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {4, 5}},
    {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 5, 5}},
};
static const char *const layer_input_names[] = {"5", "(T, C) = (4, 5)", "(C, H, W) = (2, 5, 5)"};

/* The layer alone in a model of `dt`, or NULL with *lacks_f64 set when a
   module of it has no double kernels, or NULL with the detail set. */
static gs_model *layer_model(const gs_registry *reg, const gs_ref *ref, gs_dtype dt,
                             const gs_shape *in, int *lacks_f64, check_state *s)
{
    enum { B = 3 };
    gs_model *m = gs_model_new(reg, dt, 7, in);
    gs_error err;
    if (gs_model_add_layer(m, ref, &err) < 0 || gs_model_finalize(m, B, &err) < 0) {
        *lacks_f64 = m->lacks_f64;
        if (!m->lacks_f64) {
            s->ok = 0;
            snprintf(s->detail, sizeof s->detail, "cannot build: %.480s", err.msg);
        }
        gs_model_free(m);
        return NULL;
    }
    return m;
}

/* Finite differences on one built model; appends "in X -> out Y, P
   parameters" to `done` when it passes. */
static void check_layer_model(gs_model *m, const char *in_name, gs_rng *rng, check_state *s,
                              char *done, size_t done_len)
{
    gs_dtype dt = m->dtype;
    double tol = dt == GS_F64 ? FD_TOL : GS_FD_TOL_F32;
    size_t nin = gs_tensor_numel(&m->acts[0]);
    for (size_t i = 0; i < nin; i++) {
        double v = gs_rng_gauss(rng);
        if (dt == GS_F64)
            ((double *)m->acts[0].data)[i] = v;
        else
            ((float *)m->acts[0].data)[i] = (float)v;
    }
    /* Nudge parameters off their initial values (zero biases hide mistakes). */
    for (size_t i = 0; i < m->total; i++) {
        double v = 0.1 * gs_rng_gauss(rng);
        if (dt == GS_F64)
            ((double *)m->values)[i] += v;
        else
            ((float *)m->values)[i] += (float)v;
    }
    double err_max;
    char what[200], label[300];
    gs_model_gradcheck(m, 1, rng, tol, 400, &err_max, what, sizeof what);
    snprintf(label, sizeof label, "in %s: %s vs finite differences", in_name, what);
    note(s, err_max, tol, label);
    size_t used = strlen(done);
    snprintf(done + used, done_len - used, "%sin %s -> out %zu, %zu parameters%s",
             used ? "; " : "", in_name, gs_shape_numel(&m->out), m->total,
             dt == GS_F64 ? "" : f32_note);
}

static void check_layer(const gs_registry *reg, const gs_ref *ref, gs_rng *rng, check_state *s)
{
    char first[sizeof s->detail] = "", done[sizeof s->detail] = "";
    int built = 0;
    s->ok = 1;
    for (size_t k = 0; k < sizeof layer_inputs / sizeof *layer_inputs; k++) {
        /* In double when it and every child have double kernels, else in float;
           an input it does not build with is no failure. */
        check_state b = {.ok = 1};
        int lacks_f64 = 0;
        gs_model *m = layer_model(reg, ref, GS_F64, &layer_inputs[k], &lacks_f64, &b);
        if (!m && lacks_f64)
            m = layer_model(reg, ref, GS_F32, &layer_inputs[k], &lacks_f64, &b);
        if (!m) {
            if (k == 0)
                memcpy(first, b.detail, sizeof first);
            continue;
        }
        built = 1;
        check_layer_model(m, layer_input_names[k], rng, s, done, sizeof done);
        gs_model_free(m);
    }
    if (!built) { /* the vector's error: the usual input */
        s->ok = 0;
        memcpy(s->detail, first, sizeof first);
    } else if (s->ok) {
        memcpy(s->detail, done, sizeof done);
    }
}

static void check_initializer(const gs_ref *ref, check_state *s)
{
    const gs_initializer_ops *ops = ref->info->component->ops;
    size_t dims[2] = {200, 300};
    size_t n = dims[0] * dims[1];
    double *a = gs_xmalloc(n * sizeof *a), *b = gs_xmalloc(n * sizeof *b);
    gs_rng r1, r2;
    gs_rng_seed(&r1, 11, 1);
    gs_rng_seed(&r2, 11, 1);
    gs_init_call c = {.host = gs_host_table(), .p = ref->values, .rng = &r1, .ndim = 2,
                      .dims = dims, .fan_in = dims[1], .fan_out = dims[0],
                      .activation_gain = sqrt(2.0), .activation_slope = 0};
    int rc1 = ops->fill(&c, a);
    c.rng = &r2;
    int rc2 = ops->fill(&c, b);
    if (rc1 || rc2) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail, "fill failed: %s", gs_last_error());
    } else {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n && s->ok; i++) {
            if (!isfinite(a[i]) || a[i] != b[i]) {
                s->ok = 0;
                snprintf(s->detail, sizeof s->detail,
                         isfinite(a[i]) ? "same seed gave different values" : "non-finite value");
            }
            sum += a[i];
            sq += a[i] * a[i];
        }
        double mean = sum / (double)n, var = sq / (double)n - mean * mean;
        if (s->ok)
            snprintf(s->detail, sizeof s->detail,
                     "200x300: mean %.4g, std %.4g (fan_in 300, fan_out 200, gain sqrt 2)",
                     mean, sqrt(var > 0 ? var : 0));
    }
    free(a);
    free(b);
}

/* 100 steps on f(theta) = |theta|^2 / 2 from a fixed start, the tensor
   stepped whole, or as the ranges [0, split) and [split, n) when split > 0. */
enum { OPT_CHECK_N = 64 };

static float descent_start(size_t i) { return (float)(1.0 + 0.01 * (double)i); }

static void optimizer_descent(const gs_ref *ref, double lr, size_t split, float *theta,
                              float *state)
{
    const gs_optimizer_ops *ops = ref->info->component->ops;
    enum { N = OPT_CHECK_N };
    size_t slots = ops->state_slots(ref->values);
    memset(state, 0, (slots * N + 1) * sizeof *state);
    for (size_t k = 0; k < slots && ops->state_init; k++)
        for (size_t i = 0; i < N; i++)
            state[k * N + i] = (float)ops->state_init(ref->values, k);
    for (size_t i = 0; i < N; i++)
        theta[i] = descent_start(i);
    float grad[N];
    for (uint64_t t = 1; t <= 100; t++) {
        for (size_t i = 0; i < N; i++)
            grad[i] = theta[i];
        gs_opt_call c = {.host = gs_host_table(), .p = ref->values, .t = t, .lr = lr,
                         .weight_decay = 0, .stride = N};
        if (split) {
            ops->step(&c, split, theta, grad, state);
            ops->step(&c, N - split, theta + split, grad + split, state + split);
        } else {
            ops->step(&c, N, theta, grad, state);
        }
    }
}

static void check_optimizer(const gs_ref *ref, check_state *s)
{
    const gs_optimizer_ops *ops = ref->info->component->ops;
    enum { N = OPT_CHECK_N };
    size_t slots = ops->state_slots(ref->values);
    float theta[N], *state = gs_xcalloc(slots * N + 1, sizeof *state);
    double lr = 0.01;
    int idx = gs_schema_index(ref->info->component->params, "lr");
    if (idx >= 0 && ref->info->component->params[idx].type == GS_P_FLOAT)
        lr = ref->values[idx].f;
    double before = 0, after = 0;
    for (size_t i = 0; i < N; i++)
        before += 0.5 * descent_start(i) * descent_start(i);
    /* f must decrease under the optimizer's own defaults. */
    optimizer_descent(ref, lr, 0, theta, state);
    int finite = 1;
    for (size_t i = 0; i < N; i++) {
        after += 0.5 * theta[i] * theta[i];
        finite &= isfinite(theta[i]);
    }
    for (size_t i = 0; i < slots * N; i++)
        finite &= isfinite(state[i]);
    /* An element-wise optimizer must not notice how its tensor is cut. */
    int elementwise = gs_optimizer_elementwise(ops);
    long differs = -1;
    if (elementwise) {
        float theta2[N], *state2 = gs_xcalloc(slots * N + 1, sizeof *state2);
        optimizer_descent(ref, lr, 23, theta2, state2);
        for (size_t i = 0; i < N && differs < 0; i++)
            if (memcmp(&theta[i], &theta2[i], sizeof(float)) != 0)
                differs = (long)i;
        for (size_t i = 0; i < slots * N && differs < 0; i++)
            if (memcmp(&state[i], &state2[i], sizeof(float)) != 0)
                differs = (long)(i % N);
        free(state2);
    }
    if (differs >= 0) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail,
                 "declares elementwise, but stepping elements [0, 23) and [23, %d) in two "
                 "calls changes element %ld",
                 N, differs);
    } else if (!finite || !(after < before)) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail,
                 "100 steps on |theta|^2/2 at lr %g: objective %.6g -> %.6g%s", lr, before, after,
                 finite ? "" : " (non-finite state)");
    } else {
        snprintf(s->detail, sizeof s->detail,
                 "100 steps on |theta|^2/2 at lr %g: objective %.4g -> %.4g, %zu state slots%s",
                 lr, before, after, slots,
                 elementwise ? ", element-wise (ranges match)" : "");
    }
    free(state);
}

static void check_schedule(const gs_ref *ref, check_state *s)
{
    const gs_schedule_ops *ops = ref->info->component->ops;
    for (uint64_t t = 0; t < 1000; t++) {
        double f = ops->factor(ref->values, t, 1000, 100);
        if (!(f >= 0 && isfinite(f))) {
            s->ok = 0;
            snprintf(s->detail, sizeof s->detail, "factor %g at step %llu", f,
                     (unsigned long long)t);
            return;
        }
    }
    snprintf(s->detail, sizeof s->detail, "factor at steps 0, 500, 999 of 1000: %.4g, %.4g, %.4g",
             ops->factor(ref->values, 0, 1000, 100), ops->factor(ref->values, 500, 1000, 100),
             ops->factor(ref->values, 999, 1000, 100));
}

static void check_dataset(const gs_ref *ref, check_state *s)
{
    const gs_dataset_ops *ops = ref->info->component->ops;
    gs_rng rng;
    gs_rng_seed(&rng, 3, 0);
    gs_data_call c = {.host = gs_host_table(), .p = ref->values, .rng = &rng};
    gs_dataset d;
    memset(&d, 0, sizeof d);
    gs_clear_error();
    if (ops->load(&c, &d) != 0) {
        snprintf(s->detail, sizeof s->detail, "not loaded with default parameters (%s)",
                 gs_last_error());
        return;
    }
    size_t width = gs_shape_numel(&d.shape);
    int finite = 1;
    for (size_t i = 0; i < d.train.count * width; i++)
        finite &= isfinite(d.train.x[i]);
    if (!finite) {
        s->ok = 0;
        snprintf(s->detail, sizeof s->detail, "non-finite feature values");
    } else {
        snprintf(s->detail, sizeof s->detail, "defaults: %zu train, %zu test, %zu features",
                 d.train.count, d.test.count, width);
    }
    void *arrays[] = {d.train.x, d.train.labels, d.train.targets,
                      d.test.x,  d.test.labels,  d.test.targets};
    for (size_t i = 0; i < GS_ARRAY_LEN(arrays); i++)
        free(arrays[i]);
}

int gs_check_ref(const gs_registry *reg, const gs_ref *ref, gs_check_result *res)
{
    const gs_component *c = ref->info->component;
    check_state s = {.ok = 1};
    memset(res, 0, sizeof *res);
    snprintf(res->component, sizeof res->component, "%s %s", gs_kind_name(c->kind), c->name);
    gs_rng rng;
    gs_rng_seed(&rng, 12345, gs_hash_string(c->name));
    switch (c->kind) {
    case GS_KIND_ACTIVATION: check_activation(ref, &rng, &s); break;
    case GS_KIND_LOSS: check_loss(ref, &rng, &s); break;
    case GS_KIND_LAYER: check_layer(reg, ref, &rng, &s); break;
    case GS_KIND_INITIALIZER: check_initializer(ref, &s); break;
    case GS_KIND_OPTIMIZER: check_optimizer(ref, &s); break;
    case GS_KIND_SCHEDULE: check_schedule(ref, &s); break;
    case GS_KIND_DATASET: check_dataset(ref, &s); break;
    default: s.ok = 0; snprintf(s.detail, sizeof s.detail, "unknown kind"); break;
    }
    res->ok = s.ok;
    res->max_rel_err = s.max_err;
    snprintf(res->detail, sizeof res->detail, "%s", s.detail);
    return res->ok;
}

int gs_check_component(const gs_registry *reg, const gs_component_info *ci, gs_check_result *res)
{
    char why[512] = "";
    gs_ref *ref = ref_for_check(reg, ci, why, sizeof why);
    if (!ref) {
        memset(res, 0, sizeof *res);
        snprintf(res->component, sizeof res->component, "%s %s",
                 gs_kind_name(ci->component->kind), ci->component->name);
        /* A data set whose files must be named has nothing to load by default. */
        res->ok = ci->component->kind == GS_KIND_DATASET;
        snprintf(res->detail, sizeof res->detail, "%s: %s",
                 res->ok ? "load not checked" : "cannot check", why);
        return res->ok;
    }
    int ok = gs_check_ref(reg, ref, res);
    gs_ref_free(ref);
    return ok;
}
