/*
 * Grievances under the 12328 rule (include/drivercore/grievance.h): a
 * driver files one (offline too), handlers add steps, and every replica
 * holding the same steps shows the same status and deadlines.  cal may be
 * null (plain Monday to Friday).  docs/domain.md, "Grievance rules".
 */
package org.drivercore;

public final class Cases {
    private Cases() {
    }

    /** What a filing says; channel, category and text are required. */
    public static final class Filing {
        public String driver;
        public String channel = "app";
        public String category;
        public String text;
        public String region;
        public boolean emergency;
        /** Yuan at stake (unpaid freight, ...); 0 none. */
        public long amount;
        /** Transfer it at once to the level the routing rule gives (needs region). */
        public boolean route;
    }

    private static long cal(HolidayCalendar c) {
        return c == null ? 0 : c.h();
    }

    /** Files a case into space, received now; returns its id. */
    public static String file(Replica r, HolidayCalendar cal, String space, Filing f) {
        return fileInfo(r, cal, space, f).id;
    }

    /** Files a case into space, received now; returns it typed, with its deadlines. */
    public static CaseInfo fileInfo(Replica r, HolidayCalendar cal, String space, Filing f) {
        Object[] texts = {Native.utf8z(f.driver), Native.utf8z(f.channel),
            Native.utf8z(f.category), Native.utf8z(f.text), Native.utf8z(f.region)};
        synchronized (r) {
            return new CaseInfo(Native.caseFile(r.h(), cal(cal), Native.utf8z(space), texts,
                    f.emergency, f.amount, f.route));
        }
    }

    /**
     * Adds a step: transfer (to required), feedback, reply, resolve, revisit
     * (satisfied 1 yes, 0 no, -1 not asked), reopen, close.
     */
    public static void step(Replica r, HolidayCalendar cal, String caseId, String action, String to,
                            String note, int satisfied) {
        synchronized (r) {
            Native.caseStep(r.h(), cal(cal), Native.utf8z(caseId), Native.utf8z(action),
                    Native.utf8z(to), Native.utf8z(note), satisfied);
        }
    }

    /** The case, typed; null when no space held has it.  space may be null. */
    public static CaseInfo get(Replica r, HolidayCalendar cal, String space, String caseId) {
        Object[] d;
        synchronized (r) {
            d = Native.caseGet(r.h(), cal(cal), Native.utf8z(space), Native.utf8z(caseId));
        }
        return d == null ? null : new CaseInfo(d);
    }
}
