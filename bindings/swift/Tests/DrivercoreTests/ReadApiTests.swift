// XCTest tests of the read calls a list screen needs (docs/reading.md, "In
// the bindings"), mirroring bindings/jni's ReadApiTest: counts, where a
// record lives, the spaces read, a query by id and over unaccepted spaces,
// and the read snapshot — checked the way an app would: against what its
// queries return, across a second Replica on the same file, and on misuse.

import Foundation
import XCTest

@testable import Drivercore

final class ReadApiTests: ReplicaTestCase {
    private func trucks(_ s: Space, _ range: Range<Int>) throws {
        try s.write { t in
            for i in range {
                let id = String(format: "t%03d", i)
                try t.set("truck", id, "n", .int(Int64(i)))
                try t.set("truck", id, "route", i % 3 == 0 ? "A" : "B")
            }
        }
    }

    func testCountIsWhatTheQueryReturns() throws {
        let a = try Replica(path: path("count.db"))
        let s = try a.createSpace(name: "branch 3")
        XCTAssertEqual(try s.count(type: "truck"), 0)
        try trucks(s, 0..<250)
        let all = try s.query(type: "truck", withEvents: false)
        XCTAssertEqual(try a.count(space: s.id, type: "truck"), 250)
        XCTAssertEqual(try s.count(type: "truck"), all.records.count)
        XCTAssertEqual(try s.count(type: "truck"), all.total)
        // "3 of 250": the page's position against the count.
        let page = try s.query(type: "truck", orderBy: "n", offset: 2, limit: 1)
        XCTAssertEqual(page.records.map(\.id), ["t002"])
        XCTAssertEqual(page.total, try s.count(type: "truck"))
        try s.write { t in try t.delete("truck", "t007") }
        XCTAssertEqual(try s.count(type: "truck"), 249)
        XCTAssertEqual(try s.count(type: "trailer"), 0)
        // A screen's page and its "of m", read as one state.
        let (shown, of) = try a.read { (try s.query(type: "truck", limit: 50), try s.count(type: "truck")) }
        XCTAssertEqual(shown.records.count, 50)
        XCTAssertEqual(of, shown.total)
        expect(.notfound) { _ = try a.count(space: String(repeating: "0", count: 32), type: "truck") }
    }

    func testQueryByIdAndOverUnacceptedSpaces() throws {
        let a = try Replica(path: path("q-a.db"))
        let b = try Replica(path: path("q-b.db"))
        let s = try a.createSpace(name: "branch 4")
        try trucks(s, 0..<10)
        let one = try s.query(type: "truck", id: "t003")
        XCTAssertEqual(one.records.map(\.id), ["t003"])
        XCTAssertEqual(one.total, 1)
        XCTAssertEqual(one.records.first?.int("n"), 3)
        // The id and the filter together: t003 is on route A, t004 on B.
        XCTAssertEqual(try s.query(type: "truck", where: "route", equals: "A", id: "t003").total, 1)
        XCTAssertEqual(try s.query(type: "truck", where: "route", equals: "A", id: "t004").total, 0)
        XCTAssertEqual(try s.query(type: "truck", id: "t999").total, 0)

        // b is invited, has not answered: .denied, or empty when asked so.
        try s.add(card: try b.card(), role: .member)
        _ = try b.importBundle(try a.exportBundle())
        expect(.denied) { _ = try b.query(space: s.id, type: "truck") }
        let none = try b.query(space: s.id, type: "truck", unacceptedEmpty: true)
        XCTAssertEqual(none.total, 0)
        XCTAssertTrue(none.records.isEmpty)
        try b.space(s.id).accept()
        XCTAssertEqual(try b.query(space: s.id, type: "truck", unacceptedEmpty: true).total, 10)
    }

    func testALiveQueryByIdHearsOfThatRecord() async throws {
        let a = try Replica(path: path("live.db"))
        let s = try a.createSpace(name: "branch 6")
        try trucks(s, 0..<10)
        let live = try a.observe(space: s.id, type: "truck", id: "t005")
        var it = live.pages.makeAsyncIterator()
        let first = await it.next()
        XCTAssertEqual(first?.records.map(\.id), ["t005"])
        try s.write { t in try t.set("truck", "t006", "n", 60) }  // another record: not delivered
        try s.write { t in try t.set("truck", "t005", "n", 50) }
        let second = await it.next()
        XCTAssertEqual(second?.records.first?.int("n"), 50)
        live.close()
    }

    func testSpaceIdsAfterCreateAndJoin() throws {
        let a = try Replica(path: path("sp-a.db"))
        let b = try Replica(path: path("sp-b.db"))
        XCTAssertEqual(try a.spaceIds(), [])
        let s1 = try a.createSpace(name: "branch 1").id
        let s2 = try a.createSpace(name: "branch 2").id
        XCTAssertEqual(try a.spaceIds(), [s1, s2].sorted())

        let mine = try b.createSpace(name: "driver").id
        try a.space(s1).add(card: try b.card(), role: .member)
        _ = try b.importBundle(try a.exportBundle())
        // Invited, not yet accepted: not a space b reads.
        XCTAssertEqual(try b.spaceIds(), [mine])
        try b.space(s1).accept()
        XCTAssertEqual(try b.spaceIds(), [mine, s1].sorted())
        // Every space read, walked: a count for each.
        let n = try b.spaceIds().reduce(0) { $0 + (try b.count(space: $1, type: "truck")) }
        XCTAssertEqual(n, 0)
    }

    func testPositionIsTheRowInTheQuerysList() throws {
        let a = try Replica(path: path("pos.db"))
        let s = try a.createSpace(name: "branch 4")
        try s.write { t in
            for i in 0..<30 {
                let id = String(format: "t%03d", 29 - i)
                if i % 7 != 0 { try t.set("truck", id, "n", .int(Int64(i % 4))) }  // ties; some without
                try t.set("truck", id, "route", i % 3 == 0 ? "A" : "B")
                try t.set("truck", id, "driver", i % 5 == 0 ? "Wang" : .string("Li \(i % 6)"))
            }
        }
        // Every record's position is its index in the query's list.
        func check(_ field: String?, _ value: Value, _ order: String?, _ desc: Bool, _ expect: Int) throws {
            let all = try s.query(type: "truck", where: field, equals: value, orderBy: order,
                                  descending: desc, withEvents: false).records.map(\.id)
            XCTAssertEqual(all.count, expect)
            for (i, id) in all.enumerated() {
                XCTAssertEqual(
                    try a.position(space: s.id, type: "truck", where: field, equals: value, orderBy: order,
                                   descending: desc, id: id), i, id)
            }
        }
        try check(nil, .null, nil, false, 30)
        try check(nil, .null, "n", false, 30)
        try check(nil, .null, "n", true, 30)
        try check(nil, .null, "driver", false, 30)
        try check("route", "A", "driver", true, 10)
        try check("route", "B", nil, false, 20)
        // Left out by the filter, absent, deleted: nil (as locate's).
        let inB = try s.query(type: "truck", where: "route", equals: "B", limit: 1).records[0].id
        XCTAssertNil(try a.position(space: s.id, type: "truck", where: "route", equals: "A", id: inB))
        XCTAssertNil(try a.position(space: s.id, type: "truck", id: "t999"))
        try s.write { t in try t.delete("truck", "t000") }
        XCTAssertNil(try a.position(space: s.id, type: "truck", id: "t000"))
        XCTAssertEqual(try a.position(space: s.id, type: "truck", id: "t001"), 0)
        // The page around a record: its row, then the query from there.
        let row = try XCTUnwrap(try a.position(space: s.id, type: "truck", orderBy: "n", id: "t017"))
        let page = try s.query(type: "truck", orderBy: "n", offset: row, limit: 3)
        XCTAssertEqual(page.records.first?.id, "t017")
        expect(.inval) { _ = try a.position(space: s.id, type: "truck", id: "t\0") }
        a.close()
        expect(.misuse) { _ = try a.position(space: s.id, type: "truck", id: "t001") }
    }

    func testLocateFindsTheSpaceTheListShows() throws {
        let a = try Replica(path: path("loc.db"))
        let s1 = try a.createSpace(name: "branch 1")
        let s2 = try a.createSpace(name: "branch 2")
        try trucks(s1, 0..<5)
        try trucks(s2, 5..<9)
        // Each record of each space's list is located in that space.
        for s in [s1, s2] {
            for r in try s.query(type: "truck").records {
                XCTAssertEqual(try a.locate(type: "truck", id: r.id), s.id, r.id)
            }
        }
        XCTAssertNil(try a.locate(type: "truck", id: "t999"))
        XCTAssertNil(try a.locate(type: "trailer", id: "t001"))
        try s2.write { t in try t.delete("truck", "t006") }
        XCTAssertNil(try a.locate(type: "truck", id: "t006"))
        // In both: the first in id order.
        try s2.write { t in try t.set("truck", "t001", "n", 1) }
        XCTAssertEqual(try a.locate(type: "truck", id: "t001"), min(s1.id, s2.id))
    }

    func testASnapshotIsUnchangedByAnotherHandlesWrite() throws {
        let ui = try Replica(path: path("snap.db"))
        let sync = try Replica(path: path("snap.db"))
        let s = try ui.createSpace(name: "branch 5")
        try trucks(s, 0..<3)
        var late = ""
        let seen = try ui.read { () -> [String] in
            XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 3)
            let before = try ui.query(space: s.id, type: "truck").records.map(\.id)
            try trucks(sync.space(s.id), 3..<6)  // the sync's commit
            XCTAssertEqual(try sync.count(space: s.id, type: "truck"), 6)
            XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 3)
            XCTAssertEqual(try ui.query(space: s.id, type: "truck").records.map(\.id), before)
            XCTAssertNil(try ui.read(space: s.id, type: "truck", id: "t004"))
            XCTAssertNil(try ui.locate(type: "truck", id: "t004"))
            late = try sync.createSpace(name: "late").id
            XCTAssertEqual(try ui.spaceIds(), [s.id])
            // Nested: the inner end leaves the outer snapshot open.
            try ui.read { XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 3) }
            XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 3)
            // Only reads inside: a commit throws .busy, and applies nothing.
            expect(.busy) { try s.write { t in try t.set("truck", "t100", "n", 100) } }
            return before
        }
        XCTAssertEqual(seen, ["t000", "t001", "t002"])
        XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 6)
        XCTAssertEqual(try ui.locate(type: "truck", id: "t004"), s.id)
        XCTAssertEqual(try ui.spaceIds(), [s.id, late].sorted())
        // A body that throws ends the snapshot too: writes work after it.
        struct Stop: Error {}
        XCTAssertThrowsError(try ui.read { throw Stop() }) { XCTAssertTrue($0 is Stop) }
        try trucks(s, 6..<7)
        XCTAssertEqual(try ui.count(space: s.id, type: "truck"), 7)
    }

    func testMisuseIsAnErrorNeverACrash() throws {
        let a = try Replica(path: path("misuse.db"))
        let sp = try a.createSpace(name: "x").id
        expect(.inval) { _ = try a.locate(type: "truck", id: "t\0") }
        expect(.inval) { _ = try a.count(space: "not a space", type: "truck") }
        // An empty name is a name, as in every read: it holds nothing.
        XCTAssertEqual(try a.count(space: sp, type: ""), 0)
        XCTAssertNil(try a.locate(type: "", id: ""))
        // The replica closed inside a snapshot: the snapshot's end is skipped.
        try a.read { a.close() }
        expect(.misuse) { _ = try a.count(space: sp, type: "truck") }
        expect(.misuse) { _ = try a.locate(type: "truck", id: "t000") }
        expect(.misuse) { _ = try a.spaceIds() }
        expect(.misuse) { try a.read {} }
    }
}
