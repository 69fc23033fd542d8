/*
 * The relay core's door (docs/relay.md, "Endpoints", "Limits"): a
 * device proves its key by signing a challenge and gets a token; each
 * sync request is admitted here before it reaches the store — its token,
 * the device's rate limit (a token bucket) and its wait after a push
 * refused for the storage quota, its sync session found or begun within
 * the limits on open sessions.  All under `mu`, in microseconds.
 */
#include <sodium.h>
#include <string.h>

#include "relay/core.h"

int dc_relay_challenge(uint8_t challenge[32], int64_t *expires_ms, dc_relay *rl,
                       const uint8_t device[32]) {
    if (!challenge || !rl || !device)
        return dc__last_set(DC_EMISUSE, "dc_relay_challenge: NULL argument");
    int64_t now = dc__relay_now_ms(rl);
    sess *dead = NULL;
    int rc = 0;
    chal *c = dc__calloc(1, sizeof *c);
    if (!c)
        return dc__last_set(DC_ENOMEM, "relay: out of memory");
    randombytes_buf(c->h.key, 32);
    memcpy(c->device, device, 32);
    c->h.expires = now + rl->o.challenge_ttl_ms;
    pthread_mutex_lock(&rl->mu);
    dc__relay_purge(rl, now, &dead);
    if (rl->chals.n >= rl->o.max_challenges) {
        rl->refusals[R_BUSY]++;
        rc = dc__last_set(DC_EBUSY, "relay: too many pending challenges; retry later");
    } else if (dc__relay_map_put(&rl->chals, &c->h)) {
        rc = dc__last_set(DC_ENOMEM, "relay: out of memory");
    }
    pthread_mutex_unlock(&rl->mu);
    dc__relay_free_dead(rl, dead);
    if (rc) {
        dc__free(c);
        return rc;
    }
    memcpy(challenge, c->h.key, 32);
    if (expires_ms)
        *expires_ms = now + rl->o.challenge_ttl_ms;
    return 0;
}

int dc_relay_session(uint8_t token[32], int64_t *expires_ms, dc_relay *rl, const uint8_t device[32],
                     const uint8_t challenge[32], const uint8_t sig[64]) {
    if (!token || !rl || !device || !challenge || !sig)
        return dc__last_set(DC_EMISUSE, "dc_relay_session: NULL argument");
    int64_t now = dc__relay_now_ms(rl);
    /* The challenge is taken out of the table first, whatever follows:
     * one signature attempt per challenge, so none can be replayed. */
    pthread_mutex_lock(&rl->mu);
    chal *c = (chal *)dc__relay_map_find(&rl->chals, challenge);
    if (c)
        dc__relay_map_unlink(&rl->chals, &c->h);
    pthread_mutex_unlock(&rl->mu);
    const char *why = NULL;
    if (!c)
        why = "unknown or already used challenge";
    else if (c->h.expires <= now)
        why = "expired challenge";
    else if (sodium_memcmp(c->device, device, 32) != 0)
        why = "challenge issued to another device";
    dc__free(c);
    if (!why) {
        uint8_t m[DC_RELAY_AUTH_PREFIX_LEN + 32];
        memcpy(m, DC_RELAY_AUTH_PREFIX, DC_RELAY_AUTH_PREFIX_LEN);
        memcpy(m + DC_RELAY_AUTH_PREFIX_LEN, challenge, 32);
        if (crypto_sign_verify_detached(sig, m, sizeof m, device) != 0)
            why = "bad signature";
    }
    if (why) {
        pthread_mutex_lock(&rl->mu);
        rl->refusals[R_AUTH]++;
        pthread_mutex_unlock(&rl->mu);
        return dc__last_set(DC_EBADSIG,
                            "relay: authentication refused: %s; ask for a new "
                            "challenge",
                            why);
    }
    tok *t = dc__calloc(1, sizeof *t);
    if (!t)
        return dc__last_set(DC_ENOMEM, "relay: out of memory");
    randombytes_buf(token, 32);
    crypto_generichash(t->h.key, 32, token, 32, NULL, 0);
    memcpy(t->device, device, 32);
    t->h.expires = now + rl->o.token_ttl_ms;
    int rc = 0;
    sess *dead = NULL;
    pthread_mutex_lock(&rl->mu);
    dc__relay_purge(rl, now, &dead);
    if (rl->toks.n >= rl->o.max_tokens) {
        rl->refusals[R_BUSY]++;
        rc = dc__last_set(DC_EBUSY, "relay: too many sessions open; retry later");
    } else if (dc__relay_map_put(&rl->toks, &t->h)) {
        rc = dc__last_set(DC_ENOMEM, "relay: out of memory");
    } else {
        rl->auth_ok++;
    }
    pthread_mutex_unlock(&rl->mu);
    dc__relay_free_dead(rl, dead);
    if (rc) {
        sodium_memzero(token, 32);
        dc__free(t);
        return rc;
    }
    if (expires_ms)
        *expires_ms = t->h.expires;
    return 0;
}

bool dc__relay_token_device(dc_relay *rl, const uint8_t token[32], int64_t now,
                            uint8_t dev_out[32]) {
    uint8_t h[32];
    crypto_generichash(h, 32, token, 32, NULL, 0);
    tok *t = (tok *)dc__relay_map_find(&rl->toks, h);
    if (!t || t->h.expires <= now)
        return false;
    memcpy(dev_out, t->device, 32);
    return true;
}

int dc_relay_auth(uint8_t device[32], dc_relay *rl, const uint8_t token[32]) {
    if (!device || !rl || !token)
        return dc__last_set(DC_EMISUSE, "dc_relay_auth: NULL argument");
    int64_t now = dc__relay_now_ms(rl);
    pthread_mutex_lock(&rl->mu);
    bool ok = dc__relay_token_device(rl, token, now, device);
    if (!ok)
        rl->refusals[R_AUTH]++;
    pthread_mutex_unlock(&rl->mu);
    return ok ? 0 : dc__last_set(DC_EBADSIG, "relay: unknown or expired token; authenticate again");
}

/* ---- admission of a sync request ---- */

/* Why a request is refused: its code, the message, the metrics' reason. */
typedef struct refusal {
    int rc;
    const char *why;
    int reason;
} refusal;

static int refused(refusal *r, int rc, const char *why, int reason) {
    r->rc = rc;
    r->why = why;
    r->reason = reason;
    return rc;
}

/* The device's entry (under mu): found, or made with a full bucket. */
static int device_entry(dc_relay *rl, const uint8_t device[32], int64_t now, dev **out,
                        refusal *r) {
    dev *d = (dev *)dc__relay_map_find(&rl->devs, device);
    if (!d) {
        d = dc__calloc(1, sizeof *d);
        if (!d || (memcpy(d->h.key, device, 32), dc__relay_map_put(&rl->devs, &d->h))) {
            dc__free(d);
            return refused(r, DC_ENOMEM, "relay: out of memory", R_BUSY);
        }
        d->bucket = rl->o.rate_burst;
        d->refilled = now;
    }
    *out = d;
    return 0;
}

/* The device's rate limit (under mu): a token bucket refilled by elapsed
 * time, one token a request; then the wait after a push refused for the
 * storage quota. */
static int rate_take(dc_relay *rl, dev *d, int64_t now, int64_t *retry_after_ms, refusal *r) {
    double add = (double)(now - d->refilled) / 1000.0 * rl->o.rate_per_s;
    if (add > 0) {
        d->bucket = d->bucket + add > rl->o.rate_burst ? rl->o.rate_burst : d->bucket + add;
        d->refilled = now;
    }
    d->h.expires = now + DEVICE_IDLE_MS;
    if (d->bucket < 1.0) {
        if (retry_after_ms)
            *retry_after_ms = (int64_t)((1.0 - d->bucket) / rl->o.rate_per_s * 1000.0) + 1;
        return refused(r, DC_EBUSY, "relay: rate limit; retry later", R_RATE);
    }
    d->bucket -= 1.0;
    if (now < d->quota_until) {
        if (retry_after_ms)
            *retry_after_ms = d->quota_until - now;
        return refused(r, DC_EBUSY,
                       "relay: storage quota: a push of this device was refused; retry later",
                       R_QUOTA);
    }
    return 0;
}

/* The device's session `sid` (under mu), current and not busy. */
static int session_resume(dc_relay *rl, const uint8_t sid[32], const uint8_t device[32],
                          int64_t now, int64_t *retry_after_ms, sess **out, refusal *r) {
    sess *s = (sess *)dc__relay_map_find(&rl->sessions, sid);
    if (!s || s->h.expires <= now || sodium_memcmp(s->device, device, 32) != 0)
        return refused(r, DC_ENOTFOUND, "relay: unknown or expired sync session; begin a new one",
                       R_MALFORMED);
    if (s->busy) {
        if (retry_after_ms)
            *retry_after_ms = 100;
        return refused(r, DC_EBUSY, "relay: this sync session is busy with another request",
                       R_BUSY);
    }
    *out = s;
    return 0;
}

/* A new session for the device (under mu), within the limits on open
 * sessions. */
static int session_begin(dc_relay *rl, dev *d, const uint8_t device[32], int64_t *retry_after_ms,
                         sess **out, refusal *r) {
    if (d->nsess >= rl->o.max_sessions_per_device || rl->sessions.n >= rl->o.max_sessions) {
        if (retry_after_ms)
            *retry_after_ms = 1000;
        return refused(r, DC_EBUSY, "relay: too many sync sessions open; retry later", R_BUSY);
    }
    sess *s = dc__calloc(1, sizeof *s);
    if (!s)
        return refused(r, DC_ENOMEM, "relay: out of memory", R_BUSY);
    randombytes_buf(s->h.key, 32);
    s->rl = rl;
    memcpy(s->device, device, 32);
    if (dc__relay_map_put(&rl->sessions, &s->h)) {
        dc__free(s);
        return refused(r, DC_ENOMEM, "relay: out of memory", R_BUSY);
    }
    d->nsess++;
    d->since = rl->gen;
    rl->sessions_total++;
    *out = s;
    return 0;
}

int dc__relay_admit(dc_relay *rl, const uint8_t token[32], const uint8_t *sid, size_t n,
                    int64_t now, int64_t *retry_after_ms, uint8_t device[32], sess **out) {
    sess *dead = NULL, *s = NULL;
    dev *d = NULL;
    refusal r = {0, NULL, R_AUTH};
    pthread_mutex_lock(&rl->mu);
    dc__relay_purge(rl, now, &dead);
    rl->sync_requests++;
    if (!dc__relay_token_device(rl, token, now, device))
        refused(&r, DC_EBADSIG, "relay: unknown or expired token; authenticate again", R_AUTH);
    else if (device_entry(rl, device, now, &d, &r) || rate_take(rl, d, now, retry_after_ms, &r))
        ;
    else if (sid)
        session_resume(rl, sid, device, now, retry_after_ms, &s, &r);
    else
        session_begin(rl, d, device, retry_after_ms, &s, &r);
    if (s) {
        s->busy = true;
        rl->bytes_in += n;
    } else {
        rl->refusals[r.reason]++;
    }
    pthread_mutex_unlock(&rl->mu);
    dc__relay_free_dead(rl, dead);
    if (r.rc)
        return dc__last_set(r.rc, "%s", r.why);
    *out = s;
    return 0;
}
