/*
 * gradscope report: gradients through time.  ||dL/dh_t|| of every recurrent
 * layer, read from bptt.csv (a layer's top stacked layer) and series.csv
 * (dL/dh_l<k> of the stacked layers below it), and the decay rate per time
 * step measured from it, next to what the recurrent weights predict
 * (Pascanu, Mikolov & Bengio 2013): for h_t = phi(W h_{t-1} + ...),
 * dh_t/dh_{t-1} = diag(phi') W, so per step back the norm changes by about
 * rho(W) in a linear RNN, and by at most gamma sigma_max(W) (gamma = sup
 * |phi'| = 1 for tanh and relu).  The heatmap is heatmap.c's fig_bptt.
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

/* One layer's rows as read, in file order, before they become its matrix. */
typedef struct point {
    double step, t, v;
} point;

typedef struct pending {
    double layer;
    long sub;
    point *p;
    size_t n, cap;
} pending;

typedef struct pendings {
    pending *v;
    size_t n, cap;
} pendings;

static pending *pending_of(pendings *ps, double layer, long sub, int add)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].layer == layer && ps->v[i].sub == sub)
            return &ps->v[i];
    if (!add)
        return NULL;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 4;
        ps->v = gs_xrealloc(ps->v, ps->cap * sizeof *ps->v);
    }
    ps->v[ps->n] = (pending){.layer = layer, .sub = sub};
    return &ps->v[ps->n++];
}

static void add_point(pending *q, double step, double t, double v)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 256;
        q->p = gs_xrealloc(q->p, q->cap * sizeof *q->p);
    }
    /* a NaN norm is a failure, kept apart from "not recorded" (NaN) */
    q->p[q->n++] = (point){step, t, isnan(v) ? INFINITY : v};
}

/* t bounded: one bad row must not ask for a huge matrix */
static int valid_point(const double v[4])
{
    return isfinite(v[0]) && isfinite(v[1]) && v[2] >= 0 && v[2] < 1e6 && v[2] == floor(v[2]);
}

static void read_top_rows(run *r, pendings *ps)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_BPTT];
    static const size_t cols[] = {GS_BPTT_STEP, GS_BPTT_LAYER, GS_BPTT_T, GS_BPTT_GRAD_NORM};
    gs_table t;
    if (rp_open_table(r, &t, fmt, UINT64_MAX, 0) < 0)
        return;
    for (size_t row = 0; row < t.rows; row++) {
        double v[4];
        if (rp_nums(&t, row, cols, 4, v) < 0 || !valid_point(v)) {
            rp_reject(&t, row);
            continue;
        }
        add_point(pending_of(ps, v[1], -1, 1), v[0], v[2], v[3]);
    }
    rp_close_table(r, &t, fmt);
}

/* The stacked layer k of a series name GS_SERIES_BPTT "_l<k>"; -1 for
   another name. */
static long stacked_index(const char *name)
{
    static const char prefix[] = GS_SERIES_BPTT "_l";
    size_t n = sizeof prefix - 1;
    if (strncmp(name, prefix, n) || name[n] < '0' || name[n] > '9')
        return -1;
    char *end;
    unsigned long k = strtoul(name + n, &end, 10);
    return *end || k > 1000000 ? -1 : (long)k;
}

/* The stacked layers below the top ones of the layers bptt.csv has. */
static void read_stacked_rows(run *r, pendings *ps)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_SERIES];
    static const size_t cols[] = {GS_SERIES_STEP, GS_SERIES_LAYER, GS_SERIES_INDEX,
                                  GS_SERIES_VALUE};
    gs_table t;
    if (rp_open_table(r, &t, fmt, UINT64_MAX, 0) < 0)
        return;
    size_t tops = ps->n;
    for (size_t row = 0; row < t.rows; row++) {
        long k = stacked_index(gs_table_cell(&t, row, GS_SERIES_NAME));
        if (k < 0 || strcmp(gs_table_cell(&t, row, GS_SERIES_AXIS), GS_AXIS_NAME_TIME))
            continue;
        double v[4];
        if (rp_nums(&t, row, cols, 4, v) < 0 || !valid_point(v)) {
            rp_reject(&t, row);
            continue;
        }
        int has_top = 0;
        for (size_t i = 0; i < tops; i++)
            has_top |= ps->v[i].layer == v[1];
        if (has_top)
            add_point(pending_of(ps, v[1], k, 1), v[0], v[2], v[3]);
    }
    rp_close_table(r, &t, fmt);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* model order; within a layer its stacked layers from the bottom, the top
   one (sub -1) last */
static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    long kx = x->sub < 0 ? LONG_MAX : x->sub, ky = y->sub < 0 ? LONG_MAX : y->sub;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return kx < ky ? -1 : kx > ky;
}

static void make_panel(bptt_panel *p, const pending *q)
{
    double *d = gs_xmalloc(q->n * sizeof(double));
    double max_t = 0;
    for (size_t i = 0; i < q->n; i++) {
        d[i] = q->p[i].step;
        max_t = q->p[i].t > max_t ? q->p[i].t : max_t;
    }
    qsort(d, q->n, sizeof(double), cmp_double);
    size_t ns = 0;
    for (size_t i = 0; i < q->n; i++)
        if (!ns || d[i] != d[ns - 1])
            d[ns++] = d[i];
    *p = (bptt_panel){.layer = q->layer, .sub = q->sub, .k = q->sub < 0 ? 0 : q->sub, .steps = d,
                      .n_steps = ns, .T = (size_t)max_t + 1};
    p->norm = gs_xmalloc(ns * p->T * sizeof(double));
    for (size_t i = 0; i < ns * p->T; i++)
        p->norm[i] = NAN;
    for (size_t i = 0; i < q->n; i++)
        p->norm[rp_find_index(d, ns, q->p[i].step) * p->T + (size_t)q->p[i].t] = q->p[i].v;
    size_t gs = GS_ARRAY_LEN(p->gate);
    p->rho = gs_xmalloc(gs * ns * sizeof(double));
    p->sigma = gs_xmalloc(gs * ns * sizeof(double));
    for (size_t i = 0; i < gs * ns; i++)
        p->rho[i] = p->sigma[i] = NAN;
}

/* The stacked layer k of a recurrent weight "weight_hh_l<k>[.<gate>]",
   its gate ("" for an rnn's one matrix) in *gate; -1 for another tensor. */
static long weight_hh_index(const char *w, const char **gate)
{
    unsigned k;
    int used = 0;
    if (sscanf(w, "weight_hh_l%u%n", &k, &used) != 1 || !used || (w[used] && w[used] != '.'))
        return -1;
    *gate = w[used] ? w + used + 1 : w + used;
    return (long)k;
}

/* rho and sigma_max of each panel's weight_hh_l<k> at its steps, from the
   recurrent rows of theory.csv (as load.c read it): the one place that
   knows where the core logs them.  A top layer's k is the largest the file
   has for its layer. */
static void read_spectral(run *r)
{
    const gs_table *t = &r->theory;
    static const size_t need[] = {GS_THEORY_FIRST_LAYER, GS_THEORY_STACK, GS_THEORY_STEP,
                                  GS_THEORY_WEIGHT, GS_THEORY_RHO, GS_THEORY_SIGMA_MAX};
    if (!t->ncol)
        return;
    for (size_t i = 0; i < GS_ARRAY_LEN(need); i++)
        if (t->col[need[i]] < 0)
            return;
    static const size_t cols[] = {GS_THEORY_STEP, GS_THEORY_FIRST_LAYER, GS_THEORY_RHO,
                                  GS_THEORY_SIGMA_MAX};
    for (int pass = 0; pass < 2; pass++)
        for (size_t row = 0; row < t->rows; row++) {
            double v[4];
            const char *gate;
            long k = weight_hh_index(gs_table_cell(t, row, GS_THEORY_WEIGHT), &gate);
            if (k < 0 ||
                strcmp(gs_table_cell(t, row, GS_THEORY_STACK), GS_THEORY_STACK_RECURRENT) ||
                rp_nums(t, row, cols, 4, v) < 0 || !isfinite(v[0]))
                continue;
            for (size_t i = 0; i < r->n_bp; i++) {
                bptt_panel *p = &r->bp[i];
                if (p->layer != v[1])
                    continue;
                if (pass == 0) {
                    if (p->sub < 0 && k > p->k)
                        p->k = k;
                    continue;
                }
                size_t s = rp_find_index(p->steps, p->n_steps, v[0]);
                if (k != p->k || s == p->n_steps || p->steps[s] != v[0])
                    continue;
                size_t g = 0;
                while (g < p->n_gates && strcmp(p->gate[g], gate))
                    g++;
                if (g == GS_ARRAY_LEN(p->gate) || strlen(gate) >= sizeof p->gate[0])
                    continue;
                if (g == p->n_gates)
                    snprintf(p->gate[p->n_gates++], sizeof p->gate[0], "%s", gate);
                p->rho[g * p->n_steps + s] = v[2];
                p->sigma[g * p->n_steps + s] = v[3];
            }
        }
}

void rp_bptt_load(run *r)
{
    pendings ps = {0};
    read_top_rows(r, &ps);
    if (ps.n)
        read_stacked_rows(r, &ps);
    if (ps.n)
        qsort(ps.v, ps.n, sizeof *ps.v, cmp_pending);
    r->bp = gs_xmalloc((ps.n + 1) * sizeof *r->bp);
    r->n_bp = 0;
    for (size_t i = 0; i < ps.n; i++) {
        if (ps.v[i].n)
            make_panel(&r->bp[r->n_bp++], &ps.v[i]);
        free(ps.v[i].p);
    }
    free(ps.v);
    /* a layer's panels: the top one is the stacked layer above the others */
    for (size_t i = 0; i < r->n_bp; i++)
        for (size_t j = 0; j < r->n_bp; j++)
            if (r->bp[j].layer == r->bp[i].layer) {
                r->bp[i].n_stacked++;
                if (r->bp[i].sub < 0 && r->bp[j].sub >= r->bp[i].k)
                    r->bp[i].k = r->bp[j].sub + 1;
            }
    read_spectral(r);
}

void rp_bptt_free(run *r)
{
    for (size_t i = 0; i < r->n_bp; i++) {
        free(r->bp[i].steps);
        free(r->bp[i].norm);
        free(r->bp[i].rho);
        free(r->bp[i].sigma);
    }
    free(r->bp);
    r->bp = NULL;
    r->n_bp = 0;
}

double rp_bptt_slope(const bptt_panel *p, size_t s)
{
    const double *v = p->norm + s * p->T;
    double n = 0, st = 0, sy = 0, stt = 0, sty = 0;
    for (size_t t = 0; t < p->T; t++) {
        if (!(isfinite(v[t]) && v[t] > 0))
            continue;
        double y = log10(v[t]), x = (double)t;
        n++;
        st += x;
        sy += y;
        stt += x * x;
        sty += x * y;
    }
    double den = n * stt - st * st;
    return n >= 2 && den > 0 ? (n * sty - st * sy) / den : NAN;
}

double rp_bptt_verdict_t(const run *r)
{
    const gs_summary *su = &r->summary;
    if (r->has_summary != 1 || su->verdict == GS_VERDICT_HEALTHY || su->verdict_layer < 0 ||
        su->verdict_t < 0)
        return NAN;
    return (double)su->verdict_t;
}

void rp_bptt_panel_name(sbuf *b, const bptt_panel *p)
{
    sb_printf(b, "%.0f", p->layer);
    if (p->n_stacked > 1 || p->k > 0)
        sb_printf(b, " (l%ld)", p->k);
}

/* "%.4g" as the other tables; a dash where there is nothing to show */
static void num(sbuf *b, double v)
{
    if (isnan(v))
        sb_puts(b, "\u2014");
    else if (isinf(v))
        sb_puts(b, v > 0 ? "inf" : "-inf");
    else
        sb_printf(b, "%.4g", v);
}

static void cell(sbuf *b, double v)
{
    sb_puts(b, "<td>");
    num(b, v);
    sb_puts(b, "</td>");
}

/* Step s of a panel's rho or sigma_max: an rnn's one value (gate ""), or
   each gate's, "i 0.97" a line; a dash when none was recorded. */
static void gate_cell(sbuf *b, const bptt_panel *p, const double *v, size_t s)
{
    size_t plain = 0, any = 0;
    while (plain < p->n_gates && p->gate[plain][0])
        plain++;
    if (plain < p->n_gates) {
        cell(b, v[plain * p->n_steps + s]);
        return;
    }
    for (size_t g = 0; g < p->n_gates; g++)
        any |= !isnan(v[g * p->n_steps + s]);
    if (!any) {
        cell(b, NAN);
        return;
    }
    sb_puts(b, "<td class=\"gates\">");
    for (size_t g = 0; g < p->n_gates; g++) {
        sb_printf(b, "%s", g ? "<br/>" : "");
        sb_esc(b, p->gate[g]);
        sb_puts(b, "&#160;");
        num(b, v[g * p->n_steps + s]);
    }
    sb_puts(b, "</td>");
}

void bptt_table(sbuf *b, const runs *rs)
{
    sb_puts(b, "<table class=\"bptt\">\n<tr><th>run</th><th>layer</th><th>step</th>"
               "<th>T</th><th>\u2016\u2202L/\u2202h<sub>0</sub>\u2016 / "
               "\u2016\u2202L/\u2202h<sub>T\u22121</sub>\u2016</th>"
               "<th>factor per step back, measured</th><th>\u03c1(W<sub>hh</sub>)</th>"
               "<th>\u03b3 \u03c3<sub>max</sub>(W<sub>hh</sub>) bound</th></tr>\n");
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        for (size_t l = 0; l < r->n_bp; l++) {
            const bptt_panel *p = &r->bp[l];
            size_t S = p->n_steps;
            /* the first, middle and last monitored steps */
            size_t pick[3] = {0, S / 2, S - 1}, np = S >= 3 ? 3 : S;
            if (S == 2)
                pick[1] = 1;
            for (size_t k = 0; k < np; k++) {
                size_t s = pick[k];
                const double *v = p->norm + s * p->T;
                sb_puts(b, "<tr><td>");
                sb_esc(b, r->label);
                sb_puts(b, "</td><td>");
                rp_bptt_panel_name(b, p);
                sb_printf(b, "</td><td>%.0f</td><td>%zu</td>", p->steps[s], p->T);
                cell(b, v[p->T - 1] > 0 ? v[0] / v[p->T - 1] : NAN);
                cell(b, pow(10, -rp_bptt_slope(p, s)));
                gate_cell(b, p, p->rho, s);
                gate_cell(b, p, p->sigma, s); /* gamma = 1: tanh, relu */
                sb_puts(b, "</tr>\n");
            }
        }
    }
    sb_puts(b, "</table>\n");
}
