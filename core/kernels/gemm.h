/* The matrix product every dense, convolutional and recurrent layer runs on. */
#ifndef GS_KERNELS_GEMM_H
#define GS_KERNELS_GEMM_H

#include <stddef.h>
#include "gradscope/gradscope.h"

/* C = alpha op(A) op(B) + beta C, row-major; the same bits at any thread count. */
void gs_gemm(gs_dtype dt, int ta, int tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
             size_t ldc);
/* The kernel set in use and the choice of it: gs_isa_* in <gradscope/gradscope.h>. */

#endif
