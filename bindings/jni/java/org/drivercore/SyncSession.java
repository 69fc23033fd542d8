/*
 * A sync session between this replica and one peer (dc_sync in
 * include/drivercore/sync.h).  It is sans-IO: step() consumes the peer's last
 * message and returns the next one to send, and the caller carries the bytes
 * over whatever link it has.  The initiator's first step takes no input:
 *
 *   try (SyncSession s = replica.sync(SyncRole.INITIATOR)) {
 *       byte[] out = s.step(null);
 *       while (out.length > 0) {
 *           byte[] in = link.exchange(out);   // the peer's reply
 *           if (in.length == 0) break;
 *           out = s.step(in);
 *       }
 *   }
 *
 * A session that fails (a bad message, a refused bundle) is spent: start a
 * new one; what was already imported stays, whole bundles only.
 *
 * The C session borrows its replica, so it must not outlive it: close()
 * frees it, and closing the Replica closes its sessions first.  No finalizer,
 * for the reason given in Replica.  Thread safety: as the Replica (every call
 * locks it).
 */
package org.drivercore;

public final class SyncSession implements AutoCloseable {
    private final Replica replica;
    private long handle;
    private boolean done;
    private final boolean[] doneOut = new boolean[1];

    SyncSession(Replica replica, long handle) {
        this.replica = replica;
        this.handle = handle;
    }

    private long s() {
        if (handle == 0) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "the sync session is closed");
        }
        return handle;
    }

    /**
     * One step: in is the peer's last message, or null for the initiator's
     * first step.  Returns the message to send, an empty array when there is
     * none.  When isDone() then turns true, send the result if it is not
     * empty and stop.  Throws ECORRUPT, EVERSION or ETOOBIG for a bad
     * message, any bundle-import error for the changes it carried (nothing of
     * that bundle was imported), EMISUSE for a step out of turn.
     */
    public byte[] step(byte[] in) {
        synchronized (replica) {
            long r = replica.h();
            doneOut[0] = false;
            byte[] out = Native.syncStep(r, s(), in, doneOut);
            done = doneOut[0];
            return out;
        }
    }

    /** Whether this side has finished (set by the last successful step). */
    public boolean isDone() {
        synchronized (replica) {
            return done;
        }
    }

    /**
     * The session's figures as JSON: {"bytes_sent": N, "bytes_received": N,
     * "round_trips": N, "changes_sent": N, "changes_received": N,
     * "spaces": N, "clock_offset_ms": N, "set_aside": N, "compacted": N,
     * "snapshot_needed": N} (drivercore/sync.h, dc_sync_report).
     */
    public String report() {
        synchronized (replica) {
            return Native.str(Native.syncReport(replica.h(), s()));
        }
    }

    /**
     * On the initiator, after a finished session with a relay: adopts the
     * relay's clock offset, records the time of this sync, and counts this
     * device's changes as held by the relay.  EMISUSE before the end, EINVAL
     * for an offset beyond 30 days.
     */
    public void noteRelay() {
        synchronized (replica) {
            Native.syncNoteRelay(replica.h(), s());
        }
    }

    /** Frees the native session.  Idempotent. */
    @Override
    public void close() {
        synchronized (replica) {
            if (handle != 0) {
                long h = handle;
                handle = 0;
                replica.syncEnded(this);
                Native.syncFree(h);
            }
        }
    }

    public boolean isClosed() {
        synchronized (replica) {
            return handle == 0;
        }
    }
}
