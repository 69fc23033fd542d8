/*
 * store — the replica's SQLite file: schema and migrations, the change log,
 * membership, space keys, and the materialised state of records with the
 * merge rules applied (docs/storage.md).  This folder is the only one that
 * includes sqlite3.h; everything above speaks to it through this header.
 */
#ifndef DC_STORE_H
#define DC_STORE_H

#include "base/base.h"
#include "codec/codec.h"
#include "crypto/crypto.h"

#define DC_SCHEMA_VERSION 1

typedef struct dc__store dc__store;

int dc__store_open(dc__store **out, const char *path, bool must_exist, bool durable, dc__err *err);
void dc__store_close(dc__store *s);

/* One SQLite write transaction (BEGIN IMMEDIATE ... COMMIT). */
int dc__store_begin(dc__store *s, dc__err *err);
int dc__store_commit(dc__store *s, dc__err *err);
void dc__store_rollback(dc__store *s);

/* ---- identity and clock ---- */
/* DC_ENOTFOUND when the replica has no identity yet. */
int dc__store_identity_load(dc__store *s, dc__identity *id, char *name, size_t cap, dc__err *err);
int dc__store_identity_save(dc__store *s, const dc__identity *id, const char *name, dc__err *err);
int dc__store_hlc_load(dc__store *s, dc_hlc *h, dc__err *err);
int dc__store_hlc_save(dc__store *s, dc_hlc h, dc__err *err);
/* Integer values in the meta table (0 / DC_ENOTFOUND when absent). */
int dc__store_meta_get(dc__store *s, const char *key, int64_t *v, dc__err *err);
int dc__store_meta_put(dc__store *s, const char *key, int64_t v, dc__err *err);
/* Text values in the meta table (out gets the UTF-8 text and a NUL). */
int dc__store_meta_get_text(dc__store *s, const char *key, dc_buf *out, dc__err *err);
int dc__store_meta_put_text(dc__store *s, const char *key, const char *v, dc__err *err);
/* After a complete sync with a relay: this device's changes of space `sid`
 * up to sequence number `seq` are durably on the relay. */
int dc__store_mark_acked(dc__store *s, int64_t sid, uint64_t seq, dc__err *err);

/* ---- devices ---- */
/* The local row id for a device public key, created if absent. */
int dc__store_device(dc__store *s, const uint8_t pk[32], int64_t *did, dc__err *err);

/* ---- spaces ---- */
typedef struct dc__space {
    int64_t sid;
    uint8_t id[16];
    uint32_t epoch;  /* current key epoch */
    uint64_t my_seq; /* last sequence number this device used here */
    bool has_key;    /* we hold the key of `epoch` */
} dc__space;

/* Called with the 16-byte id of a space; non-zero stops the walk. */
typedef int (*dc__space_fn)(void *user, const uint8_t id[16]);

/* DC_ENOTFOUND if unknown. */
int dc__store_space_get(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err);
/* Get, or create the row of a space first seen in a bundle. */
int dc__store_space_ensure(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err);
int dc__store_space_set_seq(dc__store *s, int64_t sid, uint64_t seq, dc__err *err);
int dc__store_key_put(dc__store *s, int64_t sid, uint32_t epoch, const uint8_t key[32],
                      dc__err *err);
/* Copies the key into `key` (caller's secret memory); DC_ENOKEY if absent. */
int dc__store_key_get(dc__store *s, int64_t sid, uint32_t epoch, uint8_t key[32], dc__err *err);
/* JSON for dc_space_list / dc_space_members. */
int dc__store_space_list_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err);
int dc__store_members_json(dc__store *s, dc_buf *out, int64_t sid, dc__err *err);

/* ---- membership ---- */
typedef struct dc__member {
    int role;         /* current role (0: not a member) */
    bool ever_admin;  /* was ever validly granted admin: may grant */
    bool ever_writer; /* was ever validly granted member or admin: may write */
    uint8_t box_pk[32];
} dc__member;

int dc__store_member_get(dc__store *s, int64_t sid, const uint8_t dev[32], dc__member *out,
                         dc__err *err);
/* Applies one validated membership op: roles merge last-writer-wins by
 * (hlc, author), the ever_* flags only ever grow. */
int dc__store_member_apply(dc__store *s, int64_t sid, const dc__member_op *op, dc_hlc hlc,
                           const uint8_t author[32], dc__err *err);

/* ---- change log ---- */
/* APPLIED: in the state.  HELD: too far in the future, waits for our
 * clock.  OPAQUE: no key yet.  REJECTED: signed by a writer but its body
 * turned out undecodable when its key arrived; kept (so it is never
 * fetched again) but never applied. */
enum { DC_CHANGE_APPLIED = 0, DC_CHANGE_HELD = 1, DC_CHANGE_OPAQUE = 2, DC_CHANGE_REJECTED = 3 };

/* 1 if (space, author, seq) is already in the log (its id into `id`), 0 if
 * not, or an error. */
int dc__store_change_find(dc__store *s, int64_t sid, int64_t author_did, uint64_t seq,
                          uint8_t id[32], dc__err *err);
int dc__store_change_put(dc__store *s, int64_t sid, const dc__envelope *e, const uint8_t id[32],
                         int64_t author_did, int state, dc__err *err);
int dc__store_change_set_state(dc__store *s, int64_t cno, int state, dc__err *err);

/* Calls fn for each change of `sid` in `state` (all spaces if sid is 0)
 * whose hlc_max is <= max_hlc, in log order.  The envelope bytes are only
 * valid during the call. */
typedef int (*dc__change_fn)(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n);
int dc__store_changes_in_state(dc__store *s, int64_t sid, int state, dc_hlc max_hlc,
                               dc__change_fn fn, void *user, dc__err *err);

/* ---- sync support ---- */
/* Calls fn for each envelope of space `sid` that may be passed on (any
 * state but rejected), in (hlc, change id) order: the items reconciled. */
typedef int (*dc__item_fn)(void *user, uint64_t hlc, const uint8_t id[32]);
int dc__store_space_items(dc__store *s, int64_t sid, dc__item_fn fn, void *user, dc__err *err);
/* The envelope of (sid, hlc, change id) appended to a bundle being built;
 * DC_ENOTFOUND if it is not held. */
int dc__store_bundle_add_item(dc__store *s, dc_buf *bundle, int64_t sid, uint64_t hlc,
                              const uint8_t id[32], dc__err *err);
/* The member devices (any role) of a space, in key order. */
typedef int (*dc__device_fn)(void *user, const uint8_t device[32]);
int dc__store_space_devices(dc__store *s, const uint8_t space[16], dc__device_fn fn, void *user,
                            dc__err *err);
/* Every space known (held with a key, or only carried), and the spaces
 * whose membership lists `device` with any role. */
int dc__store_spaces_known(dc__store *s, dc__space_fn fn, void *user, dc__err *err);
int dc__store_spaces_of(dc__store *s, const uint8_t device[32], dc__space_fn fn, void *user,
                        dc__err *err);

/* Appends every envelope held (of `space` if not NULL) to a bundle:
 * membership first, then changes in (space, hlc, id) order. */
int dc__store_export(dc__store *s, dc_buf *bundle, const uint8_t *space, dc__err *err);

/* ---- materialised state ---- */
typedef struct dc__touched {
    int64_t *rids;
    size_t n, cap;
} dc__touched;

/* Applies the ops of one decoded change: op i carries timestamp
 * hlc_min + i and author `author` (pk and row id).  `touched` (may be NULL)
 * collects the records affected. */
int dc__store_apply(dc__store *s, int64_t sid, const dc__body *b, dc_hlc hlc_min,
                    const uint8_t author[32], int64_t author_did, uint64_t seq,
                    dc__touched *touched, dc__err *err);

/* The set adds of (record, field, value) visible now: their tags, for a
 * remove.  *tags is allocated with dc__malloc. */
int dc__store_observed_tags(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            const dc__str *field, const dc__value *v, dc__tag **tags,
                            uint32_t *ntags, dc__err *err);

/* Record (space hex, type, id) of a touched rid, for observers. */
int dc__store_record_name(dc__store *s, int64_t rid, char space_hex[33], dc_buf *type, dc_buf *id,
                          dc__err *err);

/* ---- reads (store/query.c) ---- */
int dc__store_dump(dc__store *s, dc_buf *out, const uint8_t *space, dc__err *err);
int dc__store_record_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *id,
                          dc__err *err);
int dc__store_list_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *field,
                        const dc__value *v, dc__err *err);
int dc__store_status_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err);

/* A live record as the model layer reads it: register values, then one
 * entry per distinct set member (member = true), then its events as the
 * stored canonical JSON, in event order.  Valid only during the callback. */
typedef struct dc__rfield {
    const char *name;
    dc__value v;
    bool member;
} dc__rfield;

typedef struct dc__rec {
    const char *type, *id;
    size_t nf;
    const dc__rfield *f;
    size_t ne;
    const char *const *events;
} dc__rec;

typedef int (*dc__rec_fn)(void *user, const dc__rec *rec);

/* Calls fn for each live record of `type` in space `sid` (only record `id`
 * when not NULL), in id order.  A non-zero return from fn stops the walk
 * and is returned. */
int dc__store_records_each(dc__store *s, int64_t sid, const char *type, const char *id,
                           dc__rec_fn fn, void *user, dc__err *err);

/* The first space (by id) holding a key and a live record (type, id):
 * one query, however many spaces the replica holds.  DC_ENOTFOUND if none. */
int dc__store_record_locate(dc__store *s, const char *type, const char *id, uint8_t space[16],
                            dc__err *err);

/* Calls fn with the 16-byte id of every space this replica holds a key for. */
int dc__store_spaces_each(dc__store *s, dc__space_fn fn, void *user, dc__err *err);

#endif
