/*
 * Private to replica/: the dc_replica handle and the steps the public
 * functions share — sealing and storing a new envelope, ingesting a
 * received one, and telling observers.
 */
#ifndef DC_REPLICA_INT_H
#define DC_REPLICA_INT_H

#include "base/base.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "store/store.h"

struct dc_txn;

struct dc_replica {
    dc__store *st;
    dc__identity *id;
    int64_t self_did;
    char device_hex[65];
    char name[128];
    dc__clock clock;
    dc__err err;
    dc_observer_fn obs;
    void *obs_user;
    struct dc_txn *txn; /* the open transaction, if any */
    void *cctx, *dctx;  /* zstd contexts, reused */
    /* The last space key used, in guarded memory allocated once: a
     * sodium_malloc per change costs an mmap and an mprotect, a measurable
     * share of a merge.  A (space, epoch) key never changes once stored. */
    uint8_t *key;
    int64_t key_sid;
    uint32_t key_epoch;
    dc_buf body, zbody; /* scratch for encode/decode */
};

/* Records an error on the handle and returns code. */
int dc__fail(dc_replica *r, int code, const char *fmt, ...) DC__PRINTF(3, 4);
/* Copies an error record onto the handle and returns its code. */
int dc__fail_err(dc_replica *r, const dc__err *e);
/* Validates a handle at the API boundary. */
#define DC__CHECK(r)                                                                               \
    do {                                                                                           \
        if (!(r))                                                                                  \
            return dc__last_set(DC_EMISUSE, "%s: the replica handle is NULL", __func__);           \
        dc__err_clear(&(r)->err);                                                                  \
        if (!dc__store_alive((r)->st))                                                             \
            return dc__fail((r), DC_EIO,                                                           \
                            "the replica file was rekeyed but could not be reopened; close this "  \
                            "handle and open the file again with the new key");                    \
    } while (0)

/* Parses a 32-char hex space id. */
int dc__space_id_parse(dc_replica *r, const char *hex, uint8_t id[16]);

/* Encode-side: seal a body as a new envelope of this device in `sp`, store
 * it in the log (applied state) and advance the space's sequence number.
 * Must run inside a store transaction.  `env_out` (may be NULL) receives the
 * envelope, `id_out` its change id. */
int dc__envelope_new(dc_replica *r, dc__space *sp, int kind, const uint8_t *body, size_t n,
                     dc_hlc hlc_min, dc_hlc hlc_max, dc_buf *env_out, uint8_t id_out[32],
                     dc__err *e);

/* The key of (sid, epoch), from the one-slot cache or the store; NULL with
 * DC_ENOKEY (or another error) in err when there is none. */
const uint8_t *dc__space_key(dc_replica *r, int64_t sid, uint32_t epoch, dc__err *err);

/* Calls the observer for each touched record (after commit). */
int dc__notify(dc_replica *r, dc__touched *t, const char *origin);

/* Decrypt, decompress and decode a verified change envelope, then apply it. */
int dc__change_apply(dc_replica *r, const dc__envelope *e, int64_t sid, int64_t author_did,
                     dc__touched *t, dc__err *err);

#endif
