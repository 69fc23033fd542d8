/*
 * What a KeyProvider gives: a 32-byte key, or a passphrase from which the
 * library derives the key with Argon2id (docs/format/at-rest.md).  The
 * library copies the bytes into its guarded memory and the binding then
 * zeroes this object's array, so an AtRestKey is good for one call.
 */
package org.drivercore;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class AtRestKey {
    /** The size of a key, in bytes (dc_key_bytes). */
    public static final int BYTES = 32;

    final boolean passphrase; // read by the JNI glue
    final byte[] bytes;       // read, then zeroed, by the JNI glue

    private AtRestKey(boolean passphrase, byte[] bytes) {
        this.passphrase = passphrase;
        this.bytes = bytes;
    }

    /** A key of exactly 32 bytes; the array is taken over (and zeroed after use). */
    public static AtRestKey of(byte[] key) {
        if (key == null || key.length != BYTES) {
            throw new DriverCoreException(DriverCoreError.EINVAL,
                    "an at-rest key is " + BYTES + " bytes");
        }
        return new AtRestKey(false, key);
    }

    /**
     * A passphrase of 1 to 1024 bytes of UTF-8.  The characters are zeroed
     * once encoded (a char[] rather than a String, so that they can be).
     */
    public static AtRestKey passphrase(char[] pass) {
        if (pass == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "the passphrase is null");
        }
        ByteBuffer bb = StandardCharsets.UTF_8.encode(CharBuffer.wrap(pass));
        byte[] b = new byte[bb.remaining()];
        bb.get(b);
        if (bb.hasArray()) {
            Arrays.fill(bb.array(), (byte) 0);
        }
        Arrays.fill(pass, '\0');
        return new AtRestKey(true, b);
    }
}
