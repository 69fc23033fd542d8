/*
 * What code layered on the core needs beyond records (the domain of
 * model/, an app's own model): the spaces it can read, keys derived from a
 * space's key, and a way to record its own errors on the handle.  Records
 * are read in reading.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

int dc_replica_set_error(dc_replica *r, int code, const char *fmt, ...) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "set error: the replica handle is NULL");
    if (code == 0) {
        dc__err_clear(&r->err);
        return 0;
    }
    r->err.code = code;
    if (!fmt) {
        snprintf(r->err.msg, sizeof r->err.msg, "%s", dc_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    return code;
}

typedef struct spaces_ctx {
    dc_space_fn fn;
    void *user;
} spaces_ctx;

static int space_hex(void *user, const uint8_t id[16]) {
    spaces_ctx *c = user;
    char hex[33];
    dc__hex(hex, id, 16);
    return c->fn(c->user, hex);
}

int dc_space_each(dc_replica *r, dc_space_fn fn, void *user) {
    DC__CHECK(r);
    if (!fn)
        return dc__fail(r, DC_EMISUSE, "space each: fn is NULL");
    spaces_ctx c = {fn, user};
    int rc = dc__store_spaces_each(r->st, space_hex, &c, &r->err);
    if (rc && r->err.code == 0)
        return rc; /* fn's own code */
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_space_derive_key(dc_replica *r, const char *space, const char *context, uint8_t out[32]) {
    DC__CHECK(r);
    if (!context || !out)
        return dc__fail(r, DC_EMISUSE, "derive key: context and out must not be NULL");
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    dc__space sp;
    if (dc__store_space_get(r->st, sid, &sp, &r->err))
        return dc__fail_err(r, &r->err);
    /* Not accepted: its key is not opened here (the message says why). */
    if (dc__space_readable(r, &sp))
        return r->err.code = DC_ENOKEY;
    /* The genesis key (epoch 0), which every member holds (later keys'
     * lockboxes carry it): derived keys, such as the lookup hash of an
     * identity number, stay the same across rotations. */
    const uint8_t *key = dc__space_key(r, sp.sid, 0, NULL, &r->err);
    if (!key)
        return dc__fail_err(r, &r->err);
    crypto_generichash(out, 32, (const uint8_t *)context, strlen(context), key, DC_SPACE_KEY);
    return 0;
}
