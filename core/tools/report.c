/*
 * gradscope report: pictures of one or more run directories.
 *
 * Everything is drawn here as hand-written SVG inside one self-contained
 * HTML file, so the report opens anywhere, offline, without JavaScript.
 * Logs are read by column name, and a row that does not parse is skipped
 * and counted (the report says so), so that a run cut short or a log from
 * another version still gives a report.  docs/REPORT.md explains each
 * figure.
 */
#define _GNU_SOURCE /* versionsort */
#include "config.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "base/util.h"
#include "rundir/rundir.h"

/* ---- growing strings ---- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_grow(sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->s = gs_xrealloc(b->s, cap);
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_put(b, small, (size_t)n);
        return;
    }
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Text for HTML and SVG: run names and logged strings are not trusted. */
static void sb_esc(sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                sb_put(b, s, 1);
        }
    }
}

static void sb_free(sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

static void dv_push(dvec *d, double x)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->v = gs_xrealloc(d->v, d->cap * sizeof(double));
    }
    d->v[d->n++] = x;
}

static int has_finite(const dvec *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (isfinite(d->v[i]))
            return 1;
    return 0;
}

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

/* ---- CSV: header row, comma-separated, no quoting ---- */

#define CSV_MAX_COLS 64

typedef struct csv {
    char *text, *pos;
    char *cols[CSV_MAX_COLS];
    size_t ncol, line, bad, first_bad;
} csv;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_put(&b, chunk, n);
    fclose(f);
    if (!b.s)
        b.s = gs_xcalloc(1, 1);
    if (len)
        *len = b.len;
    return b.s;
}

/* Splits one line in place; returns the number of fields. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *p = line;;) {
        char *c = strchr(p, ',');
        if (n < max)
            f[n] = p;
        n++;
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* The next line, without its newline; NULL at the end.  A last line
   without a newline was cut off while being written. */
static char *next_line(csv *c, int *complete)
{
    if (!c->pos || !*c->pos)
        return NULL;
    char *line = c->pos;
    char *nl = strchr(line, '\n');
    *complete = nl != NULL;
    if (nl) {
        *nl = '\0';
        c->pos = nl + 1;
    } else {
        c->pos = line + strlen(line);
    }
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
        line[len - 1] = '\0';
    c->line++;
    return line;
}

/* 1 opened, 0 absent, -1 unreadable header (noted). */
static int csv_open(csv *c, const char *dir, const char *name, sbuf *notes)
{
    memset(c, 0, sizeof *c);
    char *path = gs_xasprintf("%s/%s", dir, name);
    c->text = read_file(path, NULL);
    free(path);
    if (!c->text)
        return 0;
    c->pos = c->text;
    int complete;
    char *hdr = next_line(c, &complete);
    if (!hdr || !complete || !*hdr) {
        sb_printf(notes, "<li>%s: no header row; file ignored</li>", name);
        return -1;
    }
    c->ncol = split(hdr, c->cols, CSV_MAX_COLS);
    if (c->ncol > CSV_MAX_COLS)
        c->ncol = CSV_MAX_COLS;
    return 1;
}

static int csv_col(const csv *c, const char *name)
{
    for (size_t i = 0; i < c->ncol; i++)
        if (!strcmp(c->cols[i], name))
            return (int)i;
    return -1;
}

static void csv_bad(csv *c)
{
    if (!c->bad++)
        c->first_bad = c->line;
}

/* The next row with as many fields as the header (others are counted). */
static int csv_next(csv *c, char **f)
{
    char *line;
    int complete;
    while ((line = next_line(c, &complete))) {
        if (!*line && complete)
            continue;
        if (!complete || split(line, f, CSV_MAX_COLS) != c->ncol) {
            csv_bad(c);
            continue;
        }
        return 1;
    }
    return 0;
}

/* Missing required columns are noted; 0 if all are there. */
static int csv_require(csv *c, const char *name, const char *const *cols, int *idx, size_t n,
                       sbuf *notes)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if ((idx[i] = csv_col(c, cols[i])) < 0) {
            sb_printf(notes, "<li>%s: no column <code>%s</code>; file ignored</li>", name, cols[i]);
            ok = 0;
        }
    return ok ? 0 : -1;
}

static void csv_close(csv *c, const char *name, sbuf *notes)
{
    if (c->bad)
        sb_printf(notes,
                  "<li>%s: %zu malformed or truncated row%s skipped (first at line %zu)</li>", name,
                  c->bad, c->bad == 1 ? "" : "s", c->first_bad);
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* A number field ("nan", "inf" allowed); -1 if it is not one. */
/* An empty cell is a value not recorded at that step (update_ratio between
   detailed steps): NaN. */
static int num(const char *s, double *v)
{
    char *end;
    while (*s == ' ')
        s++;
    if (!*s) {
        *v = NAN;
        return 0;
    }
    *v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return *end ? -1 : 0;
}

/* Numbers of the columns idx (-1: absent, read as NaN). */
static int nums(char **f, const int *idx, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0)
            out[i] = NAN;
        else if (num(f[idx[i]], &out[i]) < 0)
            return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* ---- one run's data ---- */

typedef struct layer_row {
    double layer, input_grad, mean, std, dead, sat;
} layer_row;

typedef struct hist_bin {
    double layer, lo, hi, count;
    char tensor[48];
} hist_bin;

typedef struct run {
    char *dir, *label;
    sbuf notes;
    /* summary.json */
    int has_summary;
    char status[32], detail[512], verdict[32], verdict_detail[512];
    double steps, train_loss, train_acc, val_loss, val_acc, wall, ratio, verdict_layer,
        verdict_step;
    /* metrics.csv */
    dvec m_step, m_loss, m_acc;
    /* epochs.csv */
    dvec e_epoch, e_tl, e_ta, e_vl, e_va;
    /* gradients.csv: monitored steps x layers with a weight, NaN where absent */
    double *g_steps, *g_layers, *g_norm, *g_update;
    size_t n_steps, n_layers;
    int has_update;
    /* layers.csv at its first and last monitored step */
    double l_first, l_last;
    layer_row *lf, *ll;
    size_t n_lf, n_ll;
    int has_dead, has_sat;
    /* paths.csv: block statistics at the last step that has them */
    double p_step;
    dvec p_layer, p_short, p_resid;
    /* theory.csv as text: header then rows */
    char **th;
    size_t th_cols, th_rows;
    /* histograms.csv at its last step */
    double h_step;
    hist_bin *hb;
    size_t n_hb, cap_hb;
} run;

static void run_free(run *r)
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
    free(r->lf);
    free(r->ll);
    for (size_t i = 0; i < (r->th_rows + 1) * r->th_cols; i++)
        free(r->th ? r->th[i] : NULL);
    free(r->th);
    free(r->hb);
}

/* ---- summary.json: flat "key": value pairs, nesting ignored ---- */

static const char *json_string(const char *p, char *out, size_t n)
{
    size_t k = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            switch (*p) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'u':
                /* only ASCII survives; others become '?' */
                c = '?';
                if (isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
                    isxdigit((unsigned char)p[3]) && isxdigit((unsigned char)p[4])) {
                    char hex[5] = {p[1], p[2], p[3], p[4], 0};
                    long u = strtol(hex, NULL, 16);
                    if (u >= 0x20 && u < 0x7f)
                        c = (char)u;
                    p += 4;
                }
                break;
            default: c = *p;
            }
        }
        if (k + 1 < n)
            out[k++] = c;
    }
    out[k] = '\0';
    return *p ? p + 1 : p;
}

static void summary_value(run *r, const char *key, const char *str, double v)
{
    static const struct {
        const char *key;
        size_t off;
    } nums_[] = {
        {"steps", offsetof(run, steps)},
        {"train_loss", offsetof(run, train_loss)},
        {"train_accuracy", offsetof(run, train_acc)},
        {"val_loss", offsetof(run, val_loss)},
        {"val_accuracy", offsetof(run, val_acc)},
        {"wall_time_s", offsetof(run, wall)},
        {"grad_ratio_first_last", offsetof(run, ratio)},
        {"verdict_layer", offsetof(run, verdict_layer)},
        {"verdict_step", offsetof(run, verdict_step)},
    };
    if (str) {
        char *dst = !strcmp(key, "status")           ? r->status
                    : !strcmp(key, "detail")         ? r->detail
                    : !strcmp(key, "verdict")        ? r->verdict
                    : !strcmp(key, "verdict_detail") ? r->verdict_detail
                                                     : NULL;
        size_t cap = dst == r->status || dst == r->verdict ? 32 : 512;
        if (dst)
            snprintf(dst, cap, "%s", str);
        return;
    }
    for (size_t i = 0; i < GS_ARRAY_LEN(nums_); i++)
        if (!strcmp(key, nums_[i].key))
            *(double *)((char *)r + nums_[i].off) = v;
}

static void read_summary(run *r)
{
    char *path = gs_xasprintf("%s/summary.json", r->dir);
    char *text = read_file(path, NULL);
    free(path);
    if (!text) {
        sb_puts(&r->notes, "<li>summary.json: missing (the run did not finish)</li>");
        return;
    }
    r->has_summary = 1;
    const char *p = text;
    while ((p = strchr(p, '"'))) {
        char key[64], val[512];
        p = json_string(p, key, sizeof key);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ':')
            continue;
        for (p++; isspace((unsigned char)*p);)
            p++;
        if (*p == '"') {
            p = json_string(p, val, sizeof val);
            summary_value(r, key, val, 0);
        } else if (!strncmp(p, "null", 4)) {
            summary_value(r, key, NULL, NAN);
        } else {
            char *end;
            double v = strtod(p, &end);
            if (end != p)
                summary_value(r, key, NULL, v);
        }
    }
    free(text);
}

/* ---- the logs ---- */

static void read_metrics(run *r)
{
    static const char *const cols[] = {"step", "loss", "accuracy"};
    csv c;
    int st = csv_open(&c, r->dir, "metrics.csv", &r->notes), idx[3];
    if (st == 0)
        sb_puts(&r->notes, "<li>metrics.csv: missing</li>");
    if (st > 0 && csv_require(&c, "metrics.csv", cols, idx, 2, &r->notes) == 0) {
        idx[2] = csv_col(&c, "accuracy");
        char *f[CSV_MAX_COLS];
        double v[3];
        while (csv_next(&c, f)) {
            if (nums(f, idx, 3, v) < 0 || !isfinite(v[0])) {
                csv_bad(&c);
                continue;
            }
            dv_push(&r->m_step, v[0]);
            dv_push(&r->m_loss, v[1]);
            dv_push(&r->m_acc, v[2]);
        }
    }
    csv_close(&c, "metrics.csv", &r->notes);
}

static void read_epochs(run *r)
{
    static const char *const cols[] = {"epoch", "train_loss", "val_loss", "train_accuracy",
                                       "val_accuracy"};
    csv c;
    int st = csv_open(&c, r->dir, "epochs.csv", &r->notes), idx[5];
    if (st == 0)
        sb_puts(&r->notes, "<li>epochs.csv: missing</li>");
    if (st > 0 && csv_require(&c, "epochs.csv", cols, idx, 3, &r->notes) == 0) {
        idx[3] = csv_col(&c, cols[3]);
        idx[4] = csv_col(&c, cols[4]);
        char *f[CSV_MAX_COLS];
        double v[5];
        while (csv_next(&c, f)) {
            if (nums(f, idx, 5, v) < 0 || !isfinite(v[0])) {
                csv_bad(&c);
                continue;
            }
            /* epochs are 0-based in the log, counted from 1 on the axis */
            dv_push(&r->e_epoch, v[0] + 1);
            dv_push(&r->e_tl, v[1]);
            dv_push(&r->e_vl, v[2]);
            dv_push(&r->e_ta, v[3]);
            dv_push(&r->e_va, v[4]);
        }
    }
    csv_close(&c, "epochs.csv", &r->notes);
}

typedef struct grad_rec {
    double step, layer, norm, update;
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

static size_t find_index(const double *v, size_t n, double x)
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

/* Each layer's weight: its first tensor whose name ends in "weight". */
static void read_gradients(run *r)
{
    static const char *const cols[] = {"step", "layer", "tensor", "grad_norm", "update_ratio"};
    csv c;
    int st = csv_open(&c, r->dir, "gradients.csv", &r->notes), idx[5];
    grad_rec *recs = NULL;
    size_t n = 0, cap = 0;
    if (st == 0)
        sb_puts(&r->notes, "<li>gradients.csv: missing</li>");
    if (st > 0 && csv_require(&c, "gradients.csv", cols, idx, 4, &r->notes) == 0) {
        idx[4] = csv_col(&c, "update_ratio");
        r->has_update = idx[4] >= 0;
        char *f[CSV_MAX_COLS];
        while (csv_next(&c, f)) {
            int nidx[4] = {idx[0], idx[1], idx[3], idx[4]};
            double v[4];
            if (nums(f, nidx, 4, v) < 0 || !isfinite(v[0]) || !isfinite(v[1])) {
                csv_bad(&c);
                continue;
            }
            if (!ends_with(f[idx[2]], "weight"))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                recs = gs_xrealloc(recs, cap * sizeof *recs);
            }
            /* a NaN gradient is a failure, kept apart from "not recorded" (NaN) */
            recs[n] = (grad_rec){v[0], v[1], isnan(v[2]) ? INFINITY : v[2], v[3], n};
            n++;
        }
    }
    csv_close(&c, "gradients.csv", &r->notes);
    if (!n) {
        free(recs);
        return;
    }
    qsort(recs, n, sizeof *recs, cmp_grad);
    r->g_steps = distinct(recs, n, 0, &r->n_steps);
    r->g_layers = distinct(recs, n, 1, &r->n_layers);
    size_t cells = r->n_steps * r->n_layers;
    r->g_norm = gs_xmalloc(cells * sizeof(double));
    r->g_update = gs_xmalloc(cells * sizeof(double));
    for (size_t i = 0; i < cells; i++)
        r->g_norm[i] = r->g_update[i] = NAN;
    for (size_t i = 0; i < n; i++) {
        if (i && recs[i].step == recs[i - 1].step && recs[i].layer == recs[i - 1].layer)
            continue;
        size_t s = find_index(r->g_steps, r->n_steps, recs[i].step);
        size_t l = find_index(r->g_layers, r->n_layers, recs[i].layer);
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
    static const char *const cols[] = {"step",    "layer",         "input_grad_norm",   "act_mean",
                                       "act_std", "dead_fraction", "saturated_fraction"};
    csv c;
    int st = csv_open(&c, r->dir, "layers.csv", &r->notes), idx[7];
    r->l_first = INFINITY;
    r->l_last = -INFINITY;
    if (st == 0)
        sb_puts(&r->notes, "<li>layers.csv: missing</li>");
    if (st > 0 && csv_require(&c, "layers.csv", cols, idx, 5, &r->notes) == 0) {
        idx[5] = csv_col(&c, cols[5]);
        idx[6] = csv_col(&c, cols[6]);
        char *f[CSV_MAX_COLS];
        double v[7];
        while (csv_next(&c, f)) {
            if (nums(f, idx, 7, v) < 0 || !isfinite(v[0]) || !isfinite(v[1])) {
                csv_bad(&c);
                continue;
            }
            layer_row row = {v[1], v[2], v[3], v[4], v[5], v[6]};
            r->has_dead |= isfinite(v[5]);
            r->has_sat |= isfinite(v[6]);
            if (v[0] < r->l_first) {
                r->l_first = v[0];
                r->n_lf = 0;
            }
            if (v[0] == r->l_first)
                push_layer_row(&r->lf, &r->n_lf, &row);
            if (v[0] > r->l_last) {
                r->l_last = v[0];
                r->n_ll = 0;
            }
            if (v[0] == r->l_last)
                push_layer_row(&r->ll, &r->n_ll, &row);
        }
    }
    csv_close(&c, "layers.csv", &r->notes);
}

/* Residual blocks' shortcut and residual-branch gradient norms. */
static void read_paths(run *r)
{
    static const char *const cols[] = {"step", "layer", "key", "value"};
    csv c;
    int idx[4];
    r->p_step = -INFINITY;
    if (csv_open(&c, r->dir, "paths.csv", &r->notes) > 0 &&
        csv_require(&c, "paths.csv", cols, idx, 4, &r->notes) == 0) {
        char *f[CSV_MAX_COLS];
        while (csv_next(&c, f)) {
            int nidx[3] = {idx[0], idx[1], idx[3]};
            double v[3];
            if (nums(f, nidx, 3, v) < 0 || !isfinite(v[0])) {
                csv_bad(&c);
                continue;
            }
            const char *key = f[idx[2]];
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
    }
    csv_close(&c, "paths.csv", &r->notes);
}

static void read_theory(run *r)
{
    csv c;
    if (csv_open(&c, r->dir, "theory.csv", &r->notes) > 0) {
        r->th_cols = c.ncol;
        r->th = gs_xmalloc(c.ncol * sizeof(char *));
        for (size_t i = 0; i < c.ncol; i++)
            r->th[i] = gs_xstrdup(c.cols[i]);
        char *f[CSV_MAX_COLS];
        while (csv_next(&c, f)) {
            r->th_rows++;
            r->th = gs_xrealloc(r->th, (r->th_rows + 1) * c.ncol * sizeof(char *));
            for (size_t i = 0; i < c.ncol; i++)
                r->th[r->th_rows * c.ncol + i] = gs_xstrdup(f[i]);
        }
    }
    csv_close(&c, "theory.csv", &r->notes);
}

static void read_histograms(run *r)
{
    static const char *const cols[] = {"step", "layer", "tensor", "log10_lo", "log10_hi", "count"};
    csv c;
    int idx[6];
    r->h_step = -INFINITY;
    if (csv_open(&c, r->dir, "histograms.csv", &r->notes) > 0 &&
        csv_require(&c, "histograms.csv", cols, idx, 6, &r->notes) == 0) {
        char *f[CSV_MAX_COLS];
        while (csv_next(&c, f)) {
            int nidx[5] = {idx[0], idx[1], idx[3], idx[4], idx[5]};
            double v[5];
            if (nums(f, nidx, 5, v) < 0 || !isfinite(v[0]) || !isfinite(v[1]) || !(v[4] >= 0)) {
                csv_bad(&c);
                continue;
            }
            if (!ends_with(f[idx[2]], "weight") || v[0] < r->h_step)
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
            *h = (hist_bin){.layer = v[1], .lo = v[2], .hi = v[3], .count = v[4]};
            snprintf(h->tensor, sizeof h->tensor, "%s", f[idx[2]]);
        }
    }
    csv_close(&c, "histograms.csv", &r->notes);
}

static void run_load(run *r)
{
    r->steps = r->train_loss = r->train_acc = r->val_loss = r->val_acc = r->wall = r->ratio =
        r->verdict_layer = r->verdict_step = NAN;
    read_summary(r);
    read_metrics(r);
    read_epochs(r);
    read_gradients(r);
    read_layers(r);
    read_paths(r);
    read_theory(r);
    read_histograms(r);
}

/* ---- which directories are runs ---- */

typedef struct runs {
    run *v;
    size_t n;
} runs;

static int is_run(const char *dir)
{
    const char *marks[] = {"summary.json", "metrics.csv"};
    for (size_t i = 0; i < GS_ARRAY_LEN(marks); i++) {
        char *p = gs_xasprintf("%s/%s", dir, marks[i]);
        struct stat st;
        int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
        free(p);
        if (ok)
            return 1;
    }
    return 0;
}

static void add_run(runs *rs, const char *dir)
{
    rs->v = gs_xrealloc(rs->v, (rs->n + 1) * sizeof *rs->v);
    run *r = &rs->v[rs->n++];
    memset(r, 0, sizeof *r);
    r->dir = gs_xstrdup(dir);
}

static int only_dirs(const struct dirent *d) { return d->d_name[0] != '.'; }

/* A run directory, or a directory of variant runs (in version order). */
static int expand(runs *rs, const char *arg, gs_error *err)
{
    char *dir = gs_xstrdup(arg);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    struct stat st;
    int rc = GS_EXIT_OK;
    if (stat(dir, &st) != 0) {
        gs_err_set(err, "%s: %s", arg, strerror(errno));
        rc = GS_EXIT_INPUT;
    } else if (!S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: not a directory", arg);
        rc = GS_EXIT_INPUT;
    } else if (is_run(dir)) {
        add_run(rs, dir);
    } else {
        struct dirent **list;
        int n = scandir(dir, &list, only_dirs, versionsort);
        size_t found = 0;
        for (int i = 0; i < n; i++) {
            char *sub = gs_xasprintf("%s/%s", dir, list[i]->d_name);
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && is_run(sub)) {
                add_run(rs, sub);
                found++;
            }
            free(sub);
            free(list[i]);
        }
        if (n >= 0)
            free(list);
        if (!found) {
            gs_err_set(err,
                       "%s: not a run directory (no summary.json or metrics.csv in it or in "
                       "any subdirectory)",
                       arg);
            rc = GS_EXIT_INPUT;
        }
    }
    free(dir);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Variant names, or parent/variant where names repeat. */
static void label_runs(runs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        int dup = 0;
        for (size_t j = 0; j < rs->n; j++)
            dup |= j != i && !strcmp(base_name(rs->v[i].dir), base_name(rs->v[j].dir));
        const char *b = base_name(rs->v[i].dir);
        if (!dup || b == rs->v[i].dir) {
            rs->v[i].label = gs_xstrdup(b);
            continue;
        }
        size_t plen = (size_t)(b - 1 - rs->v[i].dir);
        const char *p = rs->v[i].dir + plen;
        while (p > rs->v[i].dir && p[-1] != '/')
            p--;
        rs->v[i].label = gs_xasprintf("%.*s/%s", (int)(rs->v[i].dir + plen - p), p, b);
    }
    for (size_t i = 1; i < rs->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rs->v[i].label, rs->v[j].label)) {
                char *l = gs_xasprintf("%s #%zu", rs->v[i].label, i + 1);
                free(rs->v[i].label);
                rs->v[i].label = l;
                break;
            }
}

/* ---- drawing ---- */

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define INK "#333"
#define GRID "#e3e3e3"
#define MINOR "#f2f2f2"
#define FONT "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

static const char *run_color(int i)
{
    return i < 0 ? INK : palette[(size_t)i % GS_ARRAY_LEN(palette)];
}

/* Line styles: solid, dashed, dotted, and a wide translucent band that
   stays visible under a measured curve it matches. */
enum { SOLID, DASHED, DOTTED, BAND };

static const char *dash_attr(int dash)
{
    static const char *const d[] = {
        " stroke-width=\"1.8\"", " stroke-width=\"1.8\" stroke-dasharray=\"7 4\"",
        " stroke-width=\"1.8\" stroke-dasharray=\"2 3\"",
        " stroke-width=\"7\" stroke-opacity=\"0.3\" stroke-linecap=\"round\""};
    return d[dash > 0 && dash <= BAND ? dash : 0];
}

/* An axis maps data (log10 of it for log axes) from [lo, hi] onto pixels [a, b]. */
typedef struct axis {
    double lo, hi, step, a, b;
    int log, integer;
} axis;

static int ax_px(const axis *ax, double v, double *px)
{
    if (!isfinite(v) || (ax->log && v <= 0))
        return 0;
    double t = ax->log ? log10(v) : v;
    *px = ax->a + (t - ax->lo) * (ax->b - ax->a) / (ax->hi - ax->lo);
    return 1;
}

typedef struct range {
    double lo, hi;
    int any;
} range;

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

static void range_addv(range *r, const double *v, size_t n, int log)
{
    for (size_t i = 0; i < n; i++)
        range_add(r, v[i], log);
}

static double nice_step(double span, int target)
{
    double raw = span / target, m = pow(10, floor(log10(raw))), f = raw / m;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * m;
}

/* The whole decades around [lo, hi] (log10 units), at least one; at most
   8 are labelled, the multiples of the step, so that 10^0 is one of them
   when in range. */
static void decades(double lo, double hi, axis *ax)
{
    ax->lo = floor(lo);
    ax->hi = ceil(hi) > ax->lo ? ceil(hi) : ax->lo + 1;
    ax->step = ceil((ax->hi - ax->lo) / 8);
}

/* The first tick: the smallest multiple of the step in range. */
static double first_tick(const axis *ax) { return ceil(ax->lo / ax->step - 1e-9) * ax->step; }

/* A 1-2-5 stride for labelling every n-th of `count` rows or columns. */
static size_t label_stride(size_t count, size_t max_labels)
{
    static const size_t nice[] = {1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000};
    for (size_t i = 0; i < GS_ARRAY_LEN(nice); i++)
        if (count <= nice[i] * max_labels)
            return nice[i];
    return (count + max_labels - 1) / max_labels;
}

/* Whole decades on a log axis; 1-2-5 steps on a linear one. */
static void axis_fit(axis *ax, const range *r, int log, int integer)
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

static void fixed_axis(axis *ax, double lo, double hi, double step)
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

static void tick_label(sbuf *b, const axis *ax, double t)
{
    if (ax->log) {
        long k = lround(t);
        sb_printf(b, "10<tspan dy=\"-0.45em\" font-size=\"78%%\">%s%ld</tspan>",
                  k < 0 ? "\u2212" : "", labs(k));
        return;
    }
    double v = ax->step * round(t / ax->step);
    int dec = ax->step >= 1 ? 0 : (int)ceil(-log10(ax->step) - 1e-9);
    char buf[48];
    snprintf(buf, sizeof buf, "%.*f", dec, v == 0 ? 0.0 : v);
    if (buf[0] == '-')
        sb_puts(b, "\u2212"), sb_puts(b, buf + 1);
    else
        sb_puts(b, buf);
}

typedef struct series {
    const double *x, *y;
    size_t n;
    int color, dash, marker;
} series;

typedef struct panel {
    double x, y, w, h; /* outer box */
    const char *title, *xlabel, *ylabel;
    axis ax, ay; /* filled by panel_fit unless fixed_y */
    int fixed_y, integer_x;
} panel;

/* Plot area inside the outer box. */
static double pl_left(const panel *p) { return p->x + 66; }
static double pl_right(const panel *p) { return p->x + p->w - 12; }
static double pl_top(const panel *p) { return p->y + 30; }
static double pl_bottom(const panel *p) { return p->y + p->h - 44; }

static void panel_fit(panel *p, const series *s, size_t ns, int logy_allowed)
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

static void text_el(sbuf *b, double x, double y, const char *anchor, const char *extra,
                    const char *txt)
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

static void draw_panel(sbuf *b, panel *p, const series *s, size_t ns)
{
    draw_frame(b, p);
    for (size_t i = 0; i < ns; i++)
        draw_series(b, p, &s[i]);
    sb_puts(b, "</g>\n");
}

typedef struct legend_item {
    const char *label;
    int color, dash;
} legend_item;

static void draw_legend(sbuf *b, double x, double y, const legend_item *it, size_t n)
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

static void run_legend(sbuf *b, const runs *rs, double x, double y)
{
    legend_item *it = gs_xmalloc((rs->n + 1) * sizeof *it);
    for (size_t i = 0; i < rs->n; i++)
        it[i] = (legend_item){rs->v[i].label, (int)i, 0};
    draw_legend(b, x, y, it, rs->n);
    free(it);
}

static void fig_begin(sbuf *b, const char *cls, double w, double h, const char *title,
                      int standalone)
{
    sb_printf(b,
              "<svg %sclass=\"figure %s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
              "font-family=\"" FONT "\" font-size=\"12\" fill=\"" INK "\" role=\"img\">\n<title>",
              standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", cls, w, h, w, h);
    sb_esc(b, title);
    sb_printf(b, "</title>\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", w, h);
}

static void fig_end(sbuf *b) { sb_puts(b, "</svg>\n"); }

/* ---- heatmaps ---- */

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

/* A layer x step heatmap of log10 |dL/dW| for one run. */
static void fig_heatmap(sbuf *b, const run *r, int color, double lo, double hi)
{
    size_t L = r->n_layers, S = r->n_steps;
    double *v = gs_xmalloc(L * S * sizeof(double) + 1);
    int bad = 0, missing = 0, zero = 0;
    for (size_t l = 0; l < L; l++)
        for (size_t s = 0; s < S; s++)
            v[l * S + s] = log_code(r->g_norm[s * L + l]);
    size_t R, C, rb, cb;
    double *m = block_means(v, L, S, 160, 220, &R, &C, &rb, &cb);
    free(v);
    int *lev = gs_xmalloc(R * C * sizeof(int) + 1);
    for (size_t i = 0; i < R * C; i++) {
        lev[i] = level(m[i], lo, hi);
        bad |= lev[i] == LEV_BAD;
        missing |= lev[i] == LEV_MISSING;
        zero |= m[i] == -INFINITY;
    }
    double ph = R * 14.0 < 140 ? 140 : R * 14.0 > 440 ? 440 : R * 14.0;
    double top = 40, left = 70, pw = 860, ch = ph / (double)R, cw = pw / (double)C;
    double H = top + ph + (bad + missing + zero ? 50 + 17 * (bad + missing + zero) : 50);
    char title[512];
    snprintf(title, sizeof title,
             "%s: log\u2081\u2080 \u2016\u2202L/\u2202W\u2016 per layer and monitored step",
             r->label);
    sb_printf(b, "<div class=\"fig\" data-run=\"");
    sb_esc(b, r->label);
    sb_printf(b, "\">\n");
    char cls[96];
    snprintf(cls, sizeof cls, "heatmap\" data-layers=\"%zu\" data-steps=\"%zu", L, S);
    fig_begin(b, cls, 1100, H, title, 0);
    sb_printf(b, "<rect x=\"%.1f\" y=\"14\" width=\"14\" height=\"6\" fill=\"%s\"/>", left,
              run_color(color));
    text_el(b, left + 20, 22, "start", " font-weight=\"bold\" font-size=\"13\"", title);
    char pal[LEV_COUNT][8];
    make_palette(viridis, GS_ARRAY_LEN(viridis), pal);
    draw_cells(b, lev, R, C, left, top, cw, ch, pal);
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#999\"/>\n",
              left, top, pw, ph);
    /* ticks: layer indices on y, step numbers on x */
    sb_puts(b, "<g class=\"ticks\" font-size=\"11\">\n");
    size_t ystride = label_stride(R, 16);
    for (size_t i = 0; i < R; i += ystride) {
        double y = top + ch * ((double)(R - 1 - i) + 0.5);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>", left - 5, y + 4,
                  r->g_layers[i * rb]);
    }
    size_t xstride = label_stride(C, 10);
    for (size_t i = 0; i < C; i += xstride) {
        double x = left + cw * ((double)i + 0.5);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" INK "\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                  x, top + ph, x, top + ph + 4, x, top + ph + 17, r->g_steps[i * cb]);
    }
    sb_puts(b, "</g>\n");
    text_el(b, left + pw / 2, top + ph + 38, "middle", " class=\"xlabel\"",
            cb > 1 ? "monitored step (cells average neighbouring steps)" : "monitored step");
    char rot[96];
    snprintf(rot, sizeof rot, " class=\"ylabel\" transform=\"rotate(-90 20 %.1f)\"", top + ph / 2);
    text_el(b, 20, top + ph / 2, "middle", rot,
            rb > 1 ? "layer (input at bottom, blocks averaged)" : "layer (input at bottom)");
    /* where the verdict says the trouble started */
    if (isfinite(r->verdict_layer) && isfinite(r->verdict_step) && r->verdict_layer >= 0) {
        size_t li = find_index(r->g_layers, L, r->verdict_layer);
        size_t si = find_index(r->g_steps, S, r->verdict_step);
        if (li < L && si < S) {
            double x = left + cw * ((double)(si / cb) + 0.5);
            double y = top + ch * ((double)(R - 1 - li / rb) + 0.5);
            sb_printf(b,
                      "<g class=\"verdict-mark\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" "
                      "fill=\"none\" stroke=\"#fff\" stroke-width=\"3\"/><circle cx=\"%.1f\" "
                      "cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"#e8112d\" stroke-width=\"1.5\"/>",
                      x, y, x, y);
            text_el(b, x + 9, y - 8, x > left + pw - 160 ? "end" : "start",
                    " font-size=\"11\" font-weight=\"bold\" fill=\"#e8112d\" stroke=\"#fff\" "
                    "stroke-width=\"3\" paint-order=\"stroke\"",
                    r->verdict[0] ? r->verdict : "verdict");
            sb_puts(b, "</g>\n");
        }
    }
    draw_colorbar(b, left + pw + 30, top, ph, lo, hi, pal, "\u2016\u2202L/\u2202W\u2016", bad,
                  missing, zero);
    fig_end(b);
    sb_puts(b, "</div>\n");
    free(m);
    free(lev);
}

typedef struct hist_layer {
    double layer;
    const char *tensor; /* the layer's first weight tensor */
} hist_layer;

static int cmp_hist_layer(const void *a, const void *b)
{
    return cmp_double(&((const hist_layer *)a)->layer, &((const hist_layer *)b)->layer);
}

static size_t find_hist_layer(const hist_layer *v, size_t n, double layer)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].layer < layer)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Distribution of |dL/dw| over each layer's weight tensor, by decade. */
static void fig_histogram(sbuf *b, const run *r, int color)
{
    hist_layer *layers = gs_xmalloc((r->n_hb + 1) * sizeof *layers);
    size_t R = 0;
    for (size_t i = 0; i < r->n_hb; i++) {
        size_t k = 0;
        while (k < R && layers[k].layer != r->hb[i].layer)
            k++;
        if (k == R)
            layers[R++] = (hist_layer){r->hb[i].layer, r->hb[i].tensor};
    }
    qsort(layers, R, sizeof *layers, cmp_hist_layer);
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
        size_t row = find_hist_layer(layers, R, h->layer);
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
    double ph = R * 14.0 < 140 ? 140 : R * 14.0 > 440 ? 440 : R * 14.0;
    double top = 40, left = 70, pw = 860, ch = ph / (double)R, cw = pw / (double)C;
    char title[512];
    snprintf(title, sizeof title,
             "%s: where the elements of \u2202L/\u2202W lie, by decade (step %.0f)", r->label,
             r->h_step);
    fig_begin(b, "histogram", 1100, top + ph + 80, title, 0);
    sb_printf(b, "<rect x=\"%.1f\" y=\"14\" width=\"14\" height=\"6\" fill=\"%s\"/>", left,
              run_color(color));
    text_el(b, left + 20, 22, "start", " font-weight=\"bold\" font-size=\"13\"", title);
    char pal[LEV_COUNT][8];
    make_palette(blues, GS_ARRAY_LEN(blues), pal);
    draw_cells(b, lev, R, C, left, top, cw, ch, pal);
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#999\"/>\n",
              left, top, pw, ph);
    sb_puts(b, "<g class=\"ticks\" font-size=\"11\">\n");
    size_t ystride = label_stride(R, 16);
    for (size_t i = 0; i < R; i += ystride)
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>", left - 5,
                  top + ch * ((double)(R - 1 - i) + 0.5) + 4, layers[i].layer);
    size_t xstride = label_stride(C, 14);
    axis lg = {.log = 1, .step = 1};
    for (size_t c = 0; c < C; c++) {
        int special = (zero && c == 0) || (under && c == (size_t)zero) || (over && c == C - 1);
        if (!special && (c - (size_t)(zero + under)) % xstride)
            continue;
        double x = left + cw * (double)c;
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x + cw / 2,
                  top + ph + 17);
        if (zero && c == 0)
            sb_puts(b, "0");
        else if (special && c == C - 1 && over) {
            sb_puts(b, "\u2265");
            tick_label(b, &lg, over_lo);
        } else if (special) {
            sb_puts(b, "&lt;");
            tick_label(b, &lg, under_hi);
        } else {
            tick_label(b, &lg, dlo + (int)(c - (size_t)(zero + under)));
        }
        sb_puts(b, "</text>\n");
    }
    sb_puts(b, "</g>\n");
    text_el(b, left + pw / 2, top + ph + 40, "middle", " class=\"xlabel\"",
            "|\u2202L/\u2202w| of single weights (one column per decade, labelled by its lower "
            "edge; \u2265 includes inf/NaN)");
    char rot[96];
    snprintf(rot, sizeof rot, " class=\"ylabel\" transform=\"rotate(-90 20 %.1f)\"", top + ph / 2);
    text_el(b, 20, top + ph / 2, "middle", rot, "layer (input at bottom)");
    draw_colorbar(b, left + pw + 30, top, ph, -4, 0, pal, "fraction of the tensor", 0, 0, 0);
    fig_end(b);
    free(cnt);
    free(tot);
    free(lev);
    free(layers);
}

/* ---- the line figures ---- */

/* Loss and accuracy over training: per logged step, then per epoch. */
static void fig_training(sbuf *b, const runs *rs)
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

/* Per-layer weight-gradient norm at the first, middle and last monitored
   step, runs overlaid: gradflow.svg. */
static void fig_gradflow(sbuf *b, const runs *rs, int standalone)
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
static double theory_value(const run *r, const char *col)
{
    double v;
    for (size_t k = 0; r->th_rows && k < r->th_cols; k++)
        if (!strcmp(r->th[k], col))
            return num(r->th[r->th_cols + k], &v) == 0 ? v : NAN;
    return NAN;
}

/*
 * Mean-field theory's |dL/dx| through the stack first..last at the first
 * monitored step: each layer multiplies the squared norm by chi, so from the
 * measured value just above the stack, |dL/dx_l| = |dL/dx_A| chi^((A-l)/2).
 * Returns the number of points written to x and y (capacity n_lf + 1).
 */
static size_t theory_curve(const run *r, double *x, double *y)
{
    double first = theory_value(r, "first_layer"), last = theory_value(r, "last_layer");
    /* at step 0 the measurement follows the finite-depth path when there is one */
    double chi = theory_value(r, "chi_path");
    if (!(chi > 0) || !isfinite(chi))
        chi = theory_value(r, "chi_predicted");
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

/* The back-propagated signal |dL/dx| per layer, and the update ratio. */
static void fig_signal(sbuf *b, const runs *rs)
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

/* Activation statistics per layer at the last monitored step. */
static void fig_activations(sbuf *b, const runs *rs)
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

/* Residual blocks: gradient through the shortcut versus the branch. */
static void fig_paths(sbuf *b, const runs *rs)
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

/* ---- tables and the page ---- */

static void verdict_badge(sbuf *b, const char *v)
{
    const char *cls = !strcmp(v, "vanishing")   ? "vanishing"
                      : !strcmp(v, "exploding") ? "exploding"
                      : !strcmp(v, "healthy")   ? "healthy"
                                                : "other";
    sb_printf(b, "<span class=\"badge %s\">", cls);
    sb_esc(b, v[0] ? v : "\u2014");
    sb_puts(b, "</span>");
}

static void summary_table(sbuf *b, const runs *rs)
{
    sb_puts(b, "<table class=\"summary\">\n<tr><th>run</th><th>status</th><th>verdict</th>"
               "<th>steps</th><th>train loss</th><th>val loss</th><th>val accuracy</th>"
               "<th title=\"|dL/dW| of the first layer over that of the last, at the last "
               "monitored step\">grad ratio first/last</th><th>time (s)</th></tr>\n");
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        char n1[32], n2[32], n3[32], n4[32], n5[32], n6[32];
        sb_printf(b, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>",
                  run_color((int)i));
        sb_esc(b, r->label);
        sb_puts(b, "</td><td>");
        sb_esc(b, r->status[0] ? r->status : r->has_summary ? "\u2014" : "unfinished");
        if (r->detail[0]) {
            sb_puts(b, "<div class=\"detail\">");
            sb_esc(b, r->detail);
            sb_puts(b, "</div>");
        }
        sb_puts(b, "</td><td>");
        verdict_badge(b, r->verdict);
        if (r->verdict_detail[0]) {
            sb_puts(b, "<div class=\"detail\">");
            sb_esc(b, r->verdict_detail);
            sb_puts(b, "</div>");
        }
        sb_printf(b,
                  "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                  fmt_num(n1, sizeof n1, r->steps), fmt_num(n2, sizeof n2, r->train_loss),
                  fmt_num(n3, sizeof n3, r->val_loss), fmt_num(n4, sizeof n4, r->val_acc),
                  fmt_num(n5, sizeof n5, r->ratio), fmt_num(n6, sizeof n6, r->wall));
    }
    sb_puts(b, "</table>\n");
}

static void section(sbuf *b, const char *id, const char *title, const char *how)
{
    sb_printf(b, "<h2 id=\"%s\">%s</h2>\n<p class=\"how\">%s</p>\n", id, title, how);
}

static const char *theory_heading(const char *col)
{
    static const char *const names[][2] = {
        {"first_layer", "first layer"},
        {"last_layer", "last layer"},
        {"activation", "activation"},
        {"sigma_w2", "\u03c3<sub>w</sub>\u00b2"},
        {"sigma_b2", "\u03c3<sub>b</sub>\u00b2"},
        {"q_star", "q*"},
        {"chi_predicted", "\u03c7 predicted"},
        {"chi_measured", "\u03c7 measured"},
        {"q_in", "q<sub>in</sub>"},
        {"chi_path", "\u03c7 along the path"},
    };
    for (size_t i = 0; i < GS_ARRAY_LEN(names); i++)
        if (!strcmp(col, names[i][0]))
            return names[i][1];
    return NULL;
}

static void theory_table(sbuf *b, const runs *rs)
{
    const run *h = NULL;
    for (size_t i = 0; i < rs->n && !h; i++)
        if (rs->v[i].th_cols)
            h = &rs->v[i];
    if (!h)
        return;
    section(b, "theory", "Theory versus measurement",
            "For the longest stack of equal-width dense layers, mean-field theory predicts the "
            "factor \u03c7 by which each layer multiplies the squared norm of the "
            "back-propagated gradient: below 1 it vanishes geometrically with depth, above 1 "
            "it explodes, 1 is the edge of chaos. \u03c3<sub>w</sub>\u00b2 and "
            "\u03c3<sub>b</sub>\u00b2 are measured on the initialized weights and biases, q* "
            "is the fixed point of the pre-activation variance, \u03c7 predicted is \u03c7 at "
            "q*, \u03c7 along the path follows the variance from the stack's real input "
            "(q<sub>in</sub>), and \u03c7 measured is the geometric mean over the stack of "
            "(\u2016\u2202L/\u2202x<sub>l</sub>\u2016 / "
            "\u2016\u2202L/\u2202x<sub>l+1</sub>\u2016)\u00b2 at the first monitored step.");
    sb_puts(b, "<table class=\"theory\">\n<tr><th>run</th>");
    for (size_t c = 0; c < h->th_cols; c++) {
        const char *t = theory_heading(h->th[c]);
        sb_puts(b, "<th>");
        if (t)
            sb_puts(b, t);
        else
            sb_esc(b, h->th[c]);
        sb_puts(b, "</th>");
    }
    sb_puts(b, "</tr>\n");
    for (size_t i = 0; i < rs->n; i++) {
        const run *r = &rs->v[i];
        for (size_t row = 1; row <= r->th_rows; row++) {
            sb_puts(b, "<tr><td>");
            sb_esc(b, r->label);
            sb_puts(b, "</td>");
            for (size_t c = 0; c < h->th_cols; c++) {
                size_t k = 0;
                while (k < r->th_cols && strcmp(r->th[k], h->th[c]))
                    k++;
                sb_puts(b, "<td>");
                if (k < r->th_cols) {
                    const char *cell = r->th[row * r->th_cols + k];
                    double v;
                    char nb[32];
                    if (num(cell, &v) == 0)
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
    "code{font-size:90%}\n";

static void build_html(sbuf *b, const runs *rs)
{
    sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
               "<title>gradscope report: ");
    for (size_t i = 0; i < rs->n; i++) {
        sb_puts(b, i ? ", " : "");
        sb_esc(b, rs->v[i].label);
    }
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

    int notes = 0;
    for (size_t i = 0; i < rs->n; i++)
        notes |= rs->v[i].notes.len > 0;
    if (notes) {
        sb_puts(b, "<div class=\"notes\"><b>Incomplete input</b> (what could be read is "
                   "shown):\n<ul>\n");
        for (size_t i = 0; i < rs->n; i++) {
            if (!rs->v[i].notes.len)
                continue;
            sb_puts(b, "<li><b>");
            sb_esc(b, rs->v[i].label);
            sb_printf(b, "</b><ul>%s</ul></li>\n", rs->v[i].notes.s);
        }
        sb_puts(b, "</ul></div>\n");
    }

    section(b, "summary", "Summary",
            "The verdict classifies the last quarter of the monitored steps: <b>vanishing</b> "
            "when an early layer's weight gradient is below 10<sup>\u22123</sup> times the "
            "last layer's, <b>exploding</b> when above 10<sup>3</sup> times or when the "
            "global norm grew 10<sup>3</sup>-fold, else <b>healthy</b>. The grad ratio is "
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
                "<code>gradflow.svg</code>.)");
        fig.len = 0;
        fig_gradflow(&fig, rs, 0);
        sb_put(b, fig.s, fig.len);

        range rv = {0};
        for (size_t i = 0; i < rs->n; i++)
            range_addv(&rv, rs->v[i].g_norm, rs->v[i].n_steps * rs->v[i].n_layers, 1);
        axis scale;
        decades(rv.any ? rv.lo : -1, rv.any ? rv.hi : 0, &scale);
        if (scale.hi - scale.lo > 40)
            decades(scale.hi - 40, scale.hi, &scale);
        section(b, "heatmaps", "Gradient norm over layers and time",
                "One heatmap per run, all on the same color scale: layer on the vertical axis "
                "(input at the bottom), monitored step on the horizontal one, color = "
                "log<sub>10</sub> \u2016\u2202L/\u2202W\u2016. Dark bands at the bottom are "
                "layers that barely learn; a red circle marks where the verdict says the "
                "problem started.");
        for (size_t i = 0; i < rs->n; i++)
            if (rs->v[i].n_steps)
                fig_heatmap(b, &rs->v[i], (int)i, scale.lo, scale.hi);
    }

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

    fig.len = 0;
    fig_signal(&fig, rs);
    if (fig.len) {
        section(b, "signal", "Back-propagated signal and update size",
                "Left: the norm of the gradient with respect to each layer's input, the signal "
                "that back-propagation carries to the layers below (last monitored step solid, "
                "first dashed). Right: how much the optimizer step changed each layer's "
                "weights relative to their size at the last monitored step; around "
                "10<sup>\u22123</sup> is typical of steady training.");
        sb_put(b, fig.s, fig.len);
    }

    fig.len = 0;
    fig_activations(&fig, rs);
    if (fig.len) {
        section(b, "activations", "Activations",
                "Statistics of each layer's output over the batch at the last monitored step. "
                "A standard deviation collapsing towards zero with depth, saturated "
                "sigmoid/tanh units or dead ReLU units all starve the gradient.");
        sb_put(b, fig.s, fig.len);
    }

    fig.len = 0;
    fig_paths(&fig, rs);
    if (fig.len) {
        section(b, "paths", "Residual paths",
                "For each residual block, the norm of the gradient arriving through the "
                "identity shortcut (solid) and through the residual branch (dashed). The "
                "shortcut carries the gradient past the branch, which is why deep residual "
                "networks keep training.");
        sb_put(b, fig.s, fig.len);
    }
    sb_free(&fig);
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
    runs rs = {0};
    int rc = GS_EXIT_OK;
    if (!n) {
        gs_err_set(err, "no run directory given");
        return GS_EXIT_INPUT;
    }
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++)
        rc = expand(&rs, run_dirs[i], err);
    if (rc == GS_EXIT_OK) {
        label_runs(&rs);
        for (size_t i = 0; i < rs.n; i++)
            run_load(&rs.v[i]);
        const char *out = out_dir ? out_dir : run_dirs[0];
        sbuf html = {0}, svg = {0};
        build_html(&html, &rs);
        fig_gradflow(&svg, &rs, 1);
        if (make_dir(out, err) < 0 ||
            gs_write_atomic(out, "report.html", html.s, html.len, err) < 0 ||
            gs_write_atomic(out, "gradflow.svg", svg.s, svg.len, err) < 0)
            rc = GS_EXIT_RUNTIME;
        sb_free(&html);
        sb_free(&svg);
    }
    for (size_t i = 0; i < rs.n; i++)
        run_free(&rs.v[i]);
    free(rs.v);
    return rc;
}
