/*
 * gradscope report: the groups of a sweep (figures.h), each the seeds of
 * one setting, gathered step by step into a median and a min-max band, and
 * every group on one axis.  The seeds of a group are aligned by step: at
 * each monitored step of any of them, the statistics are over the seeds
 * that have a usable value there, so runs of different lengths, and runs
 * that stopped or diverged, count where they have data.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/report/figures.h"
#include "base/util.h"
#include "tools/report/svg.h"

/* Hover points per group and panel: the values behind the lines, read in
   a browser's tooltip without JavaScript. */
#define MAX_TIPS 40

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v; the middle value, or the mean of the middle two. */
static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What the group figure draws of run r at a monitored step: the first
   weighted layer's |dL/dW| (which 0) or its ratio to the last one's
   (which 1); NaN where there is none to draw on a log axis (not recorded,
   not finite, zero). */
static double run_value(const run *r, double step, int which)
{
    size_t k = rp_find_index(r->g_steps, r->n_steps, step);
    if (k == r->n_steps || r->g_steps[k] != step)
        return NAN;
    const double *row = r->g_norm + k * r->n_layers;
    double v = which ? row[0] / row[r->n_layers - 1] : row[0];
    return isfinite(v) && v > 0 ? v : NAN;
}

/* A group's statistics over steps; NaN at a step where no seed has a value. */
typedef struct gstat {
    double *x, *med, *lo, *hi;
    size_t *k; /* seeds with a value */
    size_t n;
} gstat;

static void gstat_free(gstat *s)
{
    free(s->x);
    free(s->med);
    free(s->lo);
    free(s->hi);
    free(s->k);
    memset(s, 0, sizeof *s);
}

static void group_stats(const runs *rs, const rp_group *g, int which, gstat *st)
{
    size_t total = 0;
    for (size_t m = 0; m < g->n; m++)
        if (g->m[m].run >= 0)
            total += rs->v[g->m[m].run].n_steps;
    memset(st, 0, sizeof *st);
    st->x = gs_xmalloc((total + 1) * sizeof(double));
    for (size_t m = 0; m < g->n; m++)
        if (g->m[m].run >= 0) {
            const run *r = &rs->v[g->m[m].run];
            memcpy(st->x + st->n, r->g_steps, r->n_steps * sizeof(double));
            st->n += r->n_steps;
        }
    qsort(st->x, st->n, sizeof(double), cmp_double);
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++)
        if (!n || st->x[i] != st->x[n - 1])
            st->x[n++] = st->x[i];
    st->n = n;
    st->med = gs_xmalloc((n + 1) * sizeof(double));
    st->lo = gs_xmalloc((n + 1) * sizeof(double));
    st->hi = gs_xmalloc((n + 1) * sizeof(double));
    st->k = gs_xmalloc((n + 1) * sizeof(size_t));
    double *v = gs_xmalloc((g->n + 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t m = 0; m < g->n; m++) {
            if (g->m[m].run < 0)
                continue;
            double y = run_value(&rs->v[g->m[m].run], st->x[i], which);
            if (!isnan(y))
                v[k++] = y;
        }
        st->k[i] = k;
        st->med[i] = median(v, k);
        st->lo[i] = k ? v[0] : NAN;
        st->hi[i] = k ? v[k - 1] : NAN;
    }
    free(v);
}

/* Group i's line style: its color, and past the palette a dash. */
static int group_dash(size_t i) { return (int)(i / 10 % 3); }

static void tips(sbuf *b, const panel *p, const gstat *st, const char *label, size_t members,
                 int color)
{
    sb_printf(b, "<g class=\"tips\" fill=\"%s\">", run_color(color));
    size_t shown = st->n < MAX_TIPS ? st->n : MAX_TIPS;
    for (size_t j = 0; j < shown; j++) {
        size_t i = shown > 1 ? j * (st->n - 1) / (shown - 1) : 0;
        double px, py;
        if (!st->k[i] || !panel_point(p, st->x[i], st->med[i], &px, &py))
            continue;
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill-opacity=\"0\"><title>", px, py);
        sb_esc(b, label);
        sb_printf(b, ", step %.0f: median %.6g, min %.6g, max %.6g (%zu of %zu runs)</title>"
                     "</circle>",
                  st->x[i], st->med[i], st->lo[i], st->hi[i], st->k[i], members);
    }
    sb_puts(b, "</g>\n");
}

/* The legend beside the panels has room for about this many characters;
   longer labels go in a legend beneath them, whole. */
#define LEGEND_CHARS 28

void fig_groups(sbuf *b, const runs *rs)
{
    size_t ng = rs->ng;
    gstat *st = gs_xcalloc(2 * ng + 1, sizeof *st);
    int any = 0;
    for (size_t i = 0; i < ng; i++)
        for (int w = 0; w < 2; w++) {
            group_stats(rs, &rs->g[i], w, &st[2 * i + (size_t)w]);
            for (size_t k = 0; k < st[2 * i + (size_t)w].n; k++)
                any |= st[2 * i + (size_t)w].k[k] > 0;
        }
    if (!any)
        goto done;
    int below = 0;
    for (size_t i = 0; i < ng; i++)
        below |= strlen(rs->g[i].label) > LEGEND_CHARS;
    double h = below ? 350 + 18.0 * (double)ng : 50 + 18.0 * (double)ng + 20;
    fig_begin(b, "groups", 1100, h > 330 ? h : 330,
              "Each group: median over its seeds with the min-max band, over training steps", 0);
    static const char *const titles[] = {"First layer \u2016\u2202L/\u2202W\u2016",
                                         "First/last layer \u2016\u2202L/\u2202W\u2016 ratio"};
    static const char *const ylabels[] = {"\u2016\u2202L/\u2202W\u2016 of the first layer",
                                          "first / last"};
    series *s = gs_xmalloc((3 * ng + 1) * sizeof *s);
    for (int w = 0; w < 2; w++) {
        panel p = {.x = 450.0 * w,
                   .y = 5,
                   .w = 450,
                   .h = 320,
                   .title = titles[w],
                   .xlabel = "step",
                   .ylabel = ylabels[w],
                   .integer_x = 1};
        /* the axes hold the bands, not only the medians */
        for (size_t i = 0; i < ng; i++) {
            const gstat *g = &st[2 * i + (size_t)w];
            s[3 * i] = (series){g->x, g->med, g->n, (int)i, 0, 0};
            s[3 * i + 1] = (series){g->x, g->lo, g->n, (int)i, 0, 0};
            s[3 * i + 2] = (series){g->x, g->hi, g->n, (int)i, 0, 0};
        }
        panel_fit(&p, s, 3 * ng, 2);
        panel_begin(b, &p);
        for (size_t i = 0; i < ng; i++) {
            const gstat *g = &st[2 * i + (size_t)w];
            panel_band(b, &p, g->x, g->lo, g->hi, g->n, (int)i);
        }
        for (size_t i = 0; i < ng; i++) {
            const gstat *g = &st[2 * i + (size_t)w];
            sb_puts(b, "<g class=\"median\" data-group=\"");
            sb_esc(b, rs->g[i].label);
            sb_puts(b, "\">\n");
            series m = {g->x, g->med, g->n, (int)i, group_dash(i), 0};
            panel_line(b, &p, &m);
            tips(b, &p, g, rs->g[i].label, rs->g[i].n, (int)i);
            sb_puts(b, "</g>\n");
        }
        panel_end(b);
    }
    legend_item *it = gs_xmalloc((ng + 1) * sizeof *it);
    for (size_t i = 0; i < ng; i++)
        it[i] = (legend_item){rs->g[i].label, (int)i, group_dash(i)};
    if (below)
        draw_legend(b, 66, 350, it, ng);
    else
        draw_legend(b, 920, 50, it, ng);
    free(it);
    fig_end(b);
    free(s);
done:
    for (size_t i = 0; i < 2 * ng; i++)
        gstat_free(&st[i]);
    free(st);
}

/* "%.4g"; n/a for none. */
static void num(sbuf *b, double v)
{
    if (isnan(v))
        sb_puts(b, "n/a");
    else if (isinf(v))
        sb_puts(b, v > 0 ? "inf" : "-inf");
    else
        sb_printf(b, "%.4g", v);
}

/* The median of the finite values, then their range when they differ. */
static void stat_cell(sbuf *b, double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            v[k++] = v[i];
    sb_puts(b, "<td>");
    num(b, median(v, k));
    if (k > 1 && v[0] != v[k - 1]) {
        sb_puts(b, " <span class=\"range\">(");
        num(b, v[0]);
        sb_puts(b, "\u2013");
        num(b, v[k - 1]);
        sb_puts(b, ")</span>");
    }
    sb_puts(b, "</td>");
}

/* "3 completed, 1 diverged": the distinct names in order of first use. */
static void counts(sbuf *b, const char *const *names, size_t n)
{
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = 0, j = 0;
        while (j < i && strcmp(names[j], names[i]))
            j++;
        if (j < i)
            continue;
        for (j = i; j < n; j++)
            c += !strcmp(names[j], names[i]);
        sb_printf(b, "%s%zu ", first ? "" : ", ", c);
        sb_esc(b, names[i]);
        first = 0;
    }
    if (first)
        sb_puts(b, "\u2014");
}

void groups_table(sbuf *b, const runs *rs)
{
    sb_puts(b, "<table class=\"groups\">\n<tr><th>group</th><th>runs</th><th>status</th>"
               "<th>verdicts</th><th>test accuracy</th><th>train loss</th><th>val loss</th>"
               "<th title=\"|dL/dW| of the first layer over that of the last, at the last "
               "monitored step\">grad ratio first/last</th></tr>\n");
    for (size_t i = 0; i < rs->ng; i++) {
        const rp_group *g = &rs->g[i];
        const char **status = gs_xmalloc((g->n + 1) * sizeof *status);
        const char **verdict = gs_xmalloc((g->n + 1) * sizeof *verdict);
        double *v = gs_xmalloc(4 * (g->n + 1) * sizeof *v);
        size_t nv = 0, ns = 0;
        for (size_t m = 0; m < g->n; m++) {
            status[m] = rp_member_status(rs, &g->m[m]);
            const run *r = g->m[m].run >= 0 ? &rs->v[g->m[m].run] : NULL;
            if (!r || r->has_summary <= 0)
                continue;
            verdict[nv++] = gs_verdict_name(r->summary.verdict);
            v[ns] = r->summary.test_accuracy;
            v[g->n + 1 + ns] = r->summary.train_loss;
            v[2 * (g->n + 1) + ns] = r->summary.val_loss;
            v[3 * (g->n + 1) + ns] = r->summary.grad_ratio_first_last;
            ns++;
        }
        sb_printf(b, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>",
                  run_color((int)i));
        sb_esc(b, g->label);
        sb_printf(b, "</td><td>%zu</td><td>", g->n);
        counts(b, status, g->n);
        sb_puts(b, "</td><td>");
        counts(b, verdict, nv);
        sb_puts(b, "</td>");
        for (size_t c = 0; c < 4; c++)
            stat_cell(b, v + c * (g->n + 1), ns);
        sb_puts(b, "</tr>\n");
        free(status);
        free(verdict);
        free(v);
    }
    sb_puts(b, "</table>\n");
}
