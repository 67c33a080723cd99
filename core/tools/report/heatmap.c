/*
 * gradscope report: the heatmaps (figures.h), one per run: the weight
 * gradient's norm over layers and time, and its elements by magnitude.
 * Cells are colored by level, so that cells of one color can share a path.
 */
#include "config.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/report/figures.h"
#include "base/util.h"
#include "tools/report/svg.h"

#define NLEV 64
enum { LEV_BAD = NLEV, LEV_MISSING, LEV_COUNT };

static void lerp_color(const unsigned *stops, size_t n, double t, char out[8])
{
    double u = t * (double)(n - 1);
    size_t i = u >= (double)(n - 1) ? n - 2 : (size_t)u;
    double f = u - (double)i;
    unsigned a = stops[i], c = stops[i + 1], rgb = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double x = ((a >> sh) & 255) * (1 - f) + ((c >> sh) & 255) * f;
        rgb |= (unsigned)lround(x) << sh;
    }
    snprintf(out, 8, "#%06x", rgb);
}

static const unsigned viridis[] = {0x440154, 0x482878, 0x3e4989, 0x31688e, 0x26828e,
                                   0x1f9e89, 0x35b779, 0x6ece58, 0xfde725};
static const unsigned blues[] = {0xdeebf7, 0x9ecae1, 0x6baed6, 0x3182bd, 0x08306b};

static void make_palette(const unsigned *stops, size_t n, char pal[LEV_COUNT][8])
{
    for (int i = 0; i < NLEV; i++)
        lerp_color(stops, n, (i + 0.5) / NLEV, pal[i]);
    snprintf(pal[LEV_BAD], 8, "#e8112d");
    snprintf(pal[LEV_MISSING], 8, "#ececec");
}

/* Value (in color-scale units) to level; NaN missing, +inf non-finite data,
   -inf below the scale. */
static int level(double v, double lo, double hi)
{
    if (isnan(v))
        return LEV_MISSING;
    if (v == INFINITY)
        return LEV_BAD;
    if (v == -INFINITY)
        return 0;
    int k = (int)floor((v - lo) / (hi - lo) * NLEV);
    return k < 0 ? 0 : k >= NLEV ? NLEV - 1 : k;
}

/* Cells of one color share one path, adjacent cells of a row merged: a few
   dozen elements instead of one per cell keep big heatmaps small.  Row 0 is
   at the bottom.  lev < 0: not drawn. */
static void draw_cells(sbuf *b, const int *lev, size_t rows, size_t cols, double x0, double y0,
                       double cw, double ch, char pal[LEV_COUNT][8])
{
    sb_puts(b, "<g class=\"cells\" shape-rendering=\"crispEdges\">\n");
    sbuf d = {0};
    for (int L = 0; L < LEV_COUNT; L++) {
        d.len = 0;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                if (lev[r * cols + c] != L)
                    continue;
                size_t e = c;
                while (e + 1 < cols && lev[r * cols + e + 1] == L)
                    e++;
                double x = x0 + cw * (double)c, y = y0 + ch * (double)(rows - 1 - r);
                /* a little overlap: no hairline gaps where edges round apart */
                double w = cw * (double)(e - c + 1) + 0.6;
                sb_printf(&d, "M%.1f %.1fh%.1fv%.1fh-%.1fz", x, y, w, ch + 0.6, w);
                c = e;
            }
        if (d.len)
            sb_printf(b, "<path fill=\"%s\" d=\"%s\"/>\n", pal[L], d.s);
    }
    sb_free(&d);
    sb_puts(b, "</g>\n");
}

/* The title of a figure beside the run's color swatch, at x = left. */
static void fig_title(sbuf *b, const char *cls, double height, const char *title, int color,
                      double left)
{
    fig_begin(b, cls, 1100, height, title, 0);
    sb_printf(b, "<rect x=\"%.1f\" y=\"14\" width=\"14\" height=\"6\" fill=\"%s\"/>", left,
              run_color(color));
    text_el(b, left + 20, 22, "start", " font-weight=\"bold\" font-size=\"13\"", title);
}

/* An axis of a panel: its title and the labels of its cells' ticks, at most
   about max_labels of them. */
typedef struct heat_axis {
    const char *title; /* NULL: none */
    /* cell i is labelled v[i * block] ("%.0f"), or i * block without v ... */
    const double *v;
    size_t block, max_labels;
    /* ... or by label(), which writes nothing for a cell without a tick */
    void (*label)(sbuf *b, const void *ctx, size_t i, size_t stride);
    const void *ctx;
} heat_axis;

/* rows x cols cells of levels lev (row 0 at the bottom) in a frame at
   left, top of pw x ph, the caption above it, x ticks below it, y ticks
   and the axis titles beside it. */
typedef struct heat_panel {
    const int *lev;
    size_t rows, cols;
    double left, top, pw, ph;
    const char *caption; /* NULL: none */
    heat_axis x, y;
} heat_panel;

static void axis_label(sbuf *b, const heat_axis *a, size_t i, size_t stride)
{
    if (a->label)
        a->label(b, a->ctx, i, stride);
    else if (i % stride == 0)
        sb_printf(b, "%.0f", a->v ? a->v[i * a->block] : (double)(i * a->block));
}

/* The one place that draws a panel of cells: colors from pal. */
static void draw_heat_panel(sbuf *b, const heat_panel *p, char pal[LEV_COUNT][8])
{
    double left = p->left, top = p->top, pw = p->pw, ph = p->ph;
    double cw = pw / (double)p->cols, ch = ph / (double)p->rows;
    if (p->caption)
        text_el(b, left, top - 6, "start", " class=\"caption\" font-size=\"12\"", p->caption);
    draw_cells(b, p->lev, p->rows, p->cols, left, top, cw, ch, pal);
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#999\"/>\n",
              left, top, pw, ph);
    sb_puts(b, "<g class=\"ticks\" font-size=\"11\">\n");
    sbuf lab = {0};
    size_t stride = label_stride(p->rows, p->y.max_labels);
    for (size_t i = 0; i < p->rows; i++) {
        lab.len = 0;
        axis_label(&lab, &p->y, i, stride);
        if (lab.len)
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left - 5,
                      top + ch * ((double)(p->rows - 1 - i) + 0.5) + 4, lab.s);
    }
    stride = label_stride(p->cols, p->x.max_labels);
    for (size_t i = 0; i < p->cols; i++) {
        lab.len = 0;
        axis_label(&lab, &p->x, i, stride);
        if (!lab.len)
            continue;
        double x = left + cw * ((double)i + 0.5);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" INK "\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                  x, top + ph, x, top + ph + 4, x, top + ph + 17, lab.s);
    }
    sb_free(&lab);
    sb_puts(b, "</g>\n");
    if (p->x.title)
        text_el(b, left + pw / 2, top + ph + 38, "middle", " class=\"xlabel\"", p->x.title);
    if (p->y.title) {
        char rot[96];
        snprintf(rot, sizeof rot, " class=\"ylabel\" transform=\"rotate(-90 20 %.1f)\"",
                 top + ph / 2);
        text_el(b, 20, top + ph / 2, "middle", rot, p->y.title);
    }
}

/* A vertical color bar for [lo, hi] decades (log10 values), ticked as 10^k,
   with swatches for the special levels that occur. */
static void draw_colorbar(sbuf *b, double x, double top, double h, double lo, double hi,
                          char pal[LEV_COUNT][8], const char *label, int bad, int missing, int zero)
{
    sb_puts(b, "<g class=\"colorbar\" shape-rendering=\"crispEdges\">\n");
    for (int i = 0; i < NLEV; i++)
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.2f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>", x,
                  top + h - h * (i + 1) / NLEV, h / NLEV + 0.3, pal[i]);
    sb_printf(b,
              "\n<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#999\"/>\n</g>\n",
              x, top, h);
    axis ax;
    fixed_axis(&ax, lo, hi, ceil((hi - lo) / 8));
    ax.log = 1;
    sb_puts(b, "<g font-size=\"11\">");
    for (double k = first_tick(&ax); k <= hi + 1e-9; k += ax.step) {
        double y = top + h - (k - lo) / (hi - lo) * h;
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" INK "\"/>",
                  x + 16, y, x + 20, y);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 23, y + 4);
        tick_label(b, &ax, k);
        sb_puts(b, "</text>");
    }
    sb_puts(b, "</g>\n");
    char rot[96];
    snprintf(rot, sizeof rot, " transform=\"rotate(90 %.1f %.1f)\"", x + 66, top + h / 2);
    text_el(b, x + 66, top + h / 2, "middle", rot, label);
    double y = top + h + 22;
    const struct {
        int on, lev;
        const char *what;
    } sw[] = {{zero, 0, "zero (bottom color)"},
              {bad, LEV_BAD, "inf / NaN"},
              {missing, LEV_MISSING, "not recorded"}};
    for (size_t i = 0; i < GS_ARRAY_LEN(sw); i++) {
        if (!sw[i].on)
            continue;
        sb_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\" "
                  "stroke=\"#999\"/>",
                  x - 40, y - 10, pal[sw[i].lev]);
        text_el(b, x - 24, y, "start", " font-size=\"11\"", sw[i].what);
        y += 17;
    }
}

/* Block means of log10 values, so that at most max_r x max_c cells are
   drawn; NaN missing, +inf non-finite, -inf zero. */
static double *block_means(const double *v, size_t rows, size_t cols, size_t max_r, size_t max_c,
                           size_t *out_r, size_t *out_c, size_t *rb, size_t *cb)
{
    *rb = (rows + max_r - 1) / max_r;
    *cb = (cols + max_c - 1) / max_c;
    *out_r = (rows + *rb - 1) / *rb;
    *out_c = (cols + *cb - 1) / *cb;
    double *m = gs_xmalloc(*out_r * *out_c * sizeof(double) + 1);
    for (size_t R = 0; R < *out_r; R++)
        for (size_t C = 0; C < *out_c; C++) {
            double sum = 0;
            size_t n = 0;
            int bad = 0, zero = 0;
            for (size_t r = R * *rb; r < rows && r < (R + 1) * *rb; r++)
                for (size_t c = C * *cb; c < cols && c < (C + 1) * *cb; c++) {
                    double x = v[r * cols + c];
                    if (isfinite(x))
                        sum += x, n++;
                    else if (x == INFINITY)
                        bad = 1;
                    else if (x == -INFINITY)
                        zero = 1;
                }
            m[R * *out_c + C] = bad ? INFINITY : n ? sum / (double)n : zero ? -INFINITY : NAN;
        }
    return m;
}

/* log10 of a norm in the heatmap's encoding (NaN: not recorded). */
static double log_code(double g)
{
    if (isnan(g) || g == INFINITY)
        return g;
    return g > 0 ? log10(g) : g == 0 ? -INFINITY : NAN;
}

/* Which special levels some cell has: the color bar shows their swatches. */
typedef struct specials {
    int bad, missing, zero;
} specials;

/* The levels of n log10 block means on the scale [lo, hi] decades. */
static int *levels(const double *m, size_t n, double lo, double hi, specials *sp)
{
    int *lev = gs_xmalloc(n * sizeof(int) + 1);
    for (size_t i = 0; i < n; i++) {
        lev[i] = level(m[i], lo, hi);
        sp->bad |= lev[i] == LEV_BAD;
        sp->missing |= lev[i] == LEV_MISSING;
        sp->zero |= m[i] == -INFINITY;
    }
    return lev;
}

/* Below the last panel: its x title, then a line per special swatch. */
static double below(const specials *sp)
{
    int k = sp->bad + sp->missing + sp->zero;
    return k ? 50 + 17 * k : 50;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* What a recurrent layer's rows are, below a figure that has some. */
static void recurrent_note(sbuf *b, double left, double y)
{
    text_el(b, left, y, "start", " class=\"recurrent-note\" font-size=\"11\"",
            "A recurrent layer's rows: the gradient of its recurrent weights "
            "weight_hh_l<k>, a row per stacked layer k (\u201c2 (l1)\u201d: layer 2, k = 1).");
}

/* A row of the weight-gradient heatmap: its layer, and which stacked layer
   of a recurrent one (rp_weight_row_name). */
typedef struct weight_rows {
    const run *r;
    size_t block;
} weight_rows;

static void weight_row_label(sbuf *b, const void *ctx, size_t i, size_t stride)
{
    const weight_rows *w = ctx;
    size_t l = i * w->block;
    if (i % stride == 0)
        rp_weight_row_name(b, w->r->g_layers[l], w->r->g_sub[l], w->r->g_nk[l]);
}

void fig_heatmap(sbuf *b, const run *r, int color, double lo, double hi)
{
    size_t L = r->n_layers, S = r->n_steps;
    double *v = gs_xmalloc(L * S * sizeof(double) + 1);
    for (size_t l = 0; l < L; l++)
        for (size_t s = 0; s < S; s++)
            v[l * S + s] = log_code(r->g_norm[s * L + l]);
    size_t R, C, rb, cb;
    double *m = block_means(v, L, S, 160, 220, &R, &C, &rb, &cb);
    free(v);
    specials sp = {0};
    int *lev = levels(m, R * C, lo, hi, &sp);
    int recurrent = 0;
    for (size_t l = 0; l < L; l++)
        recurrent |= r->g_sub[l] >= 0;
    weight_rows wr = {r, rb};
    heat_panel p = {
        .lev = lev, .rows = R, .cols = C, .left = 70, .top = 40, .pw = 860,
        .ph = clampd(R * 14.0, 140, 440),
        .x = {.title = cb > 1 ? "monitored step (cells average neighbouring steps)"
                              : "monitored step",
              .v = r->g_steps, .block = cb, .max_labels = 10},
        .y = {.title = rb > 1 ? "layer (input at bottom, blocks averaged)"
                              : "layer (input at bottom)",
              .v = r->g_layers, .block = rb, .max_labels = 16,
              .label = recurrent ? weight_row_label : NULL, .ctx = &wr},
    };
    char title[512];
    snprintf(title, sizeof title,
             "%s: log\u2081\u2080 \u2016\u2202L/\u2202W\u2016 per layer and monitored step",
             r->label);
    sb_printf(b, "<div class=\"fig\" data-run=\"");
    sb_esc(b, r->label);
    sb_printf(b, "\">\n");
    char cls[96];
    snprintf(cls, sizeof cls, "heatmap\" data-layers=\"%zu\" data-steps=\"%zu", L, S);
    char pal[LEV_COUNT][8];
    fig_title(b, cls, p.top + p.ph + below(&sp) + (recurrent ? 20 : 0), title, color, p.left);
    make_palette(viridis, GS_ARRAY_LEN(viridis), pal);
    draw_heat_panel(b, &p, pal);
    if (recurrent)
        recurrent_note(b, p.left, p.top + p.ph + 60);
    /* where the verdict says the trouble started; through time, in the
       top stacked layer, whose dL/dh_t the verdict reads */
    int in_time = !isnan(rp_bptt_verdict_t(r));
    char words[48];
    snprintf(words, sizeof words, in_time ? "%s through time" : "%s",
             gs_verdict_name(r->summary.verdict));
    if (r->summary.verdict_layer >= 0 && r->summary.verdict_step >= 0) {
        size_t li = rp_find_index(r->g_layers, L, (double)r->summary.verdict_layer);
        while (in_time && li + 1 < L && r->g_layers[li + 1] < r->summary.verdict_layer + 1)
            li++;
        size_t si = rp_find_index(r->g_steps, S, (double)r->summary.verdict_step);
        if (li < L && si < S) {
            double x = p.left + p.pw / (double)C * ((double)(si / cb) + 0.5);
            double y = p.top + p.ph / (double)R * ((double)(R - 1 - li / rb) + 0.5);
            sb_printf(b,
                      "<g class=\"verdict-mark\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" "
                      "fill=\"none\" stroke=\"#fff\" stroke-width=\"3\"/><circle cx=\"%.1f\" "
                      "cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"#e8112d\" stroke-width=\"1.5\"/>",
                      x, y, x, y);
            text_el(b, x + 9, y - 8, x > p.left + p.pw - 160 ? "end" : "start",
                    " font-size=\"11\" font-weight=\"bold\" fill=\"#e8112d\" stroke=\"#fff\" "
                    "stroke-width=\"3\" paint-order=\"stroke\"",
                    words);
            sb_puts(b, "</g>\n");
        }
    }
    draw_colorbar(b, p.left + p.pw + 30, p.top, p.ph, lo, hi, pal,
                  "\u2016\u2202L/\u2202W\u2016", sp.bad, sp.missing, sp.zero);
    fig_end(b);
    sb_puts(b, "</div>\n");
    free(m);
    free(lev);
}

/* The verdict through time on its panel: a vertical line at time step t,
   from the row of the step it holds from up to the last, and its words. */
static void bptt_verdict_mark(sbuf *b, const heat_panel *p, const bptt_panel *bp, double t,
                              long long from_step, const char *what)
{
    size_t rb = p->y.block, cb = p->x.block;
    double cw = p->pw / (double)p->cols, ch = p->ph / (double)p->rows;
    double x = p->left + cw * ((double)((size_t)t / cb) + 0.5);
    size_t s = rp_find_index(bp->steps, bp->n_steps, (double)from_step);
    double y0 = p->top, y1 = p->top + p->ph;
    if (from_step >= 0 && s < bp->n_steps)
        y1 = p->top + ch * (double)(p->rows - s / rb);
    sb_printf(b,
              "<g class=\"verdict-mark\" data-t=\"%.0f\"><line x1=\"%.1f\" y1=\"%.1f\" "
              "x2=\"%.1f\" y2=\"%.1f\" stroke=\"#fff\" stroke-width=\"4\"/><line x1=\"%.1f\" "
              "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e8112d\" stroke-width=\"2\"/>",
              t, x, y0, x, y1, x, y0, x, y1);
    /* the words on the side with room, inside the panel */
    int right = x < p->left + p->pw / 2;
    text_el(b, right ? x + 6 : x - 6, y0 + 14, right ? "start" : "end",
            " font-size=\"11\" font-weight=\"bold\" fill=\"#e8112d\" stroke=\"#fff\" "
            "stroke-width=\"3\" paint-order=\"stroke\"",
            what);
    sb_puts(b, "</g>\n");
}

/* One panel per recurrent layer, in model order (a layer's stacked layers
   from the bottom up), on one color scale: a single layer keeps the size of
   the other heatmaps, several share its height. */
void fig_bptt(sbuf *b, const run *r, int color, double lo, double hi)
{
    size_t n = r->n_bp, max_s = 0, max_t = 0;
    if (!n)
        return;
    int one = n == 1;
    heat_panel *ps = gs_xcalloc(n, sizeof *ps);
    int **levs = gs_xcalloc(n, sizeof *levs);
    sbuf *caps = gs_xcalloc(n, sizeof *caps);
    specials sp = {0};
    double top = one ? 40 : 58;
    for (size_t i = 0; i < n; i++) {
        const bptt_panel *bp = &r->bp[i];
        size_t S = bp->n_steps, T = bp->T;
        max_s = S > max_s ? S : max_s;
        max_t = T > max_t ? T : max_t;
        double *v = gs_xmalloc(S * T * sizeof(double) + 1);
        for (size_t k = 0; k < S * T; k++)
            v[k] = log_code(bp->norm[k]);
        size_t R, C, rb, cb;
        double *m = block_means(v, S, T, one ? 160 : 60, 220, &R, &C, &rb, &cb);
        free(v);
        sb_printf(&caps[i], "layer %.0f", bp->layer);
        if (bp->n_stacked > 1)
            sb_printf(&caps[i], ", stacked layer %ld of %zu%s", bp->k, bp->n_stacked,
                      bp->sub < 0 ? " (its output)" : "");
        levs[i] = levels(m, R * C, lo, hi, &sp);
        const char *ytitle = one      ? rb > 1 ? "monitored step (first at bottom, averaged)"
                                               : "monitored step (first at bottom)"
                             : rb > 1 ? "step (averaged)"
                                      : "monitored step";
        ps[i] = (heat_panel){
            .lev = levs[i], .rows = R, .cols = C, .left = 70,
            .top = top, .pw = 860,
            .ph = one ? clampd(R * 14.0, 140, 440) : clampd(R * 8.0, 90, 160),
            .caption = one ? NULL : caps[i].s,
            .x = {.title = i + 1 < n ? NULL
                           : cb > 1  ? "time step t (cells average neighbouring steps)"
                                     : "time step t",
                  .block = cb, .max_labels = 10},
            .y = {.title = ytitle, .v = bp->steps, .block = rb, .max_labels = one ? 16 : 6},
        };
        free(m);
        top += ps[i].ph + 42;
    }
    const heat_panel *last = &ps[n - 1];
    char title[512];
    sbuf name = {0};
    rp_bptt_panel_name(&name, &r->bp[0]);
    if (one)
        snprintf(title, sizeof title,
                 "%s: log\u2081\u2080 \u2016\u2202L/\u2202h\u209c\u2016 of layer %s per time "
                 "step and monitored step",
                 r->label, name.s);
    else
        snprintf(title, sizeof title,
                 "%s: log\u2081\u2080 \u2016\u2202L/\u2202h\u209c\u2016 of each recurrent layer "
                 "per time step and monitored step",
                 r->label);
    sb_free(&name);
    sb_printf(b, "<div class=\"fig\" data-bptt-run=\"");
    sb_esc(b, r->label);
    sb_printf(b, "\">\n");
    char cls[128];
    snprintf(cls, sizeof cls, "bptt-heatmap\" data-steps=\"%zu\" data-t=\"%zu\" data-panels=\"%zu",
             max_s, max_t, n);
    /* the verdict through time: on the top stacked layer of its layer,
       where bptt.csv's norms come from, as the engine's test reads them */
    double vt = rp_bptt_verdict_t(r);
    size_t mark = n;
    for (size_t i = 0; i < n && !isnan(vt); i++)
        if (r->bp[i].sub < 0 && r->bp[i].layer == (double)r->summary.verdict_layer &&
            vt < (double)r->bp[i].T)
            mark = i;
    sbuf verdict = {0};
    if (mark < n)
        sb_printf(&verdict, "%s through time from t = %.0f",
                  gs_verdict_name(r->summary.verdict), vt);
    char pal[LEV_COUNT][8];
    fig_title(b, cls, last->top + last->ph + below(&sp) + (mark < n ? 22 : 0), title, color,
              ps[0].left);
    make_palette(viridis, GS_ARRAY_LEN(viridis), pal);
    for (size_t i = 0; i < n; i++) {
        sb_printf(b, "<g class=\"panel\" data-layer=\"%.0f\" data-stacked=\"%ld\" "
                     "data-steps=\"%zu\" data-t=\"%zu\">\n",
                  r->bp[i].layer, r->bp[i].k, r->bp[i].n_steps, r->bp[i].T);
        draw_heat_panel(b, &ps[i], pal);
        if (i == mark)
            bptt_verdict_mark(b, &ps[i], &r->bp[i], vt, r->summary.verdict_step, verdict.s);
        sb_puts(b, "</g>\n");
    }
    if (mark < n) {
        double y = last->top + last->ph + below(&sp) + 4;
        sb_printf(b,
                  "<g class=\"verdict-legend\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\" stroke=\"#e8112d\" stroke-width=\"2\"/>",
                  ps[0].left, y - 4, ps[0].left + 18, y - 4);
        sbuf words = {0};
        sb_printf(&words, "the run's verdict: %s in layer ", verdict.s);
        rp_bptt_panel_name(&words, &r->bp[mark]);
        sb_printf(&words, ", from step %lld on", r->summary.verdict_step);
        text_el(b, ps[0].left + 24, y, "start", " font-size=\"12\"", words.s);
        sb_free(&words);
        sb_puts(b, "</g>\n");
    }
    draw_colorbar(b, ps[0].left + ps[0].pw + 30, ps[0].top, last->top + last->ph - ps[0].top,
                  lo, hi, pal, "\u2016\u2202L/\u2202h\u209c\u2016", sp.bad, sp.missing, sp.zero);
    fig_end(b);
    sb_puts(b, "</div>\n");
    sb_free(&verdict);
    for (size_t i = 0; i < n; i++) {
        free(levs[i]);
        sb_free(&caps[i]);
    }
    free(ps);
    free(levs);
    free(caps);
}

/* A row of the histogram: a layer's weight, or one stacked layer's
   weight_hh_l<k> of a recurrent layer (rp_weight_row). */
typedef struct hist_layer {
    double layer;
    long sub;
    size_t n_k;         /* the layer's stacked layers, for its label */
    const char *tensor; /* the row's first tensor */
} hist_layer;

static int cmp_hist_layer(const void *a, const void *b)
{
    const hist_layer *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

static size_t find_hist_layer(const hist_layer *v, size_t n, double layer, long sub)
{
    size_t lo = 0, hi = n;
    hist_layer key = {.layer = layer, .sub = sub};
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_hist_layer(&v[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void hist_row_label(sbuf *b, const void *ctx, size_t i, size_t stride)
{
    const hist_layer *h = (const hist_layer *)ctx + i;
    if (i % stride == 0)
        rp_weight_row_name(b, h->layer, h->sub, h->n_k);
}

/* The histogram's columns: zero, below the range, decades from dlo, at or
   above it (with non-finite values), those present. */
typedef struct hist_cols {
    int zero, under, over, dlo;
    double under_hi, over_lo;
    size_t n;
} hist_cols;

/* The special columns always labelled, the decades every stride-th. */
static void hist_col_label(sbuf *b, const void *ctx, size_t c, size_t stride)
{
    const hist_cols *h = ctx;
    axis lg = {.log = 1, .step = 1};
    size_t first = (size_t)(h->zero + h->under);
    if (h->zero && c == 0) {
        sb_puts(b, "0");
    } else if (h->under && c == (size_t)h->zero) {
        sb_puts(b, "&lt;");
        tick_label(b, &lg, h->under_hi);
    } else if (h->over && c == h->n - 1) {
        sb_puts(b, "\u2265");
        tick_label(b, &lg, h->over_lo);
    } else if ((c - first) % stride == 0) {
        tick_label(b, &lg, h->dlo + (int)(c - first));
    }
}

void fig_histogram(sbuf *b, const run *r, int color)
{
    hist_layer *layers = gs_xmalloc((r->n_hb + 1) * sizeof *layers);
    size_t R = 0;
    for (size_t i = 0; i < r->n_hb; i++) {
        size_t k = 0;
        while (k < R && (layers[k].layer != r->hb[i].layer || layers[k].sub != r->hb[i].sub))
            k++;
        if (k == R)
            layers[R++] = (hist_layer){r->hb[i].layer, r->hb[i].sub, 1, r->hb[i].tensor};
    }
    qsort(layers, R, sizeof *layers, cmp_hist_layer);
    int recurrent = 0;
    for (size_t i = 0; i < R; i++) {
        recurrent |= layers[i].sub >= 0;
        for (size_t j = 0; j < R && layers[i].sub >= 0; j++)
            if (layers[j].layer == layers[i].layer && layers[j].sub >= (long)layers[i].n_k)
                layers[i].n_k = (size_t)layers[j].sub + 1;
    }
    /* columns: zero, below the range, decades, at or above it / non-finite */
    int dlo = INT_MAX, dhi = INT_MIN, zero = 0, under = 0, over = 0;
    double under_hi = 0, over_lo = 0;
    for (size_t i = 0; i < r->n_hb; i++) {
        const hist_bin *h = &r->hb[i];
        if (isfinite(h->lo) && isfinite(h->hi)) {
            int k = (int)lround(h->lo);
            dlo = k < dlo ? k : dlo;
            dhi = k > dhi ? k : dhi;
        } else if (h->lo == -INFINITY && h->hi == -INFINITY) {
            zero = 1;
        } else if (h->lo == -INFINITY) {
            under = 1;
            under_hi = h->hi;
        } else {
            over = 1;
            over_lo = h->lo;
        }
    }
    int ndec = dlo <= dhi ? dhi - dlo + 1 : 0;
    size_t C = (size_t)(zero + under + ndec + over);
    if (!C || !R) {
        free(layers);
        return;
    }
    double *cnt = gs_xcalloc(R * C, sizeof(double));
    double *tot = gs_xcalloc(R, sizeof(double));
    for (size_t i = 0; i < r->n_hb; i++) {
        const hist_bin *h = &r->hb[i];
        size_t row = find_hist_layer(layers, R, h->layer, h->sub);
        if (strcmp(layers[row].tensor, h->tensor))
            continue;
        size_t col;
        if (isfinite(h->lo) && isfinite(h->hi))
            col = (size_t)(zero + under + ((int)lround(h->lo) - dlo));
        else if (h->lo == -INFINITY && h->hi == -INFINITY)
            col = 0;
        else if (h->lo == -INFINITY)
            col = (size_t)zero;
        else
            col = C - 1;
        cnt[row * C + col] += h->count;
        tot[row] += h->count;
    }
    int *lev = gs_xmalloc(R * C * sizeof(int));
    for (size_t i = 0; i < R * C; i++) {
        double t = tot[i / C];
        lev[i] = cnt[i] > 0 && t > 0 ? level(log10(cnt[i] / t), -4, 0) : -1;
    }
    double *lv = gs_xmalloc(R * sizeof(double));
    for (size_t i = 0; i < R; i++)
        lv[i] = layers[i].layer;
    hist_cols hc = {zero, under, over, dlo, under_hi, over_lo, C};
    heat_panel p = {
        .lev = lev, .rows = R, .cols = C, .left = 70, .top = 40, .pw = 860,
        .ph = clampd(R * 14.0, 140, 440),
        .x = {.title = "|\u2202L/\u2202w| of single weights (one column per decade, labelled by "
                       "its lower edge; \u2265 includes inf/NaN)",
              .max_labels = 14, .label = hist_col_label, .ctx = &hc},
        .y = {.title = "layer (input at bottom)",
              .v = lv, .block = 1, .max_labels = 16,
              .label = recurrent ? hist_row_label : NULL, .ctx = layers},
    };
    char title[512];
    snprintf(title, sizeof title,
             "%s: where the elements of \u2202L/\u2202W lie, by decade (step %.0f)", r->label,
             r->h_step);
    char pal[LEV_COUNT][8];
    fig_title(b, "histogram", p.top + p.ph + 80, title, color, p.left);
    make_palette(blues, GS_ARRAY_LEN(blues), pal);
    draw_heat_panel(b, &p, pal);
    if (recurrent)
        recurrent_note(b, p.left, p.top + p.ph + 60);
    draw_colorbar(b, p.left + p.pw + 30, p.top, p.ph, -4, 0, pal, "fraction of the tensor", 0, 0,
                  0);
    free(lv);
    fig_end(b);
    free(cnt);
    free(tot);
    free(lev);
    free(layers);
}
