/*
 * One page of a query's result: the records, and how many matched in all.
 */
package org.drivercore;

import java.util.List;

public final class RecordPage {
    private final List<Record> records;
    private final long total;

    RecordPage(List<Record> records, long total) {
        this.records = records;
        this.total = total;
    }

    public List<Record> records() {
        return records;
    }

    /** The page of the native result handle rs (not freed here). */
    static RecordPage of(long rs) {
        int n = Native.recordsCount(rs);
        java.util.List<Record> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(Record.decode(Native.recordsAt(rs, i)));
        }
        return new RecordPage(java.util.Collections.unmodifiableList(out),
                Native.recordsTotal(rs));
    }

    /** Every match, before paging. */
    public long total() {
        return total;
    }
}
