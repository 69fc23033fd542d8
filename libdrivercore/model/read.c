/*
 * The domain's reads over the public record API (read.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "model/read.h"

static int each(dc_replica *r, const char *space, const char *type, const char *id, int events,
                dc_record_fn fn, void *user) {
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, events, id, 1};
    return dc_record_each(r, space, type, &o, fn, user);
}

int dc__dom_each(dc_replica *r, const char *space, const char *type, const char *id,
                 dc_record_fn fn, void *user) {
    return each(r, space, type, id, 1, fn, user);
}

int dc__dom_each_fields(dc_replica *r, const char *space, const char *type, const char *id,
                        dc_record_fn fn, void *user) {
    return each(r, space, type, id, 0, fn, user);
}

int dc__model_fail(dc_replica *r, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dc_replica_set_error(r, code, "%s", msg);
}
