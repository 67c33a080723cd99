/*
 * The run-directory format: every file name, CSV column and summary key that
 * gradscope writes, defined once.  The trainer and the monitor write through
 * these definitions; the report, the sweep, resume and the Python reader read
 * through them (docs/FORMAT.md is the same definition in prose, and a test
 * compares the two).  A change here is a change of the format: add columns at
 * the end of a log, and raise GS_FORMAT_VERSION when a reader of the old
 * version would misread the new files.
 */
#ifndef GS_RUNDIR_FORMAT_H
#define GS_RUNDIR_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "gradscope/gradscope.h"

/* summary.json's "format_version", index.csv's and model.csv's first comment. */
#define GS_FORMAT_VERSION 3

/* ---- files of a run directory ---- */
#define GS_FILE_CONFIG "config.cfg"
#define GS_FILE_SUMMARY "summary.json"
#define GS_FILE_THEORY "theory.csv"
#define GS_FILE_MODEL "model.csv"
#define GS_FILE_CHECKPOINT "checkpoint.bin"
#define GS_DIR_DUMP "dump"
/* Held by the one process writing the directory: "HOST PID\n" (rundir/lock.h). */
#define GS_FILE_LOCK ".lock"
/* ---- files at the root of an experiment (several variants) or a sweep ---- */
#define GS_FILE_INDEX "index.csv"
#define GS_FILE_SWEEP "sweep.csv"
/* ---- files of a report ---- */
#define GS_FILE_REPORT "report.html"
#define GS_FILE_GRADFLOW "gradflow.svg"

/*
 * The append-only logs, written a row at a time while the run goes
 * (rundir/csv.c) and cut back to a checkpoint's lengths on resume.  The
 * column enums index gs_logs[id].columns.
 */
typedef enum {
    GS_LOG_METRICS,
    GS_LOG_GRADIENTS,
    GS_LOG_LAYERS,
    GS_LOG_PATHS,
    GS_LOG_EPOCHS,
    GS_LOG_HISTOGRAMS,
    GS_LOG_DUMP_INDEX, /* only with monitor.dump */
    GS_LOG_SERIES,     /* statistics over an axis: per time step, per channel */
    GS_LOG_BPTT,       /* ||dL/dh_t|| of recurrent layers: the series GS_SERIES_BPTT */
    GS_LOG_THEORY,     /* theory.csv: mean-field chi at step 0, rho/sigma_max per monitored step */
    GS_LOG_COUNT
} gs_log_id;

enum { GS_METRICS_STEP, GS_METRICS_EPOCH, GS_METRICS_LOSS, GS_METRICS_ACCURACY, GS_METRICS_LR,
       GS_METRICS_GRAD_NORM, GS_METRICS_VAL_LOSS, GS_METRICS_VAL_ACCURACY,
       GS_METRICS_TEST_LOSS, GS_METRICS_TEST_ACCURACY, GS_METRICS_NCOLS };
enum { GS_GRADIENTS_STEP, GS_GRADIENTS_LAYER, GS_GRADIENTS_TENSOR, GS_GRADIENTS_GRAD_NORM,
       GS_GRADIENTS_WEIGHT_NORM, GS_GRADIENTS_GRAD_MAX_ABS, GS_GRADIENTS_UPDATE_RATIO,
       GS_GRADIENTS_NCOLS };
enum { GS_LAYERS_STEP, GS_LAYERS_LAYER, GS_LAYERS_TYPE, GS_LAYERS_INPUT_GRAD_NORM,
       GS_LAYERS_ACT_MEAN, GS_LAYERS_ACT_STD, GS_LAYERS_DEAD_FRACTION,
       GS_LAYERS_SATURATED_FRACTION, GS_LAYERS_NCOLS };
enum { GS_PATHS_STEP, GS_PATHS_LAYER, GS_PATHS_KEY, GS_PATHS_VALUE, GS_PATHS_NCOLS };
enum { GS_EPOCHS_EPOCH, GS_EPOCHS_STEP, GS_EPOCHS_TRAIN_LOSS, GS_EPOCHS_TRAIN_ACCURACY,
       GS_EPOCHS_VAL_LOSS, GS_EPOCHS_VAL_ACCURACY, GS_EPOCHS_TEST_LOSS,
       GS_EPOCHS_TEST_ACCURACY, GS_EPOCHS_SECONDS, GS_EPOCHS_NCOLS };
enum { GS_HISTOGRAMS_STEP, GS_HISTOGRAMS_LAYER, GS_HISTOGRAMS_TENSOR, GS_HISTOGRAMS_LOG10_LO,
       GS_HISTOGRAMS_LOG10_HI, GS_HISTOGRAMS_COUNT, GS_HISTOGRAMS_NCOLS };
enum { GS_DUMP_STEP, GS_DUMP_LAYER, GS_DUMP_TENSOR, GS_DUMP_KIND, GS_DUMP_FILE, GS_DUMP_SHAPE,
       GS_DUMP_NCOLS };
enum { GS_SERIES_STEP, GS_SERIES_LAYER, GS_SERIES_NAME, GS_SERIES_AXIS, GS_SERIES_INDEX,
       GS_SERIES_VALUE, GS_SERIES_NCOLS };
enum { GS_BPTT_STEP, GS_BPTT_LAYER, GS_BPTT_T, GS_BPTT_GRAD_NORM, GS_BPTT_NCOLS };
/* A top-level layer's series of this name on axis time goes to bptt.csv
   (layer, t, grad_norm) instead of series.csv: the recurrent layers record
   their output sequence's ||dL/dh_t|| under it (plugins/layer/rnn_util.h). */
#define GS_SERIES_BPTT "dL/dh"
/* On detailed steps the recurrent layers also record, per weight tensor
   ("weight_hh_l0", "weight_ih_l0"), the norm of its gradient's contribution
   from each band of time steps as "<tensor>" GS_SERIES_BAND_SUFFIX on axis
   band (series.csv): band b holds t in [b w, (b + 1) w), w = ceil(T /
   GS_BPTT_BANDS), the last band possibly shorter. */
#define GS_SERIES_BAND_SUFFIX ".band_grad_norm"
#define GS_BPTT_BANDS 10
/* On detailed steps the monitor records, on axis channel (series.csv), the
   std over the batch and positions of each channel of every layer's output
   that is an image, as GS_SERIES_ACT_STD, and per output channel o of every
   convolution weight (C_out, C_in, k, k) the norm of its gradient's slice o,
   as "<tensor>" GS_SERIES_CHANNEL_GRAD_SUFFIX (engine/monitor.c). */
#define GS_SERIES_ACT_STD "act_std"
#define GS_SERIES_CHANNEL_GRAD_SUFFIX ".grad_norm"
/* series.csv's axis column, by gs_axis */
#define GS_AXIS_NAME_TIME "time"
#define GS_AXIS_NAME_CHANNEL "channel"
#define GS_AXIS_NAME_BAND "band"

typedef struct gs_log_format {
    const char *file;             /* relative to the run directory */
    const char *const *columns;   /* the header row, in order */
    size_t n_columns;
} gs_log_format;

extern const gs_log_format gs_logs[GS_LOG_COUNT];

/* The header row of a log, "a,b,c\n", for writers. */
const char *gs_log_header(gs_log_id id);
/* A table's header row into f, after a "# gradscope format N" line when
   `versioned` (the tables written whole: model.csv, index.csv). */
void gs_format_write_header(FILE *f, const gs_log_format *fmt, int versioned);
/* One cell into f (a comma before it unless first), in double quotes, with
   quotes doubled, when it holds a comma, a quote or a line break. */
void gs_csv_cell(FILE *f, const char *s, int first);

/* ---- model.csv: one row per top-level layer, written when the run starts ---- */
enum { GS_MODEL_LAYER, GS_MODEL_NAME, GS_MODEL_TYPE, GS_MODEL_KIND, GS_MODEL_LAYOUT,
       GS_MODEL_IN_SHAPE, GS_MODEL_OUT_SHAPE, GS_MODEL_PARAMS, GS_MODEL_NCOLS };
extern const gs_log_format gs_model_format;

/* ---- theory.csv (the log GS_LOG_THEORY): at step 0, the mean-field theory
   of the longest stack of alike dense or conv2d layers, or, without such a
   stack in a model that works on images, a row whose note says why; at every
   monitored step, a row per gate block of each recurrent weight matrix
   (stack GS_THEORY_STACK_RECURRENT, first_layer = last_layer = its layer,
   weight "<tensor>" for an rnn, "<tensor>.<gate>" for an lstm (gates i, f,
   g, o) or a gru (r, z, n), e.g. "weight_hh_l0.f") with its rho and
   sigma_max (engine/spectral.c); each row leaves the other kind's columns
   empty ---- */
enum { GS_THEORY_FIRST_LAYER, GS_THEORY_LAST_LAYER, GS_THEORY_ACTIVATION, GS_THEORY_SIGMA_W2,
       GS_THEORY_SIGMA_B2, GS_THEORY_Q_STAR, GS_THEORY_CHI_PREDICTED, GS_THEORY_CHI_MEASURED,
       GS_THEORY_Q_IN, GS_THEORY_CHI_PATH, GS_THEORY_STACK, GS_THEORY_NOTE, GS_THEORY_STEP,
       GS_THEORY_WEIGHT, GS_THEORY_RHO, GS_THEORY_SIGMA_MAX, GS_THEORY_NCOLS };
#define GS_THEORY_STACK_RECURRENT "recurrent"

/* ---- index.csv: the runs under an experiment or sweep directory ---- */
/* Columns: path,variant,seed,status, then one column per swept key. */
enum { GS_INDEX_PATH, GS_INDEX_VARIANT, GS_INDEX_SEED, GS_INDEX_STATUS, GS_INDEX_FIXED_NCOLS };
extern const gs_log_format gs_index_format; /* the fixed columns */
/* status: a gs_status_name, or one of these */
#define GS_INDEX_UNFINISHED "unfinished" /* started (it has logs), no summary.json yet */
#define GS_INDEX_PENDING "pending"       /* not started: no logs (a sweep's: no config.cfg) */
#define GS_INDEX_DAMAGED "damaged"       /* a summary.json gs_summary_read refuses */

typedef struct gs_index_row {
    const char *path;          /* the run directory, relative to index.csv's */
    const char *variant;       /* "" without variants */
    int64_t seed;
    const char *status;
    const char *const *values; /* one per swept key */
} gs_index_row;

/* Writes DIR/index.csv atomically: a "# gradscope format N" line, the header
   (the fixed columns, then keys), a line per row.  A cell holding ',' or '"'
   is quoted ("" for a quote); a line break in a cell is refused (-1, err
   names the cell). */
int gs_index_write(const char *dir, const gs_index_row *rows, size_t n,
                   const char *const *keys, size_t n_keys, gs_error *err);

/* ---- summary.json ---- */
typedef enum {
    GS_STATUS_COMPLETED,
    GS_STATUS_DIVERGED,
    GS_STATUS_INTERRUPTED,
    GS_STATUS_COUNT
} gs_run_status;
/* "completed", "diverged", "interrupted"; gs_status_parse returns -1 for others. */
const char *gs_status_name(gs_run_status s);
int gs_status_parse(const char *name, gs_run_status *out);
/* A run is finished (nothing more to resume) when completed or diverged. */
int gs_status_finished(gs_run_status s);

typedef enum { GS_VERDICT_HEALTHY, GS_VERDICT_VANISHING, GS_VERDICT_EXPLODING,
               GS_VERDICT_COUNT } gs_verdict_kind;
const char *gs_verdict_name(gs_verdict_kind v);
int gs_verdict_parse(const char *name, gs_verdict_kind *out);

/* summary.json's keys, in the order they are written. */
typedef struct gs_summary {
    int format_version;          /* "format_version" (absent in files before 2: 1) */
    gs_run_status status;        /* "status" */
    char detail[512];            /* "detail": why it stopped, "" when absent */
    uint64_t steps;              /* "steps" */
    double train_loss, train_accuracy, val_loss, val_accuracy, test_loss, test_accuracy;
    double wall_time_s;          /* "wall_time_s" */
    double grad_ratio_first_last; /* "grad_ratio_first_last" */
    gs_verdict_kind verdict;     /* "verdict" */
    long verdict_layer;          /* "verdict_layer", -1 for null */
    long long verdict_step;      /* "verdict_step", -1 for null */
    long verdict_t;              /* "verdict_t": the time step a verdict through time
                                    starts at, -1 for null (any other verdict) */
    char verdict_detail[512];    /* "verdict_detail" */
    double chi_predicted, chi_measured, chi_path; /* NaN for null */
    char gradscope_version[32];  /* "gradscope_version" */
} gs_summary;

/* Every field "absent": NaN numbers, -1 layer and step, empty strings. */
void gs_summary_init(gs_summary *s);
/* Writes DIR/summary.json atomically. */
int gs_summary_write(const char *dir, const gs_summary *s, gs_error *err);
/* Reads DIR/summary.json: 0, 1 when there is none, -1 when it is damaged
   (err names the file and what is wrong).  Unknown keys are ignored; a
   format_version newer than GS_FORMAT_VERSION is an error. */
int gs_summary_read(const char *dir, gs_summary *s, gs_error *err);

/*
 * Reading a log or any of the tables above: the whole file in memory, its
 * header checked against the format (every column the format names must be
 * there; extra columns are allowed), rows split in place.  Lines starting
 * with '#' before the header are comments; a field in double quotes may hold
 * commas ("" is a quote).  Rows with the wrong number of fields, and a last
 * row without its newline (a run killed while writing), are skipped and
 * counted.
 */
typedef struct gs_table {
    char *text;
    char **names;        /* the header's ncol column names */
    char **cells;        /* rows x ncol */
    size_t rows, ncol;
    int *col;            /* format column k is file column col[k] */
    size_t skipped, first_skipped_line;
    size_t *line;        /* each row's line in the file, for messages */
    char *path;
} gs_table;

/* 0 read, 1 the file does not exist, -1 unreadable or a format column
   missing (err says which). */
int gs_table_read(gs_table *t, const char *dir, const gs_log_format *fmt, gs_error *err);
/* The same, requiring only the format columns in the mask `required`
   (GS_COL(k) | ...): a reader that can do without a column still reads the
   logs of versions before it, whose cells then read as "". */
#define GS_COL(k) (UINT64_C(1) << (k))
int gs_table_read_cols(gs_table *t, const char *dir, const gs_log_format *fmt, uint64_t required,
                       gs_error *err);
/* Cell of format column k in row r ("" when the file lacks it). */
const char *gs_table_cell(const gs_table *t, size_t r, size_t k);
/* The same as a number; NaN for an empty, "nan" or unparseable cell. */
double gs_table_num(const gs_table *t, size_t r, size_t k);
/* File column by name, -1 when absent (for the swept keys of index.csv). */
int gs_table_find(const gs_table *t, const char *name);
void gs_table_free(gs_table *t);

#endif
