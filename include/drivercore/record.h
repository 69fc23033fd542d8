/*
 * drivercore — reading records from the materialised state.
 *
 * Reads return JSON in the shape of one record of dc_replica_dump:
 * {FIELD: value | [set members], "@events": [...]} (no "@events" key when a
 * record has no events).  Thread safety: as the dc_replica.
 */
#ifndef DRIVERCORE_RECORD_H
#define DRIVERCORE_RECORD_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

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
