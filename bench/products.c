/*
 * The three matrix products of a dense layer, alone: forward x W^T
 * (batch x width x width), weight gradient dh^T x (width x width x batch)
 * and input gradient dh W (batch x width x width), through the float GEMM
 * that training uses, at one thread count.  Separates what the products
 * reach from what a training step adds around them (bench/run.sh), and
 * how the products scale with threads from how the step does
 * (bench/scaling.sh).
 *
 * For each width it prints GFLOP/s over the best wall time of REPS
 * measurements and, at one thread, in parentheses, over the CPU time of
 * that measurement, which leaves out time the system gives to other
 * processes (not what a virtual machine's host takes).  (With
 * several threads the process's CPU clock counts the other threads' time
 * only at the scheduler's ticks, too coarsely for one product.)  Operands
 * stay in cache between the calls of a measurement, as they largely do
 * between the layers of a step.  The team is pinned as in training, when
 * THREADS is the number of CPUs the process may use.  Not a test.
 *
 * Usage: products [-t THREADS] [-b BATCH] [-r REPS] [WIDTH...]
 *   defaults: 1 thread, batch 128, 25 measurements, widths 32 to 1024.
 * Built by make bench/products (and make check).  See docs/PERFORMANCE.md.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"
#include "kernels/affinity.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* The process's CPU time; wall time is gs_now(). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n, unsigned seed)
{
    float *a = gs_xmalloc_aligned(n * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return a;
}

typedef struct timing {
    double wall, cpu; /* per call, of the measurement with the least wall time */
} timing;

/* C (m x n) = op(A) op(B) + C: the weight gradient as the dense layer
   calls it; its forward and input gradient overwrite C instead, which
   spares them reading C in the first slice of K.  Each of the `reps`
   measurements times enough calls to take 2^24 multiply-adds, so that
   reading the clocks costs nothing next to small products. */
static timing product(int ta, int tb, size_t m, size_t n, size_t k, const float *a,
                      const float *b, float *c, int reps)
{
    double fmas = (double)m * (double)n * (double)k;
    int calls = fmas >= 16777216.0 ? 1 : (int)(16777216.0 / fmas) + 1;
    timing best = {1e300, 0};
    for (int r = 0; r < reps; r++) {
        double w0 = gs_now(), c0 = cpu_seconds();
        for (int i = 0; i < calls; i++)
            gs_gemm(GS_F32, ta, tb, m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, 1.0, c, n);
        double w = gs_now() - w0, cpu = cpu_seconds() - c0;
        if (w < best.wall * calls)
            best = (timing){w / calls, cpu / calls};
    }
    return best;
}

/* One column: GFLOP/s over the wall time, and at one thread over the CPU time. */
static void cell(double flops, timing t, int threads, int last)
{
    char text[32];
    if (threads == 1)
        snprintf(text, sizeof text, "%6.1f (%5.1f)", flops / t.wall * 1e-9, flops / t.cpu * 1e-9);
    else
        snprintf(text, sizeof text, "%6.1f", flops / t.wall * 1e-9);
    printf(last ? "  %s\n" : "  %-15s", text);
}

static void usage(void)
{
    fprintf(stderr, "usage: products [-t THREADS] [-b BATCH] [-r REPS] [WIDTH...]\n");
    exit(2);
}

static long positive(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 25, opt;
    size_t batch = 128;
    while ((opt = getopt(argc, argv, "t:b:r:")) != -1) {
        switch (opt) {
        case 't': threads = (int)positive(optarg); break;
        case 'b': batch = (size_t)positive(optarg); break;
        case 'r': reps = (int)positive(optarg); break;
        default: usage();
        }
    }
    static const char *const defaults[] = {"32", "64", "128", "256", "512", "1024"};
    const char *const *widths = optind < argc ? (const char *const *)argv + optind : defaults;
    int n_widths = optind < argc ? argc - optind : (int)GS_ARRAY_LEN(defaults);
    for (int w = 0; w < n_widths; w++)
        positive(widths[w]);
    gs_set_threads(threads);
    gs_pinning pin = {0};
    int pinned = gs_threads_pin(&pin);
    printf("products of a dense layer: batch %zu, %d thread%s%s, %s kernels, best of %d\n", batch,
           threads, threads == 1 ? "" : "s", pinned ? " (pinned)" : "", gs_isa_name(),
           reps);
    printf(threads == 1 ? "GFLOP/s over the wall time (over the CPU time)\n"
                        : "GFLOP/s over the wall time\n");
    printf("%6s  %-15s  %-15s  %-15s  %s\n", "width", "forward", "weight grad", "input grad",
           "all three");
    for (int w = 0; w < n_widths; w++) {
        size_t u = (size_t)positive(widths[w]), n = batch;
        float *x = filled(n * u, 1), *wt = filled(u * u, 2), *dh = filled(n * u, 3);
        float *y = filled(n * u, 4), *dw = filled(u * u, 5), *dx = filled(n * u, 6);
        timing t[3] = {product(0, 1, n, u, u, x, wt, y, reps),
                       product(1, 0, u, u, n, dh, x, dw, reps),
                       product(0, 0, n, u, u, dh, wt, dx, reps)};
        double flops = 2.0 * (double)n * (double)u * (double)u, wall = 0, cpu = 0;
        printf("%6zu", u);
        for (int i = 0; i < 3; i++) {
            cell(flops, t[i], threads, 0);
            wall += t[i].wall;
            cpu += t[i].cpu;
        }
        cell(3 * flops, (timing){wall, cpu}, threads, 1);
        free(x);
        free(wt);
        free(dh);
        free(y);
        free(dw);
        free(dx);
    }
    if (pinned)
        gs_threads_unpin(&pin);
    return 0;
}
