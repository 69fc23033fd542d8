/*
 * A replica's sync status (dc_replica_sync_status), for a status screen:
 * the clock offset from the relay, what is not yet acknowledged or kept
 * aside, and the sync client's last outcome in words.
 */
package org.drivercore;

import java.nio.charset.StandardCharsets;

public final class SyncStatus {
    /** The relay's clock minus this device's. */
    public final long clockOffsetMs;
    /** When a relay last acknowledged (ms since the epoch), 0 never. */
    public final long lastRelaySyncMs;
    /** Changes written here that no relay has acknowledged as stored. */
    public final long unacked;
    public final long held;
    public final long opaque;
    public final long rejected;
    public final long unauthorised;
    public final long future;
    /** Whether the sync client has run on this replica. */
    public final boolean hasLastSync;
    /** Whether its last sync succeeded. */
    public final boolean ok;
    public final long lastAttemptMs;
    /** When it last succeeded, 0 never. */
    public final long lastOkMs;
    /** Failed syncs since the last success. */
    public final long failures;
    public final long attempts;
    /** "" when ok, else unreachable, timeout, broken, server, busy, auth, ... */
    public final String reason;
    /** Why the last sync failed, in words a support person can act on; "" when ok. */
    public final String error;
    public final String peer;

    SyncStatus(Object[] d) {
        long[] v = (long[]) d[0];
        clockOffsetMs = v[0];
        lastRelaySyncMs = v[1];
        unacked = v[2];
        held = v[3];
        opaque = v[4];
        rejected = v[5];
        unauthorised = v[6];
        future = v[7];
        hasLastSync = v[8] != 0;
        ok = v[9] != 0;
        lastAttemptMs = v[10];
        lastOkMs = v[11];
        failures = v[12];
        attempts = v[13];
        reason = new String((byte[]) d[1], StandardCharsets.UTF_8);
        error = new String((byte[]) d[2], StandardCharsets.UTF_8);
        peer = new String((byte[]) d[3], StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return hasLastSync ? (ok ? "synced" : "sync failed (" + reason + "): " + error)
                + ", " + unacked + " unacknowledged" : "never synced, " + unacked + " unacknowledged";
    }
}
