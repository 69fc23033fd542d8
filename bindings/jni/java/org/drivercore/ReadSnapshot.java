/*
 * A read snapshot of a replica (dc_replica_read_begin/_end in
 * include/drivercore/record.h), from Replica.readSnapshot(): while it is
 * open, the Replica's reads see one state of the file.  close() ends it;
 * idempotent (a second close does nothing, so a snapshot is never ended
 * twice in C), and harmless after the replica is closed (closing the
 * replica ends its reads).  Use try-with-resources.
 */
package org.drivercore;

public final class ReadSnapshot implements AutoCloseable {
    private final Replica replica;
    private boolean open = true;

    ReadSnapshot(Replica replica) {
        this.replica = replica;
    }

    public boolean isOpen() {
        synchronized (replica) {
            return open;
        }
    }

    @Override
    public void close() {
        synchronized (replica) {
            if (open) {
                open = false;
                replica.readEnd();
            }
        }
    }
}
