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
    char tensor[48];
} hist_bin;

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
    /* gradients.csv: monitored steps x layers with a weight, NaN where absent */
    double *g_steps, *g_layers, *g_norm, *g_update;
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
    /* bptt.csv: ||dL/dh_t|| of its first recurrent layer (b_layer, -1 when
       there is none), n_bsteps monitored steps x b_T time steps, NaN where
       not recorded, +inf for a non-finite norm; beside it, paths.csv's rho
       and sigma_max of that layer's top weight_hh_l<k> (an rnn's: the
       lstm's and gru's are per gate), per step, NaN where absent */
    double b_layer;
    double *b_steps, *b_norm, *b_rho, *b_sigma;
    size_t n_bsteps, b_T;
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
/* The first index of the sorted v whose value is not below x. */
size_t rp_find_index(const double *v, size_t n, double x);

/* ---- bptt.c ---- */

/* The least-squares slope of log10 ||dL/dh_t|| against t over the finite,
   positive norms of monitored step s (its row of b_norm); NaN with fewer
   than two.  10^-slope is the factor by which the norm changes per time
   step going back. */
double rp_bptt_slope(const run *r, size_t s);

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
