/*
 * Error codes, their names and messages (all generated from DC_ERRNO_MAP),
 * error records kept on handles, and the thread-local last error for calls
 * that have no handle yet.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"

const char *dc_error_name(int code) {
    switch (code) {
    case DC_OK: return "DC_OK";
#define XX(name, val, msg)                                                                         \
    case val: return "DC_" #name;
        DC_ERRNO_MAP(XX)
#undef XX
    default: return "DC_UNKNOWN";
    }
}

const char *dc_strerror(int code) {
    switch (code) {
    case DC_OK: return "success";
#define XX(name, val, msg)                                                                         \
    case val: return msg;
        DC_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error code";
    }
}

int dc__err_set(dc__err *e, int code, const char *fmt, ...) {
    if (!e)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int dc__err_prefix(dc__err *e, const char *fmt, ...) {
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* Truncation is fine here: the message is for people, and keeps its start. */
    size_t pn = strnlen(pre, sizeof pre), on = strnlen(old, sizeof old - 1), n = 0;
    size_t cap = sizeof e->msg - 1;
    memcpy(e->msg, pre, pn < cap ? pn : cap);
    n = pn < cap ? pn : cap;
    if (n + 2 <= cap && on) {
        memcpy(e->msg + n, ": ", 2);
        n += 2;
        size_t k = on < cap - n ? on : cap - n;
        memcpy(e->msg + n, old, k);
        n += k;
    }
    e->msg[n] = 0;
    return e->code;
}

int dc__err_suffix(dc__err *e, const char *suffix) {
    size_t n = strnlen(e->msg, sizeof e->msg - 1), k = strlen(suffix);
    if (k > sizeof e->msg - 1 - n)
        k = sizeof e->msg - 1 - n;
    memcpy(e->msg + n, suffix, k);
    e->msg[n + k] = 0;
    return e->code;
}

void dc__err_clear(dc__err *e) {
    e->code = 0;
    e->msg[0] = 0;
}

static _Thread_local dc__err t_last;

int dc__last_set(int code, const char *fmt, ...) {
    t_last.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last.msg, sizeof t_last.msg, fmt, ap);
    va_end(ap);
    return code;
}

int dc__last_from(const dc__err *e) {
    t_last = *e;
    return e->code;
}

void dc__last_clear(void) {
    dc__err_clear(&t_last);
}

const char *dc_error_last(void) {
    return t_last.msg;
}

int dc_error_last_code(void) {
    return t_last.code;
}
