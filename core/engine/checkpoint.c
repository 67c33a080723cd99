/*
 * Checkpoint format, version 6 (little-endian):
 *
 *   "GSCKPT\0\1"  u32 format version  u16 ABI major  u16 ABI minor
 *   sections: u32 tag, u64 length, payload
 *   u32 CRC-32 (zlib) of every byte before it
 *
 * Sections: META (text: config hash, position, the experiment's epochs,
 * steps per epoch and batch size, the number of data-parallel ranks since
 * version 4, sizes, component versions),
 * PNAM (text: parameter names and sizes), PARM (parameters, float32), OPTS
 * (optimizer state), RNGS (shuffle and module streams), PERM (the epoch's
 * example order), MONI (the monitor's running state, with the verdict's
 * classification of each monitored step: 28 bytes a step, 24 before
 * version 3, where version 1 kept every layer's norm), THEO (the mean-field
 * table), LOGS (byte length of each log, bptt.csv's since version 5, theory.csv's
 * since version 6), TIME (seconds since the run's
 * and the epoch's start, since version 3).  The reader checks the checksum
 * and every length before it trusts a byte, refuses a checkpoint of a
 * different experiment or rank count, and range-checks every field against
 * the experiment and the logs (a file edited with a valid checksum is
 * refused too); it never writes anything.  Version 3 did not record the
 * rank count, without which a resume can silently change the result, and
 * version 4 the length of bptt.csv, version 5 that of theory.csv (then written
 * whole at the end): all three are refused by name.
 */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "engine/checkpoint.h"
#include "base/rng.h"
#include "base/util.h"
#include "engine/model.h"
#include "engine/monitor.h"
#include "engine/theory.h"
#include "rundir/format.h"
#include "rundir/rundir.h"

static const unsigned char MAGIC[8] = {'G', 'S', 'C', 'K', 'P', 'T', 0, 1};

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (n == 0) /* memcpy's pointers must be valid even for no bytes */
        return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 1024;
        b->p = gs_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_f64(buf *b, double v) { put(b, &v, 8); }

static void put_rng(buf *b, const gs_rng *r)
{
    for (int i = 0; i < 4; i++)
        put_u64(b, r->s[i]);
    put_u64(b, (uint64_t)r->has_spare);
    put_f64(b, r->spare);
}

/* The file is streamed, with its CRC computed on the way: no image of the
   parameters and optimizer state in memory beside the originals. */
typedef struct writer {
    gs_atomic file;
    uLong crc;
    int failed;
    gs_error *err;
} writer;

static void emit(writer *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t done = 0; done < n && !w->failed;) {
        size_t len = n - done < (1u << 30) ? n - done : (1u << 30);
        w->crc = crc32(w->crc, p + done, (uInt)len);
        if (gs_atomic_write(&w->file, p + done, len, w->err) < 0)
            w->failed = 1;
        done += len;
    }
}

static void put_section(writer *w, const char tag[4], const void *data, size_t n)
{
    uint64_t len = n;
    emit(w, tag, 4);
    emit(w, &len, 8);
    emit(w, data, n);
}

/* A section assembled in memory (all but PARM and OPTS are small). */
static void put_section_buf(writer *w, const char tag[4], buf *b)
{
    put_section(w, tag, b->p, b->len);
    b->len = 0;
}

int gs_checkpoint_save(const char *dir, gs_ckpt *c, gs_error *err)
{
    if (gs_monitor_flush(c->mon, err) < 0)
        return -1;
    gs_model *m = c->model;
    writer w = {.crc = crc32(0L, Z_NULL, 0), .err = err};
    if (gs_atomic_open(&w.file, dir, GS_FILE_CHECKPOINT, err) < 0)
        return -1;
    buf b = {0};
    emit(&w, MAGIC, 8);
    uint32_t version = GS_CKPT_VERSION;
    emit(&w, &version, 4);
    uint16_t abi[2] = {GS_ABI_MAJOR, GS_ABI_MINOR};
    emit(&w, abi, 4);

    char *meta = gs_xasprintf("config_hash=%016llx\nstep=%llu\nepoch=%llu\nbatch=%llu\n"
                              "shuffled=%llu\ntotal_epochs=%llu\nsteps_per_epoch=%llu\n"
                              "batch_size=%llu\nranks=%d\nparameters=%zu\n"
                              "optimizer_floats=%zu\nexamples=%zu\nmodules=%zu\n%s",
                              (unsigned long long)c->config_hash,
                              (unsigned long long)c->pos->step, (unsigned long long)c->pos->epoch,
                              (unsigned long long)c->pos->batch,
                              (unsigned long long)c->pos->shuffled,
                              (unsigned long long)c->total_epochs,
                              (unsigned long long)c->steps_per_epoch,
                              (unsigned long long)c->batch_size, c->ranks, m->total,
                              c->opt_floats, c->n_order, m->n_modules, c->components);
    put_section(&w, "META", meta, strlen(meta));
    free(meta);

    for (size_t i = 0; i < m->n_params; i++) {
        char *line = gs_xasprintf("%s %zu\n", m->params[i]->pub.name, m->params[i]->numel);
        put(&b, line, strlen(line));
        free(line);
    }
    put_section_buf(&w, "PNAM", &b);

    put_section(&w, "PARM", m->values, m->total * sizeof(float));
    put_section(&w, "OPTS", c->opt_state, c->opt_floats * sizeof(float));

    put_rng(&b, c->shuffle);
    for (size_t i = 0; i < m->n_modules; i++)
        put_rng(&b, &m->modules[i]->rng);
    put_section_buf(&w, "RNGS", &b);

    for (size_t i = 0; i < c->n_order; i++)
        put_u64(&b, c->order[i]);
    put_section_buf(&w, "PERM", &b);

    gs_monitor *mon = c->mon;
    put_f64(&b, c->pos->epoch_loss);
    put_f64(&b, c->pos->epoch_correct);
    put_f64(&b, mon->loss_sum);
    put_f64(&b, mon->correct);
    put_u64(&b, mon->examples);
    put_f64(&b, mon->ratio_first_last);
    put(&b, mon->eval, sizeof mon->eval);
    put_u64(&b, mon->n_monitored);
    put_u64(&b, mon->n_layers);
    put_f64(&b, mon->global0);
    put(&b, mon->first_norms, mon->n_layers * sizeof(double));
    put(&b, mon->last_norms, mon->n_layers * sizeof(double));
    for (size_t i = 0; i < mon->n_monitored; i++) {
        const gs_step_class *h = &mon->hist[i];
        uint32_t kl[3] = {(uint32_t)h->kind, (uint32_t)h->layer, (uint32_t)h->basis};
        put_u64(&b, h->step);
        put(&b, kl, sizeof kl);
        put_f64(&b, h->ratio);
    }
    put(&b, mon->first_input_grad, mon->n_layers * sizeof(double));
    put_section_buf(&w, "MONI", &b);

    const gs_theory *t = c->theory;
    put_u64(&b, (uint64_t)t->valid);
    put_u64(&b, t->first);
    put_u64(&b, t->last);
    put(&b, t->activation, sizeof t->activation);
    double vals[7] = {t->sigma_w2, t->sigma_b2, t->q_star, t->chi_predicted, t->chi_measured,
                      t->q_in, t->chi_path};
    put(&b, vals, sizeof vals);
    put_section_buf(&w, "THEO", &b);

    for (int k = 0; k < LOG_COUNT; k++)
        put_u64(&b, mon->log[k].written);
    put_section_buf(&w, "LOGS", &b);

    double now = gs_now();
    put_f64(&b, now - *c->t0);
    put_f64(&b, now - *c->epoch_t0);
    put_section_buf(&w, "TIME", &b);
    free(b.p);

    uint32_t crc = (uint32_t)w.crc;
    if (!w.failed && gs_atomic_write(&w.file, &crc, 4, err) < 0)
        w.failed = 1;
    if (w.failed) {
        gs_atomic_abort(&w.file);
        return -1;
    }
    return gs_atomic_commit(&w.file, err);
}

/* ---- reading ---- */

typedef struct section {
    char tag[5];
    const unsigned char *p;
    size_t len;
} section;

typedef struct image {
    section s[16];
    size_t n;
} image;

static int parse(const unsigned char *data, size_t len, image *img, const char *path,
                 gs_error *err)
{
    memset(img, 0, sizeof *img);
    if (len < 8 + 4 + 4 + 4 || memcmp(data, MAGIC, 8) != 0) {
        gs_err_set(err, "%s: not a gradscope checkpoint", path);
        return -1;
    }
    uint32_t stored, version;
    memcpy(&stored, data + len - 4, 4);
    if ((uint32_t)crc32(0L, data, (uInt)(len - 4)) != stored) {
        gs_err_set(err, "%s: checksum mismatch (the file is damaged or truncated)", path);
        return -1;
    }
    memcpy(&version, data + 8, 4);
    if (version == 3) {
        gs_err_set(err, "%s: checkpoint format 3, from an older gradscope, does not record how "
                        "many MPI ranks wrote it; finish the run with the gradscope that started "
                        "it, or start it over with gradscope run --force",
                   path);
        return -1;
    }
    if (version == 4) {
        gs_err_set(err, "%s: checkpoint format 4, from an older gradscope, has no length of "
                        "bptt.csv (its recurrent layers' norms went to series.csv); finish the "
                        "run with the gradscope that started it, or start it over with "
                        "gradscope run --force",
                   path);
        return -1;
    }
    if (version == 5) {
        gs_err_set(err, "%s: checkpoint format 5, from an older gradscope, has no length of "
                        "theory.csv (which it wrote whole when the run ended); finish the run "
                        "with the gradscope that started it, or start it over with gradscope "
                        "run --force",
                   path);
        return -1;
    }
    if (version != GS_CKPT_VERSION) {
        gs_err_set(err, "%s: checkpoint format %u, this gradscope reads %d", path, version,
                   GS_CKPT_VERSION);
        return -1;
    }
    uint16_t abi[2];
    memcpy(abi, data + 12, 4);
    if (abi[0] != GS_ABI_MAJOR) {
        gs_err_set(err, "%s: written with plugin ABI %u, this gradscope has %d", path, abi[0],
                   GS_ABI_MAJOR);
        return -1;
    }
    size_t off = 16, end = len - 4;
    while (off < end) {
        if (end - off < 12 || img->n == 16) {
            gs_err_set(err, "%s: malformed section table", path);
            return -1;
        }
        section *sec = &img->s[img->n++];
        memcpy(sec->tag, data + off, 4);
        uint64_t n;
        memcpy(&n, data + off + 4, 8);
        off += 12;
        if (n > end - off) {
            gs_err_set(err, "%s: section %.4s overruns the file", path, sec->tag);
            return -1;
        }
        sec->p = data + off;
        sec->len = (size_t)n;
        off += (size_t)n;
    }
    static const char *const need[] = {"META", "PNAM", "PARM", "OPTS", "RNGS",
                                       "PERM", "MONI", "THEO", "LOGS", "TIME"};
    for (size_t k = 0; k < GS_ARRAY_LEN(need); k++) {
        int found = 0;
        for (size_t i = 0; i < img->n; i++)
            found |= !memcmp(img->s[i].tag, need[k], 4);
        if (!found) {
            gs_err_set(err, "%s: section %s is missing", path, need[k]);
            return -1;
        }
    }
    return 0;
}

static int by_value(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The saved order must hold the examples of the current one (the split is
   seeded), else training would index outside the training set. */
static int same_examples(const size_t *order, const unsigned char *saved, size_t n)
{
    size_t *a = gs_xmalloc((2 * n + 1) * sizeof *a), *b = a + n;
    memcpy(a, order, n * sizeof *a);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, saved + 8 * i, 8);
        b[i] = (size_t)v;
    }
    qsort(a, n, sizeof *a, by_value);
    qsort(b, n, sizeof *b, by_value);
    int same = memcmp(a, b, n * sizeof *a) == 0;
    free(a);
    return same;
}

static const section *find(const image *img, const char *tag)
{
    for (size_t i = 0; i < img->n; i++)
        if (!memcmp(img->s[i].tag, tag, 4))
            return &img->s[i];
    return NULL;
}

static int meta_u64(const section *meta, const char *key, uint64_t *out);

int gs_checkpoint_peek(const char *dir, gs_ckpt_info *info, gs_error *err)
{
    memset(info, 0, sizeof *info);
    char *path = gs_xasprintf("%s/%s", dir, GS_FILE_CHECKPOINT);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        if (!missing)
            gs_err_set(err, "%s: %s", path, strerror(errno));
        free(path);
        return missing ? 1 : -1;
    }
    /* only the header and the two small sections: the parameters may be
       large, and the full load checks everything else */
    unsigned char head[16];
    uint32_t version = 0;
    int rc = -1, have_meta = 0, have_logs = 0;
    if (fread(head, 1, 16, f) == 16 && !memcmp(head, MAGIC, 8)) {
        memcpy(&version, head + 8, 4);
        unsigned char hdr[12];
        while ((!have_meta || !have_logs) && fread(hdr, 1, 12, f) == 12) {
            uint64_t n;
            memcpy(&n, hdr + 4, 8);
            if (!memcmp(hdr, "META", 4) && n < (1u << 20)) {
                unsigned char *p = gs_xmalloc(n + 1);
                section meta = {.tag = "META", .p = p, .len = (size_t)n};
                if (fread(p, 1, (size_t)n, f) == n && !meta_u64(&meta, "step", &info->step) &&
                    !meta_u64(&meta, "epoch", &info->epoch) &&
                    !meta_u64(&meta, "batch", &info->batch))
                    have_meta = 1;
                if (meta_u64(&meta, "total_epochs", &info->total_epochs))
                    info->total_epochs = 0;
                free(p);
                if (!have_meta)
                    break;
            } else if (!memcmp(hdr, "LOGS", 4) &&
                       n == 8 * (version < 5   ? GS_LOG_COUNT - 2
                                 : version < 6 ? GS_LOG_COUNT - 1
                                               : GS_LOG_COUNT)) {
                /* versions 3 and 4 had neither bptt.csv nor theory.csv, the
                   last logs; version 5 had no theory.csv */
                size_t k = (size_t)n / 8;
                have_logs = fread(info->log_bytes, 8, k, f) == k;
                if (!have_logs)
                    break;
            } else if (n > (uint64_t)INT64_MAX || fseeko(f, (off_t)n, SEEK_CUR) != 0) {
                break;
            }
        }
    }
    fclose(f);
    if (have_meta && have_logs && version >= 3 && version <= GS_CKPT_VERSION) {
        if (version == 3)
            info->total_epochs = 0;
        rc = 0;
    } else {
        gs_err_set(err, "%s: not a readable gradscope checkpoint", path);
    }
    free(path);
    return rc;
}

int gs_checkpoint_parse(const unsigned char *data, size_t len, gs_error *err)
{
    image img;
    return parse(data, len, &img, "<checkpoint>", err);
}

/* Value of "key=" in META as an unsigned number; -1 if absent. */
static int meta_u64(const section *meta, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = (const char *)meta->p, *end = p + meta->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > klen && !memcmp(p, key, klen) && p[klen] == '=') {
            char num[32];
            size_t m = n - klen - 1 < sizeof num - 1 ? n - klen - 1 : sizeof num - 1;
            memcpy(num, p + klen + 1, m);
            num[m] = '\0';
            char *e;
            *out = strtoull(num, &e, !strcmp(key, "config_hash") ? 16 : 10);
            return *e ? -1 : 0;
        }
        p += n + 1;
    }
    return -1;
}

typedef struct reader {
    const section *s;
    size_t off;
    int bad;
} reader;

static void get(reader *r, void *out, size_t n)
{
    if (r->bad || n > r->s->len - r->off) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->s->p + r->off, n);
    r->off += n;
}

static uint64_t get_u64(reader *r)
{
    uint64_t v;
    get(r, &v, 8);
    return v;
}

static double get_f64(reader *r)
{
    double v;
    get(r, &v, 8);
    return v;
}

static void get_rng(reader *r, gs_rng *g)
{
    for (int i = 0; i < 4; i++)
        g->s[i] = get_u64(r);
    g->has_spare = (int)get_u64(r);
    g->spare = get_f64(r);
}

/* The position must be one the run loop can have saved: inside an epoch
   at a whole batch (the order drawn), or at an epoch's start, the run's end
   at most; and the step count must be the one that position implies. */
static int check_position(const gs_position *p, const gs_ckpt *c, const char *path,
                          gs_error *err)
{
    uint64_t bsz = c->batch_size ? c->batch_size : 1;
    if (p->epoch > c->total_epochs || (p->epoch == c->total_epochs && p->batch)) {
        gs_err_set(err, "%s: epoch %llu (batch offset %llu) is past the run's %llu epochs",
                   path, (unsigned long long)p->epoch, (unsigned long long)p->batch,
                   (unsigned long long)c->total_epochs);
        return -1;
    }
    if (p->shuffled > 1 || (p->batch && (!p->shuffled || p->batch >= c->n_order)) ||
        p->batch % bsz) {
        gs_err_set(err, "%s: batch offset %llu is not a step's start in an epoch of %zu "
                        "examples",
                   path, (unsigned long long)p->batch, c->n_order);
        return -1;
    }
    uint64_t want = p->epoch * c->steps_per_epoch + p->batch / bsz;
    if (p->step != want) {
        gs_err_set(err, "%s: step %llu does not match epoch %llu and batch offset %llu (step "
                        "%llu at %llu steps per epoch)",
                   path, (unsigned long long)p->step, (unsigned long long)p->epoch,
                   (unsigned long long)p->batch, (unsigned long long)want,
                   (unsigned long long)c->steps_per_epoch);
        return -1;
    }
    return 0;
}

/* Every log the resumed run appends to must hold at least the bytes the
   checkpoint counted; checked before the monitor opens (and would create)
   any of them. */
static int check_logs(const char *dir, const gs_ckpt *c, const uint64_t *off, const char *path,
                      gs_error *err)
{
    for (int k = 0; k < GS_LOG_COUNT; k++) {
        int lazy = k == GS_LOG_SERIES || k == GS_LOG_BPTT;
        int opened = k == GS_LOG_DUMP_INDEX ? c->mon->dump : !lazy || off[k] > 0;
        if (!opened) {
            if (off[k]) {
                gs_err_set(err, "%s: %llu bytes of %s, which this run does not write", path,
                           (unsigned long long)off[k], gs_logs[k].file);
                return -1;
            }
            continue;
        }
        char *log = gs_xasprintf("%s/%s", dir, gs_logs[k].file);
        struct stat st;
        int rc = 0;
        if (stat(log, &st) != 0) {
            gs_err_set(err, "%s: %s; the checkpoint at step %llu needs its first %llu bytes: "
                            "restore it, or start the run over with gradscope run --force",
                       log, strerror(errno), (unsigned long long)c->pos->step,
                       (unsigned long long)off[k]);
            rc = -1;
        } else if (off[k] == 0 || (uint64_t)st.st_size < off[k]) {
            gs_err_set(err, "%s: %llu bytes, the checkpoint at step %llu counts %llu (%s)", log,
                       (unsigned long long)st.st_size, (unsigned long long)c->pos->step,
                       (unsigned long long)off[k],
                       off[k] ? "the log was cut short" : "a log holds its header at least");
            rc = -1;
        }
        free(log);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int gs_checkpoint_load(const char *dir, gs_ckpt *c, uint64_t *log_offsets, gs_error *err)
{
    char *path = gs_xasprintf("%s/%s", dir, GS_FILE_CHECKPOINT);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        if (!missing)
            gs_err_set(err, "%s: %s", path, strerror(errno));
        free(path);
        return missing ? 1 : -1;
    }
    buf b = {0};
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, n);
    fclose(f);
    image img;
    int rc = -1;
    gs_model *m = c->model;
    if (parse(b.p, b.len, &img, path, err) < 0)
        goto out;
    const section *meta = find(&img, "META");
    uint64_t hash, params, optf, examples, modules, epochs, spe, bsz, ranks;
    if (meta_u64(meta, "config_hash", &hash) || meta_u64(meta, "parameters", &params) ||
        meta_u64(meta, "optimizer_floats", &optf) || meta_u64(meta, "examples", &examples) ||
        meta_u64(meta, "modules", &modules) || meta_u64(meta, "step", &c->pos->step) ||
        meta_u64(meta, "epoch", &c->pos->epoch) || meta_u64(meta, "batch", &c->pos->batch) ||
        meta_u64(meta, "shuffled", &c->pos->shuffled) ||
        meta_u64(meta, "total_epochs", &epochs) || meta_u64(meta, "steps_per_epoch", &spe) ||
        meta_u64(meta, "batch_size", &bsz) || meta_u64(meta, "ranks", &ranks)) {
        gs_err_set(err, "%s: incomplete META section", path);
        goto out;
    }
    if (hash != c->config_hash) {
        gs_err_set(err, "%s: written for a different experiment (config.cfg has changed)", path);
        goto out;
    }
    if (ranks != (uint64_t)c->ranks) {
        gs_err_set(err, "%s: written by %llu data-parallel process%s, this run has %d: the "
                        "result depends on the count; resume with %llu (mpirun -np %llu)",
                   path, (unsigned long long)ranks, ranks == 1 ? "" : "es", c->ranks,
                   (unsigned long long)ranks, (unsigned long long)ranks);
        goto out;
    }
    if (epochs != c->total_epochs || spe != c->steps_per_epoch || bsz != c->batch_size) {
        gs_err_set(err, "%s: written for a different experiment (%llu epochs of %llu steps of "
                        "%llu examples, not %llu of %llu of %llu)",
                   path, (unsigned long long)epochs, (unsigned long long)spe,
                   (unsigned long long)bsz, (unsigned long long)c->total_epochs,
                   (unsigned long long)c->steps_per_epoch, (unsigned long long)c->batch_size);
        goto out;
    }
    if (check_position(c->pos, c, path, err) < 0)
        goto out;
    if (params != m->total || optf != c->opt_floats || examples != c->n_order ||
        modules != m->n_modules) {
        gs_err_set(err, "%s: the model, optimizer or data differ from the checkpoint's", path);
        goto out;
    }
    /* The plugins must be the same versions: the numbers depend on them. */
    const char *comp = NULL; /* the section is not NUL-terminated: no strstr */
    for (size_t i = 0; !comp && i + 11 <= meta->len; i++)
        if (!memcmp(meta->p + i, "\ncomponent ", 11))
            comp = (const char *)meta->p + i;
    size_t clen = strlen(c->components);
    size_t have = comp ? meta->len - (size_t)((const unsigned char *)comp + 1 - meta->p) : 0;
    if (have != clen || (clen && memcmp(comp + 1, c->components, clen) != 0)) {
        gs_err_set(err, "%s: written with other plugins or plugin versions than those installed",
                   path);
        goto out;
    }
    const section *pnam = find(&img, "PNAM");
    size_t used = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        char *line = gs_xasprintf("%s %zu\n", m->params[i]->pub.name, m->params[i]->numel);
        size_t ln = strlen(line);
        int same = used + ln <= pnam->len && !memcmp(pnam->p + used, line, ln);
        free(line);
        if (!same) {
            gs_err_set(err, "%s: parameter %s differs from the checkpoint's", path,
                       m->params[i]->pub.name);
            goto out;
        }
        used += ln;
    }
    const section *parm = find(&img, "PARM"), *opts = find(&img, "OPTS"),
                  *perm = find(&img, "PERM");
    if (parm->len != m->total * sizeof(float) || opts->len != c->opt_floats * sizeof(float) ||
        perm->len != c->n_order * 8 || c->pos->batch > c->n_order) {
        gs_err_set(err, "%s: section sizes do not match the model", path);
        goto out;
    }
    if (!same_examples(c->order, perm->p, c->n_order)) {
        gs_err_set(err, "%s: corrupt example order", path);
        goto out;
    }
    /* Everything checked: from here on the state is replaced. */
    memcpy(m->values, parm->p, parm->len);
    memcpy(c->opt_state, opts->p, opts->len);
    for (size_t i = 0; i < c->n_order; i++) {
        uint64_t v;
        memcpy(&v, perm->p + 8 * i, 8);
        c->order[i] = (size_t)v;
    }
    reader r = {.s = find(&img, "RNGS")};
    get_rng(&r, c->shuffle);
    int spare_ok = c->shuffle->has_spare == 0 || c->shuffle->has_spare == 1;
    for (size_t i = 0; i < m->n_modules; i++) {
        get_rng(&r, &m->modules[i]->rng);
        spare_ok &= m->modules[i]->rng.has_spare == 0 || m->modules[i]->rng.has_spare == 1;
    }
    if (!spare_ok) {
        gs_err_set(err, "%s: corrupt random-number state", path);
        goto out;
    }
    gs_monitor *mon = c->mon;
    reader mr = {.s = find(&img, "MONI")};
    c->pos->epoch_loss = get_f64(&mr);
    c->pos->epoch_correct = get_f64(&mr);
    mon->loss_sum = get_f64(&mr);
    mon->correct = get_f64(&mr);
    mon->examples = (size_t)get_u64(&mr);
    mon->ratio_first_last = get_f64(&mr);
    get(&mr, mon->eval, sizeof mon->eval);
    uint64_t nmon = get_u64(&mr), nl = get_u64(&mr);
    /* a monitored step is a step taken: at most one a step */
    if (mr.bad || nl != mon->n_layers || nmon > mr.s->len / 28 || nmon > c->pos->step ||
        !(isfinite(c->pos->epoch_loss) && c->pos->epoch_correct >= 0 &&
          c->pos->epoch_correct <= (double)c->pos->batch) ||
        !(mon->correct >= 0 && mon->correct <= (double)mon->examples) ||
        mon->examples > c->pos->batch + c->n_order * (c->pos->epoch + 1)) {
        gs_err_set(err, "%s: corrupt monitor state", path);
        goto out;
    }
    mon->global0 = get_f64(&mr);
    get(&mr, mon->first_norms, nl * sizeof(double));
    get(&mr, mon->last_norms, nl * sizeof(double));
    mon->n_monitored = mon->cap_monitored = (size_t)nmon;
    mon->hist = gs_xrealloc(mon->hist, (nmon + 1) * sizeof *mon->hist);
    for (size_t i = 0; i < nmon; i++) {
        gs_step_class *h = &mon->hist[i];
        uint32_t kl[3];
        h->step = get_u64(&mr);
        get(&mr, kl, sizeof kl);
        h->ratio = get_f64(&mr);
        h->kind = (int32_t)kl[0];
        h->layer = (int32_t)kl[1];
        h->basis = (int32_t)kl[2];
        if (h->kind < 0 || h->kind > 2 || h->layer < -1 || h->layer >= (int32_t)nl ||
            h->basis < 0 || h->basis >= GS_BASIS_COUNT || h->step >= c->pos->step ||
            (i > 0 && h->step <= mon->hist[i - 1].step)) {
            gs_err_set(err, "%s: corrupt monitor state", path);
            goto out;
        }
    }
    get(&mr, mon->first_input_grad, nl * sizeof(double));
    reader tr = {.s = find(&img, "THEO")};
    gs_theory *t = c->theory;
    uint64_t valid = get_u64(&tr);
    t->valid = valid == 1;
    t->first = (size_t)get_u64(&tr);
    t->last = (size_t)get_u64(&tr);
    get(&tr, t->activation, sizeof t->activation);
    t->activation[sizeof t->activation - 1] = '\0';
    double vals[7];
    get(&tr, vals, sizeof vals);
    t->sigma_w2 = vals[0], t->sigma_b2 = vals[1], t->q_star = vals[2];
    t->chi_predicted = vals[3], t->chi_measured = vals[4], t->q_in = vals[5], t->chi_path = vals[6];
    if (valid > 1 || (t->valid && (t->first > t->last || t->last >= m->n_layers))) {
        gs_err_set(err, "%s: corrupt mean-field table", path);
        goto out;
    }
    reader lr = {.s = find(&img, "LOGS")};
    for (int k = 0; k < LOG_COUNT; k++)
        log_offsets[k] = get_u64(&lr);
    reader cr = {.s = find(&img, "TIME")};
    double now = gs_now(), run_s = get_f64(&cr), epoch_s = get_f64(&cr);
    *c->t0 = now - run_s;
    *c->epoch_t0 = now - epoch_s;
    if (r.bad || mr.bad || tr.bad || lr.bad || cr.bad) {
        gs_err_set(err, "%s: truncated section", path);
        goto out;
    }
    if (!(run_s >= 0 && epoch_s >= 0 && isfinite(run_s) && isfinite(epoch_s))) {
        gs_err_set(err, "%s: corrupt times", path);
        goto out;
    }
    if (check_logs(dir, c, log_offsets, path, err) < 0)
        goto out;
    rc = 0;
out:
    free(b.p);
    free(path);
    return rc;
}
