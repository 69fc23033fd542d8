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
    static native byte[] spaceCompact(long r, byte[] space);
    static native long[] vacuum(long r);

    // ---- transactions ----
    static final int OP_SET = 0;
    static final int OP_ADD = 1;
    static final int OP_REMOVE = 2;

    static native long txnBegin(long r, byte[] space);
    /** A value is (kind, num, real, raw): raw holds a string's UTF-8 or the bytes, unterminated. */
    static native void txnField(long r, long t, int op, byte[] type, byte[] id, byte[] field,
                                int kind, long num, double real, byte[] raw);
    static native void txnEvent(long r, long t, byte[] type, byte[] id);
    static native void txnEventField(long r, long t, byte[] key, int kind, long num, double real,
                                     byte[] raw);
    static native void txnDelete(long r, long t, byte[] type, byte[] id);
    static native long txnOpCount(long t);
    static native byte[] txnCommit(long r, long t);
    static native void txnRollback(long t);

    // ---- records ----
    static native byte[] recordGet(long r, byte[] space, byte[] type, byte[] id);
    static native byte[] recordList(long r, byte[] space, byte[] type);
    static native byte[] recordFind(long r, byte[] space, byte[] type, byte[] field,
                                    int kind, long num, byte[] str);

    /** 0 when the record is absent or deleted. */
    static native long recordRead(long r, byte[] space, byte[] type, byte[] id);
    /** field null: no filter; order null: id order; limit 0: no limit; id null: every id. */
    static native long recordQuery(long r, byte[] space, byte[] type, byte[] field, int kind,
                                   long num, double real, byte[] raw, byte[] order,
                                   boolean descending, long offset, long limit, boolean events,
                                   byte[] id, boolean unacceptedEmpty);
    static native long recordCount(long r, byte[] space, byte[] type);
    /** A record's row in the query's list without its page, or -1 (dc_record_position). */
    static native long recordPosition(long r, byte[] space, byte[] type, byte[] field, int kind,
                                      long num, double real, byte[] raw, byte[] order,
                                      boolean descending, byte[] queryId, boolean unacceptedEmpty,
                                      byte[] id);
    /** The hex id of the first space read holding the record, or null. */
    static native byte[] recordLocate(long r, byte[] type, byte[] id);
    /** The hex ids of the spaces read (dc_space_each), as byte[]s. */
    static native Object[] spaceIds(long r);
    static native void readBegin(long r);
    static native void readEnd(long r);
    static native void indexDeclare(long r, byte[] space, byte[] type, byte[] field);
    static native boolean replicaRefresh(long r);

    // ---- the domain: grievances and the holiday calendar ----
    static native long calendarFromSpace(long r, byte[] space);
    static native long calendarParse(byte[] tsv);
    static native void calendarFree(long cal);
    /** texts: driver, channel, category, text, region (NUL-terminated UTF-8 or null). */
    static native Object[] caseFile(long r, long cal, byte[] space, Object[] texts,
                                  boolean emergency, long amount, boolean route);
    static native void caseStep(long r, long cal, byte[] id, byte[] action, byte[] to,
                                byte[] note, int satisfied);
    static native Object[] caseGet(long r, long cal, byte[] space, byte[] id);
    static native void checkin(long r, byte[] space, byte[] station, long atMs, byte[] used,
                               byte[] feedback, int rating);
    static native byte[] studyPush(long r, byte[] space, byte[] id, byte[] title, byte[] kind,
                                   byte[] media, long pushedMs);
    static native void studyRead(long r, byte[] space, byte[] item, byte[] driver, boolean done);
    static native void studyDiscuss(long r, byte[] space, byte[] item, byte[] driver, byte[] text);
    static native void studyJoin(long r, byte[] space, byte[] activity, byte[] driver);
    static native Object[] syncStatus(long r);
    static native long recordsTotal(long rs);
    static native int recordsCount(long rs);
    /** The i-th record of the page, owned by rs. */
    static native long recordsAt(long rs, int i);
    static native void recordsFree(long rs);
    static native void recordFree(long rec);
    /** The whole record as arrays (see n_record_decode in drivercore_jni.c). */
    static native Object[] recordDecode(long rec);

    /** 0 when the first delivery closed it; listener is a RecordListener. */
    static native long liveOpen(long r, byte[] space, byte[] type, byte[] field, int kind,
                                long num, double real, byte[] raw, byte[] order,
                                boolean descending, long offset, long limit, boolean events,
                                byte[] id, boolean unacceptedEmpty, Object listener);
    static native void liveClose(long q);

    /** Called by the glue inside the native call that made a change: rs is
     * valid during this call only.  What the listener throws goes to the
     * thread's uncaught-exception handler, not back through C. */
    static void liveDeliver(Object listener, long rs) {
        try {
            ((RecordListener) listener).onChange(RecordPage.of(rs));
        } catch (Throwable t) {
            Thread th = Thread.currentThread();
            th.getUncaughtExceptionHandler().uncaughtException(th, t);
        }
    }

    // ---- the sync client ----
    static native long clientNew(long r, byte[] url, HttpTransport transport, int attempts,
                                 long backoffBaseMs);
    static native void clientSync(long r, long c);
    static native boolean clientWait(long r, long c, int timeoutS);
    static native long[] clientFigures(long c);
    static native void clientCancel(long c);
    static native void clientFree(long c);

    /**
     * Called by the glue for each HTTP request of a sync: {status, header
     * names, header values, body} as {int[]{status}, byte[][], byte[][],
     * byte[]}, or, when no answer came, {int[]{-why}, detail} with why as
     * DC_HTTP_FAIL_* (1 connect, 2 timeout, 3 broken, 4 cancelled).
     */
    static Object[] httpExecute(HttpTransport t, byte[] method, byte[] url, Object[] names,
                                Object[] values, byte[] body, long connectMs, long stallMs,
                                long totalMs) {
        java.util.Map<String, String> h = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            h.put(str((byte[]) names[i]), str((byte[]) values[i]));
        }
        try {
            HttpTransport.Response r = t.execute(new HttpTransport.Request(str(method), str(url),
                    h, body, connectMs, stallMs, totalMs));
            Object[] n = new Object[r.headers.size()];
            Object[] v = new Object[r.headers.size()];
            int i = 0;
            for (java.util.Map.Entry<String, String> e : r.headers.entrySet()) {
                n[i] = e.getKey().getBytes(StandardCharsets.UTF_8);
                v[i++] = e.getValue().getBytes(StandardCharsets.UTF_8);
            }
            return new Object[] {new int[] {r.status}, n, v, r.body};
        } catch (java.net.ConnectException | java.net.UnknownHostException
                 | java.net.NoRouteToHostException e) {
            return fail(1, e);
        } catch (java.net.SocketTimeoutException e) {
            return fail(2, e);
        } catch (java.io.InterruptedIOException e) {
            return fail(4, e);
        } catch (Exception e) {
            return fail(3, e);
        }
    }

    private static Object[] fail(int why, Exception e) {
        String d = e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "");
        return new Object[] {new int[] {-why}, d.getBytes(StandardCharsets.UTF_8)};
    }

    static void httpCancel(HttpTransport t) {
        t.cancel();
    }

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
