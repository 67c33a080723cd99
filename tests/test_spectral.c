/* The spectral radius and largest singular value of the recurrent weights
   (core/engine/spectral.c) on matrices whose answer is known: scaled
   rotations (a complex pair), diagonal and triangular matrices, Jordan-like
   blocks, orthogonal matrices times a scale, rotations in a dense
   orthogonal basis, a random one against the plain power iteration, the
   bits the same on every call, and the QR iteration, whose sweeps defer the
   column operations on the rows above the bulge, against the plain
   algorithm (written here) bit for bit, and every instruction set's copy
   against the portable one. */
#include <math.h>
#include "testutil.h"
#include "engine/spectral.h"

static double *mat(size_t n) { return calloc(n * n, sizeof(double)); }

#define A(i, j) a[(size_t)(i) * n + (size_t)(j)]

/* spectral.c's scaling of a reflection's column: none where the squares
   neither overflow nor underflow, else by the power of two that brings
   the largest element into [1/2, 1) */
static double column_scale(double *p, double *q, double *r)
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

/* The reference: EISPACK's hqr for the eigenvalues alone as it is usually
   written, each reflection's column operation applied to all the rows
   lo .. k + 3 at once, as spectral.c did before it deferred the rows above
   the bulge.  Deferring must not change a bit. */
static double plain_hessenberg_rho(double *a, size_t n)
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
        if (its == 100)
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

/* xorshift in [-0.5, 0.5) */
static double uniform(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return (double)(*x >> 11) / 9007199254740992.0 - 0.5;
}

/* The deferred column operations against the plain algorithm, bit for
   bit, on upper Hessenberg matrices of sizes around the blocks of rows the
   deferral works in (32), with real and complex eigenvalues, with zero
   subdiagonal elements (deflation in the middle, so sweeps start at
   lo > 0) and zero columns (reflections skipped). */
START_TEST(deferred_qr_matches_the_plain_algorithm)
{
    static const size_t sizes[] = {3, 4, 5, 8, 31, 32, 33, 34, 63, 65, 100, 128, 131};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int kind = 0; kind < 4; kind++) {
            size_t n = sizes[si];
            double *h = mat(n), *g = mat(n);
            for (size_t i = 0; i < n; i++)
                for (size_t j = i ? i - 1 : 0; j < n; j++) {
                    double v = uniform(&x);
                    if (kind == 1 && j + 1 == i && i % 7 == 3)
                        v = 0; /* split into independent blocks */
                    if (kind == 2 && j < i + 2 && i % 5 == 2)
                        v = 0; /* zero diagonal and subdiagonal stretches */
                    if (kind == 3)
                        v = i == j ? 0.9 : v * 1e-3; /* nearly diagonal: early deflation */
                    h[i * n + j] = v;
                }
            memcpy(g, h, n * n * sizeof *g);
            double want = plain_hessenberg_rho(g, n);
            memcpy(g, h, n * n * sizeof *g);
            double got = gs_hessenberg_radius(g, n);
            ck_assert_msg(!isnan(want), "n = %zu, kind %d: the reference did not converge", n,
                          kind);
            ck_assert_msg(memcmp(&got, &want, sizeof got) == 0,
                          "n = %zu, kind %d: rho %.17g, the plain QR %.17g", n, kind, got, want);
            free(h);
            free(g);
        }
}
END_TEST

/* out = A B (B transposed when bt), n x n, each element summed in k order */
static void product(size_t n, const double *a, const double *b, int bt, double *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = 0;
            for (size_t k = 0; k < n; k++)
                v += a[i * n + k] * (bt ? b[j * n + k] : b[k * n + j]);
            out[i * n + j] = v;
        }
}

/* d's 2 x 2 diagonal block at row i: a rotation by th scaled by r */
static void rotation_block(double *d, size_t n, size_t i, double r, double th)
{
    d[i * n + i] = r * cos(th);
    d[i * n + i + 1] = -r * sin(th);
    d[(i + 1) * n + i] = r * sin(th);
    d[(i + 1) * n + i + 1] = r * cos(th);
}

/* A block-diagonal matrix of 2 x 2 rotations by different angles, the k-th
   scaled by r_k, conjugated by a fixed well-conditioned matrix (so that the
   QR iteration sees no structure): rho = max r_k, every eigenvalue complex. */
static double *rotations(size_t n, const double *r)
{
    double *d = mat(n), *s = mat(n), *t = mat(n), *out = mat(n);
    for (size_t k = 0; k < n / 2; k++) {
        rotation_block(d, n, 2 * k, r[k], 0.3 + 0.7 * (double)k);
    }
    /* S = I + 0.1 E (E upper triangular of ones): S^-1 = the same with
       alternating powers, computed here by back substitution per column */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            s[i * n + j] = i == j ? 1.0 : 0.1;
    double *sinv = mat(n);
    for (size_t c = 0; c < n; c++)
        for (size_t i = n; i-- > 0;) {
            double v = i == c ? 1.0 : 0.0;
            for (size_t j = i + 1; j < n; j++)
                v -= s[i * n + j] * sinv[j * n + c];
            sinv[i * n + c] = v;
        }
    product(n, s, d, 0, t);
    product(n, t, sinv, 0, out);
    free(d);
    free(s);
    free(t);
    free(sinv);
    return out;
}

START_TEST(rho_of_scaled_rotations)
{
    for (size_t n = 2; n <= 64; n *= 2) {
        double r[32];
        for (size_t k = 0; k < n / 2; k++)
            r[k] = 0.5 + 0.4 * (double)k / (double)(n / 2);
        r[n / 4] = 1.1; /* the largest, in the middle */
        double *a = rotations(n, r);
        double rho = gs_spectral_radius(a, n);
        ck_assert_msg(fabs(rho - 1.1) < 1e-9, "n = %zu: rho %.17g, want 1.1", n, rho);
        free(a);
    }
}
END_TEST

START_TEST(rho_of_diagonal_and_triangular)
{
    size_t n = 50;
    double *a = mat(n);
    for (size_t i = 0; i < n; i++)
        a[i * n + i] = (i % 2 ? -1.0 : 1.0) * (0.2 + 0.01 * (double)i); /* -0.69 at i = 49 */
    ck_assert(fabs(gs_spectral_radius(a, n) - 0.69) < 1e-12);
    /* upper triangular: the same eigenvalues whatever lies above */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            a[i * n + j] = sin((double)(i * n + j));
    ck_assert(fabs(gs_spectral_radius(a, n) - 0.69) < 1e-9);
    double zero[9] = {0};
    ck_assert(gs_spectral_radius(zero, 3) == 0.0);
    double one = -2.5;
    ck_assert(gs_spectral_radius(&one, 1) == 2.5);
    free(a);
}
END_TEST

/* Scaling a matrix by a power of two scales rho by it exactly, so long as
   nothing overflows or underflows: every operation is then the same on
   mantissas.  2^500 takes the reflections' columns past the range where
   their squares are safe (2^480), so the scaled path runs and must agree
   bit for bit with the unscaled one.  Far below, products of small
   elements lose bits to underflow (as in EISPACK), so 2^-490 is checked
   to a relative 1e-12. */
START_TEST(rho_scales_with_the_matrix)
{
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (size_t n = 3; n <= 96; n += 31) {
        double *a = malloc(n * n * sizeof *a), *big = malloc(n * n * sizeof *big),
               *tiny = malloc(n * n * sizeof *tiny);
        for (size_t i = 0; i < n * n; i++) {
            a[i] = uniform(&x) / sqrt((double)n);
            big[i] = ldexp(a[i], 500);
            tiny[i] = ldexp(a[i], -490);
        }
        double rho = gs_spectral_radius(a, n), rb = gs_spectral_radius(big, n),
               rt = gs_spectral_radius(tiny, n), want = ldexp(rho, 500);
        ck_assert_msg(rho > 0 && memcmp(&rb, &want, sizeof rb) == 0,
                      "n = %zu: rho(2^500 A) = %a, 2^500 rho(A) = %a", n, rb, want);
        ck_assert_msg(fabs(ldexp(rt, 490) - rho) <= 1e-12 * rho,
                      "n = %zu: rho(2^-490 A) 2^490 = %.17g, rho(A) = %.17g", n,
                      ldexp(rt, 490), rho);
        free(a);
        free(big);
        free(tiny);
    }
}
END_TEST

/* A defective matrix: a Jordan block J = r I + N, whose eigenvalue is
   ill-conditioned (an error e in the entries moves it by e^(1/k)), and whose
   norm says nothing of rho: ||J^k||^(1/k) approaches r only slowly. */
START_TEST(rho_of_jordan_like_blocks)
{
    size_t n = 8;
    double *a = mat(n);
    for (size_t i = 0; i < n; i++) {
        a[i * n + i] = i < 4 ? 0.9 : 0.5; /* blocks of 4: 0.9, then 0.5 */
        if (i + 1 < n && i != 3)
            a[i * n + i + 1] = 1.0;
    }
    double rho = gs_spectral_radius(a, n);
    ck_assert_msg(fabs(rho - 0.9) < 1e-3, "rho %.17g", rho);
    /* the same with the blocks' roles swapped and a permutation applied */
    double *b = mat(n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            b[((i + 3) % n) * n + (j + 3) % n] = a[i * n + j];
    ck_assert_msg(fabs(gs_spectral_radius(b, n) - 0.9) < 1e-3, "permuted");
    free(a);
    free(b);
}
END_TEST

/* Random-looking matrices: rho is at most sigma_max, and rho of a product
   of an orthogonal matrix and a scale c is c (every |lambda| = c). */
static double *orthogonal(size_t n)
{
    /* Gram-Schmidt on a fixed pseudo-random matrix */
    double *q = mat(n);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n * n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        q[i] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
    }
    for (size_t c = 0; c < n; c++) {
        for (size_t p = 0; p < c; p++) {
            double d = 0;
            for (size_t i = 0; i < n; i++)
                d += q[i * n + c] * q[i * n + p];
            for (size_t i = 0; i < n; i++)
                q[i * n + c] -= d * q[i * n + p];
        }
        double nn = 0;
        for (size_t i = 0; i < n; i++)
            nn += q[i * n + c] * q[i * n + c];
        for (size_t i = 0; i < n; i++)
            q[i * n + c] /= sqrt(nn);
    }
    return q;
}

START_TEST(orthogonal_times_scale)
{
    size_t n = 128;
    double *q = orthogonal(n);
    for (size_t i = 0; i < n * n; i++)
        q[i] *= 1.3;
    double rho = gs_spectral_radius(q, n), s = gs_sigma_max(q, n, n);
    ck_assert_msg(fabs(rho - 1.3) < 1e-9, "rho %.17g", rho);
    ck_assert_msg(fabs(s - 1.3) < 1e-9, "sigma_max %.17g", s);
    /* deterministic: the same bits again */
    ck_assert(gs_spectral_radius(q, n) == rho && gs_sigma_max(q, n, n) == s);
    free(q);
}
END_TEST

/* A normal matrix Q D Qᵀ, D block-diagonal of 2 x 2 rotations scaled by
   known radii (and a few real eigenvalues), Q orthogonal and dense, so that
   every row the QR sweeps defer carries weight: rho is known to rounding.
   The largest modulus is a complex pair in one matrix and a negative real
   eigenvalue just above the pairs in the other. */
START_TEST(rho_of_rotations_in_a_random_basis)
{
    size_t n = 128;
    double *q = orthogonal(n), *d = mat(n), *t = mat(n), *a = mat(n);
    for (int which = 0; which < 2; which++) {
        memset(d, 0, n * n * sizeof *d);
        size_t pairs = n / 2 - 2; /* the last 4 rows: real eigenvalues */
        for (size_t k = 0; k < pairs; k++) {
            double r = 0.3 + 0.6 * (double)k / (double)pairs;
            double th = 0.1 + 3.0 * (double)k / (double)pairs;
            if (k == pairs / 3)
                r = 0.97;
            rotation_block(d, n, 2 * k, r, th);
        }
        for (size_t i = 2 * pairs; i < n; i++)
            d[i * n + i] = which ? -0.98 + 0.2 * (double)(i - 2 * pairs) : 0.5;
        product(n, q, d, 0, t);
        product(n, t, q, 1, a); /* Q D Qᵀ */
        double want = which ? 0.98 : 0.97, rho = gs_spectral_radius(a, n);
        ck_assert_msg(fabs(rho - want) < 1e-12, "rho %.17g, want %g", rho, want);
    }
    free(q);
    free(d);
    free(t);
    free(a);
}
END_TEST

START_TEST(sigma_max_of_known_matrices)
{
    /* diagonal: the largest |entry| */
    size_t n = 40;
    double *a = mat(n);
    for (size_t i = 0; i < n; i++)
        a[i * n + i] = (i % 3 ? 1.0 : -1.0) * (1.0 + 0.05 * (double)i); /* -2.95 at 39 */
    double s = gs_sigma_max(a, n, n);
    ck_assert_msg(fabs(s - 2.95) < 1e-9, "%.17g", s);
    /* a Jordan block's sigma_max exceeds its rho: [[0.5, 1], [0, 0.5]] has
       sigma_max = (1 + sqrt(2)) / 2 */
    double j[4] = {0.5, 1.0, 0.0, 0.5};
    ck_assert(fabs(gs_sigma_max(j, 2, 2) - (1 + sqrt(2.0)) / 2) < 1e-12);
    ck_assert(fabs(gs_spectral_radius(j, 2) - 0.5) < 1e-7);
    /* a rectangular one: diag(3, 2) padded with zero rows, U Σ Vᵀ scaled */
    double r[12] = {0};
    r[0] = 3.0;
    r[4] = 2.0;
    ck_assert(fabs(gs_sigma_max(r, 4, 3) - 3.0) < 1e-12);
    double z[6] = {0};
    ck_assert(gs_sigma_max(z, 2, 3) == 0.0);
    free(a);
}
END_TEST

/* Lanczos against 3000 steps of the power iteration on AᵀA, written here. */
START_TEST(sigma_max_agrees_with_the_power_iteration)
{
    size_t rows = 96, cols = 80;
    double *a = malloc(rows * cols * sizeof *a), *v = malloc(cols * sizeof *v),
           *u = malloc(rows * sizeof *u);
    uint64_t x = 12345;
    for (size_t i = 0; i < rows * cols; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        a[i] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
    }
    for (size_t j = 0; j < cols; j++)
        v[j] = 1.0 + 0.01 * (double)j;
    double lambda = 0;
    for (int it = 0; it < 3000; it++) {
        double uu = 0, vv = 0;
        for (size_t i = 0; i < rows; i++) {
            u[i] = 0;
            for (size_t j = 0; j < cols; j++)
                u[i] += a[i * cols + j] * v[j];
        }
        for (size_t j = 0; j < cols; j++)
            vv += v[j] * v[j];
        for (size_t i = 0; i < rows; i++)
            uu += u[i] * u[i];
        lambda = uu / vv;
        for (size_t j = 0; j < cols; j++) {
            v[j] = 0;
            for (size_t i = 0; i < rows; i++)
                v[j] += a[i * cols + j] * u[i];
        }
        double n = 0;
        for (size_t j = 0; j < cols; j++)
            n += v[j] * v[j];
        for (size_t j = 0; j < cols; j++)
            v[j] /= sqrt(n);
    }
    double s = gs_sigma_max(a, rows, cols);
    ck_assert_msg(fabs(s - sqrt(lambda)) < 1e-10 * s, "%.17g vs %.17g", s, sqrt(lambda));
    free(a);
    free(u);
    free(v);
}
END_TEST

/* Every instruction set's copy of the code, and the one chosen by default,
   gives the portable copy's bits (where the processor lacks a set, its
   copy is the portable one). */
START_TEST(same_bits_on_every_instruction_set)
{
    static const char *const names[] = {"portable", "avx2", "avx512", NULL};
    int nsets = 4;
    uint64_t x = 77;
    for (size_t n = 5; n <= 105; n += 25) {
        double *a = malloc(n * n * sizeof *a), *h = malloc(n * n * sizeof *h);
        for (size_t i = 0; i < n * n; i++)
            a[i] = uniform(&x) / sqrt((double)n);
        double rho = gs_spectral_radius_isa(a, n, "portable");
        double sig = gs_sigma_max_isa(a, n - 2, n, "portable");
        memcpy(h, a, n * n * sizeof *h); /* a Hessenberg matrix: a below the subdiagonal cut */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j + 1 < i; j++)
                h[i * n + j] = 0;
        double *g = malloc(n * n * sizeof *g);
        memcpy(g, h, n * n * sizeof *g);
        double hr = gs_hessenberg_radius_isa(g, n, "portable");
        for (int s = 0; s < nsets; s++) {
            const char *name = names[s] ? names[s] : "the best";
            double r2 = gs_spectral_radius_isa(a, n, names[s]);
            double s2 = gs_sigma_max_isa(a, n - 2, n, names[s]);
            memcpy(g, h, n * n * sizeof *g);
            double h2 = gs_hessenberg_radius_isa(g, n, names[s]);
            ck_assert_msg(memcmp(&r2, &rho, sizeof rho) == 0,
                          "%s, n = %zu: rho %a, portable %a", name, n, r2, rho);
            ck_assert_msg(memcmp(&s2, &sig, sizeof sig) == 0,
                          "%s, n = %zu: sigma_max %a, portable %a", name, n, s2, sig);
            ck_assert_msg(memcmp(&h2, &hr, sizeof hr) == 0,
                          "%s, n = %zu: Hessenberg rho %a, portable %a", name, n, h2, hr);
        }
        free(a);
        free(h);
        free(g);
    }
}
END_TEST

START_TEST(non_finite_gives_nan)
{
    double a[4] = {1, NAN, 0, 1};
    ck_assert(isnan(gs_spectral_radius(a, 2)));
    ck_assert(isnan(gs_sigma_max(a, 2, 2)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spectral");
    TCase *tc = tcase_create("spectral");
    tcase_add_test(tc, rho_of_scaled_rotations);
    tcase_add_test(tc, rho_of_diagonal_and_triangular);
    tcase_add_test(tc, rho_of_jordan_like_blocks);
    tcase_add_test(tc, rho_scales_with_the_matrix);
    tcase_add_test(tc, orthogonal_times_scale);
    tcase_add_test(tc, rho_of_rotations_in_a_random_basis);
    tcase_add_test(tc, sigma_max_of_known_matrices);
    tcase_add_test(tc, sigma_max_agrees_with_the_power_iteration);
    tcase_add_test(tc, non_finite_gives_nan);
    tcase_add_test(tc, deferred_qr_matches_the_plain_algorithm);
    tcase_add_test(tc, same_bits_on_every_instruction_set);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
