/* Data-parallel pieces: batch shards, the fixed-order sum across ranks (ranks
   simulated by threads with an in-memory transport), and how far a gradient
   summed from shards lies from the whole batch's. */
#include <math.h>
#include <pthread.h>
#include "testutil.h"
#include "gradscope/testing.h"

START_TEST(shards_partition_in_rank_order)
{
    for (size_t n = 0; n <= 40; n++)
        for (int k = 1; k <= 7; k++) {
            size_t next = 0, lo = (size_t)-1, hi = 0;
            for (int r = 0; r < k; r++) {
                size_t off, cnt;
                gs_dp_shard(n, r, k, &off, &cnt);
                ck_assert_uint_eq(off, next);
                next += cnt;
                lo = cnt < lo ? cnt : lo;
                hi = cnt > hi ? cnt : hi;
            }
            ck_assert_uint_eq(next, n);
            ck_assert_uint_le(hi - lo, 1);
        }
}
END_TEST

/* ---- K ranks as threads: one FIFO of messages per (from, to) pair ---- */

typedef struct msg {
    struct msg *next;
    size_t n;
    unsigned char data[];
} msg;

typedef struct net {
    int k;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg **head; /* k * k queues, [from * k + to] */
} net;

typedef struct endpoint {
    net *net;
    int rank;
} endpoint;

static int thread_sendrecv(void *ctx, const void *send, size_t send_n, int to, void *recv,
                           size_t recv_n, int from)
{
    endpoint *ep = ctx;
    net *nt = ep->net;
    msg *m = malloc(sizeof *m + send_n + 1);
    m->next = NULL;
    m->n = send_n;
    memcpy(m->data, send, send_n);
    pthread_mutex_lock(&nt->mu);
    msg **q = &nt->head[ep->rank * nt->k + to];
    while (*q)
        q = &(*q)->next;
    *q = m;
    pthread_cond_broadcast(&nt->cv);
    msg **in = &nt->head[from * nt->k + ep->rank];
    while (!*in)
        pthread_cond_wait(&nt->cv, &nt->mu);
    msg *got = *in;
    *in = got->next;
    pthread_mutex_unlock(&nt->mu);
    int ok = got->n == recv_n;
    memcpy(recv, got->data, ok ? recv_n : 0);
    free(got);
    return ok ? 0 : -1;
}

typedef struct job {
    endpoint ep;
    float *f;
    double *d;
    size_t n;
    int rc;
} job;

static void *rank_main(void *arg)
{
    job *j = arg;
    gs_comm c = {.rank = j->ep.rank, .size = j->ep.net->k, .sendrecv = thread_sendrecv,
                 .ctx = &j->ep};
    j->rc = gs_dp_sum_f32(&c, j->f, j->n) | gs_dp_sum_f64(&c, j->d, j->n);
    return NULL;
}

/* A value with every kind of rounding trouble: mixed signs and magnitudes. */
static float value(int rank, size_t e)
{
    uint64_t h = (uint64_t)(rank + 1) * 0x9E3779B97F4A7C15ull ^ (e + 1) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    double u = (double)(h % 1000003) / 1000003.0 - 0.5;
    return (float)(u * pow(10.0, (double)(h % 9) - 4.0));
}

START_TEST(sum_is_rank_ordered_and_identical_everywhere)
{
    const size_t sizes[] = {0, 1, 3, 7, 1000};
    for (int k = 1; k <= 5; k++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            net nt = {.k = k};
            pthread_mutex_init(&nt.mu, NULL);
            pthread_cond_init(&nt.cv, NULL);
            nt.head = calloc((size_t)(k * k), sizeof *nt.head);
            job jobs[5];
            pthread_t th[5];
            for (int r = 0; r < k; r++) {
                jobs[r] = (job){.ep = {&nt, r}, .n = n};
                jobs[r].f = malloc((n + 1) * sizeof(float));
                jobs[r].d = malloc((n + 1) * sizeof(double));
                for (size_t e = 0; e < n; e++) {
                    jobs[r].f[e] = value(r, e);
                    jobs[r].d[e] = (double)value(r, e) / 3.0;
                }
                pthread_create(&th[r], NULL, rank_main, &jobs[r]);
            }
            for (int r = 0; r < k; r++) {
                pthread_join(th[r], NULL);
                ck_assert_int_eq(jobs[r].rc, 0);
            }
            for (size_t e = 0; e < n; e++) {
                double sf = 0, sd = 0;
                for (int r = 0; r < k; r++) {
                    sf += (double)value(r, e);
                    sd += (double)value(r, e) / 3.0;
                }
                for (int r = 0; r < k; r++) {
                    ck_assert_msg(jobs[r].f[e] == (float)sf, "k=%d n=%zu rank %d element %zu", k,
                                  n, r, e);
                    ck_assert_msg(jobs[r].d[e] == sd, "k=%d n=%zu rank %d element %zu (double)",
                                  k, n, r, e);
                }
            }
            for (int r = 0; r < k; r++) {
                free(jobs[r].f);
                free(jobs[r].d);
            }
            for (int q = 0; q < k * k; q++)
                ck_assert_ptr_null(nt.head[q]);
            free(nt.head);
            pthread_mutex_destroy(&nt.mu);
            pthread_cond_destroy(&nt.cv);
        }
}
END_TEST

/* ---- the tolerance of data-parallel gradients ---- */

/* Gradient of sum_i 0.5 |y_i - t_i|^2 / B over examples [lo, lo + n) of a
   fixed batch, for a float32 MLP with fixed weights; all gradients in one
   vector. */
static void shard_gradient(const gs_registry *reg, const float *x, size_t lo, size_t n, size_t B,
                           float *g, size_t *total)
{
    const size_t in = 12;
    gs_shape shape = {.ndim = 1, .dims = {in}};
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 5, &shape);
    gs_error err;
    for (int l = 0; l < 4; l++)
        ck_assert_msg(gs_test_model_add(t, "dense", "units = 64; activation = \"tanh\";", &err) == 0,
                      "%s", err.msg);
    ck_assert(gs_test_model_add(t, "dense", "units = 3;", &err) == 0);
    ck_assert_msg(gs_test_model_finalize(t, n, &err) == 0, "%s", err.msg);
    memcpy(gs_test_input(t)->data, x + lo * in, n * in * sizeof(float));
    gs_test_forward(t, 1);
    const float *y = gs_test_output(t)->data;
    float *dy = gs_test_output_grad(t)->data;
    for (size_t i = 0; i < n * 3; i++)
        dy[i] = (y[i] - (float)((lo * 3 + i) % 5) * 0.25f) / (float)B;
    gs_test_backward(t);
    size_t at = 0;
    for (size_t p = 0; p < gs_test_n_params(t); p++) {
        gs_param *prm = gs_test_param(t, p);
        size_t numel = gs_tensor_numel(&prm->grad);
        memcpy(g + at, prm->grad.data, numel * sizeof(float));
        at += numel;
    }
    *total = at;
    gs_test_model_free(t);
}

START_TEST(sharded_gradient_matches_the_whole_batch)
{
    gs_registry *reg = tu_registry();
    const size_t B = 96, in = 12, cap = 20000;
    float *x = malloc(B * in * sizeof(float));
    for (size_t i = 0; i < B * in; i++)
        x[i] = value(7, i) * 100.0f;
    float *whole = calloc(cap, sizeof(float)), *part = calloc(cap, sizeof(float));
    size_t total = 0, t2 = 0;
    shard_gradient(reg, x, 0, B, B, whole, &total);
    ck_assert_uint_le(total, cap);
    for (int k = 2; k <= 5; k++) {
        double *sum = calloc(total, sizeof(double));
        for (int r = 0; r < k; r++) {
            size_t off, cnt;
            gs_dp_shard(B, r, k, &off, &cnt);
            shard_gradient(reg, x, off, cnt, B, part, &t2);
            for (size_t e = 0; e < total; e++)
                sum[e] += part[e];
        }
        /* the bound gradscope.h states: rounding only, within 1e-6 of the
           largest gradient element (about 1e-7 is typical) */
        double worst = 0, scale = 0;
        for (size_t e = 0; e < total; e++) {
            scale = fmax(scale, fabs(whole[e]));
            worst = fmax(worst, fabs((double)(float)sum[e] - whole[e]));
        }
        ck_assert_msg(worst <= 1e-6 * scale, "k=%d: max difference %.3g of max %.3g", k, worst,
                      scale);
        free(sum);
    }
    free(x);
    free(whole);
    free(part);
    gs_registry_free(reg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataparallel");
    TCase *tc = tcase_create("dataparallel");
    tcase_add_test(tc, shards_partition_in_rank_order);
    tcase_add_test(tc, sum_is_rank_ordered_and_identical_everywhere);
    tcase_add_test(tc, sharded_gradient_matches_the_whole_batch);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
