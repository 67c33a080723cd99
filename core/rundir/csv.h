/*
 * Append-only CSV logs that stay readable whatever happens to the process:
 * rows are formatted into a memory buffer and reach the file only whole,
 * one write(2) per flush, so a run killed at any moment leaves complete
 * rows.  The byte offset of what was written lets a resumed run cut a log
 * back to its last checkpoint.
 */
#ifndef GS_CSV_H
#define GS_CSV_H

#include <stdint.h>
#include <stdio.h>
#include "gradscope/gradscope.h"


typedef struct gs_csv {
    int fd;
    char *path;
    char *buf;
    size_t len, cap;
    uint64_t written; /* bytes in the file */
    int failed;
    char error[256];
} gs_csv;

/* Creates (truncate = 1) or reopens for appending after `keep` bytes. */
int gs_csv_open(gs_csv *c, const char *dir, const char *name, int truncate, uint64_t keep,
                gs_error *err);
void gs_csv_row(gs_csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One row of n cells (at most 16), joined by commas: rows without printf,
   for the monitor's many per step. */
void gs_csv_cells(gs_csv *c, const char *const *cells, size_t n);
/* Writes buffered rows; -1 (with the reason in *err) if the disk refused them. */
int gs_csv_flush(gs_csv *c, gs_error *err);
int gs_csv_close(gs_csv *c, gs_error *err);

#endif
