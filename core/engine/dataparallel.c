/*
 * Data-parallel building blocks: batch shards and a sum across processes in
 * a fixed order.  The sum is a reduce-scatter followed by an allgather, both
 * as size-1 rounds of pairwise exchanges: in round r rank i sends to i+r and
 * receives from i-r (mod size), so every exchange has a partner and no rank
 * waits on a cycle.  The owner of each slice adds the ranks' contributions in
 * rank order in double, which makes the result independent of arrival order.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "base/util.h"

void gs_dp_shard(size_t n, int rank, int size, size_t *offset, size_t *count)
{
    size_t k = (size_t)size, r = (size_t)rank, base = n / k, extra = n % k;
    *offset = r * base + (r < extra ? r : extra);
    *count = base + (r < extra);
}

static int dp_sum(const gs_comm *c, void *v, size_t n, size_t elem)
{
    int k = c->size, me = c->rank;
    if (k <= 1 || n == 0)
        return 0;
    char *bytes = v;
    size_t my_off, my_n;
    gs_dp_shard(n, me, k, &my_off, &my_n);
    /* parts[j] holds rank j's contribution to my slice */
    char *parts = gs_xmalloc((size_t)k * (my_n ? my_n : 1) * elem);
    memcpy(parts + (size_t)me * my_n * elem, bytes + my_off * elem, my_n * elem);
    for (int r = 1; r < k; r++) {
        int to = (me + r) % k, from = (me - r + k) % k;
        size_t to_off, to_n;
        gs_dp_shard(n, to, k, &to_off, &to_n);
        if (c->sendrecv(c->ctx, bytes + to_off * elem, to_n * elem, to,
                        parts + (size_t)from * my_n * elem, my_n * elem, from) < 0) {
            free(parts);
            return -1;
        }
    }
    for (size_t e = 0; e < my_n; e++) {
        double s = 0;
        for (int j = 0; j < k; j++)
            s += elem == sizeof(float) ? (double)((float *)parts)[(size_t)j * my_n + e]
                                       : ((double *)parts)[(size_t)j * my_n + e];
        if (elem == sizeof(float))
            ((float *)v)[my_off + e] = (float)s;
        else
            ((double *)v)[my_off + e] = s;
    }
    free(parts);
    for (int r = 1; r < k; r++) {
        int to = (me + r) % k, from = (me - r + k) % k;
        size_t from_off, from_n;
        gs_dp_shard(n, from, k, &from_off, &from_n);
        if (c->sendrecv(c->ctx, bytes + my_off * elem, my_n * elem, to,
                        bytes + from_off * elem, from_n * elem, from) < 0)
            return -1;
    }
    return 0;
}

int gs_dp_sum_f32(const gs_comm *c, float *v, size_t n) { return dp_sum(c, v, n, sizeof *v); }
int gs_dp_sum_f64(const gs_comm *c, double *v, size_t n) { return dp_sum(c, v, n, sizeof *v); }
