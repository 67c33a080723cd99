/* The loaded components: plugin search path, dlopen, descriptor checks, lookup. */
#ifndef GS_PLUGIN_REGISTRY_H
#define GS_PLUGIN_REGISTRY_H

#include <stddef.h>
#include "gradscope/gradscope.h"

struct gs_registry {
    gs_component_info *items;
    size_t n, cap;
    char **files; /* loaded paths, owned */
    size_t n_files;
    char names_buf[4096];
};

#endif
