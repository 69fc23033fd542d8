/*
 * The two ends of a change's life on a replica: sealing a new one that
 * this device wrote (encode → compress if it pays → encrypt → sign →
 * store), and applying one received (decrypt → decompress → decode →
 * apply).  Both run inside a store transaction opened by the caller.
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
    if (kind == DC_ENV_KIND_CHANGE && !(key = dc__space_key(r, sp->sid, sp->epoch, e)))
        return e->code;
    dc_buf local = DC_BUF_INIT, *env = env_out ? env_out : &local;
    dc__buf_clear(env);
    if ((rc = dc__envelope_seal(env, &h, payload, plen, key, NULL, r->id, e)))
        goto out_env;
    dc__envelope parsed;
    if ((rc = dc__envelope_parse(&parsed, env->ptr, env->size, e)))
        goto out_env;
    dc__envelope_id(id_out, env->ptr, env->size);
    if ((rc = dc__store_change_put(r->st, sp->sid, &parsed, id_out, r->self_did, DC_CHANGE_APPLIED,
                                   e)) ||
        (rc = dc__store_space_set_seq(r->st, sp->sid, h.seq, e)))
        goto out_env;
    sp->my_seq = h.seq;
out_env:
    dc_buf_dispose(&local);
    return rc;
}

int dc__change_apply(dc_replica *r, const dc__envelope *e, int64_t sid, int64_t author_did,
                     dc__touched *t, dc__err *err) {
    const uint8_t *key = dc__space_key(r, sid, e->epoch, err);
    if (!key)
        return err->code;
    int rc = dc__envelope_open(&r->zbody, e, key, err);
    if (rc)
        return rc;
    const dc_buf *plain = &r->zbody;
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
    if (b.nops == 0 || e->hlc_max - e->hlc_min != (uint64_t)b.nops - 1)
        rc = dc__err_set(err, DC_ECORRUPT,
                         "the timestamp range of the header does not match "
                         "its %u ops",
                         b.nops);
    else
        rc = dc__store_apply(r->st, sid, &b, e->hlc_min, e->author, author_did, e->seq, t, err);
    dc__body_free(&b);
wipe:
    /* Plaintext of the space must not linger in freed or reused memory. */
    if (r->zbody.asize)
        sodium_memzero(r->zbody.ptr, r->zbody.size);
    if (r->body.asize)
        sodium_memzero(r->body.ptr, r->body.size);
    return rc;
}
