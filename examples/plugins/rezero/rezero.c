/*
 * rezero: a ReZero residual block (Bachlechner et al. 2020, "ReZero is all
 * you need: fast convergence at large depth"):
 *
 *   y = x + alpha * F(x),   F = [dense -> act] x (depth - 1) -> dense
 *
 * with one learnable scalar alpha per block, starting at alpha_init (0 in
 * the paper).  At alpha = 0 every block is the identity, so a stack of any
 * depth starts as a perfectly conditioned map: the input-output Jacobian is
 * I and the gradient reaches the first block unchanged, without
 * normalization.  The blocks then open themselves as alpha grows.  alpha is
 * declared with role GS_ROLE_GAIN, which no weight-decay group contains:
 * decay would pull every block back towards the identity.
 *
 * Backward, with dy = dL/dy and f = F(x) (kept in a buffer from forward):
 *
 *   dL/dalpha += sum(dy * f)
 *   dL/dF      = alpha * dy            (sent into F's backward)
 *   dL/dx      = dy + (dL/dx through F)
 *
 * so at alpha = 0 the branch's weights get no gradient yet and alpha gets
 * all of it: the first steps learn how much of each branch to admit.
 *
 * On monitored steps it records into paths.csv alpha, branch_norm
 * = |alpha| ||f|| (the size of what the branch adds to x), and, as the stock
 * resnet block does, shortcut_grad_norm (||dy||, the identity path's part of
 * dL/dx) and residual_grad_norm (the branch's part), which `gradscope report`
 * draws per block.
 *
 * The branch is a gs_chain of dense children (<gradscope/layer.h>); the host's
 * gemm and axpy and GS_WITH_TYPE make the block run in float and double.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gradscope/layer.h>

enum { P_HIDDEN, P_DEPTH, P_ACTIVATION, P_INIT, P_ALPHA_INIT };

static const gs_param_spec params[] = {
    [P_HIDDEN] = {.name = "hidden", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 20,
                  .doc = "width of F's inner layers; 0 keeps the input width"},
    [P_DEPTH] = {.name = "depth", .type = GS_P_INT, .def.i = 2, .min = 1, .max = 64,
                 .doc = "dense layers in the residual branch F"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation between F's dense layers"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "he",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "initializer of F's weights"},
    [P_ALPHA_INIT] = {.name = "alpha_init", .type = GS_P_FLOAT, .def.f = 0.0, .min = -100.0,
                      .max = 100.0, .doc = "initial alpha (0: the block starts as the identity)"},
    {0},
};

typedef struct rezero {
    size_t width;
    gs_chain f;
    gs_tensor *fout; /* F(x), from forward to backward */
    gs_param *alpha;
} rezero;

static double alpha_of(const rezero *r)
{
    const void *a = r->alpha->value.data;
    return r->alpha->value.dtype == GS_F32 ? *(const float *)a : *(const double *)a;
}

static int rezero_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    rezero *r = h->zalloc(sizeof *r);
    h->set_state(m, r);
    /* Dense children flatten, so the block works on numel(in) features. */
    r->width = gs_shape_numel(in);
    size_t hidden = p[P_HIDDEN].i ? (size_t)p[P_HIDDEN].i : r->width;
    size_t depth = (size_t)p[P_DEPTH].i;
    *out = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {r->width}};

    gs_chain_init(h, &r->f, depth, in);
    char name[32];
    for (size_t i = 0; i < depth; i++) {
        int last = i + 1 == depth;
        snprintf(name, sizeof name, "fc%zu", i);
        /* Each activation is fused into the dense layer it follows, so an
           initializer's gain "auto" sees it. */
        if (gs_chain_add_dense(h, m, &r->f, name, last ? r->width : hidden, p[P_INIT].ref,
                               last ? NULL : p[P_ACTIVATION].ref) < 0)
            return -1;
    }
    r->fout = h->add_buffer(m, "branch", out);
    r->alpha = gs_add_scalar(m, "alpha", GS_ROLE_GAIN, p[P_ALPHA_INIT].f);
    if (!r->fout || !r->alpha)
        return -1;
    return 0;
}

static void rezero_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    const gs_host *h = gs_host_of(m);
    rezero *r = h->get_state(m);
    size_t n = x->dims[0] * r->width;
    gs_chain_forward(h, &r->f, x, r->fout, training);
    memcpy(y->data, x->data, n * gs_dtype_size(x->dtype));
    h->axpy(x->dtype, n, alpha_of(r), r->fout->data, y->data);
}

static void rezero_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                            const gs_tensor *dy, gs_tensor *dx)
{
    (void)y;
    const gs_host *h = gs_host_of(m);
    rezero *r = h->get_state(m);
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0] * r->width;
    double alpha = alpha_of(r);
    int monitoring = h->monitoring(m);

    /* dL/dalpha += dy . f, as a 1 x n by n x 1 product: the host's fixed-order sum */
    h->gemm(dt, 0, 1, 1, 1, n, 1.0, dy->data, n, r->fout->data, n, 1.0, r->alpha->grad.data, 1);

    /* dL/dF = alpha dy and, when the caller wants no dx but the monitor
       does, the branch's dL/dx: backward-only, so scratch memory. */
    gs_tensor df = *r->fout, dxs = *x;
    df.data = h->scratch_get(m, gs_tensor_bytes(&df));
    GS_WITH_TYPE(dt, T, {
        const T *g = dy->data;
        T *d = df.data;
        for (size_t i = 0; i < n; i++)
            d[i] = (T)alpha * g[i];
    });
    int use_dxs = monitoring && !dx;
    if (use_dxs)
        dxs.data = h->scratch_get(m, gs_tensor_bytes(x));
    gs_tensor *dxf = dx ? dx : (use_dxs ? &dxs : NULL);
    gs_chain_backward(h, m, &r->f, x, r->fout, &df, dxf);

    if (monitoring) {
        h->record(m, "alpha", alpha);
        h->record(m, "branch_norm", fabs(alpha) * gs_norm2(dt, n, r->fout->data));
        h->record(m, "shortcut_grad_norm", gs_norm2(dt, n, dy->data));
        h->record(m, "residual_grad_norm", gs_norm2(dt, n, dxf->data));
    }
    /* the identity shortcut's part */
    if (dx)
        h->axpy(dt, n, 1.0, dy->data, dx->data);
    if (use_dxs)
        h->scratch_put(m, dxs.data);
    h->scratch_put(m, df.data);
}

static void rezero_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    rezero *r = h->get_state(m);
    if (!r)
        return;
    gs_chain_free(h, &r->f);
    h->free(r);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = rezero_build,
    .forward = rezero_forward,
    .backward = rezero_backward,
    .destroy = rezero_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "rezero",
    .doc = "ReZero residual block y = x + alpha F(x), alpha a learned gain starting at 0",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "rezero",
    .version = "1.0.0",
    .license = "MIT",
    .description = "ReZero residual block (example block plugin)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
