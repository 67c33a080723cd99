/*
 * Softmax cross-entropy over class logits, with label smoothing, exactly as
 * torch.nn.CrossEntropyLoss(label_smoothing=eps, reduction='mean').
 *
 * One label per row: per example, or per time step of a sequence output,
 * where a mask leaves padded steps out of the mean (and their gradient 0).
 *
 * Row loss: lse(x) - sum_j q_j x_j with q = (1-eps) onehot(y) + eps/C, which
 * equals -sum_j q_j log softmax(x)_j but never takes the log of a
 * probability that underflowed.
 */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_LABEL_SMOOTHING };

/*
 * One template for both precisions: exponentials in the output type (they
 * are all <= 1 after subtracting the row maximum), sums in double.
 */
#define DEFINE_CE_EVAL(NAME, T, EXP)                                              \
    static double NAME(const gs_loss_call *c, const T *out, T *d)                 \
    {                                                                             \
        const size_t w = c->width;                                                \
        const double eps = c->p[P_LABEL_SMOOTHING].f;                             \
        const double off = eps / (double)w;                                       \
        const size_t rows = gs_loss_rows(c), counted = gs_loss_counted(c);        \
        const double inv_n = counted ? 1.0 / (double)counted : 0.0;               \
        double total = 0.0;                                                       \
        for (size_t r = 0; r < rows; r++) {                                       \
            const T *x = out + r * w;                                             \
            if (c->mask && !c->mask[r]) {                                         \
                for (size_t j = 0; d && j < w; j++)                               \
                    d[r * w + j] = 0;                                             \
                continue;                                                         \
            }                                                                     \
            const size_t y = (size_t)c->labels[r];                                \
            T m = x[0];                                                           \
            for (size_t j = 1; j < w; j++)                                        \
                m = x[j] > m ? x[j] : m;                                          \
            double sum = 0.0, xsum = 0.0;                                         \
            if (d) {                                                              \
                T *g = d + r * w;                                                 \
                for (size_t j = 0; j < w; j++) {                                  \
                    g[j] = EXP(x[j] - m);                                         \
                    sum += g[j];                                                  \
                    xsum += x[j];                                                 \
                }                                                                 \
                const double scale = inv_n / sum;                                 \
                for (size_t j = 0; j < w; j++)                                    \
                    g[j] = (T)((double)g[j] * scale - off * inv_n);               \
                g[y] -= (T)((1.0 - eps) * inv_n);                                 \
            } else {                                                              \
                for (size_t j = 0; j < w; j++) {                                  \
                    sum += EXP(x[j] - m);                                         \
                    xsum += x[j];                                                 \
                }                                                                 \
            }                                                                     \
            const double lse = (double)m + log(sum);                              \
            total += lse - (1.0 - eps) * (double)x[y] - off * xsum;               \
        }                                                                         \
        return total * inv_n;                                                     \
    }

DEFINE_CE_EVAL(ce_eval_f32, float, expf)
DEFINE_CE_EVAL(ce_eval_f64, double, exp)

static const gs_param_spec ce_params[] = {
    {.name = "label_smoothing", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = 1.0,
     .doc = "mass eps spread uniformly: target = (1-eps) onehot + eps/C"},
    {0}};

static const gs_loss_ops ce_ops = {
    .size = sizeof(gs_loss_ops),
    .eval_f32 = ce_eval_f32,
    .eval_f64 = ce_eval_f64,
    .needs_labels = 1,
    .per_step = 1,
};

static const gs_component ce_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LOSS,
    .name = "softmax_cross_entropy",
    .doc = "Mean softmax cross-entropy with label smoothing (torch CrossEntropyLoss)",
    .params = ce_params,
    .ops = &ce_ops,
}};

static const gs_plugin_desc ce_desc = {
    GS_PLUGIN_HEADER,
    .name = "loss_softmax_cross_entropy",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Softmax cross-entropy loss for classification",
    .n_components = 1,
    .components = ce_components,
};

GS_PLUGIN_DEFINE(ce_desc)
