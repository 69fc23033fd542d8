// SyncClient.swift — the library's sync client (dc_client, include/
// drivercore/client.h) over the app's HTTP: authentication with the device
// key, the session loop, retries with backoff and jitter, long-poll.  The
// HTTP is an `HTTPTransport`; `URLSessionTransport` is a ready one.
//
// A sync can take minutes on a weak link and a Replica serves one call at
// a time: give the sync its own Replica on the same file, and run it from a
// background task (BGTaskScheduler).  `cancel()` may be called from any
// thread.  `Replica.status()` says when the last sync succeeded, or why not.

import CDrivercore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP request of a sync.
public struct HTTPRequest: Sendable {
    public let method: String
    public let url: String
    public let headers: [(String, String)]
    public let body: [UInt8]
    /// Give up connecting after this long.
    public let connectTimeout: TimeInterval
    /// Give up when no byte moved for this long (a stalled link).
    public let stallTimeout: TimeInterval
    /// Give up after this long in all (a long-poll's includes its wait).
    public let timeout: TimeInterval
}

public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why no answer came (the failure kinds of dc_http_response_fail).
public enum HTTPFailure: Error {
    case connect(String)  // no network, DNS, refused, unreachable
    case timeout(String)  // stalled, or took too long
    case broken(String)  // the connection broke mid-transfer
    case cancelled(String)
}

/// The app's HTTP: one request at a time, on the thread running the sync.
/// `execute` returns the answer whatever its status, or throws an
/// `HTTPFailure`; `cancel` (from another thread) makes it fail soon.
public protocol HTTPTransport: AnyObject {
    func execute(_ request: HTTPRequest) throws -> HTTPResponse
    func cancel()
}

/// An HTTPTransport on URLSession, blocking the sync's thread per request.
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var cancelled = false

    public init() {}

    public func execute(_ q: HTTPRequest) throws -> HTTPResponse {
        guard let url = URL(string: q.url) else { throw HTTPFailure.connect("bad URL \(q.url)") }
        var req = URLRequest(url: url)
        req.httpMethod = q.method
        req.timeoutInterval = q.stallTimeout  // an idle timer, as the stall timeout is
        for (k, v) in q.headers { req.setValue(v, forHTTPHeaderField: k) }
        if q.method == "POST" { req.httpBody = Data(q.body) }
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = q.stallTimeout
        config.timeoutIntervalForResource = q.timeout
        let session = URLSession(configuration: config)
        defer { session.finishTasksAndInvalidate() }
        let done = DispatchSemaphore(value: 0)
        var result: Result<HTTPResponse, HTTPFailure> = .failure(.broken("no answer"))
        let t = session.dataTask(with: req) { data, response, error in
            if let e = error as? URLError {
                switch e.code {
                case .cancelled: result = .failure(.cancelled(e.localizedDescription))
                case .timedOut: result = .failure(.timeout(e.localizedDescription))
                case .cannotConnectToHost, .cannotFindHost, .notConnectedToInternet,
                    .dnsLookupFailed:
                    result = .failure(.connect(e.localizedDescription))
                default: result = .failure(.broken(e.localizedDescription))
                }
            } else if let e = error {
                result = .failure(.broken(e.localizedDescription))
            } else if let h = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in h.allHeaderFields {
                    if let k = k as? String, let v = v as? String { headers[k] = v }
                }
                result = .success(HTTPResponse(status: h.statusCode, headers: headers, body: [UInt8](data ?? Data())))
            }
            done.signal()
        }
        lock.lock()
        if cancelled {
            lock.unlock()
            throw HTTPFailure.cancelled("cancelled")
        }
        task = t
        lock.unlock()
        t.resume()
        done.wait()
        lock.lock()
        task = nil
        lock.unlock()
        return try result.get()
    }

    public func cancel() {
        lock.lock()
        cancelled = true
        let t = task
        lock.unlock()
        t?.cancel()
    }

    fileprivate func rearm() {
        lock.lock()
        cancelled = false
        lock.unlock()
    }
}

/// The figures of the last sync (dc_client_figures_get).
public struct SyncReport: Sendable, Equatable {
    public let bytesSent, bytesReceived, roundTrips, changesSent, changesReceived, spaces: Int64
    /// The relay's clock minus this device's, as its first session measured it.
    public let clockOffsetMs: Int64
    public let setAside: Int64
    /// Spaces whose published compaction point this replica misses covered
    /// history for (a device away too long): load a snapshot from an admin.
    public let snapshotNeeded: Int64

    fileprivate init(_ f: dc_client_figures) {
        bytesSent = Int64(clamping: f.bytes_sent)
        bytesReceived = Int64(clamping: f.bytes_received)
        roundTrips = Int64(clamping: f.round_trips)
        changesSent = Int64(clamping: f.changes_sent)
        changesReceived = Int64(clamping: f.changes_received)
        spaces = Int64(clamping: f.spaces)
        clockOffsetMs = f.clock_offset_ms
        setAside = Int64(clamping: f.set_aside)
        snapshotNeeded = Int64(clamping: f.snapshot_needed)
    }
}

/// A replica's sync status (dc_replica_sync_status), for a status screen.
public struct SyncStatus: Sendable, Equatable {
    /// The relay's clock minus this device's.
    public let clockOffsetMs: Int64
    /// When a relay last acknowledged (ms since the epoch), 0 never.
    public let lastRelaySyncMs: Int64
    /// Changes written here that no relay has acknowledged as stored.
    public let unacked, held, opaque, rejected, unauthorised, future: UInt64
    /// Whether the sync client has run on this replica, and its last outcome.
    public let hasLastSync, ok: Bool
    public let lastAttemptMs, lastOkMs, failures, attempts: Int64
    /// "" when ok, else unreachable, timeout, broken, server, busy, auth, ...
    public let reason: String
    /// Why the last sync failed, in words a support person can act on.
    public let error: String
    public let peer: String

    fileprivate init(_ s: dc_sync_status) {
        func str<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { p in
                String(decoding: p.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        clockOffsetMs = s.clock_offset_ms
        lastRelaySyncMs = s.last_relay_sync_ms
        unacked = s.unacked
        held = s.held
        opaque = s.opaque
        rejected = s.rejected
        unauthorised = s.unauthorised
        future = s.future
        hasLastSync = s.has_last != 0
        ok = s.ok != 0
        lastAttemptMs = s.attempt_ms
        lastOkMs = s.ok_ms
        failures = s.failures
        attempts = s.attempts
        reason = str(s.reason)
        error = str(s.error)
        peer = str(s.peer)
    }
}

extension Replica {
    /// The sync status, typed.
    public func syncStatus() throws -> SyncStatus {
        let r = try h()
        var s = dc_sync_status()
        s.version = UInt32(DC_SYNC_STATUS_VERSION)
        try check(dc_replica_sync_status(r, &s), r)
        return SyncStatus(s)
    }
}

/// The transport behind the C callbacks.
private final class TransportBox {
    let transport: HTTPTransport
    init(_ t: HTTPTransport) { transport = t }
}

private func cString(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

private func transportRequest(
    _ user: UnsafeMutableRawPointer?, _ q: OpaquePointer?, _ r: OpaquePointer?
) -> Int32 {
    let box = Unmanaged<TransportBox>.fromOpaque(user!).takeUnretainedValue()
    var headers: [(String, String)] = []
    for i in 0..<dc_http_request_header_count(q) {
        headers.append((cString(dc_http_request_header_name(q, i)), cString(dc_http_request_header_value(q, i))))
    }
    var n = 0
    let p = dc_http_request_body(q, &n)
    let body = p.map { Array(UnsafeBufferPointer(start: $0, count: n)) } ?? []
    let req = HTTPRequest(
        method: cString(dc_http_request_method(q)), url: cString(dc_http_request_url(q)), headers: headers,
        body: body, connectTimeout: Double(dc_http_request_connect_timeout_ms(q)) / 1000,
        stallTimeout: Double(dc_http_request_stall_timeout_ms(q)) / 1000,
        timeout: Double(dc_http_request_timeout_ms(q)) / 1000)
    do {
        let a = try box.transport.execute(req)
        dc_http_response_set_status(r, Int32(a.status))
        for (k, v) in a.headers { dc_http_response_add_header(r, k, v) }
        let rc = a.body.withUnsafeBufferPointer { dc_http_response_append(r, $0.baseAddress, $0.count) }
        if rc != 0 {
            dc_http_response_fail(r, Int32(DC_HTTP_FAIL_BROKEN), "the answer was too large")
            return -1
        }
        return 0
    } catch let f as HTTPFailure {
        switch f {
        case .connect(let d): dc_http_response_fail(r, Int32(DC_HTTP_FAIL_CONNECT), d)
        case .timeout(let d): dc_http_response_fail(r, Int32(DC_HTTP_FAIL_TIMEOUT), d)
        case .broken(let d): dc_http_response_fail(r, Int32(DC_HTTP_FAIL_BROKEN), d)
        case .cancelled(let d): dc_http_response_fail(r, Int32(DC_HTTP_FAIL_CANCELED), d)
        }
        return -1
    } catch {
        dc_http_response_fail(r, Int32(DC_HTTP_FAIL_BROKEN), "\(error)")
        return -1
    }
}

private func transportCancel(_ user: UnsafeMutableRawPointer?) {
    Unmanaged<TransportBox>.fromOpaque(user!).takeUnretainedValue().transport.cancel()
}

private func transportRelease(_ user: UnsafeMutableRawPointer?) {
    Unmanaged<TransportBox>.fromOpaque(user!).release()
}

/// A sync client of one replica with one relay (or a tablet's `serve`).
public final class SyncClient {
    private let replica: Replica
    private let transport: HTTPTransport
    private let lock = NSLock()
    private var handle: OpaquePointer?
    /// Refreshed after each sync (the app's own Replica on the same file), so
    /// that its live queries hear of what the sync brought.
    public var refreshing: Replica?
    /// The status stream: the replica's status after each sync, succeeded or
    /// not (the newest 8 kept for a slow reader).
    public let statuses: AsyncStream<SyncStatus>
    private let statusSink: AsyncStream<SyncStatus>.Continuation

    /// A client of `replica` with the relay at `url` ("http://host:port", "https://...").
    /// `maxAttempts` per sync (0: 6), `backoffBaseMs` the first backoff (0: 500 ms).
    public init(
        replica: Replica, url: String, transport: HTTPTransport = URLSessionTransport(),
        maxAttempts: Int = 0, backoffBaseMs: Int64 = 0
    ) throws {
        self.replica = replica
        self.transport = transport
        var sink: AsyncStream<SyncStatus>.Continuation!
        statuses = AsyncStream(bufferingPolicy: .bufferingNewest(8)) { sink = $0 }
        statusSink = sink
        let r = try replica.h()
        let box = Unmanaged.passRetained(TransportBox(transport)).toOpaque()
        var tr = dc_transport()
        tr.version = UInt32(DC_TRANSPORT_VERSION)
        tr.request = transportRequest
        tr.cancel = transportCancel
        tr.release = transportRelease
        tr.user = box
        var o = dc_client_options()
        o.version = UInt32(DC_CLIENT_OPTIONS_VERSION)
        o.max_attempts = UInt32(max(0, maxAttempts))
        o.backoff_base_ms = backoffBaseMs
        var c: OpaquePointer?
        let rc = dc_client_new(&c, r, url, &tr, &o)  // releases the box on failure
        try check(rc, r)
        handle = c
    }

    deinit { close() }

    private func c() throws -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        guard let c = handle else { throw DCError(code: .misuse, message: "the sync client is closed") }
        return c
    }

    /// One sync, retried on transient failures; throws the last attempt's error.
    @discardableResult
    public func syncNow() throws -> SyncReport {
        let (r, c) = (try replica.h(), try self.c())
        (transport as? URLSessionTransport)?.rearm()
        defer {
            // Even after a failure: a sync may apply part of what came.
            if let ui = refreshing, ui !== replica { _ = try? ui.refresh() }
            if let st = try? replica.syncStatus() { statusSink.yield(st) }
        }
        try check(dc_client_sync(c), r)
        var f = dc_client_figures()
        f.version = UInt32(DC_CLIENT_FIGURES_VERSION)
        try check(dc_client_figures_get(c, &f), nil)
        return SyncReport(f)
    }

    /// Long-poll up to `timeout` seconds (0...60): true when others wrote since.
    public func waitForChanges(timeout: Int) throws -> Bool {
        let (r, c) = (try replica.h(), try self.c())
        (transport as? URLSessionTransport)?.rearm()
        var changed: Int32 = 0
        try check(dc_client_wait(&changed, c, Int32(timeout)), r)
        return changed != 0
    }

    /// Stops a sync or wait in flight soon (it throws `.user`); any thread.
    public func cancel() {
        lock.lock()
        let c = handle
        lock.unlock()
        if let c = c { dc_client_cancel(c) }
    }

    public func close() {
        lock.lock()
        let c = handle
        handle = nil
        lock.unlock()
        if let c = c { dc_client_free(c) }
        statusSink.finish()
    }
}

// MARK: - async

/// Carries a client to the thread that runs its blocking call: a
/// SyncClient serves one call at a time (its replica's rule) and `cancel()`
/// from any thread, which is all the async variants below use.
private final class ClientBox: @unchecked Sendable {
    let client: SyncClient
    init(_ c: SyncClient) { client = c }
}

extension SyncClient {
    /// `syncNow()` as an `async` call: the blocking sync runs on a global
    /// queue, never on the caller's thread (the main actor stays free), and
    /// cancelling the calling Task cancels the sync (it throws `.user`).
    /// As with `syncNow()`, one sync or wait at a time per client.
    public func sync() async throws -> SyncReport {
        try await blocking { try $0.syncNow() }
    }

    /// `waitForChanges(timeout:)` as an `async` call (the long-poll off the
    /// caller's thread; cancelling the Task ends it with `.user`).
    public func changes(timeout: Int) async throws -> Bool {
        try await blocking { try $0.waitForChanges(timeout: timeout) }
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable (SyncClient) throws -> T) async throws -> T {
        let box = ClientBox(self)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, Error>) in
                DispatchQueue.global(qos: .utility).async {
                    k.resume(with: Result { try body(box.client) })
                }
            }
        } onCancel: {
            box.client.cancel()
        }
    }
}
