/*
 * dc_replica_sync_status: the sync status of dc_replica_status, typed, for
 * an app's status screen and the bindings' status streams.  The sync
 * client's outcome is what it recorded in the replica's meta values
 * (client/client.c); the totals come from the store.
 */
#include <stdio.h>
#include <string.h>

#include "replica/replica_int.h"

/* A meta text into a fixed field, cut to fit; "" when absent. */
static void text(dc__store *st, const char *key, char *out, size_t cap) {
    dc_buf b = DC_BUF_INIT;
    dc__err e = {0};
    out[0] = '\0';
    if (dc__store_meta_get_text(st, key, &b, &e) == 0 && b.size)
        snprintf(out, cap, "%.*s", (int)b.size, (const char *)b.ptr);
    dc_buf_dispose(&b);
}

void dc__replica_note_sync(dc_replica *r, const char *peer, uint64_t attempts, const char *reason,
                           const char *why) {
    dc__store *st = r->st;
    dc__err e = {0};
    int64_t now = dc__clock_wall_ms(&r->clock), fails = 0;
    dc__store_meta_get(st, "sync_failures", &fails, &e);
    dc__err_clear(&e);
    if (dc__store_begin(st, &e))
        return;
    int w = dc__store_meta_put(st, "sync_attempt_ms", now, &e);
    if (!w)
        w = dc__store_meta_put_text(st, "sync_peer", peer, &e);
    if (!w)
        w = dc__store_meta_put(st, "sync_attempts", (int64_t)attempts, &e);
    if (!reason) {
        if (!w)
            w = dc__store_meta_put(st, "sync_ok_ms", now, &e);
        if (!w)
            w = dc__store_meta_put(st, "sync_failures", 0, &e);
        if (!w)
            w = dc__store_meta_put_text(st, "sync_reason", "", &e);
        if (!w)
            w = dc__store_meta_put_text(st, "sync_error", "", &e);
    } else {
        if (!w)
            w = dc__store_meta_put(st, "sync_failures", fails + 1, &e);
        if (!w)
            w = dc__store_meta_put_text(st, "sync_reason", reason, &e);
        if (!w)
            w = dc__store_meta_put_text(st, "sync_error", why, &e);
    }
    if (w || dc__store_commit(st, &e))
        dc__store_rollback(st);
}

int dc_replica_sync_status(dc_replica *r, dc_sync_status *out) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "sync status: out is NULL");
    if (out->version != DC_SYNC_STATUS_VERSION)
        return dc__fail(r, DC_EINVAL, "sync status: version %u, this library fills %u",
                        out->version, DC_SYNC_STATUS_VERSION);
    memset(out, 0, sizeof *out);
    out->version = DC_SYNC_STATUS_VERSION;
    dc__store *st = r->st;
    dc__totals t;
    if (dc__store_totals(st, &t, &r->err))
        return dc__fail_err(r, &r->err);
    out->unacked = t.unacked;
    out->held = t.held;
    out->opaque = t.opaque;
    out->rejected = t.rejected;
    out->unauthorised = t.unauthorised;
    out->future = t.future;
    dc__err e = {0};
    dc__store_meta_get(st, "clock_offset", &out->clock_offset_ms, &e);
    dc__store_meta_get(st, "relay_sync_ms", &out->last_relay_sync_ms, &e);
    if (dc__store_meta_get(st, "sync_attempt_ms", &out->attempt_ms, &e) != 0)
        return 0; /* the client never ran */
    out->has_last = 1;
    dc__store_meta_get(st, "sync_ok_ms", &out->ok_ms, &e);
    dc__store_meta_get(st, "sync_failures", &out->failures, &e);
    dc__store_meta_get(st, "sync_attempts", &out->attempts, &e);
    out->ok = out->failures == 0;
    text(st, "sync_peer", out->peer, sizeof out->peer);
    if (!out->ok) {
        text(st, "sync_reason", out->reason, sizeof out->reason);
        text(st, "sync_error", out->error, sizeof out->error);
    }
    return 0;
}
