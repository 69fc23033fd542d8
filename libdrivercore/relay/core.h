/*
 * Private to the relay core (docs/relay.md): the handle and its tables,
 * shared by the files the core is split into along its seams —
 *
 *  - relay.c: opening and closing the handle, dropping what expired;
 *  - map.c: the small hash map keyed by 32 bytes its tables are made of;
 *  - admit.c: authentication (challenges, tokens) and the admission of a
 *    sync request: its token, the device's rate limit and quota backoff,
 *    its sync session found or begun;
 *  - step.c: a sync request served (dc_relay_sync): admitted, one step of
 *    the store's responder, its outcome settled;
 *  - notify.c: change notices, long-poll wake-ups and the member cache;
 *  - metrics.c: the counters and the Prometheus text, and the store's lock
 *    for the attachment endpoints (attach.c).
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
#ifndef DC_RELAY_CORE_H
#define DC_RELAY_CORE_H

#include <pthread.h>

#include "drivercore/relay.h"
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

typedef struct ent {
    struct ent *next;
    uint8_t key[32];
    int64_t expires;
} ent;

typedef struct map {
    ent **b;
    size_t nb, n;
} map;

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

/* ---- the hash map (map.c) ---- */
/* Sets the process-wide hash key once (before the first map is used). */
void dc__relay_map_key_init(void);
ent *dc__relay_map_find(const map *m, const uint8_t key[32]);
/* DC_ENOMEM, or 0: `e` (its key set) is in the map. */
int dc__relay_map_put(map *m, ent *e);
void dc__relay_map_unlink(map *m, ent *x);

/* ---- the handle (relay.c) ---- */
/* The relay's wall clock (the options' clock, else the system's), ms. */
int64_t dc__relay_now_ms(const dc_relay *rl);
/* A monotonic clock, seconds (latencies). */
double dc__relay_mono_s(void);
/* Drops what has expired, at most once a second (under mu).  Busy
 * sessions are kept: a request is using them.  Sessions dropped here are
 * handed back in *dead to be freed outside the lock. */
void dc__relay_purge(dc_relay *rl, int64_t now, sess **dead);
/* Frees the sessions of a list dc__relay_purge handed back (outside mu). */
void dc__relay_free_dead(dc_relay *rl, sess *dead);

/* ---- admission (admit.c) ---- */
/* The device of a token (under mu); false if unknown or expired. */
bool dc__relay_token_device(dc_relay *rl, const uint8_t token[32], int64_t now,
                            uint8_t dev_out[32]);
/* Admits a sync request of n bytes with `token`, resuming session `sid`
 * (NULL: a new one): the token's device, its rate limit and quota backoff,
 * the session found (not busy) or begun.  0 with *out marked busy and
 * *device set; else the refusal counted, *retry_after_ms (may be NULL) set
 * where waiting helps, and the last error set. */
int dc__relay_admit(dc_relay *rl, const uint8_t token[32], const uint8_t *sid, size_t n,
                    int64_t now, int64_t *retry_after_ms, uint8_t device[32], sess **out);

/* ---- notices (notify.c) ---- */
/* Changes another relay process committed to the shared store
 * (dc__relay_note_fn). */
void dc__relay_remote_note(void *user, const uint8_t *space, const uint8_t *pusher);

/* ---- metrics (metrics.c) ---- */
/* Counts a sync request served in dt seconds (under mu). */
void dc__relay_count_latency(dc_relay *rl, double dt);

#endif
