/*
 * highway: a highway layer (Srivastava, Greff and Schmidhuber 2015) built
 * from two dense children:
 *
 *   h = H(x) = act(x W_H^T + b_H)          the transform
 *   t = T(x) = sigmoid(x W_T^T + b_T)      the transform gate
 *   y = t * h + (1 - t) * x                element-wise; width in = width out
 *
 * The carry path (1 - t) * x passes the gradient straight through where the
 * gate is closed, which is why a negative gate bias (b_T = gate_bias, -1 to
 * -3 in the paper) lets very deep stacks train.  Backward, with dy = dL/dy:
 *
 *   dL/dh = t * dy,   dL/dt = (h - x) * dy,   dL/dx = (1 - t) * dy + (terms
 *   back-propagated through H and T by their own backward)
 *
 * When the host is monitoring it records the mean gate value and the norm
 * of the carry part of dL/dx (gs_norm2 of <gradscope/layer.h>) into
 * paths.csv, and the mean gate of each unit as a series over the channel
 * axis into series.csv.
 *
 * h and t live from forward to backward, so they are buffers (add_buffer);
 * the gradients sent into H and T are needed only inside backward and come
 * from the host's scratch memory, which all layers share in turn.
 */
#include <math.h>
#include <string.h>
#include <gradscope/layer.h>

enum { P_ACTIVATION, P_INIT, P_GATE_BIAS };

static const gs_param_spec params[] = {
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation of the transform H"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "xavier",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "initializer of both weight matrices"},
    [P_GATE_BIAS] = {.name = "gate_bias", .type = GS_P_FLOAT, .def.f = -1.0, .min = -20.0,
                     .max = 20.0, .doc = "initial bias of the gate T (negative: carry x at first)"},
    {0},
};

typedef struct highway {
    const gs_host *host;
    size_t width;
    gs_module *h_mod, *t_mod; /* H and T */
    gs_tensor *h, *t;         /* their outputs */
    double *unit_gate;        /* per unit: its mean gate over the batch (a series) */
} highway;

/* A dense child of `units` outputs with the given activation and initializers. */
static gs_module *add_dense(gs_module *m, const char *name, size_t units, const gs_ref *act,
                            const gs_ref *init, const gs_ref *bias_init, const gs_shape *in)
{
    const gs_host *h = gs_host_of(m);
    gs_ref *r = h->ref_new(m, GS_KIND_LAYER, "dense");
    if (!r || h->ref_set_int(r, "units", (int64_t)units) < 0 ||
        h->ref_set_ref(r, "activation", act) < 0 || h->ref_set_ref(r, "init", init) < 0 ||
        (bias_init && h->ref_set_ref(r, "bias_init", bias_init) < 0))
        return NULL;
    gs_shape out;
    return h->add_child(m, name, r, in, &out);
}

static int highway_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    highway *hw = h->zalloc(sizeof *hw);
    h->set_state(m, hw);
    hw->host = h;
    hw->width = gs_shape_numel(in);
    hw->unit_gate = h->zalloc(hw->width * sizeof *hw->unit_gate);
    *out = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {hw->width}};

    gs_ref *sigmoid = h->ref_new(m, GS_KIND_ACTIVATION, "sigmoid");
    gs_ref *gate_bias = h->ref_new(m, GS_KIND_INITIALIZER, "constant");
    if (!sigmoid || !gate_bias || h->ref_set_float(gate_bias, "value", p[P_GATE_BIAS].f) < 0)
        return -1;
    hw->h_mod = add_dense(m, "transform", hw->width, p[P_ACTIVATION].ref, p[P_INIT].ref, NULL, in);
    hw->t_mod = add_dense(m, "gate", hw->width, sigmoid, p[P_INIT].ref, gate_bias, in);
    hw->h = h->add_buffer(m, "h", out);
    hw->t = h->add_buffer(m, "t", out);
    if (!hw->h_mod || !hw->t_mod || !hw->h || !hw->t)
        return -1;
    return 0;
}

/* The element-wise parts, written once for both element types. */
#define HIGHWAY_MIX(T, sfx)                                                     \
    static void mix_##sfx(size_t n, const T *x, const T *h, const T *t, T *y)    \
    {                                                                           \
        for (size_t i = 0; i < n; i++)                                          \
            y[i] = t[i] * h[i] + (1 - t[i]) * x[i];                             \
    }                                                                           \
    /* dh = t dy, dt = (h - x) dy, dx = (1 - t) dy (the carry part) */         \
    static void unmix_##sfx(size_t n, const T *x, const T *h, const T *t, const T *dy, \
                            T *dh, T *dt, T *dx)                                \
    {                                                                           \
        for (size_t i = 0; i < n; i++) {                                        \
            dh[i] = t[i] * dy[i];                                               \
            dt[i] = (h[i] - x[i]) * dy[i];                                      \
            if (dx)                                                             \
                dx[i] = (1 - t[i]) * dy[i];                                     \
        }                                                                       \
    }

HIGHWAY_MIX(float, f32)
HIGHWAY_MIX(double, f64)

static void highway_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    highway *hw = gs_host_of(m)->get_state(m);
    const gs_host *h = hw->host;
    size_t n = x->dims[0] * hw->width;
    h->forward(hw->h_mod, x, hw->h, training);
    h->forward(hw->t_mod, x, hw->t, training);
    if (x->dtype == GS_F32)
        mix_f32(n, x->data, hw->h->data, hw->t->data, y->data);
    else
        mix_f64(n, x->data, hw->h->data, hw->t->data, y->data);
}

static void highway_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                             const gs_tensor *dy, gs_tensor *dx)
{
    (void)y;
    highway *hw = gs_host_of(m)->get_state(m);
    const gs_host *h = hw->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0] * hw->width;
    int monitoring = h->monitoring(m);
    size_t bytes = gs_tensor_bytes(hw->h);
    gs_tensor dh = *hw->h, dtg = *hw->t, dxs = *x; /* shapes of h, t and x; data below */
    dh.data = h->scratch_get(m, bytes);
    dtg.data = h->scratch_get(m, bytes);
    dxs.data = h->scratch_get(m, bytes); /* dL/dx through H or T, or the carry part alone */
    /* Without dx (first layer) the carry part is only needed for monitoring. */
    void *cd = dx ? dx->data : (monitoring ? dxs.data : NULL);
    if (dt == GS_F32)
        unmix_f32(n, x->data, hw->h->data, hw->t->data, dy->data, dh.data, dtg.data, cd);
    else
        unmix_f64(n, x->data, hw->h->data, hw->t->data, dy->data, dh.data, dtg.data, cd);
    if (monitoring) {
        double t_sum = 0;
        memset(hw->unit_gate, 0, hw->width * sizeof *hw->unit_gate);
        for (size_t i = 0; i < n; i++) {
            double t = dt == GS_F32 ? ((const float *)hw->t->data)[i]
                                    : ((const double *)hw->t->data)[i];
            t_sum += t;
            hw->unit_gate[i % hw->width] += t / (double)x->dims[0];
        }
        h->record(m, "gate_mean", t_sum / (double)n);
        h->record_series(m, "unit_gate", GS_AXIS_CHANNEL, hw->unit_gate, hw->width);
        h->record(m, "carry_grad_norm", gs_norm2(dt, n, cd));
    }
    /* H and T write their dL/dx into dxs, added to the carry part. */
    h->backward(hw->h_mod, x, hw->h, &dh, dx ? &dxs : NULL);
    if (dx)
        h->axpy(dt, n, 1.0, dxs.data, dx->data);
    h->backward(hw->t_mod, x, hw->t, &dtg, dx ? &dxs : NULL);
    if (dx)
        h->axpy(dt, n, 1.0, dxs.data, dx->data);
    h->scratch_put(m, dxs.data);
    h->scratch_put(m, dtg.data);
    h->scratch_put(m, dh.data);
}

static void highway_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    highway *hw = h->get_state(m);
    h->free(hw->unit_gate);
    h->free(hw);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = highway_build,
    .forward = highway_forward,
    .backward = highway_backward,
    .destroy = highway_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "highway",
    .doc = "highway layer y = T(x) H(x) + (1 - T(x)) x with a sigmoid gate T",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "highway",
    .version = "1.0.0",
    .license = "MIT",
    .description = "highway layer (example block plugin)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
