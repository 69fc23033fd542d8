/*
 * What follows on a replica when the membership of a space changes: the
 * membership is resolved again (crdt/membership.c, through the store),
 * keys sealed to this device are opened, the device's consent is settled,
 * and every change whose author's authority moved is judged again — an
 * applied change that lost it is withdrawn by rebuilding the space's state
 * from the changes that remain, and one that gained it is applied.  Every
 * replica and relay holding the same envelopes reaches the same verdicts,
 * whatever order they arrived in (docs/data-model.md, "Membership").
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

static int push_sid(int64_t **v, size_t *n, size_t *cap, int64_t sid) {
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == sid)
            return 0;
    if (dc__vec_reserve(v, cap, *n + 1, sizeof **v))
        return DC_ENOMEM;
    (*v)[(*n)++] = sid;
    return 0;
}

int dc__ingest_dirty(dc__ingest *g, int64_t sid) {
    return push_sid(&g->dirty, &g->ndirty, &g->cdirty, sid)
               ? dc__err_set(&g->err, DC_ENOMEM, "import: out of memory")
               : 0;
}

int dc__ingest_keyed(dc__ingest *g, int64_t sid) {
    return push_sid(&g->keyed, &g->nkeyed, &g->ckeyed, sid)
               ? dc__err_set(&g->err, DC_ENOMEM, "import: out of memory")
               : 0;
}

void dc__ingest_free(dc__ingest *g) {
    dc__free(g->touched.rids);
    dc__free(g->dirty);
    dc__free(g->keyed);
    dc__free(g->prov);
    g->touched.rids = NULL;
    g->dirty = g->keyed = g->prov = NULL;
    g->ndirty = g->nkeyed = g->nprov = 0;
    g->cdirty = g->ckeyed = g->cprov = 0;
}

int dc__ingest_set_aside(dc__ingest *g, const dc__envelope *e, int code) {
    dc__setaside a;
    uint8_t cid[32];
    memset(&a, 0, sizeof a);
    a.at_ms = dc__clock_wall_ms(&g->r->clock);
    if (e) {
        dc__envelope_id(cid, e->raw, e->raw_len);
        a.space = e->space;
        a.author = e->author;
        a.seq = e->seq;
        a.cid = cid;
    }
    a.code = code;
    /* The message is copied into the row before the error is cleared. */
    char msg[sizeof g->err.msg];
    memcpy(msg, g->err.msg, sizeof msg);
    a.msg = msg;
    dc__err_clear(&g->err);
    g->n.set_aside++;
    return dc__store_set_aside(g->r->st, &a, &g->err);
}

/* ---- keys sealed to this device ---- */

typedef struct keyctx {
    dc__ingest *g;
    int64_t sid;
    uint32_t epoch;
    int added;
} keyctx;

static int put_key(void *user, uint32_t epoch, const uint8_t key[32]) {
    keyctx *k = user;
    uint8_t kid[DC_KEY_ID], have[32];
    dc__key_id(kid, key);
    dc__err e = {0};
    int rc = dc__store_key_get(k->g->r->st, k->sid, epoch, kid, have, &e);
    sodium_memzero(have, sizeof have);
    if (rc == 0)
        return 0;
    if (rc != DC_ENOKEY) {
        k->g->err = e;
        return rc;
    }
    if ((rc = dc__store_key_put(k->g->r->st, k->sid, epoch, key, &k->g->err)))
        return rc;
    k->added++;
    return 0;
}

/* Opens what the valid membership seals to this device: the keys of its
 * grants and KEY ops, then the lockboxes of rotations whose key it holds
 * (each holds every older key), until no new key appears.  A key that
 * does not open is set aside, once: it must never stop the import. */
static int open_keys(dc__ingest *g, int64_t sid, const uint8_t space[16], dc__mresolved *res) {
    dc_replica *r = g->r;
    keyctx k = {g, sid, 0, 0};
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__err_set(&g->err, DC_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < res->nenv && !rc; i++) {
        const dc__menv *e = &res->envs[i];
        if (!e->valid)
            continue;
        for (size_t j = 0; j < e->nops && !rc; j++) {
            const dc__member_op *op = &e->ops[j];
            if ((op->kind != DC_MOP_GRANT && op->kind != DC_MOP_KEY) ||
                memcmp(op->device, r->id->sign_pk, 32) != 0)
                continue;
            if (dc__key_open(key, op->sealed, r->id) != 0) {
                /* Recorded once per envelope, the first time it is tried. */
                dc__envelope pe;
                uint8_t cid[32];
                bool known = false;
                if ((rc = dc__envelope_parse(&pe, res->raw[i], res->rawlen[i], &g->err)))
                    break;
                dc__envelope_id(cid, pe.raw, pe.raw_len);
                if ((rc = dc__store_set_aside_has(r->st, cid, &known, &g->err)))
                    break;
                if (known)
                    continue;
                dc__err_set(&g->err, DC_EBADSIG,
                            "membership: the key of epoch %u sealed to this device does not "
                            "open (damaged or forged grant); the grant was kept, the key not",
                            op->epoch);
                rc = dc__ingest_set_aside(g, &pe, DC_EBADSIG);
                continue;
            }
            rc = put_key(&k, op->epoch, key);
        }
    }
    /* Lockboxes, until a pass adds nothing. */
    for (bool more = !rc; more && !rc;) {
        more = false;
        for (size_t i = 0; i < res->nenv && !rc; i++) {
            const dc__menv *e = &res->envs[i];
            if (!e->valid)
                continue;
            for (size_t j = 0; j < e->nops && !rc; j++) {
                const dc__member_op *op = &e->ops[j];
                if (op->kind != DC_MOP_ROTATE && op->kind != DC_MOP_LOCKBOX)
                    continue;
                dc__err x = {0};
                if (dc__store_key_get(r->st, sid, op->epoch, op->kid, key, &x) != 0)
                    continue;
                int before = k.added;
                rc = dc__lockbox_open(op->lockbox, op->lockbox_len, key, space, op->epoch, put_key,
                                      &k, &g->err);
                if (rc && rc != DC_ENOMEM && rc != DC_EIO && rc != DC_EBUSY) {
                    /* A lockbox its own key cannot open: a broken rotation,
                     * which must not stop anything else. */
                    rc = dc__ingest_set_aside(g, NULL, rc);
                }
                more |= k.added > before;
            }
        }
    }
    dc__secret_free(key);
    if (!rc && k.added) {
        rc = dc__ingest_keyed(g, sid);
        r->key_sid = 0; /* the cache may hold a key that is no longer current */
    }
    return rc;
}

/* ---- keys every later member must be able to reach ---- */

typedef struct kref {
    uint32_t epoch;
    uint8_t kid[DC_KEY_ID];
} kref;

typedef struct kset {
    kref *v;
    size_t n, cap;
    dc__keyent *keys; /* held keys (repair): guarded copies */
    size_t nkeys, ckeys;
} kset;

static bool kset_has(const kset *k, uint32_t epoch, const uint8_t kid[DC_KEY_ID]) {
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].epoch == epoch && memcmp(k->v[i].kid, kid, DC_KEY_ID) == 0)
            return true;
    return false;
}

static int kset_add(kset *k, uint32_t epoch, const uint8_t kid[DC_KEY_ID]) {
    if (kset_has(k, epoch, kid))
        return 0;
    if (DC__VEC_ROOM(k->v, k->n, k->cap))
        return DC_ENOMEM;
    k->v[k->n].epoch = epoch;
    memcpy(k->v[k->n].kid, kid, DC_KEY_ID);
    k->n++;
    return 0;
}

static int reach_key(void *user, uint32_t epoch, const uint8_t key[32]) {
    uint8_t kid[DC_KEY_ID];
    dc__key_id(kid, key);
    return kset_add(user, epoch, kid);
}

typedef struct heldctx {
    kset *reach;
    kset *missing;
} heldctx;

static int held_key(void *user, uint32_t epoch, const uint8_t kid[DC_KEY_ID],
                    const uint8_t key[32]) {
    heldctx *h = user;
    if (kset_has(h->reach, epoch, kid))
        return 0;
    kset *m = h->missing;
    uint8_t *copy =
        DC__VEC_ROOM(m->keys, m->nkeys, m->ckeys) ? NULL : dc__secret_alloc(DC_SPACE_KEY);
    if (!copy)
        return DC_ENOMEM;
    memcpy(copy, key, DC_SPACE_KEY);
    m->keys[m->nkeys++] = (dc__keyent){epoch, copy};
    return 0;
}

/* Two admins rotating at once, or a member removed and added back, can
 * leave a key that the lockboxes reachable from the current key do not
 * carry: a member added later could not read what was written under it.
 * A member holding such keys seals them under the current key (a LOCKBOX
 * op), once; any member may, and a second repair is harmless. */
static int repair_keys(dc__ingest *g, dc__space *sp, const dc__mresolved *res) {
    dc_replica *r = g->r;
    dc__member me;
    int rc = dc__store_member_get(r->st, sp->sid, r->id->sign_pk, &me, &g->err);
    if (rc || me.role == 0 || !sp->has_key)
        return rc;
    uint8_t *cur = dc__secret_alloc(DC_SPACE_KEY), *key = dc__secret_alloc(DC_SPACE_KEY);
    kset reach = {0}, missing = {0};
    dc_buf box = DC_BUF_INIT;
    uint8_t kid[DC_KEY_ID];
    if (!cur || !key) {
        rc = dc__err_set(&g->err, DC_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = dc__store_key_get(r->st, sp->sid, sp->epoch, sp->has_kid ? sp->kid : NULL, cur,
                                &g->err)))
        goto out;
    dc__key_id(kid, cur);
    if (kset_add(&reach, sp->epoch, kid)) {
        rc = dc__err_set(&g->err, DC_ENOMEM, "out of memory");
        goto out;
    }
    /* Every key the current one leads to, through lockboxes. */
    for (size_t done = 0; done < reach.n && !rc; done++) {
        for (size_t i = 0; i < res->nenv && !rc; i++) {
            const dc__menv *e = &res->envs[i];
            for (size_t j = 0; e->valid && j < e->nops && !rc; j++) {
                const dc__member_op *op = &e->ops[j];
                if ((op->kind != DC_MOP_ROTATE && op->kind != DC_MOP_LOCKBOX) ||
                    op->epoch != reach.v[done].epoch ||
                    memcmp(op->kid, reach.v[done].kid, DC_KEY_ID) != 0)
                    continue;
                dc__err x = {0};
                if (dc__store_key_get(r->st, sp->sid, op->epoch, op->kid, key, &x) != 0)
                    continue;
                if (dc__lockbox_open(op->lockbox, op->lockbox_len, key, sp->id, op->epoch,
                                     reach_key, &reach, &x) == DC_ENOMEM)
                    rc = dc__err_set(&g->err, DC_ENOMEM, "out of memory");
            }
        }
    }
    heldctx h = {&reach, &missing};
    if (!rc)
        rc = dc__store_keys_each(r->st, sp->sid, -1, held_key, &h, &g->err);
    if (rc == DC_ENOMEM && !g->err.code)
        dc__err_set(&g->err, DC_ENOMEM, "out of memory");
    if (rc || !missing.nkeys)
        goto out;
    if ((rc = dc__lockbox_seal(&box, cur, sp->id, sp->epoch, missing.keys, missing.nkeys, &g->err)))
        goto out;
    dc__member_op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_MOP_LOCKBOX;
    op.epoch = sp->epoch;
    memcpy(op.kid, kid, DC_KEY_ID);
    op.lockbox = box.ptr;
    op.lockbox_len = (uint32_t)box.size;
    if (!(rc = dc__membership_write(r, sp, &op, 1, &g->err)))
        rc = dc__ingest_dirty(g, sp->sid);
out:
    for (size_t i = 0; i < missing.nkeys; i++)
        dc__secret_free((uint8_t *)missing.keys[i].key);
    dc__free(missing.keys);
    dc__free(missing.v);
    dc__free(reach.v);
    dc_buf_dispose(&box);
    dc__secret_free(cur);
    dc__secret_free(key);
    return rc;
}

/* ---- members who lack the current key ---- */

static int pk_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

typedef struct sealctx {
    dc_replica *r;
    uint8_t (*covered)[32];
    size_t ncovered;
    const uint8_t *key;
    uint32_t epoch;
    uint8_t kid[DC_KEY_ID];
    dc__member_op *ops;
    size_t nops, cap;
} sealctx;

static int seal_member(void *user, const uint8_t pk[32], const uint8_t box[32], int role) {
    sealctx *c = user;
    (void)role;
    if (memcmp(pk, c->r->id->sign_pk, 32) == 0 || bsearch(pk, c->covered, c->ncovered, 32, pk_cmp))
        return 0;
    if (DC__VEC_ROOM(c->ops, c->nops, c->cap))
        return DC_ENOMEM;
    dc__member_op *op = &c->ops[c->nops];
    memset(op, 0, sizeof *op);
    op->kind = DC_MOP_KEY;
    memcpy(op->device, pk, 32);
    op->epoch = c->epoch;
    memcpy(op->kid, c->kid, DC_KEY_ID);
    if (dc__key_seal(op->sealed, c->key, box) == 0)
        c->nops++;
    return 0;
}

/* A member can miss the current key: it was added by an admin who had not
 * seen the latest rotation, or the rotator had not seen it added.  An admin
 * holding the key seals it to every current member that no valid grant or
 * KEY op gave it to (any admin may; a second copy is harmless). */
static int seal_to_members(dc__ingest *g, dc__space *sp, const dc__mresolved *res) {
    dc_replica *r = g->r;
    dc__member me;
    int rc = dc__store_member_get(r->st, sp->sid, r->id->sign_pk, &me, &g->err);
    if (rc || me.role != DC_ROLE_ADMIN || !sp->has_key)
        return rc;
    sealctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.epoch = sp->epoch;
    uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
    if (!key)
        return dc__err_set(&g->err, DC_ENOMEM, "out of memory");
    c.key = key;
    if ((rc = dc__store_key_get(r->st, sp->sid, sp->epoch, sp->has_kid ? sp->kid : NULL, key,
                                &g->err)))
        goto out;
    dc__key_id(c.kid, key);
    size_t cap = 0;
    for (size_t i = 0; i < res->nenv && !rc; i++) {
        const dc__menv *e = &res->envs[i];
        for (size_t j = 0; e->valid && j < e->nops; j++) {
            const dc__member_op *op = &e->ops[j];
            bool gives = op->kind == DC_MOP_GENESIS ? sp->epoch == 0
                         : op->kind == DC_MOP_GRANT || op->kind == DC_MOP_KEY
                             ? op->epoch == sp->epoch &&
                                   (op->version == 1 ? sp->epoch == 0
                                                     : memcmp(op->kid, c.kid, DC_KEY_ID) == 0)
                             : false;
            if (!gives)
                continue;
            if (DC__VEC_ROOM(c.covered, c.ncovered, cap)) {
                rc = dc__err_set(&g->err, DC_ENOMEM, "out of memory");
                break;
            }
            memcpy(c.covered[c.ncovered++], op->device, 32);
        }
    }
    if (rc)
        goto out;
    qsort(c.covered, c.ncovered, 32, pk_cmp);
    if ((rc = dc__store_members_each(r->st, sp->sid, seal_member, &c, &g->err)))
        goto out;
    if (!c.nops)
        goto out;
    for (size_t i = 0; i < c.nops && !rc; i += 1000)
        rc = dc__membership_write(r, sp, c.ops + i, c.nops - i < 1000 ? c.nops - i : 1000, &g->err);
    if (!rc)
        rc = dc__ingest_dirty(g, sp->sid);
out:
    if (rc == DC_ENOMEM && !g->err.code)
        dc__err_set(&g->err, DC_ENOMEM, "out of memory");
    dc__free(c.covered);
    dc__free(c.ops);
    dc__secret_free(key);
    return rc;
}

/* ---- consent ---- */

/* Settles this device's consent to `sp` from its member row: a grant from
 * a device trusted elsewhere is accepted at once, any other waits. */
static int settle_consent(dc__ingest *g, dc__space *sp, bool *opened) {
    dc_replica *r = g->r;
    *opened = false;
    if (sp->consent != DC_CONSENT_NONE && sp->consent != DC_CONSENT_INVITED)
        return 0;
    dc__member me;
    int rc = dc__store_member_get(r->st, sp->sid, r->id->sign_pk, &me, &g->err);
    if (rc || me.role == 0)
        return rc;
    bool trusted = false;
    if ((rc = dc__store_trusted(r->st, sp->sid, me.by_did, &trusted, &g->err)))
        return rc;
    int consent = trusted ? DC_CONSENT_ACCEPTED : DC_CONSENT_INVITED;
    if (consent == sp->consent && me.by_did == sp->inviter)
        return 0;
    if ((rc = dc__store_space_set_consent(r->st, sp->sid, consent, me.by_did, &g->err)))
        return rc;
    *opened = consent == DC_CONSENT_ACCEPTED;
    sp->consent = consent;
    sp->inviter = me.by_did;
    return 0;
}

/* ---- changes whose author's authority moved ---- */

typedef struct judge {
    dc__ingest *g;
    const dc__mresolved *res;
    const uint8_t *pk;
    int64_t sid;
    bool rebuild;
    bool retry;
} judge;

static int judge_one(void *user, const dc__authchange *c) {
    judge *j = user;
    int role = dc__mres_role_at(&j->res->m, j->pk, c->seq);
    int need = c->need ? c->need : DC_ROLE_MEMBER;
    bool valid = role >= need;
    dc__store *st = j->g->r->st;
    if (!valid && c->state != DC_CHANGE_UNAUTHORISED) {
        j->rebuild |= c->state == DC_CHANGE_APPLIED;
        j->g->n.unauthorised++;
        return dc__store_change_set_state(st, c->cno, DC_CHANGE_UNAUTHORISED, &j->g->err);
    }
    if (valid && c->state == DC_CHANGE_UNAUTHORISED) {
        /* Opaque for now: the release that follows applies it, or holds it
         * for the clock, as if it had just arrived. */
        j->retry = true;
        return dc__store_change_set_state(st, c->cno, DC_CHANGE_OPAQUE, &j->g->err);
    }
    return 0;
}

static int reapply(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n) {
    dc__ingest *g = user;
    dc_replica *r = g->r;
    dc__envelope e;
    int rc = dc__envelope_parse(&e, env, n, &g->err);
    if (rc || e.kind != DC_ENV_KIND_CHANGE)
        return rc;
    int64_t did;
    if ((rc = dc__store_device(r->st, e.author, &did, &g->err)))
        return rc;
    rc = dc__change_check(r, &e, sid, did, -1, NULL, NULL, &g->err);
    if (rc == DC_ENOKEY) {
        /* Its key is gone (declined): carried, not applied. */
        dc__err_clear(&g->err);
        return dc__store_change_set_state(r->st, cno, DC_CHANGE_OPAQUE, &g->err);
    }
    if (rc == DC_EDENIED) {
        /* Judged valid by its author's role, but its ops need more. */
        dc__err_clear(&g->err);
        g->n.unauthorised++;
        return dc__store_change_set_state(r->st, cno, DC_CHANGE_UNAUTHORISED, &g->err);
    }
    return rc;
}

/* Withdraws changes that lost their authority: the space's state is
 * forgotten and rebuilt from the changes still applied.  Rare (a removal
 * racing the removed device's writes), and the merge rules make the
 * result the same as if the withdrawn changes had never arrived. */
static int rebuild(dc__ingest *g, int64_t sid) {
    dc_replica *r = g->r;
    int rc = dc__store_space_rids(r->st, sid, &g->touched, &g->err);
    /* Judge again every change still applied, then fold them all again
     * from an empty state (the fold after this settling does it). */
    if (!rc)
        rc = dc__store_changes_in_state(r->st, sid, DC_CHANGE_APPLIED, UINT64_MAX, reapply, g,
                                        &g->err);
    if (!rc)
        rc = dc__store_state_clear(r->st, sid, &g->err);
    return rc;
}

static int settle_space(dc__ingest *g, int64_t sid) {
    dc_replica *r = g->r;
    dc__mresolved *res = NULL;
    dc__space sp;
    int rc = dc__store_membership_resolve(r->st, sid, &res, &g->err);
    if (!rc)
        rc = dc__store_space_by_sid(r->st, sid, &sp, &g->err);
    /* What this device writes next must come after every membership op it
     * has accepted (a grant that made it admin included), in the replay
     * order as in time. */
    for (size_t i = 0; !rc && i < res->nenv; i++)
        if (res->envs[i].valid)
            dc__clock_observe(&r->clock, res->envs[i].hlc_min + res->envs[i].nops - 1);
    bool opened = false;
    if (!rc)
        rc = settle_consent(g, &sp, &opened);
    if (!rc && sp.consent == DC_CONSENT_ACCEPTED)
        rc = open_keys(g, sid, sp.id, res);
    /* The current key may be new: read the space's row again. */
    if (!rc && sp.consent == DC_CONSENT_ACCEPTED &&
        !(rc = dc__store_space_by_sid(r->st, sid, &sp, &g->err)) &&
        !(rc = repair_keys(g, &sp, res)))
        rc = seal_to_members(g, &sp, res);
    if (!rc && opened)
        rc = dc__ingest_keyed(g, sid);
    /* Re-judge the changes of every device whose authority moved. */
    judge j = {g, res, NULL, sid, false, false};
    for (size_t i = 0; res && i < res->nchanged && !rc; i++) {
        j.pk = res->changed[i].pk;
        rc = dc__store_author_changes(r->st, sid, res->changed[i].did, judge_one, &j, &g->err);
    }
    if (!rc && j.rebuild)
        rc = rebuild(g, sid);
    if (!rc && j.retry)
        rc = dc__ingest_keyed(g, sid);
    r->key_sid = 0; /* the current epoch may have moved */
    /* A relay's store follows the clear compaction points (a device's
     * replica, holding the key, follows the encrypted ones). */
    if (!rc && res && !sp.has_key && dc__store_fp_on(r->st))
        rc = dc__compact_clear(r, sid, res, &g->err);
    dc__mresolved_free(res);
    return rc;
}

static int auto_accept(void *user, int64_t sid) {
    dc__ingest *g = user;
    dc__space sp;
    bool opened;
    int rc = dc__store_space_by_sid(g->r->st, sid, &sp, &g->err);
    if (!rc)
        rc = settle_consent(g, &sp, &opened);
    if (!rc && opened)
        rc = dc__ingest_dirty(g, sid); /* resolve again to open its keys */
    return rc;
}

int dc__ingest_settle(dc__ingest *g) {
    int rc = 0;
    /* A settled space can make an invitation trusted, and an accepted one
     * needs its keys: loop until no space is left dirty. */
    for (int round = 0; g->ndirty && !rc; round++) {
        int64_t *dirty = g->dirty;
        size_t n = g->ndirty;
        g->dirty = NULL;
        g->ndirty = g->cdirty = 0;
        for (size_t i = 0; i < n && !rc; i++)
            rc = settle_space(g, dirty[i]);
        dc__free(dirty);
        if (!rc)
            rc = dc__store_invited_each(g->r->st, auto_accept, g, &g->err);
        if (round > 64 && g->ndirty && !rc)
            rc = dc__err_set(&g->err, DC_ERROR, "membership: settling did not end");
    }
    return rc;
}
