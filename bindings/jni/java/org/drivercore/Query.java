/*
 * A query over the records of one type (dc_query_options in
 * include/drivercore/record.h): a filter on one field's value (a register
 * equal to it, or a set containing it), an order by one register, a page,
 * and whether events are read.  A builder; immutable once passed.
 * docs/reading.md says what it costs.
 */
package org.drivercore;

public final class Query {
    String whereField;
    Values whereValue;
    String orderBy;
    boolean descending;
    long offset;
    long limit;
    boolean withEvents = true;
    String id;
    boolean unacceptedEmpty;

    public Query where(String field, Object value) {
        this.whereField = field;
        this.whereValue = Values.of(value);
        return this;
    }

    /** Sorted by a register's value (records without it last), ties by id. */
    public Query orderBy(String field, boolean descending) {
        this.orderBy = field;
        this.descending = descending;
        return this;
    }

    /** Skip offset records, return at most limit (0: no limit). */
    public Query page(long offset, long limit) {
        if (offset < 0 || limit < 0) {
            throw new DriverCoreException(DriverCoreError.EINVAL,
                    "a page's offset and limit must not be negative");
        }
        this.offset = offset;
        this.limit = limit;
        return this;
    }

    /** Whether events are read (true by default); a list screen reads less without. */
    public Query withEvents(boolean events) {
        this.withEvents = events;
        return this;
    }

    /**
     * Only the record of this id, if it is live and matches the filter (a
     * lookup by key that also applies the filter); null: every record.
     */
    public Query id(String id) {
        this.id = id;
        return this;
    }

    /**
     * Whether a space this device has not accepted (an invitation not yet
     * answered, a declined space, one carried for others) reads as holding
     * no record instead of failing with EDENIED: for walks over every space
     * of {@link Replica#spaceIds()}.  False by default.
     */
    public Query unacceptedEmpty(boolean empty) {
        this.unacceptedEmpty = empty;
        return this;
    }
}
