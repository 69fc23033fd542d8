/*
 * drivercore — local transactions on records.
 *
 * A transaction collects operations on records (space, type, id) of one
 * space and, on commit, turns them into one change envelope (msgpack body,
 * zstd, XChaCha20-Poly1305 with the space key, Ed25519 signature) that is
 * stored in the change log and applied to the materialised state in one
 * SQLite transaction: all of it or none of it.
 *
 * Field kinds and merge rules (docs/data-model.md):
 *   register (dc_txn_set):      last writer wins by HLC, ties by device id;
 *   set (dc_txn_add/_remove):   add-wins observed-remove set;
 *   event (dc_txn_event...):    immutable entries, exactly once;
 *   delete (dc_txn_delete):     hides everything written at or before it.
 *
 * Values are a kind plus `num` (DC_BOOL: 0/1; DC_INT) or `str` (DC_STR:
 * UTF-8, NUL-terminated); floating-point numbers (DC_FLOAT) and bytes
 * (DC_BYTES) go through the *_value calls and a dc_value.  Type, id, field
 * and event keys are non-empty
 * UTF-8 strings; types, fields and event keys beginning with '@' are
 * reserved for the library (DC_EINVAL).
 *
 * Thread safety: a transaction belongs to the thread using its replica, and
 * a replica has at most one open transaction at a time.
 */
#ifndef DRIVERCORE_TXN_H
#define DRIVERCORE_TXN_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_txn dc_txn;

/*
 * Begin a transaction on `space` (hex id).  The device must hold the key
 * and be a member or admin.  Returns 0, DC_ENOTFOUND (space unknown),
 * DC_ENOKEY, DC_EDENIED (reader), DC_EMISUSE (a transaction is open).
 */
DC_EXTERN int dc_txn_begin(dc_txn **out, dc_replica *r, const char *space);

/* Set register `field` of the record. */
DC_EXTERN int dc_txn_set(dc_txn *t, const char *type, const char *id, const char *field, int kind,
                         int64_t num, const char *str);

/* Add a value to set `field` of the record. */
DC_EXTERN int dc_txn_add(dc_txn *t, const char *type, const char *id, const char *field, int kind,
                         int64_t num, const char *str);

/* Remove a value from set `field`: removes the adds of it this replica has
 * seen (a concurrent add elsewhere survives). */
DC_EXTERN int dc_txn_remove(dc_txn *t, const char *type, const char *id, const char *field,
                            int kind, int64_t num, const char *str);

/* Start a new event on the record; fill it with dc_txn_event_field. */
DC_EXTERN int dc_txn_event(dc_txn *t, const char *type, const char *id);

/* Add a key/value to the event most recently started in this transaction. */
DC_EXTERN int dc_txn_event_field(dc_txn *t, const char *key, int kind, int64_t num,
                                 const char *str);

/* The same with a value of any kind (dc_value), floats and bytes included. */
DC_EXTERN int dc_txn_set_value(dc_txn *t, const char *type, const char *id, const char *field,
                               const dc_value *v);
DC_EXTERN int dc_txn_add_value(dc_txn *t, const char *type, const char *id, const char *field,
                               const dc_value *v);
DC_EXTERN int dc_txn_remove_value(dc_txn *t, const char *type, const char *id, const char *field,
                                  const dc_value *v);
DC_EXTERN int dc_txn_event_field_value(dc_txn *t, const char *key, const dc_value *v);

/* Delete the record. */
DC_EXTERN int dc_txn_delete(dc_txn *t, const char *type, const char *id);

/* Number of operations collected so far. */
DC_EXTERN size_t dc_txn_op_count(const dc_txn *t);

/*
 * Commit: encode, encrypt, sign, store and apply as one change.  The
 * transaction is freed whether or not commit succeeds; on failure nothing
 * was written.  A transaction with no operations commits nothing and
 * returns 0.  If `change_id` is not NULL it receives the change's hex id
 * ("" when nothing was committed).  Returns 0, DC_EIO, DC_ENOMEM,
 * DC_ETOOBIG, DC_EUSER (observer; the data is committed).
 */
DC_EXTERN int dc_txn_commit(dc_txn *t, dc_buf *change_id);

/* Abandon the transaction and free it.  NULL is a no-op. */
DC_EXTERN void dc_txn_rollback(dc_txn *t);

#ifdef __cplusplus
}
#endif
#endif
