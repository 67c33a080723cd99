/*
 * The trainer's parts and what they share:
 *   prepare.c     a variant's data, model and optimizer state, checked
 *                 before anything is written;
 *   evaluate.c    batches through the model: gathering, loss, evaluation;
 *   train_step.c  one optimizer step;
 *   trainer.c     the run loop: start or resume, epochs, finish;
 *   runfiles.c    the run directory's files written whole (config.cfg,
 *                 model.csv, summary.json, an experiment's index.csv);
 *   run.c         gs_experiment_run and gs_resume.
 */
#ifndef GS_ENGINE_TRAINER_H
#define GS_ENGINE_TRAINER_H

#include <signal.h>
#include <stdio.h>
#include "base/rng.h"
#include "engine/checkpoint.h"
#include "engine/experiment.h"
#include "engine/model.h"
#include "engine/monitor.h"
#include "engine/pace.h"
#include "engine/theory.h"
#include "rundir/format.h"

/* One variant ready to train. */
typedef struct gs_trainer {
    const gs_variant *v;
    const gs_comm *comm; /* NULL: one process */
    int writer;          /* this process writes the run directory */
    gs_model *model;
    gs_dataset data;
    size_t *train_idx, *val_idx, *test_idx;
    size_t n_train, n_val;
    const gs_loss_ops *loss;
    const gs_value *loss_p;
    const gs_optimizer_ops *opt;
    const gs_value *opt_p;
    const gs_schedule_ops *sched;
    float *opt_state;
    size_t slots;
    double base_lr, weight_decay;
    int32_t *batch_labels; /* batch * steps */
    float *batch_targets;
    uint8_t *batch_mask;   /* batch * steps, or NULL: the data have no mask */
    size_t steps;          /* target rows per example (1, or T per step) */
    size_t variant, n_variants; /* which of the experiment's runs this is, for
                                   the progress lines (n_variants 0: alone) */
} gs_trainer;

/* What one run leaves for its summary and the tables printed at the end. */
typedef struct gs_result {
    const char *label;
    gs_run_status status;
    gs_verdict verdict;
    gs_theory theory;
    double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, ratio, seconds;
    uint64_t steps;
    uint64_t last_monitored; /* the step of last_norm */
    size_t n_layers;
    double *first_norm, *last_norm;
    char **layer_types;
    char dir[4096];
} gs_result;

/* A run in progress: the state the loop (trainer.c) and the step
   (train_step.c) share. */
typedef struct gs_run {
    gs_trainer *t;
    const char *dir;
    FILE *out;
    int quiet, tty;
    gs_result *r;
    gs_monitor mon;
    gs_position pos; /* the next step */
    gs_rng shuffle;
    gs_ckpt ck;      /* views of the state above, for checkpoints */
    char *components;
    double t0, epoch_t0, last_bar; /* gs_now() at the start, the epoch's start, the last bar */
    size_t batch, epochs, steps_per_epoch;
    uint64_t total_steps;
    double loss;      /* the last step's mean batch loss */
    char detail[512]; /* why the run stopped early, "" while it goes on */
    long bad_layer;   /* where a non-finite value appeared first */
    int stop;         /* a signal asked to stop (with several ranks: any rank's) */
    double progress_every; /* seconds between plain progress lines off a terminal */
    gs_pace pace;
} gs_run;

/* ---- prepare.c ---- */
/* Everything that can fail because of the input, before anything is
   written; gs_trainer_free releases even a failed preparation. */
int gs_trainer_prepare(gs_trainer *t, const gs_variant *v, gs_error *err);
void gs_trainer_free(gs_trainer *t);

/* ---- evaluate.c ---- */
/* Examples idx[0..n) of a split into the model's input batch and the
   batch's labels or targets. */
void gs_trainer_gather(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n);
/* data.augment on the n training examples just gathered, idx[i] their
   indices in the training split: each example's crop offset and flip drawn
   from (seed, epoch, idx[i]) alone, so they do not depend on the batch, the
   ranks or the threads, and a resumed run draws the same. */
void gs_trainer_augment(gs_trainer *t, const size_t *idx, size_t n, uint64_t epoch);
/* An error unless data.augment is off or the data are images. */
int gs_trainer_check_augment(const gs_trainer *t, gs_error *err);
/* The mean loss of the model's output for the n gathered examples; dL/dout
   into dout unless NULL, the number classified right into correct unless
   NULL (with per-step targets: the counted steps classified right). */
double gs_trainer_loss(gs_trainer *t, size_t n, float *dout, double *correct);
/* The weight of training examples idx[0..n) in a mean over batches: their
   counted rows where the training split has a per-step mask, else n. */
size_t gs_trainer_weight(const gs_trainer *t, const size_t *idx, size_t n);
/* Mean loss and accuracy over examples idx[0..n) of a split, in evaluation
   mode (NaN for none; accuracy NaN without classes); with per-step
   targets, over their counted steps. */
void gs_trainer_evaluate(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n,
                         double *loss, double *acc);

/* ---- train_step.c ---- */
typedef enum {
    GS_STEP_TAKEN,    /* pos has advanced by one step */
    GS_STEP_DIVERGED, /* a non-finite loss or gradient: detail says where */
    GS_STEP_FAILED    /* err says why */
} gs_step_outcome;
gs_step_outcome gs_train_step(gs_run *run, gs_error *err);

/* ---- trainer.c ---- */
/* Trains t from its start, or (resume) from the checkpoint in dir when
   there is one, to the end; writes the logs, checkpoints, theory.csv and
   summary.json.  Returns a GS_EXIT_* status, or 128 + the signal number
   when a signal stopped it. */
int gs_train(gs_trainer *t, const char *dir, FILE *out, int quiet, int resume, gs_result *r,
             gs_error *err);
void gs_result_free(gs_result *r);
/* SIGINT and SIGTERM while a guard is set: the first one finishes the
   step, checkpoints and stops the run; a second one ends the process at
   once (the last checkpoint is intact). */
typedef struct gs_signal_guard {
    struct sigaction old_int, old_term;
} gs_signal_guard;
void gs_signals_catch(gs_signal_guard *g);
void gs_signals_restore(gs_signal_guard *g);
/* The signal that asked this process to stop, 0 if none. */
int gs_stop_signal(void);
/* s as one shell word: itself when it needs no quoting, else in single
   quotes; "" when it does not fit in n bytes. */
void gs_shell_word(char *buf, size_t n, const char *s);
/* "interrupted by signal N; continue with: gradscope resume DIR" into
   err, DIR quoted for a shell, for a run that returns 128 + N. */
void gs_err_interrupted(gs_error *err, int rc, const char *dir);

/* ---- runfiles.c ---- */
int gs_write_config(const char *dir, const gs_variant *v, gs_error *err);
/* model.csv: a row per top-level layer of m, which v built. */
int gs_write_model_table(const char *dir, const gs_variant *v, const gs_model *m,
                         gs_error *err);
/* summary.json from a finished (or stopped) run; detail "" for none. */
int gs_write_summary(const char *dir, const gs_result *r, const char *detail, gs_error *err);
/* The index.csv status of the run in dir as its files show it: its
   summary's status, GS_INDEX_DAMAGED, GS_INDEX_UNFINISHED (training began:
   it has logs) or GS_INDEX_PENDING. */
const char *gs_run_index_status(const char *dir);
/* root/index.csv for an experiment's variants, each in root/<label>; the
   status of variant `running` (n for none) is GS_INDEX_UNFINISHED, the
   others' as their files show it. */
int gs_write_experiment_index(const char *root, const gs_experiment *e, size_t running,
                              gs_error *err);
/* Rewrites root/index.csv, when there is one, with every run's status as
   its files show it now; the other columns stay. */
int gs_refresh_index(const char *root, gs_error *err);

#endif
