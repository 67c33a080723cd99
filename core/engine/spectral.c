/*
 * Spectral radius and largest singular value of the recurrent weights
 * (Pascanu, Mikolov & Bengio 2013): for h_t = phi(W h_{t-1} + ...), the
 * Jacobian dh_t/dh_{t-1} = diag(phi') W, so rho(W) < 1 suffices for the
 * gradient through time of a linear RNN to vanish, and sigma_max(W) > 1/gamma
 * (gamma = sup |phi'|: 1 for tanh, 1/4 for the sigmoid) is necessary for it
 * to explode.
 *
 * No LAPACK: rho comes from the eigenvalues of the Hessenberg form by the
 * Francis double-shift QR iteration (EISPACK's hqr, Wilkinson & Reinsch
 * 1971), which is exact to rounding for a diagonalizable matrix, unlike the
 * Gelfand limit ||W^k||^(1/k), whose error decays only like (const)^(1/k).
 * sigma_max is the square root of WᵀW's largest eigenvalue by the Lanczos
 * iteration (with full reorthogonalization), which converges in tens of
 * steps where the power iteration needs hundreds.  Both run in double on a copy,
 * in a fixed order: the same weights give the same bits on any machine
 * thread count.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/spectral.h"
#include "base/util.h"

#define A(i, j) a[(size_t)(i) * n + (size_t)(j)]

/* Upper Hessenberg form by stabilized elementary similarity transforms
   (Gaussian elimination with row pivoting, each row operation matched by
   the inverse column operation): the eigenvalues are kept. */
static void to_hessenberg(double *a, size_t n)
{
    double *y = gs_xmalloc(n * sizeof *y); /* the multipliers of column m - 1 */
    for (size_t m = 1; m + 1 < n; m++) {
        size_t piv = m;
        double x = 0;
        for (size_t j = m; j < n; j++)
            if (fabs(A(j, m - 1)) > fabs(x)) {
                x = A(j, m - 1);
                piv = j;
            }
        if (piv != m) {
            for (size_t j = m - 1; j < n; j++) {
                double t = A(piv, j);
                A(piv, j) = A(m, j);
                A(m, j) = t;
            }
            for (size_t i = 0; i < n; i++) {
                double t = A(i, piv);
                A(i, piv) = A(i, m);
                A(i, m) = t;
            }
        }
        if (x == 0)
            continue;
        /* L A L^-1 with L the eliminations below row m: all the row
           operations, then column m += sum_i y_i column i, a row at a time
           so that the reads run along rows (four rows' sums advance
           together, each in the order of i) */
        for (size_t i = m + 1; i < n; i++) {
            double yi = y[i] = A(i, m - 1) / x;
            if (yi == 0)
                continue;
            A(i, m - 1) = 0;
            double *restrict ri = &A(i, 0);
            const double *restrict rm = &A(m, 0);
#pragma omp simd
            for (size_t j = m; j < n; j++)
                ri[j] -= yi * rm[j];
        }
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            double s0 = A(j, m), s1 = A(j + 1, m), s2 = A(j + 2, m), s3 = A(j + 3, m);
            for (size_t i = m + 1; i < n; i++) {
                if (y[i] == 0)
                    continue;
                s0 += y[i] * A(j, i);
                s1 += y[i] * A(j + 1, i);
                s2 += y[i] * A(j + 2, i);
                s3 += y[i] * A(j + 3, i);
            }
            A(j, m) = s0, A(j + 1, m) = s1, A(j + 2, m) = s2, A(j + 3, m) = s3;
        }
        for (; j < n; j++) {
            double s0 = A(j, m);
            for (size_t i = m + 1; i < n; i++)
                if (y[i] != 0)
                    s0 += y[i] * A(j, i);
            A(j, m) = s0;
        }
    }
    free(y);
}

/* iterations allowed for one eigenvalue (or pair) before giving up */
#define QR_MAX_ITS 100

/* max |lambda| of the upper Hessenberg matrix a (destroyed); NaN when an
   eigenvalue does not converge. */
static double hessenberg_rho(double *a, size_t n)
{
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i ? i - 1 : 0; j < n; j++)
            norm += fabs(A(i, j));
    double rho = 0, shift = 0; /* shift: the exceptional shifts taken so far */
    long hi = (long)n - 1;     /* the unreduced block still to split is [lo, hi] */
    int its = 0;
    while (hi >= 0) {
        /* deflate at a negligible subdiagonal element */
        long lo = hi;
        while (lo > 0) {
            double s = fabs(A(lo - 1, lo - 1)) + fabs(A(lo, lo));
            if (s == 0)
                s = norm;
            if (fabs(A(lo, lo - 1)) + s == s) {
                A(lo, lo - 1) = 0;
                break;
            }
            lo--;
        }
        double x = A(hi, hi);
        if (lo == hi) { /* a 1 x 1 block: a real eigenvalue */
            rho = fmax(rho, fabs(x + shift));
            hi--;
            its = 0;
            continue;
        }
        double y = A(hi - 1, hi - 1), w = A(hi, hi - 1) * A(hi - 1, hi);
        if (lo == hi - 1) { /* a 2 x 2 block: its pair in closed form */
            double p = 0.5 * (y - x), q = p * p + w, z = sqrt(fabs(q));
            x += shift;
            if (q >= 0) {
                z = p + copysign(z, p);
                rho = fmax(rho, fabs(x + z));
                rho = fmax(rho, fabs(z != 0 ? x - w / z : x + z));
            } else {
                rho = fmax(rho, hypot(x + p, z));
            }
            hi -= 2;
            its = 0;
            continue;
        }
        if (its == QR_MAX_ITS)
            return NAN;
        if (its && its % 10 == 0) {
            /* an exceptional shift breaks a cycle of the standard ones */
            shift += x;
            for (long i = 0; i <= hi; i++)
                A(i, i) -= x;
            double s = fabs(A(hi, hi - 1)) + fabs(A(hi - 1, hi - 2));
            x = y = 0.75 * s;
            w = -0.4375 * s * s;
        }
        its++;
        /* the double shift by the trailing 2 x 2 block's eigenvalues starts
           where two consecutive subdiagonal elements are small enough */
        long m;
        double p = 0, q = 0, r = 0;
        for (m = hi - 2; m >= lo; m--) {
            double z = A(m, m), rr = x - z, ss = y - z;
            p = (rr * ss - w) / A(m + 1, m) + A(m, m + 1);
            q = A(m + 1, m + 1) - z - rr - ss;
            r = A(m + 2, m + 1);
            double s = fabs(p) + fabs(q) + fabs(r);
            p /= s;
            q /= s;
            r /= s;
            if (m == lo)
                break;
            double u = fabs(A(m, m - 1)) * (fabs(q) + fabs(r));
            double v = fabs(p) * (fabs(A(m - 1, m - 1)) + fabs(z) + fabs(A(m + 1, m + 1)));
            if (u + v == v)
                break;
        }
        for (long i = m + 2; i <= hi; i++) {
            A(i, i - 2) = 0;
            if (i != m + 2)
                A(i, i - 3) = 0;
        }
        /* chase the bulge down with 3 x 3 Householder reflections */
        for (long k = m; k < hi; k++) {
            int last = k == hi - 1;
            if (k != m) {
                p = A(k, k - 1);
                q = A(k + 1, k - 1);
                r = last ? 0 : A(k + 2, k - 1);
                x = fabs(p) + fabs(q) + fabs(r);
                if (x != 0) {
                    p /= x;
                    q /= x;
                    r /= x;
                }
            }
            double s = copysign(sqrt(p * p + q * q + r * r), p);
            if (s == 0)
                continue;
            if (k == m) {
                if (lo != m)
                    A(k, k - 1) = -A(k, k - 1);
            } else {
                A(k, k - 1) = -s * x;
            }
            p += s;
            x = p / s;
            y = q / s;
            double z = r / s;
            q /= p;
            r /= p;
            /* element-wise over j, so vectors give the same bits */
            double *restrict r0 = &A(k, 0), *restrict r1 = &A(k + 1, 0);
            if (last) {
#pragma omp simd
                for (long j = k; j <= hi; j++) {
                    double t = r0[j] + q * r1[j];
                    r1[j] -= t * y;
                    r0[j] -= t * x;
                }
            } else {
                double *restrict r2 = &A(k + 2, 0);
#pragma omp simd
                for (long j = k; j <= hi; j++) {
                    double t = r0[j] + q * r1[j] + r * r2[j];
                    r2[j] -= t * z;
                    r1[j] -= t * y;
                    r0[j] -= t * x;
                }
            }
            long top = hi < k + 3 ? hi : k + 3;
            for (long i = lo; i <= top; i++) {
                double t = x * A(i, k) + y * A(i, k + 1);
                if (!last) {
                    t += z * A(i, k + 2);
                    A(i, k + 2) -= t * r;
                }
                A(i, k + 1) -= t * q;
                A(i, k) -= t;
            }
        }
    }
    return rho;
}

#undef A

double gs_spectral_radius(const double *a, size_t n)
{
    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(a[i]))
            return NAN;
    double *h = gs_xmalloc(n * n * sizeof *h);
    memcpy(h, a, n * n * sizeof *h);
    to_hessenberg(h, n);
    double rho = hessenberg_rho(h, n);
    free(h);
    return rho;
}

/* Largest eigenvalue of the symmetric tridiagonal matrix with diagonal a[0..k)
   and off-diagonal b[0..k-1): bisection on the Sturm count, to the last bit. */
static double tridiag_max(const double *a, const double *b, size_t k)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < k; i++) { /* Gershgorin */
        double r = (i ? fabs(b[i - 1]) : 0) + (i + 1 < k ? fabs(b[i]) : 0);
        lo = fmin(lo, a[i] - r);
        hi = fmax(hi, a[i] + r);
    }
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        /* eigenvalues above mid: sign changes of the LDLᵀ pivots of T - mid */
        size_t above = 0;
        double d = 1;
        for (size_t i = 0; i < k; i++) {
            d = a[i] - mid - (i ? b[i - 1] * b[i - 1] / d : 0);
            if (d == 0)
                d = -1e-300;
            above += d > 0;
        }
        if (above)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* Lanczos steps at most; fewer once the estimate settles or the Krylov
   space is exhausted */
#define LANCZOS_MAX 96
#define LANCZOS_TOL 1e-15

double gs_sigma_max(const double *a, size_t rows, size_t cols)
{
    if (rows == 0 || cols == 0)
        return 0.0;
    size_t kmax = cols < LANCZOS_MAX ? cols : LANCZOS_MAX;
    /* q: the Lanczos vectors, kept for full reorthogonalization, which holds
       the estimate exact to rounding where plain Lanczos would drift */
    double *q = gs_xmalloc((kmax + 1) * cols * sizeof *q), *u = gs_xmalloc(rows * sizeof *u);
    double *al = gs_xmalloc(2 * kmax * sizeof *al), *be = al + kmax;
    /* a fixed start with no special direction: the fractional parts of
       multiples of the golden ratio, centred */
    double vv = 0;
    for (size_t j = 0; j < cols; j++) {
        double g = (double)(j + 1) * 0.6180339887498949;
        q[j] = g - floor(g) - 0.5;
        vv += q[j] * q[j];
    }
    for (size_t j = 0; j < cols; j++)
        q[j] /= sqrt(vv);
    double lambda = 0;
    for (size_t k = 0; k < kmax; k++) {
        const double *qk = q + k * cols;
        double *w = q + (k + 1) * cols;
        for (size_t i = 0; i < rows; i++) { /* w = Aᵀ A q_k */
            double s = 0;
            for (size_t j = 0; j < cols; j++)
                s += a[i * cols + j] * qk[j];
            u[i] = s;
        }
        memset(w, 0, cols * sizeof *w);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                w[j] += a[i * cols + j] * u[i];
        double alpha = 0;
        for (size_t j = 0; j < cols; j++)
            alpha += w[j] * qk[j];
        al[k] = alpha;
        for (int pass = 0; pass < 2; pass++) /* twice is enough (Kahan) */
            for (size_t p = 0; p <= k; p++) {
                const double *qp = q + p * cols;
                double d = 0;
                for (size_t j = 0; j < cols; j++)
                    d += w[j] * qp[j];
                for (size_t j = 0; j < cols; j++)
                    w[j] -= d * qp[j];
            }
        double beta = 0;
        for (size_t j = 0; j < cols; j++)
            beta += w[j] * w[j];
        beta = sqrt(beta);
        double est = tridiag_max(al, be, k + 1);
        if (!isfinite(est)) {
            lambda = est;
            break;
        }
        int settled = k > 0 && fabs(est - lambda) <= LANCZOS_TOL * fabs(est);
        lambda = est;
        if (settled || beta <= 1e-13 * (fabs(est) + fabs(alpha)) || beta == 0)
            break;
        be[k] = beta;
        for (size_t j = 0; j < cols; j++)
            w[j] /= beta;
    }
    free(q);
    free(u);
    free(al);
    return isnan(lambda) ? NAN : sqrt(lambda > 0 ? lambda : 0);
}
