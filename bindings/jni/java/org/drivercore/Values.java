/*
 * Maps Java values onto the library's (kind, num, str) triple (dc_kind in
 * include/drivercore/txn.h): null, Boolean, an integral Number, or String.
 * Anything else (a Double, a Map) has no field kind in drivercore and is
 * refused with DC_EINVAL before reaching C, rather than being converted in
 * some lossy way the caller did not ask for.
 */
package org.drivercore;

final class Values {
    static final int NULL = 0;
    static final int BOOL = 1;
    static final int INT = 2;
    static final int STR = 3;

    final int kind;
    final long num;
    final byte[] str;

    private Values(int kind, long num, byte[] str) {
        this.kind = kind;
        this.num = num;
        this.str = str;
    }

    static Values of(Object v) {
        if (v == null) {
            return new Values(NULL, 0, null);
        }
        if (v instanceof Boolean) {
            return new Values(BOOL, ((Boolean) v) ? 1 : 0, null);
        }
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return new Values(INT, ((Number) v).longValue(), null);
        }
        if (v instanceof CharSequence) {
            return new Values(STR, 0, Native.utf8z(v.toString()));
        }
        throw new DriverCoreException(DriverCoreError.EINVAL,
                "unsupported value type " + v.getClass().getName()
                        + ": use null, Boolean, Integer/Long or String");
    }
}
