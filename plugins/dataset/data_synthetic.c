/*
 * Synthetic data sets drawn from the run's seeded stream: the same seed
 * gives the same arrays, so a vanishing-gradient comparison is never muddied
 * by a different draw of the data.
 *
 *   spirals  K interleaved arms in the plane (hard, nonlinear boundary)
 *   blobs    K Gaussian clusters with centers at least `separation` apart
 *   teacher  regression targets of a random deep tanh network
 *   images   (C, H, W) images of a bar whose angle, place and colour
 *            depend on the class, jittered and noisy (for conv nets)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradscope/plugin.h"
#include "datamem.h"

enum { P_SET, P_SAMPLES, P_TEST_SAMPLES, P_FEATURES, P_CLASSES, P_NOISE,
       P_SEPARATION, P_TURNS, P_DEPTH, P_WIDTH, P_TARGETS, P_CHANNELS, P_IMAGE_SIZE };

/* Largest float array one split may hold (elements). */
#define MAX_ELEMS ((size_t)1 << 31)

/* Tries per blob center before giving up on the minimum distance. */
#define CENTER_TRIES 10000

static const double two_pi = 6.283185307179586476925286766559;

static int too_big(size_t a, size_t b)
{
    return a != 0 && b > MAX_ELEMS / a;
}

static void alloc_split(const gs_host *h, gs_split *s, size_t count, size_t features,
                        size_t target_width)
{
    s->count = count;
    if (count == 0)
        return;
    s->x = h->alloc(count * features * sizeof(float));
    if (target_width)
        s->targets = h->alloc(count * target_width * sizeof(float));
    else
        s->labels = h->alloc(count * sizeof(int32_t));
}

/*
 * Arm k of K: radius t, angle 2*pi*k/K + 2*pi*turns*t with t ~ U(0,1), plus
 * isotropic Gaussian noise of std `noise`.  Labels cycle 0..K-1 so every
 * class has count/K (+1) points.
 */
static void make_spirals(const gs_data_call *c, gs_split *s, size_t classes,
                         double noise, double turns)
{
    const gs_host *h = c->host;
    for (size_t i = 0; i < s->count; i++) {
        size_t k = i % classes;
        double t = h->rng_uniform(c->rng);
        double a = two_pi * (double)k / (double)classes + two_pi * turns * t;
        double x = t * cos(a) + noise * h->rng_normal(c->rng);
        double y = t * sin(a) + noise * h->rng_normal(c->rng);
        s->x[2 * i] = (float)x;
        s->x[2 * i + 1] = (float)y;
        s->labels[i] = (int32_t)k;
    }
}

/*
 * Centers uniform in [-L, L]^d with L = separation * K^(1/d), redrawn until
 * every pair is at least `separation` apart, so a configuration always
 * means what it says whatever the seed.
 */
static int blob_centers(const gs_data_call *c, size_t classes, size_t d,
                        double separation, double *centers)
{
    const gs_host *h = c->host;
    double half = separation * pow((double)classes, 1.0 / (double)d);
    double min2 = separation * separation;
    for (size_t k = 0; k < classes; k++) {
        double *ck = centers + k * d;
        int placed = 0;
        for (int attempt = 0; attempt < CENTER_TRIES && !placed; attempt++) {
            for (size_t j = 0; j < d; j++)
                ck[j] = half * (2.0 * h->rng_uniform(c->rng) - 1.0);
            placed = 1;
            for (size_t m = 0; m < k && placed; m++) {
                double d2 = 0;
                for (size_t j = 0; j < d; j++) {
                    double diff = ck[j] - centers[m * d + j];
                    d2 += diff * diff;
                }
                placed = d2 >= min2;
            }
        }
        if (!placed) {
            h->error("synthetic blobs: could not place %zu class centers %g apart in %zu "
                     "dimensions; lower classes or raise features",
                     classes, separation, d);
            return -1;
        }
    }
    return 0;
}

static void make_blobs(const gs_data_call *c, gs_split *s, size_t classes, size_t d,
                       double noise, const double *centers)
{
    const gs_host *h = c->host;
    for (size_t i = 0; i < s->count; i++) {
        size_t k = i % classes;
        float *xi = s->x + i * d;
        for (size_t j = 0; j < d; j++)
            xi[j] = (float)(centers[k * d + j] + noise * h->rng_normal(c->rng));
        s->labels[i] = (int32_t)k;
    }
}

/*
 * Teacher: `depth` tanh layers of `width` units, then a linear readout to
 * `targets` outputs; weights N(0, 1/fan_in), no biases.  σ_w² = 1 is the
 * critical point for tanh, so the targets neither collapse nor saturate
 * with depth.
 */
typedef struct teacher {
    size_t depth, width, in, out;
    double **w; /* depth + 1 matrices, row-major (fan_out, fan_in) */
} teacher;

static void teacher_free(const gs_host *h, teacher *t)
{
    if (!t->w)
        return;
    for (size_t l = 0; l <= t->depth; l++)
        h->free(t->w[l]);
    h->free(t->w);
    t->w = NULL;
}

static void teacher_init(const gs_data_call *c, teacher *t)
{
    const gs_host *h = c->host;
    t->w = h->zalloc((t->depth + 1) * sizeof *t->w);
    for (size_t l = 0; l <= t->depth; l++) {
        size_t fan_in = l == 0 ? t->in : t->width;
        size_t fan_out = l == t->depth ? t->out : t->width;
        double std = 1.0 / sqrt((double)fan_in);
        t->w[l] = h->alloc(fan_in * fan_out * sizeof(double));
        for (size_t i = 0; i < fan_in * fan_out; i++)
            t->w[l][i] = std * h->rng_normal(c->rng);
    }
}

static void make_teacher(const gs_data_call *c, gs_split *s, const teacher *t,
                         double noise)
{
    const gs_host *h = c->host;
    size_t wmax = t->width > t->in ? t->width : t->in;
    if (t->out > wmax)
        wmax = t->out;
    double *a = h->alloc(wmax * sizeof(double));
    double *b = h->alloc(wmax * sizeof(double));
    for (size_t i = 0; i < s->count; i++) {
        float *xi = s->x + i * t->in;
        for (size_t j = 0; j < t->in; j++) {
            a[j] = h->rng_normal(c->rng);
            xi[j] = (float)a[j];
        }
        size_t n_in = t->in;
        for (size_t l = 0; l <= t->depth; l++) {
            size_t n_out = l == t->depth ? t->out : t->width;
            for (size_t o = 0; o < n_out; o++) {
                const double *row = t->w[l] + o * n_in;
                double z = 0;
                for (size_t j = 0; j < n_in; j++)
                    z += row[j] * a[j];
                b[o] = l == t->depth ? z : tanh(z);
            }
            memcpy(a, b, n_out * sizeof(double));
            n_in = n_out;
        }
        for (size_t o = 0; o < t->out; o++)
            s->targets[i * t->out + o] = (float)(a[o] + noise * h->rng_normal(c->rng));
    }
    h->free(a);
    h->free(b);
}

/*
 * Images: class k is a bar at angle pi*k/K through a center drawn in the
 * middle half of the image, with a contrast per channel drawn in [0.5, 1]
 * (its colour).  Each example shifts the bar by up to size/8 pixels each
 * way, which a convolution shrugs off and a dense layer has to learn, and
 * adds Gaussian noise.
 */
typedef struct image_class {
    double cy, cx, dy, dx; /* center, unit direction along the bar */
    double *contrast;      /* per channel */
} image_class;

static void image_classes(const gs_data_call *c, image_class *k, size_t classes,
                          size_t channels, size_t size, double *contrast)
{
    const gs_host *h = c->host;
    for (size_t j = 0; j < classes; j++) {
        double a = 0.5 * two_pi * (double)j / (double)classes;
        k[j].dy = sin(a);
        k[j].dx = cos(a);
        k[j].cy = (double)size * (0.25 + 0.5 * h->rng_uniform(c->rng));
        k[j].cx = (double)size * (0.25 + 0.5 * h->rng_uniform(c->rng));
        k[j].contrast = contrast + j * channels;
        for (size_t ch = 0; ch < channels; ch++)
            k[j].contrast[ch] = 0.5 + 0.5 * h->rng_uniform(c->rng);
    }
}

static void make_images(const gs_data_call *c, gs_split *s, const image_class *k,
                        size_t classes, size_t channels, size_t size, double noise)
{
    const gs_host *h = c->host;
    long jitter = (long)(size / 8);
    double half_len = (double)size / 4.0, width = 0.75;
    for (size_t i = 0; i < s->count; i++) {
        size_t j = i % classes;
        double shifts = (double)(2 * jitter + 1);
        double sy = floor(h->rng_uniform(c->rng) * shifts) - (double)jitter;
        double sx = floor(h->rng_uniform(c->rng) * shifts) - (double)jitter;
        float *xi = s->x + i * channels * size * size;
        for (size_t y = 0; y < size; y++)
            for (size_t x = 0; x < size; x++) {
                /* pixel centers relative to the shifted bar center */
                double ry = (double)y + 0.5 - (k[j].cy + sy);
                double rx = (double)x + 0.5 - (k[j].cx + sx);
                double along = ry * k[j].dy + rx * k[j].dx;
                double across = rx * k[j].dy - ry * k[j].dx;
                double v = fabs(along) <= half_len ? exp(-across * across / (2 * width * width))
                                                   : 0.0;
                for (size_t ch = 0; ch < channels; ch++)
                    xi[(ch * size + y) * size + x] = (float)(k[j].contrast[ch] * v);
            }
        for (size_t e = 0; e < channels * size * size; e++)
            xi[e] += (float)(noise * h->rng_normal(c->rng));
        s->labels[i] = (int32_t)j;
    }
}

static int synthetic_load(const gs_data_call *c, gs_dataset *out)
{
    const gs_host *h = c->host;
    const gs_value *p = c->p;
    const char *set = p[P_SET].s;
    size_t n_train = (size_t)p[P_SAMPLES].i;
    size_t n_test = (size_t)p[P_TEST_SAMPLES].i;
    size_t d = (size_t)p[P_FEATURES].i;
    size_t classes = (size_t)p[P_CLASSES].i;
    double noise = p[P_NOISE].f;
    int is_spirals = strcmp(set, "spirals") == 0;
    int is_teacher = strcmp(set, "teacher") == 0;
    int is_images = strcmp(set, "images") == 0;
    size_t channels = (size_t)p[P_CHANNELS].i, size = (size_t)p[P_IMAGE_SIZE].i;

    memset(out, 0, sizeof *out);
    if (noise < 0) /* "auto": each set's natural scale */
        noise = is_spirals ? 0.1 : is_teacher ? 0.0 : is_images ? 0.2 : 1.0;
    if (is_images)
        d = channels * size * size; /* below 2^31 by the parameters' limits */
    if (is_spirals && d != 2) {
        h->error("synthetic spirals: features = %zu, but spirals are 2-D (features = 2)", d);
        return -1;
    }
    if (too_big(n_train, d) || too_big(n_test, d)) {
        h->error("synthetic %s: %zu x %zu features is more than 2^31 values", set,
                 n_train > n_test ? n_train : n_test, d);
        return -1;
    }

    /* features, then a label or the targets, for every example */
    double n_all = (double)n_train + (double)n_test;
    double per = 4.0 * ((double)d + (is_teacher ? (double)p[P_TARGETS].i : 1.0));
    char what[64];
    snprintf(what, sizeof what, "synthetic %s", set);
    if (!data_fits(h, what, n_all * per))
        return -1;

    out->shape.layout = GS_LAYOUT_VECTOR;
    out->shape.ndim = 1;
    out->shape.dims[0] = d;
    if (is_images) {
        out->shape.layout = GS_LAYOUT_IMAGE;
        out->shape.ndim = 3;
        out->shape.dims[0] = channels;
        out->shape.dims[1] = size;
        out->shape.dims[2] = size;
        out->classes = classes;
        image_class *k = h->alloc(classes * sizeof *k);
        double *contrast = h->alloc(classes * channels * sizeof(double));
        image_classes(c, k, classes, channels, size, contrast);
        alloc_split(h, &out->train, n_train, d, 0);
        alloc_split(h, &out->test, n_test, d, 0);
        make_images(c, &out->train, k, classes, channels, size, noise);
        make_images(c, &out->test, k, classes, channels, size, noise);
        h->free(k);
        h->free(contrast);
        return 0;
    }
    if (is_teacher) {
        teacher t = { .depth = (size_t)p[P_DEPTH].i, .width = (size_t)p[P_WIDTH].i,
                      .in = d, .out = (size_t)p[P_TARGETS].i, .w = NULL };
        size_t first = t.depth ? t.width : t.out; /* fan-out of the first weights */
        if (too_big(n_train, t.out) || too_big(n_test, t.out) || too_big(d, first)) {
            h->error("synthetic teacher: %zu features, width %zu, %zu targets and %zu samples "
                     "is more than 2^31 values", d, t.width, t.out,
                     n_train > n_test ? n_train : n_test);
            return -1;
        }
        out->classes = 0;
        out->target_width = t.out;
        teacher_init(c, &t);
        alloc_split(h, &out->train, n_train, d, t.out);
        alloc_split(h, &out->test, n_test, d, t.out);
        make_teacher(c, &out->train, &t, noise);
        make_teacher(c, &out->test, &t, noise);
        teacher_free(h, &t);
        return 0;
    }

    out->classes = classes;
    if (is_spirals) {
        alloc_split(h, &out->train, n_train, d, 0);
        alloc_split(h, &out->test, n_test, d, 0);
        make_spirals(c, &out->train, classes, noise, p[P_TURNS].f);
        make_spirals(c, &out->test, classes, noise, p[P_TURNS].f);
        return 0;
    }

    if (too_big(classes, d)) {
        h->error("synthetic blobs: %zu classes x %zu features is too many centers", classes, d);
        return -1;
    }
    double *centers = h->alloc(classes * d * sizeof(double));
    if (blob_centers(c, classes, d, p[P_SEPARATION].f, centers) != 0) {
        h->free(centers);
        return -1;
    }
    alloc_split(h, &out->train, n_train, d, 0);
    alloc_split(h, &out->test, n_test, d, 0);
    make_blobs(c, &out->train, classes, d, noise, centers);
    make_blobs(c, &out->test, classes, d, noise, centers);
    h->free(centers);
    return 0;
}

static const gs_param_spec synthetic_params[] = {
    { .name = "set", .type = GS_P_STRING, .def.s = "blobs",
      .choices = "spirals|blobs|teacher|images", .doc = "which generator" },
    { .name = "samples", .type = GS_P_INT, .def.i = 2000, .min = 1, .max = 1e7,
      .doc = "training examples" },
    { .name = "test_samples", .type = GS_P_INT, .def.i = 500, .min = 0, .max = 1e7,
      .doc = "test examples (0: no test set)" },
    { .name = "features", .type = GS_P_INT, .def.i = 2, .min = 1, .max = 1 << 20,
      .doc = "input dimension (spirals: must be 2; images: ignored)" },
    { .name = "classes", .type = GS_P_INT, .def.i = 2, .min = 2, .max = 1000,
      .doc = "number of classes (spirals arms, blobs clusters, images bars; ignored by "
             "teacher)" },
    { .name = "noise", .type = GS_P_FLOAT, .def.f = -1, .min = -1, .max = 1e6,
      .doc = "Gaussian noise std (negative: per-set default, spirals 0.1, blobs 1.0, teacher 0, "
             "images 0.2)" },
    { .name = "separation", .type = GS_P_FLOAT, .def.f = 4.0, .min = 1e-6, .max = 1e6,
      .doc = "blobs: minimum distance between class centers" },
    { .name = "turns", .type = GS_P_FLOAT, .def.f = 1.0, .min = 0.05, .max = 100,
      .doc = "spirals: turns of each arm from center to rim" },
    { .name = "depth", .type = GS_P_INT, .def.i = 3, .min = 0, .max = 1000,
      .doc = "teacher: tanh hidden layers" },
    { .name = "width", .type = GS_P_INT, .def.i = 32, .min = 1, .max = 4096,
      .doc = "teacher: units per hidden layer" },
    { .name = "targets", .type = GS_P_INT, .def.i = 1, .min = 1, .max = 4096,
      .doc = "teacher: regression outputs" },
    { .name = "channels", .type = GS_P_INT, .def.i = 1, .min = 1, .max = 64,
      .doc = "images: channels C" },
    { .name = "image_size", .type = GS_P_INT, .def.i = 16, .min = 4, .max = 1024,
      .doc = "images: height and width H = W" },
    { 0 }
};

static const gs_dataset_ops synthetic_ops = {
    .size = sizeof(gs_dataset_ops),
    .load = synthetic_load,
};

static const gs_component components[] = {
    { .size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "synthetic",
      .doc = "seeded toy data: spirals, Gaussian blobs, a random tanh teacher network, or "
             "images of class-dependent bars",
      .params = synthetic_params, .ops = &synthetic_ops },
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "data_synthetic",
    .version = "1.0",
    .license = "MIT",
    .description = "synthetic data sets for gradient-flow experiments",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
