/*
 * Helpers shared by the tests that compare layers against reference values
 * computed once by a script in the tree (the Python scripts in tests/reference,
 * committed as tests/fixtures/NAME_reference.txt), and by tests that poke at a gs_test_model
 * directly: reading and writing tensor values in either dtype, finding a
 * parameter by name, moving every learnable value off its initialization,
 * and the reference-fixture parser.
 *
 * The fixture format, one token stream:
 *   # comment to the end of the line
 *   case NAME REST...       starts a case; REST (to the end of the line) is the
 *                           case's head, which each test reads its own way
 *   KEY TEXT...             for a KEY the caller names as a text key: TEXT to the
 *                           end of the line, e.g. "params kernel = 2;" or "shape 2 3 5 5"
 *   NAME COUNT v1 ... vCOUNT  a tensor of COUNT values
 *   end                     ends the case
 */
#ifndef GS_TEST_REFERENCE_H
#define GS_TEST_REFERENCE_H

#include <math.h>
#include "gradscope/testing.h"
#include "testutil.h"

/* ---- tensors and parameters of a test model ---- */

static inline double tu_get(const gs_tensor *t, size_t i)
{
    return t->dtype == GS_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

static inline void tu_put(gs_tensor *t, size_t i, double v)
{
    if (t->dtype == GS_F64)
        ((double *)t->data)[i] = v;
    else
        ((float *)t->data)[i] = (float)v;
}

/* Normal values of the given mean and std from a stream of `seed`. */
static inline void tu_fill(gs_tensor *t, uint64_t seed, double mean, double std)
{
    const gs_host *h = gs_host_table();
    gs_rng *r = gs_rng_new(seed, 99);
    for (size_t i = 0; i < gs_tensor_numel(t); i++)
        tu_put(t, i, mean + std * h->rng_normal(r));
    gs_rng_free(r);
}

/* The parameter whose name is NAME or ends in ".NAME"; aborts the test when none. */
static inline gs_param *tu_param_named(gs_test_model *t, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        const char *n = gs_test_param(t, i)->name;
        size_t nl = strlen(n);
        if (nl >= len && strcmp(n + nl - len, name) == 0 &&
            (nl == len || n[nl - len - 1] == '.'))
            return gs_test_param(t, i);
    }
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

/* Every learnable value moved off its initial one by a normal step of std
   `scale`, so that a finite-difference check does not sit on an
   initialization's special values (zero biases, identity matrices). */
static inline void tu_nudge(gs_test_model *t, uint64_t seed, double scale)
{
    const gs_host *h = gs_host_table();
    gs_rng *r = gs_rng_new(seed, 7);
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        gs_param *p = gs_test_param(t, i);
        if (p->role == GS_ROLE_BUFFER)
            continue;
        for (size_t k = 0; k < gs_tensor_numel(&p->value); k++)
            tu_put(&p->value, k, tu_get(&p->value, k) + scale * h->rng_normal(r));
    }
    gs_rng_free(r);
}

/* Case i of a finite-difference table on model t (double): a random input
   (seed 200 + i), parameters nudged off their initialization (300 + i), in
   evaluation mode (training 0) after three forward passes that move batch
   norm's running statistics off (0, 1); backward must match central
   differences.  label names the case in a failure.  Frees t. */
static inline void tu_fd_case(gs_test_model *t, int i, int training, const char *label)
{
    tu_fill(gs_test_input(t), 200 + (uint64_t)i, 0.2, 1.0);
    tu_nudge(t, 300 + (uint64_t)i, 0.2);
    if (!training)
        for (int k = 0; k < 3; k++)
            gs_test_forward(t, 1);
    double err;
    char what[256];
    ck_assert_msg(gs_test_gradcheck(t, training, &err, what, sizeof what) == 1,
                  "case %d, %s (%s): max relative error %.3e at %s", i, label,
                  training ? "training" : "evaluation", err, what);
    gs_test_model_free(t);
}

/* An image shape (C, H, W). */
static inline gs_shape tu_image(size_t c, size_t h, size_t w)
{
    return (gs_shape){.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {c, h, w}};
}

/* A model of n layers types[i] { params[i] } on input `in`, finalized for
   `batch` examples; the test fails with the build error otherwise. */
static inline gs_test_model *tu_build_layers(gs_registry *reg, const char *const *types,
                                             const char *const *params, size_t n, gs_shape in,
                                             size_t batch, gs_dtype dt, uint64_t seed)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, dt, seed, &in);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(gs_test_model_add(t, types[i], params[i], &err) == 0, "%s { %s }: %s",
                      types[i], params[i], err.msg);
    ck_assert_msg(gs_test_model_finalize(t, batch, &err) == 0, "%s", err.msg);
    return t;
}

/* Output, input gradient, every parameter gradient and every record of t
   (in that order, as doubles; n of them, the array malloc'd) after one
   training step on normal inputs (stream 6) and output gradients (stream
   7). */
static inline double *tu_step_values(gs_test_model *t, size_t *n)
{
    tu_fill(gs_test_input(t), 6, 0.0, 1.0);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), 7, 0.0, 1.0);
    gs_test_backward(t);
    const gs_tensor *outs[] = {gs_test_output(t), gs_test_input_grad(t)};
    size_t total = gs_tensor_numel(outs[0]) + gs_tensor_numel(outs[1]) + gs_test_n_records(t);
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        total += gs_tensor_numel(&gs_test_param(t, i)->grad);
    double *v = malloc((total ? total : 1) * sizeof *v);
    size_t k = 0;
    for (size_t o = 0; o < 2; o++)
        for (size_t i = 0; i < gs_tensor_numel(outs[o]); i++)
            v[k++] = tu_get(outs[o], i);
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        for (size_t j = 0; j < gs_tensor_numel(&gs_test_param(t, i)->grad); j++)
            v[k++] = tu_get(&gs_test_param(t, i)->grad, j);
    for (size_t i = 0; i < gs_test_n_records(t); i++)
        gs_test_record(t, i, NULL, NULL, &v[k++]);
    *n = total;
    return v;
}

/* A model of n layers types[i] { params[i] } on input `in`, for `batch`
   examples in float (seed 5): what tu_net_step_values builds. */
typedef struct tu_net {
    gs_registry *reg;
    const char *const *types, *const *params;
    size_t n;
    gs_shape in;
    size_t batch;
} tu_net;

/* tu_step_values of a fresh model of tu_net arg (a run function for
   tu_same_bits_at_threads). */
static inline double *tu_net_step_values(const void *arg, size_t *n)
{
    const tu_net *c = arg;
    gs_test_model *t =
        tu_build_layers(c->reg, c->types, c->params, c->n, c->in, c->batch, GS_F32, 5);
    double *v = tu_step_values(t, n);
    gs_test_model_free(t);
    return v;
}

/* run(arg, &n) (values in a malloc'd array, tu_net_step_values's for example)
   gives the same bits at 2 to max_threads threads as at 1; `what` names
   the case in a failure.  Leaves the kernels on 1 thread. */
static inline void tu_same_bits_at_threads(double *(*run)(const void *arg, size_t *n),
                                           const void *arg, int max_threads, const char *what)
{
    size_t n1, n;
    gs_test_set_threads(1);
    double *ref = run(arg, &n1);
    for (int th = 2; th <= max_threads; th++) {
        gs_test_set_threads(th);
        double *v = run(arg, &n);
        ck_assert_uint_eq(n, n1);
        ck_assert_msg(memcmp(v, ref, n * sizeof *v) == 0, "%s: %d threads differ from 1", what,
                      th);
        free(v);
    }
    gs_test_set_threads(1);
    free(ref);
}

/* ---- the reference fixtures ---- */

enum { REF_MAX_TEXT = 8 };

typedef struct ref_tensor {
    char name[64];
    size_t n;
    double *v;
} ref_tensor;

typedef struct ref_case {
    char name[64];
    char head[256]; /* the rest of the "case NAME" line, leading blanks skipped */
    char key[REF_MAX_TEXT][64], text[REF_MAX_TEXT][256];
    size_t ntext;
    ref_tensor *t;
    size_t nt;
} ref_case;

typedef struct ref_set {
    ref_case *c;
    size_t n;
} ref_set;

/* The rest of the current line into buf, leading blanks skipped. */
static inline void ref_rest_of_line_(FILE *f, char *buf, size_t len, const char *path)
{
    ck_assert_msg(fgets(buf, (int)len, f) != NULL, "%s: line ends early", path);
    ck_assert_msg(strchr(buf, '\n') != NULL || feof(f), "%s: line longer than %zu", path, len);
    buf[strcspn(buf, "\n")] = '\0';
    size_t skip = strspn(buf, " \t");
    memmove(buf, buf + skip, strlen(buf + skip) + 1);
}

/* Parses tests/fixtures/NAME under the source tree into s (once: a set that
   holds cases is left as it is). text_keys lists the words whose lines are
   text rather than tensors (NULL-terminated; NULL for none). */
static inline void ref_load(ref_set *s, const char *name, const char *const *text_keys)
{
    if (s->n)
        return;
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/%s", name);
    char *path = tu_path(tu_srcdir(), rel);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 0;
    char word[64];
    ref_case *c = NULL;
    while (fscanf(f, "%63s", word) == 1) {
        int is_text = 0;
        for (size_t k = 0; text_keys && text_keys[k]; k++)
            is_text |= strcmp(word, text_keys[k]) == 0;
        if (word[0] == '#') {
            int ch;
            while ((ch = fgetc(f)) != '\n' && ch != EOF)
                ;
        } else if (strcmp(word, "case") == 0) {
            if (s->n == cap) {
                cap = cap ? 2 * cap : 16;
                s->c = realloc(s->c, cap * sizeof *s->c);
            }
            c = &s->c[s->n++];
            memset(c, 0, sizeof *c);
            ck_assert_int_eq(fscanf(f, "%63s", c->name), 1);
            ref_rest_of_line_(f, c->head, sizeof c->head, path);
        } else if (strcmp(word, "end") == 0) {
            c = NULL;
        } else if (is_text) {
            ck_assert_msg(c != NULL, "%s: %s outside a case", path, word);
            ck_assert_uint_lt(c->ntext, REF_MAX_TEXT);
            snprintf(c->key[c->ntext], sizeof c->key[0], "%s", word);
            ref_rest_of_line_(f, c->text[c->ntext], sizeof c->text[0], path);
            c->ntext++;
        } else {
            ck_assert_msg(c != NULL, "%s: tensor %s outside a case", path, word);
            c->t = realloc(c->t, (c->nt + 1) * sizeof *c->t);
            ref_tensor *t = &c->t[c->nt++];
            snprintf(t->name, sizeof t->name, "%s", word);
            ck_assert_int_eq(fscanf(f, "%zu", &t->n), 1);
            t->v = malloc((t->n ? t->n : 1) * sizeof *t->v);
            for (size_t i = 0; i < t->n; i++)
                ck_assert_msg(fscanf(f, "%lf", &t->v[i]) == 1, "%s: %s %s: value %zu of %zu",
                              path, c->name, t->name, i, t->n);
        }
    }
    fclose(f);
    free(path);
}

/* The text of KEY in case c; aborts the test when there is none. */
static inline const char *ref_text(const ref_case *c, const char *key)
{
    for (size_t i = 0; i < c->ntext; i++)
        if (strcmp(c->key[i], key) == 0)
            return c->text[i];
    ck_abort_msg("%s: no %s in the reference", c->name, key);
    return NULL;
}

static inline const ref_tensor *ref_find(const ref_case *c, const char *name)
{
    for (size_t i = 0; i < c->nt; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

/* Like ref_find, but the tensor must be there. */
static inline const ref_tensor *ref_get(const ref_case *c, const char *name)
{
    const ref_tensor *t = ref_find(c, name);
    ck_assert_msg(t != NULL, "%s: no %s in the reference", c->name, name);
    return t;
}

/* Copies the reference values into dst, which must have as many. */
static inline void ref_copy(gs_tensor *dst, const ref_tensor *src)
{
    ck_assert_msg(gs_tensor_numel(dst) == src->n, "%s: %zu values, want %zu", src->name,
                  src->n, gs_tensor_numel(dst));
    for (size_t i = 0; i < src->n; i++)
        tu_put(dst, i, src->v[i]);
}

/* max_i |got_i - want_i| / max_i |want_i|: the error relative to the tensor's scale. */
static inline double ref_rel_error(const gs_tensor *got, const ref_tensor *want)
{
    ck_assert_msg(gs_tensor_numel(got) == want->n, "%s: %zu values, want %zu", want->name,
                  gs_tensor_numel(got), want->n);
    double d = 0, s = 0;
    for (size_t i = 0; i < want->n; i++) {
        d = fmax(d, fabs(tu_get(got, i) - want->v[i]));
        s = fmax(s, fabs(want->v[i]));
    }
    return d / fmax(s, 1e-300);
}

/* The largest error of a case so far, and what had it. */
typedef struct ref_worst {
    double e;
    char what[96];
} ref_worst;

/* Notes error e of `what` when it is the largest so far or NaN. */
static inline void ref_worse(ref_worst *w, double e, const char *what)
{
    if (e > w->e || isnan(e)) {
        w->e = e;
        snprintf(w->what, sizeof w->what, "%s", what);
    }
}

/* got against the case's tensor NAME (ref_rel_error), into w. */
static inline void ref_compare(ref_worst *w, const gs_tensor *got, const ref_case *c,
                               const char *name)
{
    ref_worse(w, ref_rel_error(got, ref_get(c, name)), name);
}

/* One training step of t from the case's x and dy; y and grad_x against
   the case's, into w.  The parameters are the caller's to set before. */
static inline void ref_step(gs_test_model *t, const ref_case *c, ref_worst *w)
{
    ref_copy(gs_test_input(t), ref_get(c, "x"));
    gs_test_forward(t, 1);
    ref_copy(gs_test_output_grad(t), ref_get(c, "dy"));
    gs_test_backward(t);
    ref_compare(w, gs_test_output(t), c, "y");
    ref_compare(w, gs_test_input_grad(t), c, "grad_x");
}

/* The fixture's name of a parameter: its name without the top-level
   layer's ("conv0.weight" of "resnet.conv0.weight"). */
static inline const char *ref_local_name(const gs_param *p)
{
    const char *dot = strchr(p->name, '.');
    return dot ? dot + 1 : p->name;
}

/* Every learnable tensor of t from the case's tensor of its local name. */
static inline void ref_set_params(gs_test_model *t, const ref_case *c)
{
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        gs_param *p = gs_test_param(t, i);
        if (p->role != GS_ROLE_BUFFER)
            ref_copy(&p->value, ref_get(c, ref_local_name(p)));
    }
}

/* After ref_step: every learnable tensor's gradient against the case's
   grad_<local name>, every buffer (a running statistic) against
   <local name>, into w. */
static inline void ref_compare_params(gs_test_model *t, const ref_case *c, ref_worst *w)
{
    char name[96];
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        gs_param *p = gs_test_param(t, i);
        if (p->role == GS_ROLE_BUFFER) {
            ref_worse(w, ref_rel_error(&p->value, ref_get(c, ref_local_name(p))), p->name);
        } else {
            snprintf(name, sizeof name, "grad_%s", ref_local_name(p));
            ref_compare(w, &p->grad, c, name);
        }
    }
}

/* Runs every case of s in dtype dt: run(case, dt, &w) computes the case
   and compares (ref_compare...) into w; the largest relative error of each
   case must be at most tol. */
static inline void ref_check_all(const ref_set *s, void (*run)(const ref_case *, gs_dtype,
                                                               ref_worst *),
                                 gs_dtype dt, double tol)
{
    for (size_t i = 0; i < s->n; i++) {
        ref_worst w = {.e = -1};
        run(&s->c[i], dt, &w);
        ck_assert_msg(w.e <= tol, "%s (%s): %s off by %.3e", s->c[i].name,
                      dt == GS_F64 ? "double" : "float32", w.what, w.e);
    }
}

#endif
