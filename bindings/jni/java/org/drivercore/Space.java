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

    /** The members, as JSON [{"device": HEX, "role": STR, "name": STR}, ...]. */
    public String members() {
        synchronized (replica) {
            return Native.str(Native.spaceMembers(replica.h(), Native.utf8z(id)));
        }
    }

    /** Begins a transaction on this space. */
    public Txn begin() {
        return replica.begin(id);
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
