/* xoshiro256** streams, each derived from the run's one seed and a stream number. */
#ifndef GS_BASE_RNG_H
#define GS_BASE_RNG_H

#include <stdint.h>
#include "gradscope/gradscope.h"

struct gs_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
};
void gs_rng_seed(gs_rng *r, uint64_t seed, uint64_t stream);
uint64_t gs_rng_next(gs_rng *r);
double gs_rng_uniform01(gs_rng *r);
double gs_rng_gauss(gs_rng *r);
uint64_t gs_hash_string(const char *s);
/* Uniform integer in [0, n). */
uint64_t gs_rng_below(gs_rng *r, uint64_t n);

#endif
