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
 *
 * Speed (the trainer computes these for every recurrent gate block at each
 * monitored step, issue #22): the sums (the Hessenberg reduction's column
 * sums, Lanczos's mat-vecs and inner products) run in eight lanes of fixed
 * assignment combined by a fixed tree, so they vectorize without changing
 * with the vector width; the QR sweep applies each reflection's column
 * operation at once only to the rows the rest of the sweep reads and defers
 * the rows above the bulge to the sweep's end, where they run a row per
 * vector lane (deferred_column_ops: the same operations on each element in
 * the same order, so the same bits as the plain algorithm, which
 * tests/test_spectral.c keeps as its reference); a row joins them when the
 * sweep reaches it.  Each reflection waits on the one before through a
 * chain of dependent operations: two reciprocals and multiplications build
 * it where EISPACK divides eight times, and its column is scaled (by a
 * power of two, exactly) only where its squares could overflow or
 * underflow (column_scale).  The work is compiled for
 * x86-64-v4 and -v3 besides the baseline (SPECTRAL_COPY, at the end);
 * theory.c runs the copy of the kernels' set (GRADSCOPE_ISA): the same bits
 * in each.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/spectral.h"
#include "base/util.h"

/* The work below is compiled once per instruction set (the copies at the
   end of the file; HOT functions are inlined into each).  They compute the
   same bits: every operation is element-wise or a sum in fixed lanes, and
   -ffp-contract=off keeps a * b + c two roundings in each
   (tests/test_spectral.c compares them). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define ISA_COPIES 1
#endif
#define HOT static inline __attribute__((always_inline))

#define A(i, j) a[(size_t)(i) * n + (size_t)(j)]

/* The lanes of the sums below: element j goes to lane j % LANES and the
   lanes combine by one fixed tree, so a vector unit of any width (or none)
   gives the same bits: one 8-lane vector type, which the compiler splits
   into as many registers as the instruction set needs. */
#define LANES 8

typedef double lanes __attribute__((vector_size(LANES * sizeof(double))));

/* sum_j a[j] b[j] */
HOT double dot(const double *restrict a, const double *restrict b, size_t len)
{
    lanes acc = {0};
    size_t j = 0;
    for (; j + LANES <= len; j += LANES) {
        lanes va, vb;
        memcpy(&va, a + j, sizeof va);
        memcpy(&vb, b + j, sizeof vb);
        acc += va * vb;
    }
    double s[LANES];
    memcpy(s, &acc, sizeof acc);
    for (size_t l = 0; j + l < len; l++)
        s[l] += a[j + l] * b[j + l];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Upper Hessenberg form by stabilized elementary similarity transforms
   (Gaussian elimination with row pivoting, each row operation matched by
   the inverse column operation): the eigenvalues are kept. */
HOT void to_hessenberg(double *a, size_t n)
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
           so that the reads run along rows (a zero y_i adds a zero) */
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
        for (size_t j = 0; j < n; j++)
            A(j, m) += dot(y + m + 1, &A(j, m + 1), n - m - 1);
    }
    free(y);
}

/* The reflection that reduces column k - 1 below its subdiagonal needs
   sqrt(p^2 + q^2 + r^2) of the column's three elements.  Where the squares
   can neither overflow nor lose bits to underflow (the largest element
   between 2^-480 and 2^480: every trained network's weights) the elements
   are used as they are; elsewhere the power of two that brings the largest
   into [1/2, 1) scales them, exactly.  Returns the scale.  (EISPACK divides
   by |p| + |q| + |r|: three divisions on the chain of dependent operations
   that each reflection waits on.) */
HOT double column_scale(double *p, double *q, double *r)
{
    double big = fabs(*p) > fabs(*q) ? fabs(*p) : fabs(*q);
    big = big > fabs(*r) ? big : fabs(*r);
    if (big == 0 || (big >= 0x1p-480 && big <= 0x1p480))
        return 1;
    int e;
    frexp(big, &e);
    *p = ldexp(*p, -e);
    *q = ldexp(*q, -e);
    *r = ldexp(*r, -e);
    return ldexp(1, e);
}

/* iterations allowed for one eigenvalue (or pair) before giving up */
#define QR_MAX_ITS 100

/* One 3 x 3 (or, the last of a sweep, 2 x 2) Householder reflection of the
   QR sweep, as its column operation on columns k, k + 1, k + 2 uses it. */
typedef struct {
    double x, y, z, q, r;
    int skip; /* no reflection at this k (a zero column) */
} reflector;

/* One reflection's column operation on the elements c0, c1, c2 of a row
   (a macro: the scalar and the lane loops below must do the same
   arithmetic in the same order, which is what makes deferring exact). */
#define COLUMN_OP(f, last, c0, c1, c2)                                                           \
    do {                                                                                     \
        double t_ = (f)->x * (c0) + (f)->y * (c1);                                           \
        if (!(last)) {                                                                       \
            t_ += (f)->z * (c2);                                                             \
            (c2) -= t_ * (f)->r;                                                             \
        }                                                                                    \
        (c1) -= t_ * (f)->q;                                                                 \
        (c0) -= t_;                                                                          \
    } while (0)

/* The column operations of a sweep's reflections k = m .. hi - 1 on the rows
   i = lo .. hi - 2 above the bulge, each row receiving those with k > i,
   in the order of k.  The sweep applies to rows k .. k + 3 at once what
   reflection k does to them, since later reflections read those rows; a
   row i < k is read by nothing else until the sweep ends, and its elements
   receive the same operations in the same order whenever they come, so
   deferring them to here changes no bit.  Here they run on DEFER_ROWS rows
   at a time, a row per vector lane: reflection k turns columns k, k + 1 of
   the rows (w0, w1, already updated by the reflections before it) and
   column k + 2 into the final column k and the next w0, w1; a row i
   takes no part while k <= i. */
#define DEFER_ROWS 32

HOT void deferred_column_ops(double *a, size_t n, long lo, long m, long hi,
                             const reflector *refl)
{
    double w0[DEFER_ROWS], w1[DEFER_ROWS];
    for (long i0 = lo; i0 <= hi - 2; i0 += DEFER_ROWS) {
        long nr = hi - 1 - i0 < DEFER_ROWS ? hi - 1 - i0 : DEFER_ROWS; /* rows i0 .. i0 + nr - 1 */
        long k0 = m > i0 + 1 ? m : i0 + 1; /* the first reflection any of them takes */
        double *restrict b = &A(i0, 0);   /* row i0 + l at b + l n */
        /* the lanes of rows i < k, 0 .. on - 1; a row's lane starts at
           k = i + 1 from its columns as the sweep left them */
        long on = k0 - i0 < nr ? k0 - i0 : nr;
        for (long l = 0; l < on; l++) {
            w0[l] = b[(size_t)l * n + (size_t)k0];
            w1[l] = b[(size_t)l * n + (size_t)k0 + 1];
        }
        for (long k = k0; k < hi; k++) {
            const reflector *f = &refl[k - m];
            double x = f->x, y = f->y, z = f->z, q = f->q, r = f->r;
            size_t c = (size_t)k;
            if (k > k0 && k - i0 <= nr) { /* row k - 1 joins */
                w0[on] = b[(size_t)on * n + c];
                w1[on] = b[(size_t)on * n + c + 1];
                on++;
            }
            if (k == hi - 1) { /* the last: a 2 x 2 reflection, both columns final */
                if (f->skip) {
                    for (long l = 0; l < on; l++) {
                        b[(size_t)l * n + c + 1] = w1[l];
                        b[(size_t)l * n + c] = w0[l];
                    }
                    continue;
                }
#pragma omp simd
                for (long l = 0; l < on; l++) {
                    double t = x * w0[l] + y * w1[l];
                    b[(size_t)l * n + c + 1] = w1[l] - t * q;
                    b[(size_t)l * n + c] = w0[l] - t;
                }
                continue;
            }
            if (f->skip) { /* no reflection: the columns pass through */
                for (long l = 0; l < on; l++) {
                    b[(size_t)l * n + c] = w0[l];
                    w0[l] = w1[l];
                    w1[l] = b[(size_t)l * n + c + 2];
                }
                continue;
            }
#pragma omp simd
            for (long l = 0; l < on; l++) {
                double a2 = b[(size_t)l * n + c + 2];
                double t = x * w0[l] + y * w1[l];
                t += z * a2;
                b[(size_t)l * n + c] = w0[l] - t;
                w0[l] = w1[l] - t * q;
                w1[l] = a2 - t * r;
            }
        }
    }
}

/* max |lambda| of the upper Hessenberg matrix a (destroyed); NaN when an
   eigenvalue does not converge.  refl: room for n reflectors. */
HOT double hessenberg_rho(double *a, size_t n, reflector *refl)
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
            double scale = 1;
            if (k != m) {
                p = A(k, k - 1);
                q = A(k + 1, k - 1);
                r = last ? 0 : A(k + 2, k - 1);
                scale = column_scale(&p, &q, &r);
            }
            double s = copysign(sqrt(p * p + q * q + r * r), p);
            reflector *f = &refl[k - m];
            f->skip = s == 0;
            if (s == 0)
                continue;
            if (k == m) {
                if (lo != m)
                    A(k, k - 1) = -A(k, k - 1);
            } else {
                A(k, k - 1) = -s * scale;
            }
            double is = 1 / s;
            p += s;
            double ip = 1 / p;
            x = p * is;
            y = q * is;
            double z = r * is;
            q *= ip;
            r *= ip;
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
            f->x = x, f->y = y, f->z = z, f->q = q, f->r = r;
            /* the rows from k down, at once; those above, deferred */
            long top = hi < k + 3 ? hi : k + 3;
            for (long i = k > lo ? k : lo; i <= top; i++)
                COLUMN_OP(f, last, A(i, k), A(i, k + 1), A(i, last ? k + 1 : k + 2));
        }
        deferred_column_ops(a, n, lo, m, hi, refl);
    }
    return rho;
}

#undef A

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

/* WᵀW's largest eigenvalue by kmax Lanczos steps at most; q: room for
   kmax + 1 vectors of cols, u: rows, al and be: kmax each. */
HOT double lanczos(const double *a, size_t rows, size_t cols, size_t kmax, double *q, double *u,
                   double *al, double *be)
{
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
        for (size_t i = 0; i < rows; i++) /* w = Aᵀ A q_k */
            u[i] = dot(a + i * cols, qk, cols);
        memset(w, 0, cols * sizeof *w);
        for (size_t i = 0; i < rows; i++) {
            const double *restrict ai = a + i * cols;
            double ui = u[i];
#pragma omp simd
            for (size_t j = 0; j < cols; j++)
                w[j] += ai[j] * ui;
        }
        double alpha = dot(w, qk, cols);
        al[k] = alpha;
        for (int pass = 0; pass < 2; pass++) /* twice is enough (Kahan) */
            for (size_t p = 0; p <= k; p++) {
                const double *restrict qp = q + p * cols;
                double d = dot(w, qp, cols);
#pragma omp simd
                for (size_t j = 0; j < cols; j++)
                    w[j] -= d * qp[j];
            }
        double beta = sqrt(dot(w, w, cols));
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
    return lambda;
}

/* One instruction set's copy: rho of h (reduced to Hessenberg form first
   when reduce), and the Lanczos iteration. */
typedef struct {
    const char *name;
    double (*rho)(double *h, size_t n, reflector *refl, int reduce);
    double (*lanczos)(const double *a, size_t rows, size_t cols, size_t kmax, double *q, double *u,
                      double *al, double *be);
} spectral_set;

#define SPECTRAL_COPY(set, attr)                                                             \
    attr static double set##_rho(double *h, size_t n, reflector *refl, int reduce)           \
    {                                                                                        \
        if (reduce)                                                                          \
            to_hessenberg(h, n);                                                             \
        return hessenberg_rho(h, n, refl);                                                   \
    }                                                                                        \
    attr static double set##_lanczos(const double *a, size_t rows, size_t cols, size_t kmax, \
                                     double *q, double *u, double *al, double *be)           \
    {                                                                                        \
        return lanczos(a, rows, cols, kmax, q, u, al, be);                                   \
    }                                                                                        \
    static const spectral_set set = {#set, set##_rho, set##_lanczos};

SPECTRAL_COPY(portable, )
#ifdef ISA_COPIES
SPECTRAL_COPY(avx2, __attribute__((target("arch=x86-64-v3"))))
SPECTRAL_COPY(avx512, __attribute__((target("arch=x86-64-v4"))))
#endif

/* The copy for set isa (NULL: the best this processor runs); the portable
   one for a set not compiled here or that the processor lacks. */
static const spectral_set *spectral_copy(const char *isa)
{
#ifdef ISA_COPIES
    if ((!isa || !strcmp(isa, avx512.name)) && __builtin_cpu_supports("x86-64-v4"))
        return &avx512;
    if ((!isa || !strcmp(isa, avx2.name)) && __builtin_cpu_supports("x86-64-v3"))
        return &avx2;
#endif
    return &portable;
}

static double radius(double *h, size_t n, const char *isa, int reduce)
{
    reflector *refl = gs_xmalloc(n * sizeof *refl);
    double rho = spectral_copy(isa)->rho(h, n, refl, reduce);
    free(refl);
    return rho;
}

double gs_hessenberg_radius_isa(double *h, size_t n, const char *isa)
{
    return n ? radius(h, n, isa, 0) : 0.0;
}

double gs_hessenberg_radius(double *h, size_t n) { return gs_hessenberg_radius_isa(h, n, NULL); }

double gs_spectral_radius_isa(const double *a, size_t n, const char *isa)
{
    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(a[i]))
            return NAN;
    double *h = gs_xmalloc(n * n * sizeof *h);
    memcpy(h, a, n * n * sizeof *h);
    double rho = radius(h, n, isa, 1);
    free(h);
    return rho;
}

double gs_spectral_radius(const double *a, size_t n) { return gs_spectral_radius_isa(a, n, NULL); }

double gs_sigma_max_isa(const double *a, size_t rows, size_t cols, const char *isa)
{
    if (rows == 0 || cols == 0)
        return 0.0;
    size_t kmax = cols < LANCZOS_MAX ? cols : LANCZOS_MAX;
    /* q: the Lanczos vectors, kept for full reorthogonalization, which holds
       the estimate exact to rounding where plain Lanczos would drift */
    double *q = gs_xmalloc((kmax + 1) * cols * sizeof *q), *u = gs_xmalloc(rows * sizeof *u);
    double *al = gs_xmalloc(2 * kmax * sizeof *al), *be = al + kmax;
    double lambda = spectral_copy(isa)->lanczos(a, rows, cols, kmax, q, u, al, be);
    free(q);
    free(u);
    free(al);
    return isnan(lambda) ? NAN : sqrt(lambda > 0 ? lambda : 0);
}

double gs_sigma_max(const double *a, size_t rows, size_t cols)
{
    return gs_sigma_max_isa(a, rows, cols, NULL);
}
