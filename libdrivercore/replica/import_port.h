/*
 * The replica's face to a relay's store (relay/store_sqlite.c, commit.h,
 * relay_store.h, store_replica.c): importing bundles, alone or a group of
 * them in one transaction (group commit, a log shared by several relays),
 * with typed counts; the fingerprints a relay's store keeps beside its log;
 * the size of a space's log.  Implemented in replica/bundle_io.c (the
 * import) and replica/import_port.c; nothing of the handle's insides.
 */
#ifndef DC_REPLICA_IMPORT_PORT_H
#define DC_REPLICA_IMPORT_PORT_H

#include "base/base.h"
#include "drivercore/replica.h"

struct dc__store;

/* The figures of one import. */
typedef struct dc__import_counts {
    uint64_t envelopes, fresh, dup, held, opaque, released, rejected, unauthorised, set_aside,
        future;
    /* Compaction once the import ended: envelopes dropped, and spaces whose
     * published point this replica cannot reach (a snapshot is needed). */
    uint64_t compacted, snapshot_needed;
} dc__import_counts;

/* The signatures of a bundle's envelopes, checked here, on the caller's
 * thread (a relay checks them on the thread of the request, outside any
 * lock, before its store's writer imports the bundle): *checked (one byte
 * per envelope, in bundle order; dc__malloc'd) for dc__import_group.
 * DC_ENOMEM, or 0 (an unreadable bundle checks nothing: *n = 0). */
int dc__bundle_precheck(const uint8_t *data, size_t size, uint8_t **checked, size_t *n);

/* One bundle of a group import. */
typedef struct dc__import_req {
    const uint8_t *data;
    size_t size;
    int64_t lead_ms;        /* the pushing peer's clock lead accepted (sync/session.c) */
    const uint8_t *checked; /* dc__bundle_precheck's answer, or NULL: checked here */
    size_t nchecked;
    bool shared; /* came from a log shared by several relays (not published again) */
    /* Called inside the bundle's savepoint once it is in, before the
     * savepoint is released (may be NULL): an error rolls this bundle back
     * alone and is its rc (a relay's storage quota, relay/store_sqlite.c). */
    int (*check)(void *user, struct dc__store *st, dc__err *err);
    void *check_user;
    dc__import_counts counts; /* out */
    int rc;                   /* out: 0, or why this bundle went in not at all */
    dc__err err;              /* out */
} dc__import_req;

/*
 * Imports several bundles, each as DC__IMPORT_SET_ASIDE does (a bad
 * envelope is set aside, the rest goes in), in ONE store transaction: a
 * relay's group commit, one fsync for the bundles of many sessions.  Each
 * bundle runs in a savepoint of its own, so one that fails (out of memory,
 * a store error) is rolled back alone and the others stand.  Returns 0
 * when the transaction committed (each request then holds its own rc and
 * counts), or the commit's error, which every request then carries too.
 */
int dc__import_group(dc_replica *r, dc__import_req *reqs, size_t n, dc__err *err);
/* dc__import_group, calling `hook` inside the transaction once every
 * bundle is in and before the commit: an error from it rolls the whole
 * group back (every request then carries it).  A relay publishes the group
 * to a shared log there, so that nothing is kept here that the log has
 * not. */
typedef int (*dc__import_hook_fn)(void *user, const dc__import_req *reqs, size_t n, dc__err *err);
int dc__import_group_with(dc_replica *r, dc__import_req *reqs, size_t n, dc__import_hook_fn hook,
                          void *hook_user, dc__err *err);

/* Makes the replica keep the reconciliation fingerprints beside its log
 * (a relay's store: the sessions it answers read them). */
int dc__replica_fp_enable(dc_replica *r, dc__err *err);

/* What the replica keeps of space `space`: *envelopes in its log (any
 * kind and state), *covered items of envelopes compacted away
 * (docs/relay.md, "Compaction"); DC_ENOTFOUND when it is not held. */
int dc__replica_space_log(dc_replica *r, const uint8_t space[16], int64_t *envelopes,
                          int64_t *covered, dc__err *err);

#endif
