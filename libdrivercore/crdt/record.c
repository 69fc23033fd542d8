/*
 * The register and delete rules on one record's state (docs/data-model.md,
 * "Merge rules").  A register keeps the value of the op with the greatest
 * clock; a delete keeps the greatest delete clock and takes away every
 * register at or before it; an op at or before the delete clock is hidden.
 * Each is a maximum, so ops applied in any order, any number of times,
 * leave the same state.  The store folds changes through these functions
 * (store/fold.c); set adds and events are rows it purges with the same
 * order (DC__CLOCK_NOT_AFTER_SQL).
 */
#include <string.h>

#include "crdt/crdt.h"

void dc__recstate_free(dc__recstate *r) {
    dc__free(r->regs);
    r->regs = NULL;
    r->n = r->cap = 0;
}

static int grow(dc__recstate *r, dc__err *err) {
    if (r->n < r->cap)
        return 0;
    size_t nc = r->cap ? r->cap * 2 : 16;
    dc__reg *p = dc__realloc(r->regs, nc * sizeof *p);
    if (!p)
        return dc__err_set(err, DC_ENOMEM, "merge: out of memory");
    r->regs = p;
    r->cap = nc;
    return 0;
}

int dc__recstate_push(dc__recstate *r, const dc__reg *g) {
    dc__err e = {0};
    if (grow(r, &e))
        return DC_ENOMEM;
    r->regs[r->n++] = *g;
    return 0;
}

/* (h1, pk1) later than (h2, did2)?  The key of did2 is fetched only on a
 * timestamp tie; did2 == 0 is "never" (the empty delete clock). */
static int later_than(const dc__recstate *r, dc_hlc h1, const uint8_t pk1[32], dc_hlc h2,
                      int64_t did2, bool *out, dc__err *err) {
    if (h1 != h2 || !did2) {
        *out = h1 > h2 || (h1 == h2 && !did2);
        return 0;
    }
    uint8_t pk2[32];
    int rc = r->pk(r->pk_user, did2, pk2, err);
    if (rc)
        return rc;
    *out = dc__clock_later(h1, pk1, h2, pk2);
    return 0;
}

int dc__rec_visible(const dc__recstate *r, dc_hlc h, const uint8_t pk[32], bool *out,
                    dc__err *err) {
    if (!r->del_did && !r->del_hlc) {
        *out = true;
        return 0;
    }
    return later_than(r, h, pk, r->del_hlc, r->del_did, out, err);
}

static int field_cmp(const dc__str *a, const char *b, size_t bn) {
    size_t n = a->n < bn ? a->n : bn;
    int c = memcmp(a->p, b, n);
    return c ? c : (a->n > bn) - (a->n < bn);
}

/* Index of `field`, or where it would go (*found false). */
static size_t locate(const dc__recstate *r, const char *f, size_t fn, bool *found) {
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = field_cmp(&r->regs[mid].field, f, fn);
        if (c == 0) {
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

const dc__reg *dc__rec_find(const dc__recstate *r, const char *field, size_t n) {
    bool found;
    size_t i = locate(r, field, n, &found);
    return found ? &r->regs[i] : NULL;
}

int dc__rec_set(dc__recstate *r, const dc__str *field, const dc__value *v, dc_hlc h,
                const uint8_t pk[32], int64_t did, dc__err *err) {
    bool visible, found, later = true;
    int rc = dc__rec_visible(r, h, pk, &visible, err);
    if (rc || !visible)
        return rc;
    size_t i = locate(r, field->p, field->n, &found);
    if (found) {
        const dc__reg *g = &r->regs[i];
        if (g->did == did && g->hlc == h)
            return 0; /* the same op again */
        if ((rc = later_than(r, h, pk, g->hlc, g->did, &later, err)) || !later)
            return rc;
    } else {
        if ((rc = grow(r, err)))
            return rc;
        memmove(r->regs + i + 1, r->regs + i, (r->n - i) * sizeof *r->regs);
        r->n++;
    }
    r->regs[i] = (dc__reg){*field, *v, h, did};
    r->changed = true;
    return 0;
}

int dc__rec_delete(dc__recstate *r, dc_hlc h, const uint8_t pk[32], int64_t did, bool *later,
                   dc__err *err) {
    int rc = dc__rec_visible(r, h, pk, later, err);
    if (rc || !*later)
        return rc;
    r->del_hlc = h;
    r->del_did = did;
    r->changed = true;
    /* Every register at or before the new delete clock goes (a register
     * with the delete's own timestamp is compared by its author's key). */
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        bool keep = r->regs[i].hlc > h;
        if (r->regs[i].hlc == h) {
            uint8_t rpk[32];
            if ((rc = r->pk(r->pk_user, r->regs[i].did, rpk, err)) != 0)
                return rc;
            keep = dc__clock_later(h, rpk, h, pk);
        }
        if (keep)
            r->regs[k++] = r->regs[i];
    }
    r->n = k;
    return 0;
}
