/*
 * The relay core's change notices (docs/relay.md, "Endpoints": `/v1/wait`): the ring
 * of changes each sync step and each other relay process sharing the
 * store note, the devices a change should wake (answered from a cache of
 * each space's members), and whether a waiting device has news.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/core.h"

/* ---- change notification ---- */

uint64_t dc_relay_generation(dc_relay *rl) {
    pthread_mutex_lock(&rl->mu);
    uint64_t g = rl->gen;
    pthread_mutex_unlock(&rl->mu);
    return g;
}

uint64_t dc_relay_wait_since(dc_relay *rl, const uint8_t device[32]) {
    pthread_mutex_lock(&rl->mu);
    dev *d = (dev *)dc__relay_map_find(&rl->devs, device);
    uint64_t g = d ? d->since : rl->gen;
    pthread_mutex_unlock(&rl->mu);
    return g;
}

static int dev_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

static size_t mslot(const uint8_t space[16]) {
    uint32_t h;
    memcpy(&h, space, sizeof h); /* space ids are hashes: any bytes spread */
    return h % MCACHE;
}

/* Is `device` a member of `space`?  From the cache when it is current;
 * otherwise the member list is read once (from the store) and cached, so
 * ten thousand waiters cost one query per changed space, not one each.
 * On a read failure, answer yes: a needless wake-up beats a missed one. */
static mcache *members_locked(dc_relay *rl, const uint8_t space[16]);

static bool member_cached(dc_relay *rl, const uint8_t space[16], const uint8_t device[32]) {
    mcache *c = members_locked(rl, space);
    if (!c)
        return true; /* a needless wake-up beats a missed one */
    bool yes = c->n && bsearch(device, c->devs, c->n, 32, dev_cmp) != NULL;
    pthread_mutex_unlock(&rl->mu);
    return yes;
}

/* Makes the cache slot of `space` current (reading the store if needed);
 * returns it locked under mu, or NULL (mu not held) if the store failed. */
static mcache *members_locked(dc_relay *rl, const uint8_t space[16]) {
    size_t k = mslot(space);
    pthread_mutex_lock(&rl->mu);
    uint64_t epoch = rl->mepoch + 1;
    if (rl->mc[k].epoch == epoch && memcmp(rl->mc[k].space, space, 16) == 0)
        return &rl->mc[k];
    pthread_mutex_unlock(&rl->mu);
    uint8_t(*devs)[32] = NULL;
    size_t n = 0;
    dc__err e = {0};
    int rc = rl->st->ops->members(rl->st, space, &devs, &n, &e);
    if (rc)
        return NULL;
    pthread_mutex_lock(&rl->mu);
    mcache *c = &rl->mc[k];
    dc__free(c->devs);
    memcpy(c->space, space, 16);
    c->devs = devs;
    c->n = n;
    /* Valid for the epoch it was read in; an import since then makes the
     * next lookup read again. */
    c->epoch = epoch;
    return c;
}

int dc_relay_devices_to_wake(dc_relay *rl, uint64_t from, uint64_t to, dc_relay_device_fn fn,
                             void *user) {
    if (!rl || !fn)
        return dc__last_set(DC_EMISUSE, "dc_relay_devices_to_wake: NULL argument");
    if (to <= from)
        return 0;
    typedef struct chg {
        uint8_t space[16];
        uint8_t pusher[32];
        bool many; /* more than one pusher */
    } chg;
    pthread_mutex_lock(&rl->mu);
    if (to > rl->gen || rl->gen - from >= RING || rl->wake_all > from) {
        pthread_mutex_unlock(&rl->mu);
        return DC_ETOOBIG;
    }
    chg *v = dc__calloc((size_t)(to - from), sizeof *v);
    size_t nv = 0;
    for (uint64_t g = from + 1; v && g <= to; g++) {
        const note *nt = &rl->ring[g % RING];
        size_t i = 0;
        while (i < nv && memcmp(v[i].space, nt->space, 16) != 0)
            i++;
        if (i == nv) {
            memcpy(v[nv].space, nt->space, 16);
            memcpy(v[nv++].pusher, nt->pusher, 32);
        } else if (memcmp(v[i].pusher, nt->pusher, 32) != 0) {
            v[i].many = true;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    if (!v)
        return DC_ETOOBIG; /* out of memory: wake everyone */
    int rc = 0;
    for (size_t i = 0; i < nv && !rc; i++) {
        mcache *c = members_locked(rl, v[i].space);
        if (!c) {
            rc = DC_ETOOBIG; /* the store failed: wake everyone */
            break;
        }
        /* Copy out, so fn runs without the lock. */
        size_t n = c->n;
        uint8_t(*devs)[32] = n ? dc__malloc(n * 32) : NULL;
        if (devs)
            memcpy(devs, c->devs, n * 32);
        pthread_mutex_unlock(&rl->mu);
        if (n && !devs) {
            rc = DC_ETOOBIG;
            break;
        }
        for (size_t k = 0; k < n && !rc; k++)
            if (v[i].many || memcmp(devs[k], v[i].pusher, 32) != 0)
                rc = fn(user, devs[k]);
        dc__free(devs);
    }
    dc__free(v);
    return rc;
}

int dc_relay_changed(int *changed, dc_relay *rl, const uint8_t device[32], uint64_t since) {
    if (!changed || !rl || !device)
        return dc__last_set(DC_EMISUSE, "dc_relay_changed: NULL argument");
    *changed = 0;
    uint8_t(*sp)[16] = NULL;
    size_t nsp = 0;
    pthread_mutex_lock(&rl->mu);
    uint64_t gen = rl->gen;
    if (since < gen && (gen - since >= RING || rl->wake_all > since)) {
        *changed = 1; /* the ring no longer reaches back that far, or a
                       * change came that nobody could say where */
    } else if (since < gen) {
        sp = dc__calloc((size_t)(gen - since), sizeof *sp);
        for (uint64_t g = since + 1; sp && g <= gen; g++) {
            const note *nt = &rl->ring[g % RING];
            if (memcmp(nt->pusher, device, 32) == 0)
                continue;
            bool dup = false;
            for (size_t i = 0; i < nsp && !dup; i++)
                dup = memcmp(sp[i], nt->space, 16) == 0;
            if (!dup)
                memcpy(sp[nsp++], nt->space, 16);
        }
        if (!sp)
            *changed = 1;
    }
    pthread_mutex_unlock(&rl->mu);
    for (size_t i = 0; i < nsp && !*changed; i++)
        *changed = member_cached(rl, sp[i], device);
    dc__free(sp);
    return 0;
}

/* Changes another relay process committed to the shared store: noted in
 * the ring like this process's own, so long-polls held here wake. */
void dc__relay_remote_note(void *user, const uint8_t *space, const uint8_t *pusher) {
    dc_relay *rl = user;
    pthread_mutex_lock(&rl->mu);
    rl->mepoch++; /* the import may have carried grants */
    note *nt = &rl->ring[++rl->gen % RING];
    nt->gen = rl->gen;
    if (space && pusher) {
        memcpy(nt->space, space, 16);
        memcpy(nt->pusher, pusher, 32);
    } else {
        memset(nt, 0, sizeof *nt);
        nt->gen = rl->gen;
        rl->wake_all = rl->gen;
    }
    rl->remote_notes++;
    uint64_t gen = rl->gen;
    dc_relay_change_fn cb = rl->on_change;
    void *cb_user = rl->on_change_user;
    pthread_mutex_unlock(&rl->mu);
    if (cb)
        cb(cb_user, gen);
}

int dc_relay_ready(dc_relay *rl) {
    if (!rl)
        return dc__last_set(DC_EMISUSE, "dc_relay_ready: the relay is NULL");
    dc__err e = {0};
    int rc = rl->st->ops->ready(rl->st, &e);
    return rc ? dc__last_from(&e) : 0;
}

const char *dc_relay_store_kind(const dc_relay *rl) {
    return rl ? rl->st->ops->name : "";
}

void dc_relay_on_change(dc_relay *rl, dc_relay_change_fn fn, void *user) {
    pthread_mutex_lock(&rl->mu);
    rl->on_change = fn;
    rl->on_change_user = user;
    pthread_mutex_unlock(&rl->mu);
}
