// DriverAppModel.swift — the model layer of a truck driver's iOS app over
// the Swift bindings (Drivercore): what the screens show and what the
// buttons do, no UIKit or SwiftUI, so it builds and is tested on Linux.  A
// SwiftUI app makes it an ObservableObject (README.md).
//
// Everything a driver does works offline and is written to his phone at
// once: filing a grievance (and seeing its deadlines), checking in at a
// Driver's Home, reading a study item.  syncNow() sends it when a link is
// there; BGTaskScheduler calls it (README.md, "Where sync runs").
//
// Threads: the model lives on the main actor with the UI's replica; the
// sync runs off it on a second replica handle on the same file (a sync on a
// weak link can take minutes), and the UI's replica is refreshed back on
// the main actor, so live queries fire with what arrived.

import Drivercore
import Foundation

/// The sync side: its own replica handle and client, used only from the
/// detached task syncNow() starts (one at a time, by `lock`).
private final class SyncSide: @unchecked Sendable {
    let replica: Replica
    let client: SyncClient
    private let lock = NSLock()

    init(path: String, url: String, transport: HTTPTransport) throws {
        replica = try Replica(path: path, mustExist: true)
        client = try SyncClient(replica: replica, url: url, transport: transport)
    }

    /// true: synced; false: no link or the relay unreachable (the status
    /// says why); other failures throw.
    func sync() throws -> Bool {
        lock.lock()
        defer { lock.unlock() }
        do {
            try client.syncNow()
            return true
        } catch let e as DCError where e.code == .io || e.code == .user {
            return false
        }
    }

    func close() {
        client.close()
        replica.close()
    }
}

@MainActor
public final class DriverAppModel {
    /// Who the driver is and where his data lives (from enrolment).
    public struct Config: Sendable {
        /// His registry id, "drv-...".
        public var driverId: String
        /// His own space (check-ins); created on first start when nil.
        public var personalSpace: String?
        /// His branch's space: study items; his receipts go there.
        public var branchSpace: String
        /// The space his grievances are filed into (the county desk's).
        public var grievanceSpace: String
        /// The directory space with the Driver's Homes, or nil.
        public var directorySpace: String?
        /// The relay, "https://host:port".
        public var relayURL: String

        public init(driverId: String, branchSpace: String, grievanceSpace: String, relayURL: String) {
            self.driverId = driverId
            self.branchSpace = branchSpace
            self.grievanceSpace = grievanceSpace
            self.relayURL = relayURL
        }
    }

    public private(set) var config: Config
    private let ui: Replica
    private let side: SyncSide

    /// The status after each sync attempt, for the status bar.
    public var syncStatuses: AsyncStream<SyncStatus> { side.client.statuses }

    /// Opens (or creates) the replica at `path` — on iOS under Application
    /// Support, excluded from iCloud backup (Backup.excludeFromBackup), so a
    /// restore never clones it — and the sync client over `transport`.
    public init(path: String, config: Config, transport: HTTPTransport = URLSessionTransport()) throws {
        var c = config
        ui = try Replica(path: path, deviceName: "driver phone")
        if c.personalSpace == nil {
            c.personalSpace = try ui.createSpace(name: "driver \(c.driverId)").id
        }
        self.config = c
        side = try SyncSide(path: path, url: c.relayURL, transport: transport)
    }

    /// The card an admin adds to his spaces (a QR code at enrolment).
    public func card() throws -> String { try ui.card() }

    // MARK: grievances

    /// Files a grievance, offline too; it syncs later.  Returns it with its deadlines.
    public func fileGrievance(category: String, text: String, amountYuan: Int64 = 0) throws -> CaseInfo {
        var f = CaseFiling(category: category, text: text)
        f.driver = config.driverId
        f.amount = amountYuan
        return try ui.fileCaseInfo(space: config.grievanceSpace, f)
    }

    /// His grievances, the open ones with the nearest deadline first.
    public func myGrievances() throws -> [CaseInfo] {
        try grievances(
            from: ui.query(
                space: config.grievanceSpace, type: "case", where: "driver", equals: .string(config.driverId),
                withEvents: false))
    }

    /// A live query of his grievances: its `pages` yield now and whenever
    /// they change (his filing, a handler's step arriving by sync); turn a
    /// page into cases with `grievances(from:)`.  With events: a step is an
    /// event of the case record.
    public func observeGrievances() throws -> LiveQuery {
        try ui.observe(
            space: config.grievanceSpace, type: "case", where: "driver", equals: .string(config.driverId))
    }

    public func grievances(from page: RecordPage) throws -> [CaseInfo] {
        let cases = try page.records.compactMap { try ui.caseInfo($0.id, space: config.grievanceSpace) }
        func key(_ c: CaseInfo) -> Int64 { c.nextDueMs < 0 ? .max : c.nextDueMs }
        return cases.sorted {
            $0.open != $1.open ? $0.open : key($0) != key($1) ? key($0) < key($1) : $0.id < $1.id
        }
    }

    /// The line under a grievance: its status and the next deadline in words.
    public nonisolated static func deadlineLine(_ c: CaseInfo, nowMs: Int64) -> String {
        let due = c.nextDueMs
        guard c.open, due >= 0 else { return c.status }
        var which = ""
        for k in 0..<4 where c.dueMs[k] == due && c.doneMs[k] < 0 {
            which = CaseInfo.deadlines[k]
            break
        }
        let left = due - nowMs
        func hours(_ ms: Int64) -> String {
            let h = ms / 3_600_000
            return h >= 48 ? "\(h / 24) days" : h >= 1 ? "\(h) h" : "\(ms / 60_000) min"
        }
        let when = left < 0 ? "overdue by \(hours(-left))" : "due in \(hours(left))"
        return "\(c.status): \(which) \(when)"
    }

    // MARK: Driver's Homes

    /// Records a visit (rating 1...5, 0 none), offline too.
    public func checkIn(station: String, used: String? = nil, feedback: String? = nil, rating: Int = 0) throws {
        try ui.checkIn(space: config.personalSpace!, station: station, used: used, feedback: feedback, rating: rating)
    }

    public func myVisits() throws -> [Visit] { try ui.visits(space: config.personalSpace!) }

    /// The Driver's Homes (offering `facility` when given); empty without a directory.
    public func stations(facility: String? = nil) throws -> [Station] {
        guard let dir = config.directorySpace else { return [] }
        return try ui.stations(space: dir, facility: facility)
    }

    // MARK: study

    public func studyItems() throws -> [StudyItem] { try ui.studyItems(space: config.branchSpace) }

    /// Opens an item to read: writes his read receipt (offline too) and returns it.
    public func openStudyItem(_ id: String) throws -> StudyItem? {
        try ui.markStudyRead(space: config.branchSpace, item: id, driver: config.driverId)
        return try ui.studyItem(space: config.branchSpace, id: id)
    }

    /// He finished the item (watched the video to the end, ...).
    public func finishStudyItem(_ id: String) throws {
        try ui.markStudyRead(space: config.branchSpace, item: id, driver: config.driverId, done: true)
    }

    public func studyState(_ item: StudyItem) -> StudyItem.State { item.state(of: config.driverId) }

    public func comment(_ id: String, text: String) throws {
        try ui.discussStudy(space: config.branchSpace, item: id, driver: config.driverId, text: text)
    }

    // MARK: his branch

    /// His branch (name, the four principles), or nil before its space has arrived.
    public func myBranch() throws -> Branch? { try ui.branches(space: config.branchSpace).first }

    /// The branch's theme activities, by date.
    public func activities() throws -> [Activity] { try ui.activities(space: config.branchSpace) }

    /// He takes part in an activity (offline too).
    public func joinActivity(_ id: String) throws {
        try ui.joinActivity(space: config.branchSpace, activity: id, driver: config.driverId)
    }

    // MARK: sync

    /// Accepts the spaces his branch and the county desk invited this phone
    /// to, once their invitations have arrived; returns how many are open.
    @discardableResult
    public func acceptInvitations() throws -> Int {
        var open = 0
        for s in [config.branchSpace, config.grievanceSpace, config.directorySpace].compactMap({ $0 }) {
            do {
                try ui.space(s).accept(directory: s == config.directorySpace)
                open += 1
            } catch let e as DCError where e.code == .notfound {
                continue  // not arrived yet
            }
        }
        return open
    }

    /// One sync with the relay, off the main actor: what he wrote offline
    /// goes up, what others wrote comes down, and the screens refresh.
    /// false when there is no link (the status says why).
    @discardableResult
    public func syncNow() async throws -> Bool {
        let side = self.side
        let ok = try await Task.detached { try side.sync() }.value
        _ = try ui.refresh()
        return ok
    }

    /// What the BGAppRefreshTask handler runs: a sync; on the first one
    /// after enrolment, also accepts the invitations that came down and
    /// syncs again to read those spaces.  false: no link (reschedule).
    public func backgroundSync() async throws -> Bool {
        guard try await syncNow() else { return false }
        if try acceptInvitations() > 0 { return try await syncNow() }
        return true
    }

    /// Stops a sync in flight (the background task expired); any thread.
    public nonisolated func cancelSync() { side.client.cancel() }

    public func syncStatus() throws -> SyncStatus { try ui.syncStatus() }

    /// The status bar's line: synced or not, what waits to go, why not.
    public nonisolated static func statusLine(_ s: SyncStatus) -> String {
        let waiting =
            s.unacked == 0 ? "everything sent" : "\(s.unacked) change\(s.unacked == 1 ? "" : "s") waiting to be sent"
        if !s.hasLastSync { return "Not synced yet; \(waiting)" }
        if s.ok { return "Synced; \(waiting)" }
        return "Offline (\(s.reason)); \(waiting). \(s.error)"
    }

    /// Closes the sync side and the replica.
    public func close() {
        side.close()
        ui.close()
    }
}
