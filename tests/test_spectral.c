/* The spectral radius and largest singular value of the recurrent weights
   (core/engine/spectral.c) on matrices whose answer is known: scaled
   rotations (a complex pair), diagonal and triangular matrices, Jordan-like
   blocks, orthogonal matrices times a scale, a random one against the
   plain power iteration, and the bits the same on every call. */
#include <math.h>
#include "testutil.h"
#include "engine/spectral.h"

static double *mat(size_t n) { return calloc(n * n, sizeof(double)); }

/* A block-diagonal matrix of 2 x 2 rotations by different angles, the k-th
   scaled by r_k, conjugated by a fixed well-conditioned matrix (so that the
   QR iteration sees no structure): rho = max r_k, every eigenvalue complex. */
static double *rotations(size_t n, const double *r)
{
    double *d = mat(n), *s = mat(n), *t = mat(n), *out = mat(n);
    for (size_t k = 0; k < n / 2; k++) {
        double th = 0.3 + 0.7 * (double)k;
        size_t i = 2 * k;
        d[i * n + i] = r[k] * cos(th);
        d[i * n + i + 1] = -r[k] * sin(th);
        d[(i + 1) * n + i] = r[k] * sin(th);
        d[(i + 1) * n + i + 1] = r[k] * cos(th);
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
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = 0;
            for (size_t k = 0; k < n; k++)
                v += s[i * n + k] * d[k * n + j];
            t[i * n + j] = v;
        }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = 0;
            for (size_t k = 0; k < n; k++)
                v += t[i * n + k] * sinv[k * n + j];
            out[i * n + j] = v;
        }
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
    tcase_add_test(tc, orthogonal_times_scale);
    tcase_add_test(tc, sigma_max_of_known_matrices);
    tcase_add_test(tc, sigma_max_agrees_with_the_power_iteration);
    tcase_add_test(tc, non_finite_gives_nan);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
