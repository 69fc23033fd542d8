/*
 * sync/bucketset — an item set for reconciliation (recon.h) answered from
 * per-bucket sums a store keeps beside its log, so that a session never
 * loads a space's whole item set (docs/protocol.md, "Store-backed
 * fingerprints").  The store cuts a space's items, in (ts, id) order, into
 * buckets of a few hundred items and keeps, per bucket, its lower bound,
 * its count and the sum of its items' hashes; an insert updates one row.
 *
 * This view reads the bucket rows once per refresh (a few hundred bytes
 * per thousand items: 1,000,000 items are some 2,700 rows) and turns them
 * into prefix counts and prefix sums, so any range aligned on bucket
 * bounds costs two binary searches and a subtraction.  A bound inside a
 * bucket costs reading that bucket's items (at most a bucket's worth,
 * hashed once) — kept in a small cache until the next refresh.  Nothing
 * here knows SQL: the store answers two questions through `src`.
 *
 * Consistency: the bucket rows and the items must come from one snapshot
 * between two refreshes (the caller holds a read transaction across a
 * session step and refreshes at its start); a bucket whose items do not
 * add up to its count is reported as DC_ECORRUPT.
 */
#include <string.h>

#include "sync/recon.h"

#define CACHE 8 /* buckets whose items are held at once */

typedef struct cached {
    size_t bucket; /* SIZE_MAX: empty slot */
    dc__recon_item *items;
    uint8_t (*prefix)[32]; /* prefix[i] = sum of the hashes of items[0..i) */
    size_t n;
} cached;

struct dc__bucketset {
    dc__bucketset_src src;
    bool loaded;
    dc__recon_bucket *b;
    size_t nb;
    size_t *count;      /* count[i] = items in buckets [0, i) (nb + 1 entries) */
    uint8_t (*sum)[32]; /* sum[i] = sum of the sums of buckets [0, i) */
    cached c[CACHE];
    unsigned next;  /* the slot to evict next */
    uint64_t loads; /* bucket item reads, for tests and benches */
};

int dc__bucketset_new(dc__bucketset **out, const dc__bucketset_src *src) {
    dc__bucketset *s = dc__calloc(1, sizeof *s);
    if (!(*out = s))
        return DC_ENOMEM;
    s->src = *src;
    for (int i = 0; i < CACHE; i++)
        s->c[i].bucket = SIZE_MAX;
    return 0;
}

static void drop_cache(dc__bucketset *s) {
    for (int i = 0; i < CACHE; i++) {
        dc__free(s->c[i].items);
        dc__free(s->c[i].prefix);
        memset(&s->c[i], 0, sizeof s->c[i]);
        s->c[i].bucket = SIZE_MAX;
    }
}

void dc__bucketset_refresh(dc__bucketset *s) {
    drop_cache(s);
    dc__free(s->b);
    dc__free(s->count);
    dc__free(s->sum);
    s->b = NULL;
    s->count = NULL;
    s->sum = NULL;
    s->nb = 0;
    s->loaded = false;
}

void dc__bucketset_free(dc__bucketset *s) {
    if (!s)
        return;
    dc__bucketset_refresh(s);
    dc__free(s);
}

uint64_t dc__bucketset_loads(const dc__bucketset *s) {
    return s->loads;
}

static int load(dc__bucketset *s) {
    if (s->loaded)
        return 0;
    int rc = s->src.buckets(s->src.user, &s->b, &s->nb);
    if (rc)
        return rc;
    s->count = dc__malloc((s->nb + 1) * sizeof *s->count);
    s->sum = dc__malloc((s->nb + 1) * sizeof *s->sum);
    if (!s->count || !s->sum) {
        dc__bucketset_refresh(s);
        return DC_ENOMEM;
    }
    s->count[0] = 0;
    memset(s->sum[0], 0, 32);
    for (size_t i = 0; i < s->nb; i++) {
        s->count[i + 1] = s->count[i] + (size_t)s->b[i].n;
        memcpy(s->sum[i + 1], s->sum[i], 32);
        dc__recon_sum_add(s->sum[i + 1], s->b[i].sum);
    }
    s->loaded = true;
    return 0;
}

/* The items of bucket i, hashed, from the cache or the store. */
static int bucket_items(dc__bucketset *s, size_t i, cached **out) {
    for (int k = 0; k < CACHE; k++)
        if (s->c[k].bucket == i) {
            *out = &s->c[k];
            return 0;
        }
    cached *c = &s->c[s->next];
    s->next = (s->next + 1) % CACHE;
    dc__free(c->items);
    dc__free(c->prefix);
    memset(c, 0, sizeof *c);
    c->bucket = SIZE_MAX;
    dc__recon_item lo, hi;
    lo.ts = s->b[i].ts;
    memcpy(lo.id, s->b[i].id, 32);
    if (i + 1 < s->nb) {
        hi.ts = s->b[i + 1].ts;
        memcpy(hi.id, s->b[i + 1].id, 32);
    }
    dc__recon_item *items = NULL;
    size_t n = 0;
    int rc = s->src.items(s->src.user, &lo, i + 1 < s->nb ? &hi : NULL, &items, &n);
    if (rc)
        return rc;
    s->loads++;
    if (n != s->b[i].n) {
        dc__free(items);
        return DC_ECORRUPT; /* the sums are out of step with the log */
    }
    uint8_t(*prefix)[32] = dc__malloc((n + 1) * sizeof *prefix);
    if (!prefix) {
        dc__free(items);
        return DC_ENOMEM;
    }
    memset(prefix[0], 0, 32);
    for (size_t k = 0; k < n; k++) {
        uint8_t h[32];
        dc__recon_item_hash(h, items[k].id);
        memcpy(prefix[k + 1], prefix[k], 32);
        dc__recon_sum_add(prefix[k + 1], h);
    }
    if (n && memcmp(prefix[n], s->b[i].sum, 32) != 0) {
        dc__free(items);
        dc__free(prefix);
        return DC_ECORRUPT;
    }
    c->bucket = i;
    c->items = items;
    c->prefix = prefix;
    c->n = n;
    *out = c;
    return 0;
}

/* The bucket holding rank r (< size): the first i with count[i + 1] > r. */
static size_t bucket_of_rank(const dc__bucketset *s, size_t r) {
    size_t lo = 0, hi = s->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->count[mid + 1] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int bs_size(void *user, size_t *out) {
    dc__bucketset *s = user;
    int rc = load(s);
    *out = rc ? 0 : s->count[s->nb];
    return rc;
}

static int bs_lower_bound(void *user, const dc__recon_bound *b, size_t *out) {
    dc__bucketset *s = user;
    int rc = load(s);
    if (rc)
        return rc;
    if (b->ts == DC_RECON_TS_INF || s->nb == 0) {
        *out = s->nb ? s->count[s->nb] : 0;
        return 0;
    }
    /* The last bucket whose lower bound lies below b: every item of the
     * buckets before it is below b, every item after it at or above. */
    size_t lo = 0, hi = s->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        dc__recon_item it;
        it.ts = s->b[mid].ts;
        memcpy(it.id, s->b[mid].id, 32);
        if (dc__recon_item_ge_bound(&it, b))
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t k = lo ? lo - 1 : 0;
    if (s->b[k].n == 0) {
        *out = s->count[k];
        return 0;
    }
    cached *c;
    if ((rc = bucket_items(s, k, &c)))
        return rc;
    size_t a = 0, z = c->n;
    while (a < z) {
        size_t mid = a + (z - a) / 2;
        if (dc__recon_item_ge_bound(&c->items[mid], b))
            z = mid;
        else
            a = mid + 1;
    }
    *out = s->count[k] + a;
    return 0;
}

/* The sum of the first k items of bucket i (k <= its count). */
static int bucket_head(dc__bucketset *s, size_t i, size_t k, uint8_t out[32]) {
    if (k == 0) {
        memset(out, 0, 32);
        return 0;
    }
    if (k == s->b[i].n) {
        memcpy(out, s->b[i].sum, 32);
        return 0;
    }
    cached *c;
    int rc = bucket_items(s, i, &c);
    if (!rc)
        memcpy(out, c->prefix[k], 32);
    return rc;
}

static int bs_sum(void *user, size_t lo, size_t hi, uint8_t out[32]) {
    dc__bucketset *s = user;
    int rc = load(s);
    if (rc)
        return rc;
    if (lo > hi || hi > s->count[s->nb])
        return DC_EINVAL;
    memset(out, 0, 32);
    if (lo == hi)
        return 0;
    /* sum[lo, hi) = prefix(hi) - prefix(lo), each prefix being whole
     * buckets plus the head of one. */
    uint8_t a[32], z[32], h[32];
    size_t i = lo == s->count[s->nb] ? s->nb : bucket_of_rank(s, lo);
    size_t j = bucket_of_rank(s, hi - 1);
    memcpy(a, s->sum[i], 32);
    if (i < s->nb) {
        if ((rc = bucket_head(s, i, lo - s->count[i], h)))
            return rc;
        dc__recon_sum_add(a, h);
    }
    memcpy(z, s->sum[j], 32);
    if ((rc = bucket_head(s, j, hi - s->count[j], h)))
        return rc;
    dc__recon_sum_add(z, h);
    memcpy(out, z, 32);
    dc__recon_sum_sub(out, a);
    return 0;
}

static int bs_item(void *user, size_t r, dc__recon_item *out) {
    dc__bucketset *s = user;
    int rc = load(s);
    if (rc)
        return rc;
    if (r >= s->count[s->nb])
        return DC_EINVAL;
    size_t i = bucket_of_rank(s, r);
    cached *c;
    if ((rc = bucket_items(s, i, &c)))
        return rc;
    *out = c->items[r - s->count[i]];
    return 0;
}

static int bs_each(void *user, size_t lo, size_t hi, dc__recon_each_fn fn, void *ctx) {
    dc__bucketset *s = user;
    int rc = load(s);
    if (rc)
        return rc;
    if (lo > hi || hi > s->count[s->nb])
        return DC_EINVAL;
    while (lo < hi) {
        size_t i = bucket_of_rank(s, lo);
        cached *c;
        if ((rc = bucket_items(s, i, &c)))
            return rc;
        /* fn may query the set (and evict this bucket): copy the item. */
        size_t end = s->count[i + 1] < hi ? s->count[i + 1] : hi;
        for (; lo < end; lo++) {
            dc__recon_item it = c->items[lo - s->count[i]];
            if ((rc = fn(ctx, &it)))
                return rc;
            if (c->bucket != i && lo + 1 < end && (rc = bucket_items(s, i, &c)))
                return rc;
        }
    }
    return 0;
}

dc__recon_set dc__bucketset_view(dc__bucketset *s) {
    dc__recon_set v = {s, bs_size, bs_lower_bound, bs_sum, bs_item, bs_each};
    return v;
}
