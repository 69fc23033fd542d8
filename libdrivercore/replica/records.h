/*
 * The narrow internal interface the domain model (model/) builds on: the
 * public record API plus structured reads (typed values and events, no JSON
 * round trip: nothing here prints JSON for the model to parse), the list of
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

/* As dc__records_each, without reading the events: rec->ne is 0, and a
 * record holding only events is given with no fields.  For walks that read
 * registers and sets only. */
int dc__records_each_fields(dc_replica *r, const char *space, const char *type, const char *id,
                            dc__rec_fn fn, void *user);

/* Many reads as one (a walk over every space held): one read transaction
 * over one state of the file, so the reads neither take the file's locks
 * each nor see another handle's commits part way (dc__store_snapshot_begin).
 * Only reads may be made until dc__records_snapshot_end, which must be
 * called, with `began`, whenever the begin returned 0. */
int dc__records_snapshot(dc_replica *r, bool *began);
void dc__records_snapshot_end(dc_replica *r, bool began);

/* How many live records of `type` `space` holds (0 in a space not
 * accepted), without reading them. */
int dc__records_count(dc_replica *r, const char *space, const char *type, uint64_t *n);

/* The value of field `key` of an event (not "@author" or "@time": those
 * are e->author and e->time), or NULL. */
const dc__value *dc__rev_value(const dc__rev *e, const char *key);

/* Appends an event as its canonical JSON, as dump and dc_record_get print
 * it (0 or DC_ENOMEM). */
int dc__rev_json(dc_buf *b, const dc__rev *e);

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

#endif
