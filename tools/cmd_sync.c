/*
 * `drivercore sync REPLICA PEER_REPLICA`: a two-way sync of two local
 * replicas in one process, over the real protocol: the messages travel
 * between two sessions exactly as they would over a link, so the figures
 * printed (bytes, round trips, changes) are those of a real sync.
 *
 * `drivercore sync REPLICA --relay URL`: the same initiator session, its
 * messages carried over HTTP to a drivercore-relay (docs/relay.md) after
 * authenticating with the device key.  Nothing is written to the replica
 * before the relay has answered the first sync message, so a relay that
 * cannot be reached or refuses leaves the replica unchanged.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivercore/relay.h"
#include "http_client.h"
#include "tool.h"

/* A session that never ends would be a protocol bug; stop it loudly. */
#define MAX_MESSAGES 100000

static int sync_local(dc_replica *a, dc_replica *b) {
    dc_sync *sa = NULL, *sb = NULL;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT, rep = DC_BUF_INIT;
    int da = 0, db = 0, rc, out = EXIT_FAIL;
    if ((rc = dc_sync_new(&sa, a, DC_SYNC_INITIATOR)) != 0 ||
        (rc = dc_sync_new(&sb, b, DC_SYNC_RESPONDER)) != 0) {
        fail("sync: %s", dc_error_last());
        goto done;
    }
    if ((rc = dc_sync_step(sa, &m, &da, NULL, 0)) != 0) {
        fail_r(a, rc, "sync");
        goto done;
    }
    for (int i = 0; m.size > 0; i++) {
        if (i == MAX_MESSAGES) {
            fail("sync: the session did not finish after %d messages", MAX_MESSAGES);
            goto done;
        }
        if ((rc = dc_sync_step(sb, &reply, &db, m.ptr, m.size)) != 0) {
            fail_r(b, rc, "sync (peer)");
            goto done;
        }
        if (reply.size == 0)
            break;
        if ((rc = dc_sync_step(sa, &m, &da, reply.ptr, reply.size)) != 0) {
            fail_r(a, rc, "sync");
            goto done;
        }
    }
    if ((rc = dc_sync_report(&rep, sa)) != 0) {
        fail("sync: %s", dc_error_last());
        goto done;
    }
    print_buf(&rep);
    out = EXIT_OK;
done:
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_buf_dispose(&rep);
    return out;
}

/* ---- over a relay ---- */

static int unhex(uint8_t *out, size_t n, const char *hex) {
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void tohex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* The relay's reason for a refusal: its {"error": ...} text, or the status. */
static int refused(const char *what, const http_response *r) {
    const char *why = NULL;
    json_t *j = r->size ? json_loadb((const char *)r->body, r->size, 0, NULL) : NULL;
    if (j)
        why = json_string_value(json_object_get(j, "error"));
    int rc = fail("sync: the relay refused %s (HTTP %ld): %s", what, r->status,
                  why ? why : "no reason given");
    json_decref(j);
    return rc;
}

/* POST a small JSON object and read one hex field of the reply. */
static int post_json(http_client *h, const char *path, const char *body, const char *field,
                     uint8_t *val, size_t n, const char *what) {
    http_response r;
    char err[512];
    if (http_request(h, "POST", path, NULL, NULL, "application/json", (const uint8_t *)body,
                     strlen(body), &r, err, sizeof err) != 0)
        return fail("sync: cannot reach the relay: %s", err);
    if (r.status != 200) {
        int rc = refused(what, &r);
        http_response_clear(&r);
        return rc;
    }
    json_t *j = json_loadb((const char *)r.body, r.size, 0, NULL);
    int rc = unhex(val, n, j ? json_string_value(json_object_get(j, field)) : NULL)
                 ? fail("sync: the relay's answer to %s is malformed", what)
                 : EXIT_OK;
    json_decref(j);
    http_response_clear(&r);
    return rc;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One initiator session carried over HTTP; prints its figures. */
static int session_over_relay(dc_replica *r, http_client *h, const char *tokhex) {
    int rc, out = EXIT_FAIL;
    char err[512], session[72] = "";
    dc_sync *s = NULL;
    dc_buf m = DC_BUF_INIT, rep = DC_BUF_INIT;
    http_response resp = {0};
    /* The session loop, as sync_local's, with the relay as the peer. */
    if ((rc = dc_sync_new(&s, r, DC_SYNC_INITIATOR)) != 0 ||
        (rc = dc_sync_trust_peer_clock(s)) != 0) {
        fail("sync: %s", dc_error_last());
        goto done;
    }
    int d = 0;
    if ((rc = dc_sync_step(s, &m, &d, NULL, 0)) != 0) {
        fail_r(r, rc, "sync");
        goto done;
    }
    int busy = 0;
    for (int i = 0; m.size > 0; i++) {
        if (i == MAX_MESSAGES) {
            fail("sync: the session did not finish after %d messages", MAX_MESSAGES);
            goto done;
        }
        http_response_clear(&resp);
        if (http_request(h, "POST", "/v1/sync", tokhex, session, NULL, m.ptr, m.size, &resp, err,
                         sizeof err) != 0) {
            fail("sync: cannot reach the relay: %s", err);
            goto done;
        }
        if (resp.status == 429 && busy++ < 20) {
            /* Rate-limited: the message was not taken; send it again. */
            sleep_ms(resp.retry_after_s > 0 ? resp.retry_after_s * 1000 : 200);
            i--;
            continue;
        }
        if (resp.status != 200 && resp.status != 204) {
            refused("the sync", &resp);
            goto done;
        }
        if (resp.session[0])
            snprintf(session, sizeof session, "%s", resp.session);
        if (resp.size == 0)
            break;
        if ((rc = dc_sync_step(s, &m, &d, resp.body, resp.size)) != 0) {
            fail_r(r, rc, "sync");
            goto done;
        }
    }
    /* A finished session with the relay: its clock corrects ours, and what
     * we wrote is now durably held there (`drivercore status`). */
    if (d && (rc = dc_sync_note_relay(s)) != 0) {
        fail_r(r, rc, "sync: recording the relay sync");
        goto done;
    }
    if ((rc = dc_sync_report(&rep, s)) != 0) {
        fail("sync: %s", dc_error_last());
        goto done;
    }
    print_buf(&rep);
    out = EXIT_OK;
done:
    http_response_clear(&resp);
    dc_sync_free(s);
    dc_buf_dispose(&m);
    dc_buf_dispose(&rep);
    return out;
}

static int sync_relay(dc_replica *r, const char *url, long wait_s) {
    char err[512];
    http_client *h = http_client_new(url, err, sizeof err);
    if (!h)
        return fail("sync: %s", err);
    int out = EXIT_FAIL;
    http_response resp = {0};
    char body[512], tokhex[65] = "";
    uint8_t ch[32], sig[64], tok[32];
    char chhex[65], sighex[129];
    const char *dev = dc_replica_device_id(r);

    /* Authenticate: challenge, signature by the device key, token. */
    snprintf(body, sizeof body, "{\"device\":\"%s\"}", dev);
    if (post_json(h, "/v1/auth/challenge", body, "challenge", ch, 32, "the challenge request"))
        goto done;
    if (dc_relay_sign_challenge(sig, r, ch) != 0) {
        fail_r(r, dc_replica_errcode(r), "sync");
        goto done;
    }
    tohex(chhex, ch, 32);
    tohex(sighex, sig, 64);
    snprintf(body, sizeof body, "{\"device\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\"}",
             dev, chhex, sighex);
    if (post_json(h, "/v1/auth/session", body, "token", tok, 32, "authentication"))
        goto done;
    tohex(tokhex, tok, 32);
    sodium_memzero(tok, sizeof tok);

    if (session_over_relay(r, h, tokhex))
        goto done;
    if (wait_s > 0) {
        /* Long-poll: the relay answers as soon as a change arrives in one
         * of our spaces; then sync again and print its figures too. */
        char path[64];
        snprintf(path, sizeof path, "/v1/wait?timeout=%ld", wait_s);
        http_response_clear(&resp);
        if (http_request(h, "GET", path, tokhex, NULL, NULL, NULL, 0, &resp, err, sizeof err)) {
            fail("sync: cannot reach the relay: %s", err);
            goto done;
        }
        if (resp.status != 200) {
            refused("the wait", &resp);
            goto done;
        }
        json_t *j = json_loadb((const char *)resp.body, resp.size, 0, NULL);
        int changed = j && json_is_true(json_object_get(j, "changed"));
        json_decref(j);
        if (changed && session_over_relay(r, h, tokhex))
            goto done;
    }
    out = EXIT_OK;
done:
    sodium_memzero(tokhex, sizeof tokhex);
    http_response_clear(&resp);
    http_client_free(h);
    return out;
}

int cmd_sync(int argc, char **argv) {
    static const char *const opts[] = {"relay", "wait", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 2, opts, "sync");
    if (rc)
        return rc;
    const char *relay = tool_opt(&a, "relay");
    if (relay) {
        if (a.npos != 1)
            return usage_error("sync: expected: drivercore sync REPLICA --relay URL");
        dc_replica *r = NULL;
        if ((rc = open_existing(&r, a.pos[0])) != 0)
            return rc;
        const char *w = tool_opt(&a, "wait");
        long wait_s = w ? strtol(w, NULL, 10) : 0;
        if (wait_s < 0 || wait_s > 60) {
            dc_replica_close(r);
            return usage_error("sync: --wait takes 0..60 seconds");
        }
        rc = sync_relay(r, relay, wait_s);
        dc_replica_close(r);
        return rc;
    }
    if (a.npos != 2)
        return usage_error("sync: expected: drivercore sync REPLICA PEER_REPLICA");
    if (strcmp(a.pos[0], a.pos[1]) == 0)
        return usage_error("sync: a replica cannot sync with itself");
    dc_replica *r = NULL, *p = NULL;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    if ((rc = open_existing(&p, a.pos[1])) != 0) {
        dc_replica_close(r);
        return rc;
    }
    rc = sync_local(r, p);
    dc_replica_close(r);
    dc_replica_close(p);
    return rc;
}
