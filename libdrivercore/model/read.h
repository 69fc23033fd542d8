/*
 * The domain's reads, on the public record API only (drivercore/record.h,
 * docs/domain.md): the walks every file of model/ makes, and its errors
 * recorded on the handle as any code layered on the core records them.
 */
#ifndef DC_MODEL_READ_H
#define DC_MODEL_READ_H

#include "base/base.h"
#include "drivercore/record.h"
#include "drivercore/space.h"

/* Live records of `type` in `space` (hex id), only `id` when not NULL, in
 * id order, each as a view valid during fn (dc_record_each).  A space this
 * device has not accepted feeds no domain logic: to the domain it holds no
 * records.  Errors are kept on the replica (dc_replica_errmsg). */
int dc__dom_each(dc_replica *r, const char *space, const char *type, const char *id,
                 dc_record_fn fn, void *user);

/* As dc__dom_each, without reading the events: a record holding only
 * events is given with no fields.  For walks that read fields only. */
int dc__dom_each_fields(dc_replica *r, const char *space, const char *type, const char *id,
                        dc_record_fn fn, void *user);

/* Many reads as one state (dc_replica_read_begin): *began says whether
 * dc__dom_read_end has a read to end; the end keeps the handle's error. */
int dc__dom_read_begin(dc_replica *r, bool *began);
void dc__dom_read_end(dc_replica *r, bool began);

/* A value as JSON (dc__json_value, the library's one writer of values). */
int dc__dom_json_value(dc_buf *b, const dc_value *v);

/* An event as canonical JSON, as dump and dc_record_get print it: its
 * fields with "@author" (hex) and "@time" added, keys sorted bytewise
 * (docs/data-model.md, "Events").  0 or DC_ENOMEM. */
int dc__dom_event_json(dc_buf *b, const dc_event *e);

/* Records an error on the replica and returns code (dc_replica_set_error). */
int dc__model_fail(dc_replica *r, int code, const char *fmt, ...) DC__PRINTF(3, 4);

/* A string value's bytes (DC_STR, DC_BYTES: NUL-terminated in a record). */
static inline const char *dc__vstr(const dc_value *v) {
    return (const char *)v->ptr;
}

#endif
