/*
 * A local transaction on the records of one space (dc_txn in
 * include/drivercore/txn.h).  Operations collect in the native transaction;
 * commit() turns them into one signed, encrypted change and stores it
 * atomically.  The native transaction is freed by commit (whether or not it
 * succeeds) and by rollback, so after either this object is spent.  close()
 * rolls back an uncommitted transaction, which makes try-with-resources safe
 * on every path:
 *
 *   try (Txn t = space.begin()) {
 *       t.set("truck", "t1", "plate", "B-123");
 *       t.commit();
 *   }
 *
 * Methods return this so operations chain.  Thread safety: as the Replica
 * (every call locks it).
 */
package org.drivercore;

public final class Txn implements AutoCloseable {
    private final Replica replica;
    private long handle;

    Txn(Replica replica, long handle) {
        this.replica = replica;
        this.handle = handle;
    }

    private long t() {
        if (handle == 0) {
            throw new DriverCoreException(DriverCoreError.EMISUSE,
                    "the transaction was already committed or rolled back");
        }
        return handle;
    }

    private Txn field(int op, String type, String id, String field, Object value) {
        Values v = Values.of(value);
        synchronized (replica) {
            Native.txnField(replica.h(), t(), op, Native.utf8z(type), Native.utf8z(id),
                    Native.utf8z(field), v.kind, v.num, v.real, v.raw);
        }
        return this;
    }

    /** Sets register field of the record (last writer wins). */
    public Txn set(String type, String id, String field, Object value) {
        return field(Native.OP_SET, type, id, field, value);
    }

    /** Adds a value to set field of the record (add-wins). */
    public Txn add(String type, String id, String field, Object value) {
        return field(Native.OP_ADD, type, id, field, value);
    }

    /** Removes a value from set field (the adds of it this replica has seen). */
    public Txn remove(String type, String id, String field, Object value) {
        return field(Native.OP_REMOVE, type, id, field, value);
    }

    /** Starts a new event on the record; fill it with eventField. */
    public Txn event(String type, String id) {
        synchronized (replica) {
            Native.txnEvent(replica.h(), t(), Native.utf8z(type), Native.utf8z(id));
        }
        return this;
    }

    /** Adds a key/value to the event most recently started. */
    public Txn eventField(String key, Object value) {
        Values v = Values.of(value);
        synchronized (replica) {
            Native.txnEventField(replica.h(), t(), Native.utf8z(key), v.kind, v.num, v.real,
                    v.raw);
        }
        return this;
    }

    /** Deletes the record. */
    public Txn delete(String type, String id) {
        synchronized (replica) {
            Native.txnDelete(replica.h(), t(), Native.utf8z(type), Native.utf8z(id));
        }
        return this;
    }

    /** Operations collected so far. */
    public long opCount() {
        synchronized (replica) {
            return Native.txnOpCount(t());
        }
    }

    /**
     * Commits: one change, stored and applied atomically.  Returns the
     * change's hex id ("" if there were no operations).  The transaction is
     * spent afterwards, whether or not commit succeeded; on failure nothing
     * was written.
     */
    public String commit() {
        synchronized (replica) {
            long h = t();
            long r = replica.h();
            handle = 0; // the C library frees the transaction on every path
            replica.txnEnded(this);
            return Native.str(Native.txnCommit(r, h));
        }
    }

    /** Abandons the transaction.  A no-op once committed or rolled back. */
    public void rollback() {
        synchronized (replica) {
            if (handle != 0) {
                long h = handle;
                handle = 0;
                replica.txnEnded(this);
                Native.txnRollback(h);
            }
        }
    }

    /** Rolls back unless committed. */
    @Override
    public void close() {
        rollback();
    }

    public boolean isOpen() {
        synchronized (replica) {
            return handle != 0;
        }
    }
}
