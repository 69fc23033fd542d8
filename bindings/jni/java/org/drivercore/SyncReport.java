/*
 * The figures of the last SyncClient.syncNow (dc_client_report): what
 * crossed, summed over its sessions.
 */
package org.drivercore;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    private SyncReport(String json) {
        bytesSent = num(json, "bytes_sent");
        bytesReceived = num(json, "bytes_received");
        roundTrips = num(json, "round_trips");
        changesSent = num(json, "changes_sent");
        changesReceived = num(json, "changes_received");
        spaces = num(json, "spaces");
        clockOffsetMs = num(json, "clock_offset_ms");
        setAside = num(json, "set_aside");
    }

    /** The library's report is a flat object of integers (include/drivercore/client.h). */
    private static long num(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":(-?[0-9]+)").matcher(json);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    static SyncReport parse(String json) {
        return new SyncReport(json);
    }

    @Override
    public String toString() {
        return "SyncReport(sent " + changesSent + ", received " + changesReceived + " changes, "
                + roundTrips + " round trips)";
    }
}
