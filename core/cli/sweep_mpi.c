/*
 * gradscope sweep under mpirun: rank 0 hands out combination indices as the
 * other ranks ask for work, so a slow run holds back no other; each rank
 * trains its combinations through gs_sweep_run_one (which skips and resumes
 * like a local sweep), and rank 0 writes sweep.csv at the end.  Only this
 * file knows about MPI; libgradscope does not link it.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sweep_mpi.h"

enum { TAG_ASK = 1, TAG_WORK = 2 };

/* A worker's message: the combination it ran (-1: none yet), its status,
   and whether it wants another. */
enum { M_INDEX, M_STATUS, M_MORE, M_LEN };

static int active;
static volatile sig_atomic_t mpi_signal;

static void on_signal(int sig)
{
    if (!mpi_signal)
        mpi_signal = sig;
}

int sweep_mpi_available(void) { return 1; }

/* Launchers (mpirun, srun, hydra) announce themselves in the environment;
   without one, a singleton MPI_Init would only slow a local sweep down. */
static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE", NULL};
    for (const char *const *v = vars; *v; v++)
        if (getenv(*v))
            return 1;
    return 0;
}

void sweep_mpi_init(int *size, int *rank)
{
    *size = 1;
    *rank = 0;
    if (!launched_by_mpi())
        return;
    MPI_Init(NULL, NULL);
    active = 1;
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
}

int sweep_mpi_agree(int ok)
{
    if (!active)
        return ok;
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

void sweep_mpi_finalize(void)
{
    if (active)
        MPI_Finalize();
    active = 0;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Waits for a worker without spinning: Open MPI's blocking receive polls. */
static void receive(long long *msg, MPI_Status *st)
{
    MPI_Request req;
    MPI_Irecv(msg, M_LEN, MPI_LONG_LONG, MPI_ANY_SOURCE, TAG_ASK, MPI_COMM_WORLD, &req);
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, st);
        if (done)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int leader(const gs_sweep *s, int size, int quiet, gs_error *err)
{
    size_t count = gs_sweep_count(s), next = 0, failed = 0;
    int *status = malloc(count * sizeof *status);
    if (!status)
        abort();
    for (size_t i = 0; i < count; i++)
        status[i] = -1;
    int workers = size - 1, stopped = 0;
    if (!quiet) {
        fprintf(stdout,
                "sweep: %zu combinations into %s, on %d MPI ranks (rank 0 schedules, %d %s)\n",
                count, gs_sweep_dir(s), size, workers, workers == 1 ? "trains" : "train");
        fflush(stdout);
    }
    while (workers > 0) {
        long long msg[M_LEN];
        MPI_Status st;
        receive(msg, &st);
        if (msg[M_INDEX] >= 0 && (size_t)msg[M_INDEX] < count) {
            status[msg[M_INDEX]] = (int)msg[M_STATUS];
            if (msg[M_STATUS] >= 128 && !stopped)
                stopped = (int)msg[M_STATUS];
        }
        if (mpi_signal && !stopped)
            stopped = 128 + (int)mpi_signal;
        long long work = -1;
        if (msg[M_MORE] && !stopped && next < count)
            work = (long long)next++;
        else
            workers--;
        MPI_Send(&work, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
    }
    size_t first = 0;
    for (size_t i = 0; i < count; i++)
        if (status[i] != GS_EXIT_OK && status[i] < 128 && !(status[i] == -1 && stopped) &&
            !failed++)
            first = i;
    free(status);
    gs_error cerr = {{0}};
    int crc = gs_sweep_collect(s, NULL, &cerr);
    if (stopped)
        return stopped;
    if (failed) {
        snprintf(err->msg, sizeof err->msg,
                 "%zu of %zu combinations failed (the first: %zu, %s); see the messages above; "
                 "run the sweep again to retry them",
                 failed, count, first, gs_sweep_name(s, first));
        return GS_EXIT_RUNTIME;
    }
    if (crc != GS_EXIT_OK)
        *err = cerr;
    return crc;
}

static void worker(const gs_registry *reg, const gs_sweep *s, int threads)
{
    long long msg[M_LEN] = {-1, 0, 1};
    for (;;) {
        msg[M_MORE] = !mpi_signal;
        MPI_Send(msg, M_LEN, MPI_LONG_LONG, 0, TAG_ASK, MPI_COMM_WORLD);
        long long work;
        MPI_Recv(&work, 1, MPI_LONG_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (work < 0)
            return;
        gs_error err = {{0}};
        int rc = gs_sweep_run_one(reg, s, (size_t)work, threads, &err);
        if (rc != GS_EXIT_OK && rc < 128)
            fprintf(stderr, "gradscope: %s\n", err.msg);
        if (rc >= 128 && !mpi_signal)
            mpi_signal = rc - 128;
        msg[M_INDEX] = work;
        msg[M_STATUS] = rc;
    }
}

int sweep_mpi_run(const gs_registry *reg, const gs_sweep *s, int threads, int quiet,
                  gs_error *err)
{
    int size, rank;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    catch_signals();
    int rc = GS_EXIT_OK;
    if (rank == 0)
        rc = leader(s, size, quiet, err);
    else
        worker(reg, s, threads);
    return rc;
}

/* ---- data-parallel training over MPI_COMM_WORLD ---- */

/* MPI counts are ints: larger messages travel in pieces, each with its own
   tag, posted all at once so that partners never wait on each other. */
enum { PIECE = 1 << 30 };

static int mpi_sendrecv(void *ctx, const void *send, size_t send_n, int to, void *recv,
                        size_t recv_n, int from)
{
    (void)ctx;
    size_t ns = (send_n + PIECE - 1) / PIECE, nr = (recv_n + PIECE - 1) / PIECE;
    MPI_Request *req = calloc(ns + nr + 1, sizeof *req);
    if (!req)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) {
        size_t len = recv_n - i * PIECE < PIECE ? recv_n - i * PIECE : PIECE;
        MPI_Irecv((char *)recv + i * PIECE, (int)len, MPI_BYTE, from, 100 + (int)i,
                  MPI_COMM_WORLD, &req[k++]);
    }
    for (size_t i = 0; i < ns; i++) {
        size_t len = send_n - i * PIECE < PIECE ? send_n - i * PIECE : PIECE;
        MPI_Isend((const char *)send + i * PIECE, (int)len, MPI_BYTE, to, 100 + (int)i,
                  MPI_COMM_WORLD, &req[k++]);
    }
    int rc = MPI_Waitall((int)k, req, MPI_STATUSES_IGNORE) == MPI_SUCCESS ? 0 : -1;
    free(req);
    return rc;
}

int gs_cli_mpi_comm(gs_comm *c)
{
    int size, rank;
    sweep_mpi_init(&size, &rank);
    if (size <= 1)
        return 0;
    c->rank = rank;
    c->size = size;
    c->sendrecv = mpi_sendrecv;
    c->ctx = NULL;
    return 1;
}
