/*
 * Binary cross-entropy on logits, exactly as torch.nn.BCEWithLogitsLoss
 * (reduction='mean'), averaged over all rows * width outputs of the
 * counted rows (every row, or the unmasked steps of a sequence).  Each element
 * uses the stable form max(x,0) - x t + log(1 + exp(-|x|)), which never
 * exponentiates a positive number; targets are probabilities in [0, 1].
 */
#include <math.h>
#include "gradscope/plugin.h"

/* The sigmoid is taken from exp(-|x|) too, so it is exact at both tails.
   Masked rows add nothing and get a zero gradient. */
#define DEFINE_BCE_EVAL(NAME, T, EXP, LOG1P)                                      \
    static double NAME(const gs_loss_call *c, const T *out, T *d)                 \
    {                                                                             \
        const size_t rows = gs_loss_rows(c), w = c->width;                        \
        const size_t count = gs_loss_counted(c) * w;                              \
        const T *t = (const T *)c->targets;                                       \
        const double inv = count ? 1.0 / (double)count : 0.0;                     \
        const T gscale = (T)inv;                                                  \
        double total = 0.0;                                                       \
        for (size_t r = 0; r < rows; r++) {                                       \
            if (c->mask && !c->mask[r]) {                                         \
                for (size_t i = r * w; d && i < (r + 1) * w; i++)                 \
                    d[i] = 0;                                                     \
                continue;                                                         \
            }                                                                     \
            for (size_t i = r * w; i < (r + 1) * w; i++) {                        \
                const T x = out[i];                                               \
                const T e = EXP(-(x < 0 ? -x : x));                               \
                total += (double)((x > 0 ? x : 0) - x * t[i] + LOG1P(e));         \
                if (d) {                                                          \
                    const T s = x >= 0 ? 1 / (1 + e) : e / (1 + e);               \
                    d[i] = gscale * (s - t[i]);                                   \
                }                                                                 \
            }                                                                     \
        }                                                                         \
        return total * inv;                                                       \
    }

DEFINE_BCE_EVAL(bce_eval_f32, float, expf, log1pf)
DEFINE_BCE_EVAL(bce_eval_f64, double, exp, log1p)

static const gs_param_spec bce_params[] = {{0}};

static const gs_loss_ops bce_ops = {
    .size = sizeof(gs_loss_ops),
    .eval_f32 = bce_eval_f32,
    .eval_f64 = bce_eval_f64,
    .needs_labels = 0,
    .per_step = 1,
};

static const gs_component bce_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LOSS,
    .name = "bce_with_logits",
    .doc = "Mean binary cross-entropy on logits, stable form (torch BCEWithLogitsLoss)",
    .params = bce_params,
    .ops = &bce_ops,
}};

static const gs_plugin_desc bce_desc = {
    GS_PLUGIN_HEADER,
    .name = "loss_bce_with_logits",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Binary cross-entropy loss on logits",
    .n_components = 1,
    .components = bce_components,
};

GS_PLUGIN_DEFINE(bce_desc)
