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
 * signature is checked.  Returns 0, DC_EINVAL (bad card or role),
 * DC_EBADSIG (card signature), DC_ENOTFOUND (space), DC_EDENIED (not admin).
 */
DC_EXTERN int dc_space_add(dc_replica *r, const char *space, const char *card_json, int role);

/*
 * The spaces this replica knows, as JSON: [{"space": HEX, "name": STR|null,
 * "role": STR|null, "epoch": N, "has_key": BOOL}, ...] sorted by id.
 */
DC_EXTERN int dc_space_list(dc_buf *out, dc_replica *r);

/*
 * The members of `space`, as JSON: [{"device": HEX, "role": STR, "name":
 * STR}, ...] sorted by device id.
 */
DC_EXTERN int dc_space_members(dc_buf *out, dc_replica *r, const char *space);

#ifdef __cplusplus
}
#endif
#endif
