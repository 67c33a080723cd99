/*
 * The classic long-memory sequence tasks of the vanishing-gradient
 * literature, drawn from the run's seeded stream (training examples first,
 * then test examples, one after another: the same arrays at any thread
 * count).  Each gives (T, C) sequences, GS_LAYOUT_SEQUENCE.
 *
 *   adding          Hochreiter & Schmidhuber 1997, in the form of Le et
 *                   al. 2015: T steps of (value ~ U(0,1), marker); exactly
 *                   two markers, one in each half; the target is the sum of
 *                   the two marked values.  Predicting 1 scores MSE 1/6.
 *   copy            Arjovsky, Shah & Bengio 2016: L symbols, a delay,
 *                   a delimiter, then the symbols must be written out;
 *                   a label at every step (the blank where nothing is
 *                   copied).
 *   temporal_order  Hochreiter & Schmidhuber 1997, experiment 6a: the
 *                   order of two relevant symbols X/Y among distractors,
 *                   4 classes.
 *
 * The exact layouts are in docs/CONFIG.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradscope/plugin.h"
#include "datamem.h"

/* Largest float array one split may hold (elements). */
#define MAX_ELEMS ((size_t)1 << 31)

/* Parameters every set shares, first in each table. */
enum { P_SAMPLES, P_TEST_SAMPLES, P_LENGTH };

#define COMMON_PARAMS                                                    \
    {.name = "samples", .type = GS_P_INT, .def.i = 10000, .min = 1, .max = 1e7,            \
     .doc = "training examples"},                                                          \
    {.name = "test_samples", .type = GS_P_INT, .def.i = 1000, .min = 0, .max = 1e7,        \
     .doc = "test examples (0: no test set)"}

/* An integer in [0, k). */
static size_t below(const gs_data_call *c, size_t k)
{
    size_t v = (size_t)(c->host->rng_uniform(c->rng) * (double)k);
    return v < k ? v : k - 1;
}

/* Allocates a split of `count` examples of `per` input floats and `rows`
   label or target rows; refuses more than 2^31 values per array. */
static int alloc_split(const gs_data_call *c, const char *set, gs_split *s, size_t count,
                       size_t per, size_t rows, int regression)
{
    const gs_host *h = c->host;
    s->count = count;
    if (count == 0)
        return 0;
    if (per > MAX_ELEMS / count || rows > MAX_ELEMS / count) {
        h->error("%s: %zu examples of %zu values is more than 2^31 values", set, count, per);
        return -1;
    }
    s->x = h->alloc(count * per * sizeof(float));
    if (regression)
        s->targets = h->alloc(count * rows * sizeof(float));
    else
        s->labels = h->alloc(count * rows * sizeof(int32_t));
    return 0;
}

/* The memory check and both splits. */
static int alloc_both(const gs_data_call *c, const char *set, gs_dataset *out, size_t per,
                      size_t rows, int regression)
{
    size_t n_train = (size_t)c->p[P_SAMPLES].i, n_test = (size_t)c->p[P_TEST_SAMPLES].i;
    double bytes = ((double)n_train + (double)n_test) * 4.0 * ((double)per + (double)rows);
    if (!data_fits(c->host, set, bytes))
        return -1;
    if (alloc_split(c, set, &out->train, n_train, per, rows, regression) < 0 ||
        alloc_split(c, set, &out->test, n_test, per, rows, regression) < 0)
        return -1;
    return 0;
}

static void sequence_shape(gs_dataset *out, size_t T, size_t C)
{
    out->shape.layout = GS_LAYOUT_SEQUENCE;
    out->shape.ndim = 2;
    out->shape.dims[0] = T;
    out->shape.dims[1] = C;
}

/* ---- adding ---- */

static void make_adding(const gs_data_call *c, gs_split *s, size_t T)
{
    size_t half = T / 2;
    for (size_t i = 0; i < s->count; i++) {
        float *x = s->x + i * T * 2;
        for (size_t t = 0; t < T; t++) {
            x[2 * t] = (float)c->host->rng_uniform(c->rng);
            x[2 * t + 1] = 0.0f;
        }
        size_t a = below(c, half), b = half + below(c, T - half);
        x[2 * a + 1] = x[2 * b + 1] = 1.0f;
        s->targets[i] = x[2 * a] + x[2 * b];
    }
}

static int adding_load(const gs_data_call *c, gs_dataset *out)
{
    size_t T = (size_t)c->p[P_LENGTH].i;
    memset(out, 0, sizeof *out);
    sequence_shape(out, T, 2);
    out->target_width = 1;
    if (alloc_both(c, "adding", out, T * 2, 1, 1) < 0)
        return -1;
    make_adding(c, &out->train, T);
    make_adding(c, &out->test, T);
    return 0;
}

static const gs_param_spec adding_params[] = {
    COMMON_PARAMS,
    {.name = "length", .type = GS_P_INT, .def.i = 100, .min = 2, .max = 100000,
     .doc = "time steps T (one marker in each half)"},
    {0},
};

/* ---- copy ---- */

enum { P_COPY_SYMBOLS = P_LENGTH, P_COPY_LENGTH, P_DELAY };

/*
 * S = 2L + delay steps.  Input one-hot over K + 2 features: 0 blank,
 * 1..K the symbols, K + 1 the delimiter.  Steps 0..L-1 hold the symbols,
 * then delay - 1 blanks, the delimiter at step L + delay - 1, then L
 * blanks.  Labels (K + 1 classes, 0 blank): blank for the first L + delay
 * steps, then the L symbols in order.
 */
static void make_copy(const gs_data_call *c, gs_split *s, size_t K, size_t L, size_t delay)
{
    size_t S = 2 * L + delay, C = K + 2;
    for (size_t i = 0; i < s->count; i++) {
        float *x = s->x + i * S * C;
        int32_t *y = s->labels + i * S;
        memset(x, 0, S * C * sizeof(float));
        for (size_t t = 0; t < S; t++) {
            x[t * C] = 1.0f; /* blank unless set below */
            y[t] = 0;
        }
        for (size_t t = 0; t < L; t++) {
            size_t sym = 1 + below(c, K);
            x[t * C] = 0.0f;
            x[t * C + sym] = 1.0f;
            y[L + delay + t] = (int32_t)sym;
        }
        size_t d = L + delay - 1;
        x[d * C] = 0.0f;
        x[d * C + K + 1] = 1.0f;
    }
}

static int copy_load(const gs_data_call *c, gs_dataset *out)
{
    size_t K = (size_t)c->p[P_COPY_SYMBOLS].i, L = (size_t)c->p[P_COPY_LENGTH].i;
    size_t delay = (size_t)c->p[P_DELAY].i, S = 2 * L + delay;
    memset(out, 0, sizeof *out);
    sequence_shape(out, S, K + 2);
    out->classes = K + 1;
    out->steps = S;
    if (alloc_both(c, "copy", out, S * (K + 2), S, 0) < 0)
        return -1;
    make_copy(c, &out->train, K, L, delay);
    make_copy(c, &out->test, K, L, delay);
    return 0;
}

static const gs_param_spec copy_params[] = {
    COMMON_PARAMS,
    {.name = "symbols", .type = GS_P_INT, .def.i = 8, .min = 1, .max = 1000,
     .doc = "K symbols to copy (classes K + 1 with the blank)"},
    {.name = "copy_length", .type = GS_P_INT, .def.i = 10, .min = 1, .max = 10000,
     .doc = "L symbols per sequence"},
    {.name = "delay", .type = GS_P_INT, .def.i = 100, .min = 1, .max = 100000,
     .doc = "T: steps from the last symbol to the delimiter (sequences of 2L + T steps)"},
    {0},
};

/* ---- temporal_order ---- */

/* Input features: the distractors a, b, c, d, the relevant X, Y, the
   start B and the end E. */
enum { TO_A, TO_X = 4, TO_Y, TO_B, TO_E, TO_FEATURES };

/* The windows of the two relevant symbols: [T/10, T/5] and [T/2, 3T/5]
   (steps 10-20 and 50-60 at T = 100, as the paper), inside B ... E. */
static void order_windows(size_t T, size_t w[4])
{
    w[0] = T / 10 > 1 ? T / 10 : 1;
    w[1] = T / 5 > w[0] ? T / 5 : w[0];
    w[2] = T / 2 > w[1] ? T / 2 : w[1] + 1;
    w[3] = 3 * T / 5 > w[2] ? 3 * T / 5 : w[2];
    if (w[3] > T - 2)
        w[3] = T - 2;
}

/* Class 2 * first + second, X = 0 and Y = 1: XX, XY, YX, YY. */
static void make_order(const gs_data_call *c, gs_split *s, size_t T)
{
    size_t w[4];
    order_windows(T, w);
    for (size_t i = 0; i < s->count; i++) {
        float *x = s->x + i * T * TO_FEATURES;
        memset(x, 0, T * TO_FEATURES * sizeof(float));
        x[TO_B] = 1.0f;
        x[(T - 1) * TO_FEATURES + TO_E] = 1.0f;
        for (size_t t = 1; t + 1 < T; t++)
            x[t * TO_FEATURES + TO_A + below(c, 4)] = 1.0f;
        size_t t1 = w[0] + below(c, w[1] - w[0] + 1), t2 = w[2] + below(c, w[3] - w[2] + 1);
        size_t s1 = below(c, 2), s2 = below(c, 2);
        memset(x + t1 * TO_FEATURES, 0, TO_FEATURES * sizeof(float));
        memset(x + t2 * TO_FEATURES, 0, TO_FEATURES * sizeof(float));
        x[t1 * TO_FEATURES + TO_X + s1] = 1.0f;
        x[t2 * TO_FEATURES + TO_X + s2] = 1.0f;
        s->labels[i] = (int32_t)(2 * s1 + s2);
    }
}

static int order_load(const gs_data_call *c, gs_dataset *out)
{
    size_t T = (size_t)c->p[P_LENGTH].i;
    memset(out, 0, sizeof *out);
    sequence_shape(out, T, TO_FEATURES);
    out->classes = 4;
    if (alloc_both(c, "temporal_order", out, T * TO_FEATURES, 1, 0) < 0)
        return -1;
    make_order(c, &out->train, T);
    make_order(c, &out->test, T);
    return 0;
}

static const gs_param_spec order_params[] = {
    COMMON_PARAMS,
    {.name = "length", .type = GS_P_INT, .def.i = 100, .min = 10, .max = 100000,
     .doc = "time steps T (X/Y in steps [T/10, T/5] and [T/2, 3T/5])"},
    {0},
};

static const gs_dataset_ops adding_ops = {.size = sizeof(gs_dataset_ops), .load = adding_load};
static const gs_dataset_ops copy_ops = {.size = sizeof(gs_dataset_ops), .load = copy_load};
static const gs_dataset_ops order_ops = {.size = sizeof(gs_dataset_ops), .load = order_load};

static const gs_component components[] = {
    {.size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "adding",
     .doc = "the adding problem: sum of the two marked values of a (T, 2) sequence (regression)",
     .params = adding_params, .ops = &adding_ops},
    {.size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "copy",
     .doc = "the copy (memory) problem: write L symbols back after a delay, a label per step",
     .params = copy_params, .ops = &copy_ops},
    {.size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "temporal_order",
     .doc = "the temporal-order problem: the order of X/Y among distractors, 4 classes",
     .params = order_params, .ops = &order_ops},
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "data_sequence",
    .version = "1.0",
    .license = "MIT",
    .description = "sequence data sets: adding, copy and temporal order",
    .n_components = 3,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
