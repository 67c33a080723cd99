/*
 * Pinning the OpenMP team, one thread per CPU, for a run that uses every
 * CPU it is allowed.  Unpinned, the kernel moves threads between CPUs, and
 * a thread that moves reaches the next barrier late: binding was worth
 * 10-17% at 16 threads on one 16-vCPU machine and 0-5% on another
 * (docs/PERFORMANCE.md, "Sixteen cores").  A run that
 * leaves CPUs free (a sweep's parallel jobs, a smaller --threads) is not
 * pinned, so that it never crowds its neighbours onto the same CPUs; nor is
 * one whose environment already chooses a placement (OMP_PROC_BIND,
 * OMP_PLACES, GOMP_CPU_AFFINITY; OMP_PROC_BIND=false turns pinning off).
 * The team's former masks are restored when the run ends, so that a later
 * run in the same process sees every CPU again.  Placement changes no
 * result: the reductions do not depend on which CPU runs which thread.
 */
#define _GNU_SOURCE
#include "config.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "kernels/affinity.h"
#include "base/util.h"
#include "kernels/kernels.h"

static int placement_chosen(void)
{
    return getenv("OMP_PROC_BIND") || getenv("OMP_PLACES") || getenv("GOMP_CPU_AFFINITY");
}

int gs_threads_pin(gs_pinning *p)
{
    p->allowed = NULL;
#if defined(_OPENMP) && defined(CPU_SETSIZE)
    int threads = gs_get_threads();
    cpu_set_t allowed;
    if (threads < 2 || placement_chosen() || sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
        CPU_COUNT(&allowed) != threads)
        return 0;
    int cpu[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            cpu[n++] = c;
    p->allowed = gs_xmalloc(sizeof allowed);
    *(cpu_set_t *)p->allowed = allowed;
    int ok = 1;
#pragma omp parallel num_threads(threads) reduction(&& : ok)
    {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu[omp_get_thread_num()], &one);
        ok = omp_get_num_threads() == threads &&
             pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
    if (!ok)
        gs_threads_unpin(p);
    return ok;
#else
    return 0;
#endif
}

void gs_threads_unpin(gs_pinning *p)
{
    if (!p->allowed)
        return;
#if defined(_OPENMP) && defined(CPU_SETSIZE)
    const cpu_set_t *allowed = p->allowed;
#pragma omp parallel num_threads(gs_get_threads())
    pthread_setaffinity_np(pthread_self(), sizeof *allowed, allowed);
#endif
    free(p->allowed);
    p->allowed = NULL;
}
