/*
 * The test API (gradscope/testing.h) and the finite-difference check that
 * `gradscope check-plugin` shares with it.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/testing.h"
#include "base/rng.h"
#include "base/util.h"
#include "engine/model.h"
#include "kernels/kernels.h"
#include "tools/gradcheck.h"
#include "plugin/registry.h"
#include "plugin/schema.h"

struct gs_test_model {
    gs_model *m;
    uint64_t seed;
};


/* |a - b| relative to the larger of |a|, |b| and `tiny`. */
static double rel_err(double a, double b, double tiny)
{
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) / (scale > tiny ? scale : tiny);
}

typedef struct fd_state {
    gs_model *m;
    gs_rng *saved; /* every module's stream at the start */
    const double *r;
    size_t nout;
    int training;
} fd_state;

static double get(gs_dtype dt, const void *p, size_t i)
{
    return dt == GS_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

/* Stores v and returns the value actually stored (rounded in a float model). */
static double set(gs_dtype dt, void *p, size_t i, double v)
{
    if (dt == GS_F32)
        return ((float *)p)[i] = (float)v;
    return ((double *)p)[i] = v;
}

/* sum(r * y), accumulated in double, after a forward pass that replays the
   same random draws; *magnitude (if not NULL) gets sum |r * y|. */
static double objective(const fd_state *s, double *magnitude)
{
    gs_model *m = s->m;
    for (size_t q = 0; q < m->n_modules; q++)
        m->modules[q]->rng = s->saved[q];
    gs_model_forward(m, s->training);
    const void *y = m->acts[m->n_layers].data;
    double out = 0, mag = 0;
    for (size_t k = 0; k < s->nout; k++) {
        double ry = s->r[k] * get(m->dtype, y, k);
        out += ry;
        mag += fabs(ry);
    }
    if (magnitude)
        *magnitude = mag;
    return out;
}

/* d objective / d element i of p.  In float the perturbed values are
   rounded, so the quotient divides by the steps actually taken. */
static double central_difference(const fd_state *s, void *p, size_t i)
{
    gs_dtype dt = s->m->dtype;
    double keep = get(dt, p, i);
    double h = dt == GS_F32 ? GS_FD_STEP_F32 * (fabs(keep) > 1 ? fabs(keep) : 1) : 1e-6;
    double hi = set(dt, p, i, keep + h);
    double up = objective(s, NULL);
    double lo = set(dt, p, i, keep - h);
    double down = objective(s, NULL);
    set(dt, p, i, keep);
    return (up - down) / (hi - lo);
}

static void worst(double err, const char *label, double *max_err, char *what, size_t what_len)
{
    if (err > *max_err || isnan(err)) {
        *max_err = err;
        if (what)
            snprintf(what, what_len, "%s", label);
    }
}

/*
 * Backward against central finite differences for every input element and
 * every parameter element (or about max_params of them, evenly spaced, when
 * max_params > 0).  Returns 1 when all errors are within tol.
 */
int gs_model_gradcheck(gs_model *m, int training, gs_rng *rng, double tol, size_t max_params,
                       double *max_err, char *what, size_t what_len)
{
    *max_err = 0;
    if (what && what_len)
        what[0] = '\0';
    gs_dtype dt = m->dtype;
    size_t nin = gs_tensor_numel(&m->acts[0]), nout = gs_tensor_numel(&m->acts[m->n_layers]);
    double *r = gs_xmalloc((nout + 1) * sizeof *r);
    for (size_t i = 0; i < nout; i++)
        r[i] = gs_rng_gauss(rng);
    fd_state s = {.m = m, .r = r, .nout = nout, .training = training};
    s.saved = gs_xmalloc((m->n_modules + 1) * sizeof *s.saved);
    for (size_t i = 0; i < m->n_modules; i++)
        s.saved[i] = m->modules[i]->rng;
    int monitoring = m->monitoring, detailed = m->detailed;
    m->monitoring = m->detailed = 0;

    /*
     * Rounding the objective costs about eps * sum|r y| (eps 1e-16 in
     * double, 6e-8 in float), which the difference quotient divides by the
     * step: gradients below 1e-4 of that sum in double, 1e-2 in float
     * (exact zeros included, as for a bias feeding a batch norm) are
     * compared in absolute terms.
     */
    double magnitude;
    objective(&s, &magnitude);
    double tiny = (dt == GS_F32 ? 1e-2 : 1e-4) * (magnitude > 1 ? magnitude : 1);
    for (size_t k = 0; k < nout; k++)
        set(dt, m->dacts[m->n_layers].data, k, r[k]);
    gs_model_backward(m, 1);
    double *gx = gs_xmalloc((nin + 1) * sizeof *gx), *gw = gs_xmalloc((m->total + 1) * sizeof *gw);
    for (size_t i = 0; i < nin; i++)
        gx[i] = get(dt, m->dacts[0].data, i);
    for (size_t i = 0; i < m->total; i++)
        gw[i] = get(dt, m->grads, i);

    for (size_t i = 0; i < nin; i++)
        worst(rel_err(central_difference(&s, m->acts[0].data, i), gx[i], tiny), "dL/dx", max_err,
              what, what_len);
    size_t stride = max_params && m->total > max_params ? m->total / max_params : 1;
    size_t p = 0; /* the tensor holding element i: parameters are laid out in order */
    for (size_t i = 0; i < m->total; i += stride) {
        while (p + 1 < m->n_params && i >= m->params[p]->offset + m->params[p]->numel)
            p++;
        if (m->params[p]->pub.role == GS_ROLE_BUFFER)
            continue; /* not differentiated: running statistics */
        double err = rel_err(central_difference(&s, m->values, i), gw[i], tiny);
        if (err > *max_err || isnan(err)) {
            char name[160];
            snprintf(name, sizeof name, "dL/d(%s)", m->params[p]->pub.name);
            worst(err, name, max_err, what, what_len);
        }
    }
    /* Leave the model as the analytic pass saw it. */
    objective(&s, NULL);
    m->monitoring = monitoring;
    m->detailed = detailed;
    free(gx);
    free(gw);
    free(r);
    free(s.saved);
    return *max_err <= tol;
}

gs_test_model *gs_test_model_new(const gs_registry *reg, gs_dtype dtype, uint64_t seed,
                                 const gs_shape *in)
{
    gs_test_model *t = gs_xcalloc(1, sizeof *t);
    t->m = gs_model_new(reg, dtype, seed, in);
    t->seed = seed;
    return t;
}

int gs_test_model_add(gs_test_model *t, const char *type, const char *params, gs_error *err)
{
    gs_kind kind = GS_KIND_LAYER;
    if (!gs_registry_find(t->m->reg, GS_KIND_LAYER, type) &&
        gs_registry_find(t->m->reg, GS_KIND_ACTIVATION, type))
        kind = GS_KIND_ACTIVATION;
    gs_ref *ref = gs_ref_parse(t->m->reg, kind, type, params, err);
    if (!ref)
        return -1;
    int rc = gs_model_add_layer(t->m, ref, err);
    gs_ref_free(ref);
    return rc;
}

int gs_test_model_finalize(gs_test_model *t, size_t batch, gs_error *err)
{
    if (t->m->values || batch == 0) {
        gs_err_set(err, batch ? "the model is already finalized" : "batch must be positive");
        return -1;
    }
    return gs_model_finalize(t->m, batch, err);
}

void gs_test_model_free(gs_test_model *t)
{
    if (!t)
        return;
    gs_model_free(t->m);
    free(t);
}

gs_tensor *gs_test_input(gs_test_model *t) { return &t->m->acts[0]; }
gs_tensor *gs_test_output(gs_test_model *t) { return &t->m->acts[t->m->n_layers]; }
gs_tensor *gs_test_input_grad(gs_test_model *t) { return &t->m->dacts[0]; }
gs_tensor *gs_test_output_grad(gs_test_model *t) { return &t->m->dacts[t->m->n_layers]; }
gs_shape gs_test_output_shape(const gs_test_model *t) { return t->m->out; }
size_t gs_test_n_params(const gs_test_model *t) { return t->m->n_params; }
gs_param *gs_test_param(gs_test_model *t, size_t i)
{
    return i < t->m->n_params ? &t->m->params[i]->pub : NULL;
}
/* Learnable values only: buffers (running statistics) are not parameters. */
size_t gs_test_param_count(const gs_test_model *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->m->n_params; i++)
        if (t->m->params[i]->pub.role != GS_ROLE_BUFFER)
            n += t->m->params[i]->numel;
    return n;
}

void gs_test_forward(gs_test_model *t, int training)
{
    gs_model_clear_records(t->m);
    gs_model_forward(t->m, training);
}

void gs_test_backward(gs_test_model *t) { gs_model_backward(t->m, 1); }

void gs_test_set_threads(int n) { gs_set_threads(n); }

void gs_test_set_monitoring(gs_test_model *t, int on)
{
    t->m->monitoring = t->m->detailed = on;
    if (on)
        gs_model_clear_records(t->m);
}

size_t gs_test_n_records(const gs_test_model *t) { return t->m->n_stats; }

int gs_test_record(const gs_test_model *t, size_t i, int *layer, const char **key, double *value)
{
    if (i >= t->m->n_stats)
        return -1;
    const gs_stat_rec *s = &t->m->stats[i];
    if (layer)
        *layer = s->layer;
    if (key)
        *key = s->key;
    if (value)
        *value = s->value;
    return 0;
}

int gs_test_role_decays(gs_role role, int decay_weights, int decay_biases, int decay_slopes,
                        int decay_norm)
{
    return gs_role_decays(role, decay_weights, decay_biases, decay_slopes, decay_norm);
}

size_t gs_test_n_series(const gs_test_model *t) { return t->m->n_series; }

int gs_test_series(const gs_test_model *t, size_t i, int *layer, const char **name,
                   gs_axis *axis, const double **values, size_t *n)
{
    if (i >= t->m->n_series)
        return -1;
    const gs_series_rec *s = &t->m->series[i];
    if (layer)
        *layer = s->layer;
    if (name)
        *name = s->name;
    if (axis)
        *axis = s->axis;
    if (values)
        *values = s->values;
    if (n)
        *n = s->n;
    return 0;
}

int gs_test_gradcheck(gs_test_model *t, int training, double *max_rel_err, char *what,
                      size_t what_len)
{
    gs_rng rng;
    gs_rng_seed(&rng, t->seed, gs_hash_string("gradcheck"));
    double err;
    double tol = t->m->dtype == GS_F32 ? GS_FD_TOL_F32 : GS_FD_TOL_F64;
    int rc = gs_model_gradcheck(t->m, training, &rng, tol, 0, &err, what, what_len);
    if (max_rel_err)
        *max_rel_err = err;
    return rc;
}
