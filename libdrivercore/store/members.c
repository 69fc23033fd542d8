/*
 * Membership in the store: space keys (several per epoch after concurrent
 * rotations), the resolved membership of each space and the role every
 * device held for each of its envelopes, and the record of what was set
 * aside.  The rule itself is crdt/membership.c; this file feeds it the
 * space's membership envelopes from the change log and keeps its result in
 * the tables `members` and `member_auth`, writing only what changed, so
 * that the replica can re-judge just the changes of the devices whose
 * authority moved.
 */
#include <stdio.h>
#include <string.h>

#include "crdt/crdt.h"
#include "store/store_int.h"

#define STEP_DONE(st) (sqlite3_step(st) == SQLITE_DONE)

/* ---- keys ---- */

int dc__store_key_put(dc__store *s, int64_t sid, uint32_t epoch, const uint8_t key[32],
                      dc__err *err) {
    uint8_t kid[DC_KEY_ID];
    dc__key_id(kid, key);
    sqlite3_stmt *st = dc__q(s, Q_KEY_PUT,
                             "INSERT OR IGNORE INTO space_keys(sid, epoch, kid, key) "
                             "VALUES(?, ?, ?, ?)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, epoch);
    sqlite3_bind_blob(st, 3, kid, DC_KEY_ID, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, key, 32, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "space keys");
    sqlite3_reset(st);
    return rc;
}

int dc__store_key_get(dc__store *s, int64_t sid, uint32_t epoch, const uint8_t *kid,
                      uint8_t key[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_KEY_GET,
                             "SELECT key FROM space_keys WHERE sid = ?1 AND epoch = ?2 AND "
                             "(?3 IS NULL OR kid = ?3) ORDER BY kid LIMIT 1",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, epoch);
    if (kid)
        sqlite3_bind_blob(st, 3, kid, DC_KEY_ID, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(key, sqlite3_column_blob(st, 0), 32);
        rc = 0;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = dc__err_set(err, DC_ENOKEY, "this device holds no key of epoch %u for the space",
                         epoch);
    } else {
        rc = dc__sql_err(s, err, "space keys");
    }
    sqlite3_reset(st);
    return rc;
}

int dc__store_keys_each(dc__store *s, int64_t sid, int64_t epoch, dc__key_fn fn, void *user,
                        dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT epoch, kid, key FROM space_keys WHERE sid = ?1 AND "
                           "(?2 < 0 OR epoch = ?2) ORDER BY epoch, kid",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "space keys");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, epoch);
    uint8_t *key = dc__secret_alloc(32);
    int r, rc = key ? 0 : dc__err_set(err, DC_ENOMEM, "space keys: out of memory");
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != DC_KEY_ID || sqlite3_column_bytes(st, 2) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "space keys: a stored key has the wrong size");
            break;
        }
        memcpy(key, sqlite3_column_blob(st, 2), 32);
        rc = fn(user, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1), key);
    }
    if (!rc && key && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "space keys");
    sqlite3_finalize(st);
    dc__secret_free(key);
    return rc;
}

int dc__store_keys_drop(dc__store *s, int64_t sid, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM space_keys WHERE sid = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "space keys");
    sqlite3_bind_int64(st, 1, sid);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "space keys");
    sqlite3_finalize(st);
    return rc;
}

/* ---- members and authority ---- */

int dc__store_member_get(dc__store *s, int64_t sid, const uint8_t dev[32], dc__member *out,
                         dc__err *err) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = dc__q(s, Q_MEMBER_GET,
                             "SELECT m.role, m.ever_admin, m.ever_writer, m.box_pk, m.by_did, "
                             "m.did FROM members m JOIN devices d ON d.did = m.did "
                             "WHERE m.sid = ? AND d.pk = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, dev, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->role = sqlite3_column_int(st, 0);
        out->ever_admin = sqlite3_column_int(st, 1) != 0;
        out->ever_writer = sqlite3_column_int(st, 2) != 0;
        if (sqlite3_column_bytes(st, 3) == 32)
            memcpy(out->box_pk, sqlite3_column_blob(st, 3), 32);
        out->by_did = sqlite3_column_int64(st, 4);
        out->did = sqlite3_column_int64(st, 5);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : dc__sql_err(s, err, "members");
    }
    sqlite3_reset(st);
    return rc;
}

int dc__store_role_at(dc__store *s, int64_t sid, int64_t did, uint64_t seq, int *role,
                      dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_ROLE_AT,
                             "SELECT role FROM member_auth WHERE sid = ? AND did = ? AND "
                             "from_seq <= ? ORDER BY from_seq DESC LIMIT 1",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, did);
    sqlite3_bind_int64(st, 3, seq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)seq);
    int rc = sqlite3_step(st);
    *role = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : dc__sql_err(s, err, "members");
    sqlite3_reset(st);
    return rc;
}

int dc__store_members_each(dc__store *s, int64_t sid, dc__member_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT d.pk, m.box_pk, m.role FROM members m JOIN devices d ON "
                           "d.did = m.did WHERE m.sid = ? AND m.role > 0 ORDER BY d.pk",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "members");
    sqlite3_bind_int64(st, 1, sid);
    int x, rc = 0;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_bytes(st, 0) == 32 && sqlite3_column_bytes(st, 1) == 32)
            rc = fn(user, sqlite3_column_blob(st, 0), sqlite3_column_blob(st, 1),
                    sqlite3_column_int(st, 2));
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "members");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_max_seq(dc__store *s, int64_t sid, const uint8_t dev[32], uint64_t *seq,
                      dc__err *err) {
    sqlite3_stmt *st;
    *seq = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT max(c.seq) FROM changes c JOIN devices d ON d.did = c.author "
                           "WHERE c.sid = ? AND d.pk = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "change log");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, dev, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_finalize(st);
    return rc;
}

/* ---- resolution ---- */

void dc__mresolved_free(dc__mresolved *r) {
    if (!r)
        return;
    dc__mres_free(&r->m);
    for (size_t i = 0; i < r->nenv; i++) {
        dc__free((void *)r->envs[i].ops);
        dc__free(r->raw[i]);
    }
    dc__free(r->envs);
    dc__free(r->raw);
    dc__free(r->rawlen);
    dc__free(r->cnos);
    dc__free(r->states);
    dc__free(r->changed);
    dc__free(r);
}

/* Loads the space's membership envelopes that take part in the replay:
 * applied or unauthorised (held ones wait for the clock, rejected ones
 * are out for good). */
static int load_envs(dc__store *s, int64_t sid, dc__mresolved *r, dc__err *err) {
    sqlite3_stmt *st;
    /* A migration from before schema 8 (step 2) reads the envelopes where
     * they were then: in changes.env. */
    if (sqlite3_prepare_v2(s->db,
                           s->env_inline
                               ? "SELECT cno, state, env, -1 FROM changes WHERE sid = ? AND "
                                 "kind = 2 AND state IN (0, 4) ORDER BY cno"
                               : "SELECT cno, state, off, len FROM changes WHERE sid = ? AND "
                                 "kind = 2 AND state IN (0, 4) ORDER BY cno",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "membership");
    sqlite3_bind_int64(st, 1, sid);
    size_t cap = 0;
    int x, rc = 0;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        /* Parallel arrays of one capacity, each grown from it to the same
         * size; cap moves once all have. */
        size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap;
        if (DC__VEC_ROOM(r->envs, r->nenv, c1) || DC__VEC_ROOM(r->raw, r->nenv, c2) ||
            DC__VEC_ROOM(r->cnos, r->nenv, c3) || DC__VEC_ROOM(r->states, r->nenv, c4) ||
            DC__VEC_ROOM(r->rawlen, r->nenv, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
            break;
        }
        const uint8_t *env = s->env_inline ? sqlite3_column_blob(st, 2) : NULL;
        size_t n = s->env_inline ? (size_t)sqlite3_column_bytes(st, 2)
                                 : (size_t)sqlite3_column_int64(st, 3);
        if (!s->env_inline &&
            (rc = dc__store_env(s, sqlite3_column_int64(st, 2), (int64_t)n, &env, err)))
            break;
        uint8_t *raw = dc__malloc(n ? n : 1);
        if (!raw) {
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
            break;
        }
        memcpy(raw, env, n);
        size_t i = r->nenv;
        r->raw[i] = raw;
        r->rawlen[i] = n;
        r->cnos[i] = sqlite3_column_int64(st, 0);
        r->states[i] = sqlite3_column_int(st, 1);
        memset(&r->envs[i], 0, sizeof r->envs[i]);
        r->nenv++;
        dc__envelope e;
        dc__member_op *ops = NULL;
        size_t nops = 0;
        if ((rc = dc__envelope_parse(&e, raw, n, err)) ||
            (rc = dc__member_decode(&ops, &nops, e.payload, e.payload_len, err))) {
            dc__err_prefix(err, "membership: a stored envelope no longer decodes");
            break;
        }
        r->envs[i] = (dc__menv){e.hlc_min, raw + 28, e.seq, ops, nops, false};
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "membership");
    dc__store_env_done(s);
    sqlite3_finalize(st);
    return rc;
}

static int changed_add(dc__mresolved *r, int64_t did, const uint8_t pk[32]) {
    if (DC__VEC_ROOM(r->changed, r->nchanged, r->cchanged))
        return DC_ENOMEM;
    r->changed[r->nchanged].did = did;
    memcpy(r->changed[r->nchanged].pk, pk, 32);
    r->nchanged++;
    return 0;
}

typedef struct oldseg {
    int64_t did;
    uint64_t from;
    int role;
} oldseg;

static int oldseg_cmp(const void *a, const void *b) {
    const oldseg *x = a, *y = b;
    if (x->did != y->did)
        return x->did < y->did ? -1 : 1;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* The stored segments, sorted by (did, from). */
static int load_old(dc__store *s, int64_t sid, oldseg **out, size_t *nout, dc__err *err) {
    sqlite3_stmt *st;
    *out = NULL;
    *nout = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT did, from_seq, role FROM member_auth WHERE sid = ? "
                           "ORDER BY did, from_seq",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "members");
    sqlite3_bind_int64(st, 1, sid);
    size_t cap = 0;
    int x, rc = 0;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(*out, *nout, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
            break;
        }
        (*out)[(*nout)++] =
            (oldseg){sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                     sqlite3_column_int(st, 2)};
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "members");
    sqlite3_finalize(st);
    return rc;
}

static bool segs_equal(const oldseg *o, size_t no, const dc__mseg *n, size_t nn) {
    if (no != nn)
        return false;
    for (size_t i = 0; i < nn; i++)
        if (o[i].from != n[i].from || o[i].role != n[i].role)
            return false;
    return true;
}

/* Runs a cached statement binding n integers, with no result rows. */
static int run(dc__store *s, int which, const char *sql, int n, const int64_t *v, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, which, sql, err);
    if (!st)
        return err->code;
    for (int i = 0; i < n; i++)
        sqlite3_bind_int64(st, i + 1, v[i]);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "membership");
    sqlite3_reset(st);
    return rc;
}

/* Writes the resolved membership where it differs from what is stored. */
static int persist(dc__store *s, int64_t sid, dc__mresolved *r, dc__err *err) {
    oldseg *old = NULL;
    size_t nold = 0;
    int rc = load_old(s, sid, &old, &nold, err);
    int64_t *dids = rc ? NULL : dc__calloc(r->m.ndev ? r->m.ndev : 1, sizeof *dids);
    if (!rc && !dids)
        rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
    for (size_t i = 0; i < r->m.ndev && !rc; i++)
        rc = dc__store_device(s, r->m.devs[i].pk, &dids[i], err);
    if (rc)
        goto out;
    /* Devices whose authority changed get their segments rewritten. */
    bool *seen = nold ? dc__calloc(nold, sizeof *seen) : NULL;
    if (nold && !seen) {
        rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->m.ndev && !rc; i++) {
        const dc__mdev *d = &r->m.devs[i];
        oldseg key = {dids[i], 0, 0};
        size_t lo = 0, hi = nold;
        while (lo < hi) { /* first old segment of this device */
            size_t mid = lo + (hi - lo) / 2;
            if (oldseg_cmp(&old[mid], &key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < nold && old[end].did == dids[i])
            seen[end++] = true;
        if (segs_equal(old + lo, end - lo, d->segs, d->nseg))
            continue;
        if ((rc = run(s, Q_AUTH_DEL, "DELETE FROM member_auth WHERE sid = ? AND did = ?", 2,
                      (int64_t[]){sid, dids[i]}, err)))
            break;
        for (size_t k = 0; k < d->nseg && !rc; k++) {
            sqlite3_stmt *st = dc__q(s, Q_AUTH_PUT,
                                     "INSERT INTO member_auth(sid, did, from_seq, role) "
                                     "VALUES(?, ?, ?, ?)",
                                     err);
            if (!st) {
                rc = err->code;
                break;
            }
            sqlite3_bind_int64(st, 1, sid);
            sqlite3_bind_int64(st, 2, dids[i]);
            sqlite3_bind_int64(st, 3, (int64_t)d->segs[k].from);
            sqlite3_bind_int(st, 4, d->segs[k].role);
            rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "members");
            sqlite3_reset(st);
        }
        if (!rc && changed_add(r, dids[i], d->pk))
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
    }
    /* Devices that no longer appear at all lost whatever they had. */
    for (size_t j = 0; j < nold && !rc; j++) {
        if (seen[j] || (j && old[j - 1].did == old[j].did))
            continue;
        uint8_t pk[32];
        if ((rc = dc__store_device_pk(s, old[j].did, pk, err)) ||
            (rc = run(s, Q_AUTH_DEL, "DELETE FROM member_auth WHERE sid = ? AND did = ?", 2,
                      (int64_t[]){sid, old[j].did}, err)))
            break;
        if (changed_add(r, old[j].did, pk))
            rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
    }
    dc__free(seen);
    if (rc)
        goto out;
    /* The member rows: the display role and who set it. */
    if ((rc = run(s, Q_MEMBERS_DEL, "DELETE FROM members WHERE sid = ?", 1, &sid, err)))
        goto out;
    for (size_t i = 0; i < r->m.ndev && !rc; i++) {
        const dc__mdev *d = &r->m.devs[i];
        if (!d->by)
            continue; /* only an author, never named by an op */
        int64_t by;
        if ((rc = dc__store_device(s, d->by, &by, err)))
            break;
        int top = 0;
        for (size_t k = 0; k < d->nseg; k++)
            if (d->segs[k].role > top)
                top = d->segs[k].role;
        static const uint8_t zero[32];
        sqlite3_stmt *st = dc__q(s, Q_MEMBER_PUT,
                                 "INSERT INTO members(sid, did, role, ever_admin, ever_writer, "
                                 "box_pk, name, hlc, by_did) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 err);
        if (!st) {
            rc = err->code;
            break;
        }
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_int64(st, 2, dids[i]);
        sqlite3_bind_int(st, 3, d->role);
        sqlite3_bind_int(st, 4, top == DC_ROLE_ADMIN);
        sqlite3_bind_int(st, 5, top >= DC_ROLE_MEMBER);
        sqlite3_bind_blob(st, 6, d->box_pk ? d->box_pk : zero, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, d->name ? d->name : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, (int64_t)d->hlc);
        sqlite3_bind_int64(st, 9, by);
        rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "members");
        sqlite3_reset(st);
    }
    /* Each envelope's fate. */
    for (size_t i = 0; i < r->nenv && !rc; i++) {
        int want = r->envs[i].valid ? DC_CHANGE_APPLIED : DC_CHANGE_UNAUTHORISED;
        if (r->states[i] != want)
            rc = dc__store_change_set_state(s, r->cnos[i], want, err);
    }
    /* The current key epoch. */
    if (!rc) {
        sqlite3_stmt *st =
            dc__q(s, Q_EPOCH_PUT, "UPDATE spaces SET epoch = ?2, kid = ?3 WHERE sid = ?1", err);
        if (!st) {
            rc = err->code;
        } else {
            sqlite3_bind_int64(st, 1, sid);
            sqlite3_bind_int64(st, 2, r->m.has_epoch ? r->m.epoch : 0);
            if (r->m.has_epoch)
                sqlite3_bind_blob(st, 3, r->m.kid, DC_KEY_ID, SQLITE_STATIC);
            rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "spaces");
            sqlite3_reset(st);
        }
    }
out:
    dc__free(old);
    dc__free(dids);
    return rc;
}

int dc__store_membership_resolve(dc__store *s, int64_t sid, dc__mresolved **out, dc__err *err) {
    *out = NULL;
    dc__mresolved *r = dc__calloc(1, sizeof *r);
    if (!r)
        return dc__err_set(err, DC_ENOMEM, "membership: out of memory");
    int rc = load_envs(s, sid, r, err);
    if (!rc)
        rc = dc__membership_resolve(&r->m, r->envs, r->nenv, err);
    if (!rc)
        rc = persist(s, sid, r, err);
    if (rc) {
        dc__mresolved_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- re-judging changes ---- */

int dc__store_author_changes(dc__store *s, int64_t sid, int64_t did, dc__authchange_fn fn,
                             void *user, dc__err *err) {
    /* Collect first: fn changes states under the SELECT otherwise. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT cno, seq, state, need FROM changes WHERE sid = ? AND "
                           "author = ? AND kind = 1 AND state IN (0, 1, 2, 4) ORDER BY hlc, cid",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "change log");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, did);
    dc__authchange *v = NULL;
    size_t n = 0, cap = 0;
    int x, rc = 0;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(v, n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "change log: out of memory");
            break;
        }
        v[n++] =
            (dc__authchange){sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                             sqlite3_column_int(st, 2), sqlite3_column_int(st, 3)};
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "change log");
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++)
        rc = fn(user, &v[i]);
    dc__free(v);
    return rc;
}

int dc__store_change_set_need(dc__store *s, int64_t cno, int need, dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_NEED_PUT, "UPDATE changes SET need = ?2 WHERE cno = ?1 AND need <> ?2", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, cno);
    sqlite3_bind_int(st, 2, need);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    return rc;
}

/* ---- consent ---- */

int dc__store_space_set_consent(dc__store *s, int64_t sid, int consent, int64_t inviter,
                                dc__err *err) {
    return run(s, Q_CONSENT_PUT, "UPDATE spaces SET consent = ?2, inviter = ?3 WHERE sid = ?1", 3,
               (int64_t[]){sid, consent, inviter}, err);
}

int dc__store_trusted(dc__store *s, int64_t sid, int64_t did, bool *trusted, dc__err *err) {
    /* A member (any role) of another space this device has accepted. */
    sqlite3_stmt *st = dc__q(s, Q_TRUSTED,
                             "SELECT EXISTS(SELECT 1 FROM members m JOIN spaces p ON "
                             "p.sid = m.sid WHERE m.did = ?2 AND m.role > 0 AND p.consent = 2 "
                             "AND p.sid <> ?1)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, did);
    int rc = sqlite3_step(st);
    *trusted = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    rc = rc == SQLITE_ROW ? 0 : dc__sql_err(s, err, "spaces");
    sqlite3_reset(st);
    return rc;
}

int dc__store_invited_each(dc__store *s, dc__sid_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT sid FROM spaces WHERE consent = 1 ORDER BY sid", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "spaces");
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int x, rc = 0;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(v, n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "spaces: out of memory");
            break;
        }
        v[n++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "spaces");
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++)
        rc = fn(user, v[i]);
    dc__free(v);
    return rc;
}

/* ---- what was set aside ---- */

#define SET_ASIDE_KEEP 1000

int dc__store_set_aside_has(dc__store *s, const uint8_t cid[32], bool *has, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT EXISTS(SELECT 1 FROM set_aside WHERE cid = ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "set aside");
    sqlite3_bind_blob(st, 1, cid, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    rc = rc == SQLITE_ROW ? 0 : dc__sql_err(s, err, "set aside");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_set_aside(dc__store *s, const dc__setaside *a, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_ASIDE_PUT,
                             "INSERT INTO set_aside(at_ms, space, author, seq, cid, code, msg) "
                             "VALUES(?, ?, ?, ?, ?, ?, ?)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, a->at_ms);
    if (a->space)
        sqlite3_bind_blob(st, 2, a->space, 16, SQLITE_STATIC);
    if (a->author)
        sqlite3_bind_blob(st, 3, a->author, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)a->seq);
    if (a->cid)
        sqlite3_bind_blob(st, 5, a->cid, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, a->code);
    sqlite3_bind_text(st, 7, a->msg, -1, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "set aside");
    sqlite3_reset(st);
    /* Keep the newest only: a flood of bad items must not fill the disk. */
    if (!rc)
        rc = run(s, Q_ASIDE_TRIM,
                 "DELETE FROM set_aside WHERE n <= (SELECT max(n) FROM set_aside) - ?", 1,
                 (int64_t[]){SET_ASIDE_KEEP}, err);
    return rc;
}
