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

/* 0, -1 (not a card) or DC_ENOMEM. */
static int parse_card(card *c, const char *json) {
    memset(c, 0, sizeof *c);
    int rc = dc__json_flat_each(json, card_field, c);
    if (rc == DC_ENOMEM)
        return rc;
    return rc == 0 && c->have == 15 ? 0 : -1;
}

/* ---- helpers shared by the membership calls ---- */

/* Timestamps for n ops: the first is returned, the clock moves past all. */
static dc_hlc take_clock(dc_replica *r, size_t n) {
    dc_hlc h = dc__clock_tick(&r->clock);
    r->clock.last = h + (n - 1);
    return h;
}

int dc__membership_write(dc_replica *r, dc__space *sp, const dc__member_op *ops, size_t n,
                         dc__err *e) {
    dc__buf_clear(&r->body);
    if (dc__member_encode(&r->body, ops, n, e))
        return e->code;
    dc_hlc h = take_clock(r, n);
    uint8_t id[32];
    return dc__envelope_new(r, sp, DC_ENV_KIND_MEMBERSHIP, r->body.ptr, r->body.size, h,
                            h + (n - 1), NULL, id, e);
}

/* Writes the name of a member into the space, encrypted, as the library's
 * own record (@member, device id): membership travels in clear, so names
 * do not go there (docs/security.md). */
static int member_name(dc_replica *r, dc__space *sp, const uint8_t device[32], const char *name,
                       dc__err *e) {
    if (!name[0])
        return 0;
    char hex[65];
    dc__hex(hex, device, 32);
    dc__op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_OP_SET;
    op.type = (dc__str){"@member", 7};
    op.id = (dc__str){hex, 64};
    op.field = (dc__str){"name", 4};
    op.val = (dc__value){DC_STR, 0, name, (uint32_t)strlen(name)};
    dc__buf_clear(&r->body);
    int rc = dc__body_encode(&r->body, &op, 1, e);
    if (rc)
        return rc;
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t cid[32];
    return dc__envelope_new(r, sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL, cid,
                            e);
}

/* After this device wrote membership: resolve it, and settle what follows
 * (keys, changes withdrawn by a removal), inside the open transaction. */
static int settle_local(dc_replica *r, int64_t sid, dc__ingest *g) {
    g->r = r;
    int rc = dc__ingest_dirty(g, sid);
    if (!rc)
        rc = dc__ingest_finish(g);
    return rc;
}

int dc__space_begin(dc_replica *r, const char *space, dc__space *sp, int *role, dc__err *e) {
    uint8_t id[16];
    if (dc__space_id_parse(r, space, id))
        return *e = r->err, r->err.code;
    int rc = dc__clock_check(&r->clock, e);
    if (rc || (rc = dc__replica_begin(r, e)))
        return rc;
    dc__member me;
    if ((rc = dc__store_space_get(r->st, id, sp, e)) ||
        (rc = dc__store_member_get(r->st, sp->sid, r->id->sign_pk, &me, e))) {
        dc__store_rollback(r->st);
        return rc;
    }
    *role = me.role;
    return 0;
}

/* Begins a membership call on `space` by this device, which must be its
 * admin; *sp is filled. */
static int begin_admin(dc_replica *r, const char *what, const char *space, dc__space *sp,
                       dc__err *e) {
    int role = 0, rc = dc__space_begin(r, space, sp, &role, e);
    if (!rc && role != DC_ROLE_ADMIN) {
        dc__store_rollback(r->st);
        return dc__err_set(e, DC_EDENIED, "%s: this device is %s of the space; only an admin can",
                           what, role ? dc_role_name(role) : "not a member");
    }
    return rc;
}

/* Ends a call begun with begin_admin: commit and tell observers, or roll
 * back and restore the clock. */
static int end_call(dc_replica *r, int rc, dc_hlc saved, dc__ingest *g, dc__err *e) {
    if (!rc && !(rc = dc__store_hlc_save(r->st, r->clock.last, e)))
        rc = dc__store_commit(r->st, e);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        r->key_sid = 0;
        /* The error is where the failing step recorded it. */
        if (g->err.code == rc || !e->code)
            *e = g->err.code ? g->err : *e;
        dc__ingest_free(g);
        return dc__fail_err(r, e->code ? e : &r->err);
    }
    rc = dc__fold_notify(r, &g->touched, &g->err);
    dc__ingest_free(g);
    return rc == DC_EUSER ? rc : 0;
}

/* A device named by hex id or by its card: its key (and box key, name). */
static int parse_device(dc_replica *r, const char *what, const char *device, card *c) {
    if (!device)
        return dc__fail(r, DC_EMISUSE, "%s: the device is NULL", what);
    if (device[0] == '{') {
        int rc = parse_card(c, device);
        if (rc == DC_ENOMEM)
            return dc__fail(r, DC_ENOMEM, "%s: out of memory", what);
        return rc ? dc__fail(r, DC_EINVAL, "%s: not a device card", what) : 0;
    }
    memset(c, 0, sizeof *c);
    if (strlen(device) != 64 || dc__unhex(c->device, 32, device))
        return dc__fail(r, DC_EINVAL, "%s: '%.70s' is not a device id (64 hex characters) or card",
                        what, device);
    return 0;
}

typedef struct admins {
    const uint8_t *except;
    int n;
} admins;

static int count_admin(void *user, const uint8_t pk[32], const uint8_t box[32], int role) {
    admins *a = user;
    (void)box;
    a->n += role == DC_ROLE_ADMIN && memcmp(pk, a->except, 32) != 0;
    return 0;
}

/* DC_EDENIED if `device` is the space's last admin. */
static int not_last_admin(dc_replica *r, const char *what, int64_t sid, const uint8_t device[32],
                          dc__err *e) {
    admins a = {device, 0};
    int rc = dc__store_members_each(r->st, sid, count_admin, &a, e);
    if (!rc && a.n == 0)
        rc = dc__err_set(e, DC_EDENIED,
                         "%s: that would leave the space with no admin; make another member "
                         "admin first",
                         what);
    return rc;
}

/* ---- rotation ---- */

typedef struct rot {
    dc_replica *r;
    dc__keyent *keys;
    size_t nkeys, ckeys;
    uint32_t top;
    dc__member_op *ops;
    size_t nops, cap;
    const uint8_t *except; /* a device being removed */
    const uint8_t *key;    /* the new key */
    uint32_t epoch;
    dc__err *e;
} rot;

static int rot_key(void *user, uint32_t epoch, const uint8_t kid[DC_KEY_ID],
                   const uint8_t key[32]) {
    rot *t = user;
    (void)kid;
    uint8_t *copy =
        DC__VEC_ROOM(t->keys, t->nkeys, t->ckeys) ? NULL : dc__secret_alloc(DC_SPACE_KEY);
    if (!copy)
        return dc__err_set(t->e, DC_ENOMEM, "rotate: out of memory");
    memcpy(copy, key, DC_SPACE_KEY);
    t->keys[t->nkeys++] = (dc__keyent){epoch, copy};
    if (epoch > t->top)
        t->top = epoch;
    return 0;
}

static dc__member_op *rot_op(rot *t) {
    if (DC__VEC_ROOM(t->ops, t->nops, t->cap))
        return NULL;
    dc__member_op *op = &t->ops[t->nops++];
    memset(op, 0, sizeof *op);
    return op;
}

static int rot_member(void *user, const uint8_t pk[32], const uint8_t box[32], int role) {
    rot *t = user;
    (void)role;
    if (t->except && memcmp(pk, t->except, 32) == 0)
        return 0;
    dc__member_op *op = rot_op(t);
    if (!op)
        return dc__err_set(t->e, DC_ENOMEM, "rotate: out of memory");
    op->kind = DC_MOP_KEY;
    memcpy(op->device, pk, 32);
    op->epoch = t->epoch;
    dc__key_id(op->kid, t->key);
    if (dc__key_seal(op->sealed, t->key, box)) {
        /* A member whose box key is unusable cannot get the key: it was
         * checked when its card was added, so this means a broken grant. */
        t->nops--;
    }
    return 0;
}

/* A new key epoch: a ROTATE with the lockbox of every key this device holds
 * and the new key sealed to every current member but `except` (whose
 * REMOVE, if any, is `first`), in as many envelopes as it takes. */
static int rotate(dc_replica *r, dc__space *sp, const dc__member_op *first, dc__err *e) {
    rot t;
    memset(&t, 0, sizeof t);
    t.r = r;
    t.e = e;
    t.except = first ? first->device : NULL;
    t.top = sp->epoch;
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    dc_buf box = DC_BUF_INIT;
    int rc = key ? 0 : dc__err_set(e, DC_ENOMEM, "rotate: out of memory");
    if (!rc)
        rc = dc__store_keys_each(r->st, sp->sid, -1, rot_key, &t, e);
    if (!rc && t.top == UINT32_MAX)
        rc = dc__err_set(e, DC_ETOOBIG, "rotate: the space has used every key epoch");
    if (rc)
        goto out;
    dc__random(key, DC_SPACE_KEY);
    t.key = key;
    t.epoch = t.top + 1;
    if ((rc = dc__lockbox_seal(&box, key, sp->id, t.epoch, t.keys, t.nkeys, e)))
        goto out;
    dc__member_op *op;
    if (first) {
        if (!(op = rot_op(&t))) {
            rc = dc__err_set(e, DC_ENOMEM, "rotate: out of memory");
            goto out;
        }
        *op = *first;
    }
    if (!(op = rot_op(&t))) {
        rc = dc__err_set(e, DC_ENOMEM, "rotate: out of memory");
        goto out;
    }
    op->kind = DC_MOP_ROTATE;
    op->epoch = t.epoch;
    dc__key_id(op->kid, key);
    op->lockbox = box.ptr;
    op->lockbox_len = (uint32_t)box.size;
    if ((rc = dc__store_members_each(r->st, sp->sid, rot_member, &t, e)))
        goto out;
    /* The key is kept before the envelopes are judged, so this device can
     * write with it at once. */
    if ((rc = dc__store_key_put(r->st, sp->sid, t.epoch, key, e)))
        goto out;
    for (size_t i = 0; i < t.nops && !rc; i += 1000)
        rc = dc__membership_write(r, sp, t.ops + i, t.nops - i < 1000 ? t.nops - i : 1000, e);
out:
    for (size_t i = 0; i < t.nkeys; i++)
        dc__secret_free((uint8_t *)t.keys[i].key);
    dc__free(t.keys);
    dc__free(t.ops);
    dc_buf_dispose(&box);
    dc__secret_free(key);
    return rc;
}

/* ---- the calls ---- */

int dc_space_create(dc_buf *out, dc_replica *r, const char *name) {
    DC__CHECK(r);
    if (!out || !name)
        return dc__fail(r, DC_EMISUSE, "space create: out and name must not be NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space create: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space create"))
        return r->err.code;
    size_t nl = strlen(name);
    if (nl == 0 || nl > 1024 || !dc__utf8_valid((const uint8_t *)name, nl))
        return dc__fail(r, DC_EINVAL, "space create: the name must be 1 to 1024 bytes of UTF-8");
    dc__member_op gen;
    memset(&gen, 0, sizeof gen);
    gen.kind = DC_MOP_GENESIS;
    gen.role = DC_ROLE_ADMIN;
    memcpy(gen.device, r->id->sign_pk, 32);
    memcpy(gen.box_pk, r->id->box_pk, 32);
    dc__random(gen.nonce, 16);
    /* The id binds the creator: a relay can check that the genesis was
     * signed by the device the id was derived from. */
    uint8_t pre[48], sid[16];
    memcpy(pre, gen.device, 32);
    memcpy(pre + 32, gen.nonce, 16);
    dc__hash(sid, 16, pre, sizeof pre);
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__fail(r, DC_ENOMEM, "space create: out of memory");
    dc__random(key, DC_SPACE_KEY);
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    char hex[33];
    dc__hex(hex, sid, 16);
    int rc = dc__clock_check(&r->clock, &e);
    if (rc) {
        dc__secret_free(key);
        return dc__fail_err(r, &e);
    }
    rc = dc__replica_begin(r, &e);
    if (rc) {
        dc__secret_free(key);
        return dc__fail_err(r, &e);
    }
    if ((rc = dc__store_space_ensure(r->st, sid, &sp, &e)) ||
        (rc = dc__store_space_set_consent(r->st, sp.sid, DC_CONSENT_ACCEPTED, r->self_did, &e)) ||
        (rc = dc__store_key_put(r->st, sp.sid, 0, key, &e)) ||
        (rc = dc__membership_write(r, &sp, &gen, 1, &e)) || (rc = settle_local(r, sp.sid, &g)))
        goto done;
    if ((rc = dc__store_space_get(r->st, sid, &sp, &e)))
        goto done;
    /* The name travels encrypted, as an ordinary record of the space. */
    dc__op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_OP_SET;
    op.type = (dc__str){"@space", 6};
    op.id = (dc__str){"meta", 4};
    op.field = (dc__str){"name", 4};
    op.val = (dc__value){DC_STR, 0, name, (uint32_t)nl};
    dc__buf_clear(&r->body);
    if ((rc = dc__body_encode(&r->body, &op, 1, &e)))
        goto done;
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t cid[32];
    if ((rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL,
                               cid, &e)) ||
        (rc = member_name(r, &sp, r->id->sign_pk, r->name, &e)))
        goto done;
done:
    dc__secret_free(key);
    rc = end_call(r, rc, saved, &g, &e);
    if (rc)
        return rc;
    dc__buf_clear(out);
    if (dc__buf_put(out, hex, 32))
        return dc__fail(r, DC_ENOMEM, "space create: out of memory (the space was created: %s)",
                        hex);
    return 0;
}

/* A grant (add, or a role change) of `role` to the device of card `c`
 * (whose box key is known), sealing it the current key. */
static int grant(dc_replica *r, dc__space *sp, const uint8_t device[32], const uint8_t box[32],
                 int role, dc__err *e) {
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__err_set(e, DC_ENOMEM, "out of memory");
    dc__member_op g;
    memset(&g, 0, sizeof g);
    g.kind = DC_MOP_GRANT;
    g.role = role;
    g.epoch = sp->epoch;
    memcpy(g.device, device, 32);
    memcpy(g.box_pk, box, 32);
    /* The device's envelopes this replica holds keep the role they had;
     * the new one judges those that come after. */
    int rc = dc__store_max_seq(r->st, sp->sid, device, &g.upto, e);
    if (!rc && (rc = dc__store_key_get(r->st, sp->sid, sp->epoch, sp->has_kid ? sp->kid : NULL, key,
                                       e)) == DC_ENOKEY)
        rc = dc__err_set(e, DC_ENOKEY,
                         "this device does not hold the space's current key yet (epoch %u, "
                         "made by another admin's rotation); sync, then try again",
                         sp->epoch);
    if (!rc && dc__key_seal(g.sealed, key, box))
        rc = dc__err_set(e, DC_EINVAL, "the device's box key is not usable");
    if (!rc)
        dc__key_id(g.kid, key);
    if (!rc)
        rc = dc__membership_write(r, sp, &g, 1, e);
    dc__secret_free(key);
    return rc;
}

int dc_space_add(dc_replica *r, const char *space, const char *card_json, int role) {
    DC__CHECK(r);
    if (!card_json)
        return dc__fail(r, DC_EMISUSE, "space add: the card is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space add: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space add"))
        return r->err.code;
    if (!dc_role_name(role))
        return dc__fail(r, DC_EINVAL, "space add: unknown role %d", role);
    card c;
    int pc = parse_card(&c, card_json);
    if (pc == DC_ENOMEM)
        return dc__fail(r, DC_ENOMEM, "space add: out of memory");
    if (pc)
        return dc__fail(r, DC_EINVAL,
                        "space add: not a device card (expected the JSON printed "
                        "by `drivercore whoami`: device, box, name, sig)");
    if (!dc__card_verify(c.sig, c.device, c.box, c.name))
        return dc__fail(r, DC_EBADSIG,
                        "space add: the card's signature does not match its "
                        "device; ask the device for a fresh card");
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    int rc = begin_admin(r, "space add", space, &sp, &e);
    if (rc)
        return dc__fail_err(r, &e);
    dc__member cur;
    if ((rc = dc__store_member_get(r->st, sp.sid, c.device, &cur, &e)))
        goto done;
    if (cur.role == DC_ROLE_ADMIN && role != DC_ROLE_ADMIN &&
        (rc = not_last_admin(r, "space add", sp.sid, c.device, &e)))
        goto done;
    if ((rc = grant(r, &sp, c.device, c.box, role, &e)) ||
        (rc = member_name(r, &sp, c.device, c.name, &e)))
        goto done;
    rc = settle_local(r, sp.sid, &g);
    return end_call(r, rc, saved, &g, &e);
done:
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_set_role(dc_replica *r, const char *space, const char *device, int role) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space role: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space role"))
        return r->err.code;
    if (!dc_role_name(role))
        return dc__fail(r, DC_EINVAL, "space role: unknown role %d (reader, member or admin)",
                        role);
    card c;
    if (parse_device(r, "space role", device, &c))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    int rc = begin_admin(r, "space role", space, &sp, &e);
    if (rc)
        return dc__fail_err(r, &e);
    dc__member cur;
    if ((rc = dc__store_member_get(r->st, sp.sid, c.device, &cur, &e)))
        goto done;
    if (cur.role == 0) {
        rc = dc__err_set(&e, DC_ENOTFOUND,
                         "space role: device %.16s... is not a member of the space; add it "
                         "with its card (space add)",
                         device[0] == '{' ? "(card)" : device);
        goto done;
    }
    if (cur.role == DC_ROLE_ADMIN && role != DC_ROLE_ADMIN &&
        (rc = not_last_admin(r, "space role", sp.sid, c.device, &e)))
        goto done;
    if ((rc = grant(r, &sp, c.device, cur.box_pk, role, &e)))
        goto done;
    rc = settle_local(r, sp.sid, &g);
    return end_call(r, rc, saved, &g, &e);
done:
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_remove(dc_replica *r, const char *space, const char *device) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space remove: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space remove"))
        return r->err.code;
    card c;
    if (parse_device(r, "space remove", device, &c))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    int rc = begin_admin(r, "space remove", space, &sp, &e);
    if (rc)
        return dc__fail_err(r, &e);
    dc__member cur;
    if ((rc = dc__store_member_get(r->st, sp.sid, c.device, &cur, &e)))
        goto done;
    if (cur.role == 0) {
        rc = dc__err_set(&e, DC_ENOTFOUND, "space remove: the device is not a member of the space");
        goto done;
    }
    if ((rc = not_last_admin(r, "space remove", sp.sid, c.device, &e)))
        goto done;
    dc__member_op rm;
    memset(&rm, 0, sizeof rm);
    rm.kind = DC_MOP_REMOVE;
    rm.version = 2;
    memcpy(rm.device, c.device, 32);
    /* Its envelopes this device has not seen are refused from now on,
     * whatever time they claim. */
    if ((rc = dc__store_max_seq(r->st, sp.sid, c.device, &rm.upto, &e)))
        goto done;
    /* Removing this device itself: its envelope of the removal still
     * counts; any later one does not. */
    if (memcmp(c.device, r->id->sign_pk, 32) == 0 && rm.upto < sp.my_seq)
        rm.upto = sp.my_seq;
    if ((rc = rotate(r, &sp, &rm, &e)))
        goto done;
    rc = settle_local(r, sp.sid, &g);
    return end_call(r, rc, saved, &g, &e);
done:
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_rotate(dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space rotate: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space rotate"))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    int rc = begin_admin(r, "space rotate", space, &sp, &e);
    if (rc)
        return dc__fail_err(r, &e);
    if ((rc = rotate(r, &sp, NULL, &e)))
        return end_call(r, rc, saved, &g, &e);
    rc = settle_local(r, sp.sid, &g);
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_accept(dc_replica *r, const char *space, unsigned flags) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space accept: a transaction is open on this replica");
    if (flags & ~(unsigned)DC_ACCEPT_DIRECTORY)
        return dc__fail(r, DC_EINVAL, "space accept: unknown flags 0x%x", flags);
    uint8_t id[16];
    if (dc__space_id_parse(r, space, id))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    dc__member me;
    dc__ingest g = {0};
    dc_hlc saved = r->clock.last;
    int rc = dc__replica_begin(r, &e);
    if (rc)
        return dc__fail_err(r, &e);
    if ((rc = dc__store_space_get(r->st, id, &sp, &e)) ||
        (rc = dc__store_member_get(r->st, sp.sid, r->id->sign_pk, &me, &e)))
        return end_call(r, rc, saved, &g, &e);
    if (sp.consent != DC_CONSENT_ACCEPTED && me.role == 0) {
        rc = dc__err_set(&e, DC_ENOTFOUND,
                         "space accept: no grant names this device in space %s (ask an admin "
                         "to add its card, then sync)",
                         space);
        return end_call(r, rc, saved, &g, &e);
    }
    if (sp.consent != DC_CONSENT_ACCEPTED &&
        (rc = dc__store_space_set_consent(r->st, sp.sid, DC_CONSENT_ACCEPTED, me.by_did, &e)))
        return end_call(r, rc, saved, &g, &e);
    if ((flags & DC_ACCEPT_DIRECTORY) &&
        (rc = dc__store_meta_blob_put(r->st, "directory", id, 16, &e)))
        return end_call(r, rc, saved, &g, &e);
    /* Its keys are opened now, and its changes applied. */
    rc = dc__ingest_keyed(&g, sp.sid);
    if (!rc)
        rc = settle_local(r, sp.sid, &g);
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_decline(dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space decline: a transaction is open on this replica");
    uint8_t id[16];
    if (dc__space_id_parse(r, space, id))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    dc__ingest g = {0};
    g.r = r;
    dc_hlc saved = r->clock.last;
    int rc = dc__replica_begin(r, &e);
    if (rc)
        return dc__fail_err(r, &e);
    /* Nothing of it stays readable: keys and state go, its changes are
     * carried as opaque envelopes. */
    if (!(rc = dc__store_space_get(r->st, id, &sp, &e)) &&
        !(rc = dc__store_space_set_consent(r->st, sp.sid, DC_CONSENT_DECLINED, sp.inviter, &e)) &&
        !(rc = dc__store_space_rids(r->st, sp.sid, &g.touched, &e)) &&
        !(rc = dc__store_state_clear(r->st, sp.sid, &e)) &&
        !(rc = dc__store_keys_drop(r->st, sp.sid, &e)))
        rc = dc__store_changes_reset_opaque(r->st, sp.sid, &e);
    r->key_sid = 0;
    return end_call(r, rc, saved, &g, &e);
}

int dc_space_directory(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "space directory: out is NULL");
    uint8_t id[16];
    int rc = dc__store_meta_blob_get(r->st, "directory", id, 16, &r->err);
    if (rc == DC_ENOTFOUND)
        return dc__fail(r, DC_ENOTFOUND,
                        "this device has no directory space yet (accept one with "
                        "`drivercore space accept --directory`)");
    if (rc)
        return dc__fail_err(r, &r->err);
    char hex[33];
    dc__hex(hex, id, 16);
    dc__buf_clear(out);
    return dc__buf_put(out, hex, 32) ? dc__fail(r, DC_ENOMEM, "out of memory") : 0;
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
