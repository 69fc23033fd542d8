/*
 * What a live query delivers to (Replica.observe): the query's new page,
 * each time a change on the replica alters it.
 */
package org.drivercore;

public interface RecordListener {
    void onChange(RecordPage page);
}
