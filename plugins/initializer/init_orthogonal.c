/*
 * Orthogonal initialization (Saxe et al. 2014), as torch.nn.init.orthogonal_:
 * view the tensor as a rows x cols matrix (rows = dims[0]), fill it with
 * N(0, 1) draws, take the Q of a QR factorization (of the transpose when
 * the matrix is wide) with R's diagonal made positive, and scale by gain.
 * Tall or square results have orthonormal columns, wide ones orthonormal
 * rows.  A positive diagonal of R makes Q unique, so the result equals
 * PyTorch's for the same draws whatever QR algorithm produced it.
 */
#include <math.h>
#include <string.h>
#include "gradscope/plugin.h"

enum { P_GAIN };

/* Vectorized loops (GCC's -O2 cost model leaves them scalar).  The dot
   product's summation order is fixed by the build, so results stay
   reproducible. */
#if defined(_OPENMP)
#define SIMD _Pragma("omp simd")
#define SIMD_SUM(s) _Pragma("omp simd reduction(+ : s)")
#else
#define SIMD
#define SIMD_SUM(s)
#endif

/* w[k..m) -= tau * (v[k..m) . w[k..m)) * v[k..m): one Householder
   reflection of a column w distinct from v */
static void reflect(size_t m, size_t k, const double *v, double tau, double *w)
{
    double s = 0.0;
    SIMD_SUM(s)
    for (size_t i = k; i < m; i++)
        s += v[i] * w[i];
    s *= tau;
    SIMD
    for (size_t i = k; i < m; i++)
        w[i] -= s * v[i];
}

/*
 * Householder QR of the m x n matrix a (m >= n, column-major so that each
 * reflection runs over contiguous memory).  Leaves the reflectors in a,
 * their scale factors in tau and R's diagonal in rdiag.
 */
static void householder_qr(size_t m, size_t n, double *a, double *tau, double *rdiag)
{
    for (size_t k = 0; k < n; k++) {
        double *v = a + k * m;
        double norm2 = 0.0;
        for (size_t i = k; i < m; i++)
            norm2 += v[i] * v[i];
        if (norm2 == 0.0) {
            tau[k] = 0.0;
            rdiag[k] = 0.0;
            continue;
        }
        const double alpha = v[k];
        /* reflect onto -sign(alpha)*|x| e1: no cancellation in alpha - beta */
        const double beta = alpha >= 0.0 ? -sqrt(norm2) : sqrt(norm2);
        rdiag[k] = beta;
        v[k] = alpha - beta;
        tau[k] = -1.0 / (beta * v[k]); /* 2/(v'v), as v'v = -2*beta*v[k] */
        for (size_t j = k + 1; j < n; j++)
            reflect(m, k, v, tau[k], a + j * m);
    }
}

/* The first n columns of H_0 H_1 ... H_{n-1}, into q (m x n, column-major). */
static void householder_q(size_t m, size_t n, const double *a, const double *tau, double *q)
{
    memset(q, 0, m * n * sizeof *q);
    for (size_t j = 0; j < n; j++)
        q[j * m + j] = 1.0;
    /* Backwards, so that H_k only meets columns k.. and rows k.. */
    for (size_t k = n; k-- > 0;) {
        if (tau[k] == 0.0)
            continue;
        for (size_t j = k; j < n; j++)
            reflect(m, k, a + k * m, tau[k], q + j * m);
    }
}

static int orthogonal_fill(const gs_init_call *c, double *out)
{
    if (c->ndim < 2) {
        c->host->error("orthogonal: needs a tensor of at least 2 dimensions, got %d", c->ndim);
        return -1;
    }
    size_t numel = 1;
    for (int d = 0; d < c->ndim; d++)
        numel *= c->dims[d];
    if (numel == 0)
        return 0;
    const size_t rows = c->dims[0], cols = numel / rows;
    const int wide = rows < cols;
    const size_t m = wide ? cols : rows, n = wide ? rows : cols;

    /* The draws fill the rows x cols matrix row by row, as torch's do. */
    for (size_t k = 0; k < numel; k++)
        out[k] = c->host->rng_normal(c->rng);

    double *a = c->host->alloc(m * n * sizeof *a);
    double *q = c->host->alloc(m * n * sizeof *q);
    double *tau = c->host->alloc(2 * n * sizeof *tau);
    double *rdiag = tau + n;
    /* Column-major A: for a wide matrix A = W^T, whose column-major layout is
       W's row-major one. */
    if (wide) {
        memcpy(a, out, m * n * sizeof *a);
    } else {
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                a[j * m + i] = out[i * cols + j];
    }
    householder_qr(m, n, a, tau, rdiag);
    householder_q(m, n, a, tau, q);

    const double gain = c->p[P_GAIN].f;
    for (size_t j = 0; j < n; j++) {
        const double s = rdiag[j] < 0.0 ? -gain : gain;
        for (size_t i = 0; i < m; i++)
            q[j * m + i] *= s;
    }
    if (wide) {
        memcpy(out, q, m * n * sizeof *q);
    } else {
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                out[i * cols + j] = q[j * m + i];
    }
    c->host->free(tau);
    c->host->free(q);
    c->host->free(a);
    return 0;
}

static const gs_param_spec orthogonal_params[] = {
    {.name = "gain", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = GS_ANY,
     .doc = "scale of the orthogonal matrix (torch default 1)"},
    {0}};

static const gs_initializer_ops orthogonal_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = orthogonal_fill,
};

static const gs_component orthogonal_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "orthogonal",
    .doc = "(semi-)orthogonal matrix scaled by gain (torch.nn.init.orthogonal_)",
    .params = orthogonal_params,
    .ops = &orthogonal_ops,
}};

static const gs_plugin_desc orthogonal_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_orthogonal",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Orthogonal initializer",
    .n_components = 1,
    .components = orthogonal_components,
};

GS_PLUGIN_DEFINE(orthogonal_desc)
