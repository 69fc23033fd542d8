/*
 * The two ends of a change's life on a replica: sealing a new one that
 * this device wrote (encode → compress if it pays → encrypt → sign →
 * store, pending), and checking one received (decrypt → decompress →
 * decode → judge) before it is stored.  Both run inside a store
 * transaction opened by the caller; the state takes applied changes when
 * the store folds (store/fold.c).
 */
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

/* Bodies this small gain nothing from zstd's frame overhead. */
#define COMPRESS_MIN 64
#define ZSTD_LEVEL 3

int dc__envelope_new(dc_replica *r, dc__space *sp, int kind, const uint8_t *body, size_t n,
                     dc_hlc hlc_min, dc_hlc hlc_max, dc_buf *env_out, uint8_t id_out[32],
                     dc__err *e) {
    dc__envelope h;
    memset(&h, 0, sizeof h);
    h.version = DC_ENV_VERSION;
    h.kind = (uint8_t)kind;
    h.cipher = kind == DC_ENV_KIND_CHANGE ? DC_CIPHER_XCHACHA20POLY1305 : DC_CIPHER_NONE;
    h.comp = DC_COMP_NONE;
    memcpy(h.space, sp->id, 16);
    h.epoch = sp->epoch;
    memcpy(h.author, r->id->sign_pk, 32);
    h.seq = sp->my_seq + 1;
    h.hlc_min = hlc_min;
    h.hlc_max = hlc_max;
    const uint8_t *payload = body;
    size_t plen = n;
    if (kind == DC_ENV_KIND_CHANGE && n >= COMPRESS_MIN) {
        dc__buf_clear(&r->zbody);
        int rc = dc__zstd_compress_with(&r->cctx, &r->zbody, body, n, ZSTD_LEVEL, e);
        if (rc)
            return rc;
        if (r->zbody.size < n) {
            payload = r->zbody.ptr;
            plen = r->zbody.size;
            h.comp = DC_COMP_ZSTD;
        }
    }
    const uint8_t *key = NULL;
    int rc = 0;
    if (kind == DC_ENV_KIND_CHANGE && !(key = dc__space_write_key(r, sp, e)))
        return e->code;
    dc_buf local = DC_BUF_INIT, *env = env_out ? env_out : &local;
    dc__buf_clear(env);
    if ((rc = dc__envelope_seal(env, &h, payload, plen, key, NULL, r->id, e)))
        goto out_env;
    dc__envelope parsed;
    if ((rc = dc__envelope_parse(&parsed, env->ptr, env->size, e)))
        goto out_env;
    dc__envelope_id(id_out, env->ptr, env->size);
    /* A change this device writes is applied: it goes into the log and
     * `pending`, and the state takes it at the next fold. */
    if ((rc = dc__store_change_put(r->st, sp->sid, &parsed, id_out, r->self_did, DC_CHANGE_APPLIED,
                                   0, e)) ||
        (kind == DC_ENV_KIND_CHANGE &&
         (rc = dc__store_pending_add(r->st, dc__store_last_cno(r->st),
                                     (uint32_t)(hlc_max - hlc_min + 1), e))) ||
        (rc = dc__store_space_set_seq(r->st, sp->sid, h.seq, e)))
        goto out_env;
    sp->my_seq = h.seq;
out_env:
    dc_buf_dispose(&local);
    return rc;
}

typedef struct trykey {
    dc_replica *r;
    const dc__envelope *e;
    bool opened;
    dc__err err;
} trykey;

static int try_key(void *user, uint32_t epoch, const uint8_t kid[DC_KEY_ID],
                   const uint8_t key[32]) {
    trykey *t = user;
    (void)epoch;
    (void)kid;
    if (dc__envelope_open(&t->r->zbody, t->e, key, &t->err) != 0) {
        dc__err_clear(&t->err);
        return 0;
    }
    t->opened = true;
    return 1;
}

/* Decrypts into r->zbody.  Two admins rotating at once can make two keys
 * of one epoch: the cached key is tried first, then every other of the
 * envelope's epoch; DC_ENOKEY when none opens it. */
static int open_change(dc_replica *r, const dc__envelope *e, int64_t sid, dc__err *err) {
    const uint8_t *key = dc__space_key(r, sid, e->epoch, NULL, err);
    if (!key)
        return err->code;
    int rc = dc__envelope_open(&r->zbody, e, key, err);
    if (rc != DC_EBADSIG)
        return rc;
    trykey t = {r, e, false, {0}};
    int x = dc__store_keys_each(r->st, sid, e->epoch, try_key, &t, &t.err);
    if (x < 0) {
        *err = t.err;
        return x;
    }
    if (t.opened) {
        dc__err_clear(err);
        return 0;
    }
    /* The signature was checked: the ciphertext is what its author wrote,
     * with a key of this epoch we do not hold (two admins rotated at once
     * and the other key has not reached us yet). */
    return dc__err_set(err, DC_ENOKEY,
                       "no key of epoch %u held here opens this change (kept until one comes)",
                       e->epoch);
}

int dc__change_plain(dc_replica *r, const dc__envelope *e, int64_t sid, dc_buf *out, dc__err *err) {
    int rc = open_change(r, e, sid, err);
    if (rc)
        return rc;
    dc__buf_clear(out);
    if (e->comp == DC_COMP_ZSTD)
        rc = dc__zstd_decompress_with(&r->dctx, out, r->zbody.ptr, r->zbody.size, DC_BODY_MAX_SIZE,
                                      err);
    else if (dc__buf_put(out, r->zbody.ptr, r->zbody.size))
        rc = dc__err_set(err, DC_ENOMEM, "out of memory");
    if (r->zbody.asize)
        sodium_memzero(r->zbody.ptr, r->zbody.size);
    return rc;
}

/* Ops on the library's own records (types beginning with '@': a space's
 * name, its members' names) are written only on an admin's behalf, except
 * a device's own ack (`@ack`, its id: docs/data-model.md "Compaction"),
 * which any member writes, readers included. */
static int ops_need(const dc__body *b, const uint8_t author[32]) {
    char me[65];
    dc__hex(me, author, 32);
    int need = DC_ROLE_READER;
    for (uint32_t i = 0; i < b->nops; i++) {
        const dc__op *op = &b->ops[i];
        bool own_ack = op->type.n == 4 && memcmp(op->type.p, "@ack", 4) == 0 && op->id.n == 64 &&
                       memcmp(op->id.p, me, 64) == 0;
        if (own_ack)
            continue;
        if (op->type.n && op->type.p[0] == '@')
            return DC_ROLE_ADMIN;
        need = DC_ROLE_MEMBER;
    }
    return need;
}

int dc__change_check(dc_replica *r, const dc__envelope *e, int64_t sid, int64_t author_did,
                     int role, int *need, dc__opened *keep, dc__err *err) {
    int rc = open_change(r, e, sid, err);
    if (rc)
        return rc;
    dc_buf *plain = &r->zbody;
    if (e->comp == DC_COMP_ZSTD) {
        dc__buf_clear(&r->body);
        if ((rc = dc__zstd_decompress_with(&r->dctx, &r->body, r->zbody.ptr, r->zbody.size,
                                           DC_BODY_MAX_SIZE, err)))
            goto wipe;
        plain = &r->body;
    }
    dc__body b;
    if ((rc = dc__body_decode(&b, plain->ptr, plain->size, err)))
        goto wipe;
    /* Op i carries timestamp hlc_min + i, so the header's range must cover
     * exactly the ops: a mismatch means a forged or broken writer. */
    int want = ops_need(&b, e->author);
    if (need)
        *need = want;
    if (b.nops == 0 || e->hlc_max - e->hlc_min != (uint64_t)b.nops - 1)
        rc = dc__err_set(err, DC_ECORRUPT,
                         "the timestamp range of the header does not match "
                         "its %u ops",
                         b.nops);
    else if ((role >= 0 ||
              (rc = dc__store_role_at(r->st, sid, author_did, e->seq, &role, err)) == 0) &&
             role < want)
        rc = dc__err_set(err, DC_EDENIED,
                         "the author held the role %s for this change, and its ops need %s",
                         role ? dc_role_name(role) : "none", dc_role_name(want));
    if (!rc && keep) {
        /* The caller keeps the body and the buffer it points into; the
         * next change gets a buffer of its own. */
        keep->body = b;
        keep->plain = *plain;
        memset(plain, 0, sizeof *plain);
    } else {
        dc__body_free(&b);
    }
wipe:
    /* Plaintext of the space must not linger in freed or reused memory. */
    if (r->zbody.asize)
        sodium_memzero(r->zbody.ptr, r->zbody.size);
    if (r->body.asize)
        sodium_memzero(r->body.ptr, r->body.size);
    return rc;
}
