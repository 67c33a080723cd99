/*
 * A step pace watch: warns once when steps have become several times
 * slower than earlier in the run, as when values drift into denormal
 * numbers, which many CPUs compute at a small fraction of their normal
 * speed.  Steps are timed in windows of at least GS_PACE_WINDOW_S seconds
 * and GS_PACE_WINDOW_STEPS steps, so that scheduling noise and the
 * monitor's costlier steps average out; a window slower than the fastest
 * one so far by GS_PACE_FACTOR or more is the slowdown.  A pure function
 * of the step times (header only), so that tests can feed it any.
 */
#ifndef GS_ENGINE_PACE_H
#define GS_ENGINE_PACE_H

#include <stdint.h>

#define GS_PACE_WINDOW_S 0.5
#define GS_PACE_WINDOW_STEPS 8
#define GS_PACE_FACTOR 4.0

typedef struct gs_pace {
    double best; /* the fastest window's seconds per step, 0 before one */
    double secs; /* the open window's time and steps */
    uint64_t steps;
    int warned;
} gs_pace;

/* Adds one step that took secs: the slowdown factor (>= GS_PACE_FACTOR)
   the first time a window is that much slower than the fastest, else 0. */
static inline double gs_pace_step(gs_pace *p, double secs)
{
    p->secs += secs;
    p->steps++;
    if (p->secs < GS_PACE_WINDOW_S || p->steps < GS_PACE_WINDOW_STEPS)
        return 0;
    double per_step = p->secs / (double)p->steps;
    p->secs = 0;
    p->steps = 0;
    if (p->best == 0 || per_step < p->best) {
        p->best = per_step;
        return 0;
    }
    if (p->warned || per_step < GS_PACE_FACTOR * p->best)
        return 0;
    p->warned = 1;
    return per_step / p->best;
}

#endif
