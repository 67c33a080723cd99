/*
 * Mean squared error over every output element, exactly as
 * torch.nn.MSELoss(reduction='mean'): L = sum (x - t)^2 / (rows * width)
 * over the counted rows (every row, or the unmasked steps of a sequence).
 */
#include "gradscope/plugin.h"

/* Differences in the output type, the sum in double; masked rows add
   nothing and get a zero gradient. */
#define DEFINE_MSE_EVAL(NAME, T)                                                  \
    static double NAME(const gs_loss_call *c, const T *out, T *d)                 \
    {                                                                             \
        const size_t rows = gs_loss_rows(c), w = c->width;                        \
        const size_t count = gs_loss_counted(c) * w;                              \
        const T *t = (const T *)c->targets;                                       \
        const double inv = count ? 1.0 / (double)count : 0.0;                     \
        const T gscale = (T)(2.0 * inv);                                          \
        double total = 0.0;                                                       \
        for (size_t r = 0; r < rows; r++) {                                       \
            if (c->mask && !c->mask[r])                                           \
                continue;                                                         \
            for (size_t i = r * w; i < (r + 1) * w; i++) {                        \
                const T diff = out[i] - t[i];                                     \
                total += (double)diff * (double)diff;                             \
            }                                                                     \
        }                                                                         \
        if (d) {                                                                  \
            for (size_t r = 0; r < rows; r++) {                                   \
                const int on = !c->mask || c->mask[r];                            \
                for (size_t i = r * w; i < (r + 1) * w; i++)                      \
                    d[i] = on ? gscale * (out[i] - t[i]) : (T)0;                  \
            }                                                                     \
        }                                                                         \
        return total * inv;                                                       \
    }

DEFINE_MSE_EVAL(mse_eval_f32, float)
DEFINE_MSE_EVAL(mse_eval_f64, double)

static const gs_param_spec mse_params[] = {{0}};

static const gs_loss_ops mse_ops = {
    .size = sizeof(gs_loss_ops),
    .eval_f32 = mse_eval_f32,
    .eval_f64 = mse_eval_f64,
    .needs_labels = 0,
    .per_step = 1,
};

static const gs_component mse_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_LOSS,
    .name = "mse",
    .doc = "Mean squared error over all outputs (torch MSELoss, reduction mean)",
    .params = mse_params,
    .ops = &mse_ops,
}};

static const gs_plugin_desc mse_desc = {
    GS_PLUGIN_HEADER,
    .name = "loss_mse",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Mean squared error loss for regression",
    .n_components = 1,
    .components = mse_components,
};

GS_PLUGIN_DEFINE(mse_desc)
