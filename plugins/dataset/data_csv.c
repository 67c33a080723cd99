/*
 * CSV tables: a header row naming the columns, then one example per line of
 * numbers.  One label column (classification) or a list of target columns
 * (regression); every other column is a feature.  Errors carry FILE:LINE so
 * a broken row can be found in a file of a million lines.
 *
 * Sequences (data.sequence names an id column): one row per time step, the
 * consecutive rows with the same id one sequence, in row order.  Every
 * sequence gets T = the longest one's length (training and test files
 * alike), the features at each step.  One target per sequence (the last
 * row's label or targets): shorter sequences are padded with zero rows at
 * the front, so that the last step is the real last one.  per_step = true:
 * every row's label or targets are that step's, and shorter sequences are
 * padded at the end with zero rows that a mask leaves out of the loss.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradscope/plugin.h"
#include "datamem.h"

enum { P_TRAIN, P_TEST, P_LABEL, P_TARGETS, P_CLASSES, P_STANDARDIZE, P_SEQUENCE, P_PER_STEP };

/* Largest number of cells one file may hold. */
#define MAX_CELLS ((size_t)1 << 31)
#define MAX_CLASSES 100000
#define STD_FLOOR 1e-8

typedef struct table {
    const gs_host *host;
    const char *path;
    size_t ncols;
    size_t header_line;
    char **names;  /* header, host-allocated */
    float *cells;  /* rows x ncols, as they will be used */
    size_t *lines; /* source line of each row */
    size_t rows, cap;
} table;

static void table_free(table *t)
{
    const gs_host *h = t->host;
    if (t->names)
        for (size_t j = 0; j < t->ncols; j++)
            h->free(t->names[j]);
    h->free(t->names);
    h->free(t->cells);
    h->free(t->lines);
    t->names = NULL;
    t->cells = NULL;
    t->lines = NULL;
    t->ncols = t->rows = t->cap = 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Splits `line` in place at commas; returns the cell count, storing at most `max`. */
static size_t split(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *s = line;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (n < max)
            cells[n] = trim(s);
        n++;
        if (!comma)
            return n;
        s = comma + 1;
    }
}

static char *dup_host(const gs_host *h, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = h->alloc(n);
    memcpy(d, s, n);
    return d;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_header(table *t, char *line, size_t lineno)
{
    const gs_host *h = t->host;
    size_t n = 1;
    for (const char *q = line; *q; q++)
        n += *q == ',';
    char **cells = h->alloc(n * sizeof *cells);
    split(line, cells, n);
    t->ncols = n;
    t->names = h->zalloc(n * sizeof *t->names);
    int rc = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        char *name = cells[j];
        size_t len = strlen(name);
        if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
            name[len - 1] = '\0';
            name++;
        }
        if (!*name) {
            h->error("%s:%zu: header column %zu has no name", t->path, lineno, j + 1);
            rc = -1;
            break;
        }
        t->names[j] = dup_host(h, name);
    }
    /* Sorted, duplicates are neighbours: n log n for a header of 10^5 names. */
    char **sorted = cells;
    memcpy(sorted, t->names, n * sizeof *sorted);
    if (rc == 0)
        qsort(sorted, n, sizeof *sorted, by_name);
    for (size_t j = 1; j < n && rc == 0; j++)
        if (strcmp(sorted[j - 1], sorted[j]) == 0) {
            h->error("%s:%zu: header names column '%s' twice", t->path, lineno, sorted[j]);
            rc = -1;
        }
    h->free(cells);
    return rc;
}

static void grow(table *t)
{
    const gs_host *h = t->host;
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    if (ncap > MAX_CELLS / t->ncols)
        ncap = MAX_CELLS / t->ncols;
    float *cells = h->alloc(ncap * t->ncols * sizeof(float));
    size_t *lines = h->alloc(ncap * sizeof(size_t));
    if (t->rows) {
        memcpy(cells, t->cells, t->rows * t->ncols * sizeof(float));
        memcpy(lines, t->lines, t->rows * sizeof(size_t));
    }
    h->free(t->cells);
    h->free(t->lines);
    t->cells = cells;
    t->lines = lines;
    t->cap = ncap;
}

static int parse_row(table *t, char *line, size_t lineno, char **cells)
{
    const gs_host *h = t->host;
    size_t n = split(line, cells, t->ncols);
    if (n != t->ncols) {
        h->error("%s:%zu: %zu cells, but the header has %zu columns", t->path, lineno, n,
                 t->ncols);
        return -1;
    }
    if (t->rows + 1 > MAX_CELLS / t->ncols) {
        h->error("%s:%zu: more than 2^31 cells", t->path, lineno);
        return -1;
    }
    if (t->rows == t->cap) {
        /* the table, and its copy when it grows */
        size_t next = t->cap ? 2 * t->cap : 1024;
        if (!data_fits(h, t->path, 2.0 * 4.0 * (double)next * (double)t->ncols))
            return -1;
        grow(t);
    }
    float *row = t->cells + t->rows * t->ncols;
    for (size_t j = 0; j < n; j++) {
        char *end;
        errno = 0;
        double v = strtod(cells[j], &end);
        if (end == cells[j] || *end) {
            h->error("%s:%zu: non-numeric cell '%.40s' in column '%s'", t->path, lineno,
                     cells[j], t->names[j]);
            return -1;
        }
        if (!isfinite(v) || fabs(v) > FLT_MAX) {
            h->error("%s:%zu: value '%.40s' in column '%s' is not a finite float", t->path,
                     lineno, cells[j], t->names[j]);
            return -1;
        }
        row[j] = (float)v;
    }
    t->lines[t->rows++] = lineno;
    return 0;
}

static int blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* `key` names the setting the path came from, so a missing file can be
   traced to the line of the experiment file that named it. */
static int read_table(table *t, const gs_host *h, const char *path, const char *key)
{
    memset(t, 0, sizeof *t);
    t->host = h;
    t->path = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        h->error("%s: cannot open: %s (data.%s)", path, strerror(errno), key);
        return -1;
    }
    char *line = NULL, **cells = NULL;
    size_t len = 0, lineno = 0;
    ssize_t got;
    int rc = 0, have_header = 0;
    while (rc == 0 && (got = getline(&line, &len, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if ((size_t)got != strlen(line)) {
            h->error("%s:%zu: NUL byte in line; not a text file", path, lineno);
            rc = -1;
            break;
        }
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte-order mark from spreadsheet exports */
        if (blank(s))
            continue;
        if (!have_header) {
            rc = parse_header(t, s, lineno);
            t->header_line = lineno;
            have_header = 1;
            if (rc == 0)
                cells = h->alloc(t->ncols * sizeof *cells);
        } else {
            rc = parse_row(t, s, lineno, cells);
        }
    }
    if (rc == 0 && ferror(f)) {
        h->error("%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && !have_header) {
        h->error("%s: empty file; a header row naming the columns is required", path);
        rc = -1;
    }
    if (rc == 0 && t->rows == 0) {
        h->error("%s: no data rows after the header", path);
        rc = -1;
    }
    free(line);
    h->free(cells);
    fclose(f);
    if (rc)
        table_free(t);
    return rc;
}

static long find_column(const table *t, const char *name)
{
    for (size_t j = 0; j < t->ncols; j++)
        if (strcmp(t->names[j], name) == 0)
            return (long)j;
    return -1;
}

static void missing_column(const table *t, const char *name, const char *key)
{
    char list[512];
    size_t off = 0;
    for (size_t j = 0; j < t->ncols && off < sizeof list - 8; j++) {
        int w = snprintf(list + off, sizeof list - off, "%s%s", j ? ", " : "", t->names[j]);
        off += (size_t)w < sizeof list - off ? (size_t)w : sizeof list - off - 1;
    }
    if (off >= sizeof list - 8)
        memcpy(list + sizeof list - 5, "...", 4);
    t->host->error("%s:%zu: no column '%s' (set data.%s); the header has: %s", t->path,
                   t->header_line, name, key, list);
}

/* Column roles: role[j] = 0 feature, -1 label, -2 - k target k, ROLE_ID
   the sequence id. */
#define ROLE_ID 1
typedef struct layout {
    long label;
    size_t n_targets, n_features;
    long *role;
} layout;

static int make_layout(const table *t, const char *label, const char *targets, const char *id,
                       layout *lay)
{
    const gs_host *h = t->host;
    lay->role = h->alloc(t->ncols * sizeof(long));
    for (size_t j = 0; j < t->ncols; j++)
        lay->role[j] = 0;
    lay->label = -1;
    lay->n_targets = 0;
    if (*label) {
        lay->label = find_column(t, label);
        if (lay->label < 0) {
            missing_column(t, label, "label");
            return -1;
        }
        lay->role[lay->label] = -1;
    }
    if (*targets) {
        char *list = dup_host(h, targets), *s = list;
        int rc = 0;
        for (;;) {
            char *comma = strchr(s, ',');
            if (comma)
                *comma = '\0';
            char *name = trim(s);
            long j = *name ? find_column(t, name) : -1;
            if (!*name) {
                h->error("%s: empty name in targets \"%s\"", t->path, targets);
                rc = -1;
            } else if (j < 0) {
                missing_column(t, name, "targets");
                rc = -1;
            } else if (lay->role[j] != 0) {
                h->error("%s: column '%s' named twice in label/targets", t->path, name);
                rc = -1;
            }
            if (rc)
                break;
            lay->role[j] = -2 - (long)lay->n_targets++;
            if (!comma)
                break;
            s = comma + 1;
        }
        h->free(list);
        if (rc)
            return -1;
    }
    if (*id) {
        long j = find_column(t, id);
        if (j < 0) {
            missing_column(t, id, "sequence");
            return -1;
        }
        if (lay->role[j] != 0) {
            h->error("%s: column '%s' is both the sequence id and a label or target", t->path,
                     id);
            return -1;
        }
        lay->role[j] = ROLE_ID;
    }
    lay->n_features = 0;
    for (size_t j = 0; j < t->ncols; j++)
        lay->n_features += lay->role[j] == 0;
    if (lay->n_features == 0) {
        h->error("%s:%zu: no feature columns left after label and targets", t->path,
                 t->header_line);
        return -1;
    }
    return 0;
}

static int same_header(const table *train, const table *test)
{
    if (test->ncols != train->ncols) {
        test->host->error("%s:%zu: %zu columns, but %s has %zu", test->path,
                          test->header_line, test->ncols, train->path, train->ncols);
        return -1;
    }
    for (size_t j = 0; j < test->ncols; j++)
        if (strcmp(test->names[j], train->names[j]) != 0) {
            test->host->error("%s:%zu: column %zu is '%s', but '%s' in %s", test->path,
                              test->header_line, j + 1, test->names[j], train->names[j],
                              train->path);
            return -1;
        }
    return 0;
}

/* Labels must be integers in [0, MAX_CLASSES); returns the largest, or -1. */
static long check_labels(const table *t, long col)
{
    long max = 0;
    for (size_t i = 0; i < t->rows; i++) {
        float v = t->cells[i * t->ncols + (size_t)col];
        if (v < 0 || v != floorf(v) || v >= MAX_CLASSES) {
            t->host->error("%s:%zu: label %g in column '%s' is not an integer in [0, %d)",
                           t->path, t->lines[i], (double)v, t->names[col], MAX_CLASSES);
            return -1;
        }
        if ((long)v > max)
            max = (long)v;
    }
    return max;
}

static int labels_below(const table *t, long col, size_t classes)
{
    for (size_t i = 0; i < t->rows; i++) {
        float v = t->cells[i * t->ncols + (size_t)col];
        if (v >= (double)classes) {
            t->host->error("%s:%zu: label %g out of range (%zu classes)", t->path,
                           t->lines[i], (double)v, classes);
            return -1;
        }
    }
    return 0;
}

static void fill_split(const table *t, const layout *lay, gs_split *s)
{
    const gs_host *h = t->host;
    size_t nf = lay->n_features;
    s->count = t->rows;
    s->x = h->alloc(t->rows * nf * sizeof(float));
    if (lay->label >= 0)
        s->labels = h->alloc(t->rows * sizeof(int32_t));
    else
        s->targets = h->alloc(t->rows * lay->n_targets * sizeof(float));
    for (size_t i = 0; i < t->rows; i++) {
        const float *row = t->cells + i * t->ncols;
        size_t f = 0;
        for (size_t j = 0; j < t->ncols; j++) {
            long r = lay->role[j];
            if (r == 0)
                s->x[i * nf + f++] = row[j];
            else if (r == -1)
                s->labels[i] = (int32_t)row[j];
            else if (r <= -2)
                s->targets[i * lay->n_targets + (size_t)(-2 - r)] = row[j];
        }
    }
}

/* Per-feature training mean and population std; features below the floor become 0. */
static void standardize(const gs_host *h, gs_split *train, gs_split *test, size_t nf)
{
    double *mean = h->zalloc(nf * sizeof(double));
    double *std = h->zalloc(nf * sizeof(double));
    for (size_t i = 0; i < train->count; i++)
        for (size_t j = 0; j < nf; j++)
            mean[j] += train->x[i * nf + j];
    for (size_t j = 0; j < nf; j++)
        mean[j] /= (double)train->count;
    for (size_t i = 0; i < train->count; i++)
        for (size_t j = 0; j < nf; j++) {
            double d = train->x[i * nf + j] - mean[j];
            std[j] += d * d;
        }
    for (size_t j = 0; j < nf; j++)
        std[j] = sqrt(std[j] / (double)train->count);
    gs_split *splits[2] = { train, test };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < splits[k]->count; i++)
            for (size_t j = 0; j < nf; j++) {
                float *x = splits[k]->x + i * nf + j;
                *x = std[j] < STD_FLOOR ? 0.0f : (float)((*x - mean[j]) / std[j]);
            }
    h->free(mean);
    h->free(std);
}

static void free_split(const gs_host *h, gs_split *s)
{
    h->free(s->x);
    h->free(s->labels);
    h->free(s->targets);
    memset(s, 0, sizeof *s);
}

/* The sequences of a table: runs of consecutive rows with the same id. */
typedef struct runs {
    size_t n, longest;
    size_t *start; /* n + 1 entries: run k is rows start[k] .. start[k+1]-1 */
} runs;

typedef struct id_row {
    float id;
    size_t row;
} id_row;

static int by_id(const void *a, const void *b)
{
    const id_row *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Splits t into runs; an id that comes back after another one is an
   error naming both lines, since the sequence would be cut in two. */
static int find_runs(const table *t, long col, runs *r)
{
    const gs_host *h = t->host;
    r->start = h->alloc((t->rows + 1) * sizeof *r->start);
    r->n = 0;
    r->longest = 0;
    for (size_t i = 0; i < t->rows; i++)
        if (i == 0 || t->cells[i * t->ncols + (size_t)col] !=
                          t->cells[(i - 1) * t->ncols + (size_t)col])
            r->start[r->n++] = i;
    r->start[r->n] = t->rows;
    id_row *ids = h->alloc(r->n * sizeof *ids);
    for (size_t k = 0; k < r->n; k++) {
        size_t len = r->start[k + 1] - r->start[k];
        r->longest = len > r->longest ? len : r->longest;
        ids[k] = (id_row){t->cells[r->start[k] * t->ncols + (size_t)col], r->start[k]};
    }
    qsort(ids, r->n, sizeof *ids, by_id);
    int rc = 0;
    for (size_t k = 1; k < r->n && rc == 0; k++)
        if (ids[k].id == ids[k - 1].id) {
            h->error("%s:%zu: sequence %s = %g starts again after other rows (line %zu); the "
                     "rows of a sequence must be consecutive",
                     t->path, t->lines[ids[k].row], t->names[col], (double)ids[k].id,
                     t->lines[ids[k - 1].row]);
            rc = -1;
        }
    h->free(ids);
    return rc;
}

/*
 * The split of per-row examples s, whose rows are grouped by r, as
 * r->n sequences of T steps of nf features (zero rows of padding).  One
 * target per sequence (its last row's), the sequence padded at the front;
 * or per_step: a target per step, padded at the end, *mask 1 on real steps.
 */
static void to_sequences(const gs_host *h, gs_split *s, const runs *r, size_t T, size_t nf,
                         size_t tw, int per_step, uint8_t **mask)
{
    size_t n = r->n, rows = per_step ? T : 1;
    float *x = h->zalloc(n * T * nf * sizeof(float));
    int32_t *labels = s->labels ? h->zalloc(n * rows * sizeof(int32_t)) : NULL;
    float *targets = s->targets ? h->zalloc(n * rows * tw * sizeof(float)) : NULL;
    if (per_step)
        *mask = h->zalloc(n * T);
    for (size_t k = 0; k < n; k++) {
        size_t first = r->start[k], len = r->start[k + 1] - first;
        size_t at = per_step ? 0 : T - len;
        memcpy(x + (k * T + at) * nf, s->x + first * nf, len * nf * sizeof(float));
        if (per_step) {
            memset(*mask + k * T, 1, len);
            if (labels)
                memcpy(labels + k * T, s->labels + first, len * sizeof(int32_t));
            if (targets)
                memcpy(targets + k * T * tw, s->targets + first * tw, len * tw * sizeof(float));
        } else {
            size_t last = first + len - 1;
            if (labels)
                labels[k] = s->labels[last];
            if (targets)
                memcpy(targets + k * tw, s->targets + last * tw, tw * sizeof(float));
        }
    }
    h->free(s->x);
    h->free(s->labels);
    h->free(s->targets);
    s->x = x;
    s->labels = labels;
    s->targets = targets;
    s->count = n;
}

static int csv_load(const gs_data_call *c, gs_dataset *out)
{
    const gs_host *h = c->host;
    const gs_value *p = c->p;
    const char *label = p[P_LABEL].s, *targets = p[P_TARGETS].s;
    const char *id = p[P_SEQUENCE].s;
    table train = { 0 }, test = { 0 };
    layout lay = { 0 };
    runs rtrain = { 0 }, rtest = { 0 };
    int rc = -1;

    memset(out, 0, sizeof *out);
    train.host = test.host = h;
    if (*label && *targets) {
        h->error("%s: both label ('%s') and targets are set: for regression set label = \"\"",
                 p[P_TRAIN].s, label);
        return -1;
    }
    if (!*label && !*targets) {
        h->error("%s: set label (classification) or targets (regression)", p[P_TRAIN].s);
        return -1;
    }
    if (read_table(&train, h, p[P_TRAIN].s, "train"))
        goto done;
    if (*p[P_TEST].s && (read_table(&test, h, p[P_TEST].s, "test") || same_header(&train, &test)))
        goto done;
    if (p[P_PER_STEP].b && !*id) {
        h->error("%s: per_step = true needs sequences: set data.sequence to the id column",
                 p[P_TRAIN].s);
        goto done;
    }
    if (make_layout(&train, label, targets, id, &lay))
        goto done;
    if (*id) {
        long col = find_column(&train, id);
        if (find_runs(&train, col, &rtrain) || (test.rows && find_runs(&test, col, &rtest)))
            goto done;
    }

    size_t classes = 0;
    if (lay.label >= 0) {
        long max = check_labels(&train, lay.label);
        long tmax = test.rows ? check_labels(&test, lay.label) : 0;
        if (max < 0 || tmax < 0)
            goto done;
        classes = (size_t)p[P_CLASSES].i;
        if (classes == 0) {
            classes = (size_t)(max > tmax ? max : tmax) + 1;
            if (classes < 2) {
                h->error("%s: every label is 0; set data.classes or check column '%s'",
                         train.path, label);
                goto done;
            }
        } else if (labels_below(&train, lay.label, classes) ||
                   labels_below(&test, lay.label, classes)) {
            goto done;
        }
    }

    out->shape.layout = GS_LAYOUT_VECTOR;
    out->shape.ndim = 1;
    out->shape.dims[0] = lay.n_features;
    out->classes = classes;
    out->target_width = lay.label >= 0 ? 0 : lay.n_targets;
    fill_split(&train, &lay, &out->train);
    if (test.rows)
        fill_split(&test, &lay, &out->test);
    if (p[P_STANDARDIZE].b)
        standardize(h, &out->train, &out->test, lay.n_features);
    if (*id) {
        size_t T = rtrain.longest > rtest.longest ? rtrain.longest : rtest.longest;
        size_t nf = lay.n_features, tw = out->target_width;
        int per_step = p[P_PER_STEP].b;
        double cells = ((double)rtrain.n + (double)rtest.n) * (double)T * (double)(nf + 2 + tw);
        if (cells > (double)MAX_CELLS) {
            h->error("%s: %zu sequences padded to %zu steps is more than 2^31 values",
                     train.path, rtrain.n + rtest.n, T);
            goto done;
        }
        if (!data_fits(h, train.path, 4.0 * cells))
            goto done;
        to_sequences(h, &out->train, &rtrain, T, nf, tw, per_step, &out->train_mask);
        if (test.rows)
            to_sequences(h, &out->test, &rtest, T, nf, tw, per_step, &out->test_mask);
        out->shape.layout = GS_LAYOUT_SEQUENCE;
        out->shape.ndim = 2;
        out->shape.dims[0] = T;
        out->shape.dims[1] = nf;
        out->steps = per_step ? T : 1;
    }
    rc = 0;
done:
    h->free(rtrain.start);
    h->free(rtest.start);
    h->free(lay.role);
    table_free(&train);
    table_free(&test);
    if (rc) {
        free_split(h, &out->train);
        free_split(h, &out->test);
        h->free(out->train_mask);
        h->free(out->test_mask);
        out->train_mask = out->test_mask = NULL;
    }
    return rc;
}

static const gs_param_spec csv_params[] = {
    { .name = "train", .type = GS_P_PATH, .flags = GS_REQUIRED,
      .doc = "CSV file of the training set (header row, numeric cells)" },
    { .name = "test", .type = GS_P_PATH, .def.s = "",
      .doc = "CSV file of the test set, same columns (\"\": no test set)" },
    { .name = "label", .type = GS_P_STRING, .def.s = "label",
      .doc = "integer class column (\"\" for regression)" },
    { .name = "targets", .type = GS_P_STRING, .def.s = "",
      .doc = "comma-separated regression target columns" },
    { .name = "classes", .type = GS_P_INT, .def.i = 0, .min = 0, .max = MAX_CLASSES,
      .doc = "number of classes (0: largest label + 1)" },
    { .name = "standardize", .type = GS_P_BOOL, .def.b = 0,
      .doc = "scale each feature to mean 0, std 1 with training statistics" },
    { .name = "sequence", .type = GS_P_STRING, .def.s = "",
      .doc = "sequence id column: consecutive rows with one id are one sequence (T, C), "
             "padded to the longest (\"\": a row is an example)" },
    { .name = "per_step", .type = GS_P_BOOL, .def.b = 0,
      .doc = "sequences: a label or targets at every step, padding masked (false: the last "
             "row's, padding in front)" },
    { 0 }
};

static const gs_dataset_ops csv_ops = {
    .size = sizeof(gs_dataset_ops),
    .load = csv_load,
};

static const gs_component components[] = {
    { .size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "csv",
      .doc = "numeric CSV tables with a header row: a label column or regression targets",
      .params = csv_params, .ops = &csv_ops },
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "data_csv",
    .version = "1.0",
    .license = "MIT",
    .description = "CSV table data set reader",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
