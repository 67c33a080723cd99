/*
 * gradscope report: the line figures (figures.h), every run in its color
 * in the same panels.
 */
#include "config.h"
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "tools/report/figures.h"
#include "base/util.h"
#include "tools/report/svg.h"

static int has_finite(const dvec *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (isfinite(d->v[i]))
            return 1;
    return 0;
}

static void run_legend(sbuf *b, const runs *rs, double x, double y)
{
    legend_item *it = gs_xmalloc((rs->n + 1) * sizeof *it);
    for (size_t i = 0; i < rs->n; i++)
        it[i] = (legend_item){rs->v[i].label, (int)i, 0};
    draw_legend(b, x, y, it, rs->n);
    free(it);
}

void fig_training(sbuf *b, const runs *rs)
{
    int any_acc = 0, any_epochs = 0, any_metrics = 0, any_eacc = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        any_metrics |= has_finite(&r->m_loss);
        any_acc |= has_finite(&r->m_acc);
        any_epochs |= has_finite(&r->e_vl) || has_finite(&r->e_tl);
        any_eacc |= has_finite(&r->e_va) || has_finite(&r->e_ta);
    }
    if (!any_metrics && !any_epochs)
        return;
    int rows = any_metrics + any_epochs;
    double H = 300.0 * rows + 10;
    fig_begin(b, "training", 1100, H, "Loss and accuracy during training", 0);
    series *s = gs_xmalloc(2 * rs->n * sizeof *s + 1);
    double y = 5;
    double pw = 450;
    if (any_metrics) {
        panel p = {.x = 0,
                   .y = y,
                   .w = pw,
                   .h = 300,
                   .title = "Training loss (logged steps)",
                   .xlabel = "step",
                   .ylabel = "loss (batch mean)"};
        for (size_t i = 0; i < rs->n; i++)
            s[i] = (series){rs->v[i].m_step.v, rs->v[i].m_loss.v, rs->v[i].m_step.n, (int)i, 0, 0};
        panel_fit(&p, s, rs->n, 1);
        draw_panel(b, &p, s, rs->n);
        if (any_acc) {
            panel q = {.x = pw,
                       .y = y,
                       .w = pw,
                       .h = 300,
                       .title = "Training accuracy (logged steps)",
                       .xlabel = "step",
                       .ylabel = "accuracy",
                       .fixed_y = 1};
            fixed_axis(&q.ay, 0, 1, 0.2);
            for (size_t i = 0; i < rs->n; i++)
                s[i] =
                    (series){rs->v[i].m_step.v, rs->v[i].m_acc.v, rs->v[i].m_step.n, (int)i, 0, 0};
            panel_fit(&q, s, rs->n, 0);
            draw_panel(b, &q, s, rs->n);
        }
        y += 300;
    }
    if (any_epochs) {
        panel p = {.x = 0,
                   .y = y,
                   .w = pw,
                   .h = 300,
                   .title = "Loss per epoch",
                   .xlabel = "epoch",
                   .ylabel = "loss",
                   .integer_x = 1};
        size_t ns = 0;
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            s[ns++] = (series){r->e_epoch.v, r->e_vl.v, r->e_epoch.n, (int)i, 0, 1};
            s[ns++] = (series){r->e_epoch.v, r->e_tl.v, r->e_epoch.n, (int)i, 1, 1};
        }
        panel_fit(&p, s, ns, 1);
        draw_panel(b, &p, s, ns);
        if (any_eacc) {
            panel q = {.x = pw,
                       .y = y,
                       .w = pw,
                       .h = 300,
                       .title = "Accuracy per epoch",
                       .xlabel = "epoch",
                       .ylabel = "accuracy",
                       .fixed_y = 1,
                       .integer_x = 1};
            fixed_axis(&q.ay, 0, 1, 0.2);
            ns = 0;
            for (size_t i = 0; i < rs->n; i++) {
                const run *r = &rs->v[i];
                s[ns++] = (series){r->e_epoch.v, r->e_va.v, r->e_epoch.n, (int)i, 0, 1};
                s[ns++] = (series){r->e_epoch.v, r->e_ta.v, r->e_epoch.n, (int)i, 1, 1};
            }
            panel_fit(&q, s, ns, 0);
            draw_panel(b, &q, s, ns);
        }
    }
    run_legend(b, rs, 920, 50);
    if (any_epochs) {
        legend_item key[] = {{"validation", -1, 0}, {"training", -1, 1}};
        double ky = y + 50;
        text_el(b, 920, ky - 16, "start", " font-size=\"11\"", "per epoch:");
        draw_legend(b, 920, ky, key, 2);
    }
    fig_end(b);
    free(s);
}

static int same_step(const runs *rs, int which, double *step)
{
    int first = 1;
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        if (!r->n_steps)
            continue;
        size_t k = which == 0 ? 0 : which == 1 ? (r->n_steps - 1) / 2 : r->n_steps - 1;
        if (!first && r->g_steps[k] != *step)
            return 0;
        *step = r->g_steps[k];
        first = 0;
    }
    return !first;
}

void fig_gradflow(sbuf *b, const runs *rs, int standalone)
{
    range ry = {0};
    for (size_t i = 0; i < rs->n; i++)
        range_addv(&ry, rs->v[i].g_norm, rs->v[i].n_steps * rs->v[i].n_layers, 1);
    fig_begin(b, "gradflow", 1100, 420,
              "Gradient flow: per-layer weight-gradient norm at the first, middle and last "
              "monitored step",
              standalone);
    text_el(b, 20, 24, "start", " font-weight=\"bold\" font-size=\"15\"",
            "Gradient flow: \u2016\u2202L/\u2202W\u2016 of each layer's weight (log scale)");
    static const char *const names[] = {"first", "middle", "last"};
    series *s = gs_xmalloc(rs->n * sizeof *s + 1);
    double pw = 300;
    for (int w = 0; w < 3; w++) {
        char title[96];
        double step;
        if (same_step(rs, w, &step))
            snprintf(title, sizeof title, "%s monitored step (step %.0f)", names[w], step);
        else
            snprintf(title, sizeof title, "%s monitored step", names[w]);
        title[0] = (char)toupper((unsigned char)title[0]);
        panel p = {.x = pw * w,
                   .y = 40,
                   .w = pw,
                   .h = 380,
                   .title = title,
                   .xlabel = "layer (input \u2192 output)",
                   .ylabel = "\u2016\u2202L/\u2202W\u2016",
                   .fixed_y = 1,
                   .integer_x = 1};
        axis_fit(&p.ay, &ry, 1, 0);
        size_t ns = 0;
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            if (!r->n_steps)
                continue;
            size_t k = w == 0 ? 0 : w == 1 ? (r->n_steps - 1) / 2 : r->n_steps - 1;
            s[ns++] = (series){r->g_layers, r->g_norm + k * r->n_layers, r->n_layers, (int)i, 0, 1};
        }
        panel_fit(&p, s, ns, 0);
        draw_panel(b, &p, s, ns);
    }
    run_legend(b, rs, 915, 80);
    fig_end(b);
    free(s);
}

/* A number from the first row of theory.csv; NaN if absent. */
static double theory_value(const run *r, size_t col)
{
    return r->theory.rows ? gs_table_num(&r->theory, 0, col) : NAN;
}

/*
 * Mean-field theory's |dL/dx| through the stack first..last at the first
 * monitored step: each layer multiplies the squared norm by chi, so from the
 * measured value just above the stack, |dL/dx_l| = |dL/dx_A| chi^((A-l)/2).
 * Returns the number of points written to x and y (capacity n_lf + 1).
 */
static size_t theory_curve(const run *r, double *x, double *y)
{
    double first = theory_value(r, GS_THEORY_FIRST_LAYER);
    double last = theory_value(r, GS_THEORY_LAST_LAYER);
    /* at step 0 the measurement follows the finite-depth path when there is one */
    double chi = theory_value(r, GS_THEORY_CHI_PATH);
    if (!(chi > 0) || !isfinite(chi))
        chi = theory_value(r, GS_THEORY_CHI_PREDICTED);
    if (!isfinite(first) || !isfinite(last) || !(chi > 0) || !isfinite(chi) || last < first)
        return 0;
    double anchor = NAN, at = NAN;
    for (size_t i = 0; i < r->n_lf; i++)
        if ((r->lf[i].layer == last + 1 || (r->lf[i].layer == last && isnan(anchor))) &&
            r->lf[i].input_grad > 0 && isfinite(r->lf[i].input_grad)) {
            anchor = r->lf[i].input_grad;
            at = r->lf[i].layer;
        }
    if (isnan(anchor))
        return 0;
    size_t n = 0;
    for (double l = first; l <= at && n < r->n_lf + 1; l++) {
        x[n] = l;
        y[n++] = anchor * pow(chi, (at - l) / 2);
    }
    return n;
}

void fig_signal(sbuf *b, const runs *rs)
{
    int any_ig = 0, any_up = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        for (size_t l = 0; l < r->n_ll; l++)
            any_ig |= isfinite(r->ll[l].input_grad);
        for (size_t k = 0; r->has_update && k < r->n_steps * r->n_layers; k++)
            any_up |= isfinite(r->g_update[k]);
    }
    if (!any_ig && !any_up)
        return;
    fig_begin(b, "signal", 1100, 320, "Back-propagated signal and update size per layer", 0);
    size_t cap = 3 * rs->n + 1;
    series *s = gs_xmalloc(cap * sizeof *s);
    int any_theory = 0;
    double **tmp = gs_xcalloc(cap, sizeof(double *));
    size_t nt = 0;
    double x = 0, pw = 450;
    if (any_ig) {
        panel p = {.x = x,
                   .y = 5,
                   .w = pw,
                   .h = 310,
                   .title = "\u2016\u2202L/\u2202x\u2016 at each layer's input",
                   .xlabel = "layer (input \u2192 output)",
                   .ylabel = "\u2016\u2202L/\u2202x\u2016",
                   .integer_x = 1};
        size_t ns = 0;
        /* the theory bands first, beneath the measurements */
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            double *xy = gs_xmalloc(2 * (r->n_lf + 1) * sizeof(double));
            tmp[nt++] = xy;
            size_t m = theory_curve(r, xy, xy + r->n_lf + 1);
            if (m) {
                s[ns++] = (series){xy, xy + r->n_lf + 1, m, (int)i, BAND, 0};
                any_theory = 1;
            }
        }
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            const layer_row *rows[2] = {r->ll, r->lf};
            size_t counts[2] = {r->n_ll, r->n_lf};
            for (int k = 0; k < 2; k++) {
                if (!counts[k] || (k == 1 && r->l_first == r->l_last))
                    continue;
                double *xy = gs_xmalloc(2 * counts[k] * sizeof(double));
                for (size_t l = 0; l < counts[k]; l++) {
                    xy[l] = rows[k][l].layer;
                    xy[counts[k] + l] = rows[k][l].input_grad;
                }
                tmp[nt++] = xy;
                s[ns++] = (series){xy, xy + counts[k], counts[k], (int)i, k ? DASHED : SOLID, 1};
            }
        }
        panel_fit(&p, s, ns, 2);
        draw_panel(b, &p, s, ns);
        x += pw;
    }
    if (any_up) {
        panel p = {.x = x,
                   .y = 5,
                   .w = pw,
                   .h = 310,
                   .title = "Update ratio \u2016\u0394W\u2016/\u2016W\u2016 (last step)",
                   .xlabel = "layer (input \u2192 output)",
                   .ylabel = "\u2016\u0394W\u2016 / \u2016W\u2016",
                   .integer_x = 1};
        size_t ns = 0;
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            if (r->n_steps && r->has_update)
                s[ns++] = (series){r->g_layers, r->g_update + (r->n_steps - 1) * r->n_layers,
                                   r->n_layers, (int)i,
                                   0,           1};
        }
        panel_fit(&p, s, ns, 2);
        draw_panel(b, &p, s, ns);
    }
    run_legend(b, rs, 920, 50);
    if (any_ig) {
        legend_item key[] = {{"last monitored step", -1, 0},
                             {"first monitored step", -1, 1},
                             {"theory (\u03c7 predicted)", -1, BAND}};
        double ky = 50 + 18.0 * (double)rs->n + 30;
        text_el(b, 920, ky - 16, "start", " font-size=\"11\"", "\u2016\u2202L/\u2202x\u2016 at:");
        draw_legend(b, 920, ky, key, any_theory ? 3 : 2);
    }
    fig_end(b);
    for (size_t i = 0; i < nt; i++)
        free(tmp[i]);
    free(tmp);
    free(s);
}

void fig_activations(sbuf *b, const runs *rs)
{
    int dead = 0, sat = 0, any = 0;
    for (size_t i = 0; i < rs->n; i++) {
        any |= rs->v[i].n_ll > 0;
        dead |= rs->v[i].has_dead;
        sat |= rs->v[i].has_sat;
    }
    if (!any)
        return;
    struct {
        const char *title, *ylabel;
        size_t off;
        int logy, frac;
    } panels[] = {
        {"Mean activation", "mean of the layer's output", offsetof(layer_row, mean), 0, 0},
        {"Activation standard deviation", "std of the layer's output", offsetof(layer_row, std), 1,
         0},
        {"Dead units", "fraction never active in the batch", offsetof(layer_row, dead), 0, 1},
        {"Saturated activations", "fraction in the flat region", offsetof(layer_row, sat), 0, 1},
    };
    size_t np = 2 + (size_t)dead + (size_t)sat;
    int rows = np > 2 ? 2 : 1;
    fig_begin(b, "activations", 1100, 300.0 * rows + 10,
              "Activation statistics per layer at the last monitored step", 0);
    series *s = gs_xmalloc(rs->n * sizeof *s + 1);
    double **vals = gs_xcalloc(2 * rs->n + 1, sizeof(double *));
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        vals[2 * i] = gs_xmalloc(r->n_ll * sizeof(double) + 1);
        vals[2 * i + 1] = gs_xmalloc(r->n_ll * sizeof(double) + 1);
        for (size_t l = 0; l < r->n_ll; l++)
            vals[2 * i][l] = r->ll[l].layer;
    }
    size_t k = 0;
    for (size_t pi = 0; pi < GS_ARRAY_LEN(panels); pi++) {
        if ((pi == 2 && !dead) || (pi == 3 && !sat))
            continue;
        panel p = {.x = 450.0 * (double)(k % 2),
                   .y = 5 + 300.0 * (double)(k / 2),
                   .w = 450,
                   .h = 300,
                   .title = panels[pi].title,
                   .xlabel = "layer (input \u2192 output)",
                   .ylabel = panels[pi].ylabel,
                   .integer_x = 1,
                   .fixed_y = panels[pi].frac};
        if (panels[pi].frac)
            fixed_axis(&p.ay, 0, 1, 0.2);
        for (size_t i = 0; i < rs->n; i++) {
            const run *r = &rs->v[i];
            for (size_t l = 0; l < r->n_ll; l++)
                vals[2 * i + 1][l] = *(const double *)((const char *)&r->ll[l] + panels[pi].off);
            s[i] = (series){vals[2 * i], vals[2 * i + 1], r->n_ll, (int)i, 0, 1};
        }
        panel_fit(&p, s, rs->n, panels[pi].logy);
        draw_panel(b, &p, s, rs->n);
        k++;
    }
    run_legend(b, rs, 920, 50);
    fig_end(b);
    for (size_t i = 0; i < 2 * rs->n; i++)
        free(vals[i]);
    free(vals);
    free(s);
}

void fig_paths(sbuf *b, const runs *rs)
{
    size_t any = 0;
    for (size_t i = 0; i < rs->n; i++)
        any += rs->v[i].p_layer.n;
    if (!any)
        return;
    fig_begin(b, "paths", 1100, 330, "Residual blocks: shortcut versus residual branch", 0);
    series *s = gs_xmalloc(2 * rs->n * sizeof *s + 1);
    panel p = {.x = 0,
               .y = 5,
               .w = 900,
               .h = 320,
               .title =
                   "Gradient norm through each residual block (last step with block statistics)",
               .xlabel = "block (layer index)",
               .ylabel = "gradient norm",
               .integer_x = 1};
    size_t ns = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        s[ns++] = (series){r->p_layer.v, r->p_short.v, r->p_layer.n, (int)i, 0, 1};
        s[ns++] = (series){r->p_layer.v, r->p_resid.v, r->p_layer.n, (int)i, 1, 1};
    }
    panel_fit(&p, s, ns, 2);
    draw_panel(b, &p, s, ns);
    run_legend(b, rs, 920, 50);
    legend_item key[] = {{"shortcut", -1, 0}, {"residual branch", -1, 1}};
    double ky = 50 + 18.0 * (double)rs->n + 30;
    draw_legend(b, 920, ky, key, 2);
    fig_end(b);
    free(s);
}
