/* The multi-index probe of tessera.index.probe, compiled: the same tables, the same
 * probe plan, the same pairs. Why C: at 10M hashes a query's ~3,000 probes and
 * ~3,000 candidates are random reads into ~1.3 GB of tables; NumPy gathers them in
 * a dozen passes over temporary arrays, this does one pass and asks for each read
 * ahead of its use (software prefetch), 4x less CPU a hash (issue 11's batch target).
 * Plain C, no Python headers: loaded with ctypes (tessera.index.kernel), which
 * releases the GIL during the call, so query blocks still run in threads. */
#include <stdint.h>
#include <stdlib.h>

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 0)
#define POPCOUNT(x) __builtin_popcountll(x)
#else
#define PREFETCH(p) ((void)0)
static int POPCOUNT(uint64_t x) { int c = 0; while (x) { x &= x - 1; c++; } return c; }
#endif

#define AHEAD 24 /* probes between a prefetch and its use */

static uint64_t chunk_of(const uint64_t *w, int32_t start, int32_t width) {
    int32_t j = start >> 6, sh = start & 63;
    uint64_t v = w[j] >> sh;
    if (sh + width > 64) v |= w[j + 1] << (64 - sh);
    return v & ((UINT64_C(1) << width) - 1);
}

/* Queries [q0, nq) of `queries` (nq x 4 words). For each, every probe p of the plan
 * looks up range offsets[key], offsets[key + 1] of the flat offsets (key = the query's
 * chunk ptable[p] XOR pmask[p], plus pbase[p]); the rows perm[i] of the range are
 * candidates, kept when their distance to the query is <= radius (first 128 bits,
 * then 256). A pair found through several tables is written once per table.
 *
 * A query with more than `heavy_limit` candidates is not verified: heavy[q] = 1 (the
 * caller scans it). Results go to out_q/out_row/out_d (capacity `cap`); a query is
 * written whole or not at all: if it does not fit, the call stops before it and
 * *next_q says where to resume (nq when done). Returns the count written, or -1 if
 * memory for the candidate buffer could not be had. */
long tessera_mih_probe(const uint64_t *queries, long q0, long nq,
                       const int32_t *ptable, const int64_t *pmask, const int64_t *pbase,
                       long nprobes, const int32_t *cstart, const int32_t *cwidth, int32_t m,
                       const uint32_t *offsets, const uint32_t *perm, const uint64_t *words,
                       int32_t radius, long heavy_limit, uint8_t *heavy, int64_t *out_q,
                       int64_t *out_row, int64_t *out_d, long cap, long *next_q) {
    long nout = 0;
    int64_t *keys = (int64_t *)malloc(sizeof(int64_t) * (size_t)(nprobes > 0 ? nprobes : 1));
    uint32_t *rows = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(heavy_limit + 1));
    int32_t head = radius < 128 ? radius : 128;
    if (keys == NULL || rows == NULL) {
        free(keys);
        free(rows);
        *next_q = q0;
        return -1;
    }
    for (long q = q0; q < nq; q++) {
        const uint64_t *qw = queries + 4 * q;
        uint64_t ch[256];
        long nr = 0, p, i;
        long before = nout;
        int over = 0;
        for (int32_t t = 0; t < m; t++) ch[t] = chunk_of(qw, cstart[t], cwidth[t]);
        for (p = 0; p < nprobes; p++) keys[p] = (int64_t)(ch[ptable[p]] ^ (uint64_t)pmask[p]) + pbase[p];
        for (p = 0; p < 2 * AHEAD && p < nprobes; p++) PREFETCH(offsets + keys[p]);
        for (p = 0; p < AHEAD && p < nprobes; p++) PREFETCH(perm + offsets[keys[p]]);
        for (p = 0; p < nprobes && !over; p++) {
            if (p + 2 * AHEAD < nprobes) PREFETCH(offsets + keys[p + 2 * AHEAD]);
            if (p + AHEAD < nprobes) PREFETCH(perm + offsets[keys[p + AHEAD]]);
            uint32_t s = offsets[keys[p]], e = offsets[keys[p] + 1];
            for (uint32_t k = s; k < e; k++) {
                if (nr >= heavy_limit) { over = 1; break; }
                uint32_t r = perm[k];
                rows[nr++] = r;
                PREFETCH(words + 4 * (uint64_t)r);
            }
        }
        if (over) {
            heavy[q] = 1;
            continue;
        }
        for (i = 0; i < nr; i++) {
            const uint64_t *c = words + 4 * (uint64_t)rows[i];
            int32_t d = POPCOUNT(c[0] ^ qw[0]) + POPCOUNT(c[1] ^ qw[1]);
            if (d > head) continue;
            d += POPCOUNT(c[2] ^ qw[2]) + POPCOUNT(c[3] ^ qw[3]);
            if (d > radius) continue;
            if (nout >= cap) { /* this query does not fit: resume at it */
                free(keys);
                free(rows);
                *next_q = q;
                return before;
            }
            out_q[nout] = q;
            out_row[nout] = rows[i];
            out_d[nout] = d;
            nout++;
        }
    }
    free(keys);
    free(rows);
    *next_q = nq;
    return nout;
}
