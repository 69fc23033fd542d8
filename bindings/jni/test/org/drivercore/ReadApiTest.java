/*
 * JUnit 4 tests of the read calls a list screen needs (docs/reading.md,
 * "In the bindings"): counts, where a record lives, the spaces read, a
 * query by id and over unaccepted spaces, and the read snapshot — checked
 * the way an app would: against what its queries return, across a second
 * Replica on the same file, and on misuse.
 */
package org.drivercore;

import static org.drivercore.DriverCoreTest.expect;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ReadApiTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String path(String name) {
        return new File(tmp.getRoot(), name).getPath();
    }

    private static void trucks(Space s, int from, int to) {
        try (Txn t = s.begin()) {
            for (int i = from; i < to; i++) {
                t.set("truck", String.format("t%03d", i), "n", (long) i);
                t.set("truck", String.format("t%03d", i), "route", i % 3 == 0 ? "A" : "B");
            }
            t.commit();
        }
    }

    private static List<String> ids(RecordPage p) {
        List<String> out = new ArrayList<>();
        for (Record r : p.records()) {
            out.add(r.id());
        }
        return out;
    }

    @Test
    public void countIsWhatTheQueryReturns() {
        try (Replica a = Replica.open(path("count.db"))) {
            Space s = a.createSpace("branch 3");
            assertEquals(0, s.count("truck"));
            trucks(s, 0, 250);
            RecordPage all = s.query("truck", new Query().withEvents(false));
            assertEquals(250, a.count(s.id(), "truck"));
            assertEquals(all.records().size(), s.count("truck"));
            assertEquals(all.total(), s.count("truck"));
            // "3 of 250": the page's position against the count.
            RecordPage page = s.query("truck", new Query().orderBy("n", false).page(2, 1));
            assertEquals("t002", page.records().get(0).id());
            assertEquals(page.total(), s.count("truck"));
            try (Txn t = s.begin()) {
                t.delete("truck", "t007");
                t.commit();
            }
            assertEquals(249, s.count("truck"));
            assertEquals(0, s.count("trailer"));
            String unknown = "00000000000000000000000000000000";
            expect(DriverCoreError.ENOTFOUND, () -> a.count(unknown, "truck"));
        }
    }

    @Test
    public void queryByIdAndOverUnacceptedSpaces() {
        try (Replica a = Replica.open(path("q-a.db")); Replica b = Replica.open(path("q-b.db"))) {
            Space s = a.createSpace("branch 4");
            trucks(s, 0, 10);
            RecordPage one = s.query("truck", new Query().id("t003"));
            assertEquals(Collections.singletonList("t003"), ids(one));
            assertEquals(1, one.total());
            assertEquals(Long.valueOf(3), one.records().get(0).getLong("n"));
            // The id and the filter together: t003 is on route A, t004 on B.
            assertEquals(1, s.query("truck", new Query().id("t003").where("route", "A")).total());
            assertEquals(0, s.query("truck", new Query().id("t004").where("route", "A")).total());
            assertEquals(0, s.query("truck", new Query().id("t999")).total());

            // b is invited, has not answered: EDENIED, or empty when asked so.
            s.add(b.card(), Role.MEMBER);
            b.importBundle(a.exportBundle());
            expect(DriverCoreError.EDENIED, () -> b.query(s.id(), "truck", null));
            RecordPage none = b.query(s.id(), "truck", new Query().unacceptedEmpty(true));
            assertEquals(0, none.total());
            assertTrue(none.records().isEmpty());
            b.space(s.id()).accept();
            assertEquals(10, b.query(s.id(), "truck", new Query().unacceptedEmpty(true)).total());

            // A live query by id hears of that record only.
            List<RecordPage> pages = new ArrayList<>();
            try (LiveQuery q = a.observe(s.id(), "truck", new Query().id("t005"), pages::add)) {
                assertTrue(q.isOpen());
                assertEquals(1, pages.size());
                assertEquals(Collections.singletonList("t005"), ids(pages.get(0)));
                try (Txn t = s.begin()) {
                    t.set("truck", "t006", "n", 60L);
                    t.commit();
                }
                assertEquals(1, pages.size());
                try (Txn t = s.begin()) {
                    t.set("truck", "t005", "n", 50L);
                    t.commit();
                }
                assertEquals(2, pages.size());
                assertEquals(Long.valueOf(50), pages.get(1).records().get(0).getLong("n"));
            }
        }
    }

    @Test
    public void spaceIdsAfterCreateAndJoin() {
        try (Replica a = Replica.open(path("sp-a.db")); Replica b = Replica.open(path("sp-b.db"))) {
            assertTrue(a.spaceIds().isEmpty());
            String s1 = a.createSpace("branch 1").id();
            String s2 = a.createSpace("branch 2").id();
            List<String> want = new ArrayList<>(Arrays.asList(s1, s2));
            Collections.sort(want);
            assertEquals(want, a.spaceIds());
            try {
                a.spaceIds().add("x");
                fail("the list is the replica's answer, not a buffer to change");
            } catch (UnsupportedOperationException expected) {
                // read-only
            }

            String mine = b.createSpace("driver").id();
            a.space(s1).add(b.card(), Role.MEMBER);
            b.importBundle(a.exportBundle());
            // Invited, not yet accepted: not a space b reads.
            assertEquals(Collections.singletonList(mine), b.spaceIds());
            b.space(s1).accept();
            List<String> joined = new ArrayList<>(Arrays.asList(mine, s1));
            Collections.sort(joined);
            assertEquals(joined, b.spaceIds());
            // Every space read, walked: a count for each.
            long n = 0;
            for (String sp : b.spaceIds()) {
                n += b.count(sp, "truck");
            }
            assertEquals(0, n);
        }
    }

    /** Every record's position is its index in the query's whole list. */
    private static void positionsMatch(Replica a, Space s, Query q, int expect) {
        List<String> all = ids(a.query(s.id(), "truck", q));
        assertEquals(expect, all.size());
        // The page is not the position's: a paged query gives the same row.
        Query paged = (q != null ? q : new Query()).page(5, 3);
        for (int i = 0; i < all.size(); i++) {
            assertEquals(all.get(i), i, a.position(s.id(), "truck", paged, all.get(i)));
        }
    }

    @Test
    public void positionIsTheRowInTheQuerysList() {
        try (Replica a = Replica.open(path("pos.db"))) {
            Space s = a.createSpace("branch 4");
            try (Txn t = s.begin()) {
                for (int i = 0; i < 30; i++) {
                    String id = String.format("t%03d", 29 - i);
                    if (i % 7 != 0) { // some without n: last in either direction
                        t.set("truck", id, "n", (long) (i % 4)); // ties: by id
                    }
                    t.set("truck", id, "route", i % 3 == 0 ? "A" : "B");
                    t.set("truck", id, "driver", i % 5 == 0 ? "Wang" : "Li " + (i % 6));
                }
                t.commit();
            }
            positionsMatch(a, s, null, 30);
            positionsMatch(a, s, new Query().orderBy("n", false), 30);
            positionsMatch(a, s, new Query().orderBy("n", true), 30);
            positionsMatch(a, s, new Query().orderBy("driver", false), 30);
            positionsMatch(a, s, new Query().where("route", "A").orderBy("driver", true), 10);
            positionsMatch(a, s, new Query().where("route", "B"), 20);
            // Left out by the filter, absent, deleted: -1 (as locate's null).
            Query routeA = new Query().where("route", "A").orderBy("n", false);
            String inA = ids(a.query(s.id(), "truck", routeA)).get(0);
            String notInA = ids(a.query(s.id(), "truck", new Query().where("route", "B"))).get(0);
            assertEquals(-1, a.position(s.id(), "truck", routeA, notInA));
            assertEquals(-1, a.position(s.id(), "truck", null, "t999"));
            try (Txn t = s.begin()) {
                t.delete("truck", "t000");
                t.commit();
            }
            assertEquals(-1, a.position(s.id(), "truck", null, "t000"));
            assertEquals(0, a.position(s.id(), "truck", null, "t001"));
            // The page around a record: its row, then the query from there.
            Query byN = new Query().orderBy("n", false);
            long row = a.position(s.id(), "truck", byN, "t017");
            List<String> page = ids(a.query(s.id(), "truck", byN.page(row, 3)));
            assertEquals("t017", page.get(0));
            // Misuse: another query id, a null id.
            assertEquals(0, a.position(s.id(), "truck", routeA.id(inA), inA));
            expect(DriverCoreError.EINVAL,
                    () -> a.position(s.id(), "truck", new Query().id("t002"), "t003"));
            expect(DriverCoreError.EMISUSE, () -> a.position(s.id(), "truck", null, null));
        }
    }

    @Test
    public void locateFindsTheSpaceTheListShows() {
        try (Replica a = Replica.open(path("loc.db"))) {
            Space s1 = a.createSpace("branch 1");
            Space s2 = a.createSpace("branch 2");
            trucks(s1, 0, 5);
            trucks(s2, 5, 9);
            // Each record of each space's list is located in that space.
            for (Space s : Arrays.asList(s1, s2)) {
                for (Record r : s.query("truck", null).records()) {
                    assertEquals(r.id(), s.id(), a.locate("truck", r.id()));
                }
            }
            assertNull(a.locate("truck", "t999"));
            assertNull(a.locate("trailer", "t001"));
            try (Txn t = s2.begin()) {
                t.delete("truck", "t006");
                t.commit();
            }
            assertNull(a.locate("truck", "t006"));
            // In both: the first in id order.
            try (Txn t = s2.begin()) {
                t.set("truck", "t001", "n", 1L);
                t.commit();
            }
            String first = s1.id().compareTo(s2.id()) < 0 ? s1.id() : s2.id();
            assertEquals(first, a.locate("truck", "t001"));
        }
    }

    @Test
    public void snapshotIsUnchangedByAnotherHandlesWrite() {
        String late;
        try (Replica ui = Replica.open(path("snap.db"));
             Replica sync = Replica.open(path("snap.db"))) {
            Space s = ui.createSpace("branch 5");
            trucks(s, 0, 3);
            try (ReadSnapshot snap = ui.readSnapshot()) {
                assertTrue(snap.isOpen());
                assertEquals(3, ui.count(s.id(), "truck"));
                List<String> before = ids(ui.query(s.id(), "truck", null));
                trucks(sync.space(s.id()), 3, 6); // the sync thread commits
                assertEquals(3, sync.count(s.id(), "truck") - 3);
                assertEquals(3, ui.count(s.id(), "truck"));
                assertEquals(before, ids(ui.query(s.id(), "truck", null)));
                assertNull(ui.read(s.id(), "truck", "t004"));
                assertNull(ui.locate("truck", "t004"));
                late = sync.createSpace("late").id();
                assertEquals(Collections.singletonList(s.id()), ui.spaceIds());
                // Nested: the inner close leaves the outer snapshot open.
                try (ReadSnapshot inner = ui.readSnapshot()) {
                    assertTrue(inner.isOpen());
                    assertEquals(3, ui.count(s.id(), "truck"));
                }
                assertEquals(3, ui.count(s.id(), "truck"));
                // Only reads inside: a commit fails (EBUSY: the snapshot holds
                // the file's read) and nothing of it is applied.
                try (Txn t = ui.begin(s.id())) {
                    t.set("truck", "t100", "n", 100L);
                    expect(DriverCoreError.EBUSY, t::commit);
                }
                assertEquals(3, ui.count(s.id(), "truck"));
            }
            assertEquals(6, ui.count(s.id(), "truck"));
            assertEquals(6, ui.query(s.id(), "truck", null).records().size());
            assertEquals(s.id(), ui.locate("truck", "t004"));
            assertTrue(ui.spaceIds().contains(late));
            // Writes work again once it is closed.
            trucks(s, 6, 7);
            assertEquals(7, ui.count(s.id(), "truck"));
        }
    }

    @Test
    public void misuseIsAnErrorNeverACrash() {
        Replica a = Replica.open(path("misuse.db"));
        String sp = a.createSpace("x").id();
        // Closed twice, and after the replica: nothing is ended twice in C.
        ReadSnapshot snap = a.readSnapshot();
        snap.close();
        snap.close();
        assertFalse(snap.isOpen());
        trucks(a.space(sp), 0, 1); // no read left open: writes work
        ReadSnapshot dangling = a.readSnapshot();
        // Null and malformed arguments.
        expect(DriverCoreError.EMISUSE, () -> a.locate(null, "t1"));
        expect(DriverCoreError.EMISUSE, () -> a.locate("truck", null));
        expect(DriverCoreError.EINVAL, () -> a.locate("truck", "t\0"));
        expect(DriverCoreError.EINVAL, () -> a.count("not a space", "truck"));
        try {
            a.count(sp, null);
            fail("a count of a null type succeeded");
        } catch (DriverCoreException e) {
            assertFalse(e.getMessage().isEmpty());
        }
        try {
            a.count(null, "truck");
            fail("a count in a null space succeeded");
        } catch (DriverCoreException e) {
            assertFalse(e.getMessage().isEmpty());
        }
        a.close();
        dangling.close(); // after the replica: harmless
        expect(DriverCoreError.EMISUSE, () -> a.count(sp, "truck"));
        expect(DriverCoreError.EMISUSE, () -> a.locate("truck", "t000"));
        expect(DriverCoreError.EMISUSE, () -> a.spaceIds());
        expect(DriverCoreError.EMISUSE, () -> a.readSnapshot());
    }
}
