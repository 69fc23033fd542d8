/*
 * drivercore — spaces: the unit of sharing, encryption and sync.
 *
 * A space has a member list of devices with roles and a symmetric key per
 * key epoch.  Membership is replicated as signed but unencrypted envelopes,
 * so a relay can check who may write without holding the key.  Adding a
 * device seals the current space key to the device's X25519 key.
 * Thread safety: as the dc_replica they are called on.
 */
#ifndef DRIVERCORE_SPACE_H
#define DRIVERCORE_SPACE_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dc_role {
    DC_ROLE_READER = 1, /* reads; cannot write */
    DC_ROLE_MEMBER = 2, /* reads and writes records */
    DC_ROLE_ADMIN = 3   /* also adds devices */
} dc_role;

/* "reader", "member", "admin"; NULL for an unknown value. */
DC_EXTERN const char *dc_role_name(int role);
/* The role for a name, or DC_EINVAL. */
DC_EXTERN int dc_role_parse(const char *name);

/*
 * Create a space whose only member is this device, as admin.  `name` is
 * stored encrypted inside the space.  Writes the space's hex id (32 chars)
 * into `out`.  Returns 0, DC_EINVAL, DC_EIO, DC_ENOMEM.
 */
DC_EXTERN int dc_space_create(dc_buf *out, dc_replica *r, const char *name);

/*
 * Add the device described by `card_json` (the JSON of dc_replica_card) to
 * `space` with `role`, or change its role.  Only an admin may; the card's
 * signature is checked.  The space's current key is sealed to the device,
 * and its name from the card is written into the space, encrypted (never
 * in the clear membership a relay sees).  The device reads the space once
 * it accepts (dc_space_accept), or at once if this device is a member of
 * a space it has accepted.  Returns 0, DC_EINVAL (bad card or role),
 * DC_EBADSIG (card signature), DC_ENOTFOUND (space), DC_EDENIED (not
 * admin; or demoting the last admin).
 */
DC_EXTERN int dc_space_add(dc_replica *r, const char *space, const char *card_json, int role);

/*
 * Change the role of a member, `device` being its id (64 hex) or its card.
 * Only an admin may.  The new role judges the device's changes that this
 * replica has not seen yet: after a demotion to reader, every replica and
 * relay refuses the changes it signs from then on.  Returns 0, DC_EINVAL,
 * DC_ENOTFOUND (space, or the device is not a member), DC_EDENIED (not
 * admin, or it would leave the space with no admin).
 */
DC_EXTERN int dc_space_set_role(dc_replica *r, const char *space, const char *device, int role);

/*
 * Remove a member, `device` being its id or its card, and rotate the space
 * key: a new key epoch whose key is sealed to every remaining member only,
 * so the removed device cannot read what is written from now on (it keeps
 * what it had).  Its changes that this replica has not seen are refused
 * everywhere, relays included, whatever time they claim.  Only an admin
 * may.  Returns 0, DC_EINVAL, DC_ENOTFOUND, DC_EDENIED (not admin, or the
 * last admin).
 */
DC_EXTERN int dc_space_remove(dc_replica *r, const char *space, const char *device);

/*
 * Rotate the space key on demand (a suspected leak): a new epoch, its key
 * sealed to every current member, with every older key in a lockbox only
 * the new key opens (so members added later still read the history).
 * Only an admin may.  Returns 0, DC_ENOTFOUND, DC_EDENIED.
 */
DC_EXTERN int dc_space_rotate(dc_replica *r, const char *space);

/* dc_space_accept flag: this space is the device's directory, the one its
 * domain data (the holiday calendar) comes from (dc_space_directory). */
#define DC_ACCEPT_DIRECTORY 1u

/*
 * Accept an invitation: the device opens the space's keys and reads it.
 * A device joins a space only with its consent: when an admin adds it, the
 * space is "invited" (dc_space_list) unless that admin is a member of a
 * space this device has already accepted (or created), and nothing of an
 * invited space is decrypted or read.  Accepting a declined space is
 * allowed while a grant still names the device.  `flags`: 0 or
 * DC_ACCEPT_DIRECTORY.  Returns 0, DC_EINVAL, DC_ENOTFOUND (space, or no
 * grant names this device).
 */
DC_EXTERN int dc_space_accept(dc_replica *r, const char *space, unsigned flags);

/*
 * Decline a space: its keys and its readable state are dropped from this
 * device (its envelopes are still carried, opaque, for others), and later
 * grants do not make it readable until dc_space_accept.  Returns 0,
 * DC_EINVAL, DC_ENOTFOUND.
 */
DC_EXTERN int dc_space_decline(dc_replica *r, const char *space);

/* The hex id of this device's directory space (accepted with
 * DC_ACCEPT_DIRECTORY); DC_ENOTFOUND if none. */
DC_EXTERN int dc_space_directory(dc_buf *out, dc_replica *r);

/*
 * The spaces this replica knows, as JSON: [{"space": HEX, "name": STR|null,
 * "role": STR|null, "epoch": N, "has_key": BOOL, "state": STR,
 * "inviter": HEX}, ...] sorted by id.  "state": "accepted" (readable),
 * "invited" (a grant names this device; dc_space_accept), "declined", or
 * "carried" (no grant names it: its changes are only passed on);
 * "inviter" (when known) is the admin whose grant invited it.  The name is
 * shown for accepted spaces only.
 */
DC_EXTERN int dc_space_list(dc_buf *out, dc_replica *r);

/* Calls fn(user, hex id) for every space this device accepted and holds a
 * key for (the spaces it can read), in id order.  A non-zero return from
 * fn stops the walk and is returned.  0, fn's code, or DC_EIO. */
typedef int (*dc_space_fn)(void *user, const char *space);
DC_EXTERN int dc_space_each(dc_replica *r, dc_space_fn fn, void *user);

/*
 * A 32-byte key derived from `space`'s key: BLAKE2b-256 keyed with the
 * space's genesis key (the key of epoch 0, which every member holds, so
 * that a derived key stays the same across rotations) over `context`, a
 * string naming the use (such as "registry/id-lookup").  A capability:
 * only a member holding the space key can derive it, and the space key
 * itself never leaves the library.  `out` should be guarded memory
 * (sodium_malloc), wiped after use.  0, DC_ENOTFOUND (unknown space),
 * DC_ENOKEY (no key of it here: not accepted, or not a member; the message
 * says which), DC_EMISUSE.
 */
DC_EXTERN int dc_space_derive_key(dc_replica *r, const char *space, const char *context,
                                  uint8_t out[32]);

/*
 * The current members of `space` (removed devices are not listed), as
 * JSON: [{"device": HEX, "role": STR, "name": STR}, ...] sorted by device
 * id.  Names come from the space's own encrypted records ("" until read).
 */
DC_EXTERN int dc_space_members(dc_buf *out, dc_replica *r, const char *space);

/*
 * History compaction (docs/data-model.md, "Compaction").
 *
 * dc_space_ack: this device states what it holds of the space (an ack: a
 * change of its own, synced like any other).  A member or an admin may.
 * Returns 0, DC_EINVAL, DC_ENOTFOUND, DC_EDENIED (a reader or not a
 * member), DC_ENOKEY.
 *
 * dc_space_compact: by an admin, computes the compaction point from the
 * acks of every member that can write (those whose last ack is older than
 * the horizon are left out; one that never acked makes it wait) and
 * publishes it, signed and encrypted, to every member; then, by any member,
 * compacts this replica to the points published: the envelopes every
 * writer holds are folded into the space's base and dropped from the log.
 * It also writes this device's ack.  (A replica also compacts by itself
 * at the end of a bundle import or sync session that brought it a new
 * point; the reports count it: "compacted", "snapshot_needed".)  `out` gets JSON:
 * {"space","published","counted","waiting","dropped","snapshot_needed",
 * "left_out":[device ids],"point":{device id: seq}}; "snapshot_needed"
 * true says this replica misses history already compacted away.  opts may
 * be NULL (horizon 30 days).  Returns 0, DC_EINVAL, DC_ENOTFOUND,
 * DC_EDENIED, DC_ENOKEY, DC_EMISUSE.
 */
typedef struct dc_compact_options {
    int version;        /* 1 */
    int64_t horizon_ms; /* 0: 30 days.  A member whose last ack is older is left out */
} dc_compact_options;

DC_EXTERN int dc_space_ack(dc_replica *r, const char *space);

/*
 * Snapshots of a compacted space (docs/data-model.md, "Compaction";
 * docs/format/bundle.md, "Snapshots"): its base — the state of the changes
 * compacted away —, the point and the reconciliation items of the covered
 * history (its ledger: version 2; a version 1 snapshot, without, still
 * loads), encrypted with the current space key and signed by the admin
 * that made it.  A new member (or one that missed
 * compacted history) joins as usual, loads a snapshot, then syncs the
 * changes above the point.
 *
 * dc_space_snapshot: by an admin; `out` gets the snapshot's bytes.
 * Returns 0, DC_EINVAL, DC_ENOTFOUND, DC_EDENIED, DC_ENOKEY.
 *
 * dc_space_snapshot_load: checks the signature, that its maker is an admin
 * of the space here, and decrypts it with a key this device holds; then its
 * base replaces this replica's, the envelopes it covers leave the log, and
 * the state is the base with the changes above the point over it.
 * `report` (may be NULL) gets {"space","dropped"}.  Returns 0, DC_ECORRUPT,
 * DC_EVERSION, DC_EBADSIG (forged, damaged, or not signed), DC_EDENIED (the
 * maker is not an admin, or this device is not a member), DC_ENOKEY,
 * DC_ENOTFOUND (a space this device does not know: join it first).
 */
DC_EXTERN int dc_space_snapshot(dc_buf *out, dc_replica *r, const char *space);
DC_EXTERN int dc_space_snapshot_load(dc_replica *r, const uint8_t *data, size_t n, dc_buf *report);
DC_EXTERN int dc_space_compact(dc_buf *out, dc_replica *r, const char *space,
                               const dc_compact_options *opts);

#ifdef __cplusplus
}
#endif
#endif
