/*
 * Bundles in and out, and the release of changes held aside.
 *
 * Import is all or nothing: every envelope is framed, deduplicated,
 * verified, authorised and (where we hold the key) decrypted, decoded and
 * applied inside one SQLite transaction, and the first bad one rolls the
 * whole bundle back with an error that names it.  Membership envelopes go
 * first, repeated until no more can be accepted, so a bundle need not list
 * a grant before the grants it depends on.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

int dc_bundle_export(dc_buf *out, dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "bundle export: out is NULL");
    uint8_t sid[16];
    if (space && dc__space_id_parse(r, space, sid))
        return r->err.code;
    if (space) {
        dc__space sp;
        if (dc__store_space_get(r->st, sid, &sp, &r->err))
            return dc__fail_err(r, &r->err);
    }
    if (dc__bundle_begin(out))
        return dc__fail(r, DC_ENOMEM, "bundle export: out of memory");
    int rc = dc__store_export(r->st, out, space ? sid : NULL, &r->err);
    if (!rc && dc__bundle_finish(out))
        rc = dc__err_set(&r->err, DC_ENOMEM, "bundle export: out of memory");
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_bundle_export_file(dc_replica *r, const char *path, const char *space) {
    DC__CHECK(r);
    if (!path)
        return dc__fail(r, DC_EMISUSE, "bundle export: path is NULL");
    dc_buf b = DC_BUF_INIT;
    int rc = dc_bundle_export(&b, r, space);
    if (rc) {
        dc_buf_dispose(&b);
        return rc;
    }
    /* Write beside the target and rename, so a reader never sees half a
     * bundle and a full disk leaves the old file in place. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        dc_buf_dispose(&b);
        return dc__fail(r, DC_EINVAL, "bundle export: path too long");
    }
    FILE *f = dc__os_fopen_private(tmp); /* 0600: a bundle holds envelopes */
    if (!f) {
        dc_buf_dispose(&b);
        return dc__fail(r, DC_EIO, "bundle export: cannot create %s", tmp);
    }
    bool ok = fwrite(b.ptr, 1, b.size, f) == b.size;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    dc_buf_dispose(&b);
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return dc__fail(r, DC_EIO, "bundle export: writing %s failed (disk full?)", path);
    }
    return 0;
}

/* ---- import ---- */

typedef struct import {
    dc__ingest g;
    dc__span *v; /* the bundle's envelopes */
    bool *done;
    dc__store_ckpt *ck; /* the WAL's checkpoints on the other core, or NULL */
    uint64_t n;
    size_t vcap, dcap;
} import;

static int collect(void *user, uint64_t i, const uint8_t *p, size_t n) {
    import *im = user;
    (void)i;
    if (DC__VEC_ROOM(im->v, im->n, im->vcap) || DC__VEC_ROOM(im->done, im->n, im->dcap))
        return dc__err_set(&im->g.err, DC_ENOMEM, "bundle: out of memory");
    im->done[im->n] = false;
    im->v[im->n++] = (dc__span){p, n};
    return 0;
}

static int where(import *im, uint64_t i) {
    return dc__err_prefix(&im->g.err, "bundle: envelope %llu of %llu", (unsigned long long)i + 1,
                          (unsigned long long)im->n);
}

/* Errors that condemn the envelope itself, not this attempt to store it:
 * with DC__IMPORT_SET_ASIDE they set it aside and the import goes on. */
static bool bad_content(int rc) {
    return rc == DC_ECORRUPT || rc == DC_EBADSIG || rc == DC_ETOOBIG || rc == DC_EVERSION ||
           rc == DC_ECONFLICT;
}

/* After a failure on envelope i: 0 when it was set aside (lenient import,
 * an error of the envelope's own), else the error, located. */
static int fail_or_set_aside(import *im, uint64_t i, const dc__envelope *e, int rc) {
    if ((im->g.flags & DC__IMPORT_SET_ASIDE) && bad_content(rc)) {
        where(im, i);
        return dc__ingest_set_aside(&im->g, e, rc);
    }
    where(im, i);
    return rc;
}

/* Looks the envelope up in the log: 1 duplicate, 0 new, or an error (a
 * different envelope under the same author and sequence number). */
static int seen(dc__ingest *g, const dc__envelope *e, dc__space *sp, int64_t *did) {
    dc_replica *r = g->r;
    int rc;
    /* Envelopes of one space and one author come in runs: their rows are
     * remembered (rows never change; a failed import ends here). */
    if (g->c_sid && memcmp(g->c_space, e->space, 16) == 0) {
        sp->sid = g->c_sid;
    } else {
        if ((rc = dc__store_space_ensure(r->st, e->space, sp, &g->err)))
            return rc;
        memcpy(g->c_space, e->space, 16);
        g->c_sid = sp->sid;
    }
    if (g->c_did && memcmp(g->c_author, e->author, 32) == 0) {
        *did = g->c_did;
    } else {
        if ((rc = dc__store_device(r->st, e->author, did, &g->err)))
            return rc;
        memcpy(g->c_author, e->author, 32);
        g->c_did = *did;
    }
    uint8_t have[32], id[32];
    rc = dc__store_change_find(r->st, sp->sid, *did, e->seq, have, &g->err);
    if (rc <= 0)
        return rc;
    dc__envelope_id(id, e->raw, e->raw_len);
    if (sodium_memcmp(have, id, 32) != 0) {
        /* Either a damaged or forged copy of a change we hold, or a device
         * that really signed two changes with one number: the signature
         * tells which, and only the second is equivocation. */
        if ((rc = dc__envelope_verify(e, &g->err)))
            return rc;
        /* Signed by this device's own key: another copy of this replica. */
        if (memcmp(e->author, r->id->sign_pk, 32) == 0)
            dc__clone_seen(r, "conflict", e->space, e->seq);
        char dev[17];
        dc__hex(dev, e->author, 8);
        return dc__err_set(&g->err, DC_ECONFLICT,
                           "device %s... signed two different changes "
                           "with sequence number %llu (a cloned or broken device)",
                           dev, (unsigned long long)e->seq);
    }
    return 1;
}

/* A new envelope, its signature checked, signed by this device's own key:
 * this replica never wrote it, so another copy of it did (docs/recovery.md).
 * It is stored like any other (what the other copy wrote is kept). */
static int own_new(dc__ingest *g, const dc__envelope *e, int64_t sid) {
    dc_replica *r = g->r;
    if (memcmp(e->author, r->id->sign_pk, 32) != 0)
        return 0;
    dc__space row;
    int rc = dc__store_space_by_sid(r->st, sid, &row, &g->err);
    if (!rc)
        dc__clone_seen(r, e->seq > row.my_seq ? "ahead" : "conflict", e->space, e->seq);
    return rc;
}

static int store_new(dc__ingest *g, const dc__envelope *e, int64_t sid, int64_t did, int state,
                     int need, uint8_t id[32]) {
    dc__envelope_id(id, e->raw, e->raw_len);
    int rc = dc__store_change_put(g->r->st, sid, e, id, did, state, need, &g->err);
    if (!rc) {
        g->n.fresh++;
        g->n.held += state == DC_CHANGE_HELD;
        g->n.opaque += state == DC_CHANGE_OPAQUE;
        g->n.unauthorised += state == DC_CHANGE_UNAUTHORISED;
        g->n.future += state == DC_CHANGE_FUTURE;
    }
    return rc;
}

/* The checks a membership envelope's content must pass whoever signed it:
 * its body decodes, its timestamps match its ops, and a genesis is the
 * one its space id was derived from. */
static int check_membership(dc__ingest *g, const dc__envelope *e) {
    dc__member_op *ops;
    size_t nops;
    int rc = dc__member_decode(&ops, &nops, e->payload, e->payload_len, &g->err);
    if (rc)
        return rc;
    if (e->hlc_max - e->hlc_min != nops - 1)
        rc = dc__err_set(&g->err, DC_ECORRUPT,
                         "membership: the timestamp range does not match its %zu ops", nops);
    for (size_t i = 0; i < nops && !rc; i++) {
        const dc__member_op *op = &ops[i];
        if (op->kind != DC_MOP_GENESIS)
            continue;
        uint8_t pre[48], want[16];
        memcpy(pre, op->device, 32);
        memcpy(pre + 32, op->nonce, 16);
        dc__hash(want, 16, pre, sizeof pre);
        if (memcmp(op->device, e->author, 32) != 0 || memcmp(want, e->space, 16) != 0)
            rc = dc__err_set(&g->err, DC_EBADSIG,
                             "membership: a genesis that does not match the space id "
                             "(forged space)");
    }
    dc__free(ops);
    return rc;
}

/* A membership envelope: stored unauthorised until the resolution of its
 * space (dc__ingest_settle) judges it, or held if stamped too far ahead. */
static int ingest_membership(dc__ingest *g, const dc__envelope *e) {
    dc__space sp;
    int64_t did;
    uint8_t id[32];
    int rc = seen(g, e, &sp, &did);
    if (rc) {
        g->n.dup += rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = dc__verifier_check(g->vf, g->at, e, &g->err)))
        return rc;
    if ((rc = check_membership(g, e)) == DC_EVERSION) {
        /* A membership body of a newer version: kept and passed on, left
         * out of the resolution until this library reads it. */
        dc__err_clear(&g->err);
        if ((rc = own_new(g, e, sp.sid)))
            return rc;
        return store_new(g, e, sp.sid, did, DC_CHANGE_FUTURE, 0, id);
    }
    if (rc || (rc = own_new(g, e, sp.sid)))
        return rc;
    /* A grant stamped far ahead would win that device's role for ever, so
     * it waits for the clock. */
    if (!dc__clock_acceptable(&g->r->clock, e->hlc_max))
        return store_new(g, e, sp.sid, did, DC_CHANGE_HELD, 0, id);
    if ((rc = store_new(g, e, sp.sid, did, DC_CHANGE_UNAUTHORISED, 0, id)))
        return rc;
    /* Provisional: the resolution decides, and the import counts it then. */
    g->n.unauthorised--;
    if (DC__VEC_ROOM(g->prov, g->nprov, g->cprov))
        return dc__err_set(&g->err, DC_ENOMEM, "import: out of memory");
    g->prov[g->nprov++] = dc__store_last_cno(g->r->st);
    return dc__ingest_dirty(g, sp.sid);
}

/* The state a change of a writer takes, and its application when it can
 * be applied now.  `cno` is 0 for a change not yet stored. */
static int place_change(dc__ingest *g, const dc__envelope *e, int64_t sid, int64_t did, int role,
                        int64_t cno) {
    dc_replica *r = g->r;
    int state, need = 0, rc;
    /* The body decoded by the check goes to the fold with the change. */
    dc__opened opened;
    memset(&opened, 0, sizeof opened);
    if (!dc__space_key(r, sid, e->epoch, NULL, &g->err)) {
        if (g->err.code != DC_ENOKEY)
            return g->err.code;
        dc__err_clear(&g->err);
        state = DC_CHANGE_OPAQUE;
        /* Within the clock bound now (a direct peer's lead included): the
         * stamp counts as accepted, so that it applies when its key comes
         * however that peer's clock is then. */
        if (dc__clock_acceptable(&r->clock, e->hlc_max))
            dc__clock_observe(&r->clock, e->hlc_max);
    } else if (!dc__clock_acceptable(&r->clock, e->hlc_max)) {
        state = DC_CHANGE_HELD;
    } else {
        rc = dc__change_check(r, e, sid, did, role, &need, &opened, &g->err);
        if (rc == DC_ENOKEY) {
            dc__err_clear(&g->err);
            state = DC_CHANGE_OPAQUE;
        } else if (rc == DC_EDENIED) {
            /* Ops on the library's own records by a non-admin. */
            dc__err_clear(&g->err);
            state = DC_CHANGE_UNAUTHORISED;
        } else if (rc == DC_EVERSION) {
            /* A body of a newer version (a newer app wrote it): kept and
             * passed on, applied once this library is upgraded. */
            dc__err_clear(&g->err);
            state = DC_CHANGE_FUTURE;
            if (dc__clock_acceptable(&r->clock, e->hlc_max))
                dc__clock_observe(&r->clock, e->hlc_max);
        } else if (rc) {
            return rc;
        } else {
            dc__clock_observe(&r->clock, e->hlc_max);
            state = DC_CHANGE_APPLIED;
        }
    }
    uint32_t nops = (uint32_t)(e->hlc_max - e->hlc_min + 1);
    uint8_t id[32];
    if (!cno) {
        if ((rc = store_new(g, e, sid, did, state, need, id))) {
            dc__opened_free(&opened);
            return rc;
        }
        /* Applied: the state takes it when the import folds. */
        return state == DC_CHANGE_APPLIED
                   ? dc__store_pending_add_opened(r->st, dc__store_last_cno(r->st), nops, id,
                                                  &opened, &g->err)
                   : 0;
    }
    dc__opened_free(&opened);
    g->n.released += state == DC_CHANGE_APPLIED;
    g->n.unauthorised += state == DC_CHANGE_UNAUTHORISED;
    g->n.future += state == DC_CHANGE_FUTURE;
    if ((need && (rc = dc__store_change_set_need(r->st, cno, need, &g->err))) ||
        (rc = dc__store_change_set_state(r->st, cno, state, &g->err)))
        return rc;
    return state == DC_CHANGE_APPLIED ? dc__store_pending_add(r->st, cno, nops, &g->err) : 0;
}

/* Whether a change of an author holding `role` goes on to be judged by its
 * ops: a writer's always; a reader's only where its key is at hand, since
 * a reader writes nothing but its own ack (docs/data-model.md,
 * "Compaction") and a device that cannot read it (a relay) must not pass
 * it on. */
static bool writer_or_ack(dc__ingest *g, const dc__envelope *e, int64_t sid, int role) {
    if (role >= DC_ROLE_MEMBER)
        return true;
    if (role < DC_ROLE_READER)
        return false;
    dc__err e2 = {0};
    return dc__space_key(g->r, sid, e->epoch, NULL, &e2) != NULL;
}

static int ingest_change(dc__ingest *g, const dc__envelope *e) {
    dc_replica *r = g->r;
    dc__space sp;
    int64_t did;
    int rc = seen(g, e, &sp, &did);
    if (rc) {
        g->n.dup += rc == 1;
        return rc < 0 ? rc : 0;
    }
    /* Covered by the point this replica compacted to: folded into its base
     * and dropped, never applied again (docs/data-model.md, "Compaction"). */
    bool covered;
    if ((rc = dc__store_compact_covered(r->st, sp.sid, did, e->seq, &covered, &g->err)))
        return rc;
    if (covered) {
        /* Its item is remembered, once its signature shows the author made
         * it, so that the next reconciliation finds it held and the peer
         * (a relay keeps every envelope) does not send it again. */
        g->n.dup++;
        uint8_t id[32];
        bool held;
        dc__envelope_id(id, e->raw, e->raw_len);
        if ((rc = dc__store_covered_has(r->st, sp.sid, e->hlc_min, id, &held, &g->err)) || held)
            return rc;
        if ((rc = dc__verifier_check(g->vf, g->at, e, &g->err)))
            return rc;
        return dc__store_covered_note(r->st, sp.sid, e->hlc_min, id, &g->err);
    }
    if ((rc = dc__verifier_check(g->vf, g->at, e, &g->err)) || (rc = own_new(g, e, sp.sid)))
        return rc;
    int role;
    if ((rc = dc__store_role_at(r->st, sp.sid, did, e->seq, &role, &g->err)))
        return rc;
    if (!writer_or_ack(g, e, sp.sid, role)) {
        /* Kept, not applied, not passed on: a grant may still make it
         * valid, or a removal has made it invalid for good. */
        uint8_t id[32];
        return store_new(g, e, sp.sid, did, DC_CHANGE_UNAUTHORISED, 0, id);
    }
    return place_change(g, e, sp.sid, did, role, 0);
}

/* Re-tries a stored held or opaque change (or a held membership envelope)
 * now that a key, the clock or the membership may have moved. */
static int release_one(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n) {
    dc__ingest *g = user;
    dc_replica *r = g->r;
    dc__envelope e;
    int rc = dc__envelope_parse(&e, env, n, &g->err);
    if (rc)
        return rc;
    if (e.kind == DC_ENV_KIND_MEMBERSHIP) {
        if (!dc__clock_acceptable(&r->clock, e.hlc_max))
            return 0;
        g->n.released++;
        if ((rc = dc__store_change_set_state(r->st, cno, DC_CHANGE_UNAUTHORISED, &g->err)))
            return rc;
        return dc__ingest_dirty(g, sid);
    }
    int64_t did;
    int role;
    if ((rc = dc__store_device(r->st, e.author, &did, &g->err)) ||
        (rc = dc__store_role_at(r->st, sid, did, e.seq, &role, &g->err)))
        return rc;
    if (!writer_or_ack(g, &e, sid, role)) {
        g->n.unauthorised++;
        return dc__store_change_set_state(r->st, cno, DC_CHANGE_UNAUTHORISED, &g->err);
    }
    /* The body is decoded in full before any op is applied, so a bad one
     * leaves the state untouched and is set aside, instead of failing this
     * and every later import. */
    rc = place_change(g, &e, sid, did, role, cno);
    if (rc && bad_content(rc)) {
        g->n.rejected++;
        if ((rc = dc__ingest_set_aside(g, &e, rc)))
            return rc;
        return dc__store_change_set_state(r->st, cno, DC_CHANGE_REJECTED, &g->err);
    }
    return rc;
}

/* Releases held changes whose time has come, and opaque changes of spaces
 * whose key (or authority) arrived; settles membership in between, until
 * nothing moves.  Inside the caller's store transaction. */
int dc__ingest_finish(dc__ingest *g) {
    dc_replica *r = g->r;
    int rc = 0;
    for (int round = 0; !rc; round++) {
        if ((rc = dc__ingest_settle(g)))
            break;
        int64_t *keyed = g->keyed;
        size_t nkeyed = g->nkeyed;
        g->keyed = NULL;
        g->nkeyed = g->ckeyed = 0;
        uint64_t before = g->n.released;
        for (size_t i = 0; i < nkeyed && !rc; i++)
            rc = dc__store_changes_in_state(r->st, keyed[i], DC_CHANGE_OPAQUE, UINT64_MAX,
                                            release_one, g, &g->err);
        dc__free(keyed);
        int64_t limit = dc__clock_limit_ms(&r->clock);
        if (!rc)
            rc = dc__store_changes_in_state(r->st, 0, DC_CHANGE_HELD, DC_HLC_MAKE(limit, 0xffff),
                                            release_one, g, &g->err);
        if (rc || (!g->ndirty && !g->nkeyed) || (g->n.released == before && round > 0))
            break;
    }
    return rc;
}

static void import_free(import *im) {
    if (im->ck)
        dc__store_ckpt_stop(im->g.r->st, im->ck);
    im->ck = NULL;
    dc__verifier_stop(im->g.vf);
    im->g.vf = NULL;
    dc__free(im->v);
    dc__free(im->done);
    dc__ingest_free(&im->g);
}

/* A sync imports in short slices, each its own transaction, so that a
 * write from another handle (the app's UI thread) never waits long for the
 * file's write lock: at most SLICE_ENVELOPES changes or SLICE_MS of work
 * each, then the lock is let go for a moment.  Membership goes in the first
 * slice, whole (its resolution is per space, not per envelope). */
#define SLICE_ENVELOPES 256
#define SLICE_MS 8
#define SLICE_PAUSE_MS 2

/* A bundle this big (in one transaction) leaves more than SQLite's 1,000
 * frames in the WAL at its commit, and its fold more: their checkpoints go
 * to the other core (store/checkpoint.c). */
#define CKPT_MIN_BYTES (1u << 20)

/* Settles and releases what a slice allows and counts its provisional
 * membership (inside the transaction). */
static int slice_settle(import *im) {
    dc_replica *r = im->g.r;
    int rc = dc__ingest_finish(&im->g);
    for (size_t i = 0; i < im->g.nprov && !rc; i++) {
        int state;
        if (!(rc = dc__store_change_state(r->st, im->g.prov[i], &state, &im->g.err)))
            im->g.n.unauthorised += state == DC_CHANGE_UNAUTHORISED;
    }
    return rc;
}

/* Ends a slice: settle and release what it allows, count its provisional
 * membership, commit, tell observers. */
static int slice_end(import *im, int *notify_rc) {
    dc_replica *r = im->g.r;
    int rc = slice_settle(im);
    if (!rc && !(rc = dc__store_hlc_save(r->st, r->clock.last, &im->g.err)))
        rc = dc__store_commit(r->st, &im->g.err);
    if (rc)
        return rc;
    im->g.nprov = 0;
    int n = dc__notify(r, &im->g.touched, "remote");
    if (n && !*notify_rc)
        *notify_rc = n;
    im->g.touched.n = 0;
    return 0;
}

/* One pass over the bundle from *at: membership envelopes (pass 0) or
 * changes (pass 1), until the end or, when `limited`, the slice's limits;
 * *at is where the next slice starts. */
static int ingest_pass(import *im, int pass, uint64_t *at, bool limited) {
    int64_t t0 = dc__os_mono_ms();
    unsigned done = 0;
    int rc = 0;
    uint64_t i = *at;
    for (; i < im->n; i++) {
        if (limited && (done >= SLICE_ENVELOPES || dc__os_mono_ms() - t0 >= SLICE_MS))
            break;
        dc__envelope e;
        if (im->done[i])
            continue;
        if ((rc = dc__envelope_parse(&e, im->v[i].p, im->v[i].n, &im->g.err))) {
            im->done[i] = true;
            if ((rc = fail_or_set_aside(im, i, NULL, rc)))
                break;
            continue;
        }
        if ((e.kind == DC_ENV_KIND_MEMBERSHIP) != (pass == 0))
            continue;
        im->done[i] = true;
        im->g.at = i;
        done++;
        rc = pass == 0 ? ingest_membership(&im->g, &e) : ingest_change(&im->g, &e);
        if (rc && (rc = fail_or_set_aside(im, i, &e, rc)))
            break;
    }
    *at = i;
    return rc;
}

static int import_all(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
                      dc__import_counts *counts);

int dc__import(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
               dc__import_counts *counts) {
    r->clone_seen = false;
    int rc = import_all(r, data, size, flags, counts);
    /* After the import's transactions, committed or rolled back. */
    dc__clone_persist(r);
    return rc;
}

static int import_all(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
                      dc__import_counts *counts) {
import im;
    memset(&im, 0, sizeof im);
    im.g.r = r;
    im.g.flags = flags;
    if (counts)
        memset(counts, 0, sizeof *counts);
    /* Imports judge timestamps against the clock: it must read a time. */
    int rc = dc__clock_check(&r->clock, &im.g.err);
    if (rc)
        return dc__fail_err(r, &im.g.err);
    uint64_t count;
    /* The bundle's framing first, its hash once the signature checks have
     * started on the other cores (they change nothing).  A bundle refused
     * here gets the error it always had: its header's, else its hash's,
     * else its framing's. */
    rc = dc__bundle_frame(data, size, &count, collect, &im, &im.g.err);
    if (rc && rc != DC_ENOMEM) {
        dc__err e2 = {0};
        if (dc__bundle_parse(data, size, &count, NULL, NULL, &e2))
            im.g.err = e2;
    }
    if (rc) {
        if (!im.g.err.code)
            dc__err_set(&im.g.err, rc, "bundle: unreadable");
        dc__err_suffix(&im.g.err, "; nothing was imported");
        import_free(&im);
        return dc__fail_err(r, &im.g.err);
    }
    im.g.n.envelopes = im.n;
    dc_hlc saved = r->clock.last;
    int notify_rc = 0;
    bool committed = false; /* a slice went in (a sliced import only) */
    uint64_t at = 0, next = 0;
    /* Signatures are checked ahead on other cores while envelopes are
     * stored (verify.c); without threads, in line. */
    if (dc__verifier_start(&im.g.vf, im.v, im.n)) {
        dc__err_set(&im.g.err, DC_ENOMEM, "bundle: out of memory");
        rc = DC_ENOMEM;
        goto fail_nodb;
    }
    if ((rc = dc__bundle_checksum(data, size, &im.g.err)))
        goto fail_nodb;
    /* Framing of every envelope before touching the store. */
    bool sliced = flags & DC__IMPORT_SET_ASIDE;
    for (uint64_t i = 0; i < im.n && !sliced; i++) {
        dc__envelope e;
        if ((rc = dc__envelope_parse(&e, im.v[i].p, im.v[i].n, &im.g.err))) {
            where(&im, i);
            goto fail_nodb;
        }
    }
    /* Folding late: the last import's changes go into the state now, while
     * the other cores check this one's signatures (its observers are told
     * now too).  A failed fold leaves them pending, as below. */
    if (flags & DC__IMPORT_FOLD_LATE) {
        dc__touched t = {NULL, 0, 0};
        dc__err e = {0};
        if (dc__fold_notify(r, &t, &e) == DC_EUSER)
            notify_rc = DC_EUSER;
        dc__free(t.rids);
    }
    /* The commit's and the fold's checkpoints on the other core, joined
     * before this returns (docs/storage.md, "sixth pass"). */
    if (!sliced && size >= CKPT_MIN_BYTES)
        im.ck = dc__store_ckpt_start(r->st);
    /* Membership first, then the changes, so that authority is known. */
    if ((rc = dc__replica_begin(r, &im.g.err)))
        goto fail_nodb;
    if ((rc = ingest_pass(&im, 0, &at, false)) || (rc = dc__ingest_settle(&im.g)))
        goto fail;
    if (!sliced) {
        /* All or nothing: one transaction. */
        if ((rc = ingest_pass(&im, 1, &next, false)) || (rc = slice_end(&im, &notify_rc)))
            goto fail;
    } else {
        if ((rc = slice_end(&im, &notify_rc)))
            goto fail;
        committed = true;
        while (next < im.n) {
            /* The lock is let go; the core checks signatures ahead. */
            dc__verifier_pause(im.g.vf, SLICE_PAUSE_MS);
            if ((rc = dc__replica_begin(r, &im.g.err)))
                goto fail_nodb;
            if ((rc = ingest_pass(&im, 1, &next, true)) || (rc = slice_end(&im, &notify_rc)))
                goto fail;
        }
    }
    if (counts)
        *counts = im.g.n;
    if (flags & DC__IMPORT_FOLD_LATE) {
        import_free(&im);
        return notify_rc;
    }
    /* Every slice is in the log: now the state takes them, window by
     * window, and the observer hears of the records that moved.  A failed
     * fold leaves them pending for the next read; the import itself
     * stands. */
    rc = dc__fold_notify(r, &im.g.touched, &im.g.err);
    if (rc && rc != DC_EUSER)
        dc__err_clear(&im.g.err);
    if (rc == DC_EUSER && !notify_rc)
        notify_rc = rc;
    /* A new published point: the replica compacts to it now (its failure
     * leaves the space uncompacted; the import stands). */
    if (counts)
        dc__compact_auto(r, &counts->compacted, &counts->snapshot_needed);
    else
        dc__compact_auto(r, NULL, NULL);
    import_free(&im);
    return notify_rc;
fail:
    dc__store_rollback(r->st);
    r->clock.last = saved;
    r->key_sid = 0;
fail_nodb:
    dc__err_suffix(&im.g.err,
                   committed ? "; the slices before it were imported" : "; nothing was imported");
    import_free(&im);
    return dc__fail_err(r, &im.g.err);
}

int dc__import_group(dc_replica *r, dc__import_req *reqs, size_t n, dc__err *err) {
    return dc__import_group_with(r, reqs, n, NULL, NULL, err);
}

int dc__import_group_with(dc_replica *r, dc__import_req *reqs, size_t n, dc__import_hook_fn hook,
                          void *hook_user, dc__err *err) {
    dc__err_clear(err);
    import *ims = dc__calloc(n ? n : 1, sizeof *ims);
    int rc = ims ? dc__clock_check(&r->clock, err)
                 : dc__err_set(err, DC_ENOMEM, "import: out of memory");
    dc_hlc saved = r->clock.last;
    if (!rc)
        rc = dc__replica_begin(r, err);
    for (size_t i = 0; i < n && !rc; i++) {
        dc__import_req *q = &reqs[i];
        import *im = &ims[i];
        im->g.r = r;
        im->g.flags = DC__IMPORT_SET_ASIDE;
        memset(&q->counts, 0, sizeof q->counts);
        dc__err_clear(&q->err);
        uint64_t count, at = 0, next = 0;
        int x = dc__bundle_parse(q->data, q->size, &count, collect, im, &im->g.err);
        if (x && !im->g.err.code)
            dc__err_set(&im->g.err, x, "bundle: unreadable");
        im->g.n.envelopes = im->n;
        if (!x && (x = q->checked && q->nchecked == im->n
                           ? dc__verifier_prechecked(&im->g.vf, q->checked, q->nchecked)
                           : 0))
            dc__err_set(&im->g.err, x, "bundle: out of memory");
        if (!x && (x = dc__store_savepoint(r->st, &im->g.err)) == 0) {
            r->clock.lead_ms = q->lead_ms;
            if ((x = ingest_pass(im, 0, &at, false)) || (x = dc__ingest_settle(&im->g)) ||
                (x = ingest_pass(im, 1, &next, false)) || (x = slice_settle(im)) ||
                (q->check && (x = q->check(q->check_user, r->st, &im->g.err))))
                dc__store_savepoint_rollback(r->st);
            else
                x = dc__store_savepoint_release(r->st, &im->g.err);
            r->clock.lead_ms = 0;
            r->key_sid = 0;
        }
        q->rc = x;
        if (x) {
            q->err = im->g.err;
            dc__err_suffix(&q->err, "; nothing was imported");
            /* What a failed bundle touched is not to be notified. */
            im->g.touched.n = 0;
        } else {
            q->counts = im->g.n;
        }
        dc__verifier_stop(im->g.vf);
        im->g.vf = NULL;
    }
    /* The hook (a relay's shared log) takes the group before it commits
     * here: when it cannot, nothing of the group is kept. */
    if (!rc && hook)
        rc = hook(hook_user, reqs, n, err);
    if (!rc && !(rc = dc__store_hlc_save(r->st, r->clock.last, err)))
        rc = dc__store_commit(r->st, err);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        r->key_sid = 0;
        for (size_t i = 0; i < n; i++)
            if (!reqs[i].rc) {
                reqs[i].rc = rc;
                reqs[i].err = *err;
                dc__err_suffix(&reqs[i].err, "; nothing was imported");
                memset(&reqs[i].counts, 0, sizeof reqs[i].counts);
            }
    } else {
        /* Committed: observers hear of the records that moved (a replica
         * with keys; a keyless store folds nothing). */
        for (size_t i = 0; i < n; i++) {
            if (reqs[i].rc)
                continue;
            dc__notify(r, &ims[i].g.touched, "remote");
            ims[i].g.touched.n = 0;
            dc__err e = {0};
            dc__fold_notify(r, &ims[i].g.touched, &e);
        }
    }
    for (size_t i = 0; ims && i < n; i++)
        import_free(&ims[i]);
    dc__free(ims);
    return rc;
}

/* The import report: the counts as JSON, for the edges (CLI, bindings). */
static int report_json(dc_buf *report, const dc__import_counts *c) {
    dc__buf_clear(report);
    return dc__buf_printf(report,
                          "{\"envelopes\":%llu,\"new\":%llu,\"duplicate\":%llu,"
                          "\"held\":%llu,\"opaque\":%llu,\"released\":%llu,"
                          "\"rejected\":%llu,\"unauthorised\":%llu,\"set_aside\":%llu,"
                          "\"future\":%llu,\"compacted\":%llu,\"snapshot_needed\":%llu}",
                          (unsigned long long)c->envelopes, (unsigned long long)c->fresh,
                          (unsigned long long)c->dup, (unsigned long long)c->held,
                          (unsigned long long)c->opaque, (unsigned long long)c->released,
                          (unsigned long long)c->rejected, (unsigned long long)c->unauthorised,
                          (unsigned long long)c->set_aside, (unsigned long long)c->future,
                          (unsigned long long)c->compacted, (unsigned long long)c->snapshot_needed);
}

int dc_bundle_import_with(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
                          dc_buf *report) {
    DC__CHECK(r);
    if (!data && size)
        return dc__fail(r, DC_EMISUSE, "bundle import: data is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "bundle import: a transaction is open on this replica");
    if (flags & ~(unsigned)DC_IMPORT_SET_ASIDE)
        return dc__fail(r, DC_EINVAL, "bundle import: unknown flags 0x%x", flags);
    dc__import_counts c;
    int rc = dc__import(r, data, size, flags & DC_IMPORT_SET_ASIDE ? DC__IMPORT_SET_ASIDE : 0, &c);
    if (rc != 0 && rc != DC_EUSER)
        return rc;
    if (report && report_json(report, &c))
        return dc__fail(r, DC_ENOMEM,
                        "bundle import: out of memory for the report (the bundle was imported)");
    return rc;
}

int dc_bundle_import(dc_replica *r, const uint8_t *data, size_t size, dc_buf *report) {
    return dc_bundle_import_with(r, data, size, 0, report);
}

int dc_bundle_import_file(dc_replica *r, const char *path, dc_buf *report) {
    return dc_bundle_import_file_with(r, path, 0, report);
}

int dc_bundle_import_file_with(dc_replica *r, const char *path, unsigned flags, dc_buf *report) {
    DC__CHECK(r);
    if (!path)
        return dc__fail(r, DC_EMISUSE, "bundle import: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return dc__fail(r, DC_EIO, "bundle import: cannot open %s", path);
    dc_buf b = DC_BUF_INIT;
    uint8_t chunk[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (dc__buf_put(&b, chunk, got)) {
            rc = dc__fail(r, DC_ENOMEM, "bundle import: out of memory reading %s", path);
            break;
        }
    if (!rc && ferror(f))
        rc = dc__fail(r, DC_EIO, "bundle import: error reading %s", path);
    fclose(f);
    if (!rc)
        rc = dc_bundle_import_with(r, b.ptr ? b.ptr : chunk, b.size, flags, report);
    dc_buf_dispose(&b);
    return rc;
}

int dc_replica_release_held(uint64_t *applied, dc_replica *r) {
    DC__CHECK(r);
    if (applied)
        *applied = 0;
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "release held: a transaction is open on this replica");
    dc__ingest g;
    memset(&g, 0, sizeof g);
    g.r = r;
    dc_hlc saved = r->clock.last;
    int rc = dc__replica_begin(r, &g.err);
    if (!rc && !(rc = dc__ingest_finish(&g)) &&
        !(rc = dc__store_hlc_save(r->st, r->clock.last, &g.err)))
        rc = dc__store_commit(r->st, &g.err);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        r->key_sid = 0;
        dc__ingest_free(&g);
        return dc__fail_err(r, &g.err);
    }
    if (applied)
        *applied = g.n.released;
    rc = dc__fold_notify(r, &g.touched, &g.err);
    dc__ingest_free(&g);
    return rc == DC_EUSER ? rc : 0;
}
