/*
 * The domain's reads over the public record API (read.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int dc__dom_read_begin(dc_replica *r, bool *began) {
    int rc = dc_replica_read_begin(r);
    *began = rc == 0;
    return rc;
}

void dc__dom_read_end(dc_replica *r, bool began) {
    if (began)
        dc_replica_read_end(r);
}

int dc__dom_json_value(dc_buf *b, const dc_value *v) {
    if (!v)
        return dc__json_value(b, NULL);
    dc__value x = {v->kind, v->num, (const char *)v->ptr, (uint32_t)v->len};
    if (v->kind == DC_FLOAT)
        x = dc__value_real(v->real);
    return dc__json_value(b, &x);
}

static int key_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dc__dom_event_json(dc_buf *b, const dc_event *e) {
    const char **ks = dc__calloc(e->nfields + 2, sizeof *ks);
    if (!ks)
        return DC_ENOMEM;
    for (size_t i = 0; i < e->nfields; i++)
        ks[i] = e->keys[i];
    ks[e->nfields] = "@author";
    ks[e->nfields + 1] = "@time";
    qsort(ks, e->nfields + 2, sizeof *ks, key_cmp);
    int w = dc__buf_putc(b, '{');
    for (size_t i = 0; i < e->nfields + 2; i++) {
        if (i)
            w |= dc__buf_putc(b, ',');
        w |= dc__json_str(b, ks[i], strlen(ks[i]));
        w |= dc__buf_putc(b, ':');
        if (strcmp(ks[i], "@author") == 0) {
            char hex[65];
            dc__hex(hex, e->author, 32);
            w |= dc__json_str(b, hex, 64);
        } else if (strcmp(ks[i], "@time") == 0) {
            w |= dc__buf_printf(b, "%lld", (long long)e->time_ms);
        } else {
            w |= dc__dom_json_value(b, dc_event_value(e, ks[i]));
        }
    }
    w |= dc__buf_putc(b, '}');
    dc__free(ks);
    return w ? DC_ENOMEM : 0;
}
