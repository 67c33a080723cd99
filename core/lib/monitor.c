/*
 * Gradient-flow statistics.  Norms are L2 norms over the whole batch
 * tensor of the gradient of the mean batch loss, accumulated in double in a
 * fixed order so that logs are identical at any thread count.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "monitor.h"
#include "rundir.h"

static void fmt(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.9g", v);
    else
        snprintf(buf, n, "%s", isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
}

int gs_monitor_open(gs_monitor *mon, const char *dir, const gs_model *m, gs_error *err)
{
    memset(mon, 0, sizeof *mon);
    mon->n_layers = m->n_layers;
    mon->first_norm = gs_xcalloc(m->n_layers, sizeof(double));
    mon->last_norm = gs_xcalloc(m->n_layers, sizeof(double));
    mon->first_weight = mon->last_weight = -1;
    mon->ratio_first_last = NAN;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i]->pub.role == GS_ROLE_WEIGHT) {
            if (mon->first_weight < 0)
                mon->first_weight = (long)i;
            mon->last_weight = (long)i;
        }
    if (!(mon->metrics = gs_rundir_open(dir, "metrics.csv", err)) ||
        !(mon->gradients = gs_rundir_open(dir, "gradients.csv", err)) ||
        !(mon->layers = gs_rundir_open(dir, "layers.csv", err)) ||
        !(mon->paths = gs_rundir_open(dir, "paths.csv", err)) ||
        !(mon->epochs = gs_rundir_open(dir, "epochs.csv", err))) {
        gs_monitor_close(mon);
        return -1;
    }
    fputs("step,epoch,loss,accuracy,lr,grad_norm\n", mon->metrics);
    fputs("step,layer,tensor,grad_norm,weight_norm,grad_max_abs\n", mon->gradients);
    fputs("step,layer,type,input_grad_norm,act_mean,act_std\n", mon->layers);
    fputs("step,layer,key,value\n", mon->paths);
    fputs("epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n", mon->epochs);
    return 0;
}

void gs_monitor_batch(gs_monitor *mon, double loss, size_t correct, size_t n)
{
    mon->loss_sum += loss * (double)n;
    mon->correct += (double)correct;
    mon->examples += n;
    mon->batches++;
}

void gs_monitor_metrics(gs_monitor *mon, uint64_t step, size_t epoch, double lr,
                        double grad_norm)
{
    char a[32], b[32], c[32], d[32];
    double loss = mon->examples ? mon->loss_sum / (double)mon->examples : NAN;
    double acc = mon->examples ? mon->correct / (double)mon->examples : NAN;
    fmt(a, sizeof a, loss);
    fmt(b, sizeof b, acc);
    fmt(c, sizeof c, lr);
    fmt(d, sizeof d, grad_norm);
    fprintf(mon->metrics, "%llu,%zu,%s,%s,%s,%s\n", (unsigned long long)step, epoch, a, b, c, d);
    mon->loss_sum = mon->correct = 0;
    mon->examples = mon->batches = 0;
}

void gs_monitor_step(gs_monitor *mon, gs_model *m, uint64_t step, size_t epoch, double lr,
                     double grad_norm)
{
    char a[32], b[32], c[32];
    gs_monitor_metrics(mon, step, epoch, lr, grad_norm);

    double *layer_norm = gs_xcalloc(m->n_layers, sizeof(double));
    unsigned char *have = gs_xcalloc(m->n_layers, 1);
    for (size_t i = 0; i < m->n_params; i++) {
        gs_param_rec *p = m->params[i];
        double g = sqrt(gs_sumsq(m->dtype, p->numel, p->pub.grad.data));
        double w = sqrt(gs_sumsq(m->dtype, p->numel, p->pub.value.data));
        double gmax = gs_maxabs(m->dtype, p->numel, p->pub.grad.data);
        fmt(a, sizeof a, g);
        fmt(b, sizeof b, w);
        fmt(c, sizeof c, gmax);
        fprintf(mon->gradients, "%llu,%d,%s,%s,%s,%s\n", (unsigned long long)step, p->layer,
                p->local_name, a, b, c);
        if (p->pub.role == GS_ROLE_WEIGHT && !have[p->layer]) {
            have[p->layer] = 1;
            layer_norm[p->layer] = g;
        }
        if ((long)i == mon->first_weight)
            mon->ratio_first_last = g;
        if ((long)i == mon->last_weight)
            mon->ratio_first_last = mon->ratio_first_last / g;
    }
    for (size_t l = 0; l < m->n_layers; l++) {
        if (!mon->have_first)
            mon->first_norm[l] = have[l] ? layer_norm[l] : NAN;
        mon->last_norm[l] = have[l] ? layer_norm[l] : NAN;
        const gs_tensor *x = &m->dacts[l], *y = &m->acts[l + 1];
        size_t n = gs_tensor_numel(y);
        double ig = sqrt(gs_sumsq(m->dtype, gs_tensor_numel(x), x->data));
        double mean = gs_sum(m->dtype, n, y->data) / (double)n;
        double var = gs_sumsq(m->dtype, n, y->data) / (double)n - mean * mean;
        fmt(a, sizeof a, ig);
        fmt(b, sizeof b, mean);
        fmt(c, sizeof c, sqrt(var > 0 ? var : 0));
        fprintf(mon->layers, "%llu,%zu,%s,%s,%s,%s\n", (unsigned long long)step, l,
                gs_module_type(m->layers[l]), a, b, c);
    }
    for (size_t i = 0; i < m->n_stats; i++) {
        fmt(a, sizeof a, m->stats[i].value);
        fprintf(mon->paths, "%llu,%d,%s,%s\n", (unsigned long long)step, m->stats[i].layer,
                m->stats[i].key, a);
    }
    m->n_stats = 0;
    mon->have_first = 1;
    mon->last_step = step;
    free(layer_norm);
    free(have);
}

void gs_monitor_epoch(gs_monitor *mon, size_t epoch, uint64_t step, double train_loss,
                      double train_acc, double val_loss, double val_acc, double seconds)
{
    char a[32], b[32], c[32], d[32];
    fmt(a, sizeof a, train_loss);
    fmt(b, sizeof b, train_acc);
    fmt(c, sizeof c, val_loss);
    fmt(d, sizeof d, val_acc);
    fprintf(mon->epochs, "%zu,%llu,%s,%s,%s,%s,%.3f\n", epoch, (unsigned long long)step, a, b,
            c, d, seconds);
}

void gs_monitor_flush(gs_monitor *mon)
{
    FILE *files[] = {mon->metrics, mon->gradients, mon->layers, mon->paths, mon->epochs};
    for (size_t i = 0; i < GS_ARRAY_LEN(files); i++)
        if (files[i])
            fflush(files[i]);
}

void gs_monitor_close(gs_monitor *mon)
{
    FILE *files[] = {mon->metrics, mon->gradients, mon->layers, mon->paths, mon->epochs};
    for (size_t i = 0; i < GS_ARRAY_LEN(files); i++)
        if (files[i])
            fclose(files[i]);
    free(mon->first_norm);
    free(mon->last_norm);
    memset(mon, 0, sizeof *mon);
}
