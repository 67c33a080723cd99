/* NumPy .npy files (format version 1.0), little-endian float32 or float64,
   so a researcher can numpy.load() any dumped tensor. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rundir/npy.h"
#include "base/util.h"

int gs_npy_write(const char *path, const gs_tensor *t, gs_error *err)
{
    char shape[160] = "";
    size_t used = 0;
    for (int d = 0; d < t->ndim; d++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%zu,%s", t->dims[d],
                                 d + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) /* "(3,)" for one dimension, "(3, 4)" for more */
        shape[used - 1] = '\0';
    char header[256];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<%s', 'fortran_order': False, 'shape': (%s), }",
                       t->dtype == GS_F32 ? "f4" : "f8", shape);
    /* magic (6) + version (2) + length (2) + header, padded with spaces to
       a multiple of 64 and ended by a newline */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        gs_err_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned hlen = (unsigned)len + (unsigned)pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, sizeof pre, f);
    fwrite(header, 1, (size_t)len, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    size_t es = t->dtype == GS_F32 ? 4 : 8;
    fwrite(t->data, es, gs_tensor_numel(t), f); /* x86-64 and aarch64 are little-endian */
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        gs_err_set(err, "%s: write failed", path);
        return -1;
    }
    return 0;
}
