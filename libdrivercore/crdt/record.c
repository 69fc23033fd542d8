/*
 * The merge rules on one record's state (docs/data-model.md, "Merge
 * rules"), the one place they are written in C:
 *   register  the field keeps the value of the op with the greatest clock;
 *   set       an add (tagged author, seq, op) is present unless a remove
 *             named its tag: removes only name adds their author had seen,
 *             so a concurrent add survives (add-wins);
 *   delete    the record keeps the greatest delete clock, and every register
 *             and add at or before it goes and stays hidden.
 * Each is a maximum or a union over the ops, so ops applied in any order,
 * any number of times, leave the same state.  Events are rows of the
 * store, purged by the same order (DC__CLOCK_NOT_AFTER_SQL).
 */
#include <string.h>

#include "crdt/crdt.h"

void dc__recstate_adopt(dc__recstate *r, dc__recdata *d) {
    r->d = *d;
    r->capregs = d->nregs;
    r->capadds = d->nadds;
    r->caprm = d->nrm;
    memset(d, 0, sizeof *d);
}

void dc__recstate_free(dc__recstate *r) {
    dc__recdata_free(&r->d);
    r->capregs = r->capadds = r->caprm = 0;
}

/* Room for one more element after the n in array v (capacity cap). */
#define GROW(v, n, cap, err)                                                                       \
    (DC__VEC_ROOM(v, n, cap) ? dc__err_set(err, DC_ENOMEM, "merge: out of memory") : 0)

/* (h1, did1 with key pk1) later than (h2, did2)?  Keys are fetched only on
 * a timestamp tie; did2 == 0 with h2 == 0 is "never" (no delete yet). */
static int later(const dc__recstate *r, dc_hlc h1, const uint8_t *pk1, int64_t did1, dc_hlc h2,
                 int64_t did2, bool *out, dc__err *err) {
    if (h1 != h2 || (!did2 && !h2)) {
        *out = h1 > h2 || (h1 == h2 && !did2);
        return 0;
    }
    uint8_t a[32], b[32];
    int rc = 0;
    if (!pk1 && (rc = r->pk(r->pk_user, did1, a, err)))
        return rc;
    if ((rc = r->pk(r->pk_user, did2, b, err)))
        return rc;
    *out = dc__clock_later(h1, pk1 ? pk1 : a, h2, b);
    return 0;
}

int dc__rec_visible(const dc__recstate *r, dc_hlc h, const uint8_t pk[32], bool *out,
                    dc__err *err) {
    return later(r, h, pk, 0, r->del_hlc, r->del_did, out, err);
}

static int u64_cmp(uint64_t a, uint64_t b) {
    return (a > b) - (a < b);
}

static int tag_cmp(uint32_t f1, int64_t d1, uint64_t s1, uint32_t o1, uint32_t f2, int64_t d2,
                   uint64_t s2, uint32_t o2) {
    int c = u64_cmp(f1, f2);
    if (!c)
        c = u64_cmp((uint64_t)d1, (uint64_t)d2);
    if (!c)
        c = u64_cmp(s1, s2);
    return c ? c : u64_cmp(o1, o2);
}

/* A binary search of the sorted array base[0..n) of `size`-byte elements:
 * the index of the element equal to `key`, or where it would go (*found
 * false).  cmp(element, key) < 0, 0, > 0 as the element sorts before, at
 * or after the key. */
static inline size_t search(const void *base, size_t n, size_t size, const void *key,
                            int (*cmp)(const void *elem, const void *key), bool *found) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp((const char *)base + mid * size, key);
        if (!c) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int reg_cmp(const void *elem, const void *key) {
    return u64_cmp(((const dc__reg *)elem)->fid, *(const uint32_t *)key);
}

static int add_cmp(const void *elem, const void *key) {
    const dc__sadd *a = elem;
    const dc__stag *k = key;
    return tag_cmp(a->fid, a->did, a->seq, a->op, k->fid, k->did, k->seq, k->op);
}

static int rm_cmp(const void *elem, const void *key) {
    const dc__stag *t = elem, *k = key;
    return tag_cmp(t->fid, t->did, t->seq, t->op, k->fid, k->did, k->seq, k->op);
}

static size_t find_reg(const dc__recdata *d, uint32_t fid, bool *found) {
    return search(d->regs, d->nregs, sizeof *d->regs, &fid, reg_cmp, found);
}

static size_t find_add(const dc__recdata *d, uint32_t fid, int64_t did, uint64_t seq, uint32_t op,
                       bool *found) {
    const dc__stag k = {fid, did, seq, op};
    return search(d->adds, d->nadds, sizeof *d->adds, &k, add_cmp, found);
}

static size_t find_rm(const dc__recdata *d, uint32_t fid, int64_t did, uint64_t seq, uint32_t op,
                      bool *found) {
    const dc__stag k = {fid, did, seq, op};
    return search(d->rm, d->nrm, sizeof *d->rm, &k, rm_cmp, found);
}

int dc__rec_set(dc__recstate *r, uint32_t fid, const dc__value *v, dc_hlc h, const uint8_t pk[32],
                int64_t did, dc__err *err) {
    bool visible, found, wins = true;
    int rc = dc__rec_visible(r, h, pk, &visible, err);
    if (rc || !visible)
        return rc;
    dc__recdata *d = &r->d;
    size_t i = find_reg(d, fid, &found);
    if (found) {
        const dc__reg *g = &d->regs[i];
        if (g->did == did && g->hlc == h)
            return 0; /* the same op again */
        if ((rc = later(r, h, pk, did, g->hlc, g->did, &wins, err)) || !wins)
            return rc;
    } else {
        if ((rc = GROW(d->regs, d->nregs, r->capregs, err)))
            return rc;
        memmove(d->regs + i + 1, d->regs + i, (d->nregs - i) * sizeof *d->regs);
        d->nregs++;
    }
    d->regs[i] = (dc__reg){fid, *v, h, did};
    r->changed = true;
    return 0;
}

int dc__rec_add(dc__recstate *r, uint32_t fid, const dc__value *v, dc_hlc h, const uint8_t pk[32],
                int64_t did, uint64_t seq, uint32_t op, dc__err *err) {
    bool visible, found;
    int rc = dc__rec_visible(r, h, pk, &visible, err);
    if (rc || !visible)
        return rc;
    dc__recdata *d = &r->d;
    find_rm(d, fid, did, seq, op, &found);
    if (found)
        return 0; /* removed before it arrived */
    size_t i = find_add(d, fid, did, seq, op, &found);
    if (found)
        return 0; /* the same add again */
    if ((rc = GROW(d->adds, d->nadds, r->capadds, err)))
        return rc;
    memmove(d->adds + i + 1, d->adds + i, (d->nadds - i) * sizeof *d->adds);
    d->nadds++;
    d->adds[i] = (dc__sadd){fid, *v, did, seq, op, h};
    r->changed = true;
    return 0;
}

int dc__rec_remove(dc__recstate *r, uint32_t fid, int64_t did, uint64_t seq, uint32_t op,
                   dc__err *err) {
    dc__recdata *d = &r->d;
    bool found;
    size_t i = find_rm(d, fid, did, seq, op, &found);
    if (!found) {
        int rc = GROW(d->rm, d->nrm, r->caprm, err);
        if (rc)
            return rc;
        memmove(d->rm + i + 1, d->rm + i, (d->nrm - i) * sizeof *d->rm);
        d->nrm++;
        d->rm[i] = (dc__stag){fid, did, seq, op};
        r->changed = true;
    }
    i = find_add(d, fid, did, seq, op, &found);
    if (found) {
        memmove(d->adds + i, d->adds + i + 1, (d->nadds - i - 1) * sizeof *d->adds);
        d->nadds--;
        r->changed = true;
    }
    return 0;
}

int dc__rec_delete(dc__recstate *r, dc_hlc h, const uint8_t pk[32], int64_t did, bool *now,
                   dc__err *err) {
    int rc = dc__rec_visible(r, h, pk, now, err);
    if (rc || !*now)
        return rc;
    r->del_hlc = h;
    r->del_did = did;
    r->changed = true;
    /* Every register and add at or before the new delete clock goes. */
    dc__recdata *d = &r->d;
    size_t k = 0;
    for (size_t i = 0; i < d->nregs; i++) {
        bool keep;
        if ((rc = later(r, d->regs[i].hlc, NULL, d->regs[i].did, h, did, &keep, err)))
            return rc;
        if (keep)
            d->regs[k++] = d->regs[i];
    }
    d->nregs = k;
    k = 0;
    for (size_t i = 0; i < d->nadds; i++) {
        bool keep;
        if ((rc = later(r, d->adds[i].hlc, NULL, d->adds[i].did, h, did, &keep, err)))
            return rc;
        if (keep)
            d->adds[k++] = d->adds[i];
    }
    d->nadds = k;
    return 0;
}
