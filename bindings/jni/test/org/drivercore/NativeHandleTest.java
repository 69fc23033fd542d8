package org.drivercore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Replica.nativeHandle(): the app's own native code (here
 * libdrivercore_jni_probe, bindings/jni/test/handle_probe.c) calls the C
 * API on the replica the binding opened, without opening the file again.
 */
public class NativeHandleTest {
    static {
        System.loadLibrary("drivercore_jni_probe");
    }

    static native String deviceId(long handle);

    static native int set(long handle, String space, String value);

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void nativeCodeWritesThroughTheHandle() {
        Replica r = Replica.open(new File(tmp.getRoot(), "h.db").getPath());
        Space s = r.createSpace("branch");
        synchronized (r) {
            long h = r.nativeHandle();
            assertEquals(r.deviceId(), deviceId(h));
            assertEquals(0, set(h, s.id(), "via C"));
        }
        // The binding sees the commit at once: one handle, one writer.
        assertTrue(s.get("truck", "t9").contains("via C"));
        try (Txn t = s.begin()) {
            t.set("truck", "t9", "plate", "via Java");
            t.commit();
        }
        assertTrue(s.get("truck", "t9").contains("via Java"));
        r.close();
        try {
            r.nativeHandle();
            fail("nativeHandle() after close");
        } catch (DriverCoreException e) {
            assertEquals(DriverCoreError.EMISUSE, e.error());
        }
    }
}
