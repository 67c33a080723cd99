/* The matrix product every dense, convolutional and recurrent layer runs on. */
#ifndef GS_KERNELS_GEMM_H
#define GS_KERNELS_GEMM_H

#include <stddef.h>
#include "gradscope/plugin.h"

/* C = alpha op(A) op(B) + beta C, row-major; the same bits at any thread count. */
void gs_gemm(gs_dtype dt, int ta, int tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
             size_t ldc);
/* "avx2-fma" or "portable": the float GEMM chosen for this processor. */
const char *gs_gemm_kernel_name(void);

#endif
