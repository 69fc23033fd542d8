/*
 * The relay core (include/drivercore/relay.h, docs/relay.md): device
 * authentication, responder sync sessions, per-device rate limits, change
 * notification for long-polling devices and the metrics — everything of
 * the relay but HTTP.  Storage is reached only through relay_store.h.
 * The core is split along its seams (core.h lists the files); this one
 * opens and closes the handle and drops what has expired.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "relay/core.h"
#include "relay/relay_int.h"

int64_t dc__relay_now_ms(const dc_relay *rl) {
    if (rl->o.clock)
        return rl->o.clock(rl->o.clock_user);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double dc__relay_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sess_free_mem(sess *s) {
    dc__free(s->spaces);
    dc__free(s);
}

static void free_map(map *m, void (*fn)(ent *)) {
    for (size_t i = 0; i < m->nb; i++)
        for (ent *e = m->b[i], *nx; e; e = nx) {
            nx = e->next;
            fn(e);
        }
    dc__free(m->b);
    memset(m, 0, sizeof *m);
}

static void free_plain(ent *e) {
    dc__free(e);
}

/* A relay over the store at `path`, over the borrowed replica `r`, or
 * over the store `given` (taken over, closed on failure). */
static int relay_new(dc_relay **out, const char *path, dc_replica *r, dc__relay_store *given,
                     const dc_relay_options *opts) {
    if (opts && opts->version != DC_RELAY_OPTIONS_VERSION && opts->version != 1) {
        if (given)
            given->ops->close(given);
        return dc__last_set(DC_EINVAL, "relay: unknown options version %u", opts->version);
    }
    int rc = dc__ensure_init();
    dc_relay *rl = rc ? NULL : dc__calloc(1, sizeof *rl);
    note *ring = rc ? NULL : dc__calloc(RING, sizeof *ring);
    if (rc || !rl || !ring) {
        dc__free(rl);
        dc__free(ring);
        if (given)
            given->ops->close(given);
        return rc ? rc : dc__last_set(DC_ENOMEM, "relay: out of memory");
    }
    rl->ring = ring;
    dc_relay_options d = DC_RELAY_OPTIONS_INIT;
    rl->o = d;
    if (opts && opts->version == 1) /* without solo_quota_bytes */
        memcpy(&rl->o, opts, offsetof(dc_relay_options, solo_quota_bytes));
    else if (opts)
        rl->o = *opts;
    rl->o.version = DC_RELAY_OPTIONS_VERSION;
#define DEF(f, v)                                                                                  \
    if (rl->o.f <= 0)                                                                              \
    rl->o.f = (v)
    DEF(challenge_ttl_ms, 60000);
    DEF(token_ttl_ms, 600000);
    DEF(session_ttl_ms, 120000);
    DEF(rate_per_s, 50.0);
    DEF(rate_burst, 200.0);
    if (!rl->o.max_challenges)
        rl->o.max_challenges = 1000000;
    if (!rl->o.max_tokens)
        rl->o.max_tokens = 1000000;
    if (!rl->o.max_sessions)
        rl->o.max_sessions = 100000;
    if (!rl->o.max_sessions_per_device)
        rl->o.max_sessions_per_device = 8;
    if (!rl->o.solo_quota_bytes)
        rl->o.solo_quota_bytes = (int64_t)4 << 20;
#undef DEF
    dc__relay_map_key_init();
    dc__err e = {0};
    rc = given ? (rl->st = given, 0)
         : r   ? dc__relay_store_wrap(&rl->st, r, &e)
               : dc__relay_store_open_sqlite(&rl->st, path, rl->o.clock, rl->o.clock_user, &e);
    if (rc != 0) {
        dc__free(ring);
        dc__free(rl);
        return dc__last_from(&e);
    }
    pthread_mutex_init(&rl->mu, NULL);
    pthread_mutex_init(&rl->store_mu, NULL);
    if (rl->st->ops->on_note)
        rl->st->ops->on_note(rl->st, dc__relay_remote_note, rl);
    if (rl->st->ops->set_solo_quota)
        rl->st->ops->set_solo_quota(rl->st, rl->o.solo_quota_bytes);
    *out = rl;
    return 0;
}

int dc__relay_open_store(dc_relay **out, dc__relay_store *st, const dc_relay_options *opts) {
    *out = NULL;
    return relay_new(out, NULL, NULL, st, opts);
}

int dc_relay_open(dc_relay **out, const char *path, const dc_relay_options *opts) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_relay_open: out is NULL");
    *out = NULL;
    if (!path)
        return dc__last_set(DC_EMISUSE, "dc_relay_open: path is NULL");
    return relay_new(out, path, NULL, NULL, opts);
}

int dc_relay_open_replica(dc_relay **out, dc_replica *r, const dc_relay_options *opts) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_relay_open_replica: out is NULL");
    *out = NULL;
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_relay_open_replica: the replica is NULL");
    return relay_new(out, NULL, r, NULL, opts);
}

void dc_relay_close(dc_relay *rl) {
    if (!rl)
        return;
    for (size_t i = 0; i < rl->sessions.nb; i++)
        for (ent *e = rl->sessions.b[i], *nx; e; e = nx) {
            nx = e->next;
            sess *s = (sess *)e;
            if (s->s)
                rl->st->ops->session_free(rl->st, s->s);
            sess_free_mem(s);
        }
    dc__free(rl->sessions.b);
    free_map(&rl->chals, free_plain);
    free_map(&rl->toks, free_plain);
    free_map(&rl->devs, free_plain);
    rl->st->ops->close(rl->st);
    for (size_t i = 0; i < MCACHE; i++)
        dc__free(rl->mc[i].devs);
    pthread_mutex_destroy(&rl->mu);
    pthread_mutex_destroy(&rl->store_mu);
    dc__free(rl->ring);
    dc__free(rl);
}

void dc__relay_purge(dc_relay *rl, int64_t now, sess **dead) {
    if (now - rl->purged < PURGE_EVERY_MS && now >= rl->purged)
        return;
    rl->purged = now;
    map *ms[3] = {&rl->chals, &rl->toks, &rl->devs};
    for (int k = 0; k < 3; k++) {
        map *m = ms[k];
        for (size_t i = 0; i < m->nb; i++)
            for (ent **p = &m->b[i]; *p;) {
                ent *e = *p;
                bool keep = e->expires > now;
                if (k == 2 && ((dev *)e)->nsess)
                    keep = true;
                if (keep) {
                    p = &e->next;
                } else {
                    *p = e->next;
                    m->n--;
                    dc__free(e);
                }
            }
    }
    map *m = &rl->sessions;
    for (size_t i = 0; i < m->nb; i++)
        for (ent **p = &m->b[i]; *p;) {
            sess *s = (sess *)*p;
            if (s->busy || s->h.expires > now) {
                p = &s->h.next;
                continue;
            }
            *p = s->h.next;
            m->n--;
            dev *d = (dev *)dc__relay_map_find(&rl->devs, s->device);
            if (d && d->nsess)
                d->nsess--;
            s->h.next = (ent *)*dead;
            *dead = s;
        }
}

/* Frees the sessions dc__relay_purge handed back. */
void dc__relay_free_dead(dc_relay *rl, sess *dead) {
    while (dead) {
        sess *nx = (sess *)dead->h.next;
        if (dead->s)
            rl->st->ops->session_free(rl->st, dead->s);
        sess_free_mem(dead);
        dead = nx;
    }
}
