/*
 * The library's sync client (dc_client in include/drivercore/client.h): one
 * sync of a replica with a relay (or a tablet's `drivercore serve`) over the
 * app's HTTP — authentication with the device key, the session loop,
 * retries with backoff and jitter, long-poll — so that no app rewrites them.
 *
 * A sync can take minutes on a weak link, and the replica serves one call
 * at a time: give the sync its own Replica opened on the same file (the
 * library lets several handles share a file), and run syncNow on a worker
 * (WorkManager on Android).  cancel() may be called from any thread.
 * Replica.status() says when the last sync succeeded and, if not, why.
 */
package org.drivercore;

public final class SyncClient implements AutoCloseable {
    private final Replica replica;
    private volatile long handle;
    private volatile Replica refresh;
    private volatile java.util.function.Consumer<SyncStatus> onStatus;

    private SyncClient(Replica replica, long handle) {
        this.replica = replica;
        this.handle = handle;
    }

    /**
     * A client of replica with the relay at url ("http://host:port", "https://..."),
     * over transport (null: a UrlConnectionTransport), with the library's retry
     * policy (6 attempts, backoff from 500 ms with full jitter).
     */
    public static SyncClient open(Replica replica, String url, HttpTransport transport) {
        return open(replica, url, transport, 0, 0);
    }

    /** The same with maxAttempts per sync (0: 6) and the first backoff (0: 500 ms). */
    public static SyncClient open(Replica replica, String url, HttpTransport transport,
                                  int maxAttempts, long backoffBaseMs) {
        HttpTransport t = transport != null ? transport : new UrlConnectionTransport();
        synchronized (replica) {
            return new SyncClient(replica, Native.clientNew(replica.h(), Native.utf8z(url), t,
                    maxAttempts, backoffBaseMs));
        }
    }

    private long c() {
        long h = handle;
        if (h == 0) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "the sync client is closed");
        }
        return h;
    }

    /**
     * After each sync, ui.refresh(): the live queries of the app's own Replica
     * on the same file hear of what the sync brought, on this thread.
     */
    public SyncClient refreshing(Replica ui) {
        this.refresh = ui;
        return this;
    }

    /**
     * The status stream: after each sync, succeeded or not, the listener gets
     * the replica's status on this thread (for a Flow: trySend it).
     */
    public SyncClient onStatus(java.util.function.Consumer<SyncStatus> listener) {
        this.onStatus = listener;
        return this;
    }

    /** One sync, retried on transient failures; throws the last attempt's error. */
    public SyncReport syncNow() {
        SyncReport report;
        try {
            synchronized (replica) {
                Native.clientSync(replica.h(), c());
                report = new SyncReport(Native.clientFigures(c()));
            }
        } finally {
            Replica ui = refresh;
            if (ui != null && ui != replica && !ui.isClosed()) {
                ui.refresh(); // even after a failure: a sync may apply part of what came
            }
            java.util.function.Consumer<SyncStatus> l = onStatus;
            if (l != null && !replica.isClosed()) {
                l.accept(replica.syncStatus());
            }
        }
        return report;
    }

    /** Long-poll: waits up to timeoutS (0..60) s; true when others wrote since (then syncNow). */
    public boolean waitForChanges(int timeoutS) {
        synchronized (replica) {
            return Native.clientWait(replica.h(), c(), timeoutS);
        }
    }

    /** Stops a sync or wait in flight soon (it fails with EUSER); any thread. */
    public void cancel() {
        long h = handle;
        if (h != 0) {
            Native.clientCancel(h);
        }
    }

    @Override
    public void close() {
        synchronized (replica) {
            long h = handle;
            handle = 0;
            if (h != 0) {
                Native.clientFree(h);
            }
        }
    }
}
