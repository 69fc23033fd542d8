/*
 * Maps Java values onto the library's dc_value (include/drivercore/common.h):
 * null, Boolean, an integral Number (Long, Integer, Short, Byte), a Double or
 * Float (finite: NaN and infinities are refused by the library), a String
 * (any CharSequence), or byte[].  Anything else (a BigDecimal, a Map) has no
 * value kind in drivercore and is refused with DC_EINVAL before reaching C,
 * rather than being converted in some lossy way the caller did not ask for.
 * Values read back come as null, Boolean, Long, Double, String or byte[]
 * (toJava).
 */
package org.drivercore;

import java.nio.charset.StandardCharsets;

final class Values {
    static final int NULL = 0;
    static final int BOOL = 1;
    static final int INT = 2;
    static final int STR = 3;
    static final int FLOAT = 4;
    static final int BYTES = 5;

    final int kind;
    final long num;
    final double real;
    /** STR: NUL-terminated UTF-8 (for the calls that take a C string). */
    final byte[] str;
    /** STR: UTF-8; BYTES: the bytes (for the calls that take a dc_value). */
    final byte[] raw;

    private Values(int kind, long num, double real, byte[] str, byte[] raw) {
        this.kind = kind;
        this.num = num;
        this.real = real;
        this.str = str;
        this.raw = raw;
    }

    static Values of(Object v) {
        if (v == null) {
            return new Values(NULL, 0, 0, null, null);
        }
        if (v instanceof Boolean) {
            return new Values(BOOL, ((Boolean) v) ? 1 : 0, 0, null, null);
        }
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return new Values(INT, ((Number) v).longValue(), 0, null, null);
        }
        if (v instanceof Double || v instanceof Float) {
            return new Values(FLOAT, 0, ((Number) v).doubleValue(), null, null);
        }
        if (v instanceof CharSequence) {
            String s = v.toString();
            byte[] z = Native.utf8z(s); // refuses NUL, as every string crossing to C
            return new Values(STR, 0, 0, z, s.getBytes(StandardCharsets.UTF_8));
        }
        if (v instanceof byte[]) {
            return new Values(BYTES, 0, 0, null, ((byte[]) v).clone());
        }
        throw new DriverCoreException(DriverCoreError.EINVAL,
                "unsupported value type " + v.getClass().getName()
                        + ": use null, Boolean, Integer/Long, Double/Float, String or byte[]");
    }

    /** The Java object for one value of a decoded record (Native.recordDecode). */
    static Object toJava(int kind, long num, double real, byte[] b) {
        switch (kind) {
        case NULL:
            return null;
        case BOOL:
            return num != 0;
        case INT:
            return num;
        case FLOAT:
            return real;
        case STR:
            return new String(b, StandardCharsets.UTF_8);
        case BYTES:
            return b;
        default:
            throw new DriverCoreException(DriverCoreError.ECORRUPT,
                    "a value of unknown kind " + kind);
        }
    }
}
