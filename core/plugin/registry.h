/* The loaded components: plugin search path, dlopen, descriptor checks, lookup. */
#ifndef GS_PLUGIN_REGISTRY_H
#define GS_PLUGIN_REGISTRY_H

#include <stddef.h>
#include "gradscope/gradscope.h"

struct gs_registry {
    gs_component_info *items; /* the components in use */
    size_t n, cap;
    gs_component_info *shadowed; /* copies found after the one in use */
    size_t n_shadowed, cap_shadowed;
    char **files; /* real paths of every .so opened, owned */
    size_t n_files;
    /* files[dir_start..] came from the place on the search path being
       loaded: a second copy of a component among them is an error, not a
       shadow. */
    size_t dir_start;
    char **skipped; /* the .so files without the entry symbol (into files) */
    size_t n_skipped;
    char *search_path; /* the directories searched, ':'-separated, owned */
    char names_buf[4096];
};

#endif
