/*
 * Sync sessions over a port (sync/session.c, sync/port.h), as the code
 * that creates and drives them sees them: a replica's public calls
 * (replica/sync_port.c), a relay's stores (relay/) and the sync client
 * (client/).  The relay's hooks are here too: the device a responder has
 * authenticated, and a filter deciding which spaces that device may
 * reconcile.  A refused space is answered with an explicit refusal so the
 * initiator stops waiting for it; nothing of it is sent.
 */
#ifndef DC_SYNC_SESSION_H
#define DC_SYNC_SESSION_H

#include "base/base.h"
#include "drivercore/sync.h"
#include "sync/port.h"

/* A session in `role` (DC_SYNC_INITIATOR or DC_SYNC_RESPONDER) over
 * `port` (copied; its close, if any, runs with dc_sync_free, also when
 * this fails).  DC_ENOMEM or 0. */
int dc__sync_new_port(dc_sync **out, const dc__sync_port *port, int role);
/* A responder session over a store that is not a replica: a relay's (a
 * keyless SQLite file served by many threads at once, or PostgreSQL shared
 * by many relay processes).  DC_ENOMEM or 0. */
int dc__sync_new_backend(dc_sync **out, const dc__sync_backend *be);
/* The last error of a session (over a backend there is no replica to
 * hold it). */
const dc__err *dc__sync_err(const dc_sync *s);

/* May `device` reconcile `space`?  (Called by a responder.) */
typedef bool (*dc__sync_filter_fn)(void *user, const uint8_t space[16], const uint8_t device[32]);

/* Before the first step of a responder: the peer is `device` (its hello
 * must name the same), and `allow` (may be NULL: everything) filters the
 * spaces it offers.  DC_EMISUSE after the first step. */
int dc__sync_set_peer(dc_sync *s, const uint8_t device[32], dc__sync_filter_fn allow, void *user);

/* A session's figures, as dc_sync_report prints them (for the sync
 * client, which sums the sessions of one sync). */
typedef struct dc__sync_figures {
    uint64_t bytes_sent, bytes_received, round_trips, changes_sent, changes_received, spaces;
    int64_t clock_offset_ms;
    int64_t clock_error_ms; /* how far clock_offset_ms may be off; -1: unknown */
    uint64_t set_aside;
} dc__sync_figures;
void dc__sync_get_figures(const dc_sync *s, dc__sync_figures *f);

/* How an initiator's session with a relay ended, for dc_sync_note_relay
 * (replica/sync_port.c): the session's port, the clock offset seen and the
 * part of it adopted, whether the relay's clock read no plausible time,
 * and (dc__sync_each_space) each space's port handle (NULL: a space the
 * store did not know) with whether the relay refused it.  o->port is
 * always filled; the call returns DC_EMISUSE unless the session is an
 * initiator's and finished. */
typedef struct dc__sync_outcome {
    const dc__sync_port *port;
    int64_t clock_offset, adopted;
    bool clock_doubt;
} dc__sync_outcome;
int dc__sync_outcome_get(const dc_sync *s, dc__sync_outcome *o);
/* Calls fn with the handle and refusal of each space of the session. */
int dc__sync_each_space(const dc_sync *s, int (*fn)(void *fu, void *sp, bool peer_refused),
                        void *fu);

#endif
