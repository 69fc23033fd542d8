/*
 * The membership of a space as a pure function of its membership
 * envelopes: who is a member, with which role, and — the part a relay and
 * every replica must compute identically — which role a device held for
 * each of its own envelopes.  docs/data-model.md, "Membership", states the
 * rule this file implements:
 *
 *   Envelopes are replayed in the order (hlc_min, author key, seq).  Each is
 *   valid when its author was an admin for that envelope's sequence number,
 *   by the envelopes replayed before it (a GENESIS makes its own author an
 *   admin; an envelope of lockboxes only needs a member of any role).  An op naming a device with
 * `upto` u decides that device's role for its envelopes with a sequence number above u; for u and
 * below the earlier ops still decide.  Version-1 grants carry no u and only ever raise a role. When
 * an op lowers a device's role below admin for envelopes of that device already accepted by the
 * replay (a removal racing the removed admin's own grants), those envelopes are refused and the
 * replay starts again without them; and so is an envelope that would leave the space with no admin
 * at all.
 *
 * The function depends only on the set of envelopes, never on the order
 * they arrived in, so replicas and relays that hold the same membership
 * agree on every change's fate.  No I/O, no SQL: the store feeds it.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"

/* ---- role segments ---- */

int dc__mseg_role_at(const dc__mseg *segs, size_t n, uint64_t seq) {
    /* The last segment starting at or before seq. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (segs[mid].from <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? segs[lo - 1].role : 0;
}

static int seg_push(dc__mdev *d, uint64_t from, int role) {
    if (d->nseg && d->segs[d->nseg - 1].role == role)
        return 0; /* one segment per run of equal roles */
    if (DC__VEC_ROOM(d->segs, d->nseg, d->cseg))
        return DC_ENOMEM;
    d->segs[d->nseg++] = (dc__mseg){from, role};
    return 0;
}

/* A v2 op (or a genesis) with upto u and role r: the device's envelopes
 * above u now have role r, those at or below u keep theirs. */
static int seg_cut(dc__mdev *d, uint64_t upto, int role) {
    while (d->nseg && d->segs[d->nseg - 1].from > upto)
        d->nseg--;
    if (upto == UINT64_MAX)
        return 0;
    return seg_push(d, upto + 1, role);
}

/* A v1 grant: every envelope of the device gets at least role r. */
static int seg_raise(dc__mdev *d, int role) {
    size_t n = d->nseg + 1;
    dc__mseg *v = dc__calloc(n, sizeof *v);
    if (!v)
        return DC_ENOMEM;
    size_t w = 0;
    /* Seqs before the first segment had role 0. */
    if (!d->nseg || d->segs[0].from > 1)
        v[w++] = (dc__mseg){1, role};
    for (size_t i = 0; i < d->nseg; i++) {
        dc__mseg s = d->segs[i];
        if (s.role < role)
            s.role = role;
        if (w && v[w - 1].role == s.role)
            continue;
        v[w++] = s;
    }
    dc__free(d->segs);
    d->segs = v;
    d->nseg = w;
    d->cseg = n;
    return 0;
}

/* ---- the device table: open addressing on the key's first bytes ---- */

static uint64_t pk_hash(const uint8_t pk[32]) {
    uint64_t h;
    memcpy(&h, pk, sizeof h); /* keys are uniformly random */
    return h;
}

static int grow(dc__mres *m) {
    size_t ns = m->nslots ? m->nslots * 2 : 64;
    uint32_t *slots = dc__calloc(ns, sizeof *slots);
    if (!slots)
        return DC_ENOMEM;
    for (size_t i = 0; i < m->ndev; i++) {
        size_t j = (size_t)pk_hash(m->devs[i].pk) & (ns - 1);
        while (slots[j])
            j = (j + 1) & (ns - 1);
        slots[j] = (uint32_t)i + 1;
    }
    dc__free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    return 0;
}

const dc__mdev *dc__mres_find(const dc__mres *m, const uint8_t pk[32]) {
    if (!m->nslots)
        return NULL;
    for (size_t j = (size_t)pk_hash(pk) & (m->nslots - 1);; j = (j + 1) & (m->nslots - 1)) {
        uint32_t s = m->slots[j];
        if (!s)
            return NULL;
        if (memcmp(m->devs[s - 1].pk, pk, 32) == 0)
            return &m->devs[s - 1];
    }
}

static dc__mdev *dev_get(dc__mres *m, const uint8_t pk[32]) {
    dc__mdev *d = (dc__mdev *)dc__mres_find(m, pk);
    if (d)
        return d;
    if ((m->ndev + 1) * 2 > m->nslots && grow(m))
        return NULL;
    if (DC__VEC_ROOM(m->devs, m->ndev, m->cdev))
        return NULL;
    d = &m->devs[m->ndev];
    memset(d, 0, sizeof *d);
    d->pk = pk;
    size_t j = (size_t)pk_hash(pk) & (m->nslots - 1);
    while (m->slots[j])
        j = (j + 1) & (m->nslots - 1);
    m->slots[j] = (uint32_t)++m->ndev;
    return d;
}

int dc__mres_role_at(const dc__mres *m, const uint8_t pk[32], uint64_t seq) {
    const dc__mdev *d = dc__mres_find(m, pk);
    return d ? dc__mseg_role_at(d->segs, d->nseg, seq) : 0;
}

/* The role a device holds for its envelopes from now on. */
static int top_role(const dc__mdev *d) {
    return d->nseg ? d->segs[d->nseg - 1].role : 0;
}

static void reset(dc__mres *m) {
    for (size_t i = 0; i < m->ndev; i++) {
        dc__free(m->devs[i].segs);
        dc__free(m->devs[i].applied);
    }
    m->ndev = 0;
    if (m->slots)
        memset(m->slots, 0, m->nslots * sizeof *m->slots);
    m->has_epoch = false;
    m->epoch = 0;
    m->nadmin = 0;
}

void dc__mres_free(dc__mres *m) {
    if (!m)
        return;
    reset(m);
    dc__free(m->devs);
    dc__free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- the replay ---- */

/* The replay order: (hlc_min, author key, seq). */
static int env_cmp(const dc__menv *x, const dc__menv *y) {
    if (x->hlc_min != y->hlc_min)
        return x->hlc_min < y->hlc_min ? -1 : 1;
    int c = memcmp(x->author, y->author, 32);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

/* A merge sort of envelope indexes (qsort has no user pointer to reach
 * the envelopes through, and a global would not be thread-safe). */
static void msort(uint32_t *v, uint32_t *tmp, size_t n, const dc__menv *envs) {
    if (n < 2)
        return;
    size_t h = n / 2;
    msort(v, tmp, h, envs);
    msort(v + h, tmp, n - h, envs);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = env_cmp(&envs[v[j]], &envs[v[i]]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static int note_applied(dc__mdev *a, uint64_t seq, uint32_t env, int need) {
    if (DC__VEC_ROOM(a->applied, a->napplied, a->capplied))
        return DC_ENOMEM;
    a->applied[a->napplied++] = (dc__mapplied){seq, env, need};
    return 0;
}

static bool epoch_later(uint32_t e1, dc_hlc h1, const uint8_t *a1, uint32_t e2, dc_hlc h2,
                        const uint8_t *a2) {
    if (e1 != e2)
        return e1 > e2;
    return dc__clock_later(h1, a1, h2, a2);
}

/* One replay; *restart with the envelopes to skip marked when an op took
 * authority away from envelopes the replay had already accepted. */
static int replay(dc__mres *m, dc__menv *envs, const uint32_t *order, size_t n, bool *skip,
                  bool *restart) {
    reset(m);
    *restart = false;
    for (size_t k = 0; k < n; k++) {
        uint32_t ei = order[k];
        dc__menv *e = &envs[ei];
        e->valid = false;
        if (skip[ei])
            continue;
        /* Genesis ops make their author an admin; they are checked against
         * the space id at import. */
        for (size_t i = 0; i < e->nops; i++) {
            if (e->ops[i].kind != DC_MOP_GENESIS)
                continue;
            dc__mdev *d = dev_get(m, e->ops[i].device);
            if (!d)
                return DC_ENOMEM;
            int before = top_role(d);
            if (seg_cut(d, 0, DC_ROLE_ADMIN))
                return DC_ENOMEM;
            m->nadmin += (before != DC_ROLE_ADMIN);
        }
        /* Lockboxes only pass keys on to those who hold the sealing key:
         * any member may write them; every other op needs an admin. */
        bool keys_only = e->nops > 0;
        for (size_t i = 0; i < e->nops; i++)
            keys_only &= e->ops[i].kind == DC_MOP_LOCKBOX;
        int need = keys_only ? DC_ROLE_READER : DC_ROLE_ADMIN;
        if (dc__mres_role_at(m, e->author, e->seq) < need)
            continue;
        e->valid = true;
        dc__mdev *a = dev_get(m, e->author);
        if (!a || note_applied(a, e->seq, ei, need))
            return DC_ENOMEM;
        for (size_t i = 0; i < e->nops; i++) {
            const dc__member_op *op = &e->ops[i];
            if (op->kind == DC_MOP_ROTATE) {
                if (!m->has_epoch || epoch_later(op->epoch, e->hlc_min + i, e->author, m->epoch,
                                                 m->epoch_hlc, m->epoch_by)) {
                    m->has_epoch = true;
                    m->epoch = op->epoch;
                    memcpy(m->kid, op->kid, DC_KEY_ID);
                    m->epoch_hlc = e->hlc_min + i;
                    m->epoch_by = e->author;
                }
                continue;
            }
            if (op->kind == DC_MOP_KEY || op->kind == DC_MOP_LOCKBOX || op->kind == DC_MOP_COMPACT)
                continue; /* keys and clear compaction points change no role */
            dc__mdev *d = dev_get(m, op->device);
            if (!d)
                return DC_ENOMEM;
            int role = op->kind == DC_MOP_REMOVE ? 0 : op->role;
            int rc, before = top_role(d);
            bool cut = op->kind != DC_MOP_GENESIS && op->version >= 2;
            if (op->kind == DC_MOP_GENESIS)
                rc = 0; /* applied above */
            else if (cut)
                rc = seg_cut(d, op->upto, role);
            else
                rc = seg_raise(d, role);
            if (rc)
                return DC_ENOMEM;
            m->nadmin += (top_role(d) == DC_ROLE_ADMIN) - (before == DC_ROLE_ADMIN);
            /* The display role: the last op naming the device. */
            d->role = role;
            d->hlc = e->hlc_min + i;
            d->by = e->author;
            if (op->kind != DC_MOP_REMOVE) {
                d->box_pk = op->box_pk;
                d->name = op->version == 1 ? op->name : NULL;
            }
            if (!cut)
                continue;
            /* Envelopes of d that the replay accepted earlier and whose
             * authority this op takes away (not this envelope itself). */
            for (size_t j = 0; j < d->napplied; j++) {
                const dc__mapplied *ap = &d->applied[j];
                if (ap->env != ei && ap->seq > op->upto &&
                    dc__mseg_role_at(d->segs, d->nseg, ap->seq) < ap->need) {
                    skip[ap->env] = true;
                    *restart = true;
                }
            }
        }
        /* A space always keeps an admin: an envelope that would leave it
         * without one (the last admins removing or demoting each other, or
         * themselves, from two sides of a partition) is refused whole. */
        if (m->nadmin == 0) {
            skip[ei] = true;
            *restart = true;
        }
        if (*restart)
            return 0;
    }
    return 0;
}

int dc__membership_resolve(dc__mres *m, dc__menv *envs, size_t n, dc__err *err) {
    uint32_t *order = dc__calloc(n ? n : 1, sizeof *order);
    uint32_t *tmp = dc__calloc(n ? n : 1, sizeof *tmp);
    bool *skip = dc__calloc(n ? n : 1, sizeof *skip);
    int rc = 0;
    if (!order || !tmp || !skip) {
        rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    msort(order, tmp, n, envs);
    m->restarts = 0;
    for (;;) {
        bool restart;
        if ((rc = replay(m, envs, order, n, skip, &restart))) {
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
            goto out;
        }
        if (!restart)
            break;
        /* Each restart skips at least one more envelope: at most n. */
        m->restarts++;
    }
out:
    dc__free(order);
    dc__free(tmp);
    dc__free(skip);
    return rc;
}
