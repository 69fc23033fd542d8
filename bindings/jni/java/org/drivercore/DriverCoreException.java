/*
 * The one exception type of the Java bindings.  Every failing call of the C
 * library surfaces as a DriverCoreException carrying the library's error code
 * (as the generated DriverCoreError constant and as the raw number, so a code
 * from a newer native library is not lost) and the library's own message,
 * which says what failed and what to do.  It is unchecked, as SQLiteException
 * is on Android: most codes mean a bug or bad input the caller cannot repair
 * locally, and callers that can (ENOTFOUND, EDENIED) catch it by code.
 */
package org.drivercore;

public class DriverCoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;

    /** An exception with a code and a message (the code's default message if null or empty). */
    public DriverCoreException(int code, String message) {
        super(message == null || message.isEmpty()
                ? DriverCoreError.fromCode(code).message() : message);
        this.code = code;
    }

    /*
     * Called from the JNI glue: the message arrives as the library's UTF-8
     * bytes (see Native for why not as a JNI string).
     */
    DriverCoreException(int code, byte[] utf8Message) {
        this(code, utf8Message == null ? null
                : new String(utf8Message, java.nio.charset.StandardCharsets.UTF_8));
    }

    public DriverCoreException(DriverCoreError error, String message) {
        this(error.code(), message);
    }

    /** The raw numeric code (negative), exactly as the C library returned it. */
    public int code() {
        return code;
    }

    /** The code as a constant; UNKNOWN for a code this copy does not know. */
    public DriverCoreError error() {
        return DriverCoreError.fromCode(code);
    }

    @Override
    public String toString() {
        return "DriverCoreException[" + error().cName() + " (" + code + ")]: " + getMessage();
    }
}
