/*
 * Data augmentation of one image (He et al. 2016, section 4.2: 4 pixels
 * of zero padding, a random 32 x 32 crop, a random horizontal flip), with
 * its draws a function of (seed, epoch, example) alone.
 */
#include "config.h"
#include <string.h>
#include "base/rng.h"
#include "kernels/augment.h"

void gs_augment_image(float *x, const gs_shape *s, size_t pad, int flip, uint64_t seed,
                      uint64_t epoch, uint64_t example, float *scratch)
{
    size_t c = s->dims[0], h = s->dims[1], w = s->dims[2];
    gs_rng r;
    /* one key per epoch, then one stream per example under it */
    gs_rng_seed(&r, seed, gs_hash_string("augment") + epoch);
    gs_rng_seed(&r, gs_rng_next(&r), example);
    /* always both draws, so that turning one on leaves the other's alone */
    size_t oy = (size_t)gs_rng_below(&r, 2 * pad + 1);
    size_t ox = (size_t)gs_rng_below(&r, 2 * pad + 1);
    int mirror = flip && gs_rng_below(&r, 2);
    if (!pad && !mirror)
        return;
    memcpy(scratch, x, c * h * w * sizeof(float));
    /* out[y][x] = padded[y + oy][x' + ox] with x' = x, or w-1-x mirrored;
       padded[i][j] = in[i - pad][j - pad], zero outside */
    for (size_t ch = 0; ch < c; ch++)
        for (size_t y = 0; y < h; y++) {
            float *row = x + (ch * h + y) * w;
            size_t iy = y + oy; /* in padded coordinates */
            if (iy < pad || iy - pad >= h) {
                memset(row, 0, w * sizeof(float));
                continue;
            }
            const float *src = scratch + (ch * h + iy - pad) * w;
            for (size_t xx = 0; xx < w; xx++) {
                size_t ix = (mirror ? w - 1 - xx : xx) + ox;
                row[xx] = ix < pad || ix - pad >= w ? 0.0f : src[ix - pad];
            }
        }
}
