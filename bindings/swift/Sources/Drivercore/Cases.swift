// Cases.swift — grievances under the 12328 rule (include/drivercore/
// grievance.h) and the holiday calendar their deadlines count in: a driver
// files one (offline too), handlers add steps, and every replica holding
// the same steps shows the same status and deadlines.

import CDrivercore
import Foundation

/// The holiday calendar (dc_calendar): the one published in a space, or
/// parsed from its TSV.  Without one, deadlines count plain Monday to Friday.
public final class HolidayCalendar {
    fileprivate let handle: OpaquePointer

    private init(_ h: OpaquePointer) { handle = h }

    public static func fromSpace(_ replica: Replica, space: String) throws -> HolidayCalendar {
        let r = try replica.h()
        var c: OpaquePointer?
        try check(dc_calendar_from_space(&c, r, space), r)
        return HolidayCalendar(c!)
    }

    public static func parse(_ tsv: [UInt8]) throws -> HolidayCalendar {
        var c: OpaquePointer?
        try check(tsv.withUnsafeBufferPointer { dc_calendar_parse(&c, $0.baseAddress, $0.count) }, nil)
        return HolidayCalendar(c!)
    }

    deinit { dc_calendar_free(handle) }
}

/// What a filing says; channel, category and text are required.
public struct CaseFiling: Sendable {
    public var driver: String?
    public var channel = "app"
    public var category: String
    public var text: String
    public var region: String?
    public var emergency = false
    /// Yuan at stake (unpaid freight, ...); 0 none.
    public var amount: Int64 = 0
    /// Transfer it at once to the level the routing rule gives (needs region).
    public var route = false

    public init(category: String, text: String) {
        self.category = category
        self.text = text
    }
}

/// A grievance, typed (dc_case_info).  Times in ms since the epoch, -1 none.
public struct CaseInfo: Sendable, Equatable {
    public static let deadlines = ["transfer", "feedback", "reply", "revisit"]
    public let id, space, driver, channel, category, region, at, level, routed, status: String
    public let open, emergency, hasAmount: Bool
    public let amount, receivedMs, resolvedMs: Int64
    /// By `deadlines`: when due, when met (-1 not yet), counted past the calendar's years.
    public let dueMs, doneMs: [Int64]
    public let estimated: [Bool]
    public let revisits, satisfiedRevisits, reopened: Int

    fileprivate init(_ c: dc_case_info) {
        func str<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        id = str(c.id)
        space = str(c.space)
        driver = str(c.driver)
        channel = str(c.channel)
        category = str(c.category)
        region = str(c.region)
        at = str(c.at)
        level = str(c.level)
        routed = str(c.routed)
        status = c.status.map { String(cString: $0) } ?? ""
        open = c.open != 0
        emergency = c.emergency != 0
        hasAmount = c.has_amount != 0
        amount = c.amount
        receivedMs = c.received_ms
        resolvedMs = c.resolved_ms
        dueMs = withUnsafeBytes(of: c.due_ms) { Array($0.bindMemory(to: Int64.self)) }
        doneMs = withUnsafeBytes(of: c.done_ms) { Array($0.bindMemory(to: Int64.self)) }
        estimated = withUnsafeBytes(of: c.estimated) { $0.bindMemory(to: Int32.self).map { $0 != 0 } }
        revisits = Int(c.revisits)
        satisfiedRevisits = Int(c.satisfied_revisits)
        reopened = Int(c.reopened)
    }

    /// The next deadline not yet met, or -1.
    public var nextDueMs: Int64 {
        var next: Int64 = -1
        for k in 0..<4 where dueMs[k] >= 0 && doneMs[k] < 0 && (next < 0 || dueMs[k] < next) {
            next = dueMs[k]
        }
        return next
    }
}

extension Replica {
    /// Files a case into `space`, received now; returns its id.
    public func fileCase(space: String, _ f: CaseFiling, calendar: HolidayCalendar? = nil) throws -> String {
        try fileCaseInfo(space: space, f, calendar: calendar).id
    }

    /// Files a case into `space`, received now; returns it typed, with its deadlines.
    public func fileCaseInfo(space: String, _ f: CaseFiling, calendar: HolidayCalendar? = nil) throws -> CaseInfo {
        let r = try h()
        let args = CStrings()
        var o = dc_case_options()
        o.version = UInt32(DC_CASE_OPTIONS_VERSION)
        o.driver = try args.c(f.driver)
        o.channel = try args.c(f.channel)
        o.category = try args.c(f.category)
        o.text = try args.c(f.text)
        o.region = try args.c(f.region)
        o.emergency = f.emergency ? 1 : 0
        o.amount = f.amount
        o.route = f.route ? 1 : 0
        var c = dc_case_info()
        c.version = UInt32(DC_CASE_INFO_VERSION)
        try check(dc_case_file_info(&c, r, try args.c(space), &o, calendar?.handle), r)
        return CaseInfo(c)
    }

    /// Adds a step: transfer (to required), feedback, reply, resolve, revisit
    /// (satisfied 1 yes, 0 no, -1 not asked), reopen, close.
    public func stepCase(
        _ id: String, action: String, to: String? = nil, note: String? = nil, satisfied: Int = -1,
        calendar: HolidayCalendar? = nil
    ) throws {
        let r = try h()
        let args = CStrings()
        try check(
            dc_case_step(
                nil, r, try args.c(id), try args.c(action), try args.c(to), try args.c(note), Int32(satisfied),
                calendar?.handle), r)
    }

    /// The case, typed; nil when no space held has it.  `space` may be nil.
    public func caseInfo(_ id: String, space: String? = nil, calendar: HolidayCalendar? = nil) throws -> CaseInfo? {
        let r = try h()
        let args = CStrings()
        var c = dc_case_info()
        c.version = UInt32(DC_CASE_INFO_VERSION)
        let rc = dc_case_get(r, try args.c(space), try args.c(id), calendar?.handle, &c)
        if rc == DC_ENOTFOUND.rawValue { return nil }
        try check(rc, r)
        return CaseInfo(c)
    }
}
