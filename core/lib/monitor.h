/* The gradient-flow monitor: per-step statistics into the run's CSV logs. */
#ifndef GS_MONITOR_H
#define GS_MONITOR_H

#include "model.h"

typedef struct gs_monitor {
    FILE *metrics, *gradients, *layers, *paths, *epochs;
    size_t n_layers;
    /* per layer: norm of its first weight tensor's gradient */
    double *first_norm, *last_norm;
    int have_first;
    long first_weight, last_weight; /* param indices, -1 if none */
    double ratio_first_last;
    uint64_t last_step;
    /* train loss/accuracy since the last metrics row */
    double loss_sum, correct;
    size_t examples, batches;
} gs_monitor;

int gs_monitor_open(gs_monitor *mon, const char *dir, const gs_model *m, gs_error *err);
/* Adds one step's batch loss and correct count to the running means. */
void gs_monitor_batch(gs_monitor *mon, double loss, size_t correct, size_t n);
/* One metrics.csv row: the running means since the previous row. */
void gs_monitor_metrics(gs_monitor *mon, uint64_t step, size_t epoch, double lr,
                        double grad_norm);
/* A metrics row plus every gradient statistic of a monitored step (whose
   backward computed dL/dx of the first layer too). */
void gs_monitor_step(gs_monitor *mon, gs_model *m, uint64_t step, size_t epoch, double lr,
                     double grad_norm);
void gs_monitor_epoch(gs_monitor *mon, size_t epoch, uint64_t step, double train_loss,
                      double train_acc, double val_loss, double val_acc, double seconds);
void gs_monitor_flush(gs_monitor *mon);
void gs_monitor_close(gs_monitor *mon);

#endif
