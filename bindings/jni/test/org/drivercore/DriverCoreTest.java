/*
 * JUnit 4 tests of the Java bindings against the real native library: two
 * replicas share a space, write, exchange bundles and end with equal dumps;
 * every failure surfaces as a DriverCoreException with the library's code
 * and a non-empty message; and the generated error enum agrees with the C
 * library's own table.  Run by bindings/jni/run_junit.py (meson test suite
 * `bindings`).  In package org.drivercore to reach the package-private
 * Native methods that expose dc_error_name and dc_strerror.
 */
package org.drivercore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class DriverCoreTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String path(String name) {
        return new File(tmp.getRoot(), name).getPath();
    }

    /** Runs r and returns the DriverCoreException it must throw. */
    private static DriverCoreException expect(DriverCoreError code, Runnable r) {
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
                expect(DriverCoreError.EINVAL, () -> t.set("truck", "t", "f", 1.5));
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
    public void aReaderCannotWrite() {
        try (Replica a = Replica.open(path("ra.db"));
             Replica b = Replica.open(path("rb.db"))) {
            Space s = a.createSpace("read-only for b");
            s.add(b.card(), Role.READER);
            b.importBundle(a.exportBundle());
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
}
