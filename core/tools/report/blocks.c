/*
 * gradscope report: inside the dense blocks (figures.h).  The gradient-flow
 * figure draws a whole densenet block as one point, which hides what
 * Huang et al. 2017 claim for dense connectivity: that every layer of a
 * block, the first included, gets a direct share of the gradient.  This
 * figure opens each block up: the weight-gradient norm of each of its
 * internal layers' convolutions (gradients.csv rows l<i>.conv.weight, or
 * l<i>.fc.weight on vectors) against the layer's position in the block.
 * Which layers are blocks comes from model.csv's type column.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/report/figures.h"
#include "base/util.h"
#include "tools/report/svg.h"

/* One gradients.csv row of a block's inner layer. */
typedef struct brow {
    double step, norm;
    size_t block, pos; /* index into the run's block list; position from 1 */
} brow;

/* The densenet layers of one run and the rows of their inner weights. */
typedef struct bdata {
    double *layer; /* model layer index of each block */
    size_t n_blocks;
    brow *rows;
    size_t n_rows;
} bdata;

/* Position i of "l<i>.conv.weight" / "l<i>.fc.weight"; 0 for any other tensor
   (the bottleneck's 1x1 convolution, the norms). */
static size_t inner_position(const char *tensor)
{
    if (tensor[0] != 'l')
        return 0;
    char *end;
    unsigned long i = strtoul(tensor + 1, &end, 10);
    if (end == tensor + 1 || i == 0)
        return 0;
    return strcmp(end, ".conv.weight") == 0 || strcmp(end, ".fc.weight") == 0 ? (size_t)i : 0;
}

/* What this figure needs of run r; nothing (n_blocks 0) when the run has no
   densenet block or its files cannot be read (load.c already notes a
   damaged gradients.csv; model.csv is optional for the report). */
static void bdata_load(const run *r, bdata *d)
{
    memset(d, 0, sizeof *d);
    gs_table t;
    if (gs_table_read_cols(&t, r->dir, &gs_model_format,
                           GS_COL(GS_MODEL_LAYER) | GS_COL(GS_MODEL_TYPE), &(gs_error){0}) != 0) {
        gs_table_free(&t); /* what a failed read holds: its path */
        return;
    }
    for (size_t row = 0; row < t.rows; row++) {
        double l;
        if (strcmp(gs_table_cell(&t, row, GS_MODEL_TYPE), "densenet") != 0 ||
            rp_cell_num(gs_table_cell(&t, row, GS_MODEL_LAYER), &l) < 0 || !isfinite(l))
            continue;
        d->layer = gs_xrealloc(d->layer, (d->n_blocks + 1) * sizeof *d->layer);
        d->layer[d->n_blocks++] = l;
    }
    gs_table_free(&t);
    if (!d->n_blocks)
        return;
    if (gs_table_read_cols(&t, r->dir, &gs_logs[GS_LOG_GRADIENTS],
                           GS_COL(GS_GRADIENTS_STEP) | GS_COL(GS_GRADIENTS_LAYER) |
                               GS_COL(GS_GRADIENTS_TENSOR) | GS_COL(GS_GRADIENTS_GRAD_NORM),
                           &(gs_error){0}) != 0) {
        gs_table_free(&t);
        return;
    }
    size_t cap = 0;
    for (size_t row = 0; row < t.rows; row++) {
        size_t pos = inner_position(gs_table_cell(&t, row, GS_GRADIENTS_TENSOR));
        double step, layer, norm;
        if (!pos || rp_cell_num(gs_table_cell(&t, row, GS_GRADIENTS_STEP), &step) < 0 ||
            rp_cell_num(gs_table_cell(&t, row, GS_GRADIENTS_LAYER), &layer) < 0 ||
            rp_cell_num(gs_table_cell(&t, row, GS_GRADIENTS_GRAD_NORM), &norm) < 0 ||
            !isfinite(step) || !isfinite(norm))
            continue;
        size_t blk = 0;
        while (blk < d->n_blocks && d->layer[blk] != layer)
            blk++;
        if (blk == d->n_blocks)
            continue;
        if (d->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            d->rows = gs_xrealloc(d->rows, cap * sizeof *d->rows);
        }
        d->rows[d->n_rows++] = (brow){step, norm, blk, pos};
    }
    gs_table_free(&t);
}

static void bdata_free(bdata *d)
{
    free(d->layer);
    free(d->rows);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first, middle and last of the steps at which block blk has rows;
   the number found (0 to 3, fewer when steps repeat). */
static size_t pick_steps(const bdata *d, size_t blk, double out[3])
{
    double *s = gs_xmalloc((d->n_rows + 1) * sizeof *s);
    size_t n = 0;
    for (size_t i = 0; i < d->n_rows; i++)
        if (d->rows[i].block == blk)
            s[n++] = d->rows[i].step;
    qsort(s, n, sizeof *s, cmp_double);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || s[i] != s[k - 1])
            s[k++] = s[i];
    size_t m = 0;
    if (k) {
        size_t idx[3] = {0, (k - 1) / 2, k - 1};
        for (size_t w = 0; w < 3; w++)
            if (!m || s[idx[w]] != out[m - 1])
                out[m++] = s[idx[w]];
    }
    free(s);
    return m;
}

/* Block blk at `step`: x = positions 1..n, y = the norms (NaN where a
   position has no row); the number of positions. */
static size_t block_curve(const bdata *d, size_t blk, double step, double **x, double **y)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_rows; i++)
        if (d->rows[i].block == blk && d->rows[i].pos > n)
            n = d->rows[i].pos;
    *x = gs_xmalloc((n + 1) * sizeof **x);
    *y = gs_xmalloc((n + 1) * sizeof **y);
    for (size_t i = 0; i < n; i++) {
        (*x)[i] = (double)(i + 1);
        (*y)[i] = NAN;
    }
    for (size_t i = 0; i < d->n_rows; i++)
        if (d->rows[i].block == blk && d->rows[i].step == step)
            (*y)[d->rows[i].pos - 1] = d->rows[i].norm;
    return n;
}

enum { PER_ROW = 3 };

void fig_blocks(sbuf *b, const runs *rs)
{
    bdata *d = gs_xmalloc((rs->n + 1) * sizeof *d);
    size_t rows = 0; /* rows of panels: PER_ROW blocks of one run per row */
    for (size_t i = 0; i < rs->n; i++) {
        bdata_load(&rs->v[i], &d[i]);
        if (d[i].n_rows)
            rows += (d[i].n_blocks + PER_ROW - 1) / PER_ROW;
    }
    if (!rows) {
        for (size_t i = 0; i < rs->n; i++)
            bdata_free(&d[i]);
        free(d);
        return;
    }
    const double pw = 300, ph = 260, top = 40;
    fig_begin(b, "blocks", 1100, top + ph * (double)rows + 10,
              "Inside the dense blocks: weight-gradient norm of each layer against its "
              "position in the block",
              0);
    text_el(b, 20, 24, "start", " font-weight=\"bold\" font-size=\"15\"",
            "Inside the dense blocks: \u2016\u2202L/\u2202W\u2016 of each layer's convolution "
            "(log scale)");
    static const int dash[3] = {DOTTED, DASHED, SOLID}; /* first, middle, last step */
    size_t row = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (!d[i].n_rows)
            continue;
        for (size_t blk = 0; blk < d[i].n_blocks; blk++) {
            double steps[3], *x[3] = {0}, *y[3] = {0};
            size_t ns = pick_steps(&d[i], blk, steps);
            series s[3];
            for (size_t w = 0; w < ns; w++) {
                size_t n = block_curve(&d[i], blk, steps[w], &x[w], &y[w]);
                /* with fewer than three distinct steps the last is still solid */
                s[w] = (series){x[w], y[w], n, (int)i, dash[3 - ns + w], 1};
            }
            char title[160];
            int len = snprintf(title, sizeof title, "%s, block %zu (layer %.0f)",
                               rs->v[i].label, blk + 1, d[i].layer[blk]);
            if (len >= (int)sizeof title) /* a long label: cut, not garbled */
                memcpy(title + sizeof title - 4, "...", 4);
            panel p = {.x = pw * (double)(blk % PER_ROW),
                       .y = top + ph * (double)(row + blk / PER_ROW),
                       .w = pw,
                       .h = ph,
                       .title = title,
                       .xlabel = "layer in the block (input \u2192 output)",
                       .ylabel = "\u2016\u2202L/\u2202W\u2016",
                       .integer_x = 1};
            panel_fit(&p, s, ns, 2);
            draw_panel(b, &p, s, ns);
            for (size_t w = 0; w < ns; w++) {
                free(x[w]);
                free(y[w]);
            }
        }
        row += (d[i].n_blocks + PER_ROW - 1) / PER_ROW;
    }
    legend_item key[] = {
        {"first monitored step", -1, DOTTED},
        {"middle", -1, DASHED},
        {"last", -1, SOLID},
    };
    draw_legend(b, 915, top + 40, key, 3);
    fig_end(b);
    for (size_t i = 0; i < rs->n; i++)
        bdata_free(&d[i]);
    free(d);
}
