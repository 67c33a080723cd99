/*
 * gradscope report: gradients through time (bptt.csv).  The decay rate per
 * time step measured from ||dL/dh_t||, next to what the recurrent weights
 * predict (Pascanu, Mikolov & Bengio 2013): for h_t = phi(W h_{t-1} + ...),
 * dh_t/dh_{t-1} = diag(phi') W, so per step back the norm changes by about
 * rho(W) in a linear RNN, and by at most gamma sigma_max(W) (gamma = sup
 * |phi'| = 1 for tanh and relu).  The heatmap is heatmap.c's fig_bptt.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include "tools/report/figures.h"
#include "tools/report/svg.h"

double rp_bptt_slope(const run *r, size_t s)
{
    const double *v = r->b_norm + s * r->b_T;
    double n = 0, st = 0, sy = 0, stt = 0, sty = 0;
    for (size_t t = 0; t < r->b_T; t++) {
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

/* "%.4g" as the other tables; a dash where there is nothing to show */
static void cell(sbuf *b, double v)
{
    if (isnan(v))
        sb_puts(b, "<td>\u2014</td>");
    else if (isinf(v))
        sb_printf(b, "<td>%s</td>", v > 0 ? "inf" : "-inf");
    else
        sb_printf(b, "<td>%.4g</td>", v);
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
        size_t S = r->n_bsteps;
        if (!S)
            continue;
        /* the first, middle and last monitored steps */
        size_t pick[3] = {0, S / 2, S - 1}, np = S >= 3 ? 3 : S;
        if (S == 2)
            pick[1] = 1;
        for (size_t k = 0; k < np; k++) {
            size_t s = pick[k];
            const double *v = r->b_norm + s * r->b_T;
            double slope = rp_bptt_slope(r, s);
            sb_puts(b, "<tr><td>");
            sb_esc(b, r->label);
            sb_printf(b, "</td><td>%.0f</td><td>%.0f</td><td>%zu</td>", r->b_layer,
                      r->b_steps[s], r->b_T);
            cell(b, v[r->b_T - 1] > 0 ? v[0] / v[r->b_T - 1] : NAN);
            cell(b, pow(10, -slope));
            cell(b, r->b_rho ? r->b_rho[s] : NAN);
            cell(b, r->b_sigma ? r->b_sigma[s] : NAN); /* gamma = 1: tanh, relu */
            sb_puts(b, "</tr>\n");
        }
    }
    sb_puts(b, "</table>\n");
}
