/*
 * Cloned replicas and their recovery (docs/recovery.md).  A phone backup
 * restored elsewhere copies the device identity with the file; the copy
 * would sign new changes under sequence numbers the original already used,
 * which every peer sets aside for ever.  So a replica notices when another
 * copy signs with its key (an import meets an envelope of its own it does
 * not hold) or when the file was copied (another install id), refuses to
 * sign from then on, and recovers by taking a new identity: the records and
 * keys it holds stay, and what the old identity wrote that no relay
 * acknowledged is signed again under the new one.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

/* meta keys: "cloned" (the evidence as JSON; "" once recovered),
 * "install_id", "previous" (the old device id after a recovery). */

static int cloned_in_file(dc_replica *r, bool *cloned, dc__err *err) {
    dc_buf v = DC_BUF_INIT;
    int rc = dc__store_meta_get_text(r->st, "cloned", &v, err);
    *cloned = rc == 0 && v.size > 0;
    dc_buf_dispose(&v);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        rc = 0;
    }
    return rc;
}

static int put_texts(dc_replica *r, const char *k1, const char *v1, const char *k2, const char *v2,
                     dc__err *err) {
    int rc = dc__replica_writable(r, err);
    if (!rc)
        rc = dc__store_begin(r->st, err);
    if (rc)
        return rc;
    if ((rc = dc__store_meta_put_text(r->st, k1, v1, err)) ||
        (k2 && (rc = dc__store_meta_put_text(r->st, k2, v2, err))) ||
        (rc = dc__store_commit(r->st, err)))
        dc__store_rollback(r->st);
    return rc;
}

int dc__clone_open(dc_replica *r, const char *install_id, dc__err *err) {
    int rc = cloned_in_file(r, &r->cloned, err);
    if (rc || !install_id)
        return rc;
    dc_buf v = DC_BUF_INIT;
    rc = dc__store_meta_get_text(r->st, "install_id", &v, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        rc = put_texts(r, "install_id", install_id, NULL, NULL, err);
    } else if (!rc && (v.size != strlen(install_id) || memcmp(v.ptr, install_id, v.size) != 0)) {
        /* Another installation wrote this file last: a restored backup or
         * a copy.  The new install id is recorded with the mark. */
        char why[160];
        snprintf(why, sizeof why, "{\"why\":\"copied\",\"at_ms\":%lld}",
                 (long long)dc__clock_wall_ms(&r->clock));
        if (r->cloned)
            rc = put_texts(r, "install_id", install_id, NULL, NULL, err);
        else
            rc = put_texts(r, "install_id", install_id, "cloned", why, err);
        r->cloned = true;
    }
    dc_buf_dispose(&v);
    return rc;
}

void dc__clone_seen(dc_replica *r, const char *why, const uint8_t space[16], uint64_t seq) {
    if (r->clone_seen)
        return; /* the first evidence is kept */
    char hex[33];
    dc__hex(hex, space, 16);
    snprintf(r->clone_why, sizeof r->clone_why,
             "{\"why\":\"%s\",\"space\":\"%s\",\"seq\":%llu,\"at_ms\":%lld}", why, hex,
             (unsigned long long)seq, (long long)dc__clock_wall_ms(&r->clock));
    r->clone_seen = true;
}

void dc__clone_persist(dc_replica *r) {
    if (!r->clone_seen)
        return;
    r->clone_seen = false;
    dc__err e = {0};
    bool in_file = false;
    /* Outside the import's transaction, which may have been rolled back
     * (an all-or-nothing bundle refused for the conflict itself).  A
     * failure to record it leaves the mark on this handle only. */
    if (cloned_in_file(r, &in_file, &e) == 0 && !in_file)
        put_texts(r, "cloned", r->clone_why, NULL, NULL, &e);
    r->cloned = true;
}

int dc__clone_refuse(dc_replica *r, const char *what) {
    /* Another handle on this file (a sync thread's) may have found it. */
    if (!r->cloned) {
        dc__err e = {0};
        bool in_file = false;
        if (cloned_in_file(r, &in_file, &e) == 0 && in_file)
            r->cloned = true;
    }
    if (!r->cloned)
        return 0;
    return dc__fail(r, DC_ECLONED,
                    "%s: this replica's device identity %.16s... is also used by another copy "
                    "(a restored backup or a copied file), so nothing was signed; recover it "
                    "with a new identity (dc_replica_recover, `drivercore recover`) and have an "
                    "admin add the new card (docs/recovery.md)",
                    what, r->device_hex);
}

int dc_replica_cloned(dc_replica *r) {
    DC__CHECK(r);
    dc__err e = {0};
    bool in_file = false;
    if (!r->cloned && cloned_in_file(r, &in_file, &e) == 0 && in_file)
        r->cloned = true;
    return r->cloned ? 1 : 0;
}

int dc__clone_status_json(dc_replica *r, dc_buf *out) {
    dc__err e = {0};
    dc_buf v = DC_BUF_INIT;
    int w = dc__buf_puts(out, ",\"cloned\":");
    if (dc__store_meta_get_text(r->st, "cloned", &v, &e) == 0 && v.size)
        w |= dc__buf_put(out, v.ptr, v.size); /* JSON this file printed */
    else
        w |= dc__buf_puts(out, "null");
    w |= dc__buf_puts(out, ",\"previous\":");
    if (dc__store_meta_get_text(r->st, "previous", &v, &e) == 0 && v.size)
        w |= dc__json_str(out, (const char *)v.ptr, v.size);
    else
        w |= dc__buf_puts(out, "null");
    dc_buf_dispose(&v);
    return w ? DC_ENOMEM : 0;
}

/* ---- recovery ---- */

typedef struct own_change {
    int64_t cno, sid;
    uint8_t *env;
    size_t n;
} own_change;

typedef struct recovery {
    dc_replica *r;
    const uint8_t *old_pk;
    int64_t sid;
    uint64_t acked; /* of the space being scanned */
    own_change *v;
    size_t n, cap;
    uint64_t not_resigned;
    uint8_t (*spaces)[16]; /* every space known, then those to re-enrol in */
    size_t nspaces, capspaces;
    uint8_t (*enrol)[16];
    size_t nenrol, capenrol;
    dc__err err;
} recovery;

static int add_space(uint8_t (**v)[16], size_t *n, size_t *cap, const uint8_t id[16]) {
    if (DC__VEC_ROOM(*v, *n, *cap))
        return DC_ENOMEM;
    memcpy((*v)[(*n)++], id, 16);
    return 0;
}

static int known_space(void *user, const uint8_t id[16]) {
    recovery *rc = user;
    return add_space(&rc->spaces, &rc->nspaces, &rc->capspaces, id)
               ? dc__err_set(&rc->err, DC_ENOMEM, "recover: out of memory")
               : 0;
}

static int enrol_space(void *user, const uint8_t id[16]) {
    recovery *rc = user;
    return add_space(&rc->enrol, &rc->nenrol, &rc->capenrol, id)
               ? dc__err_set(&rc->err, DC_ENOMEM, "recover: out of memory")
               : 0;
}

/* Keeps the old identity's changes above the acknowledged sequence number
 * (in log order); membership envelopes are counted, not kept. */
static int collect_own(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n) {
    recovery *x = user;
    dc__envelope e;
    int rc = dc__envelope_parse(&e, env, n, &x->err);
    if (rc)
        return rc;
    if (memcmp(e.author, x->old_pk, 32) != 0 || e.seq <= x->acked)
        return 0;
    if (e.kind != DC_ENV_KIND_CHANGE) {
        x->not_resigned++;
        return 0;
    }
    if (DC__VEC_ROOM(x->v, x->n, x->cap))
        return dc__err_set(&x->err, DC_ENOMEM, "recover: out of memory");
    uint8_t *copy = dc__malloc(n);
    if (!copy)
        return dc__err_set(&x->err, DC_ENOMEM, "recover: out of memory");
    memcpy(copy, env, n);
    x->v[x->n++] = (own_change){cno, sid, copy, n};
    return 0;
}

/* Signs the ops of one old change again as a new change of this (new)
 * identity, and deletes the old one from the log: its sequence number is
 * contested, and the other copy's change under it must be able to arrive.  *resigned is 1 when it
 * was. */
static int resign(recovery *x, const own_change *c, dc_buf *plain, int *resigned) {
    dc_replica *r = x->r;
    dc__err *e = &x->err;
    dc__envelope env;
    int rc = dc__envelope_parse(&env, c->env, c->n, e);
    if (!rc)
        rc = dc__change_plain(r, &env, c->sid, plain, e);
    if (rc)
        return rc;
    dc__body b;
    if ((rc = dc__body_decode(&b, plain->ptr, plain->size, e)))
        return rc;
    uint32_t nops = b.nops;
    bool admin_only = false;
    for (uint32_t i = 0; i < b.nops; i++)
        admin_only |= b.ops[i].type.n && b.ops[i].type.p[0] == '@';
    dc__body_free(&b);
    *resigned = 0;
    /* Ops on the library's own records need an admin, which the new
     * identity is not until re-enrolled: counted for the admin to redo. */
    if (admin_only || nops == 0) {
        x->not_resigned++;
        return 0;
    }
    dc__space sp;
    if ((rc = dc__store_space_by_sid(r->st, c->sid, &sp, e)))
        return rc;
    dc_hlc hmin = dc__clock_tick(&r->clock);
    dc_hlc hmax = hmin + (nops - 1);
    r->clock.last = hmax;
    uint8_t cid[32];
    if ((rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, plain->ptr, plain->size, hmin, hmax,
                               NULL, cid, e)) ||
        (rc = dc__store_change_delete(r->st, c->cno, e)))
        return rc;
    *resigned = 1;
    return 0;
}

static void recovery_free(recovery *x) {
    for (size_t i = 0; i < x->n; i++)
        dc__free(x->v[i].env);
    dc__free(x->v);
    dc__free(x->spaces);
    dc__free(x->enrol);
}

static int result_json(dc_buf *out, dc_replica *r, const char *old_hex, uint64_t resigned,
                       const recovery *x) {
    dc_buf card = DC_BUF_INIT;
    int w = dc_replica_card(&card, r) != 0;
    if (!w && card.size) {
        card.size--; /* the card's closing brace: it gains "replaces" */
        w |= dc__buf_printf(&card, ",\"replaces\":\"%s\"}", old_hex);
    }
    dc__buf_clear(out);
    w |= dc__buf_printf(out, "{\"device\":\"%s\",\"previous\":\"%s\",\"card\":", r->device_hex,
                        old_hex);
    w |= dc__buf_put(out, card.ptr, card.size);
    w |= dc__buf_printf(out, ",\"resigned\":%llu,\"not_resigned\":%llu,\"spaces\":[",
                        (unsigned long long)resigned, (unsigned long long)x->not_resigned);
    for (size_t i = 0; i < x->nenrol; i++) {
        char hex[33];
        dc__hex(hex, x->enrol[i], 16);
        w |= dc__buf_printf(out, "%s\"%s\"", i ? "," : "", hex);
    }
    w |= dc__buf_puts(out, "]}");
    dc_buf_dispose(&card);
    return w ? DC_ENOMEM : 0;
}

int dc_replica_recover(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "recover: a transaction is open on this replica");
    recovery x;
    memset(&x, 0, sizeof x);
    x.r = r;
    dc__identity *old = sodium_malloc(sizeof *old);
    dc__identity *fresh = dc__identity_new();
    dc_buf plain = DC_BUF_INIT;
    char old_hex[65];
    memcpy(old_hex, r->device_hex, sizeof old_hex);
    int64_t old_did = r->self_did;
    dc_hlc saved = r->clock.last;
    uint64_t resigned = 0;
    bool began = false, swapped = false;
    int rc = 0;
    if (!old || !fresh) {
        rc = dc__err_set(&x.err, DC_ENOMEM, "recover: out of memory for the device keys");
        goto done;
    }
    memcpy(old, r->id, sizeof *old);
    x.old_pk = old->sign_pk;
    if ((rc = dc__clock_check(&r->clock, &x.err)) || (rc = dc__replica_begin(r, &x.err)))
        goto done;
    began = true;
    /* What the old identity wrote that no relay acknowledged, space by
     * space, in log order; and the spaces whose membership names it. */
    if ((rc = dc__store_spaces_known(r->st, known_space, &x, &x.err)) ||
        (rc = dc__store_spaces_of(r->st, old->sign_pk, enrol_space, &x, &x.err)))
        goto done;
    for (size_t i = 0; i < x.nspaces && !rc; i++) {
        dc__space sp;
        char key[40] = "acked:";
        if ((rc = dc__store_space_get(r->st, x.spaces[i], &sp, &x.err)))
            break;
        dc__hex(key + 6, x.spaces[i], 16);
        int64_t acked = 0;
        if (dc__store_meta_get(r->st, key, &acked, &x.err) == DC_ENOTFOUND)
            dc__err_clear(&x.err);
        x.acked = (uint64_t)acked;
        x.sid = sp.sid;
        rc = dc__store_changes_in_state(r->st, sp.sid, DC_CHANGE_APPLIED, UINT64_MAX, collect_own,
                                        &x, &x.err);
    }
    if (rc)
        goto done;
    /* The new identity, then the old changes signed again under it. */
    if ((rc = dc__store_identity_replace(r->st, fresh, &x.err)))
        goto done;
    memcpy(r->id, fresh, sizeof *fresh);
    swapped = true;
    if ((rc = dc__store_device(r->st, r->id->sign_pk, &r->self_did, &x.err)))
        goto done;
    r->key_sid = 0;
    int64_t last_sid = 0;
    for (size_t i = 0; i < x.n && !rc; i++) {
        int done1 = 0;
        rc = resign(&x, &x.v[i], &plain, &done1);
        resigned += (uint64_t)done1;
        /* The state of the space forgets the withdrawn changes: rebuilt
         * from those still applied at the next fold. */
        if (!rc && done1 && x.v[i].sid != last_sid) {
            last_sid = x.v[i].sid;
            rc = dc__store_state_clear(r->st, last_sid, &x.err);
        }
    }
    if (!rc)
        rc = dc__store_meta_put_text(r->st, "cloned", "", &x.err);
    if (!rc)
        rc = dc__store_meta_put_text(r->st, "previous", old_hex, &x.err);
    if (!rc)
        rc = dc__store_hlc_save(r->st, r->clock.last, &x.err);
    if (!rc)
        rc = dc__store_commit(r->st, &x.err);
    if (!rc)
        began = false;
done:
    if (plain.asize)
        sodium_memzero(plain.ptr, plain.asize);
    dc_buf_dispose(&plain);
    if (rc) {
        if (began)
            dc__store_rollback(r->st);
        if (swapped) {
            memcpy(r->id, old, sizeof *old);
            r->self_did = old_did;
        }
        r->clock.last = saved;
        r->key_sid = 0;
    } else {
        dc__hex(r->device_hex, r->id->sign_pk, 32);
        r->cloned = false;
        r->clone_seen = false;
        dc__err fe = {0};
        dc__store_fold(r->st, NULL, &fe); /* the rebuilt state, now */
        if (out && result_json(out, r, old_hex, resigned, &x))
            rc = dc__err_set(&x.err, DC_ENOMEM,
                             "recover: out of memory for the result (the replica was recovered)");
    }
    if (old) {
        sodium_memzero(old, sizeof *old);
        sodium_free(old);
    }
    dc__identity_free(fresh);
    recovery_free(&x);
    return rc ? dc__fail_err(r, &x.err) : 0;
}
