/*
 * `drivercore serve REPLICA --listen HOST:PORT [--quiet]`: a secretary's tablet as
 * the sync peer of the phones in its yard or Driver's Home, over Wi-Fi
 * with no internet and no relay.
 *
 * It is the relay, run over the tablet's own replica: the relay core
 * (dc_relay_open_replica: the same device-key authentication, sessions and
 * space filter) behind the same HTTP endpoints (relay_http.c), so a phone
 * runs `drivercore sync PHONE --relay http://TABLET:PORT` (or the app's
 * sync client) unchanged.  A phone is served what the tablet holds of the
 * spaces it is a member of, nothing else; what it pushes is imported into
 * the tablet's replica, verified like any import, and reaches the relay
 * when the tablet next syncs with it.
 *
 * It prints {"listen": "HOST:PORT", "port": N, "device": HEX} on stdout
 * once listening, logs each sync on stderr, and stops on SIGTERM/SIGINT
 * (answering long-polls, finishing requests in flight, closing the
 * replica).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore/relay.h"
#include "relay_http.h"
#include "tool.h"

int cmd_serve(int argc, char **argv) {
    static const char *const opts[] = {"listen", "quiet!", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 2, opts, "serve");
    if (rc)
        return rc;
    const char *listen_at = tool_opt(&a, "listen");
    if (a.npos != 1 || !listen_at)
        return usage_error("serve: expected: drivercore serve REPLICA --listen HOST:PORT");
    const char *q = tool_opt(&a, "quiet");
    /* Signals are blocked before any thread exists, and taken by sigwait. */
    relay_http_block_signals();
    dc_replica *r = NULL;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    dc_relay *rl = NULL;
    if ((rc = dc_relay_open_replica(&rl, r, NULL)) != 0) {
        fail("serve: %s", dc_error_last());
        dc_replica_close(r);
        return EXIT_FAIL;
    }
    relay_http_options ho = {0};
    ho.listen = listen_at;
    ho.threads = 2;
    ho.max_conn = 1000;
    ho.max_waiters = 1000;
    ho.quiet = q != NULL;
    ho.name = "drivercore serve";
    char err[512];
    relay_http *h = relay_http_start(rl, &ho, err, sizeof err);
    if (!h) {
        dc_relay_close(rl);
        dc_replica_close(r);
        return fail("serve: %s", err);
    }
    /* The address as bound (port 0 picks a free one), for scripts. */
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen_at), listen_at);
    printf("{\"listen\":\"%s:%u\",\"port\":%u,\"device\":\"%s\"}\n", host, relay_http_port(h),
           relay_http_port(h), dc_replica_device_id(r));
    fflush(stdout);
    int sig = relay_http_wait_signal();
    relay_http_log("signal %d: stopping", sig);
    relay_http_stop(h);
    dc_relay_close(rl);
    dc_replica_close(r);
    relay_http_log("stopped; replica closed");
    return EXIT_OK;
}
