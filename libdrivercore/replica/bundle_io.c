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

typedef struct ent {
    const uint8_t *p;
    size_t n;
    bool done;
} ent;

typedef struct import {
    dc_replica *r;
    ent *v;
    uint64_t n, cap;
    uint64_t fresh, dup, held, opaque, released, rejected;
    dc__touched touched;
    int64_t *keyed; /* spaces whose key arrived in this bundle */
    size_t nkeyed;
    dc__err err;
} import;

static int collect(void *user, uint64_t i, const uint8_t *p, size_t n) {
    import *im = user;
    (void)i;
    if (im->n == im->cap) {
        uint64_t nc = im->cap ? im->cap * 2 : 256;
        ent *v = dc__realloc(im->v, nc * sizeof *v);
        if (!v)
            return dc__err_set(&im->err, DC_ENOMEM, "bundle: out of memory");
        im->v = v;
        im->cap = nc;
    }
    im->v[im->n++] = (ent){p, n, false};
    return 0;
}

static int where(import *im, uint64_t i) {
    return dc__err_prefix(&im->err, "bundle: envelope %llu of %llu", (unsigned long long)i + 1,
                          (unsigned long long)im->n);
}

/* Looks the envelope up in the log: 1 duplicate, 0 new, or an error (a
 * different envelope under the same author and sequence number). */
static int seen(import *im, const dc__envelope *e, dc__space *sp, int64_t *did) {
    dc_replica *r = im->r;
    int rc;
    if ((rc = dc__store_space_ensure(r->st, e->space, sp, &im->err)) ||
        (rc = dc__store_device(r->st, e->author, did, &im->err)))
        return rc;
    uint8_t have[32], id[32];
    rc = dc__store_change_find(r->st, sp->sid, *did, e->seq, have, &im->err);
    if (rc <= 0)
        return rc;
    dc__envelope_id(id, e->raw, e->raw_len);
    if (sodium_memcmp(have, id, 32) != 0) {
        /* Either a damaged or forged copy of a change we hold, or a device
         * that really signed two changes with one number: the signature
         * tells which, and only the second is equivocation. */
        if ((rc = dc__envelope_verify(e, &im->err)))
            return rc;
        char dev[17];
        dc__hex(dev, e->author, 8);
        return dc__err_set(&im->err, DC_ECONFLICT,
                           "device %s... signed two different changes "
                           "with sequence number %llu (a cloned or broken device)",
                           dev, (unsigned long long)e->seq);
    }
    return 1;
}

static int store_new(import *im, const dc__envelope *e, int64_t sid, int64_t did, int state) {
    uint8_t id[32];
    dc__envelope_id(id, e->raw, e->raw_len);
    int rc = dc__store_change_put(im->r->st, sid, e, id, did, state, &im->err);
    if (!rc) {
        im->fresh++;
        im->held += state == DC_CHANGE_HELD;
        im->opaque += state == DC_CHANGE_OPAQUE;
    }
    return rc;
}

/* Checks the ops of a verified membership envelope and, unless `check_only`,
 * applies them: 1 done, 0 not yet (its author is not known as an admin),
 * or an error.  Authority only grows (ever_admin), so an envelope that
 * passes the check now passes it when it is applied later. */
static int apply_membership(import *im, const dc__envelope *e, int64_t sid, bool check_only) {
    dc_replica *r = im->r;
    dc__member_op *ops;
    size_t nops;
    int rc = dc__member_decode(&ops, &nops, e->payload, e->payload_len, &im->err);
    if (rc)
        return rc;
    if (e->hlc_max - e->hlc_min != nops - 1) {
        dc__free(ops);
        return dc__err_set(&im->err, DC_ECORRUPT,
                           "membership: the timestamp range does not "
                           "match its %zu ops",
                           nops);
    }
    dc__member author;
    if ((rc = dc__store_member_get(r->st, sid, e->author, &author, &im->err))) {
        dc__free(ops);
        return rc;
    }
    for (size_t i = 0; i < nops; i++) {
        const dc__member_op *op = &ops[i];
        if (op->kind == DC_MOP_GENESIS) {
            uint8_t pre[48], want[16];
            memcpy(pre, op->device, 32);
            memcpy(pre + 32, op->nonce, 16);
            dc__hash(want, 16, pre, sizeof pre);
            if (memcmp(op->device, e->author, 32) != 0 || memcmp(want, e->space, 16) != 0) {
                dc__free(ops);
                return dc__err_set(&im->err, DC_EBADSIG,
                                   "membership: a genesis that does not "
                                   "match the space id (forged space)");
            }
        } else if (!author.ever_admin) {
            dc__free(ops);
            return 0;
        }
    }
    for (size_t i = 0; i < nops && !rc && !check_only; i++) {
        const dc__member_op *op = &ops[i];
        rc = dc__store_member_apply(r->st, sid, op, e->hlc_min + i, e->author, &im->err);
        if (!rc && op->kind == DC_MOP_GRANT && memcmp(op->device, r->id->sign_pk, 32) == 0) {
            /* A grant to this device carries the space key sealed to us. */
            uint8_t *key = dc__secret_alloc(DC_SPACE_KEY);
            if (!key) {
                rc = dc__err_set(&im->err, DC_ENOMEM, "out of memory");
                break;
            }
            if (dc__key_open(key, op->sealed, r->id) != 0) {
                rc = dc__err_set(&im->err, DC_EBADSIG,
                                 "membership: the space key sealed to this "
                                 "device cannot be opened (damaged or forged grant)");
            } else if (!(rc = dc__store_key_put(r->st, sid, op->epoch, key, &im->err))) {
                int64_t *k = dc__realloc(im->keyed, (im->nkeyed + 1) * sizeof *k);
                if (!k)
                    rc = dc__err_set(&im->err, DC_ENOMEM, "out of memory");
                else
                    (im->keyed = k)[im->nkeyed++] = sid;
            }
            dc__secret_free(key);
        }
    }
    dc__free(ops);
    if (!rc && !check_only)
        dc__clock_observe(&r->clock, e->hlc_max);
    return rc ? rc : 1;
}

/* Tries one membership envelope from a bundle: 1 done (applied, held or a
 * duplicate), 0 not yet (its author is not known as an admin), or an
 * error. */
static int try_membership(import *im, const dc__envelope *e) {
    dc__space sp;
    int64_t did;
    int rc = seen(im, e, &sp, &did);
    if (rc) {
        im->dup += rc == 1;
        return rc < 0 ? rc : 1;
    }
    if ((rc = dc__envelope_verify(e, &im->err)))
        return rc;
    /* A grant stamped far ahead would win that device's role for ever, so
     * it waits; but it is decoded and its author's authority checked now,
     * so nothing a stranger signs can sit in the log. */
    bool hold = !dc__clock_acceptable(&im->r->clock, e->hlc_max);
    rc = apply_membership(im, e, sp.sid, hold);
    if (rc == 1 && hold)
        return (rc = store_new(im, e, sp.sid, did, DC_CHANGE_HELD)) ? rc : 1;
    if (rc == 1 && (rc = store_new(im, e, sp.sid, did, DC_CHANGE_APPLIED)) == 0)
        rc = 1;
    return rc;
}

static int ingest_change(import *im, const dc__envelope *e) {
    dc_replica *r = im->r;
    dc__space sp;
    int64_t did;
    int rc = seen(im, e, &sp, &did);
    if (rc) {
        im->dup += rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = dc__envelope_verify(e, &im->err)))
        return rc;
    dc__member author;
    if ((rc = dc__store_member_get(r->st, sp.sid, e->author, &author, &im->err)))
        return rc;
    if (!author.ever_writer) {
        char dev[17], space[33];
        dc__hex(dev, e->author, 8);
        dc__hex(space, e->space, 16);
        return dc__err_set(&im->err, DC_EDENIED,
                           "a change by device %s..., which is not a "
                           "writer of space %s",
                           dev, space);
    }
    if (!dc__space_key(r, sp.sid, e->epoch, &im->err)) {
        if (im->err.code != DC_ENOKEY)
            return im->err.code;
        dc__err_clear(&im->err);
        return store_new(im, e, sp.sid, did, DC_CHANGE_OPAQUE);
    }
    if (!dc__clock_acceptable(&r->clock, e->hlc_max))
        return store_new(im, e, sp.sid, did, DC_CHANGE_HELD);
    if ((rc = dc__change_apply(r, e, sp.sid, did, r->obs ? &im->touched : NULL, &im->err)))
        return rc;
    dc__clock_observe(&r->clock, e->hlc_max);
    return store_new(im, e, sp.sid, did, DC_CHANGE_APPLIED);
}

/* Errors that condemn the change itself, not this attempt to apply it. */
static bool bad_content(int rc) {
    return rc == DC_ECORRUPT || rc == DC_EBADSIG || rc == DC_ETOOBIG || rc == DC_EVERSION;
}

/* Applies a stored held or opaque change if it can be now. */
static int release_one(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n) {
    import *im = user;
    dc_replica *r = im->r;
    dc__envelope e;
    int rc = dc__envelope_parse(&e, env, n, &im->err);
    if (rc)
        return rc;
    if (e.kind == DC_ENV_KIND_CHANGE && !dc__space_key(r, sid, e.epoch, &im->err)) {
        if (im->err.code != DC_ENOKEY)
            return im->err.code;
        dc__err_clear(&im->err);
        return 0; /* still no key */
    }
    if (!dc__clock_acceptable(&r->clock, e.hlc_max)) {
        /* An opaque change whose key came but whose time has not. */
        return dc__store_change_set_state(r->st, cno, DC_CHANGE_HELD, &im->err);
    }
    if (e.kind == DC_ENV_KIND_MEMBERSHIP) {
        rc = apply_membership(im, &e, sid, false);
        if (rc == 0)
            return 0; /* its author is not an admin yet */
        if (rc < 0 && bad_content(rc)) {
            dc__err_clear(&im->err);
            im->rejected++;
            return dc__store_change_set_state(r->st, cno, DC_CHANGE_REJECTED, &im->err);
        }
        if (rc < 0)
            return rc;
    } else {
        int64_t did;
        if ((rc = dc__store_device(r->st, e.author, &did, &im->err)))
            return rc;
        /* The body is decoded in full before any op is applied, so a bad one
         * leaves the state untouched and is set aside, instead of failing
         * this and every later import. */
        rc = dc__change_apply(r, &e, sid, did, r->obs ? &im->touched : NULL, &im->err);
        if (rc && bad_content(rc)) {
            dc__err_clear(&im->err);
            im->rejected++;
            return dc__store_change_set_state(r->st, cno, DC_CHANGE_REJECTED, &im->err);
        }
        if (rc)
            return rc;
        dc__clock_observe(&r->clock, e.hlc_max);
    }
    im->released++;
    return dc__store_change_set_state(r->st, cno, DC_CHANGE_APPLIED, &im->err);
}

/* Releases held changes whose time has come, and opaque changes of spaces
 * whose key arrived.  Inside the caller's store transaction. */
static int release_pending(import *im) {
    dc_replica *r = im->r;
    int rc = 0;
    for (size_t i = 0; i < im->nkeyed && !rc; i++)
        rc = dc__store_changes_in_state(r->st, im->keyed[i], DC_CHANGE_OPAQUE, UINT64_MAX,
                                        release_one, im, &im->err);
    if (rc)
        return rc;
    int64_t limit = dc__clock_wall_ms(&r->clock) + r->clock.max_skew_ms;
    return dc__store_changes_in_state(r->st, 0, DC_CHANGE_HELD, DC_HLC_MAKE(limit, 0xffff),
                                      release_one, im, &im->err);
}

static void import_free(import *im) {
    dc__free(im->v);
    dc__free(im->touched.rids);
    dc__free(im->keyed);
}

int dc_bundle_import(dc_replica *r, const uint8_t *data, size_t size, dc_buf *report) {
    DC__CHECK(r);
    if (!data && size)
        return dc__fail(r, DC_EMISUSE, "bundle import: data is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "bundle import: a transaction is open on this replica");
import im;
    memset(&im, 0, sizeof im);
    im.r = r;
    uint64_t count;
    int rc = dc__bundle_parse(data, size, &count, collect, &im, &im.err);
    if (rc) {
        if (!im.err.code)
            dc__err_set(&im.err, rc, "bundle: unreadable");
        dc__err_suffix(&im.err, "; nothing was imported");
        import_free(&im);
        return dc__fail_err(r, &im.err);
    }
    /* Framing of every envelope before touching the store. */
    for (uint64_t i = 0; i < im.n; i++) {
        dc__envelope e;
        if ((rc = dc__envelope_parse(&e, im.v[i].p, im.v[i].n, &im.err))) {
            where(&im, i);
            goto fail_nodb;
        }
    }
    dc_hlc saved = r->clock.last;
    if ((rc = dc__store_begin(r->st, &im.err)))
        goto fail_nodb;
    /* Membership, until a pass accepts nothing more. */
    bool progress = true;
    while (progress) {
        progress = false;
        for (uint64_t i = 0; i < im.n; i++) {
            dc__envelope e;
            if (im.v[i].done || im.v[i].p[5] != DC_ENV_KIND_MEMBERSHIP)
                continue;
            dc__envelope_parse(&e, im.v[i].p, im.v[i].n, &im.err);
            rc = try_membership(&im, &e);
            if (rc < 0) {
                where(&im, i);
                goto fail;
            }
            if (rc == 1) {
                im.v[i].done = progress = true;
            }
        }
    }
    for (uint64_t i = 0; i < im.n; i++) {
        if (!im.v[i].done && im.v[i].p[5] == DC_ENV_KIND_MEMBERSHIP) {
            rc = dc__err_set(&im.err, DC_EDENIED,
                             "membership signed by a device that is not an "
                             "admin of the space");
            where(&im, i);
            goto fail;
        }
    }
    for (uint64_t i = 0; i < im.n; i++) {
        dc__envelope e;
        if (im.v[i].done)
            continue;
        dc__envelope_parse(&e, im.v[i].p, im.v[i].n, &im.err);
        if ((rc = ingest_change(&im, &e))) {
            where(&im, i);
            goto fail;
        }
    }
    if ((rc = release_pending(&im)))
        goto fail;
    if ((rc = dc__store_hlc_save(r->st, r->clock.last, &im.err)) ||
        (rc = dc__store_commit(r->st, &im.err)))
        goto fail;
    if (report) {
        dc__buf_clear(report);
        if (dc__buf_printf(report,
                           "{\"envelopes\":%llu,\"new\":%llu,\"duplicate\":%llu,"
                           "\"held\":%llu,\"opaque\":%llu,\"released\":%llu,"
                           "\"rejected\":%llu}",
                           (unsigned long long)im.n, (unsigned long long)im.fresh,
                           (unsigned long long)im.dup, (unsigned long long)im.held,
                           (unsigned long long)im.opaque, (unsigned long long)im.released,
                           (unsigned long long)im.rejected)) {
            import_free(&im);
            return dc__fail(r, DC_ENOMEM,
                            "bundle import: out of memory for the report (the "
                            "bundle was imported)");
        }
    }
    rc = dc__notify(r, &im.touched, "remote");
    import_free(&im);
    return rc;
fail:
    dc__store_rollback(r->st);
    r->clock.last = saved;
fail_nodb:
    dc__err_suffix(&im.err, "; nothing was imported");
    import_free(&im);
    return dc__fail_err(r, &im.err);
}

int dc_bundle_import_file(dc_replica *r, const char *path, dc_buf *report) {
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
        rc = dc_bundle_import(r, b.ptr ? b.ptr : chunk, b.size, report);
    dc_buf_dispose(&b);
    return rc;
}

int dc_replica_release_held(uint64_t *applied, dc_replica *r) {
    DC__CHECK(r);
    if (applied)
        *applied = 0;
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "release held: a transaction is open on this replica");
import im;
    memset(&im, 0, sizeof im);
    im.r = r;
    dc_hlc saved = r->clock.last;
    int rc = dc__store_begin(r->st, &im.err);
    if (!rc && !(rc = release_pending(&im)) &&
        !(rc = dc__store_hlc_save(r->st, r->clock.last, &im.err)))
        rc = dc__store_commit(r->st, &im.err);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        import_free(&im);
        return dc__fail_err(r, &im.err);
    }
    if (applied)
        *applied = im.released;
    rc = dc__notify(r, &im.touched, "remote");
    import_free(&im);
    return rc;
}
