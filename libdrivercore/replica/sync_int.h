/*
 * The relay's hooks into a sync session (replica/sync.c): the device a
 * responder has authenticated, and a filter deciding which spaces that
 * device may reconcile.  A refused space is answered with an explicit
 * refusal so the initiator stops waiting for it; nothing of it is sent.
 */
#ifndef DC_SYNC_INT_H
#define DC_SYNC_INT_H

#include "base/base.h"

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

#endif
