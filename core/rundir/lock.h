/*
 * The exclusive lock of a run directory, held by the one process that
 * writes it (docs/RELIABILITY.md, docs/CLUSTERS.md): DIR/.lock
 * (GS_FILE_LOCK), created with O_CREAT|O_EXCL, holding "HOST PID\n", and
 * flock'ed where the file system supports it.
 */
#ifndef GS_RUNDIR_LOCK_H
#define GS_RUNDIR_LOCK_H

#include <stdio.h>
#include "gradscope/gradscope.h"

typedef struct gs_lock {
    int fd; /* -1: not held */
    int slot;
    char *path;
} gs_lock;

/* Takes DIR/.lock.  A lock left by a process of this host that no longer
   runs is taken over, with a note to `note` (NULL: none).  Returns
   GS_EXIT_OK; GS_EXIT_INPUT when another process holds it (err names its
   host and PID and, for another host, how to remove the lock if it is
   gone); GS_EXIT_RUNTIME when the file cannot be created. */
int gs_lock_take(gs_lock *l, const char *dir, FILE *note, gs_error *err);
/* Removes the lock file (when it is still this one) and closes it; a lock
   not held is left alone. */
void gs_lock_release(gs_lock *l);
/* Removes every lock file this process holds without releasing anything
   else: async-signal-safe, for a signal handler about to _exit. */
void gs_locks_drop(void);

#endif
