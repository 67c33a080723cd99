/*
 * gradscope report: what the report knows of each run, read from its
 * directory through the run-directory format (rundir/format.h), and which
 * directories are runs.  A file or row that cannot be read is left out and
 * said in the run's notes, so that a run cut short, or logs of another
 * version, still give a report.
 */
#ifndef GS_TOOLS_REPORT_RUN_H
#define GS_TOOLS_REPORT_RUN_H

#include <stddef.h>
#include "rundir/format.h"
#include "tools/report/sbuf.h"

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

typedef struct layer_row {
    double layer, input_grad, mean, std, dead, sat;
} layer_row;

typedef struct hist_bin {
    double layer, lo, hi, count;
    long sub; /* rp_weight_row's k */
    char tensor[48];
} hist_bin;

/* ||dL/dh_t|| of one recurrent layer: bptt.csv's (a layer's top stacked
   layer) or series.csv's dL/dh_l<k> (a stacked layer below it); n_steps
   monitored steps x T time steps, NaN where not recorded, +inf for a
   non-finite norm.  Beside it, per step, rho and sigma_max of its
   weight_hh_l<k> (theory.csv): one value for an rnn (gate ""), one per gate
   block for an lstm or gru; NaN where absent. */
typedef struct bptt_panel {
    double layer; /* the model layer */
    long sub;     /* its stacked layer k from series.csv; -1: bptt.csv's */
    long k;       /* the stacked layer it is: the top one's is above the
                     others, or the largest k of its layer in theory.csv */
    size_t n_stacked; /* panels of its model layer */
    size_t n_steps, T;
    double *steps, *norm;
    /* rho and sigma_max: a row of n_steps per gate (4 rows allocated) */
    size_t n_gates;
    char gate[4][8];
    double *rho, *sigma;
} bptt_panel;

typedef struct run {
    char *dir, *label;
    sbuf notes; /* <li> items: what could not be read */
    /* summary.json: 1 read, 0 absent, -1 damaged (summary then as if absent) */
    int has_summary;
    gs_summary summary;
    /* metrics.csv */
    dvec m_step, m_loss, m_acc;
    /* epochs.csv */
    dvec e_epoch, e_tl, e_ta, e_vl, e_va;
    /* gradients.csv: monitored steps x rows (rp_weight_row), NaN where
       absent.  g_layers: a row's place on the layer axis, its layer, or
       layer + k/K for stacked layer k of a recurrent layer's K; g_sub: k
       (-1 for a plain weight); g_nk: K (1 for a plain weight) */
    double *g_steps, *g_layers, *g_norm, *g_update;
    long *g_sub;
    size_t *g_nk;
    size_t n_steps, n_layers;
    int has_update;
    /* layers.csv at its first and last monitored step */
    double l_first, l_last;
    layer_row *lf, *ll;
    size_t n_lf, n_ll;
    /* has_dead: a dead unit somewhere (not merely a recorded fraction of 0);
       has_sat: a recorded saturated fraction */
    int has_dead, has_sat;
    /* paths.csv: block statistics at the last step that has them */
    double p_step;
    dvec p_layer, p_short, p_resid;
    /* theory.csv with whatever columns it has; ncol 0 when there is none */
    gs_table theory;
    /* histograms.csv at its last step */
    double h_step;
    hist_bin *hb;
    size_t n_hb, cap_hb;
    /* gradients through time (bptt.c), one per recurrent layer: none
       without bptt.csv */
    bptt_panel *bp;
    size_t n_bp;
} run;

/* A row of an index.csv: its run, or why it has none. */
typedef struct rp_member {
    long run;     /* index in runs.v; -1 when its directory holds no run */
    char *status; /* index.csv's status; "missing" for a finished run that is not there */
} rp_member;

/* The runs of one combination of a sweep (variant and swept values), all
   its seeds, in index.csv's order. */
typedef struct rp_group {
    char *label;
    char *origin; /* the directory given, named in labels when several have groups */
    char *id;     /* variant and values, to find the group of a row */
    rp_member *m;
    size_t n;
} rp_group;

typedef struct runs {
    run *v;
    size_t n;
    /* from the index.csv of a sweep (swept keys, or seeds of one setting):
       empty for runs and experiments with one run per variant */
    rp_group *g;
    size_t ng;
    sbuf notes; /* <li> items: index.csv that could not be read */
} runs;

/* ---- load.c ---- */

/* Reads everything the report shows from r->dir. */
void rp_run_load(run *r);
void rp_run_free(run *r);
/* The number in a CSV cell, NaN for an empty one (a value not recorded at
   that step); -1 for text that is not a number, where gs_table_num would
   say NaN: the report counts such a row as malformed and says so. */
int rp_cell_num(const char *s, double *v);
/* The tensors that are rows of the weight-gradient heatmap, gradient flow
   and histogram: a layer's weight (a name ending in "weight", k = -1), or
   a recurrent layer's weight_hh_l<k>, the recurrent matrix whose gradient
   vanishes or explodes through time, a row per stacked layer k (its
   weight_ih_l<k> and biases are not).  A layer with several such tensors
   shows the first. */
int rp_weight_row(const char *tensor, long *k);
/* A row's label: its layer, "2", or "2 (l1)" for stacked layer k = 1 of
   n_k > 1. */
void rp_weight_row_name(sbuf *b, double layer, long k, size_t n_k);
/* The first index of the sorted v whose value is not below x. */
size_t rp_find_index(const double *v, size_t n, double x);

/* For the readers of the other files (bptt.c): a log opened with the
   columns it must have, noted when absent (required_file) or unreadable
   (0, or -1 with t empty); a row that fails the reader's checks counted
   with the skipped ones; the numbers of format columns cols of a row (-1
   if one is not a number); the table closed, its skipped rows noted. */
int rp_open_table(run *r, gs_table *t, const gs_log_format *fmt, uint64_t required_cols,
                  int required_file);
void rp_reject(gs_table *t, size_t row);
int rp_nums(const gs_table *t, size_t row, const size_t *cols, size_t n, double *out);
void rp_close_table(run *r, gs_table *t, const gs_log_format *fmt);

/* ---- bptt.c ---- */

/* Reads r->bp from bptt.csv, series.csv and theory.csv; frees it. */
void rp_bptt_load(run *r);
void rp_bptt_free(run *r);
/* The least-squares slope of log10 ||dL/dh_t|| against t over the finite,
   positive norms of monitored step s of p; NaN with fewer than two.
   10^-slope is the factor by which the norm changes per time step going
   back. */
double rp_bptt_slope(const bptt_panel *p, size_t s);
/* Where the run's verdict (summary.json) says the gradient through time
   starts to vanish or explode: the t of "vanishing through time from
   t = 48" in its verdict_detail, of the top stacked layer of verdict_layer
   from verdict_step on; NaN for any other verdict. */
double rp_bptt_verdict_t(const run *r);
/* The panel's layer, "2", or "2 (l1)" for stacked layer 1 of layer 2. */
void rp_bptt_panel_name(sbuf *b, const bptt_panel *p);

/* ---- discover.c ---- */

/* Adds the run directory arg, or the runs of the directory: those its
   index.csv lists, in its order, grouped into rs->g for a sweep; without
   an index.csv (or with one that cannot be read, noted), the runs in its
   subdirectories in version order.  GS_EXIT_INPUT with err when it holds
   no run. */
int rp_add_runs(runs *rs, const char *arg, gs_error *err);
/* Variant names, or parent/variant where names repeat; groups of several
   directories named after their directory. */
void rp_label_runs(runs *rs);
/* A member's status: its run's summary.json (or unfinished, damaged), else
   index.csv's. */
const char *rp_member_status(const runs *rs, const rp_member *m);
void rp_runs_free(runs *rs);

#endif
