/*
 * Which side of a sync session a replica plays, mirroring DC_SYNC_INITIATOR
 * and DC_SYNC_RESPONDER in include/drivercore/sync.h: the initiator speaks
 * first (a device calling a relay or a peer), the responder answers.  Kept
 * apart from Role, which is a device's role in a space.
 */
package org.drivercore;

public enum SyncRole {
    /** Sends the first message (a step with no input). */
    INITIATOR(1),
    /** Answers the initiator's messages. */
    RESPONDER(2);

    private final int value;

    SyncRole(int value) {
        this.value = value;
    }

    /** The C value (DC_SYNC_*). */
    public int value() {
        return value;
    }
}
