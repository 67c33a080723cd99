/* Pinning a run's OpenMP team one thread per CPU. */
#ifndef GS_KERNELS_AFFINITY_H
#define GS_KERNELS_AFFINITY_H

typedef struct gs_pinning {
    void *allowed; /* the CPUs the team had (a cpu_set_t), while pinned */
} gs_pinning;
/* Pins the gs_get_threads() threads of the team one per CPU when they are
   as many as the CPUs the process may use and the environment chooses no
   placement; returns 1 when it did.  gs_threads_unpin undoes it. */
int gs_threads_pin(gs_pinning *p);
void gs_threads_unpin(gs_pinning *p);

#endif
