/* NumPy .npy files of weights and gradients. */
#ifndef GS_RUNDIR_NPY_H
#define GS_RUNDIR_NPY_H

#include "gradscope/gradscope.h"

int gs_npy_write(const char *path, const gs_tensor *t, gs_error *err);

#endif
