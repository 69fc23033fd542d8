/*
 * Driver's Homes and check-ins (include/drivercore/org.h, docs/domain.md
 * "Driver's Homes and check-ins"): the stations of a directory space and a
 * driver's visits, kept in his personal space (his whereabouts stay his).
 * Writes go through dc_checkin, so they are validated as the CLI's are;
 * reads are the typed records `station` and `checkin`, no JSON.
 */
package org.drivercore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

public final class Checkins {
    private Checkins() {
    }

    /** A Driver's Home (record `station` "dh-<code>" of a directory space). */
    public static final class Station {
        public final String id, name, site, region;
        /** null when not given. */
        public final String address;
        /** study_room, kitchen, showers, ... in value order. */
        public final List<String> facilities;

        Station(Record rec) {
            id = rec.id();
            name = rec.getString("name");
            site = rec.getString("site");
            region = rec.getString("region");
            address = rec.getString("address");
            facilities = Branches.strings(rec, "facilities");
        }

        @Override
        public String toString() {
            return id + " " + name + " " + facilities;
        }
    }

    /** One visit: an event of the record `checkin`/station. */
    public static final class Visit {
        public final String station;
        public final long atMs;
        /** A facility used, or null. */
        public final String used;
        /** The driver's words, or null. */
        public final String feedback;
        /** 1..5, 0 none. */
        public final int rating;

        Visit(String station, Record.Event e) {
            this.station = station;
            Long at = e.getLong("at");
            this.atMs = at == null ? e.timeMs() : at;
            this.used = e.getString("used");
            this.feedback = e.getString("feedback");
            Long r = e.getLong("rating");
            this.rating = r == null ? 0 : r.intValue();
        }

        @Override
        public String toString() {
            return station + " at " + atMs + (used == null ? "" : " used " + used)
                    + (rating == 0 ? "" : " rated " + rating);
        }
    }

    /**
     * Records a visit to station ("dh-<code>") in the driver's personal
     * space, offline too: atMs 0 now, used/feedback may be null, rating 1..5
     * or 0 for none.  EINVAL (a bad rating, an empty station) writes nothing.
     */
    public static void checkIn(Replica r, String personalSpace, String station, long atMs,
                               String used, String feedback, int rating) {
        synchronized (r) {
            Native.checkin(r.h(), Native.utf8z(personalSpace), Native.utf8z(station), atMs,
                    Native.utf8z(used), Native.utf8z(feedback), rating);
        }
    }

    /** The visits of a personal space, by station, then in event order. */
    public static List<Visit> visits(Replica r, String personalSpace) {
        List<Visit> out = new ArrayList<>();
        for (Record rec : r.query(personalSpace, "checkin", null).records()) {
            for (Record.Event e : rec.events()) {
                out.add(new Visit(rec.id(), e));
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** The stations of a directory space in id order; facility null: all. */
    public static List<Station> stations(Replica r, String directorySpace, String facility) {
        Query q = new Query().withEvents(false);
        if (facility != null) {
            q.where("facilities", facility);
        }
        List<Station> out = new ArrayList<>();
        for (Record rec : r.query(directorySpace, "station", q).records()) {
            out.add(new Station(rec));
        }
        return Collections.unmodifiableList(out);
    }
}
