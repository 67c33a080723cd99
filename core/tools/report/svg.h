/*
 * gradscope report: the drawing primitives of the figures, hand-written SVG
 * (svg.c): colors, axes and their ticks, panels of line series, legends.
 */
#ifndef GS_TOOLS_REPORT_SVG_H
#define GS_TOOLS_REPORT_SVG_H

#include <stddef.h>
#include "tools/report/sbuf.h"

#define INK "#333"
#define GRID "#e3e3e3"
#define MINOR "#f2f2f2"
#define FONT "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

/* Run i's color in every figure; INK for i < 0 (keys that are no run). */
const char *run_color(int i);

/* Line styles: solid, dashed, dotted, and a wide translucent band that
   stays visible under a measured curve it matches. */
enum { SOLID, DASHED, DOTTED, BAND };

/* An axis maps data (log10 of it for log axes) from [lo, hi] onto pixels [a, b]. */
typedef struct axis {
    double lo, hi, step, a, b;
    int log, integer;
} axis;

/* The extent of data (log10 of it for log axes). */
typedef struct range {
    double lo, hi;
    int any;
} range;

void range_addv(range *r, const double *v, size_t n, int log);
/* The whole decades around [lo, hi] (log10 units), at least one; at most
   8 are labelled, the multiples of the step, so that 10^0 is one of them
   when in range. */
void decades(double lo, double hi, axis *ax);
/* The first tick: the smallest multiple of the step in range. */
double first_tick(const axis *ax);
/* A 1-2-5 stride for labelling every n-th of `count` rows or columns. */
size_t label_stride(size_t count, size_t max_labels);
/* Whole decades on a log axis; 1-2-5 steps on a linear one. */
void axis_fit(axis *ax, const range *r, int log, int integer);
void fixed_axis(axis *ax, double lo, double hi, double step);
/* The label of tick t: 10^k on a log axis, the value on a linear one. */
void tick_label(sbuf *b, const axis *ax, double t);
void text_el(sbuf *b, double x, double y, const char *anchor, const char *extra, const char *txt);

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

/* Fits the axes to the series; logy_allowed: 0 linear, 1 log when the data
   asks for it (positive, over more than two decades), 2 log. */
void panel_fit(panel *p, const series *s, size_t ns, int logy_allowed);
void draw_panel(sbuf *b, panel *p, const series *s, size_t ns);
/* draw_panel in parts: the frame (its group left open), lines and bands
   in the order given, the end of the group. */
void panel_begin(sbuf *b, panel *p);
void panel_line(sbuf *b, const panel *p, const series *s);
/* A shaded area in color between lo and hi over x; broken where a value
   cannot be drawn (not finite, or not positive on a log axis). */
void panel_band(sbuf *b, const panel *p, const double *x, const double *lo, const double *hi,
                size_t n, int color);
void panel_end(sbuf *b);
/* The pixel of data point (x, y); 0 when it cannot be drawn. */
int panel_point(const panel *p, double x, double y, double *px, double *py);

typedef struct legend_item {
    const char *label; /* NULL: a gap between groups */
    int color, dash;
} legend_item;

void draw_legend(sbuf *b, double x, double y, const legend_item *it, size_t n);

/* An <svg> of w x h with its title; standalone: with the namespace, for a
   file of its own. */
void fig_begin(sbuf *b, const char *cls, double w, double h, const char *title, int standalone);
void fig_end(sbuf *b);

#endif
