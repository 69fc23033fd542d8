/*
 * Why the library asks a KeyProvider for a key (DC_KEY_OPEN, DC_KEY_NEW in
 * include/drivercore/replica.h).
 */
package org.drivercore;

public enum KeyPurpose {
    /** The key of an existing encrypted replica. */
    OPEN,
    /**
     * A key for a file about to be encrypted: a new replica, a replica in
     * clear being migrated, or a rekey.  Store it before returning.
     */
    NEW
}
