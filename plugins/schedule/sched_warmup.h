/*
 * The linear warm-up every schedule shares: while t < warmup_steps the
 * schedule's factor is multiplied by (t + 1) / warmup_steps, so the first
 * step runs at 1/warmup_steps of the rate and step warmup_steps - 1 already
 * at the full scheduled rate (torch LinearLR from 1/warmup_steps).
 */
#ifndef GS_SCHED_WARMUP_H
#define GS_SCHED_WARMUP_H

#include <stdint.h>
#include "gradscope/plugin.h"

/* Last entry of every schedule's schema (before the terminator). */
#define SCHED_WARMUP_PARAM                                                       \
    {.name = "warmup_steps", .type = GS_P_INT, .def = {.i = 0}, .min = 0.0,      \
     .max = 9.0e15, .doc = "linear warm-up: factor *= (t+1)/warmup_steps while t < warmup_steps"}

static inline double sched_warmup(int64_t warmup_steps, uint64_t t)
{
    if (warmup_steps <= 0 || t >= (uint64_t)warmup_steps)
        return 1.0;
    return (double)(t + 1) / (double)warmup_steps;
}

/* Epochs are whole: the rate changes at epoch boundaries, as when torch's
   epoch-based schedulers are stepped once per epoch. */
static inline uint64_t sched_epoch(uint64_t t, uint64_t steps_per_epoch)
{
    return steps_per_epoch ? t / steps_per_epoch : t;
}

#endif /* GS_SCHED_WARMUP_H */
