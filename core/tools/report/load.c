/*
 * gradscope report: one run's data from its directory (run.h).  The files
 * are read through the run-directory format; what the report needs of them
 * (the columns without which a figure cannot be drawn, numbers where numbers
 * belong) is checked here, and what fails is noted for the page.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/report/run.h"
#include "base/util.h"

static void dv_push(dvec *d, double x)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->v = gs_xrealloc(d->v, d->cap * sizeof(double));
    }
    d->v[d->n++] = x;
}

int rp_cell_num(const char *s, double *v)
{
    if (!*s) {
        *v = NAN;
        return 0;
    }
    char *end;
    *v = strtod(s, &end);
    return end == s || *end ? -1 : 0;
}

size_t rp_find_index(const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int rp_weight_row(const char *tensor, long *k)
{
    static const char hh[] = "weight_hh_l";
    size_t n = sizeof hh - 1;
    *k = -1;
    if (!strncmp(tensor, hh, n) && tensor[n] >= '0' && tensor[n] <= '9') {
        char *end;
        unsigned long u = strtoul(tensor + n, &end, 10);
        if (*end || u > 1000000)
            return 0;
        *k = (long)u;
        return 1;
    }
    /* weight_ih_l<k> ends in a digit, so it is no plain weight either */
    return ends_with(tensor, "weight");
}

void rp_weight_row_name(sbuf *b, double layer, long k, size_t n_k)
{
    sb_printf(b, "%.0f", floor(layer));
    if (k >= 0 && n_k > 1)
        sb_printf(b, " (l%ld)", k);
}

/* A file that could not be read, in the words of the format's reader, its
   path relative to the run (the page shows the run's directory). */
static void note_error(run *r, const char *msg)
{
    size_t n = strlen(r->dir);
    if (!strncmp(msg, r->dir, n) && msg[n] == '/')
        msg += n + 1;
    sb_puts(&r->notes, "<li>");
    sb_esc(&r->notes, msg);
    sb_puts(&r->notes, "; file ignored</li>");
}

/* 0 with t read; -1 when the file is absent (noted if required_file) or
   unreadable (noted), t then empty. */
int rp_open_table(run *r, gs_table *t, const gs_log_format *fmt, uint64_t required_cols,
                  int required_file)
{
    gs_error err;
    int rc = gs_table_read_cols(t, r->dir, fmt, required_cols, &err);
    if (rc == 1 && required_file)
        sb_printf(&r->notes, "<li>%s: missing</li>", fmt->file);
    else if (rc < 0)
        note_error(r, err.msg);
    if (rc)
        gs_table_free(t);
    return rc ? -1 : 0;
}

/* Row `row` does not hold what the report needs: it is counted with the
   rows the reader skipped, and the first of them all is the one named. */
void rp_reject(gs_table *t, size_t row)
{
    if (!t->skipped++ || t->line[row] < t->first_skipped_line)
        t->first_skipped_line = t->line[row];
}

static void note_skipped(run *r, const gs_table *t, const gs_log_format *fmt)
{
    if (t->skipped)
        sb_printf(&r->notes,
                  "<li>%s: %zu malformed or truncated row%s skipped (first at line %zu)</li>",
                  fmt->file, t->skipped, t->skipped == 1 ? "" : "s", t->first_skipped_line);
}

void rp_close_table(run *r, gs_table *t, const gs_log_format *fmt)
{
    note_skipped(r, t, fmt);
    gs_table_free(t);
}

/* The numbers in format columns cols of a row (a column the file lacks:
   NaN); -1 if one is not a number. */
int rp_nums(const gs_table *t, size_t row, const size_t *cols, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++)
        if (rp_cell_num(gs_table_cell(t, row, cols[i]), &out[i]) < 0)
            return -1;
    return 0;
}

static void read_summary(run *r)
{
    gs_error err;
    int rc = gs_summary_read(r->dir, &r->summary, &err);
    r->has_summary = rc == 0 ? 1 : rc == 1 ? 0 : -1;
    if (rc == 1) {
        sb_printf(&r->notes, "<li>%s: missing (the run did not finish)</li>", GS_FILE_SUMMARY);
    } else if (rc < 0) {
        note_error(r, err.msg);
        gs_summary_init(&r->summary); /* what was read before the damage is not trusted */
    }
}

/* The rows of log `id` whose first column (the x axis) is a number: the
   format's columns cols[0..n) appended to out[0..n), x_offset added to the
   first; the first `required` columns must be in the file. */
static void read_columns(run *r, gs_log_id id, const size_t *cols, dvec *const *out, size_t n,
                         size_t required, double x_offset)
{
    const gs_log_format *fmt = &gs_logs[id];
    uint64_t need = 0;
    for (size_t i = 0; i < required; i++)
        need |= GS_COL(cols[i]);
    gs_table t;
    if (rp_open_table(r, &t, fmt, need, 1) < 0)
        return;
    double v[8];
    for (size_t row = 0; row < t.rows; row++) {
        if (rp_nums(&t, row, cols, n, v) < 0 || !isfinite(v[0])) {
            rp_reject(&t, row);
            continue;
        }
        v[0] += x_offset;
        for (size_t i = 0; i < n; i++)
            dv_push(out[i], v[i]);
    }
    rp_close_table(r, &t, fmt);
}

static void read_metrics(run *r)
{
    static const size_t cols[] = {GS_METRICS_STEP, GS_METRICS_LOSS, GS_METRICS_ACCURACY};
    dvec *const out[] = {&r->m_step, &r->m_loss, &r->m_acc};
    read_columns(r, GS_LOG_METRICS, cols, out, 3, 2, 0);
}

static void read_epochs(run *r)
{
    static const size_t cols[] = {GS_EPOCHS_EPOCH, GS_EPOCHS_TRAIN_LOSS, GS_EPOCHS_VAL_LOSS,
                                  GS_EPOCHS_TRAIN_ACCURACY, GS_EPOCHS_VAL_ACCURACY};
    dvec *const out[] = {&r->e_epoch, &r->e_tl, &r->e_vl, &r->e_ta, &r->e_va};
    /* epochs are 0-based in the log, counted from 1 on the axis */
    read_columns(r, GS_LOG_EPOCHS, cols, out, 5, 3, 1);
}

typedef struct grad_rec {
    double step, layer, norm, update;
    long sub;    /* rp_weight_row's k */
    size_t n_k;  /* its layer's stacked layers (1 for a plain weight) */
    size_t order;
} grad_rec;

static int cmp_grad(const void *a, const void *b)
{
    const grad_rec *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorted distinct steps (or layers) of the records. */
static double *distinct(const grad_rec *v, size_t n, int layer, size_t *out_n)
{
    double *d = gs_xmalloc((n + 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = layer ? v[i].layer : v[i].step;
    qsort(d, n, sizeof(double), cmp_double);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || d[i] != d[k - 1])
            d[k++] = d[i];
    *out_n = k;
    return d;
}

/* The records of the layers' weights, in file order. */
static grad_rec *read_grad_recs(run *r, size_t *out_n)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_GRADIENTS];
    static const size_t cols[] = {GS_GRADIENTS_STEP, GS_GRADIENTS_LAYER, GS_GRADIENTS_GRAD_NORM,
                                  GS_GRADIENTS_UPDATE_RATIO};
    gs_table t;
    *out_n = 0;
    if (rp_open_table(r, &t, fmt,
                   GS_COL(GS_GRADIENTS_STEP) | GS_COL(GS_GRADIENTS_LAYER) |
                       GS_COL(GS_GRADIENTS_TENSOR) | GS_COL(GS_GRADIENTS_GRAD_NORM),
                   1) < 0)
        return NULL;
    r->has_update = t.col[GS_GRADIENTS_UPDATE_RATIO] >= 0;
    grad_rec *recs = NULL;
    size_t n = 0, cap = 0;
    for (size_t row = 0; row < t.rows; row++) {
        double v[4];
        if (rp_nums(&t, row, cols, 4, v) < 0 || !isfinite(v[0]) || !isfinite(v[1])) {
            rp_reject(&t, row);
            continue;
        }
        long sub;
        if (!rp_weight_row(gs_table_cell(&t, row, GS_GRADIENTS_TENSOR), &sub))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            recs = gs_xrealloc(recs, cap * sizeof *recs);
        }
        /* a NaN gradient is a failure, kept apart from "not recorded" (NaN) */
        recs[n] = (grad_rec){v[0], v[1], isnan(v[2]) ? INFINITY : v[2], v[3], sub, 1, n};
        n++;
    }
    rp_close_table(r, &t, fmt);
    *out_n = n;
    return recs;
}

/* Stacked layer k of a recurrent layer's K takes the row at layer + k/K:
   in order on the layer axis, between the layer and the next one, so that
   a plain layer's row stays at its number. */
static void place_rows(grad_rec *recs, size_t n)
{
    struct {
        double layer;
        long max_k;
    } *seen = NULL;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].sub < 0)
            continue;
        size_t j = 0;
        while (j < ns && seen[j].layer != recs[i].layer)
            j++;
        if (j == ns) {
            seen = gs_xrealloc(seen, (ns + 1) * sizeof *seen);
            seen[ns++].max_k = -1;
            seen[j].layer = recs[i].layer;
        }
        if (recs[i].sub > seen[j].max_k)
            seen[j].max_k = recs[i].sub;
    }
    for (size_t i = 0; i < n; i++) {
        recs[i].n_k = 1;
        if (recs[i].sub < 0)
            continue;
        size_t j = 0;
        while (seen[j].layer != recs[i].layer)
            j++;
        recs[i].n_k = (size_t)seen[j].max_k + 1;
        recs[i].layer += (double)recs[i].sub / (double)recs[i].n_k;
    }
    free(seen);
}

static void read_gradients(run *r)
{
    size_t n;
    grad_rec *recs = read_grad_recs(r, &n);
    if (!n) {
        free(recs);
        return;
    }
    place_rows(recs, n);
    qsort(recs, n, sizeof *recs, cmp_grad);
    r->g_steps = distinct(recs, n, 0, &r->n_steps);
    r->g_layers = distinct(recs, n, 1, &r->n_layers);
    size_t cells = r->n_steps * r->n_layers;
    r->g_norm = gs_xmalloc(cells * sizeof(double));
    r->g_update = gs_xmalloc(cells * sizeof(double));
    r->g_sub = gs_xmalloc(r->n_layers * sizeof(long));
    r->g_nk = gs_xmalloc(r->n_layers * sizeof(size_t));
    for (size_t i = 0; i < cells; i++)
        r->g_norm[i] = r->g_update[i] = NAN;
    for (size_t i = 0; i < n; i++) {
        if (i && recs[i].step == recs[i - 1].step && recs[i].layer == recs[i - 1].layer)
            continue;
        size_t l = rp_find_index(r->g_layers, r->n_layers, recs[i].layer);
        r->g_sub[l] = recs[i].sub;
        r->g_nk[l] = recs[i].n_k;
        size_t s = rp_find_index(r->g_steps, r->n_steps, recs[i].step);
        r->g_norm[s * r->n_layers + l] = recs[i].norm;
        r->g_update[s * r->n_layers + l] = recs[i].update;
    }
    free(recs);
}

static void push_layer_row(layer_row **rows, size_t *n, const layer_row *x)
{
    *rows = gs_xrealloc(*rows, (*n + 1) * sizeof **rows);
    (*rows)[(*n)++] = *x;
}

static void read_layers(run *r)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_LAYERS];
    static const size_t cols[] = {GS_LAYERS_STEP,         GS_LAYERS_LAYER,
                                  GS_LAYERS_INPUT_GRAD_NORM, GS_LAYERS_ACT_MEAN,
                                  GS_LAYERS_ACT_STD,      GS_LAYERS_DEAD_FRACTION,
                                  GS_LAYERS_SATURATED_FRACTION};
    gs_table t;
    r->l_first = INFINITY;
    r->l_last = -INFINITY;
    if (rp_open_table(r, &t, fmt,
                   GS_COL(GS_LAYERS_STEP) | GS_COL(GS_LAYERS_LAYER) |
                       GS_COL(GS_LAYERS_INPUT_GRAD_NORM) | GS_COL(GS_LAYERS_ACT_MEAN) |
                       GS_COL(GS_LAYERS_ACT_STD),
                   1) < 0)
        return;
    for (size_t row = 0; row < t.rows; row++) {
        double v[7];
        if (rp_nums(&t, row, cols, 7, v) < 0 || !isfinite(v[0]) || !isfinite(v[1])) {
            rp_reject(&t, row);
            continue;
        }
        layer_row lr = {v[1], v[2], v[3], v[4], v[5], v[6]};
        /* every activation reports dead units, but only those with a flat
           region (ReLU) have any: a panel of zeros for GELU or SELU is noise */
        r->has_dead |= isfinite(v[5]) && v[5] > 0;
        r->has_sat |= isfinite(v[6]);
        if (v[0] < r->l_first) {
            r->l_first = v[0];
            r->n_lf = 0;
        }
        if (v[0] == r->l_first)
            push_layer_row(&r->lf, &r->n_lf, &lr);
        if (v[0] > r->l_last) {
            r->l_last = v[0];
            r->n_ll = 0;
        }
        if (v[0] == r->l_last)
            push_layer_row(&r->ll, &r->n_ll, &lr);
    }
    rp_close_table(r, &t, fmt);
}

/* Residual blocks' shortcut and residual-branch gradient norms. */
static void read_paths(run *r)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_PATHS];
    static const size_t cols[] = {GS_PATHS_STEP, GS_PATHS_LAYER, GS_PATHS_VALUE};
    gs_table t;
    r->p_step = -INFINITY;
    if (rp_open_table(r, &t, fmt, UINT64_MAX, 0) < 0)
        return;
    for (size_t row = 0; row < t.rows; row++) {
        double v[3];
        if (rp_nums(&t, row, cols, 3, v) < 0 || !isfinite(v[0])) {
            rp_reject(&t, row);
            continue;
        }
        const char *key = gs_table_cell(&t, row, GS_PATHS_KEY);
        int sc = !strcmp(key, "shortcut_grad_norm"), rs = !strcmp(key, "residual_grad_norm");
        if (!sc && !rs)
            continue;
        if (v[0] > r->p_step) {
            r->p_step = v[0];
            r->p_layer.n = r->p_short.n = r->p_resid.n = 0;
        }
        if (v[0] < r->p_step)
            continue;
        size_t i = 0;
        while (i < r->p_layer.n && r->p_layer.v[i] != v[1])
            i++;
        if (i == r->p_layer.n) {
            dv_push(&r->p_layer, v[1]);
            dv_push(&r->p_short, NAN);
            dv_push(&r->p_resid, NAN);
        }
        (sc ? r->p_short.v : r->p_resid.v)[i] = v[2];
    }
    rp_close_table(r, &t, fmt);
}

/* Shown as it is, with whatever columns it has: none is required. */
static void read_theory(run *r)
{
    if (rp_open_table(r, &r->theory, &gs_logs[GS_LOG_THEORY], 0, 0) == 0)
        note_skipped(r, &r->theory, &gs_logs[GS_LOG_THEORY]);
}

static void read_histograms(run *r)
{
    const gs_log_format *fmt = &gs_logs[GS_LOG_HISTOGRAMS];
    static const size_t cols[] = {GS_HISTOGRAMS_STEP, GS_HISTOGRAMS_LAYER, GS_HISTOGRAMS_LOG10_LO,
                                  GS_HISTOGRAMS_LOG10_HI, GS_HISTOGRAMS_COUNT};
    gs_table t;
    r->h_step = -INFINITY;
    if (rp_open_table(r, &t, fmt, UINT64_MAX, 0) < 0)
        return;
    for (size_t row = 0; row < t.rows; row++) {
        double v[5];
        if (rp_nums(&t, row, cols, 5, v) < 0 || !isfinite(v[0]) || !isfinite(v[1]) ||
            !(v[4] >= 0)) {
            rp_reject(&t, row);
            continue;
        }
        const char *tensor = gs_table_cell(&t, row, GS_HISTOGRAMS_TENSOR);
        long sub;
        if (!rp_weight_row(tensor, &sub) || v[0] < r->h_step)
            continue;
        if (v[0] > r->h_step) {
            r->h_step = v[0];
            r->n_hb = 0;
        }
        if (r->n_hb == r->cap_hb) {
            r->cap_hb = r->cap_hb ? 2 * r->cap_hb : 256;
            r->hb = gs_xrealloc(r->hb, r->cap_hb * sizeof *r->hb);
        }
        hist_bin *h = &r->hb[r->n_hb++];
        *h = (hist_bin){.layer = v[1], .sub = sub, .lo = v[2], .hi = v[3], .count = v[4]};
        snprintf(h->tensor, sizeof h->tensor, "%s", tensor);
    }
    rp_close_table(r, &t, fmt);
}

void rp_run_load(run *r)
{
    read_summary(r);
    read_metrics(r);
    read_epochs(r);
    read_gradients(r);
    read_layers(r);
    read_paths(r);
    read_theory(r);
    read_histograms(r);
    rp_bptt_load(r);
}

void rp_run_free(run *r)
{
    free(r->dir);
    free(r->label);
    sb_free(&r->notes);
    dvec *vs[] = {&r->m_step, &r->m_loss, &r->m_acc,   &r->e_epoch, &r->e_tl,   &r->e_ta,
                  &r->e_vl,   &r->e_va,   &r->p_layer, &r->p_short, &r->p_resid};
    for (size_t i = 0; i < GS_ARRAY_LEN(vs); i++)
        free(vs[i]->v);
    free(r->g_steps);
    free(r->g_layers);
    free(r->g_norm);
    free(r->g_update);
    free(r->g_sub);
    free(r->g_nk);
    free(r->lf);
    free(r->ll);
    gs_table_free(&r->theory);
    free(r->hb);
    rp_bptt_free(r);
}
