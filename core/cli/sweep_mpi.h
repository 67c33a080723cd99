/* MPI for gradscope sweep (sweep_mpi.c, built with configure --with-mpi);
   without MPI every process is a world of one. */
#ifndef GS_SWEEP_MPI_H
#define GS_SWEEP_MPI_H

#include "gradscope/gradscope.h"

/* (sweep.c) 0, or GS_EXIT_INPUT with a message from Slurm task 0 when srun
   started several tasks that are not one MPI job of mpi_size > 1 ranks:
   each would `what` (e.g. "train the run") on its own. */
int cli_slurm_tasks_check(int mpi_size, const char *what);

#ifdef HAVE_MPI
int sweep_mpi_available(void);
/* Joins the MPI job when started by an MPI launcher; else size 1, rank 0.
   Every process that called it calls sweep_mpi_finalize before it exits,
   also with one rank: mpirun counts a rank that skips MPI_Finalize as
   failed. */
void sweep_mpi_init(int *size, int *rank);
/* True when every rank says true. */
int sweep_mpi_agree(int ok);
/* Rank 0 hands combinations to the other ranks as they ask, then writes
   sweep.csv; returns the sweep's status on rank 0.  quiet: no summary line. */
int sweep_mpi_run(const gs_registry *reg, const gs_sweep *s, int threads, int quiet,
                  gs_error *err);
void sweep_mpi_finalize(void);
/* Joins the MPI job for data-parallel training: 1 and *c filled when there
   are several ranks, else 0. */
int gs_cli_mpi_comm(gs_comm *c);
#else
static inline int sweep_mpi_available(void) { return 0; }
static inline void sweep_mpi_init(int *size, int *rank) { *size = 1, *rank = 0; }
static inline int sweep_mpi_agree(int ok) { return ok; }
static inline int sweep_mpi_run(const gs_registry *reg, const gs_sweep *s, int threads,
                                int quiet, gs_error *err)
{
    (void)reg, (void)s, (void)threads, (void)quiet, (void)err;
    return GS_EXIT_RUNTIME;
}
static inline void sweep_mpi_finalize(void) {}
static inline int gs_cli_mpi_comm(gs_comm *c)
{
    (void)c;
    return 0;
}
#endif

#endif
