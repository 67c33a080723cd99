/*
 * Run-directory locks.  O_CREAT|O_EXCL is atomic on local file systems and
 * on NFS from version 3 on, which is what makes the lock file work on a
 * cluster's shared storage; the flock() on top (Linux emulates it with
 * POSIX locks on NFS) only narrows the window of a stale lock's takeover
 * and is skipped where the file system has no locks (ENOLCK, EOPNOTSUPP:
 * e.g. Lustre without -o flock).
 *
 * Whether the holder still runs can only be known on its own host: a lock
 * of another host is never taken over, whatever its flock says, since NFS
 * mounted with nolock keeps flocks local to each client.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rundir/lock.h"
#include "base/util.h"
#include "rundir/format.h"

/* The paths the signal handler removes: fixed buffers, each published by
   its owner's PID last (a forked child inherits its parent's, which are
   not its own). */
enum { SLOTS = 64 };
static struct {
    volatile sig_atomic_t owner;
    char path[PATH_MAX];
} held[SLOTS];

static int slot_add(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return -1;
    for (int i = 0; i < SLOTS; i++)
        if (held[i].owner == 0) {
            memcpy(held[i].path, path, strlen(path) + 1);
            held[i].owner = (sig_atomic_t)getpid();
            return i;
        }
    return -1; /* not removed by a signal: the stale rule covers it */
}

void gs_locks_drop(void)
{
    sig_atomic_t me = (sig_atomic_t)getpid();
    for (int i = 0; i < SLOTS; i++)
        if (held[i].owner == me) {
            unlink(held[i].path);
            held[i].owner = 0;
        }
}

static int held_here(const char *path)
{
    sig_atomic_t me = (sig_atomic_t)getpid();
    for (int i = 0; i < SLOTS; i++)
        if (held[i].owner == me && !strcmp(held[i].path, path))
            return 1;
    return 0;
}

static void this_host(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0 || !buf[0])
        snprintf(buf, n, "localhost");
    buf[n - 1] = '\0';
}

/* The holder a lock file names: 0, or -1 when its text is not (yet) a
   whole "HOST PID\n" line. */
static int read_holder(int fd, char *host, size_t n, long *pid)
{
    char text[512];
    ssize_t len = pread(fd, text, sizeof text - 1, 0);
    if (len <= 0)
        return -1;
    text[len] = '\0';
    char *nl = strchr(text, '\n'), *sp = strchr(text, ' ');
    if (!nl || !sp || sp > nl || sp == text || (size_t)(sp - text) >= n)
        return -1;
    memcpy(host, text, (size_t)(sp - text));
    host[sp - text] = '\0';
    char *end;
    errno = 0;
    *pid = strtol(sp + 1, &end, 10);
    return end == sp + 1 || end != nl || errno || *pid <= 0 ? -1 : 0;
}

static int alive(long pid) { return kill((pid_t)pid, 0) == 0 || errno == EPERM; }

static void refuse(gs_error *err, const char *dir, const char *path, const char *host, long pid,
                   int same_host)
{
    if (same_host)
        gs_err_set(err, "%s: in use by gradscope process %ld on this host (%s), which is "
                        "still running (lock %s); wait for it to end or stop it",
                   dir, pid, host, path);
    else
        gs_err_set(err, "%s: in use by gradscope process %ld on host %s (lock %s); if that "
                        "process is gone (its node failed or its job was killed), remove %s "
                        "and try again",
                   dir, pid, host, path, path);
}

/* A fresh lock file: exclusive create, flock, our line. 1 when it already
   exists, else a GS_EXIT_* status. */
static int create(gs_lock *l, const char *me, gs_error *err)
{
    int fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return 1;
        gs_err_set(err, "%s: cannot create the lock: %s", l->path, strerror(errno));
        return GS_EXIT_RUNTIME;
    }
    /* Only a process taking a stale lock over flocks another's file, and
       only for a moment: wait it out, then do without. */
    for (int i = 0; i < 100; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%s %ld\n", me, (long)getpid());
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        gs_err_set(err, "%s: cannot write the lock: %s", l->path,
                   errno ? strerror(errno) : "short write");
        unlink(l->path);
        close(fd);
        return GS_EXIT_RUNTIME;
    }
    l->fd = fd;
    l->slot = slot_add(l->path);
    return GS_EXIT_OK;
}

/* Removes the lock file at l->path if it is still the stale one that
   names host and pid: 0 removed (or gone already), 1 someone else has it. */
static int remove_stale(const gs_lock *l, const char *host, long pid)
{
    int fd = open(l->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : 1;
    int rc = 1;
    char h[256];
    long p;
    struct stat a, b;
    /* under our flock and still the same file with the same line: no other
       process can be between its own check and removal of this file */
    if ((flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) && fstat(fd, &a) == 0 &&
        stat(l->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev &&
        read_holder(fd, h, sizeof h, &p) == 0 && !strcmp(h, host) && p == pid)
        rc = unlink(l->path) == 0 || errno == ENOENT ? 0 : 1;
    close(fd);
    return rc;
}

int gs_lock_take(gs_lock *l, const char *dir, FILE *note, gs_error *err)
{
    l->fd = -1;
    l->slot = -1;
    l->path = gs_xasprintf("%s/%s", dir, GS_FILE_LOCK);
    char me[256];
    this_host(me, sizeof me);
    int rc = GS_EXIT_INPUT;
    for (int attempt = 0; attempt < 4; attempt++) {
        int made = create(l, me, err);
        if (made != 1) {
            rc = made;
            break;
        }
        int fd = open(l->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue; /* released meanwhile */
        char host[256];
        long pid = 0;
        int known = fd >= 0 && read_holder(fd, host, sizeof host, &pid) == 0;
        if (fd >= 0)
            close(fd);
        if (!known) {
            gs_err_set(err, "%s: locked (%s), by a process that is starting or with a lock "
                            "file that is damaged; if no gradscope runs in this directory, "
                            "remove %s and try again",
                       dir, l->path, l->path);
            rc = GS_EXIT_INPUT;
            break;
        }
        int same = !strcmp(host, me);
        /* our own PID: this process holds it, or it is a lock of an earlier
           process with our PID (PIDs restart in containers) */
        int stale = same && (pid == (long)getpid() ? !held_here(l->path) : !alive(pid));
        if (!stale) {
            refuse(err, dir, l->path, host, pid, same);
            rc = GS_EXIT_INPUT;
            break;
        }
        if (remove_stale(l, host, pid) != 0) {
            refuse(err, dir, l->path, host, pid, same);
            rc = GS_EXIT_INPUT;
            break;
        }
        if (note)
            fprintf(note, "gradscope: note: %s was left by process %ld of this host, which no "
                          "longer runs; taking %s over\n",
                    l->path, pid, dir);
        rc = GS_EXIT_INPUT;
        gs_err_set(err, "%s: the lock changed hands while it was taken; try again", dir);
    }
    if (rc != GS_EXIT_OK) {
        free(l->path);
        l->path = NULL;
    }
    return rc;
}

void gs_lock_release(gs_lock *l)
{
    if (!l->path || l->fd < 0)
        return;
    if (l->slot >= 0)
        held[l->slot].owner = 0;
    /* not a lock that replaced ours after someone removed ours by hand */
    struct stat a, b;
    if (fstat(l->fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev)
        unlink(l->path);
    close(l->fd);
    free(l->path);
    l->path = NULL;
    l->fd = -1;
    l->slot = -1;
}
