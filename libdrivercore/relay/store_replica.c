/*
 * The relay's default storage backend (relay_store.h): one SQLite file
 * holding a replica with no space key.  dc_bundle_import already verifies
 * each envelope's signature and its author's write right from the clear,
 * admin-signed membership, and keeps changes it cannot decrypt opaque, so
 * the relay is "a replica that holds no keys" and reuses the sync session
 * unchanged.  The replica is opened durable (synchronous=FULL): a reply to
 * a device is built only after its changes' import has committed.
 *
 * This file is the only one in relay/ that reaches into the replica's
 * internals (replica/replica_int.h, for the store handle behind
 * dc__relay_store_knows); sign.c reaches the device key the same way.
 */
#include <string.h>

#include "relay/relay_store.h"
#include "replica/replica_int.h"

struct dc__relay_store {
    dc_replica *r;
    bool borrowed; /* the caller's replica: not closed here */
};

int dc__relay_store_open(dc__relay_store **out, const char *path, dc_clock_fn clock,
                         void *clock_user, dc__err *err) {
    *out = NULL;
    dc__relay_store *st = dc__calloc(1, sizeof *st);
    if (!st)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "drivercore-relay";
    o.clock = clock;
    o.clock_user = clock_user;
    o.durable = 1;
    int rc = dc_replica_open(&st->r, path, &o);
    if (rc) {
        dc__err_set(err, rc, "relay: cannot open the store %s: %s", path, dc_error_last());
        dc__free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int dc__relay_store_wrap(dc__relay_store **out, dc_replica *r, dc__err *err) {
    *out = NULL;
    if (r->txn)
        return dc__err_set(err, DC_EMISUSE, "relay: a transaction is open on the replica");
    dc__relay_store *st = dc__calloc(1, sizeof *st);
    if (!st)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    st->r = r;
    st->borrowed = true;
    *out = st;
    return 0;
}

void dc__relay_store_close(dc__relay_store *st) {
    if (!st)
        return;
    if (!st->borrowed)
        dc_replica_close(st->r);
    dc__free(st);
}

int dc__relay_store_session_new(dc_sync **out, dc__relay_store *st, const uint8_t device[32],
                                dc__sync_filter_fn allow, void *user, dc__err *err) {
    int rc = dc_sync_new(out, st->r, DC_SYNC_RESPONDER);
    if (rc)
        return dc__err_set(err, rc, "relay: %s", dc_replica_errmsg(st->r));
    if ((rc = dc__sync_set_peer(*out, device, allow, user)) != 0) {
        dc_sync_free(*out);
        *out = NULL;
        return dc__err_set(err, rc, "relay: cannot bind the session to its device");
    }
    return 0;
}

int dc__relay_store_session_step(dc__relay_store *st, dc_sync *s, dc_buf *out, int *done,
                                 const uint8_t *in, size_t n, dc__err *err) {
    int rc = dc_sync_step(s, out, done, in, n);
    if (rc)
        dc__err_set(err, rc, "%s", dc_replica_errmsg(st->r));
    return rc;
}

void dc__relay_store_session_free(dc__relay_store *st, dc_sync *s) {
    (void)st;
    dc_sync_free(s);
}

bool dc__relay_store_is_member(dc__relay_store *st, const uint8_t space[16],
                               const uint8_t device[32]) {
    return dc__replica_is_member(st->r, space, device);
}

bool dc__relay_store_knows(dc__relay_store *st, const uint8_t space[16]) {
    dc__space sp;
    dc__err e = {0};
    return dc__store_space_get(st->r->st, space, &sp, &e) == 0;
}

typedef struct devlist {
    uint8_t (*v)[32];
    size_t n, cap;
} devlist;

static int add_dev(void *user, const uint8_t device[32]) {
    devlist *l = user;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        uint8_t(*p)[32] = dc__realloc(l->v, nc * sizeof *p);
        if (!p)
            return DC_ENOMEM;
        l->v = p;
        l->cap = nc;
    }
    memcpy(l->v[l->n++], device, 32);
    return 0;
}

int dc__relay_store_members(dc__relay_store *st, const uint8_t space[16], uint8_t (**devs)[32],
                            size_t *n, dc__err *err) {
    devlist l = {NULL, 0, 0};
    int rc = dc__replica_space_devices(st->r, space, add_dev, &l);
    if (rc) {
        dc__free(l.v);
        *devs = NULL;
        *n = 0;
        return dc__err_set(err, rc, "relay: reading the members of a space failed");
    }
    *devs = l.v;
    *n = l.n;
    return 0;
}

dc_replica *dc__relay_store_replica(dc__relay_store *st) {
    return st->r;
}
