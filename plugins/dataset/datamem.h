/*
 * The memory check of the data set readers: arrays that would not fit are
 * refused with a message before they are allocated, since host->alloc
 * stops the process when memory runs out.  "This machine's memory" is the
 * physical memory, or less under an address-space limit (ulimit -v), as
 * the core's gs_machine_memory counts it for the model's check.
 */
#ifndef GS_DATAMEM_H
#define GS_DATAMEM_H

#include <sys/resource.h>
#include <unistd.h>
#include "gradscope/plugin.h"

/* 1 when `bytes` fit in 90% of this machine's memory, else 0 after
   host->error naming `what`. */
static inline int data_fits(const gs_host *h, const char *what, double bytes)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (ram == 0 || (double)rl.rlim_cur < ram))
        ram = (double)rl.rlim_cur;
    if (ram > 0 && bytes > 0.9 * ram) {
        h->error("%s: the data set needs %.1f GiB, more than this machine's %.1f GiB", what,
                 bytes / 1073741824.0, ram / 1073741824.0);
        return 0;
    }
    return 1;
}

#endif
