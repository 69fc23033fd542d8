/*
 * Online study in a branch space (include/drivercore/org.h, docs/domain.md
 * "Study"): items the secretary pushes, each driver's read receipts and
 * discussion posts, written on his own phone offline if need be.  Writes go
 * through dc_study_*; reads are the typed `study` records, and a driver's
 * state follows the library's rule: done if any of his receipts says done,
 * read if he has any, else unread (receipts only add).
 */
package org.drivercore;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

public final class Study {
    private Study() {
    }

    /** Where a driver stands with an item. */
    public enum State {
        UNREAD, READ, DONE
    }

    /** A discussion post (云讨论) under an item. */
    public static final class Post {
        public final String driver, text;
        public final long timeMs;

        Post(String driver, String text, long timeMs) {
            this.driver = driver;
            this.text = text;
            this.timeMs = timeMs;
        }
    }

    /** A study item with its receipts and discussion. */
    public static final class Item {
        public final String id, title;
        /** micro_video, micro_lesson, article or news. */
        public final String kind;
        /** The text or URL kept for offline reading, or null. */
        public final String media;
        public final long pushedMs;
        public final List<Post> discussion;
        private final List<String> readers = new ArrayList<>();
        private final List<String> finishers = new ArrayList<>();

        Item(Record rec) {
            id = rec.id();
            title = rec.getString("title");
            kind = rec.getString("kind");
            media = rec.getString("media");
            Long p = rec.getLong("pushed");
            pushedMs = p == null ? 0 : p;
            List<Post> posts = new ArrayList<>();
            for (Record.Event e : rec.events()) {
                String k = e.getString("kind");
                String d = e.getString("driver");
                if (k == null || d == null) {
                    continue;
                }
                if (k.equals("discussion")) {
                    posts.add(new Post(d, e.getString("text"), e.timeMs()));
                } else if (k.equals("read")) {
                    readers.add(d);
                    if (Boolean.TRUE.equals(e.get("done"))) {
                        finishers.add(d);
                    }
                }
            }
            discussion = Collections.unmodifiableList(posts);
        }

        /** The state of driver ("drv-...") for this item. */
        public State stateOf(String driver) {
            return finishers.contains(driver) ? State.DONE
                    : readers.contains(driver) ? State.READ : State.UNREAD;
        }

        @Override
        public String toString() {
            return id + " " + title + " (" + kind + ")";
        }
    }

    /** Pushes an item (id null: a random "st-..."); returns its id. */
    public static String push(Replica r, String branchSpace, String id, String title, String kind,
                              String media) {
        synchronized (r) {
            return Native.str(Native.studyPush(r.h(), Native.utf8z(branchSpace), Native.utf8z(id),
                    Native.utf8z(title), Native.utf8z(kind), Native.utf8z(media), 0));
        }
    }

    /** A read receipt of driver for item; done: completed.  ENOTFOUND: no such item. */
    public static void markRead(Replica r, String branchSpace, String item, String driver,
                                boolean done) {
        synchronized (r) {
            Native.studyRead(r.h(), Native.utf8z(branchSpace), Native.utf8z(item),
                    Native.utf8z(driver), done);
        }
    }

    /** A discussion post of driver under item. */
    public static void discuss(Replica r, String branchSpace, String item, String driver,
                               String text) {
        synchronized (r) {
            Native.studyDiscuss(r.h(), Native.utf8z(branchSpace), Native.utf8z(item),
                    Native.utf8z(driver), Native.utf8z(text));
        }
    }

    /** The item, or null when this space has none by that id. */
    public static Item item(Replica r, String branchSpace, String id) {
        Record rec = r.read(branchSpace, "study", id);
        return rec == null ? null : new Item(rec);
    }

    /** The items of a branch space, newest first. */
    public static List<Item> items(Replica r, String branchSpace) {
        List<Item> out = new ArrayList<>();
        for (Record rec : r.query(branchSpace, "study", new Query().orderBy("pushed", true))
                .records()) {
            out.add(new Item(rec));
        }
        return Collections.unmodifiableList(out);
    }
}
