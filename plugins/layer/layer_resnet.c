/*
 * resnet: a residual block, on vectors (dense branches) or on images
 * (convolution branches, when the input's layout is an image).
 *
 *   pre  (He et al. 2016, identity mappings): y = lambda s(x) + F(x),
 *        F = [norm -> act -> W] x depth
 *   post (He et al. 2015, original ResNet):   y = act(lambda s(x) + F(x)),
 *        F = [W -> norm -> act] x (depth - 1) -> W -> norm
 *   mlp  (the residual MLP block, x + W2 act(W1 x) at depth 2):
 *        y = lambda s(x) + F(x), F = [W -> norm -> act] x (depth - 1) -> W
 *
 * W is a dense layer on vectors; on images a 3x3 convolution with padding 1
 * (the first with the block's stride), or in the bottleneck branch 1x1 to
 * units/4, 3x3 (with the stride), 1x1 to units, as torchvision's v1.5.
 * A convolution has no bias where a norm follows it.
 *
 * s(x) = x when the shapes agree; else (shortcut "projection", option B) a
 * learned projection: x P^T without bias on vectors, a 1x1 convolution with
 * the stride and the block's norm on images.  "pad" (option A, the CIFAR
 * ResNets) subsamples x by the stride and appends zero channels; "none"
 * drops the shortcut (plain networks).  lambda (shortcut_scale) exists for
 * the scaled-shortcut experiment: through a stack of blocks the shortcut
 * path contributes prod(lambda) to the gradient, which vanishes for
 * lambda < 1 and explodes for lambda > 1.
 *
 * With norm = "none" an activation that directly follows a weighted layer
 * is fused into it, so initializers with gain "auto" see that activation.
 */
#include "layer_util.h"
#include "resnet_image.h"

enum { P_UNITS, P_DEPTH, P_ACTIVATION, P_INIT, P_NORM, P_FORM, P_SCALE, P_STRIDE, P_BRANCH,
       P_SHORTCUT, P_ZERO_INIT };
enum { FORM_PRE, FORM_POST, FORM_MLP };
/* The shortcut as computed: identity, dense projection (vectors), a chain
   of children (image projection), option A, none. */
enum { SC_IDENTITY, SC_PROJ, SC_CHAIN, SC_PAD, SC_NONE };

static const gs_param_spec params[] = {
    [P_UNITS] = {.name = "units", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 20,
                 .doc = "output width (images: output channels); 0 keeps the input's"},
    [P_DEPTH] = {.name = "depth", .type = GS_P_INT, .def.i = 2, .min = 1, .max = 64,
                 .doc = "dense layers (images: 3x3 convolutions) in the residual branch F"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "relu",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation inside F (and after the sum in the post form)"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "he",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "initializer of every weight, the projection's included"},
    [P_NORM] = BLK_NORM_PARAM("normalization inside F (and after an image projection)"),
    [P_FORM] = {.name = "form", .type = GS_P_STRING, .def.s = "pre", .choices = "pre|post|mlp",
                .min = GS_ANY,
                .doc = "pre-activation (2016), post-activation (2015) or mlp (no outer act)"},
    [P_SCALE] = {.name = "shortcut_scale", .type = GS_P_FLOAT, .def.f = 1.0, .min = GS_ANY,
                 .doc = "lambda multiplying the shortcut s(x)"},
    [P_STRIDE] = {.name = "stride", .type = GS_P_INT, .def.i = 1, .min = 1, .max = 1 << 10,
                  .doc = "images: stride of the branch's first 3x3 convolution and shortcut"},
    [P_BRANCH] = {.name = "branch", .type = GS_P_STRING, .def.s = "basic",
                  .choices = "basic|bottleneck", .min = GS_ANY,
                  .doc = "images: depth 3x3 convolutions, or 1x1, 3x3, 1x1 (expansion 4)"},
    [P_SHORTCUT] = {.name = "shortcut", .type = GS_P_STRING, .def.s = "projection",
                    .choices = "projection|pad|none", .min = GS_ANY,
                    .doc = "where shapes differ: learned projection (B) or zero padding (A); "
                           "none: no shortcut"},
    [P_ZERO_INIT] = {.name = "zero_init_residual", .type = GS_P_BOOL, .def.b = 0, .min = GS_ANY,
                     .doc = "post form with batchnorm: the last norm of F starts with gamma = 0, "
                            "so the block starts as its shortcut"},
    {0},
};

typedef struct resnet {
    const gs_host *host;
    size_t in, out;    /* elements per example */
    size_t units;      /* output width, or channels on images */
    size_t stride;
    int image, bottleneck;
    double scale;
    gs_chain f;        /* F, whose output is written where the sum goes */
    int sc;            /* SC_* */
    gs_param *proj;    /* SC_PROJ */
    gs_chain s;        /* SC_CHAIN */
    gs_tensor *sout;   /* SC_CHAIN: s(x) */
    rn_pad pad;        /* SC_PAD */
    gs_module *act;    /* post form: activation after the sum */
    gs_tensor *z;      /* post form: the sum */
} resnet;

/* Weighted layer i of the branch: dense on vectors, a convolution on images. */
static int add_weighted(resnet *r, gs_module *m, const gs_value *p, size_t i, int bias,
                        const gs_ref *act)
{
    const gs_host *h = r->host;
    char name[32];
    if (!r->image) {
        snprintf(name, sizeof name, "fc%zu", i);
        return gs_chain_add_dense(h, m, &r->f, name, r->units, p[P_INIT].ref, act);
    }
    snprintf(name, sizeof name, "conv%zu", i);
    size_t channels = r->units, k = 3, stride = i == 0 ? r->stride : 1;
    if (r->bottleneck) {
        channels = i < 2 ? r->units / 4 : r->units;
        k = i == 1 ? 3 : 1;
        stride = i == 1 ? r->stride : 1;
    }
    return rn_add_conv(h, m, &r->f, name, channels, k, stride, bias, p[P_INIT].ref, act);
}

static int build_branch(resnet *r, gs_module *m, const gs_value *p, int form, int norm,
                        size_t depth)
{
    const gs_host *h = r->host;
    const char *norm_kind = p[P_NORM].s;
    const gs_ref *act = p[P_ACTIVATION].ref;
    char name[32];
    for (size_t i = 0; i < depth; i++) {
        int last = i + 1 == depth;
        /* the bias is redundant where a norm follows (dense layers keep theirs) */
        int bias = !(norm && (!last || form == FORM_POST));
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
            if (add_weighted(r, m, p, i, bias, !norm && !last ? act : NULL) < 0)
                return -1;
        } else {
            if (add_weighted(r, m, p, i, bias, !norm && !last ? act : NULL) < 0)
                return -1;
            if (norm && (!last || form == FORM_POST)) {
                snprintf(name, sizeof name, "norm%zu", i);
                if (last && p[P_ZERO_INIT].b) {
                    /* Goyal et al. 2017, torchvision's zero_init_residual:
                       F(x) = 0 at the start, a deep stack starts shallow */
                    gs_ref *bn = h->ref_new(m, GS_KIND_LAYER, norm_kind);
                    if (!bn || h->ref_set_float(bn, "weight_init", 0.0) < 0 ||
                        gs_chain_add(h, m, &r->f, name, bn) < 0)
                        return -1;
                } else if (gs_chain_add_norm(h, m, &r->f, name, norm_kind) < 0) {
                    return -1;
                }
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

/* What the image form needs before its branch is built: an image, units
   and depth that fit the branch; 0 or -1 after host->error. */
static int check_image(resnet *r, const gs_value *p, const gs_shape *in)
{
    const gs_host *h = r->host;
    if (blk_need_image(h, "resnet", in) < 0)
        return -1;
    if (!p[P_UNITS].i)
        r->units = in->dims[0];
    if (r->bottleneck && r->units % 4) {
        h->error("resnet: branch = \"bottleneck\" needs units divisible by 4 (expansion 4); "
                 "got %zu",
                 r->units);
        return -1;
    }
    if (r->bottleneck && p[P_DEPTH].i != 2) {
        h->error("resnet: branch = \"bottleneck\" is always 1x1, 3x3, 1x1; depth = %lld "
                 "applies to the basic branch only (leave it at 2)",
                 (long long)p[P_DEPTH].i);
        return -1;
    }
    return 0;
}

/* Chooses and builds the shortcut for `in` -> `out`; 0 or -1 after host->error. */
static int build_shortcut(resnet *r, gs_module *m, const gs_value *p, const gs_shape *in,
                          const gs_shape *out)
{
    const gs_host *h = r->host;
    const char *kind = p[P_SHORTCUT].s;
    char a[96], b[96];
    if (strcmp(kind, "none") == 0) {
        r->sc = SC_NONE;
        return 0;
    }
    int same = r->image ? in->dims[0] == r->units && r->stride == 1 : r->in == r->units;
    if (same) {
        r->sc = SC_IDENTITY;
    } else if (strcmp(kind, "pad") == 0) {
        size_t c = r->image ? in->dims[0] : r->in;
        if (r->units < c) {
            h->error("resnet: shortcut = \"pad\" cannot drop channels: the input %s has more "
                     "than the output %s",
                     blk_shape_str(in, a, sizeof a), blk_shape_str(out, b, sizeof b));
            return -1;
        }
        r->sc = SC_PAD;
        r->pad = (rn_pad){.c = c, .h = 1, .w = 1, .oc = r->units, .ho = 1, .wo = 1, .s = 1};
        if (r->image) {
            r->pad.h = in->dims[1];
            r->pad.w = in->dims[2];
            r->pad.ho = (in->dims[1] - 1) / r->stride + 1;
            r->pad.wo = (in->dims[2] - 1) / r->stride + 1;
            r->pad.s = r->stride;
        }
    } else if (!r->image) {
        r->sc = SC_PROJ;
        size_t dims[2] = {r->units, r->in};
        r->proj = h->add_param(m, "projection", 2, dims, GS_ROLE_WEIGHT, r->in, r->units,
                               p[P_INIT].ref, NULL);
        if (!r->proj)
            return -1;
    } else {
        r->sc = SC_CHAIN;
        if (rn_projection_chain(h, m, &r->s, in, r->units, r->stride, p[P_NORM].s,
                                p[P_INIT].ref) < 0)
            return -1;
        r->sout = h->add_buffer(m, "shortcut", &r->s.shape);
        if (!r->sout)
            return -1;
    }
    /* s(x) and F(x) must be added; the shapes above always agree, this is
       the guard for a branch that one day does not */
    gs_shape s_shape = *in; /* SC_IDENTITY */
    if (r->sc == SC_CHAIN) {
        s_shape = r->s.shape;
    } else if (r->sc == SC_PAD && r->image) {
        s_shape.dims[0] = r->units;
        s_shape.dims[1] = r->pad.ho;
        s_shape.dims[2] = r->pad.wo;
    } else if (r->sc != SC_IDENTITY) { /* vectors: a projection or padding to units */
        s_shape = *out;
    }
    if (gs_shape_numel(&s_shape) != r->out ||
        (r->image && memcmp(s_shape.dims, out->dims, sizeof out->dims) != 0)) {
        h->error("resnet: the shortcut gives %s but the branch %s; they cannot be added",
                 blk_shape_str(&s_shape, a, sizeof a), blk_shape_str(out, b, sizeof b));
        return -1;
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
    r->stride = (size_t)p[P_STRIDE].i;
    r->image = in->layout == GS_LAYOUT_IMAGE;
    r->bottleneck = strcmp(p[P_BRANCH].s, "bottleneck") == 0;
    int form = strcmp(p[P_FORM].s, "pre") == 0    ? FORM_PRE
               : strcmp(p[P_FORM].s, "post") == 0 ? FORM_POST
                                                  : FORM_MLP;
    int norm = strcmp(p[P_NORM].s, "none") != 0;
    char got[96];
    if (p[P_ZERO_INIT].b && (form != FORM_POST || strcmp(p[P_NORM].s, "batchnorm") != 0)) {
        h->error("resnet: zero_init_residual needs F to end in a batch norm (form = \"post\", "
                 "norm = \"batchnorm\"); got form = \"%s\", norm = \"%s\"",
                 p[P_FORM].s, p[P_NORM].s);
        return -1;
    }
    if (!r->image && (r->stride != 1 || r->bottleneck)) {
        h->error("resnet: %s needs an image input (C, H, W); got %s",
                 r->stride != 1 ? "stride" : "branch = \"bottleneck\"",
                 blk_shape_str(in, got, sizeof got));
        return -1;
    }
    if (r->image && check_image(r, p, in) < 0)
        return -1;
    size_t depth = r->bottleneck ? 3 : (size_t)p[P_DEPTH].i;
    gs_chain_init(h, &r->f, 3 * depth, in);
    if (build_branch(r, m, p, form, norm, depth) < 0)
        return -1;
    *out = r->image ? r->f.shape : (gs_shape){.ndim = 1, .dims = {r->units}};
    r->out = gs_shape_numel(out);
    if (build_shortcut(r, m, p, in, out) < 0)
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
    /* sum = F(x) + lambda s(x), in y (pre) or in z ahead of the activation
       (post).  F(x) is written there and the shortcut added in place: the
       sum of a copy of F(x) would be the same bits, at the cost of an
       output-sized array per block.  F's last stage is a weighted layer
       without activation or a norm, whose backward never reads its output,
       so the sum in its place does no harm. */
    gs_tensor *sum = r->act ? r->z : y;
    gs_chain_forward(h, &r->f, x, sum, training);
    switch (r->sc) {
    case SC_IDENTITY: h->axpy(dt, n * r->out, r->scale, x->data, sum->data); break;
    case SC_PROJ:
        h->gemm(dt, 0, 1, n, r->out, r->in, r->scale, x->data, r->in, r->proj->value.data,
                r->in, 1.0, sum->data, r->out);
        break;
    case SC_CHAIN:
        gs_chain_forward(h, &r->s, x, r->sout, training);
        h->axpy(dt, n * r->out, r->scale, r->sout->data, sum->data);
        break;
    case SC_PAD: rn_pad_add(dt, n, &r->pad, r->scale, x->data, sum->data); break;
    default: break; /* SC_NONE */
    }
    if (r->act)
        h->forward(r->act, r->z, y, training);
}

/* Backward of F and of an identity or dense-projection shortcut, given
   ds = dL/d(sum) and the sum (F's output, as forward wrote it). */
static void backward_dense(resnet *r, gs_module *m, const gs_tensor *x, const gs_tensor *sum,
                           const gs_tensor *ds, gs_tensor *dx, int monitoring)
{
    const gs_host *h = r->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0];
    /* An input-sized array of the host's scratch memory when the monitor
       needs the branch's dL/dx without the caller asking for dx, or the
       shortcut's apart. */
    gs_tensor dxs;
    int use_dxs = monitoring && (!dx || r->proj);
    if (use_dxs) {
        dxs = *x;
        dxs.data = h->scratch_get(m, gs_tensor_bytes(x));
    }
    gs_tensor *dxf = dx ? dx : (monitoring ? &dxs : NULL);
    gs_chain_backward(h, m, &r->f, x, sum, ds, dxf);
    if (r->proj)
        h->gemm(dt, 1, 0, r->out, r->in, n, r->scale, ds->data, r->out, x->data, r->in, 1.0,
                r->proj->grad.data, r->in);
    int shortcut_done = 0;
    if (monitoring) {
        size_t nx = n * r->in;
        /* the branch part first: with a projection dxs is reused for the shortcut */
        double res_norm = gs_norm2(dt, nx, dxf->data), sc_norm;
        if (r->proj) {
            h->gemm(dt, 0, 0, n, r->in, r->out, r->scale, ds->data, r->out, r->proj->value.data,
                    r->in, 0.0, dxs.data, r->in);
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
            h->gemm(dt, 0, 0, n, r->in, r->out, r->scale, ds->data, r->out, r->proj->value.data,
                    r->in, 1.0, dx->data, r->in);
        else
            h->axpy(dt, n * r->in, r->scale, ds->data, dx->data);
    }
    if (use_dxs)
        h->scratch_put(m, dxs.data);
}

/* The same for the other shortcuts: a projection chain, option A, none. */
static void backward_other(resnet *r, gs_module *m, const gs_tensor *x, const gs_tensor *sum,
                           const gs_tensor *ds, gs_tensor *dx, int monitoring)
{
    const gs_host *h = r->host;
    gs_dtype dt = x->dtype;
    size_t n = x->dims[0], nx = n * r->in;
    gs_tensor dxb; /* the branch's dL/dx for the monitor when the caller wants none */
    gs_tensor *dxf = dx;
    if (!dx && monitoring) {
        dxb = *x;
        dxb.data = h->scratch_get(m, gs_tensor_bytes(x));
        dxf = &dxb;
    }
    gs_chain_backward(h, m, &r->f, x, sum, ds, dxf);
    double res_norm = monitoring ? gs_norm2(dt, nx, dxf->data) : 0, sc_norm = 0;
    if (r->sc == SC_PAD) {
        if (dx)
            rn_pad_backward(dt, n, &r->pad, r->scale, ds->data, dx->data);
        if (monitoring)
            sc_norm = fabs(r->scale) * rn_pad_norm(dt, n, &r->pad, ds->data);
    } else if (r->sc == SC_CHAIN) {
        /* the chain's parameters need dL/ds(x) = lambda ds itself */
        const gs_tensor *g = ds;
        gs_tensor gl, dxs;
        int scaled = r->scale != 1.0, want = dx || monitoring;
        if (scaled) {
            gl = *ds;
            gl.data = h->scratch_get(m, gs_tensor_bytes(ds));
            memset(gl.data, 0, gs_tensor_bytes(ds));
            h->axpy(dt, n * r->out, r->scale, ds->data, gl.data);
            g = &gl;
        }
        if (want) {
            dxs = *x;
            dxs.data = h->scratch_get(m, gs_tensor_bytes(x));
        }
        gs_chain_backward(h, m, &r->s, x, r->sout, g, want ? &dxs : NULL);
        if (monitoring)
            sc_norm = gs_norm2(dt, nx, dxs.data);
        if (dx)
            h->axpy(dt, nx, 1.0, dxs.data, dx->data);
        if (want)
            h->scratch_put(m, dxs.data);
        if (scaled)
            h->scratch_put(m, gl.data);
    }
    if (monitoring) {
        h->record(m, "shortcut_grad_norm", sc_norm);
        h->record(m, "residual_grad_norm", res_norm);
    }
    if (!dx && monitoring)
        h->scratch_put(m, dxb.data);
}

static void resnet_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                            const gs_tensor *dy, gs_tensor *dx)
{
    resnet *r = gs_host_of(m)->get_state(m);
    const gs_host *h = r->host;
    int monitoring = h->monitoring(m);
    /* ds = dL/d(sum): both the branch and the shortcut receive it; in the
       post form it lives in the host's scratch memory, given back last */
    gs_tensor dz;
    const gs_tensor *ds = dy;
    if (r->act) {
        dz = *y;
        dz.data = h->scratch_get(m, gs_tensor_bytes(y));
        h->backward(r->act, r->z, y, dy, &dz);
        ds = &dz;
    }
    const gs_tensor *sum = r->act ? r->z : y;
    if (r->sc == SC_IDENTITY || r->sc == SC_PROJ)
        backward_dense(r, m, x, sum, ds, dx, monitoring);
    else
        backward_other(r, m, x, sum, ds, dx, monitoring);
    if (r->act)
        h->scratch_put(m, dz.data);
}

static void resnet_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    resnet *r = h->get_state(m);
    if (!r)
        return;
    if (r->f.st)
        gs_chain_free(h, &r->f);
    if (r->s.st)
        gs_chain_free(h, &r->s);
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
    .version = "1.1",
    .license = "MIT",
    .description = "residual block on vectors and images (He et al. 2015, 2016)",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
