// XCTest tests of the Swift bindings against the real C library, mirroring
// the JUnit tests of bindings/jni: two replicas share a space, write,
// exchange bundles and end with byte-identical dumps; two replicas sync
// in-process through SyncSession and converge; failures are thrown as
// DCError with the library's code and a non-empty message; the generated
// error type agrees with the linked library's table.  Run by
// bindings/swift/run_swift_test.py (meson test suite `bindings`).

import CDrivercore
import Foundation
import XCTest

@testable import Drivercore

final class DrivercoreTests: ReplicaTestCase {
    // MARK: the generated error type

    func testGeneratedErrorsMatchTheLibraryTable() {
        XCTAssertGreaterThan(DCError.Code.all.count, 10)
        for code in DCError.Code.all {
            XCTAssertEqual(code.name, code.libraryName)
            XCTAssertEqual(code.defaultMessage, code.libraryMessage)
        }
        let unknown = DCError.Code(rawValue: -999)
        XCTAssertEqual(unknown.name, "DC_UNKNOWN")
        XCTAssertEqual(unknown.libraryName, "DC_UNKNOWN")
        XCTAssertEqual(DCError(code: .notfound).message, "not found")
    }

    func testRolesMatchTheLibraryNames() {
        for role in Role.allCases {
            XCTAssertEqual(role.name, "\(role)")
        }
    }

    // MARK: the main story

    func testTwoReplicasShareASpaceAndConverge() throws {
        let a = try Replica(path: path("a.db"), deviceName: "secretary")
        let b = try Replica(path: path("b.db"), deviceName: "driver")
        XCTAssertEqual(try a.deviceId.count, 64)
        XCTAssertNotEqual(try a.deviceId, try b.deviceId)
        XCTAssertTrue(try a.card().contains(try a.deviceId))
        XCTAssertFalse(Replica.libraryVersion.isEmpty)

        let s = try a.createSpace(name: "branch 7")
        XCTAssertEqual(s.id.count, 32)
        XCTAssertTrue(try a.spaces().contains(s.id))
        try s.add(card: try b.card(), role: .member)
        let members = try s.members()
        XCTAssertTrue(members.contains(try a.deviceId))
        XCTAssertTrue(members.contains(try b.deviceId))
        XCTAssertTrue(members.contains("\"member\""))

        let change = try s.write { t in
            try t.set("truck", "t1", "plate", "B-123")
            try t.set("truck", "t1", "seats", 3)
            try t.set("truck", "t1", "active", true)
            try t.add("truck", "t1", "tags", "reefer")
            try t.add("truck", "t1", "tags", "long-haul")
            try t.event("truck", "t1", ["what": "check-in", "km": 120])
            XCTAssertEqual(t.opCount, 6)  // an event and its fields are one op
        }
        XCTAssertFalse(change.isEmpty)
        XCTAssertTrue(try s.record(type: "truck", id: "t1").contains("B-123"))
        XCTAssertTrue(try s.records(type: "truck").contains("\"t1\""))
        XCTAssertTrue(try s.find(type: "truck", field: "plate", equals: "B-123").contains("\"t1\""))
        XCTAssertTrue(try s.find(type: "truck", field: "tags", equals: "reefer").contains("\"t1\""))

        // a -> b: b learns the membership (and its key) and the records.
        let bundle = try a.exportBundle()
        XCTAssertFalse(bundle.isEmpty)
        let report = try b.importBundle(bundle)
        XCTAssertTrue(report.contains("\"envelopes\""), report)
        // b joins only with its consent: invited, unreadable, then accepted.
        XCTAssertTrue(try b.spaces().contains("\"invited\""))
        expect(.denied) { _ = try b.record(space: s.id, type: "truck", id: "t1") }
        try b.space(s.id).accept()
        XCTAssertTrue(try b.record(space: s.id, type: "truck", id: "t1").contains("B-123"))

        // b writes too, then b -> a.
        try b.space(s.id).write { t in
            try t.set("truck", "t2", "plate", "Zoë 🚚")
            try t.remove("truck", "t1", "tags", "reefer")
        }
        try a.importBundle(try b.exportBundle(space: s.id))

        let da = try a.dump()
        XCTAssertEqual(da, try b.dump())
        XCTAssertEqual(try a.dump(space: s.id), try b.dump(space: s.id))
        XCTAssertTrue(da.contains("Zoë 🚚"), da)
        XCTAssertFalse(da.contains("reefer"), "removed set member still present")

        // Re-importing what is already held changes nothing.
        try a.importBundle(try b.exportBundle())
        XCTAssertEqual(da, try a.dump())

        // Deleting a record hides it.
        try s.write { t in try t.delete("truck", "t2") }
        expect(.notfound) { _ = try s.record(type: "truck", id: "t2") }
    }

    func testReplicaReopensWithTheSameIdentity() throws {
        var id = ""
        do {
            let a = try Replica(path: path("r.db"))
            id = try a.deviceId
        }  // deinit closes
        let again = try Replica(path: path("r.db"), mustExist: true)
        XCTAssertEqual(try again.deviceId, id)
    }

    // MARK: typed records

    func testRecordsReadBackTyped() throws {
        var kept: Record?
        do {
            let a = try Replica(path: path("typed.db"))
            let s = try a.createSpace(name: "branch 9")
            let photo: [UInt8] = [0, 0xff, 7, 0]
            try s.write { t in
                try t.set("driver", "d1", "name", "王师傅 🚚")
                try t.set("driver", "d1", "age", 47)
                try t.set("driver", "d1", "lat", 26.5783)
                try t.set("driver", "d1", "photo", .bytes(photo))
                try t.set("driver", "d1", "member", true)
                try t.add("driver", "d1", "tags", "hazmat")
                try t.add("driver", "d1", "tags", 3)
                try t.event("driver", "d1", ["what": "checkin", "at": 1.25])
            }
            let r = try XCTUnwrap(try s.read(type: "driver", id: "d1"))
            XCTAssertEqual(r.fields, ["age", "lat", "member", "name", "photo", "tags"])
            XCTAssertEqual(r.string("name"), "王师傅 🚚")
            XCTAssertEqual(r.int("age"), 47)
            XCTAssertEqual(r.double("lat"), 26.5783)
            XCTAssertEqual(r.bytes("photo"), photo)
            XCTAssertEqual(r.bool("member"), true)
            XCTAssertNil(r.string("age"))
            XCTAssertEqual(r.set("tags"), [.int(3), .string("hazmat")])
            XCTAssertEqual(r.events.count, 1)
            XCTAssertEqual(r.events[0]["what"], .string("checkin"))
            XCTAssertEqual(r.events[0]["at"], .double(1.25))
            XCTAssertEqual(r.events[0].keys, ["at", "what"])
            XCTAssertEqual(r.events[0].author, try a.deviceId)
            XCTAssertNil(try s.read(type: "driver", id: "nobody"))
            kept = r
            expect(.inval) { try s.write { t in try t.set("driver", "d1", "lat", .double(.nan)) } }

            try s.write { t in
                for i in 0..<12 {
                    let id = String(format: "t%02d", i)
                    try t.set("truck", id, "load", .double(Double(i % 4)))
                    try t.add("truck", id, "route", i % 2 == 0 ? "A" : "B")
                }
            }
            let all = try s.query(type: "truck")
            XCTAssertEqual(all.total, 12)
            XCTAssertEqual(all.records.first?.id, "t00")
            let a2 = try s.query(type: "truck", where: "route", equals: "A", withEvents: false)
            XCTAssertEqual(a2.total, 6)
            XCTAssertTrue(a2.records.allSatisfy { $0.set("route").contains("A") })
            let top = try s.query(type: "truck", orderBy: "load", descending: true, limit: 3)
            XCTAssertEqual(top.records.map(\.id), ["t03", "t07", "t11"])
            XCTAssertEqual(top.total, 12)
            XCTAssertEqual(try s.query(type: "truck", where: "load", equals: 2.0).total, 3)
            try a.declareIndex(space: s.id, type: "truck", field: "load")
            XCTAssertEqual(try s.query(type: "truck", where: "load", equals: 2.0).total, 3)
        }
        // The replica is closed: the record is a copy and reads on.
        XCTAssertEqual(kept?.string("name"), "王师傅 🚚")
    }

    func testLiveQueriesYieldChanges() async throws {
        let a = try Replica(path: path("live.db"))
        let s = try a.createSpace(name: "branch 10")
        let live = try a.observe(space: s.id, type: "truck", where: "route", equals: "A", orderBy: "n")
        var it = live.pages.makeAsyncIterator()
        let first = await it.next()
        XCTAssertEqual(first?.total, 0)
        try s.write { t in
            try t.set("truck", "t1", "n", 2)
            try t.add("truck", "t1", "route", "A")
        }
        try s.write { t in try t.add("truck", "t2", "route", "B") }  // outside the filter
        try s.write { t in
            try t.set("truck", "t3", "n", 1)
            try t.add("truck", "t3", "route", "A")
        }
        let second = await it.next()
        XCTAssertEqual(second?.records.map(\.id), ["t1"])
        let third = await it.next()
        XCTAssertEqual(third?.records.map(\.id), ["t3", "t1"])
        // A change through a second Replica on the file: heard at the refresh.
        let side = try Replica(path: path("live.db"))
        try side.space(s.id).write { t in
            try t.set("truck", "t4", "n", 0)
            try t.add("truck", "t4", "route", "A")
        }
        XCTAssertTrue(try a.refresh())
        let fourth = await it.next()
        XCTAssertEqual(fourth?.records.map(\.id), ["t4", "t3", "t1"])
        live.close()
        XCTAssertFalse(live.isOpen)
        let end = await it.next()
        XCTAssertNil(end)  // the stream ended
    }

    // MARK: the sync client

    /// A drivercore-relay on a loopback port of its own, or nil when the test
    /// runs without one (DRIVERCORE_RELAY unset).
    private func startRelay() throws -> (Process, String)? {
        guard let relay = ProcessInfo.processInfo.environment["DRIVERCORE_RELAY"], !relay.isEmpty else {
            return nil
        }
        let log = path("relay.log")
        FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: relay)
        p.arguments = ["--store", path("relay.db"), "--listen", "127.0.0.1:0", "--quiet"]
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        for _ in 0..<200 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: " port ") {
                let digits = text[r.upperBound...].prefix { $0.isNumber }
                return (p, "http://127.0.0.1:\(digits)")
            }
            usleep(50_000)
        }
        p.terminate()
        XCTFail("the relay did not start")
        return nil
    }

    func testSyncClientSyncsThroughARelay() async throws {
        guard let (relay, url) = try startRelay() else {
            throw XCTSkip("DRIVERCORE_RELAY not set")
        }
        defer { relay.terminate() }
        let tablet = try Replica(path: path("sc-tablet.db"))
        let phone = try Replica(path: path("sc-phone.db"))
        let s = try tablet.createSpace(name: "branch 11")
        try s.add(card: try phone.card(), role: .member)
        try s.write { t in try t.set("case", "c1", "status", "filed") }
        let ct = try SyncClient(replica: tablet, url: url)
        let cp = try SyncClient(replica: phone, url: url)
        XCTAssertGreaterThan(try ct.syncNow().changesSent, 0)
        XCTAssertGreaterThan(try cp.syncNow().changesReceived, 0)
        try phone.space(s.id).accept()
        try cp.syncNow()
        XCTAssertEqual(try phone.read(space: s.id, type: "case", id: "c1")?.string("status"), "filed")
        XCTAssertFalse(try cp.waitForChanges(timeout: 1))
        try phone.space(s.id).write { t in try t.set("case", "c1", "status", "heard") }
        try cp.syncNow()
        XCTAssertTrue(try ct.waitForChanges(timeout: 10))
        try ct.syncNow()
        XCTAssertEqual(try tablet.read(space: s.id, type: "case", id: "c1")?.string("status"), "heard")
        // The async variants: off this thread, and a cancelled Task ends the long-poll.
        let report = try await cp.sync()
        XCTAssertEqual(report.changesReceived, 0)
        XCTAssertEqual(report.snapshotNeeded, 0)  // no compaction in this space
        let quiet = try await cp.changes(timeout: 1)
        XCTAssertFalse(quiet)
        try tablet.space(s.id).write { t in try t.set("case", "c1", "status", "async") }
        let sent = try await ct.sync()
        XCTAssertGreaterThan(sent.changesSent, 0)
        let heard = try await cp.changes(timeout: 10)
        XCTAssertTrue(heard)
        let got = try await cp.sync()
        XCTAssertGreaterThan(got.changesReceived, 0)
        XCTAssertEqual(try phone.read(space: s.id, type: "case", id: "c1")?.string("status"), "async")
        let waiting = Task { try await cp.changes(timeout: 30) }
        try await Task.sleep(nanoseconds: 300_000_000)
        let t1 = Date()
        waiting.cancel()
        do {
            _ = try await waiting.value
            XCTFail("a cancelled wait returned normally")
        } catch let e as DCError {
            XCTAssertEqual(e.code, .user)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t1), 10)
        // A cancel from another thread ends a long-poll soon.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { cp.cancel() }
        let t0 = Date()
        expect(.user) { _ = try cp.waitForChanges(timeout: 30) }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10)
        // The relay gone: .io, and the status says the last sync failed.
        relay.terminate()
        relay.waitUntilExit()
        let dead = try SyncClient(replica: phone, url: url, maxAttempts: 2, backoffBaseMs: 10)
        expect(.io) { try dead.syncNow() }
        XCTAssertTrue(try phone.status().contains("\"ok\":false"))
        let st = try phone.syncStatus()
        XCTAssertTrue(st.hasLastSync)
        XCTAssertFalse(st.ok)
        XCTAssertEqual(st.reason, "unreachable")
        XCTAssertGreaterThan(st.error.count, 10)
        XCTAssertEqual(st.peer, url)
        XCTAssertEqual(st.unacked, 0)
        dead.close()
        var seen: [SyncStatus] = []
        for await s in dead.statuses { seen.append(s) }
        XCTAssertEqual(seen, [st])
        // The app's own transport, failing in its own words.
        final class Tunnel: HTTPTransport {
            func execute(_ request: HTTPRequest) throws -> HTTPResponse {
                throw HTTPFailure.connect("no signal in the tunnel")
            }
            func cancel() {}
        }
        let c = try SyncClient(replica: phone, url: url, transport: Tunnel(), maxAttempts: 1)
        do {
            try c.syncNow()
            XCTFail("a sync without a link succeeded")
        } catch let e as DCError {
            XCTAssertEqual(e.code, .io)
            XCTAssertTrue(e.message.contains("no signal in the tunnel"), e.message)
        }
    }

    func testAGrievanceFiledOfflineShowsItsDeadlinesEverywhere() throws {
        let phone = try Replica(path: path("gr-phone.db"))
        let desk = try Replica(path: path("gr-desk.db"))
        let s = try desk.createSpace(name: "county desk")
        try s.add(card: try phone.card(), role: .member)
        try phone.importBundle(try desk.exportBundle())
        try phone.space(s.id).accept()
        var f = CaseFiling(category: "freight_arrears", text: "运费拖欠 4200 元")
        f.channel = "12328"
        f.amount = 4200
        let id = try phone.fileCase(space: s.id, f)
        XCTAssertTrue(id.hasPrefix("gr-"))
        let c = try XCTUnwrap(try phone.caseInfo(id))
        XCTAssertEqual(c.status, "received")
        XCTAssertTrue(c.open)
        XCTAssertEqual(c.amount, 4200)
        XCTAssertEqual(c.dueMs[0], c.receivedMs + 2 * 3_600_000)
        XCTAssertEqual(c.nextDueMs, c.dueMs[0])
        XCTAssertEqual(c.dueMs[3], -1)
        try desk.importBundle(try phone.exportBundle())
        try desk.stepCase(id, action: "transfer", to: "committee-520100")
        try phone.importBundle(try desk.exportBundle())
        let onPhone = try XCTUnwrap(try phone.caseInfo(id, space: s.id))
        XCTAssertEqual(onPhone.status, "transferred")
        XCTAssertEqual(onPhone.level, "committee")
        XCTAssertEqual(onPhone, try desk.caseInfo(id, space: s.id))
        XCTAssertNil(try phone.caseInfo("gr-000000000000"))
        expect(.inval) { try phone.stepCase(id, action: "revisit", satisfied: 1) }
        // Filed and handed back typed in one call; a bad filing writes nothing.
        var g = CaseFiling(category: "overloading_fine", text: "罚款不合理")
        g.driver = "drv-1001"
        let typed = try phone.fileCaseInfo(space: s.id, g)
        XCTAssertTrue(typed.id.hasPrefix("gr-"))
        XCTAssertEqual(typed.space, s.id)
        XCTAssertEqual(typed.driver, "drv-1001")
        XCTAssertEqual(typed.status, "received")
        XCTAssertEqual(typed, try phone.caseInfo(typed.id, space: s.id))
        g.text = ""
        let before = try phone.query(space: s.id, type: "case").total
        expect(.inval) { _ = try phone.fileCaseInfo(space: s.id, g) }
        XCTAssertEqual(try phone.query(space: s.id, type: "case").total, before)
    }

    // MARK: check-ins and study

    func testADriverChecksInAndFindsStations() throws {
        let phone = try Replica(path: path("ci-phone.db"))
        let dir = try phone.createSpace(name: "directory").id
        _ = try phone.write(space: dir) { t in
            try t.set("station", "dh-1", "name", "贵阳司机之家")
            try t.set("station", "dh-1", "site", "service_area")
            try t.add("station", "dh-1", "facilities", "showers")
            try t.add("station", "dh-1", "facilities", "kitchen")
            try t.set("station", "dh-2", "name", "遵义")
            try t.add("station", "dh-2", "facilities", "parking")
        }
        let all = try phone.stations(space: dir)
        XCTAssertEqual(all.map(\.id), ["dh-1", "dh-2"])
        XCTAssertEqual(all[0].name, "贵阳司机之家")
        XCTAssertEqual(all[0].facilities, ["kitchen", "showers"])
        XCTAssertEqual(try phone.stations(space: dir, facility: "showers").map(\.id), ["dh-1"])

        let mine = try phone.createSpace(name: "driver drv-1").id
        try phone.checkIn(
            space: mine, station: "dh-1", atMs: 1_700_000_000_000, used: "showers", feedback: "hot water", rating: 5)
        try phone.checkIn(space: mine, station: "dh-2")
        try phone.checkIn(space: mine, station: "dh-1", atMs: 1_700_000_600_000)
        let v = try phone.visits(space: mine)
        XCTAssertEqual(v.map(\.station), ["dh-1", "dh-1", "dh-2"])
        XCTAssertEqual(v[0].atMs, 1_700_000_000_000)
        XCTAssertEqual(v[0].used, "showers")
        XCTAssertEqual(v[0].feedback, "hot water")
        XCTAssertEqual(v[0].rating, 5)
        XCTAssertEqual(v[1].atMs, 1_700_000_600_000)
        XCTAssertNil(v[1].used)
        XCTAssertEqual(v[1].rating, 0)
        XCTAssertLessThan(abs(v[2].atMs - Int64(Date().timeIntervalSince1970 * 1000)), 60_000)
        // A bad rating is refused with the library's code and writes nothing.
        expect(.inval) { try phone.checkIn(space: mine, station: "dh-1", rating: 6) }
        XCTAssertEqual(try phone.visits(space: mine).count, 3)
        expect(.notfound) { try phone.checkIn(space: String(repeating: "0", count: 32), station: "dh-1") }
    }

    func testStudyReceiptsAndDiscussionMergeBetweenPhones() throws {
        let desk = try Replica(path: path("st-desk.db"))
        let phone = try Replica(path: path("st-phone.db"))
        let s = try desk.createSpace(name: "branch 7")
        try s.add(card: try phone.card(), role: .member)
        XCTAssertEqual(try desk.pushStudy(space: s.id, id: "st-1", title: "安全驾驶", kind: "article", media: "全文"), "st-1")
        let second = try desk.pushStudy(space: s.id, title: "新闻", kind: "news")
        XCTAssertTrue(second.hasPrefix("st-"), second)
        _ = try phone.importBundle(try desk.exportBundle())
        try phone.space(s.id).accept()
        let item = try XCTUnwrap(try phone.studyItem(space: s.id, id: "st-1"))
        XCTAssertEqual(item.title, "安全驾驶")
        XCTAssertEqual(item.kind, "article")
        XCTAssertEqual(item.media, "全文")
        XCTAssertGreaterThan(item.pushedMs, 0)
        XCTAssertEqual(item.state(of: "drv-1"), .unread)
        XCTAssertEqual(try phone.studyItems(space: s.id).count, 2)
        try phone.markStudyRead(space: s.id, item: "st-1", driver: "drv-1")
        XCTAssertEqual(try phone.studyItem(space: s.id, id: "st-1")?.state(of: "drv-1"), .read)
        try phone.markStudyRead(space: s.id, item: "st-1", driver: "drv-1", done: true)
        try phone.markStudyRead(space: s.id, item: "st-1", driver: "drv-1")  // never undoes done
        try phone.discussStudy(space: s.id, item: "st-1", driver: "drv-1", text: "学到了")
        _ = try desk.importBundle(try phone.exportBundle())
        let onDesk = try XCTUnwrap(try desk.studyItem(space: s.id, id: "st-1"))
        XCTAssertEqual(onDesk.state(of: "drv-1"), .done)
        XCTAssertEqual(onDesk.state(of: "drv-2"), .unread)
        XCTAssertEqual(onDesk.discussion.map(\.text), ["学到了"])
        XCTAssertEqual(onDesk.discussion.first?.driver, "drv-1")
        XCTAssertNil(try desk.studyItem(space: s.id, id: "st-404"))
        expect(.notfound) { try phone.markStudyRead(space: s.id, item: "st-404", driver: "drv-1") }
        expect(.inval) { _ = try desk.pushStudy(space: s.id, title: "x", kind: "podcast") }
    }

    func testADriverSeesHisBranchAndJoinsAnActivity() throws {
        let desk = try Replica(path: path("br-desk.db"))
        let phone = try Replica(path: path("br-phone.db"))
        let s = try desk.createSpace(name: "branch 7")
        try s.add(card: try phone.card(), role: .member)
        let a = "drv-0000000000000000000a", b = "drv-0000000000000000000b"
        _ = try s.write { t in
            try t.set("branch", "branch-7", "name", "货运一支部")
            try t.set("branch", "branch-7", "hukou_region", "520100")
            try t.add("branch", "branch-7", "routes", "G75")
            try t.add("branch", "branch-7", "business_scope", "cold_chain")
            try t.set("member", b, "branch", "branch-7")
            try t.set("member", b, "joined", "2026-03-01")
            try t.set("member", a, "branch", "branch-7")
            try t.set("member", "drv-0000000000000000000c", "branch", "branch-9")
            try t.set("activity", "act-2", "title", "主题党日")
            try t.set("activity", "act-2", "date", "2026-12-20")
            try t.set("activity", "act-1", "title", "安全学习")
            try t.set("activity", "act-1", "date", "2026-12-10")
        }
        _ = try phone.importBundle(try desk.exportBundle())
        try phone.space(s.id).accept()
        let branch = try XCTUnwrap(try phone.branches(space: s.id).first)
        XCTAssertEqual(branch.id, "branch-7")
        XCTAssertEqual(branch.name, "货运一支部")
        XCTAssertEqual(branch.hukouRegion, "520100")
        XCTAssertEqual(branch.routes, ["G75"])
        XCTAssertEqual(branch.businessScope, ["cold_chain"])
        let roster = try phone.roster(space: s.id, branch: "branch-7")
        XCTAssertEqual(roster.map(\.driver), [a, b])
        XCTAssertEqual(roster.map(\.joined), [nil, "2026-03-01"])
        XCTAssertEqual(try phone.activities(space: s.id).map(\.id), ["act-1", "act-2"])
        try phone.joinActivity(space: s.id, activity: "act-1", driver: b)
        _ = try desk.importBundle(try phone.exportBundle())
        XCTAssertEqual(try desk.activities(space: s.id).first?.joined, [b])
        expect(.notfound) { try phone.joinActivity(space: s.id, activity: "act-404", driver: b) }
    }

    // MARK: errors carry codes

    func testErrorsCarryCodesAndMessages() throws {
        expect(.notfound) { _ = try Replica(path: path("missing.db"), mustExist: true) }

        let a = try Replica(path: path("e.db"))
        let s = try a.createSpace(name: "x")
        expect(.notfound) { _ = try s.record(type: "truck", id: "none") }
        expect(.notfound) { _ = try a.begin(space: "00000000000000000000000000000000") }

        // A corrupt bundle is refused with a decoder error and imports nothing.
        let before = try a.dump()
        do {
            try a.importBundle(Array("definitely not a bundle".utf8))
            XCTFail("garbage bundle accepted")
        } catch let e as DCError {
            XCTAssertTrue(e.code == .corrupt || e.code == .version, "\(e)")
            XCTAssertFalse(e.message.isEmpty)
        }
        XCTAssertEqual(before, try a.dump())

        // A string with NUL is refused before reaching C; one transaction at a time.
        do {
            let t = try s.begin()
            expect(.inval) { try t.set("truck", "t", "f", "a\u{0}b") }
            expect(.misuse) { _ = try a.begin(space: s.id) }
        }  // dropped: rolled back
        expect(.notfound) { _ = try s.record(type: "truck", id: "t") }

        // A body that throws rolls its transaction back.
        struct Oops: Error {}
        XCTAssertThrowsError(try s.write { t in
            try t.set("truck", "t", "f", 1)
            throw Oops()
        })
        expect(.notfound) { _ = try s.record(type: "truck", id: "t") }

        let t = try s.begin()
        try t.set("truck", "t", "f", 1)
        try t.commit()
        expect(.misuse) { try t.commit() }
        XCTAssertTrue(try s.record(type: "truck", id: "t").contains("1"))
    }

    /// The replica's bytes on disk: the database and its WAL.
    private func onDisk(_ p: String) -> Int64 {
        func size(_ f: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: f))?[.size] as? NSNumber)?
                .int64Value ?? 0
        }
        return size(p) + size(p + "-wal")
    }

    func testACompactedReplicaShrinksWhenVacuumed() throws {
        let p = path("vacuum.db")
        let a = try Replica(path: p)
        let s = try a.createSpace(name: "branch 4")
        let pad = String(repeating: "route note ", count: 40)
        // A year of overwrites of one record: every change kept until compaction.
        for i in 0..<300 {
            _ = try s.write { t in try t.set("driver", "d1", "note", .string("\(pad) \(i)")) }
        }
        let out = try s.compact()
        XCTAssertTrue(out.contains("\"published\":true"), out)
        let dropped = try XCTUnwrap(out.range(of: #""dropped":(\d+)"#, options: .regularExpression))
        XCTAssertGreaterThanOrEqual(
            Int(out[dropped].split(separator: ":")[1]) ?? 0, 300, out)
        let before = onDisk(p)
        let v = try a.vacuum()
        XCTAssertGreaterThan(v.freePagesBefore, 0, "\(v)")
        XCTAssertLessThan(v.bytesAfter, v.bytesBefore, "\(v)")
        XCTAssertLessThan(onDisk(p), before)
        // The state is kept, and nothing is left to give back.
        XCTAssertEqual(try s.read(type: "driver", id: "d1")?.string("note"), "\(pad) 299")
        XCTAssertEqual(try a.vacuum().freePagesBefore, 0)
        // Not inside a transaction.
        let t = try s.begin()
        try t.set("driver", "d2", "note", "open")
        expect(.misuse) { _ = try a.vacuum() }
        t.rollback()
    }

    func testAClosedReplicaRefusesCallsInsteadOfCrashing() throws {
        let a = try Replica(path: path("c.db"))
        let s = try a.createSpace(name: "s")
        let t = try s.begin()
        try t.set("truck", "t", "f", "v")
        a.close()  // rolls the open transaction back first
        XCTAssertTrue(a.isClosed)
        XCTAssertFalse(t.isOpen)
        expect(.misuse) { _ = try a.deviceId }
        expect(.misuse) { _ = try a.dump() }
        expect(.misuse) { _ = try s.members() }
        expect(.misuse) { try t.commit() }
        a.close()  // idempotent
    }

    func testRemovalRotatesAndRefusesTheRemoved() throws {
        let a = try Replica(path: path("ma.db"))
        let b = try Replica(path: path("mb.db"))
        let s = try a.createSpace(name: "branch")
        try s.add(card: try b.card(), role: .member)
        try b.importBundle(try a.exportBundle())
        try b.space(s.id).accept()
        try s.setRole(device: b.deviceId, role: .reader)
        try b.importBundle(try a.exportBundle())
        expect(.denied) { _ = try b.begin(space: s.id) }
        try s.setRole(device: b.deviceId, role: .member)
        try s.remove(device: b.deviceId)
        try s.write { t in try t.set("truck", "after", "plate", .string("new key")) }
        try b.importBundle(try a.exportBundle())
        // b keeps what it had but cannot read what came after its removal.
        XCTAssertFalse(try b.dump().contains("new key"))
        XCTAssertFalse(try s.members().contains(b.deviceId))
        try s.rotate()
        expect(.denied) { try b.space(s.id).remove(device: a.deviceId) }
        try b.space(s.id).decline()
        XCTAssertTrue(try b.spaces().contains("\"declined\""))
    }

    func testARestoredBackupIsClonedThenRecovered() throws {
        let tablet = try Replica(path: path("tablet.db"))
        let phone = try Replica(path: path("phone.db"))
        let s = try tablet.createSpace(name: "branch")
        try s.add(card: try phone.card(), role: .member)
        try phone.importBundle(try tablet.exportBundle())
        try phone.space(s.id).accept()
        // The backup takes the app's files as they are: the WAL too.
        for ext in ["", "-wal"] where FileManager.default.fileExists(atPath: path("phone.db" + ext)) {
            try FileManager.default.copyItem(atPath: path("phone.db" + ext),
                                             toPath: path("restored.db" + ext))
        }
        let restored = try Replica(path: path("restored.db"))
        try phone.space(s.id).write { t in try t.set("truck", "t1", "plate", .string("original")) }
        try restored.space(s.id).write { t in try t.set("truck", "t2", "plate", .string("restored")) }
        XCTAssertFalse(try restored.isCloned)
        try tablet.importBundle(try phone.exportBundle())
        expect(.conflict) { try restored.importBundle(try tablet.exportBundle()) }
        XCTAssertTrue(try restored.isCloned)
        expect(.cloned) { _ = try restored.begin(space: s.id) }
        let rec = try JSONSerialization.jsonObject(with: Data(try restored.recover().utf8)) as! [String: Any]
        XCTAssertFalse(try restored.isCloned)
        let card = rec["card"] as! [String: Any]
        XCTAssertEqual(card["replaces"] as? String, try phone.deviceId)
        let cardText = String(data: try JSONSerialization.data(withJSONObject: card), encoding: .utf8)!
        try s.add(card: cardText, role: .member)
        try restored.importBundle(try tablet.exportBundle())
        try tablet.importBundle(try restored.exportBundle())
        XCTAssertEqual(try tablet.dump(), try restored.dump())
        XCTAssertTrue(try tablet.dump().contains("restored"))
        XCTAssertTrue(try tablet.dump().contains("original"))
        // The C handle, for calls the binding does not wrap.
        let id = try restored.withUnsafeHandle { String(cString: dc_replica_device_id($0)) }
        XCTAssertEqual(id, try restored.deviceId)
    }

    func testInstallIdMarksARestoredCopyBeforeItWrites() throws {
        let phoneDir = URL(fileURLWithPath: path("phone-nobackup/drivercore"))
        let newPhoneDir = URL(fileURLWithPath: path("new-phone-nobackup/drivercore"))
        let id = try Backup.installId(in: phoneDir)
        XCTAssertEqual(try Backup.installId(in: phoneDir), id)  // kept
        let other = try Backup.installId(in: newPhoneDir)  // a new install: a new id
        XCTAssertNotEqual(id, other)
        let db = phoneDir.appendingPathComponent("replica.db").path
        let space: String
        do {
            let r = try Replica(path: db, deviceName: "truck 12", installId: id)
            space = try r.createSpace(name: "branch").id
            XCTAssertFalse(try r.isCloned)
            r.close()
        }
        // The backup restored on the new phone: the file, not the id.
        let copy = newPhoneDir.appendingPathComponent("replica.db").path
        try FileManager.default.copyItem(atPath: db, toPath: copy)
        let restored = try Replica(path: copy, installId: other)
        XCTAssertTrue(try restored.isCloned)
        XCTAssertTrue(try restored.status().contains("\"why\":\"copied\""))
        expect(.cloned) { _ = try restored.begin(space: space) }
        _ = try restored.recover()
        XCTAssertFalse(try restored.isCloned)
        let original = try Replica(path: db, installId: id)
        XCTAssertFalse(try original.isCloned)
        try original.space(space).write { t in try t.set("truck", "t1", "plate", .string("B-123")) }
        expect(.inval) { _ = try Replica(path: db, installId: "") }
    }

    // The umbrella drivercore.h carries relay.h: the relay's auth calls are
    // reachable from Swift through CDrivercore, not only from C.
    func testTheUmbrellaReachesTheRelay() throws {
        var rl: OpaquePointer?
        XCTAssertEqual(dc_relay_open(&rl, path("relay.db"), nil), 0)
        defer { dc_relay_close(rl) }
        let device = [UInt8](repeating: 7, count: 32)
        var challenge = [UInt8](repeating: 0, count: 32)
        XCTAssertEqual(dc_relay_challenge(&challenge, nil, rl, device), 0)
        XCTAssertNotEqual(challenge, [UInt8](repeating: 0, count: 32))
        var token = [UInt8](repeating: 0, count: 32)
        let forged = [UInt8](repeating: 0, count: 64)
        XCTAssertEqual(dc_relay_session(&token, nil, rl, device, challenge, forged),
                       DCError.Code.badsig.rawValue)
    }

    func testBackupExclusionMakesTheDirectory() throws {
        let d = URL(fileURLWithPath: path("nobackup/drivercore"))
        XCTAssertEqual(try Backup.excludeFromBackup(d), d)
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: d.path, isDirectory: &isDir))
        XCTAssertTrue(isDir.boolValue)
    }

    func testAReaderCannotWrite() throws {
        let a = try Replica(path: path("ra.db"))
        let b = try Replica(path: path("rb.db"))
        let s = try a.createSpace(name: "read-only for b")
        try s.add(card: try b.card(), role: .reader)
        try b.importBundle(try a.exportBundle())
        try b.space(s.id).accept()
        expect(.denied) { _ = try b.begin(space: s.id) }
        expect(.denied) { try b.space(s.id).add(card: try a.card(), role: .admin) }
    }

    func testPatternMatchingOnCodes() throws {
        let a = try Replica(path: path("p.db"))
        do {
            _ = try a.record(space: "00000000000000000000000000000000", type: "x", id: "y")
            XCTFail("expected an error")
        } catch DCError.Code.notfound {
            // matched by code through the generated ~= operator
        } catch {
            // Some libraries may report an unknown space differently; the
            // point here is that it is a DCError with a known code.
            let e = try XCTUnwrap(error as? DCError)
            XCTAssertNotEqual(e.code.name, "DC_UNKNOWN")
        }
    }

    // MARK: sync sessions

    /// The integer `key` of a report, which must be present.
    private func field(_ json: String, _ key: String, file: StaticString = #filePath, line: UInt = #line)
        throws -> Int64
    {
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let n = try XCTUnwrap(obj?[key] as? NSNumber, "\(key) missing from \(json)", file: file, line: line)
        return n.int64Value
    }

    /// One whole session carried in-process: the initiator's first step has
    /// no input; the responder answers each message and the initiator each
    /// reply, until one side has nothing to say.  Returns the initiator's report.
    private func syncPair(_ initiator: Replica, _ responder: Replica) throws -> String {
        let si = try initiator.syncSession(role: .initiator)
        let sr = try SyncSession(replica: responder, role: .responder)
        var m = try si.step(nil)
        var reply: [UInt8] = []
        var steps = 0
        while !m.isEmpty {
            steps += 1
            XCTAssertLessThan(steps, 1000, "session does not end")
            if steps >= 1000 { break }
            reply = try sr.step(m)
            if reply.isEmpty { break }
            m = try si.step(reply)
        }
        XCTAssertTrue(sr.isDone, "the responder knows the session is over")
        if !reply.isEmpty {
            XCTAssertTrue(si.isDone, "the initiator finished after the responder's last word")
        }
        return try si.report()
    }

    func testTwoReplicasSyncThroughSessions() throws {
        let a = try Replica(path: path("sa.db"), deviceName: "office")
        let b = try Replica(path: path("sb.db"), deviceName: "truck")
        let s = try a.createSpace(name: "depot")
        try s.add(card: try b.card(), role: .member)
        let n = 12
        for i in 0..<n {
            try s.write { t in
                try t.set("truck", "t\(i)", "plate", .string("B-\(i)"))
                try t.add("truck", "t\(i)", "tags", "x")
            }
        }
        XCTAssertNotEqual(try a.dump(), try b.dump())

        // b has never heard of the space: the session brings it, key and all.
        var rep = try syncPair(b, a)
        try b.space(s.id).accept()
        XCTAssertGreaterThanOrEqual(try field(rep, "changes_received"), Int64(n), rep)
        XCTAssertEqual(try field(rep, "changes_sent"), 0, rep)
        XCTAssertGreaterThanOrEqual(try field(rep, "round_trips"), 1, rep)
        XCTAssertTrue(try b.record(space: s.id, type: "truck", id: "t3").contains("B-3"))
        XCTAssertEqual(Array(try a.dump().utf8), Array(try b.dump().utf8))

        // A second session has nothing to move.
        rep = try syncPair(b, a)
        XCTAssertEqual(try field(rep, "changes_sent") + field(rep, "changes_received"), 0, rep)

        // Both write offline; one session, the other way round, carries both.
        try s.write { t in try t.set("truck", "t0", "seats", 2) }
        try b.space(s.id).write { t in try t.set("truck", "t1", "seats", 5) }
        rep = try syncPair(a, b)
        XCTAssertEqual(try field(rep, "changes_sent"), 1, rep)
        XCTAssertEqual(try field(rep, "changes_received"), 1, rep)
        XCTAssertEqual(Array(try a.dump().utf8), Array(try b.dump().utf8))
        rep = try syncPair(a, b)
        XCTAssertEqual(try field(rep, "changes_sent") + field(rep, "changes_received"), 0, rep)
    }

    func testACorruptSyncMessageIsRefused() throws {
        let a = try Replica(path: path("xa.db"))
        let b = try Replica(path: path("xb.db"))
        let s = try a.createSpace(name: "s")
        try s.add(card: try b.card(), role: .member)
        try s.write { t in try t.set("truck", "t", "f", 1) }
        let before = try a.dump()

        let si = try b.syncSession(role: .initiator)
        let sr = try a.syncSession(role: .responder)
        var m = try si.step(nil)
        XCTAssertFalse(m.isEmpty)
        XCTAssertFalse(si.isDone)
        m[0] ^= 0xff
        do {
            _ = try sr.step(m)
            XCTFail("corrupt message accepted")
        } catch let e as DCError {
            XCTAssertEqual(e.code, .corrupt, "\(e)")
            XCTAssertTrue(e.message.contains("sync"), e.message)
        }
        expect(.misuse) { _ = try si.step(nil) }  // out of turn
        expect(.misuse) { try si.noteRelay() }  // not finished
        XCTAssertEqual(before, try a.dump())
        XCTAssertEqual("{}", try b.dump().trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testClosingTheReplicaClosesItsSessions() throws {
        let a = try Replica(path: path("ca.db"))
        let si = try a.syncSession(role: .initiator)
        let sr = try a.syncSession(role: .responder)
        sr.close()
        XCTAssertTrue(sr.isClosed)
        a.close()
        XCTAssertTrue(si.isClosed)
        expect(.misuse) { _ = try si.step(nil) }
        expect(.misuse) { _ = try si.report() }
        si.close()  // idempotent
        expect(.misuse) { _ = try a.syncSession(role: .initiator) }
    }

    // MARK: at rest

    private func count(_ needle: String, in file: String) throws -> Int {
        let hay = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let n = Array(needle.utf8)
        var hits = 0
        if hay.count >= n.count {
            for i in 0...(hay.count - n.count) where hay[i] == n[0] && Array(hay[i..<(i + n.count)]) == n {
                hits += 1
            }
        }
        return hits
    }

    func testAnEncryptedReplicaNeedsItsKeyAndShowsNothing() throws {
        let p = path("enc.db")
        var asked: [KeyPurpose] = []
        let key: KeyProvider = { purpose in
            asked.append(purpose)
            return .key([UInt8](repeating: 0x42, count: AtRestKey.byteCount))
        }
        var before = ""
        do {
            let a = try Replica(path: p, deviceName: "Huang Hongxing", keyProvider: key)
            XCTAssertTrue(try a.isEncrypted)
            XCTAssertTrue(try a.status().contains("\"encrypted\":true"))
            let s = try a.createSpace(name: "Wudang mobile branch")
            let t = try s.begin()
            try t.set("driver", "d1", "phone", "13812345678")
            _ = try t.commit()
            before = try a.dump()
            a.close()
        }
        XCTAssertEqual(asked, [.new])
        XCTAssertEqual(try count("13812345678", in: p), 0)
        XCTAssertEqual(try count("Huang Hongxing", in: p), 0)
        let again = try Replica(path: p, mustExist: true, keyProvider: key)
        XCTAssertEqual(asked, [.new, .open])
        XCTAssertEqual(try again.dump(), before)
        again.close()
        // No key, a wrong key, a key of the wrong size.
        expect(.key) { _ = try Replica(path: p, mustExist: true) }
        expect(.key) {
            _ = try Replica(path: p, mustExist: true) { _ in .key([UInt8](repeating: 1, count: 32)) }
        }
        expect(.user) { _ = try Replica(path: p, mustExist: true) { _ in .key([1, 2, 3]) } }
        // The provider's own error is what the caller sees.
        struct Locked: Error {}
        XCTAssertThrowsError(try Replica(path: p, mustExist: true) { _ in throw Locked() }) {
            XCTAssertTrue($0 is Locked)
        }
        let last = try Replica(path: p, mustExist: true, keyProvider: key)
        XCTAssertEqual(try last.dump(), before)
    }

    func testMigrationRekeyAndPassphrase() throws {
        let p = path("m.db")
        let a = try Replica(path: p)
        XCTAssertFalse(try a.isEncrypted)
        let t = try a.createSpace(name: "branch").begin()
        try t.set("driver", "d1", "name", "Li Xiaoyun")
        _ = try t.commit()
        let before = try a.dump()
        try a.rekey { purpose in
            XCTAssertEqual(purpose, .new)
            return .passphrase("correct horse battery staple")
        }
        XCTAssertTrue(try a.isEncrypted)
        XCTAssertEqual(try a.dump(), before)
        a.close()
        expect(.key) { _ = try Replica(path: p, mustExist: true) { _ in .passphrase("wrong") } }
        let b = try Replica(path: p, mustExist: true) { _ in .passphrase("correct horse battery staple") }
        XCTAssertEqual(try b.dump(), before)
        try b.rekey { _ in .key([UInt8](repeating: 9, count: 32)) }
        b.close()
        let c = try Replica(path: p, mustExist: true) { _ in .key([UInt8](repeating: 9, count: 32)) }
        XCTAssertEqual(try c.dump(), before)
    }
}
