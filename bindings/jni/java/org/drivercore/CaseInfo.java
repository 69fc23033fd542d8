/*
 * A grievance, typed (dc_case_info): its fields, status, level and the four
 * deadlines of the 12328 rule with when each was met.  Its steps are the
 * events of its `case` record (Replica.read).  Times in ms since the epoch,
 * -1 when none.
 */
package org.drivercore;

import java.nio.charset.StandardCharsets;

public final class CaseInfo {
    /** The deadlines, in the order of due/done/estimated. */
    public static final String[] DEADLINES = {"transfer", "feedback", "reply", "revisit"};

    public final String id, space, driver, channel, category, region, at, level, routed;
    /** received, transferred, in_progress, resolved, revisited or closed. */
    public final String status;
    public final boolean open, emergency, hasAmount;
    public final long amount, receivedMs, resolvedMs;
    public final long[] dueMs = new long[4], doneMs = new long[4];
    public final boolean[] estimated = new boolean[4];
    public final int revisits, satisfiedRevisits, reopened;

    CaseInfo(Object[] d) {
        long[] v = (long[]) d[0];
        Object[] t = (Object[]) d[1];
        String[] s = new String[10];
        for (int i = 0; i < 10; i++) {
            s[i] = new String((byte[]) t[i], StandardCharsets.UTF_8);
        }
        id = s[0];
        space = s[1];
        driver = s[2];
        channel = s[3];
        category = s[4];
        region = s[5];
        at = s[6];
        level = s[7];
        routed = s[8];
        status = s[9];
        emergency = v[0] != 0;
        hasAmount = v[1] != 0;
        amount = v[2];
        receivedMs = v[3];
        resolvedMs = v[4];
        for (int k = 0; k < 4; k++) {
            dueMs[k] = v[5 + k];
            doneMs[k] = v[9 + k];
            estimated[k] = v[13 + k] != 0;
        }
        revisits = (int) v[17];
        satisfiedRevisits = (int) v[18];
        reopened = (int) v[19];
        open = v[20] != 0;
    }

    /** The next deadline not yet met, or -1. */
    public long nextDueMs() {
        long next = -1;
        for (int k = 0; k < 4; k++) {
            if (dueMs[k] >= 0 && doneMs[k] < 0 && (next < 0 || dueMs[k] < next)) {
                next = dueMs[k];
            }
        }
        return next;
    }
}
