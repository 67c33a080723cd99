/* A float or double from its bit pattern and back, for tests that sweep
   bit patterns or compare results bit for bit. */
#ifndef GS_TEST_BITS_H
#define GS_TEST_BITS_H

#include <stdint.h>
#include <string.h>

static inline float f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline double f64_from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

#endif
