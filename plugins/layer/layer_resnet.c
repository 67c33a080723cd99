/*
 * resnet: a residual block for flattened inputs.
 *
 *   pre  (He et al. 2016, identity mappings): y = lambda s(x) + F(x),
 *        F = [norm -> act -> dense] x depth
 *   post (He et al. 2015, original ResNet):   y = act(lambda s(x) + F(x)),
 *        F = [dense -> norm -> act] x (depth - 1) -> dense -> norm
 *   mlp  (the residual MLP block, x + W2 act(W1 x) at depth 2):
 *        y = lambda s(x) + F(x), F = [dense -> norm -> act] x (depth - 1) -> dense
 *
 * s(x) = x when the widths agree, else a learned projection x P^T without
 * bias.  lambda (shortcut_scale) exists for the scaled-shortcut experiment:
 * through a stack of blocks the shortcut path contributes prod(lambda) to
 * the gradient, which vanishes for lambda < 1 and explodes for lambda > 1.
 *
 * With norm = "none" an activation that directly follows a dense layer is
 * fused into it, so initializers with gain "auto" see that activation.
 */
#include "layer_util.h"

enum { P_UNITS, P_DEPTH, P_ACTIVATION, P_INIT, P_NORM, P_FORM, P_SCALE };
enum { FORM_PRE, FORM_POST, FORM_MLP };

static const gs_param_spec params[] = {
    [P_UNITS] = {.name = "units", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 20,
                 .doc = "output width; 0 keeps the input width"},
    [P_DEPTH] = {.name = "depth", .type = GS_P_INT, .def.i = 2, .min = 1, .max = 64,
                 .doc = "dense layers in the residual branch F"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation inside F (and after the sum in the post form)"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "he",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "initializer of every weight, the projection's included"},
    [P_NORM] = BLK_NORM_PARAM("normalization inside F"),
    [P_FORM] = {.name = "form", .type = GS_P_STRING, .def.s = "pre", .choices = "pre|post|mlp",
                .min = GS_ANY,
                .doc = "pre-activation (2016), post-activation (2015) or mlp (no outer act)"},
    [P_SCALE] = {.name = "shortcut_scale", .type = GS_P_FLOAT, .def.f = 1.0, .min = GS_ANY,
                 .doc = "lambda multiplying the shortcut s(x)"},
    {0},
};

typedef struct resnet {
    const gs_host *host;
    size_t in, units;
    double scale;
    gs_chain f;
    gs_tensor *fout;   /* F(x) */
    gs_param *proj;    /* NULL: identity shortcut */
    gs_module *act;    /* post form: activation after the sum */
    gs_tensor *z;      /* post form: the sum */
} resnet;

static int build_branch(resnet *r, gs_module *m, const gs_value *p, int form, int norm)
{
    const gs_host *h = r->host;
    const char *norm_kind = p[P_NORM].s;
    const gs_ref *act = p[P_ACTIVATION].ref, *init = p[P_INIT].ref;
    size_t depth = (size_t)p[P_DEPTH].i;
    char name[32];
    for (size_t i = 0; i < depth; i++) {
        int last = i + 1 == depth;
        if (form == FORM_PRE) {
            if (norm) {
                snprintf(name, sizeof name, "norm%zu", i);
                if (gs_chain_add_norm(h, m, &r->f, name, norm_kind) < 0)
                    return -1;
            }
            if (norm || i == 0) {
                snprintf(name, sizeof name, "act%zu", i);
                if (gs_chain_add(h, m, &r->f, name, act) < 0)
                    return -1;
            }
            /* Without norms the next layer's activation is fused here. */
            snprintf(name, sizeof name, "fc%zu", i);
            if (gs_chain_add_dense(h, m, &r->f, name, r->units, init,
                                    !norm && !last ? act : NULL) < 0)
                return -1;
        } else {
            snprintf(name, sizeof name, "fc%zu", i);
            if (gs_chain_add_dense(h, m, &r->f, name, r->units, init,
                                    !norm && !last ? act : NULL) < 0)
                return -1;
            if (norm && (!last || form == FORM_POST)) {
                snprintf(name, sizeof name, "norm%zu", i);
                if (gs_chain_add_norm(h, m, &r->f, name, norm_kind) < 0)
                    return -1;
                if (!last) {
                    snprintf(name, sizeof name, "act%zu", i);
                    if (gs_chain_add(h, m, &r->f, name, act) < 0)
                        return -1;
                }
            }
        }
    }
    return 0;
}

static int resnet_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *h = gs_host_of(m);
    resnet *r = h->zalloc(sizeof *r);
    h->set_state(m, r);
    r->host = h;
    r->in = gs_shape_numel(in);
    r->units = p[P_UNITS].i ? (size_t)p[P_UNITS].i : r->in;
    r->scale = p[P_SCALE].f;
    int form = strcmp(p[P_FORM].s, "pre") == 0    ? FORM_PRE
               : strcmp(p[P_FORM].s, "post") == 0 ? FORM_POST
                                                  : FORM_MLP;
    int norm = strcmp(p[P_NORM].s, "none") != 0;
    size_t depth = (size_t)p[P_DEPTH].i;
    gs_chain_init(h, &r->f, 3 * depth, in);
    if (build_branch(r, m, p, form, norm) < 0)
        return -1;
    *out = (gs_shape){.ndim = 1, .dims = {r->units}};
    if (r->units != r->in) {
        size_t dims[2] = {r->units, r->in};
        r->proj = h->add_param(m, "projection", 2, dims, GS_ROLE_WEIGHT, r->in, r->units,
                               p[P_INIT].ref, NULL);
        if (!r->proj)
            return -1;
    }
    r->fout = h->add_buffer(m, "branch", out);
    if (!r->fout)
        return -1;
    if (form == FORM_POST) {
        r->z = h->add_buffer(m, "sum", out);
        gs_shape act_out;
        r->act = h->add_child(m, "act", p[P_ACTIVATION].ref, out, &act_out);
        if (!r->z || !r->act)
            return -1;
    }
    return 0;
}

static void resnet_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    resnet *r = gs_host_of(m)->get_state(m);
    const gs_host *h = r->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0];
    gs_chain_forward(h, &r->f, x, r->fout, training);
    /* sum = F(x) + lambda s(x), in y (pre) or in z ahead of the activation (post) */
    gs_tensor *sum = r->act ? r->z : y;
    memcpy(sum->data, r->fout->data, n * r->units * gs_dtype_size(dt));
    if (r->proj)
        h->gemm(dt, 0, 1, n, r->units, r->in, r->scale, x->data, r->in, r->proj->value.data,
                r->in, 1.0, sum->data, r->units);
    else
        h->axpy(dt, n * r->units, r->scale, x->data, sum->data);
    if (r->act)
        h->forward(r->act, r->z, y, training);
}

static void resnet_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                            const gs_tensor *dy, gs_tensor *dx)
{
    resnet *r = gs_host_of(m)->get_state(m);
    const gs_host *h = r->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0];
    int monitoring = h->monitoring(m);
    /* Backward-only arrays come from the host's scratch memory, taken here
       and given back at the end, last first: dL/d(sum) in the post form, and
       an input-sized array when the monitor needs the branch's dL/dx
       without the caller asking for dx, or the shortcut's apart. */
    gs_tensor dz, dxs;
    /* ds = dL/d(sum): both the branch and the shortcut receive it */
    const gs_tensor *ds = dy;
    if (r->act) {
        dz = *y;
        dz.data = h->scratch_get(m, gs_tensor_bytes(y));
        h->backward(r->act, r->z, y, dy, &dz);
        ds = &dz;
    }
    int use_dxs = monitoring && (!dx || r->proj);
    if (use_dxs) {
        dxs = *x;
        dxs.data = h->scratch_get(m, gs_tensor_bytes(x));
    }
    gs_tensor *dxf = dx ? dx : (monitoring ? &dxs : NULL);
    gs_chain_backward(h, m, &r->f, x, r->fout, ds, dxf);
    if (r->proj)
        h->gemm(dt, 1, 0, r->units, r->in, n, r->scale, ds->data, r->units, x->data, r->in, 1.0,
                r->proj->grad.data, r->in);
    int shortcut_done = 0;
    if (monitoring) {
        size_t nx = n * r->in;
        /* the branch part first: with a projection dxs is reused for the shortcut */
        double res_norm = gs_norm2(dt, nx, dxf->data), sc_norm;
        if (r->proj) {
            h->gemm(dt, 0, 0, n, r->in, r->units, r->scale, ds->data, r->units,
                    r->proj->value.data, r->in, 0.0, dxs.data, r->in);
            sc_norm = gs_norm2(dt, nx, dxs.data);
        } else {
            sc_norm = fabs(r->scale) * gs_norm2(dt, nx, ds->data);
        }
        h->record(m, "shortcut_grad_norm", sc_norm);
        h->record(m, "residual_grad_norm", res_norm);
        if (r->proj) {
            if (dx)
                h->axpy(dt, nx, 1.0, dxs.data, dx->data);
            shortcut_done = 1;
        }
    }
    if (dx && !shortcut_done) {
        if (r->proj)
            h->gemm(dt, 0, 0, n, r->in, r->units, r->scale, ds->data, r->units,
                    r->proj->value.data, r->in, 1.0, dx->data, r->in);
        else
            h->axpy(dt, n * r->in, r->scale, ds->data, dx->data);
    }
    if (use_dxs)
        h->scratch_put(m, dxs.data);
    if (r->act)
        h->scratch_put(m, dz.data);
}

static void resnet_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    resnet *r = h->get_state(m);
    if (!r)
        return;
    gs_chain_free(h, &r->f);
    h->free(r);
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = resnet_build,
    .forward = resnet_forward,
    .backward = resnet_backward,
    .destroy = resnet_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "resnet",
    .doc = "residual block y = lambda s(x) + F(x), or act(lambda s(x) + F(x)) in the post form",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "resnet",
    .version = "1.0",
    .license = "MIT",
    .description = "residual block (He et al. 2015, 2016)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
