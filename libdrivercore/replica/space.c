/*
 * Spaces: creating one (its id, first key and genesis membership), adding
 * a device from its card (sealing the space key to it), and listing.
 * Membership travels as signed clear envelopes (docs/format/envelope.md) so
 * a relay can check writers without the key.
 */
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

const char *dc_role_name(int role) {
    return dc__role_name(role);
}

int dc_role_parse(const char *name) {
    for (int i = DC_ROLE_READER; name && i <= DC_ROLE_ADMIN; i++)
        if (strcmp(name, dc__role_name(i)) == 0)
            return i;
    return dc__last_set(DC_EINVAL, "unknown role '%s' (reader, member or admin)",
                        name ? name : "(null)");
}

/* ---- a device card: a flat JSON object of string values ---- */

typedef struct card {
    uint8_t device[32], box[32], sig[64];
    char name[128];
    int have; /* bit per field */
} card;

static int card_field(void *user, const char *key, const dc__value *v) {
    card *c = user;
    if (v->kind != DC_STR)
        return strcmp(key, "device") && strcmp(key, "box") && strcmp(key, "sig") &&
                       strcmp(key, "name")
                   ? 0
                   : -1;
    if (strcmp(key, "device") == 0) {
        if (dc__unhex(c->device, 32, v->str))
            return -1;
        c->have |= 1;
    } else if (strcmp(key, "box") == 0) {
        if (dc__unhex(c->box, 32, v->str))
            return -1;
        c->have |= 2;
    } else if (strcmp(key, "sig") == 0) {
        if (dc__unhex(c->sig, 64, v->str))
            return -1;
        c->have |= 4;
    } else if (strcmp(key, "name") == 0) {
        if (v->len >= sizeof c->name)
            return -1;
        memcpy(c->name, v->str, v->len + 1);
        c->have |= 8;
    }
    return 0;
}

static int parse_card(card *c, const char *json) {
    memset(c, 0, sizeof *c);
    return dc__json_flat_each(json, card_field, c) == 0 && c->have == 15 ? 0 : -1;
}

/* ---- helpers shared by create and add ---- */

static int member_envelope(dc_replica *r, dc__space *sp, const dc__member_op *op, dc__err *e) {
    dc__buf_clear(&r->body);
    if (dc__member_encode(&r->body, op, 1, e))
        return e->code;
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t id[32];
    int rc = dc__envelope_new(r, sp, DC_ENV_KIND_MEMBERSHIP, r->body.ptr, r->body.size, h, h, NULL,
                              id, e);
    if (rc)
        return rc;
    return dc__store_member_apply(r->st, sp->sid, op, h, r->id->sign_pk, e);
}

int dc_space_create(dc_buf *out, dc_replica *r, const char *name) {
    DC__CHECK(r);
    if (!out || !name)
        return dc__fail(r, DC_EMISUSE, "space create: out and name must not be NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space create: a transaction is open on this replica");
    size_t nl = strlen(name);
    if (nl == 0 || nl > 1024 || !dc__utf8_valid((const uint8_t *)name, nl))
        return dc__fail(r, DC_EINVAL, "space create: the name must be 1 to 1024 bytes of UTF-8");
    dc__member_op g;
    memset(&g, 0, sizeof g);
    g.kind = DC_MOP_GENESIS;
    g.role = DC_ROLE_ADMIN;
    memcpy(g.device, r->id->sign_pk, 32);
    memcpy(g.box_pk, r->id->box_pk, 32);
    snprintf(g.name, sizeof g.name, "%s", r->name);
    dc__random(g.nonce, 16);
    /* The id binds the creator: a relay can check that the genesis was
     * signed by the device the id was derived from. */
    uint8_t pre[48], sid[16];
    memcpy(pre, g.device, 32);
    memcpy(pre + 32, g.nonce, 16);
    dc__hash(sid, 16, pre, sizeof pre);
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__fail(r, DC_ENOMEM, "space create: out of memory");
    dc__random(key, DC_SPACE_KEY);
    dc__err e = {0};
    dc__space sp;
    dc_hlc saved = r->clock.last;
    int rc = dc__store_begin(r->st, &e);
    if (rc)
        goto out;
    if ((rc = dc__store_space_ensure(r->st, sid, &sp, &e)) ||
        (rc = dc__store_key_put(r->st, sp.sid, 0, key, &e)) ||
        (rc = member_envelope(r, &sp, &g, &e)))
        goto fail;
    sp.has_key = true;
    /* The name travels encrypted, as an ordinary record of the space. */
    dc__op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_OP_SET;
    op.type = (dc__str){"@space", 6};
    op.id = (dc__str){"meta", 4};
    op.field = (dc__str){"name", 4};
    op.val = (dc__value){DC_STR, 0, name, (uint32_t)nl};
    dc__body body = {1, &op, NULL};
    dc__buf_clear(&r->body);
    if ((rc = dc__body_encode(&r->body, &op, 1, &e)))
        goto fail;
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t cid[32];
    if ((rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL,
                               cid, &e)) ||
        (rc = dc__store_apply(r->st, sp.sid, &body, h, r->id->sign_pk, r->self_did, sp.my_seq, NULL,
                              &e)) ||
        (rc = dc__store_hlc_save(r->st, r->clock.last, &e)) || (rc = dc__store_commit(r->st, &e)))
        goto fail;
    char hex[33];
    dc__hex(hex, sid, 16);
    dc__buf_clear(out);
    if (dc__buf_put(out, hex, 32))
        rc = dc__err_set(&e, DC_ENOMEM, "space create: out of memory (the space was created: %s)",
                         hex);
    goto out;
fail:
    dc__store_rollback(r->st);
    r->clock.last = saved;
out:
    dc__secret_free(key);
    return rc ? dc__fail_err(r, e.code ? &e : &r->err) : 0;
}

int dc_space_add(dc_replica *r, const char *space, const char *card_json, int role) {
    DC__CHECK(r);
    if (!card_json)
        return dc__fail(r, DC_EMISUSE, "space add: the card is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space add: a transaction is open on this replica");
    if (!dc_role_name(role))
        return dc__fail(r, DC_EINVAL, "space add: unknown role %d", role);
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    card c;
    if (parse_card(&c, card_json))
        return dc__fail(r, DC_EINVAL,
                        "space add: not a device card (expected the JSON printed "
                        "by `drivercore whoami`: device, box, name, sig)");
    if (!dc__card_verify(c.sig, c.device, c.box, c.name))
        return dc__fail(r, DC_EBADSIG,
                        "space add: the card's signature does not match its "
                        "device; ask the device for a fresh card");
    dc__err e = {0};
    dc__space sp;
    dc__member me;
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__fail(r, DC_ENOMEM, "space add: out of memory");
    dc_hlc saved = r->clock.last;
    int rc = dc__store_begin(r->st, &e);
    if (rc)
        goto out;
    if ((rc = dc__store_space_get(r->st, sid, &sp, &e)) ||
        (rc = dc__store_member_get(r->st, sp.sid, r->id->sign_pk, &me, &e)))
        goto fail;
    if (me.role != DC_ROLE_ADMIN) {
        rc = dc__err_set(&e, DC_EDENIED,
                         "space add: this device is %s of the space; only an "
                         "admin can add devices",
                         me.role ? dc_role_name(me.role) : "not a member");
        goto fail;
    }
    if ((rc = dc__store_key_get(r->st, sp.sid, sp.epoch, key, &e)))
        goto fail;
    dc__member_op g;
    memset(&g, 0, sizeof g);
    g.kind = DC_MOP_GRANT;
    g.role = role;
    g.epoch = sp.epoch;
    memcpy(g.device, c.device, 32);
    memcpy(g.box_pk, c.box, 32);
    memcpy(g.name, c.name, sizeof g.name);
    if ((rc = dc__key_seal(g.sealed, key, c.box))) {
        rc = dc__err_set(&e, DC_EINVAL, "space add: the card's box key is not usable");
        goto fail;
    }
    if ((rc = member_envelope(r, &sp, &g, &e)) ||
        (rc = dc__store_hlc_save(r->st, r->clock.last, &e)) || (rc = dc__store_commit(r->st, &e)))
        goto fail;
    goto out;
fail:
    dc__store_rollback(r->st);
    r->clock.last = saved;
out:
    dc__secret_free(key);
    return rc ? dc__fail_err(r, e.code ? &e : &r->err) : 0;
}

int dc_space_list(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "space list: out is NULL");
    int rc = dc__store_space_list_json(r->st, out, r->id->sign_pk, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_space_members(dc_buf *out, dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "space members: out is NULL");
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    dc__space sp;
    int rc = dc__store_space_get(r->st, sid, &sp, &r->err);
    if (!rc)
        rc = dc__store_members_json(r->st, out, sp.sid, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}
