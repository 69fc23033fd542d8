// Drivercore.swift — idiomatic Swift over the drivercore C API (the
// CDrivercore module).  A Replica owns its C handle and closes it in deinit
// (or earlier, with close()); a Txn owns its C transaction and rolls it back
// in deinit unless committed; a SyncSession owns its C session and frees it
// in deinit; every failure is thrown as a DCError carrying
// the library's code and message.  Strings cross as UTF-8 C strings, records
// and listings come back as the library's canonical JSON text, bundles as
// [UInt8].
//
// Thread safety follows the C library: a Replica (and the Txn and Space
// values made from it) is used by one thread at a time; the types are
// deliberately not Sendable, so Swift's concurrency checking enforces it.

import CDrivercore

// MARK: - Values

/// A field value: the kinds drivercore stores (dc_kind).  A `.double` must
/// be finite; `.double` and `.bytes` are written in change body format 2
/// (docs/format/body.md).
public enum Value: Equatable, Hashable, Sendable, ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral
{
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case double(Double)
    case bytes([UInt8])

    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}

/// The role of a device in a space (dc_role).
public enum Role: Int32, CaseIterable, Sendable {
    case reader = 1  // reads; cannot write
    case member = 2  // reads and writes records
    case admin = 3  // also adds devices

    /// The library's name for the role ("reader", ...).
    public var name: String { String(cString: dc_role_name(rawValue)) }
}

extension DCError.Code {
    /// The name the linked C library gives this code (dc_error_name): equal
    /// to `name` unless the bindings and the library disagree.
    public var libraryName: String { String(cString: dc_error_name(rawValue)) }
    /// The default message of the linked C library (dc_strerror).
    public var libraryMessage: String { String(cString: dc_strerror(rawValue)) }
}

// MARK: - Marshalling helpers

/// C copies of the string arguments of one call, freed when it goes away.
/// Swift strings may contain NUL, which a C string cannot carry without
/// being cut short silently, so such a string is refused.
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []

    func c(_ s: String?) throws -> UnsafePointer<CChar>? {
        guard let s = s else { return nil }
        if s.utf8.contains(0) {
            throw DCError(code: .inval, message: "a string passed to drivercore contains a NUL character")
        }
        let bytes = s.utf8CString  // NUL-terminated
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        bytes.withUnsafeBufferPointer { src in
            p.initialize(from: src.baseAddress!, count: src.count)
        }
        owned.append(p)
        return UnsafePointer(p)
    }

    deinit {
        for p in owned { p.deallocate() }
    }
}

/// A dc_buf for one call, disposed by the caller with `defer`.
func newBuf() -> dc_buf {
    var b = dc_buf()
    dc_buf_init(&b)
    return b
}

func text(_ b: dc_buf) -> String {
    guard let p = b.ptr, b.size > 0 else { return "" }
    return String(decoding: UnsafeBufferPointer(start: p, count: Int(b.size)), as: UTF8.self)
}

private func bytes(_ b: dc_buf) -> [UInt8] {
    guard let p = b.ptr, b.size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: p, count: Int(b.size)))
}

/// Throws for a non-zero code.  The handle's message belongs to the last
/// failed call on it and is used only when its code matches `rc`, so a stale
/// message from an earlier failure is never attached to this one.
func check(_ rc: Int32, _ r: OpaquePointer?) throws {
    if rc == 0 { return }
    var message: String?
    if let r = r, dc_replica_errcode(r) == rc {
        message = String(cString: dc_replica_errmsg(r))
    } else if dc_error_last_code() == rc {
        message = String(cString: dc_error_last())
    }
    throw DCError(code: DCError.Code(rawValue: rc), message: message)
}

// MARK: - The key at rest

/// Why the library asks a key provider for a key (DC_KEY_OPEN, DC_KEY_NEW).
public enum KeyPurpose: Sendable {
    /// The key of an existing encrypted replica.
    case open
    /// A key for a file about to be encrypted: a new replica, a replica in
    /// clear being migrated, or a rekey.  Store it before returning.
    case new
}

/// What a key provider gives: the 32-byte key that encrypts the replica at
/// rest (docs/format/at-rest.md), or a passphrase from which the library
/// derives it with Argon2id.  On iOS: 32 random bytes
/// (SecRandomCopyBytes), kept in the Keychain with an accessibility class
/// such as kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly.
public enum AtRestKey {
    case key([UInt8])
    case passphrase(String)

    /// The size of a key, in bytes (dc_key_bytes).
    public static var byteCount: Int { Int(dc_key_bytes()) }
}

/// Supplies the key, called synchronously on the calling thread at most once
/// per open or rekey.  Throwing refuses: the call fails, nothing changes, and
/// the error thrown here is what the caller sees.
public typealias KeyProvider = (KeyPurpose) throws -> AtRestKey

/// The context of one call that may ask for a key: the provider, and what it
/// threw (rethrown after the C call returns).
private final class KeyRequest {
    let provider: KeyProvider
    var thrown: Error?

    init(_ provider: @escaping KeyProvider) { self.provider = provider }

    /// Runs `body` with a C key provider and its user pointer; rethrows what
    /// the Swift provider threw, in preference to the C call's DC_EUSER.
    static func with(
        _ provider: KeyProvider?,
        _ body: (dc_key_fn?, UnsafeMutableRawPointer?) throws -> Void
    ) throws {
        guard let provider = provider else { return try body(nil, nil) }
        let req = KeyRequest(provider)
        let user = Unmanaged.passUnretained(req).toOpaque()
        do {
            try withExtendedLifetime(req) { try body(cProvider, user) }
        } catch {
            if let thrown = req.thrown { throw thrown }
            throw error
        }
    }
}

/// The C side of every Swift key provider: `user` is a KeyRequest.
private let cProvider: dc_key_fn = { user, key, purpose in
    let req = Unmanaged<KeyRequest>.fromOpaque(user!).takeUnretainedValue()
    do {
        switch try req.provider(purpose == DC_KEY_NEW ? .new : .open) {
        case .key(var bytes):
            defer { for i in bytes.indices { bytes[i] = 0 } }
            return dc_key_set(key, bytes, bytes.count) == 0 ? 0 : 1
        case .passphrase(let pass):
            var utf8 = Array(pass.utf8)
            defer { for i in utf8.indices { utf8[i] = 0 } }
            return utf8.withUnsafeBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                    dc_key_set_passphrase(key, $0, b.count) == 0 ? 0 : 1
                }
            }
        }
    } catch {
        req.thrown = error
        return 1
    }
}

// MARK: - Replica

/// One SQLite file on one device, with that device's identity.
public final class Replica {
    private var handle: OpaquePointer?
    // The C library allows one open transaction per replica; weak, because
    // the transaction keeps the replica alive, not the other way round.
    fileprivate weak var openTxn: Txn?
    // Sync sessions borrow the C replica, so close() frees them first; weak,
    // because a session keeps its replica alive, not the other way round.
    fileprivate var sessions: [WeakSession] = []

    /// Opens the replica at `path`, creating it and a fresh device identity
    /// on first open.
    /// - Parameters:
    ///   - deviceName: recorded in the device card when the replica is created.
    ///   - mustExist: fail with `.notfound` instead of creating a replica.
    ///   - keyProvider: encrypts the replica at rest with the key it gives
    ///     (docs/format/at-rest.md): asked `.open` for an encrypted file,
    ///     `.new` for a new file or a replica in clear, which is then
    ///     encrypted once.  nil: the file stays in clear, and an encrypted
    ///     one fails with `.key`, as does a wrong key.
    ///   - installId: an id of this installation of the app, kept where
    ///     backups never go (`Backup.installId(in:)`, or a
    ///     `...ThisDeviceOnly` Keychain item).  Opened under another id than
    ///     at its previous open (a restored backup, a copied file), the
    ///     replica is marked cloned before it can write: writes throw
    ///     `.cloned` until `recover()` (docs/recovery.md).  nil: no check.
    public init(
        path: String, deviceName: String? = nil, mustExist: Bool = false,
        keyProvider: KeyProvider? = nil, installId: String? = nil
    ) throws {
        let args = CStrings()
        var opts = dc_replica_options()
        opts.version = UInt32(DC_REPLICA_OPTIONS_VERSION)
        opts.device_name = try args.c(deviceName)
        opts.install_id = try args.c(installId)
        opts.must_exist = mustExist ? 1 : 0
        var r: OpaquePointer?
        let cpath = try args.c(path)
        try KeyRequest.with(keyProvider) { fn, user in
            opts.key_provider = fn
            opts.key_user = user
            try check(dc_replica_open(&r, cpath, &opts), nil)
        }
        handle = r
    }

    /// Encrypts the replica file under a new key from `keyProvider` (asked
    /// `.new`); a replica in clear becomes encrypted.  Killed half way, the
    /// file opens with the old key or the new one: keep the old key until
    /// this returns.  No transaction may be open (`.misuse`), and no other
    /// connection may have the file open (`.busy`).
    public func rekey(_ keyProvider: @escaping KeyProvider) throws {
        let r = try h()
        if openTxn != nil {
            throw DCError(code: .misuse, message: "rekey: a transaction is open on this replica")
        }
        try KeyRequest.with(keyProvider) { fn, user in
            try check(dc_replica_rekey(r, fn, user), r)
        }
    }

    /// True if the replica file is encrypted at rest.
    public var isEncrypted: Bool {
        get throws { dc_replica_encrypted(try h()) != 0 }
    }

    deinit {
        close()
    }

    /// Closes the replica (rolling back an open transaction and closing its
    /// sync sessions) and wipes its secrets from memory.  Idempotent; later
    /// calls throw `.misuse`.
    public func close() {
        openTxn?.rollback()
        let open = sessions
        sessions = []
        for w in open { w.session?.close() }
        if let h = handle {
            handle = nil
            dc_replica_close(h)
        }
    }

    public var isClosed: Bool { handle == nil }

    /// The C handle, or `.misuse` once closed: a closed handle never reaches C.
    func h() throws -> OpaquePointer {
        guard let h = handle else {
            throw DCError(code: .misuse, message: "the replica is closed")
        }
        return h
    }

    /// The version of the linked C library, e.g. "0.1.0".
    public static var libraryVersion: String { String(cString: dc_version()) }

    /// This device's id: the hex of its Ed25519 public key (64 characters).
    public var deviceId: String {
        get throws { String(cString: dc_replica_device_id(try h())) }
    }

    /// The device card (JSON) to hand to a space admin.
    public func card() throws -> String {
        let r = try h()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_replica_card(&out, r), r)
        return text(out)
    }

    /// The canonical JSON dump of one space, or of all readable spaces.
    public func dump(space: String? = nil) throws -> String {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_replica_dump(&out, r, try args.c(space)), r)
        return text(out)
    }

    /// Status as JSON: device, clock and per-space counts.
    public func status() throws -> String {
        let r = try h()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_replica_status(&out, r), r)
        return text(out)
    }

    // MARK: backups, clones, recovery (docs/recovery.md)

    /// True when another copy of this replica signs with its device identity
    /// (a restored backup, a copied file): writes then throw `.cloned` until
    /// `recover()`.  The reason is in `status()` ("cloned").
    public var isCloned: Bool {
        get throws {
            let r = try h()
            let rc = dc_replica_cloned(r)
            try check(rc < 0 ? rc : 0, r)
            return rc == 1
        }
    }

    /// A new device identity that keeps the replica's data: what the old one
    /// wrote unacknowledged is re-signed.  Returns JSON with the new "card"
    /// (carrying "replaces") for an admin to add to the "spaces" listed.
    public func recover() throws -> String {
        let r = try h()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_replica_recover(&out, r), r)
        return text(out)
    }

    /// Gives back to the file system the pages the replica no longer uses
    /// (those compaction freed: docs/storage.md "Giving space back").  Holds
    /// the write lock while it runs; no transaction may be open.  Throws
    /// `.busy` when another connection holds the file (try again).
    public func vacuum() throws -> VacuumResult {
        let r = try h()
        var v = dc_vacuum_result()
        v.version = UInt32(DC_VACUUM_RESULT_VERSION)
        try check(dc_replica_vacuum_typed(r, &v), r)
        return VacuumResult(bytesBefore: v.bytes_before, bytesAfter: v.bytes_after,
                            freePagesBefore: v.free_pages_before)
    }

    /// Calls `body` with the C handle (`dc_replica *`), for C functions this
    /// binding does not wrap yet, on the same file without a second writer.
    /// The handle is valid only during `body`, which runs on the caller's
    /// thread like every other call on this Replica (one thread at a time):
    /// do not keep it, close it, or call back into this Replica from `body`.
    public func withUnsafeHandle<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        try body(try h())
    }

    // MARK: spaces

    /// Creates a space whose only member is this device, as admin.
    public func createSpace(name: String) throws -> Space {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_space_create(&out, r, try args.c(name)), r)
        return Space(replica: self, id: text(out))
    }

    /// A space by its hex id (no check that it exists).
    public func space(_ id: String) -> Space {
        Space(replica: self, id: id)
    }

    /// The spaces this replica knows, as JSON (see dc_space_list).
    public func spaces() throws -> String {
        let r = try h()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_space_list(&out, r), r)
        return text(out)
    }

    // MARK: transactions

    /// Begins a transaction on a space.  Commit it; dropping it rolls back.
    public func begin(space: String) throws -> Txn {
        let r = try h()
        if openTxn != nil {
            throw DCError(
                code: .misuse,
                message: "a transaction is already open on this replica; commit or roll it back first")
        }
        let args = CStrings()
        var t: OpaquePointer?
        try check(dc_txn_begin(&t, r, try args.c(space)), r)
        let txn = Txn(replica: self, handle: t!)
        openTxn = txn
        return txn
    }

    /// Runs `body` in a transaction and commits it; if `body` throws, the
    /// transaction is rolled back and the error rethrown.  Returns the
    /// change id ("" when `body` wrote nothing).
    @discardableResult
    public func write(space: String, _ body: (Txn) throws -> Void) throws -> String {
        let txn = try begin(space: space)
        do {
            try body(txn)
        } catch {
            txn.rollback()
            throw error
        }
        return try txn.commit()
    }

    // MARK: records

    /// One live record, typed; nil when it is absent or deleted (docs/reading.md).
    public func read(space: String, type: String, id: String) throws -> Record? {
        let r = try h()
        let args = CStrings()
        var rec: OpaquePointer?
        let rc = dc_record_read(&rec, r, try args.c(space), try args.c(type), try args.c(id))
        if rc == DC_ENOTFOUND.rawValue { return nil }
        try check(rc, r)
        defer { dc_record_free(rec) }
        return Record(rec!)
    }

    /// Sees the changes another Replica on the same file (a sync's) committed:
    /// this replica's live queries run again and deliver what changed.  Returns
    /// whether the file had changed since the last look.
    @discardableResult
    public func refresh() throws -> Bool {
        let r = try h()
        var changed: Int32 = 0
        try check(dc_replica_refresh(r, &changed), r)
        return changed != 0
    }

    /// Declares a value index on a field of a type (dc_index_declare): queries
    /// filtering on it read only the matching records.  This replica's, not
    /// synced; declaring it again does nothing.
    public func declareIndex(space: String, type: String, field: String) throws {
        let r = try h()
        let args = CStrings()
        try check(dc_index_declare(r, try args.c(space), try args.c(type), try args.c(field)), r)
    }

    /// The live records of a type matching a filter (a register equal to the
    /// value, or a set containing it), in `orderBy` order (records without
    /// that register last) or id order, one page (`limit` 0: no limit).
    /// `id`: only the record of that id, if it is live and matches.
    /// `unacceptedEmpty`: a space this device has not accepted (an
    /// invitation, a declined space) reads as holding nothing instead of
    /// throwing `.denied` — for walks over `spaceIds()`.
    public func query(
        space: String, type: String, where field: String? = nil, equals value: Value = .null,
        orderBy: String? = nil, descending: Bool = false, offset: Int = 0, limit: Int = 0,
        withEvents: Bool = true, id: String? = nil, unacceptedEmpty: Bool = false
    ) throws -> RecordPage {
        let r = try h()
        var rs: OpaquePointer?
        let rc = try withQuery(
            space: space, type: type, field: field, value: value, orderBy: orderBy, descending: descending,
            offset: offset, limit: limit, withEvents: withEvents, id: id, unacceptedEmpty: unacceptedEmpty
        ) { cs, ct, o in dc_record_query(&rs, r, cs, ct, o) }
        try check(rc, r)
        defer { dc_records_free(rs) }
        return RecordPage(rs)
    }

    /// The 0-based row of record `id` in the list `query(space:type:...)`
    /// gives with the same filter and order, without a page
    /// (dc_record_position), or nil when the record is absent, deleted or
    /// left out by the filter (as `locate` gives nil).  For "row 37 of 250"
    /// and "scroll to this record": the page around it is the query with
    /// `offset: max(row - 10, 0)`.  Reads the records without copying them.
    public func position(
        space: String, type: String, where field: String? = nil, equals value: Value = .null,
        orderBy: String? = nil, descending: Bool = false, unacceptedEmpty: Bool = false, id: String
    ) throws -> Int? {
        let r = try h()
        let args = CStrings()
        let cid = try args.c(id)
        var pos: UInt64 = 0
        let rc = try withQuery(
            space: space, type: type, field: field, value: value, orderBy: orderBy, descending: descending,
            offset: 0, limit: 0, withEvents: false, id: nil, unacceptedEmpty: unacceptedEmpty
        ) { cs, ct, o in dc_record_position(r, cs, ct, o, cid, &pos) }
        if rc == DC_ENOTFOUND.rawValue { return nil }
        try check(rc, r)
        return pos > UInt64(Int.max) ? Int.max : Int(pos)
    }

    /// How many live records of a type a space holds, without reading them
    /// (dc_record_count): the "m" of "n of m" for a list of the whole type,
    /// equal to `query(space:type:).total`.  Throws `.denied` for a space not
    /// accepted, `.notfound` for an unknown one.
    public func count(space: String, type: String) throws -> Int {
        let r = try h()
        let args = CStrings()
        var n: UInt64 = 0
        try check(dc_record_count(r, try args.c(space), try args.c(type), &n), r)
        return n > UInt64(Int.max) ? Int.max : Int(n)
    }

    /// Which space holds a live record of this type and id: the hex id of
    /// the first (in id order) of the spaces this device reads that does
    /// (dc_record_locate), or nil when none does.  For a link that names a
    /// record but not its space (a notification, a scanned code).
    public func locate(type: String, id: String) throws -> String? {
        let r = try h()
        let args = CStrings()
        var space = [CChar](repeating: 0, count: 33)
        let rc = dc_record_locate(r, try args.c(type), try args.c(id), &space)
        if rc == DC_ENOTFOUND.rawValue { return nil }
        try check(rc, r)
        return String(cString: space)
    }

    /// The hex ids of the spaces this device can read (accepted, key held),
    /// in id order (dc_space_each): typed, where `spaces()` gives every
    /// space known, with its state, as JSON.
    public func spaceIds() throws -> [String] {
        let r = try h()
        final class Gather { var ids: [String] = [] }
        let g = Gather()
        let rc = withExtendedLifetime(g) {
            dc_space_each(r, { user, space in
                guard let user = user, let space = space else { return Int32(DC_EMISUSE.rawValue) }
                Unmanaged<Gather>.fromOpaque(user).takeUnretainedValue().ids.append(String(cString: space))
                return 0
            }, Unmanaged.passUnretained(g).toOpaque())
        }
        try check(rc, r)
        return g.ids
    }

    /// Several reads as one state (dc_replica_read_begin/_end): every read
    /// of this replica inside `body` (queries, counts, reads, `locate`, the
    /// JSON reads) sees the file as it stood at the first of them, whatever
    /// another Replica on the same file (a sync's) commits meanwhile; the
    /// snapshot ends when `body` returns or throws.  Only reads belong
    /// inside: a commit made in `body` throws `.busy`.  Calls nest (the
    /// outermost counts).
    public func read<T>(_ body: () throws -> T) throws -> T {
        let r = try h()
        try check(dc_replica_read_begin(r), r)
        // Closed inside body: closing ended the read with the handle.
        defer { if handle == r { _ = dc_replica_read_end(r) } }
        return try body()
    }

    /// Keeps a query open (dc_live_open): `pages` yields its result now, then
    /// again after every commit, import or sync on this replica that changes
    /// it.  Close the LiveQuery (or let it go) to stop; the stream then ends.
    public func observe(
        space: String, type: String, where field: String? = nil, equals value: Value = .null,
        orderBy: String? = nil, descending: Bool = false, offset: Int = 0, limit: Int = 0,
        withEvents: Bool = true, id: String? = nil, unacceptedEmpty: Bool = false
    ) throws -> LiveQuery {
        let r = try h()
        let live = LiveQuery()
        let user = Unmanaged.passRetained(live.sink).toOpaque()
        var q: OpaquePointer?
        let rc: Int32
        do {
            rc = try withQuery(
                space: space, type: type, field: field, value: value, orderBy: orderBy,
                descending: descending, offset: offset, limit: limit, withEvents: withEvents, id: id,
                unacceptedEmpty: unacceptedEmpty
            ) { cs, ct, o in dc_live_open(&q, r, cs, ct, o, liveDeliver, user) }
        } catch {
            Unmanaged<LiveQuery.Sink>.fromOpaque(user).release()
            live.sink.continuation.finish()
            throw error
        }
        if rc != 0 {
            Unmanaged<LiveQuery.Sink>.fromOpaque(user).release()
            live.sink.continuation.finish()
        }
        try check(rc, r)
        live.attach(q, user)
        return live
    }

    /// One live record as JSON; throws `.notfound` if absent or deleted.
    public func record(space: String, type: String, id: String) throws -> String {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_record_get(&out, r, try args.c(space), try args.c(type), try args.c(id)), r)
        return text(out)
    }

    /// All live records of a type, as JSON {ID: record, ...}.
    public func records(space: String, type: String) throws -> String {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_record_list(&out, r, try args.c(space), try args.c(type)), r)
        return text(out)
    }

    /// Live records of a type whose register `field` equals `value`, or whose
    /// set `field` contains it, as JSON {ID: record, ...}.
    public func find(space: String, type: String, field: String, equals value: Value) throws -> String {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        let (kind, num, str) = try lower(value, args)
        try check(
            dc_record_find(&out, r, try args.c(space), try args.c(type), try args.c(field), kind, num, str), r)
        return text(out)
    }

    // MARK: bundles

    /// The envelopes of one space, or all this replica holds, as one bundle.
    public func exportBundle(space: String? = nil) throws -> [UInt8] {
        let r = try h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_bundle_export(&out, r, try args.c(space)), r)
        return bytes(out)
    }

    /// Imports a bundle, all or nothing.  Returns the report as JSON:
    /// {"envelopes": N, "new": N, "duplicate": N, "held": N, "opaque": N}.
    @discardableResult
    public func importBundle(_ bundle: [UInt8]) throws -> String {
        let r = try h()
        var report = newBuf()
        defer { dc_buf_dispose(&report) }
        let rc = bundle.withUnsafeBufferPointer { p in
            dc_bundle_import(r, p.baseAddress, p.count, &report)
        }
        try check(rc, r)
        return text(report)
    }
}

// MARK: sync

extension Replica {
    /// Starts a sync session on this replica as `role`; see `SyncSession`.
    public func syncSession(role: SyncRole) throws -> SyncSession {
        try SyncSession(replica: self, role: role)
    }
}

/// (kind, num, str) for the C calls that take a C string; `str` is owned by
/// `args`.  Doubles and bytes have no such form: they go through
/// `withCValue` (the _value calls).
private func lower(_ v: Value, _ args: CStrings) throws -> (Int32, Int64, UnsafePointer<CChar>?) {
    switch v {
    case .null: return (Int32(DC_NULL.rawValue), 0, nil)
    case .bool(let b): return (Int32(DC_BOOL.rawValue), b ? 1 : 0, nil)
    case .int(let i): return (Int32(DC_INT.rawValue), i, nil)
    case .string(let s): return (Int32(DC_STR.rawValue), 0, try args.c(s))
    case .double, .bytes:
        throw DCError(code: .inval, message: "a double or bytes value needs the typed query (query(space:type:...))")
    }
}

/// Calls `body` with the value as a dc_value, valid during the call.  A
/// string may not contain NUL (as every string crossing to C).
private func withCValue<R>(_ v: Value, _ body: (UnsafePointer<dc_value>) throws -> R) throws -> R {
    var cv = dc_value()
    switch v {
    case .null: cv.kind = Int32(DC_NULL.rawValue)
    case .bool(let b):
        cv.kind = Int32(DC_BOOL.rawValue)
        cv.num = b ? 1 : 0
    case .int(let i):
        cv.kind = Int32(DC_INT.rawValue)
        cv.num = i
    case .double(let d):
        cv.kind = Int32(DC_FLOAT.rawValue)
        cv.real = d
    case .string(let s):
        if s.utf8.contains(0) {
            throw DCError(code: .inval, message: "a string passed to drivercore contains a NUL character")
        }
        return try Array(s.utf8).withUnsafeBytes { p in
            cv.kind = Int32(DC_STR.rawValue)
            cv.ptr = p.baseAddress
            cv.len = p.count
            return try withUnsafePointer(to: &cv, body)
        }
    case .bytes(let b):
        return try b.withUnsafeBytes { p in
            cv.kind = Int32(DC_BYTES.rawValue)
            cv.ptr = p.baseAddress
            cv.len = p.count
            return try withUnsafePointer(to: &cv, body)
        }
    }
    return try withUnsafePointer(to: &cv, body)
}

/// Calls `body` with the C strings of a query's space and type and its
/// options (the filter's value, order and page), valid during the call.
private func withQuery(
    space: String, type: String, field: String?, value: Value, orderBy: String?, descending: Bool,
    offset: Int, limit: Int, withEvents: Bool, id: String?, unacceptedEmpty: Bool,
    _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<dc_query_options>) -> Int32
) throws -> Int32 {
    if offset < 0 || limit < 0 {
        throw DCError(code: .inval, message: "a page's offset and limit must not be negative")
    }
    let args = CStrings()
    let (cs, ct, cf, co) = (try args.c(space), try args.c(type), try args.c(field), try args.c(orderBy))
    let cid = try args.c(id)
    return try withCValue(value) { v -> Int32 in
        var o = dc_query_options()
        o.version = UInt32(DC_QUERY_OPTIONS_VERSION)
        o.where_field = cf
        o.where_value = cf == nil ? nil : v
        o.order_by = co
        o.descending = descending ? 1 : 0
        o.offset = offset
        o.limit = limit
        o.with_events = withEvents ? 1 : 0
        o.id = cid
        o.unaccepted_empty = unacceptedEmpty ? 1 : 0
        return body(cs, ct, &o)
    }
}

/// A value read from a record (valid while the record lives) as a Value.
private func lift(_ v: dc_value) -> Value {
    let raw = UnsafeRawBufferPointer(start: v.ptr, count: v.ptr == nil ? 0 : Int(v.len))
    switch v.kind {
    case Int32(DC_BOOL.rawValue): return .bool(v.num != 0)
    case Int32(DC_INT.rawValue): return .int(v.num)
    case Int32(DC_FLOAT.rawValue): return .double(v.real)
    case Int32(DC_STR.rawValue): return .string(String(decoding: raw, as: UTF8.self))
    case Int32(DC_BYTES.rawValue): return .bytes(Array(raw))
    default: return .null
    }
}

// MARK: - Space

/// A space seen from one replica: a (replica, id) pair that owns nothing.
/// What `Replica.vacuum()` gave back (dc_replica_vacuum_typed).
public struct VacuumResult: Equatable, Sendable {
    /// The database's size in bytes (pages times page size) before.
    public let bytesBefore: Int64
    /// Its size after.
    public let bytesAfter: Int64
    /// Its free pages before: what the vacuum gave back.
    public let freePagesBefore: Int64
}

public struct Space {
    public let replica: Replica
    /// The space's hex id (32 characters).
    public let id: String

    /// Adds the device described by `card` (another replica's `card()`) with
    /// `role`, or changes its role.  Only an admin may.
    public func add(card: String, role: Role) throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_add(r, try args.c(id), try args.c(card), role.rawValue), r)
    }

    /// Removes a member (its device id or card) and rotates the space key: the
    /// removed device cannot read what is written from now on, and its later
    /// changes are refused everywhere.  Only an admin may.
    public func remove(device: String) throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_remove(r, try args.c(id), try args.c(device)), r)
    }

    /// Changes a member's role (its device id or card); a demotion stops the
    /// changes it writes from then on.
    public func setRole(device: String, role: Role) throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_set_role(r, try args.c(id), try args.c(device), role.rawValue), r)
    }

    /// Rotates the space key on demand (a suspected leak).  Only an admin may.
    public func rotate() throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_rotate(r, try args.c(id)), r)
    }

    /// Accepts this device's invitation: a device reads a space only once it
    /// has accepted it (or was invited by a member of a space it accepted).
    /// `directory`: the space is this device's directory (its calendar).
    public func accept(directory: Bool = false) throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_accept(r, try args.c(id), directory ? DC_ACCEPT_DIRECTORY : 0), r)
    }

    /// Declines the space: its keys and readable state leave this device.
    public func decline() throws {
        let r = try replica.h()
        let args = CStrings()
        try check(dc_space_decline(r, try args.c(id)), r)
    }

    /// The members, as JSON [{"device": HEX, "role": STR, "name": STR}, ...].
    public func members() throws -> String {
        let r = try replica.h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_space_members(&out, r, try args.c(id)), r)
        return text(out)
    }

    /// Compacts this space's history (docs/data-model.md "Compaction"): an
    /// admin publishes the point every member has acknowledged, and this
    /// replica drops the envelopes it covers.  JSON {"space", "published",
    /// "counted", "waiting", "dropped", "snapshot_needed", "left_out",
    /// "point"}.  The file keeps its size until `Replica.vacuum()`.
    public func compact() throws -> String {
        let r = try replica.h()
        let args = CStrings()
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_space_compact(&out, r, try args.c(id), nil), r)
        return text(out)
    }

    public func begin() throws -> Txn { try replica.begin(space: id) }

    @discardableResult
    public func write(_ body: (Txn) throws -> Void) throws -> String {
        try replica.write(space: id, body)
    }

    /// One live record of this space, typed; nil when absent or deleted.
    public func read(type: String, id recordId: String) throws -> Record? {
        try replica.read(space: id, type: type, id: recordId)
    }

    /// The records of a type in this space matching a filter; see `Replica.query`.
    public func query(
        type: String, where field: String? = nil, equals value: Value = .null, orderBy: String? = nil,
        descending: Bool = false, offset: Int = 0, limit: Int = 0, withEvents: Bool = true,
        id recordId: String? = nil, unacceptedEmpty: Bool = false
    ) throws -> RecordPage {
        try replica.query(
            space: id, type: type, where: field, equals: value, orderBy: orderBy, descending: descending,
            offset: offset, limit: limit, withEvents: withEvents, id: recordId,
            unacceptedEmpty: unacceptedEmpty)
    }

    /// How many live records of a type this space holds (dc_record_count).
    public func count(type: String) throws -> Int {
        try replica.count(space: id, type: type)
    }

    public func record(type: String, id recordId: String) throws -> String {
        try replica.record(space: id, type: type, id: recordId)
    }

    public func records(type: String) throws -> String {
        try replica.records(space: id, type: type)
    }

    public func find(type: String, field: String, equals value: Value) throws -> String {
        try replica.find(space: id, type: type, field: field, equals: value)
    }

    public func dump() throws -> String { try replica.dump(space: id) }

    public func exportBundle() throws -> [UInt8] { try replica.exportBundle(space: id) }
}

// MARK: - Txn

/// A local transaction on the records of one space.  Operations collect in
/// the C transaction; `commit()` turns them into one signed, encrypted change
/// stored atomically.  After commit (successful or not) or rollback the Txn
/// is spent and further calls throw `.misuse`; dropping an uncommitted Txn
/// rolls it back.
public final class Txn {
    private let replica: Replica
    private var handle: OpaquePointer?

    fileprivate init(replica: Replica, handle: OpaquePointer) {
        self.replica = replica
        self.handle = handle
    }

    deinit {
        rollback()
    }

    public var isOpen: Bool { handle != nil }

    private func t() throws -> OpaquePointer {
        guard let t = handle else {
            throw DCError(code: .misuse, message: "the transaction was already committed or rolled back")
        }
        return t
    }

    /// Sets register `field` of the record (last writer wins).
    public func set(_ type: String, _ id: String, _ field: String, _ value: Value) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        let (ct, ci, cf) = (try args.c(type), try args.c(id), try args.c(field))
        try check(try withCValue(value) { v in dc_txn_set_value(t, ct, ci, cf, v) }, r)
    }

    /// Adds `value` to set `field` of the record (add-wins).
    public func add(_ type: String, _ id: String, _ field: String, _ value: Value) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        let (ct, ci, cf) = (try args.c(type), try args.c(id), try args.c(field))
        try check(try withCValue(value) { v in dc_txn_add_value(t, ct, ci, cf, v) }, r)
    }

    /// Removes `value` from set `field` (the adds of it this replica has seen).
    public func remove(_ type: String, _ id: String, _ field: String, _ value: Value) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        let (ct, ci, cf) = (try args.c(type), try args.c(id), try args.c(field))
        try check(try withCValue(value) { v in dc_txn_remove_value(t, ct, ci, cf, v) }, r)
    }

    /// Starts a new event on the record; fill it with `eventField`.
    public func event(_ type: String, _ id: String) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        try check(dc_txn_event(t, try args.c(type), try args.c(id)), r)
    }

    /// Adds a key/value to the event most recently started.
    public func eventField(_ key: String, _ value: Value) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        let ck = try args.c(key)
        try check(try withCValue(value) { v in dc_txn_event_field_value(t, ck, v) }, r)
    }

    /// Appends a whole event: `event` then one `eventField` per pair, in order.
    public func event(_ type: String, _ id: String, _ fields: KeyValuePairs<String, Value>) throws {
        try event(type, id)
        for (k, v) in fields {
            try eventField(k, v)
        }
    }

    /// Deletes the record.
    public func delete(_ type: String, _ id: String) throws {
        let (r, t) = (try replica.h(), try self.t())
        let args = CStrings()
        try check(dc_txn_delete(t, try args.c(type), try args.c(id)), r)
    }

    /// Operations collected so far (0 once spent).
    public var opCount: Int {
        guard let t = handle else { return 0 }
        return Int(dc_txn_op_count(t))
    }

    /// Commits: one change, stored and applied atomically.  Returns the
    /// change's hex id ("" if there were no operations).  The transaction is
    /// spent afterwards whether or not commit succeeded; on failure nothing
    /// was written.
    @discardableResult
    public func commit() throws -> String {
        let (r, t) = (try replica.h(), try self.t())
        handle = nil  // the C library frees the transaction on every path
        if replica.openTxn === self { replica.openTxn = nil }
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_txn_commit(t, &out), r)
        return text(out)
    }

    /// Abandons the transaction.  A no-op once committed or rolled back.
    public func rollback() {
        guard let t = handle else { return }
        handle = nil
        if replica.openTxn === self { replica.openTxn = nil }
        dc_txn_rollback(t)
    }
}

// MARK: - Sync sessions

/// Which side of a sync session a replica plays (DC_SYNC_INITIATOR /
/// DC_SYNC_RESPONDER): the initiator speaks first, the responder answers.
public enum SyncRole: Int32, CaseIterable, Sendable {
    case initiator = 1
    case responder = 2
}

/// A weak reference to a session, for the replica's list of them.
fileprivate struct WeakSession {
    weak var session: SyncSession?
}

/// A sync session between this replica and one peer (dc_sync).  Sans-IO:
/// `step` consumes the peer's last message and returns the next one to send,
/// and the caller carries the bytes over whatever link it has.  The
/// initiator's first step takes no input:
///
///     let s = try replica.syncSession(role: .initiator)
///     var out = try s.step(nil)
///     while !out.isEmpty {
///         let reply = try link.exchange(out)
///         if reply.isEmpty { break }
///         out = try s.step(reply)
///     }
///
/// A session that throws is spent: start a new one (bundles already imported
/// stay, whole).  The C session borrows its replica: the session keeps the
/// Replica object alive, and closing the replica closes the session first.
/// It is freed in deinit or by `close()`.
public final class SyncSession {
    private let replica: Replica
    private var handle: OpaquePointer?
    /// Whether this side has finished (set by the last successful step):
    /// send the last result if it is not empty, and stop.
    public private(set) var isDone = false

    public init(replica: Replica, role: SyncRole) throws {
        let r = try replica.h()
        var s: OpaquePointer?
        try check(dc_sync_new(&s, r, role.rawValue), r)
        self.replica = replica
        handle = s
        replica.sessions.removeAll { $0.session == nil }
        replica.sessions.append(WeakSession(session: self))
    }

    deinit {
        close()
    }

    /// Frees the C session.  Idempotent; later calls throw `.misuse`.
    public func close() {
        if let s = handle {
            handle = nil
            dc_sync_free(s)
        }
    }

    public var isClosed: Bool { handle == nil }

    private func s() throws -> OpaquePointer {
        guard let s = handle else {
            throw DCError(code: .misuse, message: "the sync session is closed")
        }
        return s
    }

    /// One step: `input` is the peer's last message, or nil for the
    /// initiator's first step.  Returns the message to send (empty when
    /// there is none).  Throws `.corrupt`, `.version` or `.toobig` for a bad
    /// message, any bundle-import error for the changes it carried (nothing
    /// of that bundle was imported), `.misuse` for a step out of turn.
    public func step(_ input: [UInt8]?) throws -> [UInt8] {
        let (r, s) = (try replica.h(), try self.s())
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        var done: Int32 = 0
        let rc: Int32
        if let input = input {
            rc = input.withUnsafeBufferPointer { p in
                dc_sync_step(s, &out, &done, p.baseAddress, p.count)
            }
        } else {
            rc = dc_sync_step(s, &out, &done, nil, 0)
        }
        try check(rc, r)
        isDone = done != 0
        return bytes(out)
    }

    /// The session's figures as JSON: {"bytes_sent": N, "bytes_received": N,
    /// "round_trips": N, "changes_sent": N, "changes_received": N,
    /// "spaces": N, "clock_offset_ms": N, "set_aside": N, "compacted": N,
    /// "snapshot_needed": N} (drivercore/sync.h, dc_sync_report).
    public func report() throws -> String {
        let (r, s) = (try replica.h(), try self.s())
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_sync_report(&out, s), r)
        return text(out)
    }

    /// On the initiator, after a finished session with a relay: adopts the
    /// relay's clock offset, records the time of this sync, and counts this
    /// device's changes as held by the relay.  `.misuse` before the end,
    /// `.inval` for an offset beyond 30 days.
    public func noteRelay() throws {
        let (r, s) = (try replica.h(), try self.s())
        try check(dc_sync_note_relay(s), r)
    }
}

// MARK: - Typed records

/// One record as read (dc_record): a value copied out of the library, so it
/// is `Sendable`, may be kept, and outlives its replica.  Fields in name
/// order; a set's members in the library's value order; events in event
/// order (docs/reading.md).
public struct Record: Sendable, Equatable {
    /// One event: when (ms since the epoch), who (the author device's id in
    /// hex), and its fields in key order.
    public struct Event: Sendable, Equatable {
        public let timeMs: Int64
        public let author: String
        public let keys: [String]
        public let fields: [String: Value]
        public subscript(key: String) -> Value? { fields[key] }
    }

    public let type: String
    public let id: String
    /// Every field, registers and sets, in name order.
    public let fields: [String]
    public let registers: [String: Value]
    public let sets: [String: [Value]]
    public let events: [Event]

    fileprivate init(_ rec: OpaquePointer) {
        type = String(cString: dc_record_type(rec))
        id = String(cString: dc_record_id(rec))
        var names: [String] = []
        var regs: [String: Value] = [:]
        var sets: [String: [Value]] = [:]
        for i in 0..<dc_record_field_count(rec) {
            var name: UnsafePointer<CChar>?
            var isSet: Int32 = 0
            guard dc_record_field_at(rec, i, &name, &isSet) == 0, let name = name else { continue }
            let n = String(cString: name)
            names.append(n)
            // The cheap accessors: the record's own arrays, no copy, no
            // lookup error recorded.
            if isSet != 0 {
                var count = 0
                let members = dc_record_set_values(rec, name, &count)
                sets[n] = (0..<count).map { lift(members![$0]) }
            } else if let v = dc_record_value(rec, name) {
                regs[n] = lift(v.pointee)
            }
        }
        var events: [Event] = []
        for i in 0..<dc_record_event_count(rec) {
            var info = dc_event_info()  // the author in hex
            guard let e = dc_record_event(rec, i)?.pointee, dc_record_event_at(rec, i, &info) == 0 else {
                continue
            }
            let author = withUnsafeBytes(of: info.author_hex) { p in
                String(decoding: p.prefix(64), as: UTF8.self)
            }
            var keys: [String] = []
            var fields: [String: Value] = [:]
            for k in 0..<e.nfields {
                guard let key = e.keys[k] else { continue }
                let ks = String(cString: key)
                keys.append(ks)
                fields[ks] = lift(e.values[k])
            }
            events.append(Event(timeMs: e.time_ms, author: author, keys: keys, fields: fields))
        }
        self.fields = names
        self.registers = regs
        self.sets = sets
        self.events = events
    }

    /// A register's value; nil when there is no such register.
    public subscript(field: String) -> Value? { registers[field] }

    public func string(_ field: String) -> String? {
        if case .string(let s)? = registers[field] { return s }
        return nil
    }

    public func int(_ field: String) -> Int64? {
        if case .int(let i)? = registers[field] { return i }
        return nil
    }

    public func double(_ field: String) -> Double? {
        if case .double(let d)? = registers[field] { return d }
        return nil
    }

    public func bool(_ field: String) -> Bool? {
        if case .bool(let b)? = registers[field] { return b }
        return nil
    }

    public func bytes(_ field: String) -> [UInt8]? {
        if case .bytes(let b)? = registers[field] { return b }
        return nil
    }

    /// A set's members in value order; empty when there is no such set.
    public func set(_ field: String) -> [Value] { sets[field] ?? [] }
}

/// One page of a query's result, and how many records matched in all.
public struct RecordPage: Sendable, Equatable {
    public let records: [Record]
    public let total: Int

    public init(records: [Record], total: Int) {
        self.records = records
        self.total = total
    }

    fileprivate init(_ rs: OpaquePointer?) {
        var records: [Record] = []
        for i in 0..<dc_records_count(rs) {
            records.append(Record(dc_records_at(rs, i)!))
        }
        self.init(records: records, total: Int(dc_records_total(rs)))
    }
}

/// The C callback of every live query: the page, copied, into its stream.
private func liveDeliver(_ user: UnsafeMutableRawPointer?, _ rs: OpaquePointer?) {
    guard let user = user else { return }
    let sink = Unmanaged<LiveQuery.Sink>.fromOpaque(user).takeUnretainedValue()
    sink.continuation.yield(RecordPage(rs))
}

/// A query kept open on a replica (Replica.observe): `pages` is an
/// AsyncSequence of its results.  `close()` (or deinit) stops it and ends
/// the stream; it must run where the replica's calls run (the replica is
/// used from one thread at a time), and may run after the replica closed.
public final class LiveQuery {
    fileprivate final class Sink {
        let continuation: AsyncStream<RecordPage>.Continuation
        init(_ c: AsyncStream<RecordPage>.Continuation) { continuation = c }
    }

    public let pages: AsyncStream<RecordPage>
    fileprivate let sink: Sink
    private var handle: OpaquePointer?
    private var user: UnsafeMutableRawPointer?

    fileprivate init() {
        var cont: AsyncStream<RecordPage>.Continuation!
        pages = AsyncStream(bufferingPolicy: .bufferingNewest(16)) { cont = $0 }
        sink = Sink(cont)
    }

    fileprivate func attach(_ q: OpaquePointer?, _ user: UnsafeMutableRawPointer) {
        handle = q
        self.user = user
    }

    public var isOpen: Bool { handle != nil }

    public func close() {
        guard let q = handle else { return }
        handle = nil
        dc_live_close(q)
        if let u = user {
            Unmanaged<Sink>.fromOpaque(u).release()
            user = nil
        }
        sink.continuation.finish()
    }

    deinit { close() }
}
