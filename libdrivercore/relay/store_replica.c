/*
 * A relay store over a replica the caller opened (relay_store.h): a
 * secretary's tablet serving the phones of its yard (`drivercore serve`).
 * The replica holds the tablet's keys and its app's state, so what phones
 * push is imported, verified and folded like any import; a replica is one
 * thread's at a time, so every operation takes the store's lock, and a
 * sync step holds it from its first read to its reply.
 *
 * It reaches the replica only through the public API, the sync session
 * (sync/session.h) and the replica's ports (replica/port.h: membership;
 * replica/import_port.h: what it keeps of a space's log).
 */
#include <pthread.h>
#include <string.h>

#include "relay/relay_store.h"
#include "replica/import_port.h"
#include "replica/port.h"

typedef struct wrap {
    dc__relay_store base;
    dc_replica *r;
    pthread_mutex_t mu;
} wrap;

struct dc__relay_sess {
    dc_sync *s;
};

static void w_close(dc__relay_store *st) {
    wrap *w = (wrap *)st;
    pthread_mutex_destroy(&w->mu);
    dc__free(w);
}

static int w_session_new(dc__relay_sess **out, dc__relay_store *st, const uint8_t device[32],
                         dc__sync_filter_fn allow, void *user, dc__err *err) {
    wrap *w = (wrap *)st;
    *out = NULL;
    dc__relay_sess *x = dc__calloc(1, sizeof *x);
    if (!x)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    pthread_mutex_lock(&w->mu);
    int rc = dc_sync_new(&x->s, w->r, DC_SYNC_RESPONDER);
    if (rc)
        dc__err_set(err, rc, "relay: %s", dc_replica_errmsg(w->r));
    else if ((rc = dc__sync_set_peer(x->s, device, allow, user)) != 0)
        dc__err_set(err, rc, "relay: cannot bind the session to its device");
    pthread_mutex_unlock(&w->mu);
    if (rc) {
        dc_sync_free(x->s);
        dc__free(x);
        return rc;
    }
    *out = x;
    return 0;
}

static int w_session_step(dc__relay_store *st, dc__relay_sess *x, dc_buf *out, int *done,
                          const uint8_t *in, size_t n, dc__err *err) {
    wrap *w = (wrap *)st;
    pthread_mutex_lock(&w->mu);
    int rc = dc_sync_step(x->s, out, done, in, n);
    if (rc)
        dc__err_set(err, rc, "%s", dc_replica_errmsg(w->r));
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void w_session_figures(dc__relay_sess *x, dc__sync_figures *f) {
    dc__sync_get_figures(x->s, f);
}

static void w_session_free(dc__relay_store *st, dc__relay_sess *x) {
    wrap *w = (wrap *)st;
    if (!x)
        return;
    pthread_mutex_lock(&w->mu);
    dc_sync_free(x->s);
    pthread_mutex_unlock(&w->mu);
    dc__free(x);
}

/* is_member and knows are asked by the filter inside a step, which holds
 * the lock already; members is asked from outside and takes it. */
static bool w_is_member(dc__relay_store *st, const uint8_t space[16], const uint8_t device[32]) {
    wrap *w = (wrap *)st;
    return dc__replica_is_member(w->r, space, device);
}

static bool w_knows(dc__relay_store *st, const uint8_t space[16]) {
    wrap *w = (wrap *)st;
    return dc__replica_knows(w->r, space);
}

int dc__relay_devlist_add(void *user, const uint8_t device[32]) {
    dc__relay_devlist *l = user;
    if (DC__VEC_ROOM(l->v, l->n, l->cap))
        return DC_ENOMEM;
    memcpy(l->v[l->n++], device, 32);
    return 0;
}

static int w_members(dc__relay_store *st, const uint8_t space[16], uint8_t (**devs)[32], size_t *n,
                     dc__err *err) {
    wrap *w = (wrap *)st;
    dc__relay_devlist l = {NULL, 0, 0};
    pthread_mutex_lock(&w->mu);
    int rc = dc__replica_space_devices(w->r, space, dc__relay_devlist_add, &l);
    pthread_mutex_unlock(&w->mu);
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

static int w_ready(dc__relay_store *st, dc__err *err) {
    (void)st;
    (void)err;
    return 0;
}

static dc_replica *w_replica(dc__relay_store *st) {
    return ((wrap *)st)->r;
}

/* The attachment endpoints use the replica the sessions step on: the same
 * lock. */
static void w_lock(dc__relay_store *st, bool on) {
    wrap *w = (wrap *)st;
    if (on)
        pthread_mutex_lock(&w->mu);
    else
        pthread_mutex_unlock(&w->mu);
}

static int w_space_log(dc__relay_store *st, const uint8_t space[16], int64_t *envelopes,
                       int64_t *covered, dc__err *err) {
    wrap *w = (wrap *)st;
    pthread_mutex_lock(&w->mu);
    int rc = dc__replica_space_log(w->r, space, envelopes, covered, err);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* NULL for the quota: a tablet serving its yard's phones applies none. */
static const dc__relay_store_ops wrap_ops = {
    "replica",      w_close,     w_session_new, w_session_step, w_session_figures,
    w_session_free, w_is_member, w_knows,       w_members,      w_ready,
    NULL,           NULL,        w_replica,     w_lock,         NULL,
    NULL,           w_space_log,
};

int dc__relay_store_wrap(dc__relay_store **out, dc_replica *r, dc__err *err) {
    *out = NULL;
    if (dc__replica_in_txn(r))
        return dc__err_set(err, DC_EMISUSE, "relay: a transaction is open on the replica");
    wrap *w = dc__calloc(1, sizeof *w);
    if (!w)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    w->base.ops = &wrap_ops;
    w->r = r;
    pthread_mutex_init(&w->mu, NULL);
    *out = &w->base;
    return 0;
}

dc_replica *dc__relay_store_replica(dc__relay_store *st) {
    return st && st->ops->replica ? st->ops->replica(st) : NULL;
}
