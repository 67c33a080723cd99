/* The gradient-flow monitor: per-step statistics into the run's logs, the
   verdict, and the mean-field prediction beside the measurement. */
#ifndef GS_MONITOR_H
#define GS_MONITOR_H

#include "engine/model.h"
#include "engine/theory.h"
#include "rundir/csv.h"
#include "rundir/format.h"


enum { GS_HIST_LO = -30, GS_HIST_HI = 2 }; /* log10|g| bins [k, k+1) for k in [LO, HI) */
#define GS_HIST_BINS (GS_HIST_HI - GS_HIST_LO + 3) /* + zero, underflow, overflow */

/* Statistics of one tensor at one monitored step, before clipping. */
typedef struct gs_tensor_stats {
    double grad_norm, weight_norm, grad_max;
    double update_sq; /* ||after - before||^2 of the optimizer step (detailed steps) */
    uint32_t hist[GS_HIST_BINS];
} gs_tensor_stats;

/* One monitored step as the verdict sees it (docs/CONFIG.md#verdict). */
enum gs_verdict_basis {
    GS_BASIS_WEIGHT_GRAD, /* ratio: a layer's weight-gradient norm over the last layer's */
    GS_BASIS_SIGNAL,      /* ratio: a layer's input-gradient norm over the last layer's */
    GS_BASIS_GLOBAL,      /* ratio: the global gradient norm over the first step's */
    GS_BASIS_TINY,        /* ratio: the largest weight-gradient norm over the last layer's
                             input-gradient norm */
    GS_BASIS_TIME,        /* through time (a recurrent layer's dL/dh_t, bptt.csv):
                             ratio holds the time step t where it starts */
    GS_BASIS_COUNT
};

typedef struct gs_step_class {
    uint64_t step;
    int32_t kind;  /* a gs_verdict_kind: 0 healthy, 1 vanishing, 2 exploding */
    int32_t layer; /* the layer that crossed the threshold, -1 if none */
    int32_t basis; /* which test it failed: enum gs_verdict_basis */
    double ratio;  /* the measure that crossed it (see enum gs_verdict_basis) */
} gs_step_class;

/* In the order of rundir/format.h's gs_log_id.  series.csv and bptt.csv
   are created by the first series a module records for them
   (host->record_series), so that a run without any keeps the files it
   always had. */
enum { LOG_METRICS, LOG_GRADIENTS, LOG_LAYERS, LOG_PATHS, LOG_EPOCHS, LOG_HISTOGRAMS,
       LOG_DUMP_INDEX, LOG_SERIES, LOG_BPTT, LOG_THEORY, LOG_COUNT };

typedef struct gs_monitor {
    gs_csv log[LOG_COUNT];
    char *dir;
    int dump;
    size_t n_layers, n_params;
    long first_weight, last_weight; /* param indices, -1 if none */
    long *layer_weight;             /* per layer: its first weight tensor, or -1 */
    /* the monitored step in progress */
    gs_tensor_stats *cur;
    uint64_t cur_step;
    int cur_detailed; /* histograms and update ratios at this step */
    size_t cur_epoch;
    double cur_lr, cur_gnorm;
    /* rho and sigma_max of the recurrent weights before this step's update */
    gs_spectral *spec;
    size_t n_spec, cap_spec;
    /* The verdict's history: every monitored step, classified when it is
       recorded (a few bytes per step, so checkpoints stay small however
       often the monitor records). */
    gs_step_class *hist;
    size_t n_monitored, cap_monitored;
    double global0; /* the global gradient norm at the first monitored step */
    /* per layer, its weight-gradient norm at the first and the latest
       monitored step (NaN: a layer without weights) */
    double *first_norms, *last_norms;
    /* first monitored step's back-propagated signal, for the theory table */
    double *first_input_grad;
    double ratio_first_last;
    /* train loss/accuracy since the last metrics row */
    double loss_sum, correct;
    size_t examples;
    /* the latest evaluation: validation loss/accuracy, test loss/accuracy */
    double eval[4];
} gs_monitor;

typedef struct gs_verdict {
    gs_verdict_kind kind;
    long layer;          /* where it started, -1 if none */
    uint64_t step;
    long t;              /* a verdict through time: the time step it starts at; else -1 */
    char detail[256];
} gs_verdict;


/* A new run's monitor with fresh logs. */
int gs_monitor_open(gs_monitor *mon, const char *dir, const gs_model *m, int dump,
                    gs_error *err);
/* The same in two steps, for resuming: the state (which a checkpoint then
   fills), and the logs, cut back to the byte lengths of resume_at. */
void gs_monitor_init(gs_monitor *mon, const char *dir, const gs_model *m, int dump);
int gs_monitor_open_logs(gs_monitor *mon, const uint64_t *resume_at, gs_error *err);
void gs_monitor_batch(gs_monitor *mon, double loss, double correct, size_t n);
/* One metrics.csv row: the running means since the previous row. */
void gs_monitor_metrics(gs_monitor *mon, uint64_t step, size_t epoch, double lr,
                        double grad_norm);
/* Phase 1 of a monitored step, after backward and before clipping: gradient
   norms (*grad_sumsq: the sum of the per-tensor squared norms, in parameter
   order), the .npy dump, and on a detailed step the histograms. */
int gs_monitor_capture(gs_monitor *mon, gs_model *m, uint64_t step, size_t epoch, double lr,
                       int detailed, double *grad_sumsq, gs_error *err);
/* On a detailed step: ||after - before||^2 of parameter i's optimizer step
   (gs_optimizer_step measures it). */
void gs_monitor_update(gs_monitor *mon, size_t i, double update_sq);
/* Phase 2, after the optimizer step: every row. */
int gs_monitor_commit(gs_monitor *mon, gs_model *m, gs_error *err);
void gs_monitor_epoch(gs_monitor *mon, size_t epoch, uint64_t step, double train_loss,
                      double train_acc, double val_loss, double val_acc, double test_loss,
                      double test_acc, double seconds);
int gs_monitor_flush(gs_monitor *mon, gs_error *err);
void gs_monitor_verdict(const gs_monitor *mon, gs_verdict *v);
int gs_monitor_close(gs_monitor *mon, gs_error *err);

#endif
