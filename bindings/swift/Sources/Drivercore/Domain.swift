// Domain.swift — what a driver's app writes and reads besides grievances
// (include/drivercore/org.h, docs/domain.md): Driver's Homes and his
// check-ins (kept in his personal space: his whereabouts stay his), and the
// study items of his branch with his read receipts and discussion posts.
// And his branch: its record with the four principles, its roster and its
// theme activities, which he joins from his phone.  Writes go through
// dc_checkin / dc_study_*, validated as the CLI's are; reads are the typed
// records `station`, `checkin`, `study`, `branch`, `member` and `activity`,
// no JSON.

import CDrivercore

/// A Driver's Home (record `station` "dh-<code>" of a directory space).
public struct Station: Sendable, Equatable {
    public let id: String
    public let name, site, region, address: String?
    /// study_room, kitchen, showers, ... in value order.
    public let facilities: [String]

    init(_ r: Record) {
        id = r.id
        name = r.string("name")
        site = r.string("site")
        region = r.string("region")
        address = r.string("address")
        facilities = strings(r, "facilities")
    }
}

/// One visit: an event of the record `checkin`/station.
public struct Visit: Sendable, Equatable {
    public let station: String
    public let atMs: Int64
    /// A facility used, the driver's words: nil when not given.
    public let used, feedback: String?
    /// 1...5, 0 none.
    public let rating: Int

    init(station: String, _ e: Record.Event) {
        func str(_ k: String) -> String? { if case .string(let s)? = e[k] { return s } else { return nil } }
        func int(_ k: String) -> Int64? { if case .int(let i)? = e[k] { return i } else { return nil } }
        self.station = station
        atMs = int("at") ?? e.timeMs
        used = str("used")
        feedback = str("feedback")
        rating = Int(int("rating") ?? 0)
    }
}

/// A study item with its receipts and discussion.
public struct StudyItem: Sendable, Equatable {
    /// Where a driver stands with an item: done if any of his receipts says
    /// done, read if he has any, else unread (receipts only add).
    public enum State: String, Sendable { case unread, read, done }

    /// A discussion post (云讨论).
    public struct Post: Sendable, Equatable {
        public let driver, text: String
        public let timeMs: Int64
    }

    public let id: String
    public let title: String?
    /// micro_video, micro_lesson, article or news.
    public let kind: String?
    /// The text or URL kept for offline reading, or nil.
    public let media: String?
    public let pushedMs: Int64
    public let discussion: [Post]
    private let readers, finishers: Set<String>

    init(_ r: Record) {
        id = r.id
        title = r.string("title")
        kind = r.string("kind")
        media = r.string("media")
        pushedMs = r.int("pushed") ?? 0
        var posts: [Post] = []
        var readers = Set<String>(), finishers = Set<String>()
        for e in r.events {
            guard case .string(let k)? = e["kind"], case .string(let d)? = e["driver"] else { continue }
            if k == "discussion" {
                var t = ""
                if case .string(let s)? = e["text"] { t = s }
                posts.append(Post(driver: d, text: t, timeMs: e.timeMs))
            } else if k == "read" {
                readers.insert(d)
                if e["done"] == .bool(true) { finishers.insert(d) }
            }
        }
        discussion = posts
        self.readers = readers
        self.finishers = finishers
    }

    /// The state of `driver` ("drv-...") for this item.
    public func state(of driver: String) -> State {
        finishers.contains(driver) ? .done : readers.contains(driver) ? .read : .unread
    }
}

private func strings(_ r: Record, _ set: String) -> [String] {
    r.set(set).compactMap { if case .string(let s) = $0 { return s } else { return nil } }
}

/// A branch ("branch-<code>") and the four principles it was formed by.
public struct Branch: Sendable, Equatable {
    public let id: String
    public let name, region, hukouRegion, activityArea: String?
    public let routes, businessScope: [String]

    init(_ r: Record) {
        id = r.id
        name = r.string("name")
        region = r.string("region")
        hukouRegion = r.string("hukou_region")
        activityArea = r.string("activity_area")
        routes = strings(r, "routes")
        businessScope = strings(r, "business_scope")
    }
}

/// A roster entry: a driver ("drv-..."), his branch, when he joined (a date).
public struct RosterEntry: Sendable, Equatable {
    public let driver: String
    public let branch, joined: String?

    init(_ r: Record) {
        driver = r.id
        branch = r.string("branch")
        joined = r.string("joined")
    }
}

/// A theme activity ("act-...") with the drivers who took part.
public struct Activity: Sendable, Equatable {
    public let id: String
    public let title, date: String?
    public let joined: [String]

    init(_ r: Record) {
        id = r.id
        title = r.string("title")
        date = r.string("date")
        joined = strings(r, "joined")
    }
}

extension Replica {
    /// The branch records of a branch space, in id order (usually one).
    public func branches(space: String) throws -> [Branch] {
        try query(space: space, type: "branch", withEvents: false).records.map(Branch.init)
    }

    /// The roster of `branch` ("branch-...") held in the space, by driver id.
    public func roster(space: String, branch: String) throws -> [RosterEntry] {
        try query(space: space, type: "member", where: "branch", equals: .string(branch), withEvents: false)
            .records.map(RosterEntry.init)
    }

    /// The theme activities of the space, by date.
    public func activities(space: String) throws -> [Activity] {
        try query(space: space, type: "activity", orderBy: "date", withEvents: false).records.map(Activity.init)
    }

    /// Records that `driver` took part in `activity` ("act-..."); `.notfound`
    /// when the space has no such activity.
    public func joinActivity(space: String, activity: String, driver: String) throws {
        let r = try h()
        let args = CStrings()
        try check(dc_study_join(r, try args.c(space), try args.c(activity), try args.c(driver)), r)
    }

    /// Records a visit to `station` ("dh-<code>") in the driver's personal
    /// space, offline too: `atMs` 0 now, `rating` 1...5 or 0 for none.
    /// `.inval` (a bad rating, an empty station) writes nothing.
    public func checkIn(
        space: String, station: String, atMs: Int64 = 0, used: String? = nil, feedback: String? = nil,
        rating: Int = 0
    ) throws {
        let r = try h()
        let args = CStrings()
        var o = dc_checkin_options()
        o.version = UInt32(DC_CHECKIN_OPTIONS_VERSION)
        o.station = try args.c(station)
        o.at_ms = atMs
        o.used = try args.c(used)
        o.feedback = try args.c(feedback)
        o.rating = Int32(clamping: rating)
        try check(dc_checkin(r, try args.c(space), &o), r)
    }

    /// The visits of a personal space, by station, then in event order.
    public func visits(space: String) throws -> [Visit] {
        try query(space: space, type: "checkin").records.flatMap { rec in
            rec.events.map { Visit(station: rec.id, $0) }
        }
    }

    /// The Driver's Homes of a directory space in id order; only those
    /// offering `facility` when given.
    public func stations(space: String, facility: String? = nil) throws -> [Station] {
        try query(
            space: space, type: "station", where: facility == nil ? nil : "facilities",
            equals: facility.map { .string($0) } ?? .null, withEvents: false
        ).records.map(Station.init)
    }

    /// Pushes a study item into a branch space (`id` nil: a random
    /// "st-..."); returns its id.
    public func pushStudy(
        space: String, id: String? = nil, title: String, kind: String, media: String? = nil
    ) throws -> String {
        let r = try h()
        let args = CStrings()
        var o = dc_study_options()
        o.version = UInt32(DC_STUDY_OPTIONS_VERSION)
        o.id = try args.c(id)
        o.title = try args.c(title)
        o.kind = try args.c(kind)
        o.media = try args.c(media)
        var out = newBuf()
        defer { dc_buf_dispose(&out) }
        try check(dc_study_push(&out, r, try args.c(space), &o), r)
        return text(out)
    }

    /// A read receipt of `driver` for `item`; `done`: completed.
    /// `.notfound` when the space has no such item.
    public func markStudyRead(space: String, item: String, driver: String, done: Bool = false) throws {
        let r = try h()
        let args = CStrings()
        try check(dc_study_read(r, try args.c(space), try args.c(item), try args.c(driver), done ? 1 : 0), r)
    }

    /// A discussion post of `driver` under `item`.
    public func discussStudy(space: String, item: String, driver: String, text t: String) throws {
        let r = try h()
        let args = CStrings()
        try check(dc_study_discuss(r, try args.c(space), try args.c(item), try args.c(driver), try args.c(t)), r)
    }

    /// The item, or nil when the space has none by that id.
    public func studyItem(space: String, id: String) throws -> StudyItem? {
        try read(space: space, type: "study", id: id).map(StudyItem.init)
    }

    /// The items of a branch space, newest first.
    public func studyItems(space: String) throws -> [StudyItem] {
        try query(space: space, type: "study", orderBy: "pushed", descending: true).records.map(StudyItem.init)
    }
}
