/*
 * A sync request served (dc_relay_sync, docs/relay.md, "Endpoints", "Threading, and why"): admitted
 * (admit.c: token, rate limit, session), one step of the store's responder
 * with no lock of the core held, then its outcome settled under `mu`: the
 * counters, the change notices of the spaces it reconciled, the session
 * kept for the next request or dropped.
 */
#include <string.h>

#include "relay/core.h"

/* The responder's space filter: a member may reconcile its spaces, and
 * anyone may upload a space the relay has never seen (its genesis and
 * membership, signed by its creator, come with it).  Runs inside a step of
 * the request that owns the session. */
static bool allow_space(void *user, const uint8_t space[16], const uint8_t device[32]) {
    sess *s = user;
    dc__relay_store *st = s->rl->st;
    if (!st->ops->is_member(st, space, device) && st->ops->knows(st, space))
        return false;
    for (size_t i = 0; i < s->nsp; i++)
        if (memcmp(s->spaces[i], space, 16) == 0)
            return true;
    if (DC__VEC_ROOM(s->spaces, s->nsp, s->csp))
        return true; /* only the change notification loses precision */
    memcpy(s->spaces[s->nsp++], space, 16);
    return true;
}

static int refuse(dc_relay *rl, int reason, int code, const char *msg) {
    pthread_mutex_lock(&rl->mu);
    rl->refusals[reason]++;
    pthread_mutex_unlock(&rl->mu);
    return dc__last_set(code, "%s", msg);
}

/* The store's part: one step of the session's responder, begun at the
 * first request, no lock of ours held (the session is this request's
 * alone: it is marked busy).  *fig: the session's figures after it. */
static int store_step(dc_relay *rl, sess *s, const uint8_t device[32], dc_buf *out, int *done,
                      const uint8_t *in, size_t n, dc__sync_figures *fig, dc__err *e) {
    dc__relay_store *st = rl->st;
    int rc = 0;
    memset(fig, 0, sizeof *fig);
    if (!s->s)
        rc = st->ops->session_new(&s->s, st, device, allow_space, s, e);
    if (!rc)
        rc = st->ops->session_step(st, s->s, out, done, in, n, e);
    if (!rc)
        st->ops->session_figures(s->s, fig);
    return rc;
}

/* A failed step counted by its reason (under mu); one refused for the
 * storage quota makes the device's requests wait. */
static void count_failure(dc_relay *rl, sess *s, const uint8_t device[32], int64_t now, int rc) {
    dc__relay_store *st = rl->st;
    bool quota = s->s && st->ops->session_over_quota && st->ops->session_over_quota(s->s);
    dev *dq = quota ? (dev *)dc__relay_map_find(&rl->devs, device) : NULL;
    if (dq)
        dq->quota_until = now + QUOTA_BACKOFF_MS;
    int why_r = quota                                                 ? R_QUOTA
                : rc == DC_ETOOBIG                                    ? R_SIZE
                : (rc == DC_EDENIED || rc == DC_EBADSIG)              ? R_DENIED
                : (rc == DC_ENOMEM || rc == DC_EIO || rc == DC_EBUSY) ? R_BUSY
                                                                      : R_MALFORMED;
    rl->refusals[why_r]++;
}

/* A step that succeeded counted (under mu): bytes, changes in and out
 * since the session's last step, latency; changes received noted in the
 * ring for each space the session reconciled.  True when notes were made
 * (*gen: the generation to announce). */
static bool count_success(dc_relay *rl, sess *s, const uint8_t device[32], size_t out_size,
                          const dc__sync_figures *fig, double dt, uint64_t *gen) {
    bool notify = false;
    uint64_t cin = fig->changes_received, cout = fig->changes_sent;
    rl->sync_ok++;
    rl->bytes_out += out_size;
    if (cin > s->in_prev) {
        rl->changes_in += cin - s->in_prev;
        rl->mepoch++; /* the import may have carried grants */
        /* Each space this session reconciled may have received some:
         * an over-approximation that costs a waiting member at most
         * one needless sync, never a missed change. */
        for (size_t i = 0; i < s->nsp; i++) {
            note *nt = &rl->ring[++rl->gen % RING];
            nt->gen = rl->gen;
            memcpy(nt->space, s->spaces[i], 16);
            memcpy(nt->pusher, device, 32);
        }
        notify = s->nsp > 0;
        *gen = rl->gen;
    }
    if (cout > s->out_prev)
        rl->changes_out += cout - s->out_prev;
    s->in_prev = cin;
    s->out_prev = cout;
    dc__relay_count_latency(rl, dt);
    return notify;
}

/* The outcome settled: counted, the session dropped (failed or done) or
 * kept for the next request (its id in session_out), listeners told of
 * changes received. */
static void settle(dc_relay *rl, sess *s, const uint8_t device[32], int64_t now, int rc, bool done,
                   size_t out_size, const dc__sync_figures *fig, double dt, char session_out[65]) {
    bool notify = false;
    bool drop = rc || done;
    uint64_t gen = 0;
    pthread_mutex_lock(&rl->mu);
    if (rc)
        count_failure(rl, s, device, now, rc);
    else
        notify = count_success(rl, s, device, out_size, fig, dt, &gen);
    if (drop) {
        dc__relay_map_unlink(&rl->sessions, &s->h);
        dev *dd = (dev *)dc__relay_map_find(&rl->devs, device);
        if (dd && dd->nsess)
            dd->nsess--;
    } else {
        s->busy = false;
        s->h.expires = now + rl->o.session_ttl_ms;
        dc__hex(session_out, s->h.key, 32);
    }
    dc_relay_change_fn cb = rl->on_change;
    void *cb_user = rl->on_change_user;
    pthread_mutex_unlock(&rl->mu);
    if (drop) {
        s->h.next = NULL;
        dc__relay_free_dead(rl, s);
    }
    if (notify && cb)
        cb(cb_user, gen);
}

int dc_relay_sync(dc_buf *out, char session_out[65], int *done, int64_t *retry_after_ms,
                  dc_relay *rl, const uint8_t token[32], const char *session, const uint8_t *in,
                  size_t n) {
    if (!out || !session_out || !done || !rl || !token || (!in && n))
        return dc__last_set(DC_EMISUSE, "dc_relay_sync: NULL argument");
    double t0 = dc__relay_mono_s();
    dc__buf_clear(out);
    session_out[0] = 0;
    *done = 0;
    if (retry_after_ms)
        *retry_after_ms = 0;
    if (!in)
        return refuse(rl, R_MALFORMED, DC_ECORRUPT, "relay: a sync request needs a message");
    uint8_t sid[32];
    bool have_sid = session && *session;
    if (have_sid && (strlen(session) != 64 || dc__unhex(sid, 32, session) != 0))
        return refuse(rl, R_MALFORMED, DC_ENOTFOUND,
                      "relay: malformed session id; begin a new "
                      "session");
    int64_t now = dc__relay_now_ms(rl);
    uint8_t device[32];
    sess *s = NULL;
    int rc = dc__relay_admit(rl, token, have_sid ? sid : NULL, n, now, retry_after_ms, device, &s);
    if (rc)
        return rc;
    dc__err e = {0};
    dc__sync_figures fig;
    rc = store_step(rl, s, device, out, done, in, n, &fig, &e);
    settle(rl, s, device, now, rc, rc || *done, out->size, &fig, dc__relay_mono_s() - t0,
           session_out);
    if (rc) {
        dc__buf_clear(out);
        return dc__last_from(&e);
    }
    return 0;
}
