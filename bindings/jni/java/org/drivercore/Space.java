/*
 * A space seen from one replica: the unit of sharing, encryption and sync
 * (include/drivercore/space.h).  A Space is only a (replica, id) pair; it
 * owns no native resource and stays usable exactly as long as its replica.
 */
package org.drivercore;

public final class Space {
    private final Replica replica;
    private final String id;

    Space(Replica replica, String id) {
        if (id == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "space id is null");
        }
        this.replica = replica;
        this.id = id;
    }

    /** Creates a space on replica whose only member is its device, as admin. */
    public static Space create(Replica replica, String name) {
        synchronized (replica) {
            String id = Native.str(Native.spaceCreate(replica.h(), Native.utf8z(name)));
            return new Space(replica, id);
        }
    }

    /** The spaces replica knows, as JSON (see dc_space_list). */
    public static String list(Replica replica) {
        return replica.spaces();
    }

    /** The space's hex id (32 chars). */
    public String id() {
        return id;
    }

    public Replica replica() {
        return replica;
    }

    /** Adds the device described by card (the JSON of Replica.card()) with role, or changes its role. */
    public void add(String card, Role role) {
        if (role == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "Space.add: role is null");
        }
        synchronized (replica) {
            Native.spaceAdd(replica.h(), Native.utf8z(id), Native.utf8z(card), role.value());
        }
    }

    /**
     * Removes a member (its device id, or its card) and rotates the space key: the removed
     * device cannot read what is written from now on, and its later changes are refused
     * everywhere.  Only an admin may.
     */
    public void remove(String device) {
        member(Native.MEMBER_REMOVE, device, 0, "Space.remove");
    }

    /** Changes a member's role (its device id or card); a demotion stops its later writes. */
    public void setRole(String device, Role role) {
        if (role == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, "Space.setRole: role is null");
        }
        member(Native.MEMBER_ROLE, device, role.value(), "Space.setRole");
    }

    /** Rotates the space key on demand (a suspected leak). Only an admin may. */
    public void rotate() {
        member(Native.MEMBER_ROTATE, null, 0, null);
    }

    /**
     * Accepts this device's invitation to the space: a device reads a space only once it has
     * accepted it (or was invited by a member of a space it has accepted).  With directory,
     * the space is this device's directory (where its holiday calendar comes from).
     */
    public void accept(boolean directory) {
        member(Native.MEMBER_ACCEPT, null, directory ? 1 : 0, null);
    }

    /** Accepts the invitation (see accept(boolean)). */
    public void accept() {
        accept(false);
    }

    /** Declines the space: its keys and readable state are dropped from this device. */
    public void decline() {
        member(Native.MEMBER_DECLINE, null, 0, null);
    }

    private void member(int op, String device, int role, String what) {
        if (what != null && device == null) {
            throw new DriverCoreException(DriverCoreError.EMISUSE, what + ": device is null");
        }
        synchronized (replica) {
            Native.spaceMember(replica.h(), op, Native.utf8z(id),
                               device == null ? null : Native.utf8z(device), role);
        }
    }

    /** The members, as JSON [{"device": HEX, "role": STR, "name": STR}, ...]. */
    public String members() {
        synchronized (replica) {
            return Native.str(Native.spaceMembers(replica.h(), Native.utf8z(id)));
        }
    }

    /**
     * Compacts this space's history (docs/data-model.md "Compaction"): an
     * admin publishes the point every member has acknowledged, and this
     * replica drops the envelopes it covers. JSON {"space", "published",
     * "counted", "waiting", "dropped", "snapshot_needed", "left_out",
     * "point"}. The file keeps its size until {@link Replica#vacuum()}.
     */
    public String compact() {
        synchronized (replica) {
            return Native.str(Native.spaceCompact(replica.h(), Native.utf8z(id)));
        }
    }

    /** Begins a transaction on this space. */
    public Txn begin() {
        return replica.begin(id);
    }

    /** One live record of this space, typed; null when absent or deleted. */
    public Record read(String type, String recordId) {
        return replica.read(id, type, recordId);
    }

    /** The records of a type in this space matching q (null: all), typed, one page. */
    public RecordPage query(String type, Query q) {
        return replica.query(id, type, q);
    }

    /** How many live records of a type this space holds (dc_record_count). */
    public long count(String type) {
        return replica.count(id, type);
    }

    /** One live record as JSON; ENOTFOUND if absent or deleted. */
    public String get(String type, String recordId) {
        return replica.get(id, type, recordId);
    }

    /** All live records of a type, as JSON. */
    public String list(String type) {
        return replica.list(id, type);
    }

    /** Live records of a type whose field equals (or, for a set, contains) value. */
    public String find(String type, String field, Object value) {
        return replica.find(id, type, field, value);
    }

    /** This space's dump. */
    public String dump() {
        return replica.dump(id);
    }

    /** This space's envelopes as a bundle. */
    public byte[] exportBundle() {
        return replica.exportBundle(id);
    }

    @Override
    public String toString() {
        return "Space[" + id + "]";
    }
}
