/*
 * sync/memset — an item set in memory for the reconciliation session
 * (recon.h): a sorted array of items beside the prefix sums of their hashes,
 * so a range's count is a subtraction of ranks and its sum a subtraction of
 * two prefix sums — O(log n) per range for the bound look-ups, O(1) for the
 * sum.  It exists so the protocol can be tested and benchmarked without a
 * store; the SQLite-backed set keeps per-bucket sums in a tree instead,
 * which also takes inserts in O(log n).  Here inserts mark the arrays stale
 * and the next query sorts and rebuilds them, which suits tests that add a
 * batch of items between sessions.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/recon.h"

struct dc__recon_memset {
    dc__recon_item *items;
    uint8_t (*prefix)[32]; /* prefix[i] = sum of hashes of items[0..i) */
    size_t n, cap, pcap;
    size_t clean; /* items[0..clean) are sorted, unique and summed */
};

int dc__recon_memset_new(dc__recon_memset **out) {
    *out = dc__calloc(1, sizeof **out);
    return *out ? 0 : DC_ENOMEM;
}

void dc__recon_memset_free(dc__recon_memset *m) {
    if (!m)
        return;
    dc__free(m->items);
    dc__free(m->prefix);
    dc__free(m);
}

int dc__recon_memset_add(dc__recon_memset *m, const dc__recon_item *items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (items[i].ts == DC_RECON_TS_INF)
            return DC_EINVAL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof *items - m->n)
        return DC_ENOMEM;
    if (DC__VEC_RESERVE(m->items, m->cap, m->n + n))
        return DC_ENOMEM;
    memcpy(m->items + m->n, items, n * sizeof *items);
    m->n += n;
    return 0;
}

static int cmp_items(const void *a, const void *b) {
    return dc__recon_item_cmp(a, b);
}

/* Sorts, drops duplicates and rebuilds the prefix sums when items were added. */
static int refresh(dc__recon_memset *m) {
    if (m->clean == m->n && m->prefix)
        return 0;
    if (m->n)
        qsort(m->items, m->n, sizeof *m->items, cmp_items);
    size_t w = 0;
    for (size_t r = 0; r < m->n; r++)
        if (w == 0 || dc__recon_item_cmp(&m->items[w - 1], &m->items[r]) != 0)
            m->items[w++] = m->items[r];
    m->n = w;
    if (DC__VEC_RESERVE(m->prefix, m->pcap, m->n + 1))
        return DC_ENOMEM;
    uint8_t(*prefix)[32] = m->prefix;
    memset(prefix[0], 0, 32);
    for (size_t i = 0; i < m->n; i++) {
        uint8_t h[32];
        dc__recon_item_hash(h, m->items[i].id);
        memcpy(prefix[i + 1], prefix[i], 32);
        dc__recon_sum_add(prefix[i + 1], h);
    }
    m->clean = m->n;
    return 0;
}

size_t dc__recon_memset_size(const dc__recon_memset *m) {
    return m->n;
}

static size_t lower_bound_item(const dc__recon_memset *m, const dc__recon_item *it) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dc__recon_item_cmp(&m->items[mid], it) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool dc__recon_memset_has(dc__recon_memset *m, const dc__recon_item *it) {
    if (refresh(m) != 0)
        return false;
    size_t r = lower_bound_item(m, it);
    return r < m->n && dc__recon_item_cmp(&m->items[r], it) == 0;
}

static int ms_size(void *user, size_t *out) {
    dc__recon_memset *m = user;
    int rc = refresh(m);
    *out = m->n;
    return rc;
}

static int ms_lower_bound(void *user, const dc__recon_bound *b, size_t *out) {
    dc__recon_memset *m = user;
    int rc = refresh(m);
    if (rc != 0)
        return rc;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!dc__recon_item_ge_bound(&m->items[mid], b))
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = lo;
    return 0;
}

static int ms_sum(void *user, size_t lo, size_t hi, uint8_t out[32]) {
    dc__recon_memset *m = user;
    int rc = refresh(m);
    if (rc != 0)
        return rc;
    if (lo > hi || hi > m->n)
        return DC_EINVAL;
    memcpy(out, m->prefix[hi], 32);
    dc__recon_sum_sub(out, m->prefix[lo]);
    return 0;
}

static int ms_item(void *user, size_t r, dc__recon_item *out) {
    dc__recon_memset *m = user;
    int rc = refresh(m);
    if (rc != 0)
        return rc;
    if (r >= m->n)
        return DC_EINVAL;
    *out = m->items[r];
    return 0;
}

static int ms_each(void *user, size_t lo, size_t hi, dc__recon_each_fn fn, void *ctx) {
    dc__recon_memset *m = user;
    int rc = refresh(m);
    if (rc != 0)
        return rc;
    if (lo > hi || hi > m->n)
        return DC_EINVAL;
    for (size_t i = lo; i < hi; i++)
        if ((rc = fn(ctx, &m->items[i])) != 0)
            return rc;
    return 0;
}

dc__recon_set dc__recon_memset_view(dc__recon_memset *m) {
    dc__recon_set s = {m, ms_size, ms_lower_bound, ms_sum, ms_item, ms_each};
    return s;
}
