/*
 * `drivercore sync REPLICA PEER_REPLICA`: a two-way sync of two local
 * replicas in one process, over the real protocol: the messages travel
 * between two sessions exactly as they would over a link, so the figures
 * printed (bytes, round trips, changes) are those of a real sync.
 *
 * `drivercore sync REPLICA --relay URL`: the same initiator session, its
 * messages carried over HTTP to a drivercore-relay (docs/relay.md) after
 * authenticating with the device key, by the library's sync client
 * (include/drivercore/client.h: retries with backoff, bundle sizes fitted
 * to the link, the outcome recorded for `drivercore status`).  No change
 * is imported before the relay has answered the first sync message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore/curl.h"
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

/* ---- over a relay: the library's sync client (docs/client.md) ---- */

static int sync_relay(dc_replica *r, const char *url, long wait_s, unsigned attempts, long stall_s,
                      const char *ca_file, const char *pin, bool metered) {
    dc_transport t;
    dc_client *c = NULL;
    dc_buf rep = DC_BUF_INIT;
    dc_curl_options co = DC_CURL_OPTIONS_INIT;
    co.ca_file = ca_file;
    co.pinned_key = pin;
    int rc = dc_curl_transport_with(&t, &co);
    if (rc)
        return fail("sync: cannot set up HTTP (libcurl): %s", dc_error_name(rc));
    dc_client_options o = DC_CLIENT_OPTIONS_INIT;
    o.max_attempts = attempts;
    o.stall_timeout_ms = stall_s * 1000;
    o.metered = metered;
    if ((rc = dc_client_new(&c, r, url, &t, &o)) != 0)
        return fail_r(r, rc, "sync");
    int out = EXIT_FAIL, changed = 1;
    /* One sync (retried with backoff on a weak link) and its figures; with
     * --wait, a long-poll (the relay answers as soon as a change arrives in
     * one of our spaces), then a second sync if it said so. */
    for (int round = 0; changed && round < 2; round++) {
        if ((rc = dc_client_sync(c)) != 0) {
            fail_r(r, rc, "sync");
            goto done;
        }
        if (dc_client_report(&rep, c) != 0) {
            fail("sync: %s", dc_error_last());
            goto done;
        }
        print_buf(&rep);
        changed = 0;
        if (round == 0 && wait_s > 0 && (rc = dc_client_wait(&changed, c, (int)wait_s)) != 0) {
            fail_r(r, rc, "sync");
            goto done;
        }
    }
    out = EXIT_OK;
done:
    dc_buf_dispose(&rep);
    dc_client_free(c);
    return out;
}

int cmd_sync(int argc, char **argv) {
    static const char *const opts[] = {"relay",   "wait",    "attempts", "timeout",
                                       "ca-file", "pin-key", "metered!", NULL};
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
        const char *at = tool_opt(&a, "attempts");
        long attempts = at ? strtol(at, NULL, 10) : 0;
        if (attempts < 0 || attempts > 100) {
            dc_replica_close(r);
            return usage_error("sync: --attempts takes 1..100 (default 6)");
        }
        const char *to = tool_opt(&a, "timeout");
        long stall_s = to ? strtol(to, NULL, 10) : 0;
        if (stall_s < 0 || stall_s > 3600) {
            dc_replica_close(r);
            return usage_error("sync: --timeout takes 1..3600 seconds (default 30)");
        }
        rc = sync_relay(r, relay, wait_s, (unsigned)attempts, stall_s, tool_opt(&a, "ca-file"),
                        tool_opt(&a, "pin-key"), tool_opt(&a, "metered") != NULL);
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
