/*
 * The recurrent layers rnn, lstm and gru (layer_rnn.c, layer_lstm.c,
 * layer_gru.c): one implementation of PyTorch's nn.RNN / nn.LSTM / nn.GRU
 * equations, gate order and parameter layout, parameterized by the cell.
 *
 * Per stacked layer l, with G gate blocks of H units (RNN 1, LSTM 4 in the
 * order i, f, g, o, GRU 3 in the order r, z, n) and C_l inputs:
 *
 *   weight_ih_l (G H, C_l), weight_hh_l (G H, H), bias_ih_l (G H), bias_hh_l (G H)
 *
 * Forward: one GEMM projects the whole input sequence, X W_ihᵀ + b_ih, for
 * all N*T rows at once; then one GEMM per time step adds h_{t-1} W_hhᵀ.
 * Backward keeps the gate pre-activation gradients of every step, so the
 * input weights' gradient is again one GEMM over N*T rows and the
 * recurrent weights' one GEMM per step, accumulated in a fixed order: the
 * bits do not depend on the thread count.
 *
 * Truncated BPTT (`bptt` = k > 0) detaches the state at t = k, 2k, ...:
 * the gradient reaching h_{t-1} (and c_{t-1}) through step t is dropped
 * there, as PyTorch's h = h.detach() between chunks of k steps.  The
 * forward pass is unchanged, and every step still adds its own term to the
 * weights' gradients; only gradients crossing a boundary through the state
 * are lost.
 *
 * On monitored steps each stacked layer records the norm over the batch of
 * dL/dh_t, the whole gradient reaching h_t (from the output at t and from
 * step t+1), as a series on axis time: the top stacked layer, whose h is
 * the output sequence, as "dL/dh", which the host writes to bptt.csv; a
 * layer k below it as "dL/dh_l<k>", into series.csv.
 */
#ifndef RNN_UTIL_H
#define RNN_UTIL_H

#include <stdio.h>
#include <string.h>
#include <tgmath.h> /* exp, tanh in the argument's type: float kernels stay in float */
#include <gradscope/layer.h>
#include <gradscope/activation.h> /* gs_sigmoid, gs_tanh, GS_SIMD */

typedef enum { CELL_RNN = 0, CELL_LSTM = 1, CELL_GRU = 2 } rnn_cell;

static const size_t rnn_cell_gates[] = {1, 4, 3};

/* Schema entries shared by the three layers; P_EXTRA is the cell's own
   (rnn: activation, lstm: forget_bias, gru: none). */
enum { P_UNITS, P_LAYERS, P_RETURN, P_BPTT, P_INIT, P_RECURRENT_INIT, P_BIAS_INIT, P_EXTRA };

#define RNN_COMMON_PARAMS                                                                    \
    [P_UNITS] = {.name = "units", .type = GS_P_INT, .flags = GS_REQUIRED, .min = 1,          \
                 .max = 1 << 20, .doc = "hidden size H (PyTorch's hidden_size)"},            \
    [P_LAYERS] = {.name = "layers", .type = GS_P_INT, .def.i = 1, .min = 1, .max = 64,       \
                  .doc = "stacked recurrent layers (PyTorch's num_layers)"},                 \
    [P_RETURN] = {.name = "return", .type = GS_P_STRING, .def.s = "last",                    \
                  .choices = "last|sequence", .min = GS_ANY,                                 \
                  .doc = "output the last step's h, (H), or every step's, (T, H)"},          \
    [P_BPTT] = {.name = "bptt", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 30,      \
                .doc = "truncated BPTT: detach the state every bptt steps (0: full BPTT)"},  \
    [P_INIT] = {.name = "init", .type = GS_P_COMPONENT, .def.s = "standard",                 \
                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,                        \
                .doc = "input weights weight_ih (standard: U(+-1/sqrt(units)), as PyTorch)"}, \
    [P_RECURRENT_INIT] = {.name = "recurrent_init", .type = GS_P_COMPONENT,                  \
                          .def.s = "standard", .component_kind = GS_KIND_INITIALIZER,        \
                          .min = GS_ANY,                                                     \
                          .doc = "recurrent weights weight_hh (orthogonal, identity...)"},   \
    [P_BIAS_INIT] = {.name = "bias_init", .type = GS_P_COMPONENT, .def.s = "standard",       \
                     .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,                   \
                     .doc = "both bias vectors (standard: U(+-1/sqrt(units)), as PyTorch)"}

typedef struct rnn_layer {
    size_t in; /* C_l */
    gs_param *w_ih, *w_hh, *b_ih, *b_hh;
    gs_tensor *h;     /* (T, H) states; NULL where the layer writes y itself */
    gs_tensor *gates; /* LSTM (T, 4H), GRU (T, 3H): the gate activations */
    gs_tensor *c;     /* LSTM (T, H) cell states */
    gs_tensor *rn;    /* GRU (T, H): W_hn h_{t-1} + b_hn, which r multiplies */
    char series[32];  /* "dL/dh" (the top layer) or "dL/dh_l<k>" */
} rnn_layer;

typedef struct rnn {
    const gs_host *host;
    rnn_cell cell;
    int relu;        /* rnn: relu instead of tanh */
    int identity;    /* rnn: no nonlinearity (a linear RNN; not a torch option) */
    int seq;         /* return = "sequence" */
    size_t T, H, G, L, bptt;
    double forget_bias;
    gs_param *fb_added; /* lstm with forget_bias != 0: 1 once it is in bias_ih */
    rnn_layer *lay;
    double *norms;   /* T values of one series */
} rnn;

static inline void rnn_shape_text(const gs_shape *s, char *buf, size_t len)
{
    switch (s->layout) {
    case GS_LAYOUT_SEQUENCE:
        snprintf(buf, len, "a sequence (T, C) = (%zu, %zu)", s->dims[0], s->dims[1]);
        break;
    case GS_LAYOUT_IMAGE:
        snprintf(buf, len, "an image (C, H, W) = (%zu, %zu, %zu)", s->dims[0], s->dims[1],
                 s->dims[2]);
        break;
    default: snprintf(buf, len, "a vector (C) = (%zu)", gs_shape_numel(s)); break;
    }
}

/* Weight fans: the true ones, except that "standard" (U(+-1/sqrt(fan_in)))
   sees fan_in = H for every tensor, which is PyTorch's U(+-1/sqrt(H)). */
static inline size_t rnn_fan_in(const gs_host *h, const gs_ref *init, size_t fan_in, size_t H)
{
    return strcmp(h->ref_name(init), "standard") == 0 ? H : fan_in;
}

static inline int rnn_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out,
                            rnn_cell cell)
{
    const gs_host *h = gs_host_of(m);
    char shape[96];
    rnn_shape_text(in, shape, sizeof shape);
    if (in->layout != GS_LAYOUT_SEQUENCE || in->ndim != 2) {
        h->error("needs a sequence input (T, C); got %s", shape);
        return -1;
    }
    if (in->dims[0] == 0 || in->dims[1] == 0) {
        h->error("empty sequence input: %s (T and C must be at least 1)", shape);
        return -1;
    }
    rnn *r = h->zalloc(sizeof *r);
    h->set_state(m, r);
    r->host = h;
    r->cell = cell;
    r->T = in->dims[0];
    r->H = (size_t)p[P_UNITS].i;
    r->G = rnn_cell_gates[cell];
    r->L = (size_t)p[P_LAYERS].i;
    r->bptt = (size_t)p[P_BPTT].i;
    r->seq = strcmp(p[P_RETURN].s, "sequence") == 0;
    r->relu = cell == CELL_RNN && strcmp(p[P_EXTRA].s, "relu") == 0;
    r->identity = cell == CELL_RNN && strcmp(p[P_EXTRA].s, "identity") == 0;
    r->forget_bias = cell == CELL_LSTM ? p[P_EXTRA].f : 0.0;
    r->lay = h->zalloc(r->L * sizeof *r->lay);
    r->norms = h->zalloc(r->T * sizeof *r->norms);
    const size_t H = r->H, GH = r->G * r->H;
    const gs_ref *gain_from = NULL;
    if (cell == CELL_RNN) {
        gs_ref *a = h->ref_new(m, GS_KIND_ACTIVATION, p[P_EXTRA].s);
        if (!a)
            return -1;
        gain_from = a;
    }
    gs_shape hs = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {r->T, H}};
    for (size_t l = 0; l < r->L; l++) {
        rnn_layer *ly = &r->lay[l];
        ly->in = l ? H : in->dims[1];
        char pn[32];
        size_t wih[2] = {GH, ly->in}, whh[2] = {GH, H}, bd[1] = {GH};
        snprintf(pn, sizeof pn, "weight_ih_l%zu", l);
        ly->w_ih = h->add_param(m, pn, 2, wih, GS_ROLE_WEIGHT,
                                rnn_fan_in(h, p[P_INIT].ref, ly->in, H), GH, p[P_INIT].ref,
                                gain_from);
        snprintf(pn, sizeof pn, "weight_hh_l%zu", l);
        ly->w_hh = ly->w_ih ? h->add_param(m, pn, 2, whh, GS_ROLE_WEIGHT, H, GH,
                                           p[P_RECURRENT_INIT].ref, gain_from)
                            : NULL;
        snprintf(pn, sizeof pn, "bias_ih_l%zu", l);
        ly->b_ih = ly->w_hh ? h->add_param(m, pn, 1, bd, GS_ROLE_BIAS, H, GH,
                                           p[P_BIAS_INIT].ref, NULL)
                            : NULL;
        snprintf(pn, sizeof pn, "bias_hh_l%zu", l);
        ly->b_hh = ly->b_ih ? h->add_param(m, pn, 1, bd, GS_ROLE_BIAS, H, GH,
                                           p[P_BIAS_INIT].ref, NULL)
                            : NULL;
        if (!ly->b_hh)
            return -1;
        /* the host routes "dL/dh" (axis time) to bptt.csv, which has one
           row per layer and t: the output sequence's, the top stacked
           layer's; the ones below stay in series.csv */
        if (l + 1 == r->L)
            snprintf(ly->series, sizeof ly->series, "dL/dh");
        else
            snprintf(ly->series, sizeof ly->series, "dL/dh_l%zu", l);
        if (l + 1 < r->L || !r->seq) {
            snprintf(pn, sizeof pn, "h_l%zu", l);
            if (!(ly->h = h->add_buffer(m, pn, &hs)))
                return -1;
        }
        if (cell != CELL_RNN) {
            gs_shape gs = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {r->T, GH}};
            snprintf(pn, sizeof pn, "gates_l%zu", l);
            if (!(ly->gates = h->add_buffer(m, pn, &gs)))
                return -1;
            snprintf(pn, sizeof pn, "%s_l%zu", cell == CELL_LSTM ? "c" : "rn", l);
            gs_tensor *t = h->add_buffer(m, pn, &hs);
            if (!t)
                return -1;
            if (cell == CELL_LSTM)
                ly->c = t;
            else
                ly->rn = t;
        }
    }
    if (r->forget_bias != 0.0) {
        /* The shift goes into bias_ih once, at the first forward (parameters
           are filled after build); this flag, saved with the weights, keeps a
           resumed or reloaded run from adding it again. */
        size_t one[1] = {1};
        if (!(r->fb_added = h->add_param(m, "forget_bias_added", 1, one, GS_ROLE_BUFFER, 1, 1,
                                         NULL, NULL)))
            return -1;
    }
    if (r->seq)
        *out = hs;
    else
        *out = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {H}};
    return 0;
}

static inline void *rnn_states(const rnn_layer *ly, const gs_tensor *y)
{
    return ly->h ? ly->h->data : y->data;
}

static inline void rnn_add_forget_bias(rnn *r)
{
    GS_WITH_TYPE(r->fb_added->value.dtype, T, {
        T *flag = r->fb_added->value.data;
        if (*flag != 0)
            return;
        *flag = 1;
        for (size_t l = 0; l < r->L; l++) {
            T *b = r->lay[l].b_ih->value.data;
            for (size_t j = r->H; j < 2 * r->H; j++)
                b[j] += (T)r->forget_bias;
        }
    });
}

/*
 * The gate non-linearities are gs_sigmoid and gs_tanh
 * (gradscope/activation.h; gs_tanh is the tanh activation's own
 * function): in float, forms the compiler vectorizes, within a few ulp
 * (glibc's tanhf and expf are a call per element, which cost more than
 * the products around them).  Built from +, -, *, / without contraction
 * (-ffp-contract=off), they give the same bits in every clone below, and
 * do not depend on the C library.  In double (the gradient checks),
 * libm's exp and tanh.
 */

/* The work of one time step on examples [i0, i1): what host->parallel_for
   hands out (each example's values are its own, so any split gives the
   same bits). */
typedef struct rnn_step {
    const rnn *r;
    const rnn_layer *ly;
    size_t t;
    int cut;
    void *a;       /* forward: (N*T, G H) gate pre-activations, activations after */
    const void *R; /* GRU forward: (N, G H) h_{t-1} W_hhᵀ + b_hh */
    void *hs;
    void *da, *dr, *dh, *dc; /* backward */
} rnn_step;

/* Examples per chunk: about 2048 values each.  A step of fewer than
   16384 values stays on one thread: a plain RNN's 64 x 128 step woke the
   team for less than it saved (docs/PERFORMANCE.md, "Small work on two
   threads"); an LSTM's 64 x 512 and a GRU's 128 x 384 gain from it. */
static inline size_t rnn_grain(size_t N, size_t H, size_t G)
{
    size_t per = G * H;
    if (N * per < 16384)
        return N ? N : 1;
    return per >= 2048 ? 1 : 2048 / per;
}

/*
 * The loops over units below are written to vectorize (GS_SIMD): no call
 * per element, and no branch inside; where t = 0 has no previous state,
 * `hprev` and `cp` point at a row that exists and a select on t, outside
 * any arithmetic, drops what they read.  Each is compiled for AVX-512,
 * AVX2 and the x86-64 baseline, and the loader picks the widest the
 * processor runs: the same operations in every lane, so the same bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define RNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNN_CLONES
#endif

RNN_CLONES
static void rnn_forward_rows(void *arg, size_t i0, size_t i1)
{
    const rnn_step *st = arg;
    const rnn *r = st->r;
    const rnn_layer *ly = st->ly;
    const size_t T = r->T, H = r->H, GH = r->G * H, t = st->t;
    const int first = t == 0;
    GS_WITH_TYPE(ly->w_ih->value.dtype, T_, {
        T_ *At = (T_ *)st->a + t * GH, *Hs = (T_ *)st->hs;
        const T_ *R = st->R;
        for (size_t i = i0; i < i1; i++) {
            T_ *g = At + i * T * GH, *ht = Hs + (i * T + t) * H;
            const T_ *hprev = first ? ht : ht - H;
            switch (r->cell) {
            case CELL_RNN:
                if (r->relu) {
                    GS_SIMD
                    for (size_t j = 0; j < H; j++) /* keeps a NaN, as torch's relu does */
                        ht[j] = g[j] < 0 ? 0 : g[j];
                } else if (r->identity) {
                    for (size_t j = 0; j < H; j++)
                        ht[j] = g[j];
                } else {
                    GS_SIMD
                    for (size_t j = 0; j < H; j++)
                        ht[j] = gs_tanh(g[j]);
                }
                break;
            case CELL_LSTM: {
                T_ *ct = (T_ *)ly->c->data + (i * T + t) * H;
                const T_ *cp = first ? ct : ct - H;
                GS_SIMD
                for (size_t j = 0; j < 2 * H; j++) /* i, f */
                    g[j] = gs_sigmoid(g[j]);
                GS_SIMD
                for (size_t j = 2 * H; j < 3 * H; j++) /* g */
                    g[j] = gs_tanh(g[j]);
                GS_SIMD
                for (size_t j = 3 * H; j < 4 * H; j++) /* o */
                    g[j] = gs_sigmoid(g[j]);
                GS_SIMD
                for (size_t j = 0; j < H; j++) {
                    const T_ fc = g[H + j] * cp[j];
                    ct[j] = (first ? 0 : fc) + g[j] * g[2 * H + j];
                    ht[j] = g[3 * H + j] * gs_tanh(ct[j]);
                }
                break;
            }
            case CELL_GRU: {
                const T_ *Ri = R + i * GH;
                T_ *rn = (T_ *)ly->rn->data + (i * T + t) * H;
                GS_SIMD
                for (size_t j = 0; j < 2 * H; j++) /* r, z */
                    g[j] = gs_sigmoid(g[j] + Ri[j]);
                GS_SIMD
                for (size_t j = 0; j < H; j++) {
                    const T_ rg = g[j], zg = g[H + j];
                    rn[j] = Ri[2 * H + j];
                    const T_ ng = gs_tanh(g[2 * H + j] + rg * rn[j]);
                    const T_ zh = zg * hprev[j];
                    g[2 * H + j] = ng;
                    ht[j] = (1 - zg) * ng + (first ? 0 : zh);
                }
                break;
            }
            }
        }
    });
}

/* One layer forward: x is (N, T, C) rows of ly->in, hs the (N, T, H) states. */
static inline void rnn_layer_forward(rnn *r, const rnn_layer *ly, gs_dtype dt, size_t N,
                                     const void *x, void *hs, void *work)
{
    const gs_host *h = r->host;
    const size_t T = r->T, H = r->H, GH = r->G * H, C = ly->in;
    void *a = r->cell == CELL_RNN ? hs : ly->gates->data;
    h->gemm(dt, 0, 1, N * T, GH, C, 1.0, x, C, ly->w_ih->value.data, C, 0.0, a, GH);
    GS_WITH_TYPE(dt, T_, {
        T_ *A = a;
        const T_ *bi = ly->b_ih->value.data, *bh = ly->b_hh->value.data;
        /* b_hh joins the projection except for GRU's n, which r scales */
        const int fold = r->cell != CELL_GRU;
        for (size_t k = 0; k < N * T; k++) {
            T_ *row = A + k * GH;
            if (fold) {
                GS_SIMD
                for (size_t j = 0; j < GH; j++)
                    row[j] += bi[j] + bh[j];
            } else {
                GS_SIMD
                for (size_t j = 0; j < GH; j++)
                    row[j] += bi[j];
            }
        }
        T_ *Hs = hs, *R = work;
        const size_t es = sizeof(T_);
        for (size_t t = 0; t < T; t++) {
            T_ *At = A + t * GH;
            const T_ *hp = t ? Hs + (t - 1) * H : NULL;
            if (r->cell != CELL_GRU) {
                if (t)
                    h->gemm(dt, 0, 1, N, GH, H, 1.0, hp, T * H, ly->w_hh->value.data, H, 1.0,
                            At, T * GH);
            } else if (t) {
                h->gemm(dt, 0, 1, N, GH, H, 1.0, hp, T * H, ly->w_hh->value.data, H, 0.0, R,
                        GH);
                h->add_row_vector(dt, N, GH, bh, R);
            } else {
                for (size_t i = 0; i < N; i++)
                    memcpy(R + i * GH, bh, GH * es);
            }
            rnn_step st = {.r = r, .ly = ly, .t = t, .a = a, .R = R, .hs = hs};
            h->parallel_for(N, rnn_grain(N, H, r->G), rnn_forward_rows, &st);
        }
    });
}

static inline void rnn_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)
{
    (void)training;
    rnn *r = gs_host_of(m)->get_state(m);
    const gs_host *h = r->host;
    const gs_dtype dt = x->dtype;
    const size_t N = x->dims[0], T = r->T, H = r->H, es = gs_dtype_size(dt);
    if (r->fb_added)
        rnn_add_forget_bias(r);
    void *work = r->cell == CELL_GRU ? h->scratch_get(m, N * r->G * H * es) : NULL;
    for (size_t l = 0; l < r->L; l++)
        rnn_layer_forward(r, &r->lay[l], dt, N, l ? rnn_states(&r->lay[l - 1], y) : x->data,
                          rnn_states(&r->lay[l], y), work);
    if (work)
        h->scratch_put(m, work);
    if (!r->seq) {
        const char *hs = r->lay[r->L - 1].h->data;
        for (size_t i = 0; i < N; i++)
            memcpy((char *)y->data + i * H * es, hs + ((i * T + T - 1) * H) * es, H * es);
    }
}

RNN_CLONES
static void rnn_backward_rows(void *arg, size_t i0, size_t i1)
{
    const rnn_step *st = arg;
    const rnn *r = st->r;
    const rnn_layer *ly = st->ly;
    const size_t T = r->T, H = r->H, GH = r->G * H, t = st->t;
    const int cut = st->cut, first = t == 0;
    GS_WITH_TYPE(ly->w_ih->value.dtype, T_, {
        const T_ *Hs = st->hs;
        T_ *dA = st->da, *dR = st->dr, *dH = st->dh, *dC = st->dc;
        for (size_t i = i0; i < i1; i++) {
            T_ *dai = dA + (i * T + t) * GH, *dri = dR + (i * T + t) * GH;
            T_ *dhi = dH + i * H;
            const T_ *ht = Hs + (i * T + t) * H, *hp = first ? ht : ht - H;
            switch (r->cell) {
            case CELL_RNN:
                if (r->relu) {
                    GS_SIMD
                    for (size_t j = 0; j < H; j++)
                        dai[j] = dhi[j] * (T_)(ht[j] > 0);
                } else if (r->identity) {
                    for (size_t j = 0; j < H; j++)
                        dai[j] = dhi[j];
                } else {
                    GS_SIMD
                    for (size_t j = 0; j < H; j++)
                        dai[j] = dhi[j] * (1 - ht[j] * ht[j]);
                }
                break;
            case CELL_LSTM: {
                const T_ *g = (const T_ *)ly->gates->data + (i * T + t) * GH;
                const T_ *ct = (const T_ *)ly->c->data + (i * T + t) * H;
                const T_ *cp = first ? ct : ct - H;
                T_ *dci = dC + i * H;
                GS_SIMD
                for (size_t j = 0; j < H; j++) {
                    const T_ ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
                    const T_ tc = gs_tanh(ct[j]);
                    const T_ dcv = dci[j] + dhi[j] * og * (1 - tc * tc);
                    const T_ dcp = dcv * cp[j], dcf = dcv * fg;
                    dai[j] = dcv * gg * ig * (1 - ig);
                    dai[H + j] = (first ? 0 : dcp) * fg * (1 - fg);
                    dai[2 * H + j] = dcv * ig * (1 - gg * gg);
                    dai[3 * H + j] = dhi[j] * tc * og * (1 - og);
                    dci[j] = cut ? 0 : dcf;
                }
                break;
            }
            case CELL_GRU: {
                const T_ *g = (const T_ *)ly->gates->data + (i * T + t) * GH;
                const T_ *rn = (const T_ *)ly->rn->data + (i * T + t) * H;
                GS_SIMD
                for (size_t j = 0; j < H; j++) {
                    const T_ rg = g[j], zg = g[H + j], ng = g[2 * H + j];
                    const T_ dpn = dhi[j] * (1 - zg) * (1 - ng * ng);
                    const T_ dz = dhi[j] * ((first ? 0 : hp[j]) - ng);
                    dai[j] = dri[j] = dpn * rn[j] * rg * (1 - rg);
                    dai[H + j] = dri[H + j] = dz * zg * (1 - zg);
                    dai[2 * H + j] = dpn;
                    dri[2 * H + j] = dpn * rg;
                    dhi[j] = dhi[j] * zg; /* the direct path h_{t-1} -> h_t */
                }
                break;
            }
            }
        }
    });
}

/*
 * On detailed steps (host->monitoring(m) == 2), how far back the gradient
 * reaches: the norm of each weight's gradient contribution from each band of
 * time steps, band b holding t in [b w, (b + 1) w), w = ceil(T / RNN_BANDS),
 * recorded as "<tensor>.band_grad_norm" on axis band (docs/FORMAT.md).
 * weight_hh's contribution from step t is dR_t h_{t-1}ᵀ, which the gradient
 * accumulates in t order anyway: a band's is the change of the gradient
 * over it, read from a copy taken at each band's start, so the training
 * bits stay the same and the cost is a copy of the tensor per band.  The
 * difference is taken in double from the two float values; its error is
 * the accumulation's own rounding (relative 1e-7 of the running sum, which
 * holds only the earlier, further-back bands).  weight_ih's gradient is one
 * product over all N T rows, so its bands take products of their own (as
 * many flops as that product), on detailed steps only.
 */
#define RNN_BANDS 10 /* rundir/format.h's GS_BPTT_BANDS */

typedef struct rnn_bands {
    size_t w, nb;
    void *buf;            /* weight_hh's gradient at the band's start, then work */
    double hh[RNN_BANDS], ih[RNN_BANDS]; /* each weight's norm per band */
} rnn_bands;

/* ||now - *before||, in double; then *before = now. */
static inline double rnn_band_diff(gs_dtype dt, size_t n, const void *now, void *before)
{
    /* four sums, added in a fixed order: independent chains for the CPU,
       the same bits every time */
    double s[4] = {0, 0, 0, 0};
    GS_WITH_TYPE(dt, T_, {
        const T_ *a = now;
        T_ *b = before;
        size_t i = 0;
        for (; i + 4 <= n; i += 4)
            for (size_t k = 0; k < 4; k++) {
                double d = (double)a[i + k] - (double)b[i + k];
                s[k] += d * d;
                b[i + k] = a[i + k];
            }
        for (; i < n; i++) {
            double d = (double)a[i] - (double)b[i];
            s[0] += d * d;
            b[i] = a[i];
        }
    });
    return sqrt((s[0] + s[1]) + (s[2] + s[3]));
}

static inline void rnn_bands_begin(gs_module *m, const rnn *r, const rnn_layer *ly, gs_dtype dt,
                                   rnn_bands *b)
{
    const size_t T = r->T, GH = r->G * r->H, es = gs_dtype_size(dt);
    const size_t wide = ly->in > r->H ? ly->in : r->H;
    b->w = (T + RNN_BANDS - 1) / RNN_BANDS;
    b->nb = (T + b->w - 1) / b->w;
    memset(b->hh, 0, sizeof b->hh); /* band 0 keeps 0 when it is t = 0 alone */
    b->buf = r->host->scratch_get(m, GH * wide * es);
    memcpy(b->buf, ly->w_hh->grad.data, GH * r->H * es);
}

/* After step t's term of weight_hh's gradient: closes the band t ends. */
static inline void rnn_bands_step(const rnn *r, const rnn_layer *ly, gs_dtype dt, rnn_bands *b,
                                  size_t t)
{
    if ((t + 1) % b->w == 0 || t + 1 == r->T)
        b->hh[t / b->w] = rnn_band_diff(dt, r->G * r->H * r->H, ly->w_hh->grad.data, b->buf);
}

/* weight_ih's bands (dA: the pre-activation gradients, x: the N*T input
   rows). */
static inline void rnn_bands_end(gs_module *m, const rnn *r, const rnn_layer *ly, gs_dtype dt,
                                 size_t N, const void *x, const void *dA, rnn_bands *b)
{
    const gs_host *h = r->host;
    const size_t T = r->T, GH = r->G * r->H, C = ly->in, es = gs_dtype_size(dt);
    /* a product per time step over the batch, as weight_hh's (step t's rows
       are T rows apart), of the transpose, C x GH, whose norm is the same:
       the kernel's tiles run along the wide side */
    for (size_t k = 0; k < b->nb; k++) {
        size_t t0 = k * b->w, t1 = t0 + b->w < T ? t0 + b->w : T;
        for (size_t t = t0; t < t1; t++)
            h->gemm(dt, 1, 0, C, GH, N, 1.0, (const char *)x + t * C * es, T * C,
                    (const char *)dA + t * GH * es, T * GH, t == t0 ? 0.0 : 1.0, b->buf, GH);
        b->ih[k] = gs_norm2(dt, GH * C, b->buf);
    }
    h->scratch_put(m, b->buf);
}

static inline void rnn_bands_record(gs_module *m, const rnn *r, const rnn_layer *ly,
                                    const rnn_bands *b)
{
    const gs_host *h = r->host;
    char name[48];
    size_t l = (size_t)(ly - r->lay);
    snprintf(name, sizeof name, "weight_hh_l%zu.band_grad_norm", l);
    h->record_series(m, name, GS_AXIS_BAND, b->hh, b->nb);
    snprintf(name, sizeof name, "weight_ih_l%zu.band_grad_norm", l);
    h->record_series(m, name, GS_AXIS_BAND, b->ih, b->nb);
}

/*
 * One layer backward.  dy: dL/d(states) with row stride dyld between time
 * steps of an example and T*dyld between examples, or only the last step's
 * (last_only: N x H, ld H).  Writes dX (N*T x C) when dxout is not NULL.
 */
static inline void rnn_layer_backward(gs_module *m, rnn *r, const rnn_layer *ly, gs_dtype dt,
                                      size_t N, const void *x, const void *hs, const void *dy,
                                      int last_only, void *dxout, void *da, void *dr, void *dh,
                                      void *dc)
{
    const gs_host *h = r->host;
    const size_t T = r->T, H = r->H, GH = r->G * H, C = ly->in;
    const int mon = h->monitoring(m);
    const size_t es = gs_dtype_size(dt);
    memset(dh, 0, N * H * es);
    if (dc)
        memset(dc, 0, N * H * es);
    rnn_bands bands = {0};
    GS_WITH_TYPE(dt, T_, {
        const T_ *Hs = hs, *Dy = dy;
        T_ *dA = da, *dR = r->cell == CELL_GRU ? (T_ *)dr : (T_ *)da, *dH = dh;
        for (size_t t = T; t-- > 0;) {
            /* dh_t = dL/dy_t + what step t+1 sent back */
            for (size_t i = 0; i < N; i++) {
                const T_ *src = last_only ? (t + 1 == T ? Dy + i * H : NULL)
                                          : Dy + (i * T + t) * H;
                if (src) {
                    T_ *dhi = dH + i * H;
                    GS_SIMD
                    for (size_t j = 0; j < H; j++)
                        dhi[j] += src[j];
                }
            }
            if (mon)
                r->norms[t] = gs_norm2(dt, N * H, dH);
            const int cut = t == 0 || (r->bptt && t % r->bptt == 0);
            rnn_step st = {.r = r, .ly = ly, .t = t, .cut = cut, .hs = (void *)hs, .da = da,
                           .dr = dR, .dh = dh, .dc = dc};
            h->parallel_for(N, rnn_grain(N, H, r->G), rnn_backward_rows, &st);
            if (cut)
                memset(dH, 0, N * H * es);
            else
                h->gemm(dt, 0, 0, N, H, GH, 1.0, dR + t * GH, T * GH, ly->w_hh->value.data, H,
                        r->cell == CELL_GRU ? 1.0 : 0.0, dH, H);
        }
        /* weight gradients, each in one fixed order */
        h->gemm(dt, 1, 0, GH, C, N * T, 1.0, dA, GH, x, C, 1.0, ly->w_ih->grad.data, C);
        h->sum_rows(dt, N * T, GH, dA, ly->b_ih->grad.data);
        h->sum_rows(dt, N * T, GH, dR, ly->b_hh->grad.data);
        if (mon == 2)
            rnn_bands_begin(m, r, ly, dt, &bands);
        for (size_t t = 1; t < T; t++) {
            h->gemm(dt, 1, 0, GH, H, N, 1.0, dR + t * GH, T * GH, Hs + (t - 1) * H, T * H, 1.0,
                    ly->w_hh->grad.data, H);
            if (mon == 2)
                rnn_bands_step(r, ly, dt, &bands, t);
        }
        if (mon == 2)
            rnn_bands_end(m, r, ly, dt, N, x, dA, &bands);
        if (dxout)
            h->gemm(dt, 0, 0, N * T, C, GH, 1.0, dA, GH, ly->w_ih->value.data, C, 0.0, dxout, C);
    });
    if (mon)
        h->record_series(m, ly->series, GS_AXIS_TIME, r->norms, T);
    if (mon == 2)
        rnn_bands_record(m, r, ly, &bands);
}

static inline void rnn_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                                const gs_tensor *dy, gs_tensor *dx)
{
    rnn *r = gs_host_of(m)->get_state(m);
    const gs_host *h = r->host;
    const gs_dtype dt = x->dtype;
    const size_t N = x->dims[0], T = r->T, H = r->H, GH = r->G * H, es = gs_dtype_size(dt);
    void *inter[2] = {NULL, NULL};
    for (size_t b = 0; b < 2 && r->L > 1; b++) /* inter[0] idle at L = 2 */
        inter[b] = h->scratch_get(m, N * T * H * es);
    void *da = h->scratch_get(m, N * T * GH * es);
    void *dr = r->cell == CELL_GRU ? h->scratch_get(m, N * T * GH * es) : NULL;
    void *dh = h->scratch_get(m, N * H * es);
    void *dc = r->cell == CELL_LSTM ? h->scratch_get(m, N * H * es) : NULL;
    /* layer l writes dL/d(its input) into inter[l % 2], which layer l-1 reads */
    for (size_t l = r->L; l-- > 0;) {
        const rnn_layer *ly = &r->lay[l];
        int top = l + 1 == r->L;
        const void *d = top ? dy->data : inter[(l + 1) % 2];
        void *dxo = l ? inter[l % 2] : dx ? dx->data : NULL;
        rnn_layer_backward(m, r, ly, dt, N, l ? rnn_states(&r->lay[l - 1], y) : x->data,
                           rnn_states(ly, y), d, top && !r->seq, dxo, da, dr, dh, dc);
    }
    if (dc)
        h->scratch_put(m, dc);
    h->scratch_put(m, dh);
    if (dr)
        h->scratch_put(m, dr);
    h->scratch_put(m, da);
    for (size_t b = 2; b-- > 0;)
        if (inter[b])
            h->scratch_put(m, inter[b]);
}

static inline void rnn_destroy(gs_module *m)
{
    const gs_host *h = gs_host_of(m);
    rnn *r = h->get_state(m);
    if (!r)
        return;
    h->free(r->lay);
    h->free(r->norms);
    h->free(r);
}

#endif
