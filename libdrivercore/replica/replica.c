/*
 * The replica handle: opening (and creating) a replica with its device
 * identity, the device card, dump, status, observers, and the shared
 * helpers of the other public entry points in this folder.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

#define DEFAULT_SKEW_MS (3600 * 1000)

int dc__fail(dc_replica *r, int code, const char *fmt, ...) {
    r->err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    return code;
}

int dc__fail_err(dc_replica *r, const dc__err *e) {
    if (e != &r->err)
        r->err = *e;
    if (r->err.code == 0)
        r->err.code = DC_ERROR;
    return r->err.code;
}

int dc__space_id_parse(dc_replica *r, const char *hex, uint8_t id[16]) {
    if (!hex)
        return dc__fail(r, DC_EMISUSE, "the space id is NULL");
    if (dc__unhex(id, 16, hex) != 0)
        return dc__fail(r, DC_EINVAL, "'%.40s' is not a space id (32 hex characters)", hex);
    return 0;
}

/* A held change of a body version this library did not read, tried again. */
static int retry_future(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n) {
    dc__ingest *g = user;
    dc__envelope e;
    if (dc__envelope_parse(&e, env, n, &g->err))
        return g->err.code;
    if (e.kind == DC_ENV_KIND_MEMBERSHIP) {
        dc__member_op *ops;
        size_t nops;
        dc__err de = {0};
        if (dc__member_decode(&ops, &nops, e.payload, e.payload_len, &de) != 0)
            return 0; /* still newer than this library: stays held */
        dc__free(ops);
        int rc = dc__store_change_set_state(g->r->st, cno, DC_CHANGE_UNAUTHORISED, &g->err);
        return rc ? rc : dc__ingest_dirty(g, sid);
    }
    /* As if its key had just come: the release judges it again, and holds
     * it once more if its version is still too new. */
    int rc = dc__store_change_set_state(g->r->st, cno, DC_CHANGE_OPAQUE, &g->err);
    return rc ? rc : dc__ingest_keyed(g, sid);
}

/* After an upgrade: the changes kept for a body version the previous
 * library did not read are tried again, once (docs/data-model.md,
 * "Versions").  A failure here is not the open's: they stay held, and
 * the next open tries again. */
static void formats_upgrade(dc_replica *r) {
    dc__err e = {0};
    int64_t bv = 0, mv = 0;
    int x = dc__store_meta_get(r->st, "body_version", &bv, &e);
    if (x && x != DC_ENOTFOUND)
        return;
    if ((x = dc__store_meta_get(r->st, "member_version", &mv, &e)) && x != DC_ENOTFOUND)
        return;
    if (bv >= DC_BODY_VERSION_MAX && mv >= DC_MEMBER_VERSION_MAX)
        return;
    dc__ingest g;
    memset(&g, 0, sizeof g);
    g.r = r;
    dc_hlc saved = r->clock.last;
    int rc = dc__replica_begin(r, &g.err);
    if (!rc &&
        !(rc = dc__store_changes_in_state(r->st, 0, DC_CHANGE_FUTURE, UINT64_MAX, retry_future, &g,
                                          &g.err)) &&
        !(rc = dc__ingest_finish(&g)) &&
        !(rc = dc__store_meta_put(r->st, "body_version", DC_BODY_VERSION_MAX, &g.err)) &&
        !(rc = dc__store_meta_put(r->st, "member_version", DC_MEMBER_VERSION_MAX, &g.err)) &&
        !(rc = dc__store_hlc_save(r->st, r->clock.last, &g.err)))
        rc = dc__store_commit(r->st, &g.err);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        r->key_sid = 0;
    } else {
        dc__fold_notify(r, &g.touched, &g.err);
    }
    dc__ingest_free(&g);
}

int dc_global_init(const dc_global_options *opts) {
    int rc = dc__global_init_base(opts);
    if (rc)
        return rc;
    dc__err e = {0};
    if ((rc = dc__store_global_init(&e)))
        dc__last_from(&e);
    return rc;
}

int dc_replica_open(dc_replica **out, const char *path, const dc_replica_options *opts) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_replica_open: out is NULL");
    *out = NULL;
    int rc = dc__ensure_init();
    if (rc)
        return rc;
    dc__last_clear();
    if (!path)
        return dc__last_set(DC_EMISUSE, "dc_replica_open: path is NULL");
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    if (opts) {
        if (opts->version < 1 || opts->version > DC_REPLICA_OPTIONS_VERSION)
            return dc__last_set(DC_EINVAL, "dc_replica_open: options version %u is unknown",
                                opts->version);
        /* Copy only the fields the caller's version has (o holds the
         * defaults for the rest): version 1 ends before `durable`, version
         * 2 before `key_provider`. */
        size_t have = opts->version >= 4   ? sizeof o
                      : opts->version == 3 ? offsetof(dc_replica_options, install_id)
                      : opts->version == 2 ? offsetof(dc_replica_options, key_provider)
                                           : offsetof(dc_replica_options, durable);
        memcpy(&o, opts, have);
        o.version = DC_REPLICA_OPTIONS_VERSION;
    }
    if (o.max_clock_skew_ms < 0 || o.max_clock_skew_ms > DC_HLC_MAX_MS)
        return dc__last_set(DC_EINVAL, "dc_replica_open: max_clock_skew_ms must be 0 to %lld",
                            (long long)DC_HLC_MAX_MS);
    if (o.install_id && (!*o.install_id || strlen(o.install_id) > 127 ||
                         !dc__utf8_valid((const uint8_t *)o.install_id, strlen(o.install_id))))
        return dc__last_set(DC_EINVAL, "dc_replica_open: install_id must be 1 to 127 bytes of "
                                       "UTF-8");
    const char *name = o.device_name ? o.device_name : "";
    if (strlen(name) >= sizeof(((dc_replica *)0)->name) ||
        !dc__utf8_valid((const uint8_t *)name, strlen(name)))
        return dc__last_set(DC_EINVAL, "dc_replica_open: the device name must be valid UTF-8 "
                                       "of at most 127 bytes");
    dc_replica *r = dc__calloc(1, sizeof *r);
    if (!r)
        return dc__last_set(DC_ENOMEM, "dc_replica_open: out of memory");
    r->clock.now = o.clock;
    r->clock.now_user = o.clock_user;
    r->clock.max_skew_ms = o.max_clock_skew_ms ? o.max_clock_skew_ms : DEFAULT_SKEW_MS;
    dc__err e = {0};
    if ((rc = dc__clock_check(&r->clock, &e)))
        goto fail;
    if ((rc = dc__store_open(&r->st, path, o.must_exist != 0, o.durable != 0, o.key_provider,
                             o.key_user, &e)))
        goto fail;
    r->id = sodium_malloc(sizeof *r->id);
    r->key = sodium_malloc(DC_SPACE_KEY);
    if (!r->id || !r->key) {
        rc = dc__err_set(&e, DC_ENOMEM, "out of memory for the device keys");
        goto fail;
    }
    rc = dc__store_identity_load(r->st, r->id, r->name, sizeof r->name, &e);
    if (rc == DC_ENOTFOUND) {
        /* First open: make this device's identity. */
        dc__identity *fresh = dc__identity_new();
        if (!fresh) {
            rc = dc__err_set(&e, DC_ENOMEM, "out of memory for the device keys");
            goto fail;
        }
        memcpy(r->id, fresh, sizeof *fresh);
        dc__identity_free(fresh);
        snprintf(r->name, sizeof r->name, "%s", name);
        if ((rc = dc__store_begin(r->st, &e)))
            goto fail;
        if ((rc = dc__store_identity_save(r->st, r->id, r->name, &e)) ||
            (rc = dc__store_commit(r->st, &e))) {
            dc__store_rollback(r->st);
            goto fail;
        }
    } else if (rc) {
        goto fail;
    }
    if ((rc = dc__store_hlc_load(r->st, &r->clock.last, &e)))
        goto fail;
    rc = dc__store_meta_get(r->st, "clock_offset", &r->clock.offset_ms, &e);
    if (rc && rc != DC_ENOTFOUND)
        goto fail;
    /* The device's own row is made once; a handle that finds it takes no
     * write lock to open (docs/storage.md, "Opening"). */
    rc = dc__store_device_find(r->st, r->id->sign_pk, &r->self_did, &e);
    if (rc == DC_ENOTFOUND) {
        if ((rc = dc__store_begin(r->st, &e)))
            goto fail;
        rc = dc__store_device(r->st, r->id->sign_pk, &r->self_did, &e);
        if (rc || (rc = dc__store_commit(r->st, &e))) {
            dc__store_rollback(r->st);
            goto fail;
        }
    } else if (rc) {
        goto fail;
    }
    dc__hex(r->device_hex, r->id->sign_pk, 32);
    if ((rc = dc__clone_open(r, o.install_id, &e)))
        goto fail;
    formats_upgrade(r);
    *out = r;
    return 0;
fail:
    dc__err_prefix(&e, "open %s", path);
    dc__last_from(&e);
    dc_replica_close(r);
    return rc;
}

void dc_replica_close(dc_replica *r) {
    if (!r)
        return;
    if (r->txn)
        dc_txn_rollback(r->txn);
    dc__live_detach(r);
    /* The state takes what this handle left pending, so that the next open
     * reads at once; a failure here loses nothing (the next read folds). */
    if (r->st) {
        dc__err e = {0};
        dc__store_fold(r->st, NULL, &e);
    }
    dc__store_close(r->st);
    if (r->id) {
        sodium_memzero(r->id, sizeof *r->id);
        sodium_free(r->id);
    }
    if (r->key)
        sodium_free(r->key); /* wipes before unmapping */
    dc__zstd_free_ctx(r->cctx, r->dctx);
    /* Decrypted bodies passed through these scratch buffers. */
    if (r->body.asize)
        sodium_memzero(r->body.ptr, r->body.asize);
    if (r->zbody.asize)
        sodium_memzero(r->zbody.ptr, r->zbody.asize);
    dc_buf_dispose(&r->body);
    dc_buf_dispose(&r->zbody);
    dc__free(r);
}

int dc__replica_writable(dc_replica *r, dc__err *err) {
    if (r->read_depth > 0)
        return dc__err_set(err, DC_EBUSY,
                           "a read snapshot is open on this handle: end it with "
                           "dc_replica_read_end before writing (only reads belong inside)");
    return 0;
}

int dc__replica_begin(dc_replica *r, dc__err *err) {
    int rc = dc__replica_writable(r, err);
    if (!rc)
        rc = dc__store_begin(r->st, err);
    if (rc)
        return rc;
    /* Another handle on this file may have issued or accepted later
     * timestamps: this one continues after them. */
    dc_hlc stored = 0;
    if ((rc = dc__store_hlc_load(r->st, &stored, err))) {
        dc__store_rollback(r->st);
        return rc;
    }
    dc__clock_observe(&r->clock, stored);
    return 0;
}

const uint8_t *dc__space_key(dc_replica *r, int64_t sid, uint32_t epoch, const uint8_t *kid,
                             dc__err *err) {
    if (r->key_sid == sid && sid != 0 && r->key_epoch == epoch &&
        (!kid || memcmp(r->key_kid, kid, DC_KEY_ID) == 0))
        return r->key;
    r->key_sid = 0;
    if (dc__store_key_get(r->st, sid, epoch, kid, r->key, err) != 0)
        return NULL;
    r->key_sid = sid;
    r->key_epoch = epoch;
    dc__key_id(r->key_kid, r->key);
    return r->key;
}

int dc_replica_rekey(dc_replica *r, dc_key_fn key_provider, void *user) {
    DC__CHECK(r);
    if (!key_provider)
        return dc__fail(r, DC_EMISUSE, "rekey: the key provider is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "rekey: a transaction is open on this replica");
    int rc = dc__store_rekey(r->st, key_provider, user, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_replica_encrypted(const dc_replica *r) {
    return r && r->st && dc__store_encrypted(r->st) ? 1 : 0;
}

const uint8_t *dc__space_write_key(dc_replica *r, const dc__space *sp, dc__err *err) {
    return dc__space_key(r, sp->sid, sp->epoch, sp->has_kid ? sp->kid : NULL, err);
}

int dc__space_readable(dc_replica *r, const dc__space *sp) {
    if (sp->consent == DC_CONSENT_ACCEPTED)
        return 0;
    char hex[33];
    dc__hex(hex, sp->id, 16);
    if (sp->consent == DC_CONSENT_INVITED) {
        uint8_t pk[32];
        char who[17] = "an admin";
        dc__err e = {0};
        if (sp->inviter && dc__store_device_pk(r->st, sp->inviter, pk, &e) == 0)
            dc__hex(who, pk, 8);
        return dc__fail(r, DC_EDENIED,
                        "space %s is an invitation from device %s%s that this device has not "
                        "accepted; accept it with `drivercore space accept` (dc_space_accept)",
                        hex, who, sp->inviter ? "..." : "");
    }
    if (sp->consent == DC_CONSENT_DECLINED)
        return dc__fail(r, DC_EDENIED,
                        "this device declined space %s; accept it with `drivercore space "
                        "accept` to read it",
                        hex);
    return dc__fail(r, DC_EDENIED,
                    "this device is not a member of space %s: it only carries its changes "
                    "for others",
                    hex);
}

int dc_replica_errcode(const dc_replica *r) {
    return r ? r->err.code : DC_EMISUSE;
}

const char *dc_replica_errmsg(const dc_replica *r) {
    return r ? r->err.msg : "the replica handle is NULL";
}

const char *dc_replica_device_id(const dc_replica *r) {
    return r ? r->device_hex : "";
}

int dc_replica_card(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "card: out is NULL");
    uint8_t sig[64];
    dc__card_sign(sig, r->id, r->name);
    char box[65], sighex[129];
    dc__hex(box, r->id->box_pk, 32);
    dc__hex(sighex, sig, 64);
    dc__buf_clear(out);
    int w = dc__buf_printf(out, "{\"device\":\"%s\",\"box\":\"%s\",\"name\":", r->device_hex, box);
    w |= dc__json_str(out, r->name, strlen(r->name));
    w |= dc__buf_printf(out, ",\"sig\":\"%s\"}", sighex);
    return w ? dc__fail(r, DC_ENOMEM, "card: out of memory") : 0;
}

int dc_replica_dump(dc_buf *out, dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "dump: out is NULL");
    uint8_t id[16];
    if (space && dc__space_id_parse(r, space, id))
        return r->err.code;
    dc__space sp;
    if (space && dc__store_space_get(r->st, id, &sp, &r->err))
        return dc__fail_err(r, &r->err);
    int rc = dc__store_dump(r->st, out, space ? id : NULL, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_replica_observe(dc_replica *r, dc_observer_fn fn, void *user) {
    DC__CHECK(r);
    r->obs = fn;
    r->obs_user = user;
    return 0;
}

/* The sync client's last outcome (libdrivercore/client/client.c writes
 * it), as the "last_sync" value of the status: null before any. */
static int last_sync_json(dc_replica *r, dc_buf *out) {
    dc__store *st = r->st;
    dc__err e = {0};
    int64_t attempt = 0, ok = 0, fails = 0, tries = 0;
    if (dc__store_meta_get(st, "sync_attempt_ms", &attempt, &e) != 0)
        return dc__buf_puts(out, "null") ? DC_ENOMEM : 0;
    bool have_ok = dc__store_meta_get(st, "sync_ok_ms", &ok, &e) == 0;
    dc__store_meta_get(st, "sync_failures", &fails, &e);
    dc__store_meta_get(st, "sync_attempts", &tries, &e);
    dc_buf peer = DC_BUF_INIT, reason = DC_BUF_INIT, why = DC_BUF_INIT;
    dc__store_meta_get_text(st, "sync_peer", &peer, &e);
    dc__store_meta_get_text(st, "sync_reason", &reason, &e);
    dc__store_meta_get_text(st, "sync_error", &why, &e);
    char okv[32] = "null";
    if (have_ok)
        snprintf(okv, sizeof okv, "%lld", (long long)ok);
    int w = dc__buf_printf(out, "{\"peer\":");
    w |= dc__json_str(out, peer.ptr ? (const char *)peer.ptr : "", peer.size);
    w |= dc__buf_printf(out,
                        ",\"attempt_ms\":%lld,\"ok\":%s,\"ok_ms\":%s,\"failures\":%lld,"
                        "\"attempts\":%lld,\"reason\":",
                        (long long)attempt, fails ? "false" : "true", okv, (long long)fails,
                        (long long)tries);
    if (fails && reason.size)
        w |= dc__json_str(out, (const char *)reason.ptr, reason.size);
    else
        w |= dc__buf_puts(out, "null");
    w |= dc__buf_puts(out, ",\"error\":");
    if (fails && why.size)
        w |= dc__json_str(out, (const char *)why.ptr, why.size);
    else
        w |= dc__buf_puts(out, "null");
    w |= dc__buf_putc(out, '}');
    dc_buf_dispose(&peer);
    dc_buf_dispose(&reason);
    dc_buf_dispose(&why);
    return w ? DC_ENOMEM : 0;
}

int dc_replica_status(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "status: out is NULL");
    int rc = dc__store_status_json(r->st, out, r->id->sign_pk, &r->err);
    if (rc)
        return dc__fail_err(r, &r->err);
    /* The store's object, closed by its last byte, gains one key. */
    if (out->size && out->ptr[out->size - 1] == '}') {
        out->size--;
        out->ptr[out->size] = 0;
        if (dc__buf_puts(out, ",\"last_sync\":") || last_sync_json(r, out) ||
            dc__clone_status_json(r, out))
            return dc__fail(r, DC_ENOMEM, "status: out of memory");
        dc__err e = {0};
        if ((rc = dc__compact_status_json(r, out, &e)))
            return dc__fail_err(r, &e);
        if (dc__buf_putc(out, '}'))
            return dc__fail(r, DC_ENOMEM, "status: out of memory");
    }
    return 0;
}

static int rid_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int dc__notify(dc_replica *r, dc__touched *t, const char *origin) {
    if ((!r->obs && !r->live) || !t || !t->n)
        return 0;
    dc_buf type = DC_BUF_INIT, id = DC_BUF_INIT;
    int rc = 0;
    dc__err e = {0};
    /* One notification per record, in record order. */
    qsort(t->rids, t->n, sizeof *t->rids, rid_cmp);
    /* (Live queries hear of every record, even once the observer stopped
     * its notifications.) */
    for (size_t i = 0; i < t->n; i++) {
        if (i && t->rids[i] == t->rids[i - 1])
            continue;
        char sp[33];
        if (dc__store_record_name(r->st, t->rids[i], sp, &type, &id, &e)) {
            rc = dc__fail_err(r, &e);
            break;
        }
        dc__live_touch(r, sp, (const char *)type.ptr);
        if (!rc && r->obs &&
            r->obs(r->obs_user, sp, (const char *)type.ptr, (const char *)id.ptr, origin))
            rc = dc__fail(r, DC_EUSER,
                          "the observer returned non-zero and stopped the "
                          "notifications; the data itself is committed");
    }
    dc_buf_dispose(&type);
    dc_buf_dispose(&id);
    return rc;
}

int dc__fold_notify(dc_replica *r, dc__touched *t, dc__err *err) {
    int rc = dc__store_fold(r->st, r->obs || r->live ? t : NULL, err);
    int n = dc__notify(r, t, "remote");
    dc__live_fire(r);
    return n ? n : rc;
}

typedef struct named {
    const dc__str *type, *id;
} named;

static int named_cmp(const void *a, const void *b) {
    const named *x = a, *y = b;
    int c = memcmp(x->type->p, y->type->p, x->type->n < y->type->n ? x->type->n : y->type->n);
    if (!c)
        c = (x->type->n > y->type->n) - (x->type->n < y->type->n);
    if (!c)
        c = memcmp(x->id->p, y->id->p, x->id->n < y->id->n ? x->id->n : y->id->n);
    if (!c)
        c = (x->id->n > y->id->n) - (x->id->n < y->id->n);
    return c;
}

int dc__notify_ops(dc_replica *r, const uint8_t space[16], const dc__op *ops, size_t n,
                   const char *origin) {
    if ((!r->obs && !r->live) || !n)
        return 0;
    named *v = dc__malloc(n * sizeof *v);
    if (!v)
        return dc__fail(r, DC_ENOMEM, "observer: out of memory (the data is committed)");
    for (size_t i = 0; i < n; i++)
        v[i] = (named){&ops[i].type, &ops[i].id};
    /* One notification per record, in (type, id) order. */
    qsort(v, n, sizeof *v, named_cmp);
    char sp[33];
    dc__hex(sp, space, 16);
    dc_buf type = DC_BUF_INIT, id = DC_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && named_cmp(&v[i], &v[i - 1]) == 0)
            continue;
        dc__buf_clear(&type);
        dc__buf_clear(&id);
        if (dc__buf_put(&type, v[i].type->p, v[i].type->n) || dc__buf_putc(&type, 0) ||
            dc__buf_put(&id, v[i].id->p, v[i].id->n) || dc__buf_putc(&id, 0)) {
            rc = dc__fail(r, DC_ENOMEM, "observer: out of memory (the data is committed)");
            break;
        }
        dc__live_touch(r, sp, (const char *)type.ptr);
        if (!rc && r->obs &&
            r->obs(r->obs_user, sp, (const char *)type.ptr, (const char *)id.ptr, origin))
            rc = dc__fail(r, DC_EUSER,
                          "the observer returned non-zero and stopped the "
                          "notifications; the data itself is committed");
    }
    dc_buf_dispose(&type);
    dc_buf_dispose(&id);
    dc__free(v);
    return rc;
}
