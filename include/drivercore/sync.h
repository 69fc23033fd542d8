/*
 * drivercore — sync sessions (docs/protocol.md, "Sessions").
 *
 * Sans-IO: a session produces the next message and consumes the peer's;
 * the caller carries the bytes over whatever link exists (a socket, HTTP,
 * a file).  For every space either side holds, the two sides find by
 * range-based reconciliation which changes the other lacks, then push
 * them as bundles, which are imported all or nothing.  A device also
 * receives the spaces it has been added to that it did not know yet.
 *
 * A session cut at any message leaves both replicas consistent (each
 * bundle is imported whole or not at all); the next session does not
 * resend what already arrived.
 *
 * Thread safety: a session belongs to the thread using its replica; the
 * replica must not have an open transaction while a session steps.
 */
#ifndef DRIVERCORE_SYNC_H
#define DRIVERCORE_SYNC_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_sync dc_sync;

enum { DC_SYNC_INITIATOR = 1, DC_SYNC_RESPONDER = 2 };

/* A new session on `r` (borrowed: it must outlive the session). */
DC_EXTERN int dc_sync_new(dc_sync **out, dc_replica *r, int role);

/*
 * One step.  The initiator's first call passes no input (NULL, 0); every
 * later call passes the peer's last message.  `out` receives the message
 * to send (it may be empty).  *done is set when this side is finished:
 * send `out` if it is not empty, and stop.  Errors: DC_ECORRUPT,
 * DC_EVERSION, DC_ETOOBIG for a bad message (start a new session), any
 * error of bundle import for the changes it carried (nothing of that
 * bundle was imported), DC_EMISUSE for a call out of turn.
 */
DC_EXTERN int dc_sync_step(dc_sync *s, dc_buf *out, int *done, const uint8_t *in, size_t n);

/*
 * The session's figures as JSON: {"bytes_sent": N, "bytes_received": N,
 * "round_trips": N, "changes_sent": N, "changes_received": N, "spaces": N,
 * "clock_offset_ms": N} — bytes are of the protocol's messages as sent;
 * round trips count the initiator's messages; the clock offset is the
 * peer's wall clock minus ours (as it was before this session), estimated
 * from every message received (docs/protocol.md, "The peer's clock"): with
 * a relay whose clock we trust, the correction adopted; else the midpoint
 * of what the exchange bounds it to; "set_aside": envelopes received that
 * were set aside; "compacted" and "snapshot_needed": as dc_bundle_import's
 * report, for the compaction done once the session ended (0 until then);
 * "clock_error_ms": the most the clock offset can be off, given the round
 * trips it was measured over (null while unbounded: a responder's first).
 */
DC_EXTERN int dc_sync_report(dc_buf *out, const dc_sync *s);

/*
 * Call on an initiator before its first step when the peer is a relay: the
 * relay's clock is this device's time (docs/data-model.md, "Clocks").  From
 * the relay's first message on, the session corrects this replica's clock
 * by the relay's — whatever the offset, hours or months; only when what
 * the round trips measure excludes the correction in place, and then to
 * within half of one (docs/protocol.md, "The peer's clock") — so that what the
 * sync brings is judged by the corrected clock and a phone whose clock is
 * wrong joins its spaces at its first sync.  A relay whose clock reads no
 * plausible time (before 2020, after 2199) corrects nothing.  Without this
 * call (a direct peer), the peer's clock is not adopted, but its changes
 * stamped up to a week ahead of ours are accepted in that session.
 * DC_EMISUSE on a responder or after the first step.
 */
DC_EXTERN int dc_sync_trust_peer_clock(dc_sync *s);

/*
 * Call on the initiator after a session with a relay finished (*done): the
 * relay's clock is authoritative, so the offset it showed is stored as the
 * correction this replica applies to its wall clock (DC_EINVAL if the
 * relay's clock read no plausible time), the time of this sync is
 * recorded, and for each space the session reconciled, every change this
 * device had written when the session began counts as durably held by the
 * relay (dc_replica_status: "unacked").  DC_EMISUSE before the end.
 */
DC_EXTERN int dc_sync_note_relay(dc_sync *s);

/*
 * Initiator only, before any step (it then holds for every later one until
 * called again): the largest bundle of changes either side should put in
 * one message, rounded down to a power of two between 4 KiB and 4 MiB (the
 * default, and the cap).  Our own pushes use it at once; the peer is asked
 * for it in byte 6 of our next message (docs/protocol.md).  On a slow link
 * small bundles make each message short, so a cut loses little: each
 * bundle is imported whole on arrival.  A bundle may exceed the size by
 * its last change.  DC_EMISUSE on a responder.
 */
DC_EXTERN int dc_sync_set_chunk(dc_sync *s, size_t bytes);

DC_EXTERN void dc_sync_free(dc_sync *s);

#ifdef __cplusplus
}
#endif
#endif
