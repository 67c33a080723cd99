/*
 * conv2d: y = act(W * x + b), a 2-d convolution (cross-correlation) as
 * torch.nn.Conv2d with square kernel, stride and padding given as single
 * ints.  Input (C, H, W) images, weight (channels, C, k, k), output
 * (channels, Ho, Wo) with Ho = floor((H + 2 padding - k) / stride) + 1.
 * Fan-in C k k and fan-out channels k k go to the initializers, as
 * PyTorch's _calculate_fan_in_and_fan_out; the defaults U(+-1/sqrt(fan_in))
 * for weight and bias are nn.Conv2d's (kaiming_uniform_ with a = sqrt(5)).
 *
 * Each example is unfolded (im2col) into a (C k k) x (Ho Wo) matrix so
 * that forward, dL/dx and dL/dW are products of whole matrices through
 * host->gemm (a 1x1 convolution with stride 1 and no padding skips the
 * unfolding: its input is the matrix).  With stride 1, dL/dx is instead the
 * transposed convolution of dy, one product over dy's unfolding (no col2im;
 * each input gradient element is then one sum over o k k in that order).
 * Examples run in parallel in groups of GROUP; the weight and bias
 * gradients are summed per group in example order and the groups' partial
 * sums added in group order, so the result has the same bits at any
 * thread count.
 */
#include <string.h>
#include "layer_util.h"

/* Vectorizes the copy and add loops of the unfolding, which -O2 leaves
   scalar (their lengths are not known multiples of the vector); element by
   element, so the results are the same bits. */
#ifdef _OPENMP
#define SIMD _Pragma("omp simd")
#else
#define SIMD
#endif

enum { P_CHANNELS, P_KERNEL, P_STRIDE, P_PADDING, P_BIAS, P_ACTIVATION, P_INIT, P_BIAS_INIT,
       P_IN_CHANNELS };

static const gs_param_spec params[] = {
    [P_CHANNELS] = {.name = "channels", .type = GS_P_INT, .flags = GS_REQUIRED, .min = 1,
                    .max = 1 << 16, .doc = "output channels"},
    [P_KERNEL] = {.name = "kernel", .type = GS_P_INT, .flags = GS_REQUIRED, .min = 1,
                  .max = 1 << 10, .doc = "kernel height and width"},
    [P_STRIDE] = {.name = "stride", .type = GS_P_INT, .def.i = 1, .min = 1, .max = 1 << 10,
                  .doc = "step between windows, both directions"},
    [P_PADDING] = {.name = "padding", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 10,
                   .doc = "zeros added on every side"},
    [P_BIAS] = {.name = "bias", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                .doc = "learn a bias per output channel"},
    [P_ACTIVATION] = {.name = "activation", .type = GS_P_COMPONENT, .def.s = "identity",
                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,
                      .doc = "activation applied to W * x + b"},
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "standard",
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                .doc = "weight initializer (default U(+-1/sqrt(C k k)), as nn.Conv2d)"},
    [P_BIAS_INIT] = {.name = "bias_init", .type = GS_P_COMPONENT, .def.s = "standard",
                     .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,
                     .doc = "bias initializer (default U(+-1/sqrt(C k k)), as nn.Conv2d)"},
    [P_IN_CHANNELS] = {.name = "in_channels", .type = GS_P_INT, .def.i = 0, .min = 0,
                       .max = 1 << 16,
                       .doc = "input channels expected (0: whatever the input has)"},
    {0},
};

/* Examples per group: fixed, so that the gradient sums do not depend on
   the thread count. */
enum { GROUP = 4 };

/* The geometry of one unfolding: c channels of h x w images, k x k
   windows every s with pad zeros around, ho x wo of them. */
typedef struct geom {
    size_t c, h, w, k, s, pad, ho, wo;
} geom;

typedef struct conv {
    const gs_host *host;
    size_t c, h, w;       /* input */
    size_t o, ho, wo;     /* output */
    size_t k, s, pad;
    size_t kk;            /* rows of the unfolded input: c k k */
    int direct;           /* 1x1, stride 1, no padding: the input is its own unfolding */
    int transposed;       /* dL/dx as a transposed convolution (below) */
    geom fwd;             /* the input's unfolding */
    geom tr;              /* dy's unfolding, where transposed */
    gs_param *wt, *b;
    gs_module *act;       /* NULL for identity */
    gs_tensor *pre;       /* pre-activation */
} conv;

static int conv_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)
{
    const gs_host *host = gs_host_of(m);
    conv *d = host->zalloc(sizeof *d);
    host->set_state(m, d);
    d->host = host;
    if (blk_need_image(host, "conv2d", in) < 0)
        return -1;
    d->c = in->dims[0];
    d->h = in->dims[1];
    d->w = in->dims[2];
    d->o = (size_t)p[P_CHANNELS].i;
    d->k = (size_t)p[P_KERNEL].i;
    d->s = (size_t)p[P_STRIDE].i;
    d->pad = (size_t)p[P_PADDING].i;
    char got[96];
    size_t want_c = (size_t)p[P_IN_CHANNELS].i;
    if (want_c && want_c != d->c) {
        host->error("conv2d: in_channels = %zu, but the input %s has %zu channel%s", want_c,
                    blk_shape_str(in, got, sizeof got), d->c, d->c == 1 ? "" : "s");
        return -1;
    }
    size_t ph = d->h + 2 * d->pad, pw = d->w + 2 * d->pad;
    if (d->k > ph || d->k > pw) {
        host->error("conv2d: kernel %zux%zu is larger than the input %s padded to %zux%zu "
                    "(padding %zu)",
                    d->k, d->k, blk_shape_str(in, got, sizeof got), ph, pw, d->pad);
        return -1;
    }
    d->ho = (ph - d->k) / d->s + 1;
    d->wo = (pw - d->k) / d->s + 1;
    d->kk = d->c * d->k * d->k;
    d->direct = d->k == 1 && d->s == 1 && d->pad == 0;
    d->fwd = (geom){d->c, d->h, d->w, d->k, d->s, d->pad, d->ho, d->wo};
    /* With stride 1, dL/dx is dy convolved with the flipped, transposed
       weights and padding k - 1 - pad: an unfolding of dy into o k k rows
       of H W, then one GEMM with K = o k k, instead of W^T dy (K = o, as
       few as DenseNet's 12) into C k k rows of Ho Wo that col2im adds
       back together, nine additions into each input element. */
    d->transposed = !d->direct && d->s == 1 && d->pad < d->k;
    if (d->transposed)
        d->tr = (geom){d->o, d->ho, d->wo, d->k, 1, d->k - 1 - d->pad, d->h, d->w};
    size_t wdims[4] = {d->o, d->c, d->k, d->k};
    size_t fan_in = d->kk, fan_out = d->o * d->k * d->k;
    d->wt = host->add_param(m, "weight", 4, wdims, GS_ROLE_WEIGHT, fan_in, fan_out,
                            p[P_INIT].ref, p[P_ACTIVATION].ref);
    if (!d->wt)
        return -1;
    if (p[P_BIAS].b) {
        size_t bdims[1] = {d->o};
        d->b = host->add_param(m, "bias", 1, bdims, GS_ROLE_BIAS, fan_in, fan_out,
                               p[P_BIAS_INIT].ref, NULL);
        if (!d->b)
            return -1;
    }
    *out = (gs_shape){.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {d->o, d->ho, d->wo}};
    if (strcmp(host->ref_name(p[P_ACTIVATION].ref), "identity") != 0) {
        d->pre = host->add_buffer(m, "pre", out);
        gs_shape act_out;
        d->act = host->add_child(m, "act", p[P_ACTIVATION].ref, out, &act_out);
        if (!d->pre || !d->act)
            return -1;
    }
    return 0;
}

/* Output columns [*q0, *q1) of kernel column j read inside the input
   (x = q s - pad + j in [0, W)); the others read the padding. */
static inline void inside(const geom *d, size_t j, size_t *q0, size_t *q1)
{
    size_t lo = d->pad > j ? (d->pad - j + d->s - 1) / d->s : 0;
    size_t hi = d->w + d->pad > j ? (d->w + d->pad - j + d->s - 1) / d->s : 0;
    *q0 = lo < d->wo ? lo : d->wo;
    *q1 = hi < d->wo ? hi : d->wo;
    if (*q1 < *q0)
        *q1 = *q0;
}

/* The unfolded example: col[(c k + i) k + j][r Wo + q] = x[c][r s - pad + i][q s - pad + j],
   zero where that falls in the padding. */
#define IM2COL(T, d, x, col)                                                                 \
    do {                                                                                     \
        size_t P_ = (d)->ho * (d)->wo;                                                       \
        for (size_t c_ = 0; c_ < (d)->c; c_++)                                               \
            for (size_t i_ = 0; i_ < (d)->k; i_++)                                           \
                for (size_t j_ = 0; j_ < (d)->k; j_++) {                                     \
                    T *row_ = (col) + ((c_ * (d)->k + i_) * (d)->k + j_) * P_;               \
                    size_t q0_, q1_;                                                         \
                    inside((d), j_, &q0_, &q1_);                                             \
                    for (size_t r_ = 0; r_ < (d)->ho; r_++) {                                \
                        long y_ = (long)(r_ * (d)->s + i_) - (long)(d)->pad;                 \
                        T *out_ = row_ + r_ * (d)->wo;                                       \
                        if (y_ < 0 || y_ >= (long)(d)->h) {                                  \
                            memset(out_, 0, (d)->wo * sizeof(T));                            \
                            continue;                                                        \
                        }                                                                    \
                        /* column q reads in_[q s + j - pad], in range for q0 <= q < q1 */   \
                        const T *in_ = (x) + (c_ * (d)->h + (size_t)y_) * (d)->w;            \
                        for (size_t q_ = 0; q_ < q0_; q_++)                                  \
                            out_[q_] = (T)0;                                                 \
                        if ((d)->s == 1 && q1_ > q0_) {                                      \
                            const T *src_ = in_ + q0_ + j_ - (d)->pad;                       \
                            SIMD for (size_t q_ = 0; q_ < q1_ - q0_; q_++)                   \
                                out_[q0_ + q_] = src_[q_];                                   \
                        } else {                                                             \
                            for (size_t q_ = q0_; q_ < q1_; q_++)                            \
                                out_[q_] = in_[q_ * (d)->s + j_ - (d)->pad];                 \
                        }                                                                    \
                        for (size_t q_ = q1_; q_ < (d)->wo; q_++)                            \
                            out_[q_] = (T)0;                                                 \
                    }                                                                        \
                }                                                                            \
    } while (0)

/* dx += fold(dcol), the adjoint of IM2COL. */
#define COL2IM(T, d, dcol, dx)                                                               \
    do {                                                                                     \
        size_t P_ = (d)->ho * (d)->wo;                                                       \
        for (size_t c_ = 0; c_ < (d)->c; c_++)                                               \
            for (size_t i_ = 0; i_ < (d)->k; i_++)                                           \
                for (size_t j_ = 0; j_ < (d)->k; j_++) {                                     \
                    const T *row_ = (dcol) + ((c_ * (d)->k + i_) * (d)->k + j_) * P_;        \
                    size_t q0_, q1_;                                                         \
                    inside((d), j_, &q0_, &q1_);                                             \
                    for (size_t r_ = 0; r_ < (d)->ho; r_++) {                                \
                        long y_ = (long)(r_ * (d)->s + i_) - (long)(d)->pad;                 \
                        if (y_ < 0 || y_ >= (long)(d)->h)                                    \
                            continue;                                                        \
                        const T *g_ = row_ + r_ * (d)->wo;                                   \
                        T *out_ = (dx) + (c_ * (d)->h + (size_t)y_) * (d)->w;                \
                        if ((d)->s == 1 && q1_ > q0_) {                                      \
                            T *dst_ = out_ + q0_ + j_ - (d)->pad;                            \
                            SIMD for (size_t q_ = 0; q_ < q1_ - q0_; q_++)                   \
                                dst_[q_] += g_[q0_ + q_];                                    \
                        } else {                                                             \
                            for (size_t q_ = q0_; q_ < q1_; q_++)                            \
                                out_[q_ * (d)->s + j_ - (d)->pad] += g_[q_];                 \
                        }                                                                    \
                    }                                                                        \
                }                                                                            \
    } while (0)

typedef struct job {
    conv *d;
    gs_dtype dt;
    size_t n;
    const void *x, *dy;
    void *y, *dx;
    const void *wtt; /* the transposed convolution's weights (c x o k k), or NULL */
    void *gw;    /* per-group weight-gradient partials (groups x o x kk), or NULL */
    double *gb;  /* per-group bias-gradient partials (groups x o), or NULL */
} job;

/* Examples [g0 GROUP, g1 GROUP) forward: y_e = W col_e + b. */
static void forward_groups(void *arg, size_t g0, size_t g1)
{
    const job *j = arg;
    conv *d = j->d;
    const gs_host *h = d->host;
    size_t P = d->ho * d->wo, es = gs_dtype_size(j->dt);
    size_t e1 = g1 * GROUP < j->n ? g1 * GROUP : j->n;
    void *col = d->direct ? NULL : h->alloc(d->kk * P * es);
    GS_WITH_TYPE(j->dt, T, {
        for (size_t e = g0 * GROUP; e < e1; e++) {
            const T *x = (const T *)j->x + e * d->c * d->h * d->w;
            T *y = (T *)j->y + e * d->o * P;
            if (!d->direct)
                IM2COL(T, &d->fwd, x, (T *)col);
            h->gemm(j->dt, 0, 0, d->o, P, d->kk, 1.0, d->wt->value.data, d->kk,
                    d->direct ? x : (const T *)col, P, 0.0, y, P);
            if (d->b) {
                const T *b = d->b->value.data;
                for (size_t o = 0; o < d->o; o++)
                    for (size_t q = 0; q < P; q++)
                        y[o * P + q] += b[o];
            }
        }
    });
    if (col)
        h->free(col);
}

static size_t groups_of(size_t n) { return (n + GROUP - 1) / GROUP; }

static void conv_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    conv *d = gs_host_of(m)->get_state(m);
    gs_tensor *pre = d->act ? d->pre : y;
    job j = {.d = d, .dt = x->dtype, .n = x->dims[0], .x = x->data, .y = pre->data};
    d->host->parallel_for(groups_of(j.n), 1, forward_groups, &j);
    if (d->act)
        d->host->forward(d->act, pre, y, training);
}

/* Examples of groups [g0, g1): dx_e = Wt * dy_e (the transposed
   convolution) or fold(W^T dy_e); group g's partial sums dW_g = sum_e dy_e col_e^T and db_g = sum_e sum_q dy_e, in example order.
   dW_g is computed and kept transposed, dW_g^T = sum_e col_e dy_e^T: every
   element is the same sum of the same products in the same order (a
   product's factors commute), but the GEMM then streams the unfolded input
   in place, P long rows of it, instead of transposing it to pack it, and
   its C x k x k rows fill whole register tiles where the few output
   channels would not. */
static void backward_groups(void *arg, size_t g0, size_t g1)
{
    const job *j = arg;
    conv *d = j->d;
    const gs_host *h = d->host;
    size_t P = d->ho * d->wo, es = gs_dtype_size(j->dt), in = d->c * d->h * d->w;
    size_t HW = d->h * d->w, okk = d->o * d->k * d->k, rows = d->kk * P;
    if (j->wtt && okk * HW > rows)
        rows = okk * HW;
    void *col = d->direct ? NULL : h->alloc(rows * es);
    GS_WITH_TYPE(j->dt, T, {
        for (size_t g = g0; g < g1; g++) {
            size_t e1 = (g + 1) * GROUP < j->n ? (g + 1) * GROUP : j->n;
            T *gw = j->gw ? (T *)j->gw + g * d->o * d->kk : NULL;
            double *gb = j->gb ? j->gb + g * d->o : NULL;
            for (size_t e = g * GROUP; e < e1; e++) {
                const T *dy = (const T *)j->dy + e * d->o * P;
                if (gw) {
                    const T *xe = (const T *)j->x + e * in;
                    if (!d->direct)
                        IM2COL(T, &d->fwd, xe, (T *)col);
                    h->gemm(j->dt, 0, 1, d->kk, d->o, P, 1.0, d->direct ? xe : (const T *)col,
                            P, dy, P, e == g * GROUP ? 0.0 : 1.0, gw, d->o);
                }
                if (gb)
                    for (size_t o = 0; o < d->o; o++) {
                        double s = 0;
                        for (size_t q = 0; q < P; q++)
                            s += dy[o * P + q];
                        gb[o] += s;
                    }
                if (j->dx && j->wtt) {
                    IM2COL(T, &d->tr, dy, (T *)col);
                    h->gemm(j->dt, 0, 0, d->c, HW, okk, 1.0, j->wtt, okk, (const T *)col, HW,
                            0.0, (T *)j->dx + e * in, HW);
                } else if (j->dx) {
                    T *dx = (T *)j->dx + e * in;
                    h->gemm(j->dt, 1, 0, d->kk, P, d->o, 1.0, d->wt->value.data, d->kk, dy, P,
                            0.0, d->direct ? dx : (T *)col, P);
                    if (!d->direct) {
                        memset(dx, 0, in * sizeof(T));
                        COL2IM(T, &d->fwd, (const T *)col, dx);
                    }
                }
            }
        }
    });
    if (col)
        h->free(col);
}

static void conv_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                          const gs_tensor *dy, gs_tensor *dx)
{
    conv *d = gs_host_of(m)->get_state(m);
    const gs_host *h = d->host;
    size_t n = x->dims[0], groups = groups_of(n), es = gs_dtype_size(x->dtype);
    const gs_tensor *dh = dy;
    gs_tensor dpre;
    if (d->act) {
        dpre = *d->pre;
        dpre.data = h->scratch_get(m, gs_tensor_bytes(d->pre));
        h->backward(d->act, d->pre, y, dy, &dpre);
        dh = &dpre;
    }
    size_t wn = d->o * d->kk;
    void *gw = h->scratch_get(m, groups * wn * es);
    double *gb = d->b ? h->scratch_get(m, groups * d->o * sizeof *gb) : NULL;
    if (gb)
        memset(gb, 0, groups * d->o * sizeof *gb);
    void *wtt = NULL;
    if (dx && d->transposed) {
        /* wtt[c][o][i][j] = W[o][c][k-1-i][k-1-j] */
        wtt = h->scratch_get(m, wn * es);
        size_t K = d->k, C = d->c, O = d->o;
        GS_WITH_TYPE(x->dtype, T, {
            const T *w = d->wt->value.data;
            T *t = wtt;
            for (size_t o = 0; o < O; o++)
                for (size_t c = 0; c < C; c++)
                    for (size_t i = 0; i < K; i++)
                        for (size_t jj = 0; jj < K; jj++)
                            t[((c * O + o) * K + i) * K + jj] =
                                w[((o * C + c) * K + (K - 1 - i)) * K + (K - 1 - jj)];
        });
    }
    job j = {.d = d, .dt = x->dtype, .n = n, .x = x->data, .dy = dh->data,
             .dx = dx ? dx->data : NULL, .wtt = wtt, .gw = gw, .gb = gb};
    h->parallel_for(groups, 1, backward_groups, &j);
    /* the groups' (transposed) partial sums, in group order: dW += dW_g as
       an axpy with alpha 1 would, element by element */
    GS_WITH_TYPE(x->dtype, T, {
        T *gr = d->wt->grad.data;
        size_t O = d->o, KK = d->kk;
        for (size_t g = 0; g < groups; g++) {
            const T *part = (const T *)gw + g * wn;
            for (size_t r = 0; r < KK; r++)
                for (size_t o = 0; o < O; o++)
                    gr[o * KK + r] += part[r * O + o];
        }
    });
    if (gb)
        GS_WITH_TYPE(x->dtype, T, {
            T *db = d->b->grad.data;
            for (size_t o = 0; o < d->o; o++) {
                double s = 0;
                for (size_t g = 0; g < groups; g++)
                    s += gb[g * d->o + o];
                db[o] += (T)s;
            }
        });
    if (wtt)
        h->scratch_put(m, wtt);
    if (gb)
        h->scratch_put(m, gb);
    h->scratch_put(m, gw);
    if (d->act)
        h->scratch_put(m, dpre.data);
}

static void conv_destroy(gs_module *m)
{
    const gs_host *host = gs_host_of(m);
    host->free(host->get_state(m));
}

static const gs_layer_ops ops = {
    .size = sizeof(gs_layer_ops),
    .build = conv_build,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .supports_f64 = 1,
};

static const gs_component components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LAYER,
    .name = "conv2d",
    .doc = "2-d convolution of (C, H, W) images, y = act(W * x + b) (torch.nn.Conv2d)",
    .params = params,
    .ops = &ops,
}};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "conv2d",
    .version = "1.0",
    .license = "MIT",
    .description = "2-d convolution",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
