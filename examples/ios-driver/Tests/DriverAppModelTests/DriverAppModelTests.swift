// The driver's app model end to end, as the driver would see it: enrolled
// through a real drivercore-relay on loopback (started and stopped here,
// DRIVERCORE_RELAY), then the link drops; he files a grievance, checks in
// and reads a study item offline, and the status bar says what waits; the
// link comes back, the background sync sends it all, the county desk and
// his branch see it, and a handler's step comes back to his screen.

import Drivercore
import Foundation
import XCTest

@testable import DriverAppModel

/// The phone's link: airplane mode when down, URLSession when up.
final class Link: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var isUp = true
    private let net = URLSessionTransport()

    var up: Bool {
        get { lock.lock(); defer { lock.unlock() }; return isUp }
        set { lock.lock(); isUp = newValue; lock.unlock() }
    }

    func execute(_ q: HTTPRequest) throws -> HTTPResponse {
        guard up else { throw HTTPFailure.connect("no network (airplane mode)") }
        return try net.execute(q)
    }

    func cancel() { net.cancel() }
}

final class DriverAppModelTests: XCTestCase {
    private var dir = ""
    private var relay: Process?
    private var url = ""

    private func path(_ name: String) -> String { dir + "/" + name }

    override func setUpWithError() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        dir = base + "/drivercore-ios-driver-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard let exe = ProcessInfo.processInfo.environment["DRIVERCORE_RELAY"], !exe.isEmpty else {
            throw XCTSkip("DRIVERCORE_RELAY not set: no relay to sync with")
        }
        let log = path("relay.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--store", path("relay.db"), "--listen", "127.0.0.1:0", "--quiet"]
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        relay = p
        for _ in 0..<200 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: " port ") {
                url = "http://127.0.0.1:\(text[r.upperBound...].prefix { $0.isNumber })"
                return
            }
            usleep(50_000)
        }
        XCTFail("the relay did not start")
    }

    override func tearDownWithError() throws {
        relay?.terminate()
        relay?.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }

    @MainActor
    func testOfflineWorkSyncsWhenTheLinkComesBack() async throws {
        // The county desk and the branch secretary (one tablet here) set up
        // the spaces and publish a Driver's Home and a study item.
        let desk = try Replica(path: path("desk.db"))
        let deskSync = try SyncClient(replica: desk, url: url)
        defer { deskSync.close() }
        let cases = try desk.createSpace(name: "county desk")
        let branch = try desk.createSpace(name: "branch 11")
        let dirSpace = try desk.createSpace(name: "directory")
        _ = try dirSpace.write { t in
            try t.set("station", "dh-7", "name", "修文服务区司机之家")
            try t.add("station", "dh-7", "facilities", "showers")
        }
        let item = try desk.pushStudy(space: branch.id, title: "冬季安全行车", kind: "article", media: "雪天慢行")
        _ = try branch.write { t in
            try t.set("branch", "branch-11", "name", "货运十一支部")
            try t.set("activity", "act-1", "title", "主题党日")
            try t.set("activity", "act-1", "date", "2026-12-20")
        }

        var cfg = DriverAppModel.Config(
            driverId: "drv-1001", branchSpace: branch.id, grievanceSpace: cases.id, relayURL: url)
        cfg.directorySpace = dirSpace.id
        let link = Link()
        let app = try DriverAppModel(path: path("phone.db"), config: cfg, transport: link)
        defer { app.close() }
        XCTAssertNotNil(app.config.personalSpace)
        let first = try app.syncStatus()
        XCTAssertFalse(first.hasLastSync)
        XCTAssertEqual(
            DriverAppModel.statusLine(first), "Not synced yet; \(first.unacked) changes waiting to be sent")

        // Enrolment: the desk adds his card; the first background sync
        // brings the invitations, accepts them and reads the spaces.
        for s in [cases, branch, dirSpace] { try s.add(card: try app.card(), role: .member) }
        try deskSync.syncNow()
        let enrolled = try await app.backgroundSync()
        XCTAssertTrue(enrolled)
        XCTAssertEqual(try app.studyItems().map(\.id), [item])
        XCTAssertEqual(app.studyState(try app.studyItems()[0]), .unread)
        XCTAssertEqual(try app.stations(facility: "showers").map(\.id), ["dh-7"])
        XCTAssertEqual(try app.myBranch()?.name, "货运十一支部")
        XCTAssertEqual(try app.activities().first?.joined, [])

        let screen = try app.observeGrievances()
        defer { screen.close() }
        var pages = screen.pages.makeAsyncIterator()
        let nonePage = await pages.next()
        let none = try XCTUnwrap(nonePage)
        XCTAssertEqual(try app.grievances(from: none), [])

        // In a tunnel: no link.  Everything still works.
        link.up = false
        let c = try app.fileGrievance(category: "freight_arrears", text: "运费拖欠 4200 元", amountYuan: 4200)
        XCTAssertEqual(c.status, "received")
        XCTAssertEqual(c.nextDueMs, c.receivedMs + 2 * 3_600_000)
        XCTAssertEqual(DriverAppModel.deadlineLine(c, nowMs: c.receivedMs), "received: transfer due in 2 h")
        let filedPage = await pages.next()
        let filed = try XCTUnwrap(filedPage)
        XCTAssertEqual(try app.grievances(from: filed).map(\.id), [c.id])
        try app.checkIn(station: "dh-7", used: "showers", feedback: "热水很好", rating: 5)
        let read = try XCTUnwrap(try app.openStudyItem(item))
        XCTAssertEqual(read.media, "雪天慢行")
        XCTAssertEqual(app.studyState(read), .read)
        try app.finishStudyItem(item)
        try app.joinActivity("act-1")

        let offline = try await app.backgroundSync()
        XCTAssertFalse(offline)  // BGTask: reschedule
        let off = try app.syncStatus()
        XCTAssertFalse(off.ok)
        XCTAssertEqual(off.reason, "unreachable")
        XCTAssertTrue(off.error.contains("airplane mode"), off.error)
        XCTAssertGreaterThanOrEqual(off.unacked, 4)
        XCTAssertTrue(
            DriverAppModel.statusLine(off).hasPrefix("Offline (unreachable); \(off.unacked) changes waiting to be sent."))

        // The link is back.
        link.up = true
        let back = try await app.backgroundSync()
        XCTAssertTrue(back)
        let on = try app.syncStatus()
        XCTAssertTrue(on.ok)
        XCTAssertEqual(on.unacked, 0)
        XCTAssertEqual(DriverAppModel.statusLine(on), "Synced; everything sent")

        // The desk and the branch see what he wrote offline; his check-in
        // stays in his own space.
        try deskSync.syncNow()
        let atDesk = try XCTUnwrap(try desk.caseInfo(c.id, space: cases.id))
        XCTAssertEqual(atDesk.driver, "drv-1001")
        XCTAssertEqual(atDesk.amount, 4200)
        XCTAssertEqual(try desk.studyItem(space: branch.id, id: item)?.state(of: "drv-1001"), .done)
        XCTAssertEqual(try desk.activities(space: branch.id).first?.joined, ["drv-1001"])
        XCTAssertThrowsError(try desk.visits(space: app.config.personalSpace!)) { e in
            XCTAssertEqual((e as? DCError)?.code, .notfound)
        }
        XCTAssertEqual(try app.myVisits().map(\.rating), [5])

        // The desk transfers it; his screen updates after the next sync.
        try desk.stepCase(c.id, action: "transfer", to: "committee-520100")
        try deskSync.syncNow()
        let synced = try await app.syncNow()
        XCTAssertTrue(synced)
        let movedPage = await pages.next()
        let moved = try XCTUnwrap(movedPage)
        let now = try XCTUnwrap(try app.grievances(from: moved).first)
        XCTAssertEqual(now.status, "transferred")
        XCTAssertGreaterThan(now.doneMs[0], 0)
        XCTAssertEqual(now.nextDueMs, now.dueMs[1])
        XCTAssertTrue(DriverAppModel.deadlineLine(now, nowMs: now.receivedMs).hasPrefix("transferred: feedback due in "))
        XCTAssertEqual(try app.myGrievances().map(\.id), [c.id])
    }
}
