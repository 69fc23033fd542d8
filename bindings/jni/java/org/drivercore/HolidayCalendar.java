/*
 * The holiday calendar the 12328 deadlines are counted in (dc_calendar in
 * include/drivercore/calendar.h): the one published in a space (the usual
 * way: the province publishes the year's schedule), or parsed from its TSV.
 * Without one, deadlines count plain Monday to Friday.  Close it when done.
 */
package org.drivercore;

public final class HolidayCalendar implements AutoCloseable {
    private long handle;

    private HolidayCalendar(long handle) {
        this.handle = handle;
    }

    /** The calendar published in space (calendar publish). */
    public static HolidayCalendar fromSpace(Replica replica, String space) {
        synchronized (replica) {
            return new HolidayCalendar(Native.calendarFromSpace(replica.h(), Native.utf8z(space)));
        }
    }

    /** A calendar from its TSV text (docs/domain.md). */
    public static HolidayCalendar parse(byte[] tsv) {
        return new HolidayCalendar(Native.calendarParse(tsv));
    }

    synchronized long h() {
        return handle;
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            Native.calendarFree(handle);
            handle = 0;
        }
    }
}
