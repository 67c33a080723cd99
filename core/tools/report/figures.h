/*
 * gradscope report: the figures, each an <svg> appended to b, or nothing
 * when no run has the data it needs.  docs/REPORT.md explains each one.
 */
#ifndef GS_TOOLS_REPORT_FIGURES_H
#define GS_TOOLS_REPORT_FIGURES_H

#include "tools/report/run.h"
#include "tools/report/sbuf.h"

/* ---- heatmap.c ---- */

/* A layer x step heatmap of log10 |dL/dW| for one run, in run color
   `color`, on the color scale [lo, hi] decades shared by all runs. */
void fig_heatmap(sbuf *b, const run *r, int color, double lo, double hi);
/* Distribution of |dL/dw| over each layer's weight tensor, by decade. */
void fig_histogram(sbuf *b, const run *r, int color);
/* A time step x monitored step heatmap of log10 ||dL/dh_t|| for one run, a
   panel per recurrent layer (run.h's bptt_panel), on the color scale
   [lo, hi] decades. */
void fig_bptt(sbuf *b, const run *r, int color, double lo, double hi);

/* ---- bptt.c ---- */

/* Per run with bptt.csv and recurrent layer, at its first, middle and last
   monitored step: the decay of ||dL/dh_t|| per time step measured, beside
   rho and sigma_max of its recurrent weights, per gate for an lstm or gru
   (an HTML table). */
void bptt_table(sbuf *b, const runs *rs);

/* ---- lines.c: runs overlaid ---- */

/* Loss and accuracy over training: per logged step, then per epoch. */
void fig_training(sbuf *b, const runs *rs);
/* Per-layer weight-gradient norm at the first, middle and last monitored
   step: also gradflow.svg on its own (standalone). */
void fig_gradflow(sbuf *b, const runs *rs, int standalone);
/* The back-propagated signal |dL/dx| per layer, and the update ratio. */
void fig_signal(sbuf *b, const runs *rs);
/* Activation statistics per layer at the last monitored step. */
void fig_activations(sbuf *b, const runs *rs);
/* Residual blocks: gradient through the shortcut versus the branch. */
void fig_paths(sbuf *b, const runs *rs);

/* ---- blocks.c ---- */

/* Per densenet block of each run (model.csv's type): the weight-gradient
   norm of each inner layer's convolution against its position in the
   block, at the first, middle and last monitored step; nothing when no run
   has a densenet block. */
void fig_blocks(sbuf *b, const runs *rs);

/* ---- groups.c: the groups of a sweep (runs.g) ---- */

/* Over training steps, every group on one axis: the median over its seeds
   of the first layer's |dL/dW| and of the first/last ratio, in a min-max
   band (log axes). */
void fig_groups(sbuf *b, const runs *rs);
/* One row per group: its runs' statuses and verdicts counted, and the
   median (range) of their test accuracy, final losses and grad ratio. */
void groups_table(sbuf *b, const runs *rs);

#endif
