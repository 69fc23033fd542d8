/*
 * The role of a device in a space, mirroring dc_role in
 * include/drivercore/space.h.  The numbers are the C values and are checked
 * against dc_role_name() by the JUnit tests, so the two cannot drift apart
 * unnoticed.
 */
package org.drivercore;

public enum Role {
    /** Reads; cannot write. */
    READER(1),
    /** Reads and writes records. */
    MEMBER(2),
    /** Also adds devices. */
    ADMIN(3);

    private final int value;

    Role(int value) {
        this.value = value;
    }

    /** The C value (DC_ROLE_*). */
    public int value() {
        return value;
    }
}
