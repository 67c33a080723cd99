/*
 * What the stock blocks share beyond the SDK's <gradscope/layer.h>: the
 * `norm` parameter of resnet, densenet and transition, one definition so
 * that the three accept the same values and document them alike.
 */
#ifndef BLK_LAYER_UTIL_H
#define BLK_LAYER_UTIL_H

#include <gradscope/layer.h>

#define BLK_NORM_PARAM(DOC)                                                                  \
    {                                                                                        \
        .name = "norm", .type = GS_P_STRING, .def.s = "none", .choices = GS_NORM_CHOICES,    \
        .min = GS_ANY, .doc = (DOC)                                                          \
    }

#endif
