/*
 * A replica: one SQLite file on one device, with that device's identity
 * (dc_replica in include/drivercore/replica.h).  This class owns the native
 * handle; close() releases it and wipes the device's secrets from memory, so
 * use try-with-resources.  There is no finalizer or Cleaner: closing on a GC
 * thread would break the library's one-thread-at-a-time rule, and Cleaner is
 * not available on Android before API 33.
 *
 * Thread safety: the C replica must be used by one thread at a time; every
 * method here is synchronized on the Replica, so sharing one between threads
 * is safe, if serialised.  A Txn locks the same monitor.
 */
package org.drivercore;

public final class Replica implements AutoCloseable {
    private long handle;
    private Txn openTxn; // the C library allows one open transaction per replica
    // Sync sessions borrow the C replica, so close() must free them first.
    private final java.util.List<SyncSession> sessions = new java.util.ArrayList<>();
    // Live queries hold a listener reference in C: close() releases them.
    private final java.util.List<LiveQuery> lives = new java.util.ArrayList<>();

    private Replica(long handle) {
        this.handle = handle;
    }

    /** Opens the replica at path, creating it and a fresh device identity on first open. */
    public static Replica open(String path) {
        return open(path, null, false);
    }

    /**
     * Opens (or creates) the replica at path.
     *
     * @param deviceName recorded in the device card when the replica is created; may be null
     * @param mustExist  if true, fail with ENOTFOUND instead of creating a replica
     */
    public static Replica open(String path, String deviceName, boolean mustExist) {
        if (path == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "Replica.open: path is null");
        }
        return new Replica(Native.open(Native.utf8z(path), Native.utf8z(deviceName), mustExist));
    }

    /**
     * Opens (or creates) the replica at path, encrypted at rest with the key
     * {@code keys} gives (docs/format/at-rest.md): asked with
     * {@link KeyPurpose#OPEN} for an encrypted file, {@link KeyPurpose#NEW}
     * for a new file or a replica in clear, which is then encrypted once.
     * A null provider is {@link #open(String, String, boolean)}: the file
     * stays in clear, and an encrypted one fails with EKEY.  A wrong key
     * fails with EKEY; an exception the provider throws is rethrown.
     */
    public static Replica open(String path, String deviceName, boolean mustExist,
                               KeyProvider keys) {
        if (path == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "Replica.open: path is null");
        }
        return new Replica(
                Native.openKeyed(Native.utf8z(path), Native.utf8z(deviceName), mustExist, keys));
    }

    /**
     * Opens (or creates) the replica at path, as
     * {@link #open(String, String, boolean, KeyProvider)} (keys may be null),
     * and checks that it is the file this installation of the app wrote:
     * {@code installId} (1 to 127 bytes of UTF-8) is an id kept where backups
     * never go, such as {@link Backup#installId(java.io.File)}. Opened under
     * another id than at its previous open (a restored backup, a copied
     * file), the replica is marked cloned before it can write: writes fail
     * with {@link DriverCoreError#ECLONED} until {@link #recover()}
     * (docs/recovery.md). A null id is no check.
     */
    public static Replica open(String path, String deviceName, boolean mustExist,
                               KeyProvider keys, String installId) {
        if (path == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "Replica.open: path is null");
        }
        return new Replica(Native.openInstalled(Native.utf8z(path), Native.utf8z(deviceName),
                mustExist, keys, Native.utf8z(installId)));
    }

    /**
     * Encrypts the replica file under a new key from {@code keys}
     * ({@link KeyPurpose#NEW}); a replica in clear becomes encrypted.  Killed
     * half way, the file opens with the old key or the new one: keep the old
     * key until this returns.  No transaction may be open, and no other
     * connection may have the file open (EBUSY).
     */
    public synchronized void rekey(KeyProvider keys) {
        if (keys == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "rekey: the provider is null");
        }
        if (openTxn != null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE,
                    "rekey: a transaction is open on this replica");
        }
        Native.rekey(h(), keys);
    }

    /** True if the replica file is encrypted at rest. */
    public synchronized boolean isEncrypted() {
        return Native.encrypted(h());
    }

    /** The version of the native library, e.g. "0.1.0". */
    public static String libraryVersion() {
        return Native.version();
    }

    /**
     * Closes the replica, rolling back an open transaction and closing its
     * sync sessions first. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (openTxn != null) {
            openTxn.rollback();
        }
        // Each close() removes itself from the list: iterate over a copy.
        for (SyncSession s : sessions.toArray(new SyncSession[0])) {
            s.close();
        }
        for (LiveQuery q : lives.toArray(new LiveQuery[0])) {
            q.close();
        }
        if (handle != 0) {
            long h = handle;
            handle = 0;
            Native.close(h);
        }
    }

    public synchronized boolean isClosed() {
        return handle == 0;
    }

    /** The handle, or EMISUSE if closed: a closed handle never reaches C. */
    long h() {
        if (handle == 0) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "the replica is closed");
        }
        return handle;
    }

    /** This device's id: the hex of its Ed25519 public key (64 chars). */
    public synchronized String deviceId() {
        return Native.str(Native.deviceId(h()));
    }

    /** The device card (JSON) to hand to a space admin. */
    public synchronized String card() {
        return Native.str(Native.card(h()));
    }

    /** The canonical JSON dump of every space this device can read. */
    public synchronized String dump() {
        return dump(null);
    }

    /** The canonical JSON dump of one space (hex id), or of all when space is null. */
    public synchronized String dump(String space) {
        return Native.str(Native.dump(h(), Native.utf8z(space)));
    }

    /** Status as JSON: device, clock and per-space counts. */
    public synchronized String status() {
        return Native.str(Native.status(h()));
    }

    // ---- backups, clones, recovery (docs/recovery.md) ----

    /**
     * True when another copy of this replica signs with its device identity
     * (a restored backup, a copied file): writes then fail with
     * {@link DriverCoreError#ECLONED} until {@link #recover()}. The reason is
     * in {@link #status()} ("cloned").
     */
    public synchronized boolean isCloned() {
        return Native.cloned(h());
    }

    /**
     * Gives this replica a new device identity that keeps its data: what the
     * old identity wrote unacknowledged is re-signed. Returns JSON with the
     * new "card" (it carries "replaces") for an admin to add to the
     * "spaces" listed, "resigned" and "not_resigned" counts. Make a new
     * sync client afterwards.
     */
    public synchronized String recover() {
        return Native.str(Native.recover(h()));
    }

    /**
     * Gives back to the file system the pages the replica no longer uses
     * (those compaction freed: docs/storage.md "Giving space back"). Holds
     * the write lock while it runs; no transaction may be open.
     *
     * @throws DriverCoreException EBUSY when another connection holds the
     *     file (try again), EMISUSE with a transaction open
     */
    public synchronized VacuumResult vacuum() {
        return new VacuumResult(Native.vacuum(h()));
    }

    /**
     * The C handle ({@code dc_replica *}) for native code of the app's own
     * that calls C functions this binding does not wrap yet, on the same
     * file without a second writer. Valid until {@link #close()}; the
     * caller must hold this Replica's monitor for the whole native call
     * ({@code synchronized (replica) { ... }}), since the handle is
     * one-thread-at-a-time, and must not close it.
     *
     * @throws DriverCoreException EMISUSE once closed
     */
    public synchronized long nativeHandle() {
        return h();
    }

    // ---- spaces ----

    /** Creates a space whose only member is this device, as admin. */
    public Space createSpace(String name) {
        return Space.create(this, name);
    }

    /** A handle on a space by its hex id (no check that it exists). */
    public Space space(String id) {
        return new Space(this, id);
    }

    /** The spaces this replica knows, as JSON (see dc_space_list). */
    public synchronized String spaces() {
        return Native.str(Native.spaceList(h()));
    }

    // ---- transactions ----

    /** Begins a transaction on a space; commit or roll it back (try-with-resources rolls back). */
    public synchronized Txn begin(String space) {
        if (openTxn != null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE,
                    "a transaction is already open on this replica; commit or roll it back first");
        }
        long t = Native.txnBegin(h(), Native.utf8z(space));
        openTxn = new Txn(this, t);
        return openTxn;
    }

    synchronized void txnEnded(Txn t) {
        if (openTxn == t) {
            openTxn = null;
        }
    }

    // ---- records ----

    /** One live record, typed; null when it is absent or deleted (docs/reading.md). */
    public synchronized Record read(String space, String type, String id) {
        long rec = Native.recordRead(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(id));
        if (rec == 0) {
            return null;
        }
        try {
            return Record.decode(rec);
        } finally {
            Native.recordFree(rec);
        }
    }

    /**
     * Declares a value index on a field of a type, so that queries filtering on
     * it read only the matching records (dc_index_declare): this replica's, not
     * synced; declaring it again does nothing.
     */
    public synchronized void declareIndex(String space, String type, String field) {
        Native.indexDeclare(h(), Native.utf8z(space), Native.utf8z(type), Native.utf8z(field));
    }

    /** The live records of a type matching the query, typed, one page. */
    public synchronized RecordPage query(String space, String type, Query q) {
        Query o = q != null ? q : new Query();
        Values w = o.whereValue != null ? o.whereValue : Values.of(null);
        long rs = Native.recordQuery(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(o.whereField), w.kind, w.num, w.real, w.raw,
                Native.utf8z(o.orderBy), o.descending, o.offset, o.limit, o.withEvents,
                Native.utf8z(o.id), o.unacceptedEmpty);
        try {
            return RecordPage.of(rs);
        } finally {
            Native.recordsFree(rs);
        }
    }

    /**
     * The 0-based row of record {@code id} in the list {@code query(space,
     * type, q)} gives without its page (dc_record_position): the same filter
     * and order, the page's offset and limit ignored; -1 when the record is
     * absent, deleted or left out by the filter (as {@link #locate} gives
     * null).  For "row 37 of 250" and "scroll to this record": the page
     * around it is {@code q.page(row - 10, 25)} (from 0).  Reads the records
     * without copying them.  A query id other than {@code id} is EINVAL.
     */
    public synchronized long position(String space, String type, Query q, String id) {
        if (id == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "position: id must not be null");
        }
        Query o = q != null ? q : new Query();
        Values w = o.whereValue != null ? o.whereValue : Values.of(null);
        return Native.recordPosition(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(o.whereField), w.kind, w.num, w.real, w.raw,
                Native.utf8z(o.orderBy), o.descending, Native.utf8z(o.id), o.unacceptedEmpty,
                Native.utf8z(id));
    }

    /**
     * How many live records of a type a space holds, without reading them
     * (dc_record_count): the "m" of "n of m" for a list of the whole type,
     * equal to {@code query(space, type, null).total()}.  EDENIED for a
     * space this device has not accepted, ENOTFOUND for an unknown one.
     */
    public synchronized long count(String space, String type) {
        return Native.recordCount(h(), Native.utf8z(space), Native.utf8z(type));
    }

    /**
     * Which space holds a live record of this type and id: the hex id of the
     * first (in id order) of the spaces this device reads that does
     * (dc_record_locate), or null when none does.  For a link that names a
     * record but not its space (a notification, a scanned code).
     */
    public synchronized String locate(String type, String id) {
        if (type == null || id == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE,
                    "locate: type and id must not be null");
        }
        return Native.str(Native.recordLocate(h(), Native.utf8z(type), Native.utf8z(id)));
    }

    /**
     * The hex ids of the spaces this device can read (accepted, key held),
     * in id order (dc_space_each): typed, where {@link #spaces()} gives
     * every space known, with its state, as JSON.
     */
    public synchronized java.util.List<String> spaceIds() {
        Object[] ids = Native.spaceIds(h());
        java.util.List<String> out = new java.util.ArrayList<>(ids.length);
        for (Object id : ids) {
            out.add(Native.str((byte[]) id));
        }
        return java.util.Collections.unmodifiableList(out);
    }

    /**
     * Begins a read snapshot (dc_replica_read_begin): until it is closed,
     * every read of this Replica (queries, counts, reads, locate, the JSON
     * reads) sees the file as it stood at the first of them, whatever
     * another Replica on the same file (a sync thread's) commits meanwhile.
     * Use try-with-resources.  Only reads belong inside: a transaction
     * committed on this Replica while a snapshot is open fails (EBUSY or
     * EIO, with a message) — on any thread, since the snapshot is the
     * Replica's, not the thread's.  Snapshots nest: the outermost counts.
     */
    public synchronized ReadSnapshot readSnapshot() {
        Native.readBegin(h());
        return new ReadSnapshot(this);
    }

    /** Ends one snapshot; nothing to end once the replica is closed. */
    synchronized void readEnd() {
        if (handle != 0) {
            Native.readEnd(handle);
        }
    }

    /**
     * Keeps a query open: the listener gets its result now, then again after
     * every commit, import or sync on this replica that changes it, on the
     * thread that made the change (post it to the UI thread from there).  The
     * listener must not call this replica.  Close the LiveQuery to stop; closing
     * the replica stops them all.  With Kotlin: callbackFlow { val q =
     * replica.observe(space, type, query) { trySend(it) }; awaitClose { q.close() } }.
     */
    public synchronized LiveQuery observe(String space, String type, Query q,
                                          RecordListener listener) {
        Query o = q != null ? q : new Query();
        Values w = o.whereValue != null ? o.whereValue : Values.of(null);
        long h = Native.liveOpen(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(o.whereField), w.kind, w.num, w.real, w.raw,
                Native.utf8z(o.orderBy), o.descending, o.offset, o.limit, o.withEvents,
                Native.utf8z(o.id), o.unacceptedEmpty, listener);
        LiveQuery live = new LiveQuery(this, h);
        if (h != 0) {
            lives.add(live);
        }
        return live;
    }

    /**
     * Sees the changes another Replica on the same file (a sync thread's)
     * committed: this replica's live queries run again and deliver what
     * changed.  Returns whether the file had changed since the last look.
     * SyncClient.refreshing(ui) calls it after each sync.
     */
    public synchronized boolean refresh() {
        return Native.replicaRefresh(h());
    }

    /** The sync status, typed (dc_replica_sync_status). */
    public synchronized SyncStatus syncStatus() {
        return new SyncStatus(Native.syncStatus(h()));
    }

    synchronized void forget(LiveQuery q) {
        lives.remove(q);
    }

    /** One live record as JSON; ENOTFOUND if absent or deleted. */
    public synchronized String get(String space, String type, String id) {
        return Native.str(Native.recordGet(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(id)));
    }

    /** All live records of a type, as JSON {ID: record, ...}. */
    public synchronized String list(String space, String type) {
        return Native.str(Native.recordList(h(), Native.utf8z(space), Native.utf8z(type)));
    }

    /**
     * Live records of a type whose register field equals value, or whose set
     * field contains it, as JSON {ID: record, ...}.  null, Boolean, integers
     * and String; for a Double or byte[] value, use query().
     */
    public synchronized String find(String space, String type, String field, Object value) {
        Values v = Values.of(value);
        return Native.str(Native.recordFind(h(), Native.utf8z(space), Native.utf8z(type),
                Native.utf8z(field), v.kind, v.num, v.str));
    }

    // ---- bundles ----

    /** Every envelope this replica holds, as one bundle. */
    public synchronized byte[] exportBundle() {
        return exportBundle(null);
    }

    /** The envelopes of one space (hex id), or all when space is null. */
    public synchronized byte[] exportBundle(String space) {
        return Native.bundleExport(h(), Native.utf8z(space));
    }

    /**
     * Imports a bundle, all or nothing.  Returns the report as JSON:
     * {"envelopes": N, "new": N, "duplicate": N, "held": N, "opaque": N}.
     */
    public synchronized String importBundle(byte[] bundle) {
        if (bundle == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "importBundle: bundle is null");
        }
        return Native.str(Native.bundleImport(h(), bundle));
    }

    // ---- sync ----

    /**
     * Starts a sync session on this replica, as initiator or responder; see
     * SyncSession.  Close it (try-with-resources) when finished.
     */
    public synchronized SyncSession sync(SyncRole role) {
        if (role == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "sync: role is null");
        }
        SyncSession s = new SyncSession(this, Native.syncNew(h(), role.value()));
        sessions.add(s);
        return s;
    }

    synchronized void syncEnded(SyncSession s) {
        sessions.remove(s);
    }
}
