/*
 * One recurrent layer's training step alone: forward then backward of
 * rnn, lstm or gru on a random batch, through the library's test API (the
 * plugin that training loads, the same host kernels), at one thread
 * count.  Separates what the recurrent layer costs from what the rest of a
 * training step adds (the output layer, the loss, the optimizer, data;
 * bench/run.sh measures those together), and checks the layer without a
 * sequence data set.
 *
 * Prints the best of REPS measurements of forward, backward and both, in
 * ms, and the samples/s of forward + backward; with -m, monitoring is on
 * (the ||dL/dh_t|| series on every step).  At one thread it also prints
 * the least process CPU time of a step, which leaves out the time the
 * system gives to other processes: on a loaded machine the better figure.
 *
 * Usage: rnn_step [-t THREADS] [-n BATCH] [-T STEPS] [-c FEATURES] [-u UNITS]
 *                 [-r REPS] [-m] CELL
 *   defaults: 1 thread, the shape of bench/run.sh's workload for CELL
 *   (rnn, lstm: batch 64, T 100, 2 features; gru: batch 128, T 28, 28),
 *   128 units, 20 measurements.
 * Built by make check (so that it keeps compiling) or make bench/rnn_step;
 * run with GRADSCOPE_PLUGIN_PATH set to the build's plugins, as the tests
 * are.  See docs/PERFORMANCE.md, "Recurrent layers".  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gradscope/testing.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(gs_tensor *t, unsigned seed)
{
    float *v = t->data;
    for (size_t i = 0; i < gs_tensor_numel(t); i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
}

int main(int argc, char **argv)
{
    int threads = 1, reps = 20, mon = 0, opt;
    long n = 0, T = 0, C = 0, H = 128;
    while ((opt = getopt(argc, argv, "t:n:T:c:u:r:m")) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 'n': n = atol(optarg); break;
        case 'T': T = atol(optarg); break;
        case 'c': C = atol(optarg); break;
        case 'u': H = atol(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'm': mon = 1; break;
        default:
            fprintf(stderr, "usage: rnn_step [-t THREADS] [-n BATCH] [-T STEPS] [-c FEATURES] "
                            "[-u UNITS] [-r REPS] [-m] rnn|lstm|gru\n");
            return 2;
        }
    }
    if (optind + 1 != argc || threads < 1 || reps < 1 || H < 1) {
        fprintf(stderr, "rnn_step: one of rnn, lstm, gru expected (-h for usage)\n");
        return 2;
    }
    const char *cell = argv[optind];
    int gru = strcmp(cell, "gru") == 0;
    if (!n)
        n = gru ? 128 : 64;
    if (!T)
        T = gru ? 28 : 100;
    if (!C)
        C = gru ? 28 : 2;
    gs_error err;
    gs_registry *reg = gs_registry_new();
    if (gs_registry_load_default(reg, NULL, 0, &err) < 0) {
        fprintf(stderr, "rnn_step: %s\n", err.msg);
        return 1;
    }
    gs_test_set_threads(threads);
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {(size_t)T, (size_t)C}};
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    char params[64];
    snprintf(params, sizeof params, "units = %ld;", H);
    if (gs_test_model_add(t, cell, params, &err) < 0 ||
        gs_test_model_finalize(t, (size_t)n, &err) < 0) {
        fprintf(stderr, "rnn_step: %s\n", err.msg);
        return 2;
    }
    gs_test_set_monitoring(t, mon);
    fill(gs_test_input(t), 1);
    fill(gs_test_output_grad(t), 2);
    double best_f = 1e30, best_b = 1e30, best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps + 2; r++) { /* two warm-up rounds */
        double c0 = cpu(), t0 = now();
        gs_test_forward(t, 1);
        double t1 = now(), c1 = cpu();
        fill(gs_test_output_grad(t), 2);
        double c2 = cpu(), t2 = now();
        gs_test_backward(t);
        double t3 = now(), c3 = cpu();
        if (r < 2)
            continue;
        best_cpu = (c1 - c0) + (c3 - c2) < best_cpu ? (c1 - c0) + (c3 - c2) : best_cpu;
        best_f = t1 - t0 < best_f ? t1 - t0 : best_f;
        best_b = t3 - t2 < best_b ? t3 - t2 : best_b;
        best = (t1 - t0) + (t3 - t2) < best ? (t1 - t0) + (t3 - t2) : best;
    }
    printf("%s N=%ld T=%ld C=%ld H=%ld threads=%d%s: forward %.3f ms, backward %.3f ms, "
           "step %.3f ms, %.0f samples/s",
           cell, n, T, C, H, threads, mon ? " monitored" : "", 1e3 * best_f, 1e3 * best_b,
           1e3 * best, (double)n / best);
    if (threads == 1)
        printf(" (CPU time %.3f ms, %.0f samples/s)", 1e3 * best_cpu, (double)n / best_cpu);
    printf("\n");
    gs_test_model_free(t);
    gs_registry_free(reg);
    return 0;
}
