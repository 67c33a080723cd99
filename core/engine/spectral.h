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

/* rho of the upper Hessenberg matrix h (n x n row-major; destroyed): the
   QR iteration of gs_spectral_radius alone, NaN when it does not
   converge.  For tests/test_spectral.c, which compares it with the plain
   (undeferred) algorithm bit for bit. */
double gs_hessenberg_radius(double *h, size_t n);

/* The same, computed by the copy of this code for instruction set isa
   ("portable", "avx2" or "avx512", as gs_isa_name() says; the portable copy
   for one this build or processor lacks).  The functions above use the
   best copy the processor runs; every copy gives the same bits
   (tests/test_spectral.c checks it). */
double gs_spectral_radius_isa(const double *a, size_t n, const char *isa);
double gs_hessenberg_radius_isa(double *h, size_t n, const char *isa);
double gs_sigma_max_isa(const double *a, size_t rows, size_t cols, const char *isa);

/* sigma_max(A) of the rows x cols row-major matrix a: the Lanczos iteration
   on AᵀA from a fixed start vector, in double, so the same matrix always
   gives the same bits.  NaN (or inf) when a is not finite. */
double gs_sigma_max(const double *a, size_t rows, size_t cols);

#endif
