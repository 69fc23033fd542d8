/*
 * Supplies the key that encrypts a replica at rest
 * (docs/format/at-rest.md).  On Android: generate 32 random bytes once
 * (SecureRandom), keep them wrapped by an Android Keystore key (an AES key
 * that never leaves the Keystore) in the app's private storage, and unwrap
 * them here.
 *
 * Called synchronously on the thread that opens or rekeys the replica, at
 * most once per call.  Throwing refuses: the call fails, nothing changes,
 * and the exception thrown here is what the caller sees.
 */
package org.drivercore;

@FunctionalInterface
public interface KeyProvider {
    /**
     * The key for this replica.  For {@link KeyPurpose#NEW} the key must be
     * stored durably before this returns: once the call succeeds, the file
     * opens only with it.  For a rekey, keep the old key until rekey()
     * returns.
     */
    AtRestKey key(KeyPurpose purpose) throws Exception;
}
