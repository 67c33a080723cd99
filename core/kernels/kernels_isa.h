/*
 * The element-wise kernels and reduction chunks of kernels.c, once per
 * kernel set: kernels.c includes this file three times (no include guard),
 * under "#pragma GCC target" for AVX2+FMA and AVX-512 and once plainly,
 * with ISA(name) naming the copy and VW the doubles in one vector (4, or 8
 * with AVX-512), and calls the copy of the set gs_isa_name() reports.
 *
 * The copies differ in vector width only, never in what an element
 * computes: every reduction keeps the lane of element i at i % LANES and
 * combines the lanes by the same tree; element-wise operations are
 * independent per element; and -ffp-contract=off keeps the compiler from
 * fusing a multiply into an add in one copy and not in another.  So every
 * set gives the same bits (tests/test_kernels.c checks it).
 */

#define NV (LANES / VW) /* vectors of accumulators per chunk */

typedef double ISA(vd) __attribute__((vector_size(VW * sizeof(double))));
typedef float ISA(vf) __attribute__((vector_size(VW * sizeof(float))));

/* VW elements at p as doubles (a macro: a function returning a vector
   would have an ABI that depends on the target). */
#define ISA_LOAD_F32(p)                                                                      \
    (__extension__({                                                                         \
        ISA(vf) x_;                                                                          \
        memcpy(&x_, (p), sizeof x_);                                                         \
        __builtin_convertvector(x_, ISA(vd));                                                \
    }))
#define ISA_LOAD_F64(p)                                                                      \
    (__extension__({                                                                         \
        ISA(vd) x_;                                                                          \
        memcpy(&x_, (p), sizeof x_);                                                         \
        x_;                                                                                  \
    }))

static void ISA(add_row_range)(void *arg, size_t r0, size_t r1)
{
    const rows_job *j = arg;
    const float *restrict bias = j->a;
    for (size_t i = r0; i < r1; i++) {
        float *restrict yi = j->b + i * j->cols;
#pragma omp simd
        for (size_t c = 0; c < j->cols; c++)
            yi[c] += bias[c];
    }
}

/* Each s[j] adds rows in order 0, 1, ...; vectors (and threads) run
   across j. */
static void ISA(sum_rows_range)(void *arg, size_t c0, size_t c1)
{
    const rows_job *j = arg;
    float *restrict s = j->b;
    for (size_t i = 0; i < j->rows; i++) {
        const float *restrict yi = j->a + i * j->cols;
#pragma omp simd
        for (size_t c = c0; c < c1; c++)
            s[c] += yi[c];
    }
}

static void ISA(axpy_range)(void *arg, size_t b, size_t e)
{
    const axpy_job *j = arg;
    const float *restrict x = j->x;
    float *restrict y = j->y;
    const float a = j->a;
#pragma omp simd
    for (size_t i = b; i < e; i++)
        y[i] += a * x[i];
}

/* Sum of x, of x^2 or of (x - y)^2 over one chunk: element i in lane
   i % LANES, the lanes then combined by combine_lanes. */
#define ISA_DEFINE_SUM_CHUNK(NAME, T, LOAD, TERM, TAIL)                                      \
    static double ISA(NAME)(const T *restrict v, const T *restrict w, size_t n)              \
    {                                                                                        \
        ISA(vd) a[NV];                                                                       \
        memset(a, 0, sizeof a);                                                              \
        size_t i = 0;                                                                        \
        for (; i + LANES <= n; i += LANES) {                                                 \
            _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++)                             \
            {                                                                                \
                ISA(vd) x = LOAD(v + i + (size_t)q * VW);                                    \
                (void)w;                                                                     \
                a[q] += TERM;                                                                \
            }                                                                                \
        }                                                                                    \
        double acc[LANES];                                                                   \
        memcpy(acc, a, sizeof acc);                                                          \
        for (int l = 0; i < n; i++, l++) {                                                   \
            double x = (double)v[i];                                                         \
            acc[l] += TAIL;                                                                  \
        }                                                                                    \
        return combine_lanes(acc, 0);                                                        \
    }

ISA_DEFINE_SUM_CHUNK(sumsq_f32, float, ISA_LOAD_F32, x * x, x * x)
ISA_DEFINE_SUM_CHUNK(sumsq_f64, double, ISA_LOAD_F64, x * x, x * x)
ISA_DEFINE_SUM_CHUNK(sum_f32, float, ISA_LOAD_F32, x, x)
ISA_DEFINE_SUM_CHUNK(sum_f64, double, ISA_LOAD_F64, x, x)
#define ISA_SQDIST_TERM ((x - ISA_LOAD_F32(w + i + (size_t)q * VW)) * (x - ISA_LOAD_F32(w + i + (size_t)q * VW)))
#define ISA_SQDIST_TAIL ((x - (double)w[i]) * (x - (double)w[i]))
ISA_DEFINE_SUM_CHUNK(sqdist_chunk, float, ISA_LOAD_F32, ISA_SQDIST_TERM, ISA_SQDIST_TAIL)
#undef ISA_SQDIST_TERM
#undef ISA_SQDIST_TAIL
#undef ISA_DEFINE_SUM_CHUNK

/* Loops across units, so that they vectorize: alive[u] collects f' != 0
   over the examples.  Counts are integers: no order to keep. */
static size_t ISA(act_mark_f32)(const float *restrict d, size_t batch, size_t units, float thr,
                                int32_t *restrict alive)
{
    for (size_t b = 0; b < batch; b++) {
        const float *restrict db = d + b * units;
#pragma omp simd
        for (size_t u = 0; u < units; u++)
            alive[u] |= db[u] != 0.0f;
    }
    size_t n = batch * units, sat = 0;
    if (thr > 0) {
#pragma omp simd reduction(+ : sat)
        for (size_t i = 0; i < n; i++)
            sat += fabsf(d[i]) < thr;
    }
    return sat;
}

/* Sum of g^2 (sumsq_f32 itself, so that the bits match gs_sumsq's) and the
   largest |g| over one chunk.  A NaN makes the sum NaN (squares cannot
   cancel an infinity), which is how the maximum learns of it. */
static double ISA(sumsq_max_f32)(const float *restrict g, size_t n, double *gmax)
{
    double sum = ISA(sumsq_f32)(g, NULL, n);
    /* The chunk is in L1 now: a max-only pass, on the bits (for floats
       >= 0 the order of their bits as integers is theirs). */
    int32_t top = 0;
#pragma omp simd reduction(max : top)
    for (size_t k = 0; k < n; k++) {
        int32_t u;
        memcpy(&u, g + k, sizeof u);
        u &= 0x7fffffff;
        top = u > top ? u : top;
    }
    float mx;
    memcpy(&mx, &top, sizeof mx);
    *gmax = sum != sum ? NAN : (double)mx;
    return sum;
}

/* Bins are computed a block at a time from the tables, in integers (a loop
   the compiler vectorizes with gathers; float comparisons with a NaN would
   keep it from doing so), then counted into four sub-histograms so that
   consecutive increments of one bin do not wait on each other. */
static void ISA(histogram_chunk)(const float *restrict g, size_t n,
                                 const hist_tables *restrict t, int last,
                                 uint32_t *restrict hist)
{
    uint32_t sub[4][GS_STATS_MAX_BINS];
    memset(sub, 0, sizeof sub);
    for (size_t b = 0; b < n; b += STATS_BLOCK) {
        size_t len = n - b < STATS_BLOCK ? n - b : STATS_BLOCK;
        int32_t bins[STATS_BLOCK];
        const float *gb = g + b;
        for (size_t i = 0; i < len; i++) {
            int32_t u;
            memcpy(&u, gb + i, sizeof u);
            u &= 0x7fffffff;
            const int32_t e = u >> 23;
            const int32_t bin = t->bin[e] + (u >= t->edge[e]);
            bins[i] = u == 0 ? 0 : bin;
        }
        size_t i = 0;
        for (; i + 4 <= len; i += 4) {
            sub[0][bins[i]]++;
            sub[1][bins[i + 1]]++;
            sub[2][bins[i + 2]]++;
            sub[3][bins[i + 3]]++;
        }
        for (; i < len; i++)
            sub[0][bins[i]]++;
    }
    for (int k = 0; k <= last; k++)
        hist[k] += sub[0][k] + sub[1][k] + sub[2][k] + sub[3][k];
}

/* x * 0 is 0 for finite x and NaN for inf and NaN; the sum of those is
   NaN exactly when one is, in any order. */
static int ISA(all_finite_f32)(size_t n, const float *v)
{
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (size_t i = 0; i < n; i++)
        acc += v[i] * 0.0f;
    return acc == 0.0f;
}

static const kernel_set ISA(set) = {
    ISA_NAME,          ISA(add_row_range), ISA(sum_rows_range), ISA(axpy_range),
    ISA(sumsq_f32),    ISA(sumsq_f64),     ISA(sum_f32),        ISA(sum_f64),
    ISA(sqdist_chunk), ISA(act_mark_f32),  ISA(sumsq_max_f32),  ISA(histogram_chunk),
    ISA(all_finite_f32),
};

#undef NV
#undef ISA_LOAD_F32
#undef ISA_LOAD_F64
