/*
 * The narrow internal interface the domain model (model/) builds on: the
 * public record API plus structured reads (no JSON round trip), the list of
 * spaces held, and keys derived from a space key.  The model sees neither
 * SQL nor the replica's insides.
 */
#ifndef DC_REPLICA_RECORDS_H
#define DC_REPLICA_RECORDS_H

#include "base/base.h"
#include "store/store.h"

/* Live records of `type` in `space` (hex id), only `id` when not NULL, in
 * id order; errors are kept on the replica (dc_replica_errmsg). */
int dc__records_each(dc_replica *r, const char *space, const char *type, const char *id,
                     dc__rec_fn fn, void *user);

/* The first space (hex id, in id order) holding a live record (type, id):
 * 0, or DC_ENOTFOUND (not an error recorded on the replica). */
int dc__record_locate(dc_replica *r, const char *type, const char *id, char space[33]);

/* The value of register `field` of a record, or NULL. */
const dc__value *dc__rec_value(const dc__rec *rec, const char *field);

/* Calls fn(user, hex id) for every space whose key this replica holds. */
typedef int (*dc__space_hex_fn)(void *user, const char *space);
int dc__spaces_each(dc_replica *r, dc__space_hex_fn fn, void *user);

/* A 32-byte key derived from the current key of `space`: BLAKE2b-256 keyed
 * with the space key over `context`.  Only members holding the key can
 * derive it.  `out` should be guarded memory (dc__secret_alloc). */
int dc__space_subkey(dc_replica *r, const char *space, const char *context, uint8_t out[32]);

/* Records an error on the replica and returns code (for model code). */
int dc__model_fail(dc_replica *r, int code, const char *fmt, ...) DC__PRINTF(3, 4);

#endif
