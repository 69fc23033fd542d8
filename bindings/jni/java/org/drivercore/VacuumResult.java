/*
 * What Replica.vacuum() gave back (dc_replica_vacuum_typed).
 */
package org.drivercore;

public final class VacuumResult {
    /** The database's size in bytes (pages times page size) before. */
    public final long bytesBefore;
    /** Its size after. */
    public final long bytesAfter;
    /** Its free pages before: what the vacuum gave back. */
    public final long freePagesBefore;

    VacuumResult(long[] v) {
        bytesBefore = v[0];
        bytesAfter = v[1];
        freePagesBefore = v[2];
    }

    @Override
    public String toString() {
        return "VacuumResult{bytesBefore=" + bytesBefore + ", bytesAfter=" + bytesAfter
                + ", freePagesBefore=" + freePagesBefore + "}";
    }
}
