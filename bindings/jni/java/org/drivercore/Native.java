/*
 * The native methods of the Java bindings, one per C entry point they use,
 * implemented in bindings/jni/drivercore_jni.c.  Package-private: the public
 * API is Replica, Space, Txn and SyncSession, which keep the handles and the
 * lifecycle rules; this class only marshals.
 *
 * Strings cross the boundary as NUL-terminated UTF-8 byte arrays and come
 * back as UTF-8 byte arrays, never through GetStringUTFChars/NewStringUTF:
 * those use JNI's "modified UTF-8" (NUL as two bytes, characters outside the
 * BMP as surrogate pairs), which is not the UTF-8 the library validates and
 * stores, and which Android's CheckJNI rejects outright for 4-byte sequences.
 */
package org.drivercore;

import java.nio.charset.StandardCharsets;

final class Native {
    private Native() {
    }

    static {
        // An explicit path wins (tests, apps that unpack the library
        // themselves); otherwise the platform's usual search
        // (java.library.path, or the APK's lib/<abi>/ on Android).
        String path = System.getProperty("drivercore.jni.path");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("drivercore_jni");
        }
    }

    /** s as NUL-terminated UTF-8; null stays null.  A string containing NUL
     * cannot be passed to C without being cut short, so it is refused. */
    static byte[] utf8z(String s) {
        if (s == null) {
            return null;
        }
        if (s.indexOf('\0') >= 0) {
            throw new DriverCoreException(DriverCoreError.EINVAL,
                    "a string passed to drivercore contains a NUL character");
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }

    static String str(byte[] utf8) {
        return utf8 == null ? null : new String(utf8, StandardCharsets.UTF_8);
    }

    // ---- library ----
    static native String version();
    static native String errorName(int code);
    static native String strerror(int code);
    static native String roleName(int role);

    // ---- replica ----
    static native long open(byte[] path, byte[] deviceName, boolean mustExist);
    /** keys may be null: the file stays in clear (and an encrypted one is refused). */
    static native long openKeyed(byte[] path, byte[] deviceName, boolean mustExist,
                                 KeyProvider keys);
    /** installId may be null: no check (docs/recovery.md). */
    static native long openInstalled(byte[] path, byte[] deviceName, boolean mustExist,
                                     KeyProvider keys, byte[] installId);
    static native void rekey(long r, KeyProvider keys);
    static native boolean encrypted(long r);

    /** Called by the glue, inside openKeyed and rekey, on the calling thread. */
    static AtRestKey askKey(KeyProvider keys, int purpose) throws Exception {
        return keys.key(purpose == 2 ? KeyPurpose.NEW : KeyPurpose.OPEN);
    }
    static native void close(long r);
    static native byte[] deviceId(long r);
    static native byte[] card(long r);
    static native byte[] dump(long r, byte[] space);
    static native byte[] status(long r);

    static native boolean cloned(long r);

    static native byte[] recover(long r);

    // ---- spaces ----
    static native byte[] spaceCreate(long r, byte[] name);
    static native void spaceAdd(long r, byte[] space, byte[] card, int role);

    static final int MEMBER_REMOVE = 0, MEMBER_ROLE = 1, MEMBER_ROTATE = 2, MEMBER_ACCEPT = 3,
            MEMBER_DECLINE = 4;

    static native void spaceMember(long r, int op, byte[] space, byte[] device, int role);
    static native byte[] spaceList(long r);
    static native byte[] spaceMembers(long r, byte[] space);

    // ---- transactions ----
    static final int OP_SET = 0;
    static final int OP_ADD = 1;
    static final int OP_REMOVE = 2;

    static native long txnBegin(long r, byte[] space);
    static native void txnField(long r, long t, int op, byte[] type, byte[] id, byte[] field,
                                int kind, long num, byte[] str);
    static native void txnEvent(long r, long t, byte[] type, byte[] id);
    static native void txnEventField(long r, long t, byte[] key, int kind, long num, byte[] str);
    static native void txnDelete(long r, long t, byte[] type, byte[] id);
    static native long txnOpCount(long t);
    static native byte[] txnCommit(long r, long t);
    static native void txnRollback(long t);

    // ---- records ----
    static native byte[] recordGet(long r, byte[] space, byte[] type, byte[] id);
    static native byte[] recordList(long r, byte[] space, byte[] type);
    static native byte[] recordFind(long r, byte[] space, byte[] type, byte[] field,
                                    int kind, long num, byte[] str);

    // ---- bundles ----
    static native byte[] bundleExport(long r, byte[] space);
    static native byte[] bundleImport(long r, byte[] data);

    // ---- sync sessions ----
    static native long syncNew(long r, int role);
    /** in is null for the initiator's first step; done[0] is set to whether this side finished. */
    static native byte[] syncStep(long r, long s, byte[] in, boolean[] done);
    static native byte[] syncReport(long r, long s);
    static native void syncNoteRelay(long r, long s);
    static native void syncFree(long s);
}
