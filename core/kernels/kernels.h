/* Element-wise kernels, reductions in a fixed order, and the thread team. */
#ifndef GS_KERNELS_KERNELS_H
#define GS_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "gradscope/plugin.h"

void gs_set_threads(int n);
int gs_get_threads(void);
/* Flush-to-zero and denormals-are-zero on every thread of the team. */
void gs_set_flush_denormals(int on);
void gs_parallel_for(size_t n, size_t grain, void (*fn)(void *, size_t, size_t), void *arg);
/* n independent jobs of unequal length, fn(arg, j, j + 1), handed out one
   at a time in index order as threads free up: put the longest first. */
void gs_parallel_jobs(size_t n, void (*fn)(void *, size_t, size_t), void *arg);
/* The kernel set the element-wise kernels and reductions run: gs_isa_name()'s,
   so GRADSCOPE_ISA switches them with the GEMM (the same bits in every set). */
const char *gs_kernels_isa_name(void);

void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y);
void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s);
void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y);
/* memset(x, 0, bytes), by several threads when long. */
void gs_zero(size_t bytes, void *x);
/* Row i of dst (n rows of `width` floats) = row idx[i] of src. */
void gs_gather_rows(size_t n, size_t width, const float *src, const size_t *idx, float *dst);

/* Sum of squares, sum and max |x| in double, in a fixed order. */
double gs_sumsq(gs_dtype dt, size_t n, const void *x);
double gs_sum(gs_dtype dt, size_t n, const void *x);
double gs_maxabs(gs_dtype dt, size_t n, const void *x);
int gs_all_finite(gs_dtype dt, size_t n, const void *x);

/* From an activation's derivative f' (batch x units): sets alive[u] where
   f' != 0 for some example (alive accumulates over calls, so that a batch
   can be taken in pieces) and returns the number of values with |f'| < thr
   (none when thr <= 0). */
size_t gs_act_mark(gs_dtype dt, const void *deriv, size_t batch, size_t units, double thr,
                   int32_t *alive);
/* Sum of (a[i] - b[i])^2 in double, in a fixed order. */
double gs_sqdist_f32(size_t n, const float *a, const float *b);
/* Over gradient g and weights w (n floats): *gg = sum g^2 and *ww = sum w^2
   (in gs_sumsq's order; *ww = 0 when w is NULL), *gmax = max |g| (NaN if any
   g is). */
void gs_grad_norms(const float *g, const float *w, size_t n, double *gg, double *ww,
                   double *gmax);
/*
 * hist[] += counts of |g| by decade: [0] zero, [1] below 10^lo, [2 + k - lo]
 * in [10^k, 10^(k+1)) for lo <= k < hi, [hi - lo + 2] 10^hi and up or not
 * finite.  -37 <= lo < hi <= 38, hi - lo + 3 <= GS_STATS_MAX_BINS.
 */
enum { GS_STATS_MAX_BINS = 80 };
void gs_grad_histogram(const float *g, size_t n, int lo, int hi, uint32_t *hist);

#endif
