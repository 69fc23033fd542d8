/*
 * JUnit 4 tests of the Java bindings against the real native library: two
 * replicas share a space, write, exchange bundles and end with equal dumps;
 * two replicas sync in-process through SyncSession and end with equal dumps;
 * every failure surfaces as a DriverCoreException with the library's code
 * and a non-empty message; and the generated error enum agrees with the C
 * library's own table.  Run by bindings/jni/run_junit.py (meson test suite
 * `bindings`).  In package org.drivercore to reach the package-private
 * Native methods that expose dc_error_name and dc_strerror.
 */
package org.drivercore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class DriverCoreTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String path(String name) {
        return new File(tmp.getRoot(), name).getPath();
    }

    /** Runs r and returns the DriverCoreException it must throw (ReadApiTest's too). */
    static DriverCoreException expect(DriverCoreError code, Runnable r) {
        try {
            r.run();
        } catch (DriverCoreException e) {
            assertEquals("wrong code, message: " + e.getMessage(), code, e.error());
            assertEquals(code.code(), e.code());
            assertTrue("empty message", e.getMessage() != null && !e.getMessage().isEmpty());
            return e;
        }
        fail("expected " + code.cName());
        return null;
    }

    // ---- the generated error type ----

    @Test
    public void generatedErrorsMatchTheNativeTable() {
        int n = 0;
        for (DriverCoreError e : DriverCoreError.values()) {
            if (e == DriverCoreError.UNKNOWN) {
                continue;
            }
            assertEquals(e.cName(), Native.errorName(e.code()));
            assertEquals(e.message(), Native.strerror(e.code()));
            assertEquals(e, DriverCoreError.fromCode(e.code()));
            n++;
        }
        assertTrue("the table has codes", n > 10);
        assertEquals("DC_UNKNOWN", Native.errorName(-999));
        assertEquals(DriverCoreError.UNKNOWN, DriverCoreError.fromCode(-999));
    }

    @Test
    public void rolesMatchTheNativeNames() {
        for (Role r : Role.values()) {
            assertEquals(r.name().toLowerCase(java.util.Locale.ROOT), Native.roleName(r.value()));
        }
    }

    @Test
    public void unknownCodeKeepsItsNumber() {
        DriverCoreException e = new DriverCoreException(-999, (String) null);
        assertEquals(-999, e.code());
        assertEquals(DriverCoreError.UNKNOWN, e.error());
        assertEquals("unknown error code", e.getMessage());
    }

    // ---- the main story ----

    @Test
    public void twoReplicasShareASpaceAndConverge() {
        try (Replica a = Replica.open(path("a.db"), "secretary", false);
             Replica b = Replica.open(path("b.db"), "driver", false)) {
            assertEquals(64, a.deviceId().length());
            assertNotEquals(a.deviceId(), b.deviceId());
            assertTrue(a.card().contains(a.deviceId()));
            assertFalse(Replica.libraryVersion().isEmpty());

            Space s = a.createSpace("branch 7");
            assertEquals(32, s.id().length());
            assertTrue(a.spaces().contains(s.id()));
            s.add(b.card(), Role.MEMBER);
            String members = s.members();
            assertTrue(members.contains(a.deviceId()));
            assertTrue(members.contains(b.deviceId()));
            assertTrue(members.contains("\"member\""));

            String change;
            try (Txn t = s.begin()) {
                t.set("truck", "t1", "plate", "B-123")
                 .set("truck", "t1", "seats", 3)
                 .set("truck", "t1", "active", true)
                 .add("truck", "t1", "tags", "reefer")
                 .add("truck", "t1", "tags", "long-haul")
                 .event("truck", "t1").eventField("what", "check-in").eventField("km", 120L);
                assertEquals(6, t.opCount()); // an event and its fields are one op
                change = t.commit();
                assertFalse(t.isOpen());
            }
            assertFalse(change.isEmpty());
            assertTrue(s.get("truck", "t1").contains("B-123"));
            assertTrue(s.list("truck").contains("\"t1\""));
            assertTrue(s.find("truck", "plate", "B-123").contains("\"t1\""));
            assertTrue(s.find("truck", "tags", "reefer").contains("\"t1\""));
            assertEquals("{}", s.find("truck", "plate", "nope").trim());

            // a -> b: b learns the membership (and its key) and the records.
            byte[] bundle = a.exportBundle();
            assertTrue(bundle.length > 0);
            String report = b.importBundle(bundle);
            assertTrue(report, report.contains("\"envelopes\""));
            // b joins only with its consent: invited, unreadable, then accepted.
            assertTrue(b.spaces(), b.spaces().contains("\"invited\""));
            expect(DriverCoreError.EDENIED, () -> b.get(s.id(), "truck", "t1"));
            b.space(s.id()).accept();
            assertTrue(b.get(s.id(), "truck", "t1").contains("B-123"));

            // b writes too, offline, then b -> a.
            try (Txn t = b.space(s.id()).begin()) {
                t.set("truck", "t2", "plate", "Zoë 🚚").remove("truck", "t1", "tags", "reefer");
                t.commit();
            }
            a.importBundle(b.exportBundle(s.id()));

            String da = a.dump();
            String db = b.dump();
            assertEquals(da, db);
            assertEquals(a.dump(s.id()), b.dump(s.id()));
            // Non-ASCII text survives both directions of the boundary intact.
            assertTrue(da, da.contains("Zoë 🚚"));
            assertTrue(new String(da.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)
                    .contains("🚚"));
            assertFalse("removed set member still present", da.contains("reefer"));

            // Re-importing what is already held changes nothing.
            a.importBundle(b.exportBundle());
            assertEquals(da, a.dump());

            // Deleting a record hides it.
            try (Txn t = s.begin()) {
                t.delete("truck", "t2");
                t.commit();
            }
            expect(DriverCoreError.ENOTFOUND, () -> s.get("truck", "t2"));
        }
    }

    /** The replica's bytes on disk: the database and its WAL. */
    private static long onDisk(String path) {
        return new File(path).length() + new File(path + "-wal").length();
    }

    @Test
    public void aCompactedReplicaShrinksWhenVacuumed() {
        String p = path("vacuum.db");
        StringBuilder pad = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            pad.append("route note ");
        }
        try (Replica a = Replica.open(p)) {
            Space s = a.createSpace("branch 4");
            // A year of overwrites of one record: every change kept until compaction.
            for (int i = 0; i < 300; i++) {
                try (Txn t = s.begin()) {
                    t.set("driver", "d1", "note", pad + " " + i);
                    t.commit();
                }
            }
            String out = s.compact();
            assertTrue(out, out.contains("\"published\":true"));
            Matcher m = Pattern.compile("\"dropped\":(\\d+)").matcher(out);
            assertTrue(out, m.find());
            assertTrue(out, Long.parseLong(m.group(1)) >= 300);
            long before = onDisk(p);
            VacuumResult v = a.vacuum();
            assertTrue(v.toString(), v.freePagesBefore > 0);
            assertTrue(v.toString(), v.bytesAfter < v.bytesBefore);
            assertTrue(before + " -> " + onDisk(p), onDisk(p) < before);
            assertEquals(v.bytesAfter, new File(p).length());
            // The state is kept, and nothing is left to give back.
            assertEquals(pad + " 299", s.read("driver", "d1").getString("note"));
            assertEquals(0, a.vacuum().freePagesBefore);
            // Not inside a transaction.
            try (Txn t = s.begin()) {
                t.set("driver", "d2", "note", "open");
                a.vacuum();
                fail("vacuum inside a transaction");
            } catch (DriverCoreException e) {
                assertEquals(DriverCoreError.EMISUSE, e.error());
            }
        }
    }

    @Test
    public void recordsReadBackTyped() {
        String first;
        Record kept;
        try (Replica a = Replica.open(path("typed.db"))) {
            Space s = a.createSpace("branch 9");
            byte[] photo = {0, (byte) 0xff, 7, 0};
            try (Txn t = s.begin()) {
                t.set("driver", "d1", "name", "王师傅 🚚");
                t.set("driver", "d1", "age", 47);
                t.set("driver", "d1", "member", true);
                t.set("driver", "d1", "lat", 26.5783);
                t.set("driver", "d1", "photo", photo);
                t.set("driver", "d1", "note", null);
                t.add("driver", "d1", "tags", "hazmat");
                t.add("driver", "d1", "tags", 3L);
                t.add("driver", "d1", "tags", "cold-chain");
                t.event("driver", "d1");
                t.eventField("what", "checkin");
                t.eventField("at", 1.25);
                t.commit();
            }
            Record r = s.read("driver", "d1");
            assertEquals("driver", r.type());
            assertEquals("d1", r.id());
            assertEquals(java.util.Arrays.asList("age", "lat", "member", "name", "note", "photo",
                    "tags"), r.fields());
            assertEquals("王师傅 🚚", r.getString("name"));
            assertEquals(Long.valueOf(47), r.getLong("age"));
            assertEquals(Boolean.TRUE, r.getBoolean("member"));
            assertEquals(26.5783, r.getDouble("lat"), 0.0);
            assertArrayEquals(photo, r.getBytes("photo"));
            assertTrue(r.has("note"));
            assertEquals(null, r.get("note"));
            assertFalse(r.has("phone"));
            assertEquals(null, r.getString("age")); // another kind
            assertTrue(r.isSet("tags"));
            assertEquals(java.util.Arrays.asList(3L, "cold-chain", "hazmat"), r.getSet("tags"));
            assertEquals(1, r.events().size());
            Record.Event e = r.events().get(0);
            assertEquals("checkin", e.getString("what"));
            assertEquals(1.25, (Double) e.get("at"), 0.0);
            assertEquals(a.deviceId(), e.author());
            assertTrue(e.timeMs() > 1_700_000_000_000L);
            assertEquals(null, s.read("driver", "nobody"));
            first = r.getString("name");
            kept = r;

            // Queries: filtered, ordered, paged, without events.
            try (Txn t = s.begin()) {
                for (int i = 0; i < 12; i++) {
                    String id = String.format("t%02d", i);
                    t.set("truck", id, "load", (double) (i % 4));
                    t.add("truck", id, "route", i % 2 == 0 ? "A" : "B");
                    t.event("truck", id);
                    t.eventField("k", i);
                }
                t.commit();
            }
            RecordPage all = s.query("truck", null);
            assertEquals(12, all.records().size());
            assertEquals(12, all.total());
            assertEquals("t00", all.records().get(0).id());
            assertEquals(1, all.records().get(0).events().size());
            RecordPage evens = s.query("truck", new Query().where("route", "A").withEvents(false));
            assertEquals(6, evens.total());
            for (Record x : evens.records()) {
                assertTrue(x.getSet("route").contains("A"));
                assertEquals(0, x.events().size());
            }
            RecordPage top = s.query("truck", new Query().orderBy("load", true).page(0, 3));
            assertEquals(3, top.records().size());
            assertEquals(12, top.total());
            // load 3.0: t03, t07, t11, in id order
            assertEquals("t03", top.records().get(0).id());
            assertEquals("t11", top.records().get(2).id());
            RecordPage byLoad = s.query("truck", new Query().where("load", 2.0));
            assertEquals(3, byLoad.total());
            a.declareIndex(s.id(), "truck", "load");
            RecordPage indexed = s.query("truck", new Query().where("load", 2.0));
            assertEquals(3, indexed.total());
            assertEquals(byLoad.records().get(0).id(), indexed.records().get(0).id());
            expect(DriverCoreError.EINVAL, () -> new Query().page(-1, 2));
        }
        // Read back after the replica is closed: the record is a copy.
        assertEquals(first, kept.getString("name"));
    }

    @Test
    public void liveQueriesDeliverChanges() throws InterruptedException {
        try (Replica a = Replica.open(path("live-a.db")); Replica b = Replica.open(path("live-b.db"))) {
            Space s = a.createSpace("branch 10");
            s.add(b.card(), Role.MEMBER);
            b.importBundle(a.exportBundle());
            b.space(s.id()).accept();
            java.util.List<RecordPage> pages = new java.util.ArrayList<>();
            LiveQuery q = a.observe(s.id(), "truck", new Query().where("route", "A")
                    .orderBy("n", false), pages::add);
            assertEquals(1, pages.size());
            assertEquals(0, pages.get(0).total());
            try (Txn t = s.begin()) {
                t.set("truck", "t1", "n", 2);
                t.add("truck", "t1", "route", "A");
                t.set("truck", "t2", "n", 1);
                t.add("truck", "t2", "route", "B");
                t.commit();
            }
            assertEquals(2, pages.size());
            assertEquals(1, pages.get(1).total());
            // Outside the filter: no delivery.
            try (Txn t = s.begin()) {
                t.set("truck", "t2", "n", 7);
                t.commit();
            }
            assertEquals(2, pages.size());
            // A merge from another device.
            try (Txn t = b.space(s.id()).begin()) {
                t.set("truck", "t3", "n", 0);
                t.add("truck", "t3", "route", "A");
                t.commit();
            }
            a.importBundle(b.exportBundle());
            assertEquals(3, pages.size());
            assertEquals("t3", pages.get(2).records().get(0).id());
            assertEquals(Long.valueOf(2), pages.get(2).records().get(1).getLong("n"));
            // A merge on another thread through a second Replica on the file:
            // the listener hears of it at the refresh, on that thread.
            Thread[] heardOn = new Thread[1];
            LiveQuery q2 = a.observe(s.id(), "truck", new Query().where("route", "A"),
                    p -> heardOn[0] = Thread.currentThread());
            heardOn[0] = null;
            Thread sync = new Thread(() -> {
                try (Replica side = Replica.open(path("live-a.db"))) {
                    try (Txn t = b.space(s.id()).begin()) {
                        t.set("truck", "t5", "n", 9);
                        t.add("truck", "t5", "route", "A");
                        t.commit();
                    }
                    side.importBundle(b.exportBundle());
                    assertTrue(a.refresh());
                }
            }, "sync-thread");
            sync.start();
            sync.join();
            assertEquals("sync-thread", heardOn[0].getName());
            assertEquals(4, pages.size());
            assertEquals(3, pages.get(3).total()); // t1, t3 and t5 (t2 is on route B)
            q2.close();
            q.close();
            q.close();
            assertFalse(q.isOpen());
            try (Txn t = s.begin()) {
                t.set("truck", "t4", "n", 0);
                t.add("truck", "t4", "route", "A");
                t.commit();
            }
            assertEquals(4, pages.size()); // closed: nothing more
        }
        // Left open: the replica's close releases it.
        Replica c = Replica.open(path("live-a.db"));
        LiveQuery left = c.observe(c.createSpace("x").id(), "truck", null, p -> { });
        assertTrue(left.isOpen());
        c.close();
        assertFalse(left.isOpen());
        left.close();
    }

    /** A drivercore-relay on a loopback port of its own; null when it is not built. */
    private Process startRelay(String[] url) throws Exception {
        String relay = System.getProperty("drivercore.relay", "");
        if (relay.isEmpty()) {
            return null;
        }
        File log = new File(tmp.getRoot(), "relay.log");
        Process p = new ProcessBuilder(relay, "--store", path("relay.db"), "--listen",
                "127.0.0.1:0", "--quiet").redirectErrorStream(true)
                .redirectOutput(log).start();
        for (int i = 0; i < 200; i++) {
            String text = new String(java.nio.file.Files.readAllBytes(log.toPath()),
                    StandardCharsets.UTF_8);
            Matcher m = Pattern.compile(" port ([0-9]+)").matcher(text);
            if (m.find()) {
                url[0] = "http://127.0.0.1:" + m.group(1);
                return p;
            }
            Thread.sleep(50);
        }
        p.destroy();
        fail("the relay did not start");
        return null;
    }

    @Test
    public void syncClientSyncsThroughARelay() throws Exception {
        String[] url = new String[1];
        Process relay = startRelay(url);
        org.junit.Assume.assumeTrue("drivercore-relay not built", relay != null);
        try (Replica tablet = Replica.open(path("sc-tablet.db"));
             Replica phone = Replica.open(path("sc-phone.db"))) {
            Space s = tablet.createSpace("branch 11");
            s.add(phone.card(), Role.MEMBER);
            try (Txn t = s.begin()) {
                t.set("case", "c1", "status", "filed");
                t.commit();
            }
            try (SyncClient ct = SyncClient.open(tablet, url[0], null);
                 SyncClient cp = SyncClient.open(phone, url[0], new UrlConnectionTransport())) {
                SyncReport up = ct.syncNow();
                assertTrue(up.toString(), up.changesSent > 0);
                // The invitation and the space's changes (kept until accepted).
                SyncReport down = cp.syncNow();
                assertTrue(down.toString(), down.changesReceived > 0);
                assertEquals(0, down.snapshotNeeded); // no compaction in this space
                phone.space(s.id()).accept();
                cp.syncNow();
                assertEquals("filed", phone.read(s.id(), "case", "c1").getString("status"));
                // Nothing new: the long-poll times out without changes.
                assertFalse(cp.waitForChanges(1));
                // The phone writes; the tablet's long-poll hears of it.
                try (Txn t = phone.space(s.id()).begin()) {
                    t.set("case", "c1", "status", "heard");
                    t.commit();
                }
                cp.syncNow();
                assertTrue(ct.waitForChanges(10));
                ct.syncNow();
                assertEquals("heard", tablet.read(s.id(), "case", "c1").getString("status"));
                assertTrue(tablet.status().contains("\"ok\":true"));
                // cancel() from another thread stops a long-poll soon.
                Thread canceller = new Thread(() -> {
                    try {
                        Thread.sleep(300);
                    } catch (InterruptedException e) {
                        return;
                    }
                    cp.cancel();
                });
                canceller.start();
                long t0 = System.nanoTime();
                try {
                    cp.waitForChanges(30);
                    fail("a cancelled wait returned normally");
                } catch (DriverCoreException e) {
                    assertEquals(DriverCoreError.EUSER, e.error());
                }
                assertTrue((System.nanoTime() - t0) / 1e9 < 10);
                canceller.join();
            }
            // No relay there: EIO after the attempts, and status says why.
            relay.destroy();
            relay.waitFor();
            java.util.List<SyncStatus> statuses = new java.util.ArrayList<>();
            try (SyncClient dead = SyncClient.open(phone, url[0], null, 2, 10)
                    .onStatus(statuses::add)) {
                DriverCoreException e = expect(DriverCoreError.EIO, () -> dead.syncNow());
                assertTrue(e.getMessage(), e.getMessage().length() > 10);
            }
            assertTrue(phone.status().contains("\"ok\":false"));
            // The status stream and the typed status say the same, in words.
            assertEquals(1, statuses.size());
            SyncStatus st = phone.syncStatus();
            assertTrue(st.hasLastSync);
            assertFalse(st.ok);
            assertEquals("unreachable", st.reason);
            assertTrue(st.error, st.error.length() > 10);
            assertEquals(st.error, statuses.get(0).error);
            assertEquals(url[0], st.peer);
            assertTrue(st.lastOkMs > 0);
            assertEquals(0, st.unacked); // the phone's write was acknowledged
            // The app's own transport, failing: EIO too, with its words.
            HttpTransport broken = new HttpTransport() {
                @Override
                public Response execute(Request q) throws java.io.IOException {
                    throw new java.net.ConnectException("no signal in the tunnel");
                }

                @Override
                public void cancel() {
                }
            };
            try (SyncClient c = SyncClient.open(phone, url[0], broken, 1, 10)) {
                DriverCoreException e = expect(DriverCoreError.EIO, () -> c.syncNow());
                assertTrue(e.getMessage(), e.getMessage().contains("no signal in the tunnel"));
            }
        } finally {
            relay.destroy();
        }
    }

    @Test
    public void aGrievanceFiledOfflineShowsItsDeadlinesEverywhere() {
        try (Replica phone = Replica.open(path("gr-phone.db"));
             Replica desk = Replica.open(path("gr-desk.db"))) {
            Space s = desk.createSpace("county desk");
            s.add(phone.card(), Role.MEMBER);
            phone.importBundle(desk.exportBundle());
            phone.space(s.id()).accept();
            Cases.Filing f = new Cases.Filing();
            f.channel = "12328";
            f.category = "freight_arrears";
            f.text = "运费拖欠 4200 元";
            f.amount = 4200;
            String id = Cases.file(phone, null, s.id(), f);
            assertTrue(id, id.startsWith("gr-"));
            CaseInfo c = Cases.get(phone, null, null, id);
            assertEquals("received", c.status);
            assertTrue(c.open);
            assertEquals(4200, c.amount);
            assertEquals(c.receivedMs + 2 * 3600 * 1000, c.dueMs[0]); // transfer within 2 h
            assertTrue(c.dueMs[1] > c.dueMs[0] && c.dueMs[2] > c.dueMs[1]);
            assertEquals(-1, c.dueMs[3]);
            assertEquals(c.dueMs[0], c.nextDueMs());
            // The desk receives it, transfers it; the phone sees the same case.
            desk.importBundle(phone.exportBundle());
            Cases.step(desk, null, id, "transfer", "committee-520100", null, -1);
            phone.importBundle(desk.exportBundle());
            CaseInfo onPhone = Cases.get(phone, null, s.id(), id);
            CaseInfo onDesk = Cases.get(desk, null, s.id(), id);
            assertEquals("transferred", onPhone.status);
            assertEquals("committee", onPhone.level);
            assertEquals(onDesk.doneMs[0], onPhone.doneMs[0]);
            assertEquals(onDesk.dueMs[2], onPhone.dueMs[2]);
            // Its steps are the events of its record.
            assertEquals(2, phone.read(s.id(), "case", id).events().size());
            assertEquals(null, Cases.get(phone, null, null, "gr-000000000000"));
            expect(DriverCoreError.EINVAL,
                    () -> Cases.step(phone, null, id, "revisit", null, null, 1));
            // Filed and handed back typed in one call; a bad filing writes nothing.
            Cases.Filing g = new Cases.Filing();
            g.driver = "drv-1001";
            g.category = "overloading_fine";
            g.text = "罚款不合理";
            CaseInfo typed = Cases.fileInfo(phone, null, s.id(), g);
            assertTrue(typed.id, typed.id.startsWith("gr-"));
            assertEquals(s.id(), typed.space);
            assertEquals("drv-1001", typed.driver);
            assertEquals("received", typed.status);
            assertEquals(Cases.get(phone, null, s.id(), typed.id).dueMs[1], typed.dueMs[1]);
            g.text = "";
            long cases = phone.query(s.id(), "case", null).total();
            DriverCoreException bad = expect(DriverCoreError.EINVAL,
                    () -> Cases.fileInfo(phone, null, s.id(), g));
            assertTrue(bad.getMessage(), bad.getMessage().contains("text"));
            assertEquals(cases, phone.query(s.id(), "case", null).total());
        }
    }

    @Test
    public void aDriverChecksInAndFindsStations() {
        try (Replica phone = Replica.open(path("ci-phone.db"))) {
            String dir = phone.createSpace("directory").id();
            try (Txn t = phone.begin(dir)) {
                t.set("station", "dh-1", "name", "贵阳司机之家").set("station", "dh-1", "site",
                        "service_area").set("station", "dh-1", "region", "520100")
                        .add("station", "dh-1", "facilities", "showers")
                        .add("station", "dh-1", "facilities", "kitchen");
                t.set("station", "dh-2", "name", "遵义").add("station", "dh-2", "facilities",
                        "parking");
                t.commit();
            }
            java.util.List<Checkins.Station> all = Checkins.stations(phone, dir, null);
            assertEquals(2, all.size());
            assertEquals("贵阳司机之家", all.get(0).name);
            assertEquals(java.util.Arrays.asList("kitchen", "showers"), all.get(0).facilities);
            java.util.List<Checkins.Station> showers = Checkins.stations(phone, dir, "showers");
            assertEquals(1, showers.size());
            assertEquals("dh-1", showers.get(0).id);

            String mine = phone.createSpace("driver drv-1").id();
            Checkins.checkIn(phone, mine, "dh-1", 1700000000000L, "showers", "hot water", 5);
            Checkins.checkIn(phone, mine, "dh-2", 0, null, null, 0);
            Checkins.checkIn(phone, mine, "dh-1", 1700000600000L, null, null, 0);
            java.util.List<Checkins.Visit> v = Checkins.visits(phone, mine);
            assertEquals(3, v.size());
            assertEquals("dh-1", v.get(0).station);
            assertEquals(1700000000000L, v.get(0).atMs);
            assertEquals("showers", v.get(0).used);
            assertEquals("hot water", v.get(0).feedback);
            assertEquals(5, v.get(0).rating);
            assertEquals(1700000600000L, v.get(1).atMs);
            assertEquals(0, v.get(1).rating);
            assertEquals("dh-2", v.get(2).station);
            assertTrue(Math.abs(v.get(2).atMs - System.currentTimeMillis()) < 60000);
            // A bad rating is refused with the library's code and writes nothing.
            DriverCoreException e = expect(DriverCoreError.EINVAL,
                    () -> Checkins.checkIn(phone, mine, "dh-1", 0, null, null, 6));
            assertTrue(e.getMessage(), e.getMessage().contains("rating"));
            assertEquals(3, Checkins.visits(phone, mine).size());
            expect(DriverCoreError.ENOTFOUND, () -> Checkins.checkIn(phone,
                    "00000000000000000000000000000000", "dh-1", 0, null, null, 0));
        }
    }

    @Test
    public void studyReceiptsAndDiscussionMergeBetweenPhones() {
        try (Replica desk = Replica.open(path("st-desk.db"));
             Replica phone = Replica.open(path("st-phone.db"))) {
            Space s = desk.createSpace("branch 7");
            s.add(phone.card(), Role.MEMBER);
            String first = Study.push(desk, s.id(), "st-1", "安全驾驶", "article", "全文");
            assertEquals("st-1", first);
            String second = Study.push(desk, s.id(), null, "新闻", "news", null);
            assertTrue(second, second.startsWith("st-"));
            phone.importBundle(desk.exportBundle());
            phone.space(s.id()).accept();
            Study.Item item = Study.item(phone, s.id(), "st-1");
            assertEquals("安全驾驶", item.title);
            assertEquals("article", item.kind);
            assertEquals("全文", item.media);
            assertTrue(item.pushedMs > 0);
            assertEquals(Study.State.UNREAD, item.stateOf("drv-1"));
            assertEquals(2, Study.items(phone, s.id()).size());
            // Offline on the phone: read, completed, a post.
            Study.markRead(phone, s.id(), "st-1", "drv-1", false);
            assertEquals(Study.State.READ, Study.item(phone, s.id(), "st-1").stateOf("drv-1"));
            Study.markRead(phone, s.id(), "st-1", "drv-1", true);
            Study.markRead(phone, s.id(), "st-1", "drv-1", false); // never undoes done
            Study.discuss(phone, s.id(), "st-1", "drv-1", "学到了");
            desk.importBundle(phone.exportBundle());
            Study.Item onDesk = Study.item(desk, s.id(), "st-1");
            assertEquals(Study.State.DONE, onDesk.stateOf("drv-1"));
            assertEquals(Study.State.UNREAD, onDesk.stateOf("drv-2"));
            assertEquals(1, onDesk.discussion.size());
            assertEquals("学到了", onDesk.discussion.get(0).text);
            assertEquals("drv-1", onDesk.discussion.get(0).driver);
            assertEquals(null, Study.item(desk, s.id(), "st-404"));
            expect(DriverCoreError.ENOTFOUND,
                    () -> Study.markRead(phone, s.id(), "st-404", "drv-1", false));
            expect(DriverCoreError.EINVAL,
                    () -> Study.push(desk, s.id(), null, "x", "podcast", null));
        }
    }

    @Test
    public void aDriverSeesHisBranchAndJoinsAnActivity() {
        try (Replica desk = Replica.open(path("br-desk.db"));
             Replica phone = Replica.open(path("br-phone.db"))) {
            Space s = desk.createSpace("branch 7");
            s.add(phone.card(), Role.MEMBER);
            try (Txn t = s.begin()) {
                t.set("branch", "branch-7", "name", "货运一支部")
                        .set("branch", "branch-7", "region", "520102")
                        .set("branch", "branch-7", "hukou_region", "520100")
                        .set("branch", "branch-7", "activity_area", "520100")
                        .add("branch", "branch-7", "routes", "G75")
                        .add("branch", "branch-7", "business_scope", "cold_chain");
                t.set("member", "drv-0000000000000000000b", "branch", "branch-7")
                        .set("member", "drv-0000000000000000000b", "joined", "2026-03-01");
                t.set("member", "drv-0000000000000000000a", "branch", "branch-7");
                t.set("member", "drv-0000000000000000000c", "branch", "branch-9");
                t.set("activity", "act-2", "title", "主题党日").set("activity", "act-2", "date",
                        "2026-12-20");
                t.set("activity", "act-1", "title", "安全学习").set("activity", "act-1", "date",
                        "2026-12-10");
                t.commit();
            }
            phone.importBundle(desk.exportBundle());
            phone.space(s.id()).accept();
            Branches.Branch b = Branches.branches(phone, s.id()).get(0);
            assertEquals("branch-7", b.id);
            assertEquals("货运一支部", b.name);
            assertEquals("520100", b.hukouRegion);
            assertEquals(java.util.Arrays.asList("G75"), b.routes);
            assertEquals(java.util.Arrays.asList("cold_chain"), b.businessScope);
            java.util.List<Branches.Member> roster = Branches.roster(phone, s.id(), "branch-7");
            assertEquals(2, roster.size());
            assertEquals("drv-0000000000000000000a", roster.get(0).driver);
            assertEquals(null, roster.get(0).joined);
            assertEquals("2026-03-01", roster.get(1).joined);
            java.util.List<Branches.Activity> acts = Branches.activities(phone, s.id());
            assertEquals("act-1", acts.get(0).id);
            assertEquals("act-2", acts.get(1).id);
            assertTrue(acts.get(0).joined.isEmpty());
            Branches.join(phone, s.id(), "act-1", "drv-0000000000000000000b");
            desk.importBundle(phone.exportBundle());
            assertEquals(java.util.Arrays.asList("drv-0000000000000000000b"),
                    Branches.activities(desk, s.id()).get(0).joined);
            expect(DriverCoreError.ENOTFOUND,
                    () -> Branches.join(phone, s.id(), "act-404", "drv-0000000000000000000b"));
        }
    }

    @Test
    public void replicaReopensWithTheSameIdentity() {
        String id;
        try (Replica a = Replica.open(path("r.db"))) {
            id = a.deviceId();
        }
        try (Replica a = Replica.open(path("r.db"), null, true)) {
            assertEquals(id, a.deviceId());
        }
    }

    // ---- errors carry codes ----

    @Test
    public void errorsCarryCodesAndMessages() {
        expect(DriverCoreError.ENOTFOUND, () -> Replica.open(path("missing.db"), null, true));

        try (Replica a = Replica.open(path("e.db"))) {
            Space s = a.createSpace("x");
            expect(DriverCoreError.ENOTFOUND, () -> s.get("truck", "none"));
            expect(DriverCoreError.ENOTFOUND,
                    () -> a.begin("00000000000000000000000000000000"));

            // A corrupt bundle is refused with a decoder error and imports nothing.
            String before = a.dump();
            DriverCoreException e = null;
            try {
                a.importBundle("definitely not a bundle".getBytes(StandardCharsets.UTF_8));
                fail("garbage bundle accepted");
            } catch (DriverCoreException x) {
                e = x;
            }
            assertTrue(e.toString(), e.error() == DriverCoreError.ECORRUPT
                    || e.error() == DriverCoreError.EVERSION);
            assertFalse(e.getMessage().isEmpty());
            assertEquals(before, a.dump());

            // Values without a drivercore kind are refused before reaching C.
            try (Txn t = s.begin()) {
                expect(DriverCoreError.EINVAL,
                        () -> t.set("truck", "t", "f", new java.math.BigDecimal("1.5")));
                expect(DriverCoreError.EINVAL, () -> t.set("truck", "t", "f", Double.NaN));
                expect(DriverCoreError.EINVAL, () -> t.set("truck", "t", "f", "a\0b"));
                // One transaction at a time.
                expect(DriverCoreError.EMISUSE, () -> a.begin(s.id()));
            }
            // Rolled back by close: nothing written, and a new one may begin.
            expect(DriverCoreError.ENOTFOUND, () -> s.get("truck", "t"));
            Txn t = s.begin();
            t.set("truck", "t", "f", 1);
            t.commit();
            expect(DriverCoreError.EMISUSE, () -> t.commit());
        }
    }

    @Test
    public void aClosedReplicaRefusesCallsInsteadOfCrashing() {
        Replica a = Replica.open(path("c.db"));
        Space s = a.createSpace("s");
        Txn t = s.begin();
        t.set("truck", "t", "f", "v");
        a.close(); // rolls the open transaction back first
        assertTrue(a.isClosed());
        assertFalse(t.isOpen());
        expect(DriverCoreError.EMISUSE, () -> a.deviceId());
        expect(DriverCoreError.EMISUSE, () -> a.dump());
        expect(DriverCoreError.EMISUSE, () -> s.members());
        expect(DriverCoreError.EMISUSE, () -> t.commit());
        a.close(); // idempotent
    }

    @Test
    public void restoredBackupIsClonedThenRecovered() throws Exception {
        try (Replica tablet = Replica.open(path("tablet.db"));
             Replica phone = Replica.open(path("phone.db"))) {
            Space s = tablet.createSpace("branch");
            s.add(phone.card(), Role.MEMBER);
            phone.importBundle(tablet.exportBundle());
            phone.space(s.id()).accept();
            // The backup, then the original writes on and the copy offline.
            // (the app's files as a backup takes them: the WAL too)
            for (String ext : new String[] {"", "-wal"}) {
                File f = new File(path("phone.db" + ext));
                if (f.exists()) {
                    java.nio.file.Files.copy(f.toPath(), new File(path("restored.db" + ext)).toPath());
                }
            }
            try (Replica restored = Replica.open(path("restored.db"))) {
                try (Txn t = phone.space(s.id()).begin()) {
                    t.set("truck", "t1", "plate", "original");
                    t.commit();
                }
                try (Txn t = restored.space(s.id()).begin()) {
                    t.set("truck", "t2", "plate", "restored");
                    t.commit();
                }
                assertFalse(restored.isCloned());
                tablet.importBundle(phone.exportBundle());
                expect(DriverCoreError.ECONFLICT, () -> restored.importBundle(tablet.exportBundle()));
                assertTrue(restored.isCloned());
                assertTrue(restored.status(), restored.status().contains("\"why\":\"conflict\""));
                expect(DriverCoreError.ECLONED, () -> restored.begin(s.id()));
                String rec = restored.recover();
                assertFalse(restored.isCloned());
                assertTrue(rec, rec.contains("\"replaces\":\"" + phone.deviceId() + "\""));
                String card = rec.substring(rec.indexOf("\"card\":") + 7, rec.indexOf(",\"resigned\""));
                s.add(card, Role.MEMBER);
                restored.importBundle(tablet.exportBundle());
                tablet.importBundle(restored.exportBundle());
                assertEquals(tablet.dump(), restored.dump());
                assertTrue(tablet.dump().contains("restored"));
                assertTrue(tablet.dump().contains("original"));
                assertTrue(restored.nativeHandle() != 0);
            }
        }
    }

    @Test
    public void installIdMarksARestoredCopyBeforeItWrites() throws Exception {
        File phoneDir = tmp.newFolder("phone-nobackup");
        File newPhoneDir = tmp.newFolder("new-phone-nobackup");
        String id = Backup.installId(phoneDir);
        assertEquals(id, Backup.installId(phoneDir)); // kept
        String other = Backup.installId(newPhoneDir); // a new install: a new id
        assertFalse(id.equals(other));
        File db = new File(Backup.replicaDir(phoneDir), "replica.db");
        String space;
        try (Replica r = Replica.open(db.getPath(), "truck 12", false, null, id)) {
            space = r.createSpace("branch").id();
            assertFalse(r.isCloned());
        }
        // The backup restored on the new phone: the file, not the id.
        File copy = new File(Backup.replicaDir(newPhoneDir), "replica.db");
        java.nio.file.Files.copy(db.toPath(), copy.toPath());
        try (Replica r = Replica.open(copy.getPath(), "truck 12", false, null, other)) {
            assertTrue(r.isCloned());
            assertTrue(r.status(), r.status().contains("\"why\":\"copied\""));
            expect(DriverCoreError.ECLONED, () -> r.begin(space));
            String rec = r.recover();
            assertFalse(r.isCloned());
            assertTrue(rec, rec.contains("\"spaces\":[\"" + space + "\"]"));
        }
        try (Replica r = Replica.open(db.getPath(), "truck 12", false, null, id)) {
            assertFalse(r.isCloned()); // the original, on its own install
            try (Txn t = r.begin(space)) {
                t.set("truck", "t1", "plate", "B-123");
                t.commit();
            }
        }
        expect(DriverCoreError.EINVAL, () -> Replica.open(db.getPath(), null, true, null, ""));
    }

    @Test
    public void backupHelperMakesTheReplicaFolder() {
        File dir = Backup.replicaDir(tmp.getRoot());
        assertTrue(dir.isDirectory());
        assertEquals(Backup.REPLICA_DIR, dir.getName());
        assertTrue(Backup.EXCLUDE_RULES.contains("path=\"drivercore/\""));
        expect(DriverCoreError.EMISUSE, () -> Backup.replicaDir(null));
    }

    @Test
    public void removalRotatesAndRefusesTheRemoved() {
        try (Replica a = Replica.open(path("ma.db"));
             Replica b = Replica.open(path("mb.db"))) {
            Space s = a.createSpace("branch");
            s.add(b.card(), Role.MEMBER);
            b.importBundle(a.exportBundle());
            b.space(s.id()).accept();
            s.setRole(b.deviceId(), Role.READER);
            b.importBundle(a.exportBundle());
            expect(DriverCoreError.EDENIED, () -> b.begin(s.id()));
            s.setRole(b.deviceId(), Role.MEMBER);
            s.remove(b.deviceId());
            try (Txn t = s.begin()) {
                t.set("truck", "after", "plate", "new key");
                t.commit();
            }
            b.importBundle(a.exportBundle());
            // b keeps what it had but cannot read what came after its removal.
            assertFalse(b.dump().contains("new key"));
            assertFalse(s.members().contains(b.deviceId()));
            s.rotate();
            expect(DriverCoreError.EDENIED, () -> b.space(s.id()).remove(a.deviceId()));
            b.space(s.id()).decline();
            assertTrue(b.spaces(), b.spaces().contains("\"declined\""));
        }
    }

    @Test
    public void aReaderCannotWrite() {
        try (Replica a = Replica.open(path("ra.db"));
             Replica b = Replica.open(path("rb.db"))) {
            Space s = a.createSpace("read-only for b");
            s.add(b.card(), Role.READER);
            b.importBundle(a.exportBundle());
            b.space(s.id()).accept();
            expect(DriverCoreError.EDENIED, () -> b.begin(s.id()));
            // and b cannot add devices either
            expect(DriverCoreError.EDENIED, () -> b.space(s.id()).add(a.card(), Role.ADMIN));
        }
    }

    @Test
    public void aForgedCardIsRefused() {
        try (Replica a = Replica.open(path("fa.db"));
             Replica b = Replica.open(path("fb.db"))) {
            Space s = a.createSpace("s");
            String card = b.card();
            String forged = card.replace("\"name\":\"\"", "\"name\":\"mallory\"");
            if (forged.equals(card)) {
                // The card's exact spacing is the library's business; tamper
                // with the signature instead.
                int i = card.indexOf("\"sig\"");
                assertTrue(card, i >= 0);
                int open = card.indexOf('"', card.indexOf(':', i));
                int j = card.indexOf('"', open + 1) - 1; // the signature's last hex digit
                char c = card.charAt(j);
                forged = card.substring(0, j) + (c == '0' ? '1' : '0') + card.substring(j + 1);
            }
            final String f = forged;
            DriverCoreException e = null;
            try {
                s.add(f, Role.MEMBER);
                fail("forged card accepted");
            } catch (DriverCoreException x) {
                e = x;
            }
            assertTrue(e.toString(), e.error() == DriverCoreError.EBADSIG
                    || e.error() == DriverCoreError.EINVAL);
        }
    }

    // ---- sync sessions ----

    /** The integer field key of a report, which must be present. */
    private static long field(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*(-?\\d+)").matcher(json);
        assertTrue(key + " missing from " + json, m.find());
        return Long.parseLong(m.group(1));
    }

    /**
     * One whole session, initiator <-> responder, carried in-process: the
     * initiator's first step has no input; then the responder answers each
     * message and the initiator each reply, until one side has nothing to
     * say.  Returns the initiator's report.
     */
    private static String syncPair(Replica initiator, Replica responder) {
        try (SyncSession si = initiator.sync(SyncRole.INITIATOR);
             SyncSession sr = responder.sync(SyncRole.RESPONDER)) {
            byte[] m = si.step(null);
            byte[] reply = new byte[0];
            int steps = 0;
            while (m.length > 0) {
                assertTrue("session does not end", ++steps < 1000);
                reply = sr.step(m);
                if (reply.length == 0) {
                    break;
                }
                m = si.step(reply);
            }
            assertTrue("the responder knows the session is over", sr.isDone());
            if (reply.length > 0) {
                assertTrue("the initiator finished after the responder's last word", si.isDone());
            }
            return si.report();
        }
    }

    @Test
    public void twoReplicasSyncThroughSessions() {
        try (Replica a = Replica.open(path("sa.db"), "office", false);
             Replica b = Replica.open(path("sb.db"), "truck", false)) {
            Space s = a.createSpace("depot");
            s.add(b.card(), Role.MEMBER);
            final int n = 12;
            for (int i = 0; i < n; i++) {
                try (Txn t = s.begin()) {
                    t.set("truck", "t" + i, "plate", "B-" + i).add("truck", "t" + i, "tags", "x");
                    t.commit();
                }
            }
            assertFalse(a.dump().equals(b.dump()));

            // b has never heard of the space: the session brings it, key and all.
            String rep = syncPair(b, a);
            b.space(s.id()).accept();
            assertTrue(rep, field(rep, "changes_received") >= n);
            assertEquals(0, field(rep, "changes_sent"));
            assertTrue(rep, field(rep, "round_trips") >= 1);
            assertTrue(rep, field(rep, "bytes_sent") > 0 && field(rep, "bytes_received") > 0);
            assertTrue(b.get(s.id(), "truck", "t3").contains("B-3"));
            assertArrayEquals(a.dump().getBytes(StandardCharsets.UTF_8),
                    b.dump().getBytes(StandardCharsets.UTF_8));

            // A second session has nothing to move.
            rep = syncPair(b, a);
            assertEquals(rep, 0, field(rep, "changes_sent") + field(rep, "changes_received"));

            // Both write offline; one session, the other way round, carries both.
            try (Txn t = s.begin()) {
                t.set("truck", "t0", "seats", 2);
                t.commit();
            }
            try (Txn t = b.space(s.id()).begin()) {
                t.set("truck", "t1", "seats", 5);
                t.commit();
            }
            rep = syncPair(a, b);
            assertEquals(rep, 1, field(rep, "changes_sent"));
            assertEquals(rep, 1, field(rep, "changes_received"));
            assertArrayEquals(a.dump().getBytes(StandardCharsets.UTF_8),
                    b.dump().getBytes(StandardCharsets.UTF_8));
            rep = syncPair(a, b);
            assertEquals(rep, 0, field(rep, "changes_sent") + field(rep, "changes_received"));
        }
    }

    @Test
    public void aCorruptSyncMessageIsRefused() {
        try (Replica a = Replica.open(path("xa.db"));
             Replica b = Replica.open(path("xb.db"))) {
            Space s = a.createSpace("s");
            s.add(b.card(), Role.MEMBER);
            try (Txn t = s.begin()) {
                t.set("truck", "t", "f", 1);
                t.commit();
            }
            String before = a.dump();
            try (SyncSession si = b.sync(SyncRole.INITIATOR);
                 SyncSession sr = a.sync(SyncRole.RESPONDER)) {
                byte[] m = si.step(null);
                assertTrue(m.length > 0);
                assertFalse(si.isDone());
                m[0] ^= (byte) 0xff;
                DriverCoreException e = expect(DriverCoreError.ECORRUPT, () -> sr.step(m));
                assertTrue(e.getMessage(), e.getMessage().contains("sync"));
                // Out of turn: the initiator has already spoken first.
                expect(DriverCoreError.EMISUSE, () -> si.step(null));
                // Not finished: a relay sync cannot be noted yet.
                expect(DriverCoreError.EMISUSE, () -> si.noteRelay());
            }
            assertEquals(before, a.dump());
            assertEquals("{}", b.dump().trim());
        }
    }

    @Test
    public void closingTheReplicaClosesItsSessions() {
        Replica a = Replica.open(path("ca.db"));
        SyncSession si = a.sync(SyncRole.INITIATOR);
        SyncSession sr = a.sync(SyncRole.RESPONDER);
        sr.close();
        assertTrue(sr.isClosed());
        a.close();
        assertTrue(si.isClosed());
        expect(DriverCoreError.EMISUSE, () -> si.step(null));
        expect(DriverCoreError.EMISUSE, () -> si.report());
        si.close(); // idempotent
        expect(DriverCoreError.EMISUSE, () -> a.sync(SyncRole.INITIATOR));
    }

    // ---- at rest ----

    /** A provider that hands out the same fixed key, counting its calls. */
    private static final class FixedKey implements KeyProvider {
        final byte fill;
        int calls;
        KeyPurpose last;

        FixedKey(int fill) {
            this.fill = (byte) fill;
        }

        @Override
        public AtRestKey key(KeyPurpose purpose) {
            calls++;
            last = purpose;
            byte[] k = new byte[AtRestKey.BYTES];
            java.util.Arrays.fill(k, fill);
            return AtRestKey.of(k);
        }
    }

    private static long count(byte[] hay, byte[] needle) {
        long n = 0;
        for (int i = 0; i + needle.length <= hay.length; i++) {
            int j = 0;
            while (j < needle.length && hay[i + j] == needle[j]) {
                j++;
            }
            if (j == needle.length) {
                n++;
            }
        }
        return n;
    }

    @Test
    public void encryptedReplicaKeepsNothingReadableAndNeedsItsKey() throws Exception {
        String p = path("enc.db");
        FixedKey k = new FixedKey(0x42);
        String before;
        try (Replica a = Replica.open(p, "Huang Hongxing", false, k)) {
            assertEquals(KeyPurpose.NEW, k.last);
            assertTrue(a.isEncrypted());
            assertTrue(a.status().contains("\"encrypted\":true"));
            Space s = a.createSpace("Wudang mobile branch");
            try (Txn t = s.begin()) {
                t.set("driver", "d1", "phone", "13812345678").commit();
            }
            before = a.dump();
        }
        byte[] file = java.nio.file.Files.readAllBytes(new File(p).toPath());
        assertEquals(0, count(file, "13812345678".getBytes(StandardCharsets.UTF_8)));
        assertEquals(0, count(file, "Huang Hongxing".getBytes(StandardCharsets.UTF_8)));

        // Reopened: the key of an existing file.
        FixedKey again = new FixedKey(0x42);
        try (Replica a = Replica.open(p, null, true, again)) {
            assertEquals(KeyPurpose.OPEN, again.last);
            assertEquals(before, a.dump());
        }
        // No key, a wrong key: EKEY, with a message.
        DriverCoreException e = expect(DriverCoreError.EKEY, () -> Replica.open(p, null, true));
        assertTrue(e.getMessage(), e.getMessage().contains("encrypted"));
        expect(DriverCoreError.EKEY, () -> Replica.open(p, null, true, new FixedKey(0x43)));
        // A wrong length is refused before it reaches the library.
        expect(DriverCoreError.EINVAL, () -> AtRestKey.of(new byte[31]));
        // The provider's own exception is what the caller sees.
        try {
            Replica.open(p, null, true, purpose -> {
                throw new IllegalStateException("the Keystore is locked");
            });
            fail("the provider threw");
        } catch (IllegalStateException expected) {
            assertEquals("the Keystore is locked", expected.getMessage());
        }
        // Nothing above changed the file.
        try (Replica a = Replica.open(p, null, true, new FixedKey(0x42))) {
            assertEquals(before, a.dump());
        }
    }

    @Test
    public void keyBytesAreZeroedAfterUse() {
        byte[] key = new byte[AtRestKey.BYTES];
        java.util.Arrays.fill(key, (byte) 7);
        try (Replica a = Replica.open(path("z.db"), null, false, purpose -> AtRestKey.of(key))) {
            assertTrue(a.isEncrypted());
        }
        assertArrayEquals(new byte[AtRestKey.BYTES], key);
        char[] pass = "a long passphrase".toCharArray();
        AtRestKey k = AtRestKey.passphrase(pass);
        assertArrayEquals(new char[pass.length], pass);
        try (Replica a = Replica.open(path("pp.db"), null, false, purpose -> k)) {
            assertTrue(a.isEncrypted());
        }
        assertArrayEquals(new byte[k.bytes.length], k.bytes);
        try (Replica a = Replica.open(path("pp.db"), null, true,
                purpose -> AtRestKey.passphrase("a long passphrase".toCharArray()))) {
            assertTrue(a.isEncrypted());
        }
    }

    @Test
    public void rekeyAndMigration() {
        String p = path("m.db");
        String before;
        try (Replica a = Replica.open(p)) {
            assertFalse(a.isEncrypted());
            try (Txn t = a.createSpace("branch").begin()) {
                t.set("driver", "d1", "name", "Li Xiaoyun").commit();
            }
            before = a.dump();
        }
        // Opened with a key, a replica in clear is migrated once.
        FixedKey k1 = new FixedKey(1);
        try (Replica a = Replica.open(p, null, true, k1)) {
            assertEquals(KeyPurpose.NEW, k1.last);
            assertTrue(a.isEncrypted());
            assertEquals(before, a.dump());
            FixedKey k2 = new FixedKey(2);
            a.rekey(k2);
            assertEquals(KeyPurpose.NEW, k2.last);
            assertEquals(before, a.dump());
            expect(DriverCoreError.EMISUSE, () -> a.rekey(null));
        }
        expect(DriverCoreError.EKEY, () -> Replica.open(p, null, true, new FixedKey(1)));
        try (Replica a = Replica.open(p, null, true, new FixedKey(2))) {
            assertEquals(before, a.dump());
            // Another connection keeps the file busy: nothing changes.
            try (Replica other = Replica.open(p, null, true, new FixedKey(2))) {
                assertTrue(other.isEncrypted());
                expect(DriverCoreError.EBUSY, () -> a.rekey(new FixedKey(3)));
            }
            assertEquals(before, a.dump());
        }
    }
}
