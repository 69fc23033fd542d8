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

    /** Every match, before paging. */
    public long total() {
        return total;
    }
}
