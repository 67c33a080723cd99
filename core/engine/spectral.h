/* The spectral radius and largest singular value of the recurrent weight
   matrices (Pascanu, Mikolov & Bengio 2013), beside the measured gradients
   through time. */
#ifndef GS_ENGINE_SPECTRAL_H
#define GS_ENGINE_SPECTRAL_H

#include <stddef.h>

/* rho(A) = max |lambda| of the n x n row-major matrix a: Hessenberg
   reduction and Francis double-shift QR, in double.  NaN when the QR
   iteration does not converge (or a is not finite).  a is not changed. */
double gs_spectral_radius(const double *a, size_t n);

/* sigma_max(A) of the rows x cols row-major matrix a: the Lanczos iteration
   on AᵀA from a fixed start vector, in double, so the same matrix always
   gives the same bits.  NaN (or inf) when a is not finite. */
double gs_sigma_max(const double *a, size_t rows, size_t cols);

#endif
