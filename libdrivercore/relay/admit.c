/*
 * The relay core (include/drivercore/relay.h, docs/relay.md): device
 * authentication, responder sync sessions, per-device rate limits, change
 * notification for long-polling devices and the metrics — everything of
 * the relay but HTTP.  Storage is reached only through relay_store.h.
 *
 * One lock, `mu`, guards the in-memory tables and counters and is held
 * for microseconds; the store locks what it must itself (relay_store.h: a
 * relay's own store runs sync steps on many threads at once and commits
 * their imports in groups; a tablet's replica takes one step at a time).
 * `mu` is never held across a store call, so authentication, metrics and
 * rate-limit refusals never queue behind a commit, and a flood from one
 * device is refused at `mu` before it reaches the store.
 *
 * Tables are hash maps keyed by 32 bytes with a keyed hash (SipHash with a
 * random key): device keys are chosen by whoever connects, so an unkeyed
 * hash could be flooded.  Tokens are kept only as their BLAKE2b hash: a
 * memory dump of the relay does not hand out sessions.
 */
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivercore/relay.h"
#include "relay/relay_int.h"
#include "relay/relay_store.h"

#define RING 8192u          /* change notifications remembered */
#define PURGE_EVERY_MS 1000 /* expired entries are dropped at most this often */
#define DEVICE_IDLE_MS 3600000
/* After a push refused for the storage quota, the device's sync requests
 * wait this long (429): reading a device's solo bytes is a pass over the
 * store's spaces (docs/relay.md, "Limits"), which a device pushing again
 * and again must not be able to repeat at its request rate. */
#define QUOTA_BACKOFF_MS 2000
#define NLAT 11

static const double lat_bounds[NLAT] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1.0,  5.0};

enum {
    R_AUTH,
    R_RATE,
    R_SIZE,
    R_MALFORMED,
    R_DENIED,
    R_BUSY,
    R_CONNECTIONS,
    R_DEADLINE,
    R_MEMORY,
    R_QUOTA,
    R_NREASONS
};
static const char *const reason_names[R_NREASONS] = {"auth",   "rate", "size",        "malformed",
                                                     "denied", "busy", "connections", "deadline",
                                                     "memory", "quota"};

/* ---- a small hash map keyed by 32 bytes ---- */

typedef struct ent {
    struct ent *next;
    uint8_t key[32];
    int64_t expires;
} ent;

typedef struct map {
    ent **b;
    size_t nb, n;
} map;

static uint8_t hash_key[crypto_shorthash_KEYBYTES];

static size_t slot(const map *m, const uint8_t key[32]) {
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, 32, hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (m->nb - 1));
}

static ent *map_find(const map *m, const uint8_t key[32]) {
    if (!m->nb)
        return NULL;
    for (ent *e = m->b[slot(m, key)]; e; e = e->next)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static int map_grow(map *m) {
    size_t nb = m->nb ? m->nb * 2 : 256;
    ent **b = dc__calloc(nb, sizeof *b);
    if (!b)
        return DC_ENOMEM;
    map old = *m;
    m->b = b;
    m->nb = nb;
    for (size_t i = 0; i < old.nb; i++)
        for (ent *e = old.b[i], *nx; e; e = nx) {
            nx = e->next;
            size_t k = slot(m, e->key);
            e->next = b[k];
            b[k] = e;
        }
    dc__free(old.b);
    return 0;
}

static int map_put(map *m, ent *e) {
    if (m->n >= m->nb && map_grow(m))
        return DC_ENOMEM;
    size_t k = slot(m, e->key);
    e->next = m->b[k];
    m->b[k] = e;
    m->n++;
    return 0;
}

static void map_unlink(map *m, ent *x) {
    for (ent **p = &m->b[slot(m, x->key)]; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            m->n--;
            return;
        }
}

/* ---- the handle ---- */

typedef struct chal {
    ent h; /* key: the challenge */
    uint8_t device[32];
} chal;

typedef struct tok {
    ent h; /* key: BLAKE2b-256 of the token */
    uint8_t device[32];
} tok;

typedef struct dev {
    ent h; /* key: the device's public key */
    double bucket;
    int64_t refilled;
    uint64_t since; /* generation when its last session began */
    unsigned nsess;
    int64_t quota_until; /* refused for the storage quota: its requests wait until then */
} dev;

typedef struct sess {
    ent h; /* key: the session id */
    dc_relay *rl;
    uint8_t device[32];
    dc__relay_sess *s;
    bool busy;
    uint64_t in_prev, out_prev;
    uint8_t (*spaces)[16]; /* spaces the filter let through */
    size_t nsp, csp;
} sess;

typedef struct note {
    uint64_t gen;
    uint8_t space[16];
    uint8_t pusher[32];
} note;

/* The members of one space as of member epoch `epoch`: the long-poll
 * waker asks "is this waiting device a member of a space that changed?"
 * for every waiter; answering from memory keeps it off the store lock,
 * which sync steps hold across their fsync. */
#define MCACHE 128u
typedef struct mcache {
    uint8_t space[16];
    uint64_t epoch; /* 0: empty slot */
    uint8_t (*devs)[32];
    size_t n;
} mcache;

struct dc_relay {
    dc__relay_store *st;
    mcache mc[MCACHE];
    uint64_t mepoch;   /* bumped whenever an import may have changed membership */
    uint64_t wake_all; /* the last generation at which every waiter must wake */
    pthread_mutex_t mu;
    pthread_mutex_t store_mu; /* the attachment endpoints' use of the store (attach.c) */
    dc_relay_options o;
    map chals, toks, devs, sessions;
    int64_t purged;
    uint64_t gen;
    note *ring;
    dc_relay_change_fn on_change;
    void *on_change_user;
    /* counters (under mu) */
    uint64_t sync_requests, sync_ok, changes_in, changes_out, bytes_in, bytes_out, remote_notes;
    uint64_t auth_ok, refusals[R_NREASONS], conns_total, sessions_total;
    int64_t conns_open, waiters;
    uint64_t lat[NLAT + 1], lat_count;
    double lat_sum;
};

static int64_t now_ms(const dc_relay *rl) {
    if (rl->o.clock)
        return rl->o.clock(rl->o.clock_user);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
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

static void remote_note(void *user, const uint8_t *space, const uint8_t *pusher);

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
    /* The hash key is process-wide and set once; a race between two
     * relays opening at once would at worst write random bytes twice. */
    static int keyed;
    if (!keyed) {
        randombytes_buf(hash_key, sizeof hash_key);
        keyed = 1;
    }
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
        rl->st->ops->on_note(rl->st, remote_note, rl);
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

/* Drops what has expired, at most once a second (under mu).  Busy
 * sessions are kept: a request is using them.  Sessions dropped here are
 * handed back in *dead to be freed outside the lock. */
static void purge(dc_relay *rl, int64_t now, sess **dead) {
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
            dev *d = (dev *)map_find(&rl->devs, s->device);
            if (d && d->nsess)
                d->nsess--;
            s->h.next = (ent *)*dead;
            *dead = s;
        }
}

static void free_dead(dc_relay *rl, sess *dead) {
    while (dead) {
        sess *nx = (sess *)dead->h.next;
        if (dead->s)
            rl->st->ops->session_free(rl->st, dead->s);
        sess_free_mem(dead);
        dead = nx;
    }
}

/* ---- authentication ---- */

int dc_relay_challenge(uint8_t challenge[32], int64_t *expires_ms, dc_relay *rl,
                       const uint8_t device[32]) {
    if (!challenge || !rl || !device)
        return dc__last_set(DC_EMISUSE, "dc_relay_challenge: NULL argument");
    int64_t now = now_ms(rl);
    sess *dead = NULL;
    int rc = 0;
    chal *c = dc__calloc(1, sizeof *c);
    if (!c)
        return dc__last_set(DC_ENOMEM, "relay: out of memory");
    randombytes_buf(c->h.key, 32);
    memcpy(c->device, device, 32);
    c->h.expires = now + rl->o.challenge_ttl_ms;
    pthread_mutex_lock(&rl->mu);
    purge(rl, now, &dead);
    if (rl->chals.n >= rl->o.max_challenges) {
        rl->refusals[R_BUSY]++;
        rc = dc__last_set(DC_EBUSY, "relay: too many pending challenges; retry later");
    } else if (map_put(&rl->chals, &c->h)) {
        rc = dc__last_set(DC_ENOMEM, "relay: out of memory");
    }
    pthread_mutex_unlock(&rl->mu);
    free_dead(rl, dead);
    if (rc) {
        dc__free(c);
        return rc;
    }
    memcpy(challenge, c->h.key, 32);
    if (expires_ms)
        *expires_ms = now + rl->o.challenge_ttl_ms;
    return 0;
}

int dc_relay_session(uint8_t token[32], int64_t *expires_ms, dc_relay *rl, const uint8_t device[32],
                     const uint8_t challenge[32], const uint8_t sig[64]) {
    if (!token || !rl || !device || !challenge || !sig)
        return dc__last_set(DC_EMISUSE, "dc_relay_session: NULL argument");
    int64_t now = now_ms(rl);
    /* The challenge is taken out of the table first, whatever follows:
     * one signature attempt per challenge, so none can be replayed. */
    pthread_mutex_lock(&rl->mu);
    chal *c = (chal *)map_find(&rl->chals, challenge);
    if (c)
        map_unlink(&rl->chals, &c->h);
    pthread_mutex_unlock(&rl->mu);
    const char *why = NULL;
    if (!c)
        why = "unknown or already used challenge";
    else if (c->h.expires <= now)
        why = "expired challenge";
    else if (sodium_memcmp(c->device, device, 32) != 0)
        why = "challenge issued to another device";
    dc__free(c);
    if (!why) {
        uint8_t m[DC_RELAY_AUTH_PREFIX_LEN + 32];
        memcpy(m, DC_RELAY_AUTH_PREFIX, DC_RELAY_AUTH_PREFIX_LEN);
        memcpy(m + DC_RELAY_AUTH_PREFIX_LEN, challenge, 32);
        if (crypto_sign_verify_detached(sig, m, sizeof m, device) != 0)
            why = "bad signature";
    }
    if (why) {
        pthread_mutex_lock(&rl->mu);
        rl->refusals[R_AUTH]++;
        pthread_mutex_unlock(&rl->mu);
        return dc__last_set(DC_EBADSIG,
                            "relay: authentication refused: %s; ask for a new "
                            "challenge",
                            why);
    }
    tok *t = dc__calloc(1, sizeof *t);
    if (!t)
        return dc__last_set(DC_ENOMEM, "relay: out of memory");
    randombytes_buf(token, 32);
    crypto_generichash(t->h.key, 32, token, 32, NULL, 0);
    memcpy(t->device, device, 32);
    t->h.expires = now + rl->o.token_ttl_ms;
    int rc = 0;
    sess *dead = NULL;
    pthread_mutex_lock(&rl->mu);
    purge(rl, now, &dead);
    if (rl->toks.n >= rl->o.max_tokens) {
        rl->refusals[R_BUSY]++;
        rc = dc__last_set(DC_EBUSY, "relay: too many sessions open; retry later");
    } else if (map_put(&rl->toks, &t->h)) {
        rc = dc__last_set(DC_ENOMEM, "relay: out of memory");
    } else {
        rl->auth_ok++;
    }
    pthread_mutex_unlock(&rl->mu);
    free_dead(rl, dead);
    if (rc) {
        sodium_memzero(token, 32);
        dc__free(t);
        return rc;
    }
    if (expires_ms)
        *expires_ms = t->h.expires;
    return 0;
}

/* The device of a token (under mu); false if unknown or expired. */
static bool token_device(dc_relay *rl, const uint8_t token[32], int64_t now, uint8_t dev_out[32]) {
    uint8_t h[32];
    crypto_generichash(h, 32, token, 32, NULL, 0);
    tok *t = (tok *)map_find(&rl->toks, h);
    if (!t || t->h.expires <= now)
        return false;
    memcpy(dev_out, t->device, 32);
    return true;
}

int dc_relay_auth(uint8_t device[32], dc_relay *rl, const uint8_t token[32]) {
    if (!device || !rl || !token)
        return dc__last_set(DC_EMISUSE, "dc_relay_auth: NULL argument");
    int64_t now = now_ms(rl);
    pthread_mutex_lock(&rl->mu);
    bool ok = token_device(rl, token, now, device);
    if (!ok)
        rl->refusals[R_AUTH]++;
    pthread_mutex_unlock(&rl->mu);
    return ok ? 0 : dc__last_set(DC_EBADSIG, "relay: unknown or expired token; authenticate again");
}

/* ---- sync ---- */

/* The responder's space filter: a member may reconcile its spaces, and
 * anyone may upload a space the relay has never seen (its genesis and
 * membership, signed by its creator, come with it).  Runs inside a step of
 * the request that owns the session. */
static bool allow_space(void *user, const uint8_t space[16], const uint8_t device[32]) {
    sess *s = user;
    dc__relay_store *st = s->rl->st;
    if (!st->ops->is_member(st, space, device) && st->ops->knows(st, space))
        return false;
    for (size_t i = 0; i < s->nsp; i++)
        if (memcmp(s->spaces[i], space, 16) == 0)
            return true;
    if (s->nsp == s->csp) {
        size_t nc = s->csp ? s->csp * 2 : 8;
        uint8_t(*p)[16] = dc__realloc(s->spaces, nc * sizeof *p);
        if (!p)
            return true; /* only the change notification loses precision */
        s->spaces = p;
        s->csp = nc;
    }
    memcpy(s->spaces[s->nsp++], space, 16);
    return true;
}

static int refuse(dc_relay *rl, int reason, int code, const char *msg) {
    pthread_mutex_lock(&rl->mu);
    rl->refusals[reason]++;
    pthread_mutex_unlock(&rl->mu);
    return dc__last_set(code, "%s", msg);
}

int dc_relay_sync(dc_buf *out, char session_out[65], int *done, int64_t *retry_after_ms,
                  dc_relay *rl, const uint8_t token[32], const char *session, const uint8_t *in,
                  size_t n) {
    if (!out || !session_out || !done || !rl || !token || (!in && n))
        return dc__last_set(DC_EMISUSE, "dc_relay_sync: NULL argument");
    double t0 = mono_s();
    dc__buf_clear(out);
    session_out[0] = 0;
    *done = 0;
    if (retry_after_ms)
        *retry_after_ms = 0;
    if (!in)
        return refuse(rl, R_MALFORMED, DC_ECORRUPT, "relay: a sync request needs a message");
    uint8_t sid[32];
    bool have_sid = session && *session;
    if (have_sid && (strlen(session) != 64 || dc__unhex(sid, 32, session) != 0))
        return refuse(rl, R_MALFORMED, DC_ENOTFOUND,
                      "relay: malformed session id; begin a new "
                      "session");
    int64_t now = now_ms(rl);
    uint8_t device[32];
    sess *dead = NULL, *s = NULL;
    int rc = 0;
    const char *why = NULL;
    int reason = R_AUTH;
    pthread_mutex_lock(&rl->mu);
    purge(rl, now, &dead);
    rl->sync_requests++;
    dev *d = NULL;
    if (!token_device(rl, token, now, device)) {
        rc = DC_EBADSIG, why = "relay: unknown or expired token; authenticate again";
    } else if (!(d = (dev *)map_find(&rl->devs, device))) {
        d = dc__calloc(1, sizeof *d);
        if (!d || (memcpy(d->h.key, device, 32), map_put(&rl->devs, &d->h))) {
            dc__free(d);
            d = NULL;
            rc = DC_ENOMEM, why = "relay: out of memory", reason = R_BUSY;
        } else {
            d->bucket = rl->o.rate_burst;
            d->refilled = now;
        }
    }
    if (!rc) {
        /* The token bucket: refilled by elapsed time, one token a request. */
        double add = (double)(now - d->refilled) / 1000.0 * rl->o.rate_per_s;
        if (add > 0) {
            d->bucket = d->bucket + add > rl->o.rate_burst ? rl->o.rate_burst : d->bucket + add;
            d->refilled = now;
        }
        d->h.expires = now + DEVICE_IDLE_MS;
        if (d->bucket < 1.0) {
            rc = DC_EBUSY, why = "relay: rate limit; retry later", reason = R_RATE;
            if (retry_after_ms)
                *retry_after_ms = (int64_t)((1.0 - d->bucket) / rl->o.rate_per_s * 1000.0) + 1;
        } else {
            d->bucket -= 1.0;
        }
    }
    if (!rc && now < d->quota_until) {
        rc = DC_EBUSY, why = "relay: storage quota: a push of this device was refused; retry later",
        reason = R_QUOTA;
        if (retry_after_ms)
            *retry_after_ms = d->quota_until - now;
    }
    if (!rc && have_sid) {
        s = (sess *)map_find(&rl->sessions, sid);
        if (!s || s->h.expires <= now || sodium_memcmp(s->device, device, 32) != 0) {
            s = NULL;
            rc = DC_ENOTFOUND, why = "relay: unknown or expired sync session; begin a new one",
            reason = R_MALFORMED;
        } else if (s->busy) {
            s = NULL;
            rc = DC_EBUSY, why = "relay: this sync session is busy with another request",
            reason = R_BUSY;
            if (retry_after_ms)
                *retry_after_ms = 100;
        }
    } else if (!rc) {
        if (d->nsess >= rl->o.max_sessions_per_device || rl->sessions.n >= rl->o.max_sessions) {
            rc = DC_EBUSY, why = "relay: too many sync sessions open; retry later", reason = R_BUSY;
            if (retry_after_ms)
                *retry_after_ms = 1000;
        } else if (!(s = dc__calloc(1, sizeof *s))) {
            rc = DC_ENOMEM, why = "relay: out of memory", reason = R_BUSY;
        } else {
            randombytes_buf(s->h.key, 32);
            s->rl = rl;
            memcpy(s->device, device, 32);
            if (map_put(&rl->sessions, &s->h)) {
                dc__free(s);
                s = NULL;
                rc = DC_ENOMEM, why = "relay: out of memory", reason = R_BUSY;
            } else {
                d->nsess++;
                d->since = rl->gen;
                rl->sessions_total++;
            }
        }
    }
    if (s) {
        s->busy = true;
        rl->bytes_in += n;
    } else {
        rl->refusals[reason]++;
    }
    pthread_mutex_unlock(&rl->mu);
    free_dead(rl, dead);
    if (rc)
        return dc__last_set(rc, "%s", why);

    /* The store part: one step of the responder, no lock of ours held (the
     * session is this request's alone: it is marked busy). */
    dc__err e = {0};
    dc__relay_store *st = rl->st;
    if (!s->s)
        rc = st->ops->session_new(&s->s, st, device, allow_space, s, &e);
    if (!rc)
        rc = st->ops->session_step(st, s->s, out, done, in, n, &e);
    dc__sync_figures fig;
    memset(&fig, 0, sizeof fig);
    if (!rc)
        st->ops->session_figures(s->s, &fig);
    uint64_t cin = fig.changes_received;
    uint64_t cout = fig.changes_sent;
    bool notify = false;
    bool drop = rc || *done;
    uint64_t gen = 0;
    double dt = mono_s() - t0;
    pthread_mutex_lock(&rl->mu);
    if (rc) {
        bool quota = s->s && st->ops->session_over_quota && st->ops->session_over_quota(s->s);
        dev *dq = quota ? (dev *)map_find(&rl->devs, device) : NULL;
        if (dq)
            dq->quota_until = now + QUOTA_BACKOFF_MS;
        int why_r = quota                                                 ? R_QUOTA
                    : rc == DC_ETOOBIG                                    ? R_SIZE
                    : (rc == DC_EDENIED || rc == DC_EBADSIG)              ? R_DENIED
                    : (rc == DC_ENOMEM || rc == DC_EIO || rc == DC_EBUSY) ? R_BUSY
                                                                          : R_MALFORMED;
        rl->refusals[why_r]++;
    } else {
        rl->sync_ok++;
        rl->bytes_out += out->size;
        if (cin > s->in_prev) {
            rl->changes_in += cin - s->in_prev;
            rl->mepoch++; /* the import may have carried grants */
            /* Each space this session reconciled may have received some:
             * an over-approximation that costs a waiting member at most
             * one needless sync, never a missed change. */
            for (size_t i = 0; i < s->nsp; i++) {
                note *nt = &rl->ring[++rl->gen % RING];
                nt->gen = rl->gen;
                memcpy(nt->space, s->spaces[i], 16);
                memcpy(nt->pusher, device, 32);
            }
            notify = s->nsp > 0;
            gen = rl->gen;
        }
        if (cout > s->out_prev)
            rl->changes_out += cout - s->out_prev;
        s->in_prev = cin;
        s->out_prev = cout;
        int k = 0;
        while (k < NLAT && dt > lat_bounds[k])
            k++;
        rl->lat[k]++;
        rl->lat_count++;
        rl->lat_sum += dt;
    }
    if (drop) {
        map_unlink(&rl->sessions, &s->h);
        dev *dd = (dev *)map_find(&rl->devs, device);
        if (dd && dd->nsess)
            dd->nsess--;
    } else {
        s->busy = false;
        s->h.expires = now + rl->o.session_ttl_ms;
        dc__hex(session_out, s->h.key, 32);
    }
    dc_relay_change_fn cb = rl->on_change;
    void *cb_user = rl->on_change_user;
    pthread_mutex_unlock(&rl->mu);
    if (drop) {
        s->h.next = NULL;
        free_dead(rl, s);
    }
    if (notify && cb)
        cb(cb_user, gen);
    if (rc) {
        dc__buf_clear(out);
        return dc__last_from(&e);
    }
    return 0;
}

/* ---- change notification ---- */

uint64_t dc_relay_generation(dc_relay *rl) {
    pthread_mutex_lock(&rl->mu);
    uint64_t g = rl->gen;
    pthread_mutex_unlock(&rl->mu);
    return g;
}

uint64_t dc_relay_wait_since(dc_relay *rl, const uint8_t device[32]) {
    pthread_mutex_lock(&rl->mu);
    dev *d = (dev *)map_find(&rl->devs, device);
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
static void remote_note(void *user, const uint8_t *space, const uint8_t *pusher) {
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

/* ---- metrics ---- */

void dc_relay_note(dc_relay *rl, int event) {
    if (!rl)
        return;
    pthread_mutex_lock(&rl->mu);
    switch (event) {
    case DC_RELAY_EV_CONN_OPEN: rl->conns_open++, rl->conns_total++; break;
    case DC_RELAY_EV_CONN_CLOSE: rl->conns_open--; break;
    case DC_RELAY_EV_WAIT_BEGIN: rl->waiters++; break;
    case DC_RELAY_EV_WAIT_END: rl->waiters--; break;
    case DC_RELAY_EV_REFUSE_AUTH: rl->refusals[R_AUTH]++; break;
    case DC_RELAY_EV_REFUSE_SIZE: rl->refusals[R_SIZE]++; break;
    case DC_RELAY_EV_REFUSE_MALFORMED: rl->refusals[R_MALFORMED]++; break;
    case DC_RELAY_EV_REFUSE_BUSY: rl->refusals[R_BUSY]++; break;
    case DC_RELAY_EV_REFUSE_CONNECTIONS: rl->refusals[R_CONNECTIONS]++; break;
    case DC_RELAY_EV_REFUSE_DEADLINE: rl->refusals[R_DEADLINE]++; break;
    case DC_RELAY_EV_REFUSE_MEMORY: rl->refusals[R_MEMORY]++; break;
    case DC_RELAY_EV_REFUSE_QUOTA: rl->refusals[R_QUOTA]++; break;
    default: break;
    }
    pthread_mutex_unlock(&rl->mu);
}

int dc_relay_metrics(dc_buf *out, dc_relay *rl) {
    if (!out || !rl)
        return dc__last_set(DC_EMISUSE, "dc_relay_metrics: NULL argument");
    dc__buf_clear(out);
    int w = 0;
    pthread_mutex_lock(&rl->mu);
#define C(name, help, type, val)                                                                   \
    w |=                                                                                           \
        dc__buf_printf(out, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %llu\n", \
                       (unsigned long long)(val))
    C("drivercore_relay_connections", "HTTP connections open now.", "gauge",
      rl->conns_open < 0 ? 0 : rl->conns_open);
    C("drivercore_relay_connections_total", "HTTP connections accepted.", "counter",
      rl->conns_total);
    C("drivercore_relay_waiters", "Devices long-polling now.", "gauge",
      rl->waiters < 0 ? 0 : rl->waiters);
    C("drivercore_relay_auth_total", "Successful authentications.", "counter", rl->auth_ok);
    C("drivercore_relay_tokens", "Session tokens held.", "gauge", rl->toks.n);
    C("drivercore_relay_sync_sessions", "Sync sessions open.", "gauge", rl->sessions.n);
    C("drivercore_relay_sync_sessions_total", "Sync sessions begun.", "counter",
      rl->sessions_total);
    C("drivercore_relay_sync_requests_total", "Sync requests received.", "counter",
      rl->sync_requests);
    C("drivercore_relay_changes_in_total", "Changes received from devices and stored.", "counter",
      rl->changes_in);
    C("drivercore_relay_changes_out_total", "Changes sent to devices.", "counter", rl->changes_out);
    C("drivercore_relay_bytes_in_total", "Sync message bytes received.", "counter", rl->bytes_in);
    C("drivercore_relay_bytes_out_total", "Sync message bytes sent.", "counter", rl->bytes_out);
    C("drivercore_relay_generation", "Change notifications issued.", "counter", rl->gen);
    w |= dc__buf_puts(out, "# HELP drivercore_relay_refusals_total Requests refused, by "
                           "reason.\n# TYPE drivercore_relay_refusals_total counter\n");
    for (int i = 0; i < R_NREASONS; i++)
        w |= dc__buf_printf(out, "drivercore_relay_refusals_total{reason=\"%s\"} %llu\n",
                            reason_names[i], (unsigned long long)rl->refusals[i]);
    w |= dc__buf_puts(out, "# HELP drivercore_relay_sync_seconds Time to serve a sync request, "
                           "commit included.\n# TYPE drivercore_relay_sync_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < NLAT; i++) {
        cum += rl->lat[i];
        w |= dc__buf_printf(out, "drivercore_relay_sync_seconds_bucket{le=\"%g\"} %llu\n",
                            lat_bounds[i], (unsigned long long)cum);
    }
    w |= dc__buf_printf(out,
                        "drivercore_relay_sync_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "drivercore_relay_sync_seconds_sum %.6f\n"
                        "drivercore_relay_sync_seconds_count %llu\n",
                        (unsigned long long)rl->lat_count, rl->lat_sum,
                        (unsigned long long)rl->lat_count);
    C("drivercore_relay_remote_notes_total",
      "Change notes received from other relay processes sharing the store.", "counter",
      rl->remote_notes);
#undef C
    pthread_mutex_unlock(&rl->mu);
    /* The store's own figures (group commits, connections), outside mu. */
    if (!w && rl->st->ops->metrics && rl->st->ops->metrics(rl->st, out) != 0)
        w = 1;
    return w ? dc__last_set(DC_ENOMEM, "relay: out of memory") : 0;
}

/* ---- the store, for the attachment endpoints (attach.c) ---- */

int64_t dc__relay_solo_quota(dc_relay *rl) {
    /* A store without the quota (a tablet's replica) applies none. */
    return rl->st->ops->set_solo_quota ? rl->o.solo_quota_bytes : -1;
}

dc__relay_store *dc__relay_store_lock(dc_relay *rl) {
    pthread_mutex_lock(&rl->store_mu);
    if (rl->st->ops->lock)
        rl->st->ops->lock(rl->st, true);
    return rl->st;
}

void dc__relay_store_unlock(dc_relay *rl) {
    if (rl->st->ops->lock)
        rl->st->ops->lock(rl->st, false);
    pthread_mutex_unlock(&rl->store_mu);
}
