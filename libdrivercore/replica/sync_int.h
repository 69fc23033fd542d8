/*
 * The relay's hooks into a sync session (replica/sync.c): the device a
 * responder has authenticated, and a filter deciding which spaces that
 * device may reconcile.  A refused space is answered with an explicit
 * refusal so the initiator stops waiting for it; nothing of it is sent.
 */
#ifndef DC_SYNC_INT_H
#define DC_SYNC_INT_H

#include "base/base.h"
#include "sync/recon.h"

/* May `device` reconcile `space`?  (Called by a responder.) */
typedef bool (*dc__sync_filter_fn)(void *user, const uint8_t space[16], const uint8_t device[32]);

/* Before the first step of a responder: the peer is `device` (its hello
 * must name the same), and `allow` (may be NULL: everything) filters the
 * spaces it offers.  DC_EMISUSE after the first step. */
int dc__sync_set_peer(dc_sync *s, const uint8_t device[32], dc__sync_filter_fn allow, void *user);

/* Is `device` a member (any role) of `space`, by the membership this
 * replica holds?  Reads only clear membership: no key needed. */
bool dc__replica_is_member(dc_replica *r, const uint8_t space[16], const uint8_t device[32]);

/* Calls fn with each member device (any role) of `space`, in key order. */
int dc__replica_space_devices(dc_replica *r, const uint8_t space[16],
                              int (*fn)(void *user, const uint8_t device[32]), void *user);

/* A session's figures, as dc_sync_report prints them (for the sync
 * client, which sums the sessions of one sync). */
typedef struct dc__sync_figures {
    uint64_t bytes_sent, bytes_received, round_trips, changes_sent, changes_received, spaces;
    int64_t clock_offset_ms;
    uint64_t set_aside;
} dc__sync_figures;
void dc__sync_get_figures(const dc_sync *s, dc__sync_figures *f);

/*
 * A responder over a store that is not a replica: a relay's (a keyless
 * SQLite file served by many threads at once, or PostgreSQL shared by many
 * relay processes).  The session is the same protocol and the same code;
 * only where items, envelopes and imports come from differs.  Every
 * function runs on the thread calling dc_sync_step; a store binds its own
 * connection to that thread.  Errors: a DC_ code with `err` filled.
 */
typedef struct dc__sync_backend {
    void *user;
    /* The store's wall clock, ms since the epoch (a relay's is the one
     * devices adopt). */
    int64_t (*wall_ms)(void *user);
    /* Opens space `id` for a session: *sp is the store's handle (NULL when
     * the store does not know the space: the session then reconciles it
     * against an empty set) and *set its item set, valid until
     * space_close. */
    int (*space_open)(void *user, const uint8_t id[16], void **sp, dc__recon_set *set,
                      dc__err *err);
    void (*space_close)(void *user, void *sp);
    /* Every item of a space, in order (a space pushed whole). */
    int (*space_items)(void *user, void *sp, int (*fn)(void *, uint64_t, const uint8_t[32]),
                       void *fu, dc__err *err);
    /* Appends the envelope of item (hlc, id) to a bundle being built. */
    int (*bundle_add)(void *user, void *sp, dc_buf *bundle, uint64_t hlc, const uint8_t id[32],
                      dc__err *err);
    /* The spaces whose membership names `device` with a role. */
    int (*spaces_of)(void *user, const uint8_t device[32], int (*fn)(void *, const uint8_t[16]),
                     void *fu, dc__err *err);
    /* Imports a bundle the peer pushed, setting aside what is malformed or
     * forged, durably before it returns; `lead_ms` is how far ahead of the
     * store's clock the peer's clock may be for what it sends. */
    int (*import)(void *user, const uint8_t *bundle, size_t n, int64_t lead_ms, uint64_t *fresh,
                  uint64_t *set_aside, dc__err *err);
} dc__sync_backend;

/* A responder session over `be` (copied).  DC_ENOMEM or 0. */
int dc__sync_new_backend(dc_sync **out, const dc__sync_backend *be);
/* The last error of a session (over a backend there is no replica to
 * hold it). */
const dc__err *dc__sync_err(const dc_sync *s);

#endif
