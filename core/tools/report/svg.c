/* gradscope report: the drawing primitives (svg.h). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/report/svg.h"
#include "base/util.h"

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

const char *run_color(int i)
{
    return i < 0 ? INK : palette[(size_t)i % GS_ARRAY_LEN(palette)];
}

static const char *dash_attr(int dash)
{
    static const char *const d[] = {
        " stroke-width=\"1.8\"", " stroke-width=\"1.8\" stroke-dasharray=\"7 4\"",
        " stroke-width=\"1.8\" stroke-dasharray=\"2 3\"",
        " stroke-width=\"7\" stroke-opacity=\"0.3\" stroke-linecap=\"round\""};
    return d[dash > 0 && dash <= BAND ? dash : 0];
}

static int ax_px(const axis *ax, double v, double *px)
{
    if (!isfinite(v) || (ax->log && v <= 0))
        return 0;
    double t = ax->log ? log10(v) : v;
    *px = ax->a + (t - ax->lo) * (ax->b - ax->a) / (ax->hi - ax->lo);
    return 1;
}

static void range_add(range *r, double v, int log)
{
    if (!isfinite(v) || (log && v <= 0))
        return;
    double t = log ? log10(v) : v;
    if (!r->any || t < r->lo)
        r->lo = t;
    if (!r->any || t > r->hi)
        r->hi = t;
    r->any = 1;
}

void range_addv(range *r, const double *v, size_t n, int log)
{
    for (size_t i = 0; i < n; i++)
        range_add(r, v[i], log);
}

static double nice_step(double span, int target)
{
    double raw = span / target, m = pow(10, floor(log10(raw))), f = raw / m;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * m;
}

void decades(double lo, double hi, axis *ax)
{
    ax->lo = floor(lo);
    ax->hi = ceil(hi) > ax->lo ? ceil(hi) : ax->lo + 1;
    ax->step = ceil((ax->hi - ax->lo) / 8);
}

double first_tick(const axis *ax) { return ceil(ax->lo / ax->step - 1e-9) * ax->step; }

size_t label_stride(size_t count, size_t max_labels)
{
    static const size_t nice[] = {1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000};
    for (size_t i = 0; i < GS_ARRAY_LEN(nice); i++)
        if (count <= nice[i] * max_labels)
            return nice[i];
    return (count + max_labels - 1) / max_labels;
}

void axis_fit(axis *ax, const range *r, int log, int integer)
{
    ax->log = log;
    ax->integer = integer;
    double lo = r->any ? r->lo : 0, hi = r->any ? r->hi : 1;
    if (log) {
        decades(lo, hi, ax);
        return;
    }
    if (hi - lo < 1e-12 * (fabs(hi) + fabs(lo)) || hi == lo) {
        double pad = integer ? 1 : (fabs(lo) > 0 ? 0.1 * fabs(lo) : 1);
        lo -= pad;
        hi += pad;
    }
    ax->step = nice_step(hi - lo, 6);
    if (integer && ax->step < 1)
        ax->step = 1;
    ax->lo = floor(lo / ax->step + 1e-9) * ax->step;
    ax->hi = ceil(hi / ax->step - 1e-9) * ax->step;
}

void fixed_axis(axis *ax, double lo, double hi, double step)
{
    memset(ax, 0, sizeof *ax);
    ax->lo = lo;
    ax->hi = hi;
    ax->step = step;
}

/* Log data when it is positive and spans more than two decades. */
static int wants_log(const range *lin, const range *lg)
{
    return lg->any && lin->any && lin->lo > 0 && lg->hi - lg->lo > 2;
}

void tick_label(sbuf *b, const axis *ax, double t)
{
    if (ax->log) {
        long k = lround(t);
        sb_printf(b, "10<tspan dy=\"-0.45em\" font-size=\"78%%\">%s%ld</tspan>",
                  k < 0 ? "\u2212" : "", labs(k));
        return;
    }
    double v = ax->step * round(t / ax->step);
    char buf[48];
    /* very small steps or large values in scientific notation (5e-13,
       3e+05): fixed notation would need a dozen digits */
    double big = fmax(fabs(ax->lo), fabs(ax->hi));
    if (ax->step < 1e-3 || big >= 1e5)
        snprintf(buf, sizeof buf, "%.3g", v == 0 ? 0.0 : v);
    else
        snprintf(buf, sizeof buf, "%.*f", ax->step >= 1 ? 0 : (int)ceil(-log10(ax->step) - 1e-9),
                 v == 0 ? 0.0 : v);
    for (const char *c = buf; *c; c++)
        if (*c == '-')
            sb_puts(b, "\u2212");
        else
            sb_put(b, c, 1);
}

/* Plot area inside the outer box. */
static double pl_left(const panel *p) { return p->x + 66; }
static double pl_right(const panel *p) { return p->x + p->w - 12; }
static double pl_top(const panel *p) { return p->y + 30; }
static double pl_bottom(const panel *p) { return p->y + p->h - 44; }

void panel_fit(panel *p, const series *s, size_t ns, int logy_allowed)
{
    range rx = {0}, ry = {0}, ryl = {0};
    for (size_t i = 0; i < ns; i++) {
        range_addv(&rx, s[i].x, s[i].n, 0);
        if (!p->fixed_y) {
            range_addv(&ry, s[i].y, s[i].n, 0);
            range_addv(&ryl, s[i].y, s[i].n, 1);
        }
    }
    axis_fit(&p->ax, &rx, 0, p->integer_x);
    if (!p->fixed_y) {
        int lg = logy_allowed == 2 || (logy_allowed && wants_log(&ry, &ryl));
        axis_fit(&p->ay, lg ? &ryl : &ry, lg, 0);
    }
}

void text_el(sbuf *b, double x, double y, const char *anchor, const char *extra, const char *txt)
{
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor,
              extra ? extra : "");
    sb_esc(b, txt);
    sb_puts(b, "</text>\n");
}

/* Pixel of an axis position (log10 units on log axes). */
static double ax_pos(const axis *ax, double t)
{
    return ax->a + (t - ax->lo) * (ax->b - ax->a) / (ax->hi - ax->lo);
}

/* A line across the plot area at pixel px of the x (k = 0) or y axis. */
static void gridline(sbuf *b, const panel *p, int k, double px, const char *color)
{
    double x1 = k ? pl_left(p) : px, x2 = k ? pl_right(p) : px;
    double y1 = k ? px : pl_top(p), y2 = k ? px : pl_bottom(p);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x1, y1,
              x2, y2, color);
}

static void draw_frame(sbuf *b, panel *p)
{
    double l = pl_left(p), r = pl_right(p), t = pl_top(p), bo = pl_bottom(p);
    p->ax.a = l;
    p->ax.b = r;
    p->ay.a = bo;
    p->ay.b = t;
    sb_printf(b, "<g class=\"panel\">\n");
    text_el(b, (l + r) / 2, p->y + 18, "middle", " font-weight=\"bold\" font-size=\"13\"",
            p->title);
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
              "stroke=\"#999\"/>\n",
              l, t, r - l, bo - t);
    /* grid and tick labels */
    sb_puts(b, "<g class=\"ticks\" font-size=\"11\" fill=\"" INK "\">\n");
    const axis *axes[2] = {&p->ax, &p->ay};
    for (int k = 0; k < 2; k++) {
        const axis *ax = axes[k];
        /* faint gridlines first: every decade of a log axis, and 2..9 x 10^k
           on a log axis of few decades */
        int fine = ax->log && ax->hi - ax->lo <= 4;
        if (ax->log && (fine || ax->step > 1))
            for (double dec = ax->lo; dec < ax->hi; dec++)
                for (int m = 1; m <= (fine ? 9 : 1); m++)
                    if (m > 1 || fmod(dec, ax->step) != 0)
                        gridline(b, p, k, ax_pos(ax, dec + log10(m)), MINOR);
        double t1 = first_tick(ax);
        int n = (int)floor((ax->hi - t1) / ax->step + 1e-6);
        for (int i = 0; i <= n; i++) {
            double t0 = t1 + i * ax->step, px = ax_pos(ax, t0);
            gridline(b, p, k, px, GRID);
            if (k == 0)
                sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px, bo + 15);
            else
                sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", l - 5, px + 4);
            tick_label(b, ax, t0);
            sb_puts(b, "</text>\n");
        }
    }
    sb_puts(b, "</g>\n");
    text_el(b, (l + r) / 2, p->y + p->h - 10, "middle", " class=\"xlabel\"", p->xlabel);
    char rot[96];
    snprintf(rot, sizeof rot, " class=\"ylabel\" transform=\"rotate(-90 %.1f %.1f)\"", p->x + 14,
             (t + bo) / 2);
    text_el(b, p->x + 14, (t + bo) / 2, "middle", rot, p->ylabel);
}

/* Long series are thinned to about this many points. */
#define MAX_POINTS 1500

static void draw_series(sbuf *b, const panel *p, const series *s)
{
    size_t stride = s->n > MAX_POINTS ? (s->n + MAX_POINTS - 1) / MAX_POINTS : 1;
    sbuf d = {0}, dots = {0};
    size_t run_len = 0; /* points in the current unbroken stretch */
    double lx = 0, ly = 0;
    for (size_t i = 0; i <= s->n; i += stride) {
        size_t k = i >= s->n ? s->n : i + stride >= s->n ? s->n - 1 : i;
        double x, y;
        if (k == s->n || !ax_px(&p->ax, s->x[k], &x) || !ax_px(&p->ay, s->y[k], &y)) {
            /* a point between gaps would be an invisible path: a dot */
            if (run_len == 1 && !s->marker)
                sb_printf(&dots, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", lx, ly);
            run_len = 0;
            if (k == s->n)
                break;
            continue;
        }
        sb_printf(&d, "%s%.1f %.1f", run_len ? " L" : (d.len ? " M" : "M"), x, y);
        run_len++;
        lx = x;
        ly = y;
    }
    if (d.len)
        sb_printf(b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\"%s/>\n", d.s, run_color(s->color),
                  dash_attr(s->dash));
    if (dots.len)
        sb_printf(b, "<g fill=\"%s\">%s</g>\n", run_color(s->color), dots.s);
    sb_free(&d);
    sb_free(&dots);
    if (s->marker && s->n <= 60) {
        sb_printf(b, "<g fill=\"%s\">", run_color(s->color));
        for (size_t i = 0; i < s->n; i++) {
            double x, y;
            if (ax_px(&p->ax, s->x[i], &x) && ax_px(&p->ay, s->y[i], &y))
                sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"/>", x, y,
                          s->dash ? "2" : "2.6");
        }
        sb_puts(b, "</g>\n");
    }
    /* exact zeros have no place on a log axis: open triangles on its floor;
       infinite values (and failed, NaN gradients) crosses on its ceiling */
    if (s->marker) {
        sbuf m = {0};
        for (size_t i = 0; i < s->n; i++) {
            double x;
            if (!ax_px(&p->ax, s->x[i], &x))
                continue;
            if (s->y[i] == 0 && p->ay.log)
                sb_printf(&m, "<path d=\"M%.1f %.1fl4 -7h-8z\" fill=\"#fff\"/>", x, p->ay.a);
            else if (s->y[i] == INFINITY)
                sb_printf(&m, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke-width=\"2\"/>", x - 4,
                          p->ay.b - 4);
        }
        if (m.len)
            sb_printf(b, "<g class=\"offscale\" stroke=\"%s\">%s</g>\n", run_color(s->color), m.s);
        sb_free(&m);
    }
}

void draw_panel(sbuf *b, panel *p, const series *s, size_t ns)
{
    panel_begin(b, p);
    for (size_t i = 0; i < ns; i++)
        draw_series(b, p, &s[i]);
    panel_end(b);
}

void panel_begin(sbuf *b, panel *p) { draw_frame(b, p); }

void panel_line(sbuf *b, const panel *p, const series *s) { draw_series(b, p, s); }

void panel_end(sbuf *b) { sb_puts(b, "</g>\n"); }

void panel_band(sbuf *b, const panel *p, const double *x, const double *lo, const double *hi,
                size_t n, int color)
{
    size_t stride = n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1;
    sbuf d = {0};
    /* each unbroken stretch: along the top edge, back along the bottom one */
    if (!n)
        return;
    double *px = gs_xmalloc((3 * n + 1) * sizeof *px), *ptop = px + n, *pbot = ptop + n;
    size_t len = 0;
    for (size_t i = 0; i <= n; i += stride) {
        size_t k = i >= n ? n : i + stride >= n ? n - 1 : i;
        double xx, yt, yb;
        int ok = k < n && ax_px(&p->ax, x[k], &xx) && ax_px(&p->ay, hi[k], &yt) &&
                 ax_px(&p->ay, lo[k], &yb);
        if (ok) {
            px[len] = xx;
            ptop[len] = yt;
            pbot[len++] = yb;
        }
        if (!ok || k == n - 1) {
            if (len > 1) {
                for (size_t j = 0; j < len; j++)
                    sb_printf(&d, "%s%.1f %.1f", j ? " L" : (d.len ? " M" : "M"), px[j], ptop[j]);
                for (size_t j = len; j-- > 0;)
                    sb_printf(&d, " L%.1f %.1f", px[j], pbot[j]);
                sb_puts(&d, " Z");
            }
            len = 0;
            if (k >= n - 1)
                break;
        }
    }
    if (d.len)
        sb_printf(b,
                  "<path class=\"band\" d=\"%s\" fill=\"%s\" fill-opacity=\"0.2\" "
                  "stroke=\"none\"/>\n",
                  d.s, run_color(color));
    sb_free(&d);
    free(px);
}

int panel_point(const panel *p, double x, double y, double *px, double *py)
{
    return ax_px(&p->ax, x, px) && ax_px(&p->ay, y, py);
}

void draw_legend(sbuf *b, double x, double y, const legend_item *it, size_t n)
{
    sb_puts(b, "<g class=\"legend\" font-size=\"12\">\n");
    for (size_t i = 0; i < n; i++) {
        double yy = y + 18.0 * (double)i;
        if (!it[i].label) /* a gap between groups */
            continue;
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>", x,
                  yy, x + 26, yy, run_color(it[i].color), dash_attr(it[i].dash));
        text_el(b, x + 32, yy + 4, "start", NULL, it[i].label);
    }
    sb_puts(b, "</g>\n");
}

void fig_begin(sbuf *b, const char *cls, double w, double h, const char *title, int standalone)
{
    sb_printf(b,
              "<svg %sclass=\"figure %s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
              "font-family=\"" FONT "\" font-size=\"12\" fill=\"" INK "\" role=\"img\">\n<title>",
              standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", cls, w, h, w, h);
    sb_esc(b, title);
    sb_printf(b, "</title>\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", w, h);
}

void fig_end(sbuf *b) { sb_puts(b, "</svg>\n"); }
