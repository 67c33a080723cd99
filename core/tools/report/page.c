/*
 * gradscope report: pictures of one or more run directories (gs_report).
 *
 * Everything is drawn as hand-written SVG inside one self-contained HTML
 * file, so the report opens anywhere, offline, without JavaScript.  This
 * file writes the page: the tables, the figures in their sections, the
 * notes on what could not be read.  docs/REPORT.md explains each figure.
 */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "gradscope/gradscope.h"
#include "base/util.h"
#include "rundir/format.h"
#include "rundir/rundir.h"
#include "tools/report/figures.h"
#include "tools/report/run.h"
#include "tools/report/sbuf.h"
#include "tools/report/svg.h"

/* Past this many runs, the page title names the first ones and the per-run
   sections are folded into a <details> element. */
#define DETAIL_RUNS 12

/* "%.4g", with the non-finite values spelled out for tables. */
static const char *fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "n/a");
    else if (isinf(v))
        snprintf(buf, n, "%s", v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

/* The style sheet colors a badge by its verdict's name; "other" is grey. */
static void verdict_badge(sbuf *b, const run *r)
{
    const char *v = r->has_summary > 0 ? gs_verdict_name(r->summary.verdict) : NULL;
    sb_printf(b, "<span class=\"badge %s\">", v ? v : "other");
    sb_esc(b, v ? v : "\u2014");
    sb_puts(b, "</span>");
}

static void summary_table(sbuf *b, const runs *rs)
{
    sb_puts(b, "<table class=\"summary\">\n<tr><th>run</th><th>status</th><th>verdict</th>"
               "<th>steps</th><th>train loss</th><th>val loss</th><th>val accuracy</th>"
               "<th>test accuracy</th>"
               "<th title=\"|dL/dW| of the first layer over that of the last, at the last "
               "monitored step\">grad ratio first/last</th><th>time (s)</th></tr>\n");
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        char n1[32], n2[32], n3[32], n4[32], n5[32], n6[32], n7[32];
        sb_printf(b, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>",
                  run_color((int)i));
        sb_esc(b, r->label);
        sb_puts(b, "</td><td>");
        const gs_summary *s = &r->summary;
        int ok = r->has_summary > 0;
        sb_esc(b, ok ? gs_status_name(s->status) : r->has_summary ? "damaged" : "unfinished");
        if (s->detail[0]) {
            sb_puts(b, "<div class=\"detail\">");
            sb_esc(b, s->detail);
            sb_puts(b, "</div>");
        }
        sb_puts(b, "</td><td>");
        verdict_badge(b, r);
        if (s->verdict_detail[0]) {
            sb_puts(b, "<div class=\"detail\">");
            sb_esc(b, s->verdict_detail);
            sb_puts(b, "</div>");
        }
        sb_printf(b,
                  "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                  "<td>%s</td></tr>\n",
                  fmt_num(n1, sizeof n1, ok ? (double)s->steps : NAN),
                  fmt_num(n2, sizeof n2, s->train_loss), fmt_num(n3, sizeof n3, s->val_loss),
                  fmt_num(n4, sizeof n4, s->val_accuracy),
                  fmt_num(n7, sizeof n7, ok ? s->test_accuracy : NAN),
                  fmt_num(n5, sizeof n5, s->grad_ratio_first_last),
                  fmt_num(n6, sizeof n6, s->wall_time_s));
    }
    sb_puts(b, "</table>\n");
}

static void section(sbuf *b, const char *id, const char *title, const char *how)
{
    sb_printf(b, "<h2 id=\"%s\">%s</h2>\n<p class=\"how\">%s</p>\n", id, title, how);
}

/* A section that stands only where its figure has something to draw:
   draw(fig, rs) into the scratch buffer fig, and if it wrote anything, the
   heading and the figure. */
static void figure_section(sbuf *b, sbuf *fig, const runs *rs,
                           void (*draw)(sbuf *, const runs *), const char *id,
                           const char *title, const char *how)
{
    fig->len = 0;
    draw(fig, rs);
    if (!fig->len)
        return;
    section(b, id, title, how);
    sb_put(b, fig->s, fig->len);
}

/* The heading of a theory.csv column (HTML); NULL for a column this
   version does not know, shown by its name. */
static const char *theory_heading(const char *col)
{
    static const char *const headings[GS_THEORY_NCOLS] = {
        [GS_THEORY_FIRST_LAYER] = "first layer",
        [GS_THEORY_LAST_LAYER] = "last layer",
        [GS_THEORY_ACTIVATION] = "activation",
        [GS_THEORY_SIGMA_W2] = "\u03c3<sub>w</sub>\u00b2",
        [GS_THEORY_SIGMA_B2] = "\u03c3<sub>b</sub>\u00b2",
        [GS_THEORY_Q_STAR] = "q*",
        [GS_THEORY_CHI_PREDICTED] = "\u03c7 predicted",
        [GS_THEORY_CHI_MEASURED] = "\u03c7 measured",
        [GS_THEORY_Q_IN] = "q<sub>in</sub>",
        [GS_THEORY_CHI_PATH] = "\u03c7 along the path",
        [GS_THEORY_STACK] = "stack",
        [GS_THEORY_NOTE] = "note",
    };
    for (size_t k = 0; k < GS_THEORY_NCOLS; k++)
        if (!strcmp(col, gs_logs[GS_LOG_THEORY].columns[k]))
            return headings[k];
    return NULL;
}

/* A row of theory.csv for this table: the mean-field row, not a recurrent
   weight's rho and sigma_max at one step (the recurrent section shows
   those over training). */
static int mean_field_row(const gs_table *t, size_t row)
{
    return strcmp(gs_table_cell(t, row, GS_THEORY_STACK), GS_THEORY_STACK_RECURRENT) != 0;
}

static void theory_table(sbuf *b, const runs *rs)
{
    /* the columns of the first run that has a mean-field row, in its order */
    const gs_table *h = NULL;
    for (size_t i = 0; i < rs->n && !h; i++)
        for (size_t row = 0; row < rs->v[i].theory.rows && !h; row++)
            if (mean_field_row(&rs->v[i].theory, row))
                h = &rs->v[i].theory;
    if (!h)
        return;
    section(b, "theory", "Theory versus measurement",
            "For the longest stack of alike layers in a row - dense layers of one width, or "
            "conv2d layers that keep the image's shape (C channels in and out, stride 1, "
            "padding (k\u22121)/2), whose channel-wise \u03c7 is the dense one with fan-in "
            "C\u00b7k\u00b7k (Xiao et al. 2018) - mean-field theory predicts the "
            "factor \u03c7 by which each layer multiplies the squared norm of the "
            "back-propagated gradient: below 1 it vanishes geometrically with depth, above 1 "
            "it explodes, 1 is the edge of chaos. \u03c3<sub>w</sub>\u00b2 and "
            "\u03c3<sub>b</sub>\u00b2 are measured on the initialized weights and biases, q* "
            "is the fixed point of the pre-activation variance, \u03c7 predicted is \u03c7 at "
            "q*, \u03c7 along the path follows the variance from the stack's real input "
            "(q<sub>in</sub>), and \u03c7 measured is the geometric mean over the stack of "
            "(\u2016\u2202L/\u2202x<sub>l</sub>\u2016 / "
            "\u2016\u2202L/\u2202x<sub>l+1</sub>\u2016)\u00b2 at the first monitored step. "
            "Where a convolutional network has no such stack (pooling, a stride or a change "
            "of channels between its convolutions, or blocks), the note says why the theory "
            "does not apply.");
    sb_puts(b, "<table class=\"theory\">\n<tr><th>run</th>");
    for (size_t c = 0; c < h->ncol; c++) {
        const char *t = theory_heading(h->names[c]);
        if (t)
            sb_printf(b, "<th>%s</th>", t);
    }
    sb_puts(b, "</tr>\n");
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        const gs_table *t = &r->theory;
        for (size_t row = 0; row < t->rows; row++) {
            if (!mean_field_row(t, row))
                continue;
            sb_puts(b, "<tr><td>");
            sb_esc(b, r->label);
            sb_puts(b, "</td>");
            for (size_t c = 0; c < h->ncol; c++) {
                if (!theory_heading(h->names[c]))
                    continue;
                int k = gs_table_find(t, h->names[c]);
                sb_puts(b, "<td>");
                if (k >= 0) {
                    const char *cell = t->cells[row * t->ncol + (size_t)k];
                    double v;
                    char nb[32];
                    /* an empty cell (a note row's numbers, a stack's note)
                       stays empty */
                    if (*cell && rp_cell_num(cell, &v) == 0)
                        sb_puts(b, fmt_num(nb, sizeof nb, v));
                    else
                        sb_esc(b, cell);
                }
                sb_puts(b, "</td>");
            }
            sb_puts(b, "</tr>\n");
        }
    }
    sb_puts(b, "</table>\n");
}

static const char *css =
    "body{font-family:" FONT ";color:#222;background:#fff;margin:24px auto;max-width:1140px;"
    "padding:0 16px;line-height:1.4}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:30px 0 6px;border-bottom:1px "
    "solid #ddd;padding-bottom:3px}\n"
    "p.how{color:#444;margin:4px 0 10px;font-size:14px}\n"
    "svg.figure{display:block;max-width:100%;height:auto;margin:8px 0}\n"
    "table{border-collapse:collapse;font-size:14px;margin:8px 0}\n"
    "th,td{border:1px solid #ccc;padding:4px 9px;text-align:right;vertical-align:top}\n"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left;white-space:nowrap}\n"
    "table.summary td:nth-child(-n+3),table.summary th:nth-child(-n+3){text-align:left}\n"
    "td .detail{font-size:12px;color:#555;text-align:left;max-width:330px}\n"
    ".swatch{display:inline-block;width:12px;height:12px;margin-right:6px;border-radius:2px;"
    "vertical-align:-1px}\n"
    ".badge{padding:1px 7px;border-radius:9px;font-weight:bold;color:#fff;background:#777}\n"
    ".badge.healthy{background:#2a8f3e}.badge.vanishing{background:#3b5bdb}"
    ".badge.exploding{background:#d9480f}\n"
    ".notes{background:#fff4e0;border:1px solid #f0c36d;padding:6px 14px;font-size:14px}\n"
    "code{font-size:90%}\n"
    "table.groups td:nth-child(-n+4),table.groups th:nth-child(-n+4){text-align:left}\n"
    ".range{color:#666;font-size:12px}\n"
    "details.runs>summary{font-size:19px;margin:30px 0 6px;cursor:pointer}\n";

/* The decades of run r's weight-gradient norms; any = 0 when it has none. */
static range run_decades(const run *r)
{
    range rv = {0};
    range_addv(&rv, r->g_norm, r->n_steps * r->n_layers, 1);
    return rv;
}

/* A heatmap color scale [lo, hi] in decades: at most 40 of them, the top
   ones, so that one overflowing run does not squeeze the rest into a
   single color. */
static axis heat_scale(range rv)
{
    axis scale;
    decades(rv.any ? rv.lo : -1, rv.any ? rv.hi : 0, &scale);
    if (scale.hi - scale.lo > 40)
        decades(scale.hi - 40, scale.hi, &scale);
    return scale;
}

/* AUTO: per run when some run's own scale covers less than a fifth of the
   shared one (an exploding run beside healthy ones), else shared, so that
   the same color means the same norm in every heatmap. */
static int per_run_scale(const runs *rs, gs_color_scale cs, axis shared)
{
    if (cs != GS_COLOR_SCALE_AUTO)
        return cs == GS_COLOR_SCALE_RUN;
    for (size_t i = 0; i < rs->n; i++) {
        range rv = run_decades(&rs->v[i]);
        axis own = heat_scale(rv);
        if (rv.any && own.hi - own.lo < (shared.hi - shared.lo) / 5)
            return 1;
    }
    return 0;
}

/* The norms through time of all of a run's recurrent layers. */
static void bptt_range(range *rg, const run *r)
{
    for (size_t l = 0; l < r->n_bp; l++)
        range_addv(rg, r->bp[l].norm, r->bp[l].n_steps * r->bp[l].T, 1);
}

/* Gradients through time: per run with bptt.csv its heatmap, then the
   decay table (bptt.c).  Colors as the weight-gradient heatmaps': shared,
   unless asked or unless one run's own range is a fifth of the shared one. */
static void bptt_section(sbuf *b, const runs *rs, gs_color_scale cs)
{
    range shared_r = {0};
    for (size_t i = 0; i < rs->n; i++)
        bptt_range(&shared_r, &rs->v[i]);
    if (!shared_r.any)
        return;
    axis shared = heat_scale(shared_r);
    int own = cs == GS_COLOR_SCALE_RUN;
    for (size_t i = 0; i < rs->n && cs == GS_COLOR_SCALE_AUTO; i++) {
        range rv = {0};
        bptt_range(&rv, &rs->v[i]);
        axis a = heat_scale(rv);
        own |= rv.any && a.hi - a.lo < (shared.hi - shared.lo) / 5;
    }
    char how[1800];
    snprintf(how, sizeof how,
             "For each run with recurrent layers (<code>bptt.csv</code>), %s: the norm over the "
             "batch of the gradient reaching the hidden state h<sub>t</sub> of each "
             "recurrent layer (one panel per layer; the stacked layers below a layer's top one "
             "from <code>series.csv</code>), time step t on the horizontal axis (the loss enters at the "
             "right), monitored step on the vertical one, color = log<sub>10</sub> "
             "\u2016\u2202L/\u2202h<sub>t</sub>\u2016. Dark on the left is a gradient that "
             "vanishes going back in time: the early inputs get no credit. The table sets the "
             "decay per time step, measured as 10 to the minus slope of log<sub>10</sub> "
             "\u2016\u2202L/\u2202h<sub>t</sub>\u2016 against t (a least-squares fit over the "
             "sequence), beside the recurrent weights' spectral radius \u03c1 (its rate in a "
             "linear RNN) and \u03b3 \u03c3<sub>max</sub> (\u03b3 = 1 for tanh and ReLU), "
             "which bounds it (Pascanu et al. 2013), from <code>theory.csv</code>; for LSTM and "
             "GRU, whose gates set the rate, \u03c1 and \u03c3<sub>max</sub> of each gate's "
             "block. Where the verdict is vanishing (exploding) through time, a red line "
             "marks the time step t it names, from the step it holds from on.",
             own ? "<b>each on its own color scale</b>" : "all on the same color scale");
    section(b, "bptt", "Gradients through time", how);
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        if (!r->n_bp)
            continue;
        axis a = shared;
        if (own) {
            range rv = {0};
            bptt_range(&rv, r);
            a = heat_scale(rv);
        }
        fig_bptt(b, r, (int)i, a.lo, a.hi);
    }
    bptt_table(b, rs);
}

static void build_html(sbuf *b, const runs *rs, gs_color_scale cs)
{
    sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
               "<title>gradscope report: ");
    for (size_t i = 0; i < rs->n && i < DETAIL_RUNS; i++) {
        sb_puts(b, i ? ", " : "");
        sb_esc(b, rs->v[i].label);
    }
    if (rs->n > DETAIL_RUNS)
        sb_printf(b, " and %zu more", rs->n - DETAIL_RUNS);
    sb_printf(b,
              "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>gradscope report</h1>\n"
              "<p class=\"how\">",
              css);
    for (size_t i = 0; i < rs->n; i++) {
        sb_puts(b, i ? "<br/>" : "");
        sb_printf(b, "<span class=\"swatch\" style=\"background:%s\"></span><b>",
                  run_color((int)i));
        sb_esc(b, rs->v[i].label);
        sb_puts(b, "</b>: <code>");
        sb_esc(b, rs->v[i].dir);
        sb_puts(b, "</code>");
    }
    sb_printf(b,
              "<br/>gradscope %s. L is the mean loss of a batch; \u2016\u00b7\u2016 is the "
              "L2 norm over a whole tensor.</p>\n",
              gs_version());

    int notes = rs->notes.len > 0;
    for (size_t i = 0; i < rs->n; i++)
        notes |= rs->v[i].notes.len > 0;
    if (notes) {
        sb_puts(b, "<div class=\"notes\"><b>Incomplete input</b> (what could be read is "
                   "shown):\n<ul>\n");
        if (rs->notes.len)
            sb_puts(b, rs->notes.s);
        for (size_t i = 0; i < rs->n; i++) {
            if (!rs->v[i].notes.len)
                continue;
            sb_puts(b, "<li><b>");
            sb_esc(b, rs->v[i].label);
            sb_printf(b, "</b><ul>%s</ul></li>\n", rs->v[i].notes.s);
        }
        sb_puts(b, "</ul></div>\n");
    }

    if (rs->ng) {
        section(b, "groups", "Groups",
                "One group per setting of the sweep (its variant and swept values), gathering "
                "its seeds: the status and verdict of each run counted, and the median of each "
                "value with its range (min\u2013max) in brackets. The figure aligns the seeds "
                "by step and draws, for each group, the median over those with a value at the "
                "step as a line, and the band between the smallest and the largest as a shaded "
                "area; a value that is not finite or is zero is left out at its step. Hover "
                "over a line for the numbers.");
        groups_table(b, rs);
        sbuf g = {0};
        fig_groups(&g, rs);
        if (g.len)
            sb_put(b, g.s, g.len);
        sb_free(&g);
    }
    /* dozens of runs: their sections folded away, open on demand */
    int fold = rs->n > DETAIL_RUNS;
    if (fold)
        sb_printf(b, "<details class=\"runs\"><summary>Every run (%zu): summary, figures and "
                     "heatmaps</summary>\n",
                  rs->n);

    section(b, "summary", "Summary",
            "The verdict classifies the last quarter of the monitored steps: <b>vanishing</b> "
            "when an early layer's weight gradient is below 10<sup>\u22123</sup> times the "
            "last layer's, <b>exploding</b> when above 10<sup>3</sup> times or when the "
            "global norm grew 10<sup>3</sup>-fold; for a recurrent layer whose "
            "\u2016\u2202L/\u2202h<sub>0</sub>\u2016 is below 10<sup>\u22123</sup> (above "
            "10<sup>3</sup>) times \u2016\u2202L/\u2202h<sub>T\u22121</sub>\u2016, vanishing "
            "(exploding) through time; else <b>healthy</b>. The grad ratio is "
            "the first layer's \u2016\u2202L/\u2202W\u2016 over the last layer's.");
    summary_table(b, rs);
    theory_table(b, rs);

    sbuf fig = {0};
    fig_training(&fig, rs);
    if (fig.len) {
        section(b, "training", "Training",
                "Top: the mean training loss and accuracy between logged steps. Bottom: per "
                "epoch, validation (solid) and training (dashed). A loss that stays at its "
                "starting value while another run's falls is the usual sign that gradients "
                "do not reach the early layers.");
        sb_put(b, fig.s, fig.len);
    }

    int any_grad = 0;
    for (size_t i = 0; i < rs->n; i++)
        any_grad |= rs->v[i].n_steps > 0;
    if (any_grad) {
        section(b, "gradflow", "Gradient flow",
                "Each layer's weight-gradient norm, input layer on the left, on a log axis. "
                "A healthy network keeps the curve roughly flat; a line falling steeply "
                "towards the input means gradients vanish on their way back, rising means "
                "they explode. Gridlines mark powers of ten. (Also written as "
                "<code>" GS_FILE_GRADFLOW "</code>.)");
        fig.len = 0;
        fig_gradflow(&fig, rs, 0);
        sb_put(b, fig.s, fig.len);

        range rv = {0};
        for (size_t i = 0; i < rs->n; i++)
            range_addv(&rv, rs->v[i].g_norm, rs->v[i].n_steps * rs->v[i].n_layers, 1);
        axis scale = heat_scale(rv);
        int own = per_run_scale(rs, cs, scale), recurrent = 0;
        for (size_t i = 0; i < rs->n; i++)
            for (size_t l = 0; l < rs->v[i].n_layers; l++)
                recurrent |= rs->v[i].g_sub[l] >= 0;
        char how[800];
        snprintf(how, sizeof how,
                 "One heatmap per run, %s: layer on the vertical axis (input at the bottom), "
                 "monitored step on the horizontal one, color = log<sub>10</sub> "
                 "\u2016\u2202L/\u2202W\u2016. Dark bands at the bottom are layers that barely "
                 "learn; a red circle marks where the verdict says the problem started.%s",
                 own ? "<b>each on its own color scale</b> (compare the color bars, not the "
                       "colors)"
                     : "all on the same color scale",
                 recurrent ? " A recurrent layer's rows are its recurrent weights "
                             "<code>weight_hh_l&lt;k&gt;</code>, one per stacked layer k."
                           : "");
        section(b, "heatmaps", "Gradient norm over layers and time", how);
        for (size_t i = 0; i < rs->n; i++) {
            if (!rs->v[i].n_steps)
                continue;
            axis a = own ? heat_scale(run_decades(&rs->v[i])) : scale;
            fig_heatmap(b, &rs->v[i], (int)i, a.lo, a.hi);
        }
    }

    bptt_section(b, rs, cs);

    int any_hist = 0;
    for (size_t i = 0; i < rs->n; i++)
        any_hist |= rs->v[i].n_hb > 0;
    if (any_hist) {
        section(b, "histograms", "Gradient elements by magnitude",
                "For each layer's weight tensor at the last monitored step: the fraction of "
                "its elements whose |\u2202L/\u2202w| falls in each decade (log color scale; "
                "white: none). Mass drifting left, or into the zero column, is precision being "
                "lost as gradients vanish.");
        for (size_t i = 0; i < rs->n; i++)
            if (rs->v[i].n_hb)
                fig_histogram(b, &rs->v[i], (int)i);
    }

    figure_section(b, &fig, rs, fig_signal, "signal", "Back-propagated signal and update size",
                   "Left: the norm of the gradient with respect to each layer's input, the signal "
                   "that back-propagation carries to the layers below (last monitored step solid, "
                   "first dashed). Right: how much the optimizer step changed each layer's "
                   "weights relative to their size at the last monitored step; around "
                   "10<sup>\u22123</sup> is typical of steady training.");
    figure_section(b, &fig, rs, fig_activations, "activations", "Activations",
                   "Statistics of each layer's output over the batch at the last monitored step. "
                   "A standard deviation collapsing towards zero with depth, saturated "
                   "sigmoid/tanh units or dead ReLU units all starve the gradient.");
    figure_section(b, &fig, rs, fig_paths, "paths", "Residual paths",
                   "For each residual block, the norm of the gradient arriving through the "
                   "identity shortcut (solid) and through the residual branch (dashed). The "
                   "shortcut carries the gradient past the branch, which is why deep residual "
                   "networks keep training.");
    figure_section(b, &fig, rs, fig_blocks, "blocks", "Inside the dense blocks",
                   "For each densenet block, the weight-gradient norm of each of its layers' "
                   "convolutions (<code>l&lt;i&gt;.conv.weight</code> in "
                   "<code>gradients.csv</code>) against the layer's position in the "
                   "block, at the first (dotted), middle (dashed) and last (solid) monitored "
                   "step. The gradient-flow figure draws a whole block as one point; here a "
                   "curve falling towards the block's first layers would mean the gradient "
                   "fades inside it, a flat one that dense connections feed every layer.");
    sb_free(&fig);
    if (fold)
        sb_puts(b, "</details>\n");
    sb_puts(b, "</body>\n</html>\n");
}

/* mkdir -p, like the run directory of gradscope run --out. */
static int make_dir(const char *dir, gs_error *err)
{
    char *path = gs_xstrdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        const char *why = NULL;
        if (stat(path, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                why = "not a directory";
        } else if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            why = strerror(errno);
        }
        if (why) {
            gs_err_set(err, "%s: %s", path, why);
            rc = -1;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    free(path);
    return rc;
}

GS_API int gs_report(const char *const *run_dirs, size_t n, const char *out_dir, gs_error *err)
{
    return gs_report_scaled(run_dirs, n, out_dir, GS_COLOR_SCALE_AUTO, err);
}

GS_API int gs_report_scaled(const char *const *run_dirs, size_t n, const char *out_dir,
                            gs_color_scale scale, gs_error *err)
{
    runs rs = {0};
    int rc = GS_EXIT_OK;
    if (!n) {
        gs_err_set(err, "no run directory given");
        return GS_EXIT_INPUT;
    }
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++)
        rc = rp_add_runs(&rs, run_dirs[i], err);
    if (rc == GS_EXIT_OK) {
        rp_label_runs(&rs);
        for (size_t i = 0; i < rs.n; i++)
            rp_run_load(&rs.v[i]);
        const char *out = out_dir ? out_dir : run_dirs[0];
        sbuf html = {0}, svg = {0};
        build_html(&html, &rs, scale);
        fig_gradflow(&svg, &rs, 1);
        if (make_dir(out, err) < 0 ||
            gs_write_atomic(out, GS_FILE_REPORT, html.s, html.len, err) < 0 ||
            gs_write_atomic(out, GS_FILE_GRADFLOW, svg.s, svg.len, err) < 0)
            rc = GS_EXIT_RUNTIME;
        sb_free(&html);
        sb_free(&svg);
    }
    rp_runs_free(&rs);
    return rc;
}
