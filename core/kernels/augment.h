/* Seeded crop-and-flip augmentation of (C, H, W) images. */
#ifndef GS_KERNELS_AUGMENT_H
#define GS_KERNELS_AUGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/plugin.h"

/* One (C, H, W) image x in place: zero-padded by `pad` on every side and
   cropped back to H x W at an offset drawn in [0, 2 pad]^2, then (flip)
   mirrored left-right with probability 1/2.  The draws come from (seed,
   epoch, example) alone; scratch holds C*H*W floats. */
void gs_augment_image(float *x, const gs_shape *s, size_t pad, int flip, uint64_t seed,
                      uint64_t epoch, uint64_t example, float *scratch);

#endif
