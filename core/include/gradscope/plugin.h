/*
 * gradscope plugin ABI, version 2.
 *
 * A plugin is a shared object exporting one symbol, GS_PLUGIN_ENTRY_SYMBOL,
 * a function returning a descriptor.  The descriptor lists components; each
 * component has a kind, a name, a parameter schema and the operations table
 * for its kind.  The host validates every parameter against the schema before
 * a component sees it, so plugins read typed, range-checked values.
 *
 * Versioning: the host refuses a plugin whose major differs from its own or
 * whose minor is newer than its own.  A minor release may only append fields
 * at the end of the structs that carry a `size` member (descriptor, component,
 * every ops table, the host table) and add kinds, layouts, roles, parameter
 * types or host services.  Each such struct has a frozen GS_<NAME>_SIZE_2_0:
 * the host accepts any size from it up, and reads an appended field only
 * when the size covers it (GS_HAS_FIELD), so a plugin built against 2.0
 * loads in every 2.x.  Plugins test the host's own table the same way
 * (GS_HOST_HAS).  Anything else (changing a field, reordering, changing a
 * signature) is a new major.  docs/PLUGINS.md lists what 2.0 changed.
 *
 * Everything a plugin needs from the host - memory, logging, random
 * numbers, threads, linear-algebra kernels, composition of child
 * components, monitoring - comes through the gs_host table.  Plugins never
 * call srand, omp_set_num_threads or exit.
 */
#ifndef GRADSCOPE_PLUGIN_H
#define GRADSCOPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GS_ABI_MAJOR 2
#define GS_ABI_MINOR 0
#define GS_PLUGIN_MAGIC 0x47534331u /* "GSC1" */
#define GS_PLUGIN_ENTRY_SYMBOL "gradscope_plugin_entry"

#if defined(__GNUC__)
#define GS_EXPORT __attribute__((visibility("default")))
#else
#define GS_EXPORT
#endif

/* Defines the entry point; use once per plugin, after the descriptor. */
#define GS_PLUGIN_DEFINE(desc_var)                                             \
    GS_EXPORT const gs_plugin_desc *gradscope_plugin_entry(void);              \
    GS_EXPORT const gs_plugin_desc *gradscope_plugin_entry(void) { return &(desc_var); }

/* The bytes a struct has up to and including `field`: sizes of ABI versions. */
#define GS_SIZE_UPTO(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
/* True when a struct with a `size` member holds `field` (appended in a later minor). */
#define GS_HAS_FIELD(ptr, type, field) ((ptr)->size >= GS_SIZE_UPTO(type, field))

/* ------------------------------------------------------------------ */
/* Tensors and layouts                                                 */
/* ------------------------------------------------------------------ */

typedef enum { GS_F32 = 0, GS_F64 = 1 } gs_dtype;

static inline size_t gs_dtype_size(gs_dtype dt)
{
    return dt == GS_F64 ? sizeof(double) : sizeof(float);
}

#define GS_MAX_DIMS 4

/*
 * What the per-example dimensions of an activation mean, so that per-channel
 * components (batch norm, PReLU, channel statistics) find their channel axis
 * without guessing:
 *
 *   GS_LAYOUT_VECTOR    (C)        features; ndim 1
 *   GS_LAYOUT_IMAGE     (C, H, W)  channel-major planes; ndim 3
 *   GS_LAYOUT_SEQUENCE  (T, C)     time steps, channels innermost; ndim 2
 *
 * Zero is VECTOR, so a shape written without a layout is a vector.
 */
typedef enum { GS_LAYOUT_VECTOR = 0, GS_LAYOUT_IMAGE = 1, GS_LAYOUT_SEQUENCE = 2 } gs_layout;

/*
 * Up to four dimensions, row-major.  Activations carry the batch in dims[0]
 * and their layout's dimensions after it: (N, C), (N, C, H, W), (N, T, C).
 * Parameters carry their own shape ((out, in) for dense weights, (out, in,
 * kh, kw) for convolutions) and layout VECTOR.
 */
typedef struct gs_tensor {
    gs_dtype dtype;
    gs_layout layout;
    int ndim;
    size_t dims[GS_MAX_DIMS];
    void *data;
} gs_tensor;

/* Per-example shape: the tensor shape without the batch dimension. */
typedef struct gs_shape {
    gs_layout layout;
    int ndim; /* 1 for (C), 3 for (C, H, W), 2 for (T, C) */
    size_t dims[GS_MAX_DIMS - 1];
} gs_shape;

static inline size_t gs_tensor_numel(const gs_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->dims[i];
    return n;
}

/* Bytes of the tensor's data. */
static inline size_t gs_tensor_bytes(const gs_tensor *t)
{
    return gs_tensor_numel(t) * gs_dtype_size(t->dtype);
}

static inline size_t gs_shape_numel(const gs_shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dims[i];
    return n;
}

/* Whether ndim is the one the layout has. */
static inline int gs_shape_valid(const gs_shape *s)
{
    switch (s->layout) {
    case GS_LAYOUT_VECTOR: return s->ndim == 1;
    case GS_LAYOUT_IMAGE: return s->ndim == 3;
    case GS_LAYOUT_SEQUENCE: return s->ndim == 2;
    }
    return 0;
}

/* An activation tensor's per-example shape. */
static inline gs_shape gs_tensor_shape(const gs_tensor *t)
{
    gs_shape s = {.layout = t->layout, .ndim = t->ndim > 0 ? t->ndim - 1 : 0};
    for (int i = 0; i < s.ndim && i < GS_MAX_DIMS - 1; i++)
        s.dims[i] = t->dims[i + 1];
    return s;
}

/*
 * The channel axis of one example: value (c, p) - channel c at position p
 * (a pixel, a time step) - sits at c*cstride + p*pstride.
 *
 *   VECTOR    channels C, positions 1,    cstride 1,     pstride 1
 *   IMAGE     channels C, positions H*W,  cstride H*W,   pstride 1
 *   SEQUENCE  channels C, positions T,    cstride 1,     pstride C
 */
typedef struct gs_axes {
    size_t channels, positions;
    size_t cstride, pstride;
} gs_axes;

static inline gs_axes gs_layout_axes(gs_layout layout, size_t channels, size_t positions)
{
    gs_axes a = {.channels = channels, .positions = positions, .cstride = 1, .pstride = 1};
    if (layout == GS_LAYOUT_IMAGE)
        a.cstride = positions;
    else if (layout == GS_LAYOUT_SEQUENCE)
        a.pstride = channels;
    return a;
}

static inline gs_axes gs_shape_axes(const gs_shape *s)
{
    switch (s->layout) {
    case GS_LAYOUT_IMAGE: return gs_layout_axes(s->layout, s->dims[0], s->dims[1] * s->dims[2]);
    case GS_LAYOUT_SEQUENCE: return gs_layout_axes(s->layout, s->dims[1], s->dims[0]);
    default: return gs_layout_axes(GS_LAYOUT_VECTOR, gs_shape_numel(s), 1);
    }
}

static inline gs_axes gs_tensor_axes(const gs_tensor *t)
{
    gs_shape s = gs_tensor_shape(t);
    return gs_shape_axes(&s);
}

/*
 * A strided matrix view into a tensor: `rows` rows of `cols` elements, row r
 * starting ld elements after row r-1.  It reads a piece of a tensor in place
 * and fits host->gemm's (pointer, leading dimension) arguments directly:
 *
 *   gs_view xt = gs_view_step(x, t);   // x_t of an (N, T, C) batch: N x C
 *   host->gemm(dt, 0, 1, xt.rows, H, xt.cols, 1.0, xt.data, xt.ld, W, C, ...);
 */
typedef struct gs_view {
    gs_dtype dtype;
    size_t rows, cols, ld;
    void *data;
} gs_view;

static inline void *gs_view_row(const gs_view *v, size_t r)
{
    return (char *)v->data + r * v->ld * gs_dtype_size(v->dtype);
}

/* The batch as N rows of one example each. */
static inline gs_view gs_view_batch(const gs_tensor *t)
{
    size_t per = t->dims[0] ? gs_tensor_numel(t) / t->dims[0] : 0;
    return (gs_view){.dtype = t->dtype, .rows = t->dims[0], .cols = per, .ld = per,
                     .data = t->data};
}

/* Time step `step` of an (N, T, C) sequence batch: N x C, ld T*C. */
static inline gs_view gs_view_step(const gs_tensor *t, size_t step)
{
    size_t T = t->dims[1], C = t->dims[2];
    return (gs_view){.dtype = t->dtype, .rows = t->dims[0], .cols = C, .ld = T * C,
                     .data = (char *)t->data + step * C * gs_dtype_size(t->dtype)};
}

/* The plane of channel c of example n of an (N, C, H, W) image batch: H x W. */
static inline gs_view gs_view_plane(const gs_tensor *t, size_t n, size_t c)
{
    size_t C = t->dims[1], H = t->dims[2], W = t->dims[3];
    return (gs_view){.dtype = t->dtype, .rows = H, .cols = W, .ld = W,
                     .data = (char *)t->data + (n * C + c) * H * W * gs_dtype_size(t->dtype)};
}

/* ------------------------------------------------------------------ */
/* Parameter schemas                                                   */
/* ------------------------------------------------------------------ */

typedef enum {
    GS_KIND_ACTIVATION = 1,
    GS_KIND_INITIALIZER = 2,
    GS_KIND_OPTIMIZER = 3,
    GS_KIND_LAYER = 4, /* architecture blocks: dense, resnet, densenet... */
    GS_KIND_LOSS = 5,
    GS_KIND_DATASET = 6,
    GS_KIND_SCHEDULE = 7,
    GS_KIND_COUNT_ = 8
} gs_kind;

typedef enum {
    GS_P_INT = 1,       /* int64 */
    GS_P_FLOAT = 2,     /* double */
    GS_P_BOOL = 3,
    GS_P_STRING = 4,    /* free text, or one of `choices` ("a|b|c") */
    GS_P_FLOATS = 5,    /* list of doubles; `len` fixes its length when > 0 */
    GS_P_COMPONENT = 6, /* another component of `component_kind`: a name or a group */
    GS_P_PATH = 7       /* a file path, resolved against the experiment file */
} gs_param_type;

typedef struct gs_ref gs_ref; /* opaque: a validated component reference */

typedef union gs_value {
    int64_t i;
    double f;
    int b;
    const char *s;
    struct { const double *v; size_t n; } list;
    const gs_ref *ref;
} gs_value;

#define GS_REQUIRED 0x1u  /* no default: the experiment must set it */
#define GS_NO_DECAY 0x2u  /* (documentation only) */
/* FLOAT, FLOATS: +-inf is a meaningful value (written back as +-1e999);
   without it a non-finite number is refused.  NaN never is. */
#define GS_INFINITE 0x4u

typedef struct gs_param_spec {
    const char *name;
    gs_param_type type;
    unsigned flags;
    /* Default value: .i, .f, .b, .s (also a component name), .list. */
    gs_value def;
    /* Inclusive bounds for INT, FLOAT and every FLOATS element; ignored when min > max. */
    double min, max;
    const char *choices;  /* STRING: "a|b|c", NULL for free text */
    gs_kind component_kind; /* COMPONENT */
    size_t len;           /* FLOATS */
    const char *doc;      /* one line */
    const void *reserved; /* must be NULL */
} gs_param_spec;

/* Unbounded range: write `.min = GS_ANY` (sets min > max). */
#define GS_ANY 1.0, 0.0

/* ------------------------------------------------------------------ */
/* Random numbers                                                      */
/* ------------------------------------------------------------------ */

/* A seeded stream owned by the host; derived from the run's one seed. */
typedef struct gs_rng gs_rng;

/* ------------------------------------------------------------------ */
/* Modules: instances of layers and activations                        */
/* ------------------------------------------------------------------ */

typedef struct gs_module gs_module;
typedef struct gs_host gs_host;

/* Modules are opaque but for their first member, the host table. */
typedef struct gs_module_head {
    const gs_host *host;
} gs_module_head;

static inline const gs_host *gs_host_of(const gs_module *m)
{
    return ((const gs_module_head *)(const void *)m)->host;
}

/*
 * What a tensor is to the trainer: which weight-decay group it joins
 * (training.decay_weights, decay_biases, decay_slopes, decay_norm) and
 * whether the monitor takes it for a layer's weight.
 */
typedef enum {
    GS_ROLE_WEIGHT = 1,     /* weights: decayed by default, the monitor's layer norms */
    GS_ROLE_BIAS = 2,
    GS_ROLE_ACTIVATION = 3, /* learnable activation parameters (PReLU's slope, a swish's
                               beta): the decay_slopes group, off by default */
    GS_ROLE_NORM = 4,       /* batchnorm/layernorm gamma and beta */
    /* State that is not learned but belongs to the model (batch norm's
       running statistics): checkpointed and exported with the weights,
       never updated by the optimizer; its grad view is unused. */
    GS_ROLE_BUFFER = 5,
    GS_ROLE_GAIN = 6 /* a block's scalar gain (ReZero's alpha, a SkipInit scale): learned,
                        never weight-decayed */
} gs_role;

/*
 * A learnable tensor declared by a module.  The host owns it: value and grad
 * are views into the run's single parameter and gradient arenas, valid from
 * the first forward call on.  Gradients are accumulated (+=) by backward;
 * the host zeroes them before each step.
 */
typedef struct gs_param {
    const char *name; /* qualified: "fc1.weight" */
    gs_role role;
    gs_tensor value;
    gs_tensor grad;
    size_t fan_in, fan_out;
} gs_param;

/* ------------------------------------------------------------------ */
/* Kind: activation                                                    */
/* ------------------------------------------------------------------ */

/*
 * An activation gets the whole batch, n examples of `channels` channels at
 * `positions` positions each, in the layout of the tensor: element (i, c, p)
 * sits at i*channels*positions + c*cstride + p*pstride (gs_act_axes).
 * Element-wise activations may ignore all that; per-channel ones (PReLU)
 * read their parameter for channel c from theta[c], or theta[0] when
 * n_theta is 1.
 */
typedef struct gs_act_call {
    const gs_host *host;
    const gs_value *p;     /* parameters, in schema order */
    size_t n;              /* examples */
    gs_layout layout;
    size_t channels, positions;
    const void *theta;     /* learnable parameters in the kernel's type, or NULL */
    size_t n_theta;        /* their count (what n_params returned), 0 without */
} gs_act_call;

/* Elements of the call's arrays. */
static inline size_t gs_act_numel(const gs_act_call *c)
{
    return c->n * c->channels * c->positions;
}

static inline gs_axes gs_act_axes(const gs_act_call *c)
{
    return gs_layout_axes(c->layout, c->channels, c->positions);
}

/* The channel of element k of the call's arrays. */
static inline size_t gs_act_channel(const gs_act_call *c, size_t k)
{
    return c->layout == GS_LAYOUT_IMAGE ? (k / c->positions) % c->channels : k % c->channels;
}

typedef struct gs_activation_ops {
    size_t size; /* sizeof(gs_activation_ops) */
    /* y = f(x) */
    void (*forward_f32)(const gs_act_call *c, const float *x, float *y);
    /* dx = f'(x) * dy (dx may alias dy); dtheta += dL/dtheta when theta exists */
    void (*backward_f32)(const gs_act_call *c, const float *x, const float *y,
                         const float *dy, float *dx, float *dtheta);
    /* Optional, both or neither: the same in double (gradient checks,
       double-precision models).  Without them the activation runs in float
       only and `check-plugin` checks it in float (docs/PLUGINS.md). */
    void (*forward_f64)(const gs_act_call *c, const double *x, double *y);
    void (*backward_f64)(const gs_act_call *c, const double *x, const double *y,
                         const double *dy, double *dx, double *dtheta);
    /* Recommended init gain (PyTorch calculate_gain); NULL means 1. */
    double (*gain)(const gs_value *p);
    /* Learnable parameters for `channels` channels; NULL means none. */
    size_t (*n_params)(const gs_value *p, size_t channels);
    /* Initial values of the learnable parameters (required with n_params). */
    void (*init_params)(const gs_value *p, size_t count, double *theta);
    /* The learnable tensor's name (required with n_params): "slope" for
       PReLU, "beta" for a learnable swish.  It joins the model as a
       GS_ROLE_ACTIVATION tensor "<path>.<param_name>". */
    const char *param_name;
    /*
     * Units counted as saturated when |f'(x)| falls below this (sigmoid/tanh
     * family); 0 means "not a saturating activation".  Units whose f'(x) is
     * zero for a whole batch are dead (ReLU family) whatever this says.
     */
    double saturation_threshold;
} gs_activation_ops;

#define GS_ACTIVATION_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_activation_ops, saturation_threshold)

/* ------------------------------------------------------------------ */
/* Kind: initializer                                                   */
/* ------------------------------------------------------------------ */

typedef struct gs_init_call {
    const gs_host *host;
    const gs_value *p;
    gs_rng *rng;
    int ndim;
    const size_t *dims; /* the parameter's shape */
    size_t fan_in, fan_out;
    /* gain recommended by the activation that follows the layer ("auto") */
    double activation_gain;
    /* negative slope of that activation when it has one, else 0 */
    double activation_slope;
} gs_init_call;

typedef struct gs_initializer_ops {
    size_t size;
    /* Fills numel(dims) values; returns 0, or -1 after host->error(). */
    int (*fill)(const gs_init_call *c, double *out);
} gs_initializer_ops;

#define GS_INITIALIZER_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_initializer_ops, fill)

/* ------------------------------------------------------------------ */
/* Kind: optimizer                                                     */
/* ------------------------------------------------------------------ */

typedef struct gs_opt_call {
    const gs_host *host;
    const gs_value *p;
    uint64_t t;          /* 1 on the first step */
    double lr;           /* after the schedule */
    double weight_decay; /* for this tensor's group */
    /* Slot k of element i is state[k*stride + i].  A whole-tensor call has
       stride == n; a range of an element-wise optimizer's tensor (see
       gs_optimizer_ops.elementwise) keeps the tensor's stride. */
    size_t stride;
} gs_opt_call;

typedef struct gs_optimizer_ops {
    size_t size;
    /* Floats of state per parameter element (Adam: 2); state starts zeroed. */
    size_t (*state_slots)(const gs_value *p);
    /* Optional: initial state value of slot k (Adagrad's accumulator). */
    double (*state_init)(const gs_value *p, size_t slot);
    /* One step over n elements: a whole tensor, or a range of one when
       `elementwise` is set.  Slot k of element i is state[k*c->stride + i]. */
    void (*step)(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                 float *state);
    /* Nonzero when element i's update reads only theta[i], grad[i] and its
       own state (SGD, Adam; not LARS, whose step uses the tensor's norm).
       The core may then step any range of a tensor, several ranges at once
       on its threads: same bits, less time. */
    int elementwise;
} gs_optimizer_ops;

#define GS_OPTIMIZER_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_optimizer_ops, elementwise)

/* ------------------------------------------------------------------ */
/* Kind: loss                                                          */
/* ------------------------------------------------------------------ */

/*
 * The output is (n, steps, width): n examples, `steps` targets each (1, or
 * T for a sequence loss on an (N, T, C) output) of `width` values.  Labels
 * and masks have n*steps entries, targets n*steps*width, row r = i*steps +
 * t.  A mask marks padded steps: 0 = padding (neither counted in the loss
 * nor given a gradient), nonzero = counted; the loss is the mean over
 * counted rows (times width for element-wise losses).
 */
typedef struct gs_loss_call {
    const gs_host *host;
    const gs_value *p;
    size_t n, width;
    const int32_t *labels;  /* class index per row, or NULL */
    const void *targets;    /* real targets per row, in the output dtype, or NULL */
    size_t steps;           /* rows per example; 0 reads as 1 */
    const uint8_t *mask;    /* per row, or NULL: every row counts */
} gs_loss_call;

/* Rows (targets) of the call: n * steps. */
static inline size_t gs_loss_rows(const gs_loss_call *c)
{
    return c->n * (c->steps ? c->steps : 1);
}

/* Rows the mean is taken over: the unmasked ones. */
static inline size_t gs_loss_counted(const gs_loss_call *c)
{
    size_t rows = gs_loss_rows(c), k = 0;
    if (!c->mask)
        return rows;
    for (size_t r = 0; r < rows; r++)
        k += c->mask[r] != 0;
    return k;
}

typedef struct gs_loss_ops {
    size_t size;
    /* Mean loss over the counted rows; if d != NULL also d(mean loss)/d(out),
       0 on masked rows.  With no counted row the loss is 0. */
    double (*eval_f32)(const gs_loss_call *c, const float *out, float *d);
    /* Optional: the same in double (gradient checks). */
    double (*eval_f64)(const gs_loss_call *c, const double *out, double *d);
    int needs_labels; /* 1: class indices, 0: real-valued targets */
    /* Nonzero: honours steps > 1 and a mask (a sequence loss).  The host
       gives a loss without it steps = 1 and no mask. */
    int per_step;
} gs_loss_ops;

#define GS_LOSS_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_loss_ops, per_step)

/* ------------------------------------------------------------------ */
/* Kind: layer (architecture blocks)                                   */
/* ------------------------------------------------------------------ */

typedef struct gs_layer_ops {
    size_t size;
    /*
     * Called once: validate `in` (its layout included), declare parameters,
     * buffers and children through the host, set *out and its layout (zero
     * is GS_LAYOUT_VECTOR; copy in->layout when the layer keeps it).  Store
     * private state with host->set_state(m, ptr).  Return 0, or -1 after
     * host->error().
     */
    int (*build)(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out);
    /* y = F(x).  `training` selects batch statistics, dropout... */
    void (*forward)(gs_module *m, const gs_tensor *x, gs_tensor *y, int training);
    /*
     * Given dy = dL/dy, accumulate parameter gradients and, if dx != NULL,
     * write dx = dL/dx.  x and y are the tensors of the last forward.
     */
    void (*backward)(gs_module *m, const gs_tensor *x, const gs_tensor *y,
                     const gs_tensor *dy, gs_tensor *dx);
    /* Optional: release what build allocated through the host. */
    void (*destroy)(gs_module *m);
    /* Nonzero: forward and backward also run on GS_F64 tensors.  Without it
       the layer is built in float models only, and checked in float. */
    int supports_f64;
} gs_layer_ops;

#define GS_LAYER_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_layer_ops, supports_f64)

/* ------------------------------------------------------------------ */
/* Kind: dataset                                                       */
/* ------------------------------------------------------------------ */

/*
 * A data set in memory: x is (count, shape) float32, one copy shared by all
 * threads; shape.layout says what its dimensions are (a vector of features,
 * an image, a sequence (T, C)).  Classification sets fill labels
 * (0..classes-1); regression sets fill targets (count, target_width).
 *
 * Per-step targets (a sequence loss): steps = S > 1 gives every example S
 * target rows, one per step of the model's (S, width) output: labels hold
 * count*S entries, targets count*S*target_width, row i*S + t.  train_mask and
 * test_mask, when not NULL, hold count*S bytes, 0 for a padded step that is
 * neither counted in the loss nor given a gradient.  steps 0 or 1: one
 * target row per example, the masks unused.  These fields come last so that
 * a data set built against the first ABI 2 header, which leaves them zero,
 * keeps its meaning.
 */
typedef struct gs_split {
    size_t count;
    float *x;
    int32_t *labels;
    float *targets;
} gs_split;

typedef struct gs_dataset {
    gs_shape shape;
    size_t classes;      /* 0 for regression */
    size_t target_width; /* regression only */
    gs_split train, test;
    size_t steps;        /* target rows per example: 0 or 1 one, S > 1 per step */
    uint8_t *train_mask, *test_mask; /* per-step rows counted (nonzero), or NULL */
} gs_dataset;

typedef struct gs_data_call {
    const gs_host *host;
    const gs_value *p;
    gs_rng *rng;
} gs_data_call;

typedef struct gs_dataset_ops {
    size_t size;
    /* Allocate arrays with host->alloc.  Return 0, or -1 after host->error(). */
    int (*load)(const gs_data_call *c, gs_dataset *out);
} gs_dataset_ops;

#define GS_DATASET_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_dataset_ops, load)

/* ------------------------------------------------------------------ */
/* Kind: schedule                                                      */
/* ------------------------------------------------------------------ */

typedef struct gs_schedule_ops {
    size_t size;
    /* Multiplier of the base learning rate at step t (0-based) of `total`. */
    double (*factor)(const gs_value *p, uint64_t t, uint64_t total,
                     uint64_t steps_per_epoch);
} gs_schedule_ops;

#define GS_SCHEDULE_OPS_SIZE_2_0 GS_SIZE_UPTO(gs_schedule_ops, factor)

/* ------------------------------------------------------------------ */
/* Descriptor                                                          */
/* ------------------------------------------------------------------ */

typedef struct gs_component {
    size_t size; /* sizeof(gs_component) */
    gs_kind kind;
    const char *name;
    const char *doc;              /* one line */
    const gs_param_spec *params;  /* terminated by an entry with name == NULL */
    const void *ops;              /* gs_<kind>_ops for `kind` */
    /*
     * Optional: checks combinations of parameters that a schema cannot
     * express (SGD's nesterov needs momentum > 0).  Returns 0, or -1 after
     * host->error("...") with a message naming the parameters.
     */
    int (*validate)(const gs_value *p, const gs_host *host);
} gs_component;

#define GS_COMPONENT_SIZE_2_0 GS_SIZE_UPTO(gs_component, validate)

typedef struct gs_plugin_desc {
    uint32_t magic; /* GS_PLUGIN_MAGIC */
    uint16_t abi_major, abi_minor;
    size_t size; /* sizeof(gs_plugin_desc) */
    const char *name;
    const char *version;
    const char *license;
    const char *description;
    size_t n_components;
    const gs_component *components;
    /* Optional: called once after loading; nonzero refuses the plugin. */
    int (*init)(const gs_host *host);
} gs_plugin_desc;

#define GS_PLUGIN_DESC_SIZE_2_0 GS_SIZE_UPTO(gs_plugin_desc, init)

/* Component i of a descriptor.  Each component's `size` is
   sizeof(gs_component) where the plugin was built, which is also the
   array's stride: a plugin of an older minor has shorter components. */
static inline const gs_component *gs_desc_component(const gs_plugin_desc *d, size_t i)
{
    return (const gs_component *)(const void *)((const char *)d->components +
                                                 i * d->components[0].size);
}

/* Fills the fixed header fields of a descriptor. */
#define GS_PLUGIN_HEADER                                                        \
    .magic = GS_PLUGIN_MAGIC, .abi_major = GS_ABI_MAJOR, .abi_minor = GS_ABI_MINOR, \
    .size = sizeof(gs_plugin_desc)

/* ------------------------------------------------------------------ */
/* Host services                                                       */
/* ------------------------------------------------------------------ */

typedef enum { GS_LOG_ERROR = 0, GS_LOG_WARN = 1, GS_LOG_INFO = 2, GS_LOG_DEBUG = 3 } gs_log_level;

/* The axis a series runs along (host->record_series): a time step, a
   channel, or a band of time steps (the recurrent layers' gradient
   contributions, docs/FORMAT.md). */
typedef enum { GS_AXIS_TIME = 1, GS_AXIS_CHANNEL = 2, GS_AXIS_BAND = 3 } gs_axis;

struct gs_host {
    size_t size; /* sizeof(gs_host) of the host; GS_HOST_HAS tests appended fields */
    unsigned abi_major, abi_minor;

    /* memory: never returns NULL (the host reports exhaustion and stops) */
    void *(*alloc)(size_t bytes);
    void *(*zalloc)(size_t bytes);
    void (*free)(void *ptr);

    void (*log)(gs_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* Records an error for the current operation (build, fill, load). */
    void (*error)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

    /* threads the run may use; parallel_for splits [0, n) into chunks of
       `grain` whose boundaries do not depend on the thread count */
    int (*threads)(void);
    void (*parallel_for)(size_t n, size_t grain,
                         void (*fn)(void *arg, size_t begin, size_t end), void *arg);

    /* random numbers from a seeded stream */
    uint64_t (*rng_u64)(gs_rng *r);
    double (*rng_uniform)(gs_rng *r); /* [0, 1) */
    double (*rng_normal)(gs_rng *r);  /* N(0, 1) */
    /* n uniform [0, 1) draws at once, in float: the same numbers as n calls
       of rng_uniform, rounded */
    void (*rng_uniform_fill)(gs_rng *r, size_t n, float *out);

    /*
     * C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T;
     * op(A) is M x K, op(B) is K x N.  Deterministic at any thread count.
     * The leading dimensions let it read gs_view pieces of a tensor.
     */
    void (*gemm)(gs_dtype dt, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                 double alpha, const void *a, size_t lda, const void *b, size_t ldb,
                 double beta, void *c, size_t ldc);
    /* y[i*cols + j] += b[j] */
    void (*add_row_vector)(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y);
    /* s[j] += sum_i y[i*cols + j], summed in a fixed order */
    void (*sum_rows)(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s);
    /* y = alpha * x + y over n elements */
    void (*axpy)(gs_dtype dt, size_t n, double alpha, const void *x, void *y);

    /* ---- building modules (valid inside gs_layer_ops.build only) ---- */
    /* `init` fills it (NULL: zeros); `gain_from` is the activation whose
       recommended gain an initializer's gain = "auto" uses (NULL: linear).
       `role` puts it in a weight-decay group (gs_role). */
    gs_param *(*add_param)(gs_module *m, const char *name, int ndim, const size_t *dims,
                           gs_role role, size_t fan_in, size_t fan_out,
                           const gs_ref *init, const gs_ref *gain_from);
    /* A per-example work buffer of `per_example`'s shape and layout; the
       host sets dims[0] = batch before forward. */
    gs_tensor *(*add_buffer)(gs_module *m, const char *name, const gs_shape *per_example);
    /* A child built from a reference (layer or activation component). */
    gs_module *(*add_child)(gs_module *m, const char *name, const gs_ref *spec,
                            const gs_shape *in, gs_shape *out);
    /* Build references programmatically: a component with its default
       parameters, whose fields can then be set (0 on success, -1 after error). */
    gs_ref *(*ref_new)(gs_module *m, gs_kind kind, const char *name);
    int (*ref_set_int)(gs_ref *r, const char *key, int64_t v);
    int (*ref_set_float)(gs_ref *r, const char *key, double v);
    int (*ref_set_string)(gs_ref *r, const char *key, const char *v);
    int (*ref_set_bool)(gs_ref *r, const char *key, int v);
    int (*ref_set_ref)(gs_ref *r, const char *key, const gs_ref *v);
    const char *(*ref_name)(const gs_ref *r);
    void (*set_state)(gs_module *m, void *state);
    void *(*get_state)(const gs_module *m);
    gs_dtype (*dtype)(const gs_module *m);

    /* ---- running children (inside forward/backward) ---- */
    void (*forward)(gs_module *child, const gs_tensor *x, gs_tensor *y, int training);
    void (*backward)(gs_module *child, const gs_tensor *x, const gs_tensor *y,
                     const gs_tensor *dy, gs_tensor *dx);
    /*
     * Work space for the length of one forward or backward call: at least
     * `bytes`, 64-byte aligned, contents undefined.  Give it back with
     * scratch_put before returning, the last taken first; calls into
     * children in between may take their own.  Memory is shared by the
     * model's layers in turn, so a backward-only array (a gradient with
     * respect to a pre-activation, say) costs the model its largest
     * instance once instead of one per layer; what must survive from
     * forward to backward stays in add_buffer.
     */
    void *(*scratch_get)(gs_module *m, size_t bytes);
    void (*scratch_put)(gs_module *m, void *ptr);
    /* seeded stream for this module (dropout masks) */
    gs_rng *(*rng)(gs_module *m);

    /* ---- monitoring ---- */
    /* Wants extra statistics this step?  Blocks record them only then.
       Nonzero on a monitored step: 2 on a detailed one (monitor.detail_every),
       where the costlier statistics belong, 1 on the others. */
    int (*monitoring)(const gs_module *m);
    /* A named scalar for this step, into paths.csv as "<path>.<key>". */
    void (*record)(gs_module *m, const char *key, double value);
    /* A named statistic over an axis for this step - values[i] at time step
       or channel i - into series.csv, one row per value.  The host copies
       what it keeps; calls while not monitoring are ignored. */
    void (*record_series)(gs_module *m, const char *name, gs_axis axis, const double *values,
                          size_t n);
};

#define GS_HOST_SIZE_2_0 GS_SIZE_UPTO(gs_host, record_series)

/* True when the host table provides `field` (appended in a later minor). */
#define GS_HOST_HAS(host, field) (GS_HAS_FIELD(host, gs_host, field) && (host)->field)

/*
 * A plugin's element-wise kernel (an activation's, an optimizer's step)
 * marked GS_KERNEL_CLONES is compiled three times, for x86-64-v4
 * (AVX-512), x86-64-v3 (AVX2, FMA) and the baseline, and the loader picks
 * the best copy the processor can run: up to four times the vector width
 * without giving up portability.  The copy follows the processor, not
 * GRADSCOPE_ISA (which switches the core's kernels), so the copies must
 * compute the same bits: built with -ffp-contract=off, which keeps a*b + c
 * two roundings in each, with correctly rounded operations only.
 * tests/clones.sh checks it: it builds each such plugin once per set, with
 * GS_KERNEL_CLONES defined on the command line as that set's single
 * target (a definition made before this header wins), and compares the
 * copies' results bit for bit.
 */
#ifndef GS_KERNEL_CLONES
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define GS_KERNEL_CLONES                                                        \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GS_KERNEL_CLONES
#endif
#endif

#ifdef __cplusplus
}
#endif
#endif /* GRADSCOPE_PLUGIN_H */
