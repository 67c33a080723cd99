/* Checkpoints: everything a run needs to continue bit-identically. */
#ifndef GS_CHECKPOINT_H
#define GS_CHECKPOINT_H

#include "base/rng.h"
#include "engine/model.h"
#include "engine/monitor.h"
#include "engine/theory.h"
#include "rundir/format.h"


#define GS_CKPT_VERSION 6

/* Where training stands: the next step to run. */
typedef struct gs_position {
    uint64_t step;
    uint64_t epoch;
    uint64_t batch;    /* offset of the next batch in the epoch's order */
    uint64_t shuffled; /* the epoch's order is already drawn */
    double epoch_loss, epoch_correct;
} gs_position;

/* Views of the state a checkpoint saves and restores. */
typedef struct gs_ckpt {
    uint64_t config_hash;
    const char *components; /* "kind name version\n" lines */
    gs_model *model;
    float *opt_state;
    size_t opt_floats;
    gs_rng *shuffle;
    size_t *order;
    size_t n_order;
    gs_position *pos;
    gs_monitor *mon;
    gs_theory *theory;
    /* gs_now() when the run and its epoch started: saved as the seconds
       elapsed since, and moved back by those on loading, so that a resumed
       run's times count every piece of it and none of the pauses. */
    double *t0, *epoch_t0;
    /* The experiment's shape, which every saved field is checked against:
       a checkpoint edited with a valid checksum is refused all the same. */
    uint64_t total_epochs, steps_per_epoch, batch_size;
    /* Data-parallel processes (1 alone): the sums of a step depend on it. */
    int ranks;
} gs_ckpt;

/* What a checkpoint says of where its run stands, read from its META and
   LOGS sections alone (no checksum, no experiment): for telling a finished
   run from one to resume.  total_epochs is 0 in a checkpoint before
   format 4. */
typedef struct gs_ckpt_info {
    uint64_t step, epoch, batch, total_epochs;
    uint64_t log_bytes[GS_LOG_COUNT];
} gs_ckpt_info;

/* Flushes the logs, then writes DIR/checkpoint.bin atomically. */
int gs_checkpoint_save(const char *dir, gs_ckpt *c, gs_error *err);
/* Reads DIR/checkpoint.bin into the views, which must describe the same
   experiment; log offsets go to log_offsets.  1 if there is no checkpoint. */
int gs_checkpoint_load(const char *dir, gs_ckpt *c, uint64_t *log_offsets, gs_error *err);
/* DIR/checkpoint.bin's position: 0, 1 if there is none, -1 if it cannot be
   read as a checkpoint (err). */
int gs_checkpoint_peek(const char *dir, gs_ckpt_info *info, gs_error *err);
/* Parses and checks a checkpoint image without applying it (fuzzing). */
int gs_checkpoint_parse(const unsigned char *data, size_t len, gs_error *err);

#endif
