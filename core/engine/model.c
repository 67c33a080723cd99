/*
 * Model construction and execution.  Layers declare their parameters,
 * buffers and children through the host while they build; finalize then
 * lays every parameter out in one arena (and every gradient in a twin
 * arena), so norms, optimizer steps and checkpoints are loops over one list.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/model.h"
#include "base/rng.h"
#include "base/util.h"
#include "kernels/kernels.h"
#include "plugin/registry.h"
#include "plugin/schema.h"

static size_t dsize(gs_dtype dt) { return dt == GS_F32 ? sizeof(float) : sizeof(double); }

static gs_module *module_new(gs_model *m, gs_module *parent, const char *path,
                             const gs_component_info *info, const gs_ref *ref, int layer)
{
    gs_module *mod = gs_xcalloc(1, sizeof *mod);
    mod->head.host = gs_host_table();
    mod->model = m;
    mod->parent = parent;
    mod->path = gs_xstrdup(path);
    mod->info = info;
    mod->ref = ref;
    mod->layer = layer;
    mod->is_activation = info->component->kind == GS_KIND_ACTIVATION;
    char *stream = gs_xasprintf("module:%d:%s", layer, path);
    gs_rng_seed(&mod->rng, m->seed, gs_hash_string(stream));
    free(stream);
    m->modules = gs_xrealloc(m->modules, (m->n_modules + 1) * sizeof *m->modules);
    m->modules[m->n_modules++] = mod;
    return mod;
}

static char *child_path(const gs_module *parent, const char *name)
{
    return parent->path[0] ? gs_xasprintf("%s.%s", parent->path, name) : gs_xstrdup(name);
}

gs_param_rec *gs_model_declare_param(gs_module *mod, const char *name, int ndim,
                                     const size_t *dims, gs_role role, size_t fan_in,
                                     size_t fan_out, const gs_ref *init,
                                     const gs_ref *gain_from)
{
    gs_model *m = mod->model;
    if (m->values) {
        gs_record_error("parameter '%s' declared after the model was built", name);
        return NULL;
    }
    if (ndim < 1 || ndim > GS_MAX_DIMS) {
        gs_record_error("parameter '%s': %d dimensions (1 to %d allowed)", name, ndim,
                        GS_MAX_DIMS);
        return NULL;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0 || dims[i] > ((size_t)1 << 31) || numel > ((size_t)1 << 40) / dims[i]) {
            gs_record_error("parameter '%s': invalid or too large shape", name);
            return NULL;
        }
        numel *= dims[i];
    }
    gs_param_rec *p = gs_xcalloc(1, sizeof *p);
    p->owner = mod;
    p->layer = mod->layer;
    p->local_name = child_path(mod, name);
    p->pub.name = gs_xasprintf("%d.%s", mod->layer, p->local_name);
    p->pub.role = role;
    p->pub.fan_in = fan_in;
    p->pub.fan_out = fan_out;
    p->pub.value.dtype = p->pub.grad.dtype = m->dtype;
    p->pub.value.ndim = p->pub.grad.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        p->pub.value.dims[i] = p->pub.grad.dims[i] = dims[i];
    p->init = init ? gs_pool_add_with(&m->pool, gs_ref_clone(init), (void (*)(void *))gs_ref_free)
                   : NULL;
    p->gain_from = gain_from ? gs_pool_add_with(&m->pool, gs_ref_clone(gain_from),
                                                (void (*)(void *))gs_ref_free)
                             : NULL;
    p->numel = numel;
    p->offset = m->total;
    m->total += numel;
    m->params = gs_xrealloc(m->params, (m->n_params + 1) * sizeof *m->params);
    m->params[m->n_params++] = p;
    return p;
}

gs_tensor *gs_model_declare_buffer(gs_module *mod, const char *name, const gs_shape *shape)
{
    gs_model *m = mod->model;
    (void)name;
    if (m->values || !shape || shape->ndim < 1 || shape->ndim > GS_MAX_DIMS - 1) {
        gs_record_error("buffer '%s': invalid shape or declared after build", name);
        return NULL;
    }
    size_t per = gs_shape_numel(shape);
    if (per == 0 || per > ((size_t)1 << 31)) {
        gs_record_error("buffer '%s': invalid size", name);
        return NULL;
    }
    gs_tensor *t = gs_xcalloc(1, sizeof *t);
    t->dtype = m->dtype;
    t->layout = shape->layout;
    t->ndim = shape->ndim + 1;
    for (int i = 0; i < shape->ndim; i++)
        t->dims[i + 1] = shape->dims[i];
    m->buffers = gs_xrealloc(m->buffers, (m->n_buffers + 1) * sizeof *m->buffers);
    m->buffer_numel = gs_xrealloc(m->buffer_numel, (m->n_buffers + 1) * sizeof *m->buffer_numel);
    m->buffers[m->n_buffers] = t;
    m->buffer_numel[m->n_buffers++] = per;
    return t;
}

static const char *layout_name(gs_layout l)
{
    switch (l) {
    case GS_LAYOUT_VECTOR: return "vector (C)";
    case GS_LAYOUT_IMAGE: return "image (C, H, W)";
    case GS_LAYOUT_SEQUENCE: return "sequence (T, C)";
    }
    return "unknown";
}

static int shape_ok(const gs_shape *s, const char *what)
{
    if (gs_shape_valid(s) && gs_shape_numel(s) > 0)
        return 1;
    gs_record_error("%s shape has %d dimensions (%zu elements), which layout %s does not have",
                    what, s->ndim, s->ndim >= 1 && s->ndim <= GS_MAX_DIMS - 1 ? gs_shape_numel(s) : 0,
                    layout_name(s->layout));
    return 0;
}

/* Whether the module's kernels run on the model's element type: double
   precision is optional for plugins (ABI 2.0). */
static int dtype_ok(gs_module *mod)
{
    if (mod->model->dtype != GS_F64)
        return 1;
    const void *ops = mod->info->component->ops;
    int ok = mod->is_activation ? ((const gs_activation_ops *)ops)->forward_f64 != NULL
                                : ((const gs_layer_ops *)ops)->supports_f64;
    if (!ok) {
        mod->model->lacks_f64 = 1;
        gs_record_error("has no double-precision kernels; it runs in float32 models only");
    }
    return ok;
}

static int build_module(gs_module *mod, const gs_shape *in, gs_shape *out)
{
    mod->in = *in;
    if (!dtype_ok(mod) || !shape_ok(in, "input"))
        return -1;
    if (mod->is_activation) {
        const gs_activation_ops *ops = mod->info->component->ops;
        *out = *in;
        if (ops->n_params) {
            size_t count = ops->n_params(mod->ref->values, gs_shape_axes(in).channels);
            if (count) {
                size_t dims[1] = {count};
                mod->theta = gs_model_declare_param(mod, ops->param_name, 1, dims,
                                                    GS_ROLE_ACTIVATION, 0, 0, NULL, NULL);
                if (!mod->theta)
                    return -1;
            }
        }
        mod->out = *out;
        return 0;
    }
    const gs_layer_ops *ops = mod->info->component->ops;
    memset(out, 0, sizeof *out);
    gs_clear_error();
    mod->built = 1;
    if (ops->build(mod, mod->ref->values, in, out) != 0) {
        if (!gs_last_error()[0])
            gs_record_error("build failed");
        return -1;
    }
    if (out->ndim < 1 || out->ndim > GS_MAX_DIMS - 1 || !shape_ok(out, "the output")) {
        if (!gs_last_error()[0])
            gs_record_error("produced an invalid output shape");
        return -1;
    }
    mod->out = *out;
    return 0;
}

gs_module *gs_model_add_child(gs_module *parent, const char *name, const gs_ref *spec,
                              const gs_shape *in, gs_shape *out)
{
    if (!spec) {
        gs_record_error("child '%s': no component given", name);
        return NULL;
    }
    gs_kind kind = spec->info->component->kind;
    if (kind != GS_KIND_LAYER && kind != GS_KIND_ACTIVATION) {
        gs_record_error("child '%s': a %s cannot be a child module", name, gs_kind_name(kind));
        return NULL;
    }
    gs_model *m = parent->model;
    const gs_ref *ref =
        gs_pool_add_with(&m->pool, gs_ref_clone(spec), (void (*)(void *))gs_ref_free);
    char *path = child_path(parent, name);
    gs_module *mod = module_new(m, parent, path, spec->info, ref, parent->layer);
    free(path);
    gs_shape tmp;
    if (build_module(mod, in, out ? out : &tmp) < 0) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        gs_record_error("%s '%s': %s", gs_kind_name(kind), spec->info->component->name, msg);
        return NULL;
    }
    return mod;
}

gs_model *gs_model_new(const gs_registry *reg, gs_dtype dtype, uint64_t seed, const gs_shape *in)
{
    gs_model *m = gs_xcalloc(1, sizeof *m);
    m->reg = reg;
    m->dtype = dtype;
    m->seed = seed;
    m->in = *in;
    m->out = *in;
    return m;
}

int gs_model_add_layer(gs_model *m, const gs_ref *ref, gs_error *err)
{
    int index = (int)m->n_layers;
    const gs_ref *own = gs_pool_add_with(&m->pool, gs_ref_clone(ref), (void (*)(void *))gs_ref_free);
    gs_module *mod = module_new(m, NULL, "", ref->info, own, index);
    gs_shape out;
    if (build_module(mod, &m->out, &out) < 0) {
        gs_err_set(err, "layer %d (%s): %s", index, ref->info->component->name, gs_last_error());
        return -1;
    }
    m->layers = gs_xrealloc(m->layers, (m->n_layers + 1) * sizeof *m->layers);
    m->layers[m->n_layers++] = mod;
    m->out = out;
    return 0;
}

static void convert_from_double(gs_dtype dt, const double *src, void *dst, size_t n)
{
    if (dt == GS_F32)
        for (size_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)src[i];
    else
        memcpy(dst, src, n * sizeof(double));
}

static double activation_slope(const gs_ref *act)
{
    if (!act)
        return 0.0;
    int idx = gs_schema_index(act->info->component->params, "negative_slope");
    if (idx >= 0 && act->info->component->params[idx].type == GS_P_FLOAT)
        return act->values[idx].f;
    return 0.0;
}

static double activation_gain(const gs_ref *act)
{
    if (!act || act->info->component->kind != GS_KIND_ACTIVATION)
        return 1.0;
    const gs_activation_ops *ops = act->info->component->ops;
    return ops->gain ? ops->gain(act->values) : 1.0;
}

static int init_param(gs_model *m, gs_param_rec *p, gs_error *err)
{
    double *buf = gs_xcalloc(p->numel, sizeof *buf);
    int rc = 0;
    if (p->owner->is_activation) {
        const gs_activation_ops *ops = p->owner->info->component->ops;
        ops->init_params(p->owner->ref->values, p->numel, buf);
    } else if (p->init) {
        const gs_component *c = p->init->info->component;
        if (c->kind != GS_KIND_INITIALIZER) {
            gs_err_set(err, "%s: '%s' is not an initializer", p->pub.name, c->name);
            free(buf);
            return -1;
        }
        char *stream = gs_xasprintf("init:%s", p->pub.name);
        gs_rng rng;
        gs_rng_seed(&rng, m->seed, gs_hash_string(stream));
        free(stream);
        gs_init_call call = {
            .host = gs_host_table(),
            .p = p->init->values,
            .rng = &rng,
            .ndim = p->pub.value.ndim,
            .dims = p->pub.value.dims,
            .fan_in = p->pub.fan_in,
            .fan_out = p->pub.fan_out,
            .activation_gain = activation_gain(p->gain_from),
            .activation_slope = activation_slope(p->gain_from),
        };
        gs_clear_error();
        if (((const gs_initializer_ops *)c->ops)->fill(&call, buf) != 0) {
            gs_err_set(err, "%s: initializer '%s' failed: %s", p->pub.name, c->name,
                       gs_last_error());
            rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < p->numel; i++)
            if (!isfinite(buf[i])) {
                gs_err_set(err, "%s: initializer '%s' produced a non-finite value", p->pub.name,
                           c->name);
                rc = -1;
            }
    }
    if (rc == 0)
        convert_from_double(m->dtype, buf, p->pub.value.data, p->numel);
    free(buf);
    return rc;
}

int gs_model_finalize(gs_model *m, size_t max_batch, gs_error *err)
{
    size_t es = dsize(m->dtype);
    m->max_batch = max_batch;
    m->values = gs_xcalloc(m->total ? m->total : 1, es);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i]->pub.value.data = (char *)m->values + m->params[i]->offset * es;
    /* Initialized before the rest is allocated: each initializer fills a
       temporary tensor of doubles, which must not add to the run's peak. */
    for (size_t i = 0; i < m->n_params; i++)
        if (init_param(m, m->params[i], err) < 0)
            return -1;
    m->grads = gs_xcalloc(m->total ? m->total : 1, es);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i]->pub.grad.data = (char *)m->grads + m->params[i]->offset * es;
    for (size_t i = 0; i < m->n_buffers; i++)
        m->buffers[i]->data = gs_xcalloc(max_batch * m->buffer_numel[i], es);
    m->act_stats = gs_xcalloc(m->n_layers + 1, sizeof *m->act_stats);
    m->acts = gs_xcalloc(m->n_layers + 1, sizeof *m->acts);
    m->dacts = gs_xcalloc(m->n_layers + 1, sizeof *m->dacts);
    m->dact_sumsq = gs_xcalloc(m->n_layers + 1, sizeof *m->dact_sumsq);
    /* Backward reads dacts[l + 1] and writes dacts[l]: two buffers taken in
       turn hold them all (the monitor takes its norms on the way). */
    size_t widest = 0;
    for (size_t l = 0; l <= m->n_layers; l++) {
        size_t n = gs_shape_numel(l == 0 ? &m->in : &m->layers[l - 1]->out);
        widest = n > widest ? n : widest;
    }
    for (int k = 0; k < 2; k++)
        m->dact_buf[k] = gs_xcalloc(max_batch * widest, es);
    for (size_t l = 0; l <= m->n_layers; l++) {
        const gs_shape *s = l == 0 ? &m->in : &m->layers[l - 1]->out;
        gs_tensor *pair[2] = {&m->acts[l], &m->dacts[l]};
        for (int k = 0; k < 2; k++) {
            pair[k]->dtype = m->dtype;
            pair[k]->layout = s->layout;
            pair[k]->ndim = s->ndim + 1;
            for (int d = 0; d < s->ndim; d++)
                pair[k]->dims[d + 1] = s->dims[d];
        }
        m->acts[l].data = gs_xcalloc(max_batch * gs_shape_numel(s), es);
        m->dacts[l].data = m->dact_buf[l & 1];
    }
    gs_model_set_batch(m, max_batch);
    return 0;
}

void gs_model_set_batch(gs_model *m, size_t n)
{
    for (size_t i = 0; i < m->n_buffers; i++)
        m->buffers[i]->dims[0] = n;
    for (size_t l = 0; l <= m->n_layers; l++)
        m->acts[l].dims[0] = m->dacts[l].dims[0] = n;
}

static gs_act_call act_call(const gs_module *mod, const gs_tensor *x, const void *theta)
{
    gs_axes ax = gs_shape_axes(&mod->in);
    return (gs_act_call){.host = gs_host_table(),
                         .p = mod->ref->values,
                         .n = x->dims[0],
                         .layout = mod->in.layout,
                         .channels = ax.channels,
                         .positions = ax.positions,
                         .theta = theta,
                         .n_theta = mod->theta ? mod->theta->numel : 0};
}

/* Values of f' per piece of the batch that activation_stats takes. */
#define ACT_STATS_PIECE ((size_t)8192)

/*
 * On monitored training steps each activation reports its dead units (f' = 0
 * for every example of the batch, and for an image or a sequence at every
 * position of the channel) and saturated values (|f'| below its threshold),
 * from its own backward with dL/dy = 1.
 */
static void activation_stats(gs_module *mod, const gs_act_call *c, const gs_tensor *x,
                             const gs_tensor *y)
{
    gs_model *m = mod->model;
    const gs_activation_ops *ops = mod->info->component->ops;
    size_t es = dsize(x->dtype);
    size_t units = c->channels * c->positions;
    /* The batch is taken a few examples at a time, so that the work space
       (from the model's scratch memory) stays small: a copy of the layer's
       output would count in the run's peak memory.  It holds the parameter
       gradient the backward accumulates (discarded), dL/dy = 1, the
       derivative and the units' flags. */
    size_t rows = units >= ACT_STATS_PIECE ? 1 : ACT_STATS_PIECE / units;
    rows = rows < c->n ? rows : (c->n ? c->n : 1);
    size_t piece = rows * units, nt = mod->theta ? mod->theta->numel : 0;
    char *work = gs_model_scratch_get(mod, (nt + 2 * piece) * es + units * sizeof(int32_t));
    void *dtheta = nt ? work : NULL, *ones = work + nt * es, *d = work + (nt + piece) * es;
    int32_t *alive = (int32_t *)(work + (nt + 2 * piece) * es);
    memset(work, 0, nt * es);
    for (size_t i = 0; i < piece; i++) {
        if (x->dtype == GS_F32)
            ((float *)ones)[i] = 1.0f;
        else
            ((double *)ones)[i] = 1.0;
    }
    memset(alive, 0, units * sizeof *alive);
    double thr = ops->saturation_threshold;
    size_t saturated = 0;
    for (size_t r0 = 0; r0 < c->n; r0 += rows) {
        gs_act_call part = *c;
        part.n = c->n - r0 < rows ? c->n - r0 : rows;
        const char *xp = (const char *)x->data + r0 * units * es;
        const char *yp = (const char *)y->data + r0 * units * es;
        if (x->dtype == GS_F32)
            ops->backward_f32(&part, (const float *)xp, (const float *)yp, ones, d, dtheta);
        else
            ops->backward_f64(&part, (const double *)xp, (const double *)yp, ones, d, dtheta);
        saturated += gs_act_mark(x->dtype, d, part.n, units, thr, alive);
    }
    /* A unit is a channel, over every position and example: an image's
       channel is dead when f' = 0 at each of its pixels for the whole batch
       (a vector's unit is its one position). */
    gs_axes ax = gs_layout_axes(c->layout, c->channels, c->positions);
    size_t dead = 0;
    for (size_t ch = 0; ch < c->channels; ch++) {
        int32_t any = 0;
        for (size_t p = 0; p < c->positions; p++)
            any |= alive[ch * ax.cstride + p * ax.pstride];
        dead += !any;
    }
    gs_act_stats *st = &m->act_stats[mod->layer];
    st->dead += (double)dead;
    st->units += (double)c->channels;
    if (thr > 0) {
        st->saturated += (double)saturated;
        st->elements += (double)(c->n * units);
    }
    gs_model_scratch_put(mod, work);
}

void gs_module_forward(gs_module *mod, const gs_tensor *x, gs_tensor *y, int training)
{
    if (!mod->is_activation) {
        ((const gs_layer_ops *)mod->info->component->ops)->forward(mod, x, y, training);
        return;
    }
    const gs_activation_ops *ops = mod->info->component->ops;
    gs_act_call c = act_call(mod, x, mod->theta ? mod->theta->pub.value.data : NULL);
    if (x->dtype == GS_F32)
        ops->forward_f32(&c, x->data, y->data);
    else
        ops->forward_f64(&c, x->data, y->data);
    if (training && mod->model->detailed)
        activation_stats(mod, &c, x, y);
}

void gs_module_backward(gs_module *mod, const gs_tensor *x, const gs_tensor *y,
                        const gs_tensor *dy, gs_tensor *dx)
{
    if (!mod->is_activation) {
        ((const gs_layer_ops *)mod->info->component->ops)->backward(mod, x, y, dy, dx);
        return;
    }
    const gs_activation_ops *ops = mod->info->component->ops;
    gs_act_call c = act_call(mod, x, mod->theta ? mod->theta->pub.value.data : NULL);
    void *dtheta = mod->theta ? mod->theta->pub.grad.data : NULL;
    /* An activation always computes dx when it has parameters to update;
       without them and without dx there is nothing to do. */
    void *scratch = NULL;
    void *dxp = dx ? dx->data : NULL;
    if (!dxp) {
        if (!dtheta)
            return;
        scratch = gs_xmalloc(gs_tensor_numel(x) * dsize(x->dtype));
        dxp = scratch;
    }
    if (x->dtype == GS_F32)
        ops->backward_f32(&c, x->data, y->data, dy->data, dxp, dtheta);
    else
        ops->backward_f64(&c, x->data, y->data, dy->data, dxp, dtheta);
    free(scratch);
}

void gs_model_forward(gs_model *m, int training)
{
    if (training && m->detailed)
        memset(m->act_stats, 0, m->n_layers * sizeof *m->act_stats);
    for (size_t l = 0; l < m->n_layers; l++)
        gs_module_forward(m->layers[l], &m->acts[l], &m->acts[l + 1], training);
}

void gs_model_backward(gs_model *m, int input_grad)
{
    if (!m->grads_zero)
        gs_zero((m->total ? m->total : 1) * dsize(m->dtype), m->grads);
    m->grads_zero = 0;
    for (size_t l = m->n_layers; l-- > 0;) {
        gs_tensor *dx = (l > 0 || input_grad) ? &m->dacts[l] : NULL;
        gs_module_backward(m->layers[l], &m->acts[l], &m->acts[l + 1], &m->dacts[l + 1], dx);
        if (m->monitoring)
            m->dact_sumsq[l] = dx ? gs_sumsq(m->dtype, gs_tensor_numel(dx), dx->data) : NAN;
    }
}

size_t gs_model_param_count(const gs_model *m) { return m->total; }

const char *gs_module_type(const gs_module *mod) { return mod->info->component->name; }

int gs_role_decays(gs_role role, int weights, int biases, int slopes, int norm)
{
    switch (role) {
    case GS_ROLE_WEIGHT: return weights;
    case GS_ROLE_BIAS: return biases;
    case GS_ROLE_ACTIVATION: return slopes;
    case GS_ROLE_NORM: return norm;
    case GS_ROLE_GAIN:
    case GS_ROLE_BUFFER: return 0;
    }
    return 0;
}

void gs_model_record(gs_module *mod, const char *key, double value)
{
    gs_model *m = mod->model;
    if (!m->monitoring)
        return;
    if (m->n_stats == m->cap_stats) {
        m->cap_stats = m->cap_stats ? 2 * m->cap_stats : 32;
        m->stats = gs_xrealloc(m->stats, m->cap_stats * sizeof *m->stats);
    }
    gs_stat_rec *s = &m->stats[m->n_stats++];
    s->layer = mod->layer;
    s->key = mod->path[0] ? gs_xasprintf("%s.%s", mod->path, key) : gs_xstrdup(key);
    s->value = value;
}

void gs_model_record_series(gs_module *mod, const char *name, gs_axis axis,
                            const double *values, size_t n)
{
    gs_model *m = mod->model;
    if (!m->monitoring)
        return;
    if (axis != GS_AXIS_TIME && axis != GS_AXIS_CHANNEL && axis != GS_AXIS_BAND) {
        /* a plugin bug; a row with an axis no reader knows would spoil series.csv */
        fprintf(stderr, "gradscope: warning: layer %d (%s): series '%s' has unknown axis %d; "
                "not recorded\n", mod->layer, mod->info->component->name, name, (int)axis);
        return;
    }
    if (m->n_series == m->cap_series) {
        m->cap_series = m->cap_series ? 2 * m->cap_series : 8;
        m->series = gs_xrealloc(m->series, m->cap_series * sizeof *m->series);
    }
    gs_series_rec *s = &m->series[m->n_series++];
    s->layer = mod->layer;
    s->name = mod->path[0] ? gs_xasprintf("%s.%s", mod->path, name) : gs_xstrdup(name);
    s->axis = axis;
    s->n = n;
    s->values = gs_xmalloc((n ? n : 1) * sizeof *s->values);
    if (n)
        memcpy(s->values, values, n * sizeof *values);
}

void gs_model_clear_records(gs_model *m)
{
    for (size_t i = 0; i < m->n_stats; i++)
        free(m->stats[i].key);
    for (size_t i = 0; i < m->n_series; i++) {
        free(m->series[i].name);
        free(m->series[i].values);
    }
    m->n_stats = m->n_series = 0;
}

void *gs_model_scratch_get(gs_module *mod, size_t bytes)
{
    gs_model *m = mod->model;
    if (m->scratch_depth == m->scratch_levels) {
        m->scratch_levels = m->scratch_levels ? 2 * m->scratch_levels : 4;
        m->scratch = gs_xrealloc(m->scratch, m->scratch_levels * sizeof *m->scratch);
        memset(m->scratch + m->scratch_depth, 0,
               (m->scratch_levels - m->scratch_depth) * sizeof *m->scratch);
    }
    struct gs_scratch_level *lv = &m->scratch[m->scratch_depth++];
    if (bytes > lv->cap) {
        free(lv->ptr);
        lv->ptr = gs_xmalloc_aligned(bytes);
        lv->cap = bytes;
    }
    return lv->ptr;
}

void gs_model_scratch_put(gs_module *mod, void *ptr)
{
    gs_model *m = mod->model;
    if (m->scratch_depth == 0 || m->scratch[m->scratch_depth - 1].ptr != ptr) {
        /* a plugin bug that would hand one buffer to two users: stop here */
        fprintf(stderr,
                "gradscope: layer %d (%s): scratch_put of a buffer that is not the last taken\n",
                mod->layer, mod->info->component->name);
        abort();
    }
    m->scratch_depth--;
}

void gs_model_free(gs_model *m)
{
    if (!m)
        return;
    for (size_t i = m->n_modules; i-- > 0;) {
        gs_module *mod = m->modules[i];
        if (mod->built) {
            const gs_layer_ops *ops = mod->info->component->ops;
            if (ops->destroy)
                ops->destroy(mod);
        }
        free(mod->path);
        free(mod);
    }
    free(m->modules);
    for (size_t i = 0; i < m->n_params; i++) {
        free(m->params[i]->local_name);
        free((char *)m->params[i]->pub.name);
        free(m->params[i]);
    }
    free(m->params);
    for (size_t i = 0; i < m->n_buffers; i++) {
        free(m->buffers[i]->data);
        free(m->buffers[i]);
    }
    free(m->buffers);
    free(m->buffer_numel);
    if (m->acts)
        for (size_t l = 0; l <= m->n_layers; l++)
            free(m->acts[l].data);
    for (size_t d = 0; d < m->scratch_levels; d++)
        free(m->scratch[d].ptr);
    free(m->scratch);
    free(m->dact_buf[0]);
    free(m->dact_buf[1]);
    free(m->acts);
    free(m->dacts);
    free(m->dact_sumsq);
    free(m->values);
    free(m->grads);
    free(m->layers);
    gs_model_clear_records(m);
    free(m->stats);
    free(m->series);
    free(m->act_stats);
    gs_pool_free(&m->pool);
    free(m);
}
