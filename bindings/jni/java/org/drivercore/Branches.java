/*
 * A driver's branch as his app shows it (docs/domain.md, "branch space"):
 * the branch record with its four principles, its roster, and its theme
 * activities, which he joins from his phone (dc_study_join).  Reads are the
 * typed records `branch`, `member` and `activity` of the branch space he is
 * a member of, no JSON.  The secretaries' calls (rosters kept in the
 * registry, coverage, suggestions) are not here.
 */
package org.drivercore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

public final class Branches {
    private Branches() {
    }

    /** The string members of a set, in value order (also Checkins.Station's). */
    static List<String> strings(Record rec, String set) {
        List<String> out = new ArrayList<>();
        for (Object o : rec.getSet(set)) {
            if (o instanceof String) {
                out.add((String) o);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** A branch ("branch-<code>") and the four principles it was formed by. */
    public static final class Branch {
        public final String id, name, region, hukouRegion, activityArea;
        public final List<String> routes, businessScope;

        Branch(Record rec) {
            id = rec.id();
            name = rec.getString("name");
            region = rec.getString("region");
            hukouRegion = rec.getString("hukou_region");
            activityArea = rec.getString("activity_area");
            routes = strings(rec, "routes");
            businessScope = strings(rec, "business_scope");
        }
    }

    /** A roster entry: driver ("drv-..."), his branch, when he joined (date or null). */
    public static final class Member {
        public final String driver, branch, joined;

        Member(Record rec) {
            driver = rec.id();
            branch = rec.getString("branch");
            joined = rec.getString("joined");
        }
    }

    /** A theme activity ("act-...") with the drivers who took part. */
    public static final class Activity {
        public final String id, title, date;
        public final List<String> joined;

        Activity(Record rec) {
            id = rec.id();
            title = rec.getString("title");
            date = rec.getString("date");
            joined = strings(rec, "joined");
        }
    }

    /** The branch records of a branch space, in id order (usually one). */
    public static List<Branch> branches(Replica r, String branchSpace) {
        List<Branch> out = new ArrayList<>();
        for (Record rec : r.query(branchSpace, "branch", new Query().withEvents(false)).records()) {
            out.add(new Branch(rec));
        }
        return Collections.unmodifiableList(out);
    }

    /** The roster of branch ("branch-...") held in the space, by driver id. */
    public static List<Member> roster(Replica r, String branchSpace, String branch) {
        List<Member> out = new ArrayList<>();
        Query q = new Query().where("branch", branch).withEvents(false);
        for (Record rec : r.query(branchSpace, "member", q).records()) {
            out.add(new Member(rec));
        }
        return Collections.unmodifiableList(out);
    }

    /** The theme activities of the space, by date. */
    public static List<Activity> activities(Replica r, String branchSpace) {
        List<Activity> out = new ArrayList<>();
        Query q = new Query().orderBy("date", false).withEvents(false);
        for (Record rec : r.query(branchSpace, "activity", q).records()) {
            out.add(new Activity(rec));
        }
        return Collections.unmodifiableList(out);
    }

    /** Records that driver took part in activity ("act-..."); ENOTFOUND: no such activity. */
    public static void join(Replica r, String branchSpace, String activity, String driver) {
        synchronized (r) {
            Native.studyJoin(r.h(), Native.utf8z(branchSpace), Native.utf8z(activity),
                    Native.utf8z(driver));
        }
    }
}
