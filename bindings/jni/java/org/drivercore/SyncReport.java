/*
 * The figures of the last SyncClient.syncNow (dc_client_figures_get): what
 * crossed, summed over its sessions.
 */
package org.drivercore;

public final class SyncReport {
    public final long bytesSent;
    public final long bytesReceived;
    public final long roundTrips;
    public final long changesSent;
    public final long changesReceived;
    public final long spaces;
    /** The relay's clock minus this device's, as its first session measured it. */
    public final long clockOffsetMs;
    /** Items of this sync set aside (status() says which and why). */
    public final long setAside;
    /**
     * Spaces whose published compaction point this replica misses covered
     * history for (a device that was away too long): the app must load a
     * snapshot from an admin (docs/data-model.md "Compaction").
     */
    public final long snapshotNeeded;

    /** From dc_client_figures_get, in the order of Native.clientFigures. */
    SyncReport(long[] v) {
        bytesSent = v[0];
        bytesReceived = v[1];
        roundTrips = v[2];
        changesSent = v[3];
        changesReceived = v[4];
        spaces = v[5];
        clockOffsetMs = v[6];
        setAside = v[7];
        snapshotNeeded = v[8];
    }

    @Override
    public String toString() {
        return "SyncReport(sent " + changesSent + ", received " + changesReceived + " changes, "
                + roundTrips + " round trips)";
    }
}
