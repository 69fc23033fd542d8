/*
 * The relay core's storage seam (docs/relay.md, "Stores").  Everything the
 * relay core (relay.c and its parts, core.h) does to durable storage goes through these
 * operations and nothing else.  Two stores implement them:
 *
 *  - store_sqlite.c: a relay's own SQLite file, a keyless replica (the
 *    default).  Sync steps run on many threads at once over read
 *    connections; imports go to one writer thread that commits the bundles
 *    of many sessions in one transaction (group commit, commit.c);
 *  - store_replica.c: a replica the caller opened (a tablet serving
 *    phones: `drivercore serve`), one step at a time under a lock.
 *
 * Every operation may be called from any thread at once: a store locks
 * what it must itself.  A session is used by one request at a time.
 */
#ifndef DC_RELAY_STORE_H
#define DC_RELAY_STORE_H

#include "base/base.h"
#include "drivercore/sync.h"
#include "replica/port.h"
#include "replica/import_port.h" /* dc__import_req: the group a shared log publishes */
#include "sync/session.h"

typedef struct dc__relay_store dc__relay_store;
typedef struct dc__relay_sess dc__relay_sess;

/* Changes committed by another process sharing the store: space `space`
 * received changes pushed by device `pusher`; both NULL when the store
 * cannot tell what changed (a notification channel was lost), so every
 * waiting device should be woken. */
typedef void (*dc__relay_note_fn)(void *user, const uint8_t *space, const uint8_t *pusher);

typedef struct dc__relay_store_ops {
    const char *name; /* "sqlite", "replica": for logs and metrics */
    void (*close)(dc__relay_store *st);
    /* A responder sync session for the authenticated `device`, whose spaces
     * are filtered by `allow` (called during steps, on the step's thread). */
    int (*session_new)(dc__relay_sess **out, dc__relay_store *st, const uint8_t device[32],
                       dc__sync_filter_fn allow, void *user, dc__err *err);
    /* One responder step: reads the item sets, imports the pushed bundle
     * (durable before it returns), builds the reply. */
    int (*session_step)(dc__relay_store *st, dc__relay_sess *s, dc_buf *out, int *done,
                        const uint8_t *in, size_t n, dc__err *err);
    void (*session_figures)(dc__relay_sess *s, dc__sync_figures *f);
    void (*session_free)(dc__relay_store *st, dc__relay_sess *s);
    /* Is `device` a member (any role) of `space` by the signed membership
     * held?  Does the store hold `space` at all?  Asked only by a step's
     * filter, on that step's thread and snapshot. */
    bool (*is_member)(dc__relay_store *st, const uint8_t space[16], const uint8_t device[32]);
    bool (*knows)(dc__relay_store *st, const uint8_t space[16]);
    /* The member devices of `space`, in key order: *devs (dc__malloc'd
     * array of 32-byte keys, NULL when none) and *n. */
    int (*members)(dc__relay_store *st, const uint8_t space[16], uint8_t (**devs)[32], size_t *n,
                   dc__err *err);
    /* 0 when the store takes writes now; else why not (a lost database). */
    int (*ready)(dc__relay_store *st, dc__err *err);
    /* The store's own figures as Prometheus text (may be NULL). */
    int (*metrics)(dc__relay_store *st, dc_buf *out);
    /* Where to report changes other processes committed (may be NULL: a
     * store no other process writes). */
    void (*on_note)(dc__relay_store *st, dc__relay_note_fn fn, void *user);
    /* A replica handle on the store for the attachment endpoints
     * (relay/attach.c), used under dc__relay_store_lock only; NULL when
     * the store has none. */
    dc_replica *(*replica)(dc__relay_store *st);
    /* Takes (on) or releases the lock the store's sessions use on that
     * replica, when they share it (may be NULL). */
    void (*lock)(dc__relay_store *st, bool on);
    /* The storage quota of a device in spaces no other device is a member
     * of (docs/relay.md, "Limits"): `bytes` (< 0: none).  A step whose
     * bundle would take the device past it fails with DC_EDENIED, and
     * session_over_quota then says so.  Both may be NULL (a store that
     * applies no quota). */
    void (*set_solo_quota)(dc__relay_store *st, int64_t bytes);
    bool (*session_over_quota)(dc__relay_sess *s);
    /* What the store keeps of `space` (docs/relay.md, "Compaction"):
     * *envelopes in its log, *covered items of envelopes it dropped as the
     * space's clear compaction point allowed (a store over a device's
     * replica: as that replica compacted itself).  DC_ENOTFOUND for a
     * space it does not hold. */
    int (*space_log)(dc__relay_store *st, const uint8_t space[16], int64_t *envelopes,
                     int64_t *covered, dc__err *err);
} dc__relay_store_ops;

/* Every store begins with this. */
struct dc__relay_store {
    const dc__relay_store_ops *ops;
};

/* A growing list of device keys, for the stores' `members` (store_replica.c):
 * dc__relay_devlist_add appends one (a callback of the store's walks). */
typedef struct dc__relay_devlist {
    uint8_t (*v)[32];
    size_t n, cap;
} dc__relay_devlist;
int dc__relay_devlist_add(void *user, const uint8_t device[32]);

/*
 * A log shared by several relay processes behind each one's SQLite store
 * (docs/relay.md, "Several relays"; tools/relay_pg.c implements it on
 * PostgreSQL).  Every group the store commits is published to it before
 * any bundle of the group is acknowledged; what other relays published is
 * imported with dc__relay_store_import_shared.
 */
typedef struct dc__relay_shared {
    const char *name; /* the store's kind in logs and metrics ("postgresql") */
    void *user;
    /* Publishes the bundles of reqs whose rc is 0 and that are not
     * `shared`, durably; an error refuses them all (nothing acknowledged:
     * the devices send again).  Called on the store's writer thread. */
    int (*publish)(void *user, const dc__import_req *reqs, size_t n, dc__err *err);
    /* 0 when the shared log takes writes now; else why not. */
    int (*ready)(void *user, dc__err *err);
    /* The shared log's own figures as Prometheus text, appended (may be
     * NULL); non-zero when out of memory. */
    int (*metrics)(void *user, dc_buf *out);
} dc__relay_shared;

/* The relay's SQLite store at `path` in front of the shared log `sh`
 * (copied; `path` is a cache: what it lacks comes from the log). */
int dc__relay_store_open_shared(dc__relay_store **out, const char *path, dc_clock_fn clock,
                                void *clock_user, const dc__relay_shared *sh, dc__err *err);
/* Imports a bundle another relay published (through the store's writer,
 * in a group with the others waiting) and notes each space it touches for
 * the devices waiting on them.  Returns 0 or the import's error. */
int dc__relay_store_import_shared(dc__relay_store *st, const uint8_t *bundle, size_t n,
                                  dc__err *err);
/* Several at once (committed together where they fit one group): *ok is
 * how many, from the first, went in; the rest are to be tried again.
 * Returns 0 when all did, else the first failure's error. */
int dc__relay_store_import_shared_many(dc__relay_store *st, const uint8_t *const *bundles,
                                       const size_t *sizes, size_t n, size_t *ok, dc__err *err);

/*
 * The shared log's compaction (docs/relay.md, "Several relays over one
 * PostgreSQL": "Compaction of the shared log").  A change envelope the
 * cache compacted away (at or below its space's valid clear point) leaves
 * a bundle of the log, its item kept in the log's list of covered items so
 * that a relay started later counts it held as this cache does.
 */
typedef struct dc__relay_covered {
    uint8_t space[16], author[32], cid[32];
    uint64_t seq, hlc; /* the item is (hlc, cid) */
    bool held;         /* the cache holds its item (not: a forged or set-aside one) */
} dc__relay_covered;
/* What of `bundle` (a row of the shared log this store imported) stays:
 * *kept, a bundle of the envelopes not covered here (membership ones
 * always), with *nkept of them; *items (dc__free'd by the caller) the
 * *nitems change envelopes covered, `held` where the cache counts the
 * item held (a covered envelope whose item it does not hold was set aside
 * here, forged: it goes, unlisted).  *nitems 0: the row stays as it is;
 * a bundle that does not parse stays as it is.  Reads a read connection. */
int dc__relay_store_shared_trim(dc__relay_store *st, const uint8_t *bundle, size_t n, dc_buf *kept,
                                size_t *nkept, dc__relay_covered **items, size_t *nitems,
                                dc__err *err);
/* Records the covered items another relay took out of the shared log, in
 * order, through the store's writer: each one whose space and point this
 * store holds is counted held (covered_items, fingerprints); *done is how
 * many from the first were, the first one the store cannot place yet (its
 * space or its point not imported yet) stopping there. */
int dc__relay_store_shared_covered(dc__relay_store *st, const dc__relay_covered *items, size_t n,
                                   size_t *done, dc__err *err);
/* A number that moves whenever a clear point here moves (the sum of the
 * store's compaction points): the shared log is worth trimming again. */
int dc__relay_store_compact_mark(dc__relay_store *st, int64_t *mark, dc__err *err);

/* Opens (creating if absent) the relay's SQLite store at `path`, a
 * keyless replica opened durable (synchronous=FULL).  `clock` (may be
 * NULL) is the wall clock. */
int dc__relay_store_open_sqlite(dc__relay_store **out, const char *path, dc_clock_fn clock,
                                void *clock_user, dc__err *err);
/* A store over a replica the caller opened and keeps (`drivercore
 * serve`); close leaves the replica open. */
int dc__relay_store_wrap(dc__relay_store **out, dc_replica *r, dc__err *err);

/* The replica behind a store (the attachment endpoints, relay/attach.c,
 * keep their objects in its tables). */
dc_replica *dc__relay_store_replica(dc__relay_store *st);

/* The relay's store, under its store lock (metrics.c): every call on it
 * between lock and unlock is serialised with the sync steps. */
struct dc_relay;
dc__relay_store *dc__relay_store_lock(struct dc_relay *rl);
void dc__relay_store_unlock(struct dc_relay *rl);
/* The relay's quota of solo bytes per device (< 0: none), and a refusal
 * past it counted (the attachment endpoints, relay/attach.c). */
int64_t dc__relay_solo_quota(struct dc_relay *rl);

#endif
