/*
 * drivercore — reading records from the materialised state.
 *
 * Two ways.  Typed (dc_record_read, dc_record_query): a record comes back
 * as an object the caller owns, with typed accessors for its registers,
 * sets and events — what an app and the bindings use.  JSON (dc_record_get,
 * _list, _find): text in the shape of one record of dc_replica_dump,
 * {FIELD: value | [set members], "@events": [...]} (no "@events" key when a
 * record has no events) — a convenience for the CLI, scripts and dumps.
 * Both read the same state (docs/reading.md).  Thread safety: the calls
 * that take a dc_replica as the dc_replica; a dc_record or dc_records is a
 * snapshot owned by the caller, independent of the replica once read (it
 * may outlive it), and may be read from any thread.
 */
#ifndef DRIVERCORE_RECORD_H
#define DRIVERCORE_RECORD_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- typed reads ---- */

/*
 * One record, as read: its registers and sets in field-name order
 * (bytewise), each set's distinct members in dc_value_compare order, its
 * events in event order.  Strings (names, DC_STR values, event keys) are
 * NUL-terminated; every pointer it hands out lives as long as the record.
 */
typedef struct dc_record dc_record;

/* A snapshot of one live record: 0, DC_ENOTFOUND (absent or deleted), or
 * the errors of dc_record_get.  Free it with dc_record_free. */
DC_EXTERN int dc_record_read(dc_record **out, dc_replica *r, const char *space, const char *type,
                             const char *id);
DC_EXTERN void dc_record_free(dc_record *rec);

DC_EXTERN const char *dc_record_type(const dc_record *rec);
DC_EXTERN const char *dc_record_id(const dc_record *rec);

/* Fields: registers and sets together, in name order.  dc_record_field_at
 * gives the name and whether it is a set (either may be NULL): 0, or
 * DC_EINVAL for an index past the end. */
DC_EXTERN size_t dc_record_field_count(const dc_record *rec);
DC_EXTERN int dc_record_field_at(const dc_record *rec, size_t i, const char **name, int *is_set);

/* A register's value: 0, DC_ENOTFOUND (no field of that name) or
 * DC_EINVAL (the field is a set; read it with dc_record_set_*). */
DC_EXTERN int dc_record_get_value(const dc_record *rec, const char *field, dc_value *out);
/* Shortcuts: a string register (NULL when absent or of another kind), an
 * integer register (0, DC_ENOTFOUND, or DC_EINVAL for another kind). */
DC_EXTERN const char *dc_record_get_str(const dc_record *rec, const char *field);
DC_EXTERN int dc_record_get_int(const dc_record *rec, const char *field, int64_t *out);

/* A set's members: how many (0 when there is no such set), the i-th (0, or
 * DC_ENOTFOUND / DC_EINVAL), and whether it holds a value (1 or 0). */
DC_EXTERN size_t dc_record_set_size(const dc_record *rec, const char *field);
DC_EXTERN int dc_record_set_at(const dc_record *rec, const char *field, size_t i, dc_value *out);
DC_EXTERN int dc_record_set_contains(const dc_record *rec, const char *field, const dc_value *v);

/* Events: when (ms since the epoch, the physical part of the event's
 * clock), who (the author device's signing key, raw and in hex, as the
 * JSON's "@author") and how many fields. */
typedef struct dc_event_info {
    int64_t time_ms;
    uint8_t author[32];
    char author_hex[65];
    size_t nfields;
} dc_event_info;

DC_EXTERN size_t dc_record_event_count(const dc_record *rec);
DC_EXTERN int dc_record_event_at(const dc_record *rec, size_t i, dc_event_info *out);
/* The j-th field of event i (keys in bytewise order), or the field named
 * `key` (DC_ENOTFOUND when the event has none). */
DC_EXTERN int dc_record_event_field_at(const dc_record *rec, size_t i, size_t j, const char **key,
                                       dc_value *out);
DC_EXTERN int dc_record_event_get(const dc_record *rec, size_t i, const char *key, dc_value *out);

/*
 * Cheap reads for loops over many records (dc_record_each): no error is
 * recorded when a field is missing, and nothing is copied.
 *
 * dc_record_value: a register's value, or NULL (no field of that name, or
 * the field is a set).  dc_record_event: event i as a read-only view owned
 * by the record (NULL past the end): its time (ms since the epoch), its
 * author's 32-byte signing key, and its fields, keys in bytewise order.
 * dc_event_value: the event's field `key`, or NULL.  A dc_event is never
 * made by the caller; fields may be added at its end in a later version.
 */
typedef struct dc_event {
    int64_t time_ms;
    const uint8_t *author;
    size_t nfields;
    const char *const *keys;
    const dc_value *values;
} dc_event;

DC_EXTERN const dc_value *dc_record_value(const dc_record *rec, const char *field);
/* A set's members (as dc_record_set_at gives them, in value order) and
 * their number in *n; NULL and 0 when there is no such set. */
DC_EXTERN const dc_value *dc_record_set_values(const dc_record *rec, const char *field, size_t *n);
DC_EXTERN const dc_event *dc_record_event(const dc_record *rec, size_t i);
DC_EXTERN const dc_value *dc_event_value(const dc_event *e, const char *key);

/*
 * The order of values, for set members and dc_query_options.order_by:
 * null < false < true < numbers (integers and floats by value; an integer
 * before a float of equal value) < strings (bytewise) < bytes (bytewise,
 * then shorter first).  <0, 0 or >0.
 */
DC_EXTERN int dc_value_compare(const dc_value *a, const dc_value *b);

/*
 * A value index on `field` of the records of `type` in `space`, for the
 * queries that filter on it (dc_record_query, dc_live_open): they then read
 * only the records that hold the value instead of every record of the type.
 * Filled at once from the records as they stand (a write transaction over
 * the type), then kept by every commit and merge.  An index is this
 * replica's, not the space's: it is not synced, and each device declares
 * what it looks up.  Declaring it again is a no-op.  0, or the errors of a
 * write (DC_ENOTFOUND for an unknown space).
 */
DC_EXTERN int dc_index_declare(dc_replica *r, const char *space, const char *type,
                               const char *field);

/*
 * Queries: the live records of a type, filtered, sorted, paged.
 *
 * where_field/where_value: records whose register equals the value or
 * whose set contains it (as dc_record_find); NULL field: every record.
 * order_by: a register's value in dc_value_compare order (records without
 * it last, whatever the direction), ties by id; NULL: id order.  offset
 * and limit (0: no limit) page the sorted result; `total` counts every
 * match.  with_events 0 leaves events unread (faster when the app needs
 * fields only).  A query reads every record of the type, unless an index is
 * declared on where_field (dc_index_declare): then only the records holding
 * the value are read (docs/reading.md).
 */
/*
 * Version 2 adds, after with_events: id (non-NULL: only the record of that
 * id, if it is live and matches) and unaccepted_empty (1: a space this
 * device has not accepted — an invitation, a declined space, one carried
 * for others — reads as holding no record instead of failing with
 * DC_EDENIED: for walks over many spaces).  Version 1 structs are still
 * read (without those two fields).
 */
#define DC_QUERY_OPTIONS_VERSION 2
typedef struct dc_query_options {
    unsigned int version; /* DC_QUERY_OPTIONS_VERSION */
    const char *where_field;
    const dc_value *where_value;
    const char *order_by;
    int descending;
    size_t offset;
    size_t limit;
    int with_events;
    /* version 2 */
    const char *id;
    int unaccepted_empty;
} dc_query_options;

typedef struct dc_records dc_records;

/* opts NULL: every record of the type, in id order, with events. */
DC_EXTERN int dc_record_query(dc_records **out, dc_replica *r, const char *space, const char *type,
                              const dc_query_options *opts);
DC_EXTERN size_t dc_records_count(const dc_records *rs);
DC_EXTERN size_t dc_records_total(const dc_records *rs);
/* The i-th record of the page, owned by rs (NULL past the end). */
DC_EXTERN const dc_record *dc_records_at(const dc_records *rs, size_t i);
DC_EXTERN void dc_records_free(dc_records *rs);

/* ---- streaming reads ---- */

/*
 * The records of a query, one at a time, in id order, without a copy of
 * the result: fn gets each record as a view that is valid during the call
 * only (copy what must outlive it).  opts as for dc_record_query (NULL:
 * every record, with events), except order_by, which a walk cannot honour
 * (DC_EINVAL: sort with dc_record_query); offset and limit skip and stop.
 * with_events 0 reads no event (a record holding only events is then given
 * with no fields): much faster for walks that read fields only.
 *
 * A non-zero return from fn stops the walk and is returned as it is; a
 * message for it, if any, is the one fn left with dc_replica_set_error.
 * fn may read the replica (other walks included) but not write it.
 * Returns 0, fn's code, or the errors of dc_record_query.
 */
typedef int (*dc_record_fn)(void *user, const dc_record *rec);
DC_EXTERN int dc_record_each(dc_replica *r, const char *space, const char *type,
                             const dc_query_options *opts, dc_record_fn fn, void *user);

/* How many live records of `type` `space` holds, without reading them:
 * 0, or the errors of dc_record_query (DC_EDENIED for a space not accepted). */
DC_EXTERN int dc_record_count(dc_replica *r, const char *space, const char *type, uint64_t *n);

/*
 * The 0-based position of record `id` in the list dc_record_query(r, space,
 * type, opts) gives without its page: the same filter and order (order_by,
 * descending, ties by id, records without the field last; no order_by: id
 * order), offset and limit ignored — for "row 37 of 250" and "scroll to
 * this record" in a list UI (a page around it: its position, then the
 * query with an offset).  Reads the records as a walk does, without
 * copying them.  opts->id must be NULL or `id` (else DC_EINVAL).  0, or
 * DC_ENOTFOUND (with a message) when the record is absent, deleted or does
 * not match the filter, DC_EMISUSE for a NULL id or pos, or the errors of
 * dc_record_query.  Its walks are one state (a read snapshot of their own,
 * or the caller's).
 */
DC_EXTERN int dc_record_position(dc_replica *r, const char *space, const char *type,
                                 const dc_query_options *opts, const char *id, uint64_t *pos);

/* The first space (hex id, in id order) of those this device accepted that
 * holds a live record (type, id): 0, or DC_ENOTFOUND (with a message). */
DC_EXTERN int dc_record_locate(dc_replica *r, const char *type, const char *id, char space[33]);

/*
 * Many reads as one state: between dc_replica_read_begin and
 * dc_replica_read_end, every read of the handle (walks, queries, counts,
 * the JSON reads) sees the file as it was at the first of them, and the
 * reads take the file's lock once, not each.  Only reads may be made
 * inside: a write begun inside (a commit, an import, a new space...) fails
 * with DC_EBUSY and a message saying so.  Pairs nest (the
 * outermost pair counts); inside an open transaction they are no-ops (the
 * transaction is already one state).  read_end without a begin: DC_EMISUSE;
 * read_end leaves the handle's last error as it was (end the read, then
 * report the error a read inside met).
 */
DC_EXTERN int dc_replica_read_begin(dc_replica *r);
DC_EXTERN int dc_replica_read_end(dc_replica *r);

/* ---- live queries ---- */

/*
 * A query kept open: its result is delivered once when opened, then again
 * after every local commit, import, sync or membership change that touched a
 * record of its space and type — only when the result differs from the one
 * delivered last (the page's records, their fields, sets and events, and the
 * total).  The callback runs on the thread that made the change, inside the
 * call that made it (dc_txn_commit, dc_bundle_import, a sync step...), after
 * the change is durable and after the observer's notifications; `result` is
 * valid during the callback only.  Like an observer, the callback must not
 * call into the replica (copy what it needs, post it to the app's thread);
 * it may call dc_live_close.  A failure to re-run the query (the space was
 * removed) is not delivered; the live query stays open and tries again at
 * the next change.
 *
 * Cost: each change that touches the type re-runs the query (docs/reading.md);
 * keep live queries for what a screen shows.
 */
typedef struct dc_live dc_live;
typedef void (*dc_live_fn)(void *user, const dc_records *result);

/* opts as for dc_record_query (copied; NULL: every record, id order). */
DC_EXTERN int dc_live_open(dc_live **out, dc_replica *r, const char *space, const char *type,
                           const dc_query_options *opts, dc_live_fn fn, void *user);
/* Stops it and frees it; NULL is a no-op.  A live query may be closed
 * after its replica (closing the replica stops every live query on it). */
DC_EXTERN void dc_live_close(dc_live *q);

/*
 * Live queries hear of the changes made through their own replica handle.
 * Changes committed through another handle on the same file (a sync
 * thread's, or another process's) are seen by calling this on the handle
 * that holds the live queries, on the thread that uses it: when the file
 * changed since this handle last looked (SQLite's data_version), every live
 * query of the handle runs again and delivers what changed.  *changed (may
 * be NULL) says whether the file had changed.  The bindings call it for the
 * app after a sync on a second handle (SyncClient's refresh option).
 */
DC_EXTERN int dc_replica_refresh(dc_replica *r, int *changed);

/* ---- JSON reads ---- */

/* One live record.  Returns 0 or DC_ENOTFOUND (absent or deleted). */
DC_EXTERN int dc_record_get(dc_buf *out, dc_replica *r, const char *space, const char *type,
                            const char *id);

/* All live records of `type` in `space`: {ID: record, ...}, ids sorted. */
DC_EXTERN int dc_record_list(dc_buf *out, dc_replica *r, const char *space, const char *type);

/*
 * Live records of `type` whose register `field` equals the value, or whose
 * set `field` contains it: {ID: record, ...}, ids sorted.  Walks the
 * records of the type (no value index: it would slow every write); keep
 * lookup keys in record ids where a lookup must be fast.
 */
DC_EXTERN int dc_record_find(dc_buf *out, dc_replica *r, const char *space, const char *type,
                             const char *field, int kind, int64_t num, const char *str);

/* The same with a value of any kind (floats and bytes included). */
DC_EXTERN int dc_record_find_value(dc_buf *out, dc_replica *r, const char *space, const char *type,
                                   const char *field, const dc_value *v);

#ifdef __cplusplus
}
#endif
#endif
