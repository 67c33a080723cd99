/*
 * xoshiro256** seeded through splitmix64.  Every random choice of a run
 * draws from a stream derived from (seed, stream id), so adding a consumer
 * never shifts the numbers another consumer sees.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include "base/rng.h"
#include "base/util.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gs_rng_seed(gs_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    uint64_t mix = splitmix64(&x) ^ stream;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&mix);
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t gs_rng_next(gs_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gs_rng_uniform01(gs_rng *r) { return (double)(gs_rng_next(r) >> 11) * 0x1.0p-53; }

/* Box-Muller in double precision; the spare value is kept so that pairs
   are used fully and the stream stays reproducible. */
double gs_rng_gauss(gs_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1;
    do
        u1 = gs_rng_uniform01(r);
    while (u1 <= 0.0);
    double u2 = gs_rng_uniform01(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}

uint64_t gs_rng_below(gs_rng *r, uint64_t n)
{
    /* Lemire's nearly-divisionless method would be faster; rejection keeps it
       exact and this is not a hot path. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = gs_rng_next(r);
    while (x >= limit);
    return x % n;
}

uint64_t gs_hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

gs_rng *gs_rng_new(uint64_t seed, uint64_t stream)
{
    gs_rng *r = gs_xmalloc(sizeof *r);
    gs_rng_seed(r, seed, stream);
    return r;
}

void gs_rng_free(gs_rng *r) { free(r); }
