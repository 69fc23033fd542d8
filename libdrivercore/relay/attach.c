/*
 * The relay's side of attachments (docs/attachments.md, "Wire"): which
 * objects it holds, storing one a writer pushes, serving one to a member.
 * The relay holds no key, so it checks only an object's framing and the
 * pusher's role; whether the bytes are sound is for the member who opens
 * them (each is authenticated against its id there).  Objects live in the
 * store's replica tables (att_objects), under the same store lock as the
 * sync steps, reached through the replica's attachment port
 * (replica/attach_port.h).
 */
#include <string.h>

#include "drivercore/attach.h"
#include "drivercore/relay.h"
#include "relay/relay_store.h"
#include "replica/attach_port.h"

#define HAVE_MAX 4096

/* The space's row and the device's role in it, or an error (last error
 * set).  Called under the store lock. */
static int role_in(dc_replica *r, const uint8_t space[16], const uint8_t dev[32], int need,
                   dc__att_space *sp) {
    dc__err e = {0};
    char hex[33];
    dc__hex(hex, space, 16);
    int role = 0;
    int rc = dc__att_space_get(r, space, sp, &e);
    if (rc && rc != DC_ENOTFOUND)
        return dc__last_from(&e);
    if (!rc && (rc = dc__att_role(r, sp, dev, &role, &e)) != 0)
        return dc__last_from(&e);
    if (rc || role < need)
        return dc__last_set(DC_EDENIED,
                            "attachments of space %s: this device is not a %s of it here", hex,
                            need > 1 ? "writing member" : "member");
    return 0;
}

/* The quota of solo bytes (docs/relay.md, "Limits"): an object for a
 * space where no other device is a member counts with the device's
 * envelopes there.  Under the store lock; last error set. */
static int check_quota(dc_relay *rl, dc_replica *r, const uint8_t space[16], const uint8_t dev[32],
                       size_t n) {
    int64_t quota = dc__relay_solo_quota(rl), held = 0;
    bool solo = false;
    dc__err e = {0};
    if (quota < 0)
        return 0;
    if (dc__att_solo(r, space, dev, &solo, &held, &e) != 0)
        return dc__last_from(&e);
    if (!solo || held + (int64_t)n <= quota)
        return 0;
    dc_relay_note(rl, DC_RELAY_EV_REFUSE_QUOTA);
    return dc__last_set(DC_EDENIED,
                        "relay: storage quota: this object of %zu bytes would take what this "
                        "device stores in spaces no other device is a member of past %lld bytes "
                        "(it holds %lld); another member in the space lifts it",
                        n, (long long)quota, (long long)held);
}

int dc_relay_attach_have(dc_buf *out, dc_relay *rl, const uint8_t token[32], const uint8_t *in,
                         size_t n) {
    if (!out || !rl || !token || (!in && n))
        return dc__last_set(DC_EMISUSE, "dc_relay_attach_have: NULL argument");
    dc__buf_clear(out);
    uint8_t dev[32];
    int rc = dc_relay_auth(dev, rl, token);
    if (rc)
        return rc;
    if (n < 16 || (n - 16) % 32 != 0 || (n - 16) / 32 > HAVE_MAX)
        return dc__last_set(DC_ECORRUPT,
                            "attachments: a have request is a space id and 0..%d object ids",
                            HAVE_MAX);
    size_t k = (n - 16) / 32;
    dc_replica *r = dc__relay_store_replica(dc__relay_store_lock(rl));
    if (!r) {
        dc__relay_store_unlock(rl);
        return dc__last_set(DC_EIO, "relay: the store cannot hold attachments (no replica)");
    }
    dc__att_space sp;
    dc__err e = {0};
    rc = role_in(r, in, dev, 1, &sp);
    if (!rc && dc__buf_reserve(out, k))
        rc = dc__last_set(DC_ENOMEM, "relay: out of memory");
    for (size_t i = 0; !rc && i < k; i++) {
        bool has = false;
        if ((rc = dc__att_obj_has(r, &sp, in + 16 + i * 32, &has, &e)))
            rc = dc__last_from(&e);
        else
            out->ptr[out->size++] = has ? 1 : 0;
    }
    dc__relay_store_unlock(rl);
    if (rc)
        dc__buf_clear(out);
    return rc;
}

int dc_relay_attach_put(int *stored, dc_relay *rl, const uint8_t token[32], const uint8_t space[16],
                        const uint8_t id[32], const uint8_t *p, size_t n) {
    if (!rl || !token || !space || !id || (!p && n))
        return dc__last_set(DC_EMISUSE, "dc_relay_attach_put: NULL argument");
    if (stored)
        *stored = 0;
    uint8_t dev[32];
    int rc = dc_relay_auth(dev, rl, token);
    if (rc)
        return rc;
    int kind;
    dc__err e = {0};
    if ((rc = dc__att_obj_kind(p, n, &kind, &e)))
        return dc__last_from(&e);
    dc_replica *r = dc__relay_store_replica(dc__relay_store_lock(rl));
    if (!r) {
        dc__relay_store_unlock(rl);
        return dc__last_set(DC_EIO, "relay: the store cannot hold attachments (no replica)");
    }
    dc__att_space sp;
    bool fresh = false;
    rc = role_in(r, space, dev, 2, &sp);
    if (!rc)
        rc = check_quota(rl, r, space, dev, n);
    if (!rc && (rc = dc__att_obj_put(r, &sp, id, kind, p, n, &fresh, &e)))
        rc = dc__last_from(&e);
    dc__relay_store_unlock(rl);
    if (!rc && stored)
        *stored = fresh;
    return rc;
}

int dc_relay_attach_get(dc_buf *out, dc_relay *rl, const uint8_t token[32], const uint8_t space[16],
                        const uint8_t id[32]) {
    if (!out || !rl || !token || !space || !id)
        return dc__last_set(DC_EMISUSE, "dc_relay_attach_get: NULL argument");
    dc__buf_clear(out);
    uint8_t dev[32];
    int rc = dc_relay_auth(dev, rl, token);
    if (rc)
        return rc;
    dc_replica *r = dc__relay_store_replica(dc__relay_store_lock(rl));
    if (!r) {
        dc__relay_store_unlock(rl);
        return dc__last_set(DC_EIO, "relay: the store cannot hold attachments (no replica)");
    }
    dc__att_space sp;
    dc__err e = {0};
    rc = role_in(r, space, dev, 1, &sp);
    if (!rc && (rc = dc__att_obj_get(r, &sp, id, out, &e)) != 0) {
        if (rc == DC_ENOTFOUND) {
            char hex[65];
            dc__hex(hex, id, 32);
            rc = dc__last_set(DC_ENOTFOUND, "attachments: object %.16s... is not held here", hex);
        } else {
            rc = dc__last_from(&e);
        }
    }
    dc__relay_store_unlock(rl);
    return rc;
}
