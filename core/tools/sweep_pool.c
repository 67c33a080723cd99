/*
 * A sweep's combinations on one machine: in this process, or `jobs` forked
 * processes that take the next combination as they become free.  The
 * processes share only a counter, a stop flag and each combination's
 * status, in an anonymous shared mapping; everything else a run leaves is
 * in its directory.
 */
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#include "config.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/util.h"
#include "tools/sweep.h"

typedef struct shared_state {
    size_t next;
    int stop;
    int rc[];
} shared_state;

static volatile sig_atomic_t sweep_signal;
static shared_state *shared;
static pid_t *children;
static size_t n_children;

static void on_sweep_signal(int sig)
{
    if (!sweep_signal)
        sweep_signal = sig;
    /* a job between two runs sees this before it takes the next one */
    if (shared)
        __atomic_store_n(&shared->stop, 1, __ATOMIC_SEQ_CST);
    /* the jobs run in their own process groups, away from the terminal's
       signals: each hears it once, from here */
    for (size_t j = 0; j < n_children; j++)
        if (children[j] > 0)
            kill(children[j], sig);
}

static int available_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A job: takes the next combination until none is left or a signal stops it. */
static void job_loop(const gs_registry *reg, const gs_sweep *s, shared_state *sh, int threads)
{
    for (;;) {
        if (__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST) || sweep_signal)
            break;
        size_t i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (i >= s->count)
            break;
        gs_error err = {{0}};
        sh->rc[i] = GS_SWEEP_RUNNING;
        int rc = gs_sweep_run_one(reg, s, i, threads, &err);
        sh->rc[i] = rc;
        if (rc != GS_EXIT_OK && rc < 128)
            fprintf(stderr, "gradscope: %s\n", err.msg);
        if (rc >= 128) {
            __atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
            break;
        }
    }
}

/* Forks the jobs and waits for them; -1 when a fork failed (the jobs
   already started are stopped and waited for). */
static int fork_jobs(const gs_registry *reg, const gs_sweep *s, size_t jobs, int threads,
                     shared_state *sh, gs_error *err)
{
    int rc = 0;
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pid_t *pids = gs_xcalloc(jobs, sizeof *pids);
    fflush(NULL);
    /* a signal during the forks waits until every pid is known */
    sigprocmask(SIG_BLOCK, &block, &old_mask);
    for (size_t j = 0; j < jobs; j++) {
        pid_t pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            n_children = 0;
            sigprocmask(SIG_SETMASK, &old_mask, NULL);
            job_loop(reg, s, sh, threads);
            fflush(NULL);
            _exit(0);
        }
        if (pid < 0) {
            gs_err_set(err, "fork: %s", strerror(errno));
            rc = -1;
            __atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
            break;
        }
        setpgid(pid, pid);
        pids[j] = pid;
    }
    children = pids;
    n_children = jobs;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    for (size_t j = 0; j < jobs; j++) {
        if (pids[j] <= 0)
            continue;
        int status;
        while (waitpid(pids[j], &status, 0) < 0 && errno == EINTR)
            ;
        pids[j] = 0;
    }
    n_children = 0;
    children = NULL;
    free(pids);
    return rc;
}

int gs_sweep_pool(const gs_registry *reg, const gs_sweep *s, size_t jobs, int threads, int *rcs,
                  gs_error *err)
{
    if (jobs > s->count)
        jobs = s->count;
    if (jobs > 1) {
        int total = threads > 0 ? threads : available_cpus();
        threads = total / (int)jobs > 1 ? total / (int)jobs : 1;
    }
    size_t bytes = sizeof(shared_state) + s->count * sizeof(int);
    shared_state *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        gs_err_set(err, "cannot map shared memory: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < s->count; i++)
        sh->rc[i] = GS_SWEEP_NOT_TAKEN;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sweep_signal;
    sigemptyset(&sa.sa_mask);
    sweep_signal = 0;
    shared = sh;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!s->opt.quiet)
        fprintf(s->opt.out, "sweep: %zu combinations into %s, %zu at a time\n", s->count,
                s->dir, jobs);
    int rc = 0;
    if (jobs == 1)
        job_loop(reg, s, sh, threads);
    else
        rc = fork_jobs(reg, s, jobs, threads, sh, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    shared = NULL;
    int stopped = 0;
    for (size_t i = 0; i < s->count; i++) {
        rcs[i] = sh->rc[i];
        if (rcs[i] >= 128 && !stopped)
            stopped = rcs[i];
    }
    if (sweep_signal && !stopped)
        stopped = 128 + (int)sweep_signal;
    munmap(sh, bytes);
    return rc < 0 ? -1 : stopped;
}
