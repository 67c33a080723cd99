/*
 * The kernels a plugin marks GS_KERNEL_CLONES, copy against copy: run by
 * tests/clones.sh, which builds those plugins once per instruction set
 * into directories of their own.  `clone_bits --sets` prints the sets this
 * processor runs (x86-64-v4 x86-64-v3 baseline); `clone_bits DIRS...` loads
 * each argument (a directory, or several separated by ':') into a registry
 * of its own and, for every activation and optimizer the first argument
 * holds, runs the same inputs through each copy and compares the results
 * bit for bit.
 *
 * Inputs: for activations in float, one in every 4099 bit patterns (zeros,
 * denormals, every exponent, infinities, NaNs), in double a million random
 * patterns and the special values, each forward and the backward on the
 * forward's output; for optimizers, three steps over parameters, gradients
 * and state spread over 2^-140 to 2^100 (denormals and zeros among them).
 * A NaN matches any NaN: the copies may commute an operation's operands,
 * which moves a NaN's payload but no number.  Parameter variants beyond
 * the defaults are listed below by component name.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"
#include "bits.h"

typedef struct variant {
    const char *name, *text;
} variant;

static const variant variants[] = {
    {"leaky_relu", "negative_slope = 0.2;"},
    {"elu", "alpha = 1.5;"},
    {"gelu", "approximate = \"tanh\";"},
    {"softplus", "beta = 2.0; threshold = 5.0;"},
    {"adam", "amsgrad = true;"},
    {"adam", "weight_decay = 0.01; betas = [0.8, 0.99]; eps = 1e-6;"},
    {"adamw", "amsgrad = true;"},
    {"adamw", "weight_decay = 0.1;"},
};

static int failures;

static uint64_t next_random(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Index of the first element where a and b differ as numbers, or n. */
static size_t first_diff_f32(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) && !(isnan(a[i]) && isnan(b[i])))
            return i;
    return n;
}

static size_t first_diff_f64(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) && !(isnan(a[i]) && isnan(b[i])))
            return i;
    return n;
}

/* input: the element's input, or NULL where there is no single one (an
   optimizer's element after three steps) */
static void report(const char *dir, const char *what, const char *name, const char *text,
                   size_t i, const double *input, double want, double got)
{
    char in[48] = "";
    if (input)
        snprintf(in, sizeof in, " (input %a)", *input);
    failures++;
    fprintf(stderr, "FAIL: %s %s(%s) %s: element %zu%s gives %a, the first copy %a\n", dir,
            name, text, what, i, in, got, want);
}

typedef struct act_result {
    float *y32, *dx32;
    double *y64, *dx64;
} act_result;

enum { N32 = (int)(((uint64_t)1 << 32) / 4099) + 1, N64 = 1 << 20 };

static const double special64[] = {0.0, -0.0, 4.9e-324, -4.9e-324, 2.2250738585072014e-308,
                                   -2.2250738585072014e-308, 1e-300, -1e-300, 1e-20, -1e-20,
                                   0.5, -0.5, 1.0, -1.0, 20.0, -20.0, 88.7, -88.7, 710.0,
                                   -710.0, 1e300, -1e300, HUGE_VAL, -HUGE_VAL, NAN};

static void act_inputs(float *x32, float *dy32, double *x64, double *dy64)
{
    uint64_t s = 42;
    for (uint32_t i = 0; i < N32; i++) {
        x32[i] = f32_from_bits((uint32_t)((uint64_t)i * 4099));
        /* gradients from random finite floats of every magnitude */
        float d;
        do
            d = f32_from_bits((uint32_t)next_random(&s));
        while (!isfinite(d));
        dy32[i] = d;
    }
    size_t k = sizeof special64 / sizeof special64[0];
    for (size_t i = 0; i < N64; i++) {
        x64[i] = i < k ? special64[i] : f64_from_bits(next_random(&s));
        double d;
        do
            d = f64_from_bits(next_random(&s));
        while (!isfinite(d));
        dy64[i] = d;
    }
}

/* One channel; an activation with learnable parameters gets its initial
   ones (their gradient is compared through dx only). */
static void act_run(const gs_ref *r, const float *x32, const float *dy32, const double *x64,
                    const double *dy64, act_result *out)
{
    const gs_activation_ops *ops = gs_ref_component(r)->ops;
    const gs_value *p = gs_ref_values(r);
    enum { MAX_THETA = 4 };
    double theta64[MAX_THETA] = {0}, dtheta64[MAX_THETA] = {0};
    float theta32[MAX_THETA] = {0}, dtheta32[MAX_THETA] = {0};
    size_t n_theta = ops->n_params ? ops->n_params(p, 1) : 0;
    if (n_theta > MAX_THETA)
        abort();
    if (n_theta)
        ops->init_params(p, n_theta, theta64);
    for (size_t k = 0; k < n_theta; k++)
        theta32[k] = (float)theta64[k];
    gs_act_call c = {.host = gs_host_table(), .p = p, .n = N32, .layout = GS_LAYOUT_VECTOR,
                     .channels = 1, .positions = 1, .theta = n_theta ? theta32 : NULL,
                     .n_theta = n_theta};
    ops->forward_f32(&c, x32, out->y32);
    ops->backward_f32(&c, x32, out->y32, dy32, out->dx32, n_theta ? dtheta32 : NULL);
    if (ops->forward_f64) {
        c.n = N64;
        c.theta = n_theta ? theta64 : NULL;
        ops->forward_f64(&c, x64, out->y64);
        ops->backward_f64(&c, x64, out->y64, dy64, out->dx64, n_theta ? dtheta64 : NULL);
    }
}

static gs_ref *parse(gs_registry *reg, const char *dir, gs_kind kind, const char *name,
                     const char *text)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(reg, kind, name, text, &err);
    if (!r) {
        failures++;
        fprintf(stderr, "FAIL: %s: %s(%s): %s\n", dir, name, text, err.msg);
    }
    return r;
}

static void compare_activation(gs_registry **regs, char **dirs, int n, const char *name,
                               const char *text, const float *x32, const float *dy32,
                               const double *x64, const double *dy64)
{
    act_result res[2];
    for (int k = 0; k < 2; k++) {
        res[k].y32 = malloc(N32 * sizeof(float));
        res[k].dx32 = malloc(N32 * sizeof(float));
        res[k].y64 = malloc(N64 * sizeof(double));
        res[k].dx64 = malloc(N64 * sizeof(double));
        if (!res[k].y32 || !res[k].dx32 || !res[k].y64 || !res[k].dx64)
            abort();
    }
    int have64 = 0;
    for (int d = 0; d < n; d++) {
        gs_ref *r = parse(regs[d], dirs[d], GS_KIND_ACTIVATION, name, text);
        if (!r)
            continue;
        act_result *got = &res[d ? 1 : 0], *want = &res[0];
        act_run(r, x32, dy32, x64, dy64, got);
        if (d == 0)
            have64 = ((const gs_activation_ops *)gs_ref_component(r)->ops)->forward_f64 != NULL;
        gs_ref_free(r);
        if (d == 0)
            continue;
        size_t i;
        if ((i = first_diff_f32(want->y32, got->y32, N32)) < N32)
            report(dirs[d], "forward f32", name, text, i, &(double){x32[i]}, want->y32[i],
                   got->y32[i]);
        if ((i = first_diff_f32(want->dx32, got->dx32, N32)) < N32)
            report(dirs[d], "backward f32", name, text, i, &(double){x32[i]}, want->dx32[i],
                   got->dx32[i]);
        if (!have64)
            continue;
        if ((i = first_diff_f64(want->y64, got->y64, N64)) < N64)
            report(dirs[d], "forward f64", name, text, i, &x64[i], want->y64[i], got->y64[i]);
        if ((i = first_diff_f64(want->dx64, got->dx64, N64)) < N64)
            report(dirs[d], "backward f64", name, text, i, &x64[i], want->dx64[i], got->dx64[i]);
    }
    for (int k = 0; k < 2; k++) {
        free(res[k].y32);
        free(res[k].dx32);
        free(res[k].y64);
        free(res[k].dx64);
    }
    printf("activation %s(%s): %d copies compared\n", name, text, n);
}

enum { NOPT = 1 << 18, STEPS = 3 };

/* A float of random sign and mantissa with its exponent in [-140, 100],
   zero one time in 64. */
static float spread(uint64_t *s)
{
    uint64_t r = next_random(s);
    if ((r & 63) == 0)
        return 0.0f;
    float m = 1.0f + (float)((r >> 8) & 0x7fffff) / 8388608.0f;
    int e = (int)((r >> 32) % 241) - 140;
    return ((r >> 40) & 1 ? -1.0f : 1.0f) * ldexpf(m, e);
}

static void compare_optimizer(gs_registry **regs, char **dirs, int n, const char *name,
                              const char *text)
{
    float *theta[2], *state[2], *grad = malloc(NOPT * sizeof(float));
    size_t slots_max = 4;
    for (int k = 0; k < 2; k++) {
        theta[k] = malloc(NOPT * sizeof(float));
        state[k] = malloc(slots_max * NOPT * sizeof(float));
        if (!theta[k] || !state[k] || !grad)
            abort();
    }
    for (int d = 0; d < n; d++) {
        gs_ref *r = parse(regs[d], dirs[d], GS_KIND_OPTIMIZER, name, text);
        if (!r)
            continue;
        const gs_optimizer_ops *ops = gs_ref_component(r)->ops;
        const gs_value *p = gs_ref_values(r);
        size_t slots = ops->state_slots ? ops->state_slots(p) : 0;
        if (slots > slots_max)
            abort();
        float *th = theta[d ? 1 : 0], *st = state[d ? 1 : 0];
        uint64_t s = 7;
        for (size_t i = 0; i < NOPT; i++)
            th[i] = spread(&s);
        for (size_t k = 0; k < slots; k++)
            for (size_t i = 0; i < NOPT; i++) {
                float v = ops->state_init ? (float)ops->state_init(p, k) : 0.0f;
                st[k * NOPT + i] = v + (k % 2 ? fabsf(spread(&s)) : spread(&s));
            }
        /* the tensor group's decay, which the trainer passes: here the
           configured one */
        int wd = gs_schema_index(gs_ref_component(r)->params, "weight_decay");
        for (uint64_t t = 1; t <= STEPS; t++) {
            for (size_t i = 0; i < NOPT; i++)
                grad[i] = spread(&s);
            gs_opt_call c = {.host = gs_host_table(), .p = p, .t = t, .lr = 1e-3,
                             .weight_decay = wd >= 0 ? p[wd].f : 0.0, .stride = NOPT};
            ops->step(&c, NOPT, th, grad, st);
        }
        gs_ref_free(r);
        if (d == 0)
            continue;
        size_t i;
        if ((i = first_diff_f32(theta[0], theta[1], NOPT)) < NOPT)
            report(dirs[d], "parameters", name, text, i, NULL, theta[0][i], theta[1][i]);
        if ((i = first_diff_f32(state[0], state[1], slots * NOPT)) < slots * NOPT)
            report(dirs[d], "state", name, text, i, NULL, state[0][i], state[1][i]);
    }
    for (int k = 0; k < 2; k++) {
        free(theta[k]);
        free(state[k]);
    }
    free(grad);
    printf("optimizer %s(%s): %d copies compared\n", name, text, n);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--sets")) {
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("x86-64-v4"))
            printf("x86-64-v4 ");
        if (__builtin_cpu_supports("x86-64-v3"))
            printf("x86-64-v3 ");
#endif
        printf("baseline\n");
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: clone_bits --sets | clone_bits DIR DIR...\n");
        return 2;
    }
    int n = argc - 1;
    char **dirs = argv + 1;
    gs_registry **regs = calloc((size_t)n, sizeof *regs);
    for (int d = 0; d < n; d++) {
        regs[d] = gs_registry_new();
        char *list = strdup(dirs[d]), *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            gs_error err;
            if (gs_registry_load_dir(regs[d], dir, &err) < 0) {
                fprintf(stderr, "FAIL: %s: %s\n", dir, err.msg);
                return 1;
            }
        }
        free(list);
    }
    float *x32 = malloc(N32 * sizeof *x32), *dy32 = malloc(N32 * sizeof *dy32);
    double *x64 = malloc(N64 * sizeof *x64), *dy64 = malloc(N64 * sizeof *dy64);
    if (!x32 || !dy32 || !x64 || !dy64)
        abort();
    act_inputs(x32, dy32, x64, dy64);
    int compared = 0;
    for (size_t i = 0; i < gs_registry_count(regs[0]); i++) {
        const gs_component *c = gs_registry_at(regs[0], i)->component;
        if (c->kind != GS_KIND_ACTIVATION && c->kind != GS_KIND_OPTIMIZER)
            continue;
        for (int v = -1; v < (int)(sizeof variants / sizeof variants[0]); v++) {
            if (v >= 0 && strcmp(variants[v].name, c->name))
                continue;
            const char *text = v < 0 ? "" : variants[v].text;
            if (c->kind == GS_KIND_ACTIVATION)
                compare_activation(regs, dirs, n, c->name, text, x32, dy32, x64, dy64);
            else
                compare_optimizer(regs, dirs, n, c->name, text);
            compared++;
        }
    }
    free(x32), free(dy32), free(x64), free(dy64);
    for (int d = 0; d < n; d++)
        gs_registry_free(regs[d]);
    free(regs);
    if (!compared) {
        fprintf(stderr, "FAIL: %s holds no activation or optimizer\n", dirs[0]);
        return 1;
    }
    printf("%d components and variants compared, %d differences\n", compared, failures);
    return failures ? 1 : 0;
}
