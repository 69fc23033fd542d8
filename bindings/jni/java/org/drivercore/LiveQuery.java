/*
 * A query kept open on a replica (dc_live in include/drivercore/record.h):
 * close() stops it and releases its listener.  Idempotent; may be called
 * from the listener itself, and after the replica is closed.
 */
package org.drivercore;

public final class LiveQuery implements AutoCloseable {
    private final Replica replica;
    private long handle;

    LiveQuery(Replica replica, long handle) {
        this.replica = replica;
        this.handle = handle;
    }

    public boolean isOpen() {
        synchronized (replica) {
            return handle != 0;
        }
    }

    @Override
    public void close() {
        synchronized (replica) {
            if (handle != 0) {
                long h = handle;
                handle = 0;
                replica.forget(this);
                Native.liveClose(h);
            }
        }
    }
}
